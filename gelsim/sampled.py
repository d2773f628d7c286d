"""Sampled (spiking) inference for every classifier: simulate each instance's network until it decides.

A classifier that can be run as a spiking network supplies its network once, without its input
(:class:`ModelNetwork`); each instance only changes the external rates through which its input arrives,
so the network is compiled for the simulator once per model. Each instance is then simulated in
independent replications, every one started from the product-form (stationary) law of its own analytic
solution, so that each replication's time-averaged output excitation is an unbiased estimate of the
analytic output whatever its length (``start="empty"`` starts every cell unexcited instead and skips a
warm-up). The replications are extended in looks whose simulated time grows by half (a look adds events,
it sets nothing up again); at each look the leading output is compared with every other by a one-sided
paired t-test on the replications' averages so far, and the instance is *decided* when the leader beats
all of them. The test level is spent over the planned looks (a Bonferroni alpha-spending bound: 30 % of
``1 - confidence`` at the first look, 30 % of what is left at each later one, the rest at the last), and
within a look over the ``K - 1`` rivals of the true leader, so the chance that an instance is ever
decided for the wrong class is at most ``1 - confidence`` (under the normal approximation of the
replication averages, checked in the tests). Most instances of a well-fitted model are easy, so the
spending favours the early looks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import stats

from ._executors import TaskRunner
from ._progress import Progress
from ._validation import as_generator, check_int, check_positive_number


@dataclass(frozen=True, repr=False)
class SampledOutputs:
    """Output-cell excitation estimated by simulating each instance's spiking network.

    Attributes
    ----------
    outputs, outputs_se : ndarray (n, n_classes)
        Mean over replications of the output cells' time-averaged excitation ``P(k > 0)``, and its
        standard error.
    analytic : ndarray (n, n_classes)
        The analytic outputs of the same instances (Eq. (1) on their networks).
    predictions : ndarray (n,)
        Class labels from the sampled outputs (the best guess where an instance is not decided).
    decided : ndarray of bool (n,)
        Whether the leading output beat every other at the requested confidence.
    events : ndarray of int (n,)
        Spiking events simulated per instance.
    replications : ndarray of int (n,)
        Replications simulated per instance.
    duration : ndarray (n,)
        Simulated time of each replication, per instance.
    confidence : float
        The level of the decisions.
    """

    outputs: np.ndarray
    outputs_se: np.ndarray
    analytic: np.ndarray
    predictions: np.ndarray
    decided: np.ndarray
    events: np.ndarray
    replications: np.ndarray
    duration: np.ndarray
    confidence: float = field(default=0.99)

    @property
    def agreement(self):
        """Fraction of instances whose sampled prediction (decided or not) equals the analytic one."""
        return float(np.mean(np.argmax(self.outputs, axis=1) == np.argmax(self.analytic, axis=1)))

    @property
    def resolved(self):
        """Instances whose analytic top-two output gap exceeds 4 standard errors of the sampled outputs.

        Only there can a run of this length be expected to reproduce the analytic prediction: a model whose
        class outputs differ by less than any affordable simulation resolves (the paper's pseudo-inverse
        readout with ``W̄2 / sum|W̄2|``, say) leaves most instances unresolved.
        """
        top = np.sort(self.analytic, axis=1)
        gap = top[:, -1] - top[:, -2]
        return gap > 4.0 * self.outputs_se.max(axis=1)

    @property
    def resolved_agreement(self):
        """Fraction of resolved instances whose sampled prediction equals the analytic one (NaN if none)."""
        same = np.argmax(self.outputs, axis=1) == np.argmax(self.analytic, axis=1)
        return float(np.mean(same[self.resolved])) if self.resolved.any() else float("nan")

    def __repr__(self):
        err = np.abs(self.outputs - self.analytic).max()
        return (f"SampledOutputs(n={self.outputs.shape[0]}, decided {int(self.decided.sum())}, agreement "
                f"{self.agreement:.3f}, median events {np.median(self.events):.3g}, max |sampled - analytic| "
                f"{err:.3g}, confidence={self.confidence})")


@dataclass(frozen=True)
class ModelNetwork:
    """A model's spiking network without its input: what :func:`sample_outputs` needs from a classifier.

    An instance whose scaled inputs are ``u`` (a vector) runs ``network`` with external excitation
    ``network.ext_exc + input_exc @ u`` and external inhibition ``network.ext_inh + input_inh @ u``: the
    inputs are Poisson arrivals at the cells they drive (source cells whose ``q`` is the input, or the
    first computing cells directly). ``output_cells`` are the class outputs in the order of ``classes_``.
    """

    network: object
    input_exc: sp.csr_matrix          # (n_cells, n_inputs)
    input_inh: sp.csr_matrix          # (n_cells, n_inputs)
    output_cells: np.ndarray

    @classmethod
    def from_sources(cls, network, source_cells, source_rates, output_cells):
        """Inputs as source cells: input ``i`` excites ``source_cells[i]`` at ``u_i * source_rates[i]``."""
        n, m = network.n_cells, len(source_cells)
        input_exc = sp.csr_matrix((np.asarray(source_rates, float), (np.asarray(source_cells), np.arange(m))),
                                  shape=(n, m))
        return cls(network, input_exc, sp.csr_matrix((n, m)), np.asarray(output_cells))

    def ext_exc(self, u):
        return np.asarray(self.network.ext_exc, float) + self.input_exc @ np.asarray(u, float).ravel()

    def ext_inh(self, u):
        return np.asarray(self.network.ext_inh, float) + self.input_inh @ np.asarray(u, float).ravel()

    def solve(self, u):
        """Eq. (1)'s solution ``q`` over all cells for the inputs ``u``."""
        from .solver import solve

        return solve(self.network, ext_exc=self.ext_exc(u), ext_inh=self.ext_inh(u)).q

    def network_at(self, u):
        """The network of one instance: ``network`` with the inputs ``u`` as its external rates."""
        from .network import Network

        net = self.network
        return Network(fire_rate=net.fire_rate, w_exc=net.w_exc, w_inh=net.w_inh, ext_exc=self.ext_exc(u),
                       ext_inh=self.ext_inh(u))


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


