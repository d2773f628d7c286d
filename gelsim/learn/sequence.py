"""Sequence classification by a recurrent layer of RNN cells trained through time: :class:`SequenceRNNClassifier`.

An Elman-type network (Elman, 1990) whose hidden units are RNN cells: at every time step the hidden cells
receive that step's input as spikes from source cells and their own previous state through recurrent
weights, by one application of Eq. (1)'s map, and the output cells read the last state. It is trained
by back-propagation through time with gradient clipping. ``cell="elman"`` trains the classic tanh Elman
network by the same code (same optimiser, batches, clipping and epochs), as the baseline.
"""

from __future__ import annotations

import numpy as np

from . import _elman
from . import _recurrent_maths as core
from sklearn.base import BaseEstimator, ClassifierMixin

from ._stopping import check_training, fit_by_gradient
from ._inputs import check_is_fitted, check_labels, check_series, decision_shape
from .._checks import as_generator, check_int, check_positive_number
from ..sampled import SpikingClassifierMixin
from ..steady.model_network import ModelNetwork

__all__ = ["SequenceRNNClassifier"]

#: The split coding's unit, in training standard deviations: a value this far from the mean excites its
#: source fully (q = 1); about 0.3 % of normal values lie beyond.
SPLIT_UNITS = 3.0


