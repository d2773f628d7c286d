import warnings

import numpy as np
import pytest

import gelsim
from gelsim import generators
from gelsim import ConvergenceWarning


def residual(net, q):
    num = net.ext_exc + q @ net.w_exc
    den = net.fire_rate + net.ext_inh + q @ net.w_inh
    return np.abs(q - np.minimum(num / den, 1.0)).max()


@pytest.mark.parametrize("arrival, service", [(1.0, 2.0), (0.3, 5.0), (4.9, 5.0)])
def test_mm1_limit(arrival, service):
    ss = gelsim.solve(generators.mm1(arrival, service))
    assert ss.q[0] == pytest.approx(arrival / service, abs=1e-12)
    assert ss.mean_potential[0] == pytest.approx(arrival / (service - arrival), rel=1e-9)
    assert ss.potential_pmf(3)[0] == pytest.approx((1 - arrival / service) * (arrival / service) ** 3)


def test_line_tandem_published_values():
    ss = gelsim.solve(generators.line_tandem())
    np.testing.assert_allclose(ss.mean_potential, [0.769231, 0.408163], atol=5e-7)
    assert ss.firing_rate[0] == pytest.approx(0.869565, abs=5e-7)


def test_saturated_cells_flagged():
    # Cell 0 gets more excitation than it can fire away: q = 1. It then drives cell 1 at rate r_0 p.
    net = gelsim.Network(fire_rate=[1.0, 2.0], w_exc=[[0, 0.5], [0, 0]], w_inh=np.zeros((2, 2)), ext_exc=[1.5, 0.0])
    ss = gelsim.solve(net)
    assert ss.saturated.tolist() == [True, False]
    np.testing.assert_allclose(ss.q, [1.0, 0.25], atol=1e-12)
    assert ss.mean_potential[0] == np.inf and ss.potential_pmf(0)[0] == 0.0


def test_batch_matches_one_by_one():
    net = generators.random_recurrent(80, rng=5)
    rng = np.random.default_rng(0)
    lam = rng.uniform(0, 0.6, (7, 80))
    batch = gelsim.solve(net, ext_exc=lam)
    assert batch.q.shape == (7, 80)
    for d in range(7):
        one = gelsim.solve(net, ext_exc=lam[d]).q
        np.testing.assert_allclose(batch.q[d], one, atol=1e-11)


def test_batch_feedforward_layer():
    ff = generators.feedforward([6, 5, 4], rng=2, sparse=True)
    lam = np.zeros((3, 15))
    lam[:, :6] = np.random.default_rng(1).uniform(0, 1, (3, 6))
    batch = gelsim.solve(ff, ext_exc=lam).q
    for d in range(3):
        np.testing.assert_allclose(batch[d], gelsim.solve(ff, ext_exc=lam[d]).q, atol=1e-11)
    assert np.ptp(batch[:, 6:], axis=0).max() > 1e-3  # the rows really differ beyond the inputs


@pytest.mark.parametrize("seed", range(8))
def test_random_network_properties(seed):
    rng = np.random.default_rng(seed)
    net = generators.random_recurrent(int(rng.integers(5, 300)), out_degree=int(rng.integers(1, 12)),
                                      departure=float(rng.uniform(0.01, 0.9)), load=float(rng.uniform(0.05, 0.6)),
                                      inhibitory_fraction=float(rng.uniform(0, 0.8)), rng=seed, sparse=bool(seed % 2))
    ss = gelsim.solve(net)
    assert ss.converged and ss.residual <= 1e-12
    assert np.all((ss.q >= 0) & (ss.q <= 1))
    dense_w = (lambda w: w.toarray() if hasattr(w, "toarray") else w)
    dense = gelsim.Network(fire_rate=net.fire_rate, w_exc=dense_w(net.w_exc), w_inh=dense_w(net.w_inh),
                           ext_exc=net.ext_exc, ext_inh=net.ext_inh)
    assert residual(dense, ss.q) <= 1e-12
    # Scaling every rate by the same factor leaves q unchanged (Eq. (1) is homogeneous of degree 0).
    c = float(rng.uniform(0.1, 10))
    scaled = gelsim.Network(fire_rate=c * net.fire_rate, w_exc=c * net.w_exc, w_inh=c * net.w_inh,
                            ext_exc=c * net.ext_exc, ext_inh=c * net.ext_inh)
    np.testing.assert_allclose(gelsim.solve(scaled).q, ss.q, atol=1e-10)


