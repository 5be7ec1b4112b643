"""The SQLite ledger: atomic epochs, idempotent re-application, crash safety, byte-identical replay."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill
from zkclear.clearing.config import INSURANCE_FUND
from zkclear.clearing.ledger import CRASH_HOOK_ENV, Ledger, genesis_hash
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError, LedgerError

ROOT = Path(__file__).resolve().parents[2]


def epochs():
    """Four epochs with trades, funding, a price crash (a liquidation) and a withdrawal."""
    return [
        epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 100, 1000, buyer_fee=5, seller_fee=5),
                                       fill("f2", "C", "B", 10, 1001)],
                     [deposit("A", 60_000), deposit("B", 200_000), deposit("C", 50_000),
                      deposit(INSURANCE_FUND, 5_000)], ["A", "B", "C"]),
        epoch_inputs(2, {PERP: (1010, 120)}, [fill("f3", "B", "C", 5, 1009)]),
        epoch_inputs(3, {PERP: (950, -40)}),
        epoch_inputs(4, {PERP: (960, 0)}, transfers=[deposit("C", 1_000, "d9")]),
    ]


def test_commit_chains_hashes_and_recommit_is_a_noop_that_says_so(tmp_path: Path) -> None:
    cfg = config()
    with Ledger(tmp_path / "l.sqlite", cfg) as ledger:
        assert ledger.head() == (0, genesis_hash(cfg))
        results = [ledger.commit(inputs, scratch=tmp_path) for inputs in epochs()]
        assert [r.epoch for r in results] == [1, 2, 3, 4]
        assert len(set(ledger.epoch_hashes())) == 4
        assert any(r.report.liquidations for r in results)
        again = ledger.commit(epochs()[1], scratch=tmp_path)
        assert again.already_committed and "already committed" in again.message
        assert again.epoch_hash == results[1].epoch_hash and ledger.head()[0] == 4
        different = epoch_inputs(2, {PERP: (1010, 121)}, [fill("f3", "B", "C", 5, 1009)])
        with pytest.raises(LedgerError, match="different inputs"):
            ledger.commit(different, scratch=tmp_path)
        assert ledger.state() == results[-1].state


def test_replay_from_an_empty_ledger_reproduces_states_and_hashes_byte_for_byte(tmp_path: Path) -> None:
    cfg = config()
    with Ledger(tmp_path / "a.sqlite", cfg) as original:
        for inputs in epochs():
            original.commit(inputs, scratch=tmp_path)
        assert original.verify_replay() == original.state()
        stored_inputs = [original.inputs(e) for e in range(1, 5)]
        hashes = original.epoch_hashes()
        final = original.state().canonical_bytes()
    with Ledger(tmp_path / "b.sqlite", cfg) as replay:
        for inputs in stored_inputs:
            replay.commit(inputs, scratch=tmp_path)
        assert replay.epoch_hashes() == hashes
        assert replay.state().canonical_bytes() == final


def test_commit_writes_its_canonical_inputs_in_the_scratch_folder_given_and_removes_them(tmp_path: Path,
                                                                                          monkeypatch) -> None:
    """The stored inputs (the epoch's fills) are private: they go to the deployment's scratch folder, not the
    system's temporary folder."""
    import zkclear.clearing.ledger as ledger_module

    folders: list[Path] = []
    real_write = ledger_module.write_canonical_inputs

    def recording(inputs, folder):
        folders.append(folder)
        return real_write(inputs, folder)

    monkeypatch.setattr(ledger_module, "write_canonical_inputs", recording)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with Ledger(tmp_path / "l.sqlite", config()) as ledger:
        assert ledger.commit(epochs()[0], scratch=scratch).epoch == 1
    assert len(folders) == 1 and folders[0].parent == scratch
    assert list(scratch.iterdir()) == []


def test_tampered_ledger_fails_replay(tmp_path: Path) -> None:
    cfg = config()
    path = tmp_path / "l.sqlite"
    with Ledger(path, cfg) as ledger:
        for inputs in epochs()[:2]:
            ledger.commit(inputs, scratch=tmp_path)
    db = sqlite3.connect(path)
    stored = db.execute("SELECT state FROM epochs WHERE epoch = 1").fetchone()[0]
    state = EpochState.from_canonical_bytes(stored)
    forged = state.canonical_bytes().replace(b'["A","standard",', b'["A","standard",1', 1)
    db.execute("UPDATE epochs SET state = ? WHERE epoch = 1", (forged,))
    db.commit()
    db.close()
    with Ledger(path, cfg) as ledger, pytest.raises(LedgerError, match="epoch 1"):
        ledger.verify_replay()


def test_ledger_refuses_a_different_configuration(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite", config()):
        pass
    with pytest.raises(LedgerError, match="different configuration"):
        Ledger(tmp_path / "l.sqlite", config(liquidation_penalty_ppm=20_000))


CHILD = """
import sys
from tests.clearing.test_ledger import epochs
from tests.clearing.clearing_helpers import config
from pathlib import Path
from zkclear.clearing.ledger import Ledger
ledger = Ledger(sys.argv[1], config())
for inputs in epochs()[: int(sys.argv[2])]:
    print(ledger.commit(inputs, scratch=Path(sys.argv[1]).parent).message, flush=True)
"""


def _child(path: Path, count: int, hook: str | None) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop(CRASH_HOOK_ENV, None)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(count)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _expected_after(count: int, tmp_path: Path) -> tuple[bytes, bytes]:
    with Ledger(tmp_path / "reference.sqlite", config()) as reference:
        for inputs in epochs()[:count]:
            reference.commit(inputs, scratch=tmp_path)
        return reference.head()[1], reference.state().canonical_bytes()


@pytest.mark.parametrize("how", ["self-kill inside the transaction", "killed from outside while in it"])
def test_kill_during_commit_leaves_the_last_committed_epoch_intact(tmp_path: Path, how: str) -> None:
    """Commit epochs 1-2, then die by SIGKILL inside epoch 3's transaction (after the row is written, before
    COMMIT). The ledger then reads epoch 2 exactly as a clean run leaves it, and epoch 3 commits normally."""
    path = tmp_path / "crash.sqlite"
    first = _child(path, 2, None)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    env_hook = "kill" if how.startswith("self") else "sleep:60"
    os.environ[CRASH_HOOK_ENV] = env_hook
    try:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), "3"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        del os.environ[CRASH_HOOK_ENV]
    if env_hook.startswith("sleep"):
        line = child.stderr.readline()  # the hook announces it is inside the transaction
        assert "inside the commit transaction" in line
        child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=120) == -signal.SIGKILL
    expected_hash, expected_state = _expected_after(2, tmp_path)
    with Ledger(path, config()) as ledger:
        assert ledger.head() == (2, expected_hash)
        assert ledger.state().canonical_bytes() == expected_state
        assert ledger.commit(epochs()[2], scratch=tmp_path).epoch == 3
        assert ledger.verify_replay() == ledger.state()


