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

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .._progress import Progress


def _weight_bounds(runnable, n_classes):
    """L-BFGS-B bounds of the weights, row-major (p, n_classes): ``w >= 0``, and 0 on a feature that cannot
    be run (no positions)."""
    return [(0.0, None) if ok else (0.0, 0.0) for ok in np.repeat(runnable, n_classes)]


def _exact_zeros(W):
    """``W`` with negligible weights set to exactly 0, so that an unused feature gets no cells."""
    W[W < 1e-12 * max(W.max(), 1e-300)] = 0.0
    return W


def _feature_scale(F):
    """Each feature's standard deviation (1 where constant): the unit in which the fits move its weights.

    Pooled features differ in spread by orders of magnitude, so a fit in raw units is badly conditioned
    and L-BFGS stops far from the optimum; in units of ``W * sd`` the same objective converges quickly.
    """
    sd = F.std(axis=0)
    return np.where(sd > 0, sd, 1.0)


def fit_spiking_readout(F, codes, n_classes, cost, penalty, *, l2=0.0, max_iter=300, start=None):
    """Non-negative multinomial logistic readout of features ``F`` (n, p) for class ``codes`` (n,).

    Minimises ``mean cross-entropy(softmax(F @ W + b)) + penalty * cost @ W.sum(1) + l2 / 2 * |V|^2`` over
    ``W >= 0`` (p, n_classes) and free intercepts ``b``; ``cost`` (p,) is each feature's price per unit
    weight (scaled here by its median, so ``penalty`` means the same on every data set) and
    ``V = W * sd`` the weights in standardised units (:func:`_feature_scale`), in which they are moved.
    The ``l2`` term, as in ridge regression, spreads the weights over correlated features instead of
    picking one of them, which generalises better from few training instances. ``start`` is an optional
    ``(W, b)`` to begin from (a fit at a nearby penalty). Returns ``(W, b)``.
    """
    F = np.asarray(F, float)
    n, p = F.shape
    k = int(n_classes)
    cost = np.asarray(cost, float)
    finite = np.isfinite(cost)
    price = np.where(finite, cost / np.median(cost[finite]), 0.0)
    mean, sd = F.mean(axis=0), _feature_scale(F)
    Z = (F - mean) / sd
    unit_price = price / sd                  # the penalty per standardised weight V = W * sd
    onehot = np.eye(k)[codes]
    # A feature that cannot be run (no positions) gets no weight at all: its bound is 0.
    bounds = _weight_bounds(finite, k) + [(None, None)] * k

    def loss_and_grad(x):
        V, b = x[:p * k].reshape(p, k), x[p * k:]
        S = Z @ V + b
        S -= S.max(axis=1, keepdims=True)
        P = np.exp(S)
        P /= P.sum(axis=1, keepdims=True)
        loss = (-np.mean(np.log(P[np.arange(n), codes] + 1e-300)) + penalty * unit_price @ V.sum(axis=1)
                + 0.5 * l2 * np.sum(V * V))
        G = (P - onehot) / n
        grad_V = Z.T @ G + penalty * unit_price[:, None] + l2 * V
        return loss, np.concatenate([grad_V.ravel(), G.sum(axis=0)])

    x0 = np.zeros(p * k + k)
    if start is not None:
        W0, b0 = start
        x0 = np.concatenate([(W0 * sd[:, None]).ravel(), b0 + mean @ W0])
    res = minimize(loss_and_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(maxiter=int(max_iter)))
    W = _exact_zeros(res.x[:p * k].reshape(p, k) / sd[:, None])
    return W, res.x[p * k:] - mean @ W


#: The t-statistic a decision must reach, roughly (a one-sided test at 0.99 spent over ~6 looks and 9
#: rivals, with 31 degrees of freedom, asks for about 4).
DECISION_T = 4.0


def _margin_z(W, F, codes, onehot, cost, b=None, eps=1e-12):
    """Each instance's margins per square root of an event, ``z`` (n, n_classes; 0 on its own class), and
    the intermediate arrays that :func:`decision_loss` differentiates through."""
    n, _ = F.shape
    s = W.sum(axis=1) + eps
    Fs = F / s
    Wc = W[:, codes].T                                   # each instance's class column, (n, p)
    S = F @ W if b is None else F @ W + b
    m = S[np.arange(n), codes][:, None] - S
    FsWc = Fs * Wc
    W2 = W * W
    V = np.maximum((FsWc * Wc).sum(axis=1)[:, None] - 2.0 * (FsWc @ W) + Fs @ W2, 0.0)
    V = np.where(onehot > 0, 1.0, V) + 1e-300
    R = float(cost @ s)
    sq = np.sqrt(V * R)
    return m / sq, (s, Fs, Wc, FsWc, W2, V, R, sq)


