"""The streaming close writes, byte for byte, what the in-memory close and its encoders write, for every tree
shape (one subtree, many, the split at the chunk level, dense placement) and for a multi-asset epoch (every node
carrying one liability per asset); reused work is checked before use, and a changed epoch never reuses stale
work."""

from __future__ import annotations

import hashlib
import tempfile
from functools import cache
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import (
    MULTI_PUBLIC,
    PUBLIC,
    SYSTEM,
    accounts,
    multi_asset_accounts,
    public_inputs,
    reserves,
)
from zkclear.bundle.format import encode_audit_data, encode_public_bundle, encode_receipt
from zkclear.crypto.randomness import BlindingSource
from zkclear.executor import ProcessExecutor, SerialExecutor
from zkclear.proofs.epoch_prover import prove_epoch
from zkclear.proofs.streaming import ListSource, StreamSettings, close_epoch, split_level
from zkclear.proofs.units import ChunkUnit
from zkclear.tree.placement import TreeConfig

SECRET = b"streaming-secret-0123456789abcdef"


def _common(config: TreeConfig, book=None) -> dict:
    return {"epoch_id": 1, "previous": None, "config": config, "blindings": BlindingSource.deterministic(SECRET),
            "chunk_system": SYSTEM, "public_inputs_digest": public_inputs(1, book).digest()}


def _multi_asset(count: int):
    """``count`` accounts holding USD and BTC, the public data naming BTC, reserves of both (BTC on Bitcoin)."""
    account_list = multi_asset_accounts(count)
    btc = sum(account.witness.balances[0] for account in account_list)
    return account_list, MULTI_PUBLIC, reserves(collateral=(("BTC", 8, btc + 5),))


def _case(count: int, assets: int):
    return _multi_asset(count) if assets > 1 else (accounts(count), PUBLIC, reserves())


def _scratch(tmp_path: Path) -> Path:
    """A new empty folder for one close's placement database (a deployment gives each prove its own)."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


def _files(closed, folder: Path) -> dict[str, bytes]:
    closed.write_audit(folder / "audit", folder / "scratch")
    files = {"bundle": encode_public_bundle(closed.bundle), "audit": (folder / "audit").read_bytes()}
    files |= {account: data for account, _, data in closed.receipts()}
    return files


@cache
def _proven(config: TreeConfig, count: int, assets: int = 1):
    account_list, public, book = _case(count, assets)
    return prove_epoch(account_list, public, book, executor=SerialExecutor(), **_common(config, book))


def _in_memory(config: TreeConfig, count: int, assets: int = 1) -> dict[str, bytes]:
    """The files of the in-memory close of ``count`` accounts (computed once per shape)."""
    artifacts = _proven(config, count, assets)
    files = {"bundle": encode_public_bundle(artifacts.bundle), "audit": encode_audit_data(artifacts.audit, SYSTEM)}
    files |= {account: encode_receipt(receipt, SYSTEM) for account, receipt in artifacts.receipts.items()}
    return files


@pytest.mark.parametrize(("config", "count", "subtree_chunks", "assets"), [
    (TreeConfig(height=7, chunk_bits=2), 16, 1, 1),                          # many subtrees (one: the tests below)
    (TreeConfig(height=5, chunk_bits=2, chunk_padding="none"), 28, 1, 1),    # a full tree: the split at the chunks
    (TreeConfig(height=7, chunk_bits=2, sparse=False), 12, 2, 1),            # dense placement
    (TreeConfig(height=7, chunk_bits=2), 12, 1, 2),                          # USD and BTC, many subtrees
    (TreeConfig(height=7, chunk_bits=2), 12, 16, 2),                         # USD and BTC, one subtree
])
def test_the_streaming_close_writes_the_in_memory_bytes(tmp_path, config, count, subtree_chunks, assets):
    account_list, public, book = _case(count, assets)
    closed = close_epoch(ListSource(account_list), public, book, executor=SerialExecutor(),
                         work_folder=tmp_path / "work", settings=StreamSettings(subtree_chunks=subtree_chunks),
                         scratch=_scratch(tmp_path), **_common(config, book))
    assert closed.bundle.header.asset_count == assets
    assert _files(closed, tmp_path) == _in_memory(config, count, assets)
    assert closed.total_opening == _proven(config, count, assets).total_opening


def test_split_levels_cover_both_ends():
    assert split_level(TreeConfig(height=7, chunk_bits=2), 2, 16) == 7
    assert split_level(TreeConfig(height=5, chunk_bits=2, chunk_padding="none"), 7, 1) == 2
    assert split_level(TreeConfig(height=32, chunk_bits=4), 65_536, 16) == 32 - 12


class _StopAfterChunks(SerialExecutor):
    """Serial, but interrupts the close when the upper tree starts (every chunk proof is saved by then)."""

    def stream(self, fn, items, *, window=None):
        if fn.__name__ == "run_subtree_task":
            raise KeyboardInterrupt
        yield from super().stream(fn, items)


def _reseal(path: Path, change) -> None:
    """Change a work file's body and write it back with a valid checksum (only the proof check can catch it)."""
    data = path.read_bytes()
    start = 8 + 1 + len(path.name.split("-", 1)[0]) + 32 + 8
    body = bytearray(data[start:-32])
    change(body)
    head = data[:start]
    path.write_bytes(head + bytes(body) + hashlib.sha256(head + bytes(body)).digest())


