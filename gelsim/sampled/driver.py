"""Sampled (spiking) inference for every classifier: simulate each instance's network until it decides.

A classifier that can be run as a spiking network supplies its network once, without its input
(:class:`ModelNetwork`); each instance only changes the external rates through which its input arrives,
so the network is compiled for the simulator once per model. Each instance is then simulated in
independent replications, every one started from the product-form (stationary) law of its own analytic
solution, so that each replication's time-averaged output excitation is an unbiased estimate of the
analytic output whatever its length (``start="empty"`` starts every cell unexcited instead and skips a
warm-up). The replications are extended in looks whose simulated time grows by half (a look adds events,
it sets nothing up again); at each look the leading output is compared with every other by a one-sided
paired t-test on the replications' averages so far, and the instance is *decided* when the leader beats
all of them. The test level is spent over the planned looks (a Bonferroni alpha-spending bound: 30 % of
``1 - confidence`` at the first look, 30 % of what is left at each later one, the rest at the last), and
within a look over the ``K - 1`` rivals of the true leader, so the chance that an instance is ever
decided for the wrong class is at most ``1 - confidence`` (under the normal approximation of the
replication averages, checked in the tests). Most instances of a well-fitted model are easy, so the
spending favours the early looks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._checks import as_generator, check_n_jobs
from .._progress import Progress
from ..simulation import CompiledNetwork
from ..simulation._executors import TaskRunner
from .readings import (_LinearTail, _auto_reading, _linear_tail, _part, _read_outputs, _routes_to, _simulated_cells,
                       _tail_holds_outputs)
from .result import SampledOutputs
from .sequential import _decide, _horizons, _look_levels
from .plan import InstanceResult, SamplingPlan
from .starts import _check_warmup, _event_rate, stationary_start


def sample_instance(compiled, model, u, q, seed, plan, *, spending=True, routes=None, keep=None, tail=None):
    """Sequential decision for one instance (see the module docstring), run as the :class:`SamplingPlan`
    ``plan`` says (its ``reading`` already resolved, not ``"auto"``). Returns an :class:`InstanceResult`.

    ``replications`` independent replications run side by side and are extended at every look, so a look
    only adds events (nothing is set up again): the first look is at ``replication_events`` expected
    events per replication, each later one multiplies the simulated time by ``LOOK_GROWTH``, the last one
    spends ``max_events``; the error budget is spent over them by :func:`_look_levels`.
    ``spending=False`` tests every look at the full level ``1 - confidence``: the naive rule, whose error
    rate grows with the number of looks (kept for the tests that show the difference). ``routes`` are
    :func:`_routes_to` of the outputs for ``reading="inputs"`` (computed here if not given), ``tail`` the
    model's :class:`_LinearTail` for ``reading="linear"``. ``compiled`` is the model's network or, with
    ``keep`` (cell indices), the part of it that is simulated (see :func:`_simulated_cells`).
    ``start`` is ``"stationary"`` (:func:`stationary_start`) or ``"empty"`` (every potential 0); the first
    ``warmup_events`` expected events per replication are run and not read.
    """
    confidence, max_events, replications = plan.confidence, plan.max_events, plan.replications
    replication_events, duration, reading = plan.replication_events, plan.duration, plan.reading
    start, warmup_events = plan.start, plan.warmup_events
    net = model.network
    ext, ext_inh = model.ext_exc(u), model.ext_inh(u)
    keep = np.arange(net.n_cells) if keep is None else keep
    sim = compiled.net
    rate = _event_rate(sim.fire_rate, q[keep], ext[keep], ext_inh[keep])
    out = model.output_cells
    if rate <= 0.0:
        # A silent network (no input, no external rate): every output is exactly 0, a tie no run can break.
        return InstanceResult(outputs=np.zeros(out.size), outputs_se=np.zeros(out.size), decided=False, events=0,
                              replications=0, duration=0.0)
    warm = warmup_events / rate
    if duration is not None:
        windows = [float(duration)]
    else:
        # The budget is planned in expected events; planning it 5 Poisson standard deviations short keeps
        # the count within max_events but for rare fluctuations (spread measured: ~0.1 % at 3e5 events).
        # The first look never spends more than the budget (on a large network 3/4 of an event per cell
        # in each replication would).
        budget = max(max_events - 5.0 * np.sqrt(max_events), 0.5 * max_events) / (replications * rate) - warm
        windows = _horizons(min(replication_events / rate, budget), budget)
    looks = [warm + window for window in windows]
    alpha = 1.0 - confidence
    levels = _look_levels(len(looks), alpha) if spending else np.full(len(looks), alpha)
    start_seq, event_seq = seed.spawn(2)
    if reading == "inputs" and routes is None:
        routes = _routes_to(net, out)
    if reading == "linear":
        if tail is None:
            tail = _LinearTail(model, _linear_tail(model), keep)
        read_tail = tail.solver(ext, ext_inh, q)
    if start == "stationary":
        starts = stationary_start(sim, q[keep], ext[keep], ext_inh[keep], looks[-1],
                                  np.random.default_rng(start_seq), replications)
    else:
        starts = np.zeros((replications, keep.size), np.int64)
    # One state for all the replications (allocated once), run one after another, not interleaved: on
    # these networks (1e4 to 1e5 cells, many slow cells) the interleaved kernel was measured slower (MNIST
    # Conv-spk, whole sampled call: 4.2 against 4.8 M events/s; 2.2 against 4.3 before rate buckets).
    runs = compiled.start(ext[keep], starts, event_seq.spawn(replications), ext_inh=ext_inh[keep],
                          group_size=replications, interleave=False)
    # Busy fractions are kept only for the reading that uses them (each array is replications x cells).
    busy = np.zeros((replications, net.n_cells)) if reading == "busy" else None
    fires = np.zeros((replications, net.n_cells)) if reading != "linear" else None
    decided = False
    read_busy = reading in ("busy", "linear")
    warmed = compiled.extend(runs, warm, busy=read_busy) if warm > 0 else None
    for horizon, level in zip(looks, levels):
        excited, firing = _after_warmup(compiled.extend(runs, horizon, busy=read_busy), warmed, warm, horizon)
        if reading == "linear":
            obs = read_tail(excited, firing)
        else:
            if reading == "busy":
                busy[:, keep] = excited
            fires[:, keep] = firing
            obs = _read_outputs(reading, net, out, busy, fires, ext, ext_inh, routes)
        decided = _decide(obs, level)[1]
        if decided:
            break
    se = obs.std(axis=0, ddof=1) / np.sqrt(replications)
    return InstanceResult(outputs=obs.mean(axis=0), outputs_se=se, decided=decided, events=runs.events,
                          replications=replications, duration=horizon - warm)


def _after_warmup(now, warmed, warm, horizon):
    """Time averages over ``(warm, horizon]`` from those over ``[0, horizon]`` (``now``) and over
    ``[0, warm]`` (``warmed``, None when there is no warm-up); each is a (busy, fires) pair."""
    if warmed is None:
        return now
    return tuple(None if a is None else (a * horizon - b * warm) / (horizon - warm) for a, b in zip(now, warmed))


def sample_outputs(model_network, inputs, solution, analytic, classes, *, rng=None, n_jobs=None, executor=None,
                   progress=None, **options):
    """Simulate every instance and return :class:`SampledOutputs`.

    ``inputs`` (n, n_sources) are the instances' scaled source values, ``solution(i)`` gives instance
    ``i``'s Eq. (1) solution over all cells (for the stationary starts) and ``analytic`` (n, n_classes)
    its analytic outputs. ``options`` are :meth:`SamplingPlan.check`'s (``confidence``, ``max_events`` ...);
    see the classifiers' ``sample_outputs`` for them and for the other parameters.
    """
    plan = SamplingPlan.check(model_network, **options)
    # The tail is found once here and handed on (on a 2e5-cell network it is a few sparse products).
    reading = plan.reading
    tail_cells = _linear_tail(model_network) if reading in ("auto", "linear") else None
    if reading == "auto":
        reading = _auto_reading(model_network, tail_cells)
    elif reading == "linear" and not _tail_holds_outputs(model_network, tail_cells):
        raise ValueError("The 'reading' parameter of sample_outputs can be 'linear' only when no output cell "
                         "receives inhibition or instance input, or sends spikes to a cell that does. Got "
                         "'linear' for a network whose outputs do not qualify; use 'inputs', 'spikes' or 'busy'.")
    keep = _simulated_cells(model_network, reading, tail_cells)
    net = model_network.network
    compiled = CompiledNetwork(net if keep.size == net.n_cells else _part(net, keep))
    # Shared by every instance: the network, hence the routes into the outputs, is the same.
    routes = _routes_to(net, model_network.output_cells) if reading == "inputs" else None
    tail = _LinearTail(model_network, tail_cells, keep) if reading == "linear" else None
    n = inputs.shape[0]
    if plan.start == "empty" and n > 0:
        _check_warmup(model_network, keep, inputs[:3], solution, plan.warmup_events)
    seeds = np.random.SeedSequence(as_generator(rng).integers(0, 2**63)).spawn(n)

    plan = replace(plan, reading=reading)
    job = _Job(compiled, model_network, inputs, solution, seeds, plan, routes, keep, tail)
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
                          duration=np.array([p.duration for p in parts]), confidence=plan.confidence)


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


def _sample_task(job, i):
    """Instance ``i`` of a ``sample_outputs`` job (module-level, one task per instance)."""
    return sample_instance(job.compiled, job.model, job.inputs[i], job.solution(i), job.seeds[i], job.plan,
                           routes=job.routes, keep=job.keep, tail=job.tail)