def _decide(obs, alpha):
    """Leader and whether it beats every rival by a one-sided paired t-test at level ``alpha / (K - 1)``."""
    n, k = obs.shape
    mean = obs.mean(axis=0)
    lead = int(np.argmax(mean))
    if n < 2:
        return lead, False
    diff = obs[:, [lead]] - np.delete(obs, lead, axis=1)
    d_mean = diff.mean(axis=0)
    d_se = diff.std(axis=0, ddof=1) / np.sqrt(n)
    crit = stats.t.ppf(1.0 - alpha / (k - 1), df=n - 1)
    # A difference without spread across replications (identical readings) is no evidence either way.
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(d_se > 0, d_mean / d_se, 0.0)
    return lead, bool(np.all(t > crit))


#: Each look's simulated time is this many times the previous one's. A decision overshoots the events it
#: needs by at most this factor; more looks split the error budget further. Measured against doubling on
#: MNIST Conv-spk (200 instances): median events 1.08e6 -> 8.1e5, all calls agreeing with the analytic ones.
LOOK_GROWTH = 1.5
#: Share of the remaining error budget spent at each look but the last, which gets the rest.
LOOK_SPENDING = 0.3
#: Default warm-up of an ``"empty"`` start, in expected events per cell of the network per replication.
WARMUP_PER_CELL = 64.0


def _horizons(first, last):
    """Simulated times of the looks: ``first``, growing by ``LOOK_GROWTH``, the last one exactly ``last``."""
    looks = [first]
    while looks[-1] * (1.0 + 1e-9) < last:
        looks.append(min(LOOK_GROWTH * looks[-1], last))
    return looks


