"""scikit-learn conventions without a hard dependency: use sklearn's base classes when installed."""

from __future__ import annotations

import inspect

import numpy as np

try:  # pragma: no cover - exercised in both environments
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import NotFittedError
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