def decision_events(W, b, F, codes, cost):
    """Events each instance needs before its true class leads every rival at t-statistic ``DECISION_T``
    (``inf`` where it does not lead at all): ``(DECISION_T / min_k z_k)^2`` with ``z`` as in
    :func:`decision_loss`. ``cost`` as there (``inf`` for features that cannot run, weight 0)."""
    onehot = np.eye(W.shape[1])[codes]
    z, _ = _margin_z(W, F, codes, onehot, np.where(np.isfinite(cost), cost, 0.0), b)
    worst = np.where(onehot > 0, np.inf, z).min(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(worst > 0, (DECISION_T / np.where(worst > 0, worst, 1.0)) ** 2, np.inf)


def decision_loss(W, F, codes, onehot, cost, budget, b=None, eps=1e-12):
    """Mean over instances of ``log(1 + sum_k exp(DECISION_T - sqrt(budget) z_k))`` and its gradients in
    ``W`` and in the intercepts ``b`` (returned as ``(loss, grad_W, grad_b)``; ``b=None`` means 0).

    ``z_k = m_k / sqrt(V_k R)`` is instance ``x``'s margin over rival ``k`` per square root of an event:
    with output ``c`` its class, ``m_k = F_x . (W_c - W_k) + b_c - b_k``, the variance of its spike-count
    estimate per unit time ``V_k = sum_j (W_jc - W_jk)^2 F_xj / s_j`` (pooling cell ``j`` fires at
    ``s_j F_xj`` with ``s_j = sum_k W_jk``, nearly Poisson) and the network's events per unit time ``R = cost . s``. So
    ``sqrt(budget) z_k`` is the t-statistic the margin reaches after ``budget`` events. Scale-free in
    ``(W, b)``. The intercepts are constant flows into the output cells, which the ``"inputs"`` reading
    adds exactly: they move margins at no cost in noise or events.
    """
    n, _ = F.shape
    z, (s, Fs, Wc, FsWc, W2, V, R, sq) = _margin_z(W, F, codes, onehot, cost, b, eps)
    own = onehot > 0
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
    GS = onehot * Gm.sum(axis=1)[:, None] - Gm           # through the scores S = F W + b
    grad = F.T @ GS
    grad += -2.0 * (FsWc.T @ GV) + 2.0 * W * (Fs.T @ GV)
    grad += 2.0 * ((FsWc * gv[:, None] - Fs * GVW).T @ onehot)
    ds = -(Fs * (gv[:, None] * Wc * Wc - 2.0 * Wc * GVW + GV @ W2.T)).sum(axis=0) / s + GR * cost
    return loss, grad + ds[:, None], GS.sum(axis=0)


def refine_for_decisions(F, codes, n_classes, cost, W0, b0, budget, *, max_iter=300):
    """Non-negative readout weights and intercepts that make sampled decisions cheap:
    :func:`decision_loss` minimised from ``(W0, b0)`` (say :func:`fit_spiking_readout`'s) by L-BFGS-B
    with ``W >= 0``. Returns ``(W, b)``.

    ``cost`` (p,) are the events per unit time that a unit of weight on each feature costs; features that
    cannot be run (``inf``) stay at 0. The loss is scale-free, so the scale is pinned (``cost . s = 1``).
    """
    F = np.asarray(F, float)
    p, k = W0.shape
    onehot = np.eye(int(n_classes))[codes]
    runnable = np.isfinite(cost)
    price = np.where(runnable, cost, 0.0)
    W0 = np.where(runnable[:, None], W0, 0.0)
    scale = max(float(price @ W0.sum(axis=1)), 1e-300)

    def loss_and_grad(x):
        W, b = x[:p * k].reshape(p, k), x[p * k:]
        loss, grad_W, grad_b = decision_loss(W, F, codes, onehot, price, budget, b)
        pin = float(price @ W.sum(axis=1)) - 1.0
        return loss + pin * pin, np.concatenate([(grad_W + 2.0 * pin * price[:, None]).ravel(), grad_b])

    x0 = np.concatenate([W0.ravel(), b0]) / scale
    res = minimize(loss_and_grad, x0, jac=True, method="L-BFGS-B",
                   bounds=_weight_bounds(runnable, k) + [(None, None)] * k, options=dict(maxiter=int(max_iter)))
    return _exact_zeros(res.x[:p * k].reshape(p, k)), res.x[p * k:]


def fit_for_decisions(F, codes, n_classes, cost, penalty, budget, *, l2=0.0, start=None):
    """:func:`fit_spiking_readout`, then (unless ``budget`` is None) :func:`refine_for_decisions`.
    Returns ``(W, b)`` and the logistic fit alone (a warm start for the next penalty)."""
    logistic = fit_spiking_readout(F, codes, n_classes, cost, penalty, l2=l2, start=start)
    if budget is None:
        return logistic, logistic
    return refine_for_decisions(F, codes, n_classes, cost, *logistic, budget), logistic


@dataclass(frozen=True)
class PenaltySearch:
    """Cross-validated choice of the spiking readout's penalty.

    ``accuracy`` (held-out, pooled over folds) and ``median_events`` (the median over held-out instances
    of :func:`decision_events`, ``inf`` counted for the misclassified) per candidate ``penalties``;
    ``chosen`` is the cheapest candidate whose accuracy is within one standard error of the best.
    """

    penalties: np.ndarray
    accuracy: np.ndarray
    median_events: np.ndarray
    chosen: float

    def __repr__(self):
        rows = ", ".join(f"{p:g}: {100 * a:.1f} % / {e:.3g} events"
                         for p, a, e in zip(self.penalties, self.accuracy, self.median_events))
        return f"PenaltySearch(chosen={self.chosen:g}; {rows})"


def _is_number(penalty):
    """Whether a ``spiking_penalty`` is one number (not a bool), rather than candidates."""
    return isinstance(penalty, numbers.Real) and not isinstance(penalty, bool)


def check_penalty(penalty, owner):
    """Check a ``spiking_penalty``: a non-negative number, or a list of at least two to choose from by
    :func:`choose_penalty`."""
    if _is_number(penalty):
        ok = penalty >= 0
    else:
        try:
            values = np.asarray(penalty, dtype=float)
            ok = values.ndim == 1 and values.size >= 2 and bool(np.all(values >= 0))
        except (TypeError, ValueError):
            ok = False
    if not ok:
        raise ValueError(f"The 'spiking_penalty' parameter of {owner} must be a non-negative number, or a "
                         f"list of at least two to choose from by cross-validation. Got {penalty!r} instead.")


def stratified_folds(codes, folds, rng):
    """Fold number of each instance: every class dealt round-robin, in random order, over ``folds``."""
    fold = np.empty(codes.size, dtype=np.int64)
    for c in np.unique(codes):
        members = rng.permutation(np.flatnonzero(codes == c))
        fold[members] = (np.arange(members.size) + rng.integers(folds)) % folds
    return fold


def penalty_to_use(F, codes, n_classes, cost, penalty, budget, *, l2=0.0, rng=None):
    """``(penalty, search)``: a number as given (search None), or the candidates' choice by
    :func:`choose_penalty` and its :class:`PenaltySearch` (``penalty`` as :func:`check_penalty` accepts it)."""
    if _is_number(penalty):
        return float(penalty), None
    search = choose_penalty(F, codes, n_classes, cost, penalty, budget, l2=l2, rng=rng)
    return search.chosen, search


def choose_penalty(F, codes, n_classes, cost, penalties, budget, *, l2=0.0, folds=3, rng=None, progress=None):
    """The penalty of :func:`fit_for_decisions` chosen by ``folds``-fold cross-validation on held-out
    accuracy and held-out decision cost: the candidate with the fewest median events per decision among
    those whose accuracy is within one standard error of the best. Returns a :class:`PenaltySearch`."""
    F = np.asarray(F, float)
    rng = np.random.default_rng(rng)
    penalties = np.sort(np.asarray(penalties, float))[::-1]      # sparse to dense: each warm-starts the next
    fold = stratified_folds(codes, folds, rng)
    correct = np.zeros((penalties.size, codes.size), dtype=bool)
    events = np.zeros((penalties.size, codes.size))
    with Progress(folds * penalties.size, "penalty search", enabled=progress) as bar:
        for f in range(folds):
            train, held = fold != f, fold == f
            start = None
            for i, penalty in enumerate(penalties):
                (W, b), start = fit_for_decisions(F[train], codes[train], n_classes, cost, penalty, budget,
                                                  l2=l2, start=start)
                correct[i, held] = np.argmax(F[held] @ W + b, axis=1) == codes[held]
                events[i, held] = decision_events(W, b, F[held], codes[held], cost)
                bar.update(f * penalties.size + i + 1)
    accuracy = correct.mean(axis=1)
    median = np.median(events, axis=1)
    best = accuracy.max()
    eligible = accuracy >= best - np.sqrt(best * (1.0 - best) / codes.size)
    chosen = float(penalties[eligible][np.argmin(median[eligible])])
    return PenaltySearch(penalties, accuracy, median, chosen)
