import numpy as np
import pytest

import gelsim
from gelsim import cells, generators


def test_phi_matches_single_cell_network():
    x_exc, x_inh, lam, r = 0.7, 0.4, 0.5, 2.0
    net = gelsim.Network(fire_rate=[r], w_exc=[[0.0]], w_inh=[[0.0]], ext_exc=[lam + x_exc], ext_inh=[x_inh])
    assert cells.phi(x_exc, x_inh, ext_exc=lam, fire_rate=r) == pytest.approx(gelsim.solve(net).q[0])


def test_phi_broadcasts_and_clips():
    out = cells.phi(np.array([[0.0, 5.0]]), np.array([[1.0], [0.0]]))
    np.testing.assert_allclose(out, [[0.5, 1.0], [1.0, 1.0]])


def test_rho_varrho_complement_and_twin_identity():
    x = np.linspace(0, 5, 11)
    np.testing.assert_allclose(cells.rho(x, 0.7) + cells.varrho(x, 0.7), 1.0)
    # φ(0, I) at λ+ = r = 1 equals 1 - φ(I, I) at λ+ = 0, r = 1 (Section III-B).
    np.testing.assert_allclose(cells.phi(0, x, ext_exc=1, fire_rate=1), 1 - cells.phi(x, x, ext_exc=0, fire_rate=1))


def test_relu_cluster_approximates_relu():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, 9))
    W = rng.normal(size=9)
    W /= np.abs(W).sum() * 10
    out = cells.relu_cluster(X @ np.maximum(W, 0), X @ np.maximum(-W, 0))
    target = 1 - np.maximum(X @ W, 0)
    assert np.abs(out - target).max() < (np.maximum(W, 0).sum()) ** 2 + 1e-12


def test_lrnn_cells():
    np.testing.assert_allclose(cells.lrnn_e([0.2, 0.9], ext_exc=0.3), [0.5, 1.0])
    np.testing.assert_allclose(cells.lrnn_i(0.25), 0.8)
    np.testing.assert_allclose(cells.lrnn_i_linear(0.25), 0.75)


def test_first_order_error_is_second_order():
    errors = []
    for eps in (1e-1, 1e-2, 1e-3):
        net = generators.mm1(arrival=1.0, service=2.0, inhibition=2.0 * eps)
        errors.append(abs(gelsim.solve(net).q[0] - cells.first_order(net)[0]))
    slope = np.polyfit(np.log([1e-1, 1e-2, 1e-3]), np.log(errors), 1)[0]
    assert 1.9 < slope < 2.1
