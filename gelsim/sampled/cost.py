"""What a sampled decision will cost, forecast before running it from the margins and flows of the
instance's analytic solution (a forecast only: nothing here enters a run or its decision)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .readings import _LinearTail, _reading_noise, _resolve_reading, _routes_to
from .sequential import COARSE_GROUPS, CORRELATION_MARGIN, LOOK_GROWTH, WINDOW_STOPS, _looks_left
from .starts import StartPull, _event_rate, _output_reach, _start_allowance

#: Share of the run an empty start's look reads (the window since ``WINDOW_STOPS`` stops back).
WINDOW_SHARE = 1.0 - LOOK_GROWTH ** -WINDOW_STOPS


@dataclass(frozen=True, repr=False)
class SamplingCost:
    """Forecast events of each instance's sampled decision, as a classifier's ``sampling_cost`` returns
    it (:func:`forecast`).

    Attributes
    ----------
    events : ndarray (n,)
        Events a decision is expected to take (``inf`` where the analytic outputs tie).
    noise_events : ndarray (n,)
        Events after which the margins alone would clear the noise: what the start adds is
        ``events - noise_events``.
    margins : ndarray (n,)
        The analytic lead of each instance's top output over its runner-up.
    max_events : float
        The budget compared against.
    start : str
    """

    events: np.ndarray
    noise_events: np.ndarray
    margins: np.ndarray
    max_events: float
    start: str

    @property
    def within_budget(self):
        """Instances whose forecast is within ``max_events``."""
        return self.events <= self.max_events

    def __repr__(self):
        over = int(np.sum(~self.within_budget))
        return (f"SamplingCost(n={self.events.size}, start={self.start!r}, median events "
                f"{np.median(self.events):.3g}, {over} over max_events={self.max_events:.3g})")


def forecast(model, inputs, solution, *, confidence=0.99, replications=32, start="empty", max_events=1e7,
             reading="auto", replication_events=2_000.0, horizons=None, batches=1):
    """:class:`SamplingCost` of the instances ``inputs`` (n, n_sources), whose Eq. (1) solutions over all
    cells ``solution(i)`` gives.

    Simulated cells are taken as M/M/1 queues at their analytic rates. The reading estimates the firing
    ``f_j`` of the cells it reads, each with variance ``v_j / T`` over a time ``T`` (``f_j`` for a spike
    count, a Poisson stream by Burke's theorem; ``2 r_j f_j / (r_j + rho_j)`` for an excited fraction), and
    each moves output ``k`` by ``s_jk`` per unit (:func:`~gelsim.sampled.readings._reading_noise`), so a
    margin read in ``R`` replications has variance ``sum_j (s_j,lead - s_j,k)^2 v_j / (T R)``. Only the cells
    read count: the noise of the spikes that feed them is already in their own. (The simulator advances
    time by each event's expected holding time, which in a network of a few cells reads with less variance
    than this; in a model's thousands of cells each cell's times are random again.) A decision needs its
    t-statistic at the critical value of a look's level (the error budget shared evenly over the looks from
    the first one a decision can come at to ``max_events``), and from an empty start also the lead to clear
    the start's pull (:class:`~gelsim.sampled.StartPull` at the analytic rates) over a window that is the last
    ``WINDOW_SHARE`` of the run. The smallest such run, on a grid of ``horizons`` (simulated times per
    replication; by default 80 from ``1e-2`` to ``1e9`` over the event rate), times the event rate and
    ``replications``, is the forecast; never less than the first look (``replications * replication_events``,
    and from an empty start the third stop, 2.25 times that).
    With ``batches`` above 1 (batch means, :func:`~gelsim.sampled.sequential._batch_t`) the variance is
    widened as the correlation bound widens it for uncorrelated batches, the critical value has the
    degrees of freedom of the long stretches, and where the run corrects for the start's exact pull
    (:meth:`~gelsim.sampled.StartPull.corrected_margin`) so does the forecast.

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> from gelsim.sampled import ModelNetwork, forecast
    >>> w = np.zeros((4, 4)); w[0, 2] = w[1, 3] = 0.5          # sources 0, 1 excite outputs 2, 3
    >>> model = ModelNetwork.from_sources(gelsim.Network(fire_rate=np.ones(4), w_exc=w), [0, 1], [1, 1], [2, 3])
    >>> X = np.array([[0.6, 0.4], [0.5, 0.45]])               # margins 0.1 and 0.025
    >>> cost = forecast(model, X, lambda i: model.solve(X[i]), reading="spikes", replications=8,
    ...                 replication_events=100, max_events=3e4)
    >>> bool(cost.events[1] > 10 * cost.events[0]), cost.within_budget.tolist()
    (True, [True, False])
    """
    reading, tail_cells, keep = _resolve_reading(model, reading, "forecast")
    net, out = model.network, model.output_cells
    reach = _output_reach(net, out)
    k = out.size
    first = replications * replication_events * (LOOK_GROWTH ** 2 if start == "empty" else 1.0)
    # The level of a look (sequential._look_level): the error budget shared evenly over the looks from the
    # first one a decision can come at to the budget.
    alpha = (1.0 - confidence) / _looks_left(first, max_events) / max(k - 1, 1)
    if batches > 1:
        pairs = (2 * batches - 1) * replications
        rho = CORRELATION_MARGIN / np.sqrt(pairs)
        widen = (1.0 + rho) / (1.0 - rho) if rho < 1 else np.inf
        crit = stats.t.ppf(1.0 - alpha, df=min(COARSE_GROUPS, 2 * batches) * replications - 1)
    else:
        widen, crit = 1.0, stats.t.ppf(1.0 - alpha, df=replications - 1)
    tail = _LinearTail(model, tail_cells, keep) if reading == "linear" else None
    routes = _routes_to(net, out) if reading == "inputs" else None
    n = inputs.shape[0]
    events, noise_events, margins = np.full(n, np.inf), np.full(n, np.inf), np.zeros(n)
    share = WINDOW_SHARE if start == "empty" else 1.0
    for i in range(n):
        u = inputs[i]
        q = np.asarray(solution(i), float).clip(0.0, 1.0)
        ext, ext_inh = model.ext_exc(u), model.ext_inh(u)
        outputs = q[out]
        order = np.argsort(outputs)
        lead = int(order[-1])
        margins[i] = float(outputs[lead] - outputs[order[-2]]) if k > 1 else 0.0
        rate = _event_rate(net.fire_rate[keep], q[keep], ext[keep], ext_inh[keep])
        if margins[i] <= 0 or rate <= 0:
            continue
        firing = net.fire_rate[keep] * q[keep]
        rivals = np.delete(np.arange(k), lead)
        sensitivity, noise = _reading_noise(model, reading, keep, q, ext, ext_inh, tail, routes)
        spread = sensitivity[:, [lead]] - sensitivity[:, rivals]
        variance = widen * (spread ** 2 * noise[:, None]).sum(axis=0)            # per rival, times T R
        gaps = outputs[lead] - outputs[rivals]
        grid = np.logspace(-2, 9, 80) / rate if horizons is None else np.asarray(horizons, float)
        pull = StartPull(model, keep, ext, ext_inh, reach) if start == "empty" else None
        # Whether the run would correct for the start's exact pull (readings linear at the analytic firing).
        linear = tail is not None and pull is not None and not tail.held(ext, firing).any()
        for horizon in grid:
            clear = gaps - crit * np.sqrt(variance / (share * horizon * replications))
            if np.any(clear <= 0):
                continue
            noise_events[i] = min(noise_events[i], replications * rate * horizon)
            if pull is not None:
                since = (1 - share) * horizon
                if batches > 1:
                    allowance = _start_allowance(pull, linear, firing, since, horizon)[0](lead)
                else:
                    allowance = pull.margin_allowance(pull.allowance(firing, since, horizon), lead)
                if np.any(allowance >= clear):
                    continue
            events[i] = replications * rate * horizon
            break
    events, noise_events = np.maximum(events, first), np.maximum(noise_events, first)
    return SamplingCost(events=events, noise_events=noise_events, margins=margins, max_events=float(max_events),
                        start=start)
