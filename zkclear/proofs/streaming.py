"""Close an epoch in bounded memory, resumably, on any executor (docs/performance.md, "Scale-out").

The outputs are byte for byte those of :func:`zkclear.proofs.epoch_prover.prove_epoch` followed by
``Deployment.publish`` (a test pins it); what differs is how the work is held and scheduled:

1. **header, matched book, placement** (coordinator): accounts are read from an :class:`AccountSource` (the
   ledger's state) one at a time; the placement is kept as a compact array of account indices per chunk.
2. **chunk proofs**: one :class:`~zkclear.proofs.units.ChunkTask` per chunk, built from the source when it is
   submitted, at most ``window`` in flight (``Executor.stream``); each returned chunk unit is written to the
   work store at once and dropped, the coordinator keeping a few integers per chunk. Units already in the
   store (an interrupted run) are first sent back to the workers to be checked, and only the rest are proven.
3. **upper tree as subtrees**: the chunks are grouped under the nodes of a *split level* s chosen so that a
   subtree holds about ``subtree_chunks`` chunks; each subtree (levels c..s, padding included) is built by a
   task from its chunks' roots and written to the store; the coordinator builds only the *top* (levels s..H)
   from the subtree roots. Nothing in the coordinator grows with the number of accounts but the placement
   array, a few integers per chunk and the top (2 nodes per subtree).
4. **solvency check**: the total liabilities are the root's opening; an insolvent epoch is refused here, before
   any node proof.
5. **node proofs**: groups of at most ``NODE_PROOF_GROUP`` nodes of one level of one subtree (or of the top),
   checked-if-stored then proven, written to the store as they arrive.
6. **root statements** (matched-book blinding sums, solvency proof) and the bundle.

:class:`ClosedEpoch` then streams the audit data (:meth:`ClosedEpoch.write_audit`) and the receipts
(:meth:`ClosedEpoch.receipts`) out of the store, one chunk or subtree at a time.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from collections import ChainMap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from zkclear.bundle.format import (
    KIND_AUDIT,
    decode_node,
    encode_group_entry,
    encode_padding_entry,
    node_size,
    padding_size,
    receipt_from_parts,
    write_container,
)
from zkclear.bundle.model import PublicBundle
from zkclear.crypto.field import R, scalar_to_bytes
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, ProvingError
from zkclear.executor import Executor
from zkclear.files import naming_write_errors
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.epoch_prover import (
    NODE_PROOF_GROUP,
    AccountInput,
    account_key_of,
    group_job,
    make_header,
    padding_node,
    require_reserves_cover,
)
from zkclear.proofs.header import ChainLink, EpochHeader
from zkclear.proofs.matched_book import require_matched
from zkclear.proofs.reserves import ReserveBook
from zkclear.proofs.solvency import prove_solvency, require_solvent
from zkclear.proofs.units import (
    ChunkBatch,
    ChunkTask,
    ChunkUnit,
    NodeGroupTask,
    SubtreeTask,
    SubtreeUnit,
    encode_node_group,
    parse_node_group,
    run_chunk_batch,
    run_chunk_task,
    run_node_group_task,
    run_subtree_task,
)
from zkclear.proofs.work_store import WorkStore
from zkclear.tree.disk_placement import DiskPlacement, place_on_disk
from zkclear.tree.node_groups import anchor_of, band_levels, group_positions, receipt_anchors, receipt_extras
from zkclear.tree.placement import TreeConfig
from zkclear.tree.sum_tree import POSITION_POINTS, LiabilityOpening, PaddingOpening, build_span

Progress = Callable[[str, int, int], None]
Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How much work is held at once: ``window`` tasks in flight (None: twice the workers, plus two) and about
    ``subtree_chunks`` chunks per subtree of the upper tree."""

    window: int | None = None
    subtree_chunks: int = 16
    #: node-group proofs per task (one subtree's groups, or the top's, band by band): about as long as a few chunk
    #: proofs, so that neither the coordinator nor a Dask scheduler (1–7 ms a task, measured) sets the pace
    node_group: int = 4 * NODE_PROOF_GROUP
    #: chunks per task (at most; fewer when that leaves a worker idle): a chunk proof takes ≈ 0.7 core-s natively,
    #: so one chunk per task would let the scheduler's per-task cost set the pace from about a hundred cores
    chunks_per_task: int = 4


