"""A dependency-free progress bar for long runs, written to stderr."""

from __future__ import annotations

import sys
import time


class Progress:
    """Minimal progress bar: ``Progress(total, label)``, ``update(done, extra="")``, ``close()``.

    Disabled (no output at all) when ``enabled`` is False; with ``enabled=None`` it shows only when
    stderr is a terminal.
    """

    def __init__(self, total, label, enabled=None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else bool(enabled)
        self.total = max(float(total), 1e-300)
        self.label = label
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, done, extra=""):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.2 and done < self.total:
            return
        self._last = now
        frac = min(done / self.total, 1.0)
        elapsed = now - self.start
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        bar = "#" * int(30 * frac)
        self.stream.write(f"\r{self.label}: {100 * frac:5.1f}% |{bar:<30}| {elapsed:6.1f}s ETA {eta:6.1f}s {extra}")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.update(self.total)
            self.stream.write("\n")
            self.stream.flush()
