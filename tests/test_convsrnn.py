"""Convolutional single-cell classifiers: the cell law, the features, the readout, the network, the contract."""

import numpy as np
import pytest

import gelsim
from gelsim import ConvSRNNClassifier, RocketSRNNClassifier
from gelsim.learn import _conv_kernels as kern
from gelsim.learn._conv_maths import pooling_cell_features
from gelsim.learn._ridge import fit_ridge_loo


def _series(n_per_class=12, length=40, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    X, y = [], []
    for label, f in (("slow", 2), ("mid", 4), ("fast", 7)):
        for _ in range(n_per_class):
            X.append([np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) + rng.normal(0, 0.2, length) - 1.5 * c
                      for c in range(channels)])
            y.append(label)
    return np.array(X), np.array(y)


def _images(n_per_class=15, size=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.4, (2 * n_per_class, size, size))
    X[:n_per_class, :, size // 2] += 1.0       # vertical bars
    X[n_per_class:, size // 2, :] += 1.0       # horizontal bars
    return X, np.repeat(["vertical", "horizontal"], n_per_class)


@pytest.fixture(scope="module")
def rocket():
    X, y = _series()
    return RocketSRNNClassifier(n_kernels=168, random_state=0).fit(X, y), X, y


@pytest.fixture(scope="module")
def conv():
    X, y = _images()
    return ConvSRNNClassifier(n_kernels=84, random_state=0).fit(X, y), X, y


# ---------------------------------------------------------------------------------------------- the cell
def test_position_cell_saturates_exactly_when_convolution_reaches_bias():
    rng = np.random.default_rng(1)
    E, I = rng.uniform(0, 5, 2000), rng.uniform(0, 5, 2000)
    for b in (0.7, -0.7):
        q = kern.cell_q(E, I, b, 1.0)
        C = E - I
        saturated = q >= 1.0
        expected = C >= b if b > 0 else C <= b
        assert np.array_equal(saturated, expected)
        assert np.all((q > 0) & (q <= 1))
        # At half the load the excitation must be twice the inhibition plus |b| (with b > 0: E >= 2 (b + I)).
        half = kern.cell_q(E, I, b, 0.5)
        np.testing.assert_allclose(half[~saturated], 0.5 * q[~saturated], rtol=1e-12)
        assert np.array_equal(half >= 1.0, 0.5 * E >= b + I if b > 0 else 0.5 * I >= E - b)


def _direct_taps(bank, u, j, d, k):
    """Kernel ``k`` at dilation ``d`` (index ``j``) on one scaled series ``u``: its channels, and the value
    under each of its 9 taps at every position (9, channels, length), padded with ``bank.pad``."""
    combo = j * 84 + k
    chans = bank.channel_index[bank.channel_start[combo]:bank.channel_start[combo + 1]]
    edge = np.broadcast_to(bank.pad[chans, None], (chans.size, 4 * d))
    padded = np.concatenate([edge, u[chans, :], edge], axis=1)
    length = u.shape[1]
    return chans, np.stack([padded[:, 4 * d + (tap - 4) * d + np.arange(length)] for tap in range(9)])


def test_features_against_a_direct_numpy_computation(rocket):
    """Soft, sharp and exact pooled features of the bank, recomputed here from the definition."""
    clf, X, _ = rocket
    bank = clf.bank_
    u = clf._scale(X[:3])
    soft, sharp, exact = bank.features(u), bank.features(u, "sharp"), bank.features(u, "exact")
    step = kern.SHARP_STEP
    length = u.shape[2]
    f = 0
    for j, d in enumerate(bank.dilations):
        for k in range(84):
            chans, taps = _direct_taps(bank, u[0], j, d, k)
            E = 3 * taps[kern.TAPS[k]].sum(axis=(0, 1))
            I = taps.sum(axis=(0, 1))
            lo, hi = (0, length) if (j + k) % 2 == 0 else (4 * d, length - 4 * d)
            for _ in range(bank.n_biases[j]):
                b = bank.biases[f]
                z = E / (b + I) if b > 0 else I / (E - b)
                q = np.minimum(z, 1)
                assert soft[0, f] == pytest.approx(q[lo:hi].mean(), rel=1e-12)
                assert exact[0, f] == pytest.approx(np.mean((E - I)[lo:hi] > b), abs=1e-12)
                # The sharp pair: (1 + e) q - q' over e, with q' the cell of 1 + e times the excitation.
                pair = ((1 + step) * q - np.minimum((1 + step) * z, 1)) / step
                assert sharp[0, f] == pytest.approx(pair[lo:hi].mean(), abs=1e-12)
                f += 1
    assert f == soft.shape[1]


def test_split_coding_keeps_the_convolution_and_drops_the_level_from_inhibition():
    """With ``coding="split"``, channel c's rise above its training mean m and its fall below it are two
    inputs: E = 2 (chosen rises) + (other falls), I = 2 (chosen falls) + (other rises), so E - I is the
    level coding's convolution (the kernel's weights sum to 0) and the hard features are unchanged, while
    I no longer carries the series' level. Recomputed here from the definition."""
    X, y = _series()
    level = RocketSRNNClassifier(n_kernels=168, random_state=0).fit(X, y)
    split = RocketSRNNClassifier(n_kernels=168, coding="split", random_state=0).fit(X, y)
    bank = split.bank_
    np.testing.assert_array_equal(bank.biases, level.bank_.biases)
    u = split._scale(X[:2])
    np.testing.assert_allclose(bank.features(u, "exact"), level.bank_.features(u, "exact"), atol=1e-12)
    m = bank.split_at                                                # the training means, per channel
    np.testing.assert_allclose(bank.split_at, split._scale(X).mean(axis=(0, 2)), rtol=1e-12)
    soft, length = bank.features(u), u.shape[2]
    f = 0
    for j, d in enumerate(bank.dilations):
        for k in range(84):
            chans, taps = _direct_taps(bank, u[0], j, d, k)
            rise, fall = np.maximum(taps - m[chans, None], 0), np.maximum(m[chans, None] - taps, 0)
            chosen = np.isin(np.arange(9), kern.TAPS[k])
            E = 2 * rise[chosen].sum(axis=(0, 1)) + fall[~chosen].sum(axis=(0, 1))
            I = 2 * fall[chosen].sum(axis=(0, 1)) + rise[~chosen].sum(axis=(0, 1))
            C = 3 * taps[chosen].sum(axis=(0, 1)) - taps.sum(axis=(0, 1))
            np.testing.assert_allclose(E - I, C, atol=1e-12)
            lo, hi = (0, length) if (j + k) % 2 == 0 else (4 * d, length - 4 * d)
            for _ in range(bank.n_biases[j]):
                b = bank.biases[f]
                q = np.minimum(E / (b + I), 1) if b > 0 else np.minimum(I / (E - b), 1)
                assert soft[0, f] == pytest.approx(q[lo:hi].mean(), rel=1e-12)
                f += 1
    # Sharper: the soft features spread wider than the level coding's (whose I carries the level).
    assert soft.std(axis=0).mean() > 1.5 * level.bank_.features(u).std(axis=0).mean()


def test_biases_are_quantiles_of_training_convolutions(rocket):
    clf, _, _ = rocket
    b = clf.bank_.biases
    assert np.all(b != 0) and (b > 0).any() and (b < 0).any()


# ---------------------------------------------------------------------------------------------- readout
def test_ridge_leave_one_out_equals_brute_force():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    for n, p in ((30, 80), (40, 6)):   # the dual (p > n) and the primal path
        F = rng.uniform(size=(n, p))
        Y = np.where(rng.integers(0, 3, n)[:, None] == np.arange(3), 1.0, -1.0)
        alphas = np.array([0.01, 1.0, 100.0])
        fit = fit_ridge_loo(F, Y, alphas)
        Z = (F - fit.mean) / fit.scale
        for a, err in zip(alphas, fit.loo_error):
            loo = [np.mean((Ridge(alpha=a).fit(np.delete(Z, i, 0), np.delete(Y, i, 0)).predict(Z[i:i + 1]) - Y[i]) ** 2)
                   for i in range(n)]
            assert err == pytest.approx(np.mean(loo), rel=1e-8)
        ref = Ridge(alpha=fit.alpha).fit(Z, Y)
        assert np.allclose(fit.decision(F), ref.predict(Z), atol=1e-9)


def test_readout_outputs_rank_classes_as_the_scores(rocket):
    clf, X, _ = rocket
    out, scores = clf.decision_outputs(X), clf._scores(X)
    assert np.all((out > 0) & (out < 1))
    assert np.array_equal(np.argmax(out, axis=1), np.argmax(scores, axis=1))
    np.testing.assert_allclose(clf.decision_function(X), scores)    # (with 2 classes: column 1 - column 0)
    # The outputs are the scores plus a term common to every class, scaled.
    diff = out / clf.readout_.scale - scores
    assert np.allclose(diff, diff[:, :1], atol=1e-9)


# ---------------------------------------------------------------------------------------------- the network
@pytest.mark.parametrize("which", ["rocket", "conv"])
def test_network_solved_by_eq1_reproduces_the_outputs(which, request):
    clf, X, _ = request.getfixturevalue(which)
    for i in (0, len(X) // 2, len(X) - 1):
        net = clf.to_network(X[i])
        ss = gelsim.solve(net)
        n_out = clf.classes_.size
        assert np.abs(ss.q[-n_out:] - clf.decision_outputs(X[i:i + 1])[0]).max() < 1e-9
        assert not net.is_recurrent
        # Every cell within its rate (the Network constructor checks it; say so explicitly).
        sent = np.asarray(net.w_exc.sum(axis=1)).ravel() + np.asarray(net.w_inh.sum(axis=1)).ravel()
        assert np.all(sent <= net.fire_rate * (1 + 1e-9))
    # A different instance gives a different network: the input arrives as external spikes.
    assert not np.allclose(clf.to_network(X[0]).ext_exc, clf.to_network(X[-1]).ext_exc)


@pytest.mark.parametrize("which", ["series", "images", "split series"])
def test_load_scale_scales_the_excitation_of_the_network_and_the_features_alike(which):
    """With ``load_scale=0.5`` every position cell's excitation is halved in the features and in the network
    (whichever taps carry it: the bias's sign swaps them), and Eq. (1) on the network still gives the
    outputs; the cells' loads fall (a model whose features ignored the scale would fail the first check)."""
    X, y = _images() if which == "images" else _series()
    make = ConvSRNNClassifier if which == "images" else RocketSRNNClassifier
    extra = dict(coding="split") if which == "split series" else {}
    full = make(n_kernels=168, random_state=0, **extra).fit(X, y)
    half = make(n_kernels=168, load_scale=0.5, random_state=0, **extra).fit(X, y)
    assert np.any(half.bank_.biases < 0) or which == "images"
    if which == "split series":
        assert half.bank_.split and half.to_network(X[0]).n_cells > 0
    for i in (0, len(X) - 1):
        q = gelsim.solve(half.to_network(X[i])).q
        assert np.abs(q[-half.classes_.size:] - half.decision_outputs(X[i:i + 1])[0]).max() < 1e-9
    pos_full = full.bank_.position_q(full._scale(X[:1])[0], 0)
    pos_half = half.bank_.position_q(half._scale(X[:1])[0], 0)
    unsaturated = pos_full < 1
    np.testing.assert_allclose(pos_half[unsaturated], 0.5 * pos_full[unsaturated], rtol=1e-12)
    assert half.pooled_features(X).mean() < 0.75 * full.pooled_features(X).mean()


@pytest.fixture(scope="module")
def conv_spiking():
    X, y = _images()
    return ConvSRNNClassifier(n_kernels=168, readout="spiking", spiking_penalty=1e-3, random_state=0).fit(X, y), X, y


def test_spiking_readout_network_keeps_only_what_it_uses(conv, conv_spiking):
    """Weights are non-negative, unused features get no cells, each pooling cell runs at the gain its
    weights need (it sends its whole rate to the outputs), and Eq. (1) still gives the outputs."""
    clf, X, y = conv_spiking
    assert clf.score(X, y) == 1.0 and clf.alpha_ is None
    w = clf.readout_.weights
    assert np.all(w >= 0) and np.any(w.sum(axis=1) == 0)
    net = clf.to_network(X[0])
    assert net.n_cells < conv[0].to_network(X[0]).n_cells
    assert np.abs(gelsim.solve(net).q[-2:] - clf.decision_outputs(X[:1])[0]).max() < 1e-9
    # The pooling cells precede the 2 outputs, one per used row of the readout.
    pools = np.arange(net.n_cells - 2 - int((w.sum(axis=1) > 0).sum()), net.n_cells - 2)
    assert np.all(net.w_exc[pools][:, -2:].sum(axis=1) > 0) and not net.w_exc[:pools[0]][:, -2:].nnz
    share = np.asarray(net.w_exc[pools].sum(axis=1)).ravel() / net.fire_rate[pools]
    assert np.allclose(share, 1.0, atol=1e-6)


def test_decision_loss_gradient_matches_finite_differences():
    from gelsim.learn._spiking_readout import decision_loss

    rng = np.random.default_rng(1)
    n, p, k = 25, 7, 4
    F, codes, cost, W = rng.random((n, p)), rng.integers(0, k, n), rng.random(p) + 0.5, rng.random((p, k))
    b = 0.3 * rng.standard_normal(k)
    onehot = np.eye(k)[codes]
    loss, grad_W, grad_b = decision_loss(W, F, codes, onehot, cost, 9.0, b)
    step = 1e-6

    def loss_at(x):
        return decision_loss(x[:p * k].reshape(p, k), F, codes, onehot, cost, 9.0, x[p * k:])[0]

    x = np.concatenate([W.ravel(), b])
    numeric = np.array([(loss_at(x + step * e) - loss_at(x - step * e)) / (2 * step) for e in np.eye(x.size)])
    grad = np.concatenate([grad_W.ravel(), grad_b])
    assert np.abs(numeric - grad).max() < 1e-6 * np.abs(grad).max()
    assert np.abs(grad_b).max() > 1e-3 * np.abs(grad).max()          # the intercepts do move margins
    # The loss is scale-free: margins, their noise and the events all grow with the weights.
    assert np.isclose(decision_loss(3.0 * W, F, codes, onehot, cost, 9.0, 3.0 * b)[0], loss)
    # Without intercepts it is the loss at b = 0.
    assert np.isclose(decision_loss(W, F, codes, onehot, cost, 9.0)[0],
                      decision_loss(W, F, codes, onehot, cost, 9.0, np.zeros(k))[0])


def test_spiking_readout_l2_term_is_minimised():
    """The fit stops where the projected gradient of its objective (with the L2 term) vanishes: zero on
    the positive weights, non-negative on those held at 0. Without the term the same point is no optimum."""
    from gelsim.learn._spiking_readout import _feature_scale, fit_spiking_readout

    rng = np.random.default_rng(2)
    n, p, k = 60, 6, 3
    codes = np.repeat(np.arange(k), n // k)
    F = rng.random((n, p)) + 0.8 * np.eye(k)[codes] @ rng.random((k, p))
    cost, penalty, l2 = rng.random(p) + 0.5, 1e-3, 0.05
    W, b = fit_spiking_readout(F, codes, k, cost, penalty, l2=l2, max_iter=2000)
    sd = _feature_scale(F)
    V = W * sd[:, None]
    S = F @ W + b
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Z = (F - F.mean(axis=0)) / sd
    unit_price = cost / np.median(cost) / sd

    def projected(l2_term):
        grad = Z.T @ (P - np.eye(k)[codes]) / n + penalty * unit_price[:, None] + l2_term * V
        return np.where(V > 0, np.abs(grad), np.maximum(-grad, 0.0)).max()

    assert np.count_nonzero(W) > 0
    assert projected(l2) < 1e-4
    assert projected(0.0) > 1e-2


def test_decision_events_follow_the_margin_t_statistic():
    """Events to a decision grow as 1 / z^2 and are infinite where the true class does not lead."""
    from gelsim.learn._spiking_readout import DECISION_T, decision_events

    F = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    codes = np.array([0, 1, 1])                      # the third instance is misclassified
    W = np.array([[2.0, 0.0], [0.0, 1.0]])
    cost = np.array([1.0, np.inf])                   # the second feature cannot run: priced at 0
    events = decision_events(W, np.zeros(2), F, codes, cost)
    # Instance 0: margin 2, variance (2 - 0)^2 * 1 / s_0 = 2 per unit time, R = cost . s = 2.
    assert np.isclose(events[0], DECISION_T ** 2 * 2.0 * 2.0 / 2.0 ** 2)
    assert np.isinf(events[2]) and np.isfinite(events[1])
    # Doubling every weight changes nothing (the loss and the events are scale-free).
    assert np.allclose(decision_events(2 * W, np.zeros(2), F, codes, cost), events)


def test_penalty_search_picks_the_cheapest_of_the_accurate():
    from gelsim.learn._spiking_readout import stratified_folds

    codes = np.repeat([0, 1, 2], [7, 8, 9])
    fold = stratified_folds(codes, 3, np.random.default_rng(0))
    for c in range(3):                               # every class spread evenly over the folds
        counts = np.bincount(fold[codes == c], minlength=3)
        assert counts.max() - counts.min() <= 1
    X, y = _images()
    candidates = [1e2, 1e-1, 1e-3]                   # 1e2 prices every weight out: no decisions at all
    clf = ConvSRNNClassifier(n_kernels=84, readout="spiking", spiking_penalty=candidates, random_state=0).fit(X, y)
    search = clf.penalty_search_
    assert sorted(search.penalties) == sorted(candidates) and clf.spiking_penalty_ == search.chosen
    best = search.accuracy.max()
    eligible = search.accuracy >= best - np.sqrt(best * (1 - best) / len(y))
    assert search.median_events[search.penalties == search.chosen][0] == search.median_events[eligible].min()
    assert search.chosen != 1e2 and search.accuracy[search.penalties == 1e2][0] < best
    assert np.isinf(search.median_events[search.penalties == 1e2][0])
    assert "chosen=" in repr(search)
    # A plain number is used as given, with no search.
    fixed = ConvSRNNClassifier(n_kernels=84, readout="spiking", spiking_penalty=1e-3, random_state=0).fit(X, y)
    assert fixed.penalty_search_ is None and fixed.spiking_penalty_ == 1e-3


def test_network_of_a_perturbed_model_does_not_match(rocket):
    """The equality check above can fail: a readout with one weight changed no longer reproduces it."""
    import dataclasses

    clf, X, _ = rocket
    net = clf.to_network(X[0])
    w = clf.readout_.weights.copy()
    w[np.unravel_index(np.argmax(w), w.shape)] *= 0.5
    bad = dataclasses.replace(clf.readout_, weights=w)
    pools = pooling_cell_features(clf.bank_, clf._scale(X[:1]), clf.pooling_)   # what the readout reads
    assert np.abs(gelsim.solve(net).q[-3:] - clf.readout_.outputs(pools)[0]).max() < 1e-9
    assert np.abs(gelsim.solve(net).q[-3:] - bad.outputs(pools)[0]).max() > 1e-6


def test_sharp_pooling_nears_the_hard_count_that_soft_pooling_misses(rocket):
    """The sharp pooling reads nearly MiniRocket's hard count: a
    position counts only within a 0.2 % ramp below saturation. The soft reading counts every position in
    proportion to its ratio, so it stays far from the hard count; a check that could not tell the two
    apart would fail here."""
    X, y = rocket[1:]
    clf = RocketSRNNClassifier(n_kernels=168, pooling="sharp", random_state=0).fit(X, y)
    u = clf._scale(X)
    hard = clf.bank_.features(u, "exact")
    hard = np.where(clf.bank_.biases < 0, 1 - hard, hard)      # b < 0: the cell saturates when C <= b
    sharp_gap = np.abs(clf.pooled_features(X) - hard).mean()
    soft_gap = np.abs(clf.bank_.features(u, "soft") - hard).mean()
    assert sharp_gap < 0.02 and soft_gap > 10 * sharp_gap
    # Its network pairs every position cell: about twice the cells of the soft model's network (the two
    # readouts may leave a different few features unused).
    soft = RocketSRNNClassifier(n_kernels=168, pooling="soft", random_state=0).fit(X, y)
    assert soft.pooling_ == "soft"
    assert 1.95 < clf.to_network(X[0]).n_cells / soft.to_network(X[0]).n_cells < 2.05


def test_pooling_auto_keeps_the_pooling_of_least_leave_one_out_error(rocket):
    """With the ridge readout, "auto" pools softly and sharply in one pass and keeps the pooling whose ridge
    fit has the smaller leave-one-out error: the errors are those of fits on each pooling alone, and the
    model is the one that pooling alone gives."""
    clf, X, y = rocket
    u = clf._scale(X)
    Y = np.where(np.eye(3)[np.searchsorted(clf.classes_, y)] > 0, 1.0, -1.0)
    for name in ("soft", "sharp"):
        alone = fit_ridge_loo(clf.bank_.features(u, name), Y, np.logspace(-3, 3, 10))
        assert clf.pooling_loo_error_[name] == pytest.approx(alone.loo_error.min(), rel=1e-9)
    assert clf.pooling_ == min(clf.pooling_loo_error_, key=clf.pooling_loo_error_.get)
    explicit = RocketSRNNClassifier(n_kernels=168, pooling=clf.pooling_, random_state=0).fit(X, y)
    assert explicit.pooling_loo_error_ is None
    np.testing.assert_allclose(explicit.coef_, clf.coef_, atol=1e-9)


def test_stride_auto_follows_the_readout_and_the_image_size():
    """Every position with the ridge readout; with the spiking one, every second row and column of
    images over 16 pixels (a quarter of the cells to simulate)."""
    rng = np.random.default_rng(0)
    big, small = rng.uniform(size=(12, 20, 20)), rng.uniform(size=(12, 10, 10))
    y = np.arange(12) % 2
    assert ConvSRNNClassifier(n_kernels=84, random_state=0).fit(big, y).stride_ == 1
    assert ConvSRNNClassifier(n_kernels=84, readout="spiking", random_state=0).fit(big, y).stride_ == 2
    assert ConvSRNNClassifier(n_kernels=84, readout="spiking", random_state=0).fit(small, y).stride_ == 1
    assert ConvSRNNClassifier(n_kernels=84, stride=3, random_state=0).fit(big, y).stride_ == 3


def test_pooling_auto_follows_the_readout():
    X, y = _series()
    assert RocketSRNNClassifier(n_kernels=84, readout="spiking", random_state=0).fit(X, y).pooling_ == "soft"
    assert ConvSRNNClassifier(n_kernels=84, pooling="auto", random_state=0).fit(*_images()).pooling_ == "soft"
    with pytest.raises(ValueError, match="'pooling'.*readout='spiking'"):
        RocketSRNNClassifier(n_kernels=84, pooling="sharp", readout="spiking").fit(X, y)


def test_ridge_leaves_features_of_rounding_spread_unscaled():
    """A feature that is constant but for rounding wobbles must not be standardised into a unit-variance
    noise feature: the fit with it equals the fit without it, where scaling it would change the scores."""
    rng = np.random.default_rng(0)
    F = rng.uniform(size=(40, 5))
    Y = np.where(rng.integers(0, 2, 40)[:, None] == np.arange(2), 1.0, -1.0)
    wobble = 0.5 + 1e-14 * rng.standard_normal((40, 1))
    with_it, without = fit_ridge_loo(np.hstack([F, wobble]), Y, [1.0]), fit_ridge_loo(F, Y, [1.0])
    np.testing.assert_allclose(with_it.decision(np.hstack([F, wobble])), without.decision(F), atol=1e-9)
    scaled = (wobble - wobble.mean()) / wobble.std()            # what standardising would have made of it
    blown = fit_ridge_loo(np.hstack([F, scaled]), Y, [1.0]).decision(np.hstack([F, scaled]))
    assert np.abs(blown - without.decision(F)).max() > 1e-3


def test_exact_pooling_is_analytic_only():
    X, y = _series()
    clf = RocketSRNNClassifier(n_kernels=84, pooling="exact", random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="pooling='exact'"):
        clf.to_network(X[0])


# ---------------------------------------------------------------------------------------------- estimator
def test_learns_keeps_labels_and_probabilities(rocket, conv):
    for clf, X, y in (rocket, conv):
        assert clf.score(X, y) == 1.0
        assert set(clf.predict(X)) == set(y)
        proba = clf.predict_proba(X)
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert np.array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(X))


def test_generalises_on_held_out_series():
    X, y = _series(n_per_class=20, seed=1)
    Xt, yt = _series(n_per_class=10, seed=2)
    assert RocketSRNNClassifier(n_kernels=840, random_state=0).fit(X, y).score(Xt, yt) > 0.9


def test_reproducible_with_random_state():
    X, y = _series()
    a = RocketSRNNClassifier(n_kernels=168, random_state=3).fit(X, y)
    b = RocketSRNNClassifier(n_kernels=168, random_state=3).fit(X, y)
    c = RocketSRNNClassifier(n_kernels=168, random_state=4).fit(X, y)
    assert np.array_equal(a.bank_.biases, b.bank_.biases)
    assert np.array_equal(a.decision_function(X), b.decision_function(X))
    assert not np.array_equal(a.bank_.biases, c.bank_.biases)


def test_univariate_series_may_be_two_dimensional():
    X, y = _series(channels=1)
    clf = RocketSRNNClassifier(n_kernels=84, random_state=0).fit(X[:, 0, :], y)
    assert clf.input_shape_ == (1, 40)
    assert np.array_equal(clf.predict(X[:, 0, :]), clf.predict(X))


def test_pipeline_and_cross_validation():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X, y = _series()
    clf = RocketSRNNClassifier(n_kernels=84, random_state=0)
    assert clone(clf).get_params() == clf.get_params()
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.mean() > 0.8
    Xi, yi = _images()
    assert cross_val_score(ConvSRNNClassifier(n_kernels=84, random_state=0), Xi, yi, cv=3).mean() > 0.8


def test_not_fitted():
    with pytest.raises(gelsim.learn.convsrnn.NotFittedError):
        RocketSRNNClassifier().predict(np.zeros((1, 1, 20)))


def test_series_shorter_than_a_kernel_are_extended():
    """A kernel spans 9 samples: shorter series (scikit-learn's checks pass 1 to 5 features) are extended by
    repeating their last sample, and the model stays a valid network."""
    X = np.random.default_rng(0).normal(size=(12, 1, 5))
    clf = RocketSRNNClassifier(n_kernels=84, random_state=0).fit(X, np.arange(12) % 2)
    padded = np.concatenate([X, np.repeat(X[:, :, -1:], 4, axis=2)], axis=2)
    same = RocketSRNNClassifier(n_kernels=84, random_state=0).fit(padded, np.arange(12) % 2)
    np.testing.assert_allclose(clf.decision_function(X), same.decision_function(padded))
    q = gelsim.solve(clf.to_network(X[0])).q[-2:]
    np.testing.assert_allclose(q, clf.decision_outputs(X[:1])[0], atol=1e-9)


@pytest.mark.parametrize("X, fragment", [
    (np.full((6, 1, 20), np.nan), "NaN or infinity"),
    (np.zeros((6, 1, 20, 2)), r"shape \(n_samples, n_channels, length\)"),
    (np.zeros(6), "Expected 2D array, got 1D array"),
])
def test_rocket_bad_input(X, fragment):
    with pytest.raises(ValueError, match=fragment):
        RocketSRNNClassifier(n_kernels=84).fit(X, np.arange(6) % 2)


def test_single_class_and_wrong_length_at_predict(rocket):
    X, y = _series()
    with pytest.raises(ValueError, match="at least 2 classes"):
        RocketSRNNClassifier(n_kernels=84).fit(X, np.zeros(len(X)))
    clf = rocket[0]
    with pytest.raises(ValueError, match=r"fitted on series of shape \(2, 40\)"):
        clf.predict(X[:, :1, :])


def test_images_bad_input(conv):
    X, y = _images()
    clf = conv[0]
    with pytest.raises(ValueError, match=r"fitted on images of shape \(10, 10\)"):
        clf.predict(np.zeros((2, 12, 12)))
    with pytest.raises(ValueError, match=r"shape \(n_samples, height, width\)"):
        ConvSRNNClassifier(n_kernels=84).fit(X[:, :, :, None], y)
    # Flattened square images (scikit-learn's digits) are images; negative intensities are shifted.
    flat = ConvSRNNClassifier(n_kernels=84, random_state=0).fit(X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(flat.predict(X.reshape(len(X), -1)), clf.predict(X))
    assert flat.input_shape_ == (10, 10)
    base = X - X.min()       # intensities from 0: then a shift down by 1 is undone by the scaling
    plain = ConvSRNNClassifier(n_kernels=84, random_state=0).fit(base, y)
    shifted = ConvSRNNClassifier(n_kernels=84, random_state=0).fit(base - 1, y)
    np.testing.assert_allclose(shifted.decision_function(base - 1), plain.decision_function(base), atol=1e-12)
    with pytest.raises(ValueError, match="'regions'"):
        ConvSRNNClassifier(n_kernels=84, regions=(20, 20)).fit(X, y)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n_kernels=10), "'n_kernels'"), (dict(pooling="max"), "'pooling'"), (dict(bias_rule="median"), "'bias_rule'"),
    (dict(max_dilations=0), "'max_dilations'"), (dict(readout="lasso"), "'readout'"),
    (dict(spiking_penalty=-1.0), "'spiking_penalty'"), (dict(spiking_budget=0), "'spiking_budget'"),
    (dict(spiking_l2=-1e-3), "'spiking_l2'"), (dict(spiking_l2="1e-3"), "'spiking_l2'"),
    (dict(spiking_budget="1e6"), "'spiking_budget'"), (dict(spiking_penalty=[1e-3]), "'spiking_penalty'"),
    (dict(spiking_penalty=["a", "b"]), "'spiking_penalty'"),
    (dict(spiking_penalty=[1e-3, -1.0]), "'spiking_penalty'"), (dict(spiking_penalty=True), "'spiking_penalty'"),
    (dict(load_scale=0.0), "'load_scale'"), (dict(coding="binary"), "'coding'"), (dict(pooling="exact", readout="spiking"), "'pooling'"), (dict(load_scale=1.5), "'load_scale'"), (dict(load_scale="1"), "'load_scale'"),
])
def test_bad_params(kwargs, fragment):
    X, y = _series()
    with pytest.raises(ValueError, match=fragment):
        RocketSRNNClassifier(**kwargs).fit(X, y)


