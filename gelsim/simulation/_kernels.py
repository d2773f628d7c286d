"""Numba kernels of the spike simulator: arrays in, arrays out, no validation.

The kernels (``_start_replication``, ``_run_events``, ``_run_events_pipelined``, ``_run_transient``) take
their arrays as flat arguments, which is what keeps them fast; the wrappers that unpack the compiled
network (``_tables.Tables``) and the replications' state (``_replications.ReplicationGroup``) into those
arguments live beside that state (``_replications``, ``transient``).

``_run_events`` simulates the jump chain of the G-network's continuous-time Markov chain (see :class:`gelsim.Network`)
with O(1) work per event and no wasted steps; long-run time averages use the expected holding
time of each state rather than a sampled one (Fox & Glynn), which is exact for long-run averages and
has lower variance. ``_run_events_pipelined`` runs the same chain for several replications at once,
interleaved so that their memory loads overlap (large networks). ``_run_transient`` simulates in sampled
real time by uniformisation (a Poisson clock of constant rate whose ticks on empty cells are no-ops), for
ensemble averages at fixed times.

Each cell has one contiguous float64 row ``cell[i, :]`` per replication, padded to whole 64-byte cache
lines, so an event touches one line of it in most cases: ``POT`` its potential k and ``POS`` its place in
the active list (-1 when empty), then the accumulators ``LAST`` time of last change, ``AREA`` integral of k,
``FIRES`` spikes emitted, and ``HIST .. HIST + H - 1``: time at k = 0 .. H-2 and at k >= H-1 (time excited
is the measured time minus the time at k = 0). The constants, shared by all replications, are rows of
``const``: ``C_ACCEPT`` (rate / fastest rate in the cell's rate bucket), ``C_INHIB`` (C_ACCEPT x inhibitory
share), ``C_START``/``C_COUNT`` (the cell's routing slots; ``C_COUNT`` also carries the bucket in its high 32
bits). The active list is cut into one segment per bucket (``bucket_start``).

Integer fields are stored as integer bit patterns inside the float64 tables and read through an integer
view: one record keeps its fields on one cache line, and integer fields need no float conversion on the way
to an address (measured: 20 % more events per second at 1,000 cells). ``POT``, ``POS``, ``C_START`` and
``C_COUNT`` are int64 (``ints(a)``); the active list's ``A_CELL``, ``A_START``, ``A_COUNT`` and the alias
tables' payloads are int32 columns of the int32 view (``ints32(a)``), so that an active-list entry takes 32
bytes and a routing slot 16: neither ever straddles two cache lines. Hence at most 2**30 cells and 2**31
routing slots (checked when the tables are built). Rows are indexed with unsigned integers (``_U``), which
spares Numba's negative-index wraparound on every access.

Random numbers are drawn one event ahead where the draw does not depend on the state (Fox & Glynn's
estimators are untouched): the next external arrival's cell, the uniform that picks the next active cell,
and the uniform that picks its route. The kernel can then start loading what the next event will read
while the current one finishes. A draw made early is still used exactly once and is independent of
everything that happens before its use, so the chain's law is unchanged. The look-ahead values are part of
each replication's state (``counters[NEXT_EXT]``, ``scal[NEXT_PICK]``, ``scal[NEXT_ROUTE]``; set by
``_start_replication`` before the first event), so splitting a run into calls changes nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._prefetch import prefetch

# Columns of the per-cell record ``cell`` (float64; POT and POS hold int64 bits): the first 64 bytes
# (8 columns) hold everything an event at potential k <= 2 touches.
POT, POS, LAST, AREA, FIRES, HIST = 0, 1, 2, 3, 4, 5
# Columns of the shared constants ``const`` (float64; C_START and C_COUNT hold int64 bits).
C_ACCEPT, C_INHIB, C_START, C_COUNT = 0, 1, 2, 3
# An active-list entry ``act[p, :]`` (what choosing and routing an event needs): float64 columns A_ACCEPT,
# A_INHIB, then int32 columns A_CELL, A_START, A_COUNT, A_BUCKET of its int32 view.
A_ACCEPT, A_INHIB = 0, 1
A_CELL, A_START, A_COUNT, A_BUCKET = 4, 5, 6, 7
ACT_WIDTH = 4
# A row of the alias tables ``ext_table`` and ``route``: float64 column AL_ACCEPT, then int32 columns
# AL_OWN, AL_ALIAS (own and alias payload) of its int32 view.
AL_ACCEPT = 0
AL_OWN, AL_ALIAS = 2, 3
AL_WIDTH = 2
# Slots of ``counters`` (int64) and ``scal`` (float64).
EVENTS, NACT, NREC, DROPPED, NEXT_EXT = 0, 1, 2, 3, 4
N_COUNTERS = 5
TIME, TCOMP, CLOCK, ARATE, NEXT_PICK, NEXT_ROUTE = 0, 1, 2, 3, 4, 5
N_SCAL = 6

# Active cells are kept in rate buckets (composition-rejection, see ``run_events``); cells more than
# 2**(MAX_BUCKETS - 1) times slower than the fastest share the last bucket.
MAX_BUCKETS = 48
ONE_BUCKET = -1  # the bucket of every cell when there is a single bucket (the whole active list)
COUNT_MASK = (1 << 32) - 1  # ``C_COUNT`` packs the routing slot count (low 32 bits) and the bucket (high)

_U = np.uint64  # row indices as unsigned: Numba then emits no negative-index wraparound
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_BELOW_ONE = 1.0 - _DOUBLE_UNIT  # the largest double below 1


def row_width(n_hist):
    """Columns of a ``cell`` row with ``n_hist`` histogram columns, rounded up to whole cache lines."""
    return -(-(HIST + n_hist) // 8) * 8


def ints(a):
    """The int64 view of a float64 table, for its int64 fields (see the module docstring)."""
    return a.view(np.int64)


def ints32(a):
    """The int32 view of a float64 table, for its int32 fields (see the module docstring)."""
    return a.view(np.int32)


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << _U(k)) | (x >> _U(64 - k))


@njit(cache=True, inline="always")
def _xoshiro(s0, s1, s2, s3):
    """xoshiro256** step on the state words; returns a double in [0, 1) and the new words."""
    result = _rotl(s1 * _U(5), 7) * _U(9)
    t = s1 << _U(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return float(result >> _U(11)) * _DOUBLE_UNIT, s0, s1, s2, s3


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
    dt = now - cell[_U(i), LAST]
    cell[_U(i), AREA] += k * dt
    cell[_U(i), _U(HIST + min(k, n_hist - 1))] += dt
    cell[_U(i), LAST] = now


@njit(cache=True, inline="always")
def _activate(i, off, boff, act, acti, celli, const, consti, n_act, a_rate, bstart, btop, bcount, brate):
    """Append cell ``i`` to its rate bucket's active list; returns the new count and active rate.

    ``acti`` is the int32 view of ``act``, ``celli`` and ``consti`` the int64 views of ``cell`` and ``const``:
    the kernels' Python wrappers make them, since a ``.view`` in the event loop costs a reference count update.
    ``off`` is the first row of this replication's cells and list entries (``cell``, ``act`` of several
    stacked replications), ``boff`` the first of its bucket counts and rates (``bcount``, ``brate``).
    """
    acc_i = const[_U(i), C_ACCEPT]
    if acc_i <= 0.0:
        return n_act, a_rate  # a cell that can neither fire nor be inhibited is never chosen
    packed = consti[_U(i), C_COUNT]
    b = packed >> 32
    if b == ONE_BUCKET:  # the whole list is the bucket: its count and rate are n_act and a_rate
        p, rate_i = n_act, acc_i * btop[0]
    else:
        p = bstart[_U(b)] + bcount[_U(boff + b)]
        rate_i = acc_i * btop[_U(b)]
        bcount[_U(boff + b)] += 1
        brate[_U(boff + b)] += rate_i
    entry = _U(off + p)
    celli[_U(off + i), POS] = p
    acti[entry, A_CELL] = i
    act[entry, A_ACCEPT] = acc_i
    act[entry, A_INHIB] = const[_U(i), C_INHIB]
    acti[entry, A_START] = consti[_U(i), C_START]
    acti[entry, A_COUNT] = packed & COUNT_MASK
    acti[entry, A_BUCKET] = b
    return n_act + 1, a_rate + rate_i


@njit(cache=True, inline="always")
def _deactivate(i, off, boff, act, acti, celli, n_act, a_rate, bstart, btop, bcount, brate):
    """Swap-remove cell ``i`` from its bucket's active list; returns the new count and active rate.

    Reads only the cell's list entry, which the removal touches anyway (not ``const``, whose row can
    straddle two cache lines: measured 17 % of the events per second at 10^6 cells)."""
    p = celli[_U(off + i), POS]
    if p < 0:
        return n_act, a_rate
    b = np.int64(acti[_U(off + p), A_BUCKET])
    if b == ONE_BUCKET:
        last, rate_i = n_act - 1, act[_U(off + p), A_ACCEPT] * btop[0]
    else:
        nb = bcount[_U(boff + b)] - 1
        last = bstart[_U(b)] + nb
        rate_i = act[_U(off + p), A_ACCEPT] * btop[_U(b)]
        bcount[_U(boff + b)] = nb
        # An emptied sum is reset, so that rounding never leaves rate on an empty bucket or list.
        brate[_U(boff + b)] = brate[_U(boff + b)] - rate_i if nb > 0 else 0.0
    moved = acti[_U(off + last), A_CELL]
    for c in range(2 * ACT_WIDTH):
        acti[_U(off + p), c] = acti[_U(off + last), c]
    celli[_U(off + moved), POS] = p
    celli[_U(off + i), POS] = -1
    if n_act == 1:
        return 0, 0.0
    return n_act - 1, a_rate - rate_i


@njit(cache=True, inline="always")
def _bucket_pick(u, n_act, a_rate, boff, bcount, brate, n_buckets):
    """The bucket of the next active-cell event for a uniform ``u`` (bucket ``b`` with probability
    ``brate[b] / a_rate``), its size and a uniform on [0, 1) left over for the choice within it."""
    if n_buckets == 1:
        return 0, n_act, u  # one bucket, kept as the whole list (``ONE_BUCKET``): plain rejection
    x = u * a_rate
    sel = 0
    for b in range(n_buckets):
        if bcount[_U(boff + b)] > 0:
            sel = b
            r = brate[_U(boff + b)]
            if x < r:
                return b, bcount[_U(boff + b)], x / r
            x -= r
    # Rounding carried x past the last bucket.
    return sel, bcount[_U(boff + sel)], min(x / brate[_U(boff + sel)], _BELOW_ONE)


@njit(cache=True, inline="always")
def _alias_pick(table, tablei, row, frac):
    """The payload of alias row ``row`` (acceptance, own payload, alias payload) for a uniform ``frac``;
    ``tablei`` is the table's int32 view."""
    return np.int64(tablei[_U(row), AL_OWN] if frac < table[_U(row), AL_ACCEPT] else tablei[_U(row), AL_ALIAS])


