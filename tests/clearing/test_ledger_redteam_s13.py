"""Red team, session 13: the ledger's stored records read back (``Ledger.inputs`` with and without ``public_only``,
``Ledger.state``, the transfer-id index of an older ledger, ``verify_replay``) and an epoch folder written while it
is read (``load_epoch``).

Each test pinned a defect before its fix (named in its docstring): an edited or damaged record that still decoded
was read as the epoch's (the fill-free cut and the whole decode even read different marks from one record), a
damaged record of an older ledger ended in a JSON exception, a state stored as SQLite TEXT in a TypeError, and a
file appended to while the epoch was read was remembered as committed with the records it gained."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import zkclear.clearing.io as epoch_io
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger
from zkclear.errors import InputError, LedgerError
from zkclear.synthetic import MarketSpec, generate_market

SPEC = MarketSpec(accounts=6, epochs=2, fills_per_epoch=20, seed=3, options=False)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> tuple[object, list[Path]]:
    config_path, epoch_dirs = generate_market(tmp_path_factory.mktemp("market") / "market", SPEC)
    return load_config(config_path), epoch_dirs


@pytest.fixture(scope="module")
def committed(market, tmp_path_factory) -> Path:
    """A ledger with both epochs committed (copied by each test that damages it)."""
    config, epoch_dirs = market
    root = tmp_path_factory.mktemp("committed")
    with Ledger(root / "ledger.sqlite", config, durable=False) as ledger:
        for number, directory in enumerate(epoch_dirs, start=1):
            ledger.commit(load_epoch(directory, number, config), scratch=root)
    return root / "ledger.sqlite"


def _copy(committed: Path, tmp_path: Path, *statements: tuple[str, tuple]) -> Path:
    path = tmp_path / "ledger.sqlite"
    shutil.copy(committed, path)
    db = sqlite3.connect(path)
    with db:
        for sql, parameters in statements:
            db.execute(sql, parameters)
    db.close()
    return path


def _stored_inputs(path: Path, epoch: int = 2) -> bytes:
    with sqlite3.connect(path) as db:
        return bytes(db.execute("SELECT inputs FROM epoch_inputs WHERE epoch = ?", (epoch,)).fetchone()[0])


_OTHER_MARKS = b',"marks":[["BTC-PERP",1,0],["ETH-PERP",1,0],["BTC-FUT",1,null]]}'


@pytest.mark.parametrize("edit", [
    pytest.param(lambda data: data[:-1] + _OTHER_MARKS, id="marks-again-after-the-transfers"),
    pytest.param(lambda data: data + b"}", id="a-byte-after-the-record"),
    pytest.param(lambda data: data.replace(b'{"epoch":2,', b'{"epoch":7,', 1), id="another-epoch-number"),
    pytest.param(lambda data: data.replace(b'"marks":[["BTC-PERP",', b'"marks":[["BTC-PERP",9', 1),
                 id="a-mark-digit-added"),
    pytest.param(lambda data: data.replace(b'"marks":[', b'"marks":' + b"[" * 100_000, 1), id="nested-too-deep"),
])
def test_stored_inputs_edited_but_still_readable_are_a_ledger_error_on_both_reads(committed, market, tmp_path, edit):
    """Defect (fixed): neither read checked the record against the ``inputs_hash`` its epoch hash binds. A second
    ``marks`` member after the transfers was read by the fill-free cut (``status``, ``epoch prove``) as the first and
    by the whole decode as the second, silently; a byte after the record, or another epoch number, was read by the
    cut as if nothing was wrong (``epoch prove`` then failed a check, exit 2, not a damaged ledger); an added digit
    in a mark was a mark; a record nested too deep was a RecursionError (status: "input too large")."""
    path = _copy(committed, tmp_path)
    damaged = edit(_stored_inputs(path))
    path = _copy(committed, tmp_path, ("UPDATE epoch_inputs SET inputs = ? WHERE epoch = 2", (damaged,)))
    with Ledger(path, market[0], create=False) as ledger:
        for public_only in (True, False):
            with pytest.raises(LedgerError, match=r"^epoch 2: the stored inputs do not match the inputs hash"):
                ledger.inputs(2, public_only=public_only)
        assert ledger.inputs(1, public_only=True).marks == ledger.inputs(1).marks  # the sound epoch still reads


def test_an_older_ledgers_damaged_inputs_are_a_ledger_error_when_its_transfer_ids_are_indexed(committed, market,
                                                                                              tmp_path):
    """Defect (fixed): opening a ledger older than the ``transfer_ids`` table (no ``transfer_ids_indexed`` key)
    decoded every stored record with a bare ``json.loads``: a damaged one was a JSONDecodeError out of the
    constructor (``epoch run``: internal error, exit 3)."""
    path = _copy(committed, tmp_path,
                 ("UPDATE epochs SET inputs = x'7b' WHERE epoch = 1", ()),
                 ("DELETE FROM epoch_inputs WHERE epoch = 1", ()),
                 ("DELETE FROM meta WHERE key = 'transfer_ids_indexed'", ()))
    with pytest.raises(LedgerError, match=r"^epoch 1: the stored inputs do not decode"):
        Ledger(path, market[0], create=False)


def test_an_older_ledger_with_sound_inputs_is_still_indexed_and_read(committed, market, tmp_path):
    """What the fix above must keep: the same older layout with the record intact opens, indexes its transfer ids
    (a committed id is refused again) and reads both ways."""
    path = _copy(committed, tmp_path)
    first = _stored_inputs(path, 1)
    path = _copy(committed, tmp_path,
                 ("UPDATE epochs SET inputs = ? WHERE epoch = 1", (first,)),
                 ("DELETE FROM epoch_inputs WHERE epoch = 1", ()),
                 ("DELETE FROM transfer_ids", ()),
                 ("DELETE FROM meta WHERE key = 'transfer_ids_indexed'", ()))
    with Ledger(path, market[0], create=False) as ledger:
        full = ledger.inputs(1)
        assert ledger.inputs(1, public_only=True).marks == full.marks
        assert full.transfers
        with sqlite3.connect(path) as db:
            indexed = {row[0] for row in db.execute("SELECT transfer_id FROM transfer_ids")}
        assert {t.transfer_id for t in full.transfers} <= indexed
        ledger.verify_replay()


def test_a_state_and_inputs_stored_as_sqlite_text_are_read_as_their_bytes(committed, market, tmp_path):
    """Defect (fixed): what an edit by hand in sqlite3 may leave (the same ASCII stored as TEXT) streamed right
    (``status``) but ``Ledger.state`` — what ``epoch run`` clears on from — and the whole inputs read were
    ``bytes(str)``: a TypeError (internal error, exit 3)."""
    config, epoch_dirs = market
    path = _copy(committed, tmp_path,
                 ("UPDATE epochs SET state = CAST(state AS TEXT), report = CAST(report AS TEXT)", ()),
                 ("UPDATE epoch_inputs SET inputs = CAST(inputs AS TEXT)", ()))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT DISTINCT typeof(state) FROM epochs").fetchall() == [("text",)]
    with Ledger(committed, config, create=False) as honest:
        expected = honest.state(2).canonical_bytes(), honest.inputs(2).canonical_bytes()
    with Ledger(path, config, create=False) as ledger:
        assert (ledger.state(2).canonical_bytes(), ledger.inputs(2).canonical_bytes()) == expected
        ledger.verify_replay()
        assert ledger.commit(load_epoch(epoch_dirs[1], 2, config), scratch=tmp_path).already_committed


@pytest.mark.parametrize(("column", "edit"), [
    ("state", lambda data: data.replace(b'["CH:insurance","standard",', b'["CH:insurance","standard",9', 1)),
    ("report", lambda data: data.replace(b"{", b'{"added":0,', 1)),
])
def test_an_edited_state_or_report_is_refused_before_an_epoch_is_cleared_on_it(committed, market, tmp_path, column,
                                                                                 edit):
    """Defect (fixed): ``Ledger.state`` decoded the stored state without checking the ``outputs_hash`` the epoch
    hash binds: an edited balance that still decoded was cleared on (``epoch run`` then blamed the epoch's inputs:
    "conservation broken"), an edited report went unnoticed."""
    config = market[0]
    with sqlite3.connect(committed) as db:
        data = bytes(db.execute(f"SELECT {column} FROM epochs WHERE epoch = 2").fetchone()[0])
    damaged = edit(data)
    assert damaged != data
    path = _copy(committed, tmp_path, (f"UPDATE epochs SET {column} = ? WHERE epoch = 2", (damaged,)))
    with Ledger(path, config, create=False) as ledger:
        with pytest.raises(LedgerError, match=r"^epoch 2: the stored state and report do not match the outputs hash"):
            ledger.state(2)
        assert ledger.state(1).epoch == 1


def test_replaying_a_record_that_does_not_decode_is_a_ledger_error(committed, market, tmp_path):
    """Defect (fixed): ``verify_replay`` decoded each record with a bare ``json.loads`` (a JSONDecodeError)."""
    path = _copy(committed, tmp_path, ("UPDATE epoch_inputs SET inputs = x'7b7b' WHERE epoch = 2", ()))
    with Ledger(path, market[0], create=False) as ledger, pytest.raises(
            LedgerError, match=r"^epoch 2: the stored inputs do not decode"):
        ledger.verify_replay()


@pytest.mark.parametrize("batch_fills", [None, 4])
@pytest.mark.parametrize("name", ["transfers.csv", "prices.json"])
def test_a_file_written_while_the_epoch_is_read_is_refused_not_remembered_as_committed(market, tmp_path, monkeypatch,
                                                                                     name, batch_fills):
    """Defect (fixed): ``load_epoch`` parsed each file, then hashed the folder again for its digest. A file
    appended to in between (an export still being written) was committed as parsed but remembered by the digest as
    completed: running the completed folder again said "already committed as epoch 1", and the deposit it gained
    was never credited."""
    config, epoch_dirs = market
    folder = tmp_path / "epoch-1"
    shutil.copytree(epoch_dirs[0], folder)
    parse = {"transfers.csv": "parse_transfers", "prices.json": "parse_prices_json"}[name]
    original = getattr(epoch_io, parse)

    def parse_then_written(*args, **kwargs):
        parsed = original(*args, **kwargs)
        with (folder / name).open("a") as handle:  # the writer is not done yet
            handle.write("t-late,deposit,trader-0000,5\n" if name == "transfers.csv" else "\n")
        return parsed

    monkeypatch.setattr(epoch_io, parse, parse_then_written)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(InputError, match=rf"^{folder / name}: changed while the epoch was read"):
        load_epoch(folder, 1, config, batch_fills=batch_fills, scratch=scratch)
    monkeypatch.setattr(epoch_io, parse, original)
    with Ledger(tmp_path / "ledger.sqlite", config, durable=False) as ledger:  # complete now: it reads and commits
        result = ledger.commit(load_epoch(folder, 1, config, batch_fills=batch_fills, scratch=scratch),
                               scratch=tmp_path, once_per_folder=True)
        assert not result.already_committed
        if name == "transfers.csv":
            assert "t-late" in {t.transfer_id for t in ledger.inputs(1).transfers}


def _listing(count: int) -> str:
    head = ('settlement_asset = "USDC"\nsettlement_decimals = 6\nliquidation_penalty_ppm = 10000\n'
            'liquidation_buffer_ppm = 100000\nfunding_clamp_ppm = 5000\ndeficit_resolution = "adl"\n'
            'liquidators = ["LIQ-1"]\nallow_self_trade = false\n')
    return head + "".join(f'\n[[instrument]]\nid = "P{k}"\nkind = "perpetual"\ntick_size = 1\nlot_size = 1\n'
                          'contract_multiplier = 1\ninitial_margin_ppm = 100000\nmaintenance_margin_ppm = 50000\n'
                          'margin_model = "linear"\n' for k in range(count))


@pytest.mark.parametrize("count", [512, 3000])
def test_a_long_listing_is_read_without_a_scan_of_the_text_per_key(monkeypatch, count):
    """Defect (fixed): the configuration's reader looked up the line of every key it type-checked, a scan of the
    whole text each: O(n^2) in the instruments. The longest listing a deployment may have (512) took ≈ 10 s on
    every command that reads zkclear.toml, and 3,000 kept `zkclear init` busy for more than 5 minutes before it was
    refused for its length. The lines are now looked for only to name a refusal."""
    scans = []
    original = epoch_io._line_of

    def counted(*args, **kwargs):
        scans.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(epoch_io, "_line_of", counted)
    text = _listing(count)
    if count <= 512:
        assert len(epoch_io.parse_config(text, path="venue.toml").instruments) == count
    else:
        with pytest.raises(InputError, match="3000 instruments exceed the 512"):
            epoch_io.parse_config(text, path="venue.toml")
    assert len(scans) <= 4  # a refusal may look for its line; nothing scans per instrument


def test_a_ledger_sqlite_cannot_open_on_a_full_disk_is_not_called_unusable(committed, market, monkeypatch):
    """Defect (fixed): on a full disk SQLite cannot size the ledger's ``-shm`` file (SQLITE_IOERR_SHMSIZE, found on a
    full tmpfs): every command said "not a usable ledger: disk I/O error" of a sound ledger — the words for a
    damaged one, which send the operator to a backup older than the ledger. Once space is freed the same ledger
    commits as before (checked by hand: the same epoch hashes as a run that never met the full disk)."""
    import zkclear.clearing.ledger as ledger_module

    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"

    class FullDisk:
        def execute(self, *_args):
            raise error

        def close(self) -> None:
            pass

    monkeypatch.setattr(ledger_module.sqlite3, "connect", lambda *_args, **_kwargs: FullDisk())
    for read_only in (False, True):
        with pytest.raises(LedgerError, match=r"cannot open the ledger: SQLite could not read or write its files "
                                              r"\(a full disk\? an I/O error\)") as caught:
            Ledger(committed, market[0], create=False, read_only=read_only)
        assert "not a usable ledger" not in str(caught.value)


def test_a_fills_file_written_while_it_is_copied_is_refused_not_cut_mid_line(market, tmp_path, monkeypatch):
    """Defect (fixed): with fills in batches, ``fills.csv`` was left out of the check above (it is read from a private
    copy). A writer still appending while the copy was taken could leave the copy ending in the middle of a line
    that still parses (``...,1230504`` cut to ``...,12``: a fee cut short) — committed as the epoch's fill."""
    config, epoch_dirs = market
    folder = tmp_path / "epoch-1"
    shutil.copytree(epoch_dirs[0], folder)
    original = epoch_io._private_copy

    def copy_then_written(source, copy):
        original(source, copy)
        with source.open("a") as handle:  # the rest of the last line, and one more
            handle.write("04\nf-late,trader-0001,trader-0002,BTC-PERP,1,60000,0,0\n")

    monkeypatch.setattr(epoch_io, "_private_copy", copy_then_written)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(InputError, match=rf"^{folder / 'fills.csv'}: changed while the epoch was read"):
        load_epoch(folder, 1, config, batch_fills=4, scratch=scratch)


