"""Compiling a :class:`~gelsim.Network` into the simulator kernels' tables (see ``_sim_kernels``).

The routing (one alias table per sending cell over its edges and departure) is built once per network;
the external rates change the acceptance constants and the external alias table only, so a model's
instances, which differ in their inputs alone, swap those (:func:`with_inhibition`, :func:`with_external`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from . import _sim_kernels as kern


@dataclass(frozen=True)
class Tables:
    """The network compiled into the kernels' tables."""

    ext_table: np.ndarray   # (M, 3): alias acceptance, own cell, alias cell; over cells with Λ > 0
    ext_rate: float
    cell_const: np.ndarray  # (N, 4): C_ACCEPT, C_INHIB, C_START, C_COUNT, shared by all replications
    rate_max: float
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
    base = Tables(None, 0.0, cell_const, 0.0, route, None, None, 0.0, n)
    base = with_inhibition(base, lam_inh, r)
    return with_external(base, lam, lam_inh, r)


def with_inhibition(tables, lam_inh, r):
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