@njit(cache=True, inline="always")
def _pick_row(u, n_rows):
    """Row ``floor(u * n_rows)`` (kept below ``n_rows`` against rounding) and the fraction left over."""
    x = u * n_rows
    row = min(int(x), n_rows - 1)
    return row, x - row


@njit(cache=True, inline="always")
def _alias_draw(table, tablei, u):
    """The payload that one-segment alias table ``table`` (int32 view ``tablei``) gives for a uniform ``u``."""
    row, frac = _pick_row(u, table.shape[0])
    return _alias_pick(table, tablei, row, frac)


@njit(cache=True, inline="always")
def _kahan_step(t, comp, hold):
    """``t + hold`` with Kahan compensation ``comp``; returns the new pair."""
    y = hold - comp
    t_new = t + y
    return t_new, (t_new - t) - y


@njit(cache=True, inline="always")
def _excite(i, off, boff, now, cell, celli, const, consti, act, acti, n_hist, n_act, a_rate, bstart, btop, bcount,
            brate):
    """Add one to cell ``i``'s potential at time ``now``; returns the new count and active rate."""
    k = celli[_U(off + i), POT]
    _touch(cell, off + i, now, k, n_hist)
    celli[_U(off + i), POT] = k + 1
    if k == 0:
        return _activate(i, off, boff, act, acti, celli, const, consti, n_act, a_rate, bstart, btop, bcount, brate)
    return n_act, a_rate