def _look_levels(n_looks, alpha):
    """Test level of each of ``n_looks`` looks: ``LOOK_SPENDING`` of what is left of ``alpha`` at each look
    but the last, which spends the rest (so they sum to ``alpha``, a Bonferroni bound over the looks)."""
    left = alpha * (1.0 - LOOK_SPENDING) ** np.arange(n_looks)
    levels = left * LOOK_SPENDING
    levels[-1] = left[-1]
    return levels


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
    w_exc, w_inh = sp.csr_matrix(net.w_exc), sp.csr_matrix(net.w_inh)
    inhibited = ((np.diff(w_inh.tocsc().indptr) > 0) | (np.asarray(net.ext_inh) != 0)
                 | (np.diff(sp.csr_matrix(model.input_inh).indptr) > 0))
    driven = np.diff(sp.csr_matrix(model.input_exc).indptr) > 0
    sends = (abs(w_exc) + abs(w_inh)).tocsr()
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
    inhibition is several times their rate (the analytic solution is used for that choice of estimator
    only). A tail cell fires at the rate it receives, ``ext_j + sum_i f_i w_ij / r_i``, up to its rate
    ``r_j`` (linear below saturation, hence unbiased there); the outputs, which are tail cells, read
    ``f_k / r_k``.
    """

    def __init__(self, model, tail, keep):
        net = model.network
        per_spike = _routes_to(net, tail)[0]                              # (all, tail): w_ij / r_i
        self.tail, self.keep = tail, keep
        self.from_kept = sp.csr_matrix(per_spike[keep].T)               # (tail, kept)
        self.within = sp.csr_matrix(per_spike[tail].T)                  # (tail, tail)
        self.rate, self.kept_rate = net.fire_rate[tail], net.fire_rate[keep]
        self.inhibition = sp.csr_matrix(sp.csr_matrix(net.w_inh)[:, keep].T)     # (kept, all)
        self.out = np.searchsorted(tail, model.output_cells)
        # Longest chain of tail cells (pooling cell -> output: 1): that many passes compute every rate.
        reach, self.depth = self.within.copy(), 0
        while reach.nnz and self.depth < tail.size:
            reach, self.depth = self.within @ reach, self.depth + 1

    def solver(self, ext, ext_inh, q):
        """For one instance (external excitation ``ext`` and inhibition ``ext_inh``, analytic ``q``, over
        all cells), the function that maps the simulated cells' excited fractions and firing rates (each
        replications x kept) to the outputs' ``q``."""
        ext_tail = ext[self.tail][:, None]
        rate = self.rate[:, None]
        by_busy = ext_inh[self.keep] + self.inhibition @ q > self.kept_rate

        def read(busy, fires):
            fires = np.where(by_busy, busy * self.kept_rate, fires)      # (replications, kept)
            inflow = ext_tail + self.from_kept @ fires.T                 # (tail, replications)
            rates = np.minimum(inflow, rate)
            for _ in range(self.depth):
                rates = np.minimum(inflow + self.within @ rates, rate)
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


