"""Worker processes end with the process that started them.

A coordinator killed with ``kill -9`` cannot tell its pool workers to stop; without help they are re-parented
to PID 1 and keep proving for minutes. :func:`bind_to_parent` runs first in every worker the executor starts:

- on Linux it asks the kernel to send SIGKILL to the worker when its parent dies
  (``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through ctypes), then checks the parent is still the one it was
  started by (it may have died in between);
- elsewhere, or when prctl is unavailable, a daemon watchdog thread polls ``os.getppid()`` every
  ``poll_seconds`` and ends the worker when the parent pid changes.

A worker started through a fork server (``multiprocessing``'s ``forkserver`` start method, Python 3.14's default on
Linux) is the fork server's child, not the coordinator's: the kernel's signal then follows the fork server (which
ends with the coordinator), and a watchdog thread polls the coordinator itself. (Every such worker took its
parent for dead and exited at once: the pool broke four times and the prove failed, "out of memory?".)
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

#: prctl option: signal to deliver when the parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def _prctl_parent_death_signal(signal_number: int) -> bool:
    """True when the kernel will deliver ``signal_number`` to this process on its parent's death."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signal_number, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user took the number: this one's coordinator is gone
        return False
    return True


def _watch_parent(parent_pid: int, poll_seconds: float, direct: bool) -> None:
    while True:
        time.sleep(poll_seconds)
        if (os.getppid() != parent_pid) if direct else not _alive(parent_pid):
            os._exit(1)


def bind_to_parent(parent_pid: int, poll_seconds: float = 1.0) -> str:
    """Make this process end when ``parent_pid`` (the coordinator that started it: its parent, or its fork server's)
    ends; returns the mechanism used (``"prctl"``, ``"watchdog"``, or both for a fork server's child). Exits at once
    if the coordinator is already gone."""
    mechanism = "prctl" if _prctl_parent_death_signal(signal.SIGKILL) else "watchdog"
    direct = os.getppid() == parent_pid
    if not direct:
        if not _alive(parent_pid):  # the coordinator died before the signal was armed (or a fork server's did)
            os._exit(1)
        mechanism = "prctl+watchdog" if mechanism == "prctl" else "watchdog"
    if mechanism != "prctl":
        threading.Thread(target=_watch_parent, args=(parent_pid, poll_seconds, direct), daemon=True,
                         name="zkclear-parent-watchdog").start()
    return mechanism