class SequenceRNNClassifier(SpikingClassifierMixin, ClassifierMixin, BaseEstimator):
    """Recurrent RNN-cell classifier of multivariate series, trained by back-propagation through time.

    Parameters
    ----------
    n_hidden : int
        Hidden cells (the state carried from step to step).
    cell : {"rnn", "elman"}
        ``"rnn"``: RNN cells (one step of Eq. (1)'s map per time step; the model is a G-network).
        ``"elman"``: ``h_t = tanh(x_t W + h_{t-1} U + b)``, the baseline, trained by the same code path.
    readout : {"last", "mean"}
        RNN cells: the output cells read the hidden state after the last step (``"last"``) or its mean over
        time (``"mean"``: every step's copy of the hidden layer sends to the outputs, its weights divided by
        the number of steps it is averaged over).
    coding : {"range", "split"}
        How a channel's values become the sources' ``q`` (each step's input): ``"range"`` scales each channel
        into [0, 1] by its training range; ``"split"`` gives each channel two sources, its rise above its
        training mean and its fall below it, in units of three training standard deviations (clipped to
        [0, 1]). Split coding lets a cell excited by both see how far a series strays from its mean, either
        way, which a range-coded source, whose mean over time is about the same for every class, hides.
    segments : int
        With ``readout="mean"``: the steps are cut into this many consecutive spans of (nearly) equal length,
        and the outputs read each span's mean state by its own weights, so they see when in the series a
        state occurs as well as how often. Series shorter than ``segments`` get one span per step.
    temperature : float
        RNN cells: the loss is the cross-entropy of ``softmax(q_out / temperature)``.
    label_smoothing : float in [0, 1)
        The loss's target is the label with weight ``1 - label_smoothing`` plus ``label_smoothing`` spread
        evenly over all classes (Szegedy et al., 2016), for both cells. 5-fold cross-validation on the
        training series (means over 3 seeds; 0 in brackets): JapaneseVowels 98.27 % (97.16), BasicMotions
        100 % (100).
    learning_rate, batch_size, max_epochs : float, int or "auto", int
        Adam's initial step size (decaying linearly to 0), patterns per step, passes over the data.
        ``batch_size="auto"`` takes a tenth of the training series, at least 1 and at most 32, so that
        every epoch makes at least 10 steps.
    clip : float
        Gradients whose global norm exceeds ``clip`` are scaled down to it.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training data (per class) and stop when its accuracy has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, keeping the best epoch's weights; without it
        (default), stop when the training loss has not fallen by ``tol`` for as many epochs. As
        scikit-learn's ``MLPClassifier``.
    validation_fraction, n_iter_no_change, tol : float, int, float
        See ``early_stopping``.
    dtype : {"float32", "float64"}
        Precision of training (the fitted model is kept in double precision). Single precision, the
        default, computed a batch's gradient 2 to 3 times faster with NumPy's step loops (64 cells; 32
        series of 125 steps: 2.8x, 27 of 25 steps: 2.1x); with the compiled ones a whole fit takes 0.75x
        the time on JapaneseVowels and 0.69x on BasicMotions (medians of 3 seeds), and it learns as well
        (cross-validated on the training series of JapaneseVowels and BasicMotions; the same test accuracy).
    random_state : None, int or numpy.random.Generator
    progress : None or bool
        Progress bar of the epochs with the loss (tqdm): None (default) shows it once training has lasted
        2 s, True at once, False never.

    Notes
    -----
    ``X`` has shape (n, channels, length); each channel is scaled into [0, 1] by its training range (test
    values beyond it are clipped), so each input value is a source cell's ``q``. With ``cell="rnn"``,
    :meth:`to_network` gives the model unrolled in time, a valid network (every hidden cell spends its rate
    over its out-weights by a softmax, and a source's rate is the sum of its weights, as in
    :class:`gelsim.RecurrentRNNClassifier`), and
    ``predict(mode="sampled")`` samples it.

    Fitted attributes: ``classes_``, ``params_``, ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``n_iter_``, ``n_params_``, ``input_offset_`` and ``input_scale_`` (per
    channel: the training minimum and range, or mean and three standard deviations).

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

    def __init__(self, n_hidden=64, *, cell="rnn", readout="mean", coding="split", segments=3,
                 temperature=0.03, label_smoothing=0.1, learning_rate=0.03, batch_size="auto",
                 max_epochs=100, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 clip=1.0, dtype="float32", random_state=None, progress=None):
        self.n_hidden = n_hidden
        self.cell = cell
        self.readout = readout
        self.segments = segments
        self.coding = coding
        self.temperature = temperature
        self.label_smoothing = label_smoothing
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip = clip
        self.dtype = dtype
        self.random_state = random_state
        self.progress = progress

    def fit(self, X, y):
        """Train on series ``X`` (n, channels, length) and labels ``y``; returns ``self``."""
        X = self._check_X(X, reset=True)
        self.classes_, codes = check_labels(self, y, X.shape[0])
        self._check_params()
        if self.coding == "range":
            self.input_offset_ = X.min(axis=(0, 2))
            scale = X.max(axis=(0, 2)) - self.input_offset_
        else:
            self.input_offset_, scale = X.mean(axis=(0, 2)), SPLIT_UNITS * X.std(axis=(0, 2))
        self.input_scale_ = np.where(scale > 0, scale, 1.0)
        dtype = np.dtype(self.dtype)
        S = self._steps(X).astype(dtype)
        gen = as_generator(self.random_state)
        d, H, K, T = S.shape[2], int(self.n_hidden), self.classes_.size, S.shape[1]
        smoothing = float(self.label_smoothing)
        if self.cell == "rnn":
            segments = min(int(self.segments), T) if self.readout == "mean" else 1
            params = core.init_params(d, H, K, 1, gen, segments=segments).astype(dtype)

            def loss_grad(idx):
                loss, grads = core.unrolled_loss_grad(params, S[idx], codes[idx], T, self.temperature, H, K,
                                                      self.readout, smoothing)
                return loss, grads.arrays()
        else:
            params = _elman.init_elman(d, H, K, gen).astype(dtype)

            def loss_grad(idx):
                loss, grads = _elman.elman_loss_grad(params, S[idx], codes[idx], T, smoothing)
                return loss, grads.arrays()
        arrays = params.arrays()
        fit_by_gradient(self, loss_grad, arrays, codes, gen, lambda rows: self._scores_of(params, S[rows], H, K),
                        clip=float(self.clip))
        # Kept in double precision whatever it was trained in: its network, predictions and simulations are.
        self.params_ = params.astype(np.float64)
        self.n_params_ = int(sum(a.size for a in arrays))
        return self

    def _check_params(self):
        name = type(self).__name__
        check_int(self.n_hidden, "n_hidden", name, minimum=1)
        if self.cell not in ("rnn", "elman"):
            raise ValueError(f"The 'cell' parameter of {name} must be 'rnn' or 'elman'. Got {self.cell!r} instead.")
        if self.readout not in ("last", "mean"):
            raise ValueError(f"The 'readout' parameter of {name} must be 'last' or 'mean'. "
                             f"Got {self.readout!r} instead.")
        check_int(self.segments, "segments", name, minimum=1)
        if self.coding not in ("range", "split"):
            raise ValueError(f"The 'coding' parameter of {name} must be 'range' or 'split'. "
                             f"Got {self.coding!r} instead.")
        for key in ("temperature", "clip"):
            check_positive_number(getattr(self, key), key, name)
        check_training(self)

    def _check_X(self, X, reset):
        return check_series(self, X, reset=reset)

    def _steps(self, X):
        """Coded inputs as steps: (n, length, channels), twice the channels with the split coding (rises,
        then falls)."""
        z = ((X - self.input_offset_[None, :, None]) / self.input_scale_[None, :, None]).transpose(0, 2, 1)
        if self.coding == "split":
            z = np.concatenate([z, -z], axis=2)
        return np.clip(z, 0.0, 1.0)

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
            return _elman.elman_outputs(params, S, S.shape[1])
        return core.unrolled_forward(core.weights(params, H, K), S, S.shape[1], self.readout)[2]

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
        return core.sequence_network(w, steps, x, self.readout)

    def _fitted_model(self):
        self._require_rnn("Sampled inference")
        return self.params_

    def _build_model_network(self):
        net = self.to_network()
        n_src = int(np.prod(self.input_shape_)) * (2 if self.coding == "split" else 1)
        return ModelNetwork.from_sources(net, np.arange(n_src), net.fire_rate[:n_src],
                                         np.arange(net.n_cells - self.classes_.size, net.n_cells))

    def _sampling_inputs(self, X, model):
        S = self._steps(self._check_X(X, reset=False))
        inputs = S.reshape(S.shape[0], -1)
        return inputs, lambda i: model.solve(inputs[i]), self.decision_outputs(X)
