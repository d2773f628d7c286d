"""gelsim: Gelenbe's random neural network, solved exactly, simulated spike by spike, used for deep learning.

The analytic side (``Network``, ``solve``, ``cells``, ``generators``) imports eagerly and never touches
Numba; the simulator and the classifiers load on first use, so ``import gelsim`` stays fast.
"""

from importlib import import_module

from . import cells, generators
from .network import Network
from .solver import ConvergenceWarning, SteadyState, solve

__version__ = "0.1.0"

# Attribute -> module that defines it, imported on first access (PEP 562).
_LAZY = {
    "simulate": "gelsim.simulation",
    "simulate_transient": "gelsim.transient",
    "SimulationResult": "gelsim.simulation",
    "TransientResult": "gelsim.transient",
    "steady_state_vjp": "gelsim.gradients",
    "SteadyStateGradient": "gelsim.gradients",
    "conv": "gelsim.conv",
    "datasets": "gelsim.datasets",
    "validation": "gelsim.validation",
    "MLSRNNClassifier": "gelsim.mlsrnn",
    "MCSRNNClassifier": "gelsim.mlsrnn",
    "RocketSRNNClassifier": "gelsim.convsrnn",
    "ConvSRNNClassifier": "gelsim.convsrnn",
    "RecurrentRNNClassifier": "gelsim.recurrent",
    "SequenceRNNClassifier": "gelsim.sequence",
}

__all__ = ["Network", "SteadyState", "ConvergenceWarning", "solve", "cells", "generators", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if _LAZY[name].endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gelsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
