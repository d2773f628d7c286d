"""
The paper's classifiers on four data sets
=========================================

Trains MLSRNN (digits) and MCSRNN (BasicMotions, JapaneseVowels, Watch) and prints their test accuracy
and training time.

Run it as a script (the data sets come with ``pip install ".[datasets]"``)::

    python examples/train_classifiers.py                 # all four data sets
    python examples/train_classifiers.py --dataset Watch
"""

import argparse
import time

import gelsim
from gelsim import datasets

# Settings picked by cross-validation on the training splits (see benchmarks/classifiers.py).
SETTINGS = {
    "digits": (gelsim.MLSRNNClassifier, dict(hidden=(200,), elm_hidden=1000)),
    "BasicMotions": (gelsim.MCSRNNClassifier, dict(hidden=(), elm_hidden=2000, ridge=1e-3)),
    "JapaneseVowels": (gelsim.MCSRNNClassifier, dict(hidden=(), elm_hidden=2000, ridge=1e-3)),
    "Watch": (gelsim.MCSRNNClassifier, dict(hidden=(50, 25), elm_hidden=2000)),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=[*SETTINGS, "all"], default="all")
    args = p.parse_args()
    for name in SETTINGS if args.dataset == "all" else [args.dataset]:
        ds = datasets.LOADERS[name]()
        model_cls, params = SETTINGS[name]
        start = time.perf_counter()
        clf = model_cls(random_state=0, **params).fit(ds.X_train, ds.y_train)
        train = time.perf_counter() - start
        print(f"{name:<15} {model_cls.__name__:<17} test accuracy {clf.score(ds.X_test, ds.y_test):.4f} "
              f"(trained in {train:.2f} s on {ds.X_train.shape[0]} instances)")


if __name__ == "__main__":
    main()
