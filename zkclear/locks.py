"""The deployment's locks: ``flock`` on the deployment folder (read-modify-writes of a bundle never interleave) and on
the ledger file (one ``epoch prove`` at a time). The kernel releases a lock when its holder ends, even by kill -9."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from zkclear.errors import InputError


@contextlib.contextmanager
def _exclusive_flock(path: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path`` (a file or a directory) for the block; yields False when ``wait`` is off
    and another process holds it. The kernel releases it when the holder ends, even by kill -9. Where ``fcntl``
    does not exist (not POSIX) there is no lock (one operator command at a time)."""
    try:
        import fcntl
    except ImportError:
        yield True
        return
    descriptor = os.open(path, os.O_RDONLY)
    _HELD_LOCKS.add(descriptor)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        _HELD_LOCKS.discard(descriptor)
        os.close(descriptor)


#: The descriptors of the locks this process holds. A forked child (a worker of the process pool, which outlives
#: the prove that forked it) shares their open files, and a flock lasts while any descriptor of its open file
#: does: the child closes its copies, so each lock ends with the block that took it.
_HELD_LOCKS: set[int] = set()


def _close_inherited_locks() -> None:
    for descriptor in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


@contextlib.contextmanager
def deployment_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the deployment directory, waiting for it: read-modify-writes of a bundle
    (``epoch attest``, the publication of ``epoch prove``) never interleave, so no signature is lost to a
    concurrent writer."""
    with _exclusive_flock(root, wait=True):
        yield


@contextlib.contextmanager
def prove_lock(ledger_path: Path) -> Iterator[None]:
    """One ``epoch prove`` per deployment at a time: an exclusive lock on the ledger file, not waited for (SQLite
    locks with ``fcntl`` byte ranges, which are independent of ``flock``). A second prove is refused with one line
    instead of racing the first for the work folder."""
    with _exclusive_flock(ledger_path, wait=False) as held:
        if not held:
            raise InputError("another `epoch prove` is running on this deployment: wait for it to end (a killed one "
                             "releases its lock at once)", path=str(ledger_path.parent))
        yield


@contextlib.contextmanager
def shared_lock(path: Path) -> Iterator[None]:
    """Hold a shared ``flock`` on ``path`` (a folder in use: several uses by one process may hold it at once) for
    the block; :func:`is_locked` in another process is True meanwhile. The kernel releases it when the holder ends,
    even by kill -9. Without ``fcntl`` (not POSIX), no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    descriptor = os.open(path, os.O_RDONLY)
    _HELD_LOCKS.add(descriptor)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        _HELD_LOCKS.discard(descriptor)
        os.close(descriptor)


def is_locked(path: Path) -> bool:
    """Whether a process holds a lock on ``path`` (:func:`shared_lock`): a PID may name no process here and its
    holder still be at work (another PID namespace: a container sharing the folder). False when ``path`` is a link
    or cannot be opened, and without ``fcntl``."""
    if path.is_symlink():
        return False
    try:
        with _exclusive_flock(path, wait=False) as free:
            return not free
    except OSError:
        return False
