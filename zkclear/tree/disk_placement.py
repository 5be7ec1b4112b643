"""The placement of :mod:`zkclear.tree.placement` with SQLite doing the sort (issue 15, item 2).

The same placement as :func:`~zkclear.tree.placement.placement_arrays` (tests pin it), computed without holding
a tag or an index per account:

1. each account's tag is written with its index to a table ``tags(account, tag)``; an index on ``(tag,
   account)``, made before the rows are written, is SQLite's on-disk sort; a repeated tag is a repeated id (the
   first, in input order, is named);
2. the accounts are dealt in tag order, read from that index: ``chunk = rank mod K`` with ``rank`` counted
   from 0 (table ``dealt``, indexed by ``(chunk, tag)``, again made before its rows);
3. each chunk's slots are its occupants (read one chunk at a time, already in tag order) merged with its
   padding tags, stored as one row ``chunk_slots(k, slots)`` per chunk in position order, and read back one
   chunk at a time when the chunk is proven.

What is held in memory is the chunk positions — K = O(N / 2^c) small integers, and the set of positions taken
while placing — plus SQLite's page cache. No statement sorts or buffers rows (no ``CREATE INDEX`` over written
rows, no window function): SQLite would write those spill files to the system's temporary folder (``/var/tmp``,
``/tmp``; ``SQLITE_TMPDIR`` is read once, when SQLite starts), outside the private scratch folder the database is
in; ``temp_store = MEMORY`` keeps what is left (a statement's own journal) in memory. Operator side only: the
verifier imports :mod:`zkclear.tree.placement`, never this module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zkclear.scratch import naming_database_errors
from zkclear.tree.placement import (
    TreeConfig,
    account_tag,
    chunk_positions,
    chunk_slot_order,
    duplicate_id_error,
    require_account_id,
)

#: rows written per statement
_BATCH = 4096


@dataclass(frozen=True, slots=True)
class DiskPlacement:
    """A placement whose slots are on disk. ``positions[k]`` is chunk k's position (increasing, like
    ``placement_arrays``'s); :meth:`slots` reads chunk k's slots. Close it when done."""

    config: TreeConfig
    positions: np.ndarray
    database: sqlite3.Connection

    def slots(self, k: int) -> list[int]:
        """Chunk k's slots: the index of the account in each slot, -1 for a padding account."""
        (row,) = self.database.execute("SELECT slots FROM chunk_slots WHERE k = ?", (k,)).fetchone()
        return np.frombuffer(row, dtype=np.int64).tolist()

    def close(self) -> None:
        self.database.close()


def place_on_disk(account_ids: Sequence[str], config: TreeConfig, placement_key: bytes,
                  path: Path) -> DiskPlacement:
    """Place every account of ``account_ids`` (iterated once in order; indexed only to name a repeated id) in a
    new database at ``path``, in a folder that exists and is private (a deployment's private scratch folder,
    :mod:`zkclear.scratch`: the placement orders the accounts). The file is removed if placing fails; after
    :meth:`DiskPlacement.close`, removing it is the caller's (the scratch folder's) job."""
    with naming_database_errors(path, "the scratch placement of the accounts"):  # a full disk names the file
        return _place_on_disk(account_ids, config, placement_key, path)


def _place_on_disk(account_ids: Sequence[str], config: TreeConfig, placement_key: bytes,
                   path: Path) -> DiskPlacement:
    database = sqlite3.connect(path)
    try:
        database.execute("PRAGMA journal_mode = OFF")
        database.execute("PRAGMA synchronous = OFF")
        database.execute("PRAGMA temp_store = MEMORY")  # nothing below needs more than a statement's own state
        database.execute("CREATE TABLE tags (account INTEGER PRIMARY KEY, tag BLOB NOT NULL)")
        database.execute("CREATE INDEX tags_by_tag ON tags (tag, account)")
        count = _write_tags(database, account_ids, placement_key)
        repeated = _first_repeated(database)
        if repeated is not None:
            raise duplicate_id_error(account_ids, repeated)
        database.execute("CREATE TABLE dealt (chunk INTEGER NOT NULL, tag BLOB NOT NULL, account INTEGER NOT NULL)")
        database.execute("CREATE INDEX dealt_by_chunk ON dealt (chunk, tag)")
        n_chunks = config.chunk_count(count)
        _deal(database, n_chunks)
        database.execute("DROP TABLE tags")
        positions = chunk_positions(config, placement_key, n_chunks)
        by_position = np.argsort(positions, kind="stable")
        database.execute("CREATE TABLE chunk_slots (k INTEGER PRIMARY KEY, slots BLOB NOT NULL)")
        rows: list[tuple[int, bytes]] = []
        for k, chunk in enumerate(by_position.tolist()):
            occupants = database.execute("SELECT tag, account FROM dealt WHERE chunk = ? ORDER BY tag",
                                         (chunk,)).fetchall()
            slots = chunk_slot_order(placement_key, config, chunk, occupants)
            rows.append((k, np.array(slots, dtype=np.int64).tobytes()))
            if len(rows) >= _BATCH:
                database.executemany("INSERT INTO chunk_slots VALUES (?, ?)", rows)
                rows = []
        database.executemany("INSERT INTO chunk_slots VALUES (?, ?)", rows)
        database.execute("DROP TABLE dealt")
        database.commit()
        sorted_positions = positions[by_position]
        del positions, by_position
    except BaseException:
        database.close()
        path.unlink(missing_ok=True)
        raise
    return DiskPlacement(config, sorted_positions, database)


#: the tags in the order of their index: read without a sort
_IN_TAG_ORDER = "SELECT tag, account FROM tags ORDER BY tag, account"


def _first_repeated(database: sqlite3.Connection) -> int | None:
    """The smallest index of an account whose tag the account before it in tag order has (None: all distinct)."""
    repeated, before = None, None
    for tag, account in database.execute(_IN_TAG_ORDER):
        if tag == before and (repeated is None or account < repeated):
            repeated = account
        before = tag
    return repeated


def _deal(database: sqlite3.Connection, n_chunks: int) -> None:
    """Deal the accounts in tag order: the account of rank r (from 0) goes to chunk ``r mod n_chunks``."""
    rows: list[tuple[int, bytes, int]] = []
    for rank, (tag, account) in enumerate(database.execute(_IN_TAG_ORDER)):
        rows.append((rank % n_chunks, tag, account))
        if len(rows) >= _BATCH:
            database.executemany("INSERT INTO dealt VALUES (?, ?, ?)", rows)
            rows = []
    database.executemany("INSERT INTO dealt VALUES (?, ?, ?)", rows)


def _write_tags(database: sqlite3.Connection, account_ids: Sequence[str], placement_key: bytes) -> int:
    """Write ``(index, tag)`` of every account; returns how many there were."""
    rows: list[tuple[int, bytes]] = []
    count = 0
    for index, account_id in enumerate(account_ids):
        require_account_id(account_id, index)
        rows.append((index, account_tag(placement_key, account_id)))
        count += 1
        if len(rows) >= _BATCH:
            database.executemany("INSERT INTO tags VALUES (?, ?)", rows)
            rows = []
    database.executemany("INSERT INTO tags VALUES (?, ?)", rows)
    return count
