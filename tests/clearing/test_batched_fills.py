"""Fills read in batches (issue 15, item 2): the clearing holds one batch of fills at a time, and nothing it
commits, refuses or says depends on the batch size."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from zkclear.clearing.canonical_inputs import write_canonical_inputs
from zkclear.clearing.inputs import EpochInputs, Fills
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger
from zkclear.errors import InputError
from zkclear.synthetic import MarketSpec, generate_market


def _commit_all(root: Path, config, epoch_dirs: list[Path], batch_fills: int | None) -> list[tuple]:
    """Every epoch committed with fills in batches of ``batch_fills`` (None: the whole file in memory)."""
    results = []
    scratch = root / f"scratch-{batch_fills}"
    with Ledger(root / f"ledger-{batch_fills}.sqlite", config, durable=False) as ledger:
        for number, directory in enumerate(epoch_dirs, start=1):
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            inputs = load_epoch(directory, number, config, batch_fills=batch_fills,
                                scratch=scratch if batch_fills else None)
            result = ledger.commit(inputs, scratch=scratch)
            results.append((result.epoch_hash, result.state.canonical_bytes(), result.fills, result.volume,
                            ledger.inputs(number).canonical_bytes()))
        ledger.verify_replay()  # the stored inputs, decoded at once, reproduce every epoch
    return results


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> tuple[Path, object, list[Path]]:
    root = tmp_path_factory.mktemp("batched")
    config_path, epoch_dirs = generate_market(root / "market", MarketSpec(accounts=30, epochs=4, fills_per_epoch=90,
                                                                          seed=5, collateral=True))
    return root, load_config(config_path), epoch_dirs


@pytest.mark.parametrize("batch_fills", [1, 7, 64, 1 << 15])
def test_every_batch_size_commits_the_same_epochs_byte_for_byte(market, batch_fills, tmp_path):
    _, config, epoch_dirs = market
    batched = _commit_all(tmp_path, config, epoch_dirs, batch_fills)
    assert batched == _commit_all(tmp_path, config, epoch_dirs, None)
    assert sum(fills > 0 for _, _, fills, _, _ in batched) >= 2  # the crash epochs have none


def test_the_streamed_encoding_is_the_in_memory_one_for_awkward_ids(tmp_path):
    # ids holding what the ledger's fill-free reader looks for, quotes, backslashes and non-ASCII
    awkward = ['"size":[', ']}', 'a\\"b', ',"fills":{', 'é€', "x" * 64]
    fills = Fills(fill_id=tuple(awkward), buyer=("A",) * 6, seller=("B",) * 6, instrument=("P",) * 6,
                  size=_ints(6), price=_ints(6), buyer_fee=_ints(6), seller_fee=_ints(6))
    inputs = EpochInputs(epoch=2, fills=fills, marks=())
    encoded = write_canonical_inputs(inputs, tmp_path)
    assert encoded.path.read_bytes() == inputs.canonical_bytes()
    assert (encoded.fills, encoded.volume) == (6, 21)
    assert json.loads(encoded.path.read_bytes())["fills"]["fill_id"] == awkward


@pytest.mark.parametrize("block", [1, 2, 4096])
def test_opening_records_and_transfers_are_encoded_in_blocks_to_the_in_memory_bytes(tmp_path, monkeypatch, block):
    import zkclear.clearing.canonical_inputs as encoder
    from zkclear.clearing.inputs import AccountOpen, OperatorAction, Transfer

    monkeypatch.setattr(encoder, "_RECORDS", block)
    awkward = [',"opens":[]', ',"transfers":[]}', 'a\\"b', "]", "é€"]
    for opens, transfers in (((), ()), (("A", "B", "C"), ()), ((), awkward), (("A", "B", "C", "D", "E"), awkward)):
        inputs = EpochInputs(
            epoch=3, fills=Fills.empty(), marks=(),
            opens=tuple(AccountOpen(account, "standard", "<memory>", 1) for account in opens),
            transfers=tuple(Transfer(name, "deposit", "A", 10 + k, "<memory>", 1, *(["BTC"] if k % 2 else []))
                            for k, name in enumerate(transfers)),
            operator_actions=(OperatorAction("x", "withdraw_fund", "CH:fees", 1, ',"transfers":[]}', "<memory>", 1),))
        encoded = write_canonical_inputs(inputs, tmp_path)
        assert encoded.path.read_bytes() == inputs.canonical_bytes()


def _ints(count: int):
    import numpy as np

    return np.arange(1, count + 1, dtype=np.int64)


def _first_epoch(market, tmp_path: Path, edit) -> tuple[Path, object]:
    _, config, epoch_dirs = market
    folder = tmp_path / "epoch-1"
    shutil.copytree(epoch_dirs[0], folder)
    lines = (folder / "fills.csv").read_text().splitlines()
    (folder / "fills.csv").write_text("\n".join(edit(lines)) + "\n")
    return folder, config


def _refusal(folder: Path, config, tmp_path: Path, batch_fills: int | None) -> str:
    scratch = tmp_path / f"s-{batch_fills}"
    scratch.mkdir()
    ledger_path = tmp_path / f"l-{batch_fills}.sqlite"
    with Ledger(ledger_path, config, durable=False) as ledger:
        with pytest.raises(InputError) as caught:
            ledger.commit(load_epoch(folder, 1, config, batch_fills=batch_fills,
                                     scratch=scratch if batch_fills else None), scratch=tmp_path)
        assert ledger.head()[0] == 0  # nothing applied
    return str(caught.value)


def test_a_fill_id_repeated_in_a_later_batch_is_named_with_its_first_line(market, tmp_path):
    def repeat(lines):
        first_id = lines[1].split(",")[0]
        last = lines[-1].split(",")
        return [*lines[:-1], ",".join([first_id, *last[1:]])]

    folder, config = _first_epoch(market, tmp_path, repeat)
    count = len((folder / "fills.csv").read_text().splitlines())
    expected = f"{folder}/fills.csv:{count}: field 'fill_id': duplicate fill id"
    for batch_fills in (None, 1, 5):
        message = _refusal(folder, config, tmp_path, batch_fills)
        assert message.startswith(expected) and message.endswith("(first at line 2)")


def test_an_off_market_price_in_the_last_batch_is_refused_on_its_line(market, tmp_path):
    def off_market(lines):  # the last perpetual's fill, three times its price
        k = max(k for k, line in enumerate(lines) if "-PERP," in line)
        fields = lines[k].split(",")
        fields[5] = str(int(fields[5]) * 3)
        return [*lines[:k], ",".join(fields), *lines[k + 1:]]

    folder, config = _first_epoch(market, tmp_path, off_market)
    line = 1 + max(k for k, text in enumerate((folder / "fills.csv").read_text().splitlines()) if "-PERP," in text)
    messages = {_refusal(folder, config, tmp_path, batch_fills) for batch_fills in (None, 2, 9)}
    assert len(messages) == 1
    assert messages.pop().startswith(f"{folder}/fills.csv:{line}: field 'price': price ")


def test_a_fill_id_committed_by_an_earlier_epoch_is_refused_from_a_later_batch(market, tmp_path):
    _, config, epoch_dirs = market
    scratch = tmp_path / "scratch"
    with Ledger(tmp_path / "ledger.sqlite", config, durable=False) as ledger:
        scratch.mkdir()
        ledger.commit(load_epoch(epoch_dirs[0], 1, config, batch_fills=4, scratch=scratch), scratch=tmp_path)
        head = ledger.head()
        folder = tmp_path / "epoch-2"
        shutil.copytree(epoch_dirs[1], folder)
        lines = (folder / "fills.csv").read_text().splitlines()
        old_id = (epoch_dirs[0] / "fills.csv").read_text().splitlines()[3].split(",")[0]
        last = lines[-1].split(",")
        (folder / "fills.csv").write_text("\n".join([*lines[:-1], ",".join([old_id, *last[1:]])]) + "\n")
        shutil.rmtree(scratch)
        scratch.mkdir()
        with pytest.raises(InputError, match=f"fills.csv:{len(lines)}: field 'fill_id': fill id .* was already "
                                             "committed in epoch 1"):
            ledger.commit(load_epoch(folder, 2, config, batch_fills=4, scratch=scratch), scratch=tmp_path)
        assert ledger.head() == head  # rolled back: no epoch 2, no fill id of it stored
        assert ledger._db.execute("SELECT count(*) FROM fill_ids WHERE epoch = 2").fetchone()[0] == 0


def test_a_malformed_row_in_a_later_batch_names_the_operators_file(market, tmp_path):
    folder, config = _first_epoch(market, tmp_path, lambda lines: [*lines, "f-extra,A,B"])
    count = len((folder / "fills.csv").read_text().splitlines())
    message = _refusal(folder, config, tmp_path, 3)
    assert message == f"{folder}/fills.csv:{count}: expected 8 fields, got 3"


def test_the_ledger_reads_an_epochs_public_records_without_its_fills_opens_and_transfers(market, tmp_path):
    _, config, epoch_dirs = market
    with Ledger(tmp_path / "ledger.sqlite", config, durable=False) as ledger:
        for number, directory in enumerate(epoch_dirs, start=1):
            ledger.commit(load_epoch(directory, number, config), scratch=tmp_path)
        for number in range(1, len(epoch_dirs) + 1):
            full, public = ledger.inputs(number), ledger.inputs(number, public_only=True)
            assert len(public.fills) == 0 and public.opens == () and public.transfers == ()
            assert full.opens or full.transfers or number > 1  # the first epoch opens and funds accounts
            expected = full.canonical_without_fills() | {"opens": [], "transfers": []}
            assert public.canonical_without_fills() == expected


def test_a_batch_size_out_of_range_is_one_line(market, tmp_path):
    _, config, epoch_dirs = market
    for bad in (0, (1 << 24) + 1):
        with pytest.raises(InputError, match="the batch of fills must be 1 to 16777216 fills"):
            load_epoch(epoch_dirs[0], 1, config, batch_fills=bad, scratch=tmp_path)


class _Sliced:
    """A FillSource over fills held in memory, in batches of ``size`` (lines as in the whole)."""

    def __init__(self, fills: Fills, size: int) -> None:
        self.fills, self.size, self.path = fills, size, fills.path
        self.scratch = None  # the fill-id check across batches holds the ids in memory

    def batches(self):
        import dataclasses

        import numpy as np

        for start in range(0, len(self.fills), self.size):
            part = slice(start, start + self.size)
            yield dataclasses.replace(
                self.fills, **{name: getattr(self.fills, name)[part] for name in
                               ("fill_id", "buyer", "seller", "instrument", "size", "price", "buyer_fee",
                                "seller_fee")},
                lines=np.arange(start + 1, min(start + self.size, len(self.fills)) + 1, dtype=np.int64))


@pytest.mark.parametrize("size", [1, 2, 3, 10])
def test_an_unprovable_position_is_refused_on_the_fill_that_crossed_the_bound_whatever_the_batches(size):
    import dataclasses

    from tests.clearing.clearing_helpers import config, deposit, epoch_inputs, fill, perp_spec
    from zkclear.clearing.engine import apply_epoch
    from zkclear.clearing.state import EpochState

    cfg = config(perp_spec(contract_multiplier=1))
    inputs = epoch_inputs(1, {"BTC-PERP": 1}, opens=["A", "B", "C"],
                          transfers=[deposit("A", 10**18), deposit("B", 10**18), deposit("C", 10**18)],
                          fills=[fill("f0", "C", "B", 5, 1), fill("f1", "A", "B", 2**30, 1),
                                 fill("f2", "A", "B", 2**30 + 4, 1), fill("f3", "C", "B", 7, 1)])
    batched = dataclasses.replace(inputs, fills=_Sliced(inputs.fills, size))
    with pytest.raises(InputError, match=r"^<memory:fills>:3: field 'size': account 'A' in 'BTC-PERP': a position "
                                         r"of 2147483652 lots exceeds"):
        apply_epoch(EpochState.genesis(cfg), batched, cfg)
    # without the fills the epoch clears (an empty source is one empty pass)
    ok = dataclasses.replace(inputs, fills=_Sliced(Fills.from_records([]), size))
    state, _ = apply_epoch(EpochState.genesis(cfg), ok, cfg)
    assert state.epoch == 1


def test_a_ledger_written_before_epoch_inputs_existed_still_reads_and_replays(market, tmp_path):
    """Ledgers kept an epoch's inputs in ``epochs.inputs``; new epochs keep them in ``epoch_inputs`` (last
    column: written in blocks without SQLite materialising the blob). Old rows are read where they are."""
    import sqlite3

    _, config, epoch_dirs = market
    path = tmp_path / "ledger.sqlite"
    with Ledger(path, config, durable=False) as ledger:
        for number, directory in enumerate(epoch_dirs[:2], start=1):
            ledger.commit(load_epoch(directory, number, config), scratch=tmp_path)
        expected = [ledger.inputs(n).canonical_bytes() for n in (1, 2)]
    db = sqlite3.connect(path)  # epoch 1 as an older version stored it
    db.execute("UPDATE epochs SET inputs = (SELECT inputs FROM epoch_inputs WHERE epoch = 1) WHERE epoch = 1")
    db.execute("DELETE FROM epoch_inputs WHERE epoch = 1")
    db.commit()
    db.close()
    with Ledger(path, config, durable=False) as ledger:
        assert [ledger.inputs(n).canonical_bytes() for n in (1, 2)] == expected
        assert ledger.inputs(1, public_only=True).marks == ledger.inputs(1).marks
        ledger.verify_replay()
        result = ledger.commit(load_epoch(epoch_dirs[0], 1, config), scratch=tmp_path)  # the same epoch again: a no-op
        assert result.already_committed


@pytest.mark.parametrize("damage", [b"{not json", b'{"epoch":1,"fills":{"size":[1]}}', b""])
def test_damaged_stored_inputs_are_a_ledger_error_not_a_crash(market, tmp_path, damage):
    import sqlite3

    from zkclear.errors import LedgerError

    _, config, epoch_dirs = market
    path = tmp_path / "ledger.sqlite"
    with Ledger(path, config, durable=False) as ledger:
        ledger.commit(load_epoch(epoch_dirs[0], 1, config), scratch=tmp_path)
    db = sqlite3.connect(path)
    db.execute("UPDATE epoch_inputs SET inputs = ? WHERE epoch = 1", (damage,))
    db.commit()
    db.close()
    with Ledger(path, config, durable=False) as ledger:
        for public_only in (False, True):
            with pytest.raises(LedgerError):
                ledger.inputs(1, public_only=public_only)


def test_the_public_records_are_cut_right_whatever_the_ids_hold(tmp_path):
    """A transfer's, a fill's or an operator action's id (and an action's reason) is any printable ASCII: ids made
    of the very keys the cut looks for must not move it (a ``"`` inside a JSON string is always escaped)."""
    from tests.clearing.clearing_helpers import config, deposit, epoch_inputs, fill, withdraw
    from zkclear.clearing.inputs import OperatorAction

    hostile = ['x"],"transfers":[', ']],"oracle_quotes":["', ',"opens":[["', ']}', '"size":[1]}', ',"fills":{']
    accounts = ["A", "B", "C"]
    cfg = config()
    first = epoch_inputs(1, {"BTC-PERP": 50_000}, opens=accounts,
                         transfers=[deposit(accounts[k % 3], 10**9, name) for k, name in enumerate(hostile)],
                         fills=[fill(']],"transfers":[', "A", "B", 1, 50_000)])
    second = dataclasses.replace(
        epoch_inputs(2, {"BTC-PERP": 50_100}, transfers=[withdraw("C", 5, ',"transfers":[]}')]),
        operator_actions=(OperatorAction('a,"oracle_quotes":[', "withdraw_fund", "CH:fees", 1, ']],"transfers":["',
                                         "<memory>", 1),))
    with Ledger(tmp_path / "ledger.sqlite", cfg, durable=False) as ledger:
        for inputs in (first, second):
            ledger.commit(inputs, scratch=tmp_path)
        for number in (1, 2):
            full, public = ledger.inputs(number), ledger.inputs(number, public_only=True)
            assert public.canonical_without_fills() == full.canonical_without_fills() | {"opens": [], "transfers": []}
        assert [a.reason for a in ledger.inputs(2, public_only=True).operator_actions] == [']],"transfers":["']
