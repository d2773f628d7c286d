"""
Spike raster
============

The spikes of a small recurrent network over one replication; then each cell's analytic firing rate
beside the one simulated over a longer run.

Run it as a script::

    python examples/spike_raster.py --out raster.png
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import gelsim


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="raster.png")
    args = p.parse_args()
    net = gelsim.generators.random_recurrent(20, out_degree=4, rng=3)
    ss = gelsim.solve(net)
    cells = list(range(12))
    res = gelsim.simulate(net, duration=60, replications=2, record_spikes=cells, rng=1)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.eventplot([res.spike_times[res.spike_cells == i] for i in range(len(cells))], lineoffsets=cells,
                 linelengths=0.8)
    ax.set_yticks(cells)
    ax.set_yticklabels([f"cell {c}: q={ss.q[c]:.2f}" for c in cells], fontsize=7)
    ax.set_xlabel("time")
    ax.set_title("Spikes of a 20-cell random recurrent G-network")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    # The raster's 60 time units from an empty start are too short to measure rates; a longer run of 8
    # replications started from the stationary law gives them with honest error bars.
    long = gelsim.simulate(net, duration=2000, replications=8, initial="stationary", warmup=0.0, rng=2)
    for c in cells[:5]:
        print(f"cell {c}: analytic rate q r = {ss.firing_rate[c]:.3f}, simulated {long.firing_rate[c]:.3f} "
              f"± {long.firing_rate_se[c]:.3f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
