"""scikit-learn conventions without a hard dependency: use sklearn's base classes when installed.

scikit-learn counts as installed from version 1.6 on (``validate_data`` is needed); an older one is
ignored, and the minimal fallback below is used instead.
"""

from __future__ import annotations

import inspect

import numpy as np

try:  # pragma: no cover - exercised in both environments
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import validate_data  # noqa: F401  (scikit-learn >= 1.6)
    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover
    HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):
        """Raised when an estimator is used before ``fit``."""

    class BaseEstimator:
        """Minimal get_params/set_params following scikit-learn's contract."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p for p in sig.parameters if p != "self")

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                                     f"Valid parameters are: {valid}.")
                setattr(self, key, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class ClassifierMixin:
        """``score`` as mean accuracy."""

        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            pred = self.predict(X)
            correct = (pred == np.asarray(y)).astype(float)
            return float(np.average(correct, weights=sample_weight))


def check_is_fitted(estimator, attribute="layers_"):
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                             "appropriate arguments before using this estimator.")


def as_labels(y, n):
    """Check classification labels ``y`` for ``n`` samples (a column vector is flattened, with sklearn's warning)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        import warnings

        warnings.warn("A column-vector y was passed when a 1d array was expected; it was flattened.",
                      _data_conversion_warning(), stacklevel=3)
        y = y.ravel()
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be a 1-D array of {n} labels. Got shape {y.shape}.")
    if HAVE_SKLEARN:
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(y)
    elif y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity.")
    return y


def class_codes(estimator, y):
    """``classes_`` and integer codes of the checked labels ``y`` (see :func:`as_labels`) for ``fit``; a
    single class is an error (nothing to tell apart)."""
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"{type(estimator).__name__} needs samples of at least 2 classes; got 1 class "
                         f"({classes[0]!r}).")
    return classes, codes


def fit_labels(estimator, y, n):
    """Labels for ``fit`` of an estimator whose ``X`` has ``n`` samples: ``classes_`` and integer codes."""
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    return class_codes(estimator, as_labels(y, n))


def _data_conversion_warning():
    if HAVE_SKLEARN:
        from sklearn.exceptions import DataConversionWarning

        return DataConversionWarning
    return UserWarning
