"""Time-series classification the way the field compares classifiers: every set that installs with a package,
the default split plus stratified resamples, mean accuracy per set, mean rank over sets, and a
critical-difference plot.

Classifiers, run in the same process on the same splits:
  RocketSRNN        gelsim's RocketSRNNClassifier at its defaults
  RocketSRNN soft   the same with pooling="soft" (with --with-soft; not ranked: the defaults before #26's
                    sharp pooling, for comparison)
  MiniRocket        aeon's MiniRocketClassifier (MiniRocket + StandardScaler + RidgeClassifierCV)
  MultiRocketHydra  aeon's MultiRocketHydraClassifier   (needs torch: skipped, and said so, without it)
  Hydra             aeon's HydraClassifier              (likewise)

Data: aeon's shipped archive sets (no download) and seglearn's Watch. Resample 0 is the archive's own split;
resample k > 0 draws a stratified split of train + test with the archive's training size, seeded by k.
Unequal-length sets are passed as aeon returns them (lists of (channels, length_i) arrays) to classifiers
that take them; a classifier that refuses a set gets no score there (and the set leaves the ranks).

Targets (issue #26, 10 resamples): RocketSRNN's mean rank at least as good as MiniRocket's, its mean
accuracy on no set more than 1 point below MiniRocket's, training at most 1.5x MiniRocket's on every set
(median over resamples); against MultiRocket+Hydra, within 1 point on average.

Run:  pip install ".[bench]" && python benchmarks/tsc_bakeoff.py [--resamples 10] [--datasets GunPoint ...]
      [--plot cd.png]   (pip install torch for the Hydra-based classifiers)
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings

import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit

import gelsim

ARCHIVE = ["ACSF1", "ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand", "JapaneseVowels", "OSULeaf",
           "PickupGestureWiimoteZ"]
ALL_SETS = ARCHIVE + ["Watch"]


def classifiers(with_soft=False):
    """Name -> factory(seed), or a reason the classifier cannot run here."""
    from aeon.classification.convolution_based import (HydraClassifier, MiniRocketClassifier,
                                                       MultiRocketHydraClassifier)

    torch = importlib.util.find_spec("torch") is not None
    soft = {"RocketSRNN soft": lambda seed: gelsim.RocketSRNNClassifier(pooling="soft", random_state=seed)}
    return {
        "RocketSRNN": lambda seed: gelsim.RocketSRNNClassifier(random_state=seed),
        **(soft if with_soft else {}),
        "MiniRocket": lambda seed: MiniRocketClassifier(random_state=seed),
        "MultiRocketHydra": (lambda seed: MultiRocketHydraClassifier(random_state=seed)) if torch else
        "needs torch",
        "Hydra": (lambda seed: HydraClassifier(random_state=seed)) if torch else "needs torch",
    }


def load(name):
    """(X_train, y_train, X_test, y_test): arrays, or lists for unequal lengths."""
    if name == "Watch":
        ds = gelsim.datasets.load_watch()
        return ds.X_train, ds.y_train, ds.X_test, ds.y_test
    from aeon.datasets import load_classification

    X_train, y_train = load_classification(name, split="train")
    X_test, y_test = load_classification(name, split="test")
    return X_train, y_train, X_test, y_test


def splits(data, resamples):
    """(train X, train y, test X, test y) for resample 0 (the archive's split) and the stratified others."""
    X_train, y_train, X_test, y_test = data
    yield X_train, y_train, X_test, y_test
    X_all = list(X_train) + list(X_test)
    y_all = np.concatenate([y_train, y_test])
    for k in range(1, resamples):
        tr, te = next(StratifiedShuffleSplit(1, train_size=len(y_train), random_state=k).split(y_all, y_all))
        pick = (lambda rows: np.stack([X_all[i] for i in rows])) if not isinstance(X_train, list) else \
            (lambda rows: [X_all[i] for i in rows])
        yield pick(tr), y_all[tr], pick(te), y_all[te]


def run_set(name, resamples, models):
    """Per classifier: accuracies and fit seconds over the resamples (NaN where it could not run)."""
    data = load(name)
    scores = {label: ([], []) for label in models}
    for k, (Xtr, ytr, Xte, yte) in enumerate(splits(data, resamples)):
        for label, make in models.items():
            if isinstance(make, str):
                continue
            try:
                start = time.perf_counter()
                clf = make(k).fit(Xtr, ytr)
                seconds = time.perf_counter() - start
                accuracy = float(np.mean(clf.predict(Xte) == yte))
            except (ValueError, TypeError) as exc:   # e.g. a classifier that takes no unequal lengths
                if k == 0:
                    print(f"  {name}: {label} could not run ({type(exc).__name__}: {str(exc)[:80]})", flush=True)
                accuracy, seconds = float("nan"), float("nan")
            scores[label][0].append(accuracy)
            scores[label][1].append(seconds)
    return scores


def mean_ranks(table, labels):
    """Mean rank of each classifier over the sets where every classifier has a score (1 = best)."""
    rows = [[table[s][label] for label in labels] for s in table if all(np.isfinite(table[s][x]) for x in labels)]
    if not rows:
        return {label: float("nan") for label in labels}, 0
    from scipy.stats import rankdata

    ranks = np.array([rankdata(-np.array(row)) for row in rows])
    return dict(zip(labels, ranks.mean(axis=0))), len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resamples", type=int, default=10, help="default split + resamples - 1 (30 as the field)")
    parser.add_argument("--datasets", nargs="+", default=ALL_SETS)
    parser.add_argument("--plot", default=None, help="write a critical-difference plot to this PNG")
    parser.add_argument("--with-soft", action="store_true", help="add RocketSRNN with soft pooling (not ranked)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    models = classifiers(args.with_soft)
    runnable = [label for label, make in models.items() if not isinstance(make, str)]
    ranked = [label for label in runnable if label != "RocketSRNN soft"]
    for label, make in models.items():
        if isinstance(make, str):
            print(f"{label}: skipped ({make})")
    gelsim.RocketSRNNClassifier(n_kernels=84).fit(np.random.default_rng(0).normal(size=(8, 1, 20)),
                                                  [0, 1] * 4)   # Numba compiled before timing
    table, fit = {}, {}
    header = f"{'data set':<24}" + "".join(f"{label:>18}" for label in runnable) + f"{'fit / MiniRocket':>18}"
    print(f"{args.resamples} resample(s) per set: mean test accuracy (%), median fit seconds in brackets")
    print(header)
    print("-" * len(header))
    for name in args.datasets:
        scores = run_set(name, args.resamples, models)
        table[name] = {label: float(np.nanmean(scores[label][0])) if scores[label][0] else float("nan")
                       for label in runnable}
        fit[name] = {label: float(np.nanmedian(scores[label][1])) if scores[label][1] else float("nan")
                     for label in runnable}
        ratio = fit[name]["RocketSRNN"] / fit[name]["MiniRocket"]
        print(f"{name:<24}" + "".join(f"{100 * table[name][label]:>10.1f} ({fit[name][label]:>5.1f})"
                                      for label in runnable) + f"{ratio:>17.2f}x", flush=True)
    ranks, n_sets = mean_ranks(table, ranked)
    print(f"{'mean rank (' + str(n_sets) + ' sets)':<24}" + "".join(
        f"{ranks[label]:>18.2f}" if label in ranks else f"{'-':>18}" for label in runnable))
    if "MultiRocketHydra" in runnable:
        gaps = [100 * (table[s]["RocketSRNN"] - table[s]["MultiRocketHydra"]) for s in table]
        print(f"RocketSRNN against MultiRocketHydra: {np.nanmean(gaps):+.2f} points on average over the sets "
              f"both ran (aim: within 1 point)")
    worst = float(np.nanmin([100 * (table[s]["RocketSRNN"] - table[s]["MiniRocket"]) for s in table]))
    slow = float(np.nanmax([fit[s]["RocketSRNN"] / fit[s]["MiniRocket"] for s in fit]))
    print(f"targets: mean rank <= MiniRocket's: {'met' if ranks['RocketSRNN'] <= ranks['MiniRocket'] else 'NOT met'}; "
          f"no set more than 1 point below MiniRocket: {'met' if worst >= -1.0 else 'NOT met'} (worst {worst:+.1f}); "
          f"fit time <= 1.5x MiniRocket's: {'met' if slow <= 1.5 else 'NOT met'} (largest {slow:.2f}x)")
    if args.plot and len(ranked) < 3:
        print("critical-difference plot: needs 3 classifiers or more (install torch for the Hydra-based ones)")
    elif args.plot and n_sets >= 2:
        from aeon.visualisation import plot_critical_difference

        sets = [s for s in table if all(np.isfinite(table[s][x]) for x in ranked)]
        scores = np.array([[table[s][label] for label in ranked] for s in sets])
        fig, _ = plot_critical_difference(scores, ranked)
        fig.savefig(args.plot, bbox_inches="tight")
        print(f"critical-difference plot: {args.plot}")


if __name__ == "__main__":
    main()
