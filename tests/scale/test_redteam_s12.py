"""Red team session 12: resumable proving in a hostile or unlucky environment (the work folder, the executor's
workers, a restored ledger) and the streaming audit's order of failures. Each defect found has its test here
(named for the behaviour now pinned); attacks that were already refused are the ``test_held_...`` ones."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import struct
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import PUBLIC, SYSTEM, accounts, honest_epoch, reserves
from tests.scale.test_audit_stream import _published
from tests.scale.test_streaming import _common, _files, _in_memory, _reseal, _scratch, _StopAfterChunks
from tests.scale.venue import KEY, VENUE, alive, descendants, snapshot, start, wait_until
from zkclear.chains import load_reserves
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import ConfigurationError, LedgerError, VerificationError
from zkclear.executor import ProcessExecutor, SerialExecutor
from zkclear.operator import Deployment
from zkclear.proofs import work_store
from zkclear.proofs.streaming import ListSource, close_epoch
from zkclear.proofs.work_store import WorkStore
from zkclear.proving_settings import ProvingSettings
from zkclear.synthetic import MarketSpec, generate_market, reserves_csv
from zkclear.tree.placement import TreeConfig
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.audit_stream import audit_file

CONFIG = TreeConfig(height=7, chunk_bits=2)


def _interrupted(work: Path, tmp_path: Path, count: int = 12) -> list[Path]:
    """A close of ``count`` accounts stopped when the upper tree starts: its chunk units are in ``work``."""
    with pytest.raises(KeyboardInterrupt):
        close_epoch(ListSource(accounts(count)), PUBLIC, reserves(), executor=_StopAfterChunks(), work_folder=work,
                    scratch=_scratch(tmp_path), **_common(CONFIG))
    saved = sorted(work.glob("chunk-*.work"))
    assert len(saved) == 4
    return saved


def _resumed(work: Path, tmp_path: Path, count: int = 12):
    steps: list[tuple[str, int, int]] = []
    closed = close_epoch(ListSource(accounts(count)), PUBLIC, reserves(), executor=SerialExecutor(), work_folder=work,
                         progress=lambda step, done, total: steps.append((step, done, total)),
                         scratch=_scratch(tmp_path), **_common(CONFIG))
    assert _files(closed, tmp_path) == _in_memory(CONFIG, count)
    return closed, steps


# -- the work folder ------------------------------------------------------------------------------------------------


def test_a_stale_temporary_directory_or_link_in_the_work_folder_is_replaced_not_written_through(tmp_path):
    """Attack (a kill, or a hostile writer, leaves ``UNIT.work.tmp``): a directory there failed every re-run with
    IsADirectoryError until removed by hand; a link there was written through, so the unit's openings landed where
    it pointed (outside the private folder) and stayed after the epoch was written."""
    work = tmp_path / "work"
    first, second = _interrupted(work, tmp_path)[:2]
    outside = tmp_path / "outside" / "openings.bin"
    outside.parent.mkdir()
    for unit in (first, second):
        unit.unlink()
    (first.with_name(first.name + ".tmp") / "inside").mkdir(parents=True)
    os.symlink(outside, second.with_name(second.name + ".tmp"))
    closed, steps = _resumed(work, tmp_path)
    assert ("collateral proofs (chunks)", 4, 4) in steps
    assert not outside.exists() and list(outside.parent.iterdir()) == []
    assert first.is_file() and second.is_file() and not second.is_symlink()
    assert not list(work.glob("*.tmp"))
    closed.discard_work()
    assert not work.exists()


def test_a_huge_file_under_a_units_name_is_removed_unread(tmp_path):
    """Attack (a sparse file of 64 GiB under a unit's name): it was read whole before its checksum was checked, so
    every re-run ended in MemoryError ("input too large", no file named) until it was removed by hand."""
    work = tmp_path / "work"
    unit = _interrupted(work, tmp_path)[0]
    unit.unlink()
    with open(unit, "wb") as handle:
        handle.truncate(64 << 30)
    _, steps = _resumed(work, tmp_path)
    assert ("checking saved chunk proofs", 3, 4) in steps and ("collateral proofs (chunks)", 3, 4) in steps
    assert unit.stat().st_size < 1 << 20  # proven again and saved in its place


def test_a_unit_whose_head_announces_more_than_memory_holds_is_removed(tmp_path, monkeypatch):
    """The same file with a valid head announcing its 64 GiB: the read fails with MemoryError, and the unit is
    removed and proven again (a unit this process wrote fitted in memory when it was written)."""
    work = tmp_path / "work"
    unit = _interrupted(work, tmp_path)[0]
    head = unit.read_bytes()[:8 + 1 + len("chunk") + 32]
    size = 64 << 30
    unit.unlink()
    with open(unit, "wb") as handle:
        handle.write(head + struct.pack(">Q", size - len(head) - 8 - 32))
        handle.truncate(size)
    real_open = open

    class _NoMemory:  # a 64 GiB buffer may be granted lazily: make the read's outcome certain
        def __init__(self, *args):
            self._handle = real_open(*args)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

        def read(self, size: int = -1) -> bytes:
            if size < 0:
                raise MemoryError
            return self._handle.read(size)

    monkeypatch.setattr(work_store, "open", _NoMemory, raising=False)
    store = WorkStore(work, b"")
    key = bytes.fromhex(unit.name.removeprefix("chunk-").removesuffix(".work"))
    assert store.load("chunk", key) is None
    assert not unit.exists()


def test_a_work_folder_linked_elsewhere_loses_its_units_when_the_epoch_is_written(tmp_path):
    """An operator who links ``private/N/work`` to a folder on another disk: removing the folder refused the link
    (rmtree), so every unit, openings included, stayed on that disk after the epoch was written."""
    elsewhere = tmp_path / "fast-disk" / "work-1"
    elsewhere.mkdir(parents=True)
    (elsewhere / "notes.txt").write_text("the operator's own file\n")
    work = tmp_path / "work"
    os.symlink(elsewhere, work)
    closed, _ = _resumed(work, tmp_path)
    assert len(list(elsewhere.glob("*.work"))) > 4
    closed.discard_work()
    assert not work.exists() and not work.is_symlink()
    assert sorted(path.name for path in elsewhere.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("left", ["file", "link"])
def test_a_file_or_link_left_as_the_audit_sections_folder_is_replaced(venue, reference, tmp_path, left):
    """Attack (``private/N/work/audit-sections``, the audit data's scratch folder, is a file or a link to a folder
    elsewhere): every re-run failed, NotADirectoryError or "Cannot call rmtree on a symbolic link" (no file named),
    until it was removed by hand; now it is replaced (the link's folder untouched) and the files are the first
    run's."""
    root = venue.copy(tmp_path / "venue")

    def stopped(*_args, **_kwargs):
        raise _Stop

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Deployment, "_publish_closed", stopped)
        with pytest.raises(_Stop):
            Deployment(root).prove(1, venue.reserve_entries(), executor=SerialExecutor())
    sections = root / "private" / "1" / "work" / "audit-sections"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("the operator's own file\n")
    if left == "file":
        sections.write_bytes(b"left by a kill")
    else:
        os.symlink(elsewhere, sections)
    Deployment(root).prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(), executor=SerialExecutor())
    assert snapshot(root) == reference
    assert [path.name for path in elsewhere.iterdir()] == ["keep.txt"]


