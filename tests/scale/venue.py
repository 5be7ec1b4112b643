"""A small, cheap deployment for the scale-out tests (3 perpetuals, 16-bit positions, chunks of 4, height 8; with
``collateral``, USDC-settled with BTC and ETH collateral and the demo's custodians on Bitcoin, Ethereum and
Solana) and the helpers they share: running ``zkclear`` as a subprocess, snapshotting every file an epoch close
writes, finding a process's children."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zkclear.chains import DemoKey, ReserveEntry, key_from_secret, load_key, load_reserves, write_key
from zkclear.demo import custodians, demo_reserves_csv
from zkclear.operator import Deployment
from zkclear.proving_settings import ProvingSettings
from zkclear.synthetic import MarketSpec, generate_market, reserves_csv
from zkclear.tree.placement import TreeConfig

#: The single-asset venue's custodian (a deterministic test key): USDC on Ethereum.
KEY = key_from_secret("ethereum", bytes.fromhex("c3" * 32))
VENUE = "Scale Test Venue"
ZKCLEAR = [sys.executable, "-m", "zkclear.cli"]


@dataclass(frozen=True)
class Venue:
    """A committed, unproven epoch 1 in ``template`` (copy it before proving), its reserves and key files."""

    template: Path
    reserves: Path
    keys: tuple[Path, ...]

    def copy(self, where: Path) -> Path:
        shutil.copytree(self.template, where)
        return where

    def prove_args(self, deployment: Path, *extra: str) -> list[str]:
        signers = [arg for key in self.keys for arg in ("--sign-with", str(key))]
        return [*ZKCLEAR, "epoch", "prove", "-d", str(deployment), "--reserves", str(self.reserves), *signers,
                *extra]

    def reserve_entries(self) -> tuple[ReserveEntry, ...]:
        return load_reserves(self.reserves)

    def reserve_keys(self) -> list[DemoKey]:
        return [load_key(path) for path in self.keys]


def make_venue(root: Path, traders: int = 8, tree: TreeConfig | None = None, *, collateral: bool = False) -> Venue:
    """Epoch 1 of a synthetic market committed in ``root/template`` and its reserves: 10^16 USDC units; with
    ``collateral``, the demo's four custodians (BTC on Bitcoin, ETH and USDC on Ethereum, USDC on Solana) holding 5 %
    more than each asset's liabilities (``zkclear.demo``), and the auditor's total file (one opening per asset)."""
    spec = MarketSpec(accounts=traders, epochs=1, fills_per_epoch=30, seed=15, options=False, collateral=collateral)
    config, epoch_dirs = generate_market(root / "market", spec)
    settings = ProvingSettings(tree=tree or TreeConfig(height=8, chunk_bits=2), position_bits=16, node_group=8,
                               venue=VENUE, disclose_total=collateral)
    deployment = Deployment.init(root / "template", config.read_text(), settings)
    deployment.run_epoch(epoch_dirs[0])
    reserves = root / "reserves.csv"
    if collateral:
        custodian_keys, holders = custodians()
        reserves.write_text(demo_reserves_csv(deployment, 1, holders))
    else:
        custodian_keys = [KEY]
        reserves.write_text(reserves_csv([("ethereum", "USDC", KEY.address.text)], {"USDC": 10**16}))
    keys = []
    for number, key in enumerate(custodian_keys):
        path = root / f"custody-{number}-{key.chain}.key"
        write_key(path, key)
        keys.append(path)
    return Venue(root / "template", reserves, tuple(keys))


def snapshot(deployment: Path) -> dict[str, bytes]:
    """Every file an epoch close writes (publication folder, receipts, index, participant files, work left)."""
    return {str(path.relative_to(deployment)): path.read_bytes()
            for folder in ("epochs", "private") for path in sorted((deployment / folder).rglob("*"))
            if path.is_file()}


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Live children, grandchildren, ... of ``pid``."""
    found, frontier = [], [pid]
    while frontier:
        kids = [child for parent in frontier for child in children(parent)]
        found += kids
        frontier = kids
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + out.get("PYTHONPATH", "")
    out["ZKCLEAR_PROGRESS_SECONDS"] = "0"
    out.update(extra)
    return out


def start(args: list[str], **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(**extra_env))


DASK = str(Path(sys.executable).with_name("dask"))


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen, list[subprocess.Popen]]]:
    """`dask scheduler` and ``workers`` `dask worker` processes (one thread each, no nanny: killing one is losing
    it), started with Dask's own commands in ``folder``, every port on the loopback interface (a worker binds every
    interface unless told, and anyone who reaches its port runs code in it); yields the scheduler's address, its
    process and the workers'. Every process is ended afterwards."""
    scheduler_file = folder / "scheduler.json"
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(scheduler_file)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(), cwd=folder)
    processes = [scheduler]
    try:
        wait_until(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, 60, "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        for number in range(workers):
            processes.append(subprocess.Popen(
                [DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--dashboard-address", "127.0.0.1:0", "--name", f"w{number + 1}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(), cwd=folder))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, scheduler, processes[1:]
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
