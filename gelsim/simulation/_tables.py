"""Compiling a :class:`~gelsim.Network` into the simulator kernels' tables (see ``_sim_kernels``).

The routing (one alias table per sending cell over its edges and departure) is built once per network;
the external rates change the acceptance constants and the external alias table only, so a model's
instances, which differ in their inputs alone, swap those (:func:`with_inhibition`, :func:`with_external`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from . import _kernels as kern



@dataclass(frozen=True)
class Tables:
    """The network compiled into the kernels' tables."""

    ext_table: np.ndarray   # (M, 3): alias acceptance, own cell, alias cell; over cells with Λ > 0
    ext_rate: float
    cell_const: np.ndarray  # (N, 4): C_ACCEPT, C_INHIB, C_START, C_COUNT, shared by all replications
    bucket_start: np.ndarray  # (MAX_BUCKETS + 1,) int64: each rate bucket's first active-list entry
    bucket_top: np.ndarray    # (MAX_BUCKETS,): each bucket's fastest rate (C_ACCEPT = rate / bucket_top)
    n_buckets: int
    route: np.ndarray       # (S, 3): alias acceptance, own target code, alias target code
    ev_prob: np.ndarray     # uniformised 3N-clock alias table, for the transient kernel
    ev_alias: np.ndarray
    rate_total: float
    n_cells: int


def alias_pack(weights, indptr, payload):
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


def compile_network(net):
    """The :class:`Tables` of ``net``: routing, acceptance constants and external alias table."""
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
    route = alias_pack(route_w, route_ptr, route_code)
    cell_const = np.empty((n, 4))
    kern.ints(cell_const)[:, kern.C_START] = route_ptr[:-1]
    kern.ints(cell_const)[:, kern.C_COUNT] = counts
    base = Tables(ext_table=None, ext_rate=0.0, cell_const=cell_const, bucket_start=None, bucket_top=None,
                  n_buckets=0, route=route, ev_prob=None, ev_alias=None, rate_total=0.0, n_cells=n)
    base = with_inhibition(base, lam_inh, r)
    return with_external(base, lam, lam_inh, r)


def with_inhibition(tables, lam_inh, r):
    """``tables`` with the external inhibition ``lam_inh``: it sets each excited cell's event rate
    ``lam_inh + r``, hence the rate buckets and acceptance constants (a new ``cell_const``; the routing is
    shared)."""
    n = tables.n_cells
    cell_rate = lam_inh + r
    bucket, top, counts = rate_buckets(cell_rate)
    accept = np.divide(cell_rate, top[bucket], out=np.zeros(n), where=cell_rate > 0)
    inhib_share = np.divide(lam_inh, cell_rate, out=np.zeros(n), where=cell_rate > 0)
    cell_const = tables.cell_const.copy()
    cell_const[:, kern.C_ACCEPT] = accept
    cell_const[:, kern.C_INHIB] = accept * inhib_share
    slots = kern.ints(cell_const)[:, kern.C_COUNT] & kern.COUNT_MASK
    n_buckets = int(np.count_nonzero(counts))
    if n_buckets <= 1:  # the kernels then skip the per-bucket bookkeeping
        bucket[:] = kern.ONE_BUCKET
    kern.ints(cell_const)[:, kern.C_COUNT] = slots | (bucket << 32)
    bucket_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return dataclasses.replace(tables, cell_const=cell_const, bucket_start=bucket_start, bucket_top=top,
                               n_buckets=n_buckets)


def rate_buckets(cell_rate):
    """Each cell's rate bucket, the buckets' fastest rates and their sizes (``MAX_BUCKETS`` entries each).

    A bucket holds the cells within a factor of two of one another (power-of-two levels below the fastest
    cell; the last level takes every slower one), unless all rates lie within a factor of four: then one
    bucket holds every cell, since the bookkeeping of two costs more than the rejections it saves
    (measured on 1,000 cells with rates ±50 %: 15.6 M events/s with two buckets, 18.7 M with one). The
    used levels are numbered by decreasing summed rate, so the kernels' scan over buckets usually stops
    at the first. Cells of rate 0 (never chosen) are put in bucket 0 with acceptance 0.
    """
    n = cell_rate.size
    bucket = np.zeros(n, np.int64)
    top = np.zeros(kern.MAX_BUCKETS)
    counts = np.zeros(kern.MAX_BUCKETS, np.int64)
    live = cell_rate > 0
    if not live.any():
        return bucket, top, counts
    level = np.clip(np.floor(np.log2(cell_rate.max() / cell_rate[live])), 0, kern.MAX_BUCKETS - 1).astype(np.int64)
    if level.max() <= 1:
        level[:] = 0  # rates within a factor of 4: one bucket, whose plain rejection is then the faster
    used, which = np.unique(level, return_inverse=True)
    by_rate = np.argsort(-np.bincount(which, weights=cell_rate[live]), kind="stable")
    rank = np.empty(used.size, np.int64)
    rank[by_rate] = np.arange(used.size)
    bucket[live] = rank[which]
    np.maximum.at(top, bucket[live], cell_rate[live])
    counts[:used.size] = np.bincount(bucket[live], minlength=used.size)
    return bucket, top, counts


def with_external(tables, lam, lam_inh, r):
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
    ext_table = (alias_pack(lam[sources], np.array([0, sources.size], np.int64), sources)
                 if sources.size else np.zeros((1, kern.AL_WIDTH)))
    return dataclasses.replace(tables, ext_table=ext_table, ext_rate=float(lam.sum()), ev_prob=ev_prob,
                               ev_alias=ev_alias, rate_total=rate_total)
