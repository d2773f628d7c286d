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
they pay. Solved by L-BFGS-B with bounds (scipy).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


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
    bounds = [(0.0, None) if ok else (0.0, 0.0) for ok in np.repeat(finite, k)] + [(None, None)] * k

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
    W = res.x[:p * k].reshape(p, k)
    W[W < 1e-12 * max(W.max(), 1e-300)] = 0.0   # exact zeros: an unused feature gets no cells
    return W, res.x[p * k:]