def test_node_proofs_saved_with_two_workers_are_reused_by_a_serial_rerun(venue, reference, tmp_path):
    """The node-proof groups are packed into tasks by the worker count: saved one file per task, they were all
    proven again by a re-run with another worker count (here serial after two processes: none reused). Saved one
    file per group, every one is checked and reused."""
    root = venue.copy(tmp_path / "venue")

    def stopped(*_args, **_kwargs):
        raise _Stop

    with pytest.MonkeyPatch.context() as patch, ProcessExecutor(workers=2) as run:
        patch.setattr(Deployment, "_publish_closed", stopped)
        with pytest.raises(_Stop):
            Deployment(root).prove(1, venue.reserve_entries(), executor=run)
    saved = {path.name for path in (root / "private" / "1" / "work").glob("nodes-*.work")}
    steps: list[tuple[str, int, int]] = []
    Deployment(root).prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(), executor=SerialExecutor(),
                           progress=lambda step, done, total: steps.append((step, done, total)))
    assert snapshot(root) == reference
    checked = [done for step, done, total in steps if step == "checking saved node proofs"]
    node_steps = [(done, total) for step, done, total in steps if step == "node range proofs (groups)"]
    assert checked and node_steps[0][0] == node_steps[0][1]  # every task reused: nothing left to prove
    assert len(saved) >= 2


