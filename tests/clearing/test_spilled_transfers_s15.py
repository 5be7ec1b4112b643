"""An epoch's transfers kept on disk while ``epoch run`` clears it (``SpilledTransfers``; issue 15, step 0 of the flat
clearing in docs/performance.md): the same records in the same order as the file parsed in memory, the same epoch
byte for byte, and the same refusals — a repeated id named on its line whichever blocks the two records are in, with
the checks of earlier records first."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import zkclear.clearing.io as io_module
import zkclear.clearing.ledger as ledger_module
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import AccountOpens, Fills, OperatorAction, Transfer, Transfers, validate_inputs
from zkclear.clearing.io import load_epoch, parse_transfers
from zkclear.clearing.ledger import Ledger
from zkclear.clearing.spilled_transfers import SpilledTransfers
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError


@pytest.fixture(scope="module")
def market(small_collateral_market) -> tuple[object, list[Path]]:
    return small_collateral_market


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 3 transfers, so that a dozen records cross several."""
    monkeypatch.setattr(io_module, "_RECORD_BATCH", 3)


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_spilled_transfers_are_the_files_records_in_order(tmp_path, small_blocks):
    rows = ["transfer_id,kind,account,amount,asset"] + [
        f"t{k},{'withdrawal' if k % 4 == 3 else 'deposit'},A{k % 5},{k + 1},{'BTC' if k % 3 == 0 else ''}"
        for k in range(11)]
    path = _write(tmp_path / "transfers.csv", rows)
    held = parse_transfers(path)
    spilled = parse_transfers(path, tmp_path / "spill")
    assert isinstance(held, Transfers) and isinstance(spilled, SpilledTransfers)
    assert spilled.sizes == (3, 3, 3, 2) and len(spilled) == 11
    assert sorted(p.name for p in (tmp_path / "spill").iterdir()) == ["0.npz", "1.npz", "2.npz", "3.npz"]
    assert list(spilled) == list(held) and spilled == tuple(held) and spilled == held
    assert [spilled[k] for k in range(-11, 11)] == [held[k] for k in range(-11, 11)]
    for start, stop in ((0, 11), (2, 7), (3, 6), (5, 5), (9, 20)):
        assert spilled[start:stop] == held[start:stop] and isinstance(spilled[start:stop], Transfers)
    assert held[4] == Transfer("t4", "deposit", "A4", 5, str(path), 6, "")
    assert held[0].asset == "BTC"
    with pytest.raises(IndexError):
        spilled[11]
    # without the asset column every record is in the settlement asset, as in memory
    plain = _write(tmp_path / "plain.csv", ["transfer_id,kind,account,amount", "a,deposit,X,1", "b,deposit,Y,2"])
    assert parse_transfers(plain, tmp_path / "plain-spill") == parse_transfers(plain)
    empty = _write(tmp_path / "empty.csv", ["transfer_id,kind,account,amount"])
    assert len(parse_transfers(empty, tmp_path / "empty-spill")) == 0


def test_an_epoch_of_spilled_transfers_is_the_same_epoch(market, tmp_path, small_blocks):
    """``load_epoch`` with fills in batches (``epoch run``) spills the transfers; the epoch's canonical inputs, state
    and report are those of the transfers held in memory."""
    config, epoch_dirs = market
    state = EpochState.genesis(config)
    for number, folder in enumerate(epoch_dirs, start=1):
        scratch = tmp_path / f"scratch-{number}"
        scratch.mkdir()
        spilled = load_epoch(folder, number, config, batch_fills=7, scratch=scratch)
        held = load_epoch(folder, number, config)
        assert isinstance(spilled.transfers, SpilledTransfers) and isinstance(held.transfers, Transfers)
        assert number > 1 or len(spilled.transfers.sizes) > 1  # the first epoch funds every account
        spilled_state, spilled_report = apply_epoch(state, spilled, config)
        held_state, held_report = apply_epoch(state, held, config)
        assert spilled_state.canonical_bytes() == held_state.canonical_bytes()
        assert spilled_report.to_canonical() == held_report.to_canonical()
        state = held_state


def _epoch_with_transfers(market, tmp_path, rows: list[str], actions: tuple[OperatorAction, ...] = ()):
    config, epoch_dirs = market
    path = _write(tmp_path / "transfers.csv", ["transfer_id,kind,account,amount", *rows])
    opens = AccountOpens(("A", "B"), ("standard", "standard"), np.array([2, 3]), "accounts.csv")
    inputs = dataclasses.replace(load_epoch(epoch_dirs[0], 1, config), fills=Fills.empty(), opens=opens,
                                 transfers=parse_transfers(path, tmp_path / "spill"), operator_actions=actions)
    return EpochState.genesis(config), inputs, config


