"""``zkclear bench scale``: what an epoch close costs as the accounts and the workers grow.

Four measurements and the model (docs/performance.md, "Scale-out"):

1. **end to end**: a real deployment (3 perpetuals, default tree: height 32, chunks of 16, power-of-two padding,
   sparse) of ``ZKCLEAR_SCALE_ACCOUNTS`` traders (default 500; ``--quick`` 40) cleared and proven with 1 and then
   2 local worker processes: wall time, core-seconds (the coordinator's and its workers' CPU time) per account,
   the speed-up, and the per-unit costs of each phase (the model's inputs);
2. **memory**: peak RSS (``VmHWM``) of a streaming close, each run in a fresh process with the serial executor, at two
   sizes (``ZKCLEAR_SCALE_MEMORY``, default 10,000 and 100,000 accounts; ``--quick`` 2,000 and 10,000). The
   collateral and node provers are *stand-ins* (real commitments, tree, placement, work store, audit data and
   receipt assembly; proof bytes of the real sizes but not computed), because proving 10^5 accounts takes days
   on this box; what is measured is everything the close holds, which does not depend on how a proof's bytes
   are computed (a proof's own working memory is per task, bounded by the chunk size). The in-memory
   ``prove_epoch`` is measured the same way at the smaller size, and the clearing engine (``zkclear bench
   clearing``) as a child process; then ``epoch run`` as the operator runs it (two epochs of a synthetic market
   from CSV files, each in a fresh process, with the default batch of fills and with all fills in one batch)
   and a streaming close of the accounts read back from that deployment's ledger, at both sizes;
3. **receipts**: assembling and writing receipts of the real size (46 KB) without an fsync each, then one sync;
4. **Dask**: the per-task overhead of a local Dask cluster (2 worker processes) through ``Executor.stream``.

The model (``zkclear.bench.scale_model``) then gives the wall time of 10^6 and 10^7 accounts on 32, 256 and
1,024 cores from the measured costs. Benchmarks are scripts, never timed tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zkclear.bench.scale_model import RECORDED, Costs, table, tree_shape


def _peak_rss_bytes() -> int:
    """This process's peak resident set: ``VmHWM`` of its own address space on Linux (``ru_maxrss`` also counts
    the forking parent's pages mapped before ``exec``, so a child of a large parent reads large), else
    ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _own_cpu_seconds() -> float:
    """CPU seconds of this process alone (the coordinator), not its workers."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


# --------------------------------------------------------------------------------------------- end to end


def _venue(root: Path, traders: int) -> tuple[Path, Path, Any]:
    from zkclear.bench.common import BENCH_VENUE
    from zkclear.chains import key_from_secret
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import MarketSpec, generate_market, reserves_csv

    key = key_from_secret("ethereum", bytes.fromhex("5c" * 32))
    config, epochs = generate_market(root / "market", MarketSpec(accounts=traders, epochs=1,
                                                                 fills_per_epoch=3 * traders, seed=15, options=False))
    deployment = Deployment.init(root / "template", config.read_text(),
                                 ProvingSettings(executor="process", venue=BENCH_VENUE))
    deployment.run_epoch(epochs[0])
    reserves = root / "reserves.csv"
    reserves.write_text(reserves_csv([("ethereum", "USDC", key.address.text)], {"USDC": 10**17}))
    return root / "template", reserves, key


def _end_to_end(traders: int, echo: Callable[[str], None]) -> dict[str, float]:
    """One worker (in-process, so every phase's CPU time is measured: the model's unit costs), then two local
    worker processes (wall time, total core-seconds)."""
    from zkclear.chains import load_reserves
    from zkclear.executor import ProcessExecutor, SerialExecutor
    from zkclear.operator import Deployment

    metrics: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        template, reserves, key = _venue(root, traders)
        for workers in (1, 2):
            target = root / f"w{workers}"
            shutil.copytree(template, target)
            run = SerialExecutor() if workers == 1 else ProcessExecutor(workers)
            phase_cpu: dict[str, float] = {}
            coordinator_cpu: dict[str, float] = {}  # the coordinating process alone, per phase
            marks = {"step": None, "cpu": _cpu_seconds(), "own": _own_cpu_seconds()}

            def progress(step: str, done: int, total: int, marks=marks, phase_cpu=phase_cpu,
                         coordinator_cpu=coordinator_cpu) -> None:
                if step != marks["step"]:
                    now, own_now = _cpu_seconds(), _own_cpu_seconds()
                    if marks["step"] is not None:
                        phase_cpu[marks["step"]] = phase_cpu.get(marks["step"], 0.0) + now - marks["cpu"]
                        coordinator_cpu[marks["step"]] = (coordinator_cpu.get(marks["step"], 0.0) + own_now
                                                          - marks["own"])
                    marks["step"], marks["cpu"], marks["own"] = step, now, own_now

            cpu, own, started = _cpu_seconds(), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            try:
                _, closed = Deployment(target).prove(1, load_reserves(reserves), reserve_keys=[key], executor=run,
                                                     progress=progress)
            finally:
                run.close()
            progress("end", 0, 0)
            wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
            after = resource.getrusage(resource.RUSAGE_SELF)
            coordinator = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
            plan = closed._plan
            chunks, nodes = len(plan.chunk_keys), plan.proofs_total
            metrics |= {f"e2e_wall_seconds_w{workers}": wall, f"e2e_core_seconds_w{workers}": cpu,
                        f"e2e_core_seconds_per_account_w{workers}": cpu / closed.accounts,
                        f"e2e_cpu_share_w{workers}": cpu / wall}
            for name, seconds in closed.timings.items():
                metrics[f"e2e_{name}_seconds_w{workers}"] = seconds
            echo(f"  {closed.accounts} accounts, {chunks} chunks, {nodes} node-group proofs, {workers} worker(s): "
                 f"wall {wall:.1f} s, {cpu:.1f} core-s ({cpu / closed.accounts:.2f} per account; the box gave this "
                 f"run {cpu / wall:.2f} cores); " + ", ".join(f"{k} {v:.1f}s" for k, v in closed.timings.items()))
            if workers == 1:
                chunk_cpu = phase_cpu.get("collateral proofs (chunks)", 0.0)
                node_cpu = phase_cpu.get("node range proofs (groups)", 0.0)
                build_cpu = phase_cpu.get("upper tree (subtrees)", 0.0)
                metrics |= {"accounts": closed.accounts, "chunks": chunks, "node_proofs": nodes,
                            "chunk_core_seconds": chunk_cpu / chunks,
                            "node_core_seconds": node_cpu / max(1, plan.nodes_total),  # per node, in its group
                            "node_build_core_seconds": build_cpu / max(1, plan.nodes_total),
                            "receipt_core_seconds_small": phase_cpu.get("receipts", 0.0) / closed.accounts}
                echo(f"    CPU per unit: chunk of 16 accounts {chunk_cpu / chunks:.2f} core-s, node range-proven "
                     f"{node_cpu / max(1, plan.nodes_total) * 1e3:.1f} ms (in groups), upper node built "
                     f"{build_cpu / max(1, plan.nodes_total) * 1e3:.2f} ms")
            else:
                metrics["e2e_coordinator_core_seconds_w2"] = coordinator
                # the model's coordinator costs, measured: its own CPU while the workers prove the chunks (hand
                # out each task, receive, save its unit), per chunk
                chunk_own = coordinator_cpu.get("collateral proofs (chunks)", 0.0)
                metrics["coordinator_chunk_seconds"] = chunk_own / chunks
                echo(f"    coordinator CPU while the workers prove: {chunk_own / chunks * 1e3:.1f} ms per chunk")
    metrics["speedup_1_to_2_workers"] = metrics["e2e_wall_seconds_w1"] / metrics["e2e_wall_seconds_w2"]
    metrics["serial_fraction"] = metrics["e2e_coordinator_core_seconds_w2"] / metrics["e2e_core_seconds_w2"]
    f = metrics["serial_fraction"]
    metrics["speedup_1_to_2_idle_cores"] = 1 / (f + (1 - f) / 2)
    echo(f"  speed-up 1 -> 2 workers: {metrics['speedup_1_to_2_workers']:.2f} measured on this shared box; the "
         f"coordinator's own CPU is {f:.1%} of the total, so on two idle cores at most "
         f"{metrics['speedup_1_to_2_idle_cores']:.2f}")
    return metrics


# --------------------------------------------------------------------------------------------- memory

PROOF_BYTES = 1_506   # an aggregated range proof of 16 x 64 bits (docs/performance.md, "Range proofs")
NODE_PROOF_BYTES = 930


class _Ids(Sequence[str]):
    def __init__(self, count: int) -> None:
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not 0 <= index < self._count:
            raise IndexError(index)
        return f"acct{index:09d}"


class SyntheticSource:
    """``count`` accounts computed from their index (a matched book: account 2k holds +q, 2k+1 holds -q)."""

    def __init__(self, count: int) -> None:
        self._count = count - count % 2

    def __len__(self) -> int:
        return self._count

    def account_ids(self) -> Sequence[str]:
        return _Ids(self._count)

    def witness(self, index: int):
        from zkclear.proofs.chunks import PlainAccount

        q = (index // 2) % 97 + 1
        sign = 1 if index % 2 == 0 else -1
        return PlainAccount(10**9 + index, (sign * q, -sign * (q % 7), 0))

    def accounts_at(self, indices: Sequence[int]) -> list[tuple[str, Any]]:
        ids = _Ids(self._count)
        return [(ids[i], self.witness(i)) for i in indices]


def _stand_ins():
    """An equity-only chunk system whose proofs are bytes of the real size, and node proofs likewise."""
    import zkclear.proofs.epoch_prover as epoch_prover
    import zkclear.proofs.units as units
    from zkclear.proofs.chunks import EquityOnlyChunks

    class StandInChunks(EquityOnlyChunks):
        name = "stand-in"

        def prove(self, witnesses, public, context, blindings):
            commitments, openings = self.commit_accounts(witnesses, public, context, blindings)
            return (hashlib.sha256(context).digest() * (PROOF_BYTES // 32 + 1))[:PROOF_BYTES], commitments, openings

    units._prove_nodes = epoch_prover._prove_nodes = lambda job: [bytes(NODE_PROOF_BYTES)] * len(job[1])
    return StandInChunks()


def memory_child(accounts: int, mode: str) -> None:
    """Run one close of ``accounts`` stand-in accounts in this process and print its peak RSS (JSON)."""
    from zkclear.bench.common import bench_reserves
    from zkclear.proofs.chunks import PlainPublicData

    system = _stand_ins()
    public = PlainPublicData((3, 5, 7), equity_bits=64)
    _, reserves = bench_reserves()
    with contextlib.ExitStack() as scope:
        source: Any = SyntheticSource(accounts)
        if mode.startswith("ledger="):  # a cleared deployment's last epoch's accounts, as `epoch prove` reads them
            from zkclear.operator import Deployment

            deployment = Deployment(Path(mode.removeprefix("ledger=")))
            source = scope.enter_context(deployment.account_source(deployment.head()))
        _close_and_report(source, mode, public, reserves, system)


def _close_and_report(source: Any, mode: str, public: Any, reserves: Any, system: Any) -> None:
    from zkclear.bench.common import stand_in_public_inputs
    from zkclear.crypto.randomness import BlindingSource
    from zkclear.executor import SerialExecutor
    from zkclear.proofs.epoch_prover import AccountInput, prove_epoch
    from zkclear.proofs.streaming import close_epoch
    from zkclear.tree.placement import TreeConfig

    common = {"epoch_id": 1, "previous": None, "config": TreeConfig(), "chunk_system": system,
              "blindings": BlindingSource.deterministic(b"bench-scale" * 3), "executor": SerialExecutor(),
              "public_inputs_digest": stand_in_public_inputs(1).digest()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        if mode == "streaming" or mode.startswith("ledger="):
            closed = close_epoch(source, public, reserves, work_folder=Path(folder) / "work",
                                 scratch=getattr(source, "scratch", None) or Path(folder), **common)
            closed.write_audit(Path(folder) / "audit", Path(folder) / "scratch")
            receipt_bytes = sum(len(data) for _, _, data in closed.receipts())
            closed.close()
        else:
            accounts_list = [AccountInput(source.account_ids()[i], source.witness(i)) for i in range(len(source))]
            artifacts = prove_epoch(accounts_list, public, reserves, **common)
            receipt_bytes = len(artifacts.receipts)
    peak = _peak_rss_bytes()
    print(json.dumps({"accounts": len(source), "peak_rss_bytes": peak, "seconds": time.perf_counter() - started,
                      "receipt_bytes": receipt_bytes}))


def clearing_child(batch_fills: int, folder: str, epoch: int) -> None:
    """Clear epoch ``epoch`` of the market in ``folder/market`` as the operator does — ``epoch run`` from its CSV
    files, into the deployment ``folder/deployment-BATCH`` (created for epoch 1) — and print this process's peak
    RSS (JSON). The market is generated by the parent, so the peak is the clearing's."""
    from zkclear.bench.common import BENCH_VENUE
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings

    root = Path(folder)
    target = root / f"deployment-{batch_fills}"
    deployment = (Deployment.init(target, (root / "market" / "zkclear.toml").read_text(),
                                  ProvingSettings(venue=BENCH_VENUE)) if epoch == 1 else Deployment(target))
    started = time.perf_counter()
    result = deployment.run_epoch(root / "market" / f"epoch-{epoch}", batch_fills=batch_fills)
    peak = _peak_rss_bytes()
    print(json.dumps({"accounts": len(result.state.accounts), "fills": result.fills, "peak_rss_bytes": peak,
                      "seconds": time.perf_counter() - started}))