def test_held_a_unit_resealed_with_another_chunks_body_is_proven_again(tmp_path):
    """Held: a unit whose body is another chunk's (its checksum recomputed) fails the chunk's check (its position,
    its accounts) and is proven again; the bytes are the uninterrupted run's."""
    work = tmp_path / "work"
    first, second = _interrupted(work, tmp_path)[:2]
    start = 8 + 1 + len("chunk") + 32 + 8
    other = second.read_bytes()[start:-32]
    _reseal(first, lambda body: body.__setitem__(slice(None), other))
    _, steps = _resumed(work, tmp_path)
    assert ("checking saved chunk proofs", 4, 4) in steps and ("collateral proofs (chunks)", 3, 4) in steps


def _resealed_head(path: Path, change) -> None:
    """Change a work file's head (magic, kind, key, length) and recompute its checksum."""
    data = bytearray(path.read_bytes()[:-32])
    change(data)
    path.write_bytes(bytes(data) + hashlib.sha256(bytes(data)).digest())


@pytest.mark.parametrize("damage", ["empty", "truncated", "key", "kind", "length", "appended"])
def test_held_a_damaged_unit_is_removed_and_proven_again(tmp_path, damage):
    """Held: a unit cut to nothing or short, one whose head names another key or kind or another body length (its
    checksum recomputed), or one with bytes appended, is removed and proven again; the bytes are the uninterrupted
    run's."""
    work = tmp_path / "work"
    unit = _interrupted(work, tmp_path)[0]
    key_at = 8 + 1 + len("chunk")
    if damage == "empty":
        unit.write_bytes(b"")
    elif damage == "truncated":
        unit.write_bytes(unit.read_bytes()[:-100])
    elif damage == "key":
        _resealed_head(unit, lambda data: data.__setitem__(key_at, data[key_at] ^ 1))
    elif damage == "kind":
        _resealed_head(unit, lambda data: data.__setitem__(slice(9, key_at), b"nodes"))
    elif damage == "length":
        _resealed_head(unit, lambda data: data.__setitem__(key_at + 32 + 7, data[key_at + 32 + 7] ^ 1))
    else:
        unit.write_bytes(unit.read_bytes() + b"\x00")
    _, steps = _resumed(work, tmp_path)
    assert ("collateral proofs (chunks)", 3, 4) in steps  # three reused, the damaged one proven again
    assert unit.is_file()


def test_held_units_of_another_deployment_are_never_read(tmp_path):
    """Held: units saved under another operator secret (another deployment's folder copied in) have other names:
    none is read, every chunk is proven."""
    work = tmp_path / "work"
    _interrupted(work, tmp_path)
    steps: list[tuple[str, int, int]] = []
    other = {**_common(CONFIG), "blindings": BlindingSource.deterministic(b"another-deployment-secret-000000")}
    close_epoch(ListSource(accounts(12)), PUBLIC, reserves(), executor=SerialExecutor(), work_folder=work,
                progress=lambda step, done, total: steps.append((step, done, total)), scratch=_scratch(tmp_path),
                **other)
    assert not any(step == "checking saved chunk proofs" for step, _, _ in steps)
    assert ("collateral proofs (chunks)", 4, 4) in steps and len(list(work.glob("chunk-*.work"))) == 8


def test_held_a_unit_of_another_epochs_accounts_is_never_read(tmp_path):
    """Held: the unit saved for a chunk whose accounts changed since (a re-cleared epoch: one account's cash) has
    another name and is not read; the chunks whose accounts did not change are checked and reused, and the stale
    unit goes with the folder."""
    work = tmp_path / "work"
    stale = {path.name for path in _interrupted(work, tmp_path)}
    changed = list(accounts(12))
    witness = changed[0].witness
    changed[0] = replace(changed[0], witness=replace(witness, cash=witness.cash - 1))
    steps: list[tuple[str, int, int]] = []
    closed = close_epoch(ListSource(changed), PUBLIC, reserves(), executor=SerialExecutor(), work_folder=work,
                         progress=lambda step, done, total: steps.append((step, done, total)),
                         scratch=_scratch(tmp_path), **_common(CONFIG))
    assert ("checking saved chunk proofs", 3, 3) in steps and ("collateral proofs (chunks)", 3, 4) in steps
    names = {closed._store.path("chunk", key).name for key in closed._plan.chunk_keys}
    (unread,) = stale - names
    assert (work / unread).is_file()  # left alone, not read (nor deleted as damaged)
    closed.discard_work()
    assert not work.exists()


