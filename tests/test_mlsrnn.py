"""MLSRNN / MCSRNN: training maths, the spiking network they are, sampled inference, sklearn contract."""

import numpy as np
import pytest
from scipy import optimize, stats

import gelsim
from gelsim import MCSRNNClassifier, MLSRNNClassifier
from gelsim.learn import _mlsrnn_maths as core
from gelsim.learn._fista import nonneg_lasso
from gelsim.learn.mlsrnn import NotFittedError

sklearn = pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0, 0], [3, 3, 0, 0], [0, 3, 3, 3]], float)
    X = np.vstack([rng.normal(c, 1.0, (60, 4)) for c in centers])
    y = np.repeat(["red", "green", "blue"], 60)
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return MLSRNNClassifier(hidden=(12,), elm_hidden=30, random_state=0).fit(X, y)


def test_learns_and_keeps_string_labels(fitted, blobs):
    X, y = blobs
    assert set(fitted.predict(X)) <= set(y)
    assert fitted.score(X, y) > 0.9
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(axis=1)], fitted.predict(X))


def test_outputs_are_elm_outputs_plus_offset(fitted, blobs):
    """Mapping (13): output_i = ρ(X W̄1) W̄2 + m, with ρ the first half of the ELM cells."""
    X, _ = blobs
    qs = core.forward(fitted.layers_, fitted._flat_scaled(X), return_all=True)
    hidden, out = qs[-2], qs[-1]
    h = hidden.shape[1] // 2
    w = fitted.layers_[-1].w_exc
    scale = fitted.layers_[-1].fire_rate[0]  # the output layer may have been rescaled (r = s, Λ = s Λ)
    elm = hidden[:, :h] @ ((w[:h] - w[h:]) / scale)
    np.testing.assert_allclose(out, elm + fitted.offset_, atol=1e-12)
    # ϱ = 1 - ρ: the second half of the cells mirrors the first.
    np.testing.assert_allclose(hidden[:, h:], 1 - hidden[:, :h], atol=1e-12)
    # fit takes the softmax scale from the ELM's training outputs: the same as the network's, minus m.
    assert fitted.score_scale_ == pytest.approx(np.std(fitted.decision_outputs(X) - fitted.offset_), rel=1e-9)


def test_rescaling_for_realisability_leaves_outputs_unchanged(blobs):
    X, y = blobs
    clf = MLSRNNClassifier(hidden=(12,), elm_hidden=30, random_state=0).fit(X, y)
    gen = np.random.default_rng(0)
    Xs = clf._flat_scaled(X)
    stacks, enc, rate = core.train_channel_stacks([Xs], (12,), gen, l1=1.0, tol=1e-4, max_iter=200)
    raw = stacks + core.train_elm(enc, np.eye(3)[np.unique(y, return_inverse=True)[1]], 30, rate, gen)[0]
    fixed = core.make_realisable(raw)
    np.testing.assert_allclose(core.forward(fixed, Xs), core.forward(raw, Xs), rtol=1e-12, atol=1e-14)
    sums = [np.asarray(l.w_exc.sum(axis=1)).ravel() + np.asarray(l.w_inh.sum(axis=1)).ravel() for l in raw]
    assert max((s / r).max() for s, r in zip(sums, [np.ones(4)] + [l.fire_rate for l in raw[:-1]])) > 1, \
        "the raw model should need rescaling for this test to mean something"


