"""Progress of a long command: items done / total, elapsed time and an ETA, per step.

On a terminal one line per step is redrawn in place; otherwise (a log file, a pipe, a service's journal) a
full line is printed when a step starts, at most every ``interval`` seconds while it runs
(``ZKCLEAR_PROGRESS_SECONDS``, default 10) and when it ends. The ETA is computed from the items finished since
the step started in this run, so work resumed from disk (counted at once) does not make it optimistic.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

DEFAULT_INTERVAL = 10.0


def clock(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressReporter:
    """Feed it ``update(step, done, total)``; use as a context manager so the last line is finished."""

    def __init__(self, stream: TextIO | None = None, *, interval: float | None = None,
                 terminal: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        env = os.environ.get("ZKCLEAR_PROGRESS_SECONDS")
        self.interval = interval if interval is not None else float(env) if env else DEFAULT_INTERVAL
        self._step: str | None = None
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._baseline: tuple[float, int] | None = None
        self._shown = 0.0

    def line(self, now: float | None = None) -> str:
        """The current step's progress line."""
        now = time.monotonic() if now is None else now
        percent = 100 * self._done // self._total if self._total else 100
        text = f"  {self._step}  {self._done}/{self._total} ({percent}%), elapsed {clock(now - self._started)}"
        if self._done >= self._total:
            return text + ", done"
        if self._baseline is not None:
            since, base = self._baseline
            rate = (self._done - base) / (now - since) if now > since else 0.0
            if rate > 0:
                return text + f", ETA {clock((self._total - self._done) / rate)}"
        return text + ", ETA unknown"

    def update(self, step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if step != self._step:
            self._finish()
            self._step, self._total, self._started = step, total, now
            self._baseline = None
            self._done = done
            self._shown = 0.0
            self._show(now, force=True)
            self._baseline = (now, done)
            return
        self._done, self._total = done, total
        self._show(now, force=done >= total)

    def _show(self, now: float, *, force: bool) -> None:
        if self.terminal:
            if force or now - self._shown >= 0.2:
                self.stream.write("\r" + self.line(now).ljust(100))
                self.stream.flush()
                self._shown = now
        elif force or now - self._shown >= self.interval:
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()
            self._shown = now

    def _finish(self) -> None:
        if self._step is None:
            return
        if self._done < self._total:
            self._show(time.monotonic(), force=True)
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()
        self._step = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
