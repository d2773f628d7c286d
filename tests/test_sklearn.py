"""The classifiers as scikit-learn estimators: its own checks, model selection on all cores and on Dask."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from gelsim import (ConvSRNNClassifier, MCSRNNClassifier, MLSRNNClassifier, RecurrentRNNClassifier,
                    RocketSRNNClassifier, SequenceRNNClassifier)

#: Small settings, so that the 54 checks of each take seconds.
SMALL = [
    MLSRNNClassifier(hidden=(5,), elm_hidden=20, random_state=0),
    MCSRNNClassifier(hidden=(4,), elm_hidden=20, random_state=0),
    RocketSRNNClassifier(n_kernels=84, random_state=0),
    ConvSRNNClassifier(n_kernels=84, random_state=0),
    RecurrentRNNClassifier(n_hidden=8, max_epochs=30, random_state=0, progress=False),
    SequenceRNNClassifier(n_hidden=8, max_epochs=20, random_state=0, progress=False),
]


@parametrize_with_checks(SMALL)
def test_scikit_learn_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # the checks' own float32 / overflow probes
        check(estimator)


DEFAULTS = [MLSRNNClassifier, MCSRNNClassifier, RocketSRNNClassifier, ConvSRNNClassifier, RecurrentRNNClassifier,
            SequenceRNNClassifier]


@pytest.mark.slow
@pytest.mark.parametrize("make", DEFAULTS, ids=lambda c: c.__name__)
def test_scikit_learn_checks_at_the_defaults(make):
    """check_estimator at the settings a user gets (minutes for the gradient-trained ones)."""
    est = make(progress=False) if make in (RecurrentRNNClassifier, SequenceRNNClassifier) else make()
    failed = [r for r in check_estimator(est, on_fail=None) if r["status"] == "failed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]


def _iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def _series_data():
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    t = np.linspace(0, 1, 40)
    X = np.stack([[np.sin(2 * np.pi * (1 + c) * t + rng.uniform(0, 6)) + rng.normal(0, 0.3, 40)] for c in y])
    return X, y


@pytest.mark.parametrize("make, data", [
    (lambda: MLSRNNClassifier(hidden=(8,), elm_hidden=40, random_state=0), _iris),
    (lambda: RocketSRNNClassifier(n_kernels=168, random_state=0), _series_data),
    (lambda: make_pipeline(StandardScaler(), RecurrentRNNClassifier(n_hidden=8, max_epochs=40, random_state=0,
                                                                    progress=False)), _iris),
])
def test_all_cores_give_the_scores_of_one(make, data):
    """n_jobs=-1 (processes, each limited to its share of threads) scores exactly as n_jobs=1."""
    X, y = data()
    one = cross_val_score(make(), X, y, cv=3, n_jobs=1)
    every = cross_val_score(make(), X, y, cv=3, n_jobs=-1)
    np.testing.assert_array_equal(one, every)
    assert one.mean() > 0.6      # the folds really learned something


def _grid_scores(n_jobs):
    X, y = _iris()
    grid = GridSearchCV(MLSRNNClassifier(hidden=(), random_state=0), {"elm_hidden": [10, 40], "ridge": [None, 1e-3]},
                        cv=3, n_jobs=n_jobs)
    return grid.fit(X, y).cv_results_["mean_test_score"]


def test_grid_search_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    expected = _grid_scores(1)
    np.testing.assert_array_equal(_grid_scores(-1), expected)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            on_dask = _grid_scores(-1)
    np.testing.assert_array_equal(on_dask, expected)


def test_workers_keep_to_their_share_of_threads():
    """Inside a joblib worker the feature kernels run on the worker's share of the cores (joblib sets
    OMP_NUM_THREADS there; Numba alone would start a thread per core in every worker)."""
    import os

    def threads_in_worker():
        import numba

        from gelsim.learn._conv_maths import kernel_threads

        with kernel_threads():
            return numba.get_num_threads(), os.environ.get("OMP_NUM_THREADS")

    cores = os.cpu_count() or 1
    for threads, share in joblib.Parallel(n_jobs=2)(joblib.delayed(threads_in_worker)() for _ in range(2)):
        assert share is not None and threads <= max(cores // 2, 1) == int(share)


def test_a_random_state_instance_is_accepted_and_advanced():
    """scikit-learn users pass RandomState instances; the same state gives the same model."""
    X, y = _iris()
    a = MLSRNNClassifier(hidden=(4,), elm_hidden=20, random_state=np.random.RandomState(3)).fit(X, y)
    b = MLSRNNClassifier(hidden=(4,), elm_hidden=20, random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    state = np.random.RandomState(3)
    first = MLSRNNClassifier(hidden=(4,), elm_hidden=20, random_state=state).fit(X, y).predict_proba(X)
    second = MLSRNNClassifier(hidden=(4,), elm_hidden=20, random_state=state).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, second)     # the shared state moved on
