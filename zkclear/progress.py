"""Progress of long steps (proving an epoch) as plain text, for terminals and logs alike.

``update(step, done, total)`` is the signature :func:`zkclear.proofs.epoch_prover.prove_epoch` reports
with. On a terminal one line is rewritten in place; otherwise (a log, a pipe, CI) a line is written when
a step starts, at every quarter of it and when it ends, each with the seconds elapsed, so a long close is
never silent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressLine:
    """Text progress for ``update(step, done, total)`` calls; call :meth:`finish` after the last step."""

    def __init__(self, echo: Callable[[str], None] = print, *, stream: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        self._echo = echo
        self._stream = stream if stream is not None else sys.stdout
        self._interactive = _is_terminal(self._stream) if interactive is None else interactive
        self._step: str | None = None
        self._started = 0.0
        self._quarter = -1
        self._open = False

    def update(self, step: str, done: int, total: int) -> None:
        if step != self._step:
            self.finish()
            self._step, self._started, self._quarter = step, time.perf_counter(), -1
        elapsed = time.perf_counter() - self._started
        text = f"   {step}: {done}/{total} ({elapsed:.0f}s)"
        if self._interactive:
            self._stream.write("\r" + text)
            self._stream.flush()
            self._open = True
            return
        quarter = 4 * done // total if total else 4
        if quarter > self._quarter:
            self._quarter = quarter
            self._echo(text)

    def finish(self) -> None:
        """End the current line (on a terminal); the next update starts a new one."""
        if self._open:
            self._stream.write("\n")
            self._stream.flush()
            self._open = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
