"""Suite 1b — transients of 1–3 cell networks, exactly (matrix exponential) against simulate_transient."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import expm_multiply

from ..network import Network
from ..simulation import simulate_transient
from ._common import Check, Timer, bonferroni_z, pyplot, save, say, script_main

SUITE = "transients"


def generator_matrix(net, cap):
    """Sparse generator of the G-network's CTMC with every potential truncated at ``cap - 1``.

    States are flattened with ``numpy.ravel_multi_index`` over shape ``(cap,) * N``. An excitation that
    would push a potential to ``cap`` is dropped (truncation); keep ``cap`` large enough that
    ``q^cap`` is negligible.
    """
    n = net.n_cells
    shape = (cap,) * n
    states = np.array(list(itertools.product(range(cap), repeat=n)))
    index = np.ravel_multi_index(states.T, shape)
    rows, cols, vals = [], [], []
    p_exc, p_inh = _dense(net.p_exc), _dense(net.p_inh)

    def add(mask, target, rate):
        rate = np.broadcast_to(rate, mask.shape)
        mask = mask & (rate > 0)
        rows.append(index[mask])
        cols.append(np.ravel_multi_index(target[mask].T, shape))
        vals.append(rate[mask])

    for i in range(n):
        up = states.copy()
        up[:, i] += 1
        add(states[:, i] < cap - 1, np.minimum(up, cap - 1), net.ext_exc[i])
        down = states.copy()
        down[:, i] -= 1
        busy = states[:, i] > 0
        add(busy, np.maximum(down, 0), net.ext_inh[i])
        r = net.fire_rate[i]
        add(busy, np.maximum(down, 0), r * net.departure[i])
        for j in range(n):
            exc = np.maximum(down, 0).copy()
            exc[:, j] += 1
            add(busy & (exc[:, j] < cap), np.minimum(exc, cap - 1), r * p_exc[i, j])
            inh = np.maximum(down, 0).copy()
            # Inhibition of an empty cell does nothing: only the firing cell's potential drops.
            inh[:, j] = np.maximum(inh[:, j] - 1, 0)
            add(busy, inh, r * p_inh[i, j])
    rows, cols, vals = map(np.concatenate, (rows, cols, vals))
    keep = rows != cols
    size = cap**n
    q = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(size, size))
    return (q - sp.diags(np.asarray(q.sum(axis=1)).ravel())).tocsr(), states


def _dense(w):
    return w.toarray() if hasattr(w, "toarray") else np.asarray(w)


def exact_transient(net, times, cap):
    """``P(k_i(t) > 0)`` and ``E[k_i(t)]`` from an empty start at equally spaced ``times`` (from 0)."""
    gen, states = generator_matrix(net, cap)
    p0 = np.zeros(gen.shape[0])
    p0[0] = 1.0
    probs = expm_multiply(gen.T.tocsr(), p0, start=times[0], stop=times[-1], num=times.size, endpoint=True)
    return probs @ (states > 0), probs @ states


CASES = {
    "single cell (M/M/1 with inhibition)": dict(fire_rate=[2.0], p_exc=[[0.0]], p_inh=[[0.0]], ext_exc=[1.2],
                                                ext_inh=[0.3]),
    "tandem with inhibitory feedback": dict(fire_rate=[2.0, 1.5], p_exc=[[0.0, 0.8], [0.0, 0.0]],
                                            p_inh=[[0.0, 0.0], [0.4, 0.0]], ext_exc=[1.0, 0.1], ext_inh=[0.1, 0.0]),
    "3-cell recurrent loop": dict(fire_rate=[2.0, 1.5, 1.0], p_exc=[[0.0, 0.5, 0.0], [0.0, 0.0, 0.6], [0.3, 0.0, 0.0]],
                                  p_inh=[[0.0, 0.0, 0.2], [0.1, 0.0, 0.0], [0.0, 0.3, 0.0]], ext_exc=[0.6, 0.2, 0.2],
                                  ext_inh=[0.0, 0.1, 0.0]),
}


def transient_zmax(exact, simulated, se):
    """Largest |simulated - exact| / se over all times and cells (se = 0 only where both are exact)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (simulated - exact) / se, np.where(np.isclose(simulated, exact), 0.0, np.inf))
    return float(np.abs(z).max())


def run(out, *, quick=False, seed=2026):
    """Run suite 1b and return its checks."""
    reps = 4000 if quick else 20000
    times = np.linspace(0.0, 10.0, 41)
    checks, panels = [], []
    for c, (name, spec) in enumerate(CASES.items()):
        net = Network.from_probabilities(**spec)
        cap = 60 if net.n_cells <= 2 else 40
        say(f"{SUITE}: {name}: exact expm on {cap ** net.n_cells} states, {reps} simulated runs")
        with Timer() as timer:
            q_exact, mean_exact = exact_transient(net, times, cap)
            tr = simulate_transient(net, times, replications=reps, rng=seed + c)
        zq = transient_zmax(q_exact, tr.q, tr.q_se)
        zm = transient_zmax(mean_exact, tr.mean_potential, tr.mean_potential_se)
        limit = bonferroni_z(2 * times.size * net.n_cells)
        panels.append((name, q_exact, mean_exact, tr))
        checks.append(Check(SUITE, f"{name}: P(k(t) > 0) and E[k(t)]",
                            f"simulate_transient matches the exact transient (expm of the generator truncated at "
                            f"{cap}) at every time and cell; Bonferroni z over {2 * times.size * net.n_cells} tests",
                            max(zq, zm), f"< {limit:.2f}", max(zq, zm) < limit, seed + c, timer.seconds,
                            details=f"max |z| for P(k>0): {zq:.2f}, for E[k]: {zm:.2f}"))
    fig = _plot(times, panels, out)
    return [Check(**{**c.__dict__, "figures": (fig,)}) for c in checks]


def _plot(times, panels, out):
    plt = pyplot()
    fig, axes = plt.subplots(2, len(panels), figsize=(4.5 * len(panels), 6.5))
    for col, (name, q_exact, mean_exact, tr) in enumerate(panels):
        for i in range(q_exact.shape[1]):
            line, = axes[0, col].plot(times, q_exact[:, i], "-", label=f"cell {i} exact")
            axes[0, col].errorbar(times, tr.q[:, i], yerr=2 * tr.q_se[:, i], fmt=".", color=line.get_color(),
                                  ms=3, label=f"cell {i} simulated ±2 SE")
            axes[1, col].plot(times, mean_exact[:, i], "-", color=line.get_color())
            axes[1, col].errorbar(times, tr.mean_potential[:, i], yerr=2 * tr.mean_potential_se[:, i], fmt=".",
                                  color=line.get_color(), ms=3)
        axes[0, col].set_title(name, fontsize=9)
        axes[0, col].set_ylabel("P(k_i(t) > 0)")
        axes[1, col].set_ylabel("E[k_i(t)]")
        axes[1, col].set_xlabel("time t (from an empty network)")
        axes[0, col].legend(fontsize=6)
    fig.suptitle("Transients: simulation (dots, ±2 SE) against the matrix exponential (lines)")
    return save(fig, out, "transients.png")


def main(argv=None):
    return script_main(SUITE, run, argv)
