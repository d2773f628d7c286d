"""Spikes, event by event: the compiled simulator, its replications, time averages and transients."""

from .compiled import CompiledNetwork, RunningReplications, initial_states
from .stationary import SimulationResult, simulate
from .transient import TransientResult, simulate_transient

__all__ = ["simulate", "SimulationResult", "simulate_transient", "TransientResult", "CompiledNetwork",
           "RunningReplications", "initial_states"]
