"""Solver benchmark: cost of ``gelsim.solve`` in units of one mat-vec measured in the same run.

Cases (issue #2):
  1. random sparse recurrent network, 10^6 cells, ~10 out-edges per cell, solved to 1e-10:
     wall time / (time of one stacked sparse mat-vec)   target <= 60
  2. dense 2,000-cell network: the same ratio
  3. hard case (spectral radius of the linearised map near 1): mat-vecs of plain Jacobi (Picard)
     iteration / mat-vecs of gelsim's default solver        target >= 10

Run:  python benchmarks/solver.py [--cells 1000000] [--repeat 3]
Times are medians over --repeat runs; the machine is shared, so compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import gelsim
from gelsim import ConvergenceWarning


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matvec_ratio(name, net, repeat, tol=1e-10):
    wt = net.stacked_transpose()
    q = np.random.default_rng(0).uniform(0, 1, net.n_cells)
    t_mv = median_time(lambda: wt @ q, max(repeat, 5))      # one product with [W+ | W-], as an iteration does
    ss = None

    def run():
        nonlocal ss
        ss = gelsim.solve(net, tol=tol)

    t_solve = median_time(run, repeat)
    ratio = t_solve / t_mv
    print(f"{name}: solve {t_solve:.3f} s = {ratio:.1f} mat-vecs of {t_mv * 1e3:.2f} ms "
          f"(F evaluations {ss.matvecs:.0f}, residual {ss.residual:.1e}, saturated {int(ss.saturated.sum())})")
    return ratio


def spectral_radius(net, q):
    """Spectral radius of the Jacobian of F at q (unsaturated cells), by ARPACK."""
    r = net.fire_rate
    num = net.ext_exc + q @ net.w_exc
    den = r + net.ext_inh + q @ net.w_inh
    f = np.minimum(num / den, 1.0)
    free = (num < den).astype(float)
    jac = (sp.csr_matrix(net.w_exc).T - sp.diags(f) @ sp.csr_matrix(net.w_inh).T)
    jac = sp.diags(free / den) @ jac
    vals = spla.eigs(jac, k=1, which="LM", return_eigenvectors=False, tol=1e-6, maxiter=5000)
    return float(np.abs(vals).max())


def hard_case(n, repeat):
    net = gelsim.generators.random_recurrent(n, departure=0.002, inhibitory_fraction=0.0, load=0.0006,
                                             ext_inh=0.0, rng=0)
    fast = gelsim.solve(net, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        slow = gelsim.solve(net, tol=1e-10, method="picard", max_iter=100_000)
    rho = spectral_radius(net, fast.q)
    t_fast = median_time(lambda: gelsim.solve(net, tol=1e-10), repeat)
    t_slow = median_time(lambda: gelsim.solve(net, tol=1e-10, method="picard", max_iter=100_000), 1)
    ratio = slow.matvecs / fast.matvecs
    print(f"hard case (N={n}, spectral radius {rho:.5f}): Jacobi {slow.matvecs:.0f} mat-vecs "
          f"({t_slow:.2f} s, converged={slow.converged}) vs gelsim {fast.matvecs:.0f} ({t_fast:.3f} s): "
          f"{ratio:.0f}x fewer mat-vecs, max |dq| {np.abs(fast.q - slow.q).max():.1e}")
    return ratio


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=1_000_000)
    p.add_argument("--dense-cells", type=int, default=2000)
    p.add_argument("--hard-cells", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    t = time.perf_counter()
    big = gelsim.generators.random_recurrent(args.cells, out_degree=10, rng=0)
    print(f"built {big!r} in {time.perf_counter() - t:.1f} s")
    r1 = matvec_ratio(f"sparse N={args.cells}", big, args.repeat)
    dense = gelsim.generators.random_recurrent(args.dense_cells, out_degree=50, sparse=False, rng=1)
    r2 = matvec_ratio(f"dense N={args.dense_cells}", dense, args.repeat)
    r3 = hard_case(args.hard_cells, args.repeat)
    print()
    print(f"{'case':<32}{'ratio':>10}{'target':>12}  met")
    for name, ratio, target, ok in [
        ("sparse 10^6: solve / mat-vec", r1, "<= 60", r1 <= 60),
        ("dense 2000: solve / mat-vec", r2, "(report)", True),
        ("hard: Jacobi / gelsim mat-vecs", r3, ">= 10", r3 >= 10),
    ]:
        print(f"{name:<32}{ratio:>10.1f}{target:>12}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
