"""Transient behaviour: ``P(k_i(t) > 0)`` and the moments of ``k_i(t)`` over many independent runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import _kernels as kern
from ._executors import TaskRunner, check_interrupt
from ._replications import even_split, xoshiro_state
from ._tables import compile_network
from .._checks import as_generator, check_int, check_network
from .compiled import initial_states


@dataclass(frozen=True, repr=False)
class TransientResult:
    """Ensemble averages at fixed times over independent runs from the same initial state.

    Attributes
    ----------
    times : ndarray (T,)
    q, q_se : ndarray (T, N)
        Fraction of runs with ``k_i(t) > 0`` and its binomial standard error.
    mean_potential, mean_potential_se : ndarray (T, N)
        Sample mean of ``k_i(t)`` and its standard error.
    potential_var : ndarray (T, N)
        Sample variance of ``k_i(t)`` (``ddof=1``).
    replications : int
    wall_time : float
    """

    times: np.ndarray
    q: np.ndarray
    q_se: np.ndarray
    mean_potential: np.ndarray
    mean_potential_se: np.ndarray
    potential_var: np.ndarray
    replications: int
    wall_time: float = field(default=0.0)

    def __repr__(self):
        return (f"TransientResult(times={self.times.size} in [{self.times.min():.4g}, {self.times.max():.4g}], "
                f"N={self.q.shape[1]}, replications={self.replications}, wall_time={self.wall_time:.3g}s)")


#: Largest expected number of uniformisation ticks (all replications) that simulate_transient accepts:
#: about an hour at tens of millions of ticks per second. A larger request is almost always a mistake.
MAX_TICKS = 1e11
#: Clock ticks per kernel call (one run at least): between calls a batch checks for Ctrl-C.
CHUNK_TICKS = 2e6


def _transient_batch(tables, job, times):
    """One batch of runs: ``job`` is (starting potentials, one row or one per run; runs; seed sequence)."""
    starts, n_reps, seed_seq = job
    words = xoshiro_state(seed_seq)
    shape = (times.size, starts.shape[1])
    busy, ksum, k2sum = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    # Runs in calls of about CHUNK_TICKS ticks, checking for Ctrl-C between them; the random stream
    # carries over from call to call, so the results are those of one call.
    per_call = max(1, int(CHUNK_TICKS / max(tables.rate_total * times[-1], 1.0)))
    for first in range(0, n_reps, per_call):
        count = min(per_call, n_reps - first)
        rows = starts[first:first + count] if starts.shape[0] > 1 else starts
        _run_transient_batch(tables, rows, times, count, words, (busy, ksum, k2sum))
        check_interrupt()
    return busy, ksum, k2sum


def _run_transient_batch(tables, starts, times, n_reps, rng, sums):
    """Simulate ``n_reps`` runs of the network compiled in ``tables`` in sampled real time and add
    snapshots at ``times`` to ``sums`` = (busy_sum, k_sum, k2_sum) (see ``_run_transient``)."""
    kern._run_transient(starts, times, n_reps, rng, tables.ev_prob, tables.ev_alias, tables.cell_const,
                        tables.route, tables.rate_total, *sums)


def simulate_transient(net, times, *, replications=1000, initial="empty", rng=None, executor=None, batches=None):
    """Estimate ``P(k_i(t) > 0)``, ``E[k_i(t)]`` and ``Var[k_i(t)]`` at the given times.

    Each replication starts from ``initial`` at time 0 and runs in real (sampled) time.

    Parameters
    ----------
    net : Network
    times : array_like
        Non-negative observation times (any order; results follow the sorted order).
    replications : int
        Independent runs (default 1000).
    initial : {"empty", "stationary"} or array of int
        ``"stationary"`` draws every run's start independently from the product-form law.
    rng : None, int or numpy.random.Generator
    executor : concurrent.futures.Executor or distributed.Client, optional
        Runs batches of replications (default: a local thread pool); results do not depend on it.
    batches : int, optional
        Number of independent batches the replications are split into (default 16); fixed, so results
        do not depend on the number of cores.

    Returns
    -------
    TransientResult

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> net = gelsim.generators.mm1(arrival=1.0, service=2.0)
    >>> tr = gelsim.simulate_transient(net, times=[0.0, 1.0, 50.0], replications=4000, rng=0)
    >>> float(tr.q[0, 0]), bool(abs(tr.q[2, 0] - 0.5) < 5 * tr.q_se[2, 0])
    (0.0, True)
    """
    t0 = time.perf_counter()
    times, replications, batches = _check_transient(net, times, replications, batches)
    gen = as_generator(rng)
    tables = compile_network(net)
    ticks = tables.rate_total * times[-1] * replications
    if ticks > MAX_TICKS:
        raise ValueError(f"The 'times' parameter of simulate_transient asks for about {ticks:.3g} clock ticks "
                         f"({replications} replications to t = {times[-1]:.4g} at {tables.rate_total:.4g} ticks "
                         f"per unit time), more than the {MAX_TICKS:.0e} allowed (hours of work). Ask for "
                         f"earlier times or fewer replications; simulate() measures the long run.")
    seeds = np.random.SeedSequence(gen.integers(0, 2**63)).spawn(batches)
    sizes = np.array(even_split(replications, batches))
    if isinstance(initial, str) and initial == "stationary":
        # Every run draws its own start; each batch gets the rows of its runs.
        run_seeds = np.random.SeedSequence(gen.integers(0, 2**63)).spawn(replications)
        starts = np.stack(initial_states(net, initial, run_seeds))
        ends = np.cumsum(sizes)
        jobs = [(starts[end - size:end], int(size), seeds[b]) for b, (size, end) in enumerate(zip(sizes, ends))]
    else:
        start = np.stack(initial_states(net, initial, seeds[:1]))  # one row shared by every run
        jobs = [(start, int(sizes[b]), seeds[b]) for b in range(batches)]
    with TaskRunner(executor, owner="simulate_transient") as runner:
        parts = runner.map(_transient_batch, runner.share(tables), jobs, times)
    busy = sum(p[0] for p in parts).astype(float)
    ksum = sum(p[1] for p in parts).astype(float)
    k2sum = sum(p[2] for p in parts).astype(float)
    n = float(replications)
    q = busy / n
    mean = ksum / n
    var = np.maximum(k2sum - n * mean**2, 0.0) / (n - 1)
    return TransientResult(times=times, q=q, q_se=np.sqrt(q * (1 - q) / n), mean_potential=mean,
                           mean_potential_se=np.sqrt(var / n), potential_var=var, replications=replications,
                           wall_time=time.perf_counter() - t0)


def _check_transient(net, times, replications, batches):
    """simulate_transient's argument checks: the sorted ``times``, ``replications`` and ``batches``."""
    owner = "simulate_transient"
    check_network(net, owner)
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError(f"The 'times' parameter of {owner} must be a non-empty 1-D array of finite "
                         f"non-negative times. Got {times!r}.")
    replications = check_int(replications, "replications", owner, minimum=2)
    batches = min(replications, 16 if batches is None else check_int(batches, "batches", owner, 1))
    return np.sort(times), replications, batches
