"""The validation suites: quick runs end to end, and every check shown to fail on a perturbed input."""

import json
import subprocess
import sys

import numpy as np
import pytest

import gelsim
from gelsim.cli import main as cli_main
from gelsim.validation import _common as common
from gelsim.validation import approximations, convergence, convolution, relu, transients
from gelsim.validation.report import run_suites, run_validation


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    status = run_validation(out, quick=True, seed=2026)
    return out, status, json.loads((out / "summary.json").read_text())


def test_quick_report_files_and_status(quick_report):
    out, status, summary = quick_report
    html = (out / "index.html").read_text()
    assert "gelsim validation report" in html and "<img src=" in html
    names = {c["suite"] for c in summary["checks"]}
    assert names == {"convergence", "transients", "approximations", "relu_cluster", "convolution", "mlsrnn", "unrolled"}
    for check in summary["checks"]:
        assert {"name", "statistic", "threshold", "passed", "seed", "wall_time"} <= set(check)
        for fig in check["figures"]:
            assert (out / fig).stat().st_size > 5000
    # Exit status 0 only if every check passed (an N/A check is not a pass).
    assert status == (0 if all(c["passed"] for c in summary["checks"]) else 1)


def test_quick_report_checks_pass_except_unavailable(quick_report):
    _, _, summary = quick_report
    failed = [c["name"] for c in summary["checks"] if c["status"] == "FAIL"]
    assert failed == []


def test_cli_validate_one_suite(tmp_path, capsys):
    status = cli_main(["validate", "--quick", "--suite", "approximations", "--out", str(tmp_path)])
    assert status == 0
    assert "checks passed" in capsys.readouterr().out


def test_unknown_suite_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="Unknown suite"):
        run_suites(tmp_path, suites=["nope"])


def test_crashing_suite_becomes_a_failed_check(tmp_path, monkeypatch):
    monkeypatch.setattr(approximations, "run", lambda *a, **k: 1 / 0)
    checks = run_suites(tmp_path, suites=["approximations"])
    assert len(checks) == 1 and not checks[0].passed and "ZeroDivisionError" in checks[0].details


