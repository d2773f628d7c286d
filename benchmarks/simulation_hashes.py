"""Hashes of seeded simulations, to show that a refactoring leaves results bit for bit unchanged.

Every public way of simulating (simulate with recorded spikes, target_se, stationary starts and a process
pool; simulate_transient; CompiledNetwork.run; the interleaved kernel on 2x10^4 cells; sampled inference of
an MLSRNN) runs with fixed seeds, and the script prints a short SHA-256 of each result. Run it before and
after a change and compare the two outputs (they differ across Numba/NumPy versions only if the arithmetic
does).

Run:  python benchmarks/simulation_hashes.py > before.txt   (scikit-learn needed for the last case)
"""

import hashlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import gelsim
from gelsim.simulation import CompiledNetwork


def digest(*arrays):
    """First 16 hex digits of the SHA-256 of the arrays' bytes."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def main():
    out = {}
    nets = {"mm1": gelsim.generators.mm1(arrival=1.0, service=2.0),
            "rec200": gelsim.generators.random_recurrent(200, rng=3),
            "ff": gelsim.generators.feedforward([5, 10, 3], rng=2)}
    for name, nt in nets.items():
        r = gelsim.simulate(nt, duration=2e3, replications=5, rng=7, record_spikes=[0])
        out[f"simulate/{name}"] = digest(r.q, r.q_se, r.firing_rate, r.potential_hist, r.final_potential,
                                         np.array([r.events]), r.spike_times, r.per_replication_q)
        r = gelsim.simulate(nt, target_se=0.01, replications=4, rng=8)
        out[f"target_se/{name}"] = digest(r.q, r.q_se, np.array([r.events, r.duration]))
        r = gelsim.simulate(nt, duration=1e3, replications=3, rng=9, initial="stationary")
        out[f"stationary/{name}"] = digest(r.q, r.final_potential)
        with ProcessPoolExecutor(2) as ex:
            r = gelsim.simulate(nt, duration=2e3, replications=5, rng=7, executor=ex)
        out[f"process/{name}"] = digest(r.q, r.final_potential)
        t = gelsim.simulate_transient(nt, [0.5, 1.0, 5.0], replications=400, rng=3)
        out[f"transient/{name}"] = digest(t.q, t.mean_potential, t.potential_var)
        c = CompiledNetwork(nt)
        b, f, e = c.run(nt.ext_exc * 0.9, np.zeros((3, nt.n_cells), np.int64), np.random.SeedSequence(1).spawn(3), 500.0)
        out[f"compiled/{name}"] = digest(b, f, e)
    big = gelsim.generators.random_recurrent(20000, rng=4)
    r = gelsim.simulate(big, duration=20.0, replications=4, rng=5)
    out["pipelined/rec20000"] = digest(r.q, r.final_potential, np.array([r.events]))
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    clf = gelsim.MLSRNNClassifier.paper(random_state=0).fit(X, y)   # the settings the hashes were taken at
    so = clf.sample_outputs(X[:6], confidence=0.9, max_events=2 * 10**5, rng=0)
    out["sampled/mlsrnn"] = digest(so.outputs, so.events, so.predictions)
    for k, v in out.items():
        print(k, v)


if __name__ == "__main__":
    main()
