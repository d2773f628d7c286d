"""Suite 3 — the three-cell ReLU cluster (8): ϕ(XW+, XW-) ≈ 1 - ReLU(XW), analytically and as spiking cells."""

from __future__ import annotations

import numpy as np

from ..steady.cells import relu_cluster
from ..network import Network
from ..simulation import simulate
from ._common import Check, Timer, bonferroni_z, bound_check, pyplot, save, say, script_main, second_order_check

SUITE = "relu_cluster"
SUM_EXC = np.logspace(-3, 0, 10)
#: The order of the cluster's error is fitted over sum(W+) <= SMALL_SUM, to within SLOPE_TOLERANCE.
SMALL_SUM = 0.1
SLOPE_TOLERANCE = 0.15


def order_check(sum_exc, errors):
    """``(slope, passed)``: over ``sum_exc <= SMALL_SUM`` the cluster's error shrinks like ``sum_exc**2``."""
    return second_order_check(sum_exc, errors, SLOPE_TOLERANCE, np.asarray(sum_exc) <= SMALL_SUM)


def cluster_bound_check(sum_exc, errors):
    """``(worst ratio, passed)``: the error is at most ``sum_exc**2`` at every point of the sweep."""
    return bound_check(errors, np.asarray(sum_exc) ** 2)


def cluster_error(X, direction, sum_exc):
    """Max |ϕ(XW+, XW-) - (1 - ReLU(XW))| for ``W = c · direction`` scaled so that sum(W+) = ``sum_exc``.

    Scaling W as a whole keeps the share of inputs with XW > 0 (where the error lives) fixed.
    """
    wp, wm = np.maximum(direction, 0), np.maximum(-direction, 0)
    c = sum_exc / wp.sum()
    wp, wm = c * wp, c * wm
    out = relu_cluster(X @ wp, X @ wm)
    return float(np.abs(out - (1 - np.maximum(X @ (wp - wm), 0))).max()), out, X @ (wp - wm)


def cluster_network(x, wp, wm):
    """Spiking network of the cluster: V sources (Λ = x_v, r = 1), LRNN-E cell 1, LRNN-I cell 2, LRNN-E cell 3.

    Source v excites cell 1 with weight W-_v and inhibits cell 2 with weight W+_v; cells 1 and 2
    excite cell 3 with weight 1, so q3 = min(q1 + q2, 1) with q1 = XW-, q2 = 1 / (1 + XW+).
    """
    v = x.size
    n = v + 3
    c1, c2, c3 = v, v + 1, v + 2
    w_exc, w_inh = np.zeros((n, n)), np.zeros((n, n))
    w_exc[:v, c1] = wm
    w_inh[:v, c2] = wp
    w_exc[c1, c3] = 1.0
    w_exc[c2, c3] = 1.0
    lam = np.zeros(n)
    lam[:v] = x
    lam[c2] = 1.0
    return Network(np.ones(n), w_exc, w_inh, lam), (c1, c2, c3)


def run(out, *, quick=False, seed=2026):
    """Run suite 3 and return its checks."""
    gen = np.random.default_rng(seed)
    X = gen.uniform(0, 1, (2000, 25))
    direction = gen.normal(size=25)
    direction[direction < 0] *= 0.5  # keep sum(W-) <= sum(W+), so sum(W-) <= 1 across the sweep
    with Timer() as timer:
        errors = np.array([cluster_error(X, direction, s)[0] for s in SUM_EXC])
    slope, slope_ok = order_check(SUM_EXC, errors)
    worst, bound_ok = cluster_bound_check(SUM_EXC, errors)
    fig = _plot(X, direction, errors, out)
    checks = [
        Check(SUITE, "ReLU cluster: error O(sum(W+)²)",
              "max |ϕ - (1 - ReLU(XW))| over 2000 random X in [0,1]^25 shrinks like sum(W+)² (slope, sum(W+) <= 0.1)",
              slope, f"2 ± {SLOPE_TOLERANCE}", slope_ok, seed, timer.seconds, (fig,)),
        Check(SUITE, "ReLU cluster: bound",
              "max |ϕ - (1 - ReLU(XW))| <= sum(W+)² at every sum(W+) (error is a²/(1+a) with a = XW+ <= sum(W+))",
              worst, "<= 1", bound_ok, seed, 0.0, (fig,)),
    ]
    checks.append(_simulated(out, quick, seed))
    return checks


