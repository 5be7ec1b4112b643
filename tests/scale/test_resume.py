"""`epoch prove` killed at any moment (kill -9, a lost worker) resumes from its work folder, checks what it
reuses, and ends with the same bytes, file for file, as an uninterrupted run; its workers end with it."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.scale.venue import (
    alive,
    children,
    descendants,
    snapshot,
    start,
    wait_until,
)

SEED = int(os.environ.get("ZKCLEAR_TEST_SEED", "15"))


def _work(deployment: Path, kind: str) -> int:
    return len(list((deployment / "private" / "1" / "work").glob(f"{kind}-*.work")))


def _kill_tree(process, workers: list[int], timeout: float = 10) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    # the pool workers get SIGKILL from the kernel when their parent dies (prctl PR_SET_PDEATHSIG)
    wait_until(lambda: not any(alive(pid) for pid in workers), timeout, f"workers {workers} to end with their parent")


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
        # its scratch copy of the accounts and placement stays too, until the next run removes it
        assert list((deployment / "private" / "scratch" / f"run-{process.pid}").rglob("*.sqlite"))
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
    assert not (deployment / "private" / "scratch").exists()  # the killed runs' scratch folders are gone


def test_a_lost_worker_costs_only_its_task_and_the_bytes_are_the_same(venue, reference, tmp_path):
    deployment = venue.copy(tmp_path / "venue")
    process = start(venue.prove_args(deployment, "--workers", "2"))
    wait_until(lambda: _work(deployment, "chunk") >= 1 or process.poll() is not None, 240, "a first chunk proof")
    victim = children(process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    assert snapshot(deployment) == reference


@pytest.mark.parametrize("kind", ["process", "dask"])
def test_workers_end_with_a_killed_coordinator(tmp_path, kind):
    """Local pool workers (parent-death signal) and a local Dask cluster's processes end with a coordinator
    killed with SIGKILL, instead of being re-parented to PID 1 and running on."""
    if kind == "dask":
        pytest.importorskip("distributed")
    script = tmp_path / "coordinator.py"
    script.write_text(
        "import sys, time\n"
        "from zkclear.executor import get_executor\n"
        "def nap(x):\n    time.sleep(600)\n    return x\n"
        "if __name__ == '__main__':\n"
        f"    run = get_executor({kind!r}, 2)\n"
        "    for _ in run.stream(nap, range(4)):\n        pass\n")
    process = start([os.sys.executable, str(script)])
    wait_until(lambda: len(descendants(process.pid)) >= 2, 120, "two workers")
    time.sleep(1.0)
    workers = descendants(process.pid)
    _kill_tree(process, workers, timeout=30)
