"""The executor seam returns the same results, in order, whichever executor runs the work."""

import contextlib
import socket
import warnings

import pytest

from zkclear.errors import ConfigurationError
from zkclear.executor import DaskExecutor, ProcessExecutor, SerialExecutor, get_executor


def _square_mod(x: int) -> int:
    return pow(x, 2, 1_000_003)


ITEMS = list(range(20))
EXPECTED = [_square_mod(x) for x in ITEMS]


def test_serial_executor_maps_in_order():
    assert SerialExecutor().map(_square_mod, ITEMS) == EXPECTED


def test_process_executor_matches_serial():
    assert ProcessExecutor(workers=2).map(_square_mod, ITEMS) == EXPECTED


def test_dask_executor_matches_serial():
    pytest.importorskip("dask.distributed")
    with socket.socket() as dask_default_port, warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        with contextlib.suppress(OSError):  # taken already: the same case
            dask_default_port.bind(("127.0.0.1", 8787))
            dask_default_port.listen()
        executor = DaskExecutor(workers=2)
    # its status pages on a port of their own: with 8787 taken (another cluster, a `dask scheduler`) Dask printed
    # "UserWarning: Port 8787 is already in use. Perhaps you already have a cluster running?" (red team s15)
    assert not [warning for warning in warned if "8787" in str(warning.message)]
    try:
        assert executor.map(_square_mod, ITEMS) == EXPECTED
        # a local cluster speaks TLS with credentials of its own: no other local user can connect (its tasks carry
        # the operator secret)
        assert executor._client.scheduler.address.startswith("tls://")
    finally:
        executor.close()


def test_get_executor_by_name_and_environment(monkeypatch):
    assert isinstance(get_executor("serial"), SerialExecutor)
    monkeypatch.setenv("ZKCLEAR_EXECUTOR", "process")
    assert isinstance(get_executor(), ProcessExecutor)


def test_unknown_executor_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="unknown executor"):
        get_executor("threads-of-my-own")


def test_progress_is_reported_up_to_the_item_count():
    for executor in (SerialExecutor(), ProcessExecutor(workers=2)):
        seen: list[int] = []
        assert executor.map(_square_mod, ITEMS, progress=seen.append) == EXPECTED
        assert seen == list(range(1, len(ITEMS) + 1))


def _pid(_: int) -> int:
    import os

    return os.getpid()


@pytest.mark.parametrize("call", ["map", "stream"])
def test_a_worker_lost_while_the_pool_is_idle_costs_nothing(call):
    """A worker killed between two calls (the pool idle) left the pool broken, and the next call's first submit
    raised BrokenProcessPool: `epoch prove` ended with an internal error when a worker died between the chunk
    proofs and the subtrees (tests/scale/test_resume.py). The pool is rebuilt and the call completes."""
    import os
    import signal
    import time

    with ProcessExecutor(workers=2) as run:
        workers = set(run.map(_pid, range(8)))
        assert os.getpid() not in workers
        os.kill(next(iter(workers)), signal.SIGKILL)
        time.sleep(0.5)  # the pool notices the death and marks itself broken
        if call == "map":
            assert run.map(_square_mod, ITEMS) == EXPECTED
        else:
            assert sorted(run.stream(_square_mod, ITEMS)) == list(enumerate(EXPECTED))
        assert not workers & set(run.map(_pid, range(8)))  # new processes


def _block_all_but_the_first_worker(claim: str) -> None:
    """A pool initializer: the first worker to claim ``claim`` goes on, every other one never starts (as a worker
    forked while another thread of its coordinator held a lock can hang at its start)."""
    import os
    import time

    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        while True:
            time.sleep(60)


def _square(x: int) -> int:
    return x * x


def test_closing_the_pool_never_waits_for_ever_on_a_worker_that_cannot_end(tmp_path, monkeypatch):
    """Red team session 14: after a double Ctrl-C a coordinator waited, for ever, on a worker stuck at its start;
    closing the pool now kills a worker that has not ended within ``WORKER_EXIT_SECONDS``."""
    import functools
    import time

    import zkclear.executor as executor_module

    monkeypatch.setattr(executor_module, "WORKER_EXIT_SECONDS", 0.5)
    monkeypatch.setattr(executor_module, "_start_worker",
                        functools.partial(lambda claim, _parent: _block_all_but_the_first_worker(claim),
                                          str(tmp_path / "claimed")))
    executor = ProcessExecutor(workers=2)
    assert executor.map(_square, range(6)) == [x * x for x in range(6)]
    workers = list(executor._pool._processes.values())
    assert len(workers) == 2
    started = time.monotonic()
    executor.close()
    assert time.monotonic() - started < 10
    # gone from the system (``Process.is_alive`` can still say True of a worker the pool's own thread reaped)
    assert not [worker.pid for worker in workers if _exists(worker.pid)]


def _exists(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_local_dask_cluster_refuses_a_client_without_its_credentials():
    """Red team session 14 (privacy): a local Dask cluster listened on a plain loopback port, and every task carries
    the operator secret; any user of the machine could connect as a client and run code in its workers. It now
    speaks TLS with credentials of its own: another client, even one with TLS credentials of its own, is refused."""
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client
    from distributed.security import Security

    executor = DaskExecutor(workers=1)
    try:
        address = executor._client.scheduler.address
        assert address.startswith("tls://")
        for target, security in ((address, Security.temporary()), (address.replace("tls://", "tcp://"), None)):
            with pytest.raises(OSError):  # distributed's CommClosedError family
                Client(target, timeout="5s", security=security)
        assert executor.map(_square_mod, ITEMS) == EXPECTED  # its own client still works
    finally:
        executor.close()
