"""The sequential test: looks of growing length, the error budget spent over them, and the decision at
each look (the leader against every rival by a one-sided paired t-test; after a start that knows nothing
of the answer, each lead must also clear the start's possible pull and not be shrinking)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def _paired_t(diff):
    """t-statistics of the columns of ``diff`` (replications x rivals) against 0; 0 where a column has no
    spread (identical readings are no evidence either way)."""
    n = diff.shape[0]
    mean = diff.mean(axis=0)
    se = diff.std(axis=0, ddof=1) / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, mean / se, 0.0)


def _decide(obs, alpha, first=None, second=None, allowance=None):
    """Leader, whether it beats every rival by a one-sided paired t-test at level ``alpha / (K - 1)``, and
    whether it would have without the start's checks below (the decision was held back by them).

    ``obs`` (replications x K) are the readings over the window tested. After a start that knows nothing
    of the answer, each lead must first clear its ``allowance`` (a function of the leader's index giving,
    per rival, how far the start can still pull that lead, :class:`~gelsim.sampled.starts.StartPull`),
    and no lead may shrink from ``first`` to ``second``, the
    readings over the window's earlier and later halves, at a t-statistic of ``DRIFT_GATE`` or more: a
    lead that shrinks is one the run has not finished forgetting its start in.
    """
    n, k = obs.shape
    mean = obs.mean(axis=0)
    lead = int(np.argmax(mean))
    if n < 2:
        return lead, False, False
    crit = stats.t.ppf(1.0 - alpha / (k - 1), df=n - 1)
    leads = obs[:, [lead]] - np.delete(obs, lead, axis=1)
    clear = bool(np.all(_paired_t(leads) > crit))
    if not clear or (first is None and allowance is None):
        return lead, clear, False
    decided = allowance is None or bool(np.all(_paired_t(leads - allowance(lead)) > crit))
    if decided and first is not None:
        lead_first = first[:, [lead]] - np.delete(first, lead, axis=1)
        lead_second = second[:, [lead]] - np.delete(second, lead, axis=1)
        decided = bool(np.all(_paired_t(lead_first - lead_second) < DRIFT_GATE))
    return lead, decided, not decided


#: No decision while the lead over any rival shrinks from the window's first half to its second at a
#: t-statistic of this or more, however large the lead: on JapaneseVowels (RocketSRNN) leads of t = 55
#: shrank at t = 12 and were wrong. On a run that has forgotten its start, a look is held back by it with
#: a chance of about 1 in 40 per rival (one-sided t at 2), which delays a decision by a look or two.
DRIFT_GATE = 2.0


#: Each look's simulated time is this many times the previous one's. A decision overshoots the events it
#: needs by at most this factor; more looks split the error budget further. Measured against doubling on
#: MNIST Conv-spk (200 instances): median events 1.08e6 -> 8.1e5, all calls agreeing with the analytic ones.
LOOK_GROWTH = 1.5


#: Share of the remaining error budget spent at each look but the last, which gets the rest.
LOOK_SPENDING = 0.3


def _next_look(now, last):
    """The simulated time of the look after one at ``now``: ``LOOK_GROWTH`` times it, or ``last`` (the time
    that spends the budget) when that comes first; and whether it is the last look."""
    horizon = min(LOOK_GROWTH * now, last)
    return horizon, horizon >= last * (1.0 - 1e-9)


def _look_level(index, alpha, last):
    """Test level of look ``index`` (from 0): ``LOOK_SPENDING`` of what is left of ``alpha``, or all of it
    at the ``last`` look, so that the levels of any sequence of looks sum to at most ``alpha`` (a
    Bonferroni bound over the looks) whether or not its length was known in advance."""
    left = alpha * (1.0 - LOOK_SPENDING) ** index
    return left if last else left * LOOK_SPENDING
