"""Cell activation functions of Yin & Gelenbe's Section III (Eqs. (2)–(8)), vectorised over NumPy arrays.

Every function broadcasts its arguments, so it applies term by term to vectors and matrices.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_network
from ._anderson import anderson


def phi(x_exc, x_inh, *, ext_exc=1.0, fire_rate=1.0):
    """Single-cell activation, Eq. (2): ``φ(x+, x-) = min((λ+ + x+) / (r + x-), 1)``.

    Parameters
    ----------
    x_exc, x_inh : array_like
        Excitatory and inhibitory input rates (non-negative).
    ext_exc : float or array_like
        The cell's own external excitatory rate ``λ+`` (default 1, the paper's ``λ+ = r``).
    fire_rate : float or array_like
        Firing rate ``r`` (default 1).

    Examples
    --------
    >>> from gelsim.cells import phi
    >>> float(phi(1.0, 3.0))
    0.5
    """
    x_exc, x_inh = np.asarray(x_exc, dtype=float), np.asarray(x_inh, dtype=float)
    den = fire_rate + x_inh
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, (ext_exc + x_exc) / np.where(den > 0, den, 1.0), 1.0)
    return np.minimum(out, 1.0)


excitation_probability = phi


def lrnn_e(x, *, ext_exc=0.0):
    """Quasi-linear excitatory cell (LRNN-E, ``r = 1``): ``q = min(x + Λ, 1)``.

    Examples
    --------
    >>> from gelsim.cells import lrnn_e
    >>> lrnn_e([0.2, 0.9], ext_exc=0.3).tolist()
    [0.5, 1.0]
    """
    return np.minimum(np.asarray(x, dtype=float) + ext_exc, 1.0)


def lrnn_i(x_inh):
    """Inhibitory-input cell of Eq. (7) (``Λ = 1, λ = 0, r = 1``): ``q = 1 / (1 + x-)``.

    Its first-order form is ``1 - x-`` (:func:`lrnn_i_linear`), accurate when ``x- << 1``.

    Examples
    --------
    >>> from gelsim.cells import lrnn_i
    >>> float(lrnn_i(0.25))
    0.8
    """
    return 1.0 / (1.0 + np.asarray(x_inh, dtype=float))


def lrnn_i_linear(x_inh):
    """First-order LRNN-I approximation of Eq. (7): ``min(1 - x-, 1)`` (may go negative for ``x- > 1``).

    Examples
    --------
    >>> from gelsim.cells import lrnn_i_linear
    >>> float(lrnn_i_linear(0.25))
    0.75
    """
    return np.minimum(1.0 - np.asarray(x_inh, dtype=float), 1.0)


def relu_cluster(x_exc, x_inh):
    """Three-cell ReLU cluster, Eq. (8): ``ϕ(x+, x-) = min(1 / (1 + x+) + x-, 1) ≈ 1 - ReLU(x+ - x-)``.

    Here ``x+ = X W+`` and ``x- = X W-`` are the positive and negative parts of the pre-activation.

    Examples
    --------
    >>> from gelsim.cells import relu_cluster
    >>> round(float(relu_cluster(0.01, 0.0)), 6), 1 - 0.01
    (0.990099, 0.99)
    """
    return np.minimum(1.0 / (1.0 + np.asarray(x_exc, dtype=float)) + np.asarray(x_inh, dtype=float), 1.0)


def rho(x, a):
    """ELM activation ``ρ(x) = a / (a + x)`` (= ``φ(0, x)`` at ``λ+ = r = a``).

    Examples
    --------
    >>> from gelsim.cells import rho
    >>> float(rho(1.0, a=1.0))
    0.5
    """
    x = np.asarray(x, dtype=float)
    return a / (a + x)


def varrho(x, a):
    """Complement ``ϱ(x) = x / (a + x) = 1 - ρ(x)`` (= ``φ(x, x)`` at ``λ+ = 0, r = a``).

    Examples
    --------
    >>> from gelsim.cells import varrho
    >>> float(varrho(3.0, a=1.0))
    0.75
    """
    x = np.asarray(x, dtype=float)
    return x / (a + x)


def first_order(net, *, tol=1e-12, max_iter=10_000):
    """Network-wide first-order approximation (6) of ``q``.

    Solves ``q_h = (Λ_h + Σ_v q_v w+_vh) / r_h · (1 - (λ_h + Σ_v q_v w-_vh) / r_h)`` (clipped to [0, 1])
    as a fixed point, the approximation being good when ``r_h >> λ_h + Σ_v q_v w-_vh``.

    Examples
    --------
    >>> import gelsim
    >>> from gelsim.cells import first_order
    >>> net = gelsim.generators.mm1(arrival=1.0, service=2.0, inhibition=0.02)
    >>> exact = gelsim.solve(net).q[0]
    >>> approx = first_order(net)[0]
    >>> bool(abs(exact - approx) < 1e-4)   # the error is O(ε²), ε = inhibition / r = 0.01
    True
    """
    from .solver import _stacked_product

    check_network(net, "first_order")
    n = net.n_cells
    wt = net.stacked_transpose()
    r = net.fire_rate
    inv_r = np.divide(1.0, r, out=np.zeros_like(r), where=r > 0)

    def G(q, rows):
        prod = _stacked_product(wt, q)
        exc = (net.ext_exc + prod[:, :n]) * inv_r
        inh = (net.ext_inh + prod[:, n:]) * inv_r
        return np.clip(exc * (1.0 - inh), 0.0, 1.0)

    start = np.minimum(net.ext_exc * inv_r, 1.0)[None, :]
    q, resid, iters, evals = anderson(G, start, tol=tol, max_iter=max_iter)
    return q[0]
