"""Red team, session 13: a damaged or edited ledger through the real ``zkclear`` process (``epoch run``, ``status``).

Each test pinned a defect before its fix (named in its docstring): an internal error (exit 3) where the ledger was
damaged, or an edited record read as the epoch's without a word. The library-level cases are in
tests/clearing/test_ledger_redteam_s13.py."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_cli_operator_redteam_s11 import fingerprint, refused, run
from zkclear.synthetic import MarketSpec, generate_market

SPEC = MarketSpec(accounts=6, epochs=3, fills_per_epoch=20, seed=3, options=False)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> dict:
    config, epochs = generate_market(tmp_path_factory.mktemp("market") / "market", SPEC)
    return {"config": config, "epochs": epochs}


@pytest.fixture(scope="module")
def committed(market, tmp_path_factory) -> Path:
    """A deployment with epochs 1 and 2 committed (copied by each test that damages it)."""
    directory = tmp_path_factory.mktemp("committed") / "venue"
    assert run("init", directory, "--config", market["config"], "--height", 8, "--executor", "serial",
               "--venue", "Red team venue")[0] == 0
    for folder in market["epochs"][:2]:
        assert run("epoch", "run", folder, "-d", directory)[0] == 0
    return directory


def _damaged(committed: Path, tmp_path: Path, *statements: str) -> Path:
    target = tmp_path / "venue"
    shutil.copytree(committed, target)
    db = sqlite3.connect(target / "ledger.sqlite")
    with db:
        for statement in statements:
            db.execute(statement)
    db.close()
    return target


def test_epoch_run_on_an_older_ledger_with_a_damaged_record_is_one_line(committed, market, tmp_path):
    """Defect (fixed): a ledger older than the transfer-id index, one of whose records is damaged, made `epoch run`
    end in "internal error: JSONDecodeError" (exit 3) while it indexed the ids; nothing may be written either."""
    venue = _damaged(committed, tmp_path, "UPDATE epochs SET inputs = x'7b' WHERE epoch = 1",
                     "DELETE FROM epoch_inputs WHERE epoch = 1", "DELETE FROM meta WHERE key = 'transfer_ids_indexed'")
    before = fingerprint(venue)
    code, _out, err = run("epoch", "run", market["epochs"][2], "-d", venue)
    refused(code, err, "epoch 1: the stored inputs do not decode")
    assert fingerprint(venue) == before


def test_epoch_run_clears_on_a_head_state_stored_as_sqlite_text(committed, market, tmp_path):
    """Defect (fixed): the head state stored as TEXT (an edit by hand in sqlite3 keeps the bytes, not the type) was
    read by `status` but made `epoch run` end in "internal error: TypeError" (exit 3). It now clears on it, to the
    epoch hash an untouched ledger commits."""
    venue = _damaged(committed, tmp_path,
                     "UPDATE epochs SET state = CAST(state AS TEXT), report = CAST(report AS TEXT)")
    honest = tmp_path / "honest"
    shutil.copytree(committed, honest)
    for deployment in (venue, honest):
        code, out, err = run("epoch", "run", market["epochs"][2], "-d", deployment)
        assert code == 0 and out.startswith("epoch 3 committed"), err
    hashes = []
    for deployment in (venue, honest):
        with sqlite3.connect(deployment / "ledger.sqlite") as db:
            hashes.append(db.execute("SELECT epoch_hash FROM epochs WHERE epoch = 3").fetchone()[0])
    assert hashes[0] == hashes[1]


def test_status_names_an_edited_record_of_the_head_epoch_instead_of_reading_it(committed, tmp_path):
    """Defect (fixed): a second ``marks`` member put after the transfers of the head epoch's stored inputs was read by
    `status` (the fill-free cut: the first one) without a word, while the whole decode read the second; the
    liabilities are now "not computed", naming the damage, and the rest of the status is shown."""
    marks = ',"marks":[["BTC-PERP",1,0],["ETH-PERP",1,0],["BTC-FUT",1,null]]}'
    venue = _damaged(committed, tmp_path, "UPDATE epoch_inputs SET inputs = CAST(substr(inputs, 1, length(inputs) - 1)"
                     f" || CAST('{marks}' AS BLOB) AS BLOB) WHERE epoch = 2")
    code, out, err = run("status", "-d", venue)
    assert code == 0, err
    assert "ledger head: epoch 2" in out
    assert ("liabilities of epoch 2: not computed (epoch 2: the stored inputs do not match the inputs hash the epoch "
            "was committed with") in out


def test_epoch_run_names_an_edited_head_state_as_the_ledgers_damage_not_the_inputs(committed, market, tmp_path):
    """Defect (fixed): a balance of the head state edited (still canonical) was cleared on; `epoch run` then blamed
    the epoch being committed ("conservation broken"). Now the ledger's damage is named and nothing is written."""
    venue = _damaged(committed, tmp_path, "UPDATE epochs SET state = CAST(replace(CAST(state AS TEXT), "
                     "'[\"CH:insurance\",\"standard\",', '[\"CH:insurance\",\"standard\",9') AS BLOB) WHERE epoch = 2")
    before = fingerprint(venue)
    code, _out, err = run("epoch", "run", market["epochs"][2], "-d", venue)
    refused(code, err, "epoch 2: the stored state and report do not match the outputs hash")
    assert fingerprint(venue) == before


