"""Event-driven Monte Carlo simulation of a G-network's spikes, with replication-based error bars."""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import _sim_kernels as kern
from ._progress import Progress
from ._validation import as_generator, check_int, check_positive_number
from .network import Network

#: Largest number of spike times kept by ``record_spikes`` before recording stops (about 160 MB).
MAX_RECORDED_SPIKES = 10_000_000
#: Events per kernel call. Results do not depend on how a run is split into calls (or into the rounds that
#: move the progress bar): the kernel resumes exactly where it stopped.
CHUNK_EVENTS = 20_000_000
#: Refuse runs whose per-replication state would exceed this many bytes in all.
MAX_STATE_BYTES = 8 * 2**30
#: From this many cells on, the state no longer fits in cache and the replications of a group run
#: interleaved (``run_events_pipelined``), which hides memory latency; below it they run one after another.
PIPELINE_MIN_CELLS = 10_000
#: Largest number of replications in one group (one kernel call, one task for the executor).
MAX_GROUP = 8


@dataclass(frozen=True, repr=False)
class SimulationResult:
    """Time averages of a simulated G-network, averaged over independent replications.

    Attributes
    ----------
    q, q_se : ndarray (N,)
        Fraction of time each cell is excited, ``P(k_i > 0)``, and its standard error
        (sample standard deviation over replications / sqrt(replications); NaN with one replication).
    mean_potential, mean_potential_se : ndarray (N,)
        Time-averaged potential ``E[k_i]``.
    firing_rate, firing_rate_se : ndarray (N,)
        Spikes emitted per unit time.
    potential_hist : ndarray (N, H)
        Fraction of time at potential 0, 1, ..., H-2; the last column is ``k >= H-1``.
    potential_hist_se : ndarray (N, H)
        Standard errors of ``potential_hist``.
    saturated : ndarray of bool (N,)
        Cells whose potential climbs (q = 1 in Eq. (1)): over the replications, the mean final potential is
        >= 1.5 times the mean time-averaged one, the mean rise over the window is clearly positive, and
        ``q >= 0.95``. A heuristic: it is reliable when the run is long compared with the relaxation time
        of the cells near q = 1. A stable cell near q = 1 still filling up from an empty start, or a weakly
        unstable one (drift of a few percent of its rate), can be misjudged in shorter runs (measured: a lone
        q = 0.95 cell over one relaxation time, T = 2000 with 8 replications, is flagged in about 2 % of
        seeds); start from ``initial="stationary"`` or warm up longer for those.
    events : int
        State-changing events simulated (all replications, warm-up included).
    duration : float
        Measured simulated time per replication (after warm-up).
    replications : int
    wall_time : float
        Seconds of wall-clock time.
    final_potential : ndarray (replications, N)
        Potentials at the end of each replication.
    spike_times, spike_cells : ndarray or None
        Recorded spikes of replication 0 (``record_spikes``): times and the position of the cell in
        ``record_spikes``; ``spikes_dropped`` counts spikes not kept once the buffer was full.
    per_replication_q : ndarray (replications, N)
        Each replication's own time-averaged ``P(k_i > 0)`` (the samples behind ``q`` and ``q_se``).
    """

    q: np.ndarray
    q_se: np.ndarray
    mean_potential: np.ndarray
    mean_potential_se: np.ndarray
    firing_rate: np.ndarray
    firing_rate_se: np.ndarray
    potential_hist: np.ndarray
    potential_hist_se: np.ndarray
    saturated: np.ndarray
    events: int
    duration: float
    replications: int
    wall_time: float
    final_potential: np.ndarray = field(repr=False)
    spike_times: np.ndarray | None = field(default=None, repr=False)
    spike_cells: np.ndarray | None = field(default=None, repr=False)
    spikes_dropped: int = 0
    per_replication_q: np.ndarray | None = field(default=None, repr=False)

    @property
    def events_per_second(self):
        """State-changing events per second of wall-clock time."""
        return self.events / self.wall_time if self.wall_time > 0 else float("inf")

    def __repr__(self):
        return (f"SimulationResult(N={self.q.size}, q in [{self.q.min():.4g}, {self.q.max():.4g}], "
                f"max q_se={np.nanmax(self.q_se) if self.q_se.size and not np.all(np.isnan(self.q_se)) else np.nan:.2g}, "
                f"saturated={int(self.saturated.sum())}, events={self.events:.4g}, duration={self.duration:.4g}, "
                f"replications={self.replications}, wall_time={self.wall_time:.3g}s)")


