"""A readout trained for spiking inference: non-negative weights, each paid for by the events it costs.

In the spiking network, output cell ``k`` receives the flow ``sum_j f_j w_jk`` from the pooled features;
a sampled decision compares the leading output's spike count with the runner-up's, whose difference has
mean ``T (s_1 - s_2)`` and variance about ``T (s_1 + s_2)`` over a time ``T``, while every feature of
weight-sum ``sum_k w_jk`` costs about ``cost_j sum_k w_jk`` events per unit time. The events needed for
a decision are thus about ``z^2 (s_1 + s_2) / (s_1 - s_2)^2 * sum_j cost_j sum_k w_jk``, whatever the
overall scale of ``w``. A ridge readout over collinear features has weights of both signs that nearly
cancel: made non-negative by a class-common lift, its margins are a fraction of a percent of its flows
and a decision takes 1e10 events or more.

This readout is a multinomial logistic regression with ``w >= 0`` (a linear score needs no negative
weight to rank the classes: subtracting a class-common term from a feature's weights changes no argmax)
and an L1 penalty ``penalty * sum_j cost_j sum_k w_jk`` on the events each weight costs: the logistic
loss asks for margins, the penalty for little flow, and features that are dear to run are used only when
they pay. Solved by L-BFGS-B with bounds (scipy). :func:`refine_for_decisions` then starts from it and
trades each training instance's margins directly against the noise of the flows that carry them
(:func:`decision_loss`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def _weight_bounds(runnable, n_classes):
    """L-BFGS-B bounds of the weights, row-major (p, n_classes): ``w >= 0``, and 0 on a feature that cannot
    be run (no positions)."""
    return [(0.0, None) if ok else (0.0, 0.0) for ok in np.repeat(runnable, n_classes)]


def _exact_zeros(W):
    """``W`` with negligible weights set to exactly 0, so that an unused feature gets no cells."""
    W[W < 1e-12 * max(W.max(), 1e-300)] = 0.0
    return W


def fit_spiking_readout(F, codes, n_classes, cost, penalty, *, max_iter=300):
    """Non-negative multinomial logistic readout of features ``F`` (n, p) for class ``codes`` (n,).

    Minimises ``mean cross-entropy(softmax(F @ W + b)) + penalty * cost @ W.sum(1)`` over ``W >= 0``
    (p, n_classes) and free intercepts ``b``; ``cost`` (p,) is each feature's price per unit weight
    (scaled here by its median, so ``penalty`` means the same on every data set). Returns ``(W, b)``.
    """
    F = np.asarray(F, float)
    n, p = F.shape
    k = int(n_classes)
    cost = np.asarray(cost, float)
    finite = np.isfinite(cost)
    price = np.where(finite, cost / np.median(cost[finite]), 0.0)
    onehot = np.eye(k)[codes]
    # A feature that cannot be run (no positions) gets no weight at all: its bound is 0.
    bounds = _weight_bounds(finite, k) + [(None, None)] * k

    def loss_and_grad(x):
        W, b = x[:p * k].reshape(p, k), x[p * k:]
        S = F @ W + b
        S -= S.max(axis=1, keepdims=True)
        P = np.exp(S)
        P /= P.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(P[np.arange(n), codes] + 1e-300)) + penalty * price @ W.sum(axis=1)
        G = (P - onehot) / n
        grad_W = F.T @ G + penalty * price[:, None]
        return loss, np.concatenate([grad_W.ravel(), G.sum(axis=0)])

    res = minimize(loss_and_grad, np.zeros(p * k + k), jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(maxiter=int(max_iter)))
    return _exact_zeros(res.x[:p * k].reshape(p, k)), res.x[p * k:]


#: The t-statistic a decision must reach, roughly (a one-sided test at 0.99 spent over ~6 looks and 9
#: rivals, with 31 degrees of freedom, asks for about 4).
DECISION_T = 4.0


def decision_loss(W, F, codes, onehot, cost, budget, eps=1e-12):
    """Mean over instances of ``log(1 + sum_k exp(DECISION_T - sqrt(budget) z_k))`` and its gradient in ``W``.

    ``z_k = m_k / sqrt(V_k R)`` is instance ``x``'s margin over rival ``k`` per square root of an event:
    with output ``c`` its class, ``m_k = F_x . (W_c - W_k)``, the variance of its spike-count estimate per
    unit time ``V_k = sum_j (W_jc - W_jk)^2 F_xj / s_j`` (pooling cell ``j`` fires at ``s_j F_xj`` with
    ``s_j = sum_k W_jk``, nearly Poisson) and the network's events per unit time ``R = cost . s``. So
    ``sqrt(budget) z_k`` is the t-statistic the margin reaches after ``budget`` events. Scale-free in ``W``.
    """
    n, _ = F.shape
    s = W.sum(axis=1) + eps
    Fs = F / s
    Wc = W[:, codes].T                                   # each instance's class column, (n, p)
    S = F @ W
    m = S[np.arange(n), codes][:, None] - S
    FsWc = Fs * Wc
    W2 = W * W
    V = np.maximum((FsWc * Wc).sum(axis=1)[:, None] - 2.0 * (FsWc @ W) + Fs @ W2, 0.0)
    own = onehot > 0
    V = np.where(own, 1.0, V) + 1e-300
    R = float(cost @ s)
    sq = np.sqrt(V * R)
    z = m / sq
    alpha = np.sqrt(budget)
    t = np.where(own, -np.inf, DECISION_T - alpha * z)
    top = np.maximum(t.max(axis=1, keepdims=True), 0.0)
    e = np.exp(t - top)
    Z = np.exp(-top[:, 0]) + e.sum(axis=1)
    loss = float(np.mean(top[:, 0] + np.log(Z)))
    # Back-propagation through z = m / sqrt(V R), V and R depending on W also through s.
    Gz = -alpha * e / Z[:, None] / n
    Gm = Gz / sq
    GV = np.where(own, 0.0, -0.5 * Gz * z / V)
    GR = float(np.sum(-0.5 * Gz * z)) / R
    gv = GV.sum(axis=1)
    GVW = GV @ W.T
    grad = F.T @ (onehot * Gm.sum(axis=1)[:, None] - Gm)
    grad += -2.0 * (FsWc.T @ GV) + 2.0 * W * (Fs.T @ GV)
    grad += 2.0 * ((FsWc * gv[:, None] - Fs * GVW).T @ onehot)
    ds = -(Fs * (gv[:, None] * Wc * Wc - 2.0 * Wc * GVW + GV @ W2.T)).sum(axis=0) / s + GR * cost
    return loss, grad + ds[:, None]


def refine_for_decisions(F, codes, n_classes, cost, W0, budget, *, max_iter=300):
    """Non-negative readout weights that make sampled decisions cheap: :func:`decision_loss` minimised
    from ``W0`` (say :func:`fit_spiking_readout`'s) by L-BFGS-B with ``W >= 0``. Returns ``W``.

    ``cost`` (p,) are the events per unit time that a unit of weight on each feature costs; features that
    cannot be run (``inf``) stay at 0. The loss is scale-free, so the scale is pinned (``cost . s = 1``).
    """
    F = np.asarray(F, float)
    p, k = W0.shape
    onehot = np.eye(int(n_classes))[codes]
    runnable = np.isfinite(cost)
    price = np.where(runnable, cost, 0.0)
    W0 = np.where(runnable[:, None], W0, 0.0)
    W0 = W0 / max(float(price @ W0.sum(axis=1)), 1e-300)

    def loss_and_grad(x):
        W = x.reshape(p, k)
        loss, grad = decision_loss(W, F, codes, onehot, price, budget)
        pin = float(price @ W.sum(axis=1)) - 1.0
        return loss + pin * pin, (grad + 2.0 * pin * price[:, None]).ravel()

    res = minimize(loss_and_grad, W0.ravel(), jac=True, method="L-BFGS-B", bounds=_weight_bounds(runnable, k),
                   options=dict(maxiter=int(max_iter)))
    return _exact_zeros(res.x.reshape(p, k))
