"""Red team, session 14: faults of the operator's commands — a disk that fills up while ``epoch prove`` writes, and
a log reader that goes away while it proves, Ctrl-C pressed twice while it proves on worker processes.

Each file ``epoch prove`` writes (a finished proof in ``private/N/work/``, a receipt, ``receipts.index``, a participant
file, the audit data and the bundle in ``epochs/N/``) is written through a temporary file whose descriptor reports
"No space left on device" here, as a full disk does: such an error names no file (a ``write`` or an ``fsync``, not an
``open``), and the command said only ``error: No space left on device``. It must name the file it could not write, exit
1 and leave no half-written temporary file among the receipts or the published files (a run again once there is room
resumes as after a kill: tests/scale/test_resume.py; checked by hand here with a tmpfs that fills up — the same files
as a run that never failed)."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import time

import pytest

from tests.cli.cli_helpers import zkclear_status
from tests.scale.venue import make_venue
from zkclear.executor import DaskExecutor, ProcessExecutor
from zkclear.progress import ProgressLine

#: The modules whose atomic writes open their temporary file with ``new_file``: the work store (finished proofs),
#: the operator (receipts, receipts.index, participant files) and the bundle format (audit data, bundle, public files).
WRITERS = ("zkclear.proofs.work_store", "zkclear.operator", "zkclear.bundle.format")


@pytest.fixture(scope="module")
def venue(tmp_path_factory):
    return make_venue(tmp_path_factory.mktemp("faults-venue"))


def _prove(venue, deployment) -> tuple[int, str]:
    args = venue.prove_args(deployment, "--executor", "serial")
    return zkclear_status(*args[args.index("epoch"):])


def _full_disk(real_new_file, written: list[str]):
    """A ``new_file`` whose descriptor writes to ``/dev/full`` (every write fails with ENOSPC, naming no file): the
    temporary file is made, as on a real disk, and its name kept in ``written``."""
    def new_file(path, mode=0o666):
        os.close(real_new_file(path, mode))
        written.append(str(path))
        return os.open("/dev/full", os.O_WRONLY)
    return new_file


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to fail a write with ENOSPC")
@pytest.mark.parametrize("module_name", WRITERS)
def test_a_full_disk_during_prove_names_the_file_and_leaves_no_temporary_file(venue, tmp_path, monkeypatch,
                                                                              module_name):
    module = importlib.import_module(module_name)
    deployment = venue.copy(tmp_path / "venue")
    written: list[str] = []
    with monkeypatch.context() as patch:
        patch.setattr(module, "new_file", _full_disk(module.new_file, written))
        code, output = _prove(venue, deployment)
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 1, output
    assert len(lines) == 1, output
    assert written, "the patched writer was never reached"
    target = written[0].removesuffix(".tmp")
    # the file it could not write (for the audit data's per-level sections, their folder)
    assert lines[0].endswith(": No space left on device"), lines[0]
    named = lines[0].removeprefix("error: ").removesuffix(": No space left on device")
    assert named.startswith(str(deployment)) and (named == target or target.startswith(named + os.sep)), lines[0]
    leftovers = [path for path in deployment.rglob("*.tmp") if "/work/" not in str(path)]
    assert not leftovers, leftovers


def test_progress_lines_that_cannot_be_written_stop_and_the_work_goes_on():
    calls = []

    def gone(text: str) -> None:
        calls.append(text)
        raise BrokenPipeError(32, "Broken pipe")

    line = ProgressLine(gone, interactive=False, interval=0)
    for done in range(5):
        line.update("chunk proofs", done, 4)
    line.update("receipts", 1, 1)
    line.finish()
    assert len(calls) == 1  # the first line failed: no more tries, and no error for the caller


def test_a_prove_whose_log_reader_went_away_finishes(venue, tmp_path):
    """``zkclear epoch prove ... 2> >(a log reader)`` with the reader gone (its pipe closed): the first progress line
    raised BrokenPipeError and the prove ended at once, silently, with exit 1 and nothing proven."""
    deployment = venue.copy(tmp_path / "venue")
    process = subprocess.Popen(venue.prove_args(deployment, "--executor", "serial"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=dict(os.environ, ZKCLEAR_PROGRESS_SECONDS="0"))
    process.stderr.close()  # the log reader is gone before the first progress line
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert b"epoch 1 proven" in output
    assert (deployment / "epochs" / "1" / "epoch-1.bundle").is_file()


def _sigint_disposition(_item: int) -> bool:
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_local_workers_leave_ctrl_c_to_their_coordinator():
    with ProcessExecutor(workers=2) as executor:
        assert executor.map(_sigint_disposition, range(4)) == [True] * 4


def test_local_dask_workers_leave_ctrl_c_to_their_coordinator():
    """Each worker of a local Dask cluster printed "Process Dask Worker process (from Nanny):" and a traceback on
    Ctrl-C."""
    pytest.importorskip("dask.distributed")
    handler = signal.getsignal(signal.SIGINT)
    executor = DaskExecutor(workers=1)
    try:
        assert executor.map(_sigint_disposition, range(2)) == [True, True]
    finally:
        executor.close()
    assert signal.getsignal(signal.SIGINT) is handler  # the coordinator's own is back


@pytest.mark.parametrize("gap", [0.02, 0.2])
def test_ctrl_c_twice_during_a_prove_on_workers_prints_no_traceback(venue, tmp_path, gap):
    """The terminal sends Ctrl-C to the whole process group: a worker that the first one had interrupted in its task
    went back to wait for the next one, and the second printed "Process ForkProcess-N:" and a Python traceback; or
    the second came while the coordinator, having said "aborted", joined its pool's threads at exit ("Exception
    ignored in: <module 'threading'>" and a traceback)."""
    deployment = venue.copy(tmp_path / "venue")
    process = subprocess.Popen(venue.prove_args(deployment, "--executor", "process", "--workers", "2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env=dict(os.environ, ZKCLEAR_PROGRESS_SECONDS="0"))
    try:
        seen = ""
        while "proofs" not in seen:  # the workers are proving
            line = process.stderr.readline()
            assert line, seen
            seen += line
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(gap)
        os.killpg(process.pid, signal.SIGINT)
        rest = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in seen + rest and "Exception ignored" not in rest, rest
    assert "aborted" in rest
    assert process.returncode in (1, -signal.SIGINT)  # the second Ctrl-C may end the coordinator as it exits