@njit(cache=True, inline="always")
def _deplete(i, off, boff, now, cell, celli, act, acti, n_hist, n_act, a_rate, bstart, btop, bcount, brate):
    """Take one from cell ``i``'s positive potential at time ``now``; returns the new count and active rate."""
    k = celli[_U(off + i), POT]
    _touch(cell, off + i, now, k, n_hist)
    celli[_U(off + i), POT] = k - 1
    if k == 1:
        return _deactivate(i, off, boff, act, acti, celli, n_act, a_rate, bstart, btop, bcount, brate)
    return n_act, a_rate


@njit(cache=True, inline="always")
def _deliver(code, off, boff, cell, celli, const, consti, act, acti, now, n_cells, n_hist, n_act, a_rate, bstart,
             btop, bcount, brate):
    """Apply a fired spike with target ``code`` (``j`` excitatory, ``n_cells + j`` inhibitory)."""
    if code < n_cells:
        return _excite(code, off, boff, now, cell, celli, const, consti, act, acti, n_hist, n_act, a_rate, bstart,
                       btop, bcount, brate)
    j = code - n_cells
    if celli[_U(off + j), POT] > 0:  # inhibition of an empty cell has no effect
        return _deplete(j, off, boff, now, cell, celli, act, acti, n_hist, n_act, a_rate, bstart, btop, bcount,
                        brate)
    return n_act, a_rate


