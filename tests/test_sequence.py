"""SequenceRNNClassifier: back-propagation through time, the unrolled network, the Elman baseline."""

import numpy as np
import pytest

import gelsim
from gelsim import SequenceRNNClassifier
from gelsim.learn import _elman
from gelsim.learn import _recurrent_maths as core
from gelsim.learn import _training as training


def _up_down(n_per_class=20, length=20, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    X = np.stack([[s * t + rng.normal(0, 0.2, length), rng.normal(0, 1, length)]
                  for s in np.repeat([1.0, -1.0], n_per_class)])
    return X, np.repeat(["up", "down"], n_per_class)


def _flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


def _directional(loss_grad, arrays, gen, h=1e-5):
    """Central difference of the loss along a random direction against ``<gradient, direction>``."""
    direction = [gen.standard_normal(a.shape) for a in arrays]
    analytic = float(_flat(loss_grad()[1]) @ _flat(direction))
    for a, v in zip(arrays, direction):
        a += h * v
    plus = loss_grad()[0]
    for a, v in zip(arrays, direction):
        a -= 2 * h * v
    minus = loss_grad()[0]
    for a, v in zip(arrays, direction):
        a += h * v
    return analytic, (plus - minus) / (2 * h)


def test_bptt_gradients_match_finite_differences():
    gen = np.random.default_rng(0)
    S = gen.uniform(size=(6, 5, 3))            # 6 sequences of 5 steps of 3 inputs
    codes = gen.integers(2, size=6)
    params = core.init_params(3, 4, 2, 1, gen, scale=1.0)
    elman = _elman.init_elman(3, 4, 2, gen)
    def arrays_of(result):
        return result[0], result[1].arrays()

    cases = [(params, lambda: arrays_of(core.unrolled_loss_grad(params, S, codes, 5, 0.1, 4, 2))),
             (elman, lambda: arrays_of(_elman.elman_loss_grad(elman, S, codes, 5)))]
    for p, loss_grad in cases:
        for _ in range(3):
            analytic, numeric = _directional(loss_grad, p.arrays(), gen)
            assert abs(analytic - numeric) <= 1e-6 * max(abs(numeric), 1e-3)
    # The check can fail: the gradient of the sequence read as one fixed input (its first step), paired
    # with the true loss, misses the finite difference along a random direction by far more than the
    # tolerance. (Not along the all-ones direction: a softmax loss is invariant to it, so both sides are 0.)
    def wrong():
        return cases[0][1]()[0], arrays_of(core.unrolled_loss_grad(params, S[:, 0], codes, 5, 0.1, 4, 2))[1]

    for _ in range(3):
        analytic, numeric = _directional(wrong, params.arrays(), gen)
        assert abs(analytic - numeric) > 100 * 1e-6 * max(abs(numeric), 1e-3)


@pytest.fixture(scope="module")
def fitted():
    X, y = _up_down()
    return SequenceRNNClassifier(n_hidden=8, max_epochs=50, random_state=0).fit(X, y), X, y


def test_learns_and_its_unrolled_network_is_the_model(fitted):
    clf, X, y = fitted
    # The loss cannot fall below the entropy of the smoothed target (two classes: 0.95 and 0.05).
    floor = -(0.95 * np.log(0.95) + 0.05 * np.log(0.05))
    assert clf.score(X, y) == 1.0 and clf.loss_curve_[-1] - floor < 0.2 * (clf.loss_curve_[0] - floor)
    for x in X[[0, -1]]:
        # 20 steps x (2 channels split in rises and falls + 8 hidden cells) + 2 outputs, each within its rate
        net = clf.to_network(x)
        assert net.n_cells == 20 * (2 * 2 + 8) + 2 and not net.is_recurrent
        assert np.all(net.w_exc.sum(axis=1).A1 + net.w_inh.sum(axis=1).A1 <= net.fire_rate * (1 + 1e-12))
        q = gelsim.solve(net).q
        assert np.abs(q[-2:] - clf.decision_outputs(x[None])[0]).max() < 1e-9


@pytest.mark.parametrize("kwargs, sources", [(dict(readout="last", coding="range"), 2),
                                             (dict(readout="mean", coding="range", segments=1), 2),
                                             (dict(readout="mean", coding="split", segments=7), 4)])
def test_every_readout_and_coding_is_its_unrolled_network(kwargs, sources):
    X, y = _up_down()
    clf = SequenceRNNClassifier(n_hidden=6, max_epochs=5, random_state=0, progress=False, **kwargs).fit(X, y)
    net = clf.to_network(X[3])
    assert net.n_cells == 20 * (sources + 6) + 2
    assert np.abs(gelsim.solve(net).q[-2:] - clf.decision_outputs(X[3:4])[0]).max() < 1e-9


def test_mean_readout_over_segments_gradients_match_finite_differences():
    """Every step's state reaches the loss through its segment's readout block: 7 steps in 3 spans (3, 2, 2)."""
    gen = np.random.default_rng(1)
    S = gen.uniform(size=(6, 7, 3))
    codes = gen.integers(2, size=6)
    params = core.init_params(3, 4, 2, 1, gen, scale=1.0, segments=3)
    assert core.segment_spans(7, 3) == [(0, 3), (3, 5), (5, 7)]

    def loss_grad(series):
        def run():
            loss, g = core.unrolled_loss_grad(params, series, codes, 7, 0.1, 4, 2, "mean")
            return loss, g.arrays()
        return run

    for _ in range(3):
        analytic, numeric = _directional(loss_grad(S), params.arrays(), gen)
        assert abs(analytic - numeric) <= 1e-6 * max(abs(numeric), 1e-3)
    # Can fail: the gradient of the series read backwards (each state in another segment), paired with the
    # true loss, is far off.
    def wrong():
        return loss_grad(S)()[0], loss_grad(S[:, ::-1])()[1]

    for _ in range(3):
        analytic, numeric = _directional(wrong, params.arrays(), gen)
        assert abs(analytic - numeric) > 100 * 1e-6 * max(abs(numeric), 1e-3)


@pytest.mark.parametrize("readout, n_sets", [("last", 1), ("mean", 1), ("last", 7)])
def test_large_batches_give_the_small_batches_gradient(readout, n_sets):
    """The step loops form their products by loops up to SMALL_BATCH rows and by BLAS above it (the
    finite-difference checks run small batches): the loss and gradient of 20 series are the row-weighted
    means of those of their chunks of 5, with shared or per-step weights, to rounding."""
    from gelsim.learn import _unrolled_kernels
    assert 5 <= _unrolled_kernels.SMALL_BATCH < 20
    gen = np.random.default_rng(2)
    S, codes = gen.uniform(size=(20, 7, 3)), gen.integers(2, size=20)
    params = core.init_params(3, 4, 2, n_sets, gen, scale=1.0, segments=3 if readout == "mean" else 1)

    def loss_grad(rows):
        loss, g = core.unrolled_loss_grad(params, S[rows], codes[rows], 7, 0.1, 4, 2, readout)
        return loss, _flat(g.arrays())

    whole = loss_grad(slice(None))
    chunks = [loss_grad(slice(k, k + 5)) for k in range(0, 20, 5)]
    assert whole[0] == pytest.approx(np.mean([c[0] for c in chunks]), rel=1e-12)
    np.testing.assert_allclose(whole[1], np.mean([c[1] for c in chunks], axis=0), rtol=1e-10, atol=1e-14)
    # Can fail: one chunk's gradient left out moves the mean by far more than rounding.
    assert not np.allclose(whole[1], np.mean([c[1] for c in chunks[:3]], axis=0), rtol=1e-6, atol=1e-9)


def test_classes_that_differ_only_in_spread_are_learnt():
    """BasicMotions' classes differ in how much the sensors move, not in their mean. With the default split
    coding and mean readout, 30 series per class of zero-mean noise at spread 0.5 or 1 are told apart; read
    at the last step of range-coded inputs (the old defaults), the same data stays near chance."""
    rng = np.random.default_rng(0)
    spread = np.repeat([0.5, 1.0], 30)
    X = rng.normal(size=(60, 2, 40)) * spread[:, None, None]
    y = np.repeat(["calm", "busy"], 30)
    Xt = rng.normal(size=(60, 2, 40)) * spread[:, None, None]
    new = SequenceRNNClassifier(n_hidden=8, max_epochs=40, random_state=0, progress=False).fit(X, y)
    old = SequenceRNNClassifier(n_hidden=8, max_epochs=40, readout="last", coding="range", batch_size=32,
                                random_state=0, progress=False).fit(X, y)
    assert new.score(Xt, y) >= 0.9 and old.score(Xt, y) <= 0.75


def test_sampled_predictions_agree(fitted):
    clf, X, _ = fitted
    so = clf.sample_outputs(X[[0, 5, 25, 30]], max_events=4e6, rng=0)
    assert so.agreement == 1.0 and so.decided.sum() >= 3


def test_elman_baseline_by_the_same_code_path():
    X, y = _up_down()
    clf = SequenceRNNClassifier(n_hidden=8, cell="elman", max_epochs=50, random_state=0).fit(X, y)
    assert clf.score(X, y) == 1.0 and len(clf.loss_curve_) == clf.n_iter_ <= 50
    with pytest.raises(ValueError, match="cell='rnn'"):
        clf.to_network(X[0])
    with pytest.raises(ValueError, match="cell='rnn'"):
        clf.predict(X[:1], mode="sampled")


def test_gradients_are_clipped(monkeypatch):
    """Every step Adam takes sees a gradient of global norm at most ``clip``."""
    norms = []
    step = training.Adam.step

    def recording(self, arrays, grads):
        norms.append(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))
        return step(self, arrays, grads)

    monkeypatch.setattr(training.Adam, "step", recording)
    X, y = _up_down()
    SequenceRNNClassifier(n_hidden=8, max_epochs=3, clip=1e-3, random_state=0).fit(X, y)
    # float32 training: the clipped norm is 1e-3 to single-precision rounding; batch_size "auto": 40 // 10.
    assert max(norms) <= 1e-3 * (1 + 1e-6) and len(norms) == 3 * 10


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(cell="lstm"), "'cell'"), (dict(n_hidden=0), "'n_hidden'"), (dict(clip=0.0), "'clip'"),
    (dict(max_epochs=0), "'max_epochs'"), (dict(readout="first"), "'readout'"), (dict(coding="z"), "'coding'"),
    (dict(segments=0), "'segments'"), (dict(batch_size="big"), "'batch_size'.*or 'auto'"),
    (dict(label_smoothing=1.5), "'label_smoothing'"),
])
def test_bad_params(kwargs, fragment):
    X, y = _up_down()
    with pytest.raises(ValueError, match=fragment):
        SequenceRNNClassifier(**kwargs).fit(X, y)


def test_bad_input(fitted):
    clf, X, y = fitted
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_channels, length\)"):
        SequenceRNNClassifier().fit(X[:, :, :, None], y)
    with pytest.raises(ValueError, match="NaN"):
        SequenceRNNClassifier().fit(np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="fitted on series of shape"):
        clf.predict(np.concatenate([X, X], axis=1))


def test_divergent_training_names_the_learning_rate():
    """A huge step used to end with an all-NaN loss curve (no error)."""
    S = np.random.default_rng(0).normal(size=(40, 2, 20))
    with pytest.raises(ValueError, match="diverged in epoch [0-9].*'learning_rate' parameter"):
        with np.errstate(all="ignore"):
            SequenceRNNClassifier(learning_rate=1e6, max_epochs=3, random_state=0, progress=False).fit(
                S, np.arange(40) % 2)
