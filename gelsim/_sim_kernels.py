"""Numba kernels of the spike simulator: arrays in, arrays out, no validation.

``run_events`` simulates the jump chain of the G-network's continuous-time Markov chain (SPEC §1)
with O(1) work per event and no wasted steps; long-run time averages use the expected holding
time of each state rather than a sampled one (Fox & Glynn), which is exact for long-run averages and
has lower variance. ``run_transient`` simulates in sampled real time by uniformisation (a Poisson
clock of constant rate whose ticks on empty cells are no-ops), for ensemble averages at fixed times.

Each cell has one contiguous float64 row ``cell[i, :]``, so an event touches few cache lines: the
constants ``ACCEPT`` (rate / largest rate), ``INHIB`` (ACCEPT x inhibitory share), ``START``/``COUNT``
(its routing slots), then the accumulators ``LAST`` time of last change, ``AREA`` integral of k,
``FIRES`` spikes emitted, and ``HIST .. HIST + H - 1``: time at k = 0 .. H-2 and at k >= H-1
(time excited is the measured time minus the time at k = 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Columns of the per-cell record ``cell`` (float64): constants first, then accumulators, so the
# first 64 bytes (8 columns) hold everything an event at a small potential touches.
ACCEPT, INHIB, START, COUNT, LAST, AREA, FIRES, HIST = 0, 1, 2, 3, 4, 5, 6, 7
# Columns of an active-list entry ``act[p, :]`` (float64): what choosing and routing an event needs.
A_CELL, A_ACCEPT, A_INHIB, A_START, A_COUNT = 0, 1, 2, 3, 4
ACT_WIDTH = 5
# Slots of ``counters`` (int64) and ``scal`` (float64).
EVENTS, NACT, NREC, DROPPED = 0, 1, 2, 3
TIME, TCOMP, CLOCK, ARATE = 0, 1, 2, 3

_U64 = np.uint64
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@njit(cache=True, inline="always")
def _next_double(rng):
    """xoshiro256** step on the 4-word state ``rng``; returns a double in [0, 1)."""
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    result = _rotl(s1 * _U64(5), 7) * _U64(9)
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    return float(result >> _U64(11)) * _DOUBLE_UNIT


@njit(cache=True)
def build_alias(weights, indptr, prob, alias):
    """Vose alias tables, one per segment ``indptr[s]:indptr[s+1]`` of ``weights``.

    Writes ``prob`` (acceptance probability of each slot) and ``alias`` (slot index within the segment).
    """
    n_seg = indptr.size - 1
    small = np.empty(weights.size, np.int64)
    large = np.empty(weights.size, np.int64)
    for seg in range(n_seg):
        a, b = indptr[seg], indptr[seg + 1]
        m = b - a
        if m == 0:
            continue
        total = 0.0
        for e in range(a, b):
            total += weights[e]
        ns = 0
        nl = 0
        for e in range(a, b):
            prob[e] = weights[e] * m / total if total > 0 else 1.0
            alias[e] = e - a
            if prob[e] < 1.0:
                small[ns] = e
                ns += 1
            else:
                large[nl] = e
                nl += 1
        while ns > 0 and nl > 0:
            ns -= 1
            s = small[ns]
            g = large[nl - 1]
            alias[s] = g - a
            prob[g] = (prob[g] + prob[s]) - 1.0
            if prob[g] < 1.0:
                nl -= 1
                small[ns] = g
                ns += 1
        # Leftovers are 1 up to rounding.
        for i in range(nl):
            prob[large[i]] = 1.0
        for i in range(ns):
            prob[small[i]] = 1.0


@njit(cache=True, inline="always")
def _touch(cell, i, now, k, n_hist):
    """Credit cell ``i`` with the time spent at potential ``k`` since its last change."""
    dt = now - cell[i, LAST]
    cell[i, AREA] += k * dt
    cell[i, HIST + min(k, n_hist - 1)] += dt
    cell[i, LAST] = now


@njit(cache=True, inline="always")
def _activate(i, act, pos, cell, n_act, a_rate, rate_max):
    """Append cell ``i`` to the active list; returns the new count and active rate."""
    acc_i = cell[i, ACCEPT]
    if acc_i <= 0.0:
        return n_act, a_rate  # a cell that can neither fire nor be inhibited is never chosen
    pos[i] = n_act
    act[n_act, A_CELL] = i
    act[n_act, A_ACCEPT] = acc_i
    act[n_act, A_INHIB] = cell[i, INHIB]
    act[n_act, A_START] = cell[i, START]
    act[n_act, A_COUNT] = cell[i, COUNT]
    return n_act + 1, a_rate + acc_i * rate_max


@njit(cache=True, inline="always")
def _deactivate(i, act, pos, cell, n_act, a_rate, rate_max):
    """Swap-remove cell ``i`` from the active list; returns the new count and active rate."""
    p = pos[i]
    if p < 0:
        return n_act, a_rate
    last = n_act - 1
    moved = int(act[last, A_CELL])
    for c in range(ACT_WIDTH):
        act[p, c] = act[last, c]
    pos[moved] = p
    pos[i] = -1
    if last == 0:
        return 0, 0.0
    return last, a_rate - cell[i, ACCEPT] * rate_max


@njit(cache=True, nogil=True)
def run_events(pot, cell, act, pos, counters, scal, rng, t_end, max_events, ext_table, ext_rate, rate_max, route,
               n_cells, rec_slot, rec_times, rec_cells):
    """Advance one replication until its (expected) time reaches ``t_end`` or ``max_events`` events.

    The jump chain of the CTMC is simulated with no wasted steps: the next event is an external
    excitation (total rate ``ext_rate``, cell from the alias ``ext_table``) or an event of a non-empty
    cell (total rate ``a_rate``), drawn from the active list ``act`` by rejection with acceptance
    ``rate_i / rate_max``, which is an external inhibition or a firing. Each active entry carries the
    cell's routing slots, so the route is fetched while the cell's own row is still being loaded (two
    memory round trips per firing on large networks instead of three). Time advances by the expected
    holding time ``1 / total rate`` (Fox & Glynn), summed with Kahan compensation; sampled times are drawn
    only for recorded spikes (``rec_times`` is None when nothing is recorded, and Numba then compiles a
    version with the recording code pruned).

    ``counters``: [EVENTS] events done, [NACT] non-empty cells, [NREC] spikes kept, [DROPPED] not kept.
    ``scal``: [TIME] expected time of the last event, [TCOMP] its Kahan term, [CLOCK] sampled time,
    [ARATE] total rate of the non-empty cells.
    ``route[s]`` = (alias acceptance, own target code, alias target code); codes: ``j`` excitatory,
    ``n_cells + j`` inhibitory, ``-1`` departure.

    Every piece of state lives in the arguments and is left exactly as an uninterrupted run would have it
    (the clock stays at the last event, not at ``t_end``), so splitting a run into calls of any lengths
    gives bit-identical results. Returns True when the run reached ``t_end`` (or can have no more events),
    False when it stopped after ``max_events``.
    """
    n_hist = cell.shape[1] - HIST
    n_ext = ext_table.shape[0]
    n_act = counters[NACT]
    a_rate = scal[ARATE]
    t, comp, clock = scal[TIME], scal[TCOMP], scal[CLOCK]
    done = 0
    reached = True
    while True:
        if done >= max_events:
            reached = False
            break
        total = ext_rate + a_rate
        if total <= 0.0:
            break  # nothing can ever happen again
        hold = 1.0 / total
        if t + hold >= t_end:
            break
        y = hold - comp  # Kahan-compensated t += hold
        t_new = t + y
        comp = (t_new - t) - y
        t = t_new
        if rec_times is not None:  # pruned at compile time when nothing is recorded
            clock += -np.log(1.0 - _next_double(rng)) * hold
        done += 1
        u = _next_double(rng) * total
        if u < ext_rate:
            x = u / ext_rate * n_ext
            slot = min(int(x), n_ext - 1)
            i = int(ext_table[slot, 1]) if x - slot < ext_table[slot, 0] else int(ext_table[slot, 2])
            k = pot[i]
            _touch(cell, i, t, k, n_hist)
            pot[i] = k + 1
            if k == 0:
                n_act, a_rate = _activate(i, act, pos, cell, n_act, a_rate, rate_max)
            continue
        # An event of a non-empty cell, chosen with probability proportional to its rate.
        while True:
            x = _next_double(rng) * n_act
            idx = int(x)
            f = x - idx
            if f < act[idx, A_ACCEPT]:
                break
        i = int(act[idx, A_CELL])
        inhibited = f < act[idx, A_INHIB]  # INHIB = ACCEPT * (inhibitory share of the cell's rate)
        start = int(act[idx, A_START])
        m = int(act[idx, A_COUNT])
        # Draw the route now: its slot can load in parallel with the cell's row.
        y2 = _next_double(rng) * m
        s = min(int(y2), m - 1)
        e = start + s
        code = int(route[e, 1]) if y2 - s < route[e, 0] else int(route[e, 2])
        k = pot[i]
        _touch(cell, i, t, k, n_hist)
        pot[i] = k - 1
        if k == 1:
            n_act, a_rate = _deactivate(i, act, pos, cell, n_act, a_rate, rate_max)
        if inhibited:
            continue
        cell[i, FIRES] += 1.0
        if rec_times is not None and rec_slot[i] >= 0:
            if counters[NREC] < rec_times.size:
                rec_times[counters[NREC]] = clock
                rec_cells[counters[NREC]] = rec_slot[i]
                counters[NREC] += 1
            else:
                counters[DROPPED] += 1
        if code < 0:
            continue
        if code < n_cells:
            kj = pot[code]
            _touch(cell, code, t, kj, n_hist)
            pot[code] = kj + 1
            if kj == 0:
                n_act, a_rate = _activate(code, act, pos, cell, n_act, a_rate, rate_max)
        else:
            j = code - n_cells
            kj = pot[j]
            if kj > 0:
                _touch(cell, j, t, kj, n_hist)
                pot[j] = kj - 1
                if kj == 1:
                    n_act, a_rate = _deactivate(j, act, pos, cell, n_act, a_rate, rate_max)
    scal[TIME], scal[TCOMP], scal[CLOCK], scal[ARATE] = t, comp, clock, a_rate
    counters[EVENTS] += done
    counters[NACT] = n_act
    return reached


@njit(cache=True)
def flush(pot, cell, now):
    """Bring every cell's accumulators up to time ``now`` (O(N), once per read-out)."""
    n_hist = cell.shape[1] - HIST
    for i in range(pot.size):
        _touch(cell, i, now, pot[i], n_hist)