def test_sparse_elm_units_listen_to_fan_in_inputs_and_load_scale_leaves_outputs_unchanged(blobs):
    """Each ELM unit takes inhibition (ρ cells) or both kinds (ϱ cells) from exactly ``elm_fan_in`` inputs,
    every input still spending its rate; ``load_scale`` scales every ELM cell's q (and load) and leaves the
    least-squares outputs as they were, while a network that ignored it would keep q at 1 somewhere."""
    X, y = blobs
    X = np.hstack([X, X[:, ::-1] ** 2])                     # 8 features
    dense = MLSRNNClassifier(hidden=(), elm_hidden=40, random_state=0).fit(X, y)
    sparse = MLSRNNClassifier(hidden=(), elm_hidden=40, elm_fan_in=3, random_state=0).fit(X, y)
    elm = sparse.layers_[0]
    listens = (np.asarray(elm.w_inh[:, :40]) > 0).sum(axis=0)
    assert listens.tolist() == [3] * 40 and (np.asarray(dense.layers_[0].w_inh[:, :40]) > 0).all()
    np.testing.assert_array_equal(np.asarray(elm.w_exc[:, 40:]) > 0, np.asarray(elm.w_inh[:, :40]) > 0)
    assert sparse.score(X, y) > 0.9
    Xs = sparse._flat_scaled(X)
    half = MLSRNNClassifier(hidden=(), elm_hidden=40, elm_fan_in=3, load_scale=0.5, random_state=0).fit(X, y)
    np.testing.assert_allclose(half.decision_outputs(X), sparse.decision_outputs(X), rtol=1e-10, atol=1e-12)
    full_q, half_q = core.forward(sparse.layers_, Xs, return_all=True)[1], core.forward(half.layers_, Xs, return_all=True)[1]
    np.testing.assert_allclose(half_q, 0.5 * full_q, rtol=1e-12)
    assert full_q.max() > 0.9 and half_q.max() <= 0.5 + 1e-12
    net = half.to_network(X[0])
    np.testing.assert_allclose(gelsim.solve(net).q[-3:], half.decision_outputs(X[:1])[0], atol=1e-10)
    # elm_scale sets the activation's a as a share of the largest input: rho = a / (a + x) on the same
    # inputs, so at a five times larger scale every rho moves as a / (a + x) says, not as the paper's.
    wide = MLSRNNClassifier(hidden=(), elm_hidden=40, elm_fan_in=3, elm_scale=1.0, random_state=0).fit(X, y)
    rho_paper, rho_wide = full_q[:, :40], core.forward(wide.layers_, Xs, return_all=True)[1][:, :40]
    x_over_a = 1.0 / rho_paper - 1.0                     # x / a at the paper's scale
    np.testing.assert_allclose(rho_wide, 1.0 / (1.0 + x_over_a / 5.0), rtol=1e-9)


def test_a_list_of_elm_scales_is_chosen_from_by_cross_validated_accuracy_and_forecast_cost(blobs):
    """``elm_scale=[...]``: each candidate's held-out accuracy and forecast sampled cost are measured in
    3 folds of the training data, the cheapest within one standard error of the best accuracy is kept, and
    the model is then the one a fit at that scale gives."""
    X, y = blobs
    params = dict(hidden=(), elm_hidden=40, elm_fan_in=2, readout="spiking", spiking_penalty=1e-5, load_scale=0.5,
                  random_state=0)
    clf = MLSRNNClassifier(elm_scale=[0.2, 1.0, 5.0], **params).fit(X, y)
    search = clf.scale_search_
    assert search.scales.tolist() == [0.2, 1.0, 5.0] and np.all((search.accuracy > 0.9) & (search.accuracy <= 1))
    np.testing.assert_allclose(search.accuracy_se, np.sqrt(search.accuracy * (1 - search.accuracy) / len(y)))
    eligible = search.accuracy >= search.accuracy.max() - search.accuracy_se[np.argmax(search.accuracy)]
    assert search.chosen == search.scales[eligible][np.argmin(search.median_events[eligible])]
    # The larger scales are forecast cheaper by far more than a rounding error (measured: 6.4e4, 2.4e4 and
    # 1.8e4 events), so the choice is not simply the first candidate.
    assert search.median_events[0] > 2 * search.median_events[2] and search.chosen != 0.2
    assert clf.elm_scale_ == search.chosen and "ScaleSearch(chosen=" in repr(search)
    at_chosen = MLSRNNClassifier(elm_scale=search.chosen, **params).fit(X, y)
    np.testing.assert_array_equal(clf.decision_outputs(X), at_chosen.decision_outputs(X))
    assert at_chosen.scale_search_ is None and at_chosen.elm_scale_ == search.chosen


