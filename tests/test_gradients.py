"""Gradients through Eq. (1): against central finite differences, the explicit inverse, and each other."""

import numpy as np
import pytest
import scipy.sparse as sp

import gelsim
from gelsim import Network, steady_state_vjp
from gelsim.steady import SaturationWarning


def _random_net(n=7, seed=0, saturate=False):
    rng = np.random.default_rng(seed)
    r = rng.uniform(1.0, 2.0, n)
    p = rng.uniform(0, 1, (n, n, 2)) * (rng.uniform(size=(n, n, 1)) < 0.6)
    p = p / p.sum(axis=(1, 2), keepdims=True).clip(1.0) * 0.8       # leave a departure probability
    lam = rng.uniform(0.1, 0.6, n)
    if saturate:
        lam[0] = 5.0                                                # cell 0 far above its rate: q = 1
    return Network(fire_rate=r, w_exc=r[:, None] * p[..., 0], w_inh=r[:, None] * p[..., 1], ext_exc=lam,
                   ext_inh=rng.uniform(0, 0.3, n))


def _loss(net, c, **kw):
    return float(c @ gelsim.solve(net, **kw).q)


def _fd(net, c, name, idx, h=1e-6):
    """Central difference of <c, q> in one parameter of the network."""
    def with_value(delta):
        parts = dict(fire_rate=net.fire_rate.copy(), w_exc=np.array(net.w_exc, float), w_inh=np.array(net.w_inh, float),
                     ext_exc=net.ext_exc.copy(), ext_inh=net.ext_inh.copy())
        parts[name][idx] += delta
        return _loss(Network(**parts), c)
    return (with_value(h) - with_value(-h)) / (2 * h)


@pytest.mark.parametrize("saturate", [False, True])
def test_against_central_finite_differences(saturate):
    net = _random_net(saturate=saturate)
    c = np.random.default_rng(1).normal(size=net.n_cells)
    g = steady_state_vjp(net, c)
    assert g.saturated[0] == saturate
    checks = [("ext_exc", (i,)) for i in range(7)] + [("ext_inh", (2,)), ("fire_rate", (3,)), ("fire_rate", (0,))]
    # Weights that exist (a zero weight cannot step below 0); rows sum to 0.8 r, so a step up stays valid.
    for name in ("w_exc", "w_inh"):
        checks += [(name, tuple(int(v) for v in idx)) for idx in np.argwhere(np.asarray(getattr(net, name)) > 0)[::3]]
    for name, idx in checks:
        exact = getattr(g, name)[idx]
        fd = _fd(net, c, name, idx)
        assert abs(exact - fd) <= 1e-6 * max(1.0, abs(fd)), (name, idx, exact, fd)


def test_wrong_gradient_would_be_caught():
    net = _random_net()
    c = np.ones(net.n_cells)
    g = steady_state_vjp(net, c)
    idx = tuple(int(v) for v in np.argwhere(np.asarray(net.w_inh) > 0)[0])
    fd = _fd(net, c, "w_inh", idx)
    assert abs(g.w_inh[idx] - fd) <= 1e-6 * max(1.0, abs(fd))
    assert abs(-g.w_inh[idx] - fd) > 1e-4 and abs(fd) > 1e-4   # a sign error is far outside the tolerance


def test_against_gelenbes_explicit_inverse():
    """dq/dΛ from (I - J)⁻¹ diag(1/D), one matrix inverse, as in Gelenbe (1993)."""
    net = _random_net(n=5, seed=3)
    q = gelsim.solve(net).q
    W, Wm = np.asarray(net.w_exc), np.asarray(net.w_inh)
    D = net.fire_rate + net.ext_inh + Wm.T @ q
    J = (W.T - q[:, None] * Wm.T) / D[:, None]
    dq_dlam = np.linalg.inv(np.eye(5) - J) / D[None, :]       # column i: dq / dΛ_i
    for k in range(5):
        g = steady_state_vjp(net, np.eye(5)[k])
        np.testing.assert_allclose(g.ext_exc, dq_dlam[k], rtol=1e-10, atol=1e-13)


def test_sparse_equals_dense_and_keeps_the_pattern():
    net = _random_net(n=30, seed=4)
    sparse = Network(fire_rate=net.fire_rate, w_exc=sp.csr_matrix(net.w_exc), w_inh=sp.csr_matrix(net.w_inh),
                     ext_exc=net.ext_exc, ext_inh=net.ext_inh)
    c = np.random.default_rng(5).normal(size=30)
    gd, gs = steady_state_vjp(net, c), steady_state_vjp(sparse, c)
    assert sp.issparse(gs.w_exc) and gs.w_exc.nnz == sparse.w_exc.nnz
    np.testing.assert_allclose(gs.w_exc.toarray(), np.where(net.w_exc > 0, gd.w_exc, 0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gs.ext_exc, gd.ext_exc, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gs.fire_rate, gd.fire_rate, rtol=1e-9, atol=1e-12)


def test_batch_sums_weights_and_keeps_inputs_per_pattern():
    net = _random_net(n=6, seed=6)
    rng = np.random.default_rng(7)
    E, C = rng.uniform(0, 0.5, (4, 6)), rng.normal(size=(4, 6))
    G = steady_state_vjp(net, C, ext_exc=E)
    singles = [steady_state_vjp(net, C[d], ext_exc=E[d]) for d in range(4)]
    np.testing.assert_allclose(G.w_exc, sum(s.w_exc for s in singles), rtol=1e-10)
    np.testing.assert_allclose(G.ext_exc, np.array([s.ext_exc for s in singles]), rtol=1e-10)
    np.testing.assert_allclose(G.fire_rate, sum(s.fire_rate for s in singles), rtol=1e-10)


def test_edge_of_saturation_warns():
    net = gelsim.generators.mm1(arrival=1.0, service=1.0)       # q = Λ / r = 1 exactly
    with pytest.warns(SaturationWarning):
        steady_state_vjp(net, [1.0])


@pytest.mark.parametrize("c, fragment", [(np.ones(3), r"shape \(7,\) or \(D, 7\)"),
                                         (np.full(7, np.nan), "NaN or infinity")])
def test_bad_cotangent(c, fragment):
    with pytest.raises(ValueError, match=fragment):
        steady_state_vjp(_random_net(), c)