def test_a_fill_id_committed_in_an_earlier_epoch_is_refused_with_its_line(tmp_path: Path) -> None:
    cfg = config()
    with Ledger(tmp_path / "l.sqlite", cfg) as ledger:
        ledger.commit(epochs()[0], scratch=tmp_path)
        replayed = epoch_inputs(2, {PERP: (1010, 0)}, [fill("f9", "B", "C", 1, 1010), fill("f2", "C", "B",
                                                                                           1, 1010)])
        with pytest.raises(InputError, match="'f2' was already committed in epoch 1") as error:
            ledger.commit(replayed, scratch=tmp_path)
        assert (error.value.line, error.value.field) == (2, "fill_id")
        assert ledger.head()[0] == 1
        assert ledger.commit(epochs()[1], scratch=tmp_path).epoch == 2


# -- idempotent transfers (issue 12, item 3) --------------------------------------------------------

def test_a_transfer_id_committed_in_an_earlier_epoch_is_refused_with_its_line(tmp_path: Path) -> None:
    """Transfer ids are unique for the life of the deployment: the same deposit fed again in a later epoch is
    refused (before, ids were unique only within an epoch and the deposit was credited twice)."""
    cfg = config()
    with Ledger(tmp_path / "l.sqlite", cfg) as ledger:
        ledger.commit(epochs()[0], scratch=tmp_path)
        cash = ledger.state().cash_of("A")
        again = epoch_inputs(2, {PERP: (1010, 0)}, transfers=[deposit("A", 7, "t-new"), deposit("A", 60_000)])
        with pytest.raises(InputError, match=r"transfer id 'dep-A-60000' was already committed in epoch 1") as error:
            ledger.commit(again, scratch=tmp_path)
        assert (error.value.path, error.value.field) == ("<memory:transfers>", "transfer_id")
        assert ledger.head()[0] == 1 and ledger.state().cash_of("A") == cash


