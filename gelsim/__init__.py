"""gelsim: Gelenbe's random neural network, solved exactly, simulated spike by spike, used for deep learning.

The analytic side (``Network``, ``solve``, ``cells``, ``conv``, ``generators``) imports eagerly and never touches
Numba; the simulator and the classifiers load on first use, so ``import gelsim`` stays fast.
"""

import sys
from importlib import import_module

from . import generators
from .learn import conv
from .network import Network
from .steady import ConvergenceWarning, SteadyState, cells, solve

# ``gelsim.cells`` and ``gelsim.conv`` stay importable by those names (``from gelsim.cells import phi``), as
# they were before the layers: the modules themselves live in ``steady`` and ``learn``.
sys.modules[f"{__name__}.cells"] = cells
sys.modules[f"{__name__}.conv"] = conv

__version__ = "0.1.0"

# Attribute -> module that defines it, imported on first access (PEP 562).
_LAZY = {
    "simulate": "gelsim.simulation",
    "simulate_transient": "gelsim.simulation",
    "SimulationResult": "gelsim.simulation",
    "TransientResult": "gelsim.simulation",
    "steady_state_vjp": "gelsim.steady",
    "SteadyStateGradient": "gelsim.steady",
    "datasets": "gelsim.datasets",
    "validation": "gelsim.validation",
    "MLSRNNClassifier": "gelsim.learn.mlsrnn",
    "MCSRNNClassifier": "gelsim.learn.mlsrnn",
    "RocketSRNNClassifier": "gelsim.learn.convsrnn",
    "ConvSRNNClassifier": "gelsim.learn.convsrnn",
    "RecurrentRNNClassifier": "gelsim.learn.recurrent",
    "SequenceRNNClassifier": "gelsim.learn.sequence",
}

__all__ = ["Network", "SteadyState", "ConvergenceWarning", "solve", "cells", "conv", "generators", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if _LAZY[name].endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gelsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
