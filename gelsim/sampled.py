"""Sampled (spiking) inference for every classifier: simulate each instance's network until it decides.

A classifier that can be run as a spiking network supplies its network once, without its input
(:class:`ModelNetwork`); each instance only changes the external rates through which its input arrives,
so the network is compiled for the simulator once per model. Each instance is then simulated in independent replications,
every one started from the product-form (stationary) law of its own analytic solution, so that each
replication's time-averaged output excitation is an unbiased estimate of the analytic output whatever
its length. The replications are extended in looks whose simulated time grows by half (a look adds
events, it sets nothing up again); at each look the leading output is compared with every other by a
one-sided paired t-test on the replications' averages so far, and the instance is *decided* when the
leader beats all of them. The test level is spent over the planned looks (a Bonferroni alpha-spending
bound: 30 % of ``1 - confidence`` at the first look, 30 % of what is left at each later one, the rest at
the last), and within a look over the ``K - 1`` rivals of the true leader, so the chance that an instance
is ever decided for the wrong class is at most ``1 - confidence`` (under the normal approximation of the
replication averages, checked in the tests). Most instances of a well-fitted model are easy, so the
spending favours the early looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import stats

from ._executors import TaskRunner
from ._progress import Progress
from ._validation import as_generator, check_int, check_positive_number


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


@dataclass(frozen=True)
class ModelNetwork:
    """A model's spiking network without its input: what :func:`sample_outputs` needs from a classifier.

    An instance whose scaled inputs are ``u`` (a vector) runs ``network`` with external excitation
    ``network.ext_exc + input_exc @ u`` and external inhibition ``network.ext_inh + input_inh @ u``: the
    inputs are Poisson arrivals at the cells they drive (source cells whose ``q`` is the input, or the
    first computing cells directly). ``output_cells`` are the class outputs in the order of ``classes_``.
    """

    network: object
    input_exc: sp.csr_matrix          # (n_cells, n_inputs)
    input_inh: sp.csr_matrix          # (n_cells, n_inputs)
    output_cells: np.ndarray

    @classmethod
    def from_sources(cls, network, source_cells, source_rates, output_cells):
        """Inputs as source cells: input ``i`` excites ``source_cells[i]`` at ``u_i * source_rates[i]``."""
        n, m = network.n_cells, len(source_cells)
        input_exc = sp.csr_matrix((np.asarray(source_rates, float), (np.asarray(source_cells), np.arange(m))),
                                  shape=(n, m))
        return cls(network, input_exc, sp.csr_matrix((n, m)), np.asarray(output_cells))

    def ext_exc(self, u):
        return np.asarray(self.network.ext_exc, float) + self.input_exc @ np.asarray(u, float).ravel()

    def ext_inh(self, u):
        return np.asarray(self.network.ext_inh, float) + self.input_inh @ np.asarray(u, float).ravel()

    def solve(self, u):
        """Eq. (1)'s solution ``q`` over all cells for the inputs ``u``."""
        from .solver import solve

        return solve(self.network, ext_exc=self.ext_exc(u), ext_inh=self.ext_inh(u)).q

    def network_at(self, u):
        """The network of one instance: ``network`` with the inputs ``u`` as its external rates."""
        from .network import Network

        net = self.network
        return Network(fire_rate=net.fire_rate, w_exc=net.w_exc, w_inh=net.w_inh, ext_exc=self.ext_exc(u),
                       ext_inh=self.ext_inh(u))


def stationary_start(net, q, ext_exc, ext_inh, horizon, gen, size):
    """``size`` product-form draws of starting potentials; cells with ``q = 1`` start high enough never to
    empty during ``horizon`` (8 standard deviations of their event count), so they fire steadily."""
    q = np.asarray(q, float)
    free = q < 1.0
    k0 = np.zeros((size, q.size), np.int64)
    k0[:, free] = gen.geometric(1.0 - q[free], size=(size, int(free.sum()))) - 1
    activity = (net.fire_rate + ext_exc + ext_inh)[~free] * horizon
    k0[:, ~free] = np.ceil(8.0 * np.sqrt(2.0 * activity + 1.0) + 10.0).astype(np.int64)
    return k0


def _event_rate(net, q, ext_exc, ext_inh):
    """Expected events per unit time: external arrivals at every cell, firings and external inhibition
    at excited ones (the simulator never spends an event on inhibiting an empty cell)."""
    return float(ext_exc.sum() + np.dot(net.fire_rate + ext_inh, q))


