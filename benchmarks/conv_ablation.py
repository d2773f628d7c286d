"""What each design choice of the convolutional single-cell classifiers buys: a small ablation table.

Variants, each against the default (soft pooling, quantile biases, 2 x 2 regions for images, single cells):
  exact PPV      MiniRocket's hard fraction of positions above the bias (analytic only: no cell reads it)
  zero biases    every cell's bias (firing rate) near 0 instead of quantiles of training convolutions
  1 region       images pooled over the whole image instead of a 2 x 2 grid (series: not applicable)
  cluster cells  images: the paper's ReLU cluster (9) on each kernel position, no bias, pooled the same way
                 (analytic features from the cluster's closed form, read out by the same ridge)
Test accuracy %, mean ± sd over seeds, and median training seconds.

Run:  pip install ".[bench]" && python benchmarks/conv_ablation.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gelsim
from sklearn.linear_model import RidgeClassifierCV

from gelsim import datasets

#: MiniRocket's 84 kernels: the 3 taps of weight +2 among 9, in the order the classifiers use.
TAPS = np.array([(a, b, c) for a in range(9) for b in range(a + 1, 9) for c in range(b + 1, 9)])


def cluster_features(U, bank):
    """Pooled ReLU-cluster outputs ``min(1 / (1 + x+) + x-, 1)`` per (dilation, kernel) and region.

    ``x±`` are the kernel's positive and negative parts applied to the image, after the paper's
    normalisation ``W / sum|W| / 10`` (weights +2 on 3 taps, -1 on 6: ``sum|W| = 12``).
    """
    n, h, w = U.shape
    s = bank.stride
    ys, xs = np.arange(0, h, s), np.arange(0, w, s)
    feats = []
    for d in bank.dilations:
        P = np.pad(U, ((0, 0), (d, d), (d, d)))
        taps = np.stack([P[:, d + (t // 3 - 1) * d + ys[:, None], d + (t % 3 - 1) * d + xs[None, :]]
                         for t in range(9)], axis=1)                     # (n, 9, hs, ws)
        total = taps.sum(axis=1)
        for k in range(84):
            chosen = taps[:, TAPS[k]].sum(axis=1)
            x_exc, x_inh = 2 * chosen / 120, (total - chosen) / 120
            q = np.minimum(1 / (1 + x_exc) + x_inh, 1)
            for r0, r1 in zip(bank.row_edges[:-1], bank.row_edges[1:]):
                for c0, c1 in zip(bank.col_edges[:-1], bank.col_edges[1:]):
                    feats.append(q[:, r0:r1, c0:c1].mean(axis=(1, 2)))
    return np.stack(feats, axis=1)


def run_variant(ds, make, seed, cluster=False):
    start = time.perf_counter()
    clf = make(seed).fit(ds.X_train, ds.y_train)
    if cluster:
        # Same bank geometry, cluster cells instead: refit the readout on the cluster features.
        F = cluster_features(clf._scale(ds.X_train), clf.bank_)
        readout = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)).fit(F, ds.y_train)   # leave-one-out penalty
        train = time.perf_counter() - start
        return float(readout.score(cluster_features(clf._scale(ds.X_test), clf.bank_), ds.y_test)), train
    train = time.perf_counter() - start
    return float(clf.score(ds.X_test, ds.y_test)), train


def variants(image):
    cls = gelsim.ConvSRNNClassifier if image else gelsim.RocketSRNNClassifier
    out = [("default (soft, quantile)", lambda s: cls(random_state=s), False),
           ("exact PPV", lambda s: cls(pooling="exact", random_state=s), False),
           ("zero biases", lambda s: cls(bias_rule="zero", random_state=s), False)]
    if image:
        out += [("1 region", lambda s: cls(regions=(1, 1), random_state=s), False),
                ("cluster cells (9), no bias", lambda s: cls(random_state=s), True)]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--datasets", nargs="+", default=["JapaneseVowels", "Watch", "digits", "MNIST-5k"])
    args = p.parse_args(argv)
    rows = []
    for name in args.datasets:
        ds = datasets.load_digit_images() if name == "digits" else datasets.LOADERS[name]()
        image = name in ("digits", "MNIST-5k")
        variants(image)[0][1](0).fit(ds.X_train[:40], ds.y_train[:40])   # compile before timing
        for label, make, cluster in variants(image):
            runs = np.array([run_variant(ds, make, seed, cluster) for seed in range(args.seeds)])
            rows.append((name, label, 100 * runs[:, 0].mean(), 100 * runs[:, 0].std(), np.median(runs[:, 1])))
            print(f"{name:<16}{label:<30}{rows[-1][2]:7.2f} ± {rows[-1][3]:4.2f}{rows[-1][4]:9.2f} s", flush=True)
    print(f"\n{'data set':<16}{'variant':<30}{'accuracy %':>14}{'train s':>10}")
    for name, label, mean, sd, train in rows:
        print(f"{name:<16}{label:<30}{mean:8.2f} ± {sd:4.2f}{train:10.2f}")


if __name__ == "__main__":
    main()