def test_transfer_ids_of_a_ledger_older_than_their_table_are_indexed_when_it_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    cfg = config()
    with Ledger(path, cfg) as ledger:
        ledger.commit(epochs()[0], scratch=tmp_path)
    with sqlite3.connect(path) as db:  # what a ledger written before issue 12 looks like
        db.execute("DROP TABLE transfer_ids")
        db.execute("DELETE FROM meta WHERE key = 'transfer_ids_indexed'")
    with Ledger(path, cfg) as ledger, pytest.raises(InputError, match="'dep-C-50000' was already committed"):
        ledger.commit(epoch_inputs(2, {PERP: (1010, 0)}, transfers=[deposit("C", 50_000)]), scratch=tmp_path)


def test_the_same_input_folder_twice_is_a_no_op_that_names_the_epoch(tmp_path: Path) -> None:
    """A folder with only transfers, run twice without naming the epoch (the issue's case): the second run
    commits nothing and says which epoch took these files; naming the epoch commits them as a new one."""
    from zkclear.clearing.io import load_epoch

    cfg = config()
    folder = tmp_path / "epoch"
    folder.mkdir()
    (folder / "fills.csv").write_text("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n")
    (folder / "prices.csv").write_text(f"instrument,mark_price,funding_rate_ppm\n{PERP},1000,0\n")
    (folder / "accounts.csv").write_text("account,margin_mode\nA,standard\n")
    (folder / "transfers.csv").write_text("transfer_id,kind,account,amount\nt-1,deposit,A,500\n")
    with Ledger(tmp_path / "l.sqlite", cfg) as ledger:
        first = ledger.commit(load_epoch(folder, 1, cfg), once_per_folder=True, scratch=tmp_path)
        second = ledger.commit(load_epoch(folder, 2, cfg), once_per_folder=True, scratch=tmp_path)
        assert (first.already_committed, second.already_committed, second.epoch) == (False, True, 1)
        assert "already committed as epoch 1" in second.message and "--epoch 2" in second.message
        assert ledger.head()[0] == 1 and ledger.state().cash_of("A") == 500
        # Named, the same files are a new epoch: here refused, because the deposit's id is taken.
        (folder / "accounts.csv").unlink()
        with pytest.raises(InputError, match=r"transfers.csv:2: field 'transfer_id': transfer id 't-1' was "
                                             r"already committed in epoch 1"):
            ledger.commit(load_epoch(folder, 2, cfg), scratch=tmp_path)
        (folder / "transfers.csv").unlink()
        assert ledger.commit(load_epoch(folder, 2, cfg), scratch=tmp_path).epoch == 2  # a quiet epoch: new files
        assert ledger.commit(load_epoch(folder, 3, cfg), once_per_folder=True, scratch=tmp_path).already_committed
        # the same quiet files, named epoch
        assert ledger.commit(load_epoch(folder, 3, cfg), scratch=tmp_path).epoch == 3


@pytest.mark.parametrize("same_inputs", [True, False])
def test_an_epoch_committed_by_another_run_while_this_one_cleared_it_is_named_not_a_sqlite_error(
        tmp_path: Path, monkeypatch, same_inputs: bool) -> None:
    """Two `epoch run`s of one epoch at once: the second to commit found SQLite's 'UNIQUE constraint failed' in its
    message (red team round 5). Same inputs: nothing to do, as for a re-run; other inputs: refused, nothing applied."""
    import zkclear.clearing.ledger as ledger_module

    cfg = config()
    path = tmp_path / "l.sqlite"
    first = epochs()[0]
    theirs = first if same_inputs else epoch_inputs(1, {PERP: 1000}, [], [deposit("A", 1_000, "d-other")], ["A"])
    real_apply = ledger_module.apply_epoch
    raced = []

    def apply_while_another_run_commits(state, inputs, cfg_):
        result = real_apply(state, inputs, cfg_)
        if not raced:
            raced.append(True)
            with Ledger(path, cfg) as other:
                other.commit(theirs, scratch=tmp_path)
        return result

    with Ledger(path, cfg) as ledger:
        monkeypatch.setattr(ledger_module, "apply_epoch", apply_while_another_run_commits)
        if same_inputs:
            result = ledger.commit(first, scratch=tmp_path)
            assert result.already_committed and "by another run" in result.message and "nothing to do" in result.message
        else:
            with pytest.raises(LedgerError, match="committed by another run, with different inputs") as error:
                ledger.commit(first, scratch=tmp_path)
            assert "UNIQUE" not in str(error.value)
        monkeypatch.setattr(ledger_module, "apply_epoch", real_apply)
        assert ledger.head()[0] == 1 and raced
        with Ledger(path, cfg) as reference:
            assert ledger.state(1) == reference.state(1)
