"""Where the simulators' tasks run: a local thread pool, any ``concurrent.futures`` executor, or Dask.

One helper for :func:`gelsim.simulate`, :func:`gelsim.simulate_transient` and sampled inference, so that
each accepts the same ``executor`` argument and treats it the same way.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Executor, ThreadPoolExecutor

#: The stop flag of the TaskRunner whose task this thread is running (None outside a task, and in other
#: processes, which receive Ctrl-C themselves).
_task = threading.local()


def check_interrupt():
    """Raise ``KeyboardInterrupt`` in a task whose :class:`TaskRunner` is unwinding (Ctrl-C in the caller, or
    an error there). Long tasks call it between kernel chunks, so that they stop within one chunk."""
    stop = getattr(_task, "stop", None)
    if stop is not None and stop.is_set():
        raise KeyboardInterrupt("a task stopped because the call that started it was interrupted")


def _run_task(stop, fn, *args):
    _task.stop = stop
    try:
        return fn(*args)
    finally:
        _task.stop = None


def _dask_client(executor):
    """The ``distributed.Client`` behind ``executor`` (a client, or a client's ``get_executor()``), or None."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    if isinstance(executor, distributed.Client):
        return executor
    inner = getattr(executor, "_client", None)
    return inner if isinstance(inner, distributed.Client) else None


class TaskRunner:
    """Runs ``fn(shared, item, *args)`` over items on ``executor`` and returns the results in order.

    ``executor`` is None (a thread pool over ``workers`` or all cores, shut down on exit; the kernels release
    the GIL), a ``concurrent.futures.Executor`` (threads, processes, a Dask client's executor) or a
    ``distributed.Client``. On Dask two things keep large arrays off the scheduler: read-only data
    (compiled tables) goes through :meth:`share`, scattered to the workers once, and ``map(...,
    remote=True)`` leaves its results (replication state) on the workers as futures that the next ``map``
    takes as items, until :meth:`gather` brings them back. Elsewhere both are plain values. Use as a
    context manager.
    """

    def __init__(self, executor=None, *, workers=None, owner="simulate"):
        self._client = _dask_client(executor)
        if executor is not None and self._client is None and not isinstance(executor, Executor):
            raise ValueError(f"The 'executor' parameter of {owner} must be a concurrent.futures.Executor or a "
                             f"distributed.Client. Got {type(executor).__name__}.")
        self._own = executor is None
        if self._own:
            workers = workers or os.cpu_count() or 1
            executor = ThreadPoolExecutor(max_workers=workers)
        self._executor = executor
        self.workers = workers or self._count_workers()
        self._stop = threading.Event()

    def _count_workers(self):
        if self._client is not None:
            info = self._client.scheduler_info().get("workers", {})
            return max(sum(int(w.get("nthreads", 1)) for w in info.values()), 1)
        return getattr(self._executor, "_max_workers", None) or os.cpu_count() or 1

    def share(self, obj):
        """``obj`` as tasks should receive it: itself, or on Dask a future of one copy on every worker."""
        if self._client is None:
            return obj
        # In a list, so that a tuple or dict is scattered whole rather than element by element.
        return self._client.scatter([obj], broadcast=True, hash=False)[0]

    def submit(self, fn, *args):
        if self._client is not None:  # the client itself, also behind its executor: its futures chain
            return self._client.submit(fn, *args, pure=False)
        if isinstance(self._executor, ThreadPoolExecutor):   # threads share the stop flag; processes get Ctrl-C
            return self._executor.submit(_run_task, self._stop, fn, *args)
        return self._executor.submit(fn, *args)

    def map(self, fn, shared, items, *args, on_result=None, remote=False):
        """``[fn(shared, item, *args) for item in items]``, computed on the executor; ``on_result(i, result)``
        is called as each result arrives, in order (for progress bars). With ``remote`` on Dask, the
        results stay on the workers (a list of futures)."""
        futures = [self.submit(fn, shared, item, *args) for item in items]
        if remote and self._client is not None:
            return futures
        results = []
        for i, future in enumerate(futures):
            results.append(future.result())
            if on_result is not None:
                on_result(i, results[-1])
        return results

    def read(self, fn, items, *args):
        """``[fn(None, item, *args) for item in items]`` for small reads of replication state: computed here
        when the state is here (threads, processes: no state shipped to a worker to count its events), on
        the workers when it stays there (Dask)."""
        if self._client is not None:
            return self.map(fn, None, items, *args)
        return [fn(None, item, *args) for item in items]

    def gather(self, items):
        """``items`` as values (the results of a ``remote`` map brought back from the workers)."""
        return self._client.gather(items) if self._client is not None else items

    def close(self, interrupted=False):
        """Shut down a pool this runner made. ``interrupted``: first tell running tasks to stop (at their
        next :func:`check_interrupt`) and drop the ones not started, so Ctrl-C returns within a chunk."""
        if interrupted:
            self._stop.set()
        if self._own:
            self._executor.shutdown(wait=True, cancel_futures=interrupted)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(interrupted=exc_type is not None)
