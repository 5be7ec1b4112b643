"""Record ids that must be distinct across an epoch read in batches.

The first batch's ids are held in a dictionary (an epoch that fits one batch never touches a database); from
the second batch on they move to a SQLite database in the folder the batches' source names (its private scratch
folder: ``private/scratch/run-PID/…`` for ``epoch run``), removed when closed, so the memory this takes does not
grow with the number of records. Never SQLite's anonymous temporary database: SQLite writes that to ``/var/tmp``
or ``/tmp`` once it outgrows its cache, where the venue's fill ids would sit outside its private folder and stay
after a kill -9 (a killed run's scratch folder is removed by the next run, :mod:`zkclear.scratch`). A source with
no folder (fills held in memory) keeps the ids in memory. A repeated id raises one
:class:`~zkclear.errors.InputError` naming the record, its line and the line of the first one.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from zkclear.errors import InputError, LedgerError

#: below SQLite's default limit on bound parameters
_QUERY_CHUNK = 900


class DistinctIds:
    """Feed it the ids of each batch in input order (:meth:`add`); close it (or use it as a context manager)
    when done."""

    def __init__(self, field: str, folder: Path | None = None) -> None:
        self._field = field
        self._folder = folder
        self._first: dict[str, int] | None = {}
        self._db: sqlite3.Connection | None = None
        self._path: Path | None = None

    def __enter__(self) -> DistinctIds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close and delete the database (if one was made); also after an error."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def add(self, ids: Sequence[str], line: Callable[[int], int], path: str) -> None:
        """Record ``ids`` (``line(k)`` is the input line of ``ids[k]`` in ``path``); :class:`InputError` on the
        first id already seen, in this batch or an earlier one."""
        batch: dict[str, int] = {}
        if len(set(ids)) != len(ids):
            for k, record_id in enumerate(ids):
                if record_id in batch:
                    self._refuse(record_id, line(k), batch[record_id], path)
                batch[record_id] = line(k)
        earlier = self.earlier(ids)
        if earlier:
            k = next(k for k, record_id in enumerate(ids) if record_id in earlier)
            self._refuse(ids[k], line(k), earlier[ids[k]], path)
        self.record({record_id: line(k) for k, record_id in enumerate(ids)})

    def earlier(self, ids: Sequence[str]) -> dict[str, int]:
        """The ids among ``ids`` that earlier batches recorded, each with its line (nothing is recorded): for a
        caller that checks its records one by one, in order, with other checks between."""
        if self._first is not None:
            first = self._first
            return {record_id: first[record_id] for record_id in ids if record_id in first}
        found: dict[str, int] = {}
        with self._naming_errors():
            for start in range(0, len(ids), _QUERY_CHUNK):
                chunk = list(ids[start:start + _QUERY_CHUNK])
                found.update(self._db.execute(  # type: ignore[union-attr]  # exists once _first is None
                    f"SELECT id, line FROM ids WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall())
        return found

    def record(self, lines: Mapping[str, int]) -> None:
        """Record a batch's ids (each with its line), already checked distinct from every earlier batch's."""
        if self._first is not None and not self._first:  # the first batch: keep it in memory
            self._first = dict(lines)
            return
        with self._naming_errors():
            self._database().executemany("INSERT INTO ids VALUES (?, ?)", lines.items())

    @contextmanager
    def _naming_errors(self) -> Iterator[None]:
        """A database error (a full disk: ``database or disk is full``) as a :class:`LedgerError` naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            where = self._path or self._folder or "memory"
            raise LedgerError(f"{where}: the working database of {self._field.replace('_', ' ')}s failed: {exc}"
                              ) from exc

    def _database(self) -> sqlite3.Connection:
        if self._db is None:
            if self._folder is None:
                self._db = sqlite3.connect(":memory:")
            else:
                self._folder.mkdir(parents=True, exist_ok=True)
                descriptor, name = tempfile.mkstemp(prefix=f"distinct-{self._field}-", suffix=".sqlite",
                                                    dir=self._folder)
                os.close(descriptor)  # an empty file is an empty database
                self._path = Path(name)
                self._db = sqlite3.connect(self._path)
            # scratch: nothing to journal or sync; a statement's temporary tables (the IN lists below) stay in
            # memory, never in /var/tmp
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = MEMORY"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")
            self._db.executemany("INSERT INTO ids VALUES (?, ?)", (self._first or {}).items())
            self._first = None
        return self._db

    def _refuse(self, record_id: str, at: int, first: int, path: str) -> None:
        raise InputError(f"duplicate {self._field.replace('_', ' ')} {record_id!r} (first at line {first})",
                         path=path, line=at, field=self._field)
