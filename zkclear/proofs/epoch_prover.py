"""Close an epoch: place accounts, prove every chunk, build the tree, prove its nodes, the matched
book and solvency, and make every receipt (docs/protocol.md, "Epoch close").

The steps, in order, each bound to the epoch header through its proof context:

1. header (epoch id, previous root and epoch hash, public-data and reserves digests, the reserve total of every
   asset, tree shape);
2. placement of the accounts from a key derived from the operator's blinding secret and the epoch;
3. one collateralization batch proof per chunk (context ``header.context(b"collateral-chunk", position)``);
4. the sum tree over the chunks' liability commitments (one per asset), padding nodes on populated paths;
5. one range proof per node at levels c..H-1 over its liabilities, aggregated (context
   ``header.context(b"tree-node", level, index)``);
6. matched-book blinding sums, the solvency proof of every asset, aggregated (context ``header.context(b"solvency")``);
7. a receipt for every account (its id, its account key, its opening, its chunk and path).

Before any proving, a book that is not matched and reserves that do not cover some asset's liabilities are refused.
The openings of the total liabilities (L_a, ρ_a per asset) are returned to the operator in :class:`EpochArtifacts`,
never put in the public bundle or the audit data: they go, when the operator chooses, to an auditor-only file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from provers.bulletproofs_pp import prove_range_pp
from zkclear.bundle.model import AuditData, PublicBundle
from zkclear.crypto.field import R, scalar_to_bytes
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import ProvingError
from zkclear.executor import Executor, get_executor
from zkclear.proofs.chunks import ChunkProofSystem, default_chunk_system
from zkclear.proofs.header import GENESIS, ChainLink, EpochHeader
from zkclear.proofs.matched_book import matched_book_blinding, require_matched
from zkclear.proofs.position_vector import PositionVectorProof, prove_position_vector
from zkclear.proofs.reserves import ReserveBook
from zkclear.proofs.solvency import prove_solvency, require_solvent
from zkclear.tree.identity import ACCOUNT_KEY_LABEL, leaf_id_hash
from zkclear.tree.node_groups import (
    band_levels,
    group_bits,
    group_context_indices,
    group_positions,
    receipt_anchors,
    receipt_extras,
)
from zkclear.tree.placement import TreeConfig, place_accounts
from zkclear.tree.receipts import ChunkRecord, Receipt
from zkclear.tree.sum_tree import (
    PaddingOpening,
    Position,
    SumTree,
    TreeNode,
    build_sum_tree,
    make_leaf,
    padding_digest,
    sum_points,
)

#: Node-group range proofs are dispatched to the executor this many at a time (amortizes task overhead).
NODE_PROOF_GROUP = 4


@dataclass(frozen=True, slots=True)
class AccountInput:
    """One account to put in the epoch: its id (never published) and its private witness."""

    account_id: str
    witness: Any


@dataclass(slots=True)
class EpochArtifacts:
    """Everything an epoch close produces. ``timings`` (seconds, wall clock) is for benchmarks."""

    bundle: PublicBundle
    audit: AuditData
    receipts: dict[str, Receipt]
    tree: SumTree
    total_opening: tuple[tuple[int, int], ...]
    timings: dict[str, float] = field(default_factory=dict)


def _prove_chunk(
    job: tuple[ChunkProofSystem, list[Any], Any, bytes, BlindingSource],
) -> tuple[bytes, list, list]:
    system, witnesses, public, context, blindings = job
    return system.prove(witnesses, public, context, blindings)


def _prove_nodes(
    job: tuple[BlindingSource, list[tuple[tuple[int, ...], tuple[int, ...], int, bytes]]],
) -> list[bytes]:
    """One aggregated Bulletproofs++ range proof per group of nodes over its members' liabilities (one value per
    member and asset; :func:`group_job`)."""
    blindings, groups = job
    return [
        prove_range_pp(list(values), list(blinds), context, n_bits=n_bits,
                       rng=blindings.nonces(context, *values, *blinds))[0].to_bytes()
        for values, blinds, n_bits, context in groups
    ]


@dataclass(frozen=True, slots=True)
class ChunkPositions:
    """A chunk's position data: its net position per instrument, the blinding of its position vector and the
    vector with its equality proof."""

    totals: tuple[int, ...]
    vector_blinding: int
    proof: PositionVectorProof


def chunk_positions(system: ChunkProofSystem, public: Any, commitments: Sequence[Any], openings: Sequence[Any],
                    context: bytes, blindings: BlindingSource) -> ChunkPositions:
    """The position vector of a chunk (docs/protocol.md, "Position vector of a chunk"): V commits to the chunk's
    net position in every instrument with a blinding derived from the chunk context, and its equality proof binds
    it to the sums of the accounts' position commitments."""
    count = system.instrument_count(public)
    sums = sum_points([system.position_commitments(c) for c in commitments], count)
    totals, blinding_sums = [0] * count, [0] * count
    for opening in openings:
        for j, (q, gamma) in enumerate(zip(system.opening_values(opening)[1], system.position_blindings(opening),
                                           strict=True)):
            totals[j] += q
            blinding_sums[j] = (blinding_sums[j] + gamma) % R
    key = hashlib.sha256(context).digest()
    rho = blindings.scalar("zkclear/chunk/position-vector", key)
    proof = prove_position_vector(context, sums, totals, blinding_sums, rho,
                                  blindings.nonces(context, b"position-vector", *totals, *blinding_sums, rho))
    return ChunkPositions(tuple(totals), rho, proof)


