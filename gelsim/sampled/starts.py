"""Where replications start and how long they warm up: the product-form start, relaxation times, and
the check that an empty start's warm-up is long enough."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from .readings import _per_spike


def stationary_start(net, q, ext_exc, ext_inh, horizon, gen, size):
    """``size`` product-form draws of starting potentials; cells with ``q = 1`` start high enough never to
    empty during ``horizon`` (8 standard deviations of their event count), so they fire steadily."""
    q = np.asarray(q, float)
    free = q < 1.0
    k0 = np.zeros((size, q.size), np.int64)
    k0[:, free] = gen.geometric(1.0 - q[free], size=(size, int(free.sum()))) - 1
    activity = (net.fire_rate + ext_exc + ext_inh)[~free] * horizon
    k0[:, ~free] = np.ceil(8.0 * np.sqrt(2.0 * activity + 1.0) + 10.0).astype(np.int64)
    return k0


def _event_rate(fire_rate, q, ext_exc, ext_inh):
    """Expected events per unit time: external arrivals at every cell, firings and external inhibition
    at excited ones (the simulator never spends an event on inhibiting an empty cell)."""
    return float(ext_exc.sum() + np.dot(fire_rate + ext_inh, q))


def relaxation_times(net, q, ext_exc, ext_inh):
    """Each cell's relaxation time at the rates of the solution ``q``: ``1 / (sqrt(lam+) - sqrt(mu))^2``.

    Taking the other cells' spikes as Poisson, a cell is a birth-death chain: excitation at rate ``lam+``
    adds one to its potential and, while it is excited, firing and inhibition remove one at
    ``mu = r + lam-``. That is the M/M/1 queue, whose distance from its steady state decays as
    ``exp(-t (sqrt(mu) - sqrt(lam+))^2)``. A cell whose load ``rho = lam+ / mu`` is near 1 (excitation
    nearly matching firing and inhibition) forgets its start slowly: after about
    ``2 rho / (1 - sqrt(rho))^2`` of its own events, 40 at ``rho = 0.5`` but 1,300 at 0.92.

    Parameters
    ----------
    net : Network
    q : array_like (N,)
        The Eq. (1) solution whose rates are used.
    ext_exc, ext_inh : array_like (N,)
        External excitatory and inhibitory rates (an instance's, for a model network).

    Returns
    -------
    ndarray (N,)
        Relaxation times, in the network's time units (``inf`` at a load of exactly 1).

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> net = gelsim.Network(fire_rate=[1.0, 1.0], w_exc=np.zeros((2, 2)), ext_exc=[0.5, 0.95])
    >>> q = gelsim.solve(net).q
    >>> from gelsim.sampled import relaxation_times
    >>> relaxation_times(net, q, net.ext_exc, net.ext_inh).round(1)
    array([  11.7, 1559.7])
    """
    flow = np.asarray(q, float).clip(0.0, 1.0) * net.fire_rate
    lam_exc = np.asarray(ext_exc, float) + np.asarray(sp.csr_matrix(net.w_exc).T @ flow).ravel()
    removal = net.fire_rate + np.asarray(ext_inh, float) + np.asarray(sp.csr_matrix(net.w_inh).T @ flow).ravel()
    with np.errstate(divide="ignore"):
        return 1.0 / (np.sqrt(lam_exc) - np.sqrt(removal)) ** 2


def _output_reach(net, out, depth=32):
    """What one spike of each cell adds to the outputs' ``q`` along excitatory routes: ``1 / r_k`` entering
    output ``k``, passed on in proportion ``w_ij / r_i`` (:func:`_per_spike`), summed over up to ``depth``
    steps. It depends on the network only, so it is found once for all instances."""
    spread = _per_spike(net, net.w_exc)
    entry = np.zeros(net.n_cells)
    # An output of rate 0 reads 0 or 1 whatever it receives.
    entry[out] = np.divide(1.0, net.fire_rate[out], out=np.zeros(len(out)), where=net.fire_rate[out] > 0)
    reach, step = np.zeros(net.n_cells), spread @ entry
    for _ in range(depth):
        reach += step
        step = spread @ step
        if not step.any():
            break
    return reach


def _warmup_needed(model, keep, q, ext_exc, ext_inh, reach):
    """Expected events per replication of the simulated cells ``keep`` until the cells carrying half of
    the outputs' readings have relaxed once: the median of :func:`relaxation_times` weighted by each cell's
    share in the readings, its spike flow ``r q`` times its :func:`_output_reach` ``reach`` (an output cell
    also counts its own ``q``)."""
    net, out = model.network, model.output_cells
    q = np.asarray(q, float)
    weight = q.clip(0.0, 1.0) * net.fire_rate * reach
    weight[out] += q[out].clip(0.0, 1.0)
    weight = weight[keep]
    if weight.sum() <= 0:
        return 0.0
    tau = relaxation_times(net, q, ext_exc, ext_inh)[keep]
    order = np.argsort(tau)
    median = tau[order][np.searchsorted(np.cumsum(weight[order]), 0.5 * weight.sum())]
    return float(median * _event_rate(net.fire_rate[keep], q[keep], ext_exc[keep], ext_inh[keep]))


#: Default warm-up of an ``"empty"`` start, in expected events per cell of the network per replication.
WARMUP_PER_CELL = 64.0


class WarmupWarning(UserWarning):
    """An empty start's warm-up is shorter than the time its cells take to forget the start."""


def _check_warmup(model, keep, inputs, solution, warmup_events):
    """Warn when ``warmup_events`` falls short of :func:`_warmup_needed` on any of ``inputs`` (the first
    few instances): the readings would then lean towards the empty start."""
    reach = _output_reach(model.network, model.output_cells)
    needed = max(_warmup_needed(model, keep, solution(i), model.ext_exc(u), model.ext_inh(u), reach)
                 for i, u in enumerate(inputs))
    if warmup_events < needed:
        per_cell = needed / max(keep.size, 1)
        warnings.warn(f"start='empty': the cells that carry half of the outputs' readings take about {needed:.3g} "
                      f"expected events per replication ({per_cell:.3g} per simulated cell) to forget their "
                      f"empty start, more than warmup_events={warmup_events:.3g}. The readings will lean "
                      f"towards the start and decisions can be wrong; raise warmup_events (and max_events) "
                      f"or use start='stationary'.", WarmupWarning, stacklevel=4)
