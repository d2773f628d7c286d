"""Statistical checks of the simulator against the analytic steady state.

Every tolerance comes from the run's own standard errors, every seed is fixed, and each check is
shown to reject a deliberately wrong answer.
"""

import numpy as np
import pytest
from scipy import stats

import gelsim
from gelsim import generators
from gelsim.validation._common import geometric_chi2, p_value_passes


def mean_z2(estimate, se, truth):
    return float(np.mean(((estimate - truth) / se) ** 2))


def t_band(replications, n_cells, width=5.0):
    """Band for the mean of n z² values, z ~ t(R-1): mean (R-1)/(R-3), sd from t's 4th moment."""
    nu = replications - 1
    mean = nu / (nu - 2)
    var_z2 = 2 * nu**2 * (nu - 1) / ((nu - 2) ** 2 * (nu - 4))
    half = width * np.sqrt(var_z2 / n_cells)
    return mean - half, mean + half


@pytest.fixture(scope="module")
def mm1_run():
    net = generators.mm1(arrival=1.0, service=2.0)
    return gelsim.simulate(net, duration=2e4, replications=16, rng=11, hist_size=12)


def test_mm1_busy_fraction_mean_and_rate(mm1_run):
    res = mm1_run
    assert abs(res.q[0] - 0.5) < 4 * res.q_se[0]
    assert abs(res.mean_potential[0] - 1.0) < 4 * res.mean_potential_se[0]
    assert abs(res.firing_rate[0] - 1.0) < 4 * res.firing_rate_se[0]
    # A wrong answer at a few standard errors away is caught by the same rule.
    assert not abs(res.q[0] - (0.5 + 6 * res.q_se[0])) < 4 * res.q_se[0]


def test_mm1_geometric_distribution(mm1_run):
    res = mm1_run
    bins = res.potential_hist.shape[1]

    def geometric(q):
        return np.append((1 - q) * q ** np.arange(bins - 1), q ** (bins - 1))

    # Per-bin z-scores from the replications' own spread; their squares sum to about `bins`.
    def chi2(q):
        return float(np.sum(((res.potential_hist[0] - geometric(q)) / res.potential_hist_se[0]) ** 2))

    limit = stats.chi2(bins).ppf(0.999) * 1.5  # t(15) z-scores are a little heavier than normal
    assert chi2(0.5) < limit
    assert chi2(0.52) > limit  # a 4 % wrong q is rejected


def test_recurrent_network_matches_solver_with_calibrated_errors():
    net = generators.random_recurrent(400, inhibitory_fraction=0.35, load=0.15, rng=21)
    ss = gelsim.solve(net)
    assert not ss.saturated.any()
    reps = 24
    res = gelsim.simulate(net, duration=2000, replications=reps, initial="stationary", warmup=0.0, rng=5)
    lo, hi = t_band(reps, net.n_cells)
    got = mean_z2(res.q, res.q_se, ss.q)
    assert lo < got < hi, (lo, got, hi)
    # z-scores look like t(R-1): Kolmogorov-Smirnov at a fixed seed.
    z = (res.q - ss.q) / res.q_se
    assert stats.kstest(z, stats.t(reps - 1).cdf).pvalue > 1e-3
    # A q that is off by 3 % in every cell is rejected by the same statistic.
    assert mean_z2(res.q, res.q_se, ss.q * 1.03) > hi
    # Mean potentials and firing rates agree with the product form too.
    assert mean_z2(res.mean_potential, res.mean_potential_se, ss.mean_potential) < t_band(reps, net.n_cells, 8)[1]
    assert mean_z2(res.firing_rate, res.firing_rate_se, ss.firing_rate) < t_band(reps, net.n_cells, 8)[1]


@pytest.mark.parametrize("max_buckets", [None, 3])
def test_wide_rate_network_matches_solver(monkeypatch, max_buckets):
    """Composition-rejection over rate buckets is exact, also when the slowest cells share a capped last
    bucket (``max_buckets`` = 3 puts cells up to 1,000 times slower than its top together)."""
    from gelsim.simulation import _kernels as kern
    from gelsim.simulation._tables import compile_network

    if max_buckets:
        monkeypatch.setattr(kern, "MAX_BUCKETS", max_buckets)
    net = generators.random_recurrent(300, load=0.15, rate_decades=3, rng=0)
    assert compile_network(net).n_buckets == (max_buckets or 12)
    ss = gelsim.solve(net)
    reps = 24
    res = gelsim.simulate(net, duration=2e4, replications=reps, initial="stationary", warmup=0.0, rng=5,
                          progress=False)
    lo, hi = t_band(reps, net.n_cells)
    got = mean_z2(res.q, res.q_se, ss.q)
    assert lo < got < hi, (lo, got, hi)
    assert mean_z2(res.q, res.q_se, ss.q * 1.03) > hi  # a q off by 3 % in every cell is rejected
    assert mean_z2(res.firing_rate, res.firing_rate_se, ss.firing_rate) < t_band(reps, net.n_cells, 8)[1]


