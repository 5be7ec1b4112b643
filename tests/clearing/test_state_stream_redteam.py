"""Red team (round 10) of reading the head state as a stream (``zkclear status``, ``Deployment.liabilities``:
zkclear/clearing/state_scan.py ``paired_rows`` / ``iter_rows``, zkclear/clearing/ledger.py ``account_rows`` /
``named_accounts``, zkclear/status.py): a damaged or edited stored state is a LedgerError — one line and exit 1
from the CLI — never a traceback (exit 3) or a wrong figure; account ids that could confuse the prefix match of
``named_accounts``; a state with no account.

Tests named ``test_attack_...`` pass because the code already refuses the attack; the others pinned a defect
before its fix (named in their docstring)."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.clearing.options_helpers import csv, write_files
from tests.cli.cli_helpers import zkclear, zkclear_status
from tests.cli.test_cli_operator_safety import CONFIG, FILLS, PERP, PRICES, USD_AS_USDC, _first_epoch
from zkclear.clearing.scratch_accounts import named_accounts
from zkclear.clearing.state import EpochState, canonical_json, frozen_array
from zkclear.clearing.state_scan import account_row, paired_rows
from zkclear.errors import LedgerError
from zkclear.operator import LEDGER_FILE, Deployment
from zkclear.proving_settings import ProvingSettings
from zkclear.tree.placement import TreeConfig


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory) -> Path:
    """A deployment (one perpetual) with epochs 1 and 2 committed: accounts A, B and the clearing house's."""
    base = tmp_path_factory.mktemp("stream")
    root = base / "venue"
    Deployment.init(root, CONFIG, ProvingSettings(tree=TreeConfig(height=8, chunk_bits=2), executor="serial",
                                                  venue="Stream Venue", tokens=USD_AS_USDC))
    zkclear("epoch", "run", _first_epoch(base / "e1"), "-d", root)
    zkclear("epoch", "run", write_files(base / "e2", {
        "fills.csv": csv(FILLS), "prices.csv": csv(PRICES, f"{PERP},1010,0")}), "-d", root)
    return root


def _stored(root: Path, epoch: int = 2) -> bytes:
    with sqlite3.connect(root / LEDGER_FILE) as db:
        return bytes(db.execute("SELECT state FROM epochs WHERE epoch = ?", (epoch,)).fetchone()[0])


def _edited(two_epochs: Path, tmp_path: Path, edit, epoch: int = 2) -> Path:
    """A copy of the deployment whose stored state after ``epoch`` is ``edit(bytes)`` (bytes, or a str stored as
    SQLite TEXT)."""
    root = tmp_path / "venue"
    shutil.copytree(two_epochs, root)
    data = edit(_stored(root, epoch))
    db = sqlite3.connect(root / LEDGER_FILE)
    with db:
        db.execute("UPDATE epochs SET state = ? WHERE epoch = ?", (data, epoch))
    db.close()
    return root


def _row(data: bytes, account: str) -> bytes:
    """The stored row of ``account`` in ``data`` (with its trailing comma when it is not the last)."""
    start = data.index(json.dumps([account])[:-1].encode() + b",")
    end = data.index(b"]]", start) + 2
    return data[start:end + (1 if data[end:end + 1] == b"," else 0)]


def _refused_in_one_line(root: Path) -> str:
    code, out = zkclear_status("status", "-d", root)
    assert code == 1, out
    assert out.count("\n") == 1 and "internal error" not in out and "Traceback" not in out
    return out


def test_the_honest_copy_reads_as_the_whole_state(two_epochs, tmp_path):
    root = _edited(two_epochs, tmp_path, lambda data: data)
    report = json.loads(zkclear("status", "-d", root, "--json"))
    with Deployment(root).ledger() as ledger:
        state = ledger.state()
    assert report["accounts"] == len(state.accounts) == 5
    assert report["funds"]["CH:fees"]["cash"] == state.cash_of("CH:fees")


