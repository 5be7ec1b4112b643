"""Participant verification of a receipt against the public bundle, and the crowd audit.

:func:`verify_receipt` checks, in this order (each failure is a VerificationError whose ``reason`` is
given in brackets):

1. the receipt is for the bundle's epoch [receipt-epoch-mismatch] and the public data is the one the
   header binds [public-data-mismatch]; the receipt has one sibling per level c..H-1 [receipt-malformed];
2. the leaf at the receipt's index carries the participant's salted id hash [leaf-mismatch];
3. the opening matches that leaf's commitments [opening-mismatch] and, if given, the values the
   participant expects [account-values-mismatch];
4. the chunk root, then the path of sums and hashes, reach the bundle's root [path-root-mismatch];
5. in one batch: the chunk's collateralization proof [chunk-collateral-proof] and every sibling's
   range proof [sibling-range-proof, index = level].

:func:`crowd_audit` lets a participant check ``k`` further chunks chosen with local randomness (the
operator cannot predict them) from the audit data: chunk root, path to the root, chunk proof and
the path's node proofs.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zkclear.bundle.model import AuditData, PublicBundle
from zkclear.errors import VerificationError
from zkclear.proofs.chunks import ChunkProofSystem, default_chunk_system
from zkclear.proofs.statements import chunk_root, chunk_statements, node_statement, verify_named
from zkclear.tree.receipts import Receipt
from zkclear.tree.sum_tree import account_id_hash, combine_level, fold_path


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """What a participant learned from a verified receipt (their own values only)."""

    epoch_id: int
    leaf_index: int
    liability: int
    cash: int
    positions: tuple[int, ...]


def verify_receipt(
    bundle: PublicBundle,
    receipt: Receipt,
    public: Any,
    *,
    chunk_system: ChunkProofSystem | None = None,
    expected_cash: int | None = None,
    expected_positions: Sequence[int] | None = None,
) -> ReceiptCheck:
    """Verify one receipt; returns the participant's own values. Raises VerificationError (see module doc)."""
    system = chunk_system or default_chunk_system()
    header = bundle.header
    config = header.tree
    c, height = config.chunk_bits, config.height
    if receipt.header_digest != header.digest() or receipt.epoch_id != header.epoch_id:
        raise VerificationError("receipt-epoch-mismatch")
    if (system.public_digest(public) != header.public_data_digest
            or system.equity_bits(public) != header.equity_bits
            or system.instrument_count(public) != header.instrument_count):
        raise VerificationError("public-data-mismatch")
    if (
        len(receipt.upper_siblings) != height - c
        or len(receipt.sibling_proofs) != height - c
        or not 0 <= receipt.leaf_index < 1 << height
    ):
        raise VerificationError("receipt-malformed")

    chunk = receipt.chunk
    slot = receipt.leaf_index & (config.chunk_size - 1)
    if chunk.position != receipt.leaf_index >> c or len(chunk.accounts) != config.chunk_size:
        raise VerificationError("leaf-mismatch")
    if chunk.id_hashes[slot] != account_id_hash(receipt.account_id, receipt.salt):
        raise VerificationError("leaf-mismatch")
    if not system.opening_matches(receipt.opening, chunk.accounts[slot]):
        raise VerificationError("opening-mismatch")
    cash, positions = system.opening_values(receipt.opening)
    if (expected_cash is not None and cash != expected_cash) or (
        expected_positions is not None and tuple(positions) != tuple(expected_positions)
    ):
        raise VerificationError("account-values-mismatch")

    root = fold_path(
        chunk_root(system, chunk, public, config.chunk_size),
        chunk.position,
        receipt.upper_siblings,
        start_level=c,
    )
    if root.digest != bundle.root.digest or root.encoded != bundle.root.encoded:
        raise VerificationError("path-root-mismatch")

    named = [
        ("chunk-collateral-proof", chunk.position, s) for s in chunk_statements(system, header, chunk, public)
    ]
    for offset, (sibling, proof) in enumerate(
        zip(receipt.upper_siblings, receipt.sibling_proofs, strict=True)
    ):
        level = c + offset
        index = (receipt.leaf_index >> level) ^ 1
        named.append(
            (
                "sibling-range-proof",
                level,
                node_statement(header, level, index, sibling, proof, "sibling-range-proof"),
            )
        )
    # One batch: the participant's whole check is a single multi-scalar multiplication.
    verify_named(named, batch=len(named))
    liability, _ = system.liability_opening(receipt.opening, public)
    return ReceiptCheck(header.epoch_id, receipt.leaf_index, liability, cash, tuple(positions))


def verify_chunk_path(
    bundle: PublicBundle, audit: AuditData, chunk_number: int, public: Any, system: ChunkProofSystem
) -> list:
    """Check chunk ``chunk_number`` of the audit data up to the root; return its named statements."""
    header = bundle.header
    c, height = header.tree.chunk_bits, header.tree.height
    chunk = audit.chunks[chunk_number]
    node = chunk_root(system, chunk, public, header.tree.chunk_size)
    if audit.upper_nodes.get((c, chunk.position)) != node:
        raise VerificationError("chunk-root-mismatch", index=chunk_number)
    named = [
        ("chunk-collateral-proof", chunk_number, s) for s in chunk_statements(system, header, chunk, public)
    ]
    index = chunk.position
    for level in range(c, height):
        sibling_pos = (level, index ^ 1)
        sibling = audit.upper_nodes.get(sibling_pos)
        if sibling is None:
            raise VerificationError("audit-structure", index=level)
        named.append(
            (
                "node-range-proof",
                level,
                node_statement(
                    header, level, index ^ 1, sibling, audit.node_proofs.get(sibling_pos), "node-range-proof"
                ),
            )
        )
        left, right = (sibling, node) if index & 1 else (node, sibling)
        node = combine_level(level + 1, [(left, right)])[0]
        index >>= 1
        if audit.upper_nodes.get((level + 1, index)) != node:
            raise VerificationError("path-root-mismatch", index=level + 1)
    if node.digest != bundle.root.digest or node.encoded != bundle.root.encoded:
        raise VerificationError("path-root-mismatch", index=height)
    return named


def crowd_audit(
    bundle: PublicBundle,
    audit: AuditData,
    public: Any,
    k: int,
    *,
    chunk_system: ChunkProofSystem | None = None,
    rng: random.Random | None = None,
) -> list[int]:
    """Verify ``k`` chunks chosen with local randomness; returns the chunk numbers checked.

    The default ``rng`` is the OS CSPRNG, so the operator cannot predict the choice; with many
    participants each checking a few chunks, every chunk is checked with high probability.
    """
    system = chunk_system or default_chunk_system()
    if audit.header_digest != bundle.header.digest():
        raise VerificationError("audit-epoch-mismatch")
    chooser = rng or secrets.SystemRandom()
    picked = sorted(chooser.sample(range(len(audit.chunks)), min(k, len(audit.chunks))))
    named = []
    for chunk_number in picked:
        named.extend(verify_chunk_path(bundle, audit, chunk_number, public, system))
    verify_named(named, batch=max(1, len(named)))
    return picked
