"""MLSRNN and MCSRNN classifiers (Yin & Gelenbe, Section VI), scikit-learn style.

Both train without back-propagation (Algorithms 1 and 2) and are real G-networks: ``predict`` evaluates them
analytically (a vectorised feed-forward pass) or, with ``mode="sampled"``, simulates each instance's spiking
network until its class is decided (:mod:`gelsim.sampled`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import _mlsrnn_maths as core
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError

from ._inputs import check_is_fitted, check_labels, check_series, check_tabular
from ._spiking_readout import check_penalty, stratified_folds
from .._checks import as_generator
from .._progress import Progress
from ..sampled import SampledOutputs, SpikingClassifierMixin
from ..steady.model_network import ModelNetwork

__all__ = ["MLSRNNClassifier", "MCSRNNClassifier", "SampledOutputs", "ScaleSearch", "NotFittedError"]


#: Widest ELM at which ``hidden="auto"`` compares its candidate autoencoders (the final width is searched
#: afterwards, for the chosen one only).
COMPARE_WIDTH = 256
#: The paper's configuration (Section VI): see :meth:`MLSRNNClassifier.paper`.
PAPER = dict(hidden=(200,), elm_hidden=1000, ridge=None)


#: Folds of the cross-validation that chooses among several ``elm_scale`` values, and held-out instances per
#: fold whose sampled decisions are forecast.
SCALE_FOLDS, SCALE_FORECASTS = 3, 20


@dataclass(frozen=True, repr=False)
class ScaleSearch:
    """Cross-validated choice of the ELM's activation scale (``elm_scale`` given as a list).

    Attributes
    ----------
    scales : ndarray
        The candidates.
    accuracy, accuracy_se : ndarray
        Held-out accuracy per candidate, pooled over the folds, and its standard error.
    median_events : ndarray
        Median over the folds of the median forecast events of a sampled decision from an empty start
        (:meth:`~gelsim.MLSRNNClassifier.sampling_cost`) on up to ``SCALE_FORECASTS`` held-out instances.
    chosen : float
        The cheapest candidate whose accuracy is within one standard error of the best.
    """

    scales: np.ndarray
    accuracy: np.ndarray
    accuracy_se: np.ndarray
    median_events: np.ndarray
    chosen: float

    def __repr__(self):
        rows = ", ".join(f"{s:g}: {100 * a:.1f} ± {100 * e:.1f} % / {m:.3g} events"
                         for s, a, e, m in zip(self.scales, self.accuracy, self.accuracy_se, self.median_events))
        return f"ScaleSearch(chosen={self.chosen:g}; {rows})"


def _real(value):
    """Whether ``value`` is a finite real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))


def _positive_or_candidates(value):
    """Whether ``value`` is a finite positive number, or a list of at least two."""
    if _real(value):
        return value > 0
    try:
        values = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return values.ndim == 1 and values.size >= 2 and bool(np.all(np.isfinite(values) & (values > 0)))