def test_validation_script_help():
    out = subprocess.run([sys.executable, "validation/convergence.py", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--quick" in out.stdout


# ----------------------------------------------------------------------------- perturbed inputs fail
def test_slope_check_rejects_wrong_rate():
    T = np.array([30, 100, 300, 1000, 3000.0])
    rng = np.random.default_rng(0)
    # RMS over 100 independent normal errors per point, shrinking like T^(-1/2) ...
    good = np.array([np.sqrt(np.mean((rng.normal(0, 1, 100) / np.sqrt(t)) ** 2)) for t in T])
    assert convergence.slope_passes(*convergence.rms_slope(T, good, 100))
    # ... and errors that do not shrink (a biased simulator) or shrink too fast are rejected.
    flat = np.array([np.sqrt(np.mean((0.01 + rng.normal(0, 0.1, 100) / np.sqrt(t)) ** 2)) for t in T])
    assert not convergence.slope_passes(*convergence.rms_slope(T, flat, 100))
    steep = good / np.sqrt(T / T[0])
    assert not convergence.slope_passes(*convergence.rms_slope(T, steep, 100))


def test_z_normality_rejects_understated_errors():
    z = np.random.default_rng(1).standard_normal(1000)
    assert common.p_value_passes(common.z_normality(z))
    assert not common.p_value_passes(common.z_normality(1.5 * z))  # standard errors 1.5x too small


def test_geometric_chi2_rejects_wrong_q():
    k = np.random.default_rng(2).geometric(0.6, 3000) - 1  # q = 0.4
    assert common.p_value_passes(common.geometric_chi2(k, 0.4))
    assert not common.p_value_passes(common.geometric_chi2(k, 0.45))


def test_dsmts_rejects_wrong_moments():
    rng = np.random.default_rng(3)
    q, n = 0.4, 1000
    samples = rng.geometric(1 - q, (51, n)) - 1
    z, y = convergence.dsmts_counts(samples.mean(axis=1), samples.var(axis=1, ddof=1), q, n)
    pz, py = convergence.expected_excursions(q, n, rng=0)
    assert common.excursion_check(int((np.abs(z) >= 3).sum()), pz * 51, 51)[1]
    assert common.excursion_check(int((np.abs(y) >= 5).sum()), py * 51, 51)[1]
    z_bad, y_bad = convergence.dsmts_counts(samples.mean(axis=1), samples.var(axis=1, ddof=1), 0.43, n)
    assert not common.excursion_check(int((np.abs(z_bad) >= 3).sum()), pz * 51, 51)[1]
    assert not common.excursion_check(int((np.abs(y_bad) >= 5).sum()), py * 51, 51)[1]


def test_transient_check_rejects_wrong_curve():
    net = gelsim.Network.from_probabilities(**transients.CASES["single cell (M/M/1 with inhibition)"])
    times = np.linspace(0, 5, 11)
    q_exact, mean_exact = transients.exact_transient(net, times, 60)
    tr = gelsim.simulate_transient(net, times, replications=4000, rng=0)
    limit = common.bonferroni_z(2 * times.size)
    assert transients.transient_zmax(q_exact, tr.q, tr.q_se) < limit
    assert transients.transient_zmax(q_exact * 1.05, tr.q, tr.q_se) > limit


def test_exact_transient_reaches_steady_state():
    net = gelsim.Network.from_probabilities(**transients.CASES["3-cell recurrent loop"])
    q_exact, mean_exact = transients.exact_transient(net, np.array([0.0, 200.0]), 40)
    np.testing.assert_allclose(q_exact[-1], gelsim.solve(net).q, atol=1e-6)
    np.testing.assert_allclose(mean_exact[-1], gelsim.solve(net).mean_potential, atol=1e-5)


def test_first_order_checks_reject_wrong_errors():
    eps = approximations.EPS
    err, bound = approximations.single_cell_errors(eps)
    assert approximations.second_order_check(eps, err, approximations.CELL_TOLERANCE)[1]
    assert common.bound_check(err, bound)[1]
    # An approximation that is only first-order accurate has slope 1 and breaks the bound.
    wrong = eps * 0.5
    assert not approximations.second_order_check(eps, wrong, approximations.CELL_TOLERANCE)[1]
    assert not approximations.second_order_check(eps, wrong, approximations.NETWORK_TOLERANCE)[1]
    assert not common.bound_check(wrong, bound)[1]
    # A slope of 2.2 (an error of order eps^2.2) is caught by the one-cell tolerance.
    assert not approximations.second_order_check(eps, err * (eps / eps[0]) ** 0.2, approximations.CELL_TOLERANCE)[1]


def test_relu_cluster_checks_reject_wrong_errors():
    rng = np.random.default_rng(0)
    X, d = rng.uniform(0, 1, (500, 10)), rng.normal(size=10)
    d[d < 0] *= 0.5
    errors = np.array([relu.cluster_error(X, d, s)[0] for s in relu.SUM_EXC])
    assert relu.order_check(relu.SUM_EXC, errors)[1]
    assert relu.cluster_bound_check(relu.SUM_EXC, errors)[1]
    # A cluster off by a constant 0.02 breaks the bound at small sum(W+) and has no order at all;
    # one whose error is first order (sum(W+)/2) fails both too.
    for wrong in (errors + 0.02, relu.SUM_EXC / 2):
        assert not relu.order_check(relu.SUM_EXC, wrong)[1]
        assert not relu.cluster_bound_check(relu.SUM_EXC, wrong)[1]


def test_convolution_check_rejects_noise():
    image = np.random.default_rng(0).uniform(0, 1, (40, 40))
    kernels, _ = gelsim.conv.kernel_bank()
    table, deviation, outputs, reference = convolution.compare(image, kernels)
    assert convolution.resemblance_check(table)[1]
    assert convolution.closest_check(deviation)[2]
    # Noise on one approach's output breaks the resemblance check; a cluster 2x further off breaks the other.
    noisy = outputs["cluster (9)"] + np.random.default_rng(1).normal(0, 0.05, outputs["cluster (9)"].shape)
    assert not convolution.resemblance_check({**table, "cluster (9)": convolution.correlations(noisy, reference)})[1]
    others = min(v for k, v in deviation.items() if k != "cluster (9)")
    assert not convolution.closest_check({**deviation, "cluster (9)": 2 * others})[2]


@pytest.mark.slow
def test_full_report_passes(tmp_path):
    """The README's main job on built-in defaults (full mode, ~2-3 minutes on 2 cores)."""
    assert run_validation(tmp_path, quick=False, seed=2026) == 0


def test_unrolled_rate_check_catches_a_wrong_contraction():
    """The suite's gradient-rate check passes on the true contraction and fails 10 % away from it."""
    from gelsim.validation import unrolled

    _, results = unrolled._gradient_convergence(2026)
    for rho, rate, _ in results:
        assert unrolled.rate_passes(rate, rho)
        assert not unrolled.rate_passes(rate, 0.9 * rho) and not unrolled.rate_passes(rate, min(1.1 * rho, 0.99))


def test_digits_decision_check_catches_wrong_calls():
    """The sampled-decision check passes on today's counts and fails on too many wrong calls, or none decided."""
    from gelsim.validation import mlsrnn

    assert mlsrnn.decisions_pass([(0.9, 11, 0), (0.99, 10, 0), (0.999, 8, 0)])[1]
    assert mlsrnn.decisions_pass([(0.9, 11, 1), (0.99, 10, 0), (0.999, 8, 0)])[1]     # 1 of 11 at 0.9: fine
    assert not mlsrnn.decisions_pass([(0.9, 11, 0), (0.99, 10, 3), (0.999, 8, 0)])[1]
    assert not mlsrnn.decisions_pass([(0.9, 0, 0), (0.99, 0, 0), (0.999, 0, 0)])[1]


def test_mlsrnn_agreement_counts_only_clear_gaps():
    from gelsim.validation import mlsrnn

    analytic = np.array([[0.9, 0.3, 0.1], [0.2, 0.8, 0.1], [0.50, 0.49, 0.1]])
    se = np.full((3, 3), 0.01)
    noisy = analytic + np.array([[0.01, -0.01, 0.0], [0.0, 0.01, 0.0], [-0.02, 0.03, 0.0]])  # the third flips
    agree, n_clear, ok = mlsrnn.agreement_pass(noisy, se, analytic)
    assert ok and n_clear == 2 and agree == 1.0  # a gap of 0.01 at SE 0.01 is not clear: its flip is no failure
    assert not mlsrnn.agreement_pass(noisy[:, [1, 0, 2]], se, analytic)[2]  # outputs swapped: caught
    assert not mlsrnn.agreement_pass(noisy, se * 100, analytic)[2]  # nothing clear: nothing tested, no pass