def group_job(header: EpochHeader, anchor: Position, openings: Sequence[Sequence[tuple[int, int]]],
              members: Sequence[Position]) -> tuple[tuple[int, ...], tuple[int, ...], int, bytes]:
    """What :func:`_prove_nodes` proves for the group anchored at ``anchor``: the members' liability values and
    blindings (member by member, asset by asset), the group's width and its statement context."""
    return (tuple(value for opening in openings for value, _ in opening),
            tuple(blinding for opening in openings for _, blinding in opening),
            group_bits(anchor[0], header.equity_bits),
            header.context(b"tree-node-group", *group_context_indices(anchor, members)))


def padding_node(blindings: BlindingSource, epoch_id: int, assets: int, level: int,
                 index: int) -> tuple[TreeNode, PaddingOpening]:
    """The padding node at (level, index) of an epoch with ``assets`` assets, and its opening (docs/protocol.md,
    "Leaves and nodes")."""
    # asset 0 keeps the single-asset derivation; asset a >= 1 adds its index
    liability_blindings = tuple(blindings.scalar("zkclear/tree/padding-node", epoch_id, level, index, *asset)
                                for asset in [(), *((a,) for a in range(1, assets))])
    position_blindings = (blindings.scalar("zkclear/tree/padding-position-vector", epoch_id, level, index),)
    seed = scalar_to_bytes(blindings.scalar("zkclear/tree/padding-digest", epoch_id, level, index))
    node = TreeNode.of([commit(0, b) for b in liability_blindings], padding_digest(seed),
                       [commit(0, b) for b in position_blindings])
    return node, (liability_blindings, position_blindings)


def account_key_of(blindings: BlindingSource, account_id: str) -> bytes:
    """The account's key k_u (docs/protocol.md, "Leaf identity")."""
    return scalar_to_bytes(blindings.scalar(ACCOUNT_KEY_LABEL, account_id))


def slot_id_hash(blindings: BlindingSource, epoch_id: int, position: int, slot: int, account_id: str | None) -> bytes:
    """The salted id hash of the leaf in ``slot`` of the chunk at ``position`` (None: a padding account)."""
    if account_id is None:
        seed = scalar_to_bytes(blindings.scalar("zkclear/tree/padding-id", epoch_id, position, slot))
        return hashlib.sha256(b"zkclear/tree/padding-id/v1" + seed).digest()
    return leaf_id_hash(account_id, account_key_of(blindings, account_id), epoch_id)


def _reporter(progress: Callable[[str, int, int], None] | None, step: str,
              total: int) -> Callable[[int], None] | None:
    """Adapt ``progress(step, done, total)`` to the executor's ``progress(done)``."""
    if progress is None:
        return None
    progress(step, 0, total)
    return lambda done: progress(step, done, total)


def make_header(
    epoch_id: int,
    previous: ChainLink | None,
    public: Any,
    reserves: ReserveBook,
    config: TreeConfig,
    chunk_system: ChunkProofSystem,
    public_inputs_digest: bytes = bytes(32),
) -> EpochHeader:
    """The header of epoch ``epoch_id`` following ``previous`` (None: genesis). ProvingError unless the reserves
    list names the epoch's collateral assets (after the settlement asset) in the public data's order."""
    collateral = chunk_system.asset_ids(public)
    if tuple(reserves.asset_ids[1:]) != tuple(collateral):
        raise ProvingError(f"the reserves are for the assets {', '.join(reserves.asset_ids)}, but the epoch's "
                           f"collateral assets are {', '.join(collateral) or '(none)'} (after the settlement asset)")
    return EpochHeader(
        epoch_id=epoch_id,
        previous_root=previous.root_digest if previous else GENESIS,
        previous_epoch_hash=previous.epoch_hash if previous else GENESIS,
        public_data_digest=chunk_system.public_digest(public),
        public_inputs_digest=public_inputs_digest,
        reserves_digest=reserves.digest(),
        reserve_totals=reserves.asset_totals(),
        instrument_count=chunk_system.instrument_count(public),
        equity_bits=chunk_system.equity_bits(public),
        tree=config,
    )