def test_a_configuration_stored_as_text_or_a_missing_genesis_hash_is_never_an_internal_error(committed, market,
                                                                                              tmp_path):
    """Defect (fixed): the stored configuration as SQLite TEXT made every command end in "internal error: TypeError"
    (``bytes(str)`` when the ledger was opened); a genesis hash row deleted from an empty ledger, in "TypeError:
    'NoneType' object is not subscriptable"."""
    path = _copy(committed, tmp_path, ("UPDATE meta SET value = CAST(value AS TEXT) WHERE key = 'config'", ()))
    with Ledger(path, market[0], create=False) as ledger:
        assert ledger.head()[0] == 2
    path = _copy(committed, tmp_path, ("DELETE FROM epochs", ()), ("DELETE FROM meta WHERE key = 'genesis_hash'", ()))
    with Ledger(path, market[0], create=False) as ledger, pytest.raises(LedgerError, match="holds no genesis hash"):
        ledger.head()


_STREAMED_READS = {
    "copy_accounts": lambda ledger, tmp_path: ledger.copy_accounts(2, tmp_path / "copy.sqlite"),
    "account_rows": lambda ledger, _: list(ledger.account_rows(2)),
    "state_without_accounts": lambda ledger, _: ledger.state_without_accounts(2),
    "header_and_named": lambda ledger, _: ledger.header_and_named(2, ("CH:insurance",)),
    "account_count": lambda ledger, _: ledger.account_count(2),
}


