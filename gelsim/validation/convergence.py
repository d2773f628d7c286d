"""Suite 1 — convergence of simulated time averages to the analytic q, product form, DSMTS-style moments."""

from __future__ import annotations

import numpy as np
from scipy import stats

from .. import generators
from ..network import Network
from ..simulation import simulate
from ..steady import solve
from ..simulation import simulate_transient
from ._common import (ALPHA, Check, Timer, bonferroni_z, excursion_check, geometric_chi2, p_value_passes, pyplot,
                      save, say, script_main, z_normality)

SUITE = "convergence"
NEAR_SATURATED_Q = 0.95


def special_network(n, seed):
    """Random recurrent network whose cell 0 is saturated (q = 1) and cell 1 near-saturated (q = 0.95)."""
    net = generators.random_recurrent(n, out_degree=min(10, n), load=0.15, inhibitory_fraction=0.3, rng=seed)
    lam = np.array(net.ext_exc)  # writable copy
    for _ in range(60):
        ss = solve(Network(net.fire_rate, net.w_exc, net.w_inh, lam, net.ext_inh))
        x_exc = (ss.q @ net.w_exc)[[0, 1]]
        x_inh = (ss.q @ net.w_inh)[[0, 1]]
        den = net.fire_rate[[0, 1]] + net.ext_inh[[0, 1]] + x_inh
        lam[0] = 2.0 * den[0]  # twice what cell 0 can fire away: saturated
        lam[1] = max(NEAR_SATURATED_Q * den[1] - x_exc[1], 0.0)
    return Network(net.fire_rate, net.w_exc, net.w_inh, lam, net.ext_inh)


def rms_slope(x, rms, n_independent):
    """Log-log slope of RMS errors against ``x`` and its standard error from the RMS's own sampling noise.

    The RMS of ``m`` independent errors has ``sd(log RMS) ≈ 1 / sqrt(2 m)``, so the least-squares slope has
    standard error ``1 / sqrt(2 m) / sqrt(Σ (log x - mean)²)``: a band that does not rest on the
    residuals of a fit through a handful of points.
    """
    lx = np.log(np.asarray(x, float))
    slope = float(np.polyfit(lx, np.log(rms), 1)[0])
    se = 1.0 / np.sqrt(2.0 * n_independent) / np.sqrt(np.sum((lx - lx.mean()) ** 2))
    return slope, float(se)


def slope_passes(slope, stderr, expected=-0.5, floor=0.05):
    """The fitted slope is within ``max(3 stderr, floor)`` of the expected one."""
    return abs(slope - expected) <= max(3 * stderr, floor)


