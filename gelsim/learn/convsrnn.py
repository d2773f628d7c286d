"""Convolutional single-cell RNN classifiers: every convolution position is one RNN cell.

``RocketSRNNClassifier`` (series) and ``ConvSRNNClassifier`` (images) use MiniRocket's kernels (9 taps,
weight -1 on each and +2 on three, so they sum to 0). At each position a cell receives the three chosen taps
(x 3) as excitation and all nine as inhibition, and fires at rate ``|b|``, a bias drawn from quantiles of
training convolutions: it is saturated exactly when the convolution exceeds ``b`` (roles swapped for
``b < 0``). Pooling cells average their positions' excitation (a *soft PPV*; the *sharp* pooling pairs
two cells per position and reads a linear combination of their pooling cells, a steep ramp up to
MiniRocket's hard count), and a ridge readout, with
its penalty chosen by exact leave-one-out error, becomes output cells with non-negative weights. The
whole model is a feed-forward G-network (:meth:`to_network`), whose Eq. (1) solution reproduces
:meth:`decision_outputs`.
"""

from __future__ import annotations

import contextlib
import numbers

import numpy as np

from . import _conv_maths as core
from ._ridge import fit_ridge_loo, realise
from ._spiking_readout import PenaltySearch, check_penalty, fit_for_decisions, penalty_to_use
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from ._inputs import check_images, check_is_fitted, check_labels, check_series, decision_shape
from .._checks import as_generator
from .._threads import one_blas_thread
from ..sampled import SampledOutputs, SpikingClassifierMixin

__all__ = ["RocketSRNNClassifier", "ConvSRNNClassifier", "SampledOutputs", "PenaltySearch", "NotFittedError"]

#: Ridge penalties searched by leave-one-out (relative to standardised features), as aeon's MiniRocket.
ALPHAS = np.logspace(-3, 3, 10)


def _ridge_threads(n, p):
    """The BLAS threads for a ridge fit of ``n`` instances of ``p`` features: one when its Gram matrix is
    small (under 1e9 multiply-adds), all otherwise. Right after the parallel feature kernel, OpenMP's
    threads keep spinning for a while, and a multithreaded BLAS call shares the cores with them: on ACSF1
    (100 x 10,000) each eigendecomposition of a 100 x 100 matrix took 0.09 s instead of 1 ms, and one
    thread brought the fit from 1.6x to 1.35x MiniRocket's time (same run, medians of 5)."""
    if n * p * min(n, p) >= 1e9:
        return contextlib.nullcontext()
    return one_blas_thread()


