"""The result of sampled inference: each instance's sampled outputs, decision and cost."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, repr=False)
class SampledOutputs:
    """Output-cell excitation estimated by simulating each instance's spiking network.

    Attributes
    ----------
    outputs, outputs_se : ndarray (n, n_classes)
        Mean over replications of the output cells' time-averaged excitation ``P(k > 0)``, and its
        standard error.
    analytic : ndarray (n, n_classes)
        The analytic outputs of the same instances (Eq. (1) on their networks).
    predictions : ndarray (n,)
        Class labels from the sampled outputs (the best guess where an instance is not decided).
    decided : ndarray of bool (n,)
        Whether the leading output beat every other at the requested confidence.
    events : ndarray of int (n,)
        Spiking events simulated per instance.
    replications : ndarray of int (n,)
        Replications simulated per instance.
    duration : ndarray (n,)
        Simulated time of each replication, per instance.
    confidence : float
        The level of the decisions.
    """

    outputs: np.ndarray
    outputs_se: np.ndarray
    analytic: np.ndarray
    predictions: np.ndarray
    decided: np.ndarray
    events: np.ndarray
    replications: np.ndarray
    duration: np.ndarray
    confidence: float = field(default=0.99)

    @property
    def agreement(self):
        """Fraction of instances whose sampled prediction (decided or not) equals the analytic one."""
        return float(np.mean(np.argmax(self.outputs, axis=1) == np.argmax(self.analytic, axis=1)))

    @property
    def resolved(self):
        """Instances whose analytic top-two output gap exceeds 4 standard errors of the sampled outputs.

        Only there can a run of this length be expected to reproduce the analytic prediction: a model whose
        class outputs differ by less than any affordable simulation resolves (the paper's pseudo-inverse
        readout with ``W̄2 / sum|W̄2|``, say) leaves most instances unresolved.
        """
        top = np.sort(self.analytic, axis=1)
        gap = top[:, -1] - top[:, -2]
        return gap > 4.0 * self.outputs_se.max(axis=1)

    @property
    def resolved_agreement(self):
        """Fraction of resolved instances whose sampled prediction equals the analytic one (NaN if none)."""
        same = np.argmax(self.outputs, axis=1) == np.argmax(self.analytic, axis=1)
        return float(np.mean(same[self.resolved])) if self.resolved.any() else float("nan")

    def __repr__(self):
        err = np.abs(self.outputs - self.analytic).max()
        return (f"SampledOutputs(n={self.outputs.shape[0]}, decided {int(self.decided.sum())}, agreement "
                f"{self.agreement:.3f}, median events {np.median(self.events):.3g}, max |sampled - analytic| "
                f"{err:.3g}, confidence={self.confidence})")
