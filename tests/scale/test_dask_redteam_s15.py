"""Red team session 15: `epoch prove --scheduler` as an operator uses it, on real `dask scheduler` / `dask worker`
processes — a scheduler address in a wrong form, a cluster left without workers while tasks wait, a scheduler lost
mid-prove, a second prove started while one runs. Each ends in one line, exit 1, never a traceback or a hang."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.scale.venue import DASK, ZKCLEAR, dask_cluster, descendants, env, start
from zkclear.errors import ConfigurationError
from zkclear.executor import DaskExecutor, check_scheduler_address

pytest.importorskip("distributed")


@pytest.mark.parametrize(("address", "problem"), [
    ("", "is empty"),  # an unset shell variable: it ran the prove on local processes
    ("  ", "is empty"),
    ("tcp://127.0.0.1:99999", "port from 1 to 65535"),  # was tried for 30 s
    ("tcp://127.0.0.1:0", "port from 1 to 65535"),
    ("tcp://127.0.0.1", "port from 1 to 65535"),
    ("tcp://:8786", "port from 1 to 65535"),
    ("foo", "port from 1 to 65535"),
    ("http://127.0.0.1:8786", "scheme 'http'"),
    ("ucx://127.0.0.1:8786", "scheme 'ucx'"),  # an internal error
    ("inproc://x", "scheme 'inproc'"),
    ("tls://127.0.0.1:8786", "needs Dask's TLS settings"),  # without certificates: an internal error
])
def test_a_scheduler_address_in_a_wrong_form_is_named(address, problem):
    with pytest.raises(ConfigurationError, match=f"^--scheduler: the Dask scheduler address .*{problem}"):
        check_scheduler_address(address, "--scheduler")


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tcp://[::1]:8786",
                                     "tcp://scheduler.internal:8786"])
def test_a_scheduler_address_dask_accepts_is_kept(address):
    assert check_scheduler_address(address, "--scheduler") == address


@pytest.mark.parametrize("command", ["prove", "audit"])
def test_an_empty_scheduler_option_is_refused_before_anything_runs(tmp_path, command):
    args = (["epoch", "prove", "-d", str(tmp_path / "nowhere"), "--reserves", __file__] if command == "prove"
            else ["audit", str(tmp_path / "nowhere")])
    result = subprocess.run([*ZKCLEAR, *args, "--scheduler", ""], capture_output=True, text=True, env=env(),
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr == "error: --scheduler: the Dask scheduler address '' is empty\n"
    assert result.stdout == ""


def test_a_cluster_left_without_workers_ends_the_stream_in_one_line(tmp_path, monkeypatch):
    """Dask waits for ever for a worker to run a task on: every worker stopped mid-prove hung the coordinator."""
    monkeypatch.setattr("zkclear.executor.DASK_POLL_SECONDS", 0.5)
    with dask_cluster(tmp_path, 1) as (address, _, workers):
        run = DaskExecutor(scheduler=address, no_worker_seconds=1.0)
        try:
            stream = run.stream(time.sleep, [30.0, 30.0])
            os.kill(workers[0].pid, signal.SIGKILL)
            began = time.monotonic()
            with pytest.raises(ConfigurationError, match=r"has had no workers for 1 s with 2 tasks waiting"):
                next(stream)
            assert time.monotonic() - began < 15
        finally:
            run.close()


def test_a_frozen_scheduler_ends_the_stream_in_one_line(tmp_path, monkeypatch):
    """A scheduler that keeps its connections open but never answers (stopped, its machine cut off without a reset)
    hung the prove: Dask asks it without a time limit."""
    monkeypatch.setattr("zkclear.executor.DASK_POLL_SECONDS", 0.5)
    with dask_cluster(tmp_path, 1) as (address, scheduler, _):
        run = DaskExecutor(scheduler=address, no_worker_seconds=1.0)
        try:
            stream = run.stream(time.sleep, [30.0])
            os.kill(scheduler.pid, signal.SIGSTOP)
            began = time.monotonic()
            try:
                with pytest.raises(ConfigurationError, match=r"has not answered for 1 s with 1 task waiting"):
                    next(stream)
            finally:
                os.kill(scheduler.pid, signal.SIGCONT)
            assert time.monotonic() - began < 15
        finally:
            run.close()


def test_a_lost_scheduler_ends_the_prove_in_one_line_exit_1(venue, tmp_path):
    """kill -9 of the scheduler mid-prove: Dask logged a traceback and the prove ended as an internal error (exit
    3); now one line, exit 1, saying a rerun resumes."""
    with dask_cluster(tmp_path, 1) as (address, scheduler, _):
        deployment = venue.copy(tmp_path / "venue")
        process = start(venue.prove_args(deployment, "--scheduler", address))
        while "collateral proofs" not in process.stdout.readline():  # the tasks are on their way to the cluster
            assert process.poll() is None
        time.sleep(0.5)
        scheduler.kill()
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 1, output
    assert "Traceback" not in output and "internal error" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.fullmatch(
        rf"error: lost the connection to the Dask scheduler at {re.escape(address)} with \d+ tasks? unfinished "
        r"\(run the same command again: what is finished is kept\)", errors[0]), output
    assert output.strip().endswith(errors[0])

def test_a_second_prove_is_refused_before_it_reaches_the_cluster(venue, tmp_path):
    """The second prove of a deployment reached (or waited a minute for) the Dask cluster and said "proving epoch
    1 ..." before it was refused."""
    from zkclear.locks import prove_lock

    deployment = venue.copy(tmp_path / "venue")
    with prove_lock(deployment / "ledger.sqlite"):  # as a running prove holds it
        result = subprocess.run(venue.prove_args(deployment, "--scheduler", "tcp://127.0.0.1:9"),
                                capture_output=True, text=True, env=env(), timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"error: {deployment}: another `epoch prove` is running on this deployment: wait for it "
                             "to end (a killed one releases its lock at once)\n")


