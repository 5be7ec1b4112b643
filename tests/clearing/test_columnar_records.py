"""An epoch's opening records and transfers held as columns (``AccountOpens``, ``Transfers``: what the parsers and the
ledger's decoder give; issue 15, step 0 of the flat clearing in docs/performance.md) are the same records, in the same
order, as the tuples of :class:`AccountOpen` / :class:`Transfer` built in memory: the same canonical bytes, the same
validation and the same epoch."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import zkclear.clearing.inputs as inputs_module
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import AccountOpen, AccountOpens, EpochInputs, Fills, Transfer, Transfers
from zkclear.clearing.io import load_epoch, parse_accounts, parse_transfers
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError


@pytest.fixture(scope="module")
def market(small_collateral_market) -> tuple[object, list[Path]]:
    return small_collateral_market


def _as_tuples(inputs: EpochInputs) -> EpochInputs:
    """The same inputs with their opening records and transfers as tuples of record objects."""
    return dataclasses.replace(inputs, opens=tuple(inputs.opens), transfers=tuple(inputs.transfers))


def test_the_parsers_give_columns_of_the_files_records(market):
    epoch_dirs = market[1]
    folder = epoch_dirs[0]
    transfers, opens = parse_transfers(folder / "transfers.csv"), parse_accounts(folder / "accounts.csv")
    assert isinstance(transfers, Transfers) and isinstance(opens, AccountOpens)
    rows = (folder / "transfers.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(transfers) == len(rows) > 12
    for k, (record, row) in enumerate(zip(transfers, rows, strict=True)):
        transfer_id, kind, account, amount, *asset = row.split(",")
        assert record == Transfer(transfer_id, kind, account, int(amount), str(folder / "transfers.csv"), k + 2,
                                  *asset)
        assert transfers[k] == record and transfers[-len(rows) + k] == record
    assert any(record.asset for record in transfers) and any(not record.asset for record in transfers)
    assert [o.account for o in opens] == [row.split(",")[0] for row in
                                          (folder / "accounts.csv").read_text(encoding="utf-8").splitlines()[1:]]
    assert transfers[2:5] == tuple(transfers)[2:5] and isinstance(transfers[2:5], Transfers)
    assert opens[1:3] == tuple(opens)[1:3] and opens != tuple(opens)[1:]


def test_an_epoch_of_columns_is_the_epoch_of_record_tuples(market):
    config, epoch_dirs = market
    state = EpochState.genesis(config)
    for number, folder in enumerate(epoch_dirs, start=1):
        loaded = load_epoch(folder, number, config)
        assert isinstance(loaded.transfers, Transfers)
        as_tuples = _as_tuples(loaded)
        assert loaded.canonical_bytes() == as_tuples.canonical_bytes()
        new_state, report = apply_epoch(state, loaded, config)
        tuple_state, tuple_report = apply_epoch(state, as_tuples, config)
        assert new_state.canonical_bytes() == tuple_state.canonical_bytes()
        assert report.to_canonical() == tuple_report.to_canonical()
        state = new_state


def test_the_ledgers_decoder_gives_columns_and_the_same_bytes(market):
    config, epoch_dirs = market
    loaded = load_epoch(epoch_dirs[0], 1, config)
    decoded = EpochInputs.from_canonical(json.loads(loaded.canonical_bytes()), path="<ledger>")
    assert isinstance(decoded.transfers, Transfers) and isinstance(decoded.opens, AccountOpens)
    assert decoded.canonical_bytes() == loaded.canonical_bytes()
    assert [t.line for t in decoded.transfers] == list(range(1, len(loaded.transfers) + 1))


def test_a_stored_record_the_columns_cannot_hold_is_kept_for_validation_to_name():
    """An amount that is not an int64 integer (only in a damaged record: the ledger checks its hash first) is kept
    as it is, so that validation names it rather than the decoder failing on it."""
    record = {"epoch": 1, "marks": [], "margin_overrides": [], "opens": [],
              "transfers": [["t1", "deposit", "A", 5], ["t2", "deposit", "A", True], ["t3", "deposit", "A", 7, "BTC"]]}
    decoded = EpochInputs.from_canonical(record)
    assert type(decoded.transfers) is tuple and decoded.transfers[1].amount is True
    assert decoded.transfers[2].asset == "BTC" and decoded.transfers[0].asset == ""


def test_iteration_crosses_its_blocks_in_order(monkeypatch):
    monkeypatch.setattr(inputs_module, "_ITERATED", 3)
    count = 10
    transfers = Transfers(tuple(f"t{k}" for k in range(count)), ("deposit",) * count, ("A",) * count,
                          np.arange(1, count + 1, dtype=np.int64), np.arange(2, count + 2), path="f.csv")
    assert [t.transfer_id for t in transfers] == [f"t{k}" for k in range(count)]
    assert [(t.amount, t.line, t.asset) for t in transfers][-1] == (count, count + 1, "")
    opens = AccountOpens(tuple(f"a{k}" for k in range(count)), ("standard",) * count, np.arange(2, count + 2))
    assert list(opens) == [AccountOpen(f"a{k}", "standard", "<memory:accounts>", k + 2) for k in range(count)]


def test_a_deposit_past_the_bound_is_refused_on_its_line_from_columns(market):
    """The running per-account deposit sum (now an int64 column) still refuses the deposit that crosses 2^62 − 1,
    naming its line, and keeps the earlier ones."""
    config, epoch_dirs = market
    state = EpochState.genesis(config)
    big = (1 << 62) - 1
    opens = AccountOpens(("A",), ("standard",), np.array([2]), "accounts.csv")
    transfers = Transfers(("d1", "d2", "d3"), ("deposit",) * 3, ("A",) * 3,
                          np.array([big - 10, 10, 1], dtype=np.int64), np.array([2, 3, 4]), path="transfers.csv")
    inputs = dataclasses.replace(load_epoch(epoch_dirs[0], 1, config), fills=Fills.empty(), opens=opens,
                                 transfers=transfers)
    with pytest.raises(InputError) as caught:
        inputs_module.validate_inputs(state, inputs, config)
    assert (caught.value.path, caught.value.line, caught.value.field) == ("transfers.csv", 4, "amount")
    assert "past 2**62 - 1" in str(caught.value)


@pytest.mark.parametrize("bad_row_at", [5, 9_000])
def test_a_transfers_file_is_refused_on_its_first_bad_line_whatever_the_batches(tmp_path, bad_row_at):
    """The file is read 4,096 rows at a time (its text is never held whole): a bad kind on line 3 is named before a
    malformed row further on, in the same batch or a later one, as ``fills.csv``'s first bad record is."""
    rows = ["transfer_id,kind,account,amount"] + [f"t{k},deposit,A,{k + 1}" for k in range(10_000)]
    rows[2] = "t1,gift,A,2"
    rows[bad_row_at - 1] = "t-malformed,deposit"
    path = tmp_path / "transfers.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        parse_transfers(path)
    assert (caught.value.line, caught.value.field) == (3, "kind")
    rows[2] = "t1,deposit,A,2"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        parse_transfers(path)
    assert caught.value.line == bad_row_at and "expected 4 fields, got 2" in str(caught.value)
    rows[bad_row_at - 1] = f"t{bad_row_at},withdrawal,B,7"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    parsed = parse_transfers(path)
    assert len(parsed) == 10_000 and parsed[bad_row_at - 2] == Transfer(f"t{bad_row_at}", "withdrawal", "B", 7,
                                                                         str(path), bad_row_at)
    assert parsed[-1].line == 10_001 and parsed[-1].amount == 10_000
