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


#: From an empty start a look reads the run from this many stops back: the first ``LOOK_GROWTH ** -3``
#: (30 %) of it is left out, where the start pulls the readings most. Chosen on the last 100 training
#: instances of digits, the MNIST sample and JapaneseVowels (sampling-ready and convolutional models,
#: load 0.5): against 2 stops back (44 % left out), mean events per decision 1.68e6 -> 1.38e6
#: (digits MLSRNN), 4.04e6 -> 3.53e6 (MNIST MLSRNN), 1.14e7 -> 9.1e6 (JapaneseVowels MCSRNN),
#: 2.70e6 -> 2.38e6 (digits ConvSRNN), 6.54e6 -> 6.39e6 (JapaneseVowels RocketSRNN), none wrong.
WINDOW_STOPS = 3


def _next_look(now, last):
    """The simulated time of the look after one at ``now``: ``LOOK_GROWTH`` times it, or ``last`` (the time
    that spends the budget) when that comes first; and whether it is the last look."""
    horizon = min(LOOK_GROWTH * now, last)
    return horizon, horizon >= last * (1.0 - 1e-9)


def _looks_left(events, budget):
    """How many looks are still to come, this one included, when a run has spent ``events`` of ``budget``,
    if each look spends ``LOOK_GROWTH`` times the events of the one before (it runs that many times as
    long; from an empty start the event rate climbs as cells fill, so there are usually fewer). Only how
    the error budget is shared depends on this count, not the bound on it."""
    if events >= budget:
        return 1
    return 1 + int(np.ceil(np.log(budget / max(events, 1.0)) / np.log(LOOK_GROWTH) - 1e-9))


def _look_level(left, events, budget, last):
    """Test level of a look at ``events`` of ``budget``: what is ``left`` of the error budget, spread evenly
    over the looks still to come (:func:`_looks_left`), or all of it at the ``last`` look. Each level is a
    share of what is left, so the levels of any sequence of looks sum to at most the budget (a Bonferroni
    bound over the looks) however many there turn out to be.

    Even spending over the looks a run can reach suits a cost that varies by orders of magnitude between
    instances: a decision at the tenth look is tested at about the level of one at the first. The earlier
    rule (30 % of what was left at each look) gave the first look 0.3 of the budget but the tenth 0.012 and
    the sixteenth 0.001, which at confidence 0.99 and ten classes asked a t-statistic of 4.7 where 3.9 now
    does: about 1.5 times the events for the instances that decide late, which are the costly ones.
    """
    return left if last else left / _looks_left(events, budget)


