"""Range statements of an epoch (node proofs, chunk proofs, solvency) and their batch verification.

Every statement is verified in batches (one multi-scalar multiplication per batch, Bulletproofs
batch verification); a failing batch is re-checked statement by statement so that the error names
what failed: ``VerificationError(reason, index=...)`` with the reason the caller attached to the
statement (``sibling-range-proof``, ``node-range-proof``, ``chunk-collateral-proof``,
``solvency-proof``) and its index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provers.bulletproofs import batch_verify
from provers.bulletproofs_pp import BppRangeProof, BppRangeStatement
from zkclear.crypto.group import G1Point
from zkclear.errors import EncodingError, VerificationError
from zkclear.executor import Executor, SerialExecutor
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.header import EpochHeader
from zkclear.proofs.position_vector import (
    PositionVectorCheck,
    PositionVectorProof,
    verify_position_vector,
    verify_position_vectors,
)
from zkclear.tree.node_groups import group_bits, group_context_indices
from zkclear.tree.receipts import ChunkRecord
from zkclear.tree.sum_tree import Position, TreeNode, chunk_levels, make_leaf, sum_points

#: A statement with the name and index an error will carry.
Named = tuple[str, int, Any]

#: Statements per batch handed to one executor task.
BATCH = 64


def node_group_statement(
    header: EpochHeader, anchor: Position, members: Sequence[tuple[Position, Sequence[G1Point]]], proof: bytes | None,
    reason: str,
) -> BppRangeStatement:
    """The statement "every node of the group anchored at ``anchor`` commits to a value in [0, 2^n) for every
    asset" for this epoch (docs/protocol.md "Node proof groups": one aggregated Bulletproofs++ range proof over
    the members' liabilities, member by member in (level, index) order, asset by asset). ``members`` are
    ``(position, liabilities)`` in that order; the caller has checked that they are the group's nodes."""
    level, index = anchor
    if proof is None:
        raise VerificationError(reason, index=level,
                                detail=f"the group of tree nodes anchored at level {level}, index {index} has no "
                                       "range proof")
    if not members:
        raise VerificationError(reason, index=level,
                                detail=f"the group of tree nodes anchored at level {level}, index {index} has no "
                                       "node")
    commitments: list[G1Point] = []
    for (member_level, member_index), liabilities in members:
        if len(liabilities) != header.asset_count:
            raise VerificationError(reason, index=level,
                                    detail=f"the tree node at level {member_level}, index {member_index} carries "
                                           f"{len(liabilities)} liabilities, the epoch has {header.asset_count} "
                                           "assets")
        commitments.extend(liabilities)
    n_bits = group_bits(level, header.equity_bits)
    try:
        decoded = BppRangeProof.from_bytes(proof, m=len(commitments), n_bits=n_bits)
    except EncodingError as exc:
        raise VerificationError(reason, index=level,
                                detail=f"the range proof of the tree nodes anchored at level {level}, index {index} "
                                       f"does not decode ({exc})") from exc
    context = header.context(b"tree-node-group", *group_context_indices(anchor, [pos for pos, _ in members]))
    return BppRangeStatement(decoded, tuple(commitments), n_bits, context)


def chunk_context(header: EpochHeader, position: int) -> bytes:
    return header.context(b"collateral-chunk", position)


def chunk_statements(system: ChunkProofSystem, header: EpochHeader, chunk: ChunkRecord, public: Any,
                     encoded: Sequence[bytes] | None = None) -> list:
    """The collateral batch's range statements (VerificationError "chunk-collateral-proof" if undecodable).
    ``encoded``: the accounts' encodings as :func:`chunk_root_unchecked` computed them from these very accounts
    (so they are not encoded twice)."""
    context = chunk_context(header, chunk.position)
    try:
        if encoded is None:
            return system.statements(chunk.proof, list(chunk.accounts), public, context)
        return system.statements(chunk.proof, list(chunk.accounts), public, context, encoded=encoded)
    except (VerificationError, EncodingError) as exc:
        raise VerificationError("chunk-collateral-proof", index=chunk.position,
                                detail=f"the collateralization proof of chunk {chunk.position} is malformed "
                                       f"({exc})") from exc


def chunk_root(system: ChunkProofSystem, header: EpochHeader, chunk: ChunkRecord, public: Any) -> TreeNode:
    """Recompute a chunk's root (liability sum, digest) from its leaves, with the chunk's position vector once its
    equality proof checks against the sums of the leaves' position commitments [chunk-position-vector]."""
    node, check, _ = chunk_root_unchecked(system, header, chunk, public)
    if not verify_position_vector(check.context, check.sums, check.proof):
        raise position_vector_failure(chunk.position)
    return node


