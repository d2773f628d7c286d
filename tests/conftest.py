import numpy as np
import pytest

import gelsim


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load from cache) the simulator kernels once, so test timings are honest."""
    net = gelsim.generators.line_tandem()
    gelsim.simulate(net, duration=1.0, replications=2, rng=0, record_spikes=[0])
    gelsim.simulate_transient(net, times=[0.5], replications=2, rng=0)


def geometric_chi2(hist_fractions, q, n_eff):
    """Pearson statistic of time fractions against the geometric law, with an effective sample size."""
    h = hist_fractions.size
    expected = (1 - q) * q ** np.arange(h - 1)
    expected = np.append(expected, q ** (h - 1))
    return n_eff * np.sum((hist_fractions - expected) ** 2 / expected), h - 1