def test_real_series_accuracy():
    ds = gelsim.datasets.load_japanese_vowels()
    clf = RocketSRNNClassifier(random_state=0).fit(ds.X_train, ds.y_train)
    assert clf.score(ds.X_test, ds.y_test) >= 0.97   # aeon's MiniRocket: 0.978-0.989 over seeds 0-2


def test_real_image_accuracy_and_mnist_loader():
    ds = gelsim.datasets.load_digit_images()
    assert ConvSRNNClassifier(random_state=0).fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test) >= 0.985
    mnist = gelsim.datasets.load_mnist_sample()
    assert mnist.X_train.shape == (4000, 28, 28) and mnist.X_test.shape == (1000, 28, 28)
    assert np.unique(mnist.y_train).size == 10 and mnist.X_train.max() == 255


def test_image_features_against_a_direct_numpy_computation():
    """Soft, sharp and exact pooled image features, recomputed here from the cells' maps, on images with
    blank margins (positions whose taps are all 0, which the kernel skips) and biases of both signs."""
    X, y = _images()
    X[:, :3, :] = 0.0
    X[:, :, -2:] = 0.0
    clf = ConvSRNNClassifier(n_kernels=168, regions=(2, 3), random_state=0).fit(X, y)
    bank = clf.bank_
    u = clf._scale(X[:2])
    assert (bank.biases > 0).any() and (bank.biases < 0).any()
    pooled = {mode: bank.features(u, mode) for mode in ("soft", "sharp", "exact")}
    step = kern.SHARP_STEP
    blank_seen = False
    f = 0
    for j, d in enumerate(bank.dilations):
        for k in range(84):
            E, I = kern.image_cells(u[1], bank.stride, int(d), k)
            blank_seen |= bool((I == 0).any())
            for _ in range(bank.n_biases[j]):
                b = bank.biases[f]
                z = E / (b + I) if b > 0 else I / (E - b)
                reads = {"soft": np.minimum(z, 1), "exact": (E - I > b).astype(float),
                         "sharp": ((1 + step) * np.minimum(z, 1) - np.minimum((1 + step) * z, 1)) / step}
                r = 0
                for ry in range(bank.row_edges.size - 1):
                    for rx in range(bank.col_edges.size - 1):
                        rows = slice(bank.row_edges[ry], bank.row_edges[ry + 1])
                        cols = slice(bank.col_edges[rx], bank.col_edges[rx + 1])
                        for mode, read in reads.items():
                            assert pooled[mode][1, f * bank.n_regions + r] == pytest.approx(
                                read[rows, cols].mean(), abs=1e-12), (mode, f, r)
                        r += 1
                f += 1
    assert blank_seen and f * bank.n_regions == pooled["soft"].shape[1]


