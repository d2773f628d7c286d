"""``sample_outputs`` and ``predict(mode="sampled")`` for any classifier that describes its network."""

from __future__ import annotations

import numpy as np

from .driver import sample_outputs
from .readings import _auto_reading, _part, _simulated_cells


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
        cells); for a model read at its output cells, the whole network. Simulating it with
        :func:`gelsim.simulate` costs what a sampled decision's events cost, event for event.

        Examples
        --------
        >>> import numpy as np, gelsim
        >>> X = np.random.default_rng(0).uniform(size=(30, 4)); y = np.arange(30) % 2
        >>> clf = gelsim.MLSRNNClassifier(hidden=(), elm_hidden=6, random_state=0).fit(X, y)
        >>> clf.to_network(X[0]).n_cells, clf.sampled_network(X[0]).n_cells   # the 2 outputs are computed
        (18, 16)
        """
        model = self._model_network()
        inputs = self._sampling_inputs(np.asarray(x)[None], model)[0]
        keep = _simulated_cells(model, _auto_reading(model))
        net = model.network_at(inputs[0])
        return net if keep.size == net.n_cells else _part(net, keep)

    def _predict_mode(self, X, mode, sampling, analytic):
        if mode == "analytic":
            return analytic(X)
        if mode == "sampled":
            return self.sample_outputs(X, **sampling).predictions
        raise ValueError(f"The 'mode' parameter of predict must be 'analytic' or 'sampled'. Got {mode!r} instead.")

    def sample_outputs(self, X, *, confidence=0.99, max_events=10**7, replications=32, replication_events=None,
                       duration=None, reading="auto", start="stationary", warmup_events=None, rng=None, n_jobs=None,
                       executor=None, progress=None):
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
        start : {"stationary", "empty"}
            Where each replication starts. ``"stationary"`` (default): a draw from the product-form law
            of the instance's analytic solution, so readings are unbiased from time 0. Over short runs
            much of what a reading knows then comes from that draw rather than from the spikes (slow cells
            barely move), so it is the cheap, exact way to check the network's steady state, not a model
            of a network switched on from rest. ``"empty"``: every cell unexcited, as hardware would
            start, with nothing taken from the analytic solution but the planning of the run's length;
            readings skip a warm-up. A cell forgets its start in about ``1 / (sqrt(lam+) - sqrt(mu))^2``
            (:func:`gelsim.sampled.relaxation_times`), slowly where its excitation nearly matches its
            firing and inhibition, as in the convolutional models' position cells. A
            :class:`~gelsim.sampled.WarmupWarning` says when the warm-up is shorter than the relaxation
            of the cells that carry half of the outputs' readings (on the first three instances), and
            how long that is: about 80 events per cell on digits and 630 on JapaneseVowels, where 64
            left 19 of 20 decisions wrong.
        warmup_events : float, optional
            Expected events per replication run before the readings start (not read, but counted in
            ``events`` and in ``max_events``). Default: 0 for a stationary start, 64 per cell of the
            network for an empty one.
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
                              start=start, warmup_events=warmup_events, rng=rng,
                              n_jobs=n_jobs, executor=executor, progress=progress)
