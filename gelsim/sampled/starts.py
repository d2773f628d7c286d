"""Starts and how they fade: the product-form (analytic) start, relaxation times, the exact shortfall of an
empty M/M/1 queue, and how far an empty start can still pull a window's readings (:class:`StartPull`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._kernels import queue_shortfall_means
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
    # Cell i sends its spikes at r_i q_i, a share w_ij / r_i of them to cell j: q_i w_ij in all (Eq. (1)).
    excited = np.asarray(q, float).clip(0.0, 1.0)
    lam_exc = np.asarray(ext_exc, float) + np.asarray(sp.csr_matrix(net.w_exc).T @ excited).ravel()
    removal = net.fire_rate + np.asarray(ext_inh, float) + np.asarray(sp.csr_matrix(net.w_inh).T @ excited).ravel()
    with np.errstate(divide="ignore"):
        return 1.0 / (np.sqrt(lam_exc) - np.sqrt(removal)) ** 2


def _output_reach(net, out, depth=32):
    """What one spike of each cell adds to each output's ``q`` (N, len(out)): an output cell's own spike
    ``1 / r_k`` (it reads its firing over its rate), and along excitatory routes ``1 / r_k`` entering
    output ``k``, passed on in proportion ``w_ij / r_i`` (:func:`_per_spike`), summed over up to ``depth``
    steps. It depends on the network only, so it is found once for all instances."""
    spread = _per_spike(net, net.w_exc)
    k = len(out)
    # An output of rate 0 reads 0 or 1 whatever it receives.
    per_output = np.divide(1.0, net.fire_rate[out], out=np.zeros(k), where=net.fire_rate[out] > 0)
    entry = sp.csr_matrix((per_output, (np.asarray(out), np.arange(k))), shape=(net.n_cells, k))
    reach, step = entry.toarray(), np.asarray((spread @ entry).todense())
    for _ in range(depth):
        reach += step
        step = spread @ step
        if not step.any():
            break
    return reach


def empty_queue_shortfall(lam, mu, since, until, nodes=128):
    """Mean over ``(since, until]`` of how much less often an M/M/1 queue (arrivals ``lam``, departures
    ``mu > lam`` while busy; arrays) started empty is busy than in its steady state (``rho = lam / mu``).

    By Karlin and McGregor's spectral representation of the birth-death chain, the chance of finding
    the queue empty at time ``t`` is ``1 - rho + int_a^b exp(-x t) w(x) dx`` with ``a, b = (sqrt(mu) -+
    sqrt(lam))^2`` and ``w(x) = sqrt((x - a)(b - x)) / (2 pi mu x)`` (its integral is ``rho``, and that of
    ``w(x) / x`` the excitation missed in all, ``rho / (mu - lam)``). The mean over the window is then
    ``int_a^b w(x) (exp(-x since) - exp(-x until)) / x dx / (until - since)``, here by Gauss-Chebyshev
    quadrature on ``nodes`` points (compiled, skipping what has decayed below a double's reach).

    Examples
    --------
    >>> from gelsim.sampled.starts import empty_queue_shortfall
    >>> import numpy as np
    >>> # From time 0 to very late the mean shortfall is rho / (mu - lam) / until: 0.5 / 0.5 / 1e6.
    >>> round(float(empty_queue_shortfall(np.array([0.5]), np.array([1.0]), 0.0, 1e6)[0] * 1e6), 9)
    1.0
    """
    lam, mu = np.broadcast_arrays(np.asarray(lam, float), np.asarray(mu, float))
    return queue_shortfall_means(np.ascontiguousarray(lam).ravel(), np.ascontiguousarray(mu).ravel(), float(since),
                                 float(until), int(nodes)).reshape(lam.shape)


class StartPull:
    """How much an empty start can still pull a window's readings of the outputs, judged from the run alone.

    A cell that started unexcited is, at time ``t``, short of its steady firing by about
    ``f exp(-t / tau)``, with ``tau`` its relaxation time (:func:`relaxation_times`) at the rates it
    receives, here *measured*: its excitation and inhibition are the firing of the simulated cells that
    feed it, as counted in the window, routed by the network's weights. One spike of cell ``j`` adds
    ``reach_jk`` to output ``k``'s ``q`` (:func:`_output_reach`, a property of the network alone), so
    each output's reading over a window can still be off by about the sum over cells of their shortfall
    over the window (:meth:`allowance`) times their reach; a lead must clear what that can do to it
    (:meth:`margin_allowance`) on top of its noise. Nothing of an instance's analytic solution enters it.

    Parameters
    ----------
    model : ModelNetwork
    keep : ndarray of int
        The cells that are simulated (the others are computed from them and relax with them).
    ext_exc, ext_inh : ndarray (N,)
        The instance's external rates, over all cells.
    reach : ndarray (N, K), optional
        :func:`_output_reach` of the model's network (found once per model and handed in).

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> from gelsim.sampled import ModelNetwork, StartPull
    >>> w = np.zeros((4, 4)); w[0, 2] = w[1, 3] = 0.5          # sources 0, 1 excite outputs 2, 3
    >>> model = ModelNetwork.from_sources(gelsim.Network(fire_rate=np.ones(4), w_exc=w), [0, 1], [1, 1], [2, 3])
    >>> u = [0.6, 0.4]
    >>> pull = StartPull(model, np.arange(4), model.ext_exc(u), model.ext_inh(u))
    >>> firing = model.solve(u) * model.network.fire_rate     # what a run would measure
    >>> early, late = pull.allowance(firing, 1.0, 2.25), pull.allowance(firing, 50.0, 112.5)
    >>> bool(np.all(late < 0.01 * early))
    True
    """

    def __init__(self, model, keep, ext_exc, ext_inh, reach=None):
        net = model.network
        reach = _output_reach(net, model.output_cells) if reach is None else reach
        self.reach = reach[keep]
        self.rate = net.fire_rate[keep]
        # What one spike of each simulated cell sends to each simulated cell, received (rows) by sent (columns).
        self.exc_in = sp.csr_matrix(_per_spike(net, net.w_exc, keep)[keep].T)
        self.inh_in = sp.csr_matrix(_per_spike(net, net.w_inh, keep)[keep].T)
        self.ext_exc, self.ext_inh = np.asarray(ext_exc, float)[keep], np.asarray(ext_inh, float)[keep]
        # With no inhibition between simulated cells, a network started empty only climbs towards its
        # steady state (each cell's law rises stochastically, excitation passing the rise on), so every
        # output reads low, never high.
        self.from_below = self.inh_in.nnz == 0
        # Cells that no simulated cell sends to: their input is the instance's steady Poisson arrivals.
        self.steady_input = (np.diff(self.exc_in.indptr) == 0) & (np.diff(self.inh_in.indptr) == 0)

    def allowance(self, firing, since, until):
        """How far each output's reading over the window ``(since, until]`` may still be from its steady
        value because of the start (K,), from the window's firing rates ``firing`` (replications x kept
        cells, or their mean).

        A cell whose input is steady (only external arrivals, as a convolutional model's position cells)
        is an M/M/1 queue started empty, whose shortfall is known exactly (:func:`empty_queue_shortfall`,
        at the rates measured). A cell fed by other simulated cells relaxes after them as well, which its
        own rates do not tell; it is given ``min(f tau (exp(-since / tau) - exp(-until / tau)) / (until -
        since), r rho / ((mu - lam+) until))`` (a decay at its own relaxation time, and all the excitation
        an empty queue ever misses, ``pi_0 E_pi[time to empty] = rho / (mu - lam+)``, spread over the run),
        which held on a chain of three cells in the tests where tighter rules let decisions go wrong. No
        cell is short by more than ``r - f``, since none fires faster than its rate (which settles a
        saturated cell, whose queue has no steady state, once it fires at its rate).
        """
        f = np.atleast_2d(firing).mean(axis=0)
        exact, bound = self.shortfalls(f, since, until)
        return (np.minimum(exact, np.maximum(self.rate - f, 0.0)) + bound) @ self.reach

    def shortfalls(self, firing, since, until):
        """Each simulated cell's expected firing shortfall over the window, in two parts (each (kept,)): for
        the cells of steady input, the exact one of their queue (:func:`empty_queue_shortfall`; 0 for the
        others), and for the others the bound :meth:`allowance` describes (0 for the steady ones)."""
        f = np.atleast_2d(firing).mean(axis=0)
        lam_exc = self.ext_exc + self.exc_in @ f
        removal = self.rate + self.ext_inh + self.inh_in @ f
        span = until - since
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            decay = (np.sqrt(lam_exc) - np.sqrt(removal)) ** 2              # 1 / tau
            left = (np.exp(-since * decay) - np.exp(-until * decay)) / (decay * span)
            missed = np.where(lam_exc < removal, lam_exc / (removal * (removal - lam_exc)), np.inf)
            # A cell that never fires (rate 0: a trained source whose weights all reached 0) misses nothing.
            missed = np.where(self.rate > 0, self.rate * missed, 0.0)
        left = np.where(decay > 0, np.nan_to_num(left, nan=1.0), 1.0).clip(0.0, 1.0)
        bound = np.minimum(np.minimum(f * left, missed / until), np.maximum(self.rate - f, 0.0))
        steady = self.steady_input & (lam_exc < removal)
        exact = np.zeros_like(bound)
        exact[steady] = self.rate[steady] * empty_queue_shortfall(lam_exc[steady], removal[steady], since, until)
        bound[steady] = 0.0
        return exact, bound

    def parts(self, firing, since, until):
        """:meth:`shortfalls` carried to the outputs (each (K,)): the steady cells' exact expected pull on
        each output's reading, and the others' bound."""
        exact, bound = self.shortfalls(firing, since, until)
        return exact @ self.reach, bound @ self.reach

    def corrected_margin(self, parts, lead):
        """What the lead of output ``lead`` over each rival must clear, from :meth:`parts`, when the
        readings are linear in the simulated cells' firing and every output reads low: the steady cells'
        exact pull is corrected for (the rival's added, the leader's taken off, so the lead is judged as if
        those cells had started in their steady state) and the rival's bound is cleared. Where the
        readings are not linear (a clamp) the correction of the leader's pull may overstate it; use
        :meth:`margin_allowance` there."""
        exact, bound = parts
        return np.delete(exact + bound, lead) - exact[lead]

    def margin_allowance(self, pull, lead):
        """What the lead of output ``lead`` over each rival must clear, from the outputs' ``pull``
        (:meth:`allowance`), rivals in output order without ``lead``: the rival's pull when every output
        reads low (the leader's own shortfall only adds to its lead), else both."""
        rivals = np.delete(pull, lead)
        return rivals if self.from_below else rivals + pull[lead]


def _start_allowance(pull, exact, firing, since, until):
    """What a lead must clear for the start's pull over the window ``(since, until]`` (a function of the
    leader's index giving one value per rival), and what the outputs still lack on average there (to be
    added back to them, or 0), from the window's firing rates ``firing`` and the :class:`StartPull` ``pull``.

    With ``exact`` (every output reads low, and the readings are linear in the simulated cells' firing:
    the ``"linear"`` reading with no tail cell held at its rate) the steady cells' exact expected
    shortfall is corrected for (:meth:`StartPull.corrected_margin`); otherwise every lead clears its
    rival's whole allowance (:meth:`StartPull.margin_allowance`)."""
    mean_firing = np.atleast_2d(firing).mean(axis=0)
    if exact and pull.from_below:
        shortfall, bound = pull.shortfalls(mean_firing, since, until)
        parts = (shortfall @ pull.reach, bound @ pull.reach)
        return (lambda lead: pull.corrected_margin(parts, lead)), parts[0]
    outputs_pull = pull.allowance(mean_firing, since, until)
    return (lambda lead: pull.margin_allowance(outputs_pull, lead)), 0.0
