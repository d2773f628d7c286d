"""The steady state of Eq. (1): its solver, its gradients, the cell formulas, and a model's network with inputs.

``model_network`` holds :class:`gelsim.sampled.ModelNetwork` (documented and re-exported there), so that the
classifiers' maths can build it without importing the inference layer. Nothing here touches Numba or scikit-learn, so ``import gelsim`` (which loads this layer) stays fast.
"""

from . import cells
from .gradients import SaturationWarning, SteadyStateGradient, steady_state_vjp
from .solver import ConvergenceWarning, SteadyState, solve

__all__ = ["solve", "SteadyState", "ConvergenceWarning", "steady_state_vjp", "SteadyStateGradient",
           "SaturationWarning", "cells"]