@njit(cache=True)
def reset_accumulators(cell, now):
    """Start measuring at ``now``: zero every accumulator, keep the constants."""
    for i in range(cell.shape[0]):
        cell[i, LAST] = now
        for c in range(AREA, cell.shape[1]):
            cell[i, c] = 0.0


@njit(cache=True, nogil=True)
def run_transient(starts, times, n_reps, rng, ev_prob, ev_alias, cell, route, rate_total, busy_sum, k_sum,
                  k2_sum):
    """Simulate ``n_reps`` runs in sampled real time and add snapshots at ``times``.

    ``starts`` holds the initial potentials: one row shared by every run, or one row per run.

    Uniformisation: ticks of a Poisson clock of rate ``rate_total`` pick one of the ``3N`` event clocks
    from the alias table ``ev_prob``/``ev_alias`` (external excitation, external inhibition, firing of
    cell ``i`` at ``3i, 3i+1, 3i+2``); events of empty cells are no-ops. Adds to ``busy_sum[t, i]`` the
    count of runs with ``k_i(times[t]) > 0``, and to ``k_sum`` / ``k2_sum`` the sums of ``k_i``, ``k_i**2``.
    """
    n_cells = starts.shape[1]
    n_events = ev_prob.size
    k = np.empty(n_cells, np.int64)
    for rep in range(n_reps):
        k[:] = starts[rep if starts.shape[0] > 1 else 0]
        nxt = -np.log(1.0 - _next_double(rng)) / rate_total
        for p in range(times.size):
            while nxt <= times[p]:
                x = _next_double(rng) * n_events
                ev = min(int(x), n_events - 1)
                if x - ev >= ev_prob[ev]:
                    ev = ev_alias[ev]
                i = ev // 3
                kind = ev - 3 * i
                if kind == 0:
                    k[i] += 1
                elif k[i] > 0:
                    k[i] -= 1
                    if kind == 2:
                        start = int(cell[i, START])
                        m = int(cell[i, COUNT])
                        y = _next_double(rng) * m
                        s = min(int(y), m - 1)
                        code = int(route[start + s, 1]) if y - s < route[start + s, 0] else int(route[start + s, 2])
                        if code >= 0:
                            if code < n_cells:
                                k[code] += 1
                            elif k[code - n_cells] > 0:
                                k[code - n_cells] -= 1
                nxt += -np.log(1.0 - _next_double(rng)) / rate_total
            for i in range(n_cells):
                kv = k[i]
                if kv > 0:
                    busy_sum[p, i] += 1
                k_sum[p, i] += kv
                k2_sum[p, i] += kv * kv
