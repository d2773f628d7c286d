"""Event-driven Monte Carlo simulation of a G-network's spikes, with replication-based error bars.

:func:`simulate` checks its arguments, shares the replications out and summarises them into a
:class:`SimulationResult`. The work itself is elsewhere in this package: ``_tables`` compiles a network
into the kernels' tables, ``_replications`` holds and advances the replications' state, ``_executors``
runs tasks on threads, processes or Dask, and ``_kernels`` is the compiled event loop;
:class:`~gelsim.simulation.CompiledNetwork` (``compiled``) runs one network for many inputs.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._checks import as_generator, check_int, check_memory, check_network, check_positive_number
from .._progress import Progress
from . import _kernels as kern
from ._executors import TaskRunner
from ._replications import (advance, group_busy_fractions, group_events, group_sizes, moments, new_group,
                            start_measuring)
from ._tables import compile_network
from .compiled import initial_states

#: Largest number of spike times kept by ``record_spikes`` before recording stops (about 160 MB).
MAX_RECORDED_SPIKES = 10_000_000


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
    executor : concurrent.futures.Executor or distributed.Client, optional
        Where replications run (default: a thread pool over all local cores; the kernel releases the GIL).
        A process pool, a ``dask.distributed`` client or its executor give identical results (with a client,
        the compiled network is sent to each worker once, not with every task). Replications are
        shared out in groups, one per worker (at most 8 each); on networks of 10,000 cells or more a
        group's replications run interleaved on one core, which hides
        memory latency (about 2x the events per second of one replication alone at 10^6 cells).
    progress : bool, optional
        Progress bar (tqdm: a widget in a notebook, a bar in a terminal): None (default) shows it once
        the run has lasted 2 s, True at once, False never.

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
    duration, replications, hist_size, target_se = _check_simulate(net, duration, replications, hist_size,
                                                                   target_se)
    gen = as_generator(rng)
    tables = compile_network(net)
    if duration is None:
        duration = _pilot_duration(net, tables)
    warmup = duration / 100 if warmup is None else check_positive_number(warmup, "warmup", "simulate",
                                                                         allow_zero=True)
    max_duration = (1e4 * duration if max_duration is None
                    else check_positive_number(max_duration, "max_duration", "simulate"))
    rec_slot, capacity = _recording(record_spikes, net, duration if target_se is None else max_duration)
    # Two independent streams per replication: its starting state and its events.
    streams = [s.spawn(2) for s in np.random.SeedSequence(gen.integers(0, 2**63)).spawn(replications)]
    starts = initial_states(net, initial, [s[0] for s in streams])
    with TaskRunner(executor, workers=None if executor is not None else min(os.cpu_count() or 1, replications),
                    owner="simulate") as runner:
        # Groups only decide how work is shared out (results are the same for any grouping): one per worker.
        specs, first = [], 0
        for size in group_sizes(replications, min(runner.workers, replications)):
            specs.append((np.stack(starts[first:first + size]), [streams[r][1] for r in range(first, first + size)],
                          hist_size, rec_slot, capacity if first == 0 else 0))
            first += size
        groups, measured = _run(tables, specs, runner, duration, warmup, target_se, max_duration, progress)
    return _summarise(groups, measured, warmup, t_start)


def _pilot_duration(net, tables):
    """The first length of a ``target_se`` run, which the loop in :func:`_run` grows: about 200 events per
    cell and 100 firings of the median firing cell; 1 for a network that has no events at all (its every
    state is final, and any length measures it exactly)."""
    firing = net.fire_rate[net.fire_rate > 0]
    duration = (200.0 * net.n_cells / tables.rate_total if tables.rate_total > 0 else 0.0)
    duration += 100.0 / np.median(firing) if firing.size else 0.0
    return duration if duration > 0 else 1.0


def _check_simulate(net, duration, replications, hist_size, target_se):
    """simulate's argument checks: the checked ``duration`` (None in target_se mode), ``replications``,
    ``hist_size`` and ``target_se``; raises ValueError naming the parameter, and MemoryError for a run
    whose state would not fit in the memory this process can still allocate."""
    owner = "simulate"
    check_network(net, "simulate")
    if duration is None and target_se is None:
        raise ValueError("simulate needs 'duration' (simulated time per replication) or 'target_se'.")
    if target_se is not None:
        target_se = check_positive_number(target_se, "target_se", owner)
    duration = check_positive_number(duration, "duration", owner) if duration is not None else None
    replications = check_int(replications, "replications", owner, minimum=1)
    hist_size = check_int(hist_size, "hist_size", owner, minimum=1)
    if target_se is not None and replications < 2:
        raise ValueError("'target_se' needs replications >= 2 to estimate standard errors.")
    per_cell = kern.row_width(hist_size) + kern.ACT_WIDTH
    check_memory(replications * net.n_cells * per_cell * 8,
                 f"The simulator state ({replications} replications x {net.n_cells} cells x {per_cell} numbers)",
                 "Use fewer replications or a smaller hist_size.")
    return duration, replications, hist_size, target_se


def _recording(record_spikes, net, duration):
    n = net.n_cells
    rec_slot = np.full(n, -1, np.int64)
    if record_spikes is None:
        return rec_slot, 0
    cells = np.asarray(record_spikes)
    if cells.size == 0:
        cells = cells.astype(np.int64).reshape(0)   # an empty list records nothing (numpy reads it as float)
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


def _run(tables, specs, runner, duration, warmup, target_se, max_duration, progress):
    """Make the replication groups described by ``specs`` and run them for ``duration`` (or to ``target_se``)."""
    with Progress(1.0, "simulate", enabled=progress) as bar:
        shared = runner.share(tables)  # on Dask, sent to the workers once
        # The replications' state is made where it runs and, on Dask, stays on the workers between rounds.
        groups = runner.map(_new_group_task, shared, specs, remote=True)
        groups = runner.map(start_measuring, shared, groups, warmup, remote=True)
        measured = 0.0
        goal, cap = duration, max_duration
        # Rounds only serve the progress bar (and target_se's checks below); results do not depend on them,
        # and each round re-sends the state to a process pool, so without a bar the run is one round.
        rounds = 20 if bar.enabled else 1
        while True:
            step = max(min(goal - measured, max(goal / rounds, 1e-300)), 0.0)
            if step > 0:
                measured = min(measured + step, goal)
                groups = runner.map(advance, shared, groups, warmup + measured, remote=True)
            if bar.enabled:
                events = sum(runner.read(group_events, groups))
                bar.update(measured / goal if target_se is None else min(measured / cap, 1.0), f"{events:.3g} events")
            if measured < goal:
                continue
            if target_se is None or measured >= cap:
                break
            busy = np.concatenate(runner.read(group_busy_fractions, groups, warmup + measured, measured))
            worst = float(np.nanmax(busy.std(axis=0, ddof=1) / np.sqrt(busy.shape[0])))
            if worst <= target_se:
                break
            # se falls like 1/sqrt(time): aim a little past the predicted need.
            goal = min(cap, measured * min(max(1.2 * (worst / target_se) ** 2, 1.5), 100.0))
    if target_se is not None and measured >= cap:
        warnings.warn(f"simulate stopped at max_duration={cap:.4g} before every q_se reached "
                      f"target_se={target_se}.", RuntimeWarning, stacklevel=3)
    return runner.gather(groups), measured


def _new_group_task(tables, spec):
    return new_group(tables, *spec)


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


def _summarise(groups, measured, warmup, t_start):
    acc = moments(groups, measured, warmup)
    k_end = np.concatenate([g.potentials() for g in groups])
    k_start = np.concatenate([g.k_start for g in groups])
    saturated = _climbing(k_start, k_end, acc.potential, acc.q)
    first = groups[0]
    n_rec = int(first.counters[0, kern.NREC])
    dropped = int(first.counters[0, kern.DROPPED])
    if dropped:
        warnings.warn(f"record_spikes buffer was full: {dropped} spikes were not recorded.", RuntimeWarning,
                      stacklevel=3)
    recorded = first.rec_times is not None
    return SimulationResult(
        q=acc.q, q_se=acc.histogram_se[:, 0].copy(), mean_potential=acc.potential,
        mean_potential_se=acc.potential_se, firing_rate=acc.firing, firing_rate_se=acc.firing_se,
        potential_hist=acc.histogram, potential_hist_se=acc.histogram_se, saturated=saturated,
        events=sum(g.events for g in groups), duration=measured,
        replications=k_end.shape[0], wall_time=time.perf_counter() - t_start, final_potential=k_end,
        spike_times=first.rec_times[:n_rec].copy() if recorded else None,
        spike_cells=first.rec_cells[:n_rec].copy() if recorded else None, spikes_dropped=dropped,
        per_replication_q=acc.busy)