def sample_instance(compiled, model, u, q, seed, *, confidence, max_events, replications, replication_events,
                    duration=None, reading="spikes", spending=True, routes=None, keep=None, tail=None,
                    start="stationary", warmup_events=0.0):
    """Sequential decision for one instance (see the module docstring). Returns a dict of its results.

    ``replications`` independent replications run side by side and are extended at every look, so a look
    only adds events (nothing is set up again): the first look is at ``replication_events`` expected
    events per replication, each later one multiplies the simulated time by ``LOOK_GROWTH``, the last one
    spends ``max_events``; the error budget is spent over them by :func:`_look_levels`.
    ``spending=False`` tests every look at the full level ``1 - confidence``: the naive rule, whose error
    rate grows with the number of looks (kept for the tests that show the difference). ``routes`` are
    :func:`_routes_to` of the outputs for ``reading="inputs"`` (computed here if not given), ``tail`` the
    model's :class:`_LinearTail` for ``reading="linear"``. ``compiled`` is the model's network or, with
    ``keep`` (cell indices), the part of it that is simulated (see :func:`_simulated_cells`).
    ``start`` is ``"stationary"`` (:func:`stationary_start`) or ``"empty"`` (every potential 0); the first
    ``warmup_events`` expected events per replication are run and not read.
    """
    net = model.network
    ext, ext_inh = model.ext_exc(u), model.ext_inh(u)
    keep = np.arange(net.n_cells) if keep is None else keep
    sim = compiled.net
    rate = _event_rate(sim.fire_rate, q[keep], ext[keep], ext_inh[keep])
    out = model.output_cells
    if rate <= 0.0:
        # A silent network (no input, no external rate): every output is exactly 0, a tie no run can break.
        return dict(outputs=np.zeros(out.size), outputs_se=np.zeros(out.size), decided=False, events=0,
                    replications=0, duration=0.0)
    warm = warmup_events / rate
    if duration is not None:
        windows = [float(duration)]
    else:
        # The budget is planned in expected events; planning it 5 Poisson standard deviations short keeps
        # the count within max_events but for rare fluctuations (spread measured: ~0.1 % at 3e5 events).
        # The first look never spends more than the budget (on a large network 3/4 of an event per cell
        # in each replication would).
        budget = max(max_events - 5.0 * np.sqrt(max_events), 0.5 * max_events) / (replications * rate) - warm
        windows = _horizons(min(replication_events / rate, budget), budget)
    looks = [warm + window for window in windows]
    alpha = 1.0 - confidence
    levels = _look_levels(len(looks), alpha) if spending else np.full(len(looks), alpha)
    start_seq, event_seq = seed.spawn(2)
    if reading == "inputs" and routes is None:
        routes = _routes_to(net, out)
    if reading == "linear":
        if tail is None:
            tail = _LinearTail(model, _linear_tail(model), keep)
        read_tail = tail.solver(ext, ext_inh, q)
    if start == "stationary":
        starts = stationary_start(sim, q[keep], ext[keep], ext_inh[keep], looks[-1],
                                  np.random.default_rng(start_seq), replications)
    else:
        starts = np.zeros((replications, keep.size), np.int64)
    # One state for all the replications (allocated once), run one after another, not interleaved: on
    # these networks (1e4 to 1e5 cells, many slow cells) the interleaved kernel was measured slower (MNIST
    # Conv-spk, whole sampled call: 4.2 against 4.8 M events/s; 2.2 against 4.3 before rate buckets).
    runs = compiled.start(ext[keep], starts, event_seq.spawn(replications), ext_inh=ext_inh[keep],
                          group_size=replications, interleave=False)
    # Busy fractions are kept only for the reading that uses them (each array is replications x cells).
    busy = np.zeros((replications, net.n_cells)) if reading == "busy" else None
    fires = np.zeros((replications, net.n_cells)) if reading != "linear" else None
    decided = False
    read_busy = reading in ("busy", "linear")
    warmed = compiled.extend(runs, warm, busy=read_busy) if warm > 0 else None
    for horizon, level in zip(looks, levels):
        excited, firing = _after_warmup(compiled.extend(runs, horizon, busy=read_busy), warmed, warm, horizon)
        if reading == "linear":
            obs = read_tail(excited, firing)
        else:
            if reading == "busy":
                busy[:, keep] = excited
            fires[:, keep] = firing
            obs = _read_outputs(reading, net, out, busy, fires, ext, ext_inh, routes)
        decided = _decide(obs, level)[1]
        if decided:
            break
    se = obs.std(axis=0, ddof=1) / np.sqrt(replications)
    return dict(outputs=obs.mean(axis=0), outputs_se=se, decided=decided,
                events=runs.events, replications=replications, duration=horizon - warm)


def _after_warmup(now, warmed, warm, horizon):
    """Time averages over ``(warm, horizon]`` from those over ``[0, horizon]`` (``now``) and over
    ``[0, warm]`` (``warmed``, None when there is no warm-up); each is a (busy, fires) pair."""
    if warmed is None:
        return now
    return tuple(None if a is None else (a * horizon - b * warm) / (horizon - warm) for a, b in zip(now, warmed))