def test_model_is_a_g_network_solved_by_eq1(fitted, blobs):
    """to_network is a valid Network, and Eq. (1) on it reproduces the layer-by-layer outputs exactly."""
    X, _ = blobs
    net = fitted.to_network(X[0])
    ss = gelsim.solve(net)
    np.testing.assert_allclose(ss.q[-3:], fitted.decision_outputs(X[:1])[0], atol=1e-10)
    assert fitted.to_network().n_cells == net.n_cells


@pytest.mark.parametrize("make", [
    lambda: MLSRNNClassifier(hidden=(12,), elm_hidden=30, readout="spiking", random_state=0),
    lambda: MCSRNNClassifier(hidden=(4,), elm_hidden=30, readout="spiking", random_state=0),
])
def test_spiking_readout_is_excitatory_and_solved_by_eq1(make, blobs):
    """The spiking readout's output cells take only excitation, with non-negative weights; Eq. (1) on the
    network still gives the outputs, which stay below 1, and the class margins are more than 1e-3 (median
    7e-3 here; least squares leaves the outputs 6e-6 apart on the same data)."""
    X, y = blobs
    if isinstance(make(), MCSRNNClassifier):
        X = np.repeat(X[:, None, :], 2, axis=1)
    clf = make().fit(X, y)
    assert clf.score(X, y) > 0.9
    out = clf.layers_[-1]
    assert np.all(np.asarray(out.w_exc) >= 0) and not np.any(out.w_inh) and np.all(out.ext_exc >= 0)
    net = clf.to_network(X[0])
    np.testing.assert_allclose(gelsim.solve(net).q[-3:], clf.decision_outputs(X[:1])[0], atol=1e-10)
    outputs = clf.decision_outputs(X)
    top = np.sort(outputs, axis=1)
    assert outputs.max() < 1 and np.median(top[:, -1] - top[:, -2]) > 1e-3


def test_spiking_penalty_is_chosen_by_cross_validation(blobs):
    """A price of events that is too high starves the readout (training accuracy near chance); among
    candidates that include it, the cross-validated choice avoids it. A single number is used as given."""
    X, y = blobs
    kwargs = dict(hidden=(12,), elm_hidden=30, readout="spiking", random_state=0)
    starved = MLSRNNClassifier(spiking_penalty=4e-3, **kwargs).fit(X, y)      # one hidden cell kept
    chosen = MLSRNNClassifier(spiking_penalty=[4e-3, 1e-3, 1e-5], **kwargs).fit(X, y)
    assert starved.score(X, y) < 0.7 and starved.penalty_search_ is None and starved.spiking_penalty_ == 4e-3
    assert chosen.score(X, y) > 0.9 and chosen.spiking_penalty_ in (1e-3, 1e-5)
    assert chosen.penalty_search_.accuracy[0] < 0.7 and "chosen=" in repr(chosen.penalty_search_)
    default = MLSRNNClassifier(**kwargs).fit(X, y)
    assert default.spiking_penalty_ in (1e-4, 1e-5, 1e-6) and default.penalty_search_ is not None


@pytest.fixture(scope="module")
def resolvable(blobs):
    """A model whose class outputs differ by ~1e-2 (ridge), which a simulation can resolve."""
    X, y = blobs
    return MLSRNNClassifier(hidden=(), elm_hidden=30, ridge=1e-3, random_state=0).fit(X, y)


def test_sampled_outputs_converge_to_analytic(resolvable, blobs):
    X, _ = blobs
    top = np.sort(resolvable.decision_outputs(X), axis=1)
    pick = X[np.argsort(top[:, -1] - top[:, -2])[-3:]]  # the widest class gaps: resolvable at 2e5
    errors = []
    for duration, seed in ((2e3, 1), (2e5, 2)):
        res = resolvable.sample_outputs(pick, duration=duration, replications=4, rng=seed)
        z = (res.outputs - res.analytic) / res.outputs_se
        assert np.abs(z).max() < stats.t(3).isf(1e-3 / (2 * z.size))
        errors.append(np.abs(res.outputs - res.analytic).max())
    assert errors[1] < errors[0] / 3  # error falls like duration^(-1/2): 10x expected here
    assert res.resolved.all() and res.resolved_agreement == 1.0 and res.agreement == 1.0
    np.testing.assert_array_equal(resolvable.predict(pick, mode="sampled", duration=2e5, replications=4, rng=2),
                                  res.predictions)
    # A wrong analytic answer (outputs shifted by 0.02) is rejected by the same errors.
    assert np.abs((res.outputs - (res.analytic + 0.02)) / res.outputs_se).max() > 10