def test_product_form_marginals_and_independence():
    # Small recurrent network with inhibition and a self-loop; independent samples at a fixed time.
    net = gelsim.Network.from_probabilities(
        fire_rate=[2.0, 1.5, 1.0],
        p_exc=[[0.2, 0.3, 0.0], [0.0, 0.0, 0.5], [0.4, 0.0, 0.0]],
        p_inh=[[0.0, 0.0, 0.3], [0.2, 0.0, 0.0], [0.0, 0.3, 0.0]],
        ext_exc=[0.6, 0.3, 0.2], ext_inh=[0.1, 0.0, 0.1])
    q = gelsim.solve(net).q
    res = gelsim.simulate(net, duration=150, warmup=0.0, replications=3000, rng=9, hist_size=2)
    k = res.final_potential  # (3000, 3): one independent draw per replication at time 150
    for i in range(3):
        assert p_value_passes(geometric_chi2(k[:, i], q[i]))
        assert not p_value_passes(geometric_chi2(k[:, i], min(q[i] + 0.05, 0.99)))  # a wrong q is rejected
    n = k.shape[0]
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        r = np.corrcoef(k[:, i], k[:, j])[0, 1]
        assert abs(r) < 4 / np.sqrt(n), (i, j, r)


def test_transient_reaches_steady_state():
    net = generators.line_tandem()
    q = gelsim.solve(net).q
    tr = gelsim.simulate_transient(net, times=[0.0, 0.5, 40.0], replications=6000, rng=3)
    np.testing.assert_array_equal(tr.q[0], 0.0)
    assert np.all(np.abs(tr.q[-1] - q) < 4 * tr.q_se[-1])
    assert np.all(tr.q[1] < q)  # still filling up


def test_target_se_mode_stops_at_target():
    net = generators.random_recurrent(40, rng=4)
    res = gelsim.simulate(net, target_se=0.01, replications=8, rng=2)
    assert np.nanmax(res.q_se) <= 0.01


def test_dask_executor_identical_to_local():
    distributed = pytest.importorskip("distributed")
    net = generators.random_recurrent(30, rng=6)
    local = gelsim.simulate(net, duration=100, replications=4, rng=12)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        remote = gelsim.simulate(net, duration=100, replications=4, rng=12, executor=client.get_executor())
        direct = gelsim.simulate(net, duration=100, replications=4, rng=12, executor=client)
        transient = gelsim.simulate_transient(net, [1.0, 5.0], replications=64, rng=3, executor=client)
    np.testing.assert_array_equal(local.q, remote.q)
    np.testing.assert_array_equal(local.final_potential, direct.final_potential)
    np.testing.assert_array_equal(gelsim.simulate_transient(net, [1.0, 5.0], replications=64, rng=3).q, transient.q)


def test_dask_client_gets_the_tables_once_and_keeps_the_state_on_its_workers(recwarn):
    """Neither the compiled tables (3.5 MB here) nor the replications' state (3 MB a group) travel with
    the tasks: with Dask's large-graph warning lowered to 1 MB, the run must not trigger it. A target_se
    run and a progress bar exercise the per-round reads of remote state."""
    distributed = pytest.importorskip("distributed")
    import dask

    net = generators.random_recurrent(20_000, rng=6)
    kwargs = dict(duration=2.0, replications=2, rng=12, progress=True)
    local = gelsim.simulate(net, **kwargs)
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1MB"}):
        with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
            remote = gelsim.simulate(net, executor=client, **kwargs)
            target = gelsim.simulate(generators.random_recurrent(40, rng=4), target_se=0.02, replications=4, rng=2,
                                     executor=client)
    assert not [w for w in recwarn if "large graph" in str(w.message)]
    np.testing.assert_array_equal(local.q, remote.q)
    assert np.nanmax(target.q_se) <= 0.02


@pytest.mark.slow
def test_large_network_calibration():
    net = generators.random_recurrent(5000, load=0.15, rng=1)
    ss = gelsim.solve(net)
    ok = ~ss.saturated
    reps = 32
    res = gelsim.simulate(net, duration=500, replications=reps, initial="stationary", warmup=0.0, rng=1)
    lo, hi = t_band(reps, int(ok.sum()))
    assert lo < mean_z2(res.q[ok], res.q_se[ok], ss.q[ok]) < hi
