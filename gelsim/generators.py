"""Generators for the networks people study: random recurrent, layered feed-forward, small published cases."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._checks import as_generator, check_int, check_memory, check_positive_number
from .network import Network


def mm1(arrival=1.0, service=2.0, inhibition=0.0):
    """A lone cell: with no inhibition it is an M/M/1 queue with ``q = arrival / service``.

    Examples
    --------
    >>> import gelsim
    >>> float(gelsim.solve(gelsim.generators.mm1(1.0, 4.0)).q[0])
    0.25
    """
    return Network(fire_rate=[service], w_exc=np.zeros((1, 1)), w_inh=np.zeros((1, 1)),
                   ext_exc=[arrival], ext_inh=[inhibition])


def line_tandem():
    """Two cells in tandem, Q1 -> Q2 -> out (the known case of the LINE solver's RcatGnetworkTest).

    ``Λ_1 = 1, λ_1 = 0.3, r_1 = 2, r_2 = 3, p+_12 = 1``; mean potentials 0.769231 and 0.408163.

    Examples
    --------
    >>> import gelsim
    >>> round(float(gelsim.solve(gelsim.generators.line_tandem()).firing_rate[0]), 6)
    0.869565
    """
    return Network.from_probabilities(fire_rate=[2.0, 3.0], p_exc=[[0.0, 1.0], [0.0, 0.0]],
                                      ext_exc=[1.0, 0.0], ext_inh=[0.3, 0.0])


def random_recurrent(n, *, out_degree=10, inhibitory_fraction=0.3, departure=0.2, load=0.2,
                     ext_inh=0.05, fire_rate=1.0, rate_spread=0.5, rate_decades=0.0, self_loops=True, sparse=True,
                     rng=None):
    """Random sparse recurrent network.

    Each cell sends spikes to ``out_degree`` targets drawn uniformly (repeats merge), each target
    inhibitory with probability ``inhibitory_fraction``; a fired spike leaves with probability
    ``departure`` and otherwise picks one of the edges uniformly.

    Parameters
    ----------
    n : int
        Number of cells.
    load : float
        Mean of ``Λ_i / r_i``; external excitation is ``Λ_i = load · r_i · U(0, 2)``.
    ext_inh : float
        Mean of ``λ_i / r_i`` (drawn the same way).
    fire_rate : float
        Mean firing rate; ``r_i = fire_rate · U(1 - rate_spread, 1 + rate_spread)``.
    rate_decades : float
        Spread the rates over this many decades as well: each cell's rate, and its external rates, are
        multiplied by ``10**-U(0, rate_decades)``, and a spike from ``i`` reaches a slower cell ``j`` with its
        edge's probability times ``r_j / r_i`` (the rest leave), so that slow cells are not flooded by fast
        ones. Such networks, like convolutional models, need the simulator's rate buckets. 0 (the default)
        changes nothing.
    departure : float
        Spike departure probability ``d_i`` (small values make feedback strong and the solve harder).
    rng : None, int or Generator

    Examples
    --------
    >>> import gelsim
    >>> net = gelsim.generators.random_recurrent(100, rng=0)
    >>> net.n_cells, net.is_sparse
    (100, True)
    >>> wide = gelsim.generators.random_recurrent(100, rate_decades=3, rng=0)
    >>> bool(wide.fire_rate.max() / wide.fire_rate.min() > 100)
    True
    """
    n = check_int(n, "n", "random_recurrent", minimum=1)
    out_degree = check_int(out_degree, "out_degree", "random_recurrent", minimum=0)
    for name, v in (("inhibitory_fraction", inhibitory_fraction), ("departure", departure),
                    ("rate_spread", rate_spread)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"The {name!r} parameter of random_recurrent must be in [0, 1]. Got {v!r}.")
    fire_rate = check_positive_number(fire_rate, "fire_rate", "random_recurrent")
    if not (np.isfinite(rate_decades) and rate_decades >= 0):
        raise ValueError(f"The 'rate_decades' parameter of random_recurrent must be a number >= 0. "
                         f"Got {rate_decades!r}.")
    deg = min(out_degree, n if self_loops else n - 1)
    # Edge lists, two CSR matrices and the network's checked copies: about 100 bytes an edge at the peak.
    check_memory(100.0 * n * deg + 200.0 * n, f"random_recurrent({n}, out_degree={out_degree})",
                 "Ask for fewer cells or a smaller out_degree.")
    gen = as_generator(rng)
    r = fire_rate * gen.uniform(1 - rate_spread, 1 + rate_spread, n)
    rows = np.repeat(np.arange(n), deg)
    cols = gen.integers(0, n, size=n * deg)
    if not self_loops and n > 1:
        # Shift targets that hit their own source by a random non-zero offset.
        hit = cols == rows
        cols[hit] = (rows[hit] + gen.integers(1, n, size=int(hit.sum()))) % n
    prob = np.full(rows.size, (1.0 - departure) / max(deg, 1))
    inhib = gen.random(rows.size) < inhibitory_fraction
    lam = load * r * gen.uniform(0, 2, n)
    lam_inh = ext_inh * r * gen.uniform(0, 2, n)
    if rate_decades > 0:  # drawn last, so that rate_decades=0 leaves the networks of a seed unchanged
        slow = 10.0 ** -gen.uniform(0, rate_decades, n)
        r, lam, lam_inh = r * slow, lam * slow, lam_inh * slow
        prob = prob * np.minimum(1.0, r[cols] / r[rows])
    w = prob * r[rows]
    wp = sp.csr_matrix((np.where(inhib, 0.0, w), (rows, cols)), shape=(n, n))
    wm = sp.csr_matrix((np.where(inhib, w, 0.0), (rows, cols)), shape=(n, n))
    wp.eliminate_zeros()
    wm.eliminate_zeros()
    if not sparse:
        wp, wm = wp.toarray(), wm.toarray()
    return Network(fire_rate=r, w_exc=wp, w_inh=wm, ext_exc=lam, ext_inh=lam_inh)


def feedforward(layer_sizes, *, density=1.0, inhibitory_fraction=0.3, departure=0.1, input_rate=0.5,
                fire_rate=1.0, sparse=False, rng=None):
    """Layered feed-forward network: cells of layer ``l`` send only to layer ``l + 1``.

    External excitation ``Λ = input_rate · U(0, 2) · r`` reaches the first layer only; the last layer's
    spikes all leave. Each possible edge exists with probability ``density``.

    Examples
    --------
    >>> import gelsim
    >>> net = gelsim.generators.feedforward([4, 3, 2], rng=0)
    >>> net.n_cells, net.is_recurrent
    (9, False)
    """
    sizes = [check_int(s, "layer_sizes", "feedforward", minimum=1) for s in layer_sizes]
    if len(sizes) < 2:
        raise ValueError(f"The 'layer_sizes' parameter of feedforward needs at least two layers. Got {sizes}.")
    if not 0 < density <= 1:
        raise ValueError(f"The 'density' parameter of feedforward must be in (0, 1]. Got {density!r}.")
    n = sum(sizes)
    # Two dense (N, N) matrices, built dense, and their checked copies.
    check_memory(6 * 8.0 * n * n, f"feedforward({sizes})", "Ask for smaller layers.")
    gen = as_generator(rng)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    r = np.full(n, float(fire_rate))
    wp = np.zeros((n, n))
    wm = np.zeros((n, n))
    for l in range(len(sizes) - 1):
        a, b, c = offsets[l], offsets[l + 1], offsets[l + 2]
        mask = gen.random((b - a, c - b)) < density
        mask[np.arange(b - a), gen.integers(0, c - b, b - a)] = True  # every cell keeps an out-edge
        weights = gen.random((b - a, c - b)) * mask
        weights *= (1 - departure) * fire_rate / weights.sum(axis=1, keepdims=True)
        inhib = gen.random(weights.shape) < inhibitory_fraction
        wp[a:b, b:c] = np.where(inhib, 0.0, weights)
        wm[a:b, b:c] = np.where(inhib, weights, 0.0)
    lam = np.zeros(n)
    lam[: sizes[0]] = input_rate * fire_rate * gen.uniform(0, 2, sizes[0])
    if sparse:
        wp, wm = sp.csr_matrix(wp), sp.csr_matrix(wm)
    return Network(fire_rate=r, w_exc=wp, w_inh=wm, ext_exc=lam)


def jackson(n=10, *, utilisation=0.7, departure=0.3, rng=None):
    """Open Jackson network of ``n`` M/M/1 nodes (excitatory routing only, dense random routing).

    External arrivals are scaled so that the busiest node has the given ``utilisation``; then
    ``q_i`` is the node's utilisation ``ρ_i`` exactly (a G-network without inhibition is Jackson's).

    Examples
    --------
    >>> import gelsim
    >>> ss = gelsim.solve(gelsim.generators.jackson(10, utilisation=0.7, rng=1))
    >>> round(float(ss.q.max()), 12)
    0.7
    """
    n = check_int(n, "n", "jackson", minimum=1)
    # Dense routing: the (N, N) probabilities, the traffic equations' matrix and the network's weights.
    check_memory(8 * 8.0 * n * n, f"jackson({n}) (dense routing)", "Ask for fewer cells.")
    gen = as_generator(rng)
    p = gen.random((n, n))
    p *= (1 - departure) / p.sum(axis=1, keepdims=True)
    mu = gen.uniform(1.0, 2.0, n)
    lam = gen.uniform(0.5, 1.5, n)
    # Traffic equations: a = lam + Pᵀ a; utilisation a / mu.
    a = np.linalg.solve(np.eye(n) - p.T, lam)
    scale = utilisation / (a / mu).max()
    return Network.from_probabilities(fire_rate=mu, p_exc=p, ext_exc=lam * scale)