class _ConvSRNNBase(SpikingClassifierMixin, ClassifierMixin, BaseEstimator):
    """Shared fit / predict / network machinery; subclasses define the input kind and the bank."""

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Draw the convolution cells, pool the training data, fit the readout; returns ``self``."""
        X = self._check_X(X, reset=True)
        self.classes_, codes = check_labels(self, y, X.shape[0])
        self._check_params()
        gen = as_generator(self.random_state)
        U = self._fit_scaler(X)
        self.bank_ = self._fit_bank(U, gen)
        candidates = self._poolings_to_try()
        if len(candidates) == 1:
            pooled = {candidates[0]: self.bank_.features(U, candidates[0])}
        else:   # soft and sharp, from one pass over the positions
            pooled = dict(zip(("soft", "sharp"), np.split(self.bank_.features(U, "soft and sharp"), 2, axis=1)))
        self.pooling_loo_error_ = None
        if self.readout == "spiking":   # one candidate: soft (see _check_params and _auto_pooling)
            (self.pooling_, F), = pooled.items()
            cost = core.event_costs(self.bank_, self.bank_.inputs(U).mean(axis=0), F.mean(axis=0))
            budget = None if self.spiking_budget is None else float(self.spiking_budget)
            self.spiking_penalty_, self.penalty_search_ = penalty_to_use(
                F, codes, self.classes_.size, cost, self.spiking_penalty, budget, l2=self.spiking_l2, rng=gen)
            # A priced logistic regression, then (with a budget) refined to trade margins against the
            # noise of the spike flows that carry them: the margins' t-statistics after spiking_budget
            # events are what is optimised.
            (self.coef_, self.intercept_), _ = fit_for_decisions(F, codes, self.classes_.size, cost,
                                                                 self.spiking_penalty_, budget, l2=self.spiking_l2)
            self.alpha_ = None
        else:
            Y = np.where(np.eye(self.classes_.size)[codes] > 0, 1.0, -1.0)
            # The candidate whose ridge fit has the smallest leave-one-out error (ties: the first, sharp).
            with _ridge_threads(*pooled[candidates[0]].shape):
                fits = {name: fit_ridge_loo(pooled[name], Y, ALPHAS) for name in candidates}
            errors = {name: float(f.loo_error.min()) for name, f in fits.items()}
            self.pooling_ = min(errors, key=errors.get)
            if len(candidates) > 1:
                self.pooling_loo_error_ = errors
            fit, F = fits[self.pooling_], pooled[self.pooling_]
            self.alpha_ = fit.alpha
            # Scores in raw feature units: F @ coef_ + intercept_ (the standardisation folded in).
            self.coef_ = fit.coef / fit.scale[:, None]
            self.intercept_ = fit.intercept - fit.mean @ self.coef_
        self.readout_ = realise(core.pooling_cell_coef(self.coef_, self.pooling_), self.intercept_)
        scores = F @ self.coef_ + self.intercept_
        self.score_scale_ = float(np.std(scores)) or 1.0
        self.n_features_out_ = F.shape[1]
        return self

    def _poolings_to_try(self):
        """``(pooling,)``, or with "auto" the class's candidates (:meth:`_auto_pooling`), the one of least
        leave-one-out error to be kept."""
        return self._auto_pooling() if self.pooling == "auto" else (self.pooling,)

    def _check_params(self):
        name = type(self).__name__
        if not isinstance(self.n_kernels, numbers.Integral) or self.n_kernels < 84:
            raise ValueError(f"The 'n_kernels' parameter of {name} must be an integer >= 84 (one per kernel at "
                             f"least). Got {self.n_kernels!r} instead.")
        if self.pooling not in ("auto", "soft", "sharp", "exact"):
            raise ValueError(f"The 'pooling' parameter of {name} must be 'auto', 'soft', 'sharp' or 'exact'. "
                             f"Got {self.pooling!r} instead.")
        if self.readout not in ("ridge", "spiking"):
            raise ValueError(f"The 'readout' parameter of {name} must be 'ridge' or 'spiking'. "
                             f"Got {self.readout!r} instead.")
        if self.readout == "spiking" and self.pooling in ("sharp", "exact"):
            raise ValueError(f"The 'pooling' parameter of {name} must be 'soft' or 'auto' with "
                             f"readout='spiking', whose weights are priced by the events of soft pooling "
                             f"cells. Got pooling={self.pooling!r}.")
        load = self.load_scale
        if isinstance(load, bool) or not isinstance(load, numbers.Real) or not 0 < load <= 1:
            raise ValueError(f"The 'load_scale' parameter of {name} must be a number in (0, 1]. "
                             f"Got {load!r} instead.")
        check_penalty(self.spiking_penalty, name)
        l2 = self.spiking_l2
        if not (isinstance(l2, numbers.Real) and not isinstance(l2, bool) and l2 >= 0):
            raise ValueError(f"The 'spiking_l2' parameter of {name} must be a non-negative number. "
                             f"Got {l2!r} instead.")
        budget = self.spiking_budget
        if budget is not None and not (isinstance(budget, numbers.Real) and not isinstance(budget, bool)
                                       and budget > 0):
            raise ValueError(f"The 'spiking_budget' parameter of {name} must be a positive number of events "
                             f"or None. Got {budget!r} instead.")
        if self.bias_rule not in ("quantile", "zero"):
            raise ValueError(f"The 'bias_rule' parameter of {name} must be 'quantile' or 'zero'. "
                             f"Got {self.bias_rule!r} instead.")
        if not isinstance(self.max_dilations, numbers.Integral) or self.max_dilations < 1:
            raise ValueError(f"The 'max_dilations' parameter of {name} must be a positive integer. "
                             f"Got {self.max_dilations!r} instead.")

    # ------------------------------------------------------------------ prediction
    def pooled_features(self, X):
        """Pooled features, shape ``(n, n_features_out_)``: each pooling cell's excitation probability (with
        the sharp pooling, each pair of pooling cells' combination ``((1 + ε) m - m') / ε``).

        (Not ``transform``: these classifiers are not scikit-learn transformers; their features depend on
        the readout's training only through the bank drawn in ``fit``.)"""
        check_is_fitted(self, "bank_")
        return self.bank_.features(self._scale(self._check_X(X, reset=False)), self.pooling_)

    def decision_function(self, X):
        """Ridge scores of the pooled features, (n, n_classes); the largest is the prediction. With two
        classes, as scikit-learn has it, one column: the second class's score minus the first's."""
        return decision_shape(self._scores(X))

    def _scores(self, X):
        check_is_fitted(self, "bank_")
        return self.pooled_features(X) @ self.coef_ + self.intercept_

    def decision_outputs(self, X):
        """Analytic output-cell excitations (n, n_classes): what :func:`gelsim.solve` gives on :meth:`to_network`.

        They equal ``readout_.scale * (scores + c(x))`` with ``c(x)`` common to all classes, so they rank
        the classes as the scores of :meth:`decision_function` do.
        """
        check_is_fitted(self, "bank_")
        U = self._scale(self._check_X(X, reset=False))
        return self.readout_.outputs(core.pooling_cell_features(self.bank_, U, self.pooling_))

    def predict(self, X, mode="analytic", **sampling):
        """Class labels: ``mode="analytic"`` (argmax of the scores) or ``"sampled"``.

        ``"sampled"`` simulates each instance's spiking network until it decides (see
        :meth:`sample_outputs`, which takes the keyword arguments ``sampling``).
        """
        check_is_fitted(self, "bank_")
        return self._predict_mode(X, mode, sampling,
                                  lambda X: self.classes_[np.argmax(self._scores(X), axis=1)])

    def _sampling_inputs(self, X, model):
        check_is_fitted(self, "bank_")
        X = self._check_X(X, reset=False)
        inputs = self.bank_.inputs(self._scale(X))
        return inputs, lambda i: model.solve(inputs[i]), self.decision_outputs(X)

    def _fitted_model(self):
        check_is_fitted(self, "bank_")
        return self.readout_

    def _build_model_network(self):
        if self.pooling_ == "exact":
            raise ValueError("pooling='exact' (MiniRocket's hard PPV) is an analytic reference that no "
                             "spiking cell computes; fit with pooling='soft' or 'sharp' to build or run the "
                             "network.")
        return core.model_network(self.bank_, self.readout_, self.pooling_)

    def predict_proba(self, X):
        """Softmax of the scores divided by their spread on the training data.

        Monotone in the scores (same argmax as :meth:`predict`); not calibrated probabilities.
        """
        z = self._scores(X) / self.score_scale_
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def excitation_map(self, x, feature):
        """Excitation probability of every position cell of one feature, for one instance ``x`` (with the
        sharp pooling, each position's pair read as the pooling reads it: ``((1 + ε) q - q') / ε``).

        For series, ``feature`` indexes :meth:`transform`'s columns and the map runs along time; for
        images, ``feature`` indexes the (kernel, dilation, bias) cell kinds (``transform`` column
        ``feature * n_regions + region``) and the map is over kernel positions. Its mean over a region is
        the pooled feature.

        Examples
        --------
        >>> import numpy as np
        >>> from gelsim import RocketSRNNClassifier
        >>> X = np.random.default_rng(0).normal(size=(10, 1, 30)); y = np.arange(10) % 2
        >>> clf = RocketSRNNClassifier(n_kernels=84, random_state=0).fit(X, y)
        >>> q = clf.excitation_map(X[0], 5)
        >>> bool(np.isclose(q.mean(), clf.pooled_features(X[:1])[0, 5]))
        True
        """
        check_is_fitted(self, "bank_")
        u = self._scale(self._check_X(np.asarray(x)[None], reset=False))[0]
        n_kinds = self.bank_.biases.size
        if not (isinstance(feature, numbers.Integral) and 0 <= feature < n_kinds):
            raise ValueError(f"The 'feature' parameter must be an integer in [0, {n_kinds}). Got {feature!r}.")
        return self.bank_.position_q(u, int(feature), self.pooling_)

    def to_network(self, x=None):
        """The trained model for one instance ``x`` as a :class:`gelsim.Network` (with silent inputs when
        ``x`` is None, as the other classifiers do).

        Cells in order: position cells (one per used feature and kernel position; the scaled input
        arrives at them as Poisson spikes, so they are the network's only externally driven cells),
        pooling cells (one per used feature and region), output cells (the last ``n_classes``, rate 1).
        Features whose readout weights are all zero have no cells. Every cell's out-weights sum to at
        most its firing rate, and Eq. (1) on the network gives :meth:`decision_outputs` for ``x``.

        Examples
        --------
        >>> import numpy as np, gelsim
        >>> X = np.random.default_rng(0).normal(size=(20, 1, 30)); y = np.arange(20) % 2
        >>> clf = gelsim.RocketSRNNClassifier(n_kernels=84, random_state=0).fit(X, y)
        >>> q = gelsim.solve(clf.to_network(X[0])).q
        >>> bool(np.allclose(q[-2:], clf.decision_outputs(X[:1])[0]))
        True
        """
        check_is_fitted(self, "bank_")
        if x is None:
            return self._model_network().network
        u = self.bank_.inputs(self._scale(self._check_X(np.asarray(x)[None], reset=False)))[0]
        return self._model_network().network_at(u)

    # ------------------------------------------------------------------ input checks
    def _check_X(self, X, reset):
        return self._check_input(X, reset=reset)


class RocketSRNNClassifier(_ConvSRNNBase):
    """Time-series classifier of MiniRocket kernels realised as RNN cells, pooled by spiking cells.

    Parameters
    ----------
    n_kernels : int
        Number of pooled features (kernel, dilation, bias), rounded down to a multiple of 84; at least 84.
    max_dilations : int
        Most dilations per kernel (exponentially spaced up to ``(length - 1) / 8``).
    pooling : {"auto", "sharp", "soft", "exact"}
        How the position cells of a feature are read. ``"soft"``: the mean of their excitation
        probabilities, what one pooling cell reads. Below the threshold a cell's ``q`` is the ratio
        ``z = E / (b + I)``, so every position counts in proportion to how near it comes. ``"sharp"``: each
        position has a second cell whose excitation is 1.002 times the first's, each set has its own pooling
        cells, and the feature is ``(1.002 m - m') / 0.002`` of their means, which the linear readout
        computes. A position then counts 0 below ``z = 1 / 1.002``, 1 once saturated (``C >= b``), with a
        steep ramp between: nearly MiniRocket's hard count, still read from cells. Twice the position cells. Over 10
        resamples (``benchmarks/tsc_bakeoff.py``), soft -> the default: ACSF1 68.7 -> 85.2 %, OSULeaf 92.2
        -> 96.4 %, ArrowHead 82.3 -> 87.5 % (MiniRocket 83.9, 96.0, 88.0 %). On JapaneseVowels, whose
        series have 7 to 29 steps, sharp pooling alone did worse (97.2 against 98.2 %, with a 2 % step),
        and so it did on images (see :class:`ConvSRNNClassifier`). ``"auto"`` (default): with
        the ridge readout, both are pooled in one pass and the one whose ridge fit has the smaller
        leave-one-out error is kept (``pooling_``; the errors in ``pooling_loo_error_``); with the spiking
        readout, whose weights are priced by the events of soft pooling cells, soft. ``"exact"``:
        MiniRocket's fraction of positions with convolution > bias, for comparison (analytic only:
        :meth:`to_network` refuses it).
    bias_rule : {"quantile", "zero"}
        Biases from quantiles of training convolutions (default), or all 0 (for ablation).
    readout : {"ridge", "spiking"}
        ``"ridge"``: ridge regression with the penalty of least leave-one-out error; its class margins are
        a tiny part of the output flows, so a sampled decision needs 1e9 events or more. ``"spiking"``: a
        non-negative readout trained for sampled decisions: a logistic regression that pays for each
        weight with the events its feature costs in the network (``spiking_penalty``), with an L2 term
        on the standardised weights (``spiking_l2``), optionally refined (``spiking_budget``). Analytic
        accuracy within 0.2 points of the ridge readout's on digits, the MNIST sample and JapaneseVowels
        (6 below it on Watch), sampled decisions in about 1e6 events: see the README's table.
    spiking_penalty : float or list of float
        Strength of the price of each weight (larger: fewer, cheaper features, a smaller network). A list
        of candidates (say ``[1e-5, 1e-6, 1e-7]``) is chosen from by 3-fold cross-validation: the candidate
        with the cheapest held-out decisions among those within one standard error of the best held-out
        accuracy (fitting takes about 5 times longer). Default 1e-5 for series, 1e-7 for images.
    spiking_l2 : float
        L2 penalty on the standardised weights, as ridge regression has: it spreads the weight over
        correlated features rather than picking one, which generalises better. Default 3e-3 for series
        (JapaneseVowels, 270 training series: test accuracy 98.65 %, the ridge readout's, against 96.5 %
        without it) and 1e-4 for images (MNIST sample: 96.2 %, the ridge readout's, against 95.7 %).
    load_scale : float
        Scale of every position cell's excitation, in (0, 1]. A position cell's load (its excitation rate
        over its firing and inhibition) is its ``q`` below saturation, and soft pooling puts most cells near
        1 (median 0.92 on JapaneseVowels), where a cell needs hundreds to thousands of its own events to
        forget its start: sampled decisions from an empty network (the honest default) then cost more than
        any practical budget. ``load_scale=0.5`` halves every load (``q = min(0.5 E / (b + I), 1)``; a cell
        at load 0.5 relaxes within about 12 of its events) and moves the saturation threshold from
        ``C = b`` to where the excitation is twice the inhibition plus bias; on digits
        (``readout="spiking"``) accuracy went from 98.9 to 98.5 %, and of the first 50 test images 94 %
        were decided from rest within 3e7 events (median 9.2e6), against 28 % at the default load, none
        wrongly; on the MNIST sample 94.0 against 96.2 % accuracy, 64 against 4 % decided. 1 (default):
        the cell as MiniRocket's threshold.
    coding : {"level", "split"}
        How a series value reaches the cells. ``"level"`` (default): the scaled value (in [0, 1]) is one
        Poisson input, so a cell's inhibition carries the series' level and its excitation probability
        ``E / (b + I)`` varies little with the convolution when ``|C|`` and ``b`` are small against ``I``
        (a soft, nearly linear version of MiniRocket's threshold). ``"split"``: each channel's rise above
        its training mean and its fall below it are two inputs, the rise exciting through the chosen taps
        (x 2) and inhibiting through the others, the fall the other way round; the convolution ``E - I`` is
        the same, but ``I`` now grows with the series' excursions only, so the cell's threshold is sharper.
        On ArrowHead (4 splits) accuracy went from 77.9 to 82.7 % with 840 features (MiniRocket's hard
        threshold on the same bank: 83.6 %), but only from 81.7 to 82.3 % with the default 10,000; on
        GunPoint, ItalyPowerDemand and OSULeaf (10,000) it stayed within 0.3 points. Twice the inputs.
    spiking_budget : float or None
        If given, the logistic fit is refined so that every training instance's margins, against the
        noise of the pooling cells' spike counts (the ``"inputs"`` reading), reach a decision within this
        many events. Default None: with the ``"linear"`` reading, which sampled inference now uses, the
        refinement lost accuracy (JapaneseVowels 97.6 % against 98.65 %, MNIST 95.6 % against 96.2 %) and
        saved no events.
    random_state : None, int or numpy.random.Generator

    Notes
    -----
    Input ``X`` has shape (n, channels, length) (a 2-D array is read as univariate series), with length
    >= 9. Each channel is shifted by the smaller of 0 and its training minimum and all are divided by one
    common range, so values lie in [0, 1] (test values beyond the training range are clipped); a padded tap
    holds the scaled raw 0. Shifting changes no convolution (the kernels sum to 0) except at padded
    positions, where it keeps MiniRocket's zero padding. A kernel sums 1 to 9 random channels.

    Fitted attributes: ``classes_``, ``pooling_`` (the pooling used), ``pooling_loo_error_`` (with
    ``pooling="auto"`` and the ridge readout: each candidate's least leave-one-out error; else None),
    ``bank_`` (the convolution cells), ``coef_``, ``intercept_`` (scores
    ``F @ coef_ + intercept_`` of pooled features ``F``), ``alpha_`` (ridge penalty chosen by
    leave-one-out; None for the spiking readout), ``readout_`` (the output cells), ``score_scale_``,
    ``n_features_out_``; with the spiking readout also ``spiking_penalty_`` (the penalty used) and
    ``penalty_search_`` (the cross-validation's :class:`~gelsim.learn.convsrnn.PenaltySearch`, or None).

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim import RocketSRNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> t = np.linspace(0, 1, 40)
    >>> X = np.stack([[np.sin(2 * np.pi * f * t + rng.uniform(0, 6))] for f in np.repeat([2, 5], 20)])
    >>> y = np.repeat(["slow", "fast"], 20)
    >>> clf = RocketSRNNClassifier(n_kernels=168, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).tolist(), float(clf.score(X, y))
    (['slow', 'slow'], 1.0)
    """

    def __init__(self, n_kernels=10_000, *, max_dilations=32, pooling="auto", bias_rule="quantile",
                 readout="ridge", spiking_penalty=1e-5, spiking_l2=3e-3, spiking_budget=None, load_scale=1.0,
                 coding="level", random_state=None):
        self.n_kernels = n_kernels
        self.max_dilations = max_dilations
        self.pooling = pooling
        self.bias_rule = bias_rule
        self.readout = readout
        self.spiking_penalty = spiking_penalty
        self.spiking_l2 = spiking_l2
        self.spiking_budget = spiking_budget
        self.load_scale = load_scale
        self.coding = coding
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        if self.coding not in ("level", "split"):
            raise ValueError(f"The 'coding' parameter of {type(self).__name__} must be 'level' or 'split'. "
                             f"Got {self.coding!r} instead.")

    def _check_input(self, X, reset):
        return check_series(self, X, reset=reset)

    def _auto_pooling(self):
        return ("sharp", "soft") if self.readout == "ridge" else ("soft",)

    def _fit_scaler(self, X):
        self.shift_ = np.minimum(X.min(axis=(0, 2)), 0.0)
        span = float((X - self.shift_[None, :, None]).max())
        self.span_ = span if span > 0 else 1.0
        return self._scale(X)

    def _scale(self, X):
        U = np.clip((X - self.shift_[None, :, None]) / self.span_, 0.0, 1.0)
        # A kernel spans 9 samples: shorter series are extended by repeating their last sample.
        return np.pad(U, ((0, 0), (0, 0), (0, max(9 - U.shape[2], 0))), mode="edge")

    def _fit_bank(self, U, gen):
        return core.fit_series_bank(U, -self.shift_ / self.span_, int(self.n_kernels), gen,
                                    max_dilations=int(self.max_dilations), bias_rule=self.bias_rule,
                                    load=float(self.load_scale), coding=self.coding)



class ConvSRNNClassifier(_ConvSRNNBase):
    """Image classifier of 3x3 MiniRocket-style kernels realised as single RNN cells, pooled over regions.

    Parameters
    ----------
    n_kernels : int
        Number of (kernel, dilation, bias) cell kinds, rounded down to a multiple of 84; each is pooled over
        every region, so there are ``n_kernels * regions[0] * regions[1]`` features.
    regions : tuple of int
        Grid of pooling regions (rows, columns).
    stride : int or "auto"
        Kernel positions on every ``stride``-th row and column (fewer cells, faster). ``"auto"``: 1 with the
        ridge readout; with the spiking readout, 1 for images up to 16 pixels on their shorter side and 2
        above (MNIST's 28 x 28: 196 positions instead of 784), since every position is a cell to simulate.
        On the MNIST sample's training images (5-fold cross-validation, ridge readout) stride 1 gave
        97.55 % against 96.33 % for stride 2, for 1.7 times the fit time (0.79 against 0.47 s).
    max_dilations : int
        Most dilations per kernel (exponentially spaced up to ``(min(h, w) - 1) / 6``, so that a kernel
        spans at most a third of the image).
    pooling, bias_rule, readout, spiking_penalty, spiking_l2, spiking_budget, load_scale, random_state
        As :class:`RocketSRNNClassifier`, with image defaults: ``spiking_penalty`` 1e-7 (MNIST sample,
        no L2: 95.7 % against 94.5 % at 1e-6) and ``spiking_l2`` 1e-4 (96.2 %; digits 98.9 %). The default
        ``pooling`` is ``"soft"`` (``"auto"`` means it too): an image feature pools a region of a few dozen
        positions, and there the soft reading did better than the sharp one (MNIST sample at stride 2: 96.2
        against 94.9 %; digits 99.07 against 98.33 %). The MNIST figures above are at stride 2, as the
        spiking readout runs it; with the ridge readout at stride 1 the MNIST sample scores 97.8 %.

    Notes
    -----
    Input ``X`` has shape (n, height, width), non-negative; it is divided by its training maximum (test
    values above are clipped), so a pixel is a value in [0, 1] that arrives as Poisson spikes. The kernel
    at each position is the paper's single-cell convolution: its positive part excites and its negative
    part inhibits one cell, whose firing rate is the bias.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim import ConvSRNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> bars = np.zeros((40, 8, 8)); bars[:20, :, 3] = 1; bars[20:, 3, :] = 1
    >>> X = np.clip(bars + rng.uniform(0, 0.3, bars.shape), 0, None)
    >>> y = np.repeat(["vertical", "horizontal"], 20)
    >>> clf = ConvSRNNClassifier(n_kernels=84, random_state=0).fit(X, y)
    >>> float(clf.score(X, y))
    1.0
    """


    def __init__(self, n_kernels=168, *, regions=(2, 2), stride="auto", max_dilations=4, pooling="soft",
                 bias_rule="quantile", readout="ridge", spiking_penalty=1e-7, spiking_l2=1e-4, spiking_budget=None,
                 load_scale=1.0, random_state=None):
        self.n_kernels = n_kernels
        self.regions = regions
        self.stride = stride
        self.max_dilations = max_dilations
        self.pooling = pooling
        self.bias_rule = bias_rule
        self.readout = readout
        self.spiking_penalty = spiking_penalty
        self.spiking_l2 = spiking_l2
        self.spiking_budget = spiking_budget
        self.load_scale = load_scale
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        name = type(self).__name__
        regions = self.regions
        if not (isinstance(regions, (tuple, list)) and len(regions) == 2
                and all(isinstance(r, numbers.Integral) and r >= 1 for r in regions)):
            raise ValueError(f"The 'regions' parameter of {name} must be a pair of positive integers (rows, "
                             f"columns). Got {regions!r} instead.")
        if self.stride != "auto" and (not isinstance(self.stride, numbers.Integral) or self.stride < 1):
            raise ValueError(f"The 'stride' parameter of {name} must be a positive integer or 'auto'. "
                             f"Got {self.stride!r} instead.")
        shape = self._model_shape()
        if self.stride == "auto":
            self.stride_ = 1 if self.readout == "ridge" or min(shape) <= 16 else 2
        else:
            self.stride_ = int(self.stride)
        grid = [-(-s // self.stride_) for s in shape]
        if regions[0] > grid[0] or regions[1] > grid[1]:
            raise ValueError(f"The 'regions' parameter of {name} asks for a {regions[0]} x {regions[1]} grid, "
                             f"but images of shape {shape} at stride {self.stride_} have only "
                             f"{grid[0]} x {grid[1]} kernel positions.")

    def _check_input(self, X, reset):
        return check_images(self, X, reset=reset)

    def _auto_pooling(self):
        return ("soft",)

    def _fit_scaler(self, X):
        # Pixel intensities are scaled into [0, 1] by the training maximum; negative inputs are shifted.
        self.shift_ = min(float(X.min()), 0.0)
        peak = float(X.max()) - self.shift_
        self.span_ = peak if peak > 0 else 1.0
        return self._scale(X)

    def _scale(self, X):
        # One new array, scaled in place: a fit's large temporaries cost page faults (see _ridge).
        U = np.subtract(X, self.shift_)
        U /= self.span_
        np.clip(U, 0.0, 1.0, out=U)
        # A kernel spans 3 x 3 pixels: smaller images are extended by repeating their edge pixels.
        return np.pad(U, ((0, 0), (0, max(3 - U.shape[1], 0)), (0, max(3 - U.shape[2], 0))), mode="edge")

    def _model_shape(self):
        """The images' shape as the kernels see them (at least 3 x 3)."""
        return tuple(max(side, 3) for side in self.input_shape_)

    def _fit_bank(self, U, gen):
        return core.fit_image_bank(U, int(self.n_kernels), gen, stride=self.stride_,
                                   regions=tuple(int(r) for r in self.regions),
                                   max_dilations=int(self.max_dilations), bias_rule=self.bias_rule,
                                   load=float(self.load_scale))