def test_sampled_busy_fractions(resolvable, blobs):
    """Reading the output cells' time-averaged P(k > 0) instead of their spike counts also converges."""
    X, _ = blobs
    res = resolvable.sample_outputs(X[:2], duration=5e4, replications=4, reading="busy", rng=3)
    z = (res.outputs - res.analytic) / res.outputs_se
    assert np.abs(z).max() < stats.t(3).isf(1e-3 / (2 * z.size))


def test_unresolvable_gaps_are_reported(fitted, blobs):
    """With the paper's pinv the class outputs differ by far less than a short simulation resolves."""
    res = fitted.sample_outputs(blobs[0][:2], duration=2e3, replications=2, rng=0)
    assert not res.resolved.any() and np.isnan(res.resolved_agreement) and not res.decided.any()


def test_mcsrnn_on_multichannel_series():
    rng = np.random.default_rng(1)
    t = np.linspace(0, 1, 40)
    freqs = np.repeat([1.0, 2.5, 4.0], 30)
    X = np.stack([np.stack([np.sin(2 * np.pi * f * t + rng.uniform(0, 0.5)), np.cos(2 * np.pi * f * t)])
                  for f in freqs]) + rng.normal(0, 0.1, (90, 2, 40))
    y = np.repeat([10, 20, 30], 30)
    clf = MCSRNNClassifier(hidden=(10, 6), elm_hidden=40, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    # Channels are trained separately: the first autoencoder layer is block-diagonal over 2 channels.
    w = clf.layers_[0].w_inh.toarray()
    assert np.all(w[:40, 10:] == 0) and np.all(w[40:, :10] == 0)
    net = clf.to_network(X[0])
    np.testing.assert_allclose(gelsim.solve(net).q[-3:], clf.decision_outputs(X[:1])[0], atol=1e-10)


def test_fista_solves_the_nonnegative_lasso():
    rng = np.random.default_rng(2)
    H, X = rng.uniform(0, 1, (40, 6)), rng.uniform(0, 1, (40, 3))
    B, iters = nonneg_lasso(H, X, l1=0.5, tol=1e-10, max_iter=5000)
    objective = lambda b: np.sum((X - H @ b.reshape(6, 3)) ** 2) + 0.5 * b.sum()
    ref = optimize.minimize(objective, np.zeros(18), bounds=[(0, None)] * 18, method="L-BFGS-B",
                            options=dict(ftol=1e-15, gtol=1e-12, maxiter=10000))
    assert B.min() >= 0
    assert objective(B.ravel()) <= ref.fun + 1e-8


# ----------------------------------------------------------------------------- scikit-learn contract
def test_not_fitted_error():
    with pytest.raises(NotFittedError):
        MLSRNNClassifier().predict(np.zeros((2, 3)))


def test_pipeline_and_cross_validation(blobs):
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = blobs
    pipe = make_pipeline(StandardScaler(), MLSRNNClassifier(hidden=(10,), elm_hidden=30, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85


def test_params_roundtrip():
    clf = MLSRNNClassifier(hidden=(5, 4), elm_hidden=7)
    assert clf.get_params()["hidden"] == (5, 4)
    clf.set_params(elm_hidden=9)
    assert clf.elm_hidden == 9


def test_fit_leaves_parameters_alone(blobs):
    clf = MLSRNNClassifier(hidden=[6], elm_hidden=20, random_state=0).fit(*blobs)  # a list, as users write
    assert clf.hidden == [6] and clf.score(*blobs) > 0.85


@pytest.mark.parametrize("X_bad, fragment", [
    (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
    (np.array([[0.0, np.inf], [1.0, 2.0]]), "infinity"),
])
def test_non_finite_input_rejected(X_bad, fragment):
    with pytest.raises(ValueError, match=fragment):
        MLSRNNClassifier(hidden=(2,), elm_hidden=3).fit(X_bad, [0, 1])


def test_single_class_rejected():
    with pytest.raises(ValueError, match="at least 2 classes; got 1 class"):
        MLSRNNClassifier(hidden=(2,), elm_hidden=3).fit(np.random.default_rng(0).uniform(size=(5, 3)), ["a"] * 5)


def test_mcsrnn_wrong_dimensionality():
    with pytest.raises(ValueError, match=r"'X' parameter of MCSRNNClassifier must be an array of shape "
                                         r"\(n_samples, n_channels, length\)"):
        MCSRNNClassifier().fit(np.zeros((4, 5, 2, 2)), [0, 1, 0, 1])
    clf = MCSRNNClassifier(hidden=(3,), elm_hidden=5, random_state=0).fit(
        np.random.default_rng(0).uniform(size=(6, 2, 8)), [0, 1] * 3)
    with pytest.raises(ValueError, match=r"fitted on series of shape \(2, 8\)"):
        clf.predict(np.zeros((2, 3, 8)))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(hidden=(0,)), "'hidden' parameter"),
    (dict(elm_hidden=0), "'elm_hidden' parameter"),
    (dict(ridge=-1.0), "'ridge' parameter"),
    (dict(l1=-1.0), "'l1' parameter"),
    (dict(readout="pinv"), "'readout' parameter"),
    (dict(readout="spiking", spiking_penalty=-1.0), "'spiking_penalty' parameter"),
    (dict(readout="spiking", spiking_penalty=[1e-4]), "'spiking_penalty' parameter.*at least two"),
    (dict(readout="spiking", spiking_l2="0.1"), "'spiking_l2' parameter"),
    (dict(elm_fan_in=0), "'elm_fan_in' parameter"),
    (dict(elm_fan_in=2.5), "'elm_fan_in' parameter"),
    (dict(load_scale=0.0), "'load_scale' parameter"),
    (dict(load_scale=1.5), "'load_scale' parameter"),
    (dict(elm_scale=0.0), "'elm_scale' parameter"),
    (dict(elm_scale=np.inf), "'elm_scale' parameter"),
    (dict(elm_scale=[0.2]), "'elm_scale' parameter.*at least two"),
    (dict(elm_scale=[0.2, -1.0]), "'elm_scale' parameter"),
    (dict(elm_scale="auto"), "'elm_scale' parameter"),
])
def test_bad_params(kwargs, fragment, blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=fragment):
        MLSRNNClassifier(**kwargs).fit(X, y)


def test_bad_mode(fitted, blobs):
    with pytest.raises(ValueError, match="'mode' parameter of predict"):
        fitted.predict(blobs[0], mode="spiky")


def test_negative_features_are_scaled(blobs):
    X, y = blobs
    clf = MLSRNNClassifier(hidden=(6,), elm_hidden=20, random_state=0).fit(X - 100.0, y)
    assert clf.score(X - 100.0, y) > 0.85


# ----------------------------------------------------------------------------- data sets
@pytest.mark.parametrize("name, shape", [("BasicMotions", (6, 100)), ("JapaneseVowels", (12, 25)),
                                         ("Watch", (6, 125)), ("digits", (64,))])
def test_dataset_loaders(name, shape):
    pytest.importorskip({"BasicMotions": "aeon", "JapaneseVowels": "aeon", "Watch": "seglearn",
                         "digits": "sklearn"}[name])
    ds = gelsim.datasets.LOADERS[name]()
    assert ds.X_train.shape[1:] == shape == ds.X_test.shape[1:]
    assert ds.X_train.shape[0] == ds.y_train.size and ds.X_test.shape[0] == ds.y_test.size
    assert np.all(np.isfinite(ds.X_train))
    if name == "Watch":  # held-out subjects: the training windows carry theirs, for grouped cross-validation
        assert ds.groups_train.shape == ds.y_train.shape and set(ds.groups_train) == set(range(1, 8))
    else:
        assert ds.groups_train is None


@pytest.mark.slow
def test_digits_accuracy_floor():
    """MLSRNN on scikit-learn's digits as in the README table (98.3 % measured; a regression guard at 97 %)."""
    ds = gelsim.datasets.load_digits()
    clf = MLSRNNClassifier(hidden=(200,), elm_hidden=1000, random_state=0).fit(ds.X_train, ds.y_train)
    assert clf.score(ds.X_test, ds.y_test) > 0.97


@pytest.mark.parametrize("params, name", [(dict(ridge=np.inf), "ridge"), (dict(fista_tol=-1), "fista_tol"),
                                          (dict(fista_max_iter=0), "fista_max_iter"), (dict(l1=np.nan), "l1")])
def test_silent_settings_are_refused(params, name):
    """ridge=inf predicted class 0 for everything; fista_tol=-1 was accepted; fista_max_iter=0 blamed l1."""
    X = np.random.default_rng(0).uniform(size=(20, 3))
    with pytest.raises(ValueError, match=f"'{name}' parameter of MLSRNNClassifier"):
        MLSRNNClassifier(**params).fit(X, np.arange(20) % 2)


# ---------------------------------------------------------------- defaults chosen from the data (#31)
def test_leave_one_out_errors_of_the_elm_search_are_exact():
    """select_elm's closed-form leave-one-out errors equal refitting without each row in turn."""
    from gelsim.learn import _mlsrnn_maths as core
    from gelsim.steady.cells import rho

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(14, 3))
    Y = np.eye(2)[rng.integers(2, size=14)]
    pool = core.elm_pool(3, 8, np.ones(3), np.random.default_rng(1))
    ridges = [1e-3, 1e-1]
    choice = core.select_elm(X, Y, pool, [8], ridges)
    pre = X @ pool.weights(8)
    H = rho(pre, pre.max() / 5)
    for j, ridge in enumerate(ridges):
        alpha = ridge * np.sum(H * H) / 8
        errors = []
        for i in range(14):
            keep = np.arange(14) != i
            w = np.linalg.solve(H[keep].T @ H[keep] + alpha * np.eye(8), H[keep].T @ Y[keep])
            errors.append((Y[i] - H[i] @ w) ** 2)
        np.testing.assert_allclose(choice.loo_error[0, j], np.mean(errors), rtol=1e-8)
        # The check can fail: the training error (no row left out) is far below it.
        w = np.linalg.solve(H.T @ H + alpha * np.eye(8), H.T @ Y)
        assert np.mean((Y - H @ w) ** 2) < 0.9 * choice.loo_error[0, j]


