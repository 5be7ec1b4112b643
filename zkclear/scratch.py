"""A deployment's private scratch folders: ``private/scratch/run-PID/`` holds the working files of the process
``PID`` (an ``epoch run``'s copy of fills.csv and its parsed batches, an ``epoch prove``'s copy of the accounts and
its placement). Each use gets its own folder inside, removed when the use ends; the folders of processes that are
gone (killed) are removed by the next use, a live process's are left alone: each use holds a lock on its
``run-PID`` (:func:`~zkclear.locks.shared_lock`), which tells a live one from a dead one also when the PID names no
process here (another PID namespace: a container sharing the deployment). No link there is followed: a
``run-PID`` that is a link or a file is removed as a leftover, and a ``scratch`` that is a link or a file is refused
(the copies hold balances: they stay in the private folder)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from zkclear.errors import InputError, LedgerError
from zkclear.files import private_folder, require_no_link
from zkclear.locks import is_locked, shared_lock

SCRATCH_DIR = "scratch"

_mine: set[Path] = set()  # the run folders this process has made (any other with its PID is a dead one's)


def remove_dead_runs(scratch_root: Path) -> None:
    """Remove the scratch folders (``run-PID``) of processes that are gone; a live one's folder is left alone."""
    if not scratch_root.is_dir():
        return
    for folder in scratch_root.glob("run-*"):
        pid = folder.name.removeprefix("run-")
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            if not is_locked(folder):  # else in use by a process of another PID namespace
                _remove(folder)
        except (PermissionError, OverflowError):
            continue


def _remove(path: Path) -> None:
    """Remove what stands at ``path``: a folder with its files, or a file or a link (never what a link points at:
    ``shutil.rmtree`` refuses a link, silently here)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        with contextlib.suppress(OSError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _require_scratch_root(scratch_root: Path) -> None:
    """InputError naming ``scratch_root`` when something other than a folder stands there."""
    require_no_link(scratch_root, under=scratch_root.parent)  # the copies hold the accounts' balances
    if scratch_root.exists() and not scratch_root.is_dir():
        raise InputError("not a folder: zkclear keeps its working files there; remove it", path=str(scratch_root))


@contextlib.contextmanager
def scratch_folder(private: Path) -> Iterator[Path]:
    """A new empty folder in ``private/scratch/run-PID/``, removed with its files when the block ends; the
    ``scratch`` folder (and ``private`` if this made it) is removed too when nothing else is in it."""
    scratch_root = private / SCRATCH_DIR
    had_private = private.exists()
    private_folder(private)  # the copies below are the accounts' balances: no other local user may read them
    _require_scratch_root(scratch_root)
    remove_dead_runs(scratch_root)
    run = scratch_root / f"run-{os.getpid()}"
    if run not in _mine or run.is_symlink():  # left by a dead process that had this PID, or planted
        _remove(run)
        _mine.add(run)
    run.mkdir(parents=True, exist_ok=True)
    with shared_lock(run):  # held while in use: no other process removes it, whatever PID it sees
        folder = Path(tempfile.mkdtemp(dir=run))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            for parent, keep in ((run, False), (scratch_root, False), (private, had_private)):
                if not keep:
                    with contextlib.suppress(OSError):  # other files in it: it stays
                        parent.rmdir()


@contextlib.contextmanager
def naming_database_errors(path: Path, what: str) -> Iterator[None]:
    """An SQLite error of the block in the scratch database ``path`` (a full disk: ``database or disk is full``,
    which names no file) as one :class:`~zkclear.errors.LedgerError` naming it and ``what`` failed."""
    try:
        yield
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: {what} failed: {exc}") from exc
