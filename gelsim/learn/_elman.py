"""The Elman network that :class:`gelsim.SequenceRNNClassifier` offers as its baseline
(``cell="elman"``): ``h_t = tanh(x_t W + h_{t-1} U + b)``, trained by back-propagation through time. Not a
G-network; kept as the reference the RNN cells are compared with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._recurrent_maths import _cross_entropy, _step_inputs


@dataclass
class ElmanParams:
    """An Elman network ``h_t = tanh(x_t W + h_{t-1} U + b)``, logits ``h_T V + c``: the baseline."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray

    def arrays(self):
        return [self.W, self.U, self.b, self.V, self.c]

    def astype(self, dtype):
        """The same parameters as ``dtype`` arrays (new arrays)."""
        return ElmanParams(*(a.astype(dtype) for a in self.arrays()))


def init_elman(d, H, K, gen):
    """Glorot-uniform input and output weights, an orthogonal recurrent matrix, zero biases."""
    def glorot(a, b):
        lim = np.sqrt(6.0 / (a + b))
        return gen.uniform(-lim, lim, (a, b))

    U = np.linalg.qr(gen.standard_normal((H, H)))[0]
    return ElmanParams(glorot(d, H), U, np.zeros(H), glorot(H, K), np.zeros(K))


def elman_loss_grad(params, X, codes, steps, smoothing=0.0):
    """Cross-entropy of ``softmax(h_T V + c)`` (labels smoothed by ``smoothing``) and its gradient by
    back-propagation through time."""
    p = params
    Hs = [np.zeros((X.shape[0], p.U.shape[0]))]
    for t in range(steps):
        Hs.append(np.tanh(_step_inputs(X, t) @ p.W + Hs[-1] @ p.U + p.b))
    loss, G = _cross_entropy(Hs[-1] @ p.V + p.c, codes, 1.0, smoothing)
    g = ElmanParams(np.zeros_like(p.W), np.zeros_like(p.U), np.zeros_like(p.b), Hs[-1].T @ G, G.sum(axis=0))
    gh = G @ p.V.T
    for t in range(steps - 1, -1, -1):
        ga = gh * (1.0 - Hs[t + 1] ** 2)
        g.W += _step_inputs(X, t).T @ ga
        g.U += Hs[t].T @ ga
        g.b += ga.sum(axis=0)
        gh = ga @ p.U.T
    return loss, g


def elman_outputs(params, X, steps):
    h = np.zeros((X.shape[0], params.U.shape[0]))
    for t in range(steps):
        h = np.tanh(_step_inputs(X, t) @ params.W + h @ params.U + params.b)
    return h @ params.V + params.c
