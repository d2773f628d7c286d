"""Gradient training of the recurrent classifiers: its shared settings (step size, batches, epochs, and
when to stop, as scikit-learn's MLP decides it), the validation split, and the driver that runs it."""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import check_int, check_positive_number
from ._recurrent_maths import train


def check_training(estimator):
    """Check the settings :func:`fit_by_gradient` reads: ``learning_rate``, ``batch_size``, ``max_epochs``,
    ``early_stopping``, ``validation_fraction``, ``n_iter_no_change`` and ``tol``."""
    name = type(estimator).__name__
    check_positive_number(estimator.learning_rate, "learning_rate", name)
    for key in ("batch_size", "max_epochs"):
        check_int(getattr(estimator, key), key, name, minimum=1)
    if not isinstance(estimator.early_stopping, (bool, np.bool_)):
        raise ValueError(f"The 'early_stopping' parameter of {name} must be True or False. "
                         f"Got {estimator.early_stopping!r} instead.")
    fraction = estimator.validation_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0.0 < fraction < 1.0:
        raise ValueError(f"The 'validation_fraction' parameter of {name} must be a number in (0, 1). "
                         f"Got {fraction!r} instead.")
    check_int(estimator.n_iter_no_change, "n_iter_no_change", name, minimum=1)
    check_positive_number(estimator.tol, "tol", name, allow_zero=True)


def validation_split(codes, fraction, gen):
    """Training and validation rows: ``fraction`` of each class held out (at least one row of each class
    with two or more, and never a whole class), in a random order drawn from ``gen``."""
    train, held = [], []
    for label in np.unique(codes):
        rows = gen.permutation(np.flatnonzero(codes == label))
        k = min(max(int(round(fraction * rows.size)), 1), rows.size - 1) if rows.size > 1 else 0
        held.append(rows[:k])
        train.append(rows[k:])
    train, held = np.concatenate(train), np.concatenate(held)
    if held.size == 0:
        raise ValueError("early_stopping needs at least two samples of some class to hold one out.")
    return np.sort(train), np.sort(held)


def fit_by_gradient(estimator, loss_grad, arrays, codes, gen, scores, clip=None):
    """Train ``arrays`` (in place) by :func:`~gelsim.learn._recurrent_maths.train` with the estimator's
    settings, holding out a validation share when ``early_stopping``; ``scores(rows)`` gives the current
    class scores of those training rows. Sets ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_`` and ``n_iter_``."""
    rows, validate = np.arange(codes.size), None
    if estimator.early_stopping:
        rows, held = validation_split(codes, estimator.validation_fraction, gen)

        def validate():
            return float(np.mean(np.argmax(scores(held), axis=1) == codes[held]))
    run = train(loss_grad, arrays, rows, gen, learning_rate=float(estimator.learning_rate),
                batch_size=estimator.batch_size, max_epochs=estimator.max_epochs, clip=clip, validate=validate,
                n_iter_no_change=int(estimator.n_iter_no_change), tol=float(estimator.tol),
                label=f"{type(estimator).__name__} training", progress=estimator.progress)
    estimator.loss_curve_, estimator.validation_scores_, estimator.n_iter_ = (run.loss_curve, run.validation_scores,
                                                                              run.n_iter)
    estimator.best_validation_score_ = max(run.validation_scores) if run.validation_scores else None