def _batch_t(leads, lengths):
    """Mean, standard error and degrees of freedom of each column of ``leads`` (batches x replications x
    rivals), batch ``b`` of every replication covering simulated time ``lengths[b]``, by replicated batch
    means.

    A batch's average over time ``l`` has variance ``s2 / l`` (``s2`` per unit time, estimated from the
    batches weighted by their lengths), so the mean over all of them ``s2 / sum(l)``, when batches are
    uncorrelated. Within a replication consecutive batches are not quite: a slow cell's excess carries
    over. That inflates the variance of the mean by about ``(1 + rho) / (1 - rho)`` (an AR(1) sequence of
    lag-1 correlation ``rho``), and ``rho`` is estimated from the batches themselves and taken at its
    upper bound (2 standard errors above the estimate), so that correlated batches widen the error bars
    instead of shrinking them, and the degrees of freedom are cut by the same factor; at a bound of 1 or
    more the batches say nothing (infinite error). The same is done with batches merged in twos and fours
    (longer, so less correlated) and the narrowest error bar is kept, but never one narrower than that of
    ``COARSE_GROUPS`` long stretches per replication."""
    n_batches, n_reps = leads.shape[:2]
    total = lengths.sum() * n_reps
    mean = (lengths[:, None, None] * leads).sum(axis=(0, 1)) / total
    # Batches merged in twos and fours, where the merged ones are long enough to be less correlated: the
    # error bar of the level that gives the narrowest is taken (each level's own correlation bound and
    # degrees of freedom), and never narrower than that of the COARSE_GROUPS stretches below.
    se, df = None, None
    for merge in (1, 2, 4):
        if merge > 1 and n_batches // merge < COARSE_GROUPS:
            break
        level_leads, level_lengths = (leads, lengths) if merge == 1 else _grouped(leads, lengths, n_batches // merge)
        level_se, level_df = _inflated_se(level_leads, level_lengths, mean, total)
        if se is None:
            se, df = level_se, level_df
        else:
            narrower = level_se < se
            se, df = np.where(narrower, level_se, se), np.where(narrower, level_df, df)
    if n_batches <= COARSE_GROUPS:
        return mean, se, df
    # Many weak correlations add up where the lag-1 one is small (a slow cell's state under fast Poisson
    # noise), so the same means are also formed over COARSE_GROUPS long stretches of each replication,
    # and the wider of the two error bars is kept, with the fewer degrees of freedom.
    coarse, coarse_len = _grouped(leads, lengths, COARSE_GROUPS)
    n_coarse = coarse.shape[0] * n_reps
    spread = ((coarse - mean) ** 2 * coarse_len[:, None, None]).sum(axis=(0, 1)) / (n_coarse - 1)
    se_coarse = np.sqrt(spread / total)
    return mean, np.maximum(se, se_coarse), np.minimum(df, n_coarse - 1.0)


def _grouped(leads, lengths, n_groups):
    """``leads`` (batches x replications x columns) averaged over ``n_groups`` runs of consecutive batches
    of about equal total length (fewer where one batch is longer than a group's share), and the groups'
    lengths."""
    ends = np.cumsum(lengths)
    group = np.minimum((n_groups * (ends - 0.5 * lengths) / ends[-1]).astype(int), n_groups - 1)
    groups = np.unique(group)
    if groups.size == lengths.size:
        return leads, lengths
    group_len = np.array([lengths[group == g].sum() for g in groups])
    sums = np.stack([(lengths[group == g, None, None] * leads[group == g]).sum(axis=0) for g in groups])
    return sums / group_len[:, None, None], group_len


def _inflated_se(leads, lengths, mean, total):
    """Standard error of ``mean`` and degrees of freedom from the batches ``leads`` (of ``lengths``),
    widened by their lag-1 correlation bound (:func:`_correlation_inflation`)."""
    n = leads.shape[0] * leads.shape[1]
    scaled = (leads - mean) * np.sqrt(lengths)[:, None, None]     # deviations on the scale of unit time
    per_time = (scaled ** 2).sum(axis=(0, 1)) / (n - 1)
    inflation = _correlation_inflation(scaled)
    # Correlated batches also carry fewer degrees of freedom: as many as independent ones would for the
    # same precision (at least 1).
    return np.sqrt(per_time * inflation / total), np.maximum(n / inflation - 1.0, 1.0)


#: Stretches per replication over which :func:`_batch_t` checks the batches' error bar.
COARSE_GROUPS = 16


#: Standard errors above its estimate at which the batches' lag-1 correlation is taken (:func:`_batch_t`).
CORRELATION_MARGIN = 2.0


def _correlation_inflation(scaled):
    """``(1 + rho) / (1 - rho)`` per column of ``scaled`` (batches x replications x columns, deviations from
    the mean on the scale of unit time), ``rho`` the lag-1 correlation of consecutive batches within a
    replication, ``CORRELATION_MARGIN`` standard errors (``1 / sqrt(pairs)``) above its estimate and at
    least 0; infinite from a bound of 1 up."""
    n_batches, n_reps = scaled.shape[:2]
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (scaled[1:] * scaled[:-1]).sum(axis=(0, 1)) / (scaled ** 2).sum(axis=(0, 1))
        rho = np.nan_to_num(rho) + CORRELATION_MARGIN / np.sqrt(max((n_batches - 1) * n_reps, 1))
        rho = rho.clip(0.0, None)
        return np.where(rho < 1.0, (1.0 + rho) / (1.0 - rho), np.inf)


def _batch_decide(obs, lengths, alpha, split=None, allowance=None):
    """:func:`_decide` for batch readings: ``obs`` (batches x replications x K) over consecutive stretches
    of ``lengths`` simulated time each, tested by :func:`_batch_t`. ``split`` is the first batch of the
    window's later half, for the shrinking-lead check (no check if None); ``allowance`` as in :func:`_decide`."""
    weight = lengths[:, None, None]
    mean = (weight * obs).sum(axis=(0, 1)) / (weight.sum() * obs.shape[1])
    lead = int(np.argmax(mean))
    n, k = obs.shape[0] * obs.shape[1], obs.shape[2]
    if n < 3:
        return lead, False, False
    leads = obs[:, :, [lead]] - np.delete(obs, lead, axis=2)
    gap, se, df = _batch_t(leads, lengths)
    crit = stats.t.ppf(1.0 - alpha / (k - 1), df=df)              # per rival
    with np.errstate(divide="ignore", invalid="ignore"):
        clear = bool(np.all(np.where(se > 0, gap / se, 0.0) > crit))
        if not clear or (split is None and allowance is None):
            return lead, clear, False
        pulled = gap - (0.0 if allowance is None else allowance(lead))
        decided = bool(np.all(np.where(se > 0, pulled / se, 0.0) > crit))
        if decided and split is not None and 0 < split < obs.shape[0]:
            first_gap, first_se, _ = _batch_t(leads[:split], lengths[:split])
            second_gap, second_se, _ = _batch_t(leads[split:], lengths[split:])
            shrink = (first_gap - second_gap) / np.hypot(first_se, second_se)
            decided = bool(np.all(np.nan_to_num(shrink, nan=0.0) < DRIFT_GATE))
    return lead, decided, not decided
