"""How a run is read: which cells are simulated, and each replication's estimate of the output cells'
``q`` from the simulated cells' excited fractions and spike counts (``"busy"``, ``"spikes"``, ``"inputs"``,
``"linear"``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..network import Network


def _linear_outputs(model):
    """Whether no output cell ever receives inhibition (then its ``q`` is linear in its input)."""
    net, out = model.network, model.output_cells
    return (sp.csr_matrix(net.w_inh)[:, out].nnz == 0 and not np.any(np.asarray(net.ext_inh)[out])
            and model.input_inh[out].nnz == 0)


def _linear_tail(model):
    """Cells whose firing the ``"linear"`` reading computes instead of simulating: cells that no inhibition
    reaches (their ``q`` is their input rate over their rate while below 1), that take no instance input
    (the input's arrivals are what is sampled) and that send spikes only to such cells. Nothing outside the
    tail depends on it, so the rest runs unchanged without it."""
    net = model.network
    inhibited = ((np.diff(sp.csc_matrix(net.w_inh).indptr) > 0) | (np.asarray(net.ext_inh) != 0)
                 | (np.diff(sp.csr_matrix(model.input_inh).indptr) > 0))
    driven = np.diff(sp.csr_matrix(model.input_exc).indptr) > 0
    sends = net.adjacency()
    tail = ~inhibited & ~driven
    while True:
        # A cell that sends to a cell outside the tail is needed outside it: it leaves the tail too.
        shrunk = tail & ~(sends @ (~tail).astype(float) > 0)
        if np.array_equal(shrunk, tail):
            return np.flatnonzero(tail)
        tail = shrunk


class _LinearTail:
    """The ``"linear"`` reading of one model: the tail's firing rates, hence the outputs, from the
    simulated cells that feed it.

    A simulated cell ``i`` fires at ``r_i q_i``, estimated either by its spike count over the run or by
    ``r_i`` times the fraction of the run it is excited, both unbiased. For a cell whose excitation rises
    and falls as a birth-death chain (Poisson arrivals at rate ``lambda``, removals at ``r + rho`` with
    ``rho`` its inhibition rate), the count estimates ``q`` with variance ``q / (r T)`` (its spikes are
    a Poisson stream) and the excited fraction with ``2 q / ((r + rho) T)`` (the chain's relaxation), so
    the excited fraction is read where ``rho > r``: in a convolutional model, the position cells, whose
    inhibition is several times their rate (judged, for that choice of estimator only, from the analytic
    solution after a start drawn from it, and otherwise from the firing measured in the window read). A
    tail cell fires at the rate it receives, ``ext_j + sum_i f_i w_ij / r_i``, up to its rate ``r_j``
    (linear below saturation, hence unbiased there); the outputs, which are tail cells, read ``f_k / r_k``.
    """

    def __init__(self, model, tail, keep):
        net = model.network
        per_spike = _routes_to(net, tail)[0]                              # (all, tail): w_ij / r_i
        self.tail, self.keep = tail, keep
        self.from_kept = sp.csr_matrix(per_spike[keep].T)               # (tail, kept)
        self.within = sp.csr_matrix(per_spike[tail].T)                  # (tail, tail)
        self.rate, self.kept_rate = net.fire_rate[tail], net.fire_rate[keep]
        # Tail cells send nothing outside the tail, so only kept cells inhibit kept cells.
        self.inhibition = sp.csr_matrix(sp.csr_matrix(net.w_inh)[keep][:, keep].T)     # (kept, kept)
        self.out = np.searchsorted(tail, model.output_cells)
        # Longest chain of tail cells (pooling cell -> output: 1): that many passes compute every rate.
        reach, self.depth = self.within.copy(), 0
        while reach.nnz and self.depth < tail.size:
            reach, self.depth = self.within @ reach, self.depth + 1

    def _capped_rates(self, inflow, held=None):
        """The tail cells' rates given what they receive from outside the tail, ``inflow`` (tail,) or
        (tail, replications): each passes on what reaches it, up to its own rate; or, with ``held`` (a mask
        over tail cells), the held cells at their rate and the others passing on all that reaches them."""
        rate = self.rate if inflow.ndim == 1 else self.rate[:, None]
        if held is None:
            def cap(rates):
                return np.minimum(rates, rate)
        else:
            held = held if inflow.ndim == 1 else held[:, None]

            def cap(rates):
                return np.where(held, rate, rates)
        rates = cap(inflow)
        for _ in range(self.depth):
            rates = cap(inflow + self.within @ rates)
        return rates

    def held(self, ext, firing):
        """Which tail cells are held at their rate (saturated) when the simulated cells fire at ``firing``
        (kept,), with external excitation ``ext`` over all cells."""
        inflow = ext[self.tail] + self.from_kept @ firing
        return inflow + self.within @ self._capped_rates(inflow) >= self.rate

    def inhibition_rates(self, ext_inh, excited):
        """The rate of inhibitory spikes reaching each simulated cell (kept,), with external inhibition
        ``ext_inh`` (over all cells) and the simulated cells excited ``excited`` of the time (kept,)."""
        return ext_inh[self.keep] + self.inhibition @ excited

    def reads_busy(self, inhibition):
        """Which simulated cells are read by their excited fraction (kept,), given their
        :meth:`inhibition_rates`: those inhibited faster than they fire, where it has the smaller variance."""
        return inhibition > self.kept_rate

    def sensitivity(self, ext, firing):
        """How the outputs' ``q`` move per unit of each simulated cell's firing rate (kept x outputs), at
        the firing ``firing`` (kept,): through the tail's linear map, a saturated (held) tail cell passing
        nothing on."""
        passes = (~self.held(ext, firing)).astype(float)[:, None]
        step = np.zeros((self.tail.size, self.out.size))
        step[self.out, np.arange(self.out.size)] = 1.0 / self.rate[self.out]
        total = step.copy()
        for _ in range(self.depth):
            step = np.asarray(self.within.T @ (passes * step))
            total += step
        return np.asarray(self.from_kept.T @ (passes * total))

    def solver(self, ext, ext_inh, q=None):
        """For one instance (external excitation ``ext`` and inhibition ``ext_inh``, over all cells), the
        function that maps the simulated cells' excited fractions and firing rates (each replications x
        kept) to the outputs' ``q``. ``q``, the analytic solution over all cells, chooses each cell's
        estimator; without it the choice is made from the firing of the window read, or from the firing
        rates ``judged_by`` (replications x kept) when the reader passes them.

        A tail cell's rate is capped at its own (``min``). Over a short batch that cap cuts the high
        fluctuations of a cell well below its rate on average, and so reads it low; with ``held`` (a mask
        over tail cells, from :meth:`held` on the firing of the run before the batch) only those cells are
        capped, the others read linearly, unbiased below saturation."""
        ext_tail = ext[self.tail][:, None]
        rate = self.rate[:, None]

        def by_busy(excited):
            return self.reads_busy(self.inhibition_rates(ext_inh, excited))

        chosen = None if q is None else by_busy(np.asarray(q)[self.keep])

        def read(busy, fires, judged_by=None, held=None):
            if chosen is not None:
                use_busy = chosen
            else:
                judged_by = fires if judged_by is None else judged_by
                use_busy = by_busy(np.atleast_2d(judged_by).mean(axis=0) / self.kept_rate)
            fires = np.where(use_busy, busy * self.kept_rate, fires)      # (replications, kept)
            inflow = ext_tail + self.from_kept @ fires.T                 # (tail, replications)
            rates = self._capped_rates(inflow, held)
            return (rates[self.out] / rate[self.out]).T
        return read


def _per_spike(net, w, cols=None):
    """``w_ij / r_i``: the expected weight one spike of cell ``i`` sends to cell ``j`` through ``w`` (N, N),
    as CSR, for the columns ``cols`` (all if None). A cell of rate 0 sends none."""
    w = sp.csr_matrix(w)
    per_rate = sp.diags(1.0 / np.where(net.fire_rate > 0, net.fire_rate, 1.0))
    return sp.csr_matrix(per_rate @ (w if cols is None else w[:, cols]))


def _routes_to(net, out):
    """Per spike of each cell, the expected excitatory and inhibitory weight it sends to each of ``out``:
    ``w_ik / r_i`` (N, len(out)) each, as CSR."""
    return _per_spike(net, net.w_exc, out), _per_spike(net, net.w_inh, out)


def _read_outputs(reading, net, out, busy, fires, ext, ext_inh, routes):
    """Each replication's estimate (rows) of the output cells' ``q`` (columns), by ``reading``."""
    if reading == "busy":
        return busy[:, out]
    if reading == "spikes":
        return fires[:, out] / net.fire_rate[out]
    # "inputs": the rates at which spikes reach each output cell, given how often every cell fired: a
    # cell firing ``f`` times per unit time sends ``f w_ik / r_i`` to output k (conditional Monte Carlo:
    # the random routing of each spike is averaged out instead of sampled).
    lam = ext[out] + np.asarray(routes[0].T @ fires.T).T
    lam_inh = ext_inh[out] + np.asarray(routes[1].T @ fires.T).T
    return np.minimum(lam / (net.fire_rate[out] + lam_inh), 1.0)


def _reading_noise(model, reading, keep, q, ext, ext_inh, tail=None, routes=None):
    """``(sensitivity, variance)`` of the cells a reading reads, at an instance's analytic solution ``q``
    (over all cells; external excitation ``ext`` and inhibition ``ext_inh``): how each read cell's firing
    rate moves the outputs' ``q`` (cells x outputs), and the variance per unit time of its firing estimate.

    A cell's spike count estimates its firing ``f = r q`` with variance ``f / T`` (a Poisson stream), its
    excited fraction times ``r`` with ``2 r f / ((r + rho) T)`` (``rho``: its inhibition rate), the
    estimator :class:`_LinearTail` takes where ``rho > r``. Only the cells read enter: the noise of the
    spikes that feed them is already in their own (Burke's theorem: a cell of Poisson arrivals fires a
    Poisson stream), and each spike's routing is random, so the streams it splits into are independent.
    ``tail``: the model's :class:`_LinearTail`, for ``reading="linear"``; ``routes``: :func:`_routes_to`
    the outputs, for ``reading="inputs"`` (found here if None)."""
    net, out = model.network, model.output_cells
    rate = net.fire_rate
    if reading == "linear":
        cells = np.asarray(keep)
        inhibition = tail.inhibition_rates(ext_inh, q[cells])
        sensitivity, busy = tail.sensitivity(ext, rate[cells] * q[cells]), tail.reads_busy(inhibition)
    else:
        inhibition = ext_inh + np.asarray(sp.csr_matrix(net.w_inh).T @ q)
        if reading in ("spikes", "busy"):
            cells = np.asarray(out)
            sensitivity = np.diag(1.0 / rate[out])
            busy = np.full(out.size, reading == "busy")
        else:   # "inputs": the counts of the cells that send to outputs, through q = lam / (r + lam_inh)
            exc, inh = (np.asarray(r.todense()) for r in (_routes_to(net, out) if routes is None else routes))
            lam = ext[out] + rate * q @ exc
            removal = rate[out] + inhibition[out]
            held = lam >= removal
            sensitivity = np.where(held, 0.0, (exc - np.minimum(lam / removal, 1.0) * inh) / removal)
            cells = np.flatnonzero(np.abs(sensitivity).sum(axis=1) > 0)
            sensitivity, busy = sensitivity[cells], np.zeros(cells.size, bool)
        inhibition = inhibition[cells]
    firing = rate[cells] * q[cells]
    variance = np.where(busy, 2 * rate[cells] * firing / (rate[cells] + inhibition), firing)
    return sensitivity, variance


def _tail_holds_outputs(model, tail):
    """Whether every output cell is in the model's :func:`_linear_tail` ``tail`` (the ``"linear"`` reading
    applies)."""
    return bool(np.isin(model.output_cells, tail).all()) and tail.size < model.network.n_cells


def _auto_reading(model, tail=None):
    """``reading="auto"``: ``"linear"`` where it applies, else ``"inputs"`` for outputs that no inhibition
    reaches, else ``"spikes"``. ``tail``: the model's :func:`_linear_tail`, if already found."""
    if _tail_holds_outputs(model, _linear_tail(model) if tail is None else tail):
        return "linear"
    return "inputs" if _linear_outputs(model) else "spikes"


