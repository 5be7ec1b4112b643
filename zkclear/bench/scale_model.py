"""The wall-time model of an epoch close on many cores (docs/performance.md, "Scale-out: the model").

Inputs are per-unit costs measured by ``zkclear bench scale`` on this machine (core-seconds per chunk proof, per
node proof, per upper node built; coordinator seconds per chunk unit, per node group, per receipt; Dask's
per-task overhead) and the tree's shape, which is computed, not guessed: the chunk count under the padding
policy, and the number of upper nodes of a sparse tree with chunks at uniform random positions (counted level by
level over simulated positions; exact in expectation).

The close runs as the streaming prover schedules it (zkclear/proofs/streaming.py):

- **workers** do the chunk proofs, the subtree builds and the node proofs: ``parallel = W / cores`` with W the
  core-seconds of all units, plus one task's duration as the tail of each of the three phases;
- the **coordinator** (one process) hands out every unit and writes every result as it arrives, in parallel
  with the workers: ``feed = Σ units × coordinator cost per unit``; a phase takes ``max(parallel, feed,
  tasks × scheduler overhead)``: the coordinator (or the Dask scheduler) is the bottleneck when ``feed``
  exceeds ``parallel``;
- then, alone, it builds the top of the tree (2 nodes per subtree), writes the receipts and the audit data
  (the *tail*).

Run: ``python -m zkclear.bench.scale_model [COSTS.json]`` (the ``--json`` output of ``zkclear bench scale``);
without a file it uses the figures recorded in docs/performance.md.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

#: Chunks per task of the streaming close (``StreamSettings.chunks_per_task``): the scheduler hands out a quarter
#: as many chunk tasks as there are chunks; the coordinator still saves every chunk's unit.
CHUNKS_PER_TASK = 4
#: Nodes range-proven per node task: 128 group proofs (``node_group`` in proving.toml) of ≈ 8 nodes.
NODES_PER_TASK = 1024

#: Measured on the development box (docs/performance.md, "Scale-out"): see ``zkclear bench scale``.
RECORDED = {
    "chunk_core_seconds": 3.4,           # one chunk of 16 accounts, collateral proofs, native engine (CPU time)
    "node_core_seconds": 0.052,          # one node range-proven (before groups: its own 64-bit proof), native (CPU)
    "node_build_core_seconds": 0.0004,   # one upper node built (sums, hashes, encodings) in a subtree task
    "coordinator_chunk_seconds": 0.004,  # hand out one chunk task, save its unit, read it back (2.6 ms measured)
    "coordinator_group_seconds": 0.002,  # one node group: key, save, read back
    "coordinator_subtree_seconds": 0.01,  # one subtree task: gather its chunk summaries, save the unit
    "receipt_seconds": 0.00042,          # assemble and write one receipt, 4 writer threads (no fsync each)
    "audit_bytes_per_second": 4.0e8,     # streaming the audit data out of the work store
    "sync_bytes_per_second": 5.0e8,      # the one sync before the bundle
    "task_overhead_seconds": 0.0115,     # Dask, measured on the loaded box (Dask documents about 1 ms)
    "receipt_bytes": 47_000,
    "chunk_audit_bytes": 20_000,
    "node_audit_bytes": 1_500,
}


@dataclass(frozen=True, slots=True)
class Costs:
    chunk_core_seconds: float
    node_core_seconds: float
    node_build_core_seconds: float
    coordinator_chunk_seconds: float
    coordinator_group_seconds: float
    coordinator_subtree_seconds: float
    receipt_seconds: float
    audit_bytes_per_second: float
    sync_bytes_per_second: float
    task_overhead_seconds: float
    receipt_bytes: float
    chunk_audit_bytes: float
    node_audit_bytes: float

    @classmethod
    def of(cls, values: dict) -> Costs:
        merged = {**RECORDED, **{k: v for k, v in values.items() if k in RECORDED}}
        return cls(**{f.name: float(merged[f.name]) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Shape:
    accounts: int
    chunks: int
    upper_nodes: int
    subtrees: int
    top_nodes: int


def tree_shape(accounts: int, height: int = 32, chunk_bits: int = 4, subtree_chunks: int = 16,
               seed: int = 15) -> Shape:
    """Chunks (power-of-two padding) and upper nodes of a sparse tree with uniform random chunk positions."""
    chunk_size = 1 << chunk_bits
    needed = max(1, -(-accounts // chunk_size))
    chunks = 1 << (needed - 1).bit_length()
    rng = np.random.default_rng(seed)
    positions = np.unique(rng.integers(0, 1 << (height - chunk_bits), size=chunks * 2, dtype=np.int64))[:chunks]
    while len(positions) < chunks:  # collisions are resolved by retrying in the real placement
        extra = rng.integers(0, 1 << (height - chunk_bits), size=chunks, dtype=np.int64)
        positions = np.unique(np.concatenate([positions, extra]))[:chunks]
    nodes = 0
    level = positions
    subtrees_level = height - (-(-chunks // subtree_chunks) - 1).bit_length()
    subtrees = top = 0
    for depth in range(chunk_bits, height):
        with_siblings = np.unique(np.concatenate([level, level ^ 1]))
        nodes += len(with_siblings)
        if depth == subtrees_level:
            subtrees = len(level)
        if depth >= subtrees_level:
            top += len(with_siblings)
        level = np.unique(level >> 1)
    if subtrees_level >= height:
        subtrees = 1
    return Shape(accounts, chunks, nodes + 1, max(1, subtrees), top + 1)


@dataclass(frozen=True, slots=True)
class Estimate:
    cores: int
    wall_seconds: float
    parallel_seconds: float
    coordinator_feed_seconds: float
    tail_seconds: float
    bound: str


def estimate(shape: Shape, costs: Costs, cores: int) -> Estimate:
    """Wall seconds of one close of ``shape`` on ``cores`` worker cores (see the module docstring)."""
    # a node task: ``node_group`` = 128 group proofs of ≈ 8 nodes each (proving.toml's default) ≈ NODES_PER_TASK
    # nodes; tasks never span subtrees
    groups = math.ceil(shape.upper_nodes / NODES_PER_TASK) + shape.subtrees
    chunk_tasks = math.ceil(shape.chunks / CHUNKS_PER_TASK)
    phases = [
        (shape.chunks * costs.chunk_core_seconds, CHUNKS_PER_TASK * costs.chunk_core_seconds,
         shape.chunks * costs.coordinator_chunk_seconds, chunk_tasks),
        (shape.upper_nodes * costs.node_build_core_seconds,
         shape.upper_nodes / shape.subtrees * costs.node_build_core_seconds,
         shape.subtrees * costs.coordinator_subtree_seconds, shape.subtrees),
        (shape.upper_nodes * costs.node_core_seconds, NODES_PER_TASK * costs.node_core_seconds,
         groups * costs.coordinator_group_seconds, groups),
    ]
    parallel = feed = wall = 0.0
    bound = "workers"
    for work, task, coordinator, tasks in phases:
        on_workers = work / cores + task
        scheduler = tasks * costs.task_overhead_seconds
        phase = max(on_workers, coordinator, scheduler)
        if phase > on_workers * 1.001 and work > 0.05 * sum(p[0] for p in phases):
            bound = "coordinator" if coordinator >= scheduler else "scheduler"
        parallel += on_workers
        feed += coordinator
        wall += phase
    audit_bytes = shape.chunks * costs.chunk_audit_bytes + shape.upper_nodes * costs.node_audit_bytes
    tail = (shape.top_nodes * costs.node_build_core_seconds + shape.accounts * costs.receipt_seconds
            + audit_bytes / costs.audit_bytes_per_second
            + (shape.accounts * costs.receipt_bytes + audit_bytes) / costs.sync_bytes_per_second)
    return Estimate(cores, wall + tail, parallel, feed, tail, bound)


def crossover(shape: Shape, costs: Costs) -> int:
    """The fewest cores at which the coordinator (or the scheduler), not the workers, sets a phase's pace."""
    cores = 1
    while cores < 1 << 24:
        if estimate(shape, costs, cores).bound != "workers":
            return cores
        cores = math.ceil(cores * 1.1)
    return cores


