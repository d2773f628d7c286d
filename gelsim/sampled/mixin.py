"""``sample_outputs`` and ``predict(mode="sampled")`` for any classifier that describes its network."""

from __future__ import annotations

import numpy as np

from .cost import forecast
from .driver import sample_outputs
from .plan import SamplingPlan
from .readings import _part, _resolve_reading


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

    def sampled_network(self, x):
        """The network that ``sample_outputs`` simulates for one instance ``x`` (as passed to ``predict``).

        It is the model's network with ``x`` as its external rates, less the cells that the default reading
        computes from the others instead of simulating them (a convolutional model's pooling and output
        cells) and those whose spikes reach no output cell (an ELM cell its readout gives no weight to).
        Simulating it with
        :func:`gelsim.simulate` costs what a sampled decision's events cost, event for event.

        Examples
        --------
        >>> import numpy as np, gelsim
        >>> X = np.random.default_rng(0).uniform(size=(30, 4)); y = np.arange(30) % 2
        >>> clf = gelsim.MLSRNNClassifier(hidden=(), elm_hidden=6, random_state=0).fit(X, y)
        >>> clf.to_network(X[0]).n_cells, clf.sampled_network(X[0]).n_cells   # outputs computed; 6 ϱ cells unread
        (18, 10)
        """
        model = self._model_network()
        inputs = self._sampling_inputs(np.asarray(x)[None], model)[0]
        keep = _resolve_reading(model, "auto")[2]
        net = model.network_at(inputs[0])
        return net if keep.size == net.n_cells else _part(net, keep)

    def sampling_cost(self, X, *, confidence=0.99, replications=None, start="empty", max_events=10**7,
                      reading="auto", batches=None):
        """Forecast what :meth:`sample_outputs` will spend on each instance, before running it
        (:class:`~gelsim.sampled.SamplingCost`).

        The forecast reads the instance's analytic solution (its margins, and the flows whose noise they
        must clear; from an empty start also how long the start can still pull the outputs), which is
        what makes it a forecast and not a decision: nothing from it enters :meth:`sample_outputs`. It
        takes every cell the reading reads for an M/M/1 queue at its analytic rates. On the last 40 to 60
        training instances of five models made for sampling (ConvSRNN on digits, RocketSRNN on
        JapaneseVowels, ``load_scale=0.5``; MLSRNN on digits and the MNIST sample, MCSRNN on JapaneseVowels,
        ``hidden=(), elm_fan_in=8``), the median ratio of forecast to spent events was 0.75 to 1.16, and half
        of the instances were within 0.6 to 1.8 times.

        Parameters
        ----------
        confidence, replications, start, max_events, reading, batches
            As :meth:`sample_outputs`.

        Examples
        --------
        >>> import numpy as np, gelsim
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(0, 1, (30, 4)), rng.normal(4, 1, (30, 4))]); y = np.repeat([0, 1], 30)
        >>> clf = gelsim.MLSRNNClassifier(hidden=(), elm_hidden=10, ridge=1e-2, random_state=0).fit(X, y)
        >>> cost = clf.sampling_cost(X[:3], max_events=2e6)
        >>> cost.events.shape, bool(np.all(cost.events >= cost.noise_events))
        ((3,), True)
        """
        model = self._model_network()
        plan = SamplingPlan.check(model, confidence=confidence, replications=replications, start=start,
                                  max_events=max_events, reading=reading, batches=batches)
        inputs, solution, _ = self._sampling_inputs(X, model)
        return forecast(model, inputs, solution, confidence=plan.confidence, replications=plan.replications,
                        start=plan.start, max_events=plan.max_events, reading=plan.reading,
                        replication_events=plan.replication_events, batches=plan.batches)

    def _predict_mode(self, X, mode, sampling, analytic):
        if mode == "analytic":
            return analytic(X)
        if mode == "sampled":
            return self.sample_outputs(X, **sampling).predictions
        raise ValueError(f"The 'mode' parameter of predict must be 'analytic' or 'sampled'. Got {mode!r} instead.")

    def sample_outputs(self, X, *, confidence=0.99, max_events=10**7, replications=None, replication_events=None,
                       duration=None, reading="auto", start="empty", warmup_events=0.0, batches=None, rng=None,
                       n_jobs=None, executor=None, progress=None):
        """Simulate each instance's spiking network until its prediction is decided (:class:`SampledOutputs`).

        Every instance runs independent replications of its network, by default started empty (every cell
        unexcited, as hardware is switched on), so that a decision is the spikes' own: nothing computed
        from the instance's analytic solution enters the run, its length or its decision. The replications
        are extended in stops of growing simulated time (x 1.5); at each look every output is read over the
        window since the stop three back (so the first 30 % of the run, however long it has grown, is left
        out as warm-up), in ``batches`` equal batches per stretch between stops, and a t-test on the batch
        means asks whether the leading output stands above every other at ``confidence`` by more than the
        start could still be pulling the readings (judged from the run's own firing:
        :class:`~gelsim.sampled.StartPull`), with no lead shrinking from the window's first half to its
        second (a lead still shrinking is one the run has not finished forgetting its start in). Batch
        means let a few long replications do the work of many short ones, so the warm-up is paid a few
        times only; their error bars are widened by the batches' measured correlation and checked against
        longer stretches. Where the readings are linear in the simulated cells' firing and no cell
        inhibits another (the convolutional classifiers' spiking readout), the cells of steady input, whose
        expected shortfall after an empty start is known exactly (an M/M/1 queue's), are corrected for
        instead of waited out; the outputs returned include that correction.
        The level is spent over the looks, so the chance of deciding an instance
        for a class other than its analytic one stays within ``1 - confidence``. When ``max_events`` are
        spent first, the instance is undecided (``reasons`` says why) and its best guess is returned. The
        network is compiled once; instances run in parallel. :meth:`sampling_cost` forecasts the events
        before a run (and says which instances the budget will not cover).

        Parameters
        ----------
        confidence : float
            Probability that a decided instance is decided for its analytic class (in [0.5, 1)).
        max_events : float
            Budget of simulated events per instance (the last stop is planned, from the event rate
            measured by then, 5 Poisson standard deviations short of it, so that the count exceeds it only
            by a rare fluctuation).
        replications : int, optional
            Independent replications per instance, run side by side (every look extends all of them).
            Default: 4 from an empty start (read by batch means), 32 from the analytic start (whose t-test
            is across replications, with ``replications - 1`` degrees of freedom).
        replication_events : float, optional
            Events per replication at the first stop (the simulated time is stepped towards it at the
            event rate measured on the way); each later stop multiplies the time by 1.5, the last spends
            ``max_events`` at the rate measured by then. Default: 8 per cell of the network from an empty
            start (no earlier look could clear the start's pull, and every look spends part of the error
            budget), 3/4 per cell from the analytic start; at least 2,000 (at most
            ``max_events / replications``).
        duration : float, optional
            Fixed simulated time per replication, read after the warm-up in one look with ``replications``
            replications (for studying convergence) instead of the sequential rule.
        reading : {"auto", "spikes", "busy", "inputs", "linear"}
            How an output cell is read: its spike count over the run divided by ``r * duration``; its
            time-averaged ``P(k > 0)``; ``"inputs"``, Eq. (1) for the output cell with the spike rates it
            receives, computed from the firing counts of the cells that feed it and their routing
            probabilities (the routing of each spike averaged out, not sampled); or ``"linear"``, which
            goes further back: the cells that no inhibition or input reaches and that feed only such cells
            (a convolutional model's pooling and output cells) are not simulated but computed, their rate
            being what they receive (up to their own rate), from the firing of the simulated cells that feed
            them. Those are read by their spike counts or, for cells inhibited faster than they fire (the
            convolutional position cells), by ``r`` times the time they are excited, which is the quieter
            estimate there (variance ``2 q / (r + inhibition)`` per unit time against ``q / r``); on
            JapaneseVowels the variance of a class margin fell 20-fold against ``"inputs"``. All are
            unbiased for output cells whose ``q`` is linear in their input (no inhibition, not
            saturated), as the convolutional classifiers' are; with inhibition ``"inputs"`` is a ratio
            estimate.
            ``"auto"`` (default): ``"linear"`` where it applies (no output cell receives inhibition or
            instance input, or feeds a cell that does), else ``"inputs"`` when no output cell receives
            inhibition, else ``"spikes"``.
        start : {"empty", "analytic"}
            Where each replication starts. ``"empty"`` (default): every cell unexcited; the readings leave
            out the first part of each run (see above), so the decision is earned by the spikes, at the
            price of the cells' relaxation: a cell at load ``rho`` forgets its start after about
            ``2 rho / (1 - sqrt rho)^2`` of its own events (:func:`gelsim.sampled.relaxation_times`), so
            models whose cells sit near load 1 cost more. ``"analytic"``: a draw from the product-form law
            of the instance's analytic solution, so readings are unbiased from time 0; over short runs much
            of what a reading knows then comes from that draw rather than from the spikes (slow cells barely
            move). It is variance reduction that reads the answer, the cheap way to check a network's
            steady state, not a model of a network making up its mind. (``"stationary"``, its former name,
            is accepted with a warning.)
        warmup_events : float
            Expected events per replication run, and not read, before the first stop (counted in
            ``events`` and in ``max_events``); 0 by default, since an empty start's looks discard the first
            part of the run anyway.
        batches : int, optional
            Batches each stretch between two stops is read in (a look's window spans three stretches). 1 reads
            each replication's window as one value, tested across replications. Default: 32 from an empty
            start, 1 from the analytic start.
        rng : None, int or numpy.random.Generator
        n_jobs : int, optional
            Instances simulated in parallel threads, as scikit-learn counts them: None or -1 all cores, -2
            all but one, a positive number that many.
        executor : concurrent.futures.Executor or distributed.Client, optional
            Where instances run instead (each instance is one task). The tasks share the compiled model and
            its solution function (sent to Dask workers once), so a process pool needs them to pickle;
            threads (the default) and Dask (cloudpickle) always work.
        progress : bool, optional
            Progress bar over instances (tqdm: a widget in a notebook, a bar in a terminal): None
            (default) shows it once the run has lasted 2 s, True at once, False never.

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
                              replication_events=replication_events, duration=duration, reading=reading,
                              start=start, warmup_events=warmup_events, batches=batches, rng=rng,
                              n_jobs=n_jobs, executor=executor, progress=progress)
