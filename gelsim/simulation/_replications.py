"""The state of a group of simulated replications, and the steps that advance and read it.

A :class:`ReplicationGroup` holds the kernel state of up to ``MAX_GROUP`` replications stacked along a
first axis; it is the unit of work handed to an executor, so every function here is module-level (process
pools pickle it) and returns the group it was given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels as kern
from ._executors import check_interrupt
from ._kernels import ints, ints32

#: Events per kernel call (per replication). Results do not depend on how a run is split into calls (or into
#: the rounds that move the progress bar): the kernel resumes exactly where it stopped. Between calls a task
#: checks whether its caller was interrupted, so a chunk (well under a second) bounds how long Ctrl-C takes.
CHUNK_EVENTS = 1_000_000
#: From this many cells on, the state no longer fits in cache and the replications of a group run
#: interleaved (``run_events_pipelined``), which hides memory latency; below it they run one after another.
PIPELINE_MIN_CELLS = 10_000
#: Largest number of replications in one group (one kernel call, one task for the executor).
MAX_GROUP = 8


@dataclass
class ReplicationGroup:
    """Kernel state of ``G`` replications (see ``_sim_kernels`` for the layout of each array).

    Attributes
    ----------
    cell : ndarray (G, N, row width)
        Per-cell records: potential, active-list position and accumulators.
    act : ndarray (G, N, ACT_WIDTH)
        Active lists, one segment per rate bucket.
    bucket_count : ndarray of int64 (G, MAX_BUCKETS)
    bucket_rate : ndarray (G, MAX_BUCKETS)
        Non-empty cells of each rate bucket and their summed rate.
    counters : ndarray of int64 (G, N_COUNTERS)
    scal : ndarray (G, N_SCAL)
    rng : ndarray of uint64 (G, 4)
        xoshiro256 states.
    n_hist : int
        Histogram columns of ``cell``.
    rec_slot : ndarray of int64 (N,)
        Position of each cell among the recorded ones (-1: not recorded).
    rec_times, rec_cells : ndarray or None
        Spike buffer of replication 0 (None when nothing is recorded).
    k_start : ndarray of int64 (G, N) or None
        Potentials when measuring started.
    """

    cell: np.ndarray
    act: np.ndarray
    bucket_count: np.ndarray
    bucket_rate: np.ndarray
    counters: np.ndarray
    scal: np.ndarray
    rng: np.ndarray
    n_hist: int
    rec_slot: np.ndarray
    rec_times: np.ndarray | None = None
    rec_cells: np.ndarray | None = None
    k_start: np.ndarray | None = None

    @property
    def size(self):
        return self.cell.shape[0]

    @property
    def events(self):
        """Events simulated so far by the group's replications."""
        return int(self.counters[:, kern.EVENTS].sum())

    def potentials(self):
        """The current potentials as integers, (G, N)."""
        return kern.ints(self.cell)[:, :, kern.POT].copy()