def table(costs: Costs, accounts: tuple[int, ...] = (10**6, 10**7),
          cores: tuple[int, ...] = (32, 256, 1024)) -> list[str]:
    lines = ["| accounts | chunks | upper nodes | core-hours | " + " | ".join(f"{c} cores" for c in cores)
             + " | coordinator-bound from | tail (receipts, audit, sync) |",
             "|---|---|---|---|" + "---|" * len(cores) + "---|---|"]
    for n in accounts:
        shape = tree_shape(n)
        work = (shape.chunks * costs.chunk_core_seconds
                + shape.upper_nodes * (costs.node_core_seconds + costs.node_build_core_seconds))
        cells = []
        for c in cores:
            e = estimate(shape, costs, c)
            cells.append(f"{_duration(e.wall_seconds)}{'' if e.bound == 'workers' else ' (' + e.bound + ')'}")
        tail = estimate(shape, costs, cores[0]).tail_seconds
        lines.append(f"| {n:,} | {shape.chunks:,} | {shape.upper_nodes:,} | {work / 3600:,.0f} | "
                     + " | ".join(cells) + f" | {crossover(shape, costs):,} cores | {_duration(tail)} |")
    return lines


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv: list[str]) -> None:
    values = json.loads(Path(argv[0]).read_text(encoding="utf-8")) if argv else {}
    for overhead in (values.get("task_overhead_seconds", RECORDED["task_overhead_seconds"]), 0.001):
        print(f"Dask overhead {overhead * 1e3:.1f} ms per task:")
        for line in table(Costs.of({**values, "task_overhead_seconds": overhead})):
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