def sample_outputs(model_network, inputs, solution, analytic, classes, *, confidence=0.99, max_events=10**7,
                   replications=32, replication_events=None, duration=None, reading="auto", start="stationary",
                   warmup_events=None, rng=None, n_jobs=None, executor=None, progress=None):
    """Simulate every instance and return :class:`SampledOutputs`.

    ``inputs`` (n, n_sources) are the instances' scaled source values, ``solution(i)`` gives instance
    ``i``'s Eq. (1) solution over all cells (for the stationary starts) and ``analytic`` (n, n_classes)
    its analytic outputs. See the classifiers' ``sample_outputs`` for the other parameters.
    """
    from .simulation import CompiledNetwork

    confidence, replications, max_events, replication_events, duration, warmup_events = _check_sampling(
        model_network, confidence, replications, max_events, replication_events, duration, reading, start,
        warmup_events)
    # The tail is found once here and handed on (on a 2e5-cell network it is a few sparse products).
    tail_cells = _linear_tail(model_network) if reading in ("auto", "linear") else None
    if reading == "auto":
        reading = _auto_reading(model_network, tail_cells)
    elif reading == "linear" and not _tail_holds_outputs(model_network, tail_cells):
        raise ValueError("The 'reading' parameter of sample_outputs can be 'linear' only when no output cell "
                         "receives inhibition or instance input, or sends spikes to a cell that does. Got "
                         "'linear' for a network whose outputs do not qualify; use 'inputs', 'spikes' or 'busy'.")
    keep = _simulated_cells(model_network, reading, tail_cells)
    net = model_network.network
    compiled = CompiledNetwork(net if keep.size == net.n_cells else _part(net, keep))
    # Shared by every instance: the network, hence the routes into the outputs, is the same.
    routes = _routes_to(net, model_network.output_cells) if reading == "inputs" else None
    tail = _LinearTail(model_network, tail_cells, keep) if reading == "linear" else None
    n = inputs.shape[0]
    if start == "empty" and n > 0:
        _check_warmup(model_network, keep, inputs[:3], solution, warmup_events)
    seeds = np.random.SeedSequence(as_generator(rng).integers(0, 2**63)).spawn(n)

    options = dict(confidence=confidence, max_events=max_events, replications=replications,
                   replication_events=replication_events, duration=duration, reading=reading, routes=routes,
                   keep=keep, tail=tail, start=start, warmup_events=warmup_events)
    job = (compiled, model_network, inputs, solution, seeds, options)
    bar = Progress(n, "sampled inference", enabled=progress)
    done_events = [0]

    def report(i, part):
        done_events[0] += part["events"]
        bar.update(i + 1, f"{i + 1}/{n} instances, {done_events[0]:.3g} events")

    try:
        with TaskRunner(executor, workers=n_jobs, owner="sample_outputs") as runner:
            parts = runner.map(_sample_task, runner.share(job), range(n), on_result=report)
    finally:
        bar.close()
    outputs = np.array([p["outputs"] for p in parts])
    return SampledOutputs(outputs=outputs, outputs_se=np.array([p["outputs_se"] for p in parts]),
                          analytic=analytic, predictions=np.asarray(classes)[np.argmax(outputs, axis=1)],
                          decided=np.array([p["decided"] for p in parts]),
                          events=np.array([p["events"] for p in parts], np.int64),
                          replications=np.array([p["replications"] for p in parts], np.int64),
                          duration=np.array([p["duration"] for p in parts]), confidence=float(confidence))


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
    """The cells a sampled decision must simulate: all of them, except output cells that send no spike
    when ``reading="inputs"``, and the whole :func:`_linear_tail` when ``reading="linear"``. Those are
    computed from the firing of the cells that feed them, and cells that send nothing outside themselves
    cannot change any other cell's course, so leaving them out changes nothing that is read. It spares
    their events, which are many: an output cell fires faster than the hundreds of cells it sums (rate 1
    against about 1e-3 in a convolutional model). ``tail``: the model's :func:`_linear_tail`, if already
    found."""
    net, out = model.network, model.output_cells
    if reading == "linear":
        return np.setdiff1d(np.arange(net.n_cells), _linear_tail(model) if tail is None else tail)
    silent = (sp.csr_matrix(net.w_exc)[out].nnz == 0) and (sp.csr_matrix(net.w_inh)[out].nnz == 0)
    if reading != "inputs" or not silent:
        return np.arange(net.n_cells)
    return np.setdiff1d(np.arange(net.n_cells), out)


def _part(net, keep):
    """The network of the cells ``keep`` (the spikes they send to other cells are lost)."""
    from .network import Network

    return Network(fire_rate=net.fire_rate[keep], w_exc=sp.csr_matrix(net.w_exc)[keep][:, keep],
                   w_inh=sp.csr_matrix(net.w_inh)[keep][:, keep], ext_exc=np.asarray(net.ext_exc)[keep],
                   ext_inh=np.asarray(net.ext_inh)[keep])