def _decide(obs, alpha):
    """Leader and whether it beats every rival by a one-sided paired t-test at level ``alpha / (K - 1)``."""
    n, k = obs.shape
    mean = obs.mean(axis=0)
    lead = int(np.argmax(mean))
    if n < 2:
        return lead, False
    diff = obs[:, [lead]] - np.delete(obs, lead, axis=1)
    d_mean = diff.mean(axis=0)
    d_se = diff.std(axis=0, ddof=1) / np.sqrt(n)
    crit = stats.t.ppf(1.0 - alpha / (k - 1), df=n - 1)
    # A difference without spread across replications (identical readings) is no evidence either way.
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(d_se > 0, d_mean / d_se, 0.0)
    return lead, bool(np.all(t > crit))


#: Each look's simulated time is this many times the previous one's. A decision overshoots the events it
#: needs by at most this factor; more looks split the error budget further. Measured against doubling on
#: MNIST Conv-spk (200 instances): median events 1.08e6 -> 8.1e5, all calls agreeing with the analytic ones.
LOOK_GROWTH = 1.5
#: Share of the remaining error budget spent at each look but the last, which gets the rest.
LOOK_SPENDING = 0.3


def _horizons(first, last):
    """Simulated times of the looks: ``first``, growing by ``LOOK_GROWTH``, the last one exactly ``last``."""
    looks = [first]
    while looks[-1] * (1.0 + 1e-9) < last:
        looks.append(min(LOOK_GROWTH * looks[-1], last))
    return looks


def _look_levels(n_looks, alpha):
    """Test level of each of ``n_looks`` looks: ``LOOK_SPENDING`` of what is left of ``alpha`` at each look
    but the last, which spends the rest (so they sum to ``alpha``, a Bonferroni bound over the looks)."""
    left = alpha * (1.0 - LOOK_SPENDING) ** np.arange(n_looks)
    levels = left * LOOK_SPENDING
    levels[-1] = left[-1]
    return levels


def _linear_outputs(model):
    """Whether no output cell ever receives inhibition (then its ``q`` is linear in its input)."""
    net, out = model.network, model.output_cells
    return (sp.csr_matrix(net.w_inh)[:, out].nnz == 0 and not np.any(np.asarray(net.ext_inh)[out])
            and model.input_inh[out].nnz == 0)


def _routes_to(net, out):
    """Per spike of each cell, the expected excitatory and inhibitory weight it sends to each of ``out``:
    ``w_ik / r_i`` (N, len(out)) each, as CSR."""
    per_rate = sp.diags(1.0 / np.where(net.fire_rate > 0, net.fire_rate, 1.0))
    return (sp.csr_matrix(per_rate @ sp.csr_matrix(net.w_exc)[:, out]),
            sp.csr_matrix(per_rate @ sp.csr_matrix(net.w_inh)[:, out]))


def _read_outputs(reading, net, out, busy, fires, ext, ext_inh, routes):
    """Each replication's estimate (rows) of the output cells' ``q`` (columns), by ``reading``."""
    if reading == "busy":
        return busy[:, out]
    if reading == "spikes":
        return fires[:, out] / net.fire_rate[out]
    # "inputs": the rates at which spikes reach each output cell, given how often every cell fired: a
    # cell firing ``f`` times per unit time sends ``f w_ik / r_i`` to output k (conditional Monte Carlo:
    # the random routing of each spike is averaged out instead of sampled).
    lam = ext[out] + np.asarray(routes[0].T @ fires.T).T
    lam_inh = ext_inh[out] + np.asarray(routes[1].T @ fires.T).T
    return np.minimum(lam / (net.fire_rate[out] + lam_inh), 1.0)