# -- the clearing house's rows --------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    "fee account row dropped",
    "fee account with an extra position",
    "fee account with no position",
    "fee account listed twice",
    "fee account id escaped",
    "fee account row with a space",
    "no account at all",
])
def test_an_edited_clearing_house_row_is_a_ledger_error_in_one_line(two_epochs, tmp_path, change):
    """Defects (fixed): a state whose CH:fees row was dropped, written with an escape (``CH:\\u0066ees``, not
    canonical: never decoded, so never found) or emptied of every account made ``status`` index a missing row
    (KeyError, exit 3); a row with another number of positions failed in ``zip(strict=True)`` (ValueError, exit
    3); a row listed twice was reported as whichever came last (a wrong figure)."""

    def edit(data: bytes) -> bytes:
        row = _row(data, "CH:fees")
        if change == "fee account row dropped":
            return data.replace(row, b"", 1)
        if change == "fee account with an extra position":
            return data.replace(row, row.replace(b"]]", b",0]]", 1), 1)
        if change == "fee account with no position":
            positions = row[row.rindex(b"[", 0, row.index(b"]]")):row.index(b"]]") + 1]
            return data.replace(row, row.replace(positions, b"[]", 1), 1)
        if change == "fee account listed twice":  # the twin with another cash: which one would be reported?
            alone = row.removesuffix(b",")
            record = json.loads(alone)
            record[2] += 999
            return data.replace(alone, alone + b"," + canonical_json(record), 1)
        if change == "fee account id escaped":
            return data.replace(b'["CH:fees",', b'["CH:\\u0066ees",', 1)
        if change == "fee account row with a space":
            return data.replace(b'["CH:fees",', b'["CH:fees", ', 1)
        start = data.index(b"[", data.index(b'"accounts"'))
        return data[:start + 1] + data[data.index(b"]]]", start) + 2:]

    root = _edited(two_epochs, tmp_path, edit)
    out = _refused_in_one_line(root)
    assert "stored state" in out


def test_attack_a_user_id_that_starts_like_the_fee_account_is_not_taken_for_it():
    """An id is matched with its closing quote and comma: ``CH:feesX``, ``CH:fee``, ``CH:fees\\",`` and the like
    are other rows (the engine refuses ``CH:`` ids anyway; a stored state decodes whatever it holds)."""
    ids = ('"CH:fees"', "CH:fee", "CH:fees", 'CH:fees",', "CH:fees\\", "CH:fees\u00e9", "CH:feesX", "\\CH:fees")
    ordered = tuple(sorted(ids))
    state = EpochState(
        epoch=3, instruments=("I0", "I1"), settlement_prices=(5, 6), funding_indices=(0, 0), expired=(False, False),
        accounts=ordered, margin_modes=("standard",) * len(ordered),
        cash=frozen_array(np.arange(len(ordered), dtype=np.int64) * 10),
        positions=frozen_array(np.arange(2 * len(ordered), dtype=np.int64).reshape(len(ordered), 2)),
        net_deposits=frozen_array(np.zeros(len(ordered), dtype=np.int64)), total_deposited=0, total_withdrawn=0)
    data = state.canonical_bytes()
    for wanted in ordered:
        found = named_accounts(io.BytesIO(data).read, [wanted])
        row = ordered.index(wanted)
        assert found == {wanted: (10 * row, (2 * row, 2 * row + 1))}, wanted
    assert named_accounts(io.BytesIO(data).read, ["CH:fee", "CH:fees", "nobody"]) == {
        "CH:fee": (10 * ordered.index("CH:fee"), tuple(state.positions[ordered.index("CH:fee")].tolist())),
        "CH:fees": (10 * ordered.index("CH:fees"), tuple(state.positions[ordered.index("CH:fees")].tolist()))}


def _two_accounts(account: str) -> bytes:
    ids = tuple(sorted((account, "b")))
    return EpochState(
        epoch=1, instruments=("I",), settlement_prices=(1,), funding_indices=(0,), expired=(False,), accounts=ids,
        margin_modes=("standard", "standard"), cash=frozen_array([5, 7]), positions=frozen_array(np.array([[1], [2]])),
        net_deposits=frozen_array([0, 0]), total_deposited=12, total_withdrawn=0).canonical_bytes()


def _decoded_rows(data: bytes) -> list[tuple]:
    return [account_row(row, index)
            for index, (row, _) in enumerate(paired_rows(io.BytesIO(data).read, io.BytesIO(data).read))]


@pytest.mark.parametrize("account", ["a]],[b", "x]]]", "]],[", "a]]]],[[b"])
def test_attack_an_id_holding_the_row_separator_never_decodes_to_a_figure(account):
    """The row scanner splits at ``]],[`` and ends at ``]]]`` (ids are 1-64 of A-Z a-z 0-9 _ . - : when opened, so
    the engine never writes such an id): a stored state holding one is a LedgerError, not rows cut in two."""
    with pytest.raises(LedgerError):
        _decoded_rows(_two_accounts(account))
    with pytest.raises(LedgerError):
        EpochState.from_canonical_bytes(_two_accounts(account))