def test_a_saved_chunk_proof_that_does_not_verify_is_proven_again(tmp_path):
    config, account_list = TreeConfig(height=7, chunk_bits=2), accounts(12)
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        close_epoch(ListSource(account_list), PUBLIC, reserves(), executor=_StopAfterChunks(), work_folder=work,
                    scratch=_scratch(tmp_path), **_common(config))
    saved = sorted(work.glob("chunk-*.work"))
    assert len(saved) == 4

    def flip_proof_byte(body: bytearray) -> None:
        unit = ChunkUnit.parse(bytes(body), len(PUBLIC.value_per_lot), 1)
        body[ChunkUnit.summary_size(len(PUBLIC.value_per_lot), 1) + 4 + len(unit.record) - 40] ^= 0x01

    _reseal(saved[0], flip_proof_byte)
    steps: list[tuple[str, int, int]] = []
    closed = close_epoch(ListSource(account_list), PUBLIC, reserves(), executor=SerialExecutor(), work_folder=work,
                         progress=lambda step, done, total: steps.append((step, done, total)),
                         scratch=_scratch(tmp_path), **_common(config))
    assert _files(closed, tmp_path) == _in_memory(config, len(account_list))
    assert ("checking saved chunk proofs", 4, 4) in steps
    assert ("collateral proofs (chunks)", 3, 4) in steps  # three reused, the altered one proven again


def test_saved_work_that_is_not_a_regular_file_is_removed_and_proven_again(tmp_path):
    """Attack (damaged or tampered work folder): a unit's name taken by a directory failed every re-run (exit 1,
    until removed by hand), a named pipe hung it and a link to /dev/zero read until memory ran out; each is now
    removed unread and its unit proven again, giving the same bytes."""
    import os
    import signal

    config, account_list = TreeConfig(height=7, chunk_bits=2), accounts(12)
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        close_epoch(ListSource(account_list), PUBLIC, reserves(), executor=_StopAfterChunks(), work_folder=work,
                    scratch=_scratch(tmp_path), **_common(config))
    directory, pipe = sorted(work.glob("chunk-*.work"))[:2]
    directory.unlink()
    directory.mkdir()
    (directory / "inside").write_bytes(b"x")
    pipe.unlink()
    os.mkfifo(pipe)

    def hung(*_):
        raise AssertionError("the close waited on a named pipe in the work folder")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        steps: list[tuple[str, int, int]] = []
        closed = close_epoch(ListSource(account_list), PUBLIC, reserves(), executor=SerialExecutor(),
                             work_folder=work, progress=lambda step, done, total: steps.append((step, done, total)),
                             scratch=_scratch(tmp_path), **_common(config))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert ("collateral proofs (chunks)", 2, 4) in steps  # two reused, the two replaced ones proven again
    assert directory.is_file() and pipe.is_file()
    assert _files(closed, tmp_path) == _in_memory(config, len(account_list))


def test_a_changed_epoch_never_reuses_stale_work(tmp_path):
    """Work saved under other reserves (another header) has other names: nothing of it is read."""
    config, account_list = TreeConfig(height=7, chunk_bits=2), accounts(12)
    work = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        close_epoch(ListSource(account_list), PUBLIC, reserves((600_001, 400_000)), executor=_StopAfterChunks(),
                    work_folder=work, scratch=_scratch(tmp_path), **_common(config))
    stale = {path.name for path in work.glob("*.work")}
    steps: list[str] = []
    closed = close_epoch(ListSource(account_list), PUBLIC, reserves(), executor=SerialExecutor(), work_folder=work,
                         progress=lambda step, done, total: steps.append(step),
                         scratch=_scratch(tmp_path), **_common(config))
    assert stale and "checking saved chunk proofs" not in steps
    assert stale <= {path.name for path in work.glob("*.work")}  # left alone, removed with the folder at the end
    assert _files(closed, tmp_path) == _in_memory(config, len(account_list))
    closed.discard_work()
    assert not work.exists()


@pytest.mark.parametrize(("per_task", "workers", "sizes"), [
    (1, 1, [1] * 4),        # one chunk per task
    (3, 1, [3, 1]),         # batches of three, the last short
    (4, 2, [2, 2]),         # capped so that both workers get a task
    (4, 1, [4]),
])
def test_chunks_are_handed_out_in_batches_with_the_same_bytes(tmp_path, monkeypatch, per_task, workers, sizes):
    """``StreamSettings.chunks_per_task`` packs chunk proofs into tasks (fewer for the scheduler and the coordinator
    to hand out), never leaving a worker without one when there are enough chunks; the files do not change."""
    import zkclear.proofs.streaming as streaming

    config, account_list = TreeConfig(height=7, chunk_bits=2), accounts(16)  # 4 chunks
    seen: list[int] = []

    original = streaming.run_chunk_batch

    def recording(batch):
        seen.append(len(batch.tasks))
        return original(batch)

    class Workers(SerialExecutor):  # in this process, but counted as ``workers`` for the packing
        pass

    Workers.workers = workers
    monkeypatch.setattr(streaming, "run_chunk_batch", recording)
    run = Workers()
    closed = close_epoch(ListSource(account_list), PUBLIC, reserves(), executor=run, work_folder=tmp_path / "w",
                         settings=StreamSettings(chunks_per_task=per_task), scratch=_scratch(tmp_path),
                         **_common(config))
    assert seen == sizes
    assert _files(closed, tmp_path) == _in_memory(config, len(account_list))


def test_worker_processes_give_the_same_bytes_with_a_small_window(tmp_path):
    config, account_list = TreeConfig(height=7, chunk_bits=2), accounts(12)
    with ProcessExecutor(workers=2) as run:
        closed = close_epoch(ListSource(account_list), PUBLIC, reserves(), executor=run, work_folder=tmp_path / "w",
                             settings=StreamSettings(window=2, subtree_chunks=2),
                             scratch=_scratch(tmp_path), **_common(config))
        assert _files(closed, tmp_path) == _in_memory(config, len(account_list))
