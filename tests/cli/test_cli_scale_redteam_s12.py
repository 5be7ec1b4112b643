"""Red team session 12 through the real ``zkclear`` entry point: `epoch prove` in a hostile or unlucky environment
(damaged private files it reads back, a worker task that fails, kills at points of the publication step). Defects
found have their tests here; attacks that were already refused are the ``test_held_...`` ones."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear_status
from tests.scale.venue import Venue, alive, children, env, make_venue, snapshot, wait_until


@pytest.fixture(scope="module")
def proven(tmp_path_factory) -> tuple[Venue, Path, dict[str, bytes]]:
    """The scale tests' small venue with epoch 1 proven through the CLI (serially), and its files."""
    venue = make_venue(tmp_path_factory.mktemp("s12-venue"))
    root = venue.copy(tmp_path_factory.mktemp("s12-proven") / "venue")
    code, output = zkclear_status(*venue.prove_args(root, "--executor", "serial")[3:])
    assert code == 0, output
    return venue, root, snapshot(root)


def _prove_again(venue: Venue, root: Path) -> tuple[int, str]:
    return zkclear_status(*venue.prove_args(root, "--executor", "serial")[3:])


def test_a_participant_file_that_is_not_utf8_is_written_anew(proven, tmp_path):
    """Damaged disk: a participant file whose bytes are not UTF-8 ended every later `epoch prove` (this epoch's
    re-run and every next epoch's, which writes the file of every account) in an internal error (exit 3,
    UnicodeDecodeError) until removed by hand; it is now written anew and the files are the first run's."""
    venue, proven_root, files = proven
    root = shutil.copytree(proven_root, tmp_path / "venue")
    damaged = sorted((root / "private" / "participants").glob("*.toml"))[0]
    damaged.write_bytes(b"\xff\xfe" + damaged.read_bytes()[2:])
    code, output = _prove_again(venue, root)
    assert code == 0, output
    assert "internal error" not in output
    assert snapshot(root) == files


def test_a_participant_file_that_is_a_named_pipe_is_replaced_not_waited_on(proven, tmp_path):
    """Hostile folder: a named pipe under a participant file's name blocked the prove forever (it read the file to
    compare it); it is now replaced unread."""
    venue, proven_root, files = proven
    root = shutil.copytree(proven_root, tmp_path / "venue")
    pipe = sorted((root / "private" / "participants").glob("*.toml"))[0]
    pipe.unlink()
    os.mkfifo(pipe)

    def hung(*_):
        # a writer's end opened and closed: the blocked reader sees an end of file (the test fails, never hangs)
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError("the prove waited on a named pipe in private/participants")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        code, output = _prove_again(venue, root)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert code == 0, output
    assert pipe.is_file() and snapshot(root) == files


_FAILING_WORKER = """\
import os, sys, time
import zkclear.proofs.streaming as streaming
from zkclear.proofs.units import run_chunk_batch

MARKER = sys.argv[1]  # read before the arguments are rewritten for the CLI (the forked workers see the rewrite)

def failing(batch):
    # the first batch a worker starts fails at once (a bug in a task); the others run long
    try:
        os.close(os.open(MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        time.sleep(120)
        return run_chunk_batch(batch)
    raise RuntimeError("injected failure in a worker task")

if __name__ == "__main__":
    streaming.run_chunk_batch = failing
    from zkclear.cli import main
    sys.argv = ["zkclear", *sys.argv[2:]]
    main()
"""


def test_a_failing_worker_task_ends_the_prove_at_once_in_one_line(proven, tmp_path):
    """A worker task that raised: the error was reported only after every other task in flight had finished (here
    two minutes; at scale a window of proving tasks), its workers proving on for nothing. Now: one line, exit 3 (an
    internal error, as the docs say), at once, and the workers are gone."""
    venue = proven[0]
    root = venue.copy(tmp_path / "venue")
    script = tmp_path / "failing_worker.py"
    script.write_text(_FAILING_WORKER)
    marker = tmp_path / "failed-once"
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(script), str(marker),
                                *venue.prove_args(root, "--executor", "process", "--workers", "2")[3:]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    wait_until(lambda: marker.exists() or process.poll() is not None, 120, "a worker task to fail")
    assert marker.exists()
    workers = children(process.pid)
    out, err = process.communicate(timeout=100)
    assert time.monotonic() - started < 90
    assert process.returncode == 3, out + err
    # stderr: the progress lines, then the one line of the error
    assert err.splitlines()[-1] == "internal error (please report it): RuntimeError: injected failure in a worker task"
    assert err.count("error") == 1
    assert "Traceback" not in out + err
    wait_until(lambda: not any(alive(pid) for pid in workers), 10, f"workers {workers} to end")
    assert not (root / "epochs" / "1" / "epoch-1.bundle").exists()