def _simulated(out, quick, seed):
    gen = np.random.default_rng(seed + 1)
    v = 6
    direction = np.array([1.0, 0.8, -0.3, 0.6, -0.2, 0.9])
    wp, wm = np.maximum(direction, 0), np.maximum(-direction, 0)
    wp, wm = wp / wp.sum() * 0.3, wm / wm.sum() * 0.1  # XW > 0 for typical inputs: q3 in about [0.8, 0.95]
    inputs = gen.uniform(0.2, 1.0, (4, v))
    inputs[3] = np.where(direction < 0, 1.0, 0.05)  # XW < 0: cell 3 saturates, ϕ = 1
    duration = 2e4 if quick else 1e5
    zs, rows = [], []
    with Timer() as timer:
        for d, x in enumerate(inputs):
            net, (c1, c2, c3) = cluster_network(x, wp, wm)
            say(f"{SUITE}: simulating the spiking cluster for input {d}")
            res = simulate(net, duration=duration, warmup=duration / 10, replications=16, rng=seed + 200 + d,
                           progress=False)
            target = float(relu_cluster(x @ wp, x @ wm))
            for cell, value in ((c1, x @ wm), (c2, 1 / (1 + x @ wp))):
                zs.append(abs(res.q[cell] - value) / res.q_se[cell])
            if target < 1:
                zs.append(abs(res.q[c3] - target) / res.q_se[c3])
                rows.append((x @ (wp - wm), res.q[c3], res.q_se[c3], target, False))
            else:
                zs.append(0.0 if res.saturated[c3] else np.inf)  # the cluster output is the saturated cell
                rows.append((x @ (wp - wm), res.q[c3], res.q_se[c3], target, bool(res.saturated[c3])))
    limit = bonferroni_z(len(zs), dof=15)
    fig = _plot_sim(rows, out)
    z = float(max(zs))
    return Check(SUITE, "spiking cluster converges to ϕ",
                 "for 4 inputs, simulated q1, q2, q3 equal XW⁻, 1/(1+XW⁺) and ϕ (z-tests, Bonferroni); where XW < 0 "
                 "cell 3 is reported saturated (ϕ = 1); 16 replications, t(15) thresholds", z, f"< {limit:.2f}", z < limit, seed + 200,
                 timer.seconds, (fig,))


def _plot(X, direction, errors, out):
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    a.loglog(SUM_EXC, errors, "o-", label="max |ϕ - (1 - ReLU(XW))|")
    a.loglog(SUM_EXC, SUM_EXC**2, "k--", label="bound sum(W+)²")
    a.set_xlabel("sum(W+) (W scaled as a whole)")
    a.set_ylabel("absolute error")
    a.set_title("ReLU cluster (8): error vs sum(W+)")
    a.legend()
    for s, style in ((0.1, "."), (1.0, "x")):
        _, phi_out, pre = cluster_error(X, direction, s)
        b.plot(1 - np.maximum(pre, 0), phi_out, style, ms=3, alpha=0.5, label=f"sum(W+) = {s}")
    b.plot([0, 1], [0, 1], "k--", lw=1)
    b.set_xlabel("1 - ReLU(XW)")
    b.set_ylabel("ϕ(XW+, XW-)")
    b.set_title("Cluster output vs gray-inverted ReLU")
    b.legend()
    return save(fig, out, "relu_cluster.png")


def _plot_sim(rows, out):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.linspace(-0.15, 0.3, 200)
    ax.plot(grid, 1 - np.maximum(grid, 0), "k--", label="1 - ReLU(XW)")
    for pre, q, se, target, sat in rows:
        ax.plot([pre], [target], "bs", ms=6)
        ax.errorbar([pre], [q], yerr=[4 * se], fmt="ro" if not sat else "r^", ms=4)
    ax.plot([], [], "bs", label="ϕ analytic")
    ax.plot([], [], "ro", label="spiking cluster (±4 SE)")
    ax.set_xlabel("pre-activation XW")
    ax.set_ylabel("output cell q3")
    ax.set_title("Three-cell cluster simulated spike by spike")
    ax.legend()
    return save(fig, out, "relu_cluster_simulated.png")


def main(argv=None):
    return script_main(SUITE, run, argv)
