"""A network compiled once into the simulator's tables, and the starting states of its replications.

:class:`CompiledNetwork` runs one network for many external rate vectors (a model's instances, whose inputs
arrive as Poisson spikes): its routing is compiled once, each run sets up replications and extends them
look after look. :func:`initial_states` turns a ``initial`` argument into one potential vector per seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import as_rate_vector, check_int, check_positive_number
from . import _kernels as kern
from ._replications import MAX_GROUP, advance, new_group, start_measuring
from ._tables import compile_network, with_external, with_inhibition


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
        self.tables = compile_network(net)

    def run(self, ext_exc, starts, seed_seqs, duration, ext_inh=None):
        """Busy fractions and firing rates (spikes per unit time), each (replications, N), over
        ``[0, duration]``, and the events of each replication.

        Replications start from the rows of ``starts`` (integer potentials) with event streams from
        ``seed_seqs``; they run in the calling thread (interleaved on large networks), so callers run
        instances in parallel. External excitation ``ext_exc`` replaces the network's ``Λ`` (and
        ``ext_inh``, if given, its ``λ``).
        """
        duration = check_positive_number(duration, "duration", "CompiledNetwork.run")
        runs = self.start(ext_exc, starts, seed_seqs, ext_inh=ext_inh, group_size=max(len(starts), 1))
        busy, fires = self.extend(runs, duration)
        return busy, fires, runs.groups[0].counters[:, kern.EVENTS].copy()

    def start(self, ext_exc, starts, seed_seqs, ext_inh=None, group_size=MAX_GROUP, interleave=True):
        """Replications as in :meth:`run`, set up but not run: :meth:`extend` runs them further and
        further, measuring from time 0 each time (for looks at a growing horizon). ``group_size``
        replications share one state, interleaved on networks of 10^4 cells or more unless ``interleave``
        is False (results are the same either way; which is faster depends on the network).

        Examples
        --------
        >>> import numpy as np, gelsim
        >>> from gelsim.simulation import CompiledNetwork
        >>> compiled = CompiledNetwork(gelsim.generators.mm1(arrival=1.0, service=2.0))
        >>> runs = compiled.start([0.5], np.zeros((4, 1), np.int64), np.random.SeedSequence(0).spawn(4))
        >>> first = runs.events
        >>> busy, fires = compiled.extend(runs, 1e3)
        >>> busy, fires = compiled.extend(runs, 1e4)     # the same replications, ten times longer
        >>> busy.shape, runs.events > first, bool(abs(busy.mean() - 0.25) < 0.02)
        ((4, 1), True, True)
        """
        net = self.net
        tables = self.tables
        ext_exc, ext_inh, starts, seed_seqs = _check_start(net, ext_exc, ext_inh, starts, seed_seqs)
        group_size = check_int(group_size, "group_size", "CompiledNetwork.start", minimum=1)
        if ext_inh is None:
            ext_inh = net.ext_inh
        else:
            tables = with_inhibition(tables, ext_inh, net.fire_rate)
        tables = with_external(tables, ext_exc, ext_inh, net.fire_rate)
        no_record = np.full(net.n_cells, -1)
        groups = [start_measuring(tables, new_group(tables, starts[a:a + group_size], seed_seqs[a:a + group_size], 2,
                                                    no_record, 0), 0.0)
                  for a in range(0, len(starts), group_size)]
        return RunningReplications(tables, groups, interleave)

    def extend(self, runs, horizon, busy=True):
        """Run ``runs`` (from :meth:`start`) up to ``horizon``; busy fractions and firing rates over
        ``[0, horizon]``, each (replications, N). ``busy=False`` skips the busy fractions (None is returned
        in their place), which spares a pass over every cell's accumulators when only firings are read."""
        horizon = check_positive_number(horizon, "horizon", "CompiledNetwork.extend")
        for group in runs.groups:
            advance(runs.tables, group, horizon, runs.interleave)
        cells = [cell for group in runs.groups for cell in group.cell]
        if not busy:  # spikes are counted as they happen: no accumulator needs bringing up to the horizon
            return None, np.stack([cell[:, kern.FIRES] for cell in cells]) / horizon
        excited, fires = np.empty((2, len(cells), runs.tables.n_cells))
        for r, cell in enumerate(cells):
            kern.read_rates(cell, horizon, runs.groups[0].n_hist, excited[r], fires[r])
        return excited, fires


@dataclass
class RunningReplications:
    """Replications of a :class:`CompiledNetwork` in progress: its tables for one external rate vector and
    the replications' state."""

    tables: object
    groups: list
    interleave: bool = True

    @property
    def events(self):
        """Events simulated so far by all the replications."""
        return sum(group.events for group in self.groups)


def _check_start(net, ext_exc, ext_inh, starts, seed_seqs):
    """CompiledNetwork.start's checks: the rates as finite non-negative vectors of length N, ``starts`` as
    (replications, N) non-negative integers, and one seed sequence per replication."""
    owner, n = "CompiledNetwork.start", net.n_cells
    ext_exc = as_rate_vector(ext_exc, "ext_exc", n, owner)
    ext_inh = None if ext_inh is None else as_rate_vector(ext_inh, "ext_inh", n, owner)
    k0 = np.asarray(starts)
    if (k0.ndim != 2 or k0.shape[0] < 1 or k0.shape[1] != n or not np.issubdtype(k0.dtype, np.integer)
            or np.any(k0 < 0)):
        raise ValueError(f"The 'starts' parameter of {owner} must be a (replications, {n}) array of non-negative "
                         f"integers. Got {_short(starts)}{' with negative entries' if np.any(k0 < 0) else ''}.")
    seed_seqs = list(seed_seqs)
    if len(seed_seqs) != k0.shape[0] or not all(isinstance(s, np.random.SeedSequence) for s in seed_seqs):
        raise ValueError(f"The 'seed_seqs' parameter of {owner} must hold one numpy.random.SeedSequence per row "
                         f"of 'starts' ({k0.shape[0]}). Got {len(seed_seqs)} items.")
    return ext_exc, ext_inh, k0.astype(np.int64), seed_seqs


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
            from ..steady.solver import solve

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
