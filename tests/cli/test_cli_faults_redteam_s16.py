"""Red team, session 16: the operator's commands against a full disk and a planted scratch folder.

A full disk is SQLite's own ``database or disk is full`` here (``PRAGMA max_page_count`` on the connection: SQLite
refuses to grow the file exactly as when the disk has no room, and rolls the transaction back itself); checked by
hand on a small tmpfs too (``mount -t tmpfs -o size=20m``). Each test pinned a defect before its fix (named in its
docstring)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear, zkclear_status
from tests.spill_watch import opened_paths
from zkclear.synthetic import MarketSpec, generate_market

SPEC = MarketSpec(accounts=6, epochs=2, fills_per_epoch=20, seed=3, options=False)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> dict:
    config, epochs = generate_market(tmp_path_factory.mktemp("market") / "market", SPEC)
    return {"config": config, "epochs": epochs}


@pytest.fixture
def deployment(market, tmp_path) -> Path:
    """A deployment with epoch 1 committed."""
    directory = tmp_path / "venue"
    zkclear("init", directory, "--config", market["config"], "--height", 8, "--executor", "serial")
    zkclear("epoch", "run", market["epochs"][0], "-d", directory)
    return directory


def _many_fills(market, where: Path, count: int = 1000) -> Path:
    """Epoch 2 with ``count`` fills (each pair trades a lot back): enough to grow the ledger by many pages."""
    inputs = where / "epoch-2"
    shutil.copytree(market["epochs"][1], inputs)
    header, first = (inputs / "fills.csv").read_text().splitlines()[:2]
    _, buyer, seller, instrument, size, price, _, _ = first.split(",")
    rows = [header] + [f"f-{k:062d},{buyer if k % 2 == 0 else seller},{seller if k % 2 == 0 else buyer},"
                       f"{instrument},{size},{price},0,0" for k in range(count)]
    (inputs / "fills.csv").write_text("\n".join(rows) + "\n")
    return inputs


def _fingerprint(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _full(monkeypatch, name: str) -> None:
    """Every SQLite database opened at a path ending in ``name`` may not grow by more than one page: SQLite's
    ``database or disk is full`` (SQLITE_FULL), with the transaction rolled back by SQLite itself."""
    connect = sqlite3.connect

    def connect_to_a_full_disk(database, *args, **kwargs):
        db = connect(database, *args, **kwargs)
        if str(database).endswith(name):
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages + 1}")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect_to_a_full_disk)


def test_a_full_disk_during_the_commit_is_named_not_hidden_by_the_rollback(deployment, market, monkeypatch):
    """SQLite rolls a transaction back itself when the disk is full; the ledger's transaction then ran ROLLBACK
    again, and its error ("cannot rollback - no transaction is active") replaced the disk's: `epoch run` said
    "commit of epoch 2 failed: cannot rollback - no transaction is active" (also on a real 20 MB tmpfs)."""
    inputs = _many_fills(market, deployment.parent)
    before = _fingerprint(deployment)
    _full(monkeypatch, "ledger.sqlite")
    code, output = zkclear_status("epoch", "run", inputs, "-d", deployment)
    assert code == 1, output
    assert output == f"error: {deployment / 'ledger.sqlite'}: commit of epoch 2 failed: database or disk is full\n"
    assert _fingerprint(deployment) == before
    assert not (deployment / "private" / "scratch").exists()


@pytest.fixture(scope="module")
def unproven(tmp_path_factory):
    """A small venue with epoch 1 committed, not proven (tests.scale.venue)."""
    from tests.scale.venue import make_venue

    return make_venue(tmp_path_factory.mktemp("faults-venue"))


@pytest.mark.parametrize("name", ["accounts.sqlite", "placement.sqlite"])
def test_a_full_disk_under_the_scratch_copies_of_a_prove_names_the_file(unproven, tmp_path, monkeypatch, name):
    """`epoch prove` copies the accounts and their placement into scratch databases: a full disk there ended in
    "error: a database could not be read or written: database or disk is full", naming no file (on a real tmpfs
    of 80 KB too)."""
    deployment = unproven.copy(tmp_path / "venue")
    before = _fingerprint(deployment)
    _full(monkeypatch, name)
    args = unproven.prove_args(deployment, "--executor", "serial")
    code, output = zkclear_status(*args[args.index("epoch"):])
    assert code == 1, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    scratch = deployment / "private" / "scratch"
    assert re.fullmatch(rf"error: {re.escape(str(scratch))}/run-\d+/[^/]+/{name}: .*database or disk is full",
                        errors[0]), errors[0]
    assert _fingerprint(deployment) == before
    assert not (deployment / "private").exists()


def test_a_link_planted_as_this_runs_scratch_folder_is_not_followed(deployment, market, tmp_path):
    """``private/scratch/run-PID`` named by the PID of the next run, planted as a symbolic link (by anyone who could
    write in ``private/`` before it was closed to others, session 14): the run removed "a dead process's folder"
    with ``shutil.rmtree``, which refuses a link silently, then wrote its private copy of the fills and transfers
    through the link, into the folder it points at."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scratch = deployment / "private" / "scratch"
    scratch.mkdir(parents=True)
    planted = scratch / f"run-{os.getpid()}"  # this process's: the runs below are in-process
    planted.symlink_to(elsewhere)
    out, opened = opened_paths(lambda: zkclear("epoch", "run", market["epochs"][1], "-d", deployment))
    assert "epoch 2 committed" in out
    assert not [path for path in opened if path.startswith(str(elsewhere))]
    assert list(elsewhere.iterdir()) == []
    assert not scratch.exists() and not planted.is_symlink()


