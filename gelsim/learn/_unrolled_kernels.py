"""Numba kernels of the unrolled network's step loops: arrays in, arrays written in place, no validation;
and the BLAS context they run in.

A step of Eq. (1)'s map on a batch is one small product (n x H by H x 2H) and a few element-wise
operations. Written with NumPy, each step was six calls of a few microseconds whatever their size, which on
a batch of 4 series of 100 steps (BasicMotions) was nine tenths of the time; here a step is one product
and one pass over the batch's cells, forward and back. They run on one thread, as the other training
kernels do (see :mod:`gelsim.learn._gradient_kernels`).
"""

from __future__ import annotations

import contextlib

import numpy as np
from numba import njit

from .._threads import one_blas_thread

#: Batches of at most this many rows form a step's product by loops: a BLAS call from Numba costs about
#: 5 µs whatever its size, which loops beat up to about 16 rows of 64 cells in single precision (2 µs
#: against 5.6 for 4 rows) and 4 to 8 in double.
SMALL_BATCH = 8


def kernel_blas(n_rows):
    """The context to run a step-loop kernel on ``n_rows`` rows in. Above ``SMALL_BATCH`` rows its products
    call SciPy's BLAS from Numba, whose idle threads then spin into NumPy's next products (10 epochs on
    digits with one weight set per step: 3.8 to 4.9 s, against 0.8 s), so the kernel runs on one thread."""
    return one_blas_thread() if n_rows > SMALL_BATCH else contextlib.nullcontext()


@njit(cache=True, error_model="numpy")
def _product_into(A, B, out):
    """``out = A @ B`` (all C-contiguous): loops for a small batch, else BLAS."""
    n, inner = A.shape
    if n > SMALL_BATCH:
        np.dot(A, B, out)
        return
    out[:] = 0
    for i in range(n):
        for k in range(inner):
            a = A[i, k]
            for j in range(B.shape[1]):
                out[i, j] += a * B[k, j]


@njit(cache=True, error_model="numpy")
def unrolled_states(drive, recurrent, rate, Q, Ds):
    """The hidden states of ``steps`` applications of Eq. (1)'s map from ``Q[0] = 0``, written into ``Q``.

    ``drive`` (1 or steps, n, 2H): what the sources send to each cell's excitation (first H columns) and
    inhibition (last H) at each step, or the same at every step; ``recurrent`` (1 or steps, H, 2H): the
    hidden-to-hidden weights, shared or one set a step; ``rate`` (H,). Writes ``Q[t + 1] = min(N / D, 1)``
    (``Q`` is (steps + 1, n, H), ``Q[0]`` zero on entry) and each step's denominators ``D`` into ``Ds``
    (steps, n, H).
    """
    steps, n, H = Ds.shape
    one = np.ones(1, dtype=Q.dtype)[0]        # typed: a literal 1 would carry a float32 loop into double
    fed = np.zeros((n, 2 * H), dtype=Q.dtype)  # q_0 = 0 sends nothing
    for t in range(steps):
        d = drive[t if drive.shape[0] > 1 else 0]
        if t > 0:
            _product_into(Q[t], recurrent[t if recurrent.shape[0] > 1 else 0], fed)
        for i in range(n):
            for j in range(H):
                denominator = (fed[i, H + j] + d[i, H + j]) + rate[j]
                Ds[t, i, j] = denominator
                q = (fed[i, j] + d[i, j]) / denominator
                Q[t + 1, i, j] = q if q < one else one


@njit(cache=True, error_model="numpy")
def unrolled_adjoint(last_grad, segment_grads, segment_of_step, Q, Ds, transposed, U):
    """Back-propagation through the steps of :func:`unrolled_states`, written into ``U`` (steps, n, 2H).

    ``last_grad`` (n, H) is the loss's gradient with respect to the last state; with a readout of segment
    means, state ``t + 1`` also gets ``segment_grads[segment_of_step[t]]`` ((segments, n, H); no share where
    ``segment_of_step[t]`` is -1). ``transposed`` (1 or steps, 2H, H) holds ``[W+ᵀ; W-ᵀ]`` of the
    recurrent weights. ``U[t]`` gets ``(u, -u q)`` with ``u = dL/dN / D`` at step ``t`` (0 for a saturated
    cell): what the step's excitation and inhibition pass back, and ``U[t] transposed`` the gradient of the
    state before it.
    """
    steps, n, H = Ds.shape
    zero = np.zeros(1, dtype=U.dtype)[0]
    grad = last_grad.copy()
    for t in range(steps - 1, -1, -1):
        for i in range(n):
            for j in range(H):
                q = Q[t + 1, i, j]
                u = grad[i, j] / Ds[t, i, j] if q < 1 else zero
                U[t, i, j] = u
                U[t, i, H + j] = -(u * q)
        if t > 0:
            # grad has been read into U[t]: the product overwrites it with the earlier state's gradient.
            _product_into(U[t], transposed[t if transposed.shape[0] > 1 else 0], grad)
            segment = segment_of_step[t - 1]
            if segment >= 0:
                grad += segment_grads[segment]
