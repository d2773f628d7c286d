"""Classifier benchmark (issue #5), a table like the paper's Table I, every method run here in the same process.

For each data set: test accuracy (mean ± sd over seeds), training time and testing time of
  MLSRNN (digits) / MCSRNN (time series), hyper-parameters chosen by 3-fold cross-validation on the
      training split only, grouped by subject on Watch (the selection time is reported separately; the
      training time is the final fit)
  scikit-learn MLPClassifier (standardised, flattened input)
  a plain ELM (sigmoid random features + pseudo-inverse)
  ridge regression on raw (standardised, flattened) features
  aeon's MiniRocket (time series only)
Targets: MCSRNN beats MLPClassifier's accuracy on every data set while training >= 10x faster; within 2
points of MiniRocket on JapaneseVowels and Watch.

Run:  pip install ".[bench]" && python benchmarks/classifiers.py [--seeds 3] [--datasets digits Watch]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import gelsim
from gelsim import datasets

GRID = [dict(hidden=h, elm_hidden=e, ridge=r) for h in [(), (50,), (50, 25)] for e in (500, 2000)
        for r in (None, 1e-3)]


class PlainELM:
    """Extreme learning machine: sigmoid random hidden layer, output weights by pseudo-inverse."""

    def __init__(self, n_hidden=1000, random_state=0):
        self.n_hidden, self.random_state = n_hidden, random_state

    def fit(self, X, y):
        gen = np.random.default_rng(self.random_state)
        self.mu_, self.sd_ = X.mean(axis=0), X.std(axis=0) + 1e-12
        self.w_ = gen.normal(0, 1 / np.sqrt(X.shape[1]), (X.shape[1], self.n_hidden))
        self.b_ = gen.normal(0, 1, self.n_hidden)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.beta_ = np.linalg.pinv(self._hidden(X)) @ np.eye(self.classes_.size)[codes]
        return self

    def _hidden(self, X):
        return 1 / (1 + np.exp(-(((X - self.mu_) / self.sd_) @ self.w_ + self.b_)))

    def predict(self, X):
        return self.classes_[np.argmax(self._hidden(X) @ self.beta_, axis=1)]


def flat(X):
    return X.reshape(X.shape[0], -1)


def select_srnn(model_cls, X, y, seed, groups=None):
    """3-fold CV over GRID on the training data; returns the best parameters and the time it took.

    Where the test split holds out whole groups (Watch's subjects), the folds do too: windows of one
    recording in both the fitting and the scoring fold make CV reward the wrong settings.
    """
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score

    start = time.perf_counter()
    cv = StratifiedKFold(3, shuffle=True, random_state=seed) if groups is None else GroupKFold(3)
    scores = [cross_val_score(model_cls(random_state=seed, **p), X, y, cv=cv, groups=groups).mean() for p in GRID]
    return GRID[int(np.argmax(scores))], time.perf_counter() - start


def methods(ds, seed):
    """(name, make model, transform X) for every method that applies to this data set."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    series = ds.X_train.ndim == 3
    out = [
        ("MLP (sklearn)", lambda: make_pipeline(StandardScaler(), MLPClassifier(max_iter=500, random_state=seed)), flat),
        ("ELM (plain)", lambda: PlainELM(1000, random_state=seed), flat),
        ("ridge (raw)", lambda: make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0)), flat),
    ]
    if series:
        from aeon.classification.convolution_based import MiniRocketClassifier

        out.append(("MiniRocket (aeon)", lambda: MiniRocketClassifier(random_state=seed), lambda X: X))
    return out


def time_fit_predict(model, X_train, y_train, X_test, y_test):
    start = time.perf_counter()
    model.fit(X_train, y_train)
    train = time.perf_counter() - start
    start = time.perf_counter()
    acc = float(np.mean(model.predict(X_test) == y_test))
    return acc, train, time.perf_counter() - start


def run_dataset(name, seeds):
    ds = datasets.LOADERS[name]()
    print(f"\n{ds!r}", flush=True)
    series = ds.X_train.ndim == 3
    srnn_cls = gelsim.MCSRNNClassifier if series else gelsim.MLSRNNClassifier
    srnn_name = "MCSRNN (gelsim)" if series else "MLSRNN (gelsim)"
    rows = {}
    for seed in seeds:
        params, select_time = select_srnn(srnn_cls, ds.X_train, ds.y_train, seed, ds.groups_train)
        acc, tr, te = time_fit_predict(srnn_cls(random_state=seed, **params), ds.X_train, ds.y_train, ds.X_test,
                                       ds.y_test)
        rows.setdefault(srnn_name, []).append((acc, tr, te))
        rows.setdefault("  (CV selection s)", []).append((np.nan, select_time, np.nan))
        print(f"  seed {seed}: {srnn_name} {params} acc {acc:.4f} (selection {select_time:.1f} s)", flush=True)
        for mname, make, transform in methods(ds, seed):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = time_fit_predict(make(), transform(ds.X_train), ds.y_train, transform(ds.X_test), ds.y_test)
            rows.setdefault(mname, []).append(res)
    return rows


def summarise(all_rows):
    print(f"\n{'data set':<16}{'method':<22}{'accuracy %':>16}{'train s':>10}{'test s':>10}")
    verdicts = []
    for ds_name, rows in all_rows.items():
        stats = {}
        for method, runs in rows.items():
            arr = np.array(runs, float)
            acc = 100 * arr[:, 0]
            measured = not np.all(np.isnan(acc))  # the CV-selection row has times only
            stats[method] = (np.nanmean(acc) if measured else np.nan, np.nanstd(acc) if measured else np.nan,
                             np.median(arr[:, 1]), np.median(arr[:, 2]))
            a, s, tr, te = stats[method]
            acc_txt = "" if np.isnan(a) else f"{a:6.2f} ± {s:4.2f}"
            te_txt = "" if np.isnan(te) else f"{te:10.3f}"
            print(f"{ds_name:<16}{method:<22}{acc_txt:>16}{tr:10.2f}{te_txt:>10}")
        srnn = next(k for k in stats if "SRNN" in k)
        mlp = stats["MLP (sklearn)"]
        verdicts.append((f"{ds_name}: {srnn.split()[0]} beats MLP accuracy", stats[srnn][0] > mlp[0],
                         f"{stats[srnn][0]:.2f} vs {mlp[0]:.2f}"))
        verdicts.append((f"{ds_name}: trains >= 10x faster than MLP", mlp[2] >= 10 * stats[srnn][2],
                         f"{mlp[2] / stats[srnn][2]:.1f}x"))
        if ds_name in ("JapaneseVowels", "Watch"):
            mr = stats["MiniRocket (aeon)"][0]
            verdicts.append((f"{ds_name}: within 2 points of MiniRocket", stats[srnn][0] >= mr - 2,
                             f"{stats[srnn][0]:.2f} vs {mr:.2f}"))
    print("\ntarget".ljust(58) + "met   value")
    for text, ok, value in verdicts:
        print(f"{text:<57}{'yes' if ok else 'NO ':<6}{value}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--datasets", nargs="+", default=list(datasets.LOADERS), choices=list(datasets.LOADERS))
    args = p.parse_args(argv)
    all_rows = {name: run_dataset(name, range(args.seeds)) for name in args.datasets}
    summarise(all_rows)


if __name__ == "__main__":
    main()