@pytest.mark.parametrize("read", sorted(_STREAMED_READS))
@pytest.mark.parametrize(("column", "edit"), [
    ("state", lambda data: data.replace(b'["CH:insurance","standard",', b'["CH:insurance","standard",9', 1)),
    ("report", lambda data: data.replace(b"{", b'{"added":0,', 1)),
])
def test_a_state_streamed_from_the_ledger_is_the_state_committed(committed, market, tmp_path, read, column, edit):
    """Defect (fixed, session 14): the readers that stream a stored state a block at a time (``epoch prove``'s
    scratch copy, the liabilities, ``status``, the public inputs' previous state, the account count) checked each
    row's form but not the ``outputs_hash`` the epoch hash binds, which ``Ledger.state`` checks: an edited balance
    that still decoded was proven and reported as the epoch's."""
    config = market[0]
    with sqlite3.connect(committed) as db:
        data = bytes(db.execute(f"SELECT {column} FROM epochs WHERE epoch = 2").fetchone()[0])
    path = _copy(committed, tmp_path, (f"UPDATE epochs SET {column} = ? WHERE epoch = 2", (edit(data),)))
    edited = r"^epoch 2: the stored state and report do not match the outputs hash"
    with Ledger(path, config, create=False) as ledger, pytest.raises(LedgerError, match=edited):
        _STREAMED_READS[read](ledger, tmp_path)
    with Ledger(committed, config, create=False) as ledger:  # the same reads of the ledger as committed
        assert ledger.account_count(2) == len(ledger.state(2).accounts)
        assert ledger.state_without_accounts(2).epoch == 2