def run_convergence(out, quick, seed):
    sizes = (10, 100) if quick else (10, 100, 1000)
    durations = np.array([30, 100, 300, 1000] if quick else [30, 100, 300, 1000, 3000, 10000], float)
    reps = 16
    checks, curves, z_all, scatter = [], {}, [], None
    with Timer() as timer:
        for n in sizes:
            net = special_network(n, seed + n)
            ss = solve(net)
            ok = ~ss.saturated
            # Cells near q = 1 relax over thousands of time units: over shorter runs their error cannot
            # fall like T^(-1/2) yet, so the slope is fitted on the others (all cells enter the z-scores).
            fast = ok & (ss.q < 0.9)
            rms, worst = [], []
            for j, T in enumerate(durations):
                say(f"{SUITE}: N={n}, T={T:g} ({reps} replications)")
                res = simulate(net, duration=T, warmup=0.0, replications=reps, initial="stationary",
                               rng=seed + 7919 * n + j, progress=False)
                err = res.q[fast] - ss.q[fast]
                rms.append(np.sqrt(np.mean(err**2)))
                worst.append(np.abs(err).max())
            z_all.append((res.q[ok] - ss.q[ok]) / res.q_se[ok])
            curves[n] = (np.array(rms), np.array(worst), int(fast.sum()))
            sat_ok = bool(res.saturated[0] and ss.saturated[0] and not res.saturated[1:].any())
            checks.append(Check(SUITE, f"saturated cell reported (N={n})",
                                "the simulator flags exactly the cell that Eq. (1) saturates", float(sat_ok),
                                "= 1", sat_ok, seed))
            if n == max(sizes):
                scatter = (ss.q, res.q, res.q_se, ss.saturated)
    fig_err = _plot_errors(durations, curves, out)
    for n, (rms, worst, m) in curves.items():
        slope, se = rms_slope(durations, rms, m)
        checks.append(Check(SUITE, f"RMS error slope vs time (N={n})",
                            "RMS |q_sim - q| over cells with q < 0.9 falls like T^(-1/2) (slope -0.5 within "
                            "max(3 SE, 0.05); SE from the RMS's sampling noise)",
                            slope, f"-0.5 ± {max(3 * se, 0.05):.3f}", slope_passes(slope, se), seed,
                            timer.seconds / len(sizes), (fig_err,), f"slope SE {se:.3f} over {m} cells"))
    z = np.concatenate(z_all)
    p = z_normality(z, dof=reps - 1)
    fig_z = _plot_z(z, reps, out)
    fig_sc = _plot_scatter(*scatter, out)
    checks.append(Check(SUITE, "z-scores calibrated",
                        f"z = (q_sim - q)/se over {z.size} cells follows Student t({reps - 1}) (KS test)", p,
                        f"p > {ALPHA}", p_value_passes(p), seed, 0.0, (fig_z, fig_sc),
                        f"mean z² {np.mean(z**2):.3f} (expected {(reps - 1) / (reps - 3):.3f})"))
    return checks


def product_form_network(seed):
    return Network.from_probabilities(
        fire_rate=[2.0, 1.5, 1.0, 1.2],
        p_exc=[[0.1, 0.3, 0.0, 0.2], [0.0, 0.0, 0.5, 0.0], [0.3, 0.0, 0.0, 0.3], [0.0, 0.4, 0.0, 0.0]],
        p_inh=[[0.0, 0.0, 0.2, 0.0], [0.2, 0.0, 0.0, 0.1], [0.0, 0.2, 0.0, 0.0], [0.0, 0.0, 0.3, 0.0]],
        ext_exc=[0.5, 0.3, 0.2, 0.3], ext_inh=[0.1, 0.0, 0.1, 0.05])


def run_product_form(out, quick, seed):
    net = product_form_network(seed)
    q = solve(net).q
    reps = 2000 if quick else 8000
    say(f"{SUITE}: product form, {reps} independent runs of a 4-cell recurrent network from empty")
    with Timer() as timer:
        res = simulate(net, duration=200.0, warmup=0.0, replications=reps, rng=seed + 1, hist_size=2,
                       progress=False)
    k = res.final_potential
    pvals = np.array([geometric_chi2(k[:, i], q[i]) for i in range(net.n_cells)])
    fig = _plot_marginals(k, q, out)
    p_min = float(pvals.min() * net.n_cells)
    checks = [Check(SUITE, "product form: geometric marginals",
                    "k_i(200) from an empty start is geometric with parameter q_i (χ², Bonferroni over cells)",
                    p_min, f"p > {ALPHA}", p_value_passes(p_min), seed + 1, timer.seconds, (fig,),
                    "per-cell p: " + ", ".join(f"{v:.3g}" for v in pvals))]
    pairs = [(i, j) for i in range(net.n_cells) for j in range(i + 1, net.n_cells)]
    zmax = max(abs(np.arctanh(np.corrcoef(k[:, i], k[:, j])[0, 1])) * np.sqrt(reps - 3) for i, j in pairs)
    limit = bonferroni_z(len(pairs))
    checks.append(Check(SUITE, "product form: independence",
                        "potentials of distinct cells are uncorrelated (Fisher z, Bonferroni over pairs)",
                        float(zmax), f"< {limit:.2f}", zmax < limit, seed + 1, 0.0, (fig,)))
    return checks