def sample_instance(compiled, model, u, q, seed, *, confidence, max_events, replications, replication_events,
                    duration=None, reading="spikes", spending=True, routes=None, keep=None):
    """Sequential decision for one instance (see the module docstring). Returns a dict of its results.

    ``replications`` independent replications run side by side and are extended at every look, so a look
    only adds events (nothing is set up again): the first look is at ``replication_events`` expected
    events per replication, each later one multiplies the simulated time by ``LOOK_GROWTH``, the last one
    spends ``max_events``; the error budget is spent over them by :func:`_look_levels`.
    ``spending=False`` tests every look at the full level ``1 - confidence``: the naive rule, whose error
    rate grows with the number of looks (kept for the tests that show the difference). ``routes`` are
    :func:`_routes_to` of the outputs for ``reading="inputs"`` (computed here if not given). ``compiled``
    is the model's network or, with ``keep`` (cell indices), the part of it that is simulated (see
    :func:`_simulated_cells`).
    """
    net = model.network
    ext, ext_inh = model.ext_exc(u), model.ext_inh(u)
    keep = np.arange(net.n_cells) if keep is None else keep
    sim = compiled.net
    rate = _event_rate(sim, q[keep], ext[keep], ext_inh[keep])
    out = model.output_cells
    if rate <= 0.0:
        # A silent network (no input, no external rate): every output is exactly 0, a tie no run can break.
        return dict(outputs=np.zeros(out.size), outputs_se=np.zeros(out.size), decided=False, events=0,
                    replications=0, duration=0.0)
    if duration is not None:
        looks = [float(duration)]
    else:
        # The budget is planned in expected events; planning it 5 Poisson standard deviations short keeps
        # the count within max_events but for rare fluctuations (spread measured: ~0.1 % at 3e5 events).
        # The first look never spends more than the budget (on a large network 3/4 of an event per cell
        # in each replication would).
        budget = max(max_events - 5.0 * np.sqrt(max_events), 0.5 * max_events) / (replications * rate)
        looks = _horizons(min(replication_events / rate, budget), budget)
    alpha = 1.0 - confidence
    levels = _look_levels(len(looks), alpha) if spending else np.full(len(looks), alpha)
    start_seq, event_seq = seed.spawn(2)
    if reading == "inputs" and routes is None:
        routes = _routes_to(net, out)
    starts = stationary_start(sim, q[keep], ext[keep], ext_inh[keep], looks[-1], np.random.default_rng(start_seq),
                              replications)
    # One state for all the replications (allocated once), run one after another, not interleaved: on
    # these networks (1e4 to 1e5 cells, many slow cells) the interleaved kernel was measured slower (MNIST
    # Conv-spk, whole sampled call: 4.2 against 4.8 M events/s; 2.2 against 4.3 before rate buckets).
    runs = compiled.start(ext[keep], starts, event_seq.spawn(replications), ext_inh=ext_inh[keep],
                          group_size=replications, interleave=False)
    # Busy fractions are kept only for the reading that uses them (each array is replications x cells).
    busy = np.zeros((replications, net.n_cells)) if reading == "busy" else None
    fires = np.zeros((replications, net.n_cells))
    decided = False
    for horizon, level in zip(looks, levels):
        if reading == "busy":
            busy[:, keep], fires[:, keep] = compiled.extend(runs, horizon)
        else:
            fires[:, keep] = compiled.extend(runs, horizon, busy=False)[1]
        obs = _read_outputs(reading, net, out, busy, fires, ext, ext_inh, routes)
        decided = _decide(obs, level)[1]
        if decided:
            break
    se = obs.std(axis=0, ddof=1) / np.sqrt(replications)
    return dict(outputs=obs.mean(axis=0), outputs_se=se, decided=decided,
                events=runs.events, replications=replications, duration=horizon)


def sample_outputs(model_network, inputs, solution, analytic, classes, *, confidence=0.99, max_events=10**7,
                   replications=32, replication_events=None, duration=None, reading="auto", rng=None, n_jobs=None,
                   executor=None, progress=None):
    """Simulate every instance and return :class:`SampledOutputs`.

    ``inputs`` (n, n_sources) are the instances' scaled source values, ``solution(i)`` gives instance
    ``i``'s Eq. (1) solution over all cells (for the stationary starts) and ``analytic`` (n, n_classes)
    its analytic outputs. See the classifiers' ``sample_outputs`` for the other parameters.
    """
    from .simulation import CompiledNetwork

    confidence, replications, max_events, replication_events, duration = _check_sampling(
        model_network, confidence, replications, max_events, replication_events, duration, reading)
    if reading == "auto":
        reading = "inputs" if _linear_outputs(model_network) else "spikes"
    keep = _simulated_cells(model_network, reading)
    net = model_network.network
    compiled = CompiledNetwork(net if keep.size == net.n_cells else _part(net, keep))
    # Shared by every instance: the network, hence the routes into the outputs, is the same.
    routes = _routes_to(net, model_network.output_cells) if reading == "inputs" else None
    n = inputs.shape[0]
    seeds = np.random.SeedSequence(as_generator(rng).integers(0, 2**63)).spawn(n)

    options = dict(confidence=confidence, max_events=max_events, replications=replications,
                   replication_events=replication_events, duration=duration, reading=reading, routes=routes,
                   keep=keep)
    job = (compiled, model_network, inputs, solution, seeds, options)
    bar = Progress(n, "sampled inference", enabled=progress)
    done_events = [0]

    def report(i, part):
        done_events[0] += part["events"]
        bar.update(i + 1, f"{i + 1}/{n} instances, {done_events[0]:.3g} events")

    try:
        with TaskRunner(executor, workers=n_jobs, owner="sample_outputs") as runner:
            parts = runner.map(_sample_task, runner.share(job), range(n), on_result=report)
    finally:
        bar.close()
    outputs = np.array([p["outputs"] for p in parts])
    return SampledOutputs(outputs=outputs, outputs_se=np.array([p["outputs_se"] for p in parts]),
                          analytic=analytic, predictions=np.asarray(classes)[np.argmax(outputs, axis=1)],
                          decided=np.array([p["decided"] for p in parts]),
                          events=np.array([p["events"] for p in parts], np.int64),
                          replications=np.array([p["replications"] for p in parts], np.int64),
                          duration=np.array([p["duration"] for p in parts]), confidence=float(confidence))