def _check_sampling(model_network, confidence, replications, max_events, replication_events, duration, reading,
                    start="stationary", warmup_events=None):
    """sample_outputs' argument checks; returns the checked numbers (``replication_events`` and
    ``warmup_events`` defaulted)."""
    owner = "sample_outputs"
    confidence = check_positive_number(confidence, "confidence", owner)
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"The 'confidence' parameter of {owner} must be in [0.5, 1). Got {confidence!r}.")
    replications = check_int(replications, "replications", owner, minimum=2)
    max_events = check_positive_number(max_events, "max_events", owner)
    if replication_events is None:
        # The first look: about 3/4 of an event per cell in each replication (with later looks growing by
        # half, this put the median MNIST Conv-spk decision at 8.1e5 events; one per cell, at 1.08e6).
        replication_events = max(2_000.0, 0.75 * model_network.network.n_cells)
    replication_events = check_positive_number(replication_events, "replication_events", owner)
    if duration is not None:
        duration = check_positive_number(duration, "duration", owner)
    if reading not in ("auto", "spikes", "busy", "inputs", "linear"):
        raise ValueError(f"The 'reading' parameter of {owner} must be 'auto', 'spikes', 'busy', 'inputs' or "
                         f"'linear'. Got {reading!r} instead.")
    if start not in ("stationary", "empty"):
        raise ValueError(f"The 'start' parameter of {owner} must be 'stationary' or 'empty'. Got {start!r} instead.")
    if warmup_events is None:
        warmup_events = 0.0 if start == "stationary" else WARMUP_PER_CELL * model_network.network.n_cells
    elif warmup_events != 0:
        warmup_events = check_positive_number(warmup_events, "warmup_events", owner)
    if duration is None and warmup_events * replications >= 0.5 * max_events:
        raise ValueError(f"The 'warmup_events' parameter of {owner} must leave at least half of max_events "
                         f"to the readings: warmup_events * replications < max_events / 2. Got warmup_events="
                         f"{warmup_events:g} with replications={replications} and max_events={max_events:g}; "
                         f"raise max_events above {2 * warmup_events * replications:.3g} or shorten the warm-up.")
    return confidence, replications, max_events, replication_events, duration, float(warmup_events)


def _sample_task(job, i):
    """Instance ``i`` of a ``sample_outputs`` job (module-level, one task per instance)."""
    compiled, model_network, inputs, solution, seeds, options = job
    return sample_instance(compiled, model_network, inputs[i], solution(i), seeds[i], **options)