def expected_excursions(q, n, bounds=(3.0, 5.0), draws=2000, rng=None):
    """Monte Carlo probability that Z or Y leaves its band for n geometric(q) samples (a correct simulator)."""
    gen = np.random.default_rng(rng)
    samples = gen.geometric(1 - q, size=(draws, n)) - 1
    mu, var = q / (1 - q), q / (1 - q) ** 2
    z = np.sqrt(n) * (samples.mean(axis=1) - mu) / np.sqrt(var)
    y = np.sqrt(n / 2) * (samples.var(axis=1, ddof=1) / var - 1)
    return float(np.mean(np.abs(z) >= bounds[0])), float(np.mean(np.abs(y) >= bounds[1]))


def dsmts_counts(mean, var, q, n):
    """Z and Y statistics of DSMTS at every (time, cell) from sample means and variances."""
    mu, sigma2 = q / (1 - q), q / (1 - q) ** 2
    z = np.sqrt(n) * (mean - mu) / np.sqrt(sigma2)
    y = np.sqrt(n / 2) * (var / sigma2 - 1)
    return z, y


def unsaturated_network(n, seed, q_min=0.05, q_max=0.9):
    """A random recurrent network with every q in [q_min, q_max] (the first of a fixed seed sequence).

    ``q_max < 1``: every cell has a stationary law. ``q_min > 0``: with 1,000 runs each cell has dozens of
    non-zero samples, so its Z and Y statistics carry information (a cell with q = 0.003 has Y beyond ±5
    60 % of the time even in a correct simulator, which only dilutes the excursion count).
    """
    for attempt in range(200):
        net = generators.random_recurrent(n, out_degree=4, load=0.15, rng=seed + 7919 * attempt)
        q = solve(net).q
        if q_min <= q.min() and q.max() <= q_max:
            return net, q
    raise RuntimeError(f"no {n}-cell network with q in [{q_min}, {q_max}] in 200 draws from seed {seed}")


def run_dsmts(out, quick, seed):
    # Every cell needs a stationary law (q < 1) for the exact moments to exist.
    net, q = unsaturated_network(10, seed + 2)
    n = 1000 if quick else 4000
    times = np.linspace(0, 50, 51)
    say(f"{SUITE}: DSMTS-style moments, {n} runs x 51 times from the stationary law")
    with Timer() as timer:
        tr = simulate_transient(net, times, replications=n, initial="stationary", rng=seed + 3)
    z, y = dsmts_counts(tr.mean_potential, tr.potential_var, q, n)
    pz = np.array([expected_excursions(qi, n, rng=seed + 10 + i)[0] for i, qi in enumerate(q)])
    py = np.array([expected_excursions(qi, n, rng=seed + 10 + i)[1] for i, qi in enumerate(q)])
    trials = times.size * net.n_cells
    nz, ny = int((np.abs(z) >= 3).sum()), int((np.abs(y) >= 5).sum())
    ez, ey = float(pz.sum() * times.size), float(py.sum() * times.size)
    p_z, ok_z = excursion_check(nz, ez, trials)
    p_y, ok_y = excursion_check(ny, ey, trials)
    fig = _plot_dsmts(times, z, y, out)
    common = f"{n} runs from the product-form law, 51 times in [0, 50], {net.n_cells} cells"
    return [
        Check(SUITE, "DSMTS mean: Z excursions", f"Z = √n(X̄-μ)/σ outside (-3, 3) no more often than for a correct "
              f"simulator ({common}; binomial test)", float(nz), f"expected {ez:.1f}; p > 0.001 (p = {p_z:.3g})",
              ok_z, seed + 3, timer.seconds, (fig,)),
        Check(SUITE, "DSMTS variance: Y excursions", f"Y = √(n/2)(S²/σ²-1) outside (-5, 5) no more often than for a "
              f"correct simulator ({common}; binomial test)", float(ny), f"expected {ey:.1f}; p > 0.001 (p = {p_y:.3g})",
              ok_y, seed + 3, 0.0, (fig,)),
    ]