def test_excitation_maps_pool_to_the_features(rocket, conv):
    clf, X, _ = conv
    F = clf.pooled_features(X[:1])[0]
    bank = clf.bank_
    for feature in (0, 40, bank.biases.size - 1):
        q = clf.excitation_map(X[0], feature)
        (r0, r1), (c0, c1) = bank.row_edges[:2], bank.col_edges[1:3]   # region (0, 1)
        assert q[r0:r1, c0:c1].mean() == pytest.approx(F[feature * bank.n_regions + 1], rel=1e-12)
    with pytest.raises(ValueError, match="'feature'"):
        clf.excitation_map(X[0], bank.biases.size)


def test_to_network_without_an_instance():
    """One signature for every classifier: to_network() gives the network with silent inputs."""
    X = np.random.default_rng(0).normal(size=(20, 1, 30))
    clf = gelsim.RocketSRNNClassifier(n_kernels=84, random_state=0).fit(X, np.arange(20) % 2)
    silent, driven = clf.to_network(), clf.to_network(X[0])
    assert silent.n_cells == driven.n_cells
    # The instance's input arrives as external rates on top of the model's own.
    assert np.all(silent.ext_exc <= driven.ext_exc) and driven.ext_exc.sum() > silent.ext_exc.sum() + 1.0
