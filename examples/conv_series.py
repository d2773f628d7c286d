"""
Convolutional classifier on time series
=======================================

Accuracy, and what a pooling cell reads. Trains RocketSRNNClassifier on JapaneseVowels (aeon's copy;
``pip install ".[datasets]"``), prints its test accuracy beside the analytic outputs of one instance's
spiking network solved by Eq. (1), and plots, for the readout's three most influential features (weight x
spread), the excitation of every position cell along one series of two classes: the pooled feature is the
mean of each curve.

Run it as a script::

    python examples/conv_series.py [--out conv_series.png]
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import gelsim
from gelsim import datasets

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--out", default="conv_series.png")
args = p.parse_args()

ds = datasets.load_japanese_vowels()
start = time.perf_counter()
clf = gelsim.RocketSRNNClassifier(random_state=0).fit(ds.X_train, ds.y_train)
print(f"{ds!r}: {clf.n_features_out_} pooled features, trained in {time.perf_counter() - start:.2f} s, "
      f"ridge alpha {clf.alpha_:.3g}")
print(f"test accuracy {clf.score(ds.X_test, ds.y_test):.4f}")

net = clf.to_network(ds.X_test[0])
q = gelsim.solve(net).q[-clf.classes_.size:]
print(f"instance 0 as a network: {net}")
print(f"  Eq. (1) outputs {np.round(q, 4)}; max |difference| from the model's "
      f"{np.abs(q - clf.decision_outputs(ds.X_test[:1])[0]).max():.1e}")

# Influence of a feature: its largest readout weight times its spread on the training data; among the
# features whose cells cover every position (the padded kernels), the three most influential.
F = clf.pooled_features(ds.X_train)
influence = np.abs(clf.coef_).max(axis=1) * F.std(axis=0)
covers_all = np.array([clf.excitation_map(ds.X_train[0], f).size == ds.X_train.shape[2] for f in range(F.shape[1])])
top = np.argsort(-np.where(covers_all, influence, 0))[:3]
classes = clf.classes_[:2]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), constrained_layout=True)
for ax, feature in zip(axes, top):
    for label, colour in zip(classes, ("C0", "C3")):
        x = ds.X_test[np.flatnonzero(ds.y_test == label)[0]]
        qmap = clf.excitation_map(x, int(feature))
        ax.plot(qmap, color=colour, label=f"class {label}")
        ax.axhline(qmap.mean(), color=colour, ls="--", lw=1)
    j, k, b = clf.bank_.locate(int(feature))
    ax.set(title=f"feature {feature}: kernel {k}, dilation {clf.bank_.dilations[j]}, bias {b:.3g}",
           xlabel="kernel position", ylabel="position cell q")
    ax.title.set_fontsize(9)
axes[0].legend(fontsize=8)
fig.suptitle("Position cells' excitation along one series per class (dashed: the pooled feature)")
fig.savefig(args.out, dpi=110)
print(f"wrote {args.out}")
