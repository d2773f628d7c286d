"""Gradient benchmark: steady_state_vjp against Gelenbe's matrix-inverse formula and against solve itself.

1. A batch of 100 input patterns on a dense recurrent network of 1,000 cells: the gradient of <c, q> with
   respect to every weight and input, by gelsim's adjoint solves against Gelenbe's (1993) formula, which
   inverts I - J once per pattern (the same products follow from the inverse). Target: >= 20x faster.
2. One pattern on a sparse recurrent network of 10^5 cells: steady_state_vjp's time as a multiple of
   gelsim.solve's on the same network. Target: <= 3x.
Medians of 3 runs, both sides timed in this run.

Run:  python benchmarks/learning.py
"""

from __future__ import annotations

import time

import numpy as np

import gelsim


def median_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def gelenbe_formula(net, C, E):
    """Weight and input gradients for each pattern from the explicit inverse of I - J (Gelenbe 1993);
    saturated cells are pinned at q = 1 (zero rows of J), as in steady_state_vjp."""
    ss = gelsim.solve(net, ext_exc=E)
    Q = ss.q
    W, Wm = np.asarray(net.w_exc), np.asarray(net.w_inh)
    g_exc = np.zeros_like(W)
    g_lam = np.empty_like(E)
    for d in range(E.shape[0]):
        q = Q[d]
        D = net.fire_rate + net.ext_inh + Wm.T @ q
        free = ~ss.saturated[d]
        J = (W.T - q[:, None] * Wm.T) / D[:, None] * free[:, None]
        inverse = np.linalg.inv(np.eye(q.size) - J)
        u = (C[d] @ inverse) / D * free
        g_exc += np.outer(q, u)
        g_lam[d] = u
    return g_exc, g_lam


def main():
    rng = np.random.default_rng(0)
    n, patterns = 1000, 100
    dense = gelsim.generators.random_recurrent(n, out_degree=n // 10, rng=1)
    dense = gelsim.Network(fire_rate=dense.fire_rate, w_exc=dense.w_exc.toarray(), w_inh=dense.w_inh.toarray(),
                           ext_exc=dense.ext_exc, ext_inh=dense.ext_inh)
    E = rng.uniform(0, 1, (patterns, n)) * dense.ext_exc.max()
    C = rng.normal(size=(patterns, n))
    g = gelsim.steady_state_vjp(dense, C, ext_exc=E)
    ref_exc, ref_lam = gelenbe_formula(dense, C, E)
    err = max(np.abs(g.w_exc - ref_exc).max() / np.abs(ref_exc).max(), np.abs(g.ext_exc - ref_lam).max() /
              np.abs(ref_lam).max())
    t_ours = median_time(lambda: gelsim.steady_state_vjp(dense, C, ext_exc=E))
    t_gel = median_time(lambda: gelenbe_formula(dense, C, E))
    print(f"dense {n} cells, {patterns} patterns: steady_state_vjp {t_ours:.2f} s, Gelenbe's inverse formula "
          f"{t_gel:.2f} s -> {t_gel / t_ours:.1f}x (target >= 20x); max relative difference {err:.1e}")

    sparse = gelsim.generators.random_recurrent(100_000, out_degree=10, rng=2)
    c = rng.normal(size=sparse.n_cells)
    ss = gelsim.solve(sparse)
    t_solve = median_time(lambda: gelsim.solve(sparse))
    t_vjp = median_time(lambda: gelsim.steady_state_vjp(sparse, c, steady_state=ss))
    print(f"sparse 10^5 cells: solve {t_solve:.2f} s, steady_state_vjp (given the solution) {t_vjp:.2f} s -> "
          f"{t_vjp / t_solve:.2f}x solve's time (target <= 3x)")


if __name__ == "__main__":
    main()
