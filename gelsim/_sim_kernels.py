"""Numba kernels of the spike simulator: arrays in, arrays out, no validation.

``run_events`` simulates the jump chain of the G-network's continuous-time Markov chain (SPEC §1)
with O(1) work per event and no wasted steps; long-run time averages use the expected holding
time of each state rather than a sampled one (Fox & Glynn), which is exact for long-run averages and
has lower variance. ``run_events_pipelined`` runs the same chain for several replications at once,
interleaved so that their memory loads overlap (large networks). ``run_transient`` simulates in sampled
real time by uniformisation (a Poisson clock of constant rate whose ticks on empty cells are no-ops), for
ensemble averages at fixed times.

Each cell has one contiguous float64 row ``cell[i, :]`` per replication, padded to whole 64-byte cache
lines, so an event touches one line of it in most cases: ``POT`` its potential k and ``POS`` its place in
the active list (-1 when empty), both exact integers in float64, then the accumulators ``LAST`` time of
last change, ``AREA`` integral of k, ``FIRES`` spikes emitted, and ``HIST .. HIST + H - 1``: time at
k = 0 .. H-2 and at k >= H-1 (time excited is the measured time minus the time at k = 0). The constants,
shared by all replications, are rows of ``const``: ``C_ACCEPT`` (rate / largest rate), ``C_INHIB``
(C_ACCEPT x inhibitory share), ``C_START``/``C_COUNT`` (the cell's routing slots).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._prefetch import prefetch

# Columns of the per-cell record ``cell`` (float64): the first 64 bytes (8 columns) hold everything an
# event at potential k <= 2 touches.
POT, POS, LAST, AREA, FIRES, HIST = 0, 1, 2, 3, 4, 5
# Columns of the shared constants ``const`` (float64).
C_ACCEPT, C_INHIB, C_START, C_COUNT = 0, 1, 2, 3
# Columns of an active-list entry ``act[p, :]`` (float64): what choosing and routing an event needs.
A_CELL, A_ACCEPT, A_INHIB, A_START, A_COUNT = 0, 1, 2, 3, 4
ACT_WIDTH = 5
# Slots of ``counters`` (int64) and ``scal`` (float64).
EVENTS, NACT, NREC, DROPPED = 0, 1, 2, 3
TIME, TCOMP, CLOCK, ARATE = 0, 1, 2, 3

_U64 = np.uint64
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def row_width(n_hist):
    """Columns of a ``cell`` row with ``n_hist`` histogram columns, rounded up to whole cache lines."""
    return -(-(HIST + n_hist) // 8) * 8


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@njit(cache=True, inline="always")
def _xoshiro(s0, s1, s2, s3):
    """xoshiro256** step on the state words; returns a double in [0, 1) and the new words."""
    result = _rotl(s1 * _U64(5), 7) * _U64(9)
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return float(result >> _U64(11)) * _DOUBLE_UNIT, s0, s1, s2, s3


@njit(cache=True, inline="always")
def _next_double(rng):
    """xoshiro256** step on the 4-word state array ``rng``; returns a double in [0, 1)."""
    u, rng[0], rng[1], rng[2], rng[3] = _xoshiro(rng[0], rng[1], rng[2], rng[3])
    return u


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
    """Credit cell ``i`` with the time spent at potential ``k`` (an int) since its last change."""
    dt = now - cell[i, LAST]
    cell[i, AREA] += k * dt
    cell[i, HIST + min(k, n_hist - 1)] += dt
    cell[i, LAST] = now


@njit(cache=True, inline="always")
def _activate(i, act, pos, const, n_act, a_rate, rate_max):
    """Append cell ``i`` to the active list; returns the new count and active rate."""
    acc_i = const[i, C_ACCEPT]
    if acc_i <= 0.0:
        return n_act, a_rate  # a cell that can neither fire nor be inhibited is never chosen
    pos[i] = n_act
    act[n_act, A_CELL] = i
    act[n_act, A_ACCEPT] = acc_i
    act[n_act, A_INHIB] = const[i, C_INHIB]
    act[n_act, A_START] = const[i, C_START]
    act[n_act, A_COUNT] = const[i, C_COUNT]
    return n_act + 1, a_rate + acc_i * rate_max


@njit(cache=True, inline="always")
def _deactivate(i, act, pos, const, n_act, a_rate, rate_max):
    """Swap-remove cell ``i`` from the active list; returns the new count and active rate."""
    p = int(pos[i])
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
    return last, a_rate - const[i, C_ACCEPT] * rate_max


@njit(cache=True, inline="always")
def _alias_pick(table, row, frac):
    """The payload of alias row ``row`` (acceptance, own payload, alias payload) for a uniform ``frac``."""
    return int(table[row, 1]) if frac < table[row, 0] else int(table[row, 2])


@njit(cache=True, inline="always")
def _kahan_step(t, comp, hold):
    """``t + hold`` with Kahan compensation ``comp``; returns the new pair."""
    y = hold - comp
    t_new = t + y
    return t_new, (t_new - t) - y


@njit(cache=True, inline="always")
def _deliver(code, pot, pos, cell, const, act, now, n_cells, n_hist, n_act, a_rate, rate_max):
    """Apply a fired spike with target ``code`` (``j`` excitatory, ``n_cells + j`` inhibitory)."""
    if code < n_cells:
        kj = int(pot[code])
        _touch(cell, code, now, kj, n_hist)
        pot[code] = kj + 1
        if kj == 0:
            return _activate(code, act, pos, const, n_act, a_rate, rate_max)
        return n_act, a_rate
    j = code - n_cells
    kj = int(pot[j])
    if kj > 0:
        _touch(cell, j, now, kj, n_hist)
        pot[j] = kj - 1
        if kj == 1:
            return _deactivate(j, act, pos, const, n_act, a_rate, rate_max)
    return n_act, a_rate


@njit(cache=True, nogil=True)
def run_events(cell, const, act, counters, scal, rng, t_end, max_events, ext_table, ext_rate, rate_max, route,
               n_cells, n_hist, rec_slot, rec_times, rec_cells):
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
    pot, pos = cell[:, POT], cell[:, POS]
    n_ext = ext_table.shape[0]
    n_act = counters[NACT]
    a_rate = scal[ARATE]
    t, comp, clock = scal[TIME], scal[TCOMP], scal[CLOCK]
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]  # in registers: the array would be reloaded every draw
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
        t, comp = _kahan_step(t, comp, hold)
        if rec_times is not None:  # pruned at compile time when nothing is recorded
            v, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            clock += -np.log(1.0 - v) * hold
        done += 1
        u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        u *= total
        if u < ext_rate:
            x = u / ext_rate * n_ext
            slot = min(int(x), n_ext - 1)
            i = _alias_pick(ext_table, slot, x - slot)
            k = int(pot[i])
            _touch(cell, i, t, k, n_hist)
            pot[i] = k + 1
            if k == 0:
                n_act, a_rate = _activate(i, act, pos, const, n_act, a_rate, rate_max)
            continue
        # An event of a non-empty cell, chosen with probability proportional to its rate.
        while True:
            x, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            x *= n_act
            idx = int(x)
            f = x - idx
            if f < act[idx, A_ACCEPT]:
                break
        i = int(act[idx, A_CELL])
        inhibited = f < act[idx, A_INHIB]  # INHIB = ACCEPT * (inhibitory share of the cell's rate)
        start = int(act[idx, A_START])
        m = int(act[idx, A_COUNT])
        # Draw the route now: its slot can load in parallel with the cell's row.
        y2, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        y2 *= m
        s = min(int(y2), m - 1)
        e = start + s
        code = _alias_pick(route, e, y2 - s)
        k = int(pot[i])
        _touch(cell, i, t, k, n_hist)
        pot[i] = k - 1
        if k == 1:
            n_act, a_rate = _deactivate(i, act, pos, const, n_act, a_rate, rate_max)
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
        if code >= 0:
            n_act, a_rate = _deliver(code, pot, pos, cell, const, act, t, n_cells, n_hist, n_act, a_rate, rate_max)
    scal[TIME], scal[TCOMP], scal[CLOCK], scal[ARATE] = t, comp, clock, a_rate
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    counters[EVENTS] += done
    counters[NACT] = n_act
    return reached


# Stages of an event in ``run_events_pipelined``; each ends by prefetching what the next one reads.
_DRAW, _EXT_CELL, _EXT_APPLY, _CHOOSE, _FIRE, _DELIVER = 0, 1, 2, 3, 4, 5


@njit(cache=True, inline="always")
def _prefetch_cell(cell, const, c, i):
    """Prefetch the first line of replication ``c``'s row of cell ``i`` and the cell's constants."""
    prefetch(cell, (c * cell.shape[1] + i) * cell.shape[2])
    prefetch(const, i * const.shape[1])


@njit(cache=True, nogil=True)
def run_events_pipelined(cell, const, act, counters, scal, rng, t_end, max_events, ext_table, ext_rate, rate_max,
                         route, n_cells, n_hist):
    """``run_events`` for ``G`` independent replications at once, interleaved to hide memory latency.

    The state arrays carry a leading replication axis (``cell[c]`` is replication ``c``'s ``cell`` and so on).
    On a large network every event waits on up to three dependent trips to main memory (the active-list
    entry, then the cell's row and its routing slot, then the target's row). Here each event is cut into
    stages at those loads: a stage prefetches what its successor reads, and the loop moves on to the next
    replication, so ``G`` replications keep ``G`` loads in flight instead of one. Each replication draws
    the same random numbers and does the same arithmetic in the same order as ``run_events`` does on it
    alone, so results are bit-identical to running them one by one (tested); only speed differs. Nothing
    is recorded. Returns a bool per replication: True when it reached ``t_end`` (or can have no more
    events), False when it stopped after ``max_events`` events.
    """
    pot, pos = cell[:, :, POT], cell[:, :, POS]
    n_chains = cell.shape[0]
    n_ext = ext_table.shape[0]
    act_width = act.shape[2]
    n_per = cell.shape[1]
    reached = np.ones(n_chains, np.bool_)
    running = np.ones(n_chains, np.bool_)
    stage = np.zeros(n_chains, np.int64)
    n_act = counters[:, NACT].copy()
    a_rate = scal[:, ARATE].copy()
    t = scal[:, TIME].copy()
    comp = scal[:, TCOMP].copy()
    done = np.zeros(n_chains, np.int64)
    # The event in progress in each replication: its cell, active-list index or alias row, routing slot,
    # target code, the uniform's fraction and whether it is an inhibition.
    ev_cell = np.zeros(n_chains, np.int64)
    ev_row = np.zeros(n_chains, np.int64)
    ev_slot = np.zeros(n_chains, np.int64)
    ev_code = np.zeros(n_chains, np.int64)
    ev_frac = np.zeros(n_chains)
    ev_inhibited = np.zeros(n_chains, np.bool_)
    n_running = n_chains
    while n_running > 0:
        for c in range(n_chains):
            if not running[c]:
                continue
            st = stage[c]
            if st == _DRAW:
                total = ext_rate + a_rate[c]
                hold = 1.0 / total if total > 0.0 else np.inf  # no events left: the run has reached t_end
                if done[c] >= max_events or t[c] + hold >= t_end:
                    reached[c] = done[c] < max_events
                    running[c] = False
                    n_running -= 1
                    continue
                t[c], comp[c] = _kahan_step(t[c], comp[c], hold)
                done[c] += 1
                u = _next_double(rng[c]) * total
                if u < ext_rate:
                    x = u / ext_rate * n_ext
                    row = min(int(x), n_ext - 1)
                    ev_row[c], ev_frac[c] = row, x - row
                    prefetch(ext_table, row * ext_table.shape[1])
                    stage[c] = _EXT_CELL
                else:
                    x = _next_double(rng[c]) * n_act[c]
                    row = int(x)
                    ev_row[c], ev_frac[c] = row, x - row
                    prefetch(act, (c * n_per + row) * act_width)
                    stage[c] = _CHOOSE
            elif st == _EXT_CELL:
                i = _alias_pick(ext_table, ev_row[c], ev_frac[c])
                ev_cell[c] = i
                _prefetch_cell(cell, const, c, i)
                stage[c] = _EXT_APPLY
            elif st == _EXT_APPLY:
                i = ev_cell[c]
                k = int(pot[c, i])
                _touch(cell[c], i, t[c], k, n_hist)
                pot[c, i] = k + 1
                if k == 0:
                    n_act[c], a_rate[c] = _activate(i, act[c], pos[c], const, n_act[c], a_rate[c], rate_max)
                stage[c] = _DRAW
            elif st == _CHOOSE:
                row, f = ev_row[c], ev_frac[c]
                if f >= act[c, row, A_ACCEPT]:  # rejected: draw again
                    x = _next_double(rng[c]) * n_act[c]
                    row = int(x)
                    ev_row[c], ev_frac[c] = row, x - row
                    prefetch(act, (c * n_per + row) * act_width)
                    continue
                i = int(act[c, row, A_CELL])
                ev_cell[c] = i
                ev_inhibited[c] = f < act[c, row, A_INHIB]
                start = int(act[c, row, A_START])
                m = int(act[c, row, A_COUNT])
                y2 = _next_double(rng[c]) * m
                s = min(int(y2), m - 1)
                ev_slot[c], ev_frac[c] = start + s, y2 - s
                prefetch(route, (start + s) * route.shape[1])
                _prefetch_cell(cell, const, c, i)
                stage[c] = _FIRE
            elif st == _FIRE:
                code = _alias_pick(route, ev_slot[c], ev_frac[c])
                i = ev_cell[c]
                k = int(pot[c, i])
                _touch(cell[c], i, t[c], k, n_hist)
                pot[c, i] = k - 1
                if k == 1:
                    n_act[c], a_rate[c] = _deactivate(i, act[c], pos[c], const, n_act[c], a_rate[c], rate_max)
                stage[c] = _DRAW
                if ev_inhibited[c]:
                    continue
                cell[c, i, FIRES] += 1.0
                if code >= 0:
                    ev_code[c] = code
                    _prefetch_cell(cell, const, c, code if code < n_cells else code - n_cells)
                    stage[c] = _DELIVER
            else:
                n_act[c], a_rate[c] = _deliver(ev_code[c], pot[c], pos[c], cell[c], const, act[c], t[c], n_cells,
                                               n_hist, n_act[c], a_rate[c], rate_max)
                stage[c] = _DRAW
    for c in range(n_chains):
        scal[c, TIME], scal[c, TCOMP], scal[c, ARATE] = t[c], comp[c], a_rate[c]
        counters[c, EVENTS] += done[c]
        counters[c, NACT] = n_act[c]
    return reached


@njit(cache=True)
def flush(cell, now, n_hist):
    """Bring every cell's accumulators up to time ``now`` (O(N), once per read-out)."""
    for i in range(cell.shape[0]):
        _touch(cell, i, now, int(cell[i, POT]), n_hist)


@njit(cache=True)
def add_moments(cell, n_hist, scale, shift, s1, s2):
    """Add one replication's accumulators ``cell[:, AREA:HIST + n_hist] * scale`` to the sums ``s1``, ``s2``
    of their deviations from ``shift`` and of the squared deviations (one pass; the shift keeps the
    variance exact)."""
    for i in range(cell.shape[0]):
        for c in range(AREA, HIST + n_hist):
            d = cell[i, c] * scale - shift[i, c - AREA]
            s1[i, c - AREA] += d
            s2[i, c - AREA] += d * d


@njit(cache=True)
def reset_accumulators(cell, now):
    """Start measuring at ``now``: zero every accumulator, keep the potentials and active-list places."""
    for i in range(cell.shape[0]):
        cell[i, LAST] = now
        for c in range(AREA, cell.shape[1]):
            cell[i, c] = 0.0


@njit(cache=True, nogil=True)
def run_transient(starts, times, n_reps, rng, ev_prob, ev_alias, const, route, rate_total, busy_sum, k_sum,
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
                        start = int(const[i, C_START])
                        m = int(const[i, C_COUNT])
                        y = _next_double(rng) * m
                        s = min(int(y), m - 1)
                        code = _alias_pick(route, start + s, y - s)
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