@pytest.mark.parametrize("second_at", [3, 9])  # the repeat in the first id's block, or two blocks later
def test_a_repeated_transfer_id_is_named_on_its_line_across_blocks(market, tmp_path, small_blocks, second_at):
    rows = [f"t{k},deposit,{'AB'[k % 2]},{k + 1}" for k in range(10)]
    rows[second_at - 2] = f"t0,deposit,A,{second_at}"  # line second_at repeats line 2's id
    state, inputs, config = _epoch_with_transfers(market, tmp_path, rows)
    with pytest.raises(InputError) as caught:
        validate_inputs(state, inputs, config)
    assert (caught.value.line, caught.value.field) == (second_at, "transfer_id")
    assert "duplicate transfer id 't0'" in str(caught.value)
    assert not any((tmp_path / "spill").glob("distinct-*"))  # the ids' scratch database is removed


def test_an_earlier_records_refusal_comes_before_a_later_repeat(market, tmp_path, small_blocks):
    """The block's ids are looked up at once, but its records are still checked in order: an unknown account on
    line 6 is named before the repeated id on line 7 of the same block."""
    rows = [f"t{k},deposit,{'AB'[k % 2]},{k + 1}" for k in range(10)]
    rows[4] = "t4,deposit,nobody,5"
    rows[5] = "t1,deposit,A,6"
    state, inputs, config = _epoch_with_transfers(market, tmp_path, rows)
    with pytest.raises(InputError) as caught:
        validate_inputs(state, inputs, config)
    assert (caught.value.line, caught.value.field) == (6, "account")


def test_an_action_id_that_is_a_transfer_id_of_an_earlier_block_is_refused(market, tmp_path, small_blocks):
    rows = [f"t{k},deposit,{'AB'[k % 2]},{k + 1}" for k in range(10)]
    action = OperatorAction("t1", "withdraw_fund", "CH:insurance", 1, "test", "operator_actions.csv", 2)
    state, inputs, config = _epoch_with_transfers(market, tmp_path, rows, (action,))
    with pytest.raises(InputError) as caught:
        validate_inputs(state, inputs, config)
    assert (caught.value.path, caught.value.line, caught.value.field) == ("operator_actions.csv", 2, "action_id")
    assert "share one namespace" in str(caught.value)


def test_the_ledger_names_a_committed_transfer_id_in_a_later_query(market, tmp_path, small_blocks, monkeypatch):
    """The ledger looks up the epoch's transfer ids among committed ones a chunk at a time (it made one query per
    transfer): an id committed by epoch 1 is named on its line when it comes in a later chunk."""
    monkeypatch.setattr(ledger_module, "_QUERY_CHUNK", 2)
    config, epoch_dirs = market
    ledger = Ledger(str(tmp_path / "ledger.sqlite"), config)
    scratch = tmp_path / "scratch"
    for run in ("1", "2"):
        (scratch / run).mkdir(parents=True)
    first = load_epoch(epoch_dirs[0], 1, config, batch_fills=7, scratch=scratch / "1")
    ledger.commit(first, scratch=scratch)
    committed = next(iter(first.transfers)).transfer_id
    second_dir = tmp_path / "epoch-2"
    second_dir.mkdir()
    for source in epoch_dirs[1].iterdir():
        (second_dir / source.name).write_bytes(source.read_bytes())
    rows = (second_dir / "transfers.csv").read_text(encoding="utf-8").splitlines()
    tail = "," if rows[0].endswith("asset") else ""
    account = rows[1].split(",")[2]
    rows += [f"fresh-{k},deposit,{account},1{tail}" for k in range(5)] + [f"{committed},deposit,{account},1{tail}"]
    _write(second_dir / "transfers.csv", rows)
    second = load_epoch(second_dir, 2, config, batch_fills=7, scratch=scratch / "2")
    with pytest.raises(InputError) as caught:
        ledger.commit(second, scratch=scratch)
    assert (caught.value.line, caught.value.field) == (len(rows), "transfer_id")
    assert f"transfer id {committed!r} was already committed in epoch 1" in str(caught.value)
    assert ledger.head()[0] == 1


def test_a_failing_scratch_database_of_ids_is_named(tmp_path):
    """The ids' scratch database on a full disk said only "a database could not be read or written: database or disk
    is full"; the one line names the file."""
    import sqlite3

    from zkclear.clearing.distinct_ids import DistinctIds
    from zkclear.errors import LedgerError

    class FullDisk:
        def execute(self, *args):
            raise sqlite3.OperationalError("database or disk is full")

        executemany = execute

        def close(self):
            pass

    with DistinctIds("transfer_id", tmp_path) as ids:
        ids.record({"a": 2})
        ids.record({"b": 3})  # the second batch opens the database in tmp_path
        path = next(tmp_path.glob("distinct-transfer_id-*.sqlite"))
        ids._db.close()
        ids._db = FullDisk()
        with pytest.raises(LedgerError, match=rf"^{path}: the working database of transfer ids failed: database or "
                                              "disk is full"):
            ids.record({"c": 4})
        with pytest.raises(LedgerError, match=str(path)):
            ids.earlier(["a"])