@pytest.mark.parametrize("account", ["q]]", "a]", "[b", "]]", '"', "\\", "\u00e9", "a],[b"])
def test_attack_brackets_quotes_and_escapes_in_an_id_that_the_separators_do_not_match_decode_exactly(account):
    rows = _decoded_rows(_two_accounts(account))
    assert [row[0] for row in rows] == sorted((account, "b"))
    assert [row[2] for row in rows] == [5, 7]


# -- the liabilities ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", ["user with an extra position", "user with no position", "user cash true",
                                    "user mode unknown", "user row non-canonical", "user listed twice",
                                    "users out of order", "truncated", "empty", "not json"])
def test_an_edited_user_row_or_record_is_a_ledger_error_for_status_and_the_liabilities(two_epochs, tmp_path,
                                                                                         change):
    """``status`` reports a problem with the liabilities on its own line (the rest of the status still shown) or
    refuses in one line; ``Deployment.liabilities`` raises LedgerError. Never exit 3, never a figure.

    Defects (fixed): a user row listed twice, or two rows out of order, were summed as they were (a wrong
    liabilities figure: the whole state's decoder does not check the order either); a row with another number of
    positions or an unknown margin mode was an InputError about an input ``field 'positions'`` /
    ``'margin_mode'``, not a damaged ledger."""

    def edit(data: bytes):
        row = _row(data, "A")
        if change == "user with an extra position":
            return data.replace(row, row.replace(b"]]", b",0]]", 1), 1)
        if change == "user with no position":
            positions = row[row.rindex(b"[", 0, row.index(b"]]")):row.index(b"]]") + 1]
            return data.replace(row, row.replace(positions, b"[]", 1), 1)
        if change == "user cash true":
            fields = row.split(b",")
            fields[2] = b"true"
            return data.replace(row, b",".join(fields), 1)
        if change == "user mode unknown":
            return data.replace(row, row.replace(b'"standard"', b'"bogus"', 1), 1)
        if change == "user row non-canonical":
            return data.replace(row, row.replace(b'"A",', b'"A" ,', 1), 1)
        if change == "user listed twice":
            alone = row.removesuffix(b",")
            return data.replace(alone, alone + b"," + alone, 1)
        if change == "users out of order":
            a, b = row.removesuffix(b","), _row(data, "B").removesuffix(b",")
            return data.replace(a + b"," + b, b + b"," + a, 1)
        if change == "truncated":
            return data[:len(data) // 2]
        if change == "empty":
            return b""
        return b"\xff" * 64

    root = _edited(two_epochs, tmp_path, edit)
    code, out = zkclear_status("status", "-d", root)
    assert code in (0, 1) and "internal error" not in out and "Traceback" not in out, out
    if code == 0:
        (problem,) = [line for line in out.splitlines() if "liabilities" in line.lower() and "stored state" in line]
        assert problem
    else:
        assert out.count("\n") == 1 and ("stored state" in out or "ledger" in out.lower())
    with pytest.raises(LedgerError):
        Deployment(root).liabilities(2)


def test_attack_the_same_state_stored_as_sqlite_text_reads_the_same(two_epochs, tmp_path):
    """What an edit by hand in sqlite3 may do (the same bytes stored as TEXT): read as they are, same figures."""
    honest = json.loads(zkclear("status", "-d", two_epochs, "--json"))
    root = _edited(two_epochs, tmp_path, lambda data: data.decode("ascii"))
    assert json.loads(zkclear("status", "-d", root, "--json")) == honest
    with Deployment(two_epochs).ledger() as ledger:
        assert Deployment(root).liabilities(2) == Deployment(two_epochs).liabilities(2, ledger.state(2))


def test_a_state_with_no_account_streams_nothing_and_sums_to_zero():
    data = EpochState(epoch=4, instruments=("I",), settlement_prices=(1,), funding_indices=(0,), expired=(False,),
                      accounts=(), margin_modes=(), cash=frozen_array(np.zeros(0, dtype=np.int64)),
                      positions=frozen_array(np.zeros((0, 1), dtype=np.int64)),
                      net_deposits=frozen_array(np.zeros(0, dtype=np.int64)), total_deposited=0, total_withdrawn=0,
                      asset_ids=("BTC",)).canonical_bytes()
    assert list(paired_rows(io.BytesIO(data).read, io.BytesIO(data).read)) == []
    assert named_accounts(io.BytesIO(data).read, ["CH:fees"]) == {}
