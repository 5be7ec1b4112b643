"""Progress of long steps (proving an epoch, auditing one) as plain text, for terminals and logs alike.

``update(step, done, total)`` is the signature :func:`zkclear.proofs.epoch_prover.prove_epoch`, the streaming close
and the streaming audit report with. On a terminal one line per step is rewritten in place (at most every 0.2 s);
otherwise (a log, a pipe, CI, a service's journal) a line is written when a step starts, at every quarter of it,
for an update that comes ``interval`` seconds or more after the last line (``ZKCLEAR_PROGRESS_SECONDS``, default
10) and when it ends, each with the seconds elapsed, so a long close is not silent between its quarters (lines
come with updates: nothing is written while no item finishes). While a step runs the line also carries an ETA,
computed from the items finished since the step started in this run, so work resumed from disk (counted at once)
does not make it optimistic.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from zkclear.errors import ConfigurationError

DEFAULT_INTERVAL = 10.0
#: A terminal line is redrawn at most this often (seconds), and always at a step's start and end.
REDRAW = 0.2


def clock(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def interval_from_environment() -> float:
    """``ZKCLEAR_PROGRESS_SECONDS`` (default ``DEFAULT_INTERVAL``): ConfigurationError naming the variable when it is
    not a number of seconds, 0 or more (a typo ended `epoch prove` in an internal error, exit 3)."""
    text = os.environ.get("ZKCLEAR_PROGRESS_SECONDS")
    if not text:
        return DEFAULT_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:  # NaN too
        raise ConfigurationError(f"ZKCLEAR_PROGRESS_SECONDS={text!r}: expected a number of seconds, 0 or more "
                                 "(between two progress lines in a log)")
    return seconds


class ProgressLine:
    """Text progress for ``update(step, done, total)`` calls; call :meth:`finish` after the last step (or use it as
    a context manager). Log lines go through ``echo``; a terminal's line is written to ``stream``."""

    def __init__(self, echo: Callable[[str], None] = print, *, stream: TextIO | None = None,
                 interactive: bool | None = None, interval: float | None = None) -> None:
        self._echo = echo
        self._stream = stream if stream is not None else sys.stdout
        self._interactive = _is_terminal(self._stream) if interactive is None else interactive
        self._interval = interval if interval is not None else interval_from_environment()
        self._step: str | None = None
        self._started = 0.0
        self._baseline = (0.0, 0)
        self._quarter = -1
        self._shown = 0.0
        self._width = 0
        self._lost = False  # the output could not be written: no more progress lines (the work goes on)

    def line(self, step: str, done: int, total: int, now: float) -> str:
        """The progress line of ``step`` at ``now``: done/total, seconds elapsed and, while it runs, the ETA."""
        elapsed = now - self._started
        since, base = self._baseline
        rate = (done - base) / (now - since) if now > since else 0.0
        eta = f", ETA {clock((total - done) / rate)}" if done < total and rate > 0 else ""
        return f"   {step}: {done}/{total} ({elapsed:.0f}s{eta})"

    def update(self, step: str, done: int, total: int) -> None:
        now = time.monotonic()
        first = step != self._step
        if first:
            self.finish()
            self._step, self._started, self._baseline, self._quarter = step, now, (now, done), -1
        text = self.line(step, done, total, now)
        if self._interactive:
            if first or done >= total or now - self._shown >= REDRAW:
                self._show(lambda: self._redraw("\r" + text.ljust(self._width)))
                self._width, self._shown = len(text), now
            return
        quarter = 4 * done // total if total else 4
        if quarter > self._quarter or now - self._shown >= self._interval:
            self._quarter = max(quarter, self._quarter)
            self._shown = now
            self._show(lambda: self._echo(text))

    def finish(self) -> None:
        """End the current step (a terminal's line is closed); the next update starts a new one."""
        if self._interactive and self._width:
            self._show(lambda: self._redraw("\n"))
        self._step, self._width = None, 0

    def _redraw(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def _show(self, write: Callable[[], None]) -> None:
        """Run ``write``; an output that can no longer be written (a log reader or a pipe gone: EPIPE; a full disk)
        ends the progress lines, never the work they report on (a prove of hours was lost, silently, when the
        program reading its log ended)."""
        if self._lost:
            return
        try:
            write()
        except OSError:
            self._lost = True

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
