"""The mathematics of MLSRNN / MCSRNN (Yin & Gelenbe, Section VI): training, forward pass, spiking network.

A model is a list of :class:`Layer` objects. Layer ``l`` holds the weights from the cells of layer ``l`` to
those of layer ``l + 1`` and the receiving cells' own rates, so every layer, hidden or output, computes
``Q_{l+1} = min((λ+ + Q_l W+) / (r + Q_l W-), 1)`` (Eq. (2) applied cell by cell). MLSRNN is the one-channel
case of MCSRNN: channel stacks are block-diagonal weight layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from ._fista import nonneg_lasso
from ._spiking_readout import fit_for_decisions, penalty_to_use
from ..steady.cells import phi, rho
from ..network import Network


@dataclass(frozen=True)
class Layer:
    """Weights (n_in, n_out) into a layer of ``n_out`` cells, and those cells' ``ext_exc`` (λ+) and ``fire_rate`` (r)."""

    w_exc: object
    w_inh: object
    ext_exc: np.ndarray
    fire_rate: np.ndarray

    @property
    def n_out(self):
        return self.ext_exc.size

    def scaled(self, s):
        """The same layer with weights and receiving rates multiplied by ``s`` (outputs unchanged)."""
        return Layer(self.w_exc * s, self.w_inh * s, self.ext_exc * s, self.fire_rate * s)


