"""Validation suites: theory checked against simulation, with statistics, thresholds and figures.

Run them all with ``gelsim validate`` (or :func:`gelsim.validation.report.run_validation`); each suite is
also ``python validation/<suite>.py``. Suites: ``convergence``, ``transients``, ``approximations``,
``relu_cluster``, ``convolution``, ``mlsrnn``, ``unrolled``.
"""

from .report import SUITES, run_suites, run_validation

__all__ = ["SUITES", "run_suites", "run_validation"]