def _aligned_zeros(shape, dtype=np.float64):
    """Zeros whose first element sits on a 64-byte cache-line boundary (so per-cell rows split fewer lines)."""
    size = int(np.prod(shape))
    itemsize = np.dtype(dtype).itemsize
    buf = np.zeros(size + 64 // itemsize, dtype)
    offset = (-buf.ctypes.data % 64) // itemsize
    return buf[offset:offset + size].reshape(shape)


def new_group(tables, starts, seed_seqs, n_hist, rec_slot, rec_capacity):
    """The state of replications with starting potentials ``starts`` (G, N) and event streams ``seed_seqs``."""
    n_chains, n = starts.shape
    cell = _aligned_zeros((n_chains, n, kern.row_width(n_hist)))
    kern.ints(cell)[:, :, kern.POT] = starts
    kern.ints(cell)[:, :, kern.POS] = -1
    act = _aligned_zeros((n_chains, n, kern.ACT_WIDTH))
    counters = np.zeros((n_chains, kern.N_COUNTERS), np.int64)
    scal = np.zeros((n_chains, kern.N_SCAL))
    rng = np.stack([xoshiro_state(seed_seqs[c]) for c in range(n_chains)]) if n_chains else np.empty((0, 4), np.uint64)
    recording = rec_capacity > 0
    group = ReplicationGroup(cell=cell, act=act, bucket_count=np.zeros((n_chains, kern.MAX_BUCKETS), np.int64),
                             bucket_rate=np.zeros((n_chains, kern.MAX_BUCKETS)), counters=counters, scal=scal,
                             rng=rng, n_hist=n_hist,
                             rec_slot=rec_slot, rec_times=np.zeros(rec_capacity) if recording else None,
                             rec_cells=np.zeros(rec_capacity, np.int64) if recording else None)
    for c in range(n_chains):
        start_replication(group, c, tables)
    return group


def advance(tables, group, t_end, interleave=True):
    """Run a group of replications up to expected time ``t_end``.

    Large networks interleave the group's replications in one kernel; small ones (and a group that records
    spikes, or ``interleave=False``) run them one after another. Both give bit-identical results, so the
    choice only affects speed.
    """
    if interleave and group.size > 1 and tables.n_cells >= PIPELINE_MIN_CELLS and group.rec_times is None:
        while not np.all(run_events_pipelined(group, tables, t_end, CHUNK_EVENTS)):
            check_interrupt()
        return group
    for c in range(group.size):
        while not run_events(group, c, tables, t_end, CHUNK_EVENTS):
            check_interrupt()
    return group


def start_measuring(tables, group, warmup):
    """Warm up until ``warmup``, then zero the accumulators and note the potentials."""
    group = advance(tables, group, warmup)
    for cell in group.cell:
        kern.reset_accumulators(cell, warmup)  # the window starts at the boundary, not the last event
    group.k_start = group.potentials()
    group.counters[:, kern.NREC] = 0
    group.counters[:, kern.DROPPED] = 0
    group.scal[:, kern.CLOCK] = 0.0
    return group


def group_sizes(replications, workers):
    """Split replications into groups: at least one per worker, at most ``MAX_GROUP`` per group."""
    return even_split(replications, max(min(workers, replications), -(-replications // MAX_GROUP)))


def even_split(total, parts):
    """``total`` items in ``parts`` sizes that differ by at most one, the larger first."""
    base, extra = divmod(total, parts)
    return [base + (g < extra) for g in range(parts)]


def xoshiro_state(seed_seq):
    """The kernels' random state (four uint64 words of xoshiro256+) drawn from a ``SeedSequence``."""
    words = np.random.default_rng(seed_seq).integers(0, 2**64, size=4, dtype=np.uint64)
    words[0] |= np.uint64(1)  # xoshiro's state must not be all zero
    return words


def flushed_cells(groups, now):
    """Every replication's ``cell`` array, its accumulators brought up to ``now``."""
    n_hist = groups[0].n_hist
    cells = [cell for g in groups for cell in g.cell]
    for cell in cells:
        kern.flush(cell, now, n_hist)
    return cells


def busy_fractions(cells, measured):
    """Each replication's busy fraction ``1 - time at k = 0`` per unit time, (replications, N)."""
    return np.clip(1.0 - np.stack([cell[:, kern.HIST] for cell in cells]) / measured, 0.0, 1.0)


@dataclass(frozen=True)
class Moments:
    """Means over replications of the accumulators per unit time, each (N,) or (N, H), with their standard
    errors (``*_se``), and each replication's busy fraction (replications, N)."""

    potential: np.ndarray            # time-average of k
    potential_se: np.ndarray
    firing: np.ndarray               # spikes per unit time
    firing_se: np.ndarray
    histogram: np.ndarray            # fraction of time at k = 0 .. H-2 and at k >= H-1
    histogram_se: np.ndarray
    busy: np.ndarray

    @property
    def q(self):
        """Fraction of time excited: 1 - the time at k = 0."""
        return np.clip(1.0 - self.histogram[:, 0], 0.0, 1.0)


def moments(groups, measured, warmup):
    """:class:`Moments` of every accumulator (the record's columns ``AREA`` to the last histogram column).

    Works group by group in one pass, without stacking the replications' state (gigabytes on large
    networks). Also returns each replication's busy fraction as (replications, N).
    """
    cells = flushed_cells(groups, warmup + measured)
    n_hist = groups[0].n_hist
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
    area, fires, hist = (column - kern.AREA for column in (kern.AREA, kern.FIRES, kern.HIST))
    return Moments(potential=mean[:, area].copy(), potential_se=se[:, area].copy(), firing=mean[:, fires].copy(),
                   firing_se=se[:, fires].copy(), histogram=mean[:, hist:].copy(), histogram_se=se[:, hist:].copy(),
                   busy=busy_fractions(cells, measured))


def group_events(_, group):
    """Events simulated so far by ``group`` (a task: small to send back from a remote worker)."""
    return group.events


def group_busy_fractions(_, group, now, measured):
    """Busy fractions of ``group``'s replications over the ``measured`` time up to ``now``, (G, N) (a task)."""
    return busy_fractions(flushed_cells([group], now), measured)


def start_replication(group, c, tables):
    """Ready replication ``c`` of ``group``, whose potentials are set: put every cell with a positive
    potential on the (empty) active list, and make the first look-ahead draws (``_kernels`` docstring)."""
    kern._start_replication(group.cell[c], group.act[c], tables.cell_const, group.counters[c], group.scal[c],
                            group.rng[c], tables.ext_table, tables.bucket_start, tables.bucket_top,
                            group.bucket_count[c], group.bucket_rate[c])


def run_events(group, c, tables, t_end, max_events):
    """Advance replication ``c`` of ``group`` until its expected time reaches ``t_end`` or ``max_events``
    events (``_kernels._run_events``); True when it reached ``t_end`` or can have no more events."""
    g, t = group, tables
    cell, act = g.cell[c], g.act[c]
    rec_times, rec_cells = (g.rec_times, g.rec_cells) if c == 0 else (None, None)
    return kern._run_events(cell, ints(cell), t.cell_const, ints(t.cell_const), act, ints32(act), g.bucket_count[c],
                            g.bucket_rate[c], g.counters[c], g.scal[c], g.rng[c], t_end, max_events, t.ext_table,
                            ints32(t.ext_table), t.ext_rate, t.bucket_start, t.bucket_top, t.n_buckets, t.route,
                            ints32(t.route), t.n_cells, g.n_hist, g.rec_slot, rec_times, rec_cells)


def run_events_pipelined(group, tables, t_end, max_events):
    """:func:`run_events` for all replications of ``group`` at once, interleaved to hide memory latency
    (``_kernels._run_events_pipelined``): bit-identical to running them one by one; True per replication
    that reached ``t_end``."""
    g, t = group, tables
    cell2 = g.cell.reshape(-1, g.cell.shape[2])  # replication c's cell i is row c * n_cells + i
    act2 = g.act.reshape(-1, g.act.shape[2])
    return kern._run_events_pipelined(cell2, ints(cell2), t.cell_const, ints(t.cell_const), act2, ints32(act2),
                                      g.bucket_count.ravel(), g.bucket_rate.ravel(), g.counters, g.scal, g.rng,
                                      t_end, max_events, t.ext_table, ints32(t.ext_table), t.ext_rate,
                                      t.bucket_start, t.bucket_top, t.n_buckets, t.route, ints32(t.route),
                                      t.n_cells, g.n_hist)
