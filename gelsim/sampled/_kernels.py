"""Compiled kernels of sampled inference: arrays in, arrays out (the callers check their arguments)."""

from __future__ import annotations

import numpy as np
from numba import njit

#: A mode that has decayed by exp(-FORGOTTEN) at the window's start adds nothing there that a double can
#: hold next to the queue's rate (exp(-50) is 2e-22), so it and every faster one are skipped: a queue whose
#: slowest mode is past it gives 0.
FORGOTTEN = 50.0


@njit(cache=True, nogil=True)
def queue_shortfall_means(lam, mu, since, until, nodes):
    """Gauss-Chebyshev quadrature on ``nodes`` points of each queue's mean shortfall over ``(since,
    until]`` (see :func:`~gelsim.sampled.starts.empty_queue_shortfall`), one queue per entry of ``lam``
    and ``mu``, in one pass without temporaries; queues already relaxed at ``since`` give 0."""
    out = np.zeros(lam.size)
    span = until - since
    step = np.pi / nodes
    cos_theta = np.cos((np.arange(nodes) + 0.5) * step)
    sin2_theta = 1.0 - cos_theta ** 2
    for i in range(lam.size):
        root_lam, root_mu = np.sqrt(lam[i]), np.sqrt(mu[i])
        a, b = (root_mu - root_lam) ** 2, (root_mu + root_lam) ** 2
        middle, half = (a + b) / 2.0, (b - a) / 2.0
        total = 0.0
        # From the spectrum's low end up: past the first node that has decayed by FORGOTTEN at ``since``
        # none adds anything.
        for j in range(nodes - 1, -1, -1):
            x = middle + half * cos_theta[j]
            if x * since > FORGOTTEN:
                break
            late = np.exp(-x * until) if x * until < 745.0 else 0.0
            weight = half * half * sin2_theta[j] / (2.0 * np.pi * mu[i] * x)
            total += weight * (np.exp(-x * since) - late) / x
        out[i] = total * step / span
    return out