@dataclass(frozen=True)
class _Tables:
    """The network compiled into the kernels' tables (see ``_sim_kernels``)."""

    ext_table: np.ndarray   # (M, 3): alias acceptance, own cell, alias cell; over cells with Λ > 0
    ext_rate: float
    cell_const: np.ndarray  # (N, 4): C_ACCEPT, C_INHIB, C_START, C_COUNT, shared by all replications
    rate_max: float
    route: np.ndarray       # (S, 3): alias acceptance, own target code, alias target code
    ev_prob: np.ndarray     # uniformised 3N-clock alias table, for the transient kernel
    ev_alias: np.ndarray
    rate_total: float
    n_cells: int


def _alias_pack(weights, indptr, payload):
    """Alias tables per segment, packed as rows (acceptance, own payload, alias payload)."""
    prob = np.empty(weights.size)
    alias = np.empty(weights.size, np.int64)
    kern.build_alias(weights, indptr, prob, alias)
    seg_start = np.repeat(indptr[:-1], np.diff(indptr))
    table = np.empty((weights.size, kern.AL_WIDTH))
    table[:, kern.AL_ACCEPT] = prob
    kern.ints32(table)[:, kern.AL_OWN] = payload
    kern.ints32(table)[:, kern.AL_ALIAS] = payload[seg_start + alias]
    return table


def _compile(net):
    n = net.n_cells
    if n >= 2**30:
        raise ValueError(f"The simulator handles networks of fewer than 2**30 cells; this one has {n}.")
    lam, lam_inh, r = net.ext_exc, net.ext_inh, net.fire_rate
    # Routing: one slot per edge plus a departure slot (code -1) where spikes can leave.
    indptr, target, weight, inhib = net.out_edges()
    codes = np.where(inhib, target + n, target)
    dep = net.departure * r
    has_dep = (dep > 1e-15 * r) | (np.diff(indptr) == 0)
    counts = np.diff(indptr) + has_dep
    route_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if route_ptr[-1] >= 2**31:
        raise ValueError(f"The simulator handles networks of fewer than 2**31 routes (edges plus departures); "
                         f"this one has {route_ptr[-1]}.")
    route_w = np.empty(route_ptr[-1])
    route_code = np.empty(route_ptr[-1], np.int64)
    edge_pos = np.repeat(route_ptr[:-1] - indptr[:-1], np.diff(indptr)) + np.arange(indptr[-1])
    route_w[edge_pos] = weight
    route_code[edge_pos] = codes
    dep_pos = route_ptr[1:][has_dep] - 1
    route_w[dep_pos] = np.where(dep[has_dep] > 0, dep[has_dep], 1.0)
    route_code[dep_pos] = -1
    route = _alias_pack(route_w, route_ptr, route_code)
    cell_const = np.empty((n, 4))
    kern.ints(cell_const)[:, kern.C_START] = route_ptr[:-1]
    kern.ints(cell_const)[:, kern.C_COUNT] = counts
    base = _Tables(None, 0.0, cell_const, 0.0, route, None, None, 0.0, n)
    base = _with_inhibition(base, lam_inh, r)
    return _with_external(base, lam, lam_inh, r)


def _with_inhibition(tables, lam_inh, r):
    """``tables`` with the external inhibition ``lam_inh``: it sets each excited cell's event rate
    ``lam_inh + r``, hence the acceptance constants (a new ``cell_const``; the routing is shared)."""
    n = tables.n_cells
    cell_rate = lam_inh + r
    rate_max = float(cell_rate.max())
    accept = cell_rate / rate_max if rate_max > 0 else np.zeros(n)
    inhib_share = np.divide(lam_inh, cell_rate, out=np.zeros(n), where=cell_rate > 0)
    cell_const = tables.cell_const.copy()
    cell_const[:, kern.C_ACCEPT] = accept
    cell_const[:, kern.C_INHIB] = accept * inhib_share
    return dataclasses.replace(tables, cell_const=cell_const, rate_max=rate_max)


