"""Suite 2 — the first-order approximation (6) and the LRNN-I cell (7), analytically and on simulated cells."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import generators
from ..steady.cells import first_order, lrnn_i, lrnn_i_linear
from ..network import Network
from ..simulation import simulate
from ..steady import solve
from ._common import Check, Timer, bonferroni_z, bound_check, pyplot, save, say, script_main
from ._common import second_order_check as _second_order_check

SUITE = "approximations"
EPS = np.logspace(-4, -0.3, 12)
#: The order of (6) is fitted over ε <= SMALL_EPS, to within these slope tolerances.
SMALL_EPS = 0.05
CELL_TOLERANCE = 0.1
NETWORK_TOLERANCE = 0.2


def single_cell_errors(eps, ext_exc=1.0, fire_rate=2.0):
    """Exact q = Λ/(r + λ) and approximation (6) for a lone cell with inhibition λ = ε r."""
    exact = ext_exc / (fire_rate * (1 + eps))
    approx = ext_exc / fire_rate * (1 - eps)
    return np.abs(exact - approx), ext_exc / fire_rate * eps**2


def inhibition_family(scale, seed):
    """A 60-cell recurrent network whose inhibition (external and synaptic) is multiplied by ``scale`` <= 1."""
    base = generators.random_recurrent(60, out_degree=6, inhibitory_fraction=0.0, departure=0.5, load=0.2,
                                       ext_inh=0.0, rng=seed)
    gen = np.random.default_rng(seed + 1)
    p_inh = sp.random(60, 60, density=0.1, random_state=gen, data_rvs=gen.random).tocsr()
    rows = np.asarray(p_inh.sum(axis=1)).ravel()
    p_inh = sp.diags(0.5 / np.maximum(rows, 1e-12) * (rows > 0)) @ p_inh
    w_inh = scale * (sp.diags(base.fire_rate) @ p_inh)
    return Network(base.fire_rate, base.w_exc, w_inh, base.ext_exc, scale * base.fire_rate)


def network_errors(scales, seed):
    errors, ratios = [], []
    for s in scales:
        net = inhibition_family(s, seed)
        q = solve(net).q
        errors.append(np.abs(q - first_order(net)).max())
        ratios.append(((net.ext_inh + q @ net.w_inh) / net.fire_rate).max())
    return np.array(errors), np.array(ratios)


def lrnn_i_network(inhibition, n_sources=5, seed=0):
    """Sources (Λ = x_v, r = 1, so q_v = x_v) inhibit one LRNN-I cell (Λ = 1, λ = 0, r = 1)."""
    gen = np.random.default_rng(seed)
    x = gen.uniform(0.3, 0.9, n_sources)
    p = gen.uniform(0.5, 1.0, n_sources)
    p *= inhibition / (p @ x)  # so that Σ_v q_v w-_vh = inhibition
    if p.max() > 1:
        raise ValueError("inhibition too strong for sources with r = 1")
    n = n_sources + 1
    w_inh = np.zeros((n, n))
    w_inh[:n_sources, n_sources] = p
    return Network(np.ones(n), np.zeros((n, n)), w_inh, np.append(x, 1.0)), n_sources


def second_order_check(eps, errors, tolerance, small=None):
    """``(slope, passed)``: over the small ``eps`` (default ``eps <= SMALL_EPS``) the error grows like
    ``eps**2`` (log-log slope 2 within ``tolerance``)."""
    return _second_order_check(eps, errors, tolerance, np.asarray(eps) <= SMALL_EPS if small is None else small)


def run(out, *, quick=False, seed=2026):
    """Run suite 2 and return its checks."""
    checks = []
    with Timer() as t1:
        err, bound = single_cell_errors(EPS)
        slope1, ok1 = second_order_check(EPS, err, CELL_TOLERANCE)
        scales = np.logspace(-4, 0, 9)
        net_err, net_eps = network_errors(scales, seed)
        slope2, ok2 = second_order_check(net_eps, net_err, NETWORK_TOLERANCE, small=scales <= SMALL_EPS)
    fig = _plot_sweep(EPS, err, bound, net_eps, net_err, out)
    checks.append(Check(SUITE, "first-order (6), one cell: O(ε²)",
                        "error of (6) against Eq. (1) grows like ε², ε = inhibition / r (slope over ε <= 0.05)",
                        slope1, f"2 ± {CELL_TOLERANCE}", ok1, seed, t1.seconds, (fig,)))
    worst, ok_bound = bound_check(err, bound)
    checks.append(Check(SUITE, "first-order (6), one cell: bound",
                        "|q - q_(6)| <= (Λ/r) ε² at every ε (the exact error is (Λ/r) ε²/(1+ε))",
                        worst, "<= 1", ok_bound, seed, 0.0, (fig,)))
    checks.append(Check(SUITE, "first-order (6), 60-cell network: O(ε²)",
                        "max-cell error of the network-wide fixed point of (6) grows like ε² (slope over ε <= 0.05)",
                        slope2, f"2 ± {NETWORK_TOLERANCE}", ok2, seed, 0.0, (fig,),
                        f"largest ε in the sweep {net_eps.max():.2f}"))
    checks += _simulated_lrnn_i(out, quick, seed)
    return checks


def _simulated_lrnn_i(out, quick, seed):
    duration = 2e4 if quick else 1e5
    rows, checks = [], []
    for c, x in enumerate((0.05, 0.5)):
        net, h = lrnn_i_network(x, seed=seed + c)
        say(f"{SUITE}: simulating an LRNN-I cell with inhibition Σ w q = {x}")
        with Timer() as timer:
            res = simulate(net, duration=duration, warmup=duration / 10, replications=16, rng=seed + 100 + c,
                           progress=False)
        exact, linear = float(lrnn_i(x)), float(lrnn_i_linear(x))
        z_exact = (res.q[h] - exact) / res.q_se[h]
        # The first-order gap measured on the simulated cell against its prediction x²/(1+x).
        z_gap = ((res.q[h] - linear) - (exact - linear)) / res.q_se[h]
        rows.append((x, res.q[h], res.q_se[h], exact, linear))
        limit = bonferroni_z(4, dof=15)
        checks.append(Check(SUITE, f"LRNN-I (7) simulated, Σw⁻q = {x}",
                            "the simulated cell's P(k > 0) equals 1/(1 + Σ w⁻ q) (z-test), and its gap to the "
                            "linear form 1 - Σ w⁻ q is the predicted x²/(1+x) (16 replications, t(15) thresholds)",
                            float(max(abs(z_exact), abs(z_gap))), f"|z| < {limit:.2f}",
                            bool(max(abs(z_exact), abs(z_gap)) < limit), seed + 100 + c, timer.seconds,
                            details=f"simulated {res.q[h]:.4f} ± {res.q_se[h]:.4f}, exact {exact:.4f}, "
                                    f"linear {linear:.4f}"))
    fig = _plot_lrnn(rows, out)
    return [Check(**{**c.__dict__, "figures": (fig,)}) for c in checks]


def _plot_sweep(eps, err, bound, net_eps, net_err, out):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.3))
    ax.loglog(eps, err, "o-", label="one cell: |q - q_(6)|")
    ax.loglog(eps, bound, "k--", label="bound (Λ/r) ε²")
    ax.loglog(net_eps, net_err, "s-", label="60-cell network: max |q - q_(6)|")
    ax.set_xlabel("ε = inhibitory input / firing rate (largest over cells)")
    ax.set_ylabel("absolute error of the first-order approximation")
    ax.set_title("First-order approximation (6): error is O(ε²)")
    ax.legend()
    return save(fig, out, "first_order_error.png")


def _plot_lrnn(rows, out):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.linspace(0, 0.6, 100)
    ax.plot(grid, lrnn_i(grid), "k-", label="exact 1/(1 + x)")
    ax.plot(grid, lrnn_i_linear(grid), "k--", label="LRNN-I linear form 1 - x")
    for x, q, se, *_ in rows:
        ax.errorbar([x], [q], yerr=[4 * se], fmt="ro", ms=5)
    ax.plot([], [], "ro", label="simulated cell (±4 SE)")
    ax.set_xlabel("inhibitory input x = Σ w⁻ q (spikes per unit time)")
    ax.set_ylabel("P(k > 0) of the LRNN-I cell")
    ax.set_title("LRNN-I cell (7): simulation vs theory")
    ax.legend()
    return save(fig, out, "lrnn_i_simulated.png")


def main(argv=None):
    return script_main(SUITE, run, argv)