class SpikingClassifierMixin:
    """``sample_outputs`` and ``predict(mode="sampled")`` for a classifier that provides
    ``_fitted_model()`` (the fitted object its network depends on; checks the fit),
    ``_build_model_network()`` (a :class:`ModelNetwork`) and ``_sampling_inputs(X, model)`` (scaled source
    values (n, n_sources), each instance's Eq. (1) solution as a function of its index, and the analytic
    outputs (n, n_classes))."""

    def _model_network(self):
        """The model's network with silent sources, built once per fit (rebuilt after a refit)."""
        fitted = self._fitted_model()
        cached = getattr(self, "_spiking_cache", None)
        if cached is None or cached[0] is not fitted:
            cached = (fitted, self._build_model_network())
            self._spiking_cache = cached
        return cached[1]

    def _predict_mode(self, X, mode, sampling, analytic):
        if mode == "analytic":
            return analytic(X)
        if mode == "sampled":
            return self.sample_outputs(X, **sampling).predictions
        raise ValueError(f"The 'mode' parameter of predict must be 'analytic' or 'sampled'. Got {mode!r} instead.")

    def sample_outputs(self, X, *, confidence=0.99, max_events=10**7, replications=32, replication_events=None,
                       duration=None, reading="auto", start="stationary", warmup_events=None, rng=None, n_jobs=None,
                       executor=None, progress=None):
        """Simulate each instance's spiking network until its prediction is decided (:class:`SampledOutputs`).

        Every instance runs independent replications, each started from the stationary (product-form) law
        of the instance's analytic solution, so that each replication's time-averaged outputs are unbiased
        over any horizon; the replications are extended in looks of growing simulated time (x 1.5) until a paired
        t-test shows the leading output above every other at ``confidence`` (valid under the repeated
        looks: the level is spent over them), or ``max_events`` are spent (then ``decided`` is False and
        the best guess is returned). The network is compiled once; instances run in parallel.

        Parameters
        ----------
        confidence : float
            Probability that a decided instance is decided for its analytic class (in [0.5, 1)).
        max_events : float
            Budget of simulated events per instance (planned from the expected event rate, 5 Poisson
            standard deviations short of it, so that the count exceeds it only by a rare fluctuation).
        replications : int
            Independent replications per instance. They run side by side and every look extends all of
            them, so its t-test has ``replications - 1`` degrees of freedom (more: a critical value closer
            to the normal one, and more memory per instance).
        replication_events : float, optional
            Expected events per replication at the first look (its simulated time follows from the
            instance's event rate); each later look multiplies the time by 1.5, the last spends
            ``max_events``. Default: 3/4 per cell of the network, at least 2,000 (at most
            ``max_events / replications``).
        duration : float, optional
            Fixed simulated time per replication, one look with ``replications`` replications (for studying
            convergence) instead of the sequential rule.
        reading : {"auto", "spikes", "busy", "inputs", "linear"}
            How an output cell is read: its spike count over the run divided by ``r * duration``; its
            time-averaged ``P(k > 0)``; ``"inputs"``, Eq. (1) for the output cell with the spike rates it
            receives, computed from the firing counts of the cells that feed it and their routing
            probabilities (the routing of each spike averaged out, not sampled); or ``"linear"``, which
            goes further back: the cells that no inhibition or input reaches and that feed only such cells
            (a convolutional model's pooling and output cells) are not simulated but computed, their rate
            being what they receive (up to their own rate), from the firing of the simulated cells that feed
            them. Those are read by their spike counts or, for cells inhibited faster than they fire (the
            convolutional position cells), by ``r`` times the time they are excited, which is the quieter
            estimate there (variance ``2 q / (r + inhibition)`` per unit time against ``q / r``); on
            JapaneseVowels the variance of a class margin fell 20-fold against ``"inputs"``. All are
            unbiased for output cells whose ``q`` is linear in their input (no inhibition, not
            saturated), as the convolutional classifiers' are; with inhibition ``"inputs"`` is a ratio
            estimate.
            ``"auto"`` (default): ``"linear"`` where it applies (no output cell receives inhibition or
            instance input, or feeds a cell that does), else ``"inputs"`` when no output cell receives
            inhibition, else ``"spikes"``.
        start : {"stationary", "empty"}
            Where each replication starts. ``"stationary"`` (default): a draw from the product-form law
            of the instance's analytic solution, so readings are unbiased from time 0. Over short runs
            much of what a reading knows then comes from that draw rather than from the spikes (slow cells
            barely move), so it is the cheap, exact way to check the network's steady state, not a model
            of a network switched on from rest. ``"empty"``: every cell unexcited, as hardware would
            start, with nothing taken from the analytic solution but the planning of the run's length;
            readings skip a warm-up. A cell forgets its start in about ``1 / (sqrt(lam+) - sqrt(mu))^2``
            (:func:`gelsim.sampled.relaxation_times`), slowly where its excitation nearly matches its
            firing and inhibition, as in the convolutional models' position cells. A
            :class:`~gelsim.sampled.WarmupWarning` says when the warm-up is shorter than the relaxation
            of the cells that carry half of the outputs' readings (on the first three instances), and
            how long that is: about 80 events per cell on digits and 630 on JapaneseVowels, where 64
            left 19 of 20 decisions wrong.
        warmup_events : float, optional
            Expected events per replication run before the readings start (not read, but counted in
            ``events`` and in ``max_events``). Default: 0 for a stationary start, 64 per cell of the
            network for an empty one.
        rng : None, int or numpy.random.Generator
        n_jobs : int, optional
            Instances simulated in parallel threads (default: all cores).
        executor : concurrent.futures.Executor or distributed.Client, optional
            Where instances run instead (each instance is one task). The tasks share the compiled model and
            its solution function (sent to Dask workers once), so a process pool needs them to pickle;
            threads (the default) and Dask (cloudpickle) always work.
        progress : bool, optional
            Progress bar over instances on stderr (default: when stderr is a terminal).

        Examples
        --------
        >>> from gelsim import MLSRNNClassifier
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLSRNNClassifier(hidden=(), elm_hidden=20, ridge=1e-3, random_state=0).fit(X, y)
        >>> res = clf.sample_outputs(X[:2], duration=2e4, replications=4, rng=0)
        >>> bool(abs(res.outputs - res.analytic).max() < 0.05)
        True
        """
        model = self._model_network()
        inputs, solution, analytic = self._sampling_inputs(X, model)
        return sample_outputs(model, inputs, solution, analytic, self.classes_, confidence=confidence,
                              max_events=max_events, replications=replications,
                              replication_events=replication_events, duration=duration, reading=reading,
                              start=start, warmup_events=warmup_events, rng=rng,
                              n_jobs=n_jobs, executor=executor, progress=progress)
