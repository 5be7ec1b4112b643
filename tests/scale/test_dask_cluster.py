"""`epoch prove --scheduler tcp://HOST:PORT` on a real Dask cluster started with Dask's own commands (`dask
scheduler`, `dask worker`, as the README says): one worker killed mid-way, the epoch completes with the same
bytes as a serial run, and only the coordinating process writes files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scale.venue import alive, env, snapshot, start, wait_until

pytest.importorskip("distributed")
DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture
def cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes (one thread each, no nanny: killing one is losing it)."""
    scheduler_file = tmp_path / "scheduler.json"
    processes = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(scheduler_file)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(), cwd=tmp_path)]
    try:
        wait_until(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, 60, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("w1", "w2"):
            processes.append(subprocess.Popen(
                [DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(), cwd=tmp_path))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, processes[1:]
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_dask_cluster_that_loses_a_worker_still_proves_the_same_bytes(venue, reference, cluster, tmp_path):
    address, workers = cluster
    deployment = venue.copy(tmp_path / "venue")
    process = start(venue.prove_args(deployment, "--scheduler", address))
    work = deployment / "private" / "1" / "work"
    wait_until(lambda: len(list(work.glob("chunk-*.work"))) >= 1 or process.poll() is not None, 300,
               "a first chunk proof from the cluster")
    assert process.poll() is None, process.stdout.read()
    os.kill(workers[0].pid, signal.SIGKILL)
    wait_until(lambda: not alive(workers[0].pid), 10, "the killed worker to be gone")
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    assert "on 2 dask workers" in output
    assert snapshot(deployment) == reference
    # the workers wrote nothing: every file of the epoch is the coordinator's (the workers' working directory
    # holds only what Dask itself keeps there)
    assert not any(path.suffix in (".work", ".rcpt", ".audit", ".bundle") for path in tmp_path.glob("dask-*/**/*"))


def test_dask_workers_keep_the_generators_between_tasks(cluster):
    """The Bulletproofs generators a worker derives stay in that worker process for the next tasks (the
    module-level cache of provers.bulletproofs.generators): a second round of proofs derives nothing new."""
    from distributed import Client

    from provers.bulletproofs import generators, prove_range

    address, _ = cluster
    with Client(address, timeout="30s") as client:
        rounds = []
        for offset in (0, 100):
            client.gather([client.submit(prove_range, [5 + i + offset], [7 + i], 8, b"ctx", pure=False)
                           for i in range(8)])
            rounds.append(client.run(generators.vector_generators.cache_info))
    first, second = rounds
    assert set(first) == set(second) and len(first) == 2
    for worker, info in second.items():
        assert info.misses == first[worker].misses  # nothing derived again
    assert sum(info.hits for info in second.values()) > sum(info.hits for info in first.values())