def _clearing_memory(sizes: tuple[int, ...], echo: Callable[[str], None]) -> dict[str, float]:
    """Peak RSS of ``epoch run`` at each size (traders x 3 perpetuals, 10 fills per trader and epoch), for the
    first epoch (every account opened and funded: its accounts.csv and transfers.csv are as long as the
    accounts) and the second (fills only), with the default batch of fills and with every fill in one batch
    (what the clearing held before fills were read in batches). Each epoch in a fresh process."""
    from zkclear.clearing.inputs import DEFAULT_BATCH_FILLS, MAX_BATCH_FILLS
    from zkclear.synthetic import MarketSpec, generate_market

    metrics: dict[str, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            generate_market(Path(folder) / "market", MarketSpec(accounts=size, epochs=2, fills_per_epoch=10 * size,
                                                                seed=15, options=False))
            for batch, label in ((DEFAULT_BATCH_FILLS, "batched"), (MAX_BATCH_FILLS, "one_batch")):
                for epoch in (1, 2):
                    result = _child_peak([sys.executable, "-m", "zkclear.bench.scale", "clear", str(batch), folder,
                                          str(epoch)])
                    key = f"clearing_{label}_epoch{epoch}"
                    metrics[f"{key}_peak_rss_mib_{size}"] = result["peak_rss_bytes"] / 2**20
                    metrics[f"{key}_seconds_{size}"] = result["seconds"]
                    echo(f"  epoch run {epoch}, {size:,} accounts, {result['fills']:,} fills, batches of {batch:,} "
                         f"fills: peak RSS {result['peak_rss_bytes'] / 2**20:.0f} MiB, {result['seconds']:.1f} s")
            result = _child_peak([sys.executable, "-m", "zkclear.bench.scale", "memory", "0",
                                  f"ledger={folder}/deployment-{DEFAULT_BATCH_FILLS}"])
            metrics[f"close_from_ledger_peak_rss_mib_{size}"] = result["peak_rss_bytes"] / 2**20
            echo(f"  streaming close of epoch 2's {result['accounts']:,} accounts read from the ledger (stand-in "
                 f"provers): peak RSS {result['peak_rss_bytes'] / 2**20:.0f} MiB, {result['seconds']:.0f} s")
    return metrics


def _child_peak(args: list[str]) -> dict:
    """Run a child process; its JSON line (if any) and its peak RSS from wait4 (an upper bound: on Linux a child's
    ``ru_maxrss`` also counts the pages of this process mapped before its ``exec``; the children of this module
    report their own ``VmHWM`` instead)."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {process.returncode}")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    result["wait4_peak_rss_bytes"] = usage.ru_maxrss * 1024
    return result


def _memory(sizes: tuple[int, int], quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    me = [sys.executable, "-m", "zkclear.bench.scale"]
    for size in sizes:
        result = _child_peak([*me, "memory", str(size), "streaming"])
        metrics[f"streaming_peak_rss_mib_{size}"] = result["peak_rss_bytes"] / 2**20
        echo(f"  streaming close, {size:,} accounts (stand-in provers): peak RSS "
             f"{result['peak_rss_bytes'] / 2**20:.0f} MiB, {result['seconds']:.0f} s, "
             f"{result['receipt_bytes'] / 2**20:.0f} MiB of receipts assembled")
    result = _child_peak([*me, "memory", str(sizes[0]), "in-memory"])
    metrics[f"in_memory_peak_rss_mib_{sizes[0]}"] = result["peak_rss_bytes"] / 2**20
    echo(f"  in-memory prove_epoch, {sizes[0]:,} accounts: peak RSS {result['peak_rss_bytes'] / 2**20:.0f} MiB")
    small, large = sizes
    slope = (metrics[f"streaming_peak_rss_mib_{large}"] - metrics[f"streaming_peak_rss_mib_{small}"]) / (large - small)
    metrics["streaming_rss_bytes_per_account"] = slope * 2**20
    echo(f"  streaming: {slope * 2**20:.0f} bytes of peak RSS per extra account")
    metrics |= _clearing_memory(sizes, echo)
    clearing = _child_peak([sys.executable, "-m", "zkclear.cli", "bench", "clearing", "--json",
                            *(["--quick"] if quick else [])])
    accounts = 10_000 if quick else 100_000
    metrics[f"clearing_peak_rss_mib_{accounts}"] = clearing["wait4_peak_rss_bytes"] / 2**20
    echo(f"  clearing (zkclear bench clearing{' --quick' if quick else ''}: {accounts:,} accounts x 8 instruments, "
         f"inputs built in memory): peak RSS at most {clearing['wait4_peak_rss_bytes'] / 2**20:.0f} MiB (wait4, which "
         "also counts this process's pages)")
    return metrics


# --------------------------------------------------------------------------------------------- receipts, Dask


def _receipts(count: int, echo: Callable[[str], None]) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    from zkclear.bundle.format import receipt_from_parts
    from zkclear.operator import RECEIPT_WRITERS, _write_unsynced

    chunk = os.urandom(18_000)
    path = [os.urandom(176) for _ in range(28)]  # a sibling node (one liability, digest, position sums)
    groups = [os.urandom(720) for _ in range(7)]  # one group proof per band of four levels
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(RECEIPT_WRITERS) as writers:
        out = Path(folder)
        started = time.perf_counter()
        size = 0
        pending = []
        for i in range(count):  # as Deployment._publish_closed: assemble here, write on a few threads
            data = receipt_from_parts(1, bytes(32), f"acct{i:09d}", bytes(32), i, os.urandom(600), chunk, path,
                                      groups)
            pending.append(writers.submit(_write_unsynced, out / f"{i:032x}.rcpt", data))
            if len(pending) >= 8 * RECEIPT_WRITERS:
                pending.pop(0).result()
            size += len(data)
        for future in pending:
            future.result()
        written = time.perf_counter() - started
        os.sync()
        synced = time.perf_counter() - started
    echo(f"  {count:,} receipts of {size / count / 1000:.0f} kB: {written / count * 1e6:.0f} µs each to assemble and "
         f"write, {synced / count * 1e6:.0f} µs with the final sync ({size / synced / 1e6:.0f} MB/s); "
         f"10^6 receipts: {synced / count * 1e6 / 60:.1f} min")
    return {"receipt_seconds": synced / count, "receipt_bytes": size / count, "receipts_written": count}


def _noop(x: int) -> int:
    return x


def _dask(tasks: int, echo: Callable[[str], None]) -> dict[str, float]:
    try:
        from zkclear.executor import DaskExecutor
    except ImportError:
        return {}
    run = DaskExecutor(workers=2)
    try:
        list(run.stream(_noop, range(50)))
        started = time.perf_counter()
        done = sum(1 for _ in run.stream(_noop, range(tasks), window=64))
        elapsed = time.perf_counter() - started
    finally:
        run.close()
    echo(f"  Dask, 2 local workers: {done} no-op tasks in {elapsed:.2f} s = {elapsed / done * 1e3:.2f} ms per task")
    return {"task_overhead_seconds": elapsed / done}


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    traders = int(os.environ.get("ZKCLEAR_SCALE_ACCOUNTS", "40" if quick else "500"))
    sizes = tuple(int(n) for n in os.environ.get("ZKCLEAR_SCALE_MEMORY",
                                                 "2000,10000" if quick else "10000,100000").split(","))
    metrics: dict[str, float] = {}
    echo("receipts:")
    metrics |= _receipts(2_000 if quick else 20_000, echo)
    echo("Dask per-task overhead:")
    metrics |= _dask(500 if quick else 2_000, echo)
    echo(f"end to end ({traders} traders, 1 then 2 local workers):")
    metrics |= _end_to_end(traders, echo)
    echo("memory:")
    metrics |= _memory((sizes[0], sizes[1]), quick, echo)
    costs = Costs.of({**RECORDED, **metrics})
    echo("model (docs/performance.md, 'Scale-out: the model'):")
    for line in table(costs):
        echo("  " + line)
    shape = tree_shape(metrics.get("accounts", traders))
    metrics["model_chunks_check"] = shape.chunks
    return metrics


def one_close(traders: int, workers: int, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """One end-to-end close of the bench's venue (``traders`` accounts) with ``workers`` local worker processes,
    progress once a minute: the long runs of docs/performance.md (``python -m zkclear.bench.scale close 10000 1``,
    ≈ 70 min here; ``... 10000 2``, ≈ 35 min), too long for ``zkclear bench scale``'s default sizes."""
    from zkclear.chains import load_reserves
    from zkclear.executor import ProcessExecutor
    from zkclear.operator import Deployment

    with tempfile.TemporaryDirectory(prefix="zkclear-close-") as folder:
        template, reserves, key = _venue(Path(folder), traders)
        last = [0.0]

        def progress(step: str, done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 60 or done == total:
                last[0] = now
                echo(f"  {step}: {done}/{total} ({now - started:.0f} s)")

        run = ProcessExecutor(workers)
        cpu, started = _cpu_seconds(), time.perf_counter()
        try:
            _, closed = Deployment(template).prove(1, load_reserves(reserves), reserve_keys=[key], executor=run,
                                                   progress=progress)
        finally:
            run.close()
        wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    plan = closed._plan
    return {"accounts": closed.accounts, "workers": workers, "chunks": len(plan.chunk_keys),
            "node_proofs": plan.proofs_total, "wall_seconds": wall, "core_seconds": cpu,
            "core_seconds_per_account": cpu / closed.accounts, "cpu_share": cpu / wall,
            "coordinator_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "timings": closed.timings}


if __name__ == "__main__":
    if sys.argv[1:2] == ["memory"]:
        memory_child(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1:2] == ["clear"]:
        clearing_child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1:2] == ["close"]:
        print(json.dumps(one_close(int(sys.argv[2]), int(sys.argv[3]))), flush=True)
