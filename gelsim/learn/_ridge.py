"""Linear readouts of the classifiers: ridge regression with its penalty chosen by exact leave-one-out
error from one eigendecomposition, and its realisation as output cells with non-negative weights.

For centred features ``Z`` (n, p) and targets ``Y`` (n, k), ridge's fitted values at penalty ``α`` are
``H(α) Y`` with ``H(α) = Z (ZᵀZ + α I)⁻¹ Zᵀ``. One eigendecomposition of the smaller Gram matrix
(``ZᵀZ`` when ``p <= n``, else ``ZZᵀ``) gives ``H(α)`` and its diagonal for every ``α`` at the cost of a
few matrix products, and the leave-one-out residuals follow in closed form:
``(y_i - ŷ_i) / (1 - H_ii)`` (Allen's PRESS; the same criterion as scikit-learn's ``RidgeClassifierCV``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla


#: Spreads at or below this are taken for rounding, not signal, when standardising (see :func:`fit_ridge_loo`).
TINY_SPREAD = 1e-9


@dataclass(frozen=True)
class RidgeFit:
    """``scores = (F - mean) / scale @ coef + intercept``; ``alpha`` chosen, ``loo_error`` per ``alpha``."""

    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    alpha: float
    alphas: np.ndarray
    loo_error: np.ndarray

    def decision(self, F):
        return ((F - self.mean) / self.scale) @ self.coef + self.intercept


def fit_ridge_loo(F, Y, alphas):
    """Standardise ``F`` (n, p), then ridge-regress ``Y`` (n, k) with the ``alpha`` of least LOO error.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.learn._ridge import fit_ridge_loo
    >>> rng = np.random.default_rng(0)
    >>> F = rng.normal(size=(50, 3)); Y = F @ [[1.0], [2.0], [0.0]] + 0.01 * rng.normal(size=(50, 1))
    >>> fit = fit_ridge_loo(F, Y, alphas=np.logspace(-3, 3, 7))
    >>> np.round(fit.coef.ravel() / fit.scale, 1).tolist(), float(fit.alpha)
    ([1.0, 2.0, 0.0], 0.001)
    """
    mean = F.mean(axis=0)
    # Centred and scaled in place, spreads from the centred values: fewer (n, p) temporaries, each of
    # which costs fresh pages from the system.
    Z = F - mean
    scale = np.sqrt(np.einsum("ij,ij->j", Z, Z) / Z.shape[0])
    # A feature whose spread is rounding (a pooled feature, in [0, 1], that is constant but for 1e-14
    # wobbles) would be blown up to unit variance by standardising: noise as loud as any signal. Such
    # features are left unscaled; this alone moved ArrowHead (sharp pooling, 4 splits) from 77 to 85 %.
    scale = np.where(scale > TINY_SPREAD, scale, 1.0)
    Z /= scale
    y_mean = Y.mean(axis=0)
    Yc = Y - y_mean
    n, p = Z.shape
    primal = p <= n
    if primal:
        # ZᵀZ = V diag(s²) Vᵀ and B = Z V: H(α) = B diag(1 / (s² + α)) Bᵀ, coef = V diag(1 / (s² + α)) Bᵀ Y.
        s2, V = sla.eigh(Z.T @ Z, overwrite_a=True, check_finite=False, driver="evd")
        B = Z @ V
    else:
        # ZZᵀ = B diag(s²) Bᵀ: H(α) = B diag(s² / (s² + α)) Bᵀ, coef = Zᵀ B diag(1 / (s² + α)) Bᵀ Y.
        s2, B = sla.eigh(Z @ Z.T, overwrite_a=True, check_finite=False, driver="evd")
    s2 = np.maximum(s2, 0.0)
    alphas = np.asarray(alphas, float)
    proj = B.T @ Yc
    # Every penalty at once (columns of ``shrink``): two matrix products instead of two per penalty.
    shrink = 1.0 / (s2[:, None] + alphas) if primal else s2[:, None] / (s2[:, None] + alphas)
    fitted = B @ (shrink[:, :, None] * proj[:, None, :]).reshape(s2.size, -1)
    # The unpenalised intercept adds 1/n to every leverage (its hat matrix is 11ᵀ/n). In the primal form
    # B is not needed after this, so it is squared in place (one (n, p) array fewer).
    B2 = np.square(B, out=B) if primal else B * B
    leverage = 1.0 / n + B2 @ shrink
    loo = (Yc[:, None, :] - fitted.reshape(n, alphas.size, -1)) / (1.0 - leverage)[:, :, None]
    errors = np.mean(loo * loo, axis=(0, 2))
    alpha = float(alphas[int(np.argmin(errors))])
    weights = (1.0 / (s2 + alpha))[:, None] * proj
    coef = V @ weights if primal else Z.T @ (B @ weights)
    return RidgeFit(coef=coef, intercept=y_mean, mean=mean, scale=scale, alpha=alpha,
                    alphas=alphas, loo_error=errors)


@dataclass(frozen=True)
class Readout:
    """Output cells ``q_k = min(offset_k + Σ_j weights_jk f_j, 1)`` with non-negative weights.

    ``q_k = scale * (score_k + Σ_j shift_j f_j + lift)``: the ridge scores plus a term common to every class
    (so the argmax and the softmax of the scores are unchanged), scaled so that no output can reach 1 for
    any features in [0, 1].
    """

    weights: np.ndarray   # (p, k) >= 0
    offset: np.ndarray    # (k,) >= 0
    scale: float

    def outputs(self, F):
        return np.minimum(self.offset + F @ self.weights, 1.0)


def realise(coef, intercept):
    """Readout cells for the linear scores ``F @ coef + intercept`` of features ``F`` in [0, 1].

    A negative weight cannot be an excitatory flow, so each feature's weights are lifted by the same
    ``shift_j = max(0, -min_k coef_jk)`` for every class (a common term, which no argmax or softmax sees)
    and the intercepts by a common ``lift``; then everything is scaled so that the largest reachable
    output is below 1.
    """
    shift = np.maximum(0.0, -coef.min(axis=1))
    weights = coef + shift[:, None]
    lifted = intercept - min(0.0, float(intercept.min()))
    peak = float((lifted + weights.sum(axis=0)).max())
    scale = 1.0 / (peak * (1.0 + 1e-6)) if peak > 0 else 1.0
    return Readout(weights * scale, lifted * scale, scale)