def test_hard_case_anderson_beats_jacobi():
    net = generators.random_recurrent(2000, departure=0.002, inhibitory_fraction=0.0, load=0.0006,
                                      ext_inh=0.0, rng=0)
    fast = gelsim.solve(net, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        slow = gelsim.solve(net, tol=1e-10, method="picard", max_iter=20_000)
    assert fast.converged and slow.converged
    assert fast.matvecs * 10 <= slow.matvecs
    np.testing.assert_allclose(fast.q, slow.q, atol=1e-8)


def test_nonconvergence_warns():
    net = generators.random_recurrent(500, departure=0.002, inhibitory_fraction=0.0, load=0.0006, ext_inh=0.0, rng=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        ss = gelsim.solve(net, method="picard", max_iter=5)
    assert not ss.converged


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(tol=-1.0), "'tol' parameter of solve must be a positive"),
    (dict(max_iter=0), "'max_iter' parameter of solve must be an integer >= 1"),
    (dict(method="newton"), "'method' parameter of solve must be 'anderson' or 'picard'"),
    (dict(ext_exc=np.ones((2, 3))), "'ext_exc' parameter of solve must have shape (2,) or (D, 2)"),
    (dict(ext_inh=[-1.0, 0.0]), "'ext_inh' parameter of solve must be finite and non-negative"),
])
def test_solve_bad_input(kwargs, fragment):
    with pytest.raises(ValueError) as err:
        gelsim.solve(generators.line_tandem(), **kwargs)
    assert fragment in str(err.value)


@pytest.mark.parametrize("call, owner", [
    (lambda x: gelsim.solve(x), "solve"),
    (lambda x: gelsim.simulate(x, duration=1.0), "simulate"),
    (lambda x: gelsim.simulate_transient(x, times=[1.0]), "simulate_transient"),
    (lambda x: gelsim.steady_state_vjp(x, [1.0]), "steady_state_vjp"),
    (lambda x: gelsim.cells.first_order(x), "first_order"),
])
def test_functions_that_take_a_network_reject_anything_else_in_one_wording(call, owner):
    with pytest.raises(TypeError, match=rf"^The 'net' parameter of {owner} must be a gelsim.Network. Got ndarray"):
        call(np.eye(3))


def test_repr():
    text = repr(gelsim.solve(generators.line_tandem()))
    assert text.startswith("SteadyState(q: 2 in [") and "converged=True" in text


def test_excitatory_self_loop_reaches_saturation():
    """A cell exciting itself with p = 1 climbs to q = 1 by a constant step; Anderson mixing stalled there
    and returned q = 0.2 (flagged only by a warning). It now falls back to plain iteration, quickly."""
    import warnings

    net = gelsim.Network.from_probabilities(fire_rate=[1.0], p_exc=[[1.0]], ext_exc=[0.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ss = gelsim.solve(net)
    assert ss.converged and ss.saturated.tolist() == [True] and ss.q[0] > 1 - 1e-12
    assert ss.iterations < 1_000
    assert gelsim.solve(net, method="picard").q[0] > 1 - 1e-12


@pytest.mark.parametrize("q0, message", [([np.nan, 0.1], "NaN or infinite"), ([0.1, 0.1, 0.1], r"shape \(3,\)"),
                                         ("ab", "numeric array")])
def test_bad_starting_point(q0, message):
    with pytest.raises(ValueError, match=rf"'q0' parameter of solve.*{message}"):
        gelsim.solve(gelsim.generators.line_tandem(), q0=q0)