def _readme_dask_commands() -> list[list[str]]:
    """The README's `dask scheduler` and `dask worker` commands (its section "Proving on a Dask cluster")."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Proving on a Dask cluster", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    joined = section.replace("\\\n", " ")
    return [shlex.split(line.split("#", 1)[0].rstrip().rstrip("&")) for line in joined.splitlines()
            if line.startswith(".venv/bin/dask ")]


def _listening_addresses(pids: list[int]) -> set[str]:
    """The local addresses (hex, as /proc/net lists them) of the TCP sockets ``pids`` listen on."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                found.add(fields[1].rsplit(":", 1)[0])
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the listening sockets from Linux /proc")
def test_the_readme_cluster_listens_on_the_loopback_interface_only(tmp_path):
    """Step 2 of the README had no --host: its workers listened on every interface of the machine, and anyone who
    reached a worker's port could run code in it (Dask's `run` handler) — code in a process that receives the
    operator secret with every task; the scheduler's status pages, with --no-dashboard, were on every interface too."""
    commands = _readme_dask_commands()
    assert [command[:2] for command in commands] == [[".venv/bin/dask", "scheduler"], [".venv/bin/dask", "worker"]]
    ports = {}
    for name in ("8786", "8787"):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports[name] = str(probe.getsockname()[1])
    processes = []
    try:
        for command in commands:
            argv = [DASK] + [re.sub(r"\b(8786|8787)\b", lambda m: ports[m.group(1)], arg) for arg in command[1:]]
            processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(),
                                              cwd=tmp_path, start_new_session=True))
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{ports['8786']}", timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        tree = [pid for process in processes for pid in (process.pid, *descendants(process.pid))]
        addresses = _listening_addresses(tree)
        assert len(addresses) >= 1
        assert addresses <= {"0100007F", "00000000000000000000000001000000"}, addresses  # 127.0.0.1 (and ::1) only
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()



