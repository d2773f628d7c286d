"""Series as aeon passes them, one conversion for every sequence model, and one set of messages."""

import numpy as np
import pytest

from gelsim import MCSRNNClassifier, RocketSRNNClassifier, SequenceRNNClassifier

MODELS = {
    "RocketSRNNClassifier": lambda: RocketSRNNClassifier(n_kernels=84, random_state=0),
    "MCSRNNClassifier": lambda: MCSRNNClassifier(hidden=(4,), elm_hidden=10, random_state=0),
    "SequenceRNNClassifier": lambda: SequenceRNNClassifier(n_hidden=4, max_epochs=2, random_state=0, progress=False),
}


def _series(n=24, channels=2, length=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.linspace(0, 1, length)
    X = np.stack([[np.sin(2 * np.pi * (1 + 2 * c) * t) + rng.normal(0, 0.3, length) for c in range(channels)]
                  for c in y])
    return X, y


@pytest.mark.parametrize("name", MODELS)
def test_univariate_2d_is_one_channel(name):
    X, y = _series(channels=1)
    flat = MODELS[name]().fit(X[:, 0, :], y)
    cube = MODELS[name]().fit(X, y)
    assert flat.input_shape_ == cube.input_shape_ == (1, 20) and flat.n_features_in_ == 20
    np.testing.assert_array_equal(flat.predict(X[:, 0, :]), cube.predict(X))
    np.testing.assert_array_equal(flat.predict(X), cube.predict(X[:, 0, :]))


@pytest.mark.parametrize("name", MODELS)
def test_lists_of_unequal_length_are_resampled_to_the_training_length(name):
    X, y = _series()
    lengths = np.random.default_rng(1).integers(12, 21, size=len(X))
    ragged = [x[:, :m] for x, m in zip(X, lengths)]
    clf = MODELS[name]().fit(ragged, y)
    assert clf.input_shape_ == (2, 20)
    # The same series resampled by hand give the same predictions.
    from gelsim.learn._inputs import _resample

    same = np.stack([_resample(x, 20) for x in ragged])
    np.testing.assert_array_equal(clf.predict(ragged), clf.predict(same))
    np.testing.assert_array_equal(clf.predict([x[:, :15] for x in X]),
                                  clf.predict(np.stack([_resample(x[:, :15], 20) for x in X])))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("X, message", [
    (np.zeros((4, 2, 3, 3)), r"'X' parameter of {name} must be an array of shape \(n_samples, n_channels, length\)"),
    ([np.zeros((2, 9)), np.zeros((3, 9))], r"'X' parameter of {name} is a list of series with different numbers"),
    (np.full((4, 2, 10), np.nan), "NaN or infinity"),
    (np.zeros((4, 2, 10)) + 1j, "Complex data not supported"),
])
def test_one_set_of_messages(name, X, message):
    with pytest.raises(ValueError, match=message.format(name=name)):
        MODELS[name]().fit(X, [0, 1, 0, 1][:len(X)])


@pytest.mark.parametrize("name", MODELS)
def test_predict_checks_the_fitted_shape(name):
    X, y = _series()
    clf = MODELS[name]().fit(X, y)
    from gelsim.learn._inputs import _resample

    # Another length is resampled to the training length; other channels are refused.
    np.testing.assert_array_equal(clf.predict(X[:, :, :15]), clf.predict(np.stack([_resample(x, 20)
                                                                                   for x in X[:, :, :15]])))
    with pytest.raises(ValueError, match=r"fitted on series of shape \(2, 20\)"):
        clf.predict(np.concatenate([X, X[:, :1]], axis=1))
    with pytest.raises(ValueError, match=r"univariate, \(n_samples, length\), but the model was fitted on series "
                                         r"of 2 channels"):
        clf.predict(X[:, 0, :])