def _simulated_cells(model, reading):
    """The cells a sampled decision must simulate: all of them, except output cells that send no spike
    when ``reading="inputs"``. Those are read from the firing of the cells that feed them, and a cell
    that sends nothing cannot change any other cell's course, so leaving them out changes nothing that
    is read. It spares their events, which are many: an output cell fires faster than the hundreds of
    cells it sums (rate 1 against about 1e-3 in a convolutional model)."""
    net, out = model.network, model.output_cells
    silent = (sp.csr_matrix(net.w_exc)[out].nnz == 0) and (sp.csr_matrix(net.w_inh)[out].nnz == 0)
    if reading != "inputs" or not silent:
        return np.arange(net.n_cells)
    return np.setdiff1d(np.arange(net.n_cells), out)


def _part(net, keep):
    """The network of the cells ``keep`` (the spikes they send to other cells are lost)."""
    from .network import Network

    return Network(fire_rate=net.fire_rate[keep], w_exc=sp.csr_matrix(net.w_exc)[keep][:, keep],
                   w_inh=sp.csr_matrix(net.w_inh)[keep][:, keep], ext_exc=np.asarray(net.ext_exc)[keep],
                   ext_inh=np.asarray(net.ext_inh)[keep])


def _check_sampling(model_network, confidence, replications, max_events, replication_events, duration, reading):
    """sample_outputs' argument checks; returns the checked numbers (``replication_events`` defaulted)."""
    owner = "sample_outputs"
    confidence = check_positive_number(confidence, "confidence", owner)
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"The 'confidence' parameter of {owner} must be in [0.5, 1). Got {confidence!r}.")
    replications = check_int(replications, "replications", owner, minimum=2)
    max_events = check_positive_number(max_events, "max_events", owner)
    if replication_events is None:
        # The first look: about 3/4 of an event per cell in each replication (with later looks growing by
        # half, this put the median MNIST Conv-spk decision at 8.1e5 events; one per cell, at 1.08e6).
        replication_events = max(2_000.0, 0.75 * model_network.network.n_cells)
    replication_events = check_positive_number(replication_events, "replication_events", owner)
    if duration is not None:
        duration = check_positive_number(duration, "duration", owner)
    if reading not in ("auto", "spikes", "busy", "inputs"):
        raise ValueError(f"The 'reading' parameter of {owner} must be 'auto', 'spikes', 'busy' or 'inputs'. "
                         f"Got {reading!r} instead.")
    return confidence, replications, max_events, replication_events, duration


def _sample_task(job, i):
    """Instance ``i`` of a ``sample_outputs`` job (module-level, one task per instance)."""
    compiled, model_network, inputs, solution, seeds, options = job
    return sample_instance(compiled, model_network, inputs[i], solution(i), seeds[i], **options)


