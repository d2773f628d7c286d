"""Numba kernels of gradient training: arrays in, arrays updated in place, no validation.

Each step of training passes over every parameter a few times whatever the batch: the chain rule from
the weights to the softmax logits, and Adam's update. Written with NumPy, each is a string of whole-array
operations (eight passes and as many temporaries for a block of logits); here each is one or two passes
per row. They run on one thread: with two, the idle threads kept spinning into the BLAS products
that come next in a step and slowed them more than the kernels gained.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def rate_softmax_vjp(P, G, rate, theta_grad, rate_grad):
    """Chain rule through ``w_jk = rate_j P_jk`` with ``P_j = softmax(θ_j)`` (rows of ``P``).

    ``G`` holds ``dL/dw`` for the first ``G.shape[1]`` slots of each row (the others carry no weight that
    the loss sees). Writes ``dL/dθ`` into ``theta_grad`` (shape of ``P``) and ``dL/drate_j = Σ_k G_jk P_jk``
    into ``rate_grad``. With ``s_j`` that sum, ``dL/dθ_jk = rate_j P_jk (G_jk - s_j)`` (``G_jk = 0`` past
    the given slots).
    """
    n_rows, n_slots = P.shape
    given = G.shape[1]
    for j in range(n_rows):
        s = 0.0
        for k in range(given):
            s += G[j, k] * P[j, k]
        rate_grad[j] = s
        r = rate[j]
        for k in range(given):
            theta_grad[j, k] = r * P[j, k] * (G[j, k] - s)
        for k in range(given, n_slots):
            theta_grad[j, k] = -r * P[j, k] * s


@njit(cache=True, error_model="numpy")
def adam_update(param, grad, mean, square, beta1, one_minus_beta1, beta2, one_minus_beta2, step, root, eps):
    """One Adam step on a flat ``param`` in place: the moment estimates ``mean`` and ``square`` are updated
    with ``grad``, then ``param -= step * mean / (root * sqrt(square) + eps)`` (``step`` and ``root`` carry
    the bias corrections).

    The scalars come in the arrays' precision and the loop holds no literal: one float64 number would
    promote a single-precision loop to double and stop it vectorising (3x the time on 300,000 float32s).
    """
    for i in range(param.size):
        g = grad[i]
        m = beta1 * mean[i] + one_minus_beta1 * g
        v = beta2 * square[i] + one_minus_beta2 * g * g
        mean[i] = m
        square[i] = v
        param[i] -= step * m / (root * np.sqrt(v) + eps)


@njit(cache=True, error_model="numpy")
def complement_source_parts(roots, scale, difference, complement_sums):
    """What complement-coded sources send, from the roots ``ψ`` (2d, m) of their weights ``S = scale ψ²``
    without forming ``S``: ``difference = S₁ - S₂`` (d, m), lit rows less their complements, and
    ``complement_sums``, the column sums of ``S₂`` (m,), so that ``[x, 1 - x] S = x difference +
    complement_sums``. One pass over the roots where NumPy took four (square, scale, subtract, sum).
    """
    d, m = difference.shape
    for j in range(m):
        complement_sums[j] = 0
    for i in range(d):
        for j in range(m):
            lit = roots[i, j]
            dark = roots[d + i, j]
            difference[i, j] = scale * (lit * lit - dark * dark)
            complement_sums[j] += scale * dark * dark


@njit(cache=True, error_model="numpy")
def complement_root_grad(lit_grad, column_sums, roots, factor, out):
    """The gradient of complement-coded sources' roots ``ψ`` (2d, m), weights ``scale ψ²``: with
    ``lit_grad = xᵀ U`` (d, m) and ``column_sums = 1ᵀ U`` (m,) the weights' gradient is ``[xᵀ U; 1ᵀ U -
    xᵀ U]``, times ``factor ψ`` (``factor = 2 scale``) by the chain rule; written into ``out`` in one pass.
    """
    d, m = lit_grad.shape
    for i in range(d):
        for j in range(m):
            g = lit_grad[i, j]
            out[i, j] = factor * roots[i, j] * g
            out[d + i, j] = factor * roots[d + i, j] * (column_sums[j] - g)