@njit(cache=True, nogil=True)
def _start_replication(cell, act, const, counters, scal, rng, ext_table, bstart, btop, bcount, brate):
    celli, consti, acti = cell.view(np.int64), const.view(np.int64), act.view(np.int32)
    n_act, a_rate = 0, 0.0
    bcount[:] = 0
    brate[:] = 0.0
    for i in range(cell.shape[0]):
        if celli[i, POT] > 0:
            n_act, a_rate = _activate(i, 0, 0, act, acti, celli, const, consti, n_act, a_rate, bstart, btop, bcount,
                                      brate)
    counters[NACT], scal[ARATE] = n_act, a_rate
    counters[NEXT_EXT] = _alias_draw(ext_table, ext_table.view(np.int32), _next_double(rng))
    scal[NEXT_PICK] = _next_double(rng)
    scal[NEXT_ROUTE] = _next_double(rng)


@njit(cache=True, nogil=True)
def _run_events(cell, celli, const, consti, act, acti, bcount, brate, counters, scal, rng, t_end, max_events,
                ext_table, ext_tablei, ext_rate, bstart, btop, n_buckets, route, routei, n_cells, n_hist, rec_slot,
                rec_times, rec_cells):
    """Advance one replication until its (expected) time reaches ``t_end`` or ``max_events`` events.

    The state (of ``_replications.ReplicationGroup``) (``cell``, ``act``, ``bucket_count``, ``bucket_rate``,
    ``counters``, ``scal``, ``rng``, each with a leading replication axis, ``n_hist``, and the spike buffers
    ``rec_slot``, ``rec_times``, ``rec_cells``, used by replication 0 only), ``tables`` the compiled network
    (``cell_const``, ``ext_table``, ``ext_rate``, ``bucket_start``, ``bucket_top``, ``n_buckets``, ``route``,
    ``n_cells``).

    The jump chain of the CTMC is simulated with no wasted steps: the next event is an external
    excitation (total rate ``ext_rate``, cell from the alias ``ext_table``) or an event of a non-empty
    cell (total rate ``a_rate``), which is an external inhibition or a firing. The non-empty cell is
    drawn by composition-rejection: cells are grouped into buckets whose rates lie within a factor of
    two of the bucket's fastest cell (``bucket_top``); a bucket is chosen with probability proportional to
    the summed rate of its non-empty cells (a short scan), then a cell of its active list uniformly,
    accepted with probability ``rate_i / bucket_top`` (at least 1/2). So a choice takes under two tries
    whatever the spread of the rates; rejection against the fastest cell of the whole network would take
    about ``rate_max / mean rate`` tries (measured: hundreds on convolutional models). Each active entry
    carries the cell's routing slots. The next external cell and the uniforms of the next active-cell
    choice and its route are drawn one event ahead, and memory is prefetched while the current event
    finishes. Time advances by the expected holding time ``1 / total rate`` (Fox & Glynn), summed with
    Kahan compensation; sampled times are drawn only for recorded spikes (``rec_times`` is None when
    nothing is recorded, and Numba then compiles a version with the recording code pruned).

    ``counters``: [EVENTS] events done, [NACT] non-empty cells, [NREC] spikes kept, [DROPPED] not kept,
    [NEXT_EXT] cell of the next external excitation. ``scal``: [TIME] expected time of the last event,
    [TCOMP] its Kahan term, [CLOCK] sampled time, [ARATE] total rate of the non-empty cells, [NEXT_PICK]
    and [NEXT_ROUTE] the uniforms of the next active-cell pick and its route. ``bucket_count`` and
    ``bucket_rate``: non-empty cells and their summed rate per bucket.
    ``route[s]`` = (alias acceptance, own target code, alias target code); codes: ``j`` excitatory,
    ``n_cells + j`` inhibitory, ``-1`` departure.

    Every piece of state lives in the arguments and is left exactly as an uninterrupted run would have it
    (the clock stays at the last event, not at ``t_end``), so splitting a run into calls of any lengths
    gives bit-identical results. Returns True when the run reached ``t_end`` (or can have no more events),
    False when it stopped after ``max_events``.
    """
    """``run_events`` on the tables and their integer views (``celli`` ...), made by the Python caller. Views
    made in a kernel are new references, and every pass to an inlined helper would update their counts
    (measured: 15 % of the time); arguments are borrowed, so passing them costs nothing. For the same
    reason the arguments are flat: passed as two tuples (state, tables) and unpacked here, they cost 26 %
    of the events per second at 1,000 cells and 9 % at 10^5 (measured)."""
    n_act = counters[NACT]
    next_ext = counters[NEXT_EXT]
    a_rate = scal[ARATE]
    t, comp, clock = scal[TIME], scal[TCOMP], scal[CLOCK]
    next_pick, next_route = scal[NEXT_PICK], scal[NEXT_ROUTE]
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
        # The next active-cell choice's bucket and first candidate; then hints only: the candidate's routing
        # slot and row (an entry past the list's end is stale but harmless to prefetch).
        b, first, n_b, idx, f = 0, 0, 0, 0, 0.0
        if n_act > 0:  # else the next event is an external arrival
            b, n_b, v = _bucket_pick(next_pick, n_act, a_rate, 0, bcount, brate, n_buckets)
            first = bstart[_U(b)]
            idx, f = _pick_row(v, n_b)
            cand = _U(first + idx)
            m = acti[cand, A_COUNT]
            prefetch(route, (acti[cand, A_START] + min(int(next_route * m), max(m - 1, 0))) * route.shape[1])
            prefetch(cell, acti[cand, A_CELL] * cell.shape[1])
        t, comp = _kahan_step(t, comp, hold)
        if rec_times is not None:  # pruned at compile time when nothing is recorded
            w, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            clock += -np.log(1.0 - w) * hold
        done += 1
        u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        if u * total < ext_rate:
            i = next_ext
            x, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            next_ext = _alias_draw(ext_table, ext_tablei, x)
            prefetch(cell, next_ext * cell.shape[1])
            n_act, a_rate = _excite(i, 0, 0, t, cell, celli, const, consti, act, acti, n_hist, n_act, a_rate,
                                    bstart, btop, bcount, brate)
            continue
        # An event of a non-empty cell, chosen with probability proportional to its rate: its bucket (drawn
        # above), then a cell of the bucket by rejection (the uniform's leftover fraction decides the first try).
        while f >= act[_U(first + idx), A_ACCEPT]:  # rejected: draw again
            x, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            idx, f = _pick_row(x, n_b)
        entry = _U(first + idx)
        i = acti[entry, A_CELL]
        inhibited = f < act[entry, A_INHIB]  # INHIB = ACCEPT * (inhibitory share of the cell's rate)
        m = acti[entry, A_COUNT]
        s, frac = _pick_row(next_route, m)
        code = _alias_pick(route, routei, acti[entry, A_START] + s, frac)
        next_pick, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        next_route, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        b, n_b, v = _bucket_pick(next_pick, n_act, a_rate, 0, bcount, brate, n_buckets)
        prefetch(act, (bstart[_U(b)] + int(v * n_b)) * act.shape[1])  # a guess at the next candidate
        n_act, a_rate = _deplete(i, 0, 0, t, cell, celli, act, acti, n_hist, n_act, a_rate, bstart, btop, bcount,
                                 brate)
        if inhibited:
            continue
        cell[_U(i), FIRES] += 1.0
        if rec_times is not None and rec_slot[i] >= 0:
            if counters[NREC] < rec_times.size:
                rec_times[counters[NREC]] = clock
                rec_cells[counters[NREC]] = rec_slot[i]
                counters[NREC] += 1
            else:
                counters[DROPPED] += 1
        if code >= 0:
            n_act, a_rate = _deliver(code, 0, 0, cell, celli, const, consti, act, acti, t, n_cells, n_hist, n_act,
                                     a_rate, bstart, btop, bcount, brate)
    scal[TIME], scal[TCOMP], scal[CLOCK], scal[ARATE] = t, comp, clock, a_rate
    scal[NEXT_PICK], scal[NEXT_ROUTE] = next_pick, next_route
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    counters[EVENTS] += done
    counters[NACT] = n_act
    counters[NEXT_EXT] = next_ext
    return reached


