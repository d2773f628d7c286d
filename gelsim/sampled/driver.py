"""Sampled (spiking) inference for every classifier: simulate each instance's network until it decides.

A classifier that can be run as a spiking network supplies its network once, without its input
(:class:`ModelNetwork`); each instance only changes the external rates through which its input arrives,
so the network is compiled for the simulator once per model. Each instance is then simulated in
independent replications, by default started empty (every cell unexcited), so that nothing of the
instance's analytic solution enters the run, its planning (the event rate is measured as it goes) or its
decision. The replications are extended in stops whose simulated time grows by half (a stop adds events, it
sets nothing up again); at each look the outputs are read over the window since the stop three back, in
batches (by default 4 replications, 32 batches per stretch between stops), the leading output is compared
with every other by a one-sided t-test on the batch means of the leads
(:func:`~gelsim.sampled.sequential._batch_t`), and the instance is *decided* when the leader beats all of
them by more than the start could still be pulling the readings (:class:`~gelsim.sampled.starts.StartPull`,
judged from the run's own firing; for cells of steady input read linearly, their exact expected shortfall
is added back to each batch instead) and no lead is shrinking between the window's halves. With
``batches=1`` the test is a paired t-test on the replications' window averages. The test level is spent over
the looks (a Bonferroni alpha-spending bound: what is left of ``1 - confidence`` spread evenly over the looks
still to come before ``max_events``, the rest at the last), and within a look over the ``K - 1`` rivals of the
true leader, so the chance that an instance is ever decided for the wrong class is at most ``1 - confidence``
(under the normal approximation of the replication averages, and once the start's pull is cleared; checked in
the tests, including against a naive rule that a slow cell fools). ``start="analytic"`` draws each
replication from the product form of the instance's analytic solution instead, so that every reading is
unbiased from time 0 and the whole run is read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._checks import as_generator, check_n_jobs
from .._progress import Progress
from ..simulation import CompiledNetwork
from ..simulation._executors import TaskRunner
from .readings import _LinearTail, _linear_tail, _part, _read_outputs, _resolve_reading, _routes_to
from .result import SampledOutputs
from .sequential import WINDOW_STOPS, _batch_decide, _batch_t, _decide, _look_level, _next_look
from .plan import InstanceResult, SamplingPlan
from .starts import StartPull, _event_rate, _output_reach, _start_allowance, stationary_start


def sample_instance(compiled, model, u, q, seed, plan, *, spending=True, discard=True, routes=None, keep=None,
                    tail=None, reach=None):
    """Sequential decision for one instance (see the module docstring), run as the :class:`SamplingPlan`
    ``plan`` says (its ``reading`` already resolved, not ``"auto"``). Returns an :class:`InstanceResult`.

    ``replications`` independent replications run side by side and are extended at every stop, so a stop
    only adds events (nothing is set up again). The first stop comes after ``replication_events``
    events per replication, each later one multiplies the simulated time by ``LOOK_GROWTH``, and the last
    one is planned, from the event rate measured so far, to spend ``max_events``; the error budget is spent
    over the looks by :func:`_look_level`. From ``start="empty"`` each look reads the window from
    ``WINDOW_STOPS`` stops back (the first 30 % of the run is discarded, however long it has become), and a
    lead must clear the start's possible pull and not be shrinking between the window's halves
    (:func:`_decide`, or with ``plan.batches`` above 1 :func:`_batch_decide` on the window's batches, each
    stretch between stops read in that many); from ``start="analytic"`` (a draw from the product form of
    ``q``, the instance's Eq. (1) solution) every look reads the whole run. ``q`` is used for that draw only:
    an empty start needs nothing of the instance's solution (pass None).
    ``spending=False`` tests every look at the full level ``1 - confidence``: the naive rule, whose error
    rate grows with the number of looks; ``discard=False`` reads an empty start's every look from time 0,
    with no check of a shrinking lead: the naive rule, whose decisions lean towards what the start favours
    (both kept for the tests that show the difference). ``reach`` is :func:`_output_reach` of the
    model's network (computed here if not given) for the empty start's :class:`StartPull`. ``routes`` are
    :func:`_routes_to` of the outputs for ``reading="inputs"`` (computed here if not given), ``tail`` the
    model's :class:`_LinearTail` for ``reading="linear"``. ``compiled`` is the model's network or, with
    ``keep`` (cell indices), the part of it that is simulated (see :func:`_simulated_cells`).
    """
    reading, replications = plan.reading, plan.replications
    net = model.network
    ext, ext_inh = model.ext_exc(u), model.ext_inh(u)
    keep = np.arange(net.n_cells) if keep is None else keep
    sim = compiled.net
    out = model.output_cells
    honest = plan.start != "analytic"
    arrivals = float(ext[keep].sum())
    if arrivals <= 0.0:
        # No input and no external rate: nothing ever fires, every output is exactly 0, a tie no run breaks.
        return InstanceResult(outputs=np.zeros(out.size), outputs_se=np.zeros(out.size), decided=False, events=0,
                              replications=0, duration=0.0, reason="silent")
    # The budget is planned in expected events; planning it 5 Poisson standard deviations short keeps the
    # count within max_events but for rare fluctuations (spread measured: ~0.1 % at 3e5 events).
    budget = max(plan.max_events - 5.0 * np.sqrt(plan.max_events), 0.5 * plan.max_events)
    start_seq, event_seq = seed.spawn(2)
    if reading == "inputs" and routes is None:
        routes = _routes_to(net, out)
    if reading == "linear":
        if tail is None:
            tail = _LinearTail(model, _linear_tail(model), keep)
        read_tail = tail.solver(ext, ext_inh, None if honest else q)
    checked = honest and discard and plan.duration is None
    if honest:
        starts = np.zeros((replications, keep.size), np.int64)
        rate_guess = arrivals
        pull = StartPull(model, keep, ext, ext_inh, reach) if checked else None
    else:
        rate_guess = _event_rate(sim.fire_rate, q[keep], ext[keep], ext_inh[keep])
        starts = stationary_start(sim, q[keep], ext[keep], ext_inh[keep], budget / (replications * rate_guess),
                                  np.random.default_rng(start_seq), replications)
    # One state for all the replications (allocated once), run one after another, not interleaved: on
    # these networks (1e4 to 1e5 cells, many slow cells) the interleaved kernel was measured slower (MNIST
    # Conv-spk, whole sampled call: 4.2 against 4.8 M events/s; 2.2 against 4.3 before rate buckets).
    runs = compiled.start(ext[keep], starts, event_seq.spawn(replications), ext_inh=ext_inh[keep],
                          group_size=replications, interleave=False)
    read_busy = reading in ("busy", "linear")

    # Readings over every cell, the ones not simulated left at 0: one array, filled for each window read
    # (three per look; _read_outputs returns new arrays).
    every_cell = np.zeros((replications, net.n_cells)) if reading != "linear" else None

    def read(window, judged_by=None, capped=None):
        excited, firing = window
        if reading == "linear":
            return read_tail(excited, firing, judged_by, capped)
        every_cell[:, keep] = excited if reading == "busy" else firing
        busy, fires = (every_cell, None) if reading == "busy" else (None, every_cell)
        return _read_outputs(reading, net, out, busy, fires, ext, ext_inh, routes)

    origin = _Stop(0.0, None, None, 0)
    batched = plan.batches > 1 and plan.duration is None
    # With batch means every batch is read as it ends (a look's window is then a run of batches).
    batches = None
    if batched:
        batches = _Batches(read, (lambda firing: tail.held(ext, firing)) if reading == "linear" else None)
    correction = 0.0
    warm = origin
    if plan.warmup_events > 0:
        warm = _run_until(compiled, runs, read_busy, replications * plan.warmup_events,
                          replications * rate_guess, origin, batches)
    alpha, decided, held, last = 1.0 - plan.confidence, False, False, False
    left = alpha                     # the error budget not yet spent on looks
    if plan.duration is not None:
        # One look at a fixed length, read from the end of the warm-up: a study of convergence, not a decision
        # rule (nothing is discarded but the warm-up).
        stops, last = [_stop(compiled, runs, warm.time + plan.duration, read_busy)], True
    else:
        first = min(replications * plan.replication_events, budget - runs.events)
        stops = [_run_until(compiled, runs, read_busy, runs.events + max(first, 1.0), replications * rate_guess,
                            warm, batches)]
    obs = None
    while True:
        last = last or runs.events >= budget
        now = stops[-1]
        # From an empty start, read from WINDOW_STOPS stops back (and never before the warm-up ends).
        back = WINDOW_STOPS + 1
        begin = max(stops[-back] if checked and len(stops) >= back else warm, warm, key=lambda s: s.time)
        middle = stops[-2] if len(stops) >= 2 and stops[-2].time > begin.time else None
        if not checked or middle is not None or last:
            # A look: the window since `begin`, tested at this look's share of the error budget.
            window = _window(begin, now)
            level = _look_level(left, now.events, budget, last) if spending else alpha
            left -= level
            if batched:
                obs, lengths, split, linear = batches.between(begin.time, now.time,
                                                              middle.time if middle else None)
                allowance = None
                if checked:
                    exact = linear and pull.from_below
                    if exact and middle is not None and begin.time > 0:
                        obs, allowance = _detrend(obs, lengths, split, pull, window[1], begin.time, middle.time,
                                                  now.time)
                        correction = 0.0
                    else:
                        allowance, correction = _start_allowance(pull, exact, window[1], begin.time, now.time)
                _, decided, held = _batch_decide(obs, lengths, level, split if checked else None, allowance)
            else:
                obs = read(window)
                if checked and middle is not None:
                    halves = (read(_window(begin, middle)), read(_window(middle, now)))
                    outputs_pull = pull.allowance(window[1], begin.time, now.time)
                    _, decided, held = _decide(obs, level, *halves,
                                               allowance=lambda lead: pull.margin_allowance(outputs_pull, lead))
                else:
                    _, decided, held = _decide(obs, level)
        if decided or last:
            break
        # The next stop, at LOOK_GROWTH times the time, or (when that would reach the budget) the budget
        # itself, at the event rate of the last stretch (from an empty start the rate climbs as cells fill).
        before = stops[-2] if len(stops) >= 2 else warm
        rate = max(now.events - before.events, 1) / max(now.time - before.time, 1e-300)
        horizon, last = _next_look(now.time, now.time + max(budget - now.events, 0.0) / rate)
        if batched:
            # The stretch to the next stop in plan.batches equal batches.
            for end in np.linspace(now.time, horizon, plan.batches + 1)[1:-1]:
                _stop(compiled, runs, end, read_busy, batches)
        stops.append(_stop(compiled, runs, horizon, read_busy, batches))
    if batched:
        outputs, se, _ = _batch_t(obs, lengths)
        outputs = outputs + correction
    else:
        outputs, se = obs.mean(axis=0), obs.std(axis=0, ddof=1) / np.sqrt(replications)
    reason = "decided" if decided else ("not relaxed" if held else "max_events")
    return InstanceResult(outputs=outputs, outputs_se=se, decided=decided, events=runs.events,
                          replications=replications, duration=now.time - begin.time, reason=reason)


def _detrend(obs, lengths, split, pull, firing, since, middle, until):
    """Batch readings ``obs`` (batches x replications x K, of ``lengths``; the first ``split`` in
    ``(since, middle]``, the rest in ``(middle, until]``, read linearly in the simulated cells' firing)
    with each batch's own expected shortfall from the empty start added back, and what a lead must then
    clear (its rival's bound, a function of the leader's index). ``firing`` are the window's firing rates
    and ``pull`` its :class:`StartPull`, which must be one where every output reads low.

    The pull of the steady cells is exact over each half of the window; within a half it is spread as a
    power of time fitted through the two halves' averages (a decay, smooth at these times), so each batch
    gets its own share and the batches no longer trend upwards as the run forgets its start (a trend the
    batch means would count as noise). On 60 test digits (ConvSRNN, spiking readout, ``load_scale=0.5``)
    the median decided instance went from 1.21e6 to 1.01e6 events.
    """
    mean_firing = np.atleast_2d(firing).mean(axis=0)
    exact_first, bound_first = pull.shortfalls(mean_firing, since, middle)
    exact_second, bound_second = pull.shortfalls(mean_firing, middle, until)
    halves = np.stack([exact_first @ pull.reach, exact_second @ pull.reach])             # (2, K)
    bound = (bound_first * (middle - since) + bound_second * (until - middle)) / (until - since) @ pull.reach
    mids = np.array([since + middle, middle + until]) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = np.log(halves[0] / halves[1]) / np.log(mids[1] / mids[0])
    decay = np.nan_to_num(decay, nan=0.0, posinf=0.0, neginf=0.0).clip(0.0, 4.0)
    ends = since + np.cumsum(lengths)
    starts = ends - lengths
    half = (np.arange(lengths.size) >= split).astype(int)
    edges = np.array([[since, middle], [middle, until]])[half]                            # (batches, 2)
    share = (_power_mean(starts[:, None], ends[:, None], decay[None, :])
             / _power_mean(edges[:, :1], edges[:, 1:], decay[None, :]))                  # (batches, K)
    per_batch = halves[half] * share
    return obs + per_batch[:, None, :], (lambda lead: np.delete(bound, lead))


def _power_mean(a, b, power):
    """Mean of ``t ** -power`` over ``(a, b]`` (arrays broadcast; ``0 < a < b``)."""
    near_one = np.abs(1.0 - power) < 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        general = (b ** (1.0 - power) - a ** (1.0 - power)) / ((1.0 - power) * (b - a))
    return np.where(near_one, np.log(b / a) / (b - a), general)


@dataclass(frozen=True)
class _Stop:
    """The replications' time averages of excitation and firing (each None or (replications, cells)) over
    ``[0, time]``, and the events spent by then."""

    time: float
    excited: object
    firing: object
    events: int


def _stop(compiled, runs, horizon, read_busy, batches=None):
    """Extend ``runs`` to ``horizon`` and return the :class:`_Stop` there (recorded as the end of a batch
    in ``batches``, a :class:`_Batches`, if given)."""
    excited, firing = compiled.extend(runs, horizon, busy=read_busy)
    stop = _Stop(float(horizon), excited, firing, runs.events)
    if batches is not None:
        batches.add(stop)
    return stop


class _Batches:
    """Each replication's readings of the outputs over every stretch between consecutive stops, for batch
    means: ``read`` maps a window's (excited, firing) averages to readings (replications x K). For the
    ``"linear"`` reading, ``held`` maps firing rates (kept,) to the tail cells held at their rate; each
    stretch's choice of estimator per cell, and of the cells held, is made from the firing of the run
    before it, so that it does not depend on the stretch's own noise."""

    def __init__(self, read, held=None):
        self.read, self.held = read, held
        self.last = _Stop(0.0, None, None, 0)
        self.starts, self.ends, self.readings, self.linear = [], [], [], []

    def add(self, stop):
        if stop.time <= self.last.time:
            return
        window = _window(self.last, stop)
        if self.held is not None and self.last.time > 0:
            capped = self.held(self.last.firing.mean(axis=0))
            self.readings.append(self.read(window, judged_by=self.last.firing, capped=capped))
            self.linear.append(not capped.any())
        else:
            self.readings.append(self.read(window))
            self.linear.append(False)
        self.starts.append(self.last.time)
        self.ends.append(stop.time)
        self.last = stop

    def between(self, since, until, middle=None):
        """The batches within ``(since, until]``: readings (batches x replications x K), their lengths, the
        index of the first batch after ``middle`` (None if not given), and whether every one of them was
        read linearly (no tail cell held at its rate)."""
        starts, ends = np.array(self.starts), np.array(self.ends)
        tol = 1e-9 * until
        inside = np.flatnonzero((starts >= since - tol) & (ends <= until + tol))
        obs = np.stack([self.readings[i] for i in inside])
        split = None if middle is None else int(np.searchsorted(starts[inside], middle - tol))
        return obs, ends[inside] - starts[inside], split, all(self.linear[i] for i in inside)


def _run_until(compiled, runs, read_busy, events, rate, since, batches=None):
    """Extend ``runs`` from the :class:`_Stop` ``since`` until they have spent about ``events`` events (at
    least 90 % of them) and return the last :class:`_Stop`. Steps follow the event rate measured on the way
    (``rate`` per unit time, summed over replications, is the first guess; the first step takes an eighth of
    what it suggests, and no step more than triples the time, since an empty network's rate climbs as its
    cells fill)."""
    stop = since
    while True:
        step = max(events - runs.events, 0.0) / rate
        step = step / 8.0 if stop.time <= 0 else min(step, 3.0 * stop.time)
        before, stop = stop, _stop(compiled, runs, stop.time + step, read_busy, batches)
        if runs.events >= 0.9 * events:
            return stop
        spent = stop.events - before.events
        rate = spent / (stop.time - before.time) if spent > 0 else rate / 2.0


def _window(a, b):
    """Time averages over ``(a.time, b.time]`` from the :class:`_Stop` s ``a`` and ``b``: (excited, firing)."""
    if a.time <= 0:
        return b.excited, b.firing
    span = b.time - a.time

    def between(late, early):
        # (late b.time - early a.time) / span, with one temporary (a window is read for every batch).
        window = late * (b.time / span)
        window -= early * (a.time / span)
        return window
    return tuple(None if late is None else between(late, early)
                 for late, early in ((b.excited, a.excited), (b.firing, a.firing)))


def sample_outputs(model_network, inputs, solution, analytic, classes, *, rng=None, n_jobs=None, executor=None,
                   progress=None, **options):
    """Simulate every instance and return :class:`SampledOutputs`.

    ``inputs`` (n, n_sources) are the instances' scaled source values, ``solution(i)`` gives instance
    ``i``'s Eq. (1) solution over all cells (called for ``start="analytic"`` only) and ``analytic``
    (n, n_classes) its analytic outputs, against which the result's ``agreement`` is measured (they play no
    part in the runs). ``options`` are :meth:`SamplingPlan.check`'s (``confidence``, ``max_events`` ...);
    see the classifiers' ``sample_outputs`` for them and for the other parameters.
    """
    plan = SamplingPlan.check(model_network, **options)
    # The tail is found once here and handed on (on a 2e5-cell network it is a few sparse products).
    reading, tail_cells, keep = _resolve_reading(model_network, plan.reading)
    net = model_network.network
    compiled = CompiledNetwork(net if keep.size == net.n_cells else _part(net, keep))
    # Shared by every instance: the network, hence the routes into the outputs, is the same.
    routes = _routes_to(net, model_network.output_cells) if reading == "inputs" else None
    tail = _LinearTail(model_network, tail_cells, keep) if reading == "linear" else None
    n = inputs.shape[0]
    if plan.start != "analytic":
        solution = None          # nothing of an instance's analytic solution reaches an empty start's run
    seeds = np.random.SeedSequence(as_generator(rng).integers(0, 2**63)).spawn(n)

    plan = replace(plan, reading=reading)
    reach = _output_reach(net, model_network.output_cells) if plan.start == "empty" else None
    job = _Job(compiled, model_network, inputs, solution, seeds, plan, routes, keep, tail, reach)
    bar = Progress(n, "sampled inference", enabled=progress)
    done_events = [0]

    def report(i, part):
        done_events[0] += part.events
        bar.update(i + 1, f"{i + 1}/{n} instances, {done_events[0]:.3g} events")

    try:
        with TaskRunner(executor, workers=check_n_jobs(n_jobs, "sample_outputs"), owner="sample_outputs") as runner:
            parts = runner.map(_sample_task, runner.share(job), range(n), on_result=report)
    finally:
        bar.close()
    outputs = np.array([p.outputs for p in parts])
    return SampledOutputs(outputs=outputs, outputs_se=np.array([p.outputs_se for p in parts]),
                          analytic=analytic, predictions=np.asarray(classes)[np.argmax(outputs, axis=1)],
                          decided=np.array([p.decided for p in parts]),
                          events=np.array([p.events for p in parts], np.int64),
                          replications=np.array([p.replications for p in parts], np.int64),
                          duration=np.array([p.duration for p in parts]),
                          reasons=np.array([p.reason for p in parts], dtype=object), confidence=plan.confidence,
                          start=plan.start)


@dataclass(frozen=True)
class _Job:
    """What every instance of one ``sample_outputs`` call shares (sent to Dask workers once)."""

    compiled: object
    model: object
    inputs: np.ndarray
    solution: object
    seeds: list
    plan: SamplingPlan
    routes: object
    keep: np.ndarray
    tail: object
    reach: object


def _sample_task(job, i):
    """Instance ``i`` of a ``sample_outputs`` job (module-level, one task per instance)."""
    q = None if job.solution is None else job.solution(i)
    return sample_instance(job.compiled, job.model, job.inputs[i], q, job.seeds[i], job.plan,
                           routes=job.routes, keep=job.keep, tail=job.tail, reach=job.reach)
