"""The accounts of a stored state copied, row by row, into a private scratch SQLite database (issue 15, item 2).

``zkclear epoch prove`` reads the accounts many times and in the tree's order, not the ledger's. Holding the
stored state's bytes would cost about 0.1 KB per account; instead the state is read once from the ledger, a
block at a time (:func:`~zkclear.clearing.state_scan.scan_state`), every row checked as it passes, and each row
written to a scratch database (``accounts(idx, id, row)`` and ``balances(idx, row)``, keyed by the account's
index in the state). An account is then one indexed read. What is held is SQLite's page cache (a few MB, set by
SQLite, not by the accounts) and a batch of rows being written.

The ids are sorted by an index on ``id`` made before the rows are written, not by ``ORDER BY`` over the table:
SQLite spills a large sort to the system's temporary folder (``/var/tmp``, ``/tmp``; ``SQLITE_TMPDIR`` is read
once, when SQLite starts, and ``temp_store_directory`` is deprecated), which would put the account ids outside the
private folder. With no sort left, ``temp_store = MEMORY`` keeps the little that is temporary (a statement's
journal) in memory.

The file is private (it holds balances) and temporary: the caller puts it in the deployment's
``private/scratch/`` and removes it when done (a killed run's folder is removed by the next run).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import numpy as np

from zkclear.clearing.state import EpochState, _header_fields, frozen_array
from zkclear.clearing.state_scan import account_row, balances_row, scan_state
from zkclear.errors import LedgerError
from zkclear.scratch import naming_database_errors

#: rows written to the scratch database per statement
_BATCH = 4096

AccountRow = tuple[str, str, int, int, tuple[int, ...], tuple[int, ...]]


class ScratchAccounts:
    """A state's accounts in a scratch database (see the module docstring); close it when done."""

    def __init__(self, db: sqlite3.Connection, count: int, has_balances: bool, header: EpochState) -> None:
        self._db = db
        self._count = count
        self._has_balances = has_balances
        self.header = header

    @classmethod
    def copy(cls, read: Callable[[int], bytes], path: Path) -> ScratchAccounts:
        """Read a state's canonical bytes from ``read`` (a blob's ``read``) into a new database at ``path``;
        :class:`LedgerError` on the first row or part that does not decode (nothing is kept then)."""
        with naming_database_errors(path, "the scratch copy of the accounts"):  # a full disk names the file
            return cls._copy(read, path)

    @classmethod
    def _copy(cls, read: Callable[[int], bytes], path: Path) -> ScratchAccounts:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("PRAGMA temp_store = MEMORY")
            db.execute("CREATE TABLE accounts (idx INTEGER PRIMARY KEY, id TEXT NOT NULL, row BLOB NOT NULL)")
            db.execute("CREATE INDEX accounts_by_id ON accounts (id)")
            db.execute("CREATE TABLE balances (idx INTEGER PRIMARY KEY, row BLOB NOT NULL)")
            accounts = _Writer(db, "INSERT INTO accounts VALUES (?, ?, ?)", _account_values)
            balances = _Writer(db, "INSERT INTO balances VALUES (?, ?)", _balances_values)
            header, count, has_balances = _scanned(read, accounts.add, balances.add)
            accounts.flush()
            balances.flush()
            db.commit()
        except BaseException:
            db.close()
            path.unlink(missing_ok=True)
            raise
        return cls(db, count, has_balances, header)

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return self._count

    def row(self, index: int) -> AccountRow:
        """``(account id, margin mode, cash, net deposits, positions, collateral balances)`` of account ``index``."""
        found = self._db.execute("SELECT row FROM accounts WHERE idx = ?", (index,)).fetchone()
        if found is None:
            raise IndexError(index)
        balances: tuple[int, ...] = ()
        if self._has_balances:
            (text,) = self._db.execute("SELECT row FROM balances WHERE idx = ?", (index,)).fetchone()
            balances = balances_row(text, index)
        return (*account_row(found[0], index), balances)

    def rows(self, indices: Sequence[int]) -> list[AccountRow]:
        """:meth:`row` of every index in ``indices``, in that order, in one query per table (a chunk's accounts)."""
        wanted = sorted(set(indices))
        marks = ",".join("?" * len(wanted))
        found = dict(self._db.execute(f"SELECT idx, row FROM accounts WHERE idx IN ({marks})", wanted))
        held = (dict(self._db.execute(f"SELECT idx, row FROM balances WHERE idx IN ({marks})", wanted))
                if self._has_balances else {})
        out = []
        for index in indices:
            if index not in found:
                raise IndexError(index)
            balances = balances_row(held[index], index) if self._has_balances else ()
            out.append((*account_row(found[index], index), balances))
        return out

    def account_id(self, index: int) -> str:
        found = self._db.execute("SELECT id FROM accounts WHERE idx = ?", (index,)).fetchone()
        if found is None:
            raise IndexError(index)
        return found[0]

    def account_ids(self) -> Iterator[str]:
        """The ids in the state's order."""
        for (account,) in self._db.execute("SELECT id FROM accounts ORDER BY idx"):
            yield account

    def sorted_account_ids(self) -> Iterator[str]:
        """The ids in code point order (as ``sorted``: SQLite compares UTF-8 bytes), read from the index on ``id``
        (no sort, so no spill file outside the private folder)."""
        for (account,) in self._db.execute("SELECT id FROM accounts ORDER BY id"):
            yield account