class AccountSource(Protocol):
    """The accounts of an epoch, read one at a time (the ledger's state, or a list)."""

    def __len__(self) -> int: ...
    def account_ids(self) -> Sequence[str]: ...
    def witness(self, index: int) -> Any: ...
    def accounts_at(self, indices: Sequence[int]) -> list[tuple[str, Any]]:
        """``(account id, witness)`` of the accounts at ``indices``, in that order (a chunk's, read at once)."""
        ...


@dataclass(frozen=True, slots=True)
class ListSource:
    """An :class:`AccountSource` over a list of :class:`AccountInput` (tests, benchmarks)."""

    accounts: Sequence[AccountInput]

    def __len__(self) -> int:
        return len(self.accounts)

    def account_ids(self) -> Sequence[str]:
        return [account.account_id for account in self.accounts]

    def witness(self, index: int) -> Any:
        return self.accounts[index].witness

    def accounts_at(self, indices: Sequence[int]) -> list[tuple[str, Any]]:
        return [(self.accounts[i].account_id, self.accounts[i].witness) for i in indices]


def split_level(config: TreeConfig, chunks: int, subtree_chunks: int, band: int = 1) -> int:
    """The level s whose nodes root the subtrees: about ``subtree_chunks`` chunks under each (chunk positions
    are uniform over 2^(H-c) when sparse, packed from 0 when dense), raised to a band boundary of ``band``
    levels (``zkclear.tree.node_groups``) so that every group of node proofs lies within one subtree or within
    the top. Raised, not lowered: the top, which the coordinator holds, shrinks (lowering s by up to b - 1
    levels multiplied the subtrees, and the top with them, by up to 2^(b-1): 17 MiB more at 10^5 accounts);
    a subtree task holds up to 2^(b-1) times ``subtree_chunks`` chunks' summaries instead."""
    c, height = config.chunk_bits, config.height
    per_subtree = max(1, subtree_chunks)
    if config.sparse:
        subtrees = -(-chunks // per_subtree)
        level = height - (subtrees - 1).bit_length()
    else:
        level = c + per_subtree.bit_length() - 1
    level = min(height, max(c, level))
    return min(height, c + band * -(-(level - c) // band))


def _report(progress: Progress | None, step: str, done: int, total: int) -> None:
    if progress is not None:
        progress(step, done, total)


@dataclass
class _Plan:
    """What the coordinator keeps about the epoch between the steps (all small per chunk)."""

    header: EpochHeader
    positions: np.ndarray          # chunk k's position (increasing)
    placement: DiskPlacement       # chunk k's slots (account index, -1 for padding), read one chunk at a time
    chunk_keys: list[bytes]
    record_lengths: list[int]
    low: int                       # c
    split: int                     # s
    node_group: int = NODE_PROOF_GROUP
    subtree_ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (t, first chunk, end chunk)
    subtree_keys: list[bytes] = field(default_factory=list)
    top_nodes: dict[Position, bytes] = field(default_factory=dict)
    top_openings: dict[Position, LiabilityOpening] = field(default_factory=dict)
    top_padding: dict[Position, PaddingOpening] = field(default_factory=dict)
    position_totals: list[int] = field(default_factory=list)
    position_betas: list[int] = field(default_factory=list)
    nodes_total: int = 0
    groups_total: int = 0
    padding_total: int = 0
    proof_bytes: int = 0
    proofs_total: int = 0


@dataclass
class ClosedEpoch:
    """A proven epoch whose bulk is still in the work store: the bundle and the total's opening in memory; the
    audit data and the receipts streamed out by :meth:`write_audit` and :meth:`receipts`."""

    bundle: PublicBundle
    total_opening: LiabilityOpening
    accounts: int
    timings: dict[str, float]
    _plan: _Plan
    _store: WorkStore
    _source: AccountSource
    _system: ChunkProofSystem
    _public: Any
    _blindings: BlindingSource

    # -- shared walks over the store -----------------------------------------------------------

    def _count(self) -> int:
        return self._plan.header.instrument_count

    def _assets(self) -> int:
        return self._plan.header.asset_count

    def _subtree(self, position: int) -> SubtreeUnit:
        plan = self._plan
        t, _, _ = plan.subtree_ranges[position]
        body = self._store.load("subtree", plan.subtree_keys[position])
        if body is None:
            raise ProvingError(f"the work store lost subtree {t} while the epoch was being written")
        return SubtreeUnit.parse(body, self._assets(), plan.split - plan.low)

    def _chunk(self, k: int) -> ChunkUnit:
        body = self._store.load("chunk", self._plan.chunk_keys[k])
        if body is None:
            raise ProvingError(f"the work store lost chunk {k} while the epoch was being written")
        return ChunkUnit.parse(body, self._count(), self._assets())

    def _group_proofs(self, groups: Sequence[tuple[list[Position], NodeGroupTask]]) -> dict[Position, bytes]:
        proofs: dict[Position, bytes] = {}
        for positions, task in groups:
            found: list[bytes] = []
            for key in _group_keys(self._store, task):
                body = self._store.load("nodes", key)
                if body is None:
                    raise ProvingError("the work store lost a group of node proofs while the epoch was being written")
                found += parse_node_group(body)
            proofs.update(zip(positions, found, strict=True))
        return proofs

    # -- the audit data ------------------------------------------------------------------------

    def audit_length(self) -> int:
        plan = self._plan
        assets = self._assets()
        return (32 + 8 + sum(plan.record_lengths) + 8 + plan.nodes_total * (9 + node_size(assets))
                + 8 + plan.proofs_total * 13 + plan.proof_bytes + 8
                + plan.padding_total * (9 + padding_size(assets)))

    def write_audit(self, path: Path, scratch: Path) -> None:
        """Write the audit data (the same bytes as ``encode_audit_data``) to ``path``; the upper-tree sections,
        level-major across subtrees, go through per-level files in ``scratch`` first."""
        plan = self._plan
        levels = range(plan.low, plan.split)
        anchor_levels = range(plan.low + 1, plan.split + 1)  # a subtree's groups are anchored at levels c+1..s
        if scratch.is_symlink() or (scratch.exists() and not scratch.is_dir()):
            # a file or a link left under its name failed every re-run (NotADirectoryError; rmtree refuses a link)
            scratch.unlink()
        elif scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        with naming_write_errors(scratch):  # a full disk: the error names the folder the sections go through
            handles = {(kind, level): open(scratch / f"{kind}-{level}", "wb")  # noqa: SIM115 (closed below)
                       for kind, span in (("nodes", levels), ("padding", levels), ("proofs", anchor_levels))
                       for level in span}
            try:
                for position in range(len(plan.subtree_ranges) if plan.split > plan.low else 0):
                    unit = self._subtree(position)
                    groups = list(_subtree_groups(plan, position, unit, self._blindings))
                    proofs = self._group_proofs(groups)
                    for level, entries in zip(levels, unit.levels, strict=True):
                        for index, node, _ in entries.nodes:
                            handles[("nodes", level)].write(struct.pack(">BQ", level, index) + node)
                        for index, padding in entries.padding:
                            handles[("padding", level)].write(struct.pack(">BQ", level, index) + padding)
                    for anchor, proof in sorted(proofs.items()):
                        handles[("proofs", anchor[0])].write(struct.pack(">BQI", *anchor, len(proof)) + proof)
            finally:
                for handle in handles.values():
                    handle.close()
        top_proofs = self._group_proofs(list(_top_groups(plan, self._blindings)))

        def parts() -> Iterator[bytes]:
            yield plan.header.digest()
            yield struct.pack(">Q", len(plan.chunk_keys))
            for k in range(len(plan.chunk_keys)):
                yield self._chunk(k).record
            yield struct.pack(">Q", plan.nodes_total)
            yield from _copy_levels(scratch, "nodes", levels)
            for pos in sorted(plan.top_nodes):
                yield struct.pack(">BQ", *pos) + plan.top_nodes[pos]
            yield struct.pack(">Q", plan.proofs_total)
            yield from _copy_levels(scratch, "proofs", anchor_levels)
            for pos in sorted(top_proofs):
                yield struct.pack(">BQI", *pos, len(top_proofs[pos])) + top_proofs[pos]
            yield struct.pack(">Q", plan.padding_total)
            yield from _copy_levels(scratch, "padding", levels)
            for pos in sorted(plan.top_padding):
                yield encode_padding_entry(pos, *plan.top_padding[pos])

        try:
            write_container(path, KIND_AUDIT, self.audit_length(), parts())
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # -- receipts ------------------------------------------------------------------------------

    def receipts(self) -> Iterator[tuple[str, bytes, bytes]]:
        """``(account id, account key, receipt file bytes)`` for every account, chunk by chunk in tree order
        (the same bytes as ``encode_receipt``)."""
        plan = self._plan
        header, c, height = plan.header, plan.low, plan.header.tree.height
        levels, liability_bytes = band_levels(header.asset_count), 48 * header.asset_count
        header_digest = header.digest()
        ids = self._source.account_ids()
        top_proofs = self._group_proofs(list(_top_groups(plan, self._blindings)))
        top_members = group_positions(plan.top_openings, c, height, levels)
        for position in range(len(plan.subtree_ranges)):
            _, first, end = plan.subtree_ranges[position]
            below: dict[Position, bytes] = {}
            below_proofs: dict[Position, bytes] = {}
            if plan.split > c:
                unit = self._subtree(position)
                for level, entries in zip(range(c, plan.split), unit.levels, strict=True):
                    for index, node, _ in entries.nodes:
                        below[(level, index)] = node
                below_proofs = self._group_proofs(list(_subtree_groups(plan, position, unit, self._blindings)))
            nodes = ChainMap(below, plan.top_nodes)
            proofs = ChainMap(below_proofs, top_proofs)
            members_of = ChainMap(group_positions(below, c, height, levels), top_members)
            for k in range(first, end):
                chunk = self._chunk(k)
                chunk_position = int(plan.positions[k])
                first_leaf = chunk_position << c
                path = [nodes[(level, (chunk_position >> (level - c)) ^ 1)] for level in range(c, height)]
                groups = [encode_group_entry([(pos, nodes[pos][:liability_bytes])
                                              for pos in receipt_extras(members_of[anchor], first_leaf)],
                                             proofs[anchor])
                          for anchor in receipt_anchors(first_leaf, c, height, levels)]
                for slot, account in enumerate(plan.placement.slots(k)):
                    if account < 0:
                        continue
                    account_id = ids[account]
                    key = account_key_of(self._blindings, account_id)
                    yield account_id, key, receipt_from_parts(header.epoch_id, header_digest, account_id, key,
                                                              first_leaf | slot, chunk.openings[slot], chunk.record,
                                                              path, groups)

    def discard_work(self) -> None:
        """Remove the work store (every file of the epoch is written)."""
        self._store.clear()

    def close(self) -> None:
        """Close the placement's scratch database (the receipts cannot be read after)."""
        self._plan.placement.close()


def _copy_levels(scratch: Path, kind: str, levels: range) -> Iterator[bytes]:
    for level in levels:
        with open(scratch / f"{kind}-{level}", "rb") as handle:
            while block := handle.read(1 << 20):
                yield block


def _group_task(plan: _Plan, blindings: BlindingSource,
                groups: Sequence[tuple[Position, list[tuple[Position, LiabilityOpening]]]]
                ) -> tuple[list[Position], NodeGroupTask]:
    """The proof task of ``(anchor, [(member position, liability opening)])`` groups (one aggregated proof per
    group, ``epoch_prover.group_job``)."""
    return ([anchor for anchor, _ in groups],
            NodeGroupTask(blindings, tuple(group_job(plan.header, anchor, [opening for _, opening in members],
                                                     [pos for pos, _ in members])
                                           for anchor, members in groups)))


def _grouped(plan: _Plan, blindings: BlindingSource,
             nodes: list[tuple[int, int, LiabilityOpening]]) -> Iterator[tuple[list[Position], NodeGroupTask]]:
    """``nodes`` (a subtree's, or the top's) in their groups, ``node_group`` groups per task."""
    tree = plan.header.tree
    levels = band_levels(plan.header.asset_count)
    openings = {(level, index): opening for level, index, opening in nodes}
    groups = list(group_positions(openings, tree.chunk_bits, tree.height, levels).items())
    for start in range(0, len(groups), plan.node_group):
        yield _group_task(plan, blindings, [(anchor, [(pos, openings[pos]) for pos in members])
                                            for anchor, members in groups[start:start + plan.node_group]])


def _subtree_groups(plan: _Plan, position: int, unit: SubtreeUnit,
                    blindings: BlindingSource) -> Iterator[tuple[list[Position], NodeGroupTask]]:
    """A subtree's node-proof tasks: its nodes level by level, ``node_group`` at a time."""
    nodes = [(level, index, opening)
             for level, entries in zip(range(plan.low, plan.split), unit.levels, strict=True)
             for index, _, opening in entries.nodes]
    yield from _grouped(plan, blindings, nodes)


def _top_groups(plan: _Plan, blindings: BlindingSource) -> Iterator[tuple[list[Position], NodeGroupTask]]:
    """The top's node-proof tasks (levels s..H-1; the root has no node proof)."""
    nodes = sorted((level, index, opening) for (level, index), opening in plan.top_openings.items())
    yield from _grouped(plan, blindings, nodes)


def close_epoch(
    source: AccountSource,
    public: Any,
    reserves: ReserveBook,
    *,
    epoch_id: int,
    previous: ChainLink | None,
    config: TreeConfig,
    blindings: BlindingSource,
    chunk_system: ChunkProofSystem,
    executor: Executor,
    work_folder: Path,
    scratch: Path,
    public_inputs_digest: bytes = bytes(32),
    settings: StreamSettings = StreamSettings(),
    progress: Progress | None = None,
) -> ClosedEpoch:
    """Prove a whole epoch (see the module docstring); every guarantee of ``prove_epoch`` holds (nothing false
    is emitted: an unmatched book or reserves below the liabilities of some asset are a ProvingError before any
    proof). Work found in ``work_folder`` is checked and reused. The placement is kept in a scratch database
    ``scratch/placement.sqlite`` until :meth:`ClosedEpoch.close` (``scratch``: an existing private folder, a
    deployment's private scratch folder; the file is left there for the folder's owner to remove)."""
    system = chunk_system
    timings: dict[str, float] = {}
    header = make_header(epoch_id, previous, public, reserves, config, system, public_inputs_digest)
    count = header.instrument_count
    scope = header.digest() + system.name.encode("ascii") + (
        scalar_to_bytes(blindings.scalar("zkclear/work-store/fingerprint")) if blindings.is_deterministic
        else os.urandom(32))
    store = WorkStore(work_folder, scope)

    started = time.perf_counter()
    require_matched((source.witness(i).positions for i in range(len(source))), count)
    ids = source.account_ids()
    require_reserves_cover((AccountInput(ids[i], source.witness(i)) for i in range(len(source))), public, reserves,
                           system)
    placement_key = scalar_to_bytes(blindings.scalar("zkclear/tree/placement-key", epoch_id))
    placement = place_on_disk(source.account_ids(), config, placement_key, scratch / "placement.sqlite")
    positions = placement.positions
    split = split_level(config, len(positions), settings.subtree_chunks, band_levels(header.asset_count))
    plan = _Plan(header, positions, placement, [], [0] * len(positions), config.chunk_bits, split,
                 max(1, settings.node_group))
    timings["placement"] = time.perf_counter() - started
    try:
        return _close_placed(plan, source, public, reserves, system, blindings, store, executor, settings, progress,
                             timings)
    except BaseException:
        placement.close()
        raise


def _close_placed(plan: _Plan, source: AccountSource, public: Any, reserves: ReserveBook, system: ChunkProofSystem,
                  blindings: BlindingSource, store: WorkStore, executor: Executor, settings: StreamSettings,
                  progress: Progress | None, timings: dict[str, float]) -> ClosedEpoch:
    """Steps 2-6 of the module docstring, once the accounts are placed."""
    header = plan.header

    started = time.perf_counter()
    _prove_chunks(plan, source, public, system, blindings, store, executor, settings, progress)
    timings["chunk_proofs"] = time.perf_counter() - started

    started = time.perf_counter()
    padding_sums = _build_subtrees(plan, blindings, store, executor, settings, progress)
    root, root_opening = _build_top(plan, blindings, store)
    totals = tuple(value for value, _ in root_opening)
    root_blindings = tuple(blinding for _, blinding in root_opening)
    timings["tree_build"] = time.perf_counter() - started
    require_solvent(header.reserve_totals, totals, reserves.asset_ids)

    # At least one task per worker, now that the tree's group count is known: a small epoch's node proofs were one
    # task, proven on one core while the others waited (16 s of the demo's epoch). Tasks only pack the groups' proofs
    # (and the writer reads them back the same way); every group's proof is the same.
    plan.node_group = max(1, min(plan.node_group, -(-plan.groups_total // max(1, executor.workers))))
    started = time.perf_counter()
    _prove_node_groups(plan, blindings, store, executor, settings, progress)
    timings["node_proofs"] = time.perf_counter() - started

    started = time.perf_counter()
    betas = _matched_book(plan, padding_sums)
    context = header.context(b"solvency")
    solvency = prove_solvency(header.reserve_totals, totals, root_blindings, context, asset_ids=reserves.asset_ids,
                              nonces=blindings.nonces(context, *totals, *root_blindings))
    bundle = PublicBundle(header, root, betas, solvency, reserves)
    timings["root_statements"] = time.perf_counter() - started
    return ClosedEpoch(bundle, root_opening, len(source), timings, plan, store, source, system, public,
                       blindings)


def _prove_chunks(plan: _Plan, source: AccountSource, public: Any, system: ChunkProofSystem,
                  blindings: BlindingSource, store: WorkStore, executor: Executor, settings: StreamSettings,
                  progress: Progress | None) -> None:
    header = plan.header
    padding_witness = system.padding_witness(public)

    def task(k: int, stored: bytes | None = None) -> ChunkTask:
        position = int(plan.positions[k])
        row = plan.placement.slots(k)
        # the chunk's accounts in one read (one query of the scratch copy, not two or three per account)
        accounts = iter(source.accounts_at([a for a in row if a >= 0]))
        slots = [(None, padding_witness) if a < 0 else next(accounts) for a in row]
        return ChunkTask(system, public, blindings, header.epoch_id, position,
                         header.context(b"collateral-chunk", position),
                         tuple(account for account, _ in slots), tuple(witness for _, witness in slots), stored)

    total = len(plan.positions)
    count = header.instrument_count
    plan.position_totals, plan.position_betas = [0] * count, [0] * POSITION_POINTS
    for k in range(total):
        plan.chunk_keys.append(store.key("chunk", *task(k).work_parts()))
    done = bytearray(total)
    saved = [k for k in range(total) if store.path("chunk", plan.chunk_keys[k]).exists()]

    assets = header.asset_count

    def accept(k: int, body: bytes) -> None:
        summary_size = ChunkUnit.summary_size(count, assets)
        plan.record_lengths[k] = struct.unpack(">I", body[summary_size:summary_size + 4])[0]
        unit = ChunkUnit.parse(body, count, assets, summary_only=True)
        for j in range(count):
            plan.position_totals[j] += unit.position_sums[j]
        plan.position_betas[0] = (plan.position_betas[0] + unit.vector_blinding) % R
        done[k] = 1

    if saved:
        step = "checking saved chunk proofs"
        in_flight: dict[int, int] = {}  # stream index -> chunk, for the tasks not yet back

        def stored_tasks() -> Iterator[ChunkTask]:
            for k in saved:
                body = store.load("chunk", plan.chunk_keys[k])
                if body is not None:
                    in_flight[len(in_flight) + returned[0]] = k
                    yield task(k, body)

        returned = [0]
        _report(progress, step, 0, len(saved))
        for index, body in executor.stream(run_chunk_task, stored_tasks(), window=settings.window):
            k = in_flight.pop(index)
            returned[0] += 1
            if body is None:
                store.discard("chunk", plan.chunk_keys[k])
            else:
                accept(k, body)
            _report(progress, step, returned[0], len(saved))
    step = "collateral proofs (chunks)"
    finished = sum(done)
    _report(progress, step, finished, total)
    todo = [k for k in range(total) if not done[k]]
    per_task = max(1, min(settings.chunks_per_task, -(-len(todo) // max(1, executor.workers))))
    batches = [todo[start:start + per_task] for start in range(0, len(todo), per_task)]
    for index, bodies in executor.stream(run_chunk_batch, (ChunkBatch(tuple(task(k) for k in batch))
                                                            for batch in batches), window=settings.window):
        for k, body in zip(batches[index], bodies, strict=True):
            if body is None:
                raise ProvingError(f"chunk at position {int(plan.positions[k])}: the prover returned nothing")
            store.save("chunk", plan.chunk_keys[k], body)
            accept(k, body)
            finished += 1
            _report(progress, step, finished, total)


def _build_subtrees(plan: _Plan, blindings: BlindingSource, store: WorkStore, executor: Executor,
                    settings: StreamSettings, progress: Progress | None) -> list[int]:
    """Build every subtree (levels c..s) as a task; keep their roots as the top's base. Returns the padding
    nodes' position-blinding sums over all subtrees."""
    header = plan.header
    count, assets, c, split = header.instrument_count, header.asset_count, plan.low, plan.split
    shift, band = split - c, band_levels(assets)
    ranges: list[tuple[int, int, int]] = []
    first = 0
    total = len(plan.positions)
    while first < total:
        t = int(plan.positions[first]) >> shift
        end = first
        while end < total and int(plan.positions[end]) >> shift == t:
            end += 1
        ranges.append((t, first, end))
        first = end
    plan.subtree_ranges = ranges
    padding_sums = [0] * POSITION_POINTS
    base_nodes: dict[int, bytes] = {}
    base_openings: dict[int, LiabilityOpening] = {}

    def summaries(first: int, end: int) -> tuple[tuple[int, bytes, LiabilityOpening], ...]:
        out = []
        for k in range(first, end):
            body = store.load("chunk", plan.chunk_keys[k])
            if body is None:
                raise ProvingError(f"the work store lost chunk {k} during the tree build")
            unit = ChunkUnit.parse(body, count, assets, summary_only=True)
            out.append((int(plan.positions[k]), unit.root, unit.liability))
        return tuple(out)

    if split == c:
        for t, first, end in ranges:
            ((_, root, opening),) = summaries(first, end)
            base_nodes[t], base_openings[t] = root, opening
        plan.subtree_keys = [b""] * len(ranges)
    else:
        step = "upper tree (subtrees)"
        _report(progress, step, 0, len(ranges))

        def tasks() -> Iterator[SubtreeTask]:
            for t, first, end in ranges:
                yield SubtreeTask(header.tree, blindings, header.epoch_id, assets, c, split, t,
                                  summaries(first, end))

        plan.subtree_keys = [b""] * len(ranges)
        streamed = executor.stream(run_subtree_task, tasks(), window=settings.window)
        for finished, (index, body) in enumerate(streamed, start=1):
            t = ranges[index][0]
            key = store.key("subtree", struct.pack(">BBQ", c, split, t), body)
            store.save("subtree", key, body)
            plan.subtree_keys[index] = key
            unit = SubtreeUnit.parse(body, assets, split - c)
            base_nodes[t], base_openings[t] = unit.root, unit.liability
            for j, b in enumerate(unit.padding_blinding_sums):
                padding_sums[j] = (padding_sums[j] + b) % R
            anchors = set()
            for level, entries in zip(range(c, split), unit.levels, strict=True):
                plan.nodes_total += len(entries.nodes)
                plan.padding_total += len(entries.padding)
                anchors.update(anchor_of((level, index), c, header.tree.height, band)
                               for index, _, _ in entries.nodes)
            plan.groups_total += len(anchors)
            _report(progress, step, finished, len(ranges))
    plan.top_nodes = {(split, t): node for t, node in base_nodes.items()}
    plan.top_openings = {(split, t): opening for t, opening in base_openings.items()}
    return padding_sums


def _build_top(plan: _Plan, blindings: BlindingSource, store: WorkStore) -> tuple[Any, LiabilityOpening]:
    """Levels s..H above the subtree roots, in the coordinator; returns the root and its opening."""
    from zkclear.bundle.format import encode_node

    header = plan.header
    assets, split, height = header.asset_count, plan.split, header.tree.height
    base = {index: decode_node(node, assets) for (_, index), node in plan.top_nodes.items()}
    base_openings = {index: opening for (_, index), opening in plan.top_openings.items()}

    def padding_source(level: int, index: int) -> tuple[Any, PaddingOpening]:
        return padding_node(blindings, header.epoch_id, assets, level, index)

    span = build_span(split, height, base, padding_source, base_openings)
    for pos, node in span.nodes.items():
        plan.top_nodes[pos] = encode_node(node)
        plan.top_openings[pos] = span.openings[pos]
    plan.top_padding = dict(span.padding)
    plan.nodes_total += len(plan.top_nodes)
    plan.groups_total += len(group_positions([pos for pos in plan.top_nodes if pos[0] < height], header.tree.chunk_bits,
                                             height, band_levels(assets)))
    plan.padding_total += len(plan.top_padding)
    del plan.top_openings[(height, 0)]  # the root carries no node proof
    root = span.nodes[(height, 0)] if split < height else base[0]
    opening = span.openings[(height, 0)] if split < height else base_openings[0]
    return root, opening


def _all_groups(plan: _Plan, store: WorkStore,
                blindings: BlindingSource) -> Iterator[tuple[list[Position], NodeGroupTask]]:
    assets = plan.header.asset_count
    if plan.split > plan.low:
        for position in range(len(plan.subtree_ranges)):
            body = store.load("subtree", plan.subtree_keys[position])
            if body is None:
                raise ProvingError("the work store lost a subtree during the node proofs")
            yield from _subtree_groups(plan, position, SubtreeUnit.parse(body, assets, plan.split - plan.low),
                                       blindings)
    yield from _top_groups(plan, blindings)


def _group_keys(store: WorkStore, task: NodeGroupTask) -> tuple[bytes, ...]:
    """The work-store names of a task's node groups, one unit per group: a re-run that packs the groups into tasks
    otherwise (another worker count) still finds them (a unit per task was proven again)."""
    return tuple(store.key("nodes", part) for part in task.work_parts())


def _prove_node_groups(plan: _Plan, blindings: BlindingSource, store: WorkStore, executor: Executor,
                       settings: StreamSettings, progress: Progress | None) -> None:
    groups_total = 0
    saved: set[tuple[bytes, ...]] = set()
    for _, task in _all_groups(plan, store, blindings):
        groups_total += 1
        keys = _group_keys(store, task)
        if all(store.path("nodes", key).exists() for key in keys):
            saved.add(keys)
    good: set[tuple[bytes, ...]] = set()

    def count_proofs(body: bytes, task: NodeGroupTask) -> None:
        plan.proofs_total += len(task.nodes)
        plan.proof_bytes += sum(len(p) for p in parse_node_group(body))

    def discard(keys: tuple[bytes, ...]) -> None:
        for key in keys:
            store.discard("nodes", key)

    if saved:
        step = "checking saved node proofs"
        _report(progress, step, 0, len(saved))
        checking: dict[int, tuple[tuple[bytes, ...], NodeGroupTask]] = {}
        returned = [0]

        def stored_tasks() -> Iterator[NodeGroupTask]:
            for _, task in _all_groups(plan, store, blindings):
                keys = _group_keys(store, task)
                if keys not in saved:
                    continue
                bodies = [store.load("nodes", key) for key in keys]
                try:
                    proofs = [proof for body in bodies if body is not None for proof in parse_node_group(body)]
                except EncodingError:
                    proofs = []
                if len(proofs) != len(keys) or None in bodies:
                    discard(keys)  # a group's unit lost, damaged or of another shape: the task is proven again
                    continue
                checking[len(checking) + returned[0]] = (keys, task)
                yield NodeGroupTask(task.blindings, task.nodes, encode_node_group(proofs))

        for index, body in executor.stream(run_node_group_task, stored_tasks(), window=settings.window):
            keys, task = checking.pop(index)
            returned[0] += 1
            if body is None:
                discard(keys)
            else:
                good.add(keys)
                count_proofs(body, task)
            _report(progress, step, returned[0], len(saved))
    step = "node range proofs (groups)"
    finished = len(good)
    _report(progress, step, finished, groups_total)
    pending: dict[int, tuple[tuple[bytes, ...], NodeGroupTask]] = {}
    proven = [0]

    def fresh_tasks() -> Iterator[NodeGroupTask]:
        for _, task in _all_groups(plan, store, blindings):
            keys = _group_keys(store, task)
            if keys not in good:
                pending[len(pending) + proven[0]] = (keys, task)
                yield task

    for index, body in executor.stream(run_node_group_task, fresh_tasks(), window=settings.window):
        keys, task = pending.pop(index)
        proven[0] += 1
        if body is None:
            raise ProvingError("a group of node proofs came back empty")
        for key, proof in zip(keys, parse_node_group(body), strict=True):
            store.save("nodes", key, encode_node_group([proof]))
        count_proofs(body, task)
        finished += 1
        _report(progress, step, finished, groups_total)


def _matched_book(plan: _Plan, padding_sums: list[int]) -> tuple[int, ...]:
    """β = Σ chunk position-vector blindings + Σ padding-node position-vector blindings; ProvingError if the
    positions do not sum to zero."""
    for j, total in enumerate(plan.position_totals):
        if total != 0:
            raise ProvingError(f"instrument {j}: positions sum to {total}, the book is not matched")
    betas = [(a + b) % R for a, b in zip(plan.position_betas, padding_sums, strict=True)]
    for _, position_blindings in plan.top_padding.values():
        for j, b in enumerate(position_blindings):
            betas[j] = (betas[j] + b) % R
    return tuple(betas)


