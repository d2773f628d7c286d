"""
A digit decided from an empty network
=====================================

A convolutional classifier run as a spiking network, switched on empty: every cell starts unexcited and
nothing of the digit's analytic solution is used. ``sample_outputs`` runs 4 replications, read in
batches, until its sequential test decides; here one replication of the same network is run again with the output cells'
spikes recorded, to show what the decision watched: each output's firing rate so far, the leader pulling
away from the others, and the time at which the test decided. The model halves its position cells' load
(``load_scale=0.5``) so that they forget the empty start quickly enough.

Run it as a script::

    python examples/decided_from_rest.py --out decided_from_rest.png
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import gelsim
from gelsim.sampled.cost import WINDOW_SHARE


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="decided_from_rest.png")
    p.add_argument("--index", type=int, default=0, help="test digit to decide")
    args = p.parse_args()
    digits = gelsim.datasets.load_digit_images()
    clf = gelsim.ConvSRNNClassifier(readout="spiking", load_scale=0.5, random_state=0)
    clf.fit(digits.X_train, digits.y_train)
    x = digits.X_test[args.index]
    cost = clf.sampling_cost(x[None], max_events=3e7)
    so = clf.sample_outputs(x[None], max_events=3e7, rng=0, progress=False)
    print(f"true class {digits.y_test[args.index]}, analytic {clf.predict(x[None])[0]}, sampled "
          f"{so.predictions[0]} ({so.reasons[0]}, {so.events[0]:.3g} events; forecast {cost.events[0]:.3g})")
    # The last look read the window since the stop two back: the decision came at about this time.
    decided_at = so.duration[0] / WINDOW_SHARE
    net = clf.to_network(x)
    outputs = np.arange(net.n_cells - clf.classes_.size, net.n_cells)
    run = gelsim.simulate(net, duration=1.5 * decided_at, replications=1, warmup=0.0, record_spikes=outputs,
                          rng=1, progress=False)
    fig, (raster, rates) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=False,
                                        gridspec_kw=dict(height_ratios=[1, 1.4]))
    first = 0.02 * decided_at
    for k, cell in enumerate(outputs):
        times = run.spike_times[run.spike_cells == k]      # positions in record_spikes
        raster.eventplot(times[times < first], lineoffsets=k, linelengths=0.8, colors=f"C{k}")
        grid = np.linspace(decided_at / 50, 1.5 * decided_at, 300)
        rates.plot(grid, np.searchsorted(times, grid) / grid, color=f"C{k}", label=f"class {clf.classes_[k]}")
        rates.axhline(so.analytic[0, k], color=f"C{k}", lw=0.6, ls=":")
    raster.set_yticks(range(outputs.size))
    raster.set_yticklabels([f"class {c}" for c in clf.classes_], fontsize=7)
    raster.set_xlabel("time")
    raster.set_title(f"Output cells' spikes over the first {first:.0f} time units, from an empty network")
    rates.axvline(decided_at, color="k", ls="--", label="decided (4 replications)")
    rates.set_xlabel("time")
    rates.set_ylabel("output spikes per unit time so far")
    rates.set_title("Each output's firing rate so far in one replication (dotted: analytic q)")
    rates.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
