"""Classifiers run as spiking networks: each instance simulated until a sequential test decides its class.

One module per job: ``result`` (:class:`SampledOutputs`), ``plan`` (the checked options, one instance's
result), ``starts`` (the analytic start, relaxation times, what an empty start can still pull),
``sequential`` (looks and the test), ``readings`` (how a run's spikes become output estimates), ``driver``
(one instance, then many), ``cost`` (the forecast before a run) and ``mixin`` (what a classifier
inherits). A model's network itself, :class:`ModelNetwork`, is defined in :mod:`gelsim.steady` so that
the classifiers' maths can build it without importing this layer; it is re-exported here.
"""

from ..steady.model_network import ModelNetwork
from .cost import SamplingCost, forecast
from .driver import sample_instance, sample_outputs
from .mixin import SpikingClassifierMixin
from .plan import InstanceResult, SamplingPlan
from .result import SampledOutputs
from .starts import StartPull, relaxation_times, stationary_start

__all__ = ["SampledOutputs", "ModelNetwork", "SpikingClassifierMixin", "sample_outputs", "sample_instance",
           "SamplingPlan", "InstanceResult", "stationary_start", "relaxation_times",
           "StartPull", "SamplingCost", "forecast"]
