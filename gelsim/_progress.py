"""Progress bars for long runs, on tqdm: a widget in a notebook, a bar in a terminal."""

from __future__ import annotations

import threading

#: Seconds a run must last before its bar appears (``progress=None``): short calls stay silent.
DELAY = 2.0

#: Bars open in this thread. A bar opened inside another's run (the penalty search of each fit in a scale
#: search, say) stays silent unless asked for, so that a user sees one bar per call they made.
_open = threading.local()


class Progress:
    """``Progress(total, label, enabled)``, then ``update(done, extra="")`` and ``close()``; or as a context
    manager, which closes it.

    ``enabled``: True shows the bar at once, False never, None (the default of every public ``progress``
    argument) once the run has lasted :data:`DELAY` seconds, unless another bar is open in the same thread
    (then never). tqdm chooses the display (``tqdm.auto``).

    Examples
    --------
    >>> from gelsim._progress import Progress
    >>> with Progress(10, "demo", enabled=False) as bar:
    ...     bar.update(5, "half-way")
    >>> bar.done
    5.0
    """

    def __init__(self, total, label, enabled=None):
        self.total = max(float(total), 1e-300)
        self.done = 0.0
        self._bar = None
        depth = getattr(_open, "depth", 0)
        if enabled is None and depth > 0:
            enabled = False
        # Counted while open, so that bars opened meanwhile know they are nested.
        self._counted = enabled is not False
        if self._counted:
            _open.depth = depth + 1
            from tqdm.auto import tqdm   # here: import gelsim does not load tqdm

            self._bar = tqdm(total=self.total, desc=label, delay=0.0 if enabled else DELAY, leave=True,
                             bar_format="{desc}: {percentage:5.1f}%|{bar}| {elapsed}<{remaining} {postfix}")

    @property
    def enabled(self):
        return self._bar is not None

    def update(self, done, extra=""):
        """Set the progress to ``done`` (of ``total``), with ``extra`` shown after the bar."""
        done = min(float(done), self.total)
        if self._bar is not None:
            if extra:
                self._bar.set_postfix_str(extra, refresh=False)
            self._bar.update(done - self.done)
        self.done = done

    def close(self):
        """Close the bar (again: nothing)."""
        if self._counted:
            _open.depth -= 1
            self._counted = False
        if self._bar is not None:
            self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
