"""Gradient training of the recurrent classifiers: its shared settings (step size, batches, epochs, and
when to stop, as scikit-learn's MLP decides it), the validation split, and the driver that runs it."""

from __future__ import annotations

import contextlib

import numpy as np

from .._checks import check_int, check_positive_number, check_proportion
from .._threads import one_blas_thread
from ._training import train


def check_training(estimator):
    """Check the settings :func:`fit_by_gradient` reads: ``learning_rate``, ``batch_size``, ``max_epochs``,
    ``early_stopping``, ``validation_fraction``, ``n_iter_no_change`` and ``tol``; and ``dtype``, the
    precision the estimator trains in, and ``label_smoothing``, its loss's."""
    name = type(estimator).__name__
    if estimator.dtype not in ("float64", "float32"):
        raise ValueError(f"The 'dtype' parameter of {name} must be 'float64' or 'float32'. "
                         f"Got {estimator.dtype!r} instead.")
    check_positive_number(estimator.learning_rate, "learning_rate", name)
    if not (isinstance(estimator.batch_size, str) and estimator.batch_size == "auto"):
        check_int(estimator.batch_size, "batch_size", name, minimum=1, also="'auto'")
    check_int(estimator.max_epochs, "max_epochs", name, minimum=1)
    if not isinstance(estimator.early_stopping, (bool, np.bool_)):
        raise ValueError(f"The 'early_stopping' parameter of {name} must be True or False. "
                         f"Got {estimator.early_stopping!r} instead.")
    check_proportion(estimator.validation_fraction, "validation_fraction", name, allow_zero=False)
    check_int(estimator.n_iter_no_change, "n_iter_no_change", name, minimum=1)
    check_positive_number(estimator.tol, "tol", name, allow_zero=True)
    check_proportion(estimator.label_smoothing, "label_smoothing", name)


#: Models with fewer parameters than this train with one BLAS thread: their products (tens of rows by tens
#: of cells) are too small to share, and threads cost more than they save (JapaneseVowels, 2 cores: 1.8 s
#: -> 1.5 s a fit; the MNIST sample's 180,000 parameters: the same either way).
SMALL_MODEL = 100_000

#: ``batch_size="auto"``: the most patterns per step, and the fewest steps per epoch.
AUTO_BATCH, AUTO_STEPS = 32, 10


def batch_size(setting, n_rows):
    """The patterns per step for ``setting`` (an int, or ``"auto"``) and ``n_rows`` training rows: ``"auto"``
    takes ``n_rows / 10`` (at least 1, at most 32), so that every epoch takes at least 10 steps. A small
    training set (BasicMotions: 40 series) then still gets hundreds of steps within ``max_epochs``, where
    batches of 32 would give it 2 a epoch, and its step size decays to 0 before it has learnt."""
    if isinstance(setting, str):
        return int(min(AUTO_BATCH, max(1, n_rows // AUTO_STEPS)))
    return int(setting)


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
    """Train ``arrays`` (in place) by :func:`~gelsim.learn._training.train` with the estimator's
    settings, holding out a validation share when ``early_stopping``; ``scores(rows)`` gives the current
    class scores of those training rows. Sets ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_`` and ``n_iter_``."""
    rows, validate = np.arange(codes.size), None
    if estimator.early_stopping:
        rows, held = validation_split(codes, estimator.validation_fraction, gen)

        def validate():
            return float(np.mean(np.argmax(scores(held), axis=1) == codes[held]))
    small = sum(a.size for a in arrays) < SMALL_MODEL
    with one_blas_thread() if small else contextlib.nullcontext():
        run = train(loss_grad, arrays, rows, gen, learning_rate=float(estimator.learning_rate),
                    batch_size=batch_size(estimator.batch_size, rows.size), max_epochs=estimator.max_epochs,
                    clip=clip, validate=validate, n_iter_no_change=int(estimator.n_iter_no_change),
                    tol=float(estimator.tol), label=f"{type(estimator).__name__} training",
                    progress=estimator.progress)
    estimator.loss_curve_, estimator.validation_scores_, estimator.n_iter_ = (run.loss_curve, run.validation_scores,
                                                                              run.n_iter)
    estimator.best_validation_score_ = max(run.validation_scores) if run.validation_scores else None