def _with_external(tables, lam, lam_inh, r):
    """``tables`` with the external excitation ``lam`` (the only part of the tables that depends on it)."""
    n = tables.n_cells
    rates = np.stack([lam, lam_inh, r], axis=1).ravel()
    rate_total = float(rates.sum())
    if not rate_total > 0:
        raise ValueError("The network has no events at all: every external rate and firing rate is 0, "
                         "so there is nothing to simulate.")
    ev_prob = np.empty(3 * n)
    ev_alias = np.empty(3 * n, np.int64)
    kern.build_alias(rates, np.array([0, 3 * n], np.int64), ev_prob, ev_alias)
    sources = np.flatnonzero(lam > 0)
    ext_table = (_alias_pack(lam[sources], np.array([0, sources.size], np.int64), sources)
                 if sources.size else np.zeros((1, kern.AL_WIDTH)))
    return dataclasses.replace(tables, ext_table=ext_table, ext_rate=float(lam.sum()), ev_prob=ev_prob,
                               ev_alias=ev_alias, rate_total=rate_total)


class CompiledNetwork:
    """A network compiled once into the simulator's tables, run for many external excitations.

    The routing is compiled once; :meth:`run` takes this run's external rates (what differs between a
    model's instances, whose inputs arrive as Poisson spikes) and simulates independent replications from
    given starting potentials.

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> from gelsim.simulation import CompiledNetwork
    >>> compiled = CompiledNetwork(gelsim.generators.mm1(arrival=1.0, service=2.0))
    >>> seeds = np.random.SeedSequence(0).spawn(4)
    >>> busy, fires, events = compiled.run([0.5], np.zeros((4, 1), np.int64), seeds, duration=1e4)
    >>> busy.shape, bool(abs(busy.mean() - 0.25) < 0.02), bool(abs(fires.mean() - 0.5) < 0.04)
    ((4, 1), True, True)
    """

    def __init__(self, net):
        self.net = net
        self.tables = _compile(net)

    def run(self, ext_exc, starts, seed_seqs, duration, ext_inh=None):
        """Busy fractions and firing rates (spikes per unit time), each (replications, N), over
        ``[0, duration]``, and the events of each replication.

        Replications start from the rows of ``starts`` (integer potentials) with event streams from
        ``seed_seqs``; they run in the calling thread (interleaved on large networks), so callers run
        instances in parallel. External excitation ``ext_exc`` replaces the network's ``Λ`` (and
        ``ext_inh``, if given, its ``λ``).
        """
        net = self.net
        tables = self.tables
        if ext_inh is None:
            ext_inh = net.ext_inh
        else:
            ext_inh = np.asarray(ext_inh, float)
            tables = _with_inhibition(tables, ext_inh, net.fire_rate)
        tables = _with_external(tables, np.asarray(ext_exc, float), ext_inh, net.fire_rate)
        group = _new_group(tables, np.asarray(starts, np.int64), list(seed_seqs), 2, np.full(net.n_cells, -1), 0)
        group = _start_measuring(tables, group, 0.0)
        group = _advance(tables, group, duration)
        cells = _flushed_cells([group], duration)
        fires = np.stack([cell[:, kern.FIRES] for cell in cells]) / duration
        return _busy_fractions(cells, duration), fires, group["counters"][:, kern.EVENTS].copy()


def initial_states(net, initial, seed_seqs):
    """One starting potential vector per seed: all zero, given, or drawn from the product-form law.

    For ``"stationary"`` Eq. (1) is solved once and each replication draws ``k_i ~ Geometric(1 - q_i)``
    from its own stream; saturated cells (no stationary law) start empty.
    """
    n = net.n_cells
    if isinstance(initial, str):
        if initial == "empty":
            return [np.zeros(n, np.int64) for _ in seed_seqs]
        if initial == "stationary":
            from .solver import solve

            ss = solve(net)
            q = np.where(ss.saturated, 0.0, ss.q)
            return [(np.random.default_rng(s).geometric(1.0 - q) - 1).astype(np.int64) for s in seed_seqs]
        raise ValueError(f"The 'initial' parameter must be 'empty', 'stationary' or a vector of {n} "
                         f"non-negative integers. Got {initial!r} instead.")
    k0 = np.asarray(initial)
    if k0.shape != (n,) or not np.issubdtype(k0.dtype, np.integer) or np.any(k0 < 0):
        raise ValueError(f"The 'initial' parameter must be 'empty', 'stationary' or a vector of {n} "
                         f"non-negative integers. Got {_short(initial)} instead.")
    return [k0.astype(np.int64) for _ in seed_seqs]


