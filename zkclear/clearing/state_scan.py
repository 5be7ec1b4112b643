"""A stored state's canonical bytes read in one sequential pass, a block at a time (issue 15, item 2).

The layout is :mod:`zkclear.clearing.state`'s: ``{"accounts":[ROW,ROW,...]`` (each account row ends with
``]]``), then, with collateral assets, ``,"assets":{"balances":[ROW,...]`` (each balances row ends with ``]``),
then the rest of the record (instruments, totals, ...), whose size does not depend on the accounts. An array
ends at the first ``]]]`` (``]]`` for balances) and its rows are split at ``]],[`` (``],[``): account ids and
modes hold no brackets, the rest are integers. Each row is handed to the caller as bytes, so what is held is one
block and one row, never the record; the record without its rows (the *header*) is returned at the end.

Rows are checked by :func:`account_row` / :func:`balances_row`: each must be the canonical encoding of what it
decodes to, with JSON integers only (``true`` is not 1) in the int64 range of the state's arrays, and the header
must be canonical too — a damaged or edited ledger is a :class:`LedgerError`, as for
:meth:`~zkclear.clearing.state.EpochState.from_canonical_bytes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from zkclear.clearing.state import _ACCOUNTS_HEAD, _BALANCES_HEAD, canonical_json
from zkclear.errors import LedgerError

#: bytes read from the blob at a time
BLOCK = 1 << 20

Row = Callable[[bytes], None]


class _Blocks:
    """The unread part of a byte stream (``read(n)`` returns ``b""`` at its end), a block at a time."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buffer = b""
        self._at = 0

    def _more(self) -> bool:
        block = self._read(BLOCK)
        if not block:
            return False
        self._buffer = self._buffer[self._at:] + block
        self._at = 0
        return True

    def _fill(self, size: int) -> None:
        while len(self._buffer) - self._at < size and self._more():
            pass

    def startswith(self, prefix: bytes) -> bool:
        self._fill(len(prefix))
        return self._buffer.startswith(prefix, self._at)

    def skip(self, size: int) -> None:
        self._at += size

    def rows(self, row_end: bytes, each: Row) -> int:
        """Hand each row of the array starting here to ``each``; returns how many there were."""
        count = 0
        for row in self.iter_rows(row_end):
            each(row)
            count += 1
        return count

    def iter_rows(self, row_end: bytes) -> Iterator[bytes]:
        """The rows of the array starting here, one at a time (the stream is past the array when exhausted)."""
        if self.startswith(b"]"):
            self.skip(1)
            return
        separator, end = row_end + b",[", row_end + b"]"
        searched = self._at
        while True:
            split = self._buffer.find(separator, searched)
            # the array's end only matters before the next split: search no further (not to the block's end)
            last = self._buffer.find(end, searched, len(self._buffer) if split < 0 else split + len(end))
            if split < 0 and last < 0:
                searched = max(self._at, len(self._buffer) - len(separator)) - self._at
                if not self._more():
                    raise ValueError("an array of accounts does not end")
                searched += self._at
                continue
            found = last if split < 0 or 0 <= last < split else split
            row = self._buffer[self._at:found + len(row_end)]
            if found == last:
                self._at = found + len(end)
                yield row
                return
            self._at = searched = found + len(row_end) + 1
            yield row

    def rest(self) -> bytes:
        parts = [self._buffer[self._at:]]
        while block := self._read(BLOCK):
            parts.append(block)
        self._buffer, self._at = b"", 0
        return b"".join(parts)


def scan_state(read: Callable[[int], bytes], on_account: Row, on_balances: Row) -> tuple[int, int | None, dict]:
    """Read a state's canonical bytes from ``read`` once: each account row to ``on_account``, each balances row
    to ``on_balances``, in order. Returns ``(accounts, balances rows or None without collateral assets, the
    record without its rows)``; :class:`LedgerError` if the bytes are not a state's layout."""
    blocks = _Blocks(read)
    try:
        if not blocks.startswith(_ACCOUNTS_HEAD):
            raise ValueError("not a state record")
        blocks.skip(len(_ACCOUNTS_HEAD))
        accounts = blocks.rows(b"]]", on_account)
        skeleton, balances = _ACCOUNTS_HEAD + b"]", None
        if blocks.startswith(_BALANCES_HEAD):
            blocks.skip(len(_BALANCES_HEAD))
            balances = blocks.rows(b"]", on_balances)
            skeleton += _BALANCES_HEAD + b"]"
        skeleton += blocks.rest()
        header = json.loads(skeleton)
    except ValueError as exc:
        raise LedgerError(f"stored state does not decode: {exc}") from exc
    if type(header) is not dict:
        raise LedgerError("stored state does not decode: the record is not an object")
    if canonical_json(header) != skeleton:
        raise LedgerError("stored state is not in canonical form")
    return accounts, balances, header


def paired_rows(read_accounts: Callable[[int], bytes], read_balances: Callable[[int], bytes]
                ) -> Iterator[tuple[bytes, bytes | None]]:
    """Each account row of a stored state with its balances row (None without collateral assets), in order, from
    two readers of the same bytes: the second skips the accounts to the balances, then both advance in step, so
    what is held is two blocks and two rows. LedgerError if the layout is not a state's or the counts differ;
    rows are checked by their decoders (:func:`account_row`, :func:`balances_row`), the rest of the record is not
    read."""
    accounts, balances = _Blocks(read_accounts), _Blocks(read_balances)
    try:
        for blocks in (accounts, balances):
            if not blocks.startswith(_ACCOUNTS_HEAD):
                raise ValueError("not a state record")
            blocks.skip(len(_ACCOUNTS_HEAD))
        for _ in balances.iter_rows(b"]]"):
            pass
        with_balances = balances.startswith(_BALANCES_HEAD)
        if with_balances:
            balances.skip(len(_BALANCES_HEAD))
        balance_rows = balances.iter_rows(b"]") if with_balances else None
        for row in accounts.iter_rows(b"]]"):
            yield row, None if balance_rows is None else next(balance_rows)
        if balance_rows is not None and next(balance_rows, None) is not None:
            raise ValueError("more balances rows than accounts")
    except (ValueError, StopIteration) as exc:
        raise LedgerError(f"stored state does not decode: {exc or 'fewer balances rows than accounts'}") from None


def _decoded(text: bytes) -> object:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise LedgerError(f"stored state does not decode: {exc}") from exc
    if canonical_json(value) != text:
        raise LedgerError("stored state is not in canonical form")
    return value


def account_row(text: bytes, index: int) -> tuple[str, str, int, int, tuple[int, ...]]:
    """``(account id, margin mode, cash, net deposits, positions)`` of a stored account row."""
    record = _decoded(text)
    if type(record) is not list or len(record) != 5 or type(record[4]) is not list:
        raise LedgerError(f"stored state: account row {index} does not decode")
    account, mode, cash, deposits, positions = record
    if type(account) is not str or type(mode) is not str or not _int64s((cash, deposits, *positions)):
        raise LedgerError(f"stored state: account row {index} does not decode")
    return account, mode, cash, deposits, tuple(positions)


def balances_row(text: bytes, index: int) -> tuple[int, ...]:
    """The collateral balances of a stored balances row."""
    balances = _decoded(text)
    if type(balances) is not list or not _int64s(balances):
        raise LedgerError(f"stored state: balances row {index} does not decode")
    return tuple(balances)


def _int64s(values: Iterable[object]) -> bool:
    """Whether every value is a JSON integer (``true`` is not 1) in the int64 range of the state's arrays."""
    return all(type(value) is int and -(1 << 63) <= value < 1 << 63 for value in values)