def _simulated_cells(model, reading, tail=None):
    """The cells a sampled decision must simulate: those from which spikes can reach an output cell
    (through any path of excitation or inhibition), less the output cells that send no spike when
    ``reading="inputs"`` and the whole :func:`_linear_tail` when ``reading="linear"``. Those are computed
    from the firing of the cells that feed them, and a cell whose spikes reach no output cannot change
    anything that is read, so leaving these out changes nothing that is read. It spares their events,
    which are many: an output cell fires faster than the hundreds of cells it sums (rate 1 against about
    1e-3 in a convolutional model), and a source that feeds only cells a readout dropped fires for
    nothing. ``tail``: the model's :func:`_linear_tail`, if already found."""
    net, out = model.network, model.output_cells
    reaching = _reaching_outputs(net, out)
    if reading == "linear":
        return np.setdiff1d(reaching, _linear_tail(model) if tail is None else tail)
    silent = (sp.csr_matrix(net.w_exc)[out].nnz == 0) and (sp.csr_matrix(net.w_inh)[out].nnz == 0)
    if reading != "inputs" or not silent:
        return reaching
    return np.setdiff1d(reaching, out)


def _reaching_outputs(net, out):
    """Indices of the cells of ``net`` from which a path of weights (excitatory or inhibitory) leads to
    one of the cells ``out``, those included."""
    receives = net.adjacency().T.tocsr()     # row j: the cells that send to j
    found = np.zeros(net.n_cells, bool)
    found[out] = True
    frontier = np.asarray(out)
    while frontier.size:
        senders = np.unique(receives[frontier].indices)
        frontier = senders[~found[senders]]
        found[frontier] = True
    return np.flatnonzero(found)


