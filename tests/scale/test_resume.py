"""`epoch prove` killed at any moment (kill -9, a lost worker) resumes from its work folder, checks what it
reuses, and ends with the same bytes, file for file, as an uninterrupted run; its workers end with it."""

from __future__ import annotations

import hashlib
import os
import random
import signal
from pathlib import Path

import pytest

from tests.scale.venue import (
    alive,
    children,
    reserves_of,
    snapshot,
    start,
    wait_until,
)
from zkclear.executor import SerialExecutor
from zkclear.operator import Deployment
from zkclear.proofs.attestations import sign_attestation

SEED = int(os.environ.get("ZKCLEAR_TEST_SEED", "15"))


def _work(deployment: Path, kind: str) -> int:
    return len(list((deployment / "private" / "1" / "work").glob(f"{kind}-*.work")))


def _kill_tree(process, workers: list[int]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    # the pool workers get SIGKILL from the kernel when their parent dies (prctl PR_SET_PDEATHSIG)
    wait_until(lambda: not any(alive(pid) for pid in workers), 10, f"workers {workers} to end with their parent")


def test_a_prove_killed_at_random_points_resumes_to_the_same_bytes(venue, reference, tmp_path):
    rng = random.Random(SEED)
    deployment = venue.copy(tmp_path / "venue")
    args = venue.prove_args(deployment, "--workers", "2")
    # kill -9 during the chunk proofs, then during the node proofs, each after a random number of saved units
    # and a random delay; then once more at a random receipt and once just before the bundle (test hook)
    for kind in ("chunk", "nodes"):
        target = rng.randint(1, 2)
        process = start(args)
        wait_until(lambda kind=kind, target=target, process=process: _work(deployment, kind) >= target
                   or process.poll() is not None,
                   240, f"{target} saved {kind} units")
        assert process.poll() is None, process.stdout.read()
        workers = children(process.pid)
        assert workers, "the process executor runs its workers as child processes"
        saved = _work(deployment, kind)
        _kill_tree(process, workers)
        assert _work(deployment, kind) >= saved  # what was saved stays, whole (atomic writes)
        assert not (deployment / "epochs" / "1" / "epoch-1.bundle").exists()
    for hook in (f"receipts:{rng.randint(1, 5)}", "bundle"):
        process = start(args, ZKCLEAR_TEST_PROVE_CRASH=hook)
        output = process.communicate(timeout=300)[0]
        assert process.returncode == -signal.SIGKILL, output
        assert "checking saved chunk proofs" in output and "checking saved node proofs" in output
        assert not (deployment / "epochs" / "1" / "epoch-1.bundle").exists()
    process = start(args)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    assert snapshot(deployment) == reference
    assert not (deployment / "private" / "1" / "work").exists()


def test_a_lost_worker_costs_only_its_task_and_the_bytes_are_the_same(venue, reference, tmp_path):
    deployment = venue.copy(tmp_path / "venue")
    process = start(venue.prove_args(deployment, "--workers", "2"))
    wait_until(lambda: _work(deployment, "chunk") >= 1 or process.poll() is not None, 240, "a first chunk proof")
    victim = children(process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    assert snapshot(deployment) == reference


def test_workers_end_with_a_killed_coordinator(tmp_path):
    script = tmp_path / "coordinator.py"
    script.write_text(
        "import sys, time\n"
        "from zkclear.executor import ProcessExecutor\n"
        "def nap(x):\n    time.sleep(600)\n    return x\n"
        "if __name__ == '__main__':\n"
        "    run = ProcessExecutor(workers=2)\n"
        "    for _ in run.stream(nap, range(4)):\n        pass\n")
    process = start([os.sys.executable, str(script)])
    wait_until(lambda: len(children(process.pid)) >= 2, 60, "two pool workers")
    workers = children(process.pid)
    _kill_tree(process, workers)


class _StopAfterChunks(SerialExecutor):
    """Serial, but interrupts the close when the upper tree starts (the chunk proofs are all saved)."""

    def stream(self, fn, items, *, window=None):
        if fn.__name__ == "run_subtree_task":
            raise KeyboardInterrupt
        yield from super().stream(fn, items)


def _reseal(path: Path, change) -> None:
    """Apply ``change`` to a work file's body and write it back with a valid checksum (so that only the proof
    check can catch it)."""
    data = path.read_bytes()
    kind = path.name.split("-", 1)[0].encode()
    start = 8 + 1 + len(kind) + 32 + 8
    body = bytearray(data[start:-32])
    change(body)
    head = data[:start]
    path.write_bytes(head + bytes(body) + hashlib.sha256(head + bytes(body)).digest())


def test_a_stored_chunk_proof_that_does_not_verify_is_proven_again(venue, reference, tmp_path):
    """A chunk unit whose checksum holds but whose batch proof was altered is refused by the check (the proof
    against its statement) and proven again: the files are still the reference's."""
    from zkclear.proofs.units import ChunkUnit

    deployment = venue.copy(tmp_path / "venue")
    keys = [bytes.fromhex(venue.key.read_text())]
    with pytest.raises(KeyboardInterrupt):
        Deployment(deployment).prove(1, reserves_of(venue), reserve_keys=keys, executor=_StopAfterChunks())
    victim = sorted((deployment / "private" / "1" / "work").glob("chunk-*.work"))[0]

    def flip_proof_byte(body: bytearray) -> None:
        unit = ChunkUnit.parse(bytes(body), 3)
        proof_end = ChunkUnit.summary_size(3) + 4 + len(unit.record)
        body[proof_end - 40] ^= 0x01

    _reseal(victim, flip_proof_byte)
    steps: list[tuple[str, int, int]] = []
    Deployment(deployment).prove(1, reserves_of(venue), reserve_keys=keys, executor=SerialExecutor(),
                                 progress=lambda step, done, total: steps.append((step, done, total)))
    assert snapshot(deployment) == reference
    proven = [entry for entry in steps if entry[0] == "collateral proofs (chunks)"]
    assert proven[0][1] == proven[0][2] - 1  # every saved chunk but the altered one was reused


def test_a_changed_epoch_never_reuses_stale_work(venue, tmp_path):
    """Work saved for other reserves (another header) is ignored: its units have other names."""
    deployment = venue.copy(tmp_path / "venue")
    key = bytes.fromhex(venue.key.read_text())
    reserves = reserves_of(venue)
    other = type(reserves)(tuple(type(e)(e.address, e.balance + 1) for e in reserves.entries))

    with pytest.raises(KeyboardInterrupt):
        Deployment(deployment).prove(1, other, executor=_StopAfterChunks())
    stale = {p.name for p in (deployment / "private" / "1" / "work").glob("chunk-*.work")}
    seen: list[str] = []

    def progress(step: str, done: int, total: int) -> None:
        seen.append(step)

    _, closed = Deployment(deployment).prove(1, reserves, reserve_keys=[key], executor=SerialExecutor(),
                                             progress=progress)
    assert stale and "checking saved chunk proofs" not in seen
    assert closed.bundle.attestations[0] == sign_attestation(key, closed.bundle.attestation_message())