def adj(H):
    """The paper's ``adj``: map each unit linearly to [0, 1], z-score it, then shift everything to be >= 0."""
    lo, hi = H.min(axis=0), H.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    U = (H - lo) / span
    sd = U.std(axis=0)
    Z = (U - U.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return Z - min(Z.min(), 0.0)


def train_autoencoder_layer(X, size, rate, gen, *, l1, tol, max_iter):
    """Step 1 of Algorithm 1 for one layer: returns ``(W-, λ+, encoded X)``.

    ``W̄`` is uniform on [0, 1] with each row scaled to sum to the sending rate ``rate``; ``H = adj(φ(0, X W̄))``
    with ``λ+ = r = 1``; ``B = argmin_{B>=0} ||X - H B||² + l1 ||B||_1`` by projected FISTA; ``W- = Bᵀ``
    scaled down so its largest row sum is at most ``rate``; ``λ+ = r = max(X W-) / 5``.
    """
    w_bar = gen.uniform(0.0, 1.0, (X.shape[1], size))
    w_bar *= rate / w_bar.sum(axis=1, keepdims=True)
    H = adj(phi(0.0, X @ w_bar))
    B, _ = nonneg_lasso(H, X, l1=l1, tol=tol, max_iter=max_iter)
    w_inh = B.T
    e = w_inh.sum(axis=1).max()
    if e > rate:
        w_inh = w_inh / (e / rate)
    peak = float((X @ w_inh).max())
    if not peak > 0:
        # The lasso zeroed every weight (l1 too strong for this data): the layer would be constant.
        raise ValueError(f"The sparse autoencoder layer of {size} cells learned no weights (all zero); "
                         "lower 'l1' or scale the data.")
    lam = peak / 5.0
    return w_inh, lam, phi(0.0, X @ w_inh, ext_exc=lam, fire_rate=lam)


def train_channel_stacks(channels, hidden, gen, *, l1, tol, max_iter):
    """Algorithm 2, step 1: an autoencoder stack per channel; returns block-diagonal layers and encodings."""
    layers = []
    per_channel = [[] for _ in channels]
    rates = [1.0] * len(channels)  # r_1 = 1: the sources
    data = list(channels)
    for size in hidden:
        for c, Xc in enumerate(data):
            w_inh, lam, data[c] = train_autoencoder_layer(Xc, size, rates[c], gen, l1=l1, tol=tol, max_iter=max_iter)
            per_channel[c].append((w_inh, lam))
            rates[c] = lam
    for depth in range(len(hidden)):
        blocks = [per_channel[c][depth][0] for c in range(len(channels))]
        lams = np.concatenate([np.full(b.shape[1], per_channel[c][depth][1]) for c, b in enumerate(blocks)])
        w_inh = blocks[0] if len(blocks) == 1 else sp.block_diag(blocks, format="csr")
        w_exc = np.zeros_like(w_inh) if isinstance(w_inh, np.ndarray) else sp.csr_matrix(w_inh.shape)
        layers.append(Layer(w_exc, w_inh, lams, lams.copy()))
    codes = np.concatenate(data, axis=1)
    send_rate = np.concatenate([np.full(d.shape[1], rates[c]) for c, d in enumerate(data)])
    return layers, codes, send_rate


#: ELM widths tried by ``elm_hidden="auto"``: powers of two up to ``2 n`` (n training rows) and 1,024.
AUTO_WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
#: Relative ridge penalties tried by ``ridge="auto"`` (times the mean squared activation, as ``ridge``).
AUTO_RIDGES = np.logspace(-12, 1, 27)


@dataclass(frozen=True)
class ElmChoice:
    """The ELM width and ridge penalty of least leave-one-out error, the error of every pair tried
    (``loo_error[i, j]`` for ``widths[i]``, ``ridges[j]``; NaN where a width was not tried), and the output
    weights of the chosen pair, fitted on all rows (from the same eigendecomposition)."""

    width: int
    ridge: float
    widths: np.ndarray
    ridges: np.ndarray
    loo_error: np.ndarray
    output_weights: np.ndarray = None


def auto_widths(n_rows):
    """The widths ``elm_hidden="auto"`` tries for ``n_rows`` training rows: those of :data:`AUTO_WIDTHS` up
    to twice the rows (wider than that, an ELM only interpolates), at least the smallest."""
    widths = [w for w in AUTO_WIDTHS if w <= 2 * n_rows]
    return widths or [AUTO_WIDTHS[0]]


#: The paper's ELM activation scale: ``a`` is a fifth of the largest input any unit receives.
PAPER_ELM_SCALE = 0.2


def elm_pool(n_inputs, max_width, send_rate, gen, fan_in=None, scale=PAPER_ELM_SCALE):
    """Random input weights for ELMs of every width up to ``max_width``: an ELM of width ``w`` takes the
    first ``w`` columns, each row scaled so that ``2 W̄1`` spends the sending cell's rate (13).

    With ``fan_in`` (below ``n_inputs``), each unit listens to that many inputs only, drawn at random
    without replacement; the others' weights are 0. ``scale`` is the activation's ``a`` as a share of the
    largest input any unit receives (:func:`_elm_activation`).
    """
    draws = gen.uniform(0.0, 1.0, (n_inputs, max_width))
    if fan_in is not None and fan_in < n_inputs:
        chosen = np.argsort(gen.random((n_inputs, max_width)), axis=0)[:fan_in]
        mask = np.zeros(draws.shape, bool)
        np.put_along_axis(mask, chosen, True, axis=0)
        draws = np.where(mask, draws, 0.0)
    return ElmPool(draws, np.asarray(send_rate, float), float(scale))


@dataclass(frozen=True)
class ElmPool:
    draws: np.ndarray
    send_rate: np.ndarray
    scale: float = PAPER_ELM_SCALE

    def weights(self, width):
        w1 = self.draws[:, :width]
        sums = w1.sum(axis=1)
        # An input that no unit of this width listens to (a sparse pool) sends nothing.
        return w1 * (self.send_rate / (2.0 * np.where(sums > 0, sums, 1.0)))[:, None]


def _elm_activation(X, w1, scale=PAPER_ELM_SCALE):
    """The ELM's hidden activation ``ρ(X W̄1)`` at the scale ``a``, ``scale`` times the largest
    pre-activation (the paper's: a fifth), and ``a``."""
    pre = X @ w1
    a = float(pre.max()) / (1.0 / scale)     # at 0.2, bit for bit the paper's max / 5
    if not a > 0:
        raise ValueError("The ELM layer receives no input (all pre-activations are 0).")
    return rho(pre, a), a


def select_elm(X, Y, pool, widths, ridges):
    """The ELM width and relative ridge penalty of least leave-one-out squared error on ``Y`` (one-hot).

    For each width, one eigendecomposition of the smaller Gram matrix of ``H = ρ(X W̄1)`` gives ridge's
    fitted values and leverages ``h_ii`` at every penalty (two matrix products for all penalties at once),
    hence the exact leave-one-out residuals ``(y_i - ŷ_i) / (1 - h_ii)`` (Allen's PRESS, as
    :func:`gelsim.learn._ridge.fit_ridge_loo`): the whole search costs a few fits. Ties go to the narrower
    ELM and then to the larger penalty.
    """
    n, k = Y.shape
    ridges = np.asarray(ridges, float)
    errors = np.full((len(widths), ridges.size), np.nan)
    best = (np.inf, None)
    for i, width in enumerate(widths):
        H = _elm_activation(X, pool.weights(width), pool.scale)[0]
        primal = width <= n
        gram = H.T @ H if primal else H @ H.T
        s2, E = sla.eigh(gram, overwrite_a=True, check_finite=False, driver="evd")
        s2 = np.maximum(s2, 0.0)
        B = H @ E if primal else E           # fitted values: B diag(shrink) Bᵀ Y
        proj = B.T @ Y
        alphas = ridges * (s2.sum() / width)  # ridge x trace(HᵀH) / width, the scale of ``ridge``
        shrink = 1.0 / (s2[:, None] + alphas) if primal else s2[:, None] / (s2[:, None] + alphas)   # (m, R)
        fitted = (B @ (proj[:, None, :] * shrink[:, :, None]).reshape(B.shape[1], -1)).reshape(n, ridges.size, k)
        leverage = (B * B) @ shrink                                                             # (n, R)
        residual = (Y[:, None, :] - fitted) / np.maximum(1.0 - leverage, 1e-12)[:, :, None]
        errors[i] = np.mean(residual * residual, axis=(0, 2))
        j = ridges.size - 1 - int(np.argmin(errors[i, ::-1]))          # ties: the larger penalty
        if errors[i, j] < best[0]:
            # Output weights on all rows: E diag(1 / (s² + α)) Bᵀ Y (primal) or Hᵀ B diag(1 / (s² + α)) Bᵀ Y.
            inverse = 1.0 / (s2 + alphas[j])
            weights = E @ (inverse[:, None] * proj) if primal else H.T @ (B @ (inverse[:, None] * proj))
            best = (errors[i, j], (i, j, weights))
    i, j, weights = best[1]
    return ElmChoice(width=int(widths[i]), ridge=float(ridges[j]), widths=np.asarray(widths), ridges=ridges,
                     loo_error=errors, output_weights=weights)


def train_elm(X, Y, n_hidden, send_rate, gen, *, ridge=None, pool=None, output_weights=None, fan_in=None,
              scale=PAPER_ELM_SCALE, load=1.0):
    """Steps 2-3: ELM with activation ρ, output weights by pseudo-inverse (or ridge), mapped by (13).

    ``pool`` (:func:`elm_pool`), if given, supplies the input weights and activation scale instead of ``gen``
    (and ``fan_in``, ``scale``), and
    ``output_weights`` (from :func:`select_elm`) the ridge solution already found.
    ``load`` scales every ELM cell's excitation (ρ cells: ``λ+ = load a``; ϱ cells: their excitatory weights),
    so its ``q`` and load are ``load`` times ``ρ`` or ``ϱ``; the output weights are divided by it, which
    leaves every output as it was.
    Returns the two layers (into the 2·n_hidden ρ/ϱ cells, and into the output cells), the offset ``m``
    added to every ELM output, and the ELM outputs on the training data (the network's outputs minus ``m``;
    they never reach the output cells' cap of 1, since ``m + Σ W̄2+ <= Σ|W̄2| = 1``).
    """
    if pool is None:
        pool = elm_pool(X.shape[1], n_hidden, send_rate, gen, fan_in, scale)
    w1 = pool.weights(n_hidden)
    Hm, a = _elm_activation(X, w1, pool.scale)
    if output_weights is not None:
        w2 = output_weights
    elif ridge is None:
        # pinv(ρ(X W̄1)) Y, Eq. (12): the minimum-norm least-squares solution. LAPACK's gelsy (complete
        # orthogonal factorisation) gives it like the SVD route does, in about 2/3 of the time.
        w2 = sla.lstsq(Hm, Y, lapack_driver="gelsy", check_finite=False)[0]
    else:
        # Relative penalty: ridge x the mean squared activation, so one value means the same on any data.
        # As least squares on [H; sqrt(alpha) I], not the normal equations, whose condition number is the
        # square of H's: at small penalties those lost the fit (iris through a 20-cell autoencoder: 82 %
        # training accuracy against 99 % by this route).
        alpha = ridge * float(np.einsum("ij,ij->", Hm, Hm)) / n_hidden
        augmented = np.vstack([Hm, np.sqrt(alpha) * np.eye(n_hidden)])
        target = np.vstack([Y, np.zeros((n_hidden, Y.shape[1]))])
        w2 = sla.lstsq(augmented, target, lapack_driver="gelsy", check_finite=False)[0]
    w2 = w2 / np.abs(w2).sum()
    train_outputs = Hm @ w2
    w2p, w2m = np.maximum(w2, 0.0), np.maximum(-w2, 0.0)
    m = float(w2m.sum(axis=0).max())
    hidden = Layer(w_exc=np.hstack([np.zeros_like(w1), load * w1]), w_inh=np.hstack([w1, w1]),
                   ext_exc=np.concatenate([np.full(n_hidden, load * a), np.zeros(n_hidden)]),
                   fire_rate=np.full(2 * n_hidden, a))
    output = Layer(w_exc=np.vstack([w2p, w2m]) / load, w_inh=np.zeros((2 * n_hidden, Y.shape[1])),
                   ext_exc=m - w2m.sum(axis=0), fire_rate=np.ones(Y.shape[1]))
    return [hidden, output], m, train_outputs


def make_realisable(layers):
    """Scale each weight layer (and its receiving cells' λ+ and r) so that every cell's out-weights sum to
    at most its firing rate. Outputs are unchanged: (sλ + s x+) / (s r + s x-) = (λ + x+) / (r + x-).

    The last layer is also scaled *up* until its busiest sender uses its whole rate: the output cells then
    receive as many spikes per unit time as the hidden cells allow, so a simulation reads them with the
    fewest events (outputs unchanged, for the same reason)."""
    out, rates = [], np.ones(layers[0].w_exc.shape[0])
    for i, layer in enumerate(layers):
        sums = _row_sums(layer.w_exc) + _row_sums(layer.w_inh)
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(sums > 0, sums / rates, 0.0)
        worst = float(need.max()) if need.size else 0.0
        last = i == len(layers) - 1
        layer = layer.scaled(1.0 / worst) if worst > 1.0 or (last and worst > 0) else layer
        out.append(layer)
        rates = layer.fire_rate
    return out


def _row_sums(w):
    return np.asarray(w.sum(axis=1)).ravel()


def forward(layers, X, return_all=False):
    """Analytic pass: ``Q_{l+1} = min((λ+ + Q W+) / (r + Q W-), 1)`` layer by layer (one BLAS call each)."""
    Q = X
    all_q = [X]
    for layer in layers:
        num = layer.ext_exc + _matmul(Q, layer.w_exc)
        den = layer.fire_rate + _matmul(Q, layer.w_inh)
        Q = np.minimum(num / den, 1.0)
        all_q.append(Q)
    return all_q if return_all else Q


def _matmul(Q, w):
    return np.asarray((w.T @ Q.T).T) if sp.issparse(w) else Q @ w


def to_network(layers, x=None):
    """The model as one G-network: sources (r = 1, Λ = x) followed by every layer's cells."""
    sizes = [layers[0].w_exc.shape[0]] + [layer.n_out for layer in layers]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n = int(offsets[-1])
    blocks_exc, blocks_inh = [], []
    for l, layer in enumerate(layers):
        for w, blocks in ((layer.w_exc, blocks_exc), (layer.w_inh, blocks_inh)):
            coo = sp.coo_matrix(w)
            blocks.append((coo.row + offsets[l], coo.col + offsets[l + 1], coo.data))
    w_exc, w_inh = (sp.csr_matrix((np.concatenate([b[2] for b in bl]), (np.concatenate([b[0] for b in bl]),
                                                                        np.concatenate([b[1] for b in bl]))),
                                  shape=(n, n)) for bl in (blocks_exc, blocks_inh))
    fire_rate = np.concatenate([np.ones(sizes[0])] + [layer.fire_rate for layer in layers])
    ext = np.concatenate([np.zeros(sizes[0]) if x is None else np.asarray(x, float)] +
                         [layer.ext_exc for layer in layers])
    return Network(fire_rate=fire_rate, w_exc=w_exc, w_inh=w_inh, ext_exc=ext), offsets


def spiking_output(hidden, encoded, codes, n_classes, penalty, l2, gen):
    """The ELM's cells kept, its readout replaced by one trained for sampled decisions.

    The output cells take only excitation, with non-negative weights ``W`` and a constant external
    excitation ``b`` from :func:`~gelsim.learn._spiking_readout.fit_for_decisions` on the hidden cells'
    excitation ``H`` (a priced, L2-penalised multinomial logistic regression: the class margins are then a
    good part of the flows that carry them, where a least-squares readout's cancel to a millionth).
    A unit of weight on hidden cell ``j`` is priced at its events per unit time over its rate (the share of
    its traffic the weight uses), at the mean training input. Hidden cells left without weight are dropped
    (nothing else reads them). Outputs are scaled to at most 0.95 on the training data.

    ``penalty`` is a number, or candidates to choose from by 3-fold cross-validation
    (:func:`~gelsim.learn._spiking_readout.penalty_to_use`, drawing the folds from ``gen``).

    Returns the two layers (hidden, kept cells only; output), the training outputs, the penalty used and
    the search (None for a given number).
    """
    H = forward([hidden], encoded)
    mean_in = encoded.mean(axis=0)
    traffic = (hidden.ext_exc + _matmul(mean_in[None], hidden.w_exc)[0] + _matmul(mean_in[None], hidden.w_inh)[0]
               + hidden.fire_rate * H.mean(axis=0))
    cost = traffic / hidden.fire_rate
    # (Refining for a budget of 1e6 events, as the convolutional readout can, cost 2 points of accuracy on
    # digits, 97.0 -> 94.8 %, for a forecast 2.6 times cheaper: not done.)
    penalty, search = penalty_to_use(H, codes, n_classes, cost, penalty, None, l2=l2, rng=gen)
    (W, b), _ = fit_for_decisions(H, codes, n_classes, cost, penalty, None, l2=l2)
    used = np.flatnonzero(W.sum(axis=1) > 0)
    if used.size == 0:
        raise ValueError("The spiking readout uses no hidden cell: lower spiking_penalty.")
    W, offset = W[used], b - b.min()
    outputs = H[:, used] @ W + offset
    scale = 0.95 / float(outputs.max())
    kept = Layer(w_exc=_columns(hidden.w_exc, used), w_inh=_columns(hidden.w_inh, used),
                 ext_exc=hidden.ext_exc[used], fire_rate=hidden.fire_rate[used])
    output = Layer(w_exc=W * scale, w_inh=np.zeros_like(W), ext_exc=offset * scale, fire_rate=np.ones(n_classes))
    return [kept, output], outputs * scale, penalty, search


def _columns(w, cols):
    return w[:, cols] if not sp.issparse(w) else sp.csr_matrix(w)[:, cols]
