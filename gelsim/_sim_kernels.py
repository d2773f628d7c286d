"""Numba kernels of the spike simulator: arrays in, arrays out, no validation.

The simulated process is the uniformised G-network: a Poisson clock of constant total rate ``R`` ticks;
each tick picks one of the ``3N`` event clocks (external excitation, external inhibition, firing of cell
``i``) with probability proportional to its rate; a firing or inhibition of an empty cell is a no-op.
This is exactly the continuous-time Markov chain of SPEC §1 observed at the ticks, and since every tick
has the same expected holding time ``1/R``, long-run time averages are averages over ticks (Fox & Glynn):
the accumulators count ticks, in integers, touched only when a cell's potential changes (O(1) per event).

Per-cell record ``state[i, :]`` (int64), one contiguous row so an event touches few cache lines:
``K`` potential, ``LAST`` tick of last change, ``BUSY`` ticks with k > 0, ``AREA`` sum of k over ticks,
``FIRES`` spikes emitted, then ``HIST`` .. ``HIST + H - 1``: ticks spent at k = 0 .. H-2 and at k >= H-1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

K, LAST, BUSY, AREA, FIRES, HIST = 0, 1, 2, 3, 4, 5

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
def _touch(state, i, tick, k, n_hist):
    """Credit cell ``i``'s accumulators with the ticks spent at potential ``k`` since its last change."""
    dt = tick - state[i, LAST]
    if k > 0:
        state[i, BUSY] += dt
        state[i, AREA] += k * dt
    state[i, HIST + min(k, n_hist - 1)] += dt
    state[i, LAST] = tick


@njit(cache=True, nogil=True)
def run_ticks(state, counters, rng, n_ticks, ev_prob, ev_alias, route_ptr, route_prob, route_alias,
              route_target, n_cells, rate_total, rec_slot, rec_times, rec_cells, clock_arr):
    """Advance one replication by ``n_ticks`` clock ticks.

    ``counters`` (int64): [0] current tick, [1] state-changing events, [2] spikes recorded,
    [3] spikes not recorded because the buffer was full. ``route_target`` codes: ``j`` excitatory
    to ``j``, ``n_cells + j`` inhibitory to ``j``, ``-1`` departure. ``rec_slot[i] >= 0`` marks cells whose
    spike times are recorded; ``clock_arr[0]`` is their real-time clock, advanced only when recording.
    """
    n_hist = state.shape[1] - HIST
    n_events = ev_prob.size
    tick = counters[0]
    events = counters[1]
    n_rec = counters[2]
    recording = rec_times.size > 0
    clock = clock_arr[0]
    for _ in range(n_ticks):
        tick += 1
        if recording:
            clock += -np.log(1.0 - _next_double(rng)) / rate_total
        x = _next_double(rng) * n_events
        ev = int(x)
        if x - ev >= ev_prob[ev]:
            ev = ev_alias[ev]
        i = ev // 3
        kind = ev - 3 * i
        k = state[i, K]
        if kind == 0:  # external excitatory spike
            _touch(state, i, tick, k, n_hist)
            state[i, K] = k + 1
            events += 1
        elif k > 0:
            _touch(state, i, tick, k, n_hist)
            state[i, K] = k - 1
            events += 1
            if kind == 2:  # firing: route the spike
                state[i, FIRES] += 1
                if recording and rec_slot[i] >= 0:
                    if n_rec < rec_times.size:
                        rec_times[n_rec] = clock
                        rec_cells[n_rec] = rec_slot[i]
                        n_rec += 1
                    else:
                        counters[3] += 1
                a = route_ptr[i]
                m = route_ptr[i + 1] - a
                y = _next_double(rng) * m
                s = int(y)
                if y - s >= route_prob[a + s]:
                    s = route_alias[a + s]
                code = route_target[a + s]
                if code >= 0:
                    if code < n_cells:
                        kj = state[code, K]
                        _touch(state, code, tick, kj, n_hist)
                        state[code, K] = kj + 1
                    else:
                        j = code - n_cells
                        kj = state[j, K]
                        if kj > 0:
                            _touch(state, j, tick, kj, n_hist)
                            state[j, K] = kj - 1
    counters[0] = tick
    counters[1] = events
    counters[2] = n_rec
    clock_arr[0] = clock


@njit(cache=True)
def flush(state, tick):
    """Bring every cell's accumulators up to ``tick`` (O(N), once per read-out)."""
    n_hist = state.shape[1] - HIST
    for i in range(state.shape[0]):
        _touch(state, i, tick, state[i, K], n_hist)


@njit(cache=True)
def reset_accumulators(state, tick):
    """Start measuring at ``tick``: zero every accumulator, keep the potentials."""
    for i in range(state.shape[0]):
        state[i, LAST] = tick
        for c in range(BUSY, state.shape[1]):
            state[i, c] = 0


@njit(cache=True, nogil=True)
def run_transient(k0, times, n_reps, rng, ev_prob, ev_alias, route_ptr, route_prob, route_alias, route_target,
                  rate_total, busy_sum, k_sum, k2_sum):
    """Simulate ``n_reps`` runs from potentials ``k0`` in real time; add snapshots at ``times`` (sorted).

    Adds to ``busy_sum[t, i]`` the count of runs with ``k_i(times[t]) > 0``, and to ``k_sum`` / ``k2_sum``
    the sums of ``k_i`` and ``k_i**2``.
    """
    n_cells = k0.size
    n_events = ev_prob.size
    k = np.empty(n_cells, np.int64)
    for _ in range(n_reps):
        k[:] = k0
        t = 0.0
        nxt = -np.log(1.0 - _next_double(rng)) / rate_total
        for p in range(times.size):
            while nxt <= times[p]:
                x = _next_double(rng) * n_events
                ev = int(x)
                if x - ev >= ev_prob[ev]:
                    ev = ev_alias[ev]
                i = ev // 3
                kind = ev - 3 * i
                if kind == 0:
                    k[i] += 1
                elif k[i] > 0:
                    k[i] -= 1
                    if kind == 2:
                        a = route_ptr[i]
                        m = route_ptr[i + 1] - a
                        y = _next_double(rng) * m
                        s = int(y)
                        if y - s >= route_prob[a + s]:
                            s = route_alias[a + s]
                        code = route_target[a + s]
                        if code >= 0:
                            if code < n_cells:
                                k[code] += 1
                            elif k[code - n_cells] > 0:
                                k[code - n_cells] -= 1
                t = nxt
                nxt = t - np.log(1.0 - _next_double(rng)) / rate_total
            for i in range(n_cells):
                kv = k[i]
                if kv > 0:
                    busy_sum[p, i] += 1
                k_sum[p, i] += kv
                k2_sum[p, i] += kv * kv