def test_defaults_follow_the_data_and_the_paper_is_one_call_away():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    clf = MLSRNNClassifier(random_state=0).fit(X, y)
    assert clf.hidden_ in ((), (1,)) and clf.elm_hidden_ in (16, 32, 64, 128, 256) and 1e-12 <= clf.ridge_ <= 10
    # The chosen pair has the least leave-one-out error of the search.
    sel = clf.elm_selection_
    assert sel.loo_error[list(sel.widths).index(clf.elm_hidden_), list(sel.ridges).index(clf.ridge_)] == \
        np.nanmin(sel.loo_error)
    assert clf.score(X, y) > 0.95
    paper = MLSRNNClassifier.paper(random_state=0).fit(X, y)
    assert (paper.hidden_, paper.elm_hidden_, paper.ridge_, paper.elm_selection_) == ((200,), 1000, None, None)
    mc = MCSRNNClassifier(random_state=0).fit(np.random.default_rng(0).uniform(size=(20, 2, 9)), [0, 1] * 10)
    assert mc.hidden_ == (5,)          # half the series' length, per channel
    short = MCSRNNClassifier(random_state=0).fit(np.random.default_rng(0).uniform(size=(20, 2, 7)), [0, 1] * 10)
    assert short.hidden_ == ()         # below 8 steps, no autoencoder