def total_liabilities(accounts: Iterable[AccountInput], public: Any, chunk_system: ChunkProofSystem,
                      asset_count: int) -> list[int]:
    """Per asset (settlement first), the sum of the accounts' liabilities as the tree will sum them, from the
    witnesses (so it costs no proof)."""
    owed = [0] * asset_count
    for account in accounts:
        for a, value in enumerate(chunk_system.witness_liabilities(account.witness, public)):
            owed[a] += value
    return owed


def require_reserves_cover(accounts: Iterable[AccountInput], public: Any, reserves: ReserveBook,
                           chunk_system: ChunkProofSystem) -> None:
    """ProvingError naming the first asset whose reserves do not cover the accounts' liabilities in it."""
    owed = total_liabilities(accounts, public, chunk_system, len(reserves.assets))
    require_solvent(reserves.asset_totals(), owed, reserves.asset_ids)


def prove_epoch(
    accounts: Sequence[AccountInput],
    public: Any,
    reserves: ReserveBook,
    *,
    epoch_id: int,
    previous: ChainLink | None,
    config: TreeConfig,
    blindings: BlindingSource,
    chunk_system: ChunkProofSystem | None = None,
    executor: Executor | None = None,
    public_inputs_digest: bytes = bytes(32),
    progress: Callable[[str, int, int], None] | None = None,
    stage_clock: Callable[[], float] = time.perf_counter,
) -> EpochArtifacts:
    """Prove a whole epoch. Guaranteed: either every proof and every receipt is produced, or a
    ProvingError says which statement is false (an undercollateralized account, an unmatched
    book, reserves below the liabilities of some asset); nothing false is ever emitted.

    ``blindings`` in deterministic mode makes the whole close reproducible (same placement, same
    commitments). ``public_inputs_digest`` is the digest of the published inputs the public data is
    recomputed from (zeros only for test systems that have none). Chunk proofs and node proofs fan out over
    ``executor`` (default: ``zkclear.executor.get_executor()``). ``timings`` are measured with
    ``stage_clock`` (wall clock by default; a benchmark passes ``time.process_time`` with a serial executor
    to get core-seconds).
    """
    system = chunk_system or default_chunk_system()
    run = executor or get_executor()
    timings: dict[str, float] = {}
    header = make_header(epoch_id, previous, public, reserves, config, system, public_inputs_digest)
    header_digest = header.digest()

    # The matched book and the reserves' cover need only the witnesses: refuse before any proving if broken.
    require_matched([account.witness.positions for account in accounts], header.instrument_count)
    require_reserves_cover(accounts, public, reserves, system)

    started = stage_clock()
    placement_key = scalar_to_bytes(blindings.scalar("zkclear/tree/placement-key", epoch_id))
    placement = place_accounts([account.account_id for account in accounts], config, placement_key)
    padding_witness = system.padding_witness(public)
    jobs = []
    for position, slots in zip(placement.chunk_positions, placement.chunk_slots, strict=True):
        witnesses = [padding_witness if slot is None else accounts[slot].witness for slot in slots]
        jobs.append((system, witnesses, public, header.context(b"collateral-chunk", position), blindings))
    timings["placement"] = stage_clock() - started

    started = stage_clock()
    proven = run.map(_prove_chunk, jobs, progress=_reporter(progress, "collateral proofs (chunks)", len(jobs)))
    timings["chunk_proofs"] = stage_clock() - started

    started = stage_clock()
    account_keys: dict[int, bytes] = {}
    chunk_records: list[ChunkRecord] = []
    chunk_leaves: list[list[TreeNode]] = []
    chunk_position_sums: list[list] = []
    leaf_openings: list[list[tuple[tuple[int, int], ...]]] = []
    vector_blindings: list[int] = []
    for chunk, (position, slots) in enumerate(
        zip(placement.chunk_positions, placement.chunk_slots, strict=True)
    ):
        proof, commitments, openings = proven[chunk]
        id_hashes = []
        for slot, account in enumerate(slots):
            account_id = None if account is None else accounts[account].account_id
            if account is not None:
                account_keys[account] = account_key_of(blindings, accounts[account].account_id)
            id_hashes.append(slot_id_hash(blindings, epoch_id, position, slot, account_id))
        chunk_leaves.append(
            [
                make_leaf(id_hash, system.liabilities(c, public), system.encode_commitments(c))
                for id_hash, c in zip(id_hashes, commitments, strict=True)
            ]
        )
        positions = chunk_positions(system, public, commitments, openings, header.context(b"collateral-chunk",
                                                                                          position), blindings)
        vector_blindings.append(positions.vector_blinding)
        chunk_position_sums.append([positions.proof.vector])
        leaf_openings.append([system.liability_openings(o, public) for o in openings])
        chunk_records.append(ChunkRecord(position, tuple(id_hashes), tuple(commitments), proof,
                                         positions.proof.to_bytes()))

    assets = header.asset_count

    def padding_source(level: int, index: int) -> tuple[TreeNode, PaddingOpening]:
        return padding_node(blindings, epoch_id, assets, level, index)

    tree = build_sum_tree(
        config, placement.chunk_positions, chunk_leaves, chunk_position_sums, padding_source,
        leaf_openings=leaf_openings,
    )
    timings["tree_build"] = stage_clock() - started

    # Refuse early (before the node proofs, the bulk of the close) when a root statement is false.
    # β opens the root's position vector: every chunk's vector blinding and every padding node's.
    betas = (matched_book_blinding(vector_blindings,
                                   [b for _, position_blindings in tree.padding.values() for b in position_blindings]),)
    root_opening = tree.openings[(config.height, 0)]
    totals = tuple(value for value, _ in root_opening)
    root_blindings = tuple(blinding for _, blinding in root_opening)
    require_solvent(header.reserve_totals, totals, reserves.asset_ids)

    started = stage_clock()
    upper = tree.upper_positions()
    levels = band_levels(assets)
    groups_of = group_positions(upper, config.chunk_bits, config.height, levels)
    node_jobs = [group_job(header, anchor, [tree.openings[pos] for pos in members], members)
                 for anchor, members in groups_of.items()]
    tasks = [(blindings, node_jobs[i : i + NODE_PROOF_GROUP]) for i in range(0, len(node_jobs), NODE_PROOF_GROUP)]
    node_proofs = dict(
        zip(groups_of, (proof for task in run.map(_prove_nodes, tasks,
                                                  progress=_reporter(progress, "node range proofs (groups)",
                                                                     len(tasks)))
                        for proof in task), strict=True)
    )
    timings["node_proofs"] = stage_clock() - started

    started = stage_clock()
    solvency = prove_solvency(header.reserve_totals, totals, root_blindings, header.context(b"solvency"),
                              asset_ids=reserves.asset_ids,
                              nonces=blindings.nonces(header.context(b"solvency"), *totals, *root_blindings))
    bundle = PublicBundle(header, tree.root, betas, solvency, reserves)
    upper_nodes = {pos: tree.nodes[pos] for pos in upper}
    upper_nodes[(config.height, 0)] = tree.root
    audit = AuditData(
        header_digest,
        tuple(chunk_records),
        upper_nodes,
        node_proofs,
        dict(tree.padding),
    )
    timings["root_statements"] = stage_clock() - started

    started = stage_clock()
    receipts = {}
    c = config.chunk_bits
    for chunk, slots in enumerate(placement.chunk_slots):
        for slot, account in enumerate(slots):
            if account is None:
                continue
            leaf_index = placement.leaf_index(chunk, slot)
            positions = [(level, (leaf_index >> level) ^ 1) for level in range(c, config.height)]
            anchors = receipt_anchors(leaf_index, c, config.height, levels)
            receipts[accounts[account].account_id] = Receipt(
                epoch_id=epoch_id,
                header_digest=header_digest,
                account_id=accounts[account].account_id,
                account_key=account_keys[account],
                leaf_index=leaf_index,
                opening=proven[chunk][2][slot],
                chunk=chunk_records[chunk],
                upper_siblings=tuple(tree.nodes[pos] for pos in positions),
                group_proofs=tuple(node_proofs[anchor] for anchor in anchors),
                group_extras=tuple(
                    tuple((pos, tree.nodes[pos].liabilities)
                          for pos in receipt_extras(groups_of[anchor], leaf_index)) for anchor in anchors),
            )
    timings["receipts"] = stage_clock() - started
    return EpochArtifacts(bundle, audit, receipts, tree, root_opening, timings)