@pytest.mark.parametrize("left", ["named pipe", "link to /dev/zero", "huge file"])
def test_a_generator_cache_block_that_is_not_a_block_file_is_ignored_unread(tmp_path, monkeypatch, left):
    """Every worker's first task (and every verification) reads the generator cache: a named pipe under a block's
    name hung it, a link to /dev/zero or a 64 GiB sparse file ran it out of memory (MemoryError: "input too large"
    with no file named, every command, until removed by hand). Now only a regular file of a block's size is read."""
    from zkclear.crypto import generator_cache
    from zkclear.crypto.generator_digests import PINNED_BLOCK_DIGESTS

    monkeypatch.setenv("ZKCLEAR_CACHE_DIR", str(tmp_path / "cache"))
    label = next(iter(PINNED_BLOCK_DIGESTS))
    path = generator_cache._path(generator_cache.cache_directory(), label, 0)
    path.parent.mkdir()
    if left == "named pipe":
        os.mkfifo(path)
    elif left == "link to /dev/zero":
        os.symlink("/dev/zero", path)
    else:
        with open(path, "wb") as handle:
            handle.truncate(64 << 30)

    def hung(*_):
        raise AssertionError(f"the generator cache read a {left}")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        assert generator_cache.load_block(label, 0) is None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- the executor ----------------------------------------------------------------------------------------------------


def _raises_or_naps(item: int) -> int:
    if item == 0:
        raise RuntimeError("a task failed")
    time.sleep(30)
    return item


def test_an_error_in_a_worker_task_ends_the_workers_at_once():
    """An item that raised (or a caller that stopped reading: its own error, Ctrl-C) left the other items in flight
    running: closing the executor waited for every one of them (a window of proving tasks, minutes at scale) before
    the error was reported."""
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="a task failed"), ProcessExecutor(workers=2) as run:
        for _ in run.stream(_raises_or_naps, range(8), window=4):
            pass
    assert time.monotonic() - started < 10


def _naps_but_the_first(item: int) -> int:
    if item > 0:
        time.sleep(30)
    return item


def test_a_caller_that_stops_reading_ends_the_workers_at_once():
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), ProcessExecutor(workers=2) as run:
        for _ in run.stream(_naps_but_the_first, range(8), window=4):
            raise KeyboardInterrupt
    assert time.monotonic() - started < 10
    with ProcessExecutor(workers=2) as run:  # a stream read to its end still shuts down gracefully
        assert run.map(abs, [-1, -2, -3]) == [1, 2, 3]