def _short(x):
    return f"an array of shape {np.shape(x)} and dtype {np.asarray(x).dtype}" if np.ndim(x) else repr(x)


def _aligned_zeros(shape, dtype=np.float64):
    """Zeros whose first element sits on a 64-byte cache-line boundary (so per-cell rows split fewer lines)."""
    size = int(np.prod(shape))
    itemsize = np.dtype(dtype).itemsize
    buf = np.zeros(size + 64 // itemsize, dtype)
    offset = (-buf.ctypes.data % 64) // itemsize
    return buf[offset:offset + size].reshape(shape)


def _advance(tables, group, t_end):
    """Run a group of replications up to expected time ``t_end`` (module-level so process pools can pickle it).

    Large networks interleave the group's replications in one kernel; small ones (and a group that records
    spikes) run them one after another. Both give bit-identical results, so the choice only affects speed.
    """
    t = tables
    g = group
    if g["cell"].shape[0] > 1 and t.n_cells >= PIPELINE_MIN_CELLS and g["rec_times"] is None:
        while not np.all(kern.run_events_pipelined(g["cell"], t.cell_const, g["act"], g["counters"], g["scal"],
                                                   g["rng"], t_end, CHUNK_EVENTS, t.ext_table, t.ext_rate, t.rate_max,
                                                   t.route, t.n_cells, g["n_hist"])):
            pass
        return group
    for c in range(g["cell"].shape[0]):
        rec_times, rec_cells = (g["rec_times"], g["rec_cells"]) if c == 0 else (None, None)
        while not kern.run_events(g["cell"][c], t.cell_const, g["act"][c], g["counters"][c], g["scal"][c], g["rng"][c],
                                  t_end, CHUNK_EVENTS, t.ext_table, t.ext_rate, t.rate_max, t.route, t.n_cells,
                                  g["n_hist"], g["rec_slot"], rec_times, rec_cells):
            pass
    return group


def _start_measuring(tables, group, warmup):
    """Warm up until ``warmup``, then zero the accumulators and note the potentials."""
    group = _advance(tables, group, warmup)
    for cell in group["cell"]:
        kern.reset_accumulators(cell, warmup)  # the window starts at the boundary, not the last event
    group["k_start"] = _potentials(group)
    group["counters"][:, kern.NREC] = 0
    group["counters"][:, kern.DROPPED] = 0
    group["scal"][:, kern.CLOCK] = 0.0
    return group


def _new_group(tables, starts, seed_seqs, n_hist, rec_slot, rec_capacity):
    """The state of replications with starting potentials ``starts`` (G, N), stacked along a first axis."""
    n_chains, n = starts.shape
    cell = _aligned_zeros((n_chains, n, kern.row_width(n_hist)))
    kern.ints(cell)[:, :, kern.POT] = starts
    kern.ints(cell)[:, :, kern.POS] = -1
    act = _aligned_zeros((n_chains, n, kern.ACT_WIDTH))
    counters = np.zeros((n_chains, kern.N_COUNTERS), np.int64)
    scal = np.zeros((n_chains, kern.N_SCAL))
    rng = np.empty((n_chains, 4), np.uint64)
    for c in range(n_chains):
        rng[c] = np.random.default_rng(seed_seqs[c]).integers(0, 2**64, size=4, dtype=np.uint64)
        rng[c, 0] |= np.uint64(1)  # xoshiro's state must not be all zero
        kern.start_replication(cell[c], act[c], tables.cell_const, counters[c], scal[c], rng[c], tables.ext_table,
                               tables.rate_max)
    recording = rec_capacity > 0
    return dict(cell=cell, act=act, counters=counters, scal=scal, rng=rng, n_hist=n_hist, rec_slot=rec_slot,
                rec_times=np.zeros(rec_capacity) if recording else None,
                rec_cells=np.zeros(rec_capacity, np.int64) if recording else None)


def _potentials(group):
    """The group's current potentials as integers, (G, N)."""
    return kern.ints(group["cell"])[:, :, kern.POT].copy()


def _group_sizes(replications, workers):
    """Split replications into groups: at least one per worker, at most ``MAX_GROUP`` per group."""
    n_groups = max(min(workers, replications), -(-replications // MAX_GROUP))
    base, extra = divmod(replications, n_groups)
    return [base + (g < extra) for g in range(n_groups)]


def _map(executor, fn, tables, groups, arg):
    futures = [executor.submit(fn, tables, g, arg) for g in groups]
    return [f.result() for f in futures]


def simulate(net, *, duration=None, warmup=None, replications=8, target_se=None, max_duration=None,
             initial="empty", record_spikes=None, hist_size=9, rng=None, executor=None, progress=None):
    """Simulate the spiking network event by event and measure its time averages.

    Parameters
    ----------
    net : Network
    duration : float
        Measured simulated time per replication (after ``warmup``). Required unless ``target_se`` is given.
    warmup : float, optional
        Simulated time discarded at the start of each replication (default ``duration / 100``; 0 with
        ``initial="stationary"`` is sensible).
    replications : int
        Independent replications (default 8, >= 2 for standard errors); each has its own random stream
        spawned from ``rng``, so results are bit-identical for a seed whatever the executor or core count.
    target_se : float, optional
        Keep extending every replication until every cell's ``q_se <= target_se`` (or ``max_duration``).
    max_duration : float, optional
        Cap on the per-replication duration in ``target_se`` mode (default ``1e4 * starting duration``).
    initial : {"empty", "stationary"} or array of int
        Starting potentials: all zero, a draw from the product-form law of :func:`gelsim.solve`, or given.
    record_spikes : sequence of int, optional
        Cells whose spike times (in replication 0) are kept, up to ``MAX_RECORDED_SPIKES``.
    hist_size : int
        Columns of ``potential_hist`` (the last one collects ``k >= hist_size - 1``).
    rng : None, int or numpy.random.Generator
    executor : concurrent.futures.Executor, optional
        Where replications run (default: a thread pool over all local cores; the kernel releases the GIL).
        A process pool or a ``dask.distributed`` client's executor gives identical results. Replications are
        shared out in groups, one per worker (at most ``MAX_GROUP`` each); on networks of
        ``PIPELINE_MIN_CELLS`` cells or more a group's replications run interleaved on one core, which hides
        memory latency (about 2x the events per second of one replication alone at 10^6 cells).
    progress : bool, optional
        Show a progress bar on stderr (default: when stderr is a terminal).

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> import gelsim
    >>> net = gelsim.generators.mm1(arrival=1.0, service=2.0)
    >>> res = gelsim.simulate(net, duration=2e4, replications=4, rng=1)
    >>> bool(abs(res.q[0] - 0.5) < 5 * res.q_se[0])
    True
    """
    t_start = time.perf_counter()
    owner = "simulate"
    if not isinstance(net, Network):
        raise ValueError(f"The 'net' parameter of simulate must be a gelsim.Network. Got {type(net).__name__}.")
    if duration is None and target_se is None:
        raise ValueError("simulate needs 'duration' (simulated time per replication) or 'target_se'.")
    if target_se is not None:
        target_se = check_positive_number(target_se, "target_se", owner)
    duration = check_positive_number(duration, "duration", owner) if duration is not None else None
    replications = check_int(replications, "replications", owner, minimum=1)
    hist_size = check_int(hist_size, "hist_size", owner, minimum=1)
    if target_se is not None and replications < 2:
        raise ValueError("'target_se' needs replications >= 2 to estimate standard errors.")
    gen = as_generator(rng)
    n = net.n_cells
    per_cell = kern.row_width(hist_size) + kern.ACT_WIDTH
    state_bytes = replications * n * per_cell * 8
    if state_bytes > MAX_STATE_BYTES:
        raise ValueError(f"This run needs {state_bytes / 2**30:.1f} GiB of simulator state "
                         f"({replications} replications x {n} cells x {per_cell} numbers); "
                         f"the limit is {MAX_STATE_BYTES / 2**30:.0f} GiB. Use fewer replications or a smaller hist_size.")
    tables = _compile(net)
    if duration is None:
        # Start from a short pilot; the loop below grows it to reach target_se.
        duration = 200.0 * n / tables.rate_total + 100.0 / np.median(net.fire_rate[net.fire_rate > 0])
    warmup = duration / 100 if warmup is None else check_positive_number(warmup, "warmup", owner, allow_zero=True)
    max_duration = 1e4 * duration if max_duration is None else check_positive_number(max_duration, "max_duration", owner)
    rec_slot, capacity = _recording(record_spikes, net, duration if target_se is None else max_duration)
    # Two independent streams per replication: its starting state and its events.
    streams = [s.spawn(2) for s in np.random.SeedSequence(gen.integers(0, 2**63)).spawn(replications)]
    starts = initial_states(net, initial, [s[0] for s in streams])
    # Groups only decide how work is shared out (results are the same for any grouping): one per worker.
    workers = min(getattr(executor, "_max_workers", None) or os.cpu_count() or 1, replications)
    groups, first = [], 0
    for size in _group_sizes(replications, workers):
        groups.append(_new_group(tables, np.stack(starts[first:first + size]),
                                 [streams[r][1] for r in range(first, first + size)], hist_size, rec_slot,
                                 capacity if first == 0 else 0))
        first += size
    own_pool = executor is None
    if own_pool:
        executor = ThreadPoolExecutor(max_workers=workers)
    try:
        groups, measured = _run(tables, groups, executor, duration, warmup, target_se, max_duration, progress)
    finally:
        if own_pool:
            executor.shutdown()
    return _summarise(tables, groups, measured, warmup, t_start)


def _recording(record_spikes, net, duration):
    n = net.n_cells
    rec_slot = np.full(n, -1, np.int64)
    if record_spikes is None:
        return rec_slot, 0
    cells = np.asarray(record_spikes)
    if cells.ndim != 1 or not np.issubdtype(cells.dtype, np.integer) or np.any((cells < 0) | (cells >= n)):
        raise ValueError(f"The 'record_spikes' parameter must list cell indices in [0, {n}). Got {record_spikes!r}.")
    rec_slot[cells] = np.arange(cells.size)
    # Expected spikes are at most r_i * duration per cell; leave room for fluctuations.
    bound = float(net.fire_rate[cells].sum() * duration)
    capacity = int(min(MAX_RECORDED_SPIKES, 1.2 * bound + 10 * np.sqrt(bound) + 100))
    if bound > 10 * MAX_RECORDED_SPIKES:
        raise ValueError(f"record_spikes would keep up to {bound:.3g} spike times; the limit is "
                         f"{MAX_RECORDED_SPIKES:.3g}. Record fewer cells or simulate a shorter duration.")
    return rec_slot, capacity


def _run(tables, groups, executor, duration, warmup, target_se, max_duration, progress):
    bar = Progress(1.0, "simulate", enabled=progress)
    groups = _map(executor, _start_measuring, tables, groups, warmup)
    measured = 0.0
    goal, cap = duration, max_duration
    # Rounds only serve the progress bar (and target_se's checks below); results do not depend on them,
    # and each round re-sends the state to a process pool, so without a bar the run is one round.
    rounds = 20 if bar.enabled else 1
    while True:
        step = max(min(goal - measured, max(goal / rounds, 1e-300)), 0.0)
        if step > 0:
            measured = min(measured + step, goal)
            groups = _map(executor, _advance, tables, groups, warmup + measured)
        events = sum(int(g["counters"][:, kern.EVENTS].sum()) for g in groups)
        bar.update(measured / goal if target_se is None else min(measured / cap, 1.0), f"{events:.3g} events")
        if measured < goal:
            continue
        if target_se is None or measured >= cap:
            break
        worst = float(np.nanmax(_q_estimates(groups, measured, warmup)[1]))
        if worst <= target_se:
            break
        # se falls like 1/sqrt(time): aim a little past the predicted need.
        goal = min(cap, measured * min(max(1.2 * (worst / target_se) ** 2, 1.5), 100.0))
    bar.close()
    if target_se is not None and measured >= cap:
        warnings.warn(f"simulate stopped at max_duration={cap:.4g} before every q_se reached "
                      f"target_se={target_se}.", RuntimeWarning, stacklevel=3)
    return groups, measured


def _flushed_cells(groups, now):
    """Every replication's ``cell`` array, its accumulators brought up to ``now``."""
    n_hist = groups[0]["n_hist"]
    cells = [cell for g in groups for cell in g["cell"]]
    for cell in cells:
        kern.flush(cell, now, n_hist)
    return cells


def _busy_fractions(cells, measured):
    """Each replication's busy fraction ``1 - time at k = 0`` per unit time, (replications, N)."""
    return np.clip(1.0 - np.stack([cell[:, kern.HIST] for cell in cells]) / measured, 0.0, 1.0)


def _moments(groups, measured, warmup):
    """Mean and standard error over replications of every accumulator (columns ``AREA`` to the last
    histogram column) per unit time.

    Works group by group in one pass, without stacking the replications' state (gigabytes on large
    networks). Also returns each replication's busy fraction as (replications, N).
    """
    cells = _flushed_cells(groups, warmup + measured)
    n_hist = groups[0]["n_hist"]
    n_reps = len(cells)
    shift = cells[0][:, kern.AREA:kern.HIST + n_hist] / measured
    s1, s2 = np.zeros_like(shift), np.zeros_like(shift)
    for cell in cells:
        kern.add_moments(cell, n_hist, 1.0 / measured, shift, s1, s2)
    mean = shift + s1 / n_reps
    if n_reps > 1:  # sample standard deviation / sqrt(replications)
        se = np.sqrt(np.maximum(s2 - s1 * s1 / n_reps, 0.0) / (n_reps - 1) / n_reps)
    else:
        se = np.full_like(shift, np.nan)
    return mean, se, _busy_fractions(cells, measured)


def _q_estimates(groups, measured, warmup):
    """q and its standard error only (target_se mode checks these every round; needs >= 2 replications)."""
    busy = _busy_fractions(_flushed_cells(groups, warmup + measured), measured)
    return busy.mean(axis=0), busy.std(axis=0, ddof=1) / np.sqrt(busy.shape[0])


def _climbing(k_start, k_end, area_mean, busy_mean):
    """Cells whose potential drifts upwards (saturated), judged from all replications together.

    A saturated cell climbs: its final potential is about twice its time average and its rise over the
    window is clearly positive. A stable cell ends near its time average (a cell still filling up from an
    empty start ends at most a little above it), so requiring a ratio >= 1.5 of the pooled means, a rise
    3 standard errors above zero and q >= 0.95 keeps stable cells out. With one replication the rise must
    simply be >= 10.
    """
    rise = k_end - k_start
    ratio_ok = k_end.mean(axis=0) >= 1.5 * area_mean
    if rise.shape[0] > 1:
        se = rise.std(axis=0, ddof=1) / np.sqrt(rise.shape[0])
        rise_ok = rise.mean(axis=0) > np.maximum(3 * se, 10.0 / np.sqrt(rise.shape[0]))
    else:
        rise_ok = rise[0] >= 10
    return ratio_ok & rise_ok & (busy_mean >= 0.95) & (k_end.mean(axis=0) >= 10)


def _summarise(tables, groups, measured, warmup, t_start):
    mean, se, busy = _moments(groups, measured, warmup)
    area, fires, hist = kern.AREA - kern.AREA, kern.FIRES - kern.AREA, kern.HIST - kern.AREA
    q = np.clip(1.0 - mean[:, hist], 0.0, 1.0)
    k_end = np.concatenate([_potentials(g) for g in groups])
    k_start = np.concatenate([g["k_start"] for g in groups])
    saturated = _climbing(k_start, k_end, mean[:, area], q)
    first = groups[0]
    n_rec = int(first["counters"][0, kern.NREC])
    dropped = int(first["counters"][0, kern.DROPPED])
    if dropped:
        warnings.warn(f"record_spikes buffer was full: {dropped} spikes were not recorded.", RuntimeWarning,
                      stacklevel=3)
    recorded = first["rec_times"] is not None
    return SimulationResult(
        q=q, q_se=se[:, hist].copy(), mean_potential=mean[:, area].copy(), mean_potential_se=se[:, area].copy(),
        firing_rate=mean[:, fires].copy(), firing_rate_se=se[:, fires].copy(),
        potential_hist=mean[:, hist:].copy(), potential_hist_se=se[:, hist:].copy(), saturated=saturated,
        events=int(sum(int(g["counters"][:, kern.EVENTS].sum()) for g in groups)), duration=measured,
        replications=k_end.shape[0], wall_time=time.perf_counter() - t_start, final_potential=k_end,
        spike_times=first["rec_times"][:n_rec].copy() if recorded else None,
        spike_cells=first["rec_cells"][:n_rec].copy() if recorded else None, spikes_dropped=dropped,
        per_replication_q=busy)