@pytest.mark.parametrize("greeting", [None, b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"])
def test_a_port_that_is_not_a_dask_schedulers_is_named_not_waited_on(monkeypatch, greeting):
    """A peer that accepts and says nothing (an HTTP server: the scheduler's status port 8787) made Dask wait for
    ever; one that answers Dask's greeting with text (an HTTP proxy) was read as a length of exabytes ("input too
    large or too deeply nested (MemoryError)")."""
    monkeypatch.setattr("zkclear.executor.SCHEDULER_GREETING_SECONDS", 0.5)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"

        def answer() -> None:
            peer, _ = listener.accept()
            with peer:
                if greeting is not None:
                    peer.sendall(greeting)
                time.sleep(1.5)

        server = threading.Thread(target=answer, daemon=True)
        server.start()
        began = time.monotonic()
        with pytest.raises(ConfigurationError, match=rf"^{re.escape(address)} does not answer as a Dask scheduler"):
            DaskExecutor(scheduler=address)
        assert time.monotonic() - began < 5
        server.join()


def test_a_refused_connection_is_named_at_once():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    began = time.monotonic()
    with pytest.raises(ConfigurationError, match=rf"^cannot reach the Dask scheduler at {re.escape(address)}: "
                                                 "Connection refused$"):
        DaskExecutor(scheduler=address)
    assert time.monotonic() - began < 5  # Dask retried for 30 s


@pytest.mark.parametrize(("command", "extra_env", "source"), [
    ("prove", {"ZKCLEAR_DASK_SCHEDULER": "tcp://127.0.0.1:8786"}, "with ZKCLEAR_DASK_SCHEDULER the cluster's"),
    ("audit", {"ZKCLEAR_DASK_SCHEDULER": "tcp://127.0.0.1:8786", "ZKCLEAR_EXECUTOR": "dask"},
     "with ZKCLEAR_DASK_SCHEDULER the cluster's"),
    ("audit", {"ZKCLEAR_EXECUTOR": "serial"}, "the serial executor runs everything"),
])
def test_workers_the_executor_would_ignore_are_refused(venue, tmp_path, command, extra_env, source):
    """--workers with the cluster of ZKCLEAR_DASK_SCHEDULER (proving.toml's executor dask), or with the executor
    ZKCLEAR_EXECUTOR names for an audit, was silently ignored ("on 2 dask workers")."""
    deployment = venue.copy(tmp_path / "venue")
    settings = deployment / "proving.toml"
    settings.write_text(re.sub(r'(?m)^executor = "\w+"', 'executor = "dask"', settings.read_text()))
    args = (venue.prove_args(deployment, "--workers", "1") if command == "prove"
            else [*ZKCLEAR, "audit", str(deployment / "epochs" / "1"), "--workers", "1"])
    result = subprocess.run(args, capture_output=True, text=True, env=env(**extra_env), timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: field '--workers': --workers sets local processes; {source}")
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1


def test_a_tls_address_is_kept_with_dasks_tls_settings():
    """The check of tls:// reads Dask's own settings: with certificates configured the address is Dask's to use."""
    import dask
    from distributed.security import Security

    credentials = Security.temporary()
    settings = {"distributed.comm.tls.ca-file": credentials.tls_ca_file,
                "distributed.comm.tls.client.cert": credentials.tls_client_cert,
                "distributed.comm.tls.client.key": credentials.tls_client_key}
    with dask.config.set(settings):
        assert check_scheduler_address("tls://127.0.0.1:8786", "--scheduler") == "tls://127.0.0.1:8786"


def test_a_task_whose_workers_all_die_is_one_line_not_an_internal_error(tmp_path, monkeypatch):
    """Dask gives up on a task after its workers die (distributed.scheduler.allowed-failures; out of memory, an
    operator's kill): KilledWorker was an internal error (exit 3, "please report it"), as the process executor's
    analogue is not."""
    monkeypatch.setenv("DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES", "0")  # the first death gives up
    with dask_cluster(tmp_path, 1) as (address, _, _):
        run = DaskExecutor(scheduler=address, no_worker_seconds=30.0)
        try:
            with pytest.raises(ConfigurationError, match=r"^every Dask worker that ran one task died .*out of memory"):
                list(run.stream(os._exit, [1]))
        finally:
            run.close()
