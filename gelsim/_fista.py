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
    >>> from gelsim._fista import nonneg_lasso
    >>> H = np.eye(3)
    >>> B, _ = nonneg_lasso(H, np.array([[2.0], [-1.0], [0.2]]), l1=1.0)
    >>> np.round(B.ravel(), 6).tolist()   # soft-thresholded by l1 / 2, negatives projected to 0
    [1.5, 0.0, 0.0]
    """
    gram = H.T @ H
    hx = H.T @ X
    lipschitz = 2.0 * np.linalg.eigvalsh(gram).max() if gram.size else 1.0
    step = 1.0 / max(lipschitz, 1e-300)
    B = np.zeros((H.shape[1], X.shape[1]))
    Y = B.copy()
    t = 1.0
    it = 0
    for it in range(1, max_iter + 1):
        grad = 2.0 * (gram @ Y - hx)
        B_new = np.maximum(Y - step * grad - step * l1, 0.0)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        Y = B_new + ((t - 1.0) / t_new) * (B_new - B)
        change = np.linalg.norm(B_new - B)
        scale = max(np.linalg.norm(B), 1e-12)
        B, t = B_new, t_new
        if change <= tol * scale:
            break
    return B, it
