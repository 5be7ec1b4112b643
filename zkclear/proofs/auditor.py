"""The full audit of an epoch from its public bundle and audit data (docs/protocol.md, "Audit").

Checks, each failure a VerificationError with the reason in brackets:

1. bindings: the audit data and public data belong to the header [audit-epoch-mismatch,
   public-data-mismatch]; the reserves list is the one the header binds [reserves-mismatch]; the
   header follows the previous epoch when given [epoch-chain-broken];
2. reserve attestations: one valid signature per reserve address over the epoch's message
   [reserve-attestation];
3. the number of chunks is one the header's padding policy produces [chunk-count-policy]; the tree,
   rebuilt from the chunks' leaves: every chunk root [chunk-root-mismatch], every missing
   sibling on a populated path is a published padding node [padding-node-missing] that commits to
   zero [padding-node-nonzero], every published node is the sum [node-sum-mismatch] and hash
   [node-hash-mismatch] of its children, nothing else is published [audit-structure], and the rebuilt
   root is the bundle's [root-mismatch];
4. every node range proof at levels c..H-1 [node-range-proof], every chunk's collateralization proof
   [chunk-collateral-proof], and the solvency proof [solvency-proof], batch-verified;
5. the matched book from every leaf's position commitments [matched-book];
6. when disclosed, the total liabilities' opening [total-liabilities-opening].
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from zkclear.bundle.model import AuditData, PublicBundle
from zkclear.crypto.pedersen import commit
from zkclear.errors import VerificationError
from zkclear.executor import Executor, get_executor
from zkclear.proofs.attestations import verify_attestations
from zkclear.proofs.chunks import ChunkProofSystem, default_chunk_system
from zkclear.proofs.header import ChainLink, check_chain
from zkclear.proofs.matched_book import verify_matched_book
from zkclear.proofs.solvency import check_total_opening, solvency_statement
from zkclear.proofs.statements import chunk_root, chunk_statements, node_statement, verify_named
from zkclear.tree.sum_tree import Position, TreeNode, combine_level


@dataclass(frozen=True, slots=True)
class AuditReport:
    """A passed audit: sizes checked, the attested reserves, the disclosed total (or None)."""

    epoch_id: int
    chunks: int
    leaves: int
    upper_nodes: int
    reserves_total: int
    total_liabilities: int | None
    timings: dict[str, float] = field(default_factory=dict)


def rebuild_upper_tree(
    bundle: PublicBundle, audit: AuditData, chunk_roots: dict[int, TreeNode]
) -> set[Position]:
    """Check the published upper tree against the chunk roots and padding nodes; return the
    positions visited (VerificationError on the first inconsistency)."""
    config = bundle.header.tree
    c, height = config.chunk_bits, config.height
    visited: set[Position] = set()
    padding_seen: set[Position] = set()
    level_nodes = dict(chunk_roots)
    for index, node in level_nodes.items():
        if audit.upper_nodes.get((c, index)) != node:
            raise VerificationError("chunk-root-mismatch", index=index)
        visited.add((c, index))
    for level in range(c, height):
        for index in sorted(level_nodes):
            sibling = index ^ 1
            if sibling in level_nodes:
                continue
            pos = (level, sibling)
            if pos not in audit.padding or pos not in audit.upper_nodes:
                raise VerificationError("padding-node-missing", index=level)
            node = audit.upper_nodes[pos]
            if node.commitment != commit(0, audit.padding[pos]):
                raise VerificationError("padding-node-nonzero", index=level)
            level_nodes[sibling] = node
            visited.add(pos)
            padding_seen.add(pos)
        parent_indices = sorted({index >> 1 for index in level_nodes})
        parents = combine_level(
            level + 1, [(level_nodes[2 * p], level_nodes[2 * p + 1]) for p in parent_indices]
        )
        for p, node in zip(parent_indices, parents, strict=True):
            published = audit.upper_nodes.get((level + 1, p))
            if published is None:
                raise VerificationError("audit-structure", index=level + 1)
            if published.encoded != node.encoded:
                raise VerificationError("node-sum-mismatch", index=level + 1)
            if published.digest != node.digest:
                raise VerificationError("node-hash-mismatch", index=level + 1)
            visited.add((level + 1, p))
        level_nodes = dict(zip(parent_indices, parents, strict=True))
    root = level_nodes[0]
    if root.digest != bundle.root.digest or root.encoded != bundle.root.encoded:
        raise VerificationError("root-mismatch")
    if visited != set(audit.upper_nodes) or padding_seen != set(audit.padding):
        raise VerificationError("audit-structure")
    return visited


def audit_epoch(
    bundle: PublicBundle,
    audit: AuditData,
    public: Any,
    *,
    chunk_system: ChunkProofSystem | None = None,
    previous: ChainLink | None = None,
    executor: Executor | None = None,
) -> AuditReport:
    """Run every check of the module docstring; returns the report or raises VerificationError.

    Proof batches fan out over ``executor`` (default: ``zkclear.executor.get_executor()``)."""
    system = chunk_system or default_chunk_system()
    run = executor or get_executor()
    header = bundle.header
    config = header.tree
    height = config.height
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if audit.header_digest != header.digest():
        raise VerificationError("audit-epoch-mismatch")
    if (
        system.public_digest(public) != header.public_data_digest
        or system.equity_bits(public) != header.equity_bits
        or system.instrument_count(public) != header.instrument_count
    ):
        raise VerificationError("public-data-mismatch")
    if bundle.reserves.digest() != header.reserves_digest or bundle.reserves.total != header.reserves_total:
        raise VerificationError("reserves-mismatch")
    if previous is not None:
        check_chain(previous, header)
    reserves_total = verify_attestations(bundle.reserves, bundle.attestations, bundle.attestation_message())
    timings["attestations"] = time.perf_counter() - started

    started = time.perf_counter()
    if not config.allows_chunk_count(len(audit.chunks)):
        # the chunk count must be one the padding policy produces (else the count of accounts leaks)
        raise VerificationError("chunk-count-policy")
    chunk_roots: dict[int, TreeNode] = {}
    for number, chunk in enumerate(audit.chunks):
        if chunk.position in chunk_roots or not 0 <= chunk.position < 1 << config.upper_height:
            raise VerificationError("audit-structure", index=number)
        chunk_roots[chunk.position] = chunk_root(system, chunk, public, config.chunk_size)
    rebuild_upper_tree(bundle, audit, chunk_roots)
    timings["tree"] = time.perf_counter() - started

    started = time.perf_counter()
    named = []
    for level, index in sorted(audit.upper_nodes):
        if level == height:
            continue
        named.append(
            (
                "node-range-proof",
                level,
                node_statement(
                    header,
                    level,
                    index,
                    audit.upper_nodes[(level, index)],
                    audit.node_proofs.get((level, index)),
                    "node-range-proof",
                ),
            )
        )
    if set(audit.node_proofs) != {pos for pos in audit.upper_nodes if pos[0] < height}:
        raise VerificationError("audit-structure")
    for number, chunk in enumerate(audit.chunks):
        named.extend(
            ("chunk-collateral-proof", number, s) for s in chunk_statements(system, header, chunk, public)
        )
    named.append(
        (
            "solvency-proof",
            0,
            solvency_statement(
                bundle.solvency_proof,
                header.reserves_total,
                bundle.root.commitment,
                header.context(b"solvency"),
            ),
        )
    )
    verify_named(named, run)
    timings["proofs"] = time.perf_counter() - started

    started = time.perf_counter()
    if len(bundle.matched_book) != header.instrument_count:
        raise VerificationError("matched-book")
    verify_matched_book(
        [system.position_commitments(account) for chunk in audit.chunks for account in chunk.accounts],
        bundle.matched_book,
    )
    total = None
    if audit.total_opening is not None:
        total, blinding = audit.total_opening
        check_total_opening(bundle.root.commitment, total, blinding, reserves_total)
    timings["matched_book"] = time.perf_counter() - started
    return AuditReport(
        header.epoch_id,
        len(audit.chunks),
        len(audit.chunks) * config.chunk_size,
        len(audit.upper_nodes),
        reserves_total,
        total,
        timings,
    )
