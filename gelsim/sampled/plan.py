"""The checked options of sampled inference, as one frozen object, and one instance's result."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_positive_number

READINGS = ("auto", "spikes", "busy", "inputs", "linear")
STARTS = ("empty", "analytic")
REASONS = ("decided", "max_events", "not relaxed", "silent")


#: From an empty start: replications per instance, batches per stretch between stops (batch means within
#: each replication, so that the warm-up is paid a few times rather than once per replication), and the
#: events per cell in each replication at the first stop.
EMPTY_REPLICATIONS, EMPTY_BATCHES, EMPTY_FIRST_LOOK = 4, 32, 5.0


@dataclass(frozen=True)
class SamplingPlan:
    """How every instance of a ``sample_outputs`` call is run and decided (see the classifiers'
    ``sample_outputs`` for each field); build it with :meth:`check`, which validates and fills defaults.

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> from gelsim.sampled import ModelNetwork, SamplingPlan
    >>> net = gelsim.Network(fire_rate=[1.0, 1.0, 1.0], w_exc=np.zeros((3, 3)))
    >>> model = ModelNetwork.from_sources(net, [0], [1.0], [1, 2])
    >>> SamplingPlan.check(model, confidence=0.9).replication_events
    2000.0
    """

    confidence: float = 0.99
    max_events: float = 1e7
    replications: int = 4
    replication_events: float = 2_000.0
    duration: float | None = None
    reading: str = "auto"
    start: str = "empty"
    warmup_events: float = 0.0
    batches: int = 32

    @classmethod
    def check(cls, model_network, *, confidence=0.99, max_events=10**7, replications=None, replication_events=None,
              duration=None, reading="auto", start="empty", warmup_events=0.0, batches=None):
        """The plan of these arguments, each checked, with its parameter named in the error, and the
        defaults that depend on the model (first look, warm-up) filled in."""
        owner = "sample_outputs"
        confidence = check_positive_number(confidence, "confidence", owner)
        if not 0.5 <= confidence < 1.0:
            raise ValueError(f"The 'confidence' parameter of {owner} must be in [0.5, 1). Got {confidence!r}.")
        max_events = check_positive_number(max_events, "max_events", owner)
        if start == "stationary":
            warnings.warn("start='stationary' is now called start='analytic' (it draws each replication's "
                          "start from the product form of the instance's analytic solution); the default is "
                          "start='empty'.", FutureWarning, stacklevel=4)
            start = "analytic"
        if start not in STARTS:
            raise ValueError(f"The 'start' parameter of {owner} must be 'empty' or 'analytic'. "
                             f"Got {start!r} instead.")
        empty = start == "empty"
        if replications is None:
            replications = EMPTY_REPLICATIONS if empty else 32
        replications = check_int(replications, "replications", owner, minimum=2)
        if batches is None:
            batches = EMPTY_BATCHES if empty else 1
        batches = check_int(batches, "batches", owner, minimum=1)
        if replication_events is None:
            # The first look. From an empty start, EMPTY_FIRST_LOOK events per cell in each replication:
            # too early a look cannot clear the start's pull and spends part of the error budget. Chosen on
            # 100 training instances each of digits, the MNIST sample and JapaneseVowels (models at
            # load_scale=0.5): mean events per simulated cell 786 at 8, 756 at 6, 733 at 5 over the three.
            # From the analytic start, 3/4 (with looks growing by half, this put the median MNIST Conv-spk
            # decision at 8.1e5 events; one per cell, 1.08e6).
            per_cell = EMPTY_FIRST_LOOK if empty else 0.75
            replication_events = max(2_000.0, per_cell * model_network.network.n_cells)
        replication_events = check_positive_number(replication_events, "replication_events", owner)
        if duration is not None:
            duration = check_positive_number(duration, "duration", owner)
        if reading not in READINGS:
            raise ValueError(f"The 'reading' parameter of {owner} must be 'auto', 'spikes', 'busy', 'inputs' or "
                             f"'linear'. Got {reading!r} instead.")
        if warmup_events is None:
            warmup_events = 0.0
        elif warmup_events != 0:
            warmup_events = check_positive_number(warmup_events, "warmup_events", owner)
        if duration is None and warmup_events * replications >= 0.5 * max_events:
            raise ValueError(f"The 'warmup_events' parameter of {owner} must leave at least half of max_events "
                             f"to the readings: warmup_events * replications < max_events / 2. Got warmup_events="
                             f"{warmup_events:g} with replications={replications} and max_events={max_events:g}; "
                             f"raise max_events above {2 * warmup_events * replications:.3g} or shorten the "
                             f"warm-up.")
        return cls(confidence=confidence, max_events=max_events, replications=replications,
                   replication_events=replication_events, duration=duration, reading=reading, start=start,
                   warmup_events=float(warmup_events), batches=batches)


@dataclass(frozen=True)
class InstanceResult:
    """One instance's sampled decision: the outputs' mean over replications and its standard error,
    whether the test decided and why not (one of ``REASONS``), the events and replications spent, and the
    simulated time (per replication) of the window read."""

    outputs: np.ndarray
    outputs_se: np.ndarray
    decided: bool
    events: int
    replications: int
    duration: float
    reason: str = "decided"