def test_status_reads_a_ledger_older_than_the_epoch_inputs_table(committed, tmp_path):
    """Defect (fixed): a ledger written before the ``epoch_inputs`` table existed (every epoch's inputs in
    ``epochs.inputs``) that no `epoch run` has opened since — `status` writes nothing, so it never creates the
    table — made `status` fail whole: "a database could not be read or written: no such table: epoch_inputs". It
    now reads the inputs where such a ledger keeps them, and shows what the same ledger shows today."""
    honest = run("status", "-d", committed, "--json")
    venue = _damaged(committed, tmp_path, "UPDATE epochs SET inputs = (SELECT inputs FROM epoch_inputs WHERE "
                     "epoch_inputs.epoch = epochs.epoch)", "DROP TABLE epoch_inputs")
    code, out, err = run("status", "-d", venue, "--json")
    assert (code, err) == (0, "")
    assert out == honest[1]
    with sqlite3.connect(venue / "ledger.sqlite") as db:  # status still wrote nothing: the table is not made
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'epoch_inputs'").fetchone() is None


_EDIT_HEAD_BALANCE = ("UPDATE epochs SET state = CAST(replace(CAST(state AS TEXT), '[\"CH:insurance\",\"standard\",', "
                      "'[\"CH:insurance\",\"standard\",9') AS BLOB) WHERE epoch = 2")


@pytest.mark.parametrize("command", ["prove", "status"])
def test_an_edited_head_state_is_neither_proven_nor_reported(committed, tmp_path, command):
    """Defect (fixed, session 14): `epoch prove` streams the head state into its scratch copy and `status` reads the
    clearing house's accounts from it; neither checked the outputs hash the epoch hash binds, so a balance edited
    in the ledger (still canonical) was proven, with receipts and a published root, and shown as the epoch's. Both
    now refuse with the ledger's damage named, and `epoch prove` writes nothing."""
    venue = _damaged(committed, tmp_path, _EDIT_HEAD_BALANCE)
    reserves = tmp_path / "reserves.csv"
    reserves.write_text("chain,asset,address,balance,block_height,block_hash\n"
                        f"ethereum,USDC,0x{'ab' * 20},{10**15},19000000,0x{'ab' * 32}\n")
    before = fingerprint(venue)
    prove = ("epoch", "prove", "-d", venue, "--reserves", reserves)
    code, _out, err = run(*(prove if command == "prove" else ("status", "-d", venue)))
    refused(code, err, "epoch 2: the stored state and report do not match the outputs hash")
    assert fingerprint(venue) == before