def _resolve_reading(model, reading, owner="sample_outputs"):
    """``(reading, tail, keep)``: the reading ``"auto"`` stands for (:func:`_auto_reading`), refused by name
    when it is ``"linear"`` for outputs that do not qualify; the model's :func:`_linear_tail` (None where
    the reading does not need it); and the cells that are simulated (:func:`_simulated_cells`)."""
    tail = _linear_tail(model) if reading in ("auto", "linear") else None
    if reading == "auto":
        reading = _auto_reading(model, tail)
    elif reading == "linear" and not _tail_holds_outputs(model, tail):
        raise ValueError(f"The 'reading' parameter of {owner} can be 'linear' only when no output cell "
                         "receives inhibition or instance input, or sends spikes to a cell that does. Got "
                         "'linear' for a network whose outputs do not qualify; use 'inputs', 'spikes' or 'busy'.")
    return reading, tail, _simulated_cells(model, reading, tail)


def _part(net, keep):
    """The network of the cells ``keep`` (the spikes they send to other cells are lost)."""
    return Network(fire_rate=net.fire_rate[keep], w_exc=sp.csr_matrix(net.w_exc)[keep][:, keep],
                   w_inh=sp.csr_matrix(net.w_inh)[keep][:, keep], ext_exc=np.asarray(net.ext_exc)[keep],
                   ext_inh=np.asarray(net.ext_inh)[keep])
