"""Sequence classification by a recurrent layer of RNN cells trained through time: :class:`SequenceRNNClassifier`.

An Elman-type network (Elman, 1990) whose hidden units are RNN cells: at every time step the hidden cells
receive that step's input as spikes from source cells and their own previous state through recurrent
weights, by one application of Eq. (1)'s map, and the output cells read the last state. It is trained
by back-propagation through time with gradient clipping. ``cell="elman"`` trains the classic tanh Elman
network by the same code (same optimiser, batches, clipping and epochs), as the baseline.
"""

from __future__ import annotations

import numpy as np

from . import _recurrent_maths as core
from sklearn.base import BaseEstimator, ClassifierMixin

from ._stopping import check_training, fit_by_gradient
from ._inputs import check_is_fitted, check_labels, check_series, decision_shape
from .._checks import as_generator, check_int, check_positive_number
from ..sampled import SpikingClassifierMixin
from ..steady.model_network import ModelNetwork

__all__ = ["SequenceRNNClassifier"]


class SequenceRNNClassifier(SpikingClassifierMixin, ClassifierMixin, BaseEstimator):
    """Recurrent RNN-cell classifier of multivariate series, trained by back-propagation through time.

    Parameters
    ----------
    n_hidden : int
        Hidden cells (the state carried from step to step).
    cell : {"rnn", "elman"}
        ``"rnn"``: RNN cells (one step of Eq. (1)'s map per time step; the model is a G-network).
        ``"elman"``: ``h_t = tanh(x_t W + h_{t-1} U + b)``, the baseline, trained by the same code path.
    temperature : float
        RNN cells: the loss is the cross-entropy of ``softmax(q_out / temperature)``.
    learning_rate, batch_size, max_epochs : float, int, int
        Adam's initial step size (decaying linearly to 0), patterns per step, passes over the data.
    clip : float
        Gradients whose global norm exceeds ``clip`` are scaled down to it.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training data (per class) and stop when its accuracy has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, keeping the best epoch's weights; without it
        (default), stop when the training loss has not fallen by ``tol`` for as many epochs. As
        scikit-learn's ``MLPClassifier``.
    validation_fraction, n_iter_no_change, tol : float, int, float
        See ``early_stopping``.
    random_state : None, int or numpy.random.Generator
    progress : None or bool
        Progress bar of the epochs with the loss (tqdm): None (default) shows it once training has lasted
        2 s, True at once, False never.

    Notes
    -----
    ``X`` has shape (n, channels, length); each channel is scaled into [0, 1] by its training range (test
    values beyond it are clipped), so each input value is a source cell's ``q``. With ``cell="rnn"``,
    :meth:`to_network` gives the model unrolled in time, a valid network (every cell spends its rate over
    its out-weights by a softmax, as in :class:`gelsim.RecurrentRNNClassifier`), and
    ``predict(mode="sampled")`` samples it.

    Fitted attributes: ``classes_``, ``params_``, ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``n_iter_``, ``n_params_``, ``data_min_``, ``data_span_``.

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> rng = np.random.default_rng(0)
    >>> t = np.linspace(0, 1, 20)
    >>> X = np.stack([[s * t + rng.normal(0, 0.2, 20)] for s in np.repeat([1.0, -1.0], 20)])
    >>> y = np.repeat(["up", "down"], 20)
    >>> clf = gelsim.SequenceRNNClassifier(n_hidden=8, max_epochs=50, random_state=0).fit(X, y)
    >>> float(clf.score(X, y))
    1.0
    """

    def __init__(self, n_hidden=64, *, cell="rnn", temperature=0.03, learning_rate=0.03, batch_size=32,
                 max_epochs=100, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 clip=1.0, random_state=None, progress=None):
        self.n_hidden = n_hidden
        self.cell = cell
        self.temperature = temperature
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip = clip
        self.random_state = random_state
        self.progress = progress

    def fit(self, X, y):
        """Train on series ``X`` (n, channels, length) and labels ``y``; returns ``self``."""
        X = self._check_X(X, reset=True)
        self.classes_, codes = check_labels(self, y, X.shape[0])
        self._check_params()
        self.data_min_ = X.min(axis=(0, 2))[None, :, None]
        span = X.max(axis=(0, 2))[None, :, None] - self.data_min_
        self.data_span_ = np.where(span > 0, span, 1.0)
        S = self._steps(X)
        gen = as_generator(self.random_state)
        d, H, K, T = S.shape[2], int(self.n_hidden), self.classes_.size, S.shape[1]
        if self.cell == "rnn":
            params = core.init_params(d, H, K, 1, gen)

            def loss_grad(idx):
                loss, grads = core.unrolled_loss_grad(params, S[idx], codes[idx], T, self.temperature, H, K)
                return loss, grads.arrays()
        else:
            params = core.init_elman(d, H, K, gen)

            def loss_grad(idx):
                loss, grads = core.elman_loss_grad(params, S[idx], codes[idx], T)
                return loss, grads.arrays()
        arrays = params.arrays()
        fit_by_gradient(self, loss_grad, arrays, codes, gen, lambda rows: self._scores_of(params, S[rows], H, K),
                        clip=float(self.clip))
        self.params_ = params
        self.n_params_ = int(sum(a.size for a in arrays))
        return self

    def _check_params(self):
        name = type(self).__name__
        check_int(self.n_hidden, "n_hidden", name, minimum=1)
        if self.cell not in ("rnn", "elman"):
            raise ValueError(f"The 'cell' parameter of {name} must be 'rnn' or 'elman'. Got {self.cell!r} instead.")
        for key in ("temperature", "clip"):
            check_positive_number(getattr(self, key), key, name)
        check_training(self)

    def _check_X(self, X, reset):
        return check_series(self, X, reset=reset)

    def _steps(self, X):
        """Scaled inputs as steps: (n, length, channels)."""
        return np.clip((X - self.data_min_) / self.data_span_, 0.0, 1.0).transpose(0, 2, 1)

    def decision_function(self, X):
        """Class scores (n, n_classes): output excitations (RNN cells) or logits (Elman). With two classes, as
        scikit-learn has it, one column: the second class's score minus the first's."""
        return decision_shape(self._scores(X))

    def _scores(self, X):
        check_is_fitted(self, "params_")
        return self._scores_of(self.params_, self._steps(self._check_X(X, reset=False)), int(self.n_hidden),
                               self.classes_.size)

    def _scores_of(self, params, S, H, K):
        """Class scores of the steps ``S`` (n, length, channels) under ``params``."""
        if self.cell == "elman":
            return core.elman_outputs(params, S, S.shape[1])
        return core.unrolled_forward(core.weights(params, H, K), S, S.shape[1])[2]

    def decision_outputs(self, X):
        """Output-cell excitations (n, n_classes) after the last step (RNN cells only)."""
        self._require_rnn("decision_outputs")
        return self._scores(X)

    def predict(self, X, mode="analytic", **sampling):
        """Class labels: ``mode="analytic"`` or ``"sampled"`` (RNN cells; see :meth:`sample_outputs`)."""
        check_is_fitted(self, "params_")
        if mode == "sampled":
            self._require_rnn("predict(mode='sampled')")
        return self._predict_mode(X, mode, sampling,
                                  lambda X: self.classes_[np.argmax(self._scores(X), axis=1)])

    def _require_rnn(self, what):
        check_is_fitted(self, "params_")
        if self.cell != "rnn":
            raise ValueError(f"{what} needs cell='rnn': the Elman baseline is not a network of RNN cells.")

    def to_network(self, x=None):
        """The model unrolled in time as a :class:`gelsim.Network` (sources of step 1, ..., step T, hidden
        copies 1..T, outputs); with ``x`` (channels, length) the sources carry it."""
        self._require_rnn("to_network")
        w = core.weights(self.params_, int(self.n_hidden), self.classes_.size)
        steps = self.input_shape_[1]
        if x is not None:
            x = self._steps(self._check_X(np.asarray(x, float)[None], reset=False))[0]
        return core.sequence_network(w, steps, x)

    def _fitted_model(self):
        self._require_rnn("Sampled inference")
        return self.params_

    def _build_model_network(self):
        net = self.to_network()
        n_src = int(np.prod(self.input_shape_))
        return ModelNetwork.from_sources(net, np.arange(n_src), net.fire_rate[:n_src],
                                         np.arange(net.n_cells - self.classes_.size, net.n_cells))

    def _sampling_inputs(self, X, model):
        S = self._steps(self._check_X(X, reset=False))
        inputs = S.reshape(S.shape[0], -1)
        return inputs, lambda i: model.solve(inputs[i]), self.decision_outputs(X)
