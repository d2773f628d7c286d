import pytest

import gelsim


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load from cache) the simulator kernels once, so test timings are honest."""
    net = gelsim.generators.line_tandem()
    gelsim.simulate(net, duration=1.0, replications=2, rng=0, record_spikes=[0])
    gelsim.simulate_transient(net, times=[0.5], replications=2, rng=0)