class _BaseSRNN(SpikingClassifierMixin, ClassifierMixin, BaseEstimator):
    """Shared fit / predict machinery; subclasses say how input becomes channels."""

    def _check_input(self, X, reset):
        """A table (n, features); MCSRNN takes series (see :func:`~gelsim.learn._inputs.check_series`)."""
        return check_tabular(self, X, reset=reset)

    def __init__(self, hidden="auto", elm_hidden="auto", *, elm_fan_in=None, elm_scale=core.PAPER_ELM_SCALE,
                 l1=1.0, ridge="auto", readout="least_squares", spiking_penalty=(1e-4, 1e-5, 1e-6), spiking_l2=1e-3,
                 load_scale=1.0, fista_tol=1e-4, fista_max_iter=200, random_state=None):
        self.hidden = hidden
        self.elm_hidden = elm_hidden
        self.elm_fan_in = elm_fan_in
        self.elm_scale = elm_scale
        self.l1 = l1
        self.ridge = ridge
        self.readout = readout
        self.spiking_penalty = spiking_penalty
        self.spiking_l2 = spiking_l2
        self.load_scale = load_scale
        self.fista_tol = fista_tol
        self.fista_max_iter = fista_max_iter
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Train by Algorithm 1 (MLSRNN) or 2 (MCSRNN); returns ``self``."""
        X = self._check_input(X, reset=True)
        self.classes_, codes = check_labels(self, y, X.shape[0])
        candidates = self._check_params()
        scales = np.atleast_1d(np.asarray(self.elm_scale, dtype=float))
        self.scale_search_ = self._choose_scale(X, codes, scales) if scales.size > 1 else None
        self.elm_scale_ = float(scales[0]) if self.scale_search_ is None else self.scale_search_.chosen
        self._fit_scaler(X)
        gen = as_generator(self.random_state)
        channels = self._channels(self._scale(X))
        Y = np.eye(self.classes_.size)[codes]
        best = None
        for hidden in candidates:
            # With several candidate stacks (hidden="auto"), the one whose ELM has the least leave-one-out
            # error, compared at widths up to COMPARE_WIDTH (cheap), is kept; the autoencoder is
            # unsupervised, so the comparison sees no labels it was fitted on.
            stacks, encoded, send_rate = core.train_channel_stacks(
                channels, hidden, gen, l1=self.l1, tol=self.fista_tol, max_iter=self.fista_max_iter)
            error = 0.0
            if len(candidates) > 1:
                error = np.nanmin(self._choose_elm(encoded, Y, send_rate, gen, COMPARE_WIDTH)[3].loo_error)
            if best is None or error < best[0]:
                best = (error, hidden, stacks, encoded, send_rate)
        _, self.hidden_, stacks, encoded, send_rate = best
        width, ridge, pool, self.elm_selection_ = self._choose_elm(encoded, Y, send_rate, gen)
        # The search already solved the chosen ridge (not when the pseudo-inverse is asked for).
        found = self.elm_selection_.output_weights if self.elm_selection_ is not None and ridge is not None else None
        elm_layers, self.offset_, elm_outputs = core.train_elm(encoded, Y, width, send_rate, gen, ridge=ridge,
                                                               pool=pool, output_weights=found,
                                                               fan_in=self.elm_fan_in, scale=self.elm_scale_,
                                                               load=float(self.load_scale))
        if self.readout == "spiking":
            elm_layers, elm_outputs, self.spiking_penalty_, self.penalty_search_ = core.spiking_output(
                elm_layers[0], encoded, codes, self.classes_.size, self.spiking_penalty, float(self.spiking_l2), gen)
            self.offset_ = 0.0
        self.elm_hidden_, self.ridge_ = width, ridge
        self.layers_ = core.make_realisable(stacks + elm_layers)
        # The ELM's training outputs are the network's outputs minus offset_ (rescaling changes no output), so
        # no second pass over the training data is needed.
        self.score_scale_ = float(np.std(elm_outputs)) or 1.0
        return self

    def _choose_scale(self, X, codes, scales):
        """:class:`ScaleSearch` over ``scales`` by ``SCALE_FOLDS``-fold cross-validation on the training data
        ``X`` (``codes``: its labels' indices in ``classes_``): each fold fits the estimator at each scale, counts
        its held-out predictions and forecasts the sampled decisions of ``SCALE_FORECASTS`` held-out instances
        (the same instances for every scale)."""
        folds = stratified_folds(codes, SCALE_FOLDS, as_generator(self.random_state))
        y = self.classes_[codes]
        right = np.zeros((scales.size, codes.size))
        events = np.zeros((scales.size, SCALE_FOLDS))
        # One bar for the search: the fits' own penalty-search bars, nested in it, stay silent.
        with Progress(SCALE_FOLDS * scales.size, "elm_scale search") as bar:
            for fold in range(SCALE_FOLDS):
                train, held = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
                for i, scale in enumerate(scales):
                    model = clone(self).set_params(elm_scale=float(scale)).fit(X[train], y[train])
                    right[i, held] = model.predict(X[held]) == y[held]
                    events[i, fold] = np.median(model.sampling_cost(X[held[:SCALE_FORECASTS]]).events)
                    bar.update(fold * scales.size + i + 1)
        accuracy = right.mean(axis=1)
        se = np.sqrt(accuracy * (1.0 - accuracy) / codes.size)
        best = int(np.argmax(accuracy))
        median_events = np.median(events, axis=1)
        eligible = np.flatnonzero(accuracy >= accuracy[best] - se[best])
        chosen = float(scales[eligible[np.argmin(median_events[eligible])]])
        return ScaleSearch(scales=scales, accuracy=accuracy, accuracy_se=se, median_events=median_events,
                           chosen=chosen)

    def _choose_elm(self, encoded, Y, send_rate, gen, max_width=None):
        """The ELM's width and penalty: as given, or (``"auto"``) of least leave-one-out error on the
        training data (:func:`~gelsim.learn._mlsrnn_maths.select_elm`); also the input-weight pool and the
        selection (None when nothing was chosen)."""
        auto_width, auto_ridge = self.elm_hidden == "auto", self.ridge == "auto"
        if not (auto_width or auto_ridge):
            return int(self.elm_hidden), self.ridge, None, None
        widths = core.auto_widths(encoded.shape[0]) if auto_width else [int(self.elm_hidden)]
        if max_width is not None:
            widths = [w for w in widths if w <= max_width] or widths[:1]
        # With the pseudo-inverse (ridge=None), widths are compared at a vanishing penalty.
        ridges = core.AUTO_RIDGES if auto_ridge else [1e-10 if self.ridge is None else float(self.ridge)]
        pool = core.elm_pool(encoded.shape[1], max(widths), send_rate, gen, self.elm_fan_in, self.elm_scale_)
        choice = core.select_elm(encoded, Y, pool, widths, ridges)
        return choice.width, (choice.ridge if auto_ridge else self.ridge), pool, choice

    @classmethod
    def paper(cls, **params):
        """The paper's configuration (Section VI, Algorithms 1-2): one autoencoder layer of 200 cells, an ELM
        of 1,000 units and the pseudo-inverse readout (12); other parameters as given.

        Examples
        --------
        >>> from gelsim import MLSRNNClassifier
        >>> MLSRNNClassifier.paper(random_state=0)
        MLSRNNClassifier(elm_hidden=1000, hidden=(200,), random_state=0, ridge=None)
        """
        return cls(**{**PAPER, **params})

    def _check_params(self):
        """Validate the constructor arguments (never changing them); returns the candidate ``hidden`` tuples
        (one, unless ``hidden="auto"`` offers several)."""
        auto = isinstance(self.hidden, str) and self.hidden == "auto"
        hidden = () if auto else self.hidden
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        if isinstance(hidden, str) or not all(isinstance(h, numbers.Integral) and h >= 1 for h in hidden):
            raise ValueError(f"The 'hidden' parameter of {type(self).__name__} must be 'auto' or a tuple of positive "
                             f"integers (sizes of the autoencoder layers). Got {self.hidden!r} instead.")
        if not (self.elm_hidden == "auto" or (isinstance(self.elm_hidden, numbers.Integral)
                                               and not isinstance(self.elm_hidden, bool) and self.elm_hidden >= 1)):
            raise ValueError(f"The 'elm_hidden' parameter of {type(self).__name__} must be 'auto' or a positive "
                             f"integer. Got {self.elm_hidden!r} instead.")
        name = type(self).__name__
        if not (self.elm_fan_in is None or (isinstance(self.elm_fan_in, numbers.Integral)
                                            and not isinstance(self.elm_fan_in, bool) and self.elm_fan_in >= 1)):
            raise ValueError(f"The 'elm_fan_in' parameter of {name} must be None or a positive integer (inputs "
                             f"each ELM unit listens to). Got {self.elm_fan_in!r} instead.")
        if not _positive_or_candidates(self.elm_scale):
            raise ValueError(f"The 'elm_scale' parameter of {name} must be a finite positive number, or a list of "
                             f"at least two to choose from by cross-validation. Got {self.elm_scale!r} instead.")
        if not (_real(self.l1) and self.l1 >= 0):
            raise ValueError(f"The 'l1' parameter of {name} must be a finite non-negative number. Got {self.l1!r}.")
        if not (self.ridge is None or (isinstance(self.ridge, str) and self.ridge == "auto")
                or (_real(self.ridge) and self.ridge > 0)):
            raise ValueError(f"The 'ridge' parameter of {name} must be 'auto', None or a finite positive number. "
                             f"Got {self.ridge!r} instead.")
        if self.readout not in ("least_squares", "spiking"):
            raise ValueError(f"The 'readout' parameter of {name} must be 'least_squares' or 'spiking'. "
                             f"Got {self.readout!r} instead.")
        check_penalty(self.spiking_penalty, name)
        if not (_real(self.spiking_l2) and self.spiking_l2 >= 0):
            raise ValueError(f"The 'spiking_l2' parameter of {name} must be a finite non-negative number. "
                             f"Got {self.spiking_l2!r} instead.")
        if not (_real(self.load_scale) and 0 < self.load_scale <= 1):
            raise ValueError(f"The 'load_scale' parameter of {name} must be a number in (0, 1]. "
                             f"Got {self.load_scale!r} instead.")
        if not (_real(self.fista_tol) and self.fista_tol > 0):
            raise ValueError(f"The 'fista_tol' parameter of {name} must be a finite positive number. "
                             f"Got {self.fista_tol!r} instead.")
        if isinstance(self.fista_max_iter, bool) or not isinstance(self.fista_max_iter, numbers.Integral) \
                or self.fista_max_iter < 1:
            raise ValueError(f"The 'fista_max_iter' parameter of {name} must be an integer >= 1. "
                             f"Got {self.fista_max_iter!r} instead.")
        return self._auto_hidden() if auto else [tuple(int(h) for h in hidden)]

    # ------------------------------------------------------------------ scaling into [0, 1] (training data only)
    def _fit_scaler(self, X):
        axes = self._scale_axes
        self.data_min_ = X.min(axis=axes, keepdims=True)
        span = X.max(axis=axes, keepdims=True) - self.data_min_
        self.data_span_ = np.where(span > 0, span, 1.0)

    def _scale(self, X):
        return np.clip((X - self.data_min_) / self.data_span_, 0.0, 1.0)

    def _flat_scaled(self, X):
        return self._scale(X).reshape(X.shape[0], -1)

    # ------------------------------------------------------------------ prediction
    def decision_outputs(self, X):
        """Analytic output-cell excitations ``Q_{L+2}`` (n, n_classes); the ELM outputs plus the offset ``m``."""
        check_is_fitted(self, "layers_")
        X = self._validate_predict(X)
        return core.forward(self.layers_, self._flat_scaled(X))

    def predict(self, X, mode="analytic", **sampling):
        """Class labels: ``mode="analytic"`` (default) or ``"sampled"`` (spiking simulation per instance,
        until decided; the keyword arguments ``sampling`` go to :meth:`sample_outputs`).

        Examples
        --------
        >>> from gelsim import MLSRNNClassifier
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLSRNNClassifier(random_state=0).fit(X, y)     # width and penalty chosen from the data
        >>> bool(clf.score(X, y) > 0.9)
        True
        """
        check_is_fitted(self, "layers_")
        return self._predict_mode(X, mode, sampling,
                                  lambda X: self.classes_[np.argmax(self.decision_outputs(X), axis=1)])

    def predict_proba(self, X):
        """Class scores from the analytic outputs: softmax of the ELM outputs scaled by their training spread.

        These are monotone in the outputs (same argmax as :meth:`predict`), not calibrated probabilities.
        """
        z = (self.decision_outputs(X) - self.offset_) / self.score_scale_
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def to_network(self, x=None):
        """The trained model as a :class:`gelsim.Network` (a valid spiking network).

        Cells are ordered sources, hidden layers, outputs. With ``x`` (one raw instance) the sources carry its
        scaled features as external excitation (``Λ = x``, ``r = 1``, so ``q = x``); without it they are silent.
        """
        check_is_fitted(self, "layers_")
        if x is not None:
            x = self._flat_scaled(self._validate_predict(np.asarray(x)[None]))[0]
        return core.to_network(self.layers_, x)[0]

    def _fitted_model(self):
        check_is_fitted(self, "layers_")
        return self.layers_

    def _build_model_network(self):
        """Sources with ``Λ = x``, ``r = 1`` (so ``q = x``), then the layers; the outputs come last."""
        net, offsets = core.to_network(self.layers_, None)
        n_src = int(offsets[1])
        outputs = np.arange(net.n_cells - self.classes_.size, net.n_cells)
        # Sources sending on less than their rate run at what they send: the same streams reach the hidden
        # cells, and the spikes that would leave are not simulated.
        return ModelNetwork.from_sources(net, np.arange(n_src), np.ones(n_src), outputs, trim_rates=True)

    def _sampling_inputs(self, X, model):
        Xs = self._flat_scaled(self._validate_predict(X))
        # Every layer's q for every instance, in the network's cell order, from one forward pass.
        q_all = np.concatenate(core.forward(self.layers_, Xs, return_all=True), axis=1)
        return Xs, q_all.__getitem__, q_all[:, model.output_cells]

    # ------------------------------------------------------------------ input validation
    def _validate_predict(self, X):
        return self._check_input(X, reset=False)


class MLSRNNClassifier(_BaseSRNN):
    """Multi-layer single-cell RNN classifier (Algorithm 1).

    Parameters
    ----------
    hidden : tuple of int or "auto"
        Sizes of the sparse-autoencoder layers (``N_2 .. N_L``); ``()`` feeds the input straight to the ELM.
        ``"auto"`` (default), MLSRNN: no autoencoder or one layer of a quarter of the features, whichever
        gives the ELM the smaller leave-one-out error (compared at widths up to 256, then the width is
        searched for the one kept). The autoencoder is unsupervised, so the comparison sees no label it was
        fitted on; it helps on pixels (MNIST) and not on small tables. MCSRNN: one layer per channel of half
        the series' length, which compresses each channel before the shared ELM (none for series shorter
        than 8 steps). The paper's sizes are in :meth:`paper`.
    elm_hidden : int or "auto"
        Hidden units of the ELM; the mapped RNN layer has ``2 * elm_hidden`` cells (ρ and ϱ halves).
        ``"auto"`` (default): the width of least leave-one-out error among 16, 32, ..., 1,024 units, up to
        twice the training rows (a wider ELM only interpolates them).
    elm_fan_in : int or None
        Inputs each ELM unit listens to, drawn at random without replacement (each input still spends its
        whole rate, over the units that listen to it). None (default): every input, as the paper's ELM.
        A unit that sums every input sees about the same total whatever the instance, so its ``q`` barely
        moves between classes, and a sampled decision must wait for the noise of its spikes to fall below
        that small difference. A unit of few inputs is selective: digits (3-fold cross-validation on the
        training data, spiking readout), 8 inputs against all 64: held-out accuracy 97.0 against 92.1 %
        (least squares 98.2 against 96.9 %), and a decision from an empty start forecast at 7e5 events
        against 2.5e9. An autoencoder layer before the ELM (``hidden``) undoes this: its cells sum many
        inputs again (the MNIST sample, 8 inputs: forecast 2.9e9 events with the autoencoder, 1.3e6
        without).
    elm_scale : float or list of float
        The ELM activation's scale ``a`` (``ρ(x) = a / (a + x)``) as a share of the largest input any ELM
        unit receives on the training data; the paper's (default) is a fifth. A larger scale makes every ELM
        cell fire more for the input spikes it costs, so sampled decisions take fewer events, at some cost in
        nonlinearity. A list of candidates (e.g. ``[0.2, 1]``) is chosen from by 3-fold cross-validation on
        the training data, as ``spiking_penalty`` is: the candidate whose sampled decisions are forecast
        cheapest (:meth:`sampling_cost`, 20 held-out instances per fold) among those within one standard
        error of the best held-out accuracy (``scale_search_``); the fit then takes about seven times as
        long. Sampling-ready models (``readout="spiking", hidden=(), elm_fan_in=8, load_scale=0.5``),
        0.2 against 1, first 500 test instances decided from an empty start within 3e7 events (measured
        before the sequential test spread its error budget evenly over the looks, which made both cheaper):
        JapaneseVowels (MCSRNN) 84 against 94 % decided, median 9.8e6 against 2.7e6 events, accuracy 98.4
        against 97.8 %; digits 95.8 against 95.0 %, 9.7e5 against 6.7e5, accuracy 98.3 against 97.2 %; the
        MNIST sample 90.4 against 89.0 %, 2.1e6 against 1.1e6, accuracy 92.3 against 90.3 %. With
        ``elm_scale=[0.2, 1]`` JapaneseVowels picks 1 (97.0 % decided, median 1.8e6 events), digits and the
        MNIST sample 0.2.
    l1 : float
        Weight of the l1 term in the non-negative lasso (11) (the paper's is 1).
    ridge : float, "auto" or None
        Ridge penalty for the ELM output weights, relative to the mean squared hidden activation
        (``alpha = ridge * trace(HᵀH) / elm_hidden``). ``"auto"`` (default): the penalty of least
        leave-one-out error among 19 values from 1e-8 to 10, chosen with the width. Leave-one-out errors of
        ridge regression are exact from one eigendecomposition per width, so the whole search costs a few
        fits and is counted in ``fit``. ``None`` uses the pseudo-inverse (12), as in the paper.
    readout : {"least_squares", "spiking"}
        ``"least_squares"`` (default): the ELM's output weights by ``ridge`` (or the pseudo-inverse), mapped
        onto excitatory weights by (13). Its class outputs differ by about a millionth of the flows that
        carry them, so a sampled decision is out of reach; use it analytically. ``"spiking"``: as the
        convolutional classifiers' spiking readout, a non-negative logistic readout of the ELM's cells,
        priced by the events each cell's traffic costs and L2-penalised (``spiking_penalty``,
        ``spiking_l2``); cells it gives no weight are dropped from the network. Test accuracy against the
        default readout's: digits (70/30 split) 97.8 against 98.7 %, JapaneseVowels (MCSRNN) 96.8 against
        97.8 %, Watch 62.5 against 69.2 %; the penalty search makes the fit 10 to 20 times longer (digits:
        about 50 s). With the paper's ELM its margins (about 0.01) are a small share of the flows that
        carry them, and a decision is forecast at 3e7 events or more from the analytic start and 1e8 from
        an empty one (:meth:`sampling_cost`), beyond the default budget; for sampled decisions use it with
        ``hidden=(), elm_fan_in=8, load_scale=0.5`` (see ``elm_fan_in``).
    spiking_penalty : float or list of float
        Price of events in the spiking readout (see the convolutional classifiers). A list of candidates
        (the default: 1e-4, 1e-5 and 1e-6) is chosen from by 3-fold cross-validation on the training data:
        the candidate with the cheapest held-out decisions among those within one standard error of the
        best held-out accuracy. The single value 1e-4, chosen on digits, gave 96.1 % there but 58 % on
        JapaneseVowels (MCSRNN), 65 % on the MNIST sample and 31 % on Watch: no one price suits every set.
    spiking_l2 : float
        L2 penalty on the standardised weights of the spiking readout.
    load_scale : float
        Scale of every ELM cell's excitation, in (0, 1]: each ELM cell's ``q`` (its load) is ``load_scale``
        times ``ρ`` or ``ϱ``, and the readout's weights are divided by it, so every output is unchanged
        with the least-squares readout (the spiking readout refits to the scaled cells). A cell at load
        ``ρ`` forgets an empty start after about ``2 ρ / (1 - sqrt(ρ))²`` of its own events (12 at 0.5),
        and an ELM cell whose inputs are all silent sits at ``q = 1``, where it never does. 1 (default):
        the paper's cells.
    fista_tol, fista_max_iter : float, int
        FISTA stops when the relative change of the weights is below ``fista_tol`` or after ``fista_max_iter``.
    random_state : None, int or numpy.random.Generator

    Notes
    -----
    Choices where the paper is vague: ``W̄`` rows are uniform and sum to the sending rate; ``adj``
    is per-unit min-max, per-unit z-score, then one global shift to non-negative; ``φ(0, ·)`` in ``H`` uses
    ``λ+ = r = 1``; ``W̄1`` rows are scaled so that ``2 W̄1`` sums to the sending cell's rate. Features are
    scaled into [0, 1] with the training minimum and maximum (test data are clipped). After training, layers
    whose weights break a sending cell's rate are rescaled with their receiving cells (outputs unchanged), so
    :meth:`to_network` is a valid G-network.

    Fitted attributes: ``classes_``, ``layers_``, ``offset_`` (``m`` of (13)), ``score_scale_`` (spread of
    the training outputs, for ``predict_proba``), ``data_min_``, ``data_span_``, ``n_features_in_``,
    ``hidden_``, ``elm_hidden_`` and ``ridge_`` (the sizes and penalty used), ``elm_selection_`` (the
    leave-one-out errors of the search, or None), ``elm_scale_`` (the activation scale used) and
    ``scale_search_`` (a :class:`ScaleSearch` when ``elm_scale`` is a list, else None); with the spiking
    readout ``spiking_penalty_`` (the price used) and ``penalty_search_`` (the cross-validation over the
    candidates, or None for a given number).

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim import MLSRNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (50, 4)), rng.normal(3, 1, (50, 4))])
    >>> y = np.repeat(["a", "b"], 50)
    >>> clf = MLSRNNClassifier(hidden=(10,), elm_hidden=40, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).tolist(), bool(clf.score(X, y) > 0.95)
    (['a', 'a'], True)
    """

    _scale_axes = 0

    def _auto_hidden(self):
        # No autoencoder, or one layer of a quarter of the features: whichever ELM has the smaller
        # leave-one-out error.
        return [(), (-(-self.n_features_in_ // 4),)]

    def _channels(self, X):
        return [X]


class MCSRNNClassifier(_BaseSRNN):
    """Multi-channel single-cell RNN classifier (Algorithm 2), for series.

    Series come as aeon passes them: ``(n, length)`` (univariate), ``(n, channels, length)``, or a list of
    ``(channels, length_i)`` arrays, whose unequal lengths are resampled by linear interpolation to the
    longest training length.

    Every channel gets its own autoencoder stack (sizes ``hidden``, trained on that channel alone; by
    default one layer of half the series' length, none below 8 steps); the channels' codes are concatenated and fed to one
    shared ELM, whose width and penalty are chosen by leave-one-out error as in :class:`MLSRNNClassifier`.
    Each channel is scaled into [0, 1] with its own training minimum and maximum. Other parameters as
    :class:`MLSRNNClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim import MCSRNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> t = np.linspace(0, 1, 30)
    >>> X = np.stack([np.stack([np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for _ in range(2)])
    ...               for f in np.repeat([1, 3], 20)]) + rng.normal(0, 0.1, (40, 2, 30))
    >>> y = np.repeat([0, 1], 20)
    >>> clf = MCSRNNClassifier(hidden=(12,), elm_hidden=40, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _scale_axes = (0, 2)

    def _auto_hidden(self):
        # Halving a series shorter than 8 steps (a table read as a series) would only discard half of it.
        length = self.input_shape_[1]
        return [(-(-length // 2),)] if length >= 8 else [()]

    def _check_input(self, X, reset):
        return check_series(self, X, reset=reset)

    def _channels(self, X):
        return [X[:, c, :] for c in range(X.shape[1])]

