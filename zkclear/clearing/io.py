"""Strict parsers for the engine's input files (formats in docs/format.md).

- deployment configuration: TOML (``tomllib``), unknown keys and wrong types rejected;
- per epoch: ``accounts.csv`` (optional), ``fills.csv``, ``prices.csv`` or ``prices.json``, ``transfers.csv``
  (optional), ``margins.csv`` (optional), ``vols.csv`` (required when options are live), loaded together by
  :func:`load_epoch`.

Every problem raises one :class:`~zkclear.errors.InputError` naming the file, the line and the field. Integers
are written in plain decimal (``-?[0-9]+``); no floats, exponents, signs other than a leading ``-``, or
spaces. Prices in files are in *price units* and must be multiples of the instrument's ``tick_size``; sizes
are in *quantity units* and must be multiples of its ``lot_size``; the parser converts them to ticks and lots.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import stat
import sys
import tomllib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zkclear.clearing.assets import (
    ASSET_IDENTIFIER,
    DEFAULT_CONVERSION_PENALTY_PPM,
    MAX_DECIMALS,
    CollateralAsset,
    HaircutTier,
)
from zkclear.clearing.config import ClearingConfig, DeficitResolution, OracleGuardConfig, PortfolioMarginConfig
from zkclear.clearing.inputs import (
    DEFAULT_BATCH_FILLS,
    MAX_BATCH_FILLS,
    AccountOpens,
    EpochInputs,
    Fills,
    FundingRate,
    ImpliedVol,
    MarginOverride,
    MarkPrice,
    OperatorAction,
    OracleQuote,
    Transfers,
)
from zkclear.clearing.instruments import OPTION_KIND_NAME, OPTION_STANDARD_MODEL, InstrumentSpec, MarginTier
from zkclear.clearing.money import MAX_AMOUNT
from zkclear.clearing.spilled_transfers import SpilledTransfers, joined_transfers, save_block
from zkclear.errors import ConfigurationError, InputError
from zkclear.files import (
    MAX_DOCUMENT_BYTES,
    check_regular_file,
    decode_text,
    line_of_bad_utf8,
    naming_write_errors,
    read_text,
)
from zkclear.integers import RULE, is_canonical_int
from zkclear.jsonsafe import MAX_DEPTH, nesting_depth

FILLS_HEADER = ("fill_id", "buyer", "seller", "instrument", "size", "price", "buyer_fee", "seller_fee")
PRICES_HEADER = ("instrument", "mark_price", "funding_rate_ppm")
TRANSFERS_HEADER = ("transfer_id", "kind", "account", "amount")
#: ``transfers.csv`` with the optional ``asset`` column (issue 13; empty: the settlement asset)
TRANSFERS_ASSET_HEADER = (*TRANSFERS_HEADER, "asset")
ACCOUNTS_HEADER = ("account", "margin_mode")
MARGINS_HEADER = ("instrument", "initial_margin_ppm", "maintenance_margin_ppm")
VOLS_HEADER = ("instrument", "implied_vol_ppm")
ORACLE_HEADER = ("instrument", "source", "price", "timestamp")
FUNDING_HEADER = ("instrument", "funding_rate_ppm")
OPERATOR_ACTIONS_HEADER = ("action_id", "action", "account", "amount", "reason")

#: The files of an epoch folder (what :func:`load_epoch` may read, and :func:`folder_digest` hashes).
EPOCH_FILES = ("accounts.csv", "fills.csv", "funding.csv", "margins.csv", "operator_actions.csv", "oracle.csv",
               "prices.csv", "prices.json", "transfers.csv", "vols.csv")

#: decimal digits that always fit in int64
_MAX_DIGITS = 18


def parse_int(text: str, *, path: str, line: int | None, field: str) -> int:
    """A plain decimal integer with ``|value| <= 2**62 - 1``; anything else is an :class:`InputError`."""
    if not is_canonical_int(text):
        raise InputError(f"must be {RULE}, got {text!r}", path=path, line=line, field=field)
    if len(text) > _MAX_DIGITS + 2:  # before int(): Python refuses to convert more than 4,300 digits
        raise InputError(f"{text[:24]}... ({len(text)} characters) exceeds the bound 2**62 - 1", path=path,
                         line=line, field=field)
    value = int(text)
    if abs(value) > MAX_AMOUNT:
        raise InputError(f"{value} exceeds the bound 2**62 - 1", path=path, line=line, field=field)
    return value


def _read_csv(path: Path, header: tuple[str, ...], extended: tuple[str, ...] | None = None
              ) -> tuple[list[list[str]], list[int]]:
    """Rows (without the header) and their line numbers; the header must match exactly (or be ``extended``, a
    header with optional columns: the rows then have its length). A UTF-8 byte-order mark and blank lines at
    the end of the file (spreadsheet exports) are accepted; a blank line followed by a record is not."""
    rows: list[list[str]] = []
    lines: list[int] = []
    for batch_rows, batch_lines in _read_csv_batches(path, header, extended, batch=None):
        rows += batch_rows
        lines += batch_lines
    return rows, lines


#: rows of ``accounts.csv`` / ``transfers.csv`` read at a time: what is held of a file as text while its columns are
#: built (a malformed row is still named before any record after it is judged, as for ``fills.csv``)
_RECORD_BATCH = 4096


#: The longest line an input file may have, in characters (a record is a few hundred at most): a longer one is
#: refused after reading this much of it, so a line of gigabytes never fills memory.
MAX_LINE = 1 << 20
#: the configuration's length: every epoch's public inputs carry it as one text of at most 2^20 characters
#: (zkclear.verifier.public_inputs.MAX_TEXT)
MAX_CONFIG_CHARACTERS = 1 << 20


def _bounded_lines(handle, name: str) -> Iterator[str]:
    """The lines of ``handle``, each read at most :data:`MAX_LINE` characters at a time; InputError naming the
    line of a longer one."""
    number = 0
    while line := handle.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            raise InputError(f"a line longer than {MAX_LINE} characters", path=name, line=number)
        yield line


def _read_csv_batches(path: Path, header: tuple[str, ...], extended: tuple[str, ...] | None = None, *,
                      batch: int | None, name: str | None = None) -> Iterator[tuple[list[list[str]], list[int]]]:
    """:func:`_read_csv` in batches of at most ``batch`` rows (one batch of every row when None; at least one
    batch, possibly empty, so that an empty file is still read and its header checked); errors name the file
    ``name`` (default: ``path``)."""
    name = name or str(path)
    check_regular_file(path, name)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", path=name) from exc
    rows: list[list[str]] = []
    lines: list[int] = []
    yielded = False
    failure: InputError | None = None
    with handle:
        reader = csv.reader(_bounded_lines(handle, name), strict=True)
        start = 1  # the line the record being read starts on (a quoted field may hold line breaks)
        try:
            first = next(reader, None)
            if extended is not None and first is not None and tuple(first) == extended:
                header = extended
            if first is None or tuple(first) != header:
                also = f" or {','.join(extended)!r}" if extended else ""
                raise InputError(f"header must be {','.join(header)!r}{also}, got {','.join(first or [])!r}",
                                 path=name, line=1)
            blank: int | None = None
            start = reader.line_num + 1
            for row in reader:
                start = reader.line_num + 1
                if not row:
                    blank = blank or reader.line_num
                    continue
                if blank is not None:
                    raise InputError("blank line before this record (only trailing blank lines are accepted)",
                                     path=name, line=blank)
                if len(row) != len(header):
                    raise InputError(f"expected {len(header)} fields, got {len(row)}", path=name,
                                     line=reader.line_num)
                rows.append(row)
                lines.append(reader.line_num)  # a record is named by its last line (a quoted field may span)
                if batch is not None and len(rows) == batch:
                    yield rows, lines
                    yielded = True
                    rows, lines = [], []
        except InputError as exc:
            failure = exc
        except csv.Error as exc:
            # named by the line the bad record starts on: an unterminated quote reads to the end of the file
            failure = InputError(f"malformed CSV: {exc} (in the record from this line)", path=name, line=start)
            failure.__cause__ = exc
        except UnicodeDecodeError as exc:
            where = line_of_bad_utf8(path)  # the text reader decodes ahead of the line it gives: find the byte
            failure = InputError("not UTF-8" + (f" (byte {where[1]} of the file)" if where else ""), path=name,
                                 line=where[0] if where else None)
            failure.__cause__ = exc
    if failure is not None:
        # The records read before the bad one go first (the caller checks them, and may refuse one of them), so
        # that the record a refusal names is the first bad one whatever the batch size.
        if rows:
            yield rows, lines
        raise failure
    if rows or not yielded:
        yield rows, lines


def _line_of_huge_number(text: str) -> int | None:
    """Line of the first run of more digits than Python converts to an int (its parsers raise a bare
    ValueError for it, without a position)."""
    match = re.search(r"[0-9_]{4301}", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _int_column(values: list[str], lines: list[int], *, path: str, field: str, negative: bool = False
                ) -> np.ndarray:
    """A column of plain non-negative (or, with ``negative``, signed) integers as int64, checked in one
    sweep."""
    for k, text in enumerate(values):
        if not (is_canonical_int(text) and len(text.removeprefix("-")) <= _MAX_DIGITS
                and (negative or text[0] != "-")):
            if not negative and text.startswith("-") and is_canonical_int(text):
                raise InputError(f"must not be negative, got {text}", path=path, line=lines[k], field=field)
            parse_int(text, path=path, line=lines[k], field=field)  # raises with the precise reason
            raise InputError(f"must have at most {_MAX_DIGITS} digits, got {text!r}", path=path,
                             line=lines[k], field=field)
    return np.array([int(v) for v in values], dtype=np.int64)


def _is_identifier(text: str) -> bool:
    """1-64 printable ASCII characters (no control character, tab or line break: and no letter of another
    alphabet that looks like an ASCII one, which would make two ids look the same), no surrounding spaces."""
    return 1 <= len(text) <= 64 and text.isascii() and text.isprintable() and text == text.strip()


def _check_identifier(text: str, *, path: str, line: int, field: str) -> str:
    if not _is_identifier(text):
        raise InputError(f"must be 1 to 64 printable characters without surrounding spaces (ASCII only), got {text!r}",
                         path=path, line=line, field=field)
    return text


def parse_fills(path: Path, config: ClearingConfig) -> Fills:
    """``fills.csv`` -> :class:`Fills` with sizes in lots and prices in ticks (the whole file at once).

    Raises :class:`InputError` for a bad header, a malformed row, an unknown instrument, a non-positive
    size, a size that is not a whole number of lots, or a price off the instrument's tick.
    """
    rows, lines = _read_csv(path, FILLS_HEADER)
    return _fills_of_rows(rows, lines, str(path), config)


@dataclass(frozen=True, slots=True)
class FillFile:
    """``fills.csv`` read in batches of at most ``batch_fills`` fills (a :class:`~zkclear.clearing.inputs.
    FillSource`): what the engine holds of an epoch's fills at once is one batch, whatever the file's length.
    Every batch is parsed and checked as :func:`parse_fills` checks the whole file, so the first bad record is
    named by its line either way; a batch that does not parse first gives the records before its first bad one
    (and the reader the records before a malformed line), so that a refusal the engine makes of an earlier
    record comes first whatever the batch size. With a ``spill`` folder, the first complete pass also writes each parsed
    batch there (``.npz``, no pickles) and later passes read those instead of parsing the CSV again."""

    file: Path
    config: ClearingConfig
    batch_fills: int = DEFAULT_BATCH_FILLS
    #: the path errors name (the operator's file when ``file`` is a private copy of it)
    shown_as: str = ""
    spill: Path | None = None

    @property
    def path(self) -> str:
        return self.shown_as or str(self.file)

    @property
    def scratch(self) -> Path | None:
        """The ``spill`` folder (private): the fill-id check across batches keeps its database there too."""
        return self.spill

    def batches(self) -> Iterator[Fills]:
        done = self.spill / "complete" if self.spill is not None else None
        if done is not None and done.exists():
            count = int(done.read_text(encoding="ascii"))
            for k in range(count):
                yield _load_batch(self.spill / f"{k}.npz", self.path)  # type: ignore[operator]
            return
        if self.spill is not None:
            self.spill.mkdir(exist_ok=True)
        count = 0
        for rows, lines in _read_csv_batches(self.file, FILLS_HEADER, batch=self.batch_fills, name=self.path):
            try:
                batch = _fills_of_rows(rows, lines, self.path, self.config)
            except InputError:
                # A batch is checked column by column: find its first bad record (this path only), and give the
                # caller the records before it first, as batches of one fill would have.
                bad = next((k for k in range(len(rows)) if _refusal_of_row(rows[k], lines[k], self)), None)
                if bad is None:
                    raise
                if bad:
                    yield _fills_of_rows(rows[:bad], lines[:bad], self.path, self.config)
                raise _refusal_of_row(rows[bad], lines[bad], self) from None
            if self.spill is not None:
                _save_batch(self.spill / f"{count}.npz", batch)
            count += 1
            yield batch
        if done is not None:
            done.write_text(str(count), encoding="ascii")


def _refusal_of_row(row: list[str], line: int, source: FillFile) -> InputError | None:
    """The :class:`InputError` parsing one fill raises, or None."""
    try:
        _fills_of_rows([row], [line], source.path, source.config)
    except InputError as error:
        return error
    return None


_TEXT_FIELDS = ("fill_id", "buyer", "seller", "instrument")
_NUMBER_FIELDS = ("size", "price", "buyer_fee", "seller_fee", "lines")


def _save_batch(path: Path, batch: Fills) -> None:
    """A parsed batch as arrays: numbers as int64, each text column as its UTF-8 values joined by line feeds
    (identifiers are printable: none holds a line feed)."""
    texts = {name: np.frombuffer("\n".join(getattr(batch, name)).encode("utf-8"), dtype=np.uint8)
             for name in _TEXT_FIELDS}
    with naming_write_errors(path), path.open("wb") as handle:  # a full disk names the scratch file
        np.savez(handle, **texts, **{name: getattr(batch, name) for name in _NUMBER_FIELDS})


def _load_batch(path: Path, shown_as: str) -> Fills:
    with np.load(path, allow_pickle=False) as data:
        count = len(data["size"])
        texts = {name: tuple(data[name].tobytes().decode("utf-8").split("\n")) if count else ()
                 for name in _TEXT_FIELDS}
        return Fills(**texts, **{name: data[name] for name in _NUMBER_FIELDS}, path=shown_as)


def _fills_of_rows(rows: list[list[str]], lines: list[int], name: str, config: ClearingConfig) -> Fills:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(FILLS_HEADER)
    fill_id, buyer, seller, instrument = (tuple(c) for c in columns[:4])
    for field, values in (("fill_id", fill_id), ("buyer", buyer), ("seller", seller)):
        for k, text in enumerate(values):
            if not _is_identifier(text):
                _check_identifier(text, path=name, line=lines[k], field=field)
    spec_of = {spec.instrument_id: spec for spec in config.instruments}
    tick = np.empty(len(rows), dtype=np.int64)
    lot = np.empty(len(rows), dtype=np.int64)
    for k, text in enumerate(instrument):
        spec = spec_of.get(text)
        if spec is None:
            raise InputError(f"unknown instrument {text!r}", path=name, line=lines[k], field="instrument")
        tick[k] = spec.tick_size
        lot[k] = spec.lot_size
    size = _int_column(list(columns[4]), lines, path=name, field="size")
    price = _int_column(list(columns[5]), lines, path=name, field="price")
    buyer_fee = _int_column(list(columns[6]), lines, path=name, field="buyer_fee")
    seller_fee = _int_column(list(columns[7]), lines, path=name, field="seller_fee")
    for field, values, unit, label in (("size", size, lot, "lot size"), ("price", price, tick, "tick size")):
        bad = np.flatnonzero(values <= 0)
        if bad.size:
            k = int(bad[0])
            raise InputError(f"must be positive, got {int(values[k])}", path=name, line=lines[k], field=field)
        bad = np.flatnonzero(values % unit)
        if bad.size:
            k = int(bad[0])
            raise InputError(f"{int(values[k])} is not a multiple of the {label} {int(unit[k])} of "
                             f"{instrument[k]!r}", path=name, line=lines[k], field=field)
    return Fills(fill_id=fill_id, buyer=buyer, seller=seller, instrument=instrument, size=size // lot,
                 price=price // tick, buyer_fee=buyer_fee, seller_fee=seller_fee, path=name,
                 lines=np.array(lines, dtype=np.int64))


def _mark(instrument: str, mark_text: Any, rate_value: Any, config: ClearingConfig, path: str,
          line: int | None,
          field_prefix: str = "") -> MarkPrice:
    spec = {s.instrument_id: s for s in config.instruments}.get(instrument)
    if spec is None:
        raise InputError(f"unknown instrument {instrument!r}", path=path, line=line,
                         field=f"{field_prefix}instrument")
    mark = mark_text
    if mark < 0:  # 0 is for validation to decide: only a kind that may settle at zero, at its expiry
        raise InputError(f"must not be negative, got {mark}", path=path, line=line,
                         field=f"{field_prefix}mark_price")
    if mark % spec.tick_size:
        raise InputError(f"{mark} is not a multiple of the tick size {spec.tick_size} of {instrument!r}",
                         path=path, line=line, field=f"{field_prefix}mark_price")
    return MarkPrice(instrument, mark // spec.tick_size, rate_value, path, line or 0)


def parse_prices_csv(path: Path, config: ClearingConfig) -> tuple[MarkPrice, ...]:
    """``prices.csv`` -> marks in ticks; ``funding_rate_ppm`` empty for kinds that pay no funding."""
    name = str(path)
    rows, lines = _read_csv(path, PRICES_HEADER)
    marks = []
    for (instrument, mark_text, rate_text), line in zip(rows, lines, strict=True):
        mark = parse_int(mark_text, path=name, line=line, field="mark_price")
        rate = None if rate_text == "" else parse_int(rate_text, path=name, line=line,
                                                      field="funding_rate_ppm")
        marks.append(_mark(instrument, mark, rate, config, name, line))
    return tuple(marks)


def _json_record_lines(text: str, key: str) -> list[int]:
    """Line of each element of the top-level array ``key`` (the document is already known to parse)."""
    decoder = json.JSONDecoder(parse_int=_json_integer)  # the same integers as the document's parse
    match = re.search('"' + re.escape(key) + r'"\s*:\s*\[', text)
    if match is None:
        return []
    position, lines = match.end(), []
    while True:
        while text[position] in " \t\r\n,":
            position += 1
        if text[position] == "]":
            return lines
        lines.append(text.count("\n", 0, position) + 1)
        _, position = decoder.raw_decode(text, position)


class _Duplicated(dict):
    """A JSON object in which ``key`` appeared twice (``json.loads`` would silently keep the last value)."""

    key = ""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked = _Duplicated(pairs)
            marked.key = key
            return marked
        seen.add(key)
    return dict(pairs)


def _json_integer(text: str) -> int | str:
    """``parse_int`` hook of ``prices.json``: ``-0`` stays text, which the integer check refuses (as
    :func:`parse_int` refuses it in a CSV file: zero has one spelling); so does an integer of more digits than any
    bound here allows, shortened (Python would refuse to convert one of more than 4,300 digits, with its own advice
    and without naming the record or the field)."""
    if len(text) > _MAX_DIGITS + 2:
        return f"{text[:12]}… ({len(text.removeprefix('-'))} digits)"
    return text if text == "-0" else int(text)


def parse_prices_json(path: Path, config: ClearingConfig) -> tuple[MarkPrice, ...]:
    """``prices.json``: ``{"marks": [{"instrument": str, "mark_price": int, "funding_rate_ppm": int |
    null}]}``."""
    name = str(path)
    text = ""
    check_regular_file(path, name, limit=MAX_DOCUMENT_BYTES)
    try:
        text = decode_text(path.read_bytes(), name)  # InputError naming the line of a byte that is not UTF-8
        # json.loads recurses in C per level: with the recursion limit raised (py_ecc does, when a process
        # has imported it) a few hundred thousand '[' overflow the C stack and kill the process with a signal
        depth = nesting_depth(text)
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_json_integer) \
            if depth <= MAX_DEPTH else None
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", path=name) from exc
    except ValueError as exc:  # not UTF-8, not JSON, or an integer of more digits than Python converts
        line = getattr(exc, "lineno", None) or _line_of_huge_number(text)
        raise InputError(f"not valid JSON: {exc}", path=name, line=line) from exc
    if depth > MAX_DEPTH:
        raise InputError(f"not valid JSON: nested {depth} levels deep (at most {MAX_DEPTH})", path=name, line=1)
    if isinstance(document, _Duplicated):  # {"marks": [...], "marks": [...]}: which one is meant?
        raise InputError("duplicate key", path=name, line=1, field=document.key)
    if not (isinstance(document, dict) and set(document) == {"marks"}
            and isinstance(document["marks"], list)):
        raise InputError('the document must be {"marks": [...]}', path=name, line=1, field="marks")
    lines = _json_record_lines(text, "marks")
    marks = []
    for k, record in enumerate(document["marks"]):
        line = lines[k] if k < len(lines) else None
        prefix = f"marks[{k}]."
        if not isinstance(record, dict):
            raise InputError("must be an object", path=name, line=line, field=f"marks[{k}]")
        if isinstance(record, _Duplicated):
            raise InputError("duplicate key", path=name, line=line, field=prefix + record.key)
        missing = {"instrument", "mark_price"} - set(record)
        extra = set(record) - {"instrument", "mark_price", "funding_rate_ppm"}
        if missing or extra:
            field = sorted(missing or extra)[0]
            raise InputError("missing" if missing else "unknown key", path=name, line=line,
                             field=prefix + field)
        for key in ("mark_price", "funding_rate_ppm"):
            value = record.get(key)
            if key in record and not (value is None and key == "funding_rate_ppm") and (
                    type(value) is not int or abs(value) > MAX_AMOUNT):
                raise InputError(f"must be a plain decimal integer within 2**62 - 1, got {value!r}", path=name,
                                 line=line, field=prefix + key)
        if type(record["instrument"]) is not str:
            raise InputError("must be a string", path=name, line=line, field=prefix + "instrument")
        marks.append(_mark(record["instrument"], record["mark_price"], record.get("funding_rate_ppm"), config,
                           name, line, prefix))
    return tuple(marks)


def parse_transfers(path: Path, spill: Path | None = None) -> Transfers | SpilledTransfers:
    """``transfers.csv``: deposits and withdrawal requests, in the order they are considered; an optional last
    column ``asset`` names a collateral asset (empty: the settlement asset). Returned as columns (kinds, accounts
    and assets interned: one string each however many records name them); with a ``spill`` folder (private
    scratch), each block of 4,096 parsed records is written there instead and :class:`SpilledTransfers` reads them
    back a block at a time (a first epoch's transfers are as many as the accounts)."""
    name = str(path)
    blocks: list[Transfers] = []
    sizes: list[int] = []
    if spill is not None:
        spill.mkdir(exist_ok=True)
    for rows, batch_lines in _read_csv_batches(path, TRANSFERS_HEADER, TRANSFERS_ASSET_HEADER, batch=_RECORD_BATCH):
        ids, kinds, accounts, assets = [], [], [], []
        amounts = array("q")
        for (transfer_id, kind, account, amount_text, *asset), line in zip(rows, batch_lines, strict=True):
            _check_identifier(transfer_id, path=name, line=line, field="transfer_id")
            # an id's form here, its existence in the clearing: the spilled blocks join each text column by line
            # feeds (a quoted line break came back as two values, shifting the column: red team s16)
            _check_identifier(account, path=name, line=line, field="account")
            if asset and asset[0]:  # empty: the settlement asset
                _check_identifier(asset[0], path=name, line=line, field="asset")
            if kind not in ("deposit", "withdrawal"):
                raise InputError(f"must be 'deposit' or 'withdrawal', got {kind!r}", path=name, line=line,
                                 field="kind")
            amount = parse_int(amount_text, path=name, line=line, field="amount")  # within 2^62 - 1
            if amount <= 0:
                raise InputError(f"must be positive, got {amount}", path=name, line=line, field="amount")
            ids.append(transfer_id)
            kinds.append(sys.intern(kind))
            accounts.append(sys.intern(account))
            amounts.append(amount)
            assets.extend(map(sys.intern, asset))
        block = Transfers(tuple(ids), tuple(kinds), tuple(accounts), np.array(amounts, dtype=np.int64),
                          np.array(batch_lines, dtype=np.int64), tuple(assets), name)
        if spill is None:
            blocks.append(block)
        else:
            save_block(spill / f"{len(sizes)}.npz", block)
        sizes.append(len(block))
    if spill is not None:
        return SpilledTransfers(spill, tuple(sizes), name)
    return joined_transfers(blocks, name)


def parse_operator_actions(path: Path) -> tuple[OperatorAction, ...]:
    """``operator_actions.csv``: the operator's explicit withdrawals from ``CH:insurance`` / ``CH:fees``, each
    with a reason (recorded in the epoch's inputs and report)."""
    name = str(path)
    rows, lines = _read_csv(path, OPERATOR_ACTIONS_HEADER)
    actions = []
    for (action_id, action, account, amount_text, reason), line in zip(rows, lines, strict=True):
        _check_identifier(action_id, path=name, line=line, field="action_id")
        amount = parse_int(amount_text, path=name, line=line, field="amount")
        if amount <= 0:
            raise InputError(f"must be positive, got {amount}", path=name, line=line, field="amount")
        actions.append(OperatorAction(action_id, action, account, amount, reason, name, line))
    return tuple(actions)


def parse_accounts(path: Path) -> AccountOpens:
    """``accounts.csv``: accounts opened in this epoch and their margin mode, as columns."""
    accounts, modes, lines = [], [], array("q")
    for rows, batch_lines in _read_csv_batches(path, ACCOUNTS_HEADER, batch=_RECORD_BATCH):
        # interned: an id read here again in transfers.csv, and every margin mode, is one string, not one per row
        accounts.extend(sys.intern(account) for account, _ in rows)
        modes.extend(sys.intern(mode) for _, mode in rows)
        lines.extend(batch_lines)
    return AccountOpens(tuple(accounts), tuple(modes), np.array(lines, dtype=np.int64), str(path))


def parse_margins(path: Path) -> tuple[MarginOverride, ...]:
    """``margins.csv``: this epoch's margin fractions per instrument (the engine applies
    ``max(configured, given)``)."""
    name = str(path)
    rows, lines = _read_csv(path, MARGINS_HEADER)
    return tuple(
        MarginOverride(instrument, parse_int(initial, path=name, line=line, field="initial_margin_ppm"),
                       parse_int(maintenance, path=name, line=line, field="maintenance_margin_ppm"),
                       name, line)
        for (instrument, initial, maintenance), line in zip(rows, lines, strict=True))


def parse_vols(path: Path) -> tuple[ImpliedVol, ...]:
    """``vols.csv``: this epoch's implied volatility (ppm) of each live engine-marked option."""
    name = str(path)
    rows, lines = _read_csv(path, VOLS_HEADER)
    vols = []
    for (instrument, vol_text), line in zip(rows, lines, strict=True):
        vol = parse_int(vol_text, path=name, line=line, field="implied_vol_ppm")
        if vol <= 0:
            raise InputError(f"must be positive, got {vol}", path=name, line=line, field="implied_vol_ppm")
        vols.append(ImpliedVol(instrument, vol, name, line))
    return tuple(vols)


def parse_oracle(path: Path, config: ClearingConfig) -> tuple[OracleQuote, ...]:
    """``oracle.csv``: the epoch's quotes, ``price`` in price units on the instrument's tick, ``timestamp``
    in unix seconds; the deployment's oracle guard decides the marks from them. A file of no quotes is an outage
    (every mark falls back to the last good price, liquidations paused) when the deployment has a guard."""
    name = str(path)
    rows, lines = _read_csv(path, ORACLE_HEADER)
    if not rows and config.oracle is None:
        raise InputError("no quotes (and the deployment has no [oracle] guard to mark the epoch without them)",
                         path=name, line=1)
    spec_of = {spec.instrument_id: spec for spec in config.instruments}
    quotes = []
    for (instrument, source, price_text, time_text), line in zip(rows, lines, strict=True):
        spec = spec_of.get(instrument)
        if spec is None:
            raise InputError(f"unknown instrument {instrument!r}", path=name, line=line, field="instrument")
        _check_identifier(source, path=name, line=line, field="source")
        price = parse_int(price_text, path=name, line=line, field="price")
        if price <= 0 or price % spec.tick_size:
            raise InputError(f"must be a positive multiple of the tick size {spec.tick_size}, got {price}",
                             path=name, line=line, field="price")
        timestamp = parse_int(time_text, path=name, line=line, field="timestamp")
        if timestamp < 0:
            raise InputError(f"must not be negative, got {timestamp}", path=name, line=line, field="timestamp")
        quotes.append(OracleQuote(instrument, source, price // spec.tick_size, timestamp, name, line))
    return tuple(quotes)


def parse_funding(path: Path) -> tuple[FundingRate, ...]:
    """``funding.csv``: perpetuals' funding rates (ppm) in an epoch marked by the oracle."""
    name = str(path)
    rows, lines = _read_csv(path, FUNDING_HEADER)
    return tuple(FundingRate(instrument, parse_int(rate, path=name, line=line, field="funding_rate_ppm"), name,
                             line) for (instrument, rate), line in zip(rows, lines, strict=True))


def folder_digest(directory: Path, replaced: dict[str, Path] | None = None) -> bytes:
    """SHA-256 of an epoch folder's input files: ``H("zkclear/epoch-folder/v1" ‖ for each file of
    :data:`EPOCH_FILES` present, by name: len64(name) ‖ name ‖ len64(bytes) ‖ bytes)``. The ledger remembers
    it, so running the same folder twice is a no-op that says so. Files are read in blocks (a large
    ``fills.csv`` is never held at once); ``replaced`` names a private copy to read instead of a file."""
    digest = hashlib.sha256(b"zkclear/epoch-folder/v1")
    for name in EPOCH_FILES:
        path = (replaced or {}).get(name, Path(directory) / name)
        if path.is_file():
            encoded = name.encode("ascii")
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                digest.update(len(encoded).to_bytes(8, "big") + encoded + size.to_bytes(8, "big"))
                read = 0
                while block := handle.read(1 << 20):
                    digest.update(block)
                    read += len(block)
            if read != size:
                raise InputError("changed while it was read", path=str(Path(directory) / name))
    return digest.digest()


def _file_states(directory: Path) -> dict[str, tuple[int, ...] | None]:
    """Size, modification time and identity of each input file of ``directory`` (None: absent or not a regular
    file): nothing is read, so a file too large to parse is still refused by its parser first."""
    states: dict[str, tuple[int, ...] | None] = {}
    for name in EPOCH_FILES:
        states[name] = None
        try:
            status = (Path(directory) / name).stat()
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            states[name] = (status.st_size, status.st_mtime_ns, status.st_ino, status.st_dev)
    return states


def _private_copy(source: Path, copy: Path) -> None:
    """Copy ``source`` to ``copy`` a block at a time; InputError naming the file that failed: ``source`` when it
    cannot be read or holds a line longer than :data:`MAX_LINE` characters (named by its line, as the parser names
    it: a sparse file of gigabytes costs no disk, its copy would), ``copy`` when it cannot be written (a full disk
    is the deployment's problem, not the input's)."""
    def cannot_write(exc: OSError) -> InputError:
        return InputError(f"cannot write a private copy of {source}: {exc.strerror or exc}", path=str(copy))

    try:
        reader = source.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", path=str(source)) from exc
    with reader:
        try:
            writer = copy.open("wb")
        except OSError as exc:
            raise cannot_write(exc) from exc
        try:
            with writer:
                line_so_far = 0  # bytes since the last line end
                while True:
                    try:
                        block = reader.read(1 << 20)
                    except OSError as exc:
                        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(source)) from exc
                    if not block:
                        break
                    end = max(block.rfind(b"\n"), block.rfind(b"\r"))
                    line_so_far = line_so_far + len(block) if end < 0 else len(block) - end - 1
                    if line_so_far > 4 * MAX_LINE:  # more than MAX_LINE characters of UTF-8 (4 bytes at most each)
                        _refuse_the_long_line(source)
                    writer.write(block)
        except OSError as exc:  # a write, or the flush on closing
            raise cannot_write(exc) from exc


def _refuse_the_long_line(source: Path) -> None:
    """The InputError the parser gives for ``source``'s first line longer than :data:`MAX_LINE` characters."""
    try:
        with source.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            for _ in _bounded_lines(handle, str(source)):
                pass
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(source)) from exc
    raise InputError(f"a line longer than {MAX_LINE} characters", path=str(source))  # grew shorter meanwhile


def load_epoch(directory: Path, epoch: int, config: ClearingConfig, *, batch_fills: int | None = None,
               scratch: Path | None = None) -> EpochInputs:
    """The inputs of one epoch from ``directory``: ``fills.csv`` and one of ``prices.csv`` / ``prices.json`` /
    ``oracle.csv`` (the last optionally with ``funding.csv``) required; ``accounts.csv``, ``transfers.csv``,
    ``margins.csv``, ``operator_actions.csv`` and ``vols.csv`` (implied volatilities, needed while engine-marked
    options are live) optional; any other ``.csv`` or ``.json`` file is refused. Only parses;
    :func:`~zkclear.clearing.engine.apply_epoch` validates against the state.

    With ``batch_fills`` the fills are not read here: ``fills.csv`` is copied into the folder ``scratch`` (so
    that every pass over it reads the same bytes, whatever happens to the original meanwhile) and read from
    there in batches of that many fills (:class:`FillFile`), and the transfers are parsed into it a block at a time
    (:class:`SpilledTransfers`). The inputs returned read both from ``scratch`` at every pass: a folder serves one
    load whose inputs are still in use (a second load into it replaces the first one's files)."""
    directory = Path(directory)
    stray = sorted(path.name for path in directory.iterdir() if path.suffix.lower() in (".csv", ".json")
                   and path.name not in EPOCH_FILES) if directory.is_dir() else []
    if stray:  # "Transfers.csv", "transfer.csv": its records would be dropped without a word
        raise InputError(f"not an input file of an epoch folder (a misspelled name? its records would be ignored); "
                         f"the input files are {', '.join(EPOCH_FILES)}", path=str(directory / stray[0]))
    for name in EPOCH_FILES:  # a link to nothing is not an absent file: its records would be dropped without a word
        if os.path.lexists(directory / name) and not os.path.exists(directory / name):
            raise InputError("a symbolic link that leads to no file (a folder not mounted, a file moved away?): "
                             "give the file or remove the link", path=str(directory / name))
    # what is parsed must be what the folder digest says was committed: a file written while it was read (an export
    # still being appended to) is refused, else running the completed folder again would be "already committed"
    # while the records it gained never were; fills.csv in batches too, while it is copied (a copy that ends in
    # the middle of a line being written may end in a record that parses: a size or a fee cut short)
    states = _file_states(directory)
    csv_prices, json_prices = directory / "prices.csv", directory / "prices.json"
    oracle, funding = directory / "oracle.csv", directory / "funding.csv"
    if oracle.exists() and (csv_prices.exists() or json_prices.exists()):
        raise InputError("oracle.csv replaces prices.csv / prices.json: give one of them", path=str(directory))
    if not oracle.exists() and csv_prices.exists() == json_prices.exists():
        raise InputError("exactly one of prices.csv and prices.json is required (or oracle.csv)",
                         path=str(directory))
    if funding.exists() and not oracle.exists():
        raise InputError("funding.csv goes with oracle.csv (with prices.csv the rates are in it)",
                         path=str(funding))
    quotes: tuple[OracleQuote, ...] = ()
    rates: tuple[FundingRate, ...] = ()
    if oracle.exists():
        marks: tuple[MarkPrice, ...] = ()
        quotes = parse_oracle(oracle, config)
        rates = parse_funding(funding) if funding.exists() else ()
    elif csv_prices.exists():
        marks = parse_prices_csv(csv_prices, config)
    else:
        marks = parse_prices_json(json_prices, config)
    accounts = directory / "accounts.csv"
    transfers = directory / "transfers.csv"
    margins = directory / "margins.csv"
    vols = directory / "vols.csv"
    actions = directory / "operator_actions.csv"
    fills_path = directory / "fills.csv"
    fills: Fills | FillFile
    replaced: dict[str, Path] = {}
    if batch_fills is None:
        fills = parse_fills(fills_path, config)
    else:
        if not 1 <= batch_fills <= MAX_BATCH_FILLS:
            raise InputError(f"the batch of fills must be 1 to {MAX_BATCH_FILLS} fills, got {batch_fills}")
        if scratch is None:
            raise InputError("reading fills in batches needs a scratch folder")
        copy = Path(scratch) / "fills.csv"
        if fills_path.exists() and not fills_path.is_file():  # a named pipe would block the copy
            raise InputError("not a regular file", path=str(fills_path))
        _private_copy(fills_path, copy)
        fills = FillFile(copy, config, batch_fills, shown_as=str(fills_path), spill=Path(scratch) / "batches")
        replaced["fills.csv"] = copy
    inputs = EpochInputs(
        epoch=epoch, fills=fills, marks=marks,
        # spilled into the scratch folder when fills are read in batches (epoch run): held a block at a time
        transfers=(parse_transfers(transfers, None if scratch is None or batch_fills is None
                                   else Path(scratch) / "transfers") if transfers.exists() else ()),
        opens=parse_accounts(accounts) if accounts.exists() else (),
        margin_overrides=parse_margins(margins) if margins.exists() else (),
        implied_vols=parse_vols(vols) if vols.exists() else (), oracle_quotes=quotes, funding_rates=rates,
        operator_actions=parse_operator_actions(actions) if actions.exists() else (),
        source_digest=folder_digest(directory, replaced), directory=str(directory),
        files=tuple(name for name in EPOCH_FILES if (directory / name).is_file()))
    changed = [name for name, state in _file_states(directory).items() if state != states[name]]
    if changed:
        raise InputError("changed while the epoch was read (a file still being written?): run the epoch again once "
                         "its files are complete", path=str(directory / changed[0]))
    return inputs


# ---------------------------------------------------------------------------------------------
# Deployment configuration (TOML)

_TOP_KEYS = {"settlement_asset": str, "settlement_decimals": int, "liquidation_penalty_ppm": int,
             "liquidation_buffer_ppm": int, "funding_clamp_ppm": int, "deficit_resolution": str,
             "liquidators": list, "allow_self_trade": bool, "instrument": list, "genesis_timestamp": int,
             "epoch_seconds": int, "portfolio_margin": (bool, dict), "oracle": (bool, dict),
             "dynamic_margin": str, "dynamic_window": int, "option_settlement": str,
             "fill_price_band_ppm": int, "backstop_margin_mode": str, "asset": list, "fill_fee_cap_ppm": int,
             "publish_insurance_fund": bool}
_INSTRUMENT_KEYS = {"id": str, "kind": str, "tick_size": int, "lot_size": int, "contract_multiplier": int,
                    "initial_margin_ppm": int, "maintenance_margin_ppm": int, "margin_model": str,
                    "initial_tiers": list, "maintenance_tiers": list, "expiry_epoch": int, "underlying": str,
                    "option_type": str, "strike": int}
_OPTION_REQUIRED = ("underlying", "option_type", "strike", "expiry_epoch")
_ORACLE_KEYS = {"max_staleness_seconds": int, "max_future_seconds": int, "max_deviation_ppm": int,
                "min_sources": int, "circuit_breaker_ppm": int, "pause_liquidations_on_breaker": bool,
                "max_fallback_epochs": int, "sources": list}
_PORTFOLIO_KEYS = {"scan_range_ppm": int, "price_steps": int, "volatility_shifts_ppm": list,
                   "extreme_multiple": int, "extreme_weight": int, "scale": int, "short_option_minimum_ppm": int,
                   "initial_to_maintenance_ppm": int}
_INSTRUMENT_REQUIRED = {"id", "kind", "tick_size", "lot_size", "contract_multiplier", "initial_margin_ppm",
                        "maintenance_margin_ppm"}
_TIER_KEYS = {"notional_bound": int, "rate_ppm": int, "deduction": int}
_ASSET_KEYS = {"id": str, "decimals": int, "settlement": bool, "price_instrument": str, "unit_value": list,
               "haircut": list, "cap": int, "conversion_penalty_ppm": int}
_COLLATERAL_REQUIRED = ("price_instrument", "unit_value", "haircut")


def _line_of(text: str, key: str, section: int | None) -> int | None:
    """Best-effort line of ``key = ...`` at top level (``section`` None) or inside the ``section``-th
    ``[[instrument]]`` table."""
    lines = text.splitlines()
    seen = -1
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped.startswith("[[instrument]]"):
            seen += 1
            if section is None:
                return None
            continue
        in_scope = (section is None and seen == -1) or (section is not None and seen == section)
        if in_scope and (re.match(re.escape(key) + r"\s*=", stripped)
                         or stripped.startswith(f"[[instrument.{key}]]")):
            return number
    return None


def _typed(table: dict, schema: dict[str, type], *, path: str, text: str, section: int | None,
           prefix: str) -> None:
    for key, value in table.items():
        # the line is looked for only to name a refusal: a scan of the text per key would make a configuration of
        # n instruments O(n^2) to read (every command reads it)
        if key not in schema:
            raise InputError("unknown key", path=path, line=_line_of(text, key, section), field=prefix + key)
        expected = schema[key] if isinstance(schema[key], tuple) else (schema[key],)
        if type(value) not in expected:  # strict: a bool is not an int, an int is not a float
            names = " or ".join(t.__name__ for t in expected)
            raise InputError(f"must be {names}, got {type(value).__name__}", path=path,
                             line=_line_of(text, key, section), field=prefix + key)


def load_config(path: Path) -> ClearingConfig:
    """Parse and validate a deployment configuration file. :class:`InputError` names the file, the line (where
    it can be found) and the field of the first problem."""
    name = str(path)
    # not a regular file, too large, unreadable or not UTF-8: one InputError (a byte-order mark is accepted)
    return parse_config(read_text(path, name, limit=MAX_DOCUMENT_BYTES), path=name)


def parse_config(text: str, *, path: str) -> ClearingConfig:
    """Parse and validate a deployment configuration given as text (``path`` names it in errors)."""
    name = path
    if len(text) > MAX_CONFIG_CHARACTERS:  # red team session 14: accepted, it made every epoch unpublishable
        raise InputError(f"{len(text)} characters, more than {MAX_CONFIG_CHARACTERS}: every epoch's public inputs "
                         "carry the configuration verbatim, and a verifier reads at most that many", path=name)
    text = text.removeprefix("\ufeff")  # a spreadsheet or editor may add a byte-order mark
    try:
        document = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per nested array
        raise InputError("not valid TOML: nested too deeply", path=name) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of more digits than Python converts
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(f"not valid TOML: {exc}", path=name,
                         line=int(match.group(1)) if match else _line_of_huge_number(text)) from exc
    _typed(document, _TOP_KEYS, path=name, text=text, section=None, prefix="")
    if "instrument" not in document:
        raise InputError("at least one [[instrument]] table is required", path=name, field="instrument")
    specs = []
    for k, table in enumerate(document["instrument"]):
        prefix = f"instrument[{k}]."
        if not isinstance(table, dict):  # `instrument = [1]`: an array, but not of tables
            raise InputError("must be a table", path=name, line=_line_of(text, "instrument", None),
                             field=prefix.rstrip("."))
        _typed(table, _INSTRUMENT_KEYS, path=name, text=text, section=k, prefix=prefix)
        missing = sorted(_INSTRUMENT_REQUIRED - set(table))
        if missing:
            raise InputError("required key missing", path=name, line=_line_of(text, "[[instrument]]", None),
                             field=prefix + missing[0])
        if table.get("kind") == OPTION_KIND_NAME:
            missing = [key for key in _OPTION_REQUIRED if key not in table]
            if missing:
                raise InputError("required key missing for an option", path=name,
                                 line=_line_of(text, "kind", k), field=prefix + missing[0])
        tiers: dict[str, tuple[MarginTier, ...]] = {}
        for tier_key in ("initial_tiers", "maintenance_tiers"):
            parsed = []
            for t, tier in enumerate(table.get(tier_key, [])):
                tier_prefix = f"{prefix}{tier_key}[{t}]."
                if not isinstance(tier, dict):
                    raise InputError("must be a table", path=name, field=f"{prefix}{tier_key}[{t}]")
                _typed(tier, _TIER_KEYS, path=name, text=text, section=k, prefix=tier_prefix)
                if set(tier) != set(_TIER_KEYS):
                    raise InputError("a tier needs notional_bound, rate_ppm and deduction", path=name,
                                     line=_line_of(text, tier_key, k), field=tier_prefix.rstrip("."))
                parsed.append(MarginTier(tier["notional_bound"], tier["rate_ppm"], tier["deduction"]))
            tiers[tier_key] = tuple(parsed)
        try:
            specs.append(InstrumentSpec(
                instrument_id=table["id"], kind=table["kind"], tick_size=table["tick_size"],
                lot_size=table["lot_size"], contract_multiplier=table["contract_multiplier"],
                initial_margin_ppm=table["initial_margin_ppm"],
                maintenance_margin_ppm=table["maintenance_margin_ppm"],
                margin_model=table.get("margin_model", OPTION_STANDARD_MODEL
                                       if table["kind"] == OPTION_KIND_NAME else "linear"),
                initial_tiers=tiers["initial_tiers"],
                maintenance_tiers=tiers["maintenance_tiers"], expiry_epoch=table.get("expiry_epoch"),
                underlying=table.get("underlying"), option_type=table.get("option_type"),
                strike=table.get("strike")))
        except TypeError as exc:
            raise InputError(str(exc), path=name, field=prefix.rstrip(".")) from exc
    liquidators = document.get("liquidators", [])
    for k, account in enumerate(liquidators):
        if type(account) is not str:
            raise InputError("must be a string", path=name, line=_line_of(text, "liquidators", None),
                             field=f"liquidators[{k}]")
    resolution = document.get("deficit_resolution", "adl")
    try:
        deficit_resolution = DeficitResolution(resolution)
    except ValueError:
        raise InputError(f"must be 'adl' or 'socialized_loss', got {resolution!r}", path=name,
                         line=_line_of(text, "deficit_resolution",
                                       None), field="deficit_resolution") from None
    options = {key: document[key] for key in ("liquidation_penalty_ppm", "liquidation_buffer_ppm",
                                               "funding_clamp_ppm", "allow_self_trade", "settlement_asset",
                                               "settlement_decimals", "genesis_timestamp", "epoch_seconds",
                                               "dynamic_margin", "dynamic_window", "option_settlement",
                                               "fill_price_band_ppm", "backstop_margin_mode", "fill_fee_cap_ppm",
                                               "publish_insurance_fund")
               if key in document}
    if options.get("option_settlement", "futures") not in ("futures", "premium"):
        raise InputError(f"must be 'futures' or 'premium', got {options['option_settlement']!r}", path=name,
                         line=_line_of(text, "option_settlement", None), field="option_settlement")
    portfolio = _portfolio_margin(document.get("portfolio_margin", False), name, text)
    if portfolio is not None:
        options["portfolio_margin"] = portfolio
    oracle = _oracle(document.get("oracle", False), name, text)
    if oracle is not None:
        options["oracle"] = oracle
    assets = _assets(document, name, text)
    if assets is not None:
        options["settlement_asset"], options["settlement_decimals"], options["assets"] = assets
    try:
        return ClearingConfig(instruments=tuple(specs), deficit_resolution=deficit_resolution,
                              liquidators=tuple(liquidators), **options)
    except ConfigurationError as exc:
        field, line = _asset_field_of(str(exc), document.get("asset", []), text)
        if field is None:
            field, line = _field_of(str(exc), specs, text)
        raise InputError(str(exc), path=name, line=line, field=field) from exc


def _table_line(text: str, table: str, key: str) -> int | None:
    """Line of ``key = ...`` inside the top-level ``[table]``."""
    inside = False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("["):
            inside = stripped.replace(" ", "") == f"[{table}]"
        elif inside and re.match(re.escape(key) + r"\s*=", stripped):
            return number
    return None


def _portfolio_margin(value: bool | dict, path: str, text: str) -> PortfolioMarginConfig | None:
    """``portfolio_margin = true`` (the risk package's default grid) or a ``[portfolio_margin]`` table of
    grid parameters; ``false`` / absent: no portfolio accounts."""
    if value is False:
        return None
    if value is True:
        return PortfolioMarginConfig()
    for key, item in value.items():
        line = _table_line(text, "portfolio_margin", key)
        if key not in _PORTFOLIO_KEYS:
            raise InputError("unknown key", path=path, line=line, field=f"portfolio_margin.{key}")
        if type(item) is not _PORTFOLIO_KEYS[key] or (
                key == "volatility_shifts_ppm" and any(type(v) is not int for v in item)):
            expected = "list of int" if key == "volatility_shifts_ppm" else _PORTFOLIO_KEYS[key].__name__
            raise InputError(f"must be {expected}", path=path, line=line, field=f"portfolio_margin.{key}")
    options = dict(value)
    if "volatility_shifts_ppm" in options:
        options["volatility_shifts_ppm"] = tuple(options["volatility_shifts_ppm"])
    try:
        return PortfolioMarginConfig(**options)
    except ConfigurationError as exc:
        field = re.search(r"portfolio_margin\.(\w+)", str(exc))
        # the grid's own messages name its keys bare ("need 0 < scan_range_ppm <= ..."): the first one the table sets
        named = sorted((found.start(), key) for key in value
                       if (found := re.search(rf"\b{re.escape(key)}\b", str(exc))))
        key = field.group(1) if field else named[0][1] if named else None
        raise InputError(str(exc), path=path, line=_table_line(text, "portfolio_margin", key) if key else None,
                         field=f"portfolio_margin.{key}" if key else "portfolio_margin") from exc


def _oracle(value: bool | dict, path: str, text: str) -> OracleGuardConfig | None:
    """``oracle = true`` (the risk package's default guard) or an ``[oracle]`` table; absent: no oracle."""
    if value is False:
        return None
    if value is True:
        return OracleGuardConfig()
    for key, item in value.items():
        line = _table_line(text, "oracle", key)
        if key not in _ORACLE_KEYS:
            raise InputError("unknown key", path=path, line=line, field=f"oracle.{key}")
        if type(item) is not _ORACLE_KEYS[key]:
            raise InputError(f"must be {_ORACLE_KEYS[key].__name__}", path=path, line=line, field=f"oracle.{key}")
    try:
        return OracleGuardConfig(**value)
    except ConfigurationError as exc:
        # the guard's messages name no key, or two ("staleness bounds are non-negative"): the first key the table
        # sets that is refused on its own, with its line
        key = next((key for key in value if _refused_alone(key, value[key])), None)
        raise InputError(str(exc), path=path, line=_table_line(text, "oracle", key) if key else None,
                         field=f"oracle.{key}" if key else "oracle") from exc


def _refused_alone(key: str, item: object) -> bool:
    """Whether an ``[oracle]`` table setting only ``key`` to ``item`` is refused."""
    try:
        OracleGuardConfig(**{key: item})
    except ConfigurationError:
        return True
    return False


def _tier_line(text: str, section: int, tiers: str, index: int, key: str) -> int | None:
    """Line of ``key`` in the ``index``-th ``[[instrument.<tiers>]]`` table of the ``section``-th
    instrument."""
    seen_section = seen_tier = -1
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("[[instrument]]"):
            seen_section += 1
            seen_tier = -1
        elif stripped.startswith(f"[[instrument.{tiers}]]"):
            seen_tier += 1
        elif seen_section == section and seen_tier == index and re.match(re.escape(key) + r"\s*=", stripped):
            return number
    return None


def _field_of(message: str, specs: list[InstrumentSpec], text: str) -> tuple[str | None, int | None]:
    """Best-effort (field, line) for a semantic configuration error, from the names in its message."""
    for k, spec in enumerate(specs):
        if f"instrument {spec.instrument_id!r}" in message:
            tier = re.search(r"(\w+_tiers)\[(\d+)\]\.(\w+)", message)
            if tier:
                name, index, key = tier.group(1), int(tier.group(2)), tier.group(3)
                return f"instrument[{k}].{name}[{index}].{key}", _tier_line(text, k, name, index, key)
            named = [key for key in sorted(_INSTRUMENT_KEYS, key=len, reverse=True) if key in message]
            # the key the table sets (red team s15: "option_type and strike are only meaningful for kind 'option'"
            # named option_type, without a line, for a perpetual that set only a strike)
            for key in named:
                line = _line_of(text, key, k)
                if line is not None:
                    return f"instrument[{k}].{key}", line
            return (f"instrument[{k}].{named[0]}", None) if named else (f"instrument[{k}]", None)
    for key in _TOP_KEYS:
        if message.startswith(key) or f" {key}" in message:
            return key, _line_of(text, key, None)
    return None, None


# ---------------------------------------------------------------------------------------------
# Collateral assets (``[[asset]]`` tables, issue 13)

def _asset_line(text: str, index: int, key: str | None) -> int | None:
    """Line of ``key = ...`` inside the ``index``-th ``[[asset]]`` table (its header line when ``key`` is None
    or absent from it)."""
    seen, header = -1, None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("["):
            inside = stripped.replace(" ", "") == "[[asset]]"
            if inside:
                seen += 1
                if seen == index:
                    header = number
            elif seen == index:
                break
            continue
        if seen == index and key is not None and re.match(re.escape(key) + r"\s*=", stripped):
            return number
    return header


def _assets(document: dict, path: str, text: str) -> tuple[str, int, tuple[CollateralAsset, ...]] | None:
    """The ``[[asset]]`` tables: ``(settlement asset id, its decimals, the collateral assets)``, or None when
    there are none (a deployment with the settlement asset only). Exactly one table has ``settlement =
    true``; the collateral assets need ``price_instrument``, ``unit_value`` and ``haircut``; the settlement
    asset has none of the collateral keys. :class:`InputError` naming ``asset[K].KEY`` and its line."""
    tables = document.get("asset", [])
    if not tables:
        return None
    settlement: tuple[str, int] | None = None
    collateral = []
    for k, table in enumerate(tables):
        prefix = f"asset[{k}]."

        def fail(message: str, key: str | None, *, k: int = k, prefix: str = prefix) -> InputError:
            return InputError(message, path=path, line=_asset_line(text, k, key),
                              field=prefix + key if key else prefix.rstrip("."))

        if not isinstance(table, dict):
            raise fail("must be a table", None)
        for key, value in table.items():
            if key not in _ASSET_KEYS:
                raise fail("unknown key", key)
            if type(value) is not _ASSET_KEYS[key]:  # strict: a bool is not an int
                raise fail(f"must be {_ASSET_KEYS[key].__name__}, got {type(value).__name__}", key)
        for key in ("id", "decimals"):
            if key not in table:
                raise fail("required key missing", key)
        if not ASSET_IDENTIFIER.fullmatch(table["id"]):
            raise fail(f"must be 1-16 characters of A-Z and 0-9, got {table['id']!r}", "id")
        if not 0 <= table["decimals"] <= MAX_DECIMALS:
            raise fail(f"must be in [0, {MAX_DECIMALS}], got {table['decimals']}", "decimals")
        if table.get("settlement", False):
            if settlement is not None:
                raise fail(f"a second settlement asset (the first is {settlement[0]!r}): exactly one asset "
                           "settles", "settlement")
            for key in (*_COLLATERAL_REQUIRED, "cap", "conversion_penalty_ppm"):
                if key in table:
                    raise fail("not meaningful for the settlement asset (it is the unit of account)", key)
            settlement = (table["id"], table["decimals"])
            continue
        for key in _COLLATERAL_REQUIRED:
            if key not in table:
                raise fail("required key missing for a collateral asset", key)
        unit_value = table["unit_value"]
        if len(unit_value) != 2 or any(type(v) is not int for v in unit_value):
            raise fail("must be [numerator, denominator], two integers", "unit_value")
        tiers = []
        for t, tier in enumerate(table["haircut"]):
            if type(tier) is not list or len(tier) != 2 or any(type(v) is not int for v in tier):
                raise InputError("must be [upper_bound, ratio_ppm], two integers", path=path,
                                 line=_asset_line(text, k, "haircut"), field=f"{prefix}haircut[{t}]")
            tiers.append(HaircutTier(tier[0], tier[1]))
        try:
            collateral.append(CollateralAsset(
                table["id"], table["decimals"], table["price_instrument"], tuple(unit_value), tuple(tiers),
                table.get("cap", 0), table.get("conversion_penalty_ppm", DEFAULT_CONVERSION_PENALTY_PPM)))
        except ConfigurationError as exc:
            tier = re.search(r"haircut\[(\d+)\]", str(exc))
            key = next((key for key in sorted(_ASSET_KEYS, key=len, reverse=True) if f"{key} " in str(exc)),
                       None)
            field = f"{prefix}haircut[{tier.group(1)}]" if tier else prefix + key if key else prefix.rstrip(".")
            raise InputError(str(exc), path=path, line=_asset_line(text, k, "haircut" if tier else key),
                             field=field) from None
    if settlement is None:
        raise InputError("exactly one [[asset]] needs settlement = true (the asset PnL, fees and margin settle "
                         "in)", path=path, line=_asset_line(text, 0, None), field="asset")
    for key, value in (("settlement_asset", settlement[0]), ("settlement_decimals", settlement[1])):
        if key in document and document[key] != value:
            raise InputError(f"{document[key]!r} contradicts the settlement [[asset]] ({value!r}): give one of them",
                             path=path, line=_line_of(text, key, None), field=key)
    return settlement[0], settlement[1], tuple(collateral)


def _asset_field_of(message: str, tables: list, text: str) -> tuple[str | None, int | None]:
    """``(asset[K].KEY, line)`` for a configuration error about an ``[[asset]]`` table (``asset 'ID': ...``)."""
    for k, table in enumerate(tables):
        if isinstance(table, dict) and message.startswith(f"asset {table.get('id')!r}"):
            key = next((key for key in ("price_instrument", "id") if key in message.split(":", 1)[1]), "id")
            return f"asset[{k}].{key}", _asset_line(text, k, key)
    return None, None
