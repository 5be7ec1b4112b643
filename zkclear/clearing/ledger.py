"""The persistent ledger of epochs: SQLite (stdlib), one epoch = one transaction.

Each committed epoch stores its canonical inputs, the resulting state, the report and a hash chain::

    genesis_hash = H("zkclear/ledger/genesis/v1" || len64(config) || config || len64(state_0) || state_0)
    inputs_hash  = H("zkclear/ledger/inputs/v1" || inputs)
    outputs_hash = H("zkclear/ledger/outputs/v1" || len64(state_e) || state_e || len64(report_e) || report_e)
    epoch_hash_e = H("zkclear/ledger/epoch/v1" || epoch_hash_{e-1} || u64be(e) || inputs_hash || outputs_hash)

with ``H`` = SHA-256, ``epoch_hash_0 = genesis_hash``, every byte string the canonical JSON of
:mod:`zkclear.clearing.state` (``len64``: 8-byte big-endian length).

Fill ids and transfer ids are unique across the whole ledger (tables ``fill_ids`` and ``transfer_ids``): an id
that an earlier epoch committed is an :class:`~zkclear.errors.InputError` naming the record, before anything is
applied. The digest of the input folder each epoch came from is kept (table ``input_sources``), so running the
same folder again without naming the epoch is a no-op that says which epoch took it.

Guarantees: re-committing an epoch with identical inputs is a no-op that says so (different inputs:
:class:`LedgerError`); a crash at any point leaves the last committed epoch intact (SQLite's journal; the row
is written inside ``BEGIN IMMEDIATE ... COMMIT``); replaying all stored inputs from an empty ledger reproduces
byte-identical states and hashes (:meth:`Ledger.verify_replay`); a stored epoch's inputs are read only if they
hash to its ``inputs_hash``, its state (to clear on) only if it and the report hash to its ``outputs_hash`` (a
damaged or edited record is a :class:`LedgerError`, never read as the epoch's).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import chain, islice
from pathlib import Path

from zkclear.clearing.canonical_inputs import write_canonical_inputs
from zkclear.clearing.config import (
    BACKSTOP,
    DEFAULT_FILL_FEE_CAP_PPM,
    DEFAULT_FILL_PRICE_BAND_PPM,
    INSURANCE_FUND,
    PORTFOLIO_MODE,
    STANDARD_MODE,
    ClearingConfig,
)
from zkclear.clearing.engine import EpochReport, apply_epoch
from zkclear.clearing.inputs import EpochInputs
from zkclear.clearing.margin import MarginLevel, account_requirement
from zkclear.clearing.scratch_accounts import ScratchAccounts, header_and_named_accounts, state_header
from zkclear.clearing.state import EpochState, canonical_json
from zkclear.clearing.state_scan import account_row, balances_row, paired_rows
from zkclear.errors import InputError, LedgerError

#: Test hook: ``kill`` (SIGKILL itself) or ``sleep:SECONDS`` at the point inside the commit transaction
#: after the epoch row is written and before ``COMMIT``. Used by the crash test; unset in production.
CRASH_HOOK_ENV = "ZKCLEAR_TEST_LEDGER_CRASH"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY,
    previous_hash BLOB NOT NULL,
    inputs_hash BLOB NOT NULL,
    outputs_hash BLOB NOT NULL,
    epoch_hash BLOB NOT NULL,
    inputs BLOB NOT NULL,
    state BLOB NOT NULL,
    report BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS epoch_inputs (epoch INTEGER PRIMARY KEY, inputs BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS fill_ids (fill_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transfer_ids (transfer_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS input_sources (digest BLOB PRIMARY KEY, epoch INTEGER NOT NULL) WITHOUT ROWID;
"""
#: ``meta`` key set once every committed epoch's transfer ids are in ``transfer_ids`` (ledgers created before
#: the table existed are indexed when first opened).
_TRANSFERS_INDEXED = "transfer_ids_indexed"
_INPUTS_LABEL = b"zkclear/ledger/inputs/v1"
#: an epoch's canonical inputs in SQL: in ``epoch_inputs`` (epochs committed since it exists; ``epochs.inputs``
#: is then empty) or else in ``epochs.inputs``
_INPUTS = "COALESCE((SELECT inputs FROM epoch_inputs WHERE epoch_inputs.epoch = epochs.epoch), epochs.inputs)"
_BLOCK = 1 << 20
#: SQLite's result codes for a database it cannot open as asked (in a folder it cannot write its side files in)
_CANNOT_OPEN = frozenset({"SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_READONLY_DIRECTORY"})
#: SQLite's result codes for a damaged database file (``sqlite3.Error.sqlite_errorname``)
_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE",
                      "SQLITE_CORRUPT_VTAB"})
#: below SQLite's default limit on bound parameters
_QUERY_CHUNK = 900