def _dies(item: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer does
    return item


def test_workers_that_keep_dying_are_a_configuration_error_not_an_internal_one():
    """Workers killed again and again (out of memory): the executor gave up with BrokenProcessPool, which `epoch
    prove` reported as an internal error asking for a bug report (exit 3); it is a ConfigurationError naming the
    worker count (exit 1)."""
    message = r"died 4 times in a row .* \(out of memory\? 2 workers: try fewer\)"
    with pytest.raises(ConfigurationError, match=message), ProcessExecutor(workers=2) as run:
        list(run.stream(_dies, range(4)))


_FORKSERVER_COORDINATOR = """\
import multiprocessing, sys, time
from zkclear.executor import ProcessExecutor

def square(item):
    return item * item

def nap(item):
    time.sleep(600)
    return item

if __name__ == "__main__":
    multiprocessing.set_start_method("forkserver")  # Python 3.14's default on Linux
    run = ProcessExecutor(2)
    print(run.map(square, range(6)), flush=True)
    for _ in run.stream(nap, range(4)):
        pass
"""


def test_workers_started_through_a_fork_server_work_and_end_with_their_coordinator(tmp_path):
    """With the ``forkserver`` start method (the default from Python 3.14 on Linux) a worker's parent is the fork
    server, not the coordinator: every worker took its coordinator for dead and exited at once, and the process
    executor failed ("worker processes died 4 times in a row ... (out of memory?)"). They now run, and still end
    when the coordinator is killed."""
    script = tmp_path / "coordinator.py"
    script.write_text(_FORKSERVER_COORDINATOR)
    process = start([sys.executable, str(script)])
    assert process.stdout.readline().strip() == "[0, 1, 4, 9, 16, 25]"
    wait_until(lambda: len(descendants(process.pid)) >= 3, 60, "the fork server and two workers")
    time.sleep(1.0)
    family = descendants(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    wait_until(lambda: not any(alive(pid) for pid in family), 30, f"{family} to end with their coordinator")


# -- a ledger restored to clear an unpublished epoch again -----------------------------------------------------


class _Stop(Exception):
    pass


def test_a_ledger_restored_to_clear_an_unpublished_epoch_again_is_proven(tmp_path, monkeypatch):
    """A prove stopped in its publication step (killed, a disk full while the receipts were written) had recorded
    the ledger's epoch hash of N before writing anything: the operator who then restored the ledger to clear N again
    (with corrected inputs) was refused ("the history up to epoch N is not the one epoch N was proven from") though
    nothing of N had been published."""
    config, (epoch_dir,) = generate_market(tmp_path / "market", MarketSpec(accounts=8, epochs=1, fills_per_epoch=30,
                                                                           seed=15, options=False))
    settings = ProvingSettings(tree=TreeConfig(height=8, chunk_bits=2), position_bits=16, node_group=8, venue=VENUE)
    root = tmp_path / "venue"
    Deployment.init(root, config.read_text(), settings)
    backup = (root / "ledger.sqlite").read_bytes()
    Deployment(root).run_epoch(epoch_dir)
    reserves_path = tmp_path / "reserves.csv"
    reserves_path.write_text(reserves_csv([("ethereum", "USDC", KEY.address.text)], {"USDC": 10**16}))

    def stopped(*_args, **_kwargs):
        raise _Stop

    with monkeypatch.context() as patch:
        patch.setattr(Deployment, "_publish_closed", stopped)
        with pytest.raises(_Stop):
            Deployment(root).prove(1, load_reserves(reserves_path), executor=SerialExecutor())
    assert (root / "private" / "1" / "ledger-epoch-hash").is_file()
    for path in root.glob("ledger.sqlite*"):
        path.unlink()
    (root / "ledger.sqlite").write_bytes(backup)
    fills = epoch_dir / "fills.csv"
    fills.write_text("".join(fills.read_text().splitlines(keepends=True)[:-1]))  # the corrected inputs
    Deployment(root).run_epoch(epoch_dir)
    proven, _ = Deployment(root).prove(1, load_reserves(reserves_path), executor=SerialExecutor())
    assert proven.publish.bundle.is_file()
    record = (root / "private" / "1" / "ledger-epoch-hash").read_text()
    assert record == Deployment(root).ledger_epoch_hash(1).hex() + "\n"
    assert not (root / "private" / "1" / "work").exists()


def test_held_a_proven_epochs_record_still_refuses_another_ledger(venue, tmp_path):
    """Held: once N is proven (its bundle written), a ledger with another history is refused by name, and nothing
    is written."""
    root = venue.copy(tmp_path / "venue")
    Deployment(root).prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(), executor=SerialExecutor())
    record = root / "private" / "1" / "ledger-epoch-hash"
    record.write_text("00" * 32 + "\n")
    before = snapshot(root)
    with pytest.raises(LedgerError, match="is not the one epoch 1 was proven from"):
        Deployment(root).prove(1, venue.reserve_entries(), executor=SerialExecutor())
    assert snapshot(root) == before
    shutil.rmtree(root)


# -- the streaming audit's order of failures ---------------------------------------------------------------------------


def _both(tmp_path, bundle, audit) -> tuple[VerificationError, VerificationError]:
    published = _published(tmp_path, bundle, audit)
    with pytest.raises(VerificationError) as in_memory:
        audit_epoch(published, audit, chunk_system=SYSTEM, executor=SerialExecutor())
    with pytest.raises(VerificationError) as streamed:
        audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=1)
    return in_memory.value, streamed.value


def _flipped(proof: bytes) -> bytes:
    changed = bytearray(proof)
    changed[-40] ^= 1
    return bytes(changed)


def test_an_undecodable_chunk_proof_is_named_before_a_node_proof_that_fails(tmp_path):
    """Found by fuzzing the audit file (two places changed): the in-memory audit decodes every proof before it
    verifies any, so a chunk proof that does not decode is named (chunk-collateral-proof); the streaming audit
    verified the node proofs first and named one that decoded but failed (node-range-proof)."""
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    anchor = min(audit.node_proofs)
    tampered = replace(audit, chunks=(replace(audit.chunks[0], proof=b""), *audit.chunks[1:]),
                       node_proofs={**audit.node_proofs, anchor: _flipped(audit.node_proofs[anchor])})
    in_memory, streamed = _both(tmp_path, bundle, tampered)
    assert in_memory.reason == "chunk-collateral-proof"
    assert (streamed.reason, str(streamed)) == (in_memory.reason, str(in_memory))


