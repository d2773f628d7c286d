"""BLAS threads for small products: one thread, through a controller that finds the loaded BLAS libraries
once. ``threadpoolctl.threadpool_limits`` scans the process's libraries on every call: 0.7 ms with NumPy
and SciPy loaded, 5 ms beside aeon and torch, a tenth of a small fit (ItalyPowerDemand: 45 ms)."""

from __future__ import annotations

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller():
    return ThreadpoolController()


def one_blas_thread():
    """A context in which BLAS calls run on one thread.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim._threads import one_blas_thread
    >>> with one_blas_thread():
    ...     float(np.ones((3, 3)) @ np.ones(3) @ np.ones(3))
    9.0
    """
    return _controller().limit(limits=1, user_api="blas")
