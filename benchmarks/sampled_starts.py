"""Where should a spiking run of a classifier start? An empty network against a *stream* (issue #24).

A stream runs the test instances one after another on one network, each starting where the previous one
ended, as spiking hardware would. An empty start reads every output low until its cells fill up: a pull
common to all outputs. A stream start has no such shortfall, but it starts from the previous instance's
state, which carries that instance's class.

For the digits ConvSRNN with the spiking readout, the first ``--instances`` test digits are run with
``--replications`` replications each. For every budget of events per simulated cell, the table prints, for
each start:
- the largest error of the outputs' run mean against Eq. (1)'s ``q`` (median over instances);
- the error of the leading margin (between the two classes with the largest analytic ``q``) as a fraction
  of that margin (median);
- how often the run's leading output is the analytic one.

The first instance of the stream only sets the stream going and is left out of both columns. The analytic
``q`` here is the yardstick of the experiment; no decision is taken.

Run:  python benchmarks/sampled_starts.py [--load-scale 0.5] [--instances 31] [--replications 8]
"""

from __future__ import annotations

import argparse

import numpy as np

import gelsim
from gelsim.simulation import CompiledNetwork

BUDGETS = (25, 50, 100, 200, 400)


def run(load_scale, instances, replications, seed=2026):
    ds = gelsim.datasets.load_digit_images()
    clf = gelsim.ConvSRNNClassifier(readout="spiking", load_scale=load_scale, random_state=0)
    clf.fit(ds.X_train, ds.y_train)
    nets = [clf.to_network(x) for x in ds.X_test[:instances]]
    n, k = nets[0].n_cells, clf.classes_.size
    outputs = np.arange(n - k, n)              # the output cells are the network's last n_classes
    exact = np.array([gelsim.solve(net).q[outputs] for net in nets])
    compiled = CompiledNetwork(clf.to_network())
    print(f"digits, ConvSRNN readout='spiking', load_scale={load_scale}: {n} cells; {instances - 1} test digits "
          f"after the first, {replications} replications", flush=True)
    root = np.random.SeedSequence(seed)
    readings = {start: {b: [] for b in BUDGETS} for start in ("empty", "stream")}
    for start, table in readings.items():
        state = np.zeros((replications, n), np.int64)
        for i, net in enumerate(nets):
            starts = state if start == "stream" else np.zeros((replications, n), np.int64)
            runs = compiled.start(net.ext_exc, starts, root.spawn(replications), ext_inh=net.ext_inh)
            horizon = 0.0
            for budget in BUDGETS:
                while runs.events < budget * n * replications:
                    horizon = 1.0 if horizon == 0 else 1.25 * horizon
                    busy, _ = compiled.extend(runs, horizon)
                table[budget].append(busy[:, outputs].mean(axis=0))
            state = np.concatenate([group.potentials() for group in runs.groups])
    print(f"{'events/cell':>11} {'start':>7} {'max |q - q*|':>13} {'margin error':>13} {'leader right':>13}")
    for budget in BUDGETS:
        for start, table in readings.items():
            errors, margin_errors, right = [], [], 0
            for i in range(1, instances):
                q, truth = table[budget][i], exact[i]
                second, first = np.argsort(truth)[-2:]
                margin = truth[first] - truth[second]
                margin_errors.append(abs((q[first] - q[second]) - margin) / margin)
                errors.append(np.abs(q - truth).max())
                right += int(np.argmax(q) == first)
            print(f"{budget:>11} {start:>7} {np.median(errors):>13.4f} {np.median(margin_errors):>13.2f} "
                  f"{right:>7}/{instances - 1}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--load-scale", type=float, default=0.5)
    p.add_argument("--instances", type=int, default=31)
    p.add_argument("--replications", type=int, default=8)
    args = p.parse_args()
    run(args.load_scale, args.instances, args.replications)


if __name__ == "__main__":
    main()
