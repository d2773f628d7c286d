"""Projected FISTA for the non-negative lasso of Eq. (11): min_{B >= 0} ||X - H B||_F^2 + l1 ||B||_1."""

from __future__ import annotations

import numpy as np


def nonneg_lasso(H, X, *, l1=1.0, tol=1e-4, max_iter=200):
    """Solve ``min_{B >= 0} ||X - H B||² + l1 · sum(B)`` by FISTA, projecting onto ``B >= 0`` every step.

    The step is ``1 / L`` with ``L = 2 ||H||_2²``, the Lipschitz constant of the gradient
    ``2 Hᵀ(H B - X)``; on ``B >= 0`` the l1 term is linear, so the proximal step is
    ``max(Z - l1 / L, 0)``. Stops when ``||B_k - B_{k-1}||_F <= tol · max(||B_{k-1}||_F, tiny)`` or after
    ``max_iter`` iterations.

    Parameters
    ----------
    H : ndarray (D, K)
    X : ndarray (D, M)

    Returns
    -------
    B : ndarray (K, M), non-negative
    iterations : int

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.learn._fista import nonneg_lasso
    >>> H = np.eye(3)
    >>> B, _ = nonneg_lasso(H, np.array([[2.0], [-1.0], [0.2]]), l1=1.0)
    >>> np.round(B.ravel(), 6).tolist()   # soft-thresholded by l1 / 2, negatives projected to 0
    [1.5, 0.0, 0.0]
    """
    gram = H.T @ H
    hx = H.T @ X
    lipschitz = 2.0 * np.linalg.eigvalsh(gram).max() if gram.size else 1.0
    step = 1.0 / max(lipschitz, 1e-300)
    # The gradient step Y - step (2 (gram Y - hx) + l1) as Y - A Y + b, with A and b computed once: the
    # problems are small, so each array operation saved per iteration counts.
    A = (2.0 * step) * gram
    b = (2.0 * step) * hx - step * l1
    B = np.zeros((H.shape[1], X.shape[1]))
    B_norm = 0.0
    Y = B
    t = 1.0
    it = 0
    for it in range(1, max_iter + 1):
        B_new = np.maximum(Y - A @ Y + b, 0.0)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        delta = B_new - B
        Y = B_new + ((t - 1.0) / t_new) * delta
        change = np.linalg.norm(delta)
        new_norm = np.linalg.norm(B_new)
        converged = change <= tol * max(B_norm, 1e-12)
        B, B_norm, t = B_new, new_norm, t_new
        if converged:
            break
    return B, it
