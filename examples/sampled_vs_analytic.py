"""
Sampled against analytic outputs
================================

How a trained MLSRNN, simulated spike by spike, converges to its analytic outputs as the simulated time
grows: the error of the sampled outputs, and how often the sampled class agrees with the analytic one.
Every replication starts from the product form of the instance's analytic solution (``start="analytic"``),
so the readings are unbiased at every length and only their noise shrinks; a network switched on empty
is shown in the example "A digit decided from an empty network".

Run it as a script::

    python examples/sampled_vs_analytic.py --out sampled_vs_analytic.png
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

import gelsim


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="sampled_vs_analytic.png")
    p.add_argument("--instances", type=int, default=10)
    args = p.parse_args()
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    clf = gelsim.MLSRNNClassifier(hidden=(), elm_hidden=20, ridge=1e-3, random_state=0).fit(X_train, y_train)
    print(f"analytic test accuracy {clf.score(X_test, y_test):.3f}")
    durations = np.logspace(2, 6, 5)
    errors, agree, resolved = [], [], []
    for i, T in enumerate(durations):
        res = clf.sample_outputs(X_test[:args.instances], duration=T, replications=8, start="analytic", rng=i)
        errors.append(np.abs(res.outputs - res.analytic).max())
        resolved.append(int(res.resolved.sum()))
        agree.append(float(np.mean(res.predictions == clf.predict(X_test[:args.instances]))))
        print(f"duration {T:9.0f}: max |sampled - analytic| {errors[-1]:.4f}, prediction agreement {agree[-1]:.2f}, "
              f"{resolved[-1]} resolved instances, {res.events.sum():.3g} events")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.loglog(durations, errors, "o-", label="max |sampled - analytic|")
    a.loglog(durations, errors[0] * (durations / durations[0]) ** -0.5, "k:", label="slope -1/2")
    a.set_xlabel("simulated time per replication")
    a.set_ylabel("output error")
    a.legend()
    b.semilogx(durations, agree, "s-", label="sampled prediction = analytic")
    b.set_ylim(0, 1.05)
    b.set_xlabel("simulated time per replication")
    b.set_ylabel("fraction of instances")
    b.legend()
    fig.suptitle("MLSRNN on iris: spiking network vs analytic model")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