def test_a_dead_runs_leftover_that_is_a_link_or_a_file_is_removed_not_followed(deployment, market, tmp_path):
    """A dead process's ``run-PID`` that is a link or a file stayed for ever (``shutil.rmtree`` refuses both
    silently), and with it ``private/scratch``."""
    import subprocess

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "kept").mkdir(parents=True)
    ended = [subprocess.Popen(["true"]) for _ in range(2)]
    for process in ended:
        process.wait()  # reaped: their pids name no live process
    scratch = deployment / "private" / "scratch"
    scratch.mkdir(parents=True)
    (scratch / f"run-{ended[0].pid}").symlink_to(elsewhere)
    (scratch / f"run-{ended[1].pid}").write_text("a file")
    zkclear("epoch", "run", market["epochs"][1], "-d", deployment)
    assert not scratch.exists()
    assert (elsewhere / "kept").is_dir()


@pytest.mark.parametrize("planted", ["link", "file"])
def test_a_scratch_folder_that_is_a_link_or_a_file_is_refused_in_one_line(deployment, market, tmp_path, planted):
    """``private/scratch`` as a link to a folder outside the private one: the run's copies of the fills and
    transfers (balances, in `epoch prove`'s case) went there; as a file, the refusal named
    ``private/scratch/run-PID: Not a directory``, a folder the operator never made."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scratch = deployment / "private" / "scratch"
    scratch.parent.mkdir()
    if planted == "link":
        scratch.symlink_to(elsewhere)
    else:
        scratch.write_text("not a folder")
    before = _fingerprint(deployment)
    code, output = zkclear_status("epoch", "run", market["epochs"][1], "-d", deployment)
    assert code == 1, output
    assert output.startswith(f"error: {scratch}: ") and output.count("\n") == 1, output
    assert _fingerprint(deployment) == before
    assert list(elsewhere.iterdir()) == []


def _with_stdout_unread(args: list[str]) -> subprocess.CompletedProcess:
    """``args`` run with a stdout whose reader has gone before the first line (``| head -0``, a log reader that
    died): each write to it fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(args, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300, check=False)
    finally:
        os.close(write_end)


