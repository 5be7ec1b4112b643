"""Which files some code opens, and in which folders SQLite's temporary files (``etilqs_*``: sort spills, temporary
tables, anonymous databases) are opened. SQLite deletes such a file as soon as it opens it, so no folder listing
shows it: the open descriptors (``/proc/self/fd``, Linux) do, and a thread looks at them every millisecond."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _descriptors() -> set[tuple[str, str]]:
    """(descriptor, the path it points at) of every open descriptor of this process."""
    found = set()
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            found.add((descriptor, os.readlink(f"/proc/self/fd/{descriptor}")))
        except OSError:  # closed meanwhile
            continue
    return found


def opened_paths(action: Callable[[], T]) -> tuple[T, set[str]]:
    """``(action(), every path a descriptor opened while it ran pointed at)`` (descriptors already open before, such
    as pytest's capture files, are left out); a file deleted once opened (SQLite's temporary files) shows with
    Linux's `` (deleted)`` suffix."""
    before = _descriptors()
    paths: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            paths.update(path for descriptor, path in _descriptors() - before)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = action()
    finally:
        done.set()
        watcher.join()
    return result, paths


def sqlite_temp_folders(action: Callable[[], T]) -> tuple[T, set[str]]:
    """``(action(), the folders SQLite opened temporary files in while it ran)``."""
    result, paths = opened_paths(action)
    return result, {path.rsplit("/etilqs_", 1)[0] for path in paths if "/etilqs_" in path}
