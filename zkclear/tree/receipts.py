"""Private receipts: everything one participant needs to check their account in the epoch's tree.

A receipt is made for every account at epoch close (never on request: the operator must not
learn who checks — the "lazy-user" trap). It holds the account id and the account key its leaf salt is
derived from (:mod:`zkclear.tree.identity`), the openings of the account's commitments, its leaf index,
its whole chunk (the 2^c leaves' id hashes and commitments and
the chunk's collateralization proof, which proves every leaf of the chunk non-negative), and the
path above the chunk: one sibling per level c..H-1, and per band of levels (:mod:`zkclear.tree.node_groups`)
the range proof of the group of nodes the path crosses there, with the liabilities of the group's nodes that
are neither on the path nor siblings of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zkclear.crypto.group import G1Point
from zkclear.tree.sum_tree import Position, TreeNode

#: A group member a receipt carries for its group's statement: its position and liabilities.
ExtraNode = tuple[Position, tuple[G1Point, ...]]


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk (collateralization batch): its position among level-c nodes, each slot's salted id
    hash and account commitments (the chunk system's objects), the batch proof bytes and the chunk's position vector
    with its equality proof (:class:`zkclear.proofs.position_vector.PositionVectorProof` bytes)."""

    position: int
    id_hashes: tuple[bytes, ...]
    accounts: tuple[Any, ...]
    proof: bytes
    positions_proof: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """One account's private receipt (see the module docstring). ``opening`` is the chunk system's
    opening object of the account's commitments (values and blindings)."""

    epoch_id: int
    header_digest: bytes
    account_id: str
    account_key: bytes
    leaf_index: int
    opening: Any
    chunk: ChunkRecord
    upper_siblings: tuple[TreeNode, ...]
    group_proofs: tuple[bytes, ...]  #: one per band, bottom band first
    group_extras: tuple[tuple[ExtraNode, ...], ...]  #: per band, (level, index) order

    def __repr__(self) -> str:
        return f"Receipt(epoch={self.epoch_id}, leaf={self.leaf_index}, <private>)"
