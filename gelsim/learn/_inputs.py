"""The classifiers' input checks, on scikit-learn's helpers: tables as scikit-learn passes them, series as
aeon passes them, images, and class labels. One wording for every classifier.

A 2-D array always goes through scikit-learn's ``validate_data`` (so its checks and messages apply: NaN,
complex numbers, empty data, a changed number of features). Series may also come as ``(n, channels,
length)`` arrays or as lists of ``(channels, length_i)`` arrays of unequal lengths (aeon's "np-list"),
which are resampled by linear interpolation to the length seen in ``fit``; images as ``(n, height, width)``.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

__all__ = ["check_tabular", "check_series", "check_images", "check_labels", "check_is_fitted", "decision_shape"]


def decision_shape(scores):
    """Class scores (n, n_classes) in scikit-learn's shape for ``decision_function``: with two classes, one
    column, the second class's score minus the first's (positive means ``classes_[1]``)."""
    return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores


def check_labels(estimator, y, n_samples):
    """``classes_`` and integer codes of the labels ``y`` of ``n_samples`` training instances; a column
    vector is flattened with scikit-learn's warning, a continuous target or a single class is refused."""
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n_samples}, {y.shape[0]}]")
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"{type(estimator).__name__} needs samples of at least 2 classes; got 1 class "
                         f"({classes[0]!r}).")
    return classes, codes


def check_tabular(estimator, X, *, reset):
    """``X`` as a finite float64 array (n_samples, n_features), by scikit-learn's ``validate_data``."""
    return validate_data(estimator, X, reset=reset, dtype=np.float64, ensure_all_finite=True)


def check_series(estimator, X, *, reset):
    """Series as one finite float64 array (n, channels, length).

    Accepted: ``(n, length)`` (univariate; through ``validate_data``, which also judges anything of fewer
    dimensions), ``(n, channels, length)``, and a list of ``(channels, length_i)`` or ``(length_i,)``
    arrays. Series of unequal lengths in ``fit`` are resampled by linear interpolation to the longest;
    after ``fit``, series of another length are resampled to the training length, except ``(n, length)``
    arrays, which scikit-learn's conventions read as tables whose number of features must match. Sets
    ``input_shape_`` (channels, length) and ``n_features_in_`` in ``fit``; afterwards the channels must
    match.
    """
    name = type(estimator).__name__
    if _is_series_list(X):
        S = _stack_series(X, name, None if reset else estimator.input_shape_[1])
    elif _ndim(X) <= 2:
        if not reset and estimator.input_shape_[0] != 1:
            raise ValueError(f"The 'X' parameter of {name} is univariate, (n_samples, length), but the model "
                             f"was fitted on series of {estimator.input_shape_[0]} channels.")
        S = check_tabular(estimator, X, reset=reset)[:, None, :]
    else:
        S = _as_finite(X, name, 3, "(n_samples, n_channels, length)")
        if not reset and S.shape[1] == estimator.input_shape_[0]:
            S = np.stack([_resample(s, estimator.input_shape_[1]) for s in S])
    return _record_shape(estimator, S, reset, name, "series")


def check_images(estimator, X, *, reset):
    """Images as one finite float64 array (n, height, width).

    A 2-D array (n, d) (or anything of at most 2 dimensions, which ``validate_data`` then judges) holds
    flattened images (through ``validate_data``): square ones (``d = s * s``, as
    scikit-learn's digits) are reshaped to (s, s), others are read as one row of ``d`` pixels.
    """
    name = type(estimator).__name__
    if _ndim(X) <= 2:
        flat = check_tabular(estimator, X, reset=reset)
        side = int(round(np.sqrt(flat.shape[1])))
        shape = (side, side) if side * side == flat.shape[1] else (1, flat.shape[1])
        if not reset and estimator.input_shape_ != shape:
            raise ValueError(f"The 'X' parameter of {name} holds flattened images of shape {shape}, but the "
                             f"model was fitted on images of shape {estimator.input_shape_}.")
        return _record_shape(estimator, flat.reshape(flat.shape[0], *shape), reset, name, "images", tabular=True)
    return _record_shape(estimator, _as_finite(X, name, 3, "(n_samples, height, width)"), reset, name, "images")


def _ndim(X):
    """Dimensions of ``X`` as ``validate_data`` would see them (sparse matrices: 2), read without calling
    array functions on objects that only convert to arrays."""
    if hasattr(X, "toarray"):
        return 2
    if isinstance(X, np.ndarray):
        return X.ndim
    try:
        return np.asarray(X).ndim
    except (TypeError, ValueError):
        return 2    # let validate_data say what is wrong


def _record_shape(estimator, A, reset, name, kind, tabular=False):
    """Set (fit) or check (afterwards) ``input_shape_`` and ``n_features_in_`` for arrays of instances."""
    if A.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={A.shape}) while a minimum of 1 is required "
                         f"by {name}.")
    if reset:
        estimator.input_shape_ = tuple(A.shape[1:])
        if not tabular:
            estimator.n_features_in_ = int(np.prod(A.shape[1:]))
    elif tuple(A.shape[1:]) != tuple(estimator.input_shape_):
        raise ValueError(f"The 'X' parameter of {name} holds {kind} of shape {A.shape[1:]}, but the model was "
                         f"fitted on {kind} of shape {tuple(estimator.input_shape_)}.")
    return A


def _as_finite(X, name, ndim, shape_text):
    if hasattr(X, "toarray"):
        raise TypeError(f"{name} does not accept sparse input; pass a dense array.")
    if np.iscomplexobj(X):
        raise ValueError(f"Complex data not supported: the 'X' parameter of {name} must be real.")
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The 'X' parameter of {name} must be a numeric array of shape {shape_text}. "
                         f"Got {type(X).__name__} that cannot be converted: {exc}") from exc
    if A.ndim != ndim:
        raise ValueError(f"The 'X' parameter of {name} must be an array of shape {shape_text} (or 2-D). "
                         f"Got an array of shape {A.shape} instead.")
    if min(A.shape[1:], default=1) < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={A.shape}) while a minimum of 1 is required by "
                         f"{name}.")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"Input X contains NaN or infinity; {name} needs finite values.")
    return A


def _is_series_list(X):
    """Whether ``X`` is a list (or tuple) of per-series arrays, aeon's unequal-length format."""
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(
        isinstance(x, np.ndarray) and x.ndim in (1, 2) for x in X)


def _stack_series(X, name, length):
    """A list of (channels, length_i) or (length_i,) arrays as (n, channels, length): resampled by linear
    interpolation to ``length`` (None: the longest), all with the same channels."""
    series = [_as_finite(np.atleast_2d(x)[None], name, 3, "(n_channels, length) per series")[0] for x in X]
    channels = {s.shape[0] for s in series}
    if len(channels) != 1:
        raise ValueError(f"The 'X' parameter of {name} is a list of series with different numbers of channels: "
                         f"{sorted(channels)}. Every series needs the same channels.")
    length = max(s.shape[1] for s in series) if length is None else length
    return np.stack([_resample(s, length) for s in series])


def _resample(series, length):
    """``series`` (channels, m) at ``length`` equally spaced points by linear interpolation."""
    if series.shape[1] == length:
        return series
    if series.shape[1] == 1:
        return np.repeat(series, length, axis=1)
    old, new = np.linspace(0.0, 1.0, series.shape[1]), np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, channel) for channel in series])