class SpikingClassifierMixin:
    """``sample_outputs`` and ``predict(mode="sampled")`` for a classifier that provides
    ``_fitted_model()`` (the fitted object its network depends on; checks the fit),
    ``_build_model_network()`` (a :class:`ModelNetwork`) and ``_sampling_inputs(X, model)`` (scaled source
    values (n, n_sources), each instance's Eq. (1) solution as a function of its index, and the analytic
    outputs (n, n_classes))."""

    def _model_network(self):
        """The model's network with silent sources, built once per fit (rebuilt after a refit)."""
        fitted = self._fitted_model()
        cached = getattr(self, "_spiking_cache", None)
        if cached is None or cached[0] is not fitted:
            cached = (fitted, self._build_model_network())
            self._spiking_cache = cached
        return cached[1]

    def _predict_mode(self, X, mode, sampling, analytic):
        if mode == "analytic":
            return analytic(X)
        if mode == "sampled":
            return self.sample_outputs(X, **sampling).predictions
        raise ValueError(f"The 'mode' parameter of predict must be 'analytic' or 'sampled'. Got {mode!r} instead.")

    def sample_outputs(self, X, *, confidence=0.99, max_events=10**7, replications=32, replication_events=None,
                       duration=None, reading="auto", rng=None, n_jobs=None, executor=None, progress=None):
        """Simulate each instance's spiking network until its prediction is decided (:class:`SampledOutputs`).

        Every instance runs independent replications, each started from the stationary (product-form) law
        of the instance's analytic solution, so that each replication's time-averaged outputs are unbiased
        over any horizon; the replications are extended in looks of growing simulated time (x 1.5) until a paired
        t-test shows the leading output above every other at ``confidence`` (valid under the repeated
        looks: the level is spent over them), or ``max_events`` are spent (then ``decided`` is False and
        the best guess is returned). The network is compiled once; instances run in parallel.

        Parameters
        ----------
        confidence : float
            Probability that a decided instance is decided for its analytic class (in [0.5, 1)).
        max_events : float
            Budget of simulated events per instance (planned from the expected event rate, 5 Poisson
            standard deviations short of it, so that the count exceeds it only by a rare fluctuation).
        replications : int
            Independent replications per instance. They run side by side and every look extends all of
            them, so its t-test has ``replications - 1`` degrees of freedom (more: a critical value closer
            to the normal one, and more memory per instance).
        replication_events : float, optional
            Expected events per replication at the first look (its simulated time follows from the
            instance's event rate); each later look multiplies the time by 1.5, the last spends
            ``max_events``. Default: 3/4 per cell of the network, at least 2,000 (at most
            ``max_events / replications``).
        duration : float, optional
            Fixed simulated time per replication, one look with ``replications`` replications (for studying
            convergence) instead of the sequential rule.
        reading : {"auto", "spikes", "busy", "inputs"}
            How an output cell is read: its spike count over the run divided by ``r * duration`` (free of
            the noise of the cell's own queue); its time-averaged ``P(k > 0)``; or ``"inputs"``,
            Eq. (1) for the output cell with the spike rates it receives, computed from the firing counts
            of the cells that feed it and their routing probabilities (the routing of each spike averaged
            out, not sampled: less noise, fewer events per decision). All three are unbiased for output
            cells whose ``q`` is linear in their input (no inhibition, not saturated), as the
            convolutional classifiers' are; with inhibition ``"inputs"`` is a ratio estimate. ``"auto"``
            (default): ``"inputs"`` when no output cell receives inhibition, else ``"spikes"``.
        rng : None, int or numpy.random.Generator
        n_jobs : int, optional
            Instances simulated in parallel threads (default: all cores).
        executor : concurrent.futures.Executor or distributed.Client, optional
            Where instances run instead (each instance is one task). The tasks share the compiled model and
            its solution function (sent to Dask workers once), so a process pool needs them to pickle;
            threads (the default) and Dask (cloudpickle) always work.
        progress : bool, optional
            Progress bar over instances on stderr (default: when stderr is a terminal).

        Examples
        --------
        >>> from gelsim import MLSRNNClassifier
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLSRNNClassifier(hidden=(), elm_hidden=20, ridge=1e-3, random_state=0).fit(X, y)
        >>> res = clf.sample_outputs(X[:2], duration=2e4, replications=4, rng=0)
        >>> bool(abs(res.outputs - res.analytic).max() < 0.05)
        True
        """
        model = self._model_network()
        inputs, solution, analytic = self._sampling_inputs(X, model)
        return sample_outputs(model, inputs, solution, analytic, self.classes_, confidence=confidence,
                              max_events=max_events, replications=replications,
                              replication_events=replication_events, duration=duration, reading=reading, rng=rng,
                              n_jobs=n_jobs, executor=executor, progress=progress)