class _Writer:
    """Rows checked and written :data:`_BATCH` at a time."""

    def __init__(self, db: sqlite3.Connection, statement: str, values: Callable[[bytes, int], tuple]) -> None:
        self._db, self._statement, self._values = db, statement, values
        self._pending: list[tuple] = []
        self._count = 0

    def add(self, text: bytes) -> None:
        self._pending.append(self._values(text, self._count))
        self._count += 1
        if len(self._pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        self._db.executemany(self._statement, self._pending)
        self._pending = []


def _account_values(text: bytes, index: int) -> tuple:
    return index, account_row(text, index)[0], text


def _balances_values(text: bytes, index: int) -> tuple:
    balances_row(text, index)
    return index, text


def state_header(read: Callable[[int], bytes]) -> tuple[EpochState, int]:
    """``(the state read from read as an EpochState holding no account, how many accounts it holds)``: the
    instruments, settlement prices, funding indices, totals and price history (what the epoch's public inputs
    are built from), in one pass that holds no row and decodes none."""
    header, count, _ = _scanned(read, _skip, _skip)
    return header, count


def named_accounts(read: Callable[[int], bytes], ids: Collection[str]) -> dict[str, tuple[int, tuple[int, ...]]]:
    """``account id -> (cash, positions)`` of the accounts named in ``ids`` that the state read from ``read``
    holds (:func:`header_and_named_accounts`)."""
    return header_and_named_accounts(read, ids)[2]


def header_and_named_accounts(read: Callable[[int], bytes], ids: Collection[str]
                              ) -> tuple[EpochState, int, dict[str, tuple[int, tuple[int, ...]]]]:
    """``(the state without accounts, how many accounts it holds, account id -> (cash, positions) of the accounts
    named in ids that it holds)``, read from ``read`` in one pass that decodes only those rows (a row starts with
    its canonical id) and holds no other."""
    prefixes = tuple(json.dumps([account])[:-1].encode("ascii") + b"," for account in ids)
    found: dict[str, tuple[int, tuple[int, ...]]] = {}

    def on_account(text: bytes) -> None:
        if text.startswith(prefixes):
            account, _mode, cash, _deposits, positions = account_row(text, len(found))
            if account in found:  # else whichever row came last would be reported
                raise LedgerError(f"stored state lists account {account!r:.80} twice")
            found[account] = (cash, positions)

    header, count, _ = _scanned(read, on_account, _skip)
    return header, count, found


def _skip(text: bytes) -> None:
    return None


def _scanned(read: Callable[[int], bytes], on_account: Callable[[bytes], None],
             on_balances: Callable[[bytes], None]) -> tuple[EpochState, int, bool]:
    count, balance_rows, record = scan_state(read, on_account, on_balances)
    if balance_rows is not None and balance_rows != count:
        raise LedgerError("stored state does not decode: the balances do not match the accounts")
    try:
        fields = _header_fields(record, balance_rows is not None)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise LedgerError(f"stored state does not decode: {exc}") from exc
    header = EpochState(**fields, accounts=(), margin_modes=(), cash=frozen_array(np.zeros(0, dtype=np.int64)),
                        positions=frozen_array(np.zeros((0, len(fields["instruments"])), dtype=np.int64)),
                        net_deposits=frozen_array(np.zeros(0, dtype=np.int64)))
    return header, count, balance_rows is not None