def test_a_stored_state_that_is_not_bytes_is_a_ledger_error_when_streamed(committed, market, tmp_path):
    """A number where the state's bytes were (the column is NOT NULL, but SQLite keeps any type in it): a
    LedgerError naming the column, not SQLite's own error."""
    path = _copy(committed, tmp_path, ("UPDATE epochs SET state = ? WHERE epoch = 2", (7,)))
    with (Ledger(path, market[0], create=False) as ledger,
          pytest.raises(LedgerError, match=r"^epoch 2: the stored state is not bytes")):
        ledger.account_count(2)


def test_a_commit_that_cannot_get_the_write_lock_says_another_process_holds_it(market, tmp_path):
    """Red team session 14 (faults): a second process holding the ledger's write lock past SQLite's wait made `epoch
    run` end in "commit of epoch N failed: database is locked"; it now says what happened and that nothing of the
    run was applied. The ledger is unchanged."""
    config, epoch_dirs = market
    path = tmp_path / "ledger.sqlite"
    with Ledger(path, config, durable=False) as ledger:
        ledger.commit(load_epoch(epoch_dirs[0], 1, config), scratch=tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with Ledger(path, config, durable=False, create=False) as ledger:
            ledger._db.execute("PRAGMA busy_timeout = 50")  # SQLite's wait, 5 s by default
            with pytest.raises(LedgerError, match=r"commit of epoch 2 waited for another process writing this ledger "
                                                  r"\(another `epoch run`\?\) and gave up: nothing of this run was "
                                                  "applied"):
                ledger.commit(load_epoch(epoch_dirs[1], 2, config), scratch=tmp_path)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Ledger(path, config, create=False) as ledger:
        assert ledger.head()[0] == 1
        assert ledger.commit(load_epoch(epoch_dirs[1], 2, config), scratch=tmp_path).epoch == 2
