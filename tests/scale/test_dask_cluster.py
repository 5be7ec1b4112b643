"""`epoch prove --scheduler tcp://HOST:PORT` on a real Dask cluster started with Dask's own commands (`dask
scheduler`, `dask worker`, as the README says): one worker killed mid-way, the epoch completes with the same
bytes as a serial run, and only the coordinating process writes files."""

from __future__ import annotations

import os
import signal

import pytest

from tests.scale.venue import alive, dask_cluster, snapshot, start, wait_until

pytest.importorskip("distributed")


@pytest.fixture
def cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes (one thread each, no nanny: killing one is losing it)."""
    with dask_cluster(tmp_path, 2) as (address, _, workers):
        yield address, workers


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