def test_an_undecodable_node_proof_is_named_before_an_earlier_group_that_fails(tmp_path, monkeypatch):
    """Across batches of node proofs: a later group's proof that does not decode is named before an earlier group's
    that decodes and fails, as the in-memory audit does (it decodes all of them first)."""
    monkeypatch.setattr("zkclear.verifier.audit_stream.BATCH", 1)
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    first, *_, last = sorted(audit.node_proofs)
    assert first[0] != last[0]  # the two are named apart by their level
    tampered = replace(audit, node_proofs={**audit.node_proofs, first: _flipped(audit.node_proofs[first]),
                                           last: b"\x00" * 7})
    in_memory, streamed = _both(tmp_path, bundle, tampered)
    assert (in_memory.reason, in_memory.index) == ("node-range-proof", last[0])
    assert (streamed.reason, streamed.index, str(streamed)) == (in_memory.reason, in_memory.index, str(in_memory))


def test_held_a_node_proof_that_fails_is_named_before_a_chunk_proof_that_fails(tmp_path):
    """Held: both decode and fail; both audits name the node proof (verified first in either)."""
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    anchor = min(audit.node_proofs)
    tampered = replace(audit, chunks=(replace(audit.chunks[0], proof=_flipped(audit.chunks[0].proof)),
                                      *audit.chunks[1:]),
                       node_proofs={**audit.node_proofs, anchor: _flipped(audit.node_proofs[anchor])})
    in_memory, streamed = _both(tmp_path, bundle, tampered)
    assert in_memory.reason == "node-range-proof"
    assert (streamed.reason, str(streamed)) == (in_memory.reason, str(in_memory))


# -- a full disk ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["/work/chunk-", ".rcpt"])
def test_held_a_disk_full_while_proving_leaves_no_bundle_and_the_rerun_writes_the_same_files(
        venue, reference, tmp_path, monkeypatch, where):
    """Held: the disk full (ENOSPC at the rename) while a chunk unit or a receipt is written: the prove fails with
    that OSError naming the file, no bundle is written (the epoch is not proven), and the re-run on a disk with room
    ends with exactly the uninterrupted run's files."""
    import errno

    root = venue.copy(tmp_path / "venue")
    real_replace = os.replace

    def full(source, target, *args, **kwargs):
        if where in str(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(source))
        return real_replace(source, target, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", full)
        with pytest.raises(OSError, match="No space left on device") as failure:
            Deployment(root).prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(),
                                   executor=SerialExecutor())
    assert where in failure.value.filename
    assert not (root / "epochs" / "1" / "epoch-1.bundle").exists()
    Deployment(root).prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(), executor=SerialExecutor())
    assert snapshot(root) == reference
    assert not (root / "private" / "scratch").exists()


# -- temporary files left (or planted) next to the files an epoch writes -----------------------------------------------


def test_a_link_left_as_a_participant_files_temporary_is_not_written_through(venue, tmp_path):
    """Attack (a link planted as ``private/participants/NAME.toml.tmp``): the participant file, an account's id and
    key, was written where the link pointed (a world-readable folder, another file to clobber) and stayed there; the
    link is now replaced and the file written in its place."""
    root = venue.copy(tmp_path / "venue")
    deployment = Deployment(root)
    participant = deployment.participant_path(deployment.accounts(1)[0].account_id)
    participant.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, participant.with_name(participant.name + ".tmp"))
    deployment.prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(), executor=SerialExecutor())
    assert victim.read_text() == "precious\n"
    assert participant.is_file() and not participant.is_symlink() and "account_key" in participant.read_text()
    assert not list(participant.parent.glob("*.tmp"))


def test_a_link_left_as_the_bundles_temporary_is_not_written_through_by_attest(venue, tmp_path):
    """Attack (a link planted as ``epochs/N/epoch-N.bundle.tmp`` in the publication folder, which may be synced from
    elsewhere): `epoch attest` wrote the bundle through it, clobbering the file it pointed to."""
    root = venue.copy(tmp_path / "venue")
    deployment = Deployment(root)
    deployment.prove(1, venue.reserve_entries(), executor=SerialExecutor())
    bundle = deployment.bundle_path(1)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, bundle.with_name(bundle.name + ".tmp"))
    signed, _ = deployment.attest(1, venue.reserve_keys()[0])
    assert victim.read_text() == "precious\n"
    assert bundle.is_file() and not bundle.is_symlink() and len(signed.attestations) == 1
    assert not list(bundle.parent.glob("*.tmp"))
