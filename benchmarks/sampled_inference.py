"""Sampled (spiking) inference against analytic inference, per data set and default classifier.

For each data set, the paper's classifier (MLSRNN on digits and MNIST, MCSRNN on the series) and the
convolutional one (ConvSRNN / RocketSRNN), with default settings and with ``readout="spiking"``
(rows ``MLSRNN-spk`` / ``MCSRNN-spk`` / ``Conv-spk`` / ``Rocket-spk``; their unconstrained counterpart is
the default row above; ``-fast``: the same at ``load_scale=0.5``, or ``--fast-load``, whose cells forget
an empty start quickly, and for MLSRNN / MCSRNN also without the autoencoder and with each ELM unit
listening to 8 inputs, whose margins a few spikes resolve, the ELM's activation scale chosen in ``fit``
(``hidden=(), elm_fan_in=8, elm_scale=[0.2, 1]``)), predict the first ``--instances`` test instances by
``sample_outputs(confidence=0.99, max_events=1e7)``. Printed per row: analytic and sampled accuracy,
agreement of sampled with analytic predictions, decided instances, median and 95th percentile of events
per instance, and the events per second of the whole sampled call (network build,
compilation and per-instance solves included) as a ratio to ``gelsim.simulate`` on the cells it simulates
for one instance (its network less the cells that the reading computes instead of simulating), 8
replications of 1.25e6 events each, the median of three runs (same process).
Targets (issue #11): agreement >= 99 %, median <= 1e6 and 95th percentile <= 1e7 events per instance,
sampled accuracy within 0.5 points of analytic, events/s >= 50 % of simulate's.

The first table starts every replication from the product form of the instance's analytic solution
(``start="analytic"``): over runs this short much of a decision rests on that draw. The second table runs
the spiking rows' first ``--empty-instances`` instances from the default start (``start="empty"``,
nothing taken from the analytic solution, ``--empty-max-events`` per instance): decided, decided wrongly,
why the others were not, events per decision (median, and the median of ``sampling_cost``'s forecast made
before the run) and per simulated cell, median and mean (issue #24's targets: >= 95 % decided, <= 1 %
wrong, a median of <= 100 events per simulated cell and <= 2e6 per decision; the median moves in steps of
the looks' growth, the mean does not).

Run:  pip install ".[bench]" && python benchmarks/sampled_inference.py [--instances 100] [--datasets digits]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gelsim
from gelsim import datasets

#: The paper's models made ready for sampling: no autoencoder, each ELM unit listening to 8 inputs, and
#: the ELM's activation scale chosen in ``fit`` between the paper's 0.2 and 1 (at 1 JapaneseVowels decides
#: more and cheaper, while the images lose 1 to 2 points; cross-validation on the training data tells them
#: apart).
SAMPLING_READY = dict(hidden=(), elm_fan_in=8, elm_scale=[0.2, 1.0])
IMAGES = {"digits": gelsim.datasets.load_digit_images, "MNIST-5k": gelsim.datasets.load_mnist_sample}


def models(name, fast_load=0.5):
    """(row name, fitted-model factory, data set) for the paper's and the convolutional classifier; the
    ``-fast`` rows at ``load_scale=fast_load``."""
    if name in IMAGES:
        images = IMAGES[name]()
        flat = datasets.Dataset.from_arrays(name, images.X_train.reshape(len(images.X_train), -1), images.y_train,
                                            images.X_test.reshape(len(images.X_test), -1), images.y_test)
        return [("MLSRNN", lambda: gelsim.MLSRNNClassifier(random_state=0), flat),
                ("MLSRNN-spk", lambda: gelsim.MLSRNNClassifier(readout="spiking", random_state=0), flat),
                ("MLSRNN-fast", lambda: gelsim.MLSRNNClassifier(readout="spiking", **SAMPLING_READY,
                                                                load_scale=fast_load, random_state=0), flat),
                ("ConvSRNN", lambda: gelsim.ConvSRNNClassifier(random_state=0), images),
                ("Conv-spk", lambda: gelsim.ConvSRNNClassifier(readout="spiking", random_state=0), images),
                ("Conv-fast", lambda: gelsim.ConvSRNNClassifier(readout="spiking", load_scale=fast_load,
                                                                random_state=0), images)]
    ds = datasets.LOADERS[name]()
    return [("MCSRNN", lambda: gelsim.MCSRNNClassifier(random_state=0), ds),
            ("MCSRNN-spk", lambda: gelsim.MCSRNNClassifier(readout="spiking", random_state=0), ds),
            ("MCSRNN-fast", lambda: gelsim.MCSRNNClassifier(readout="spiking", **SAMPLING_READY, load_scale=fast_load,
                                                            random_state=0), ds),
            ("RocketSRNN", lambda: gelsim.RocketSRNNClassifier(random_state=0), ds),
            ("Rocket-spk", lambda: gelsim.RocketSRNNClassifier(readout="spiking", random_state=0), ds),
            ("Rocket-fast", lambda: gelsim.RocketSRNNClassifier(readout="spiking", load_scale=fast_load,
                                                                random_state=0), ds)]


def simulate_rate(clf, x, events):
    """Events per second of gelsim.simulate on the cells that sampled inference simulates for instance
    ``x`` (its network, less the cells that the default reading computes instead), for about ``events``
    events: the median of three runs."""
    net = clf.sampled_network(x)
    q = gelsim.solve(net).q
    rate = float(net.ext_exc.sum() + net.ext_inh.sum() + net.fire_rate @ q)
    gelsim.simulate(net, duration=1e3 / rate, replications=2, rng=0, progress=False)   # compile
    # The median of three runs: on a shared machine one run's rate varies by a fifth or more.
    rates = []
    for seed in (1, 2, 3):
        res = gelsim.simulate(net, duration=events / 8 / rate, replications=8, rng=seed, progress=False)
        rates.append(res.events / res.wall_time)
    return float(np.median(rates))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, default=500)
    p.add_argument("--max-events", type=float, default=1e7)
    p.add_argument("--datasets", nargs="+", default=["digits", "MNIST-5k", "JapaneseVowels", "Watch"])
    p.add_argument("--max-cells", type=int, default=300_000,
                   help="skip models whose network is larger (the time-series RocketSRNN has 2e5 to 1e6 cells)")
    p.add_argument("--models", nargs="+", default=None, help="only these rows (e.g. Conv-spk Rocket-spk)")
    p.add_argument("--empty-instances", type=int, default=20,
                   help="instances of each spiking row run from the default empty start (0: skip)")
    p.add_argument("--empty-max-events", type=float, default=3e7)
    p.add_argument("--empty-only", action="store_true",
                   help="only the table from the default empty start (skip the analytic-start table)")
    p.add_argument("--fast-load", type=float, default=0.5, help="load_scale of the -fast rows")
    args = p.parse_args(argv)
    rows, empty_rows = [], []
    test_accuracy = {}   # (data set, model) -> analytic accuracy on the whole test set
    for name in args.datasets:
        for label, make, ds in models(name, args.fast_load):
            if args.models and label not in args.models:
                continue
            clf = make().fit(ds.X_train, ds.y_train)
            test_accuracy[name, label] = 100 * clf.score(ds.X_test, ds.y_test)
            X, y = ds.X_test[:args.instances], ds.y_test[:args.instances]
            n_cells = clf.to_network(X[0]).n_cells
            if n_cells > args.max_cells:
                print(f"{name:<15}{label:<11}{n_cells:>9} cells  skipped (more than --max-cells)", flush=True)
                continue
            if args.empty_only:
                if label.endswith(("-spk", "-fast")):
                    empty_rows.append(_empty_row(clf, name, label, X, y, args))
                continue
            start = time.perf_counter()
            so = clf.sample_outputs(X, confidence=0.99, max_events=args.max_events, start="analytic", rng=0)
            seconds = time.perf_counter() - start
            sim_rate = simulate_rate(clf, X[0], 1e7)   # long enough that setting up is no part of it
            row = dict(data=name, model=label, cells=n_cells, analytic=100 * np.mean(clf.predict(X) == y),
                       sampled=100 * np.mean(so.predictions == y), agreement=100 * so.agreement,
                       decided=100 * so.decided.mean(), median=np.median(so.events),
                       p95=np.quantile(so.events, 0.95), rate_ratio=so.events.sum() / seconds / sim_rate)
            rows.append(row)
            print(f"{name:<15}{label:<11}{n_cells:>9} cells  analytic {row['analytic']:6.2f}  sampled "
                  f"{row['sampled']:6.2f}  agree {row['agreement']:6.2f}  decided {row['decided']:6.2f}  "
                  f"events median {row['median']:.3g} p95 {row['p95']:.3g}  rate {row['rate_ratio']:.2f}x simulate "
                  f"({seconds:.0f} s)", flush=True)
            if label.endswith(("-spk", "-fast")) and args.empty_instances > 0:
                empty_rows.append(_empty_row(clf, name, label, X, y, args))
    if rows:
        _print_analytic_start(rows)
    if empty_rows:
        _print_empty_start(empty_rows, args)
    _print_accuracy(test_accuracy)


def _empty_row(clf, name, label, X, y, args):
    """One row of the empty-start table: ``X[:--empty-instances]`` decided from the default start."""
    X, y = X[:args.empty_instances], y[:args.empty_instances]
    start = time.perf_counter()
    cold = clf.sample_outputs(X, confidence=0.99, max_events=args.empty_max_events, rng=0)
    seconds = time.perf_counter() - start
    simulated = clf.sampled_network(X[0]).n_cells
    forecast = clf.sampling_cost(X, max_events=args.empty_max_events)
    decided = cold.events[cold.decided]
    reasons = ", ".join(f"{r} {int(np.sum(cold.reasons == r))}" for r in np.unique(cold.reasons))
    row = dict(data=name, model=label, n=len(cold.events), wrong=int(cold.wrong.sum()),
               agreement=100 * cold.agreement, reasons=reasons, decided=100 * cold.decided.mean(),
               median=np.median(decided) if decided.size else np.inf,
               per_cell=(np.median(decided) if decided.size else np.inf) / simulated,
               # The median moves in steps of the looks' growth (a decision falls at a look); the mean does not.
               mean_cell=(np.mean(decided) if decided.size else np.inf) / simulated,
               forecast=np.median(forecast.events), p95=np.quantile(decided, 0.95) if decided.size else np.inf,
               seconds=seconds, cells=simulated, median_all=np.median(cold.events),
               analytic=100 * np.mean(clf.predict(X) == y), sampled=100 * np.mean(cold.predictions == y))
    print(f"{name:<15}{label:<11} empty start: {row['n']} instances, decided {row['decided']:.1f} %, wrong "
          f"{row['wrong']}, agreement {row['agreement']:.1f} %, median {row['median']:.3g} events per decision "
          f"({row['per_cell']:.0f} per simulated cell, mean {row['mean_cell']:.0f}; "
          f"{row['median_all']:.3g} over all instances), {seconds:.0f} s",
          flush=True)
    return row


def _print_analytic_start(rows):
    print(f"\n{'data set':<15}{'model':<11}{'cells':>9}{'analytic %':>11}{'sampled %':>10}{'agree %':>9}"
          f"{'decided %':>10}{'median ev':>11}{'p95 ev':>10}{'rate/sim':>9}")
    for r in rows:
        print(f"{r['data']:<15}{r['model']:<11}{r['cells']:>9}{r['analytic']:>11.2f}{r['sampled']:>10.2f}"
              f"{r['agreement']:>9.2f}{r['decided']:>10.2f}{r['median']:>11.3g}{r['p95']:>10.3g}{r['rate_ratio']:>9.2f}")
    print("\ntargets: agreement >= 99 %, median <= 1e6 and p95 <= 1e7 events, |sampled - analytic| <= 0.5 points, "
          "rate >= 0.5x simulate")
    for r in rows:
        met = [r["agreement"] >= 99, r["median"] <= 1e6, r["p95"] <= 1e7, abs(r["sampled"] - r["analytic"]) <= 0.5,
               r["rate_ratio"] >= 0.5]
        print(f"{r['data']:<15}{r['model']:<11}" + "  ".join("yes" if m else "NO " for m in met))


def _print_empty_start(empty_rows, args):
    if empty_rows:
        print(f"\nfrom the default empty start (max_events {args.empty_max_events:.3g}); events per decision and per "
              f"simulated cell are over the decided instances"
              f"\n{'data set':<15}{'model':<12}{'cells':>7}{'n':>5}{'analytic %':>11}{'sampled %':>10}{'agree %':>8}"
              f"{'decided %':>10}{'wrong':>6}{'median ev':>10}{'forecast':>9}{'p95 ev':>9}{'ev/cell':>8}{'mean':>6}{'s':>6}"
              f"  undecided because")
        for r in empty_rows:
            print(f"{r['data']:<15}{r['model']:<12}{r['cells']:>7}{r['n']:>5}{r['analytic']:>11.2f}{r['sampled']:>10.2f}"
                  f"{r['agreement']:>8.2f}{r['decided']:>10.2f}{r['wrong']:>6}{r['median']:>10.3g}{r['forecast']:>9.3g}"
                  f"{r['p95']:>9.3g}{r['per_cell']:>8.0f}{r['mean_cell']:>6.0f}{r['seconds']:>6.0f}  {r['reasons']}")
        print("\ntargets (issue #24): agreement >= 99 %, decided >= 95 %, wrong <= 1 %, median <= 100 events per "
              "simulated cell and <= 2e6 (Watch: agreement >= 97 %, decided >= 80 %, no limit on events per decision)")
        for r in empty_rows:
            watch = r["data"] == "Watch"
            met = [r["agreement"] >= (97 if watch else 99), r["decided"] >= (80 if watch else 95),
                   r["wrong"] <= 0.01 * r["n"], r["per_cell"] <= 100 and (watch or r["median"] <= 2e6)]
            print(f"{r['data']:<15}{r['model']:<12}" + "  ".join(
                f"{what} {'yes' if m else 'NO'}" for what, m in zip(("agree", "decided", "wrong", "events"), met)))


def _print_accuracy(test_accuracy):
    print("\nanalytic accuracy on the whole test set, spiking-tuned against unconstrained readout (targets: the "
          "spiking readout within 0.5 points; issue #24, a sampling-ready model within 1 point)")
    for (name, label), acc in list(test_accuracy.items()):
        counterpart = {"Conv-spk": "ConvSRNN", "Rocket-spk": "RocketSRNN", "Conv-fast": "ConvSRNN",
                       "Rocket-fast": "RocketSRNN", "MLSRNN-spk": "MLSRNN", "MCSRNN-spk": "MCSRNN",
                       "MLSRNN-fast": "MLSRNN", "MCSRNN-fast": "MCSRNN"}.get(label)
        if counterpart is None:
            continue
        if (name, counterpart) not in test_accuracy:      # its row was not run: fit it for the accuracy alone
            _, make, ds = next(m for m in models(name) if m[0] == counterpart)
            test_accuracy[name, counterpart] = 100 * make().fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test)
        base = test_accuracy[name, counterpart]
        print(f"{name:<15}{label:<11}{acc:6.2f} against {base:6.2f}  within 0.5: {'yes' if base - acc <= 0.5 else 'NO'}"
              f", within 1: {'yes' if base - acc <= 1.0 else 'NO'}")


if __name__ == "__main__":
    main()