_DYING_WORKER = """\
import os, signal, sys
import zkclear.proofs.streaming as streaming

def dying(batch):
    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer does, every time

if __name__ == "__main__":
    streaming.run_chunk_batch = dying
    from zkclear.cli import main
    sys.argv = ["zkclear", *sys.argv[1:]]
    main()
"""


def test_workers_killed_again_and_again_end_the_prove_in_one_line_exit_1(proven, tmp_path):
    """Workers killed by the out-of-memory killer at every try: `epoch prove` said "internal error (please report
    it): BrokenProcessPool: ..." (exit 3, a bug); it is the machine's doing, said in one line with the remedy (exit
    1), and the epoch is not proven."""
    venue = proven[0]
    root = venue.copy(tmp_path / "venue")
    script = tmp_path / "dying_worker.py"
    script.write_text(_DYING_WORKER)
    process = subprocess.run([sys.executable, str(script),
                              *venue.prove_args(root, "--executor", "process", "--workers", "2")[3:]],
                             capture_output=True, text=True, env=env(), timeout=300)
    assert process.returncode == 1, process.stdout + process.stderr
    assert process.stderr.splitlines()[-1] == ("error: worker processes died 4 times in a row with no item finishing "
                                               "(out of memory? 2 workers: try fewer)")
    assert "internal error" not in process.stderr and "Traceback" not in process.stderr
    assert not (root / "epochs" / "1" / "epoch-1.bundle").exists()


@pytest.mark.parametrize("value", ["abc", "nan", "-5"])
def test_a_progress_interval_that_is_not_seconds_is_refused_in_one_line(proven, tmp_path, monkeypatch, value):
    """Unlucky environment: ``ZKCLEAR_PROGRESS_SECONDS=abc`` (a typo) ended `epoch prove` in "internal error (please
    report it): ValueError: could not convert string to float" (exit 3); "nan" and "-5" were taken. Each is now
    refused in one line naming the variable (exit 1), before anything is proven or written."""
    venue = proven[0]
    root = venue.copy(tmp_path / "venue")
    monkeypatch.setenv("ZKCLEAR_PROGRESS_SECONDS", value)
    code, output = _prove_again(venue, root)
    assert code == 1, output
    assert output.splitlines()[-1] == (f"error: ZKCLEAR_PROGRESS_SECONDS={value!r}: expected a number of seconds, 0 "
                                       "or more (between two progress lines in a log)")
    assert "proving epoch" not in output  # refused before anything is read or printed (session 14: it came after)
    assert not (root / "epochs").exists() and not (root / "private" / "1").exists()


def test_audit_refuses_a_progress_interval_that_is_not_seconds_before_auditing(proven, monkeypatch):
    """Session 14: `audit` read ``ZKCLEAR_PROGRESS_SECONDS`` only when it drew its progress line, after the epoch's
    public data was read and checked; it is now refused first, in one line naming the variable (exit 1)."""
    monkeypatch.setenv("ZKCLEAR_PROGRESS_SECONDS", "nan")
    code, output = zkclear_status("audit", str(proven[1] / "epochs" / "1"), "--progress")
    assert code == 1, output
    assert output.strip().splitlines() == ["error: ZKCLEAR_PROGRESS_SECONDS='nan': expected a number of seconds, 0 "
                                           "or more (between two progress lines in a log)"]


@pytest.mark.parametrize("hook", ["receipts:1", "bundle"])
def test_held_a_prove_killed_in_its_publication_step_is_redone_to_the_same_files(proven, tmp_path, hook):
    """Held: kill -9 after the first receipt, or with every file but the bundle written: no bundle (the epoch is not
    proven), and the re-run writes exactly the uninterrupted run's files and removes the work folder."""
    venue, _, files = proven
    root = venue.copy(tmp_path / "venue")
    process = subprocess.run(venue.prove_args(root, "--executor", "serial"), capture_output=True, text=True,
                             env=env(ZKCLEAR_TEST_PROVE_CRASH=hook), timeout=300)
    assert process.returncode == -signal.SIGKILL, process.stdout + process.stderr
    assert not (root / "epochs" / "1" / "epoch-1.bundle").exists()
    assert (root / "private" / "1" / "work").is_dir()
    code, output = _prove_again(venue, root)
    assert code == 0, output
    assert snapshot(root) == files


def test_held_proving_a_proven_epoch_again_rewrites_the_same_bytes(proven, tmp_path):
    """Held: run again on a published epoch (nothing changed), `epoch prove` writes the same bytes everywhere."""
    venue, proven_root, files = proven
    root = shutil.copytree(proven_root, tmp_path / "venue")
    code, output = _prove_again(venue, root)
    assert code == 0, output
    assert snapshot(root) == files and not (root / "private" / "1" / "work").exists()