def position_vector_failure(position: int) -> VerificationError:
    """The error of a chunk whose position vector's equality proof does not verify."""
    return VerificationError("chunk-position-vector", index=position,
                             detail=f"the position vector of chunk {position} is not proven to commit to its "
                                    "accounts' positions: the matched book might not count them")


def check_position_vectors(pending: Sequence[tuple[int, PositionVectorCheck]]) -> None:
    """Check the equality proofs of the chunks (position, check) together (one MSM, random weights); if that
    fails, one by one in the given order, raising the first failure [chunk-position-vector]."""
    if verify_position_vectors([check for _, check in pending]):
        return
    for position, check in pending:
        if not verify_position_vector(check.context, check.sums, check.proof):
            raise position_vector_failure(position)
    # each passed alone, the batch failed: only with probability ≤ 2^-128 per check
    raise VerificationError("chunk-position-vector", detail="the chunks' position vectors do not verify together")


def chunk_root_unchecked(system: ChunkProofSystem, header: EpochHeader, chunk: ChunkRecord,
                         public: Any) -> tuple[TreeNode, PositionVectorCheck, tuple[bytes, ...]]:
    """:func:`chunk_root` with the equality proof of the position vector decoded but not yet checked: the root,
    what :func:`check_position_vectors` must accept before the root is used, and the accounts' encodings (the
    leaves' bytes, which :func:`chunk_statements` can reuse)."""
    chunk_size = header.tree.chunk_size
    if len(chunk.id_hashes) != chunk_size or len(chunk.accounts) != chunk_size:
        raise VerificationError("chunk-size-mismatch", index=chunk.position,
                                detail=f"chunk {chunk.position} has {len(chunk.accounts)} accounts, "
                                       f"the header says {chunk_size}")
    for account in chunk.accounts:
        try:
            system.check_shape(account, public)
        except VerificationError as exc:
            raise VerificationError("account-shape", index=chunk.position,
                                    detail=f"chunk {chunk.position}: {exc.detail}") from None
    encoded = tuple(system.encode_commitments(account) for account in chunk.accounts)
    leaves = [
        make_leaf(id_hash, system.liabilities(account, public), data)
        for id_hash, account, data in zip(chunk.id_hashes, chunk.accounts, encoded, strict=True)
    ]
    sums = sum_points([system.position_commitments(account) for account in chunk.accounts],
                      system.instrument_count(public))
    try:
        proof = PositionVectorProof.from_bytes(chunk.positions_proof, len(sums))
    except EncodingError as exc:
        raise VerificationError("chunk-position-vector", index=chunk.position,
                                detail=f"the position vector of chunk {chunk.position} does not decode ({exc})"
                                ) from None
    check = PositionVectorCheck(chunk_context(header, chunk.position), tuple(sums), proof)
    return chunk_levels(leaves)[-1][0].with_positions((proof.vector,)), check, encoded


def _first_failure(statements: list) -> int | None:
    try:
        batch_verify(statements)
        return None
    except VerificationError:
        pass
    try:
        batch_verify(statements, identify_failure=True)
    except VerificationError as exc:
        return exc.index if exc.index is not None else 0
    return 0


def verify_named(named: Sequence[Named], executor: Executor | None = None, *, batch: int = BATCH) -> None:
    """Batch-verify (reason, index, statement) triples; raise the first failure's named error."""
    items = list(named)
    groups = [items[i : i + batch] for i in range(0, len(items), batch)]
    run = executor or SerialExecutor()
    results = run.map(_first_failure, [[statement for _, _, statement in group] for group in groups])
    for group, failure in zip(groups, results, strict=True):
        if failure is not None:
            reason, index, _ = group[failure]
            template = _FAILURES.get(reason, "the proof {reason} (item {index}) does not verify")
            raise VerificationError(reason, index=index, detail=template.format(reason=reason, index=index))


#: What a failed proof of each kind means, in words a participant understands.
_FAILURES = {
    "chunk-collateral-proof": "the collateralization proof of chunk {index} does not verify: an account in that "
                              "chunk may be below its maintenance margin, or its commitments were altered",
    "node-range-proof": "the range proof of a group of tree nodes anchored at level {index} does not verify: a node "
                        "of that group may hide a negative balance that lowers the total",
    "sibling-range-proof": "the range proof of the tree nodes your path crosses below level {index} (your path and "
                           "its siblings there) does not verify: one of them may hide a negative balance that lowers "
                           "the total",
    "solvency-proof": "the solvency proof does not verify: the reserves may not cover the total liabilities",
}
