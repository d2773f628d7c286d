"""Simulator benchmark (issue #3): events per second on one core, as ratios measured in the same run.

  (a) gelsim vs a plain-Python Gillespie (direct method) simulator of the same 100-cell network
  (b) gelsim vs Ciw on an open Jackson network of 10 M/M/1 nodes (excitatory routing only, where the
      G-network is a Jackson network): events per second and error against the exact utilisations
  (c) absolute rates: 1,000-cell and 10^6-cell random recurrent networks (targets >= 20 M and >= 5 M
      state-changing events per second on one core). On 10^6 cells both one replication alone and the
      default 8 replications (interleaved in one kernel on one core, which hides memory latency) are shown.
  (e) rates spread over three decades (10^5 cells, as in convolutional models): the simulator's rate
      buckets against plain rejection against the fastest cell (one bucket), measured in the same run
  (d) Numba compile time: cold (empty cache) and warm (cache=True) import-and-first-call

Run:  python benchmarks/simulator.py [--quick]      (Ciw is optional: pip install ciw)
Wall times are medians over repeats; compare ratios, the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import gelsim


def gelsim_rate(net, duration, repeat, replications=1):
    """Median state-changing events per second of gelsim on one core (one worker thread)."""
    with ThreadPoolExecutor(max_workers=1) as one_core:
        gelsim.simulate(net, duration=duration / 100, replications=replications, rng=0,
                        executor=one_core)  # compile / load cache
        rates, res = [], None
        for seed in range(repeat):
            res = gelsim.simulate(net, duration=duration, warmup=0.0, replications=replications, rng=seed,
                                  executor=one_core)
            rates.append(res.events / res.wall_time)
    return statistics.median(rates), res


def python_gillespie(net, n_events, seed=0):
    """Plain-Python direct-method Gillespie simulation: O(N) selection per event, as written by hand."""
    rng = random.Random(seed)
    n = net.n_cells
    lam, lam_inh, r = net.ext_exc.tolist(), net.ext_inh.tolist(), net.fire_rate.tolist()
    p_exc, p_inh = net.p_exc, net.p_inh
    routes = []
    for i in range(n):
        row_e = p_exc[i].toarray().ravel() if hasattr(p_exc, "toarray") else p_exc[i]
        row_i = p_inh[i].toarray().ravel() if hasattr(p_inh, "toarray") else p_inh[i]
        targets = [(j, 1) for j in np.flatnonzero(row_e)] + [(j, -1) for j in np.flatnonzero(row_i)]
        weights = [row_e[j] for j in np.flatnonzero(row_e)] + [row_i[j] for j in np.flatnonzero(row_i)]
        routes.append((targets + [(None, 0)], weights + [max(1.0 - sum(weights), 0.0)]))
    k = [0] * n
    t = 0.0
    busy = [0.0] * n
    done = 0
    while done < n_events:
        rates = []
        for i in range(n):
            active = k[i] > 0
            rates += [lam[i], lam_inh[i] if active else 0.0, r[i] if active else 0.0]
        total = sum(rates)
        dt = rng.expovariate(total)
        for i in range(n):
            if k[i] > 0:
                busy[i] += dt
        t += dt
        u = rng.random() * total
        acc = 0.0
        for ev, rate in enumerate(rates):
            acc += rate
            if u < acc:
                break
        i, kind = divmod(ev, 3)
        if kind == 0:
            k[i] += 1
        else:
            k[i] -= 1
            if kind == 2:
                targets, weights = routes[i]
                j, sign = rng.choices(targets, weights)[0]
                if sign > 0:
                    k[j] += 1
                elif sign < 0 and k[j] > 0:
                    k[j] -= 1
        done += 1
    return done, t


def bench_python(n_events, repeat):
    net = gelsim.generators.random_recurrent(100, rng=3)
    times = []
    for seed in range(repeat):
        start = time.perf_counter()
        done, _ = python_gillespie(net, n_events, seed)
        times.append(time.perf_counter() - start)
    py_rate = n_events / statistics.median(times)
    g_rate, _ = gelsim_rate(net, duration=2e4, repeat=repeat)
    print(f"(a) 100-cell network: plain Python {py_rate:,.0f} events/s, gelsim {g_rate:,.0f} events/s "
          f"-> {g_rate / py_rate:,.0f}x")
    return g_rate / py_rate


def bench_ciw(sim_time, repeat):
    try:
        import ciw
    except ImportError:
        print("(b) Ciw not installed (pip install ciw): skipped")
        return None
    net = gelsim.generators.jackson(10, utilisation=0.7, rng=1)
    exact = gelsim.solve(net).q
    mu = net.fire_rate
    lam = net.ext_exc
    p = net.p_exc
    # Expected state-changing events per unit time: arrivals plus service completions.
    event_rate = float(lam.sum() + (exact * mu).sum())
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=float(x)) for x in lam],
        service_distributions=[ciw.dists.Exponential(rate=float(x)) for x in mu],
        routing=[list(map(float, row)) for row in p],
        number_of_servers=[1] * 10)
    ciw_times, ciw_err = [], []
    for seed in range(repeat):
        ciw.seed(seed)  # Ciw seeds globally; only here, in the benchmark
        sim = ciw.Simulation(network)
        start = time.perf_counter()
        sim.simulate_until_max_time(sim_time)
        ciw_times.append(time.perf_counter() - start)
        busy = np.zeros(10)
        for rec in sim.get_all_records():
            s, e = rec.service_start_date, min(rec.service_end_date, sim_time)
            if e > s:
                busy[rec.node - 1] += e - s
        ciw_err.append(np.abs(busy / sim_time - exact).max())
    ciw_rate = event_rate * sim_time / statistics.median(ciw_times)
    g_rate, res = gelsim_rate(net, duration=sim_time * 200, repeat=repeat)
    g_small = gelsim.simulate(net, duration=sim_time, warmup=0.0, replications=1, rng=0)
    print(f"(b) Jackson 10 nodes: Ciw {ciw_rate:,.0f} events/s (max |rho - exact| {statistics.median(ciw_err):.4f} "
          f"over T={sim_time:g}); gelsim {g_rate:,.0f} events/s (max error {np.abs(g_small.q - exact).max():.4f} "
          f"over the same T, {np.abs(res.q - exact).max():.5f} over T={sim_time * 200:g}) -> {g_rate / ciw_rate:,.0f}x")
    return g_rate / ciw_rate


def bench_large(quick, repeat):
    """Rates on random recurrent networks; the first row of each size is the one judged against the target.

    The default generator draws firing rates over ±50 %; choosing the next active cell then needs about 1.5
    rejection tries, so an equal-rate 1,000-cell network is also shown for comparison.
    """
    rates = {}
    cases = [("1,000 cells, rates ±50 %", 1000, {}, 1e5 if not quick else 2e3, 1),
             ("1,000 cells, equal rates", 1000, dict(rate_spread=0.0), 1e5 if not quick else 2e3, 1),
             ("10^6 cells, 1 replication", 1_000_000, {}, 50 if not quick else 2, 1),
             ("10^6 cells, 8 replications", 1_000_000, {}, 50 if not quick else 2, 8)]
    nets = {}
    for label, n, kwargs, duration, replications in cases:
        key = (n, tuple(kwargs.items()))
        if key not in nets:
            nets[key] = gelsim.generators.random_recurrent(n, out_degree=10, rng=0, **kwargs)
        rate, res = gelsim_rate(nets[key], duration, repeat, replications)
        rates[label] = rate
        print(f"(c) {label:<28}: {rate / 1e6:6.2f} M events/s on one core ({res.events:,} events in "
              f"{res.wall_time:.2f} s, table building included)")
    return rates


def bench_wide_rates(quick, repeat):
    """Events per second on 10^5 cells whose rates span three decades: rate buckets (composition-rejection)
    against one bucket, i.e. rejection against the fastest cell, which needs about as many tries per event
    as the ratio of the fastest rate to the mean."""
    from gelsim.simulation import _kernels as kern

    net = gelsim.generators.random_recurrent(100_000, out_degree=10, rate_decades=3, rng=0)
    ss = gelsim.solve(net)
    events_per_time = float(net.ext_exc.sum() + (net.fire_rate + net.ext_inh) @ ss.q)
    duration = (2e5 if quick else 2e6) / events_per_time
    buckets, _ = gelsim_rate(net, duration, repeat)
    default = kern.MAX_BUCKETS
    kern.MAX_BUCKETS = 1  # read when the tables are built: every cell in one bucket
    try:
        plain, _ = gelsim_rate(net, duration, repeat)
    finally:
        kern.MAX_BUCKETS = default
    print(f"(e) 10^5 cells, rates over 3 decades: {buckets / 1e6:.2f} M events/s with rate buckets, "
          f"{plain / 1e6:.2f} M with rejection against the fastest cell")
    return buckets, plain


def bench_compile():
    code = ("import time; t=time.perf_counter(); import gelsim; "
            "gelsim.simulate(gelsim.generators.line_tandem(), duration=1.0, replications=2, rng=0); "
            "print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout)
        warm = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout)
    print(f"(d) import + first simulate: {cold:.2f} s with an empty Numba cache, {warm:.2f} s with it warm")
    return cold, warm


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="shorter runs")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    cold, warm = bench_compile()
    ratio_py = bench_python(20_000 if args.quick else 100_000, args.repeat)
    ratio_ciw = bench_ciw(2_000 if args.quick else 10_000, args.repeat)
    rates = bench_large(args.quick, args.repeat)
    wide, plain = bench_wide_rates(args.quick, args.repeat)
    print()
    print(f"{'figure':<44}{'value':>14}{'target':>12}  met")
    rows = [("gelsim / plain-Python Gillespie", ratio_py, "(report)", True),
            ("gelsim / Ciw events per second", ratio_ciw, ">= 500", ratio_ciw is not None and ratio_ciw >= 500),
            ("M events/s, 1,000 cells, one core", rates["1,000 cells, rates ±50 %"] / 1e6, ">= 20",
             rates["1,000 cells, rates ±50 %"] >= 20e6),
            ("  (same, equal firing rates)", rates["1,000 cells, equal rates"] / 1e6, "(report)", True),
            ("M events/s, 10^6 cells, one core (8 reps)", rates["10^6 cells, 8 replications"] / 1e6, ">= 5",
             rates["10^6 cells, 8 replications"] >= 5e6),
            ("  (same, one replication alone)", rates["10^6 cells, 1 replication"] / 1e6, "(report)", True),
            ("rates over 3 decades: buckets / plain rejection", wide / plain, "(report)", True),
            ("compile s (cold cache / warm cache)", cold, f"warm {warm:.2f}", True)]
    for name, value, target, ok in rows:
        shown = "n/a" if value is None else f"{value:,.1f}"
        print(f"{name:<44}{shown:>14}{target:>12}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
