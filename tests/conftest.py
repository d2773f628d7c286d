import os

import pytest
from hypothesis import HealthCheck, settings

import gelsim

# Property-based tests (tests/test_properties.py): a short search in the default run, a long one with
# HYPOTHESIS_PROFILE=slow. Fixed derandomised searches, so a run is repeatable on any machine.
settings.register_profile("default", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", max_examples=1000, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load from cache) the simulator kernels once, so test timings are honest."""
    net = gelsim.generators.line_tandem()
    gelsim.simulate(net, duration=1.0, replications=2, rng=0, record_spikes=[0])
    gelsim.simulate_transient(net, times=[0.5], replications=2, rng=0)