# Stages of an event in ``run_events_pipelined``; each ends by prefetching what the next one reads.
_DRAW, _EXT_APPLY, _CHOOSE, _FIRE, _DELIVER = 0, 1, 2, 3, 4


@njit(cache=True, inline="always")
def _prefetch_cell(cell, const, row, i):
    """Prefetch the first line of row ``row`` of ``cell`` (cell ``i`` of some replication) and ``i``'s constants."""
    prefetch(cell, row * cell.shape[1])
    prefetch(const, i * const.shape[1])


@njit(cache=True, inline="always")
def _next_double_of(rng, c):
    """xoshiro256** step on row ``c`` of the stacked states ``rng`` (no slice: a slice costs a reference count)."""
    u, rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3] = _xoshiro(rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3])
    return u


@njit(cache=True, nogil=True)
def _run_events_pipelined(cell, celli, const, consti, act, acti, bcount, brate, counters, scal, rng, t_end,
                          max_events, ext_table, ext_tablei, ext_rate, bstart, btop, n_buckets, route, routei, n_cells,
                          n_hist):
    """``run_events`` for all ``G`` replications of ``group`` at once, interleaved to hide memory latency.

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
    """``run_events_pipelined`` on the replications' rows stacked into 2-D tables (replication ``c``'s rows
    start at ``c * n_cells``, its buckets at ``c * MAX_BUCKETS``) and their integer views, made by the Python
    caller (see ``_run_events``)."""
    n_chains = counters.shape[0]
    bucket_slots = bcount.size // n_chains  # MAX_BUCKETS when the state was made
    n_ext = ext_table.shape[0]
    reached = np.ones(n_chains, np.bool_)
    running = np.ones(n_chains, np.bool_)
    stage = np.zeros(n_chains, np.int64)
    n_act = counters[:, NACT].copy()
    next_ext = counters[:, NEXT_EXT].copy()
    a_rate = scal[:, ARATE].copy()
    t = scal[:, TIME].copy()
    comp = scal[:, TCOMP].copy()
    next_pick = scal[:, NEXT_PICK].copy()
    next_route = scal[:, NEXT_ROUTE].copy()
    done = np.zeros(n_chains, np.int64)
    # The event in progress in each replication: its cell, active-list index or alias row, bucket, routing
    # slot, target code, the uniform's fraction and whether it is an inhibition.
    ev_cell = np.zeros(n_chains, np.int64)
    ev_bucket = np.zeros(n_chains, np.int64)
    ev_size = np.zeros(n_chains, np.int64)  # cells in the bucket
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
            off = c * n_cells  # this replication's first row in ``cell`` and ``act``
            boff = c * bucket_slots
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
                if _next_double_of(rng, c) * total < ext_rate:
                    # The cell was drawn (and its row prefetched) an arrival ahead; prefetch it again in case
                    # it has been evicted since, and draw the next arrival's cell.
                    ev_cell[c] = next_ext[c]
                    ev_row[c], ev_frac[c] = _pick_row(_next_double_of(rng, c), n_ext)
                    prefetch(ext_table, ev_row[c] * ext_table.shape[1])
                    _prefetch_cell(cell, const, off + ev_cell[c], ev_cell[c])
                    stage[c] = _EXT_APPLY
                else:
                    b, n_b, v = _bucket_pick(next_pick[c], n_act[c], a_rate[c], boff, bcount, brate, n_buckets)
                    ev_bucket[c], ev_size[c] = b, n_b
                    idx, ev_frac[c] = _pick_row(v, n_b)
                    ev_row[c] = bstart[_U(b)] + idx
                    prefetch(act, (off + ev_row[c]) * act.shape[1])
                    stage[c] = _CHOOSE
            elif st == _EXT_APPLY:
                nxt = _alias_pick(ext_table, ext_tablei, ev_row[c], ev_frac[c])
                next_ext[c] = nxt
                _prefetch_cell(cell, const, off + nxt, nxt)
                n_act[c], a_rate[c] = _excite(ev_cell[c], off, boff, t[c], cell, celli, const, consti, act, acti,
                                              n_hist, n_act[c], a_rate[c], bstart, btop, bcount, brate)
                stage[c] = _DRAW
            elif st == _CHOOSE:
                entry, f = _U(off + ev_row[c]), ev_frac[c]
                if f >= act[entry, A_ACCEPT]:  # rejected: draw again within the bucket
                    idx, ev_frac[c] = _pick_row(_next_double_of(rng, c), ev_size[c])
                    ev_row[c] = bstart[_U(ev_bucket[c])] + idx
                    prefetch(act, (off + ev_row[c]) * act.shape[1])
                    continue
                i = acti[entry, A_CELL]
                ev_cell[c] = i
                ev_inhibited[c] = f < act[entry, A_INHIB]
                s, ev_frac[c] = _pick_row(next_route[c], acti[entry, A_COUNT])
                ev_slot[c] = acti[entry, A_START] + s
                next_pick[c] = _next_double_of(rng, c)
                next_route[c] = _next_double_of(rng, c)
                prefetch(route, ev_slot[c] * route.shape[1])
                _prefetch_cell(cell, const, off + i, i)
                stage[c] = _FIRE
            elif st == _FIRE:
                code = _alias_pick(route, routei, ev_slot[c], ev_frac[c])
                i = ev_cell[c]
                n_act[c], a_rate[c] = _deplete(i, off, boff, t[c], cell, celli, act, acti, n_hist, n_act[c],
                                               a_rate[c], bstart, btop, bcount, brate)
                stage[c] = _DRAW
                if ev_inhibited[c]:
                    continue
                cell[_U(off + i), FIRES] += 1.0
                if code >= 0:
                    ev_code[c] = code
                    j = code if code < n_cells else code - n_cells
                    _prefetch_cell(cell, const, off + j, j)
                    stage[c] = _DELIVER
            else:
                n_act[c], a_rate[c] = _deliver(ev_code[c], off, boff, cell, celli, const, consti, act, acti, t[c],
                                               n_cells, n_hist, n_act[c], a_rate[c], bstart, btop, bcount, brate)
                stage[c] = _DRAW
    for c in range(n_chains):
        scal[c, TIME], scal[c, TCOMP], scal[c, ARATE] = t[c], comp[c], a_rate[c]
        scal[c, NEXT_PICK], scal[c, NEXT_ROUTE] = next_pick[c], next_route[c]
        counters[c, EVENTS] += done[c]
        counters[c, NACT] = n_act[c]
        counters[c, NEXT_EXT] = next_ext[c]
    return reached


@njit(cache=True, nogil=True)
def flush(cell, now, n_hist):
    """Bring every cell's accumulators up to time ``now`` (O(N), once per read-out)."""
    celli = cell.view(np.int64)
    for i in range(cell.shape[0]):
        _touch(cell, i, now, celli[i, POT], n_hist)