def config_canonical_bytes(config: ClearingConfig) -> bytes:
    """Canonical JSON of a deployment configuration (registries by their names)."""
    extra: dict = {}
    # Issue-5 settings appear only when used, so existing deployments keep their genesis hash.
    if config.genesis_timestamp or config.epoch_seconds:
        extra["genesis_timestamp"] = config.genesis_timestamp
        extra["epoch_seconds"] = config.epoch_seconds
    if config.portfolio_margin is not None:
        extra["portfolio_margin"] = asdict(config.portfolio_margin)
    if config.oracle is not None:  # the fallback bound and the sources only when set (genesis hashes unchanged)
        extra["oracle"] = {key: value for key, value in asdict(config.oracle).items()
                           if key not in ("max_fallback_epochs", "sources") or value is not None}
    if config.dynamic_margin != "off":
        extra["dynamic_margin"] = [config.dynamic_margin, config.dynamic_window]
    if config.option_settlement != "futures":  # absent for futures-style: existing genesis hashes unchanged
        extra["option_settlement"] = config.option_settlement
    if config.fill_price_band_ppm != DEFAULT_FILL_PRICE_BAND_PPM:  # issue-12 keys: only when not the default
        extra["fill_price_band_ppm"] = config.fill_price_band_ppm
    if config.fill_fee_cap_ppm != DEFAULT_FILL_FEE_CAP_PPM:  # red team: only when not the default
        extra["fill_fee_cap_ppm"] = config.fill_fee_cap_ppm
    if config.backstop_margin_mode != "standard":
        extra["backstop_margin_mode"] = config.backstop_margin_mode
    if config.publish_insurance_fund:  # session 16: only when on (existing genesis hashes unchanged)
        extra["publish_insurance_fund"] = True
    if config.statement_limits.position_bits != 32:  # the default width keeps existing genesis hashes
        extra["position_bits"] = config.statement_limits.position_bits
    if config.assets:  # issue 13: collateral assets only when listed (existing genesis hashes unchanged)
        extra["assets"] = [[a.asset_id, a.decimals, a.price_instrument, list(a.unit_value),
                            [[t.upper_bound, t.ratio_ppm] for t in a.haircut], a.cap, a.conversion_penalty_ppm]
                           for a in config.assets]
    return canonical_json(extra | {
        "instruments": [_spec_canonical(spec) for spec in config.instruments],
        "liquidation_penalty_ppm": config.liquidation_penalty_ppm,
        "liquidation_buffer_ppm": config.liquidation_buffer_ppm,
        "funding_clamp_ppm": config.funding_clamp_ppm,
        "deficit_resolution": config.deficit_resolution.value,
        "liquidators": list(config.liquidators),
        "allow_self_trade": config.allow_self_trade,
        "settlement_asset": config.settlement_asset,
        "settlement_decimals": config.settlement_decimals,
        "kinds": sorted(config.kinds.kinds),
        "risk_models": sorted(config.risk_models.models),
    })


_OPTIONAL_SPEC_FIELDS = ("underlying", "option_type", "strike")


def _spec_canonical(spec: object) -> dict:
    record = asdict(spec)  # type: ignore[call-overload]
    for name in _OPTIONAL_SPEC_FIELDS:
        if record[name] is None:
            del record[name]
    return record


def _sha(label: bytes, *parts: bytes) -> bytes:
    digest = hashlib.sha256(label)
    for part in parts:
        digest.update(part)
    return digest.digest()