def test_a_prove_and_a_run_whose_output_reader_went_away_finish(unproven, market, deployment, tmp_path):
    """click ends a command at the first line it cannot write to a closed stdout, with exit 1 and not a word: an
    `epoch prove` piped to a log reader that had died proved nothing and said nothing; an `epoch run` committed,
    then exited 1. The lines are dropped now, and the command goes on to its end and its exit status."""
    proven = unproven.copy(tmp_path / "proven")
    result = _with_stdout_unread(unproven.prove_args(proven, "--executor", "serial"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    assert (proven / "epochs" / "1" / "epoch-1.bundle").is_file()
    result = _with_stdout_unread([sys.executable, "-m", "zkclear.cli", "epoch", "run", str(market["epochs"][1]),
                                  "-d", str(deployment)])
    assert (result.returncode, result.stderr) == (0, "")
    code, output = zkclear_status("epoch", "run", market["epochs"][1], "-d", deployment)
    assert code == 0 and "already committed as epoch 2" in output, output


def test_a_live_runs_scratch_folder_is_left_alone_when_its_pid_is_not_seen_here(deployment, market):
    """A run in another PID namespace (a container sharing the deployment's volume; checked by hand with `unshare
    --pid`) has a PID that names no process here: the next run took its live folder for a dead one's and removed
    it, and the live run ended in "error: …/run-PID/…/transfers/3.npz: No such file or directory". Each use of a
    folder now holds a lock on it, which the kernel releases when the process ends (also by kill -9)."""
    from zkclear.locks import shared_lock

    ended = subprocess.Popen(["true"])
    ended.wait()  # a PID that names no process here
    live = deployment / "private" / "scratch" / f"run-{ended.pid}"
    (live / "work").mkdir(parents=True)
    with shared_lock(live):  # what the other namespace's run holds while it works
        zkclear("epoch", "run", market["epochs"][1], "-d", deployment)
        assert (live / "work").is_dir()
    zkclear("epoch", "run", market["epochs"][1], "-d", deployment)  # its process gone: its folder goes
    assert not live.exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to fail a write with ENOSPC")
def test_output_to_a_full_disk_is_named_and_a_failed_check_still_exits_2(unproven, deployment, tmp_path):
    """Standard output on a full disk (a log file): the refusal said "error: No space left on device", naming no file;
    and `audit --json` whose check failed (exit 2) ended in exit 1 and a Python traceback, the JSON object and
    then the error's own JSON object failing to be written in turn."""
    def to_a_full_disk(*args: object) -> subprocess.CompletedProcess:
        with open("/dev/full", "w") as full:
            return subprocess.run([sys.executable, "-m", "zkclear.cli", *map(str, args)], stdout=full,
                                  stderr=subprocess.PIPE, text=True, timeout=300, check=False)

    result = to_a_full_disk("status", "-d", deployment)
    assert (result.returncode, result.stderr) == (1, "error: /dev/full: No space left on device\n")
    proven = unproven.copy(tmp_path / "proven")
    args = unproven.prove_args(proven, "--executor", "serial")
    zkclear(*args[args.index("epoch"):])
    result = to_a_full_disk("audit", proven / "epochs" / "1", "--expect-header", "00" * 32, "--json")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("FAILED [header-mismatch]: ") and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("column", ["account", "asset"])
def test_a_transfer_field_holding_a_line_break_is_refused_by_its_line(deployment, market, tmp_path, column):
    """`epoch run` keeps the parsed transfers in scratch blocks whose text columns are joined by line feeds, and
    only the transfer id was checked for one: a quoted account (or asset) holding a line break came back from the
    block as two, shifting the column, and the run ended in "internal error: ValueError: zip() argument 3 is
    longer than arguments 1-2" (exit 3)."""
    inputs = tmp_path / "epoch-2"
    shutil.copytree(market["epochs"][1], inputs)
    value = '"trader-0001\ntrader-0002"'
    (inputs / "transfers.csv").write_text(
        "transfer_id,kind,account,amount,asset\n"
        + ("t-a,deposit,trader-0003,5,\n" if column == "account" else "")
        + (f"t-b,deposit,{value},5,\n" if column == "account" else f"t-b,deposit,trader-0003,5,{value}\n")
        + "t-c,deposit,trader-0003,7,\n")
    before = _fingerprint(deployment)
    code, output = zkclear_status("epoch", "run", inputs, "-d", deployment)
    assert code == 1, output
    line = 4 if column == "account" else 3  # where the record ends (its quoted field spans two lines)
    assert output.startswith(f"error: {inputs / 'transfers.csv'}:{line}: field '{column}': ") and \
        output.count("\n") == 1, output
    assert _fingerprint(deployment) == before


@pytest.mark.parametrize("name", ["transfers.csv", "accounts.csv", "prices.json"])
def test_an_input_file_that_is_a_link_to_nothing_is_refused_not_taken_for_absent(deployment, market, tmp_path, name):
    """An optional input file that is a link to nothing (an export folder not mounted, a file moved away) was taken
    for an absent one: the epoch committed without its transfers, a withdrawal and all, with exit 0. (A required one
    was refused with a misleading reason: `exactly one of prices.csv and prices.json is required`.)"""
    inputs = tmp_path / "epoch-2"
    shutil.copytree(market["epochs"][1], inputs)
    (inputs / name).unlink(missing_ok=True)
    (inputs / name).symlink_to(tmp_path / "not-mounted" / name)
    before = _fingerprint(deployment)
    code, output = zkclear_status("epoch", "run", inputs, "-d", deployment)
    assert code == 1, output
    assert output.startswith(f"error: {inputs / name}: ") and output.count("\n") == 1, output
    assert _fingerprint(deployment) == before


@pytest.mark.parametrize("planted", ["1", "1/receipts", "participants"])
def test_a_link_planted_in_the_private_folder_is_refused_before_proving(unproven, tmp_path, planted):
    """`private/N/receipts/` and `private/participants/` were made with `mkdir(exist_ok=True)`, which follows a link:
    one planted there (by anyone who could write in `private/` before it was closed to others, session 14) received
    every account's receipt or account key, in a folder of the planter's choice."""
    deployment = unproven.copy(tmp_path / "venue")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = deployment / "private" / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    args = unproven.prove_args(deployment, "--executor", "serial")
    code, output = zkclear_status(*args[args.index("epoch"):])
    assert code == 1, output
    assert output.splitlines()[-1].startswith(f"error: {link}: "), output
    assert list(elsewhere.iterdir()) == []
    assert not (deployment / "epochs").exists()


def test_an_endless_line_in_fills_is_refused_before_its_copy_fills_the_disk(deployment, market, tmp_path):
    """`epoch run` copies fills.csv into its scratch folder before reading it: a sparse file of gigabytes (no disk)
    was copied whole, as that many bytes on the deployment's disk (2.1 GB for a 2 GB file, 21 s), before its first
    line was refused by its length; on a disk with less room, the refusal blamed the copy ("cannot write a private
    copy …: No space left on device"). The copy now stops at a line that cannot be one (here: files of 16 MB at
    most, a sparse fills.csv of 64 MB)."""
    import resource

    inputs = tmp_path / "epoch-2"
    shutil.copytree(market["epochs"][1], inputs)
    fills = inputs / "fills.csv"
    header = fills.read_text().splitlines()[0]
    with open(fills, "w") as handle:
        handle.write(header + "\n")
        handle.truncate(64 << 20)
    before = _fingerprint(deployment)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))

    result = subprocess.run([sys.executable, "-m", "zkclear.cli", "epoch", "run", str(inputs), "-d", str(deployment)],
                            capture_output=True, text=True, timeout=120, check=False, preexec_fn=small_files)
    assert (result.returncode, result.stderr) == (1, f"error: {fills}:2: a line longer than {1 << 20} characters\n")
    assert _fingerprint(deployment) == before