@njit(cache=True, nogil=True)
def read_rates(cell, now, n_hist, busy, fires):
    """One replication's busy fractions and firing rates over ``[0, now]`` into ``busy`` and ``fires`` (N,),
    its accumulators brought up to ``now`` on the way: :func:`flush` and both read-outs in one pass over
    the state (three passes otherwise, which cost as much as the events of a short look)."""
    celli = cell.view(np.int64)
    for i in range(cell.shape[0]):
        _touch(cell, i, now, celli[i, POT], n_hist)
        fires[i] = cell[i, FIRES] / now
        b = 1.0 - cell[i, HIST] / now
        busy[i] = min(max(b, 0.0), 1.0)


@njit(cache=True, nogil=True)
def add_moments(cell, n_hist, scale, shift, s1, s2):
    """Add one replication's accumulators ``cell[:, AREA:HIST + n_hist] * scale`` to the sums ``s1``, ``s2``
    of their deviations from ``shift`` and of the squared deviations (one pass; the shift keeps the
    variance exact)."""
    for i in range(cell.shape[0]):
        for c in range(AREA, HIST + n_hist):
            d = cell[i, c] * scale - shift[i, c - AREA]
            s1[i, c - AREA] += d
            s2[i, c - AREA] += d * d


@njit(cache=True, nogil=True)
def reset_accumulators(cell, now):
    """Start measuring at ``now``: zero every accumulator, keep the potentials and active-list places."""
    for i in range(cell.shape[0]):
        cell[i, LAST] = now
        for c in range(AREA, cell.shape[1]):
            cell[i, c] = 0.0


@njit(cache=True, nogil=True)
def _run_transient(starts, times, n_reps, rng, ev_prob, ev_alias, const, route, rate_total, busy_sum, k_sum,
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
    consti, routei = const.view(np.int64), route.view(np.int32)
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
                        s, frac = _pick_row(_next_double(rng), consti[i, C_COUNT] & COUNT_MASK)
                        code = _alias_pick(route, routei, consti[i, C_START] + s, frac)
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
