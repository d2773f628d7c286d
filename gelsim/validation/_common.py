"""Shared pieces of the validation suites: check results, statistics that can fail, plotting, CLI glue."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Check:
    """One validation check: a statistic compared with a threshold under a stated hypothesis or bound.

    ``status`` is "PASS", "FAIL" or "N/A" (the check could not run here, e.g. a missing optional package);
    N/A never counts as passing.
    """

    suite: str
    name: str
    hypothesis: str
    statistic: float
    threshold: str
    passed: bool
    seed: int
    wall_time: float = 0.0
    figures: tuple = ()
    details: str = ""
    status: str = field(default="")

    def __post_init__(self):
        # Plain Python types, whatever numpy scalars the suites computed them with (JSON needs it).
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "statistic", float(self.statistic))
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "wall_time", float(self.wall_time))
        if not self.status:
            object.__setattr__(self, "status", "PASS" if self.passed else "FAIL")

    def to_json(self):
        d = asdict(self)
        d["statistic"] = None if not np.isfinite(self.statistic) else float(self.statistic)
        d["figures"] = list(self.figures)
        return d


def not_available(suite, name, reason, seed):
    """A check that could not run; it does not pass."""
    return Check(suite=suite, name=name, hypothesis=reason, statistic=float("nan"), threshold="-", passed=False,
                 seed=seed, status="N/A", details=reason)


# ----------------------------------------------------------------------------- statistics that can fail
#: Level of the suites' goodness-of-fit tests: a check fails when its p-value is at most this.
ALPHA = 1e-3


def p_value_passes(p):
    """The suites' rule for a goodness-of-fit p-value: it passes above ``ALPHA``."""
    return bool(p > ALPHA)


def bound_check(errors, bounds):
    """``(worst ratio, passed)``: every error is within its proven bound (up to rounding)."""
    worst = float(np.max(np.asarray(errors, float) / np.asarray(bounds, float)))
    return worst, bool(worst <= 1 + 1e-12)


def loglog_slope(x, y):
    """Least-squares slope of log(y) against log(x)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def slope_check(x, y, expected, tolerance):
    """``(slope, passed)``: the log-log slope lies within ``expected ± tolerance``."""
    slope = loglog_slope(x, y)
    return slope, bool(abs(slope - expected) <= tolerance)


def second_order_check(x, errors, tolerance, small):
    """``(slope, passed)``: over the points where ``small`` holds, the error grows like ``x**2`` (log-log
    slope 2 within ``tolerance``)."""
    x, errors = np.asarray(x, float), np.asarray(errors, float)
    return slope_check(x[small], errors[small], expected=2.0, tolerance=tolerance)


def z_normality(z, dof=None):
    """p-value of a Kolmogorov–Smirnov test that z-scores follow N(0, 1) (or Student t with ``dof``)."""
    z = np.asarray(z, float)
    z = z[np.isfinite(z)]
    dist = stats.norm if dof is None else stats.t(dof)
    return float(stats.kstest(z, dist.cdf).pvalue)


def geometric_chi2(samples, q, bins=8):
    """Pearson χ² p-value of integer samples against the geometric law ``P(k) = (1 - q) q^k``.

    The last bin collects ``k >= bins - 1``; bins are merged from the tail until every expected count >= 5.
    """
    samples = np.asarray(samples)
    n = samples.size
    probs = np.append((1 - q) * q ** np.arange(bins - 1), q ** (bins - 1))
    counts = np.bincount(np.minimum(samples, bins - 1), minlength=bins).astype(float)
    while probs.size > 2 and probs[-1] * n < 5:
        probs = np.append(probs[:-2], probs[-2] + probs[-1])
        counts = np.append(counts[:-2], counts[-2] + counts[-1])
    return float(stats.chisquare(counts, probs * n).pvalue)


def excursion_check(count, expected, trials, alpha=1e-3):
    """``(p, passed)``: ``count`` excursions are not significantly more than a Binomial(trials, expected/trials)."""
    p = float(stats.binom.sf(count - 1, trials, min(expected / trials, 1.0))) if count > 0 else 1.0
    return p, bool(p > alpha)


def bonferroni_z(n_tests, alpha=1e-3, dof=None):
    """Two-sided |z| threshold keeping the family-wise error of ``n_tests`` tests at ``alpha``.

    With ``dof`` the statistic is Student t (a standard error estimated from ``dof + 1`` replications).
    """
    dist = stats.norm if dof is None else stats.t(dof)
    return float(dist.isf(alpha / (2 * max(n_tests, 1))))


# ----------------------------------------------------------------------------- plotting
def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out_dir, name):
    """Save ``fig`` as ``out_dir/name`` (PNG, 110 dpi), close it, and return the file name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
    pyplot().close(fig)
    return name


class Timer:
    """Context manager measuring wall time in ``self.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def say(message):
    """Progress line on stderr (suites run for minutes; the terminal should show they are alive)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- script entry points
def script_main(suite_name, run, argv=None):
    """Command line shared by the scripts in ``validation/``: run one suite, print its checks."""
    p = argparse.ArgumentParser(prog=f"validation/{suite_name}.py",
                                description=f"Run the '{suite_name}' validation suite of gelsim.")
    p.add_argument("--out", default=f"report-{suite_name}", help="folder for figures and summary.json")
    p.add_argument("--quick", action="store_true", help="short runs")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    checks = run(args.out, quick=args.quick, seed=args.seed)
    print_checks(checks)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "summary.json").write_text(json.dumps([c.to_json() for c in checks], indent=1))
    return 0 if checks and all(c.passed for c in checks) else 1


def print_checks(checks):
    for c in checks:
        stat = "n/a" if not np.isfinite(c.statistic) else f"{c.statistic:.4g}"
        print(f"{c.status:<5} {c.suite}/{c.name}: statistic {stat} (threshold {c.threshold})")
