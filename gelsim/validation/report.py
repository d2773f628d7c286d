"""Run the validation suites and write ``index.html`` (one page), the PNG figures and ``summary.json``."""

from __future__ import annotations

import html
import importlib
import json
import platform
import time
import traceback
from pathlib import Path

import numpy as np

from ._common import Check, print_checks, say

#: name -> (module, title, what it shows). Order is the order of the report.
SUITES = {
    "convergence": ("gelsim.validation.convergence", "1. Convergence to q, product form, DSMTS moments",
                    "Simulated time averages converge to the solution of Eq. (1) at rate T^(-1/2) with honest error "
                    "bars; stationary marginals are geometric and independent; ensemble mean and variance match "
                    "the product form at every time (Evans, Gillespie & Wilkinson's DSMTS style)."),
    "transients": ("gelsim.validation.transients", "1b. Transients, exactly",
                   "For 1-3 cells, P(k(t) > 0) and E[k(t)] from an empty start, computed with the matrix exponential "
                   "of the (truncated) generator, against simulate_transient."),
    "approximations": ("gelsim.validation.approximations", "2. First-order approximation (6) and LRNN-I (7)",
                       "The error of (6) is O(ε²) in ε = inhibition / r, below its bound, and visible on simulated "
                       "cells exactly as predicted."),
    "relu_cluster": ("gelsim.validation.relu", "3. ReLU cluster (8)",
                     "ϕ(XW+, XW-) approaches 1 - ReLU(XW) as sum(W+) → 0, and the three-cell spiking cluster "
                     "converges to ϕ."),
    "convolution": ("gelsim.validation.convolution", "4. RNN convolutions",
                    "Single-cell, twin-cell and cluster convolutions of a photograph against conv + ReLU, and a "
                    "spiking simulation of the cluster convolution."),
    "mlsrnn": ("gelsim.validation.mlsrnn", "5. Classifiers analytic vs sampled",
               "A trained MLSRNN's spiking network, simulated, reproduces the analytic outputs and predictions as "
               "simulated time grows; on digits, a convolutional classifier with the spiking readout is decided "
               "instance by instance, with agreement and events per decision against the confidence level."),
    "unrolled": ("gelsim.validation.unrolled", "6. Unrolled RNNs: shared steps and the steady state",
                 "Gradients back-propagated through K weight-shared steps of Eq. (1)'s map converge to the exact "
                 "steady-state gradient at the rate of the map's contraction; on digits, accuracy against readout "
                 "time and parameter count for steady-state, shared and per-step models."),
}


def run_suites(out, *, quick=False, suites=None, seed=2026):
    """Run the named suites (all by default) and return their checks; a crashing suite yields a FAIL check."""
    names = list(SUITES) if not suites else list(suites)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise ValueError(f"Unknown suite(s) {unknown}; choose from {list(SUITES)}.")
    checks = []
    for name in names:
        module_name, title, _ = SUITES[name]
        say(f"suite {name}: start ({'quick' if quick else 'full'})")
        start = time.perf_counter()
        try:
            suite_checks = importlib.import_module(module_name).run(out, quick=quick, seed=seed)
        except Exception:  # report it, keep the other suites' results
            suite_checks = [Check(name, "suite ran", "the suite runs to completion", float("nan"), "no error", False,
                                  seed, details=traceback.format_exc())]
        checks += suite_checks
        passed = sum(c.passed for c in suite_checks)
        say(f"suite {name}: {passed}/{len(suite_checks)} checks passed in {time.perf_counter() - start:.1f} s")
    return checks


def run_validation(out="report", *, quick=False, suites=None, seed=2026):
    """Run suites, write the report to ``out`` and return the exit status (0 only if every check passed).

    Examples
    --------
    >>> from gelsim.validation.report import run_validation
    >>> status = run_validation("report", quick=True, suites=["approximations"])  # doctest: +SKIP
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    checks = run_suites(out, quick=quick, suites=suites, seed=seed)
    total = time.perf_counter() - start
    (out / "summary.json").write_text(json.dumps(
        dict(passed=all(c.passed for c in checks), quick=quick, seed=seed, wall_time=total,
             checks=[c.to_json() for c in checks]), indent=1))
    (out / "index.html").write_text(render_html(checks, quick, seed, total))
    print_checks(checks)
    n_pass = sum(c.passed for c in checks)
    print(f"{n_pass}/{len(checks)} checks passed in {total:.0f} s; report: {out / 'index.html'}")
    return 0 if checks and n_pass == len(checks) else 1


def _fmt(x):
    return "n/a" if not np.isfinite(x) else f"{x:.4g}"


def render_html(checks, quick, seed, total):
    """One self-contained page: summary table of every check, then each suite with its figures."""
    n_pass = sum(c.passed for c in checks)
    colour = {"PASS": "#1a7f37", "FAIL": "#cf222e", "N/A": "#9a6700"}
    rows = "\n".join(
        f"<tr><td>{html.escape(c.suite)}</td><td>{html.escape(c.name)}</td><td>{html.escape(c.hypothesis)}</td>"
        f"<td>{_fmt(c.statistic)}</td><td>{html.escape(c.threshold)}</td>"
        f"<td style='color:{colour[c.status]};font-weight:bold'>{c.status}</td><td>{c.seed}</td>"
        f"<td>{c.wall_time:.1f}</td></tr>" for c in checks)
    sections = []
    for name, (_, title, blurb) in SUITES.items():
        suite_checks = [c for c in checks if c.suite == name]
        if not suite_checks:
            continue
        figures = list(dict.fromkeys(f for c in suite_checks for f in c.figures))
        details = "".join(f"<h4>{html.escape(c.name)}: <span style='color:{colour[c.status]}'>{c.status}</span></h4>"
                          f"<pre>{html.escape(c.details)}</pre>" for c in suite_checks if c.details)
        imgs = "".join(f"<img src='{html.escape(f)}' alt='{html.escape(f)}'>" for f in figures)
        sections.append(f"<section><h2>{html.escape(title)}</h2><p>{html.escape(blurb)}</p>{imgs}{details}</section>")
    verdict = "every check passed" if n_pass == len(checks) else f"{len(checks) - n_pass} check(s) did not pass"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>gelsim validation report</title>
<style>
body {{ font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #24292f; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #d0d7de; padding: 4px 6px; }}
th {{ background: #f6f8fa; }} img {{ max-width: 100%; margin: 6px 0; border: 1px solid #eee; }}
pre {{ background: #f6f8fa; padding: 8px; font-size: 12px; overflow-x: auto; }}
</style></head><body>
<h1>gelsim validation report</h1>
<p><b>{n_pass}/{len(checks)} checks passed: {verdict}.</b> Mode: {'quick' if quick else 'full'}; base seed {seed};
{total:.0f} s on {html.escape(platform.node())} (Python {platform.python_version()}).</p>
<p>Each check states the hypothesis or bound it tests, the statistic measured, and the threshold it must meet.
Statistical checks use fixed seeds and tolerances derived from the estimators' own standard errors; N/A means
the check could not run here and does not count as passing. Wall time is charged to the check that ran the
shared computation of its suite.</p>
<table><tr><th>suite</th><th>check</th><th>hypothesis / bound</th><th>statistic</th><th>threshold</th>
<th>result</th><th>seed</th><th>wall s</th></tr>
{rows}
</table>
{''.join(sections)}
</body></html>
"""
