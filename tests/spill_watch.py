"""Which folders SQLite's temporary files (``etilqs_*``: sort spills, temporary tables, anonymous databases) are
opened in while some code runs. SQLite deletes such a file as soon as it opens it, so no folder listing shows it:
the open descriptors (``/proc/self/fd``, Linux) do, and a thread looks at them every millisecond."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def sqlite_temp_folders(action: Callable[[], T]) -> tuple[T, set[str]]:
    """``(action(), the folders SQLite opened temporary files in while it ran)``."""
    folders: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for descriptor in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{descriptor}")
                except OSError:  # closed meanwhile
                    continue
                if "/etilqs_" in target:
                    folders.add(target.rsplit("/etilqs_", 1)[0])
            time.sleep(0.001)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = action()
    finally:
        done.set()
        watcher.join()
    return result, folders
