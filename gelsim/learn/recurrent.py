"""A recurrent random neural network trained by gradient descent: :class:`RecurrentRNNClassifier`.

The classic learning problem of the RNN (Gelenbe, 1993): a recurrent network of cells whose weights are
learned from examples, read at its steady state (the fixed point of Eq. (1)) or after a fixed number of
steps of Eq. (1)'s map (``readout_time``). A network read after K steps is a K-layer feed-forward network:
with the same weights at every step it is a deep residual-like network with shared weights (Liao &
Poggio, 2016), without them an ordinary deep network. Every fitted model is a :class:`gelsim.Network`
(:meth:`RecurrentRNNClassifier.to_network`) that :func:`gelsim.simulate` runs and ``predict(mode="sampled")``
samples.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _recurrent_maths as core
from sklearn.base import BaseEstimator, ClassifierMixin

from ._sources import ComplementCoded, drop_inputs
from ._stopping import check_training, fit_by_gradient
from ._inputs import check_is_fitted, check_labels, check_tabular
from .._checks import as_generator, check_int, check_positive_number, check_proportion
from ..sampled import SpikingClassifierMixin
from ..steady.model_network import ModelNetwork

__all__ = ["RecurrentRNNClassifier"]


class RecurrentRNNClassifier(SpikingClassifierMixin, ClassifierMixin, BaseEstimator):
    """Recurrent RNN classifier trained by back-propagation through Eq. (1) (Adam, mini-batches).

    Cells: sources carrying the input features (see ``coding``), ``n_hidden`` recurrent hidden cells, one
    output cell per class; the prediction is the most excited output. There is no bias source (on digits
    one cost half a point of accuracy); the default complement coding gives every pattern spikes to send.

    Parameters
    ----------
    n_hidden : int
        Hidden (recurrent) cells.
    readout_time : None or int
        None: read the outputs at the steady state, with exact gradients by one adjoint solve per batch (as
        :func:`gelsim.steady_state_vjp`, on the hidden cells only). An integer K >= 1: read them after K
        steps of Eq. (1)'s map from rest (q = 0), back-propagating through the K steps.
    share_weights : bool
        With ``readout_time``: the same hidden weights at every step (True) or one set per step.
    coding : {"complement", "range"}
        Each feature is scaled into [0, 1] by its training range, ``x``; ``"range"`` gives it one source
        (``q = x``), ``"complement"`` two (``x`` and ``1 - x``). A source at ``q = 0`` sends no spikes, so
        with one source an unlit pixel is invisible to the network; its complement makes it count
        (5-fold cross-validation on the digits' training images: 96.3 -> 97.3 %; the MLP 97.1 %).
    temperature : float
        The loss is the cross-entropy of ``softmax(q_out / temperature)``.
    label_smoothing : float in [0, 1)
        The loss's target is the label with weight ``1 - label_smoothing`` plus ``label_smoothing`` spread
        evenly over all classes (Szegedy et al., 2016): training then stops pulling the outputs of patterns
        it already classifies apart, and spends its steps on the others. Cross-validated on the training data
        (digits 5 folds, 4 seeds; the MNIST sample 3 folds, 2 seeds; 0 in brackets): digits 97.57 % (97.22),
        the MNIST sample 92.55 % (92.28); 0.02 and 0.05 gave 97.61 and 97.59 % on digits, 92.46 and 92.50 %
        on MNIST, the same within their spread, and 0.1 is the usual choice.
    input_dropout : float in [0, 1)
        During training, each feature of each pattern is read as 0 (unlit) with this probability, drawn
        afresh at every step: a regulariser for inputs with many redundant features, such as large images.
        Not the default, because it helps there and hurts elsewhere (cross-validated on the training data,
        with the default label smoothing, 0 in brackets): the MNIST sample's 784 pixels 93.84 % at 0.3
        (92.55; 0.1, 0.2, 0.4 and 0.5 gave 93.30, 93.59, 93.75 and 93.60 %), where the test images then give
        94.8 % (median of 3 seeds; 93.1 without, scikit-learn's MLP 93.8), at 1.0x to 1.2x the time per
        epoch; digits' 64 pixels 96.96 % at 0.1 (97.57). Having many features does not make it safe: on
        three UCR sets read as flat vectors (150 to 1,460 values) 0.3 lost 5 to 19 points of test accuracy.
    learning_rate, batch_size, max_epochs : float, int or "auto", int
        Adam's initial step size (decaying linearly to 0 over the epochs), patterns per step, passes over
        the training data. ``batch_size="auto"`` takes a tenth of the training data, at least 1 and at most
        32 patterns. Each step costs an Adam update over every parameter whatever the batch: on the MNIST
        sample an epoch in batches of 128 takes about 0.75x the time of one in batches of 64, but
        cross-validated accuracy (5 folds of the training data) falls from 93.1 to 92.4 % there and from
        96.6 to 96.5 % on digits, so 64 stays the default.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training data (per class) and stop when its accuracy has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, keeping the best epoch's weights; without it
        (default), stop when the training loss has not fallen by ``tol`` for as many epochs. As
        scikit-learn's ``MLPClassifier``.
    validation_fraction, n_iter_no_change, tol : float, int, float
        See ``early_stopping``.
    dtype : {"float32", "float64"}
        Precision of training (the fitted model is kept in double precision). Single precision, the default,
        halves the time of a step (MNIST sample, 100 hidden cells, a batch of 64: 4.0 -> 1.8 ms) and settles
        the fixed points to 1e-5 instead of 1e-8, at the same accuracy (cross-validated on digits: 96.26 %
        both).
    random_state : None, int or numpy.random.Generator
        Initial weights and batch order.
    progress : None or bool
        Progress bar of the epochs with the loss (tqdm): None (default) shows it once training has lasted
        2 s, True at once, False never.

    Notes
    -----
    Validity by construction, not by projection: every hidden cell spends its firing rate
    ``r_j = exp(φ_j)`` over its out-weights by a softmax (one excitatory and one inhibitory slot per
    target and one for spikes that leave), so ``Σ_k (w+_jk + w-_jk) <= r_j`` holds for any parameter values
    and the trained model is always a network that :func:`gelsim.simulate` can run. A source's weights are
    free positive numbers and its firing rate is their sum: a source's ``q`` is its input whatever its rate,
    so nothing is lost by letting the weights set the rate, and it saves the softmax over the largest block
    of weights (MNIST sample: 1,568 sources by 200 slots). Each weight is ``0.09 ψ²`` of a free root ``ψ``;
    unlike ``exp(θ)`` it can reach 0, and it learns better in 5-fold cross-validation (training data only,
    means over seeds, ``exp(θ)`` in brackets): digits 97.35 % (96.55), the MNIST sample 93.03 % (93.13),
    JapaneseVowels 97.41 % (96.67), scikit-learn's wine 98.50 % (97.94) and breast cancer 97.07 % (96.84).

    Fitted attributes: ``classes_``, ``params_`` (the roots of the sources' weights, the hidden cells' logits,
    the log-rates), ``loss_curve_`` (mean loss per epoch), ``validation_scores_`` and ``best_validation_score_``
    (with ``early_stopping``, else None), ``n_iter_`` (epochs run), ``n_params_`` (trained numbers),
    ``data_min_``, ``data_span_``.

    Examples
    --------
    XOR, each bit coded as the pair (x, 1 - x) so that every input is a flow of spikes:

    >>> import numpy as np, gelsim
    >>> bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 8, float); y = np.array([0, 1, 1, 0] * 8)
    >>> X = np.hstack([bits, 1 - bits])
    >>> clf = gelsim.RecurrentRNNClassifier(n_hidden=8, readout_time=4, temperature=0.1, batch_size=32,
    ...                                     max_epochs=1000, tol=0.0, random_state=0).fit(X, y)
    >>> clf.predict(X[:4]).tolist()
    [0, 1, 1, 0]
    """

    def __init__(self, n_hidden=100, *, readout_time=None, share_weights=True, coding="complement",
                 temperature=0.03, label_smoothing=0.1, input_dropout=0.0, learning_rate=0.03, batch_size=64,
                 max_epochs=100, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 dtype="float32", random_state=None, progress=None):
        self.n_hidden = n_hidden
        self.readout_time = readout_time
        self.share_weights = share_weights
        self.coding = coding
        self.temperature = temperature
        self.label_smoothing = label_smoothing
        self.input_dropout = input_dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y``; returns ``self``."""
        X = self._check_X(X, reset=True)
        self.classes_, codes = check_labels(self, y, X.shape[0])
        self._check_params()
        self.data_min_ = X.min(axis=0)
        span = X.max(axis=0) - self.data_min_
        self.data_span_ = np.where(span > 0, span, 1.0)
        dtype = np.dtype(self.dtype)
        Xs = self._inputs(X, dtype, dense=False)
        gen = as_generator(self.random_state)
        H, K = int(self.n_hidden), self.classes_.size
        steps = self.readout_time
        n_sets = steps if (steps is not None and not self.share_weights) else 1
        params = core.init_params(Xs.shape[1], H, K, n_sets, gen).astype(dtype)
        arrays = params.arrays()

        warm = core.WarmStarts(Xs.shape[0], H, dtype) if steps is None else None
        smoothing, dropout = float(self.label_smoothing), float(self.input_dropout)

        def loss_grad(idx):
            X = drop_inputs(Xs[idx], dropout, gen) if dropout else Xs[idx]
            if steps is None:
                # A cell on the edge of saturation gets its one-sided derivative: a valid subgradient step.
                loss, grads = core.steady_loss_grad(params, X, codes[idx], self.temperature, H, K,
                                                    smoothing=smoothing, tol=core.TRAINING_TOL[dtype], warm=warm,
                                                    rows=idx)
            else:
                loss, grads = core.unrolled_loss_grad(params, X, codes[idx], steps, self.temperature, H, K,
                                                      smoothing=smoothing)
            return loss, grads.arrays()

        fit_by_gradient(self, loss_grad, arrays, codes, gen, lambda rows: core.outputs(params, Xs[rows], steps, H, K))
        # The fitted model is kept in double precision whatever it was trained in: its network, analytic
        # predictions and simulations are.
        self.params_ = params.astype(np.float64)
        self.n_params_ = int(sum(a.size for a in arrays))
        return self

    def _check_params(self):
        name = type(self).__name__
        check_int(self.n_hidden, "n_hidden", name, minimum=1)
        if self.readout_time is not None and (not isinstance(self.readout_time, numbers.Integral)
                                              or self.readout_time < 1):
            raise ValueError(f"The 'readout_time' parameter of {name} must be None (steady state) or an integer "
                             f">= 1 (steps of Eq. (1)'s map). Got {self.readout_time!r} instead.")
        check_positive_number(self.temperature, "temperature", name)
        check_proportion(self.input_dropout, "input_dropout", name)
        if self.coding not in ("complement", "range"):
            raise ValueError(f"The 'coding' parameter of {name} must be 'complement' or 'range'. "
                             f"Got {self.coding!r} instead.")
        check_training(self)

    def _check_X(self, X, reset):
        return check_tabular(self, X, reset=reset)

    def _inputs(self, X, dtype=np.float64, *, dense=True):
        """The sources' q as ``dtype``: the features scaled into [0, 1] by the training range, then their
        complements with the complement coding: stacked (``dense``), or as a
        :class:`~gelsim.learn._sources.ComplementCoded` of the features alone, whose products with
        the weights take half the multiply-adds (MNIST sample, 100 hidden cells: the two per training step
        take 0.40 ms each stacked, 0.35 and 0.30 ms so)."""
        x = (X - self.data_min_) / self.data_span_
        np.clip(x, 0.0, 1.0, out=x)
        x = x.astype(dtype, copy=False)
        if self.coding != "complement":
            return x
        coded = ComplementCoded(x)
        return coded.dense() if dense else coded

    # ------------------------------------------------------------------ prediction
    def decision_outputs(self, X):
        """Output-cell excitations (n, n_classes): at the steady state, or after ``readout_time`` steps."""
        check_is_fitted(self, "params_")
        X = self._inputs(self._check_X(X, reset=False), dense=False)
        return core.outputs(self.params_, X, self.readout_time, int(self.n_hidden), self.classes_.size)

    def predict(self, X, mode="analytic", **sampling):
        """Class labels: ``mode="analytic"`` (default) or ``"sampled"`` (see :meth:`sample_outputs`)."""
        check_is_fitted(self, "params_")
        return self._predict_mode(X, mode, sampling,
                                  lambda X: self.classes_[np.argmax(self.decision_outputs(X), axis=1)])

    def predict_proba(self, X):
        """``softmax(q_out / temperature)``, the distribution the training loss scores."""
        z = self.decision_outputs(X) / self.temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def to_network(self, x=None):
        """The trained model as a :class:`gelsim.Network`: sources (carrying ``x`` if given), hidden cells,
        outputs (the last ``n_classes``). With ``readout_time=K`` it is the unrolled network: K copies of
        the hidden layer, copy k fed by copy k - 1, so that its steady state is the K-step output."""
        check_is_fitted(self, "params_")
        w = core.weights(self.params_, int(self.n_hidden), self.classes_.size)
        if x is not None:
            x = self._inputs(self._check_X(np.asarray(x, float)[None], reset=False))[0]
        return core.network(w, x, self.readout_time)

    # ------------------------------------------------------------------ sampled inference
    def _fitted_model(self):
        check_is_fitted(self, "params_")
        return self.params_

    def _build_model_network(self):
        net = self.to_network()
        d = self.params_.src_roots.shape[0]     # the sources: one or two per feature
        return ModelNetwork.from_sources(net, np.arange(d), net.fire_rate[:d],
                                         np.arange(net.n_cells - self.classes_.size, net.n_cells))

    def _sampling_inputs(self, X, model):
        Xs = self._inputs(self._check_X(X, reset=False))
        return Xs, lambda i: model.solve(Xs[i]), self.decision_outputs(X)