def run(out, *, quick=False, seed=2026):
    """Run suite 1 and return its checks (figures go to ``out``)."""
    return run_convergence(out, quick, seed) + run_product_form(out, quick, seed) + run_dsmts(out, quick, seed)


# ----------------------------------------------------------------------------- figures
def _plot_errors(durations, curves, out):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for n, (rms, worst, _) in curves.items():
        line, = ax.loglog(durations, rms, "o-", label=f"RMS error, N={n}")
        ax.loglog(durations, worst, "s--", color=line.get_color(), alpha=0.6, label=f"max error, N={n}")
    ref = curves[max(curves)][0][0] * (durations / durations[0]) ** -0.5
    ax.loglog(durations, ref, "k:", label="slope -1/2")
    ax.set_xlabel("simulated time per replication T (network time units)")
    ax.set_ylabel("|q_simulated - q_analytic| (cells with q < 0.9)")
    ax.set_title("Time averages converge to Eq. (1) like T^(-1/2)")
    ax.legend(fontsize=7, ncol=2)
    return save(fig, out, "convergence_error_vs_time.png")


def _plot_z(z, reps, out):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(z, bins=40, density=True, alpha=0.6, label=f"z over {z.size} cells")
    grid = np.linspace(-5, 5, 400)
    ax.plot(grid, stats.norm.pdf(grid), "k-", label="N(0, 1)")
    ax.plot(grid, stats.t(reps - 1).pdf(grid), "r--", label=f"Student t({reps - 1})")
    ax.set_xlabel("z = (q_simulated - q_analytic) / standard error")
    ax.set_ylabel("density")
    ax.set_title("Standard errors are honest: z-scores vs N(0, 1)")
    ax.legend()
    return save(fig, out, "convergence_z_scores.png")


def _plot_scatter(q, q_sim, q_se, saturated, out):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.errorbar(q[~saturated], q_sim[~saturated], yerr=2 * q_se[~saturated], fmt=".", ms=3, alpha=0.6,
                label="cells (±2 SE)")
    ax.plot(q[saturated], q_sim[saturated], "r^", label="saturated (q = 1)")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="y = x")
    ax.set_xlabel("analytic q (Eq. 1)")
    ax.set_ylabel("simulated P(k > 0)")
    ax.set_title(f"Simulated vs analytic q, N={q.size}")
    ax.legend()
    return save(fig, out, "convergence_scatter.png")


def _plot_marginals(k, q, out):
    plt = pyplot()
    fig, axes = plt.subplots(1, k.shape[1], figsize=(3 * k.shape[1], 3), sharey=True)
    for i, ax in enumerate(axes):
        kmax = 8
        counts = np.bincount(np.minimum(k[:, i], kmax), minlength=kmax + 1) / k.shape[0]
        ax.bar(np.arange(kmax + 1), counts, alpha=0.6, label="simulated")
        ax.plot(np.arange(kmax + 1), np.append((1 - q[i]) * q[i] ** np.arange(kmax), q[i] ** kmax), "ko-",
                ms=3, label="geometric(q)")
        ax.set_yscale("log")
        ax.set_xlabel(f"potential k of cell {i} (last bar: k ≥ {kmax})")
    axes[0].set_ylabel("probability")
    axes[0].legend(fontsize=7)
    fig.suptitle("Product form: marginals are geometric")
    return save(fig, out, "product_form_marginals.png")


def _plot_dsmts(times, z, y, out):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, values, bound, label in ((axes[0], z, 3, "Z (mean)"), (axes[1], y, 5, "Y (variance)")):
        ax.plot(times, values, lw=0.8)
        ax.axhline(bound, color="k", ls="--")
        ax.axhline(-bound, color="k", ls="--")
        ax.set_xlabel("time")
        ax.set_ylabel(label)
        ax.set_title(f"DSMTS {label.split()[0]} per cell (band ±{bound})")
    return save(fig, out, "dsmts.png")


def main(argv=None):
    return script_main(SUITE, run, argv)