def _len64(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def genesis_hash(config: ClearingConfig) -> bytes:
    return _sha(b"zkclear/ledger/genesis/v1", _len64(config_canonical_bytes(config)),
                _len64(EpochState.genesis(config).canonical_bytes()))


def epoch_hash(previous: bytes, epoch: int, inputs: bytes, state: bytes,
               report: bytes) -> tuple[bytes, bytes, bytes]:
    """``(inputs_hash, outputs_hash, epoch_hash)`` of one epoch (module docstring)."""
    return _epoch_hash(previous, epoch, _sha(_INPUTS_LABEL, inputs), state, report)


def _inputs_hash_of_file(path: Path) -> bytes:
    """``inputs_hash`` of canonical inputs written to a file, read in blocks."""
    digest = hashlib.sha256(_INPUTS_LABEL)
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.digest()


def _epoch_hash(previous: bytes, epoch: int, inputs_hash: bytes, state: bytes,
                report: bytes) -> tuple[bytes, bytes, bytes]:
    outputs_hash = _sha(b"zkclear/ledger/outputs/v1", _len64(state), _len64(report))
    return inputs_hash, outputs_hash, _sha(b"zkclear/ledger/epoch/v1", previous, epoch.to_bytes(8, "big"),
                                           inputs_hash, outputs_hash)


@dataclass(frozen=True, slots=True, eq=False)
class CommitResult:
    """Outcome of :meth:`Ledger.commit`; ``report`` is None when the epoch was already committed."""

    epoch: int
    epoch_hash: bytes
    already_committed: bool
    message: str
    state: EpochState
    report: EpochReport | None
    #: the number of fills committed and their volume in lots (0 when already committed)
    fills: int = 0
    volume: int = 0


def _find_in_blob(blob: sqlite3.Blob, patterns: bytes | tuple[bytes, ...], start: int) -> int:
    """Offset of the first occurrence of any of ``patterns`` at or after ``start`` in ``blob`` (-1 if none, or if
    ``start`` is), reading it in blocks."""
    if not 0 <= start <= len(blob):
        return -1
    patterns = (patterns,) if isinstance(patterns, bytes) else patterns
    keep = max(len(pattern) for pattern in patterns) - 1
    blob.seek(start)
    carried, offset = b"", start
    while block := blob.read(_BLOCK):
        window = carried + block
        found = [at for at in (window.find(pattern) for pattern in patterns) if at >= 0]
        if found:
            return offset - len(carried) + min(found)
        carried = window[-keep:] if keep else b""
        offset += len(block)
    return -1


def _read_blob(blob: sqlite3.Blob, start: int, end: int) -> bytes:
    blob.seek(start)
    return blob.read(end - start)


def _inputs_hash_of_blob(blob: sqlite3.Blob) -> bytes:
    """``inputs_hash`` of canonical inputs stored in ``blob``, read in blocks."""
    digest = hashlib.sha256(_INPUTS_LABEL)
    blob.seek(0)
    while block := blob.read(_BLOCK):
        digest.update(block)
    return digest.digest()


def _edited_outputs(epoch: int) -> LedgerError:
    return LedgerError(f"epoch {epoch}: the stored state and report do not match the outputs hash the epoch was "
                       "committed with (a damaged or edited ledger): restore it from a backup")


def _stored_bytes(value: object, what: str) -> bytes:
    """A stored column as bytes: a BLOB as it is, TEXT (what an edit by hand in sqlite3 may leave: the same
    ASCII) encoded; anything else (an integer, a NULL) is a :class:`LedgerError`."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            raise LedgerError(f"{what} is not canonical JSON (text that is not ASCII)") from None
    raise LedgerError(f"{what} is not a stored record (an SQLite {type(value).__name__})")


def _decode_inputs(epoch: int, stored: bytes, path: str) -> EpochInputs:
    """The inputs of the canonical record ``stored`` (:class:`LedgerError` if it does not decode)."""
    try:
        return EpochInputs.from_canonical(json.loads(stored), path=path)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError, RecursionError) as exc:  # damaged, edited
        raise LedgerError(f"epoch {epoch}: the stored inputs do not decode: {exc}") from exc


def _crash_hook() -> None:
    point = os.environ.get(CRASH_HOOK_ENV)
    if not point:
        return
    if point == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif point.startswith("sleep:"):
        print("ledger crash hook: inside the commit transaction", file=sys.stderr, flush=True)
        time.sleep(float(point.split(":", 1)[1]))


def _require_shape(index: int, account: str, mode: str, positions: tuple[int, ...], balances: tuple[int, ...],
                   width: int, assets: int) -> None:
    """LedgerError unless a stored account row has one position per instrument, one balance per collateral
    asset and a margin mode the engine writes."""
    if len(positions) != width or len(balances) != assets or mode not in (STANDARD_MODE, PORTFOLIO_MODE):
        raise LedgerError(f"stored state: account row {index} ({account!r:.80}) does not decode: {len(positions)} "
                          f"positions for {width} instruments, {len(balances)} balances for {assets} collateral "
                          f"assets, margin mode {mode!r:.40}")


def backstop_shortfall(state: EpochState, report: EpochReport, config: ClearingConfig) -> int:
    """How much the backstop's equity falls short of its maintenance requirement at the end of the epoch (0 when
    it covers it)."""
    row = state.row(BACKSTOP)
    lots = state.positions[row].tolist()
    requirement = account_requirement(lots, report.risk, config.risk_models, MarginLevel.MAINTENANCE,
                                      state.margin_modes[row])
    equity = state.cash_of(BACKSTOP) + sum(lots[column] * report.risk.instruments[column].value_per_lot
                                           for column in config.premium_columns())
    return max(0, requirement - equity)


def refuse_unprovable_pause(inputs: EpochInputs, report: EpochReport, backstop_shortfall: int = 0) -> None:
    """InputError when the epoch leaves an account the liquidation pass exempted (it carried exposure to an
    instrument whose liquidations the oracle guard paused) below its maintenance requirement: every account's
    statement proves ``equity >= maintenance``, so such an epoch cannot be proven, and every later epoch's proof
    needs this one's header (red team session 14: committed, it stopped the deployment's proofs for good, the next
    epoch's prove refused with "prove epochs in order"). Named by the first quote of the first paused instrument in
    the quotes file (its file alone when it quoted nothing: an outage). When the backstop is among those accounts,
    ``backstop_shortfall`` (what its equity lacks) is named with the remedy that needs no quote: a deposit of at
    least that much to the insurance fund, which tops the backstop up (red team s16)."""
    if not report.paused_accounts:
        return
    paused = report.paused_instruments
    quote = next((q for q in inputs.oracle_quotes if q.instrument in paused), None)
    where = ({"path": quote.path, "line": quote.line} if quote is not None
             else {"path": inputs.source("oracle.csv"), "line": None})
    more = len(report.paused_accounts) - 1
    remedy = ""
    if BACKSTOP in report.paused_accounts and backstop_shortfall > 0:
        remedy = (f"; {BACKSTOP!r} lacks {backstop_shortfall} of its maintenance requirement: a deposit of at least "
                  f"that much to {INSURANCE_FUND!r} in this epoch's transfers tops it up")
    raise InputError(f"account {report.paused_accounts[0]!r}{f' (and {more} more)' if more else ''} carried "
                     f"exposure to {', '.join(paused)}, whose liquidations the oracle guard paused this epoch, and "
                     "ends it below its maintenance requirement: no statement proves such an account, and epochs are "
                     "proven in order, so committing this epoch would stop every later proof; nothing was committed "
                     f"(give the paused instruments' quotes from enough sources{remedy}, docs/clearing.md \"Paused "
                     "liquidations\")", field="instrument", **where)


class Ledger:
    """An SQLite file of epochs for one deployment configuration. Use as a context manager or call close()."""

    def __init__(self, path: str | Path, config: ClearingConfig, *, durable: bool = True, create: bool = True,
                 read_only: bool = False) -> None:
        """Open (creating if needed) the ledger at ``path``. ``durable=False`` skips fsync (benchmarks only);
        ``create=False`` opens only an existing ledger: a file without one (empty: truncated, or a failed copy)
        is refused untouched, never initialised at genesis. ``read_only`` (implies ``create=False``): for readers
        that write nothing (``zkclear status``), also in a folder that cannot be written (a read-only mount, a
        backup): the ledger is opened as usual when SQLite can write its side files beside it, else as an
        immutable file (no writer can be at work in a folder nobody can write).

        Raises :class:`LedgerError` if the file belongs to a different configuration or is not a ledger."""
        self.path = str(path)
        self.config = config
        create = create and not read_only
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            if read_only:
                self._db = self._readable(self._db)
            if not create and self._db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
                self._db.close()
                raise LedgerError(f"{self.path} holds no ledger (an empty file?): restore it from a backup (an empty "
                                  "one would restart the deployment from genesis)")
            if not read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
                self._db.executescript(_SCHEMA)
            # a damaged page may only show here, past the schema (a page of the meta table zeroed)
            config_bytes = config_canonical_bytes(config)
            stored = self._db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
            if stored is None and read_only:
                raise LedgerError(f"{self.path} holds no configuration: not a ledger, or a damaged one")
            if stored is None:
                with self._transaction():
                    self._db.execute("INSERT INTO meta VALUES ('config', ?)", (config_bytes,))
                    self._db.execute("INSERT INTO meta VALUES ('genesis_hash', ?)", (genesis_hash(config),))
            elif _stored_bytes(stored[0], f"{self.path}: the stored configuration") != config_bytes:
                raise LedgerError(f"{self.path}: the ledger was created with a different configuration")
            # a reader of a ledger older than ``epoch_inputs`` (not written to since: a writer has just created it)
            # finds every epoch's inputs in ``epochs.inputs``
            self._inputs_sql = _INPUTS if self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'epoch_inputs'").fetchone() else \
                "epochs.inputs"
            if not read_only:  # a reader never writes (the index is for committing: a reader does not use it)
                self._index_transfer_ids()
        except (sqlite3.DatabaseError, LedgerError) as exc:
            if hasattr(self, "_db"):  # not when the connection itself failed
                self._db.close()
            if isinstance(exc, LedgerError):
                raise
            if getattr(exc, "sqlite_errorname", "") in _CANNOT_OPEN:
                raise LedgerError(f"{self.path}: cannot open the ledger for writing (SQLite writes its -wal and -shm "
                                  f"files beside it: is its folder read-only?): {exc}") from exc
            if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_FULL", "SQLITE_IOERR")):
                # the file may well be sound (its -shm file could not be sized on a full disk): never "not usable",
                # which would send the operator to a backup older than the ledger
                raise LedgerError(f"{self.path}: cannot open the ledger: SQLite could not read or write its files "
                                  f"(a full disk? an I/O error): {exc}") from exc
            raise LedgerError(f"{self.path}: not a usable ledger: {exc}") from exc

    def _readable(self, db: sqlite3.Connection) -> sqlite3.Connection:
        """``db`` if it can read the ledger; else (SQLite cannot create ``-wal`` / ``-shm`` beside it: a read-only
        folder) a connection that reads the file as immutable, writing nothing anywhere."""
        try:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
            return db
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") not in _CANNOT_OPEN:
                raise
        # no writer can be at work either (it needs the same side files); but an immutable reader skips the
        # write-ahead log, so one that holds commits is refused rather than read past
        wal = Path(self.path + "-wal")
        if wal.exists() and wal.stat().st_size:
            db.close()
            raise LedgerError(f"{self.path}: its write-ahead log {wal.name} holds commits that SQLite can only read "
                              "where it can write beside the ledger (a read-only folder): read it where it can")
        db.close()
        return sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                               isolation_level=None)

    def _index_transfer_ids(self) -> None:
        """Fill ``transfer_ids`` from the stored inputs of a ledger that predates it (once)."""
        if self._db.execute("SELECT 1 FROM meta WHERE key = ?", (_TRANSFERS_INDEXED,)).fetchone():
            return
        with self._transaction():
            for epoch, inputs in self._db.execute(f"SELECT epoch, {self._inputs_sql} FROM epochs ORDER BY epoch"
                                                  ).fetchall():
                decoded = _decode_inputs(epoch, _stored_bytes(inputs, f"epoch {epoch}: the stored inputs"),
                                         f"{self.path}#epoch{epoch}")
                ids = [t.transfer_id for t in decoded.transfers] + [a.action_id for a in decoded.operator_actions]
                self._db.executemany("INSERT OR IGNORE INTO transfer_ids VALUES (?, ?)",
                                     ((record_id, epoch) for record_id in ids))
            self._db.execute("INSERT INTO meta VALUES (?, ?)", (_TRANSFERS_INDEXED, b"1"))

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.close()
        if isinstance(error, sqlite3.DatabaseError) and getattr(error, "sqlite_errorname", "") in _DAMAGED:
            # a damaged page of the ledger, met while reading it (the pages read on opening were sound): one
            # LedgerError naming the file, never an internal error
            raise LedgerError(f"{self.path}: not a usable ledger: {error}") from error

    def close(self) -> None:
        self._db.close()

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind: object, *rest: object) -> None:
            if kind is None:
                self.db.execute("COMMIT")
            elif self.db.in_transaction:  # SQLite rolls back itself on a full disk or an I/O error: its error stands
                self.db.execute("ROLLBACK")

    def _transaction(self) -> Ledger._Tx:
        return Ledger._Tx(self._db)

    # -- reading ------------------------------------------------------------------------------

    @property
    def genesis_hash(self) -> bytes:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'genesis_hash'").fetchone()
        if row is None:
            raise LedgerError(f"{self.path} holds no genesis hash: a damaged ledger")
        return _stored_bytes(row[0], f"{self.path}: the stored genesis hash")

    def head(self) -> tuple[int, bytes]:
        """``(last committed epoch, its epoch hash)``; ``(0, genesis_hash)`` when empty."""
        row = self._db.execute("SELECT epoch, epoch_hash FROM epochs ORDER BY epoch DESC LIMIT 1").fetchone()
        return (0, self.genesis_hash) if row is None else (row[0], bytes(row[1]))

    def state(self, epoch: int | None = None) -> EpochState:
        """The state after ``epoch`` (default: the last committed one). :class:`LedgerError` unless the stored state
        and report hash to the ``outputs_hash`` the epoch's hash binds (an edited figure that still decodes is
        refused, never cleared on from)."""
        if epoch is None:
            epoch = self.head()[0]
        if epoch == 0:
            return EpochState.genesis(self.config)
        row = self._db.execute("SELECT state, report, outputs_hash FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
        if row is None:
            raise LedgerError(f"epoch {epoch} is not in the ledger")
        state = _stored_bytes(row[0], f"epoch {epoch}: the stored state")
        report = _stored_bytes(row[1], f"epoch {epoch}: the stored report")
        if _sha(b"zkclear/ledger/outputs/v1", _len64(state), _len64(report)) != row[2]:
            raise _edited_outputs(epoch)
        return EpochState.from_canonical_bytes(state)

    def _require_outputs_hash(self, epoch: int) -> None:
        """:class:`LedgerError` unless the stored state and report of ``epoch`` (a committed epoch) hash to the
        ``outputs_hash`` the epoch's hash binds — both read from their blobs a block at a time, so that what is
        streamed from a state (``epoch prove``'s copy, ``status``, the liabilities) is the state committed, as
        :meth:`state` requires of what it decodes."""
        row = self._db.execute("SELECT outputs_hash FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
        if row is None:
            raise LedgerError(f"epoch {epoch} is not in the ledger")
        digest = hashlib.sha256(b"zkclear/ledger/outputs/v1")
        for column in ("state", "report"):
            try:
                with self._db.blobopen("epochs", column, epoch, readonly=True) as blob:
                    digest.update(len(blob).to_bytes(8, "big"))
                    while block := blob.read(_BLOCK):
                        digest.update(block)
            except sqlite3.OperationalError as exc:  # a NULL or a number where the bytes were
                raise LedgerError(f"epoch {epoch}: the stored {column} is not bytes ({exc}): a damaged ledger"
                                  ) from None
        if digest.digest() != row[0]:
            raise _edited_outputs(epoch)

    def copy_accounts(self, epoch: int, path: Path) -> ScratchAccounts:
        """The accounts of the state after ``epoch`` (a committed epoch) copied into a scratch database at ``path``
        (:mod:`zkclear.clearing.scratch_accounts`): the stored state is read from its blob a block at a time, never
        held whole, and every row is checked on the way."""
        self._require_outputs_hash(epoch)
        with self._db.blobopen("epochs", "state", epoch, readonly=True) as blob:
            return ScratchAccounts.copy(blob.read, path)

    def state_without_accounts(self, epoch: int) -> EpochState:
        """The state after ``epoch`` without its accounts (genesis included): instruments, prices, totals (read from
        the stored state a block at a time)."""
        if epoch == 0:
            return state_header(io.BytesIO(EpochState.genesis(self.config).canonical_bytes()).read)[0]
        self._require_outputs_hash(epoch)
        with self._db.blobopen("epochs", "state", epoch, readonly=True) as blob:
            return state_header(blob.read)[0]

    def account_rows(self, epoch: int) -> Iterator[tuple[str, str, int, int, tuple[int, ...], tuple[int, ...]]]:
        """Every account of the state after ``epoch`` (a committed epoch) as ``(id, margin mode, cash, net deposits,
        positions, collateral balances)``, in order, read from the stored state by two readers of its blob a block
        at a time (:func:`~zkclear.clearing.state_scan.paired_rows`): nothing is held but two blocks and a row,
        and nothing is written."""
        self._require_outputs_hash(epoch)
        width, assets = len(self.config.instruments), len(self.config.asset_ids)
        previous = None
        with (self._db.blobopen("epochs", "state", epoch, readonly=True) as first,
              self._db.blobopen("epochs", "state", epoch, readonly=True) as second):
            for index, (row, balances) in enumerate(paired_rows(first.read, second.read)):
                account, mode, cash, deposits, positions = account_row(row, index)
                held = () if balances is None else balances_row(balances, index)
                # what the whole state's decoder refuses, and what a sum would count twice
                _require_shape(index, account, mode, positions, held, width, assets)
                if previous is not None and not previous < account:
                    raise LedgerError(f"stored state: account row {index} ({account!r:.80}) does not follow "
                                      f"{previous!r:.80}: the ids are not in order, or one is listed twice")
                previous = account
                yield account, mode, cash, deposits, positions, held

    def named_accounts(self, epoch: int, ids: Collection[str]) -> dict[str, tuple[int, tuple[int, ...]]]:
        """``account id -> (cash, positions)`` of the accounts named in ``ids`` after ``epoch`` (genesis included),
        read from the stored state a block at a time: only their rows are decoded, none is held but theirs."""
        return self.header_and_named(epoch, ids)[2]

    def header_and_named(self, epoch: int, ids: Collection[str]
                         ) -> tuple[EpochState, int, dict[str, tuple[int, tuple[int, ...]]]]:
        """What :meth:`state_without_accounts`, :meth:`account_count` and :meth:`named_accounts` give, in one pass
        over the stored state after ``epoch`` (genesis included)."""
        if epoch == 0:
            genesis = EpochState.genesis(self.config)
            header = state_header(io.BytesIO(genesis.canonical_bytes()).read)[0]
            return header, len(genesis.accounts), {
                account: (int(genesis.cash[row]), tuple(genesis.positions[row].tolist()))
                for row, account in enumerate(genesis.accounts) if account in ids}
        self._require_outputs_hash(epoch)
        with self._db.blobopen("epochs", "state", epoch, readonly=True) as blob:
            header, count, found = header_and_named_accounts(blob.read, ids)
        width = len(self.config.instruments)
        for index, (account, (_cash, positions)) in enumerate(found.items()):
            if len(positions) != width:
                raise LedgerError(f"stored state: account {account!r:.80} holds {len(positions)} positions, the "
                                  f"deployment lists {width} instruments (row {index} of those read)")
        return header, count, found

    def account_count(self, epoch: int) -> int:
        """How many accounts the state after ``epoch`` holds (its rows counted in one pass, none decoded)."""
        self._require_outputs_hash(epoch)
        with self._db.blobopen("epochs", "state", epoch, readonly=True) as blob:
            return state_header(blob.read)[1]

    def epoch_hashes(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._db.execute("SELECT epoch_hash FROM epochs ORDER BY epoch")]

    def inputs(self, epoch: int, *, public_only: bool = False) -> EpochInputs:
        """The stored inputs of ``epoch``; with ``public_only``, the records its public inputs are computed from:
        every record but the fills, the opening records and the transfers (which are then empty), read without
        decoding — or holding — those (the public inputs, the price history: what ``epoch prove`` and ``status``
        read of an epoch, however many accounts it opened or funded)."""
        if public_only:
            stored = self._public_records(epoch)
        else:
            row = self._db.execute(f"SELECT {self._inputs_sql}, inputs_hash FROM epochs WHERE epoch = ?",
                                   (epoch,)).fetchone()
            if row is None:
                raise LedgerError(f"epoch {epoch} is not in the ledger")
            stored = _stored_bytes(row[0], f"epoch {epoch}: the stored inputs")
            self._require_inputs_hash(epoch, _sha(_INPUTS_LABEL, stored), row[1])
        return _decode_inputs(epoch, stored, f"{self.path}#epoch{epoch}")

    def _require_inputs_hash(self, epoch: int, computed: bytes, stored_hash: object) -> None:
        """LedgerError unless the stored inputs of ``epoch`` hash to the ``inputs_hash`` its epoch hash binds: an
        edited or damaged record that still decodes is refused, never read as the epoch's inputs."""
        if computed != stored_hash:
            raise LedgerError(f"epoch {epoch}: the stored inputs do not match the inputs hash the epoch was committed "
                              "with (a damaged or edited ledger): restore it from a backup")

    def _public_records(self, epoch: int) -> bytes:
        """The stored canonical inputs with the ``"fills":{...}`` member cut out and the ``"opens"`` and
        ``"transfers"`` arrays emptied, read from the blob in blocks.

        The layout (``zkclear.clearing.canonical_inputs``; keys sorted) is ``{"epoch":E,"fills":{...,"size":[digits
        and commas]},...,"opens":[...],["operator_actions":[...],]["oracle_quotes":[...],]"transfers":[...]}``.
        Every byte ``"`` inside a JSON string is escaped (``\\"``), so ``,"`` followed by a key never occurs inside
        an id: the fills member starts at the first ``,"fills":{`` and ends at the first ``]}`` after the first
        ``"size":[`` (the size column holds only integers); the opening records start at the first ``,"opens":[``
        after it and end where the next key starts; the transfers are the last member. The blob is hashed first
        (a pass in blocks): a record that does not hash to the epoch's ``inputs_hash`` is refused, so the cut only
        ever reads what was committed."""
        row = self._db.execute("SELECT inputs_hash FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
        if row is None:
            raise LedgerError(f"epoch {epoch} is not in the ledger")
        with self._db.blobopen(*self._inputs_blob(epoch), epoch, readonly=True) as blob:
            self._require_inputs_hash(epoch, _inputs_hash_of_blob(blob), row[0])
            fills = _find_in_blob(blob, b',"fills":{', 0)
            fills_end = _find_in_blob(blob, b"]}", _find_in_blob(blob, b'"size":[', fills))
            after_fills = fills_end + 2 if fills_end >= 0 else -1
            opens = _find_in_blob(blob, b',"opens":[', after_fills)
            after_opens = _find_in_blob(blob, (b',"operator_actions":[', b',"oracle_quotes":[', b',"transfers":['),
                                        opens)
            transfers = _find_in_blob(blob, b',"transfers":[', after_opens)
            if min(fills, after_fills, opens, after_opens, transfers) < 0 or _read_blob(
                    blob, len(blob) - 1, len(blob)) != b"}":
                raise LedgerError(f"epoch {epoch}: the stored inputs are not in the canonical layout")
            return b"".join((_read_blob(blob, 0, fills), _read_blob(blob, after_fills, opens), b',"opens":[]',
                             _read_blob(blob, after_opens, transfers), b',"transfers":[]}'))

    # -- writing ------------------------------------------------------------------------------

    def commit(self, inputs: EpochInputs, *, scratch: Path, once_per_folder: bool = False,
               provable_only: bool = False) -> CommitResult:
        """Apply ``inputs`` to the last committed state and store the epoch atomically.

        An epoch already committed with byte-identical inputs is a no-op (``already_committed``); with other
        inputs it is a :class:`LedgerError`. With ``once_per_folder`` (the operator did not name the epoch),
        inputs read from a folder whose files an earlier epoch committed (same ``source_digest``) are a no-op
        too, naming that epoch (a named epoch may repeat a folder on purpose: a quiet market gives identical
        files). A bad input — also a fill or transfer id an earlier epoch committed — raises
        :class:`~zkclear.errors.InputError` and the ledger is unchanged (the transaction is rolled back).

        Fills read in batches (a :class:`~zkclear.clearing.inputs.FillSource`) are never held at once: the
        canonical inputs are written to a scratch file and copied into the ledger in blocks, and the fill
        ids are checked and stored batch by batch. ``scratch``: the folder that file is written in (in a new
        folder of its own, removed when the commit ends), private like the ledger — a deployment's private scratch
        folder (:mod:`zkclear.scratch`), never the system's temporary folder; a write error there (a full disk) is
        a :class:`LedgerError`.

        With ``provable_only`` (a deployment that proves every epoch it commits) an epoch that leaves an account the
        oracle guard exempted from liquidation below maintenance (``report.paused_accounts``) is refused too, as an
        :class:`~zkclear.errors.InputError` naming the account and the paused instrument's quotes: its statements
        could not be proven, and since epochs are proven in order, no later epoch could be either
        (:func:`refuse_unprovable_pause`).
        """
        head_epoch, head_hash = self.head()
        with tempfile.TemporaryDirectory(prefix="zkclear-commit-", dir=scratch) as folder:
            try:
                encoded = write_canonical_inputs(inputs, Path(folder))
            except OSError as exc:
                raise LedgerError(f"cannot write the epoch's canonical inputs in {folder}: {exc.strerror or exc}"
                                  ) from exc
            inputs_hash = _inputs_hash_of_file(encoded.path)
            if isinstance(inputs.epoch, int) and 1 <= inputs.epoch <= head_epoch:
                row = self._db.execute("SELECT inputs_hash, epoch_hash FROM epochs WHERE epoch = ?",
                                       (inputs.epoch,)).fetchone()
                if bytes(row[0]) != inputs_hash:
                    raise LedgerError(f"epoch {inputs.epoch} is already committed with different inputs")
                return CommitResult(inputs.epoch, bytes(row[1]), True,
                                    f"epoch {inputs.epoch} is already committed with these inputs: nothing to do",
                                    self.state(inputs.epoch), None)
            seen = (self.epoch_of_source(inputs.source_digest) if inputs.source_digest and once_per_folder
                    else None)
            if seen is not None:
                row = self._db.execute("SELECT epoch_hash FROM epochs WHERE epoch = ?", (seen,)).fetchone()
                return CommitResult(seen, bytes(row[0]), True,
                                    f"these input files were already committed as epoch {seen} (same folder "
                                    f"digest {inputs.source_digest.hex()[:16]}...): nothing to do; name the "
                                    f"epoch (--epoch {head_epoch + 1}) to commit them again as a new one",
                                    self.state(seen), None)
            state, report = apply_epoch(self.state(head_epoch), inputs, self.config)  # validates every record
            if provable_only:
                exempt_backstop = BACKSTOP in report.paused_accounts
                refuse_unprovable_pause(inputs, report,
                                        backstop_shortfall(state, report, self.config) if exempt_backstop else 0)
            if self.head()[0] != head_epoch:
                return self._committed_meanwhile(state.epoch, inputs_hash, None)
            self._refuse_committed_transfer_ids(inputs)
            state_bytes = state.canonical_bytes()
            report_bytes = canonical_json(report.to_canonical())
            _, outputs_hash, new_hash = _epoch_hash(head_hash, state.epoch, inputs_hash, state_bytes, report_bytes)
            try:
                with self._transaction():
                    self._db.execute("INSERT INTO epochs VALUES (?, ?, ?, ?, ?, x'', ?, ?)",
                                     (state.epoch, head_hash, inputs_hash, outputs_hash, new_hash, state_bytes,
                                      report_bytes))
                    self._db.execute("INSERT INTO epoch_inputs VALUES (?, zeroblob(?))", (state.epoch, encoded.length))
                    self._write_inputs_blob(state.epoch, encoded.path)
                    self._store_fill_ids(inputs, state.epoch)
                    self._db.executemany("INSERT INTO transfer_ids VALUES (?, ?)",
                                         ((t.transfer_id, state.epoch) for t in inputs.transfers))
                    self._db.executemany("INSERT INTO transfer_ids VALUES (?, ?)",
                                         ((a.action_id, state.epoch) for a in inputs.operator_actions))
                    if inputs.source_digest:
                        self._db.execute("INSERT OR IGNORE INTO input_sources VALUES (?, ?)",
                                         (inputs.source_digest, state.epoch))
                    _crash_hook()
            except sqlite3.IntegrityError as exc:  # another run committed this epoch since the check above
                return self._committed_meanwhile(state.epoch, inputs_hash, exc)
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):  # another process kept the ledger's write lock
                    raise LedgerError(f"{self.path}: commit of epoch {state.epoch} waited for another process writing "
                                      "this ledger (another `epoch run`?) and gave up: nothing of this run was "
                                      "applied; run it again when that one has ended") from exc
                raise LedgerError(f"{self.path}: commit of epoch {state.epoch} failed: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise LedgerError(f"{self.path}: commit of epoch {state.epoch} failed: {exc}") from exc
        return CommitResult(state.epoch, new_hash, False, f"epoch {state.epoch} committed", state, report,
                            encoded.fills, encoded.volume)

    def _committed_meanwhile(self, epoch: int, inputs_hash: bytes, error: sqlite3.Error | None) -> CommitResult:
        """Another run (a second `epoch run` at the same time) committed ``epoch`` while this one cleared it:
        nothing to do if with the same inputs, else a :class:`LedgerError`; nothing of this run is applied."""
        row = self._db.execute("SELECT inputs_hash, epoch_hash FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
        if row is None:
            raise LedgerError(f"{self.path}: commit of epoch {epoch} failed: {error or 'the ledger moved on'}")
        if bytes(row[0]) != inputs_hash:
            raise LedgerError(f"epoch {epoch} was committed by another run, with different inputs, while this one "
                              "cleared it: nothing of this run was applied")
        return CommitResult(epoch, bytes(row[1]), True, f"epoch {epoch} was committed with these inputs by another "
                            "run while this one cleared it: nothing to do", self.state(epoch), None)

    def _inputs_blob(self, epoch: int) -> tuple[str, str]:
        """(table, column) holding the canonical inputs of ``epoch``: ``epoch_inputs`` since it exists,
        ``epochs.inputs`` for an epoch a ledger committed before."""
        stored = self._inputs_sql == _INPUTS and self._db.execute("SELECT 1 FROM epoch_inputs WHERE epoch = ?",
                                                                  (epoch,)).fetchone()
        return ("epoch_inputs", "inputs") if stored else ("epochs", "inputs")

    def _write_inputs_blob(self, epoch: int, source: Path) -> None:
        """Copy the canonical inputs in ``source`` into the epoch's (zero-filled) ``epoch_inputs`` blob: the
        blob is its row's last column, so SQLite never materialises the zeros (it would for a column in the
        middle of ``epochs``: twice the inputs' size in memory)."""
        with self._db.blobopen("epoch_inputs", "inputs", epoch) as blob, source.open("rb") as handle:
            while block := handle.read(_BLOCK):
                blob.write(block)

    def _store_fill_ids(self, inputs: EpochInputs, epoch: int) -> None:
        """Store the epoch's fill ids batch by batch; :class:`InputError` naming the first fill whose id an
        earlier epoch already committed (ids within the epoch were checked distinct by the engine)."""
        for fills in inputs.fills.batches():
            committed: dict[str, int] = {}
            for start in range(0, len(fills), _QUERY_CHUNK):
                committed.update(self._committed("fill_ids", "fill_id", fills.fill_id[start:start + _QUERY_CHUNK]))
            if committed:
                k = next(k for k, fill_id in enumerate(fills.fill_id) if fill_id in committed)
                raise InputError(f"fill id {fills.fill_id[k]!r} was already committed in epoch "
                                 f"{committed[fills.fill_id[k]]}", path=fills.path, line=fills.line(k),
                                 field="fill_id")
            self._db.executemany("INSERT INTO fill_ids VALUES (?, ?)",
                                 ((fill_id, epoch) for fill_id in fills.fill_id))

    def _refuse_committed_transfer_ids(self, inputs: EpochInputs) -> None:
        """:class:`InputError` naming the first transfer whose id an earlier epoch already committed (ids are
        unique for the life of the deployment, so re-running a folder can never credit a deposit twice)."""
        records = chain(((t.transfer_id, t.path, t.line, "transfer_id") for t in inputs.transfers),
                        ((a.action_id, a.path, a.line, "action_id") for a in inputs.operator_actions))
        while chunk := list(islice(records, _QUERY_CHUNK)):  # a first epoch has as many transfers as accounts
            committed = self._committed("transfer_ids", "transfer_id", [record[0] for record in chunk])
            for record_id, path, line, field in chunk:
                if record_id in committed:
                    raise InputError(f"transfer id {record_id!r} was already committed in epoch "
                                     f"{committed[record_id]} (transfer and action ids are unique for the life of "
                                     "the deployment)", path=path, line=line or None, field=field)

    def _committed(self, table: str, column: str, ids: Sequence[str]) -> dict[str, int]:
        """The ids among ``ids`` (at most ``_QUERY_CHUNK``) that ``table`` holds, each with its epoch."""
        return dict(self._db.execute(f"SELECT {column}, epoch FROM {table} WHERE {column} IN "
                                     f"({','.join('?' * len(ids))})", ids).fetchall())

    def epoch_of_source(self, digest: bytes) -> int | None:
        """The epoch that committed the input folder with this digest, if any."""
        row = self._db.execute("SELECT epoch FROM input_sources WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else int(row[0])

    def verify_replay(self) -> EpochState:
        """Re-apply every stored epoch's inputs from genesis; raise :class:`LedgerError` unless every state,
        report and hash comes out byte-identical. Returns the final state."""
        state = EpochState.genesis(self.config)
        previous = self.genesis_hash
        rows = self._db.execute(f"SELECT epoch, previous_hash, epoch_hash, {self._inputs_sql}, state, report "
                                "FROM epochs ORDER BY epoch")
        for epoch, stored_previous, stored_hash, inputs_bytes, state_bytes, report_bytes in rows:
            if bytes(stored_previous) != previous:
                raise LedgerError(f"epoch {epoch}: hash chain broken")
            inputs_bytes = _stored_bytes(inputs_bytes, f"epoch {epoch}: the stored inputs")
            inputs = _decode_inputs(epoch, inputs_bytes, f"{self.path}#epoch{epoch}")
            state, report = apply_epoch(state, inputs, self.config)
            replayed_state = state.canonical_bytes()
            replayed_report = canonical_json(report.to_canonical())
            if (replayed_state != _stored_bytes(state_bytes, f"epoch {epoch}: the stored state")
                    or replayed_report != _stored_bytes(report_bytes, f"epoch {epoch}: the stored report")):
                raise LedgerError(f"epoch {epoch}: replay does not reproduce the stored outputs")
            _, _, previous = epoch_hash(previous, epoch, inputs_bytes, replayed_state, replayed_report)
            if previous != bytes(stored_hash):
                raise LedgerError(f"epoch {epoch}: replay does not reproduce the epoch hash")
        return state
