"""The sparse Merkle sum tree of Pedersen commitments (DAPOL+-style).

Every node is a pair (commitment, digest). Definitions (docs/protocol.md, "Merkle sum tree"),
all hashes SHA-256, ``enc(C)`` the 48-byte compressed point, ``u8``/``u32`` big-endian:

- ``id_hash   = SHA256("zkclear/tree/account-id/v1"   || u32(len(salt)) || salt || utf8(account_id))``
- ``leaf      = (C_liab, SHA256("zkclear/tree/leaf/v1" || id_hash || enc(C_liab) || SHA256(account_bytes)))``
  where ``C_liab`` is the account's liability (equity) commitment and ``account_bytes`` the
  canonical encoding of all its commitments (cash, positions, margin witnesses);
- ``node(l)   = (C_L + C_R, SHA256("zkclear/tree/node/v1" || u8(l) || enc(C_L) || h_L || enc(C_R) || h_R))``
  for a node at level ``l`` (leaves are level 0, the root is level H);
- ``padding   = (0·G + r·H, SHA256("zkclear/tree/padding-node/v1" || seed))`` with r and seed
  derived from the operator's blinding secret: without the secret it is indistinguishable from a
  real node.

Only the nodes on populated paths and their siblings exist; every missing sibling at or above the
chunk level is a padding node.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from zkclear.crypto.field import R
from zkclear.crypto.group import G1Point, batch_affine, encode_affine
from zkclear.errors import ProvingError
from zkclear.tree.placement import TreeConfig

DOMAIN_ACCOUNT_ID = b"zkclear/tree/account-id/v1"
DOMAIN_LEAF = b"zkclear/tree/leaf/v1"
DOMAIN_NODE = b"zkclear/tree/node/v1"
DOMAIN_PADDING = b"zkclear/tree/padding-node/v1"

Position = tuple[int, int]  # (level, index); leaves are level 0


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A node of the sum tree: its liability commitment, that commitment's encoding, its digest."""

    commitment: G1Point
    encoded: bytes
    digest: bytes

    @classmethod
    def of(cls, commitment: G1Point, digest: bytes) -> TreeNode:
        return cls(commitment, commitment.to_bytes(), digest)


def account_id_hash(account_id: str, salt: bytes) -> bytes:
    """The salted hash that lets a participant recognize their leaf and hides the id from others."""
    return hashlib.sha256(
        DOMAIN_ACCOUNT_ID + struct.pack(">I", len(salt)) + salt + account_id.encode("utf-8")
    ).digest()


def leaf_digest(id_hash: bytes, liability_encoded: bytes, account_bytes: bytes) -> bytes:
    """The digest of a leaf: binds the account (salted id hash) and all of its commitments."""
    return hashlib.sha256(
        DOMAIN_LEAF + id_hash + liability_encoded + hashlib.sha256(account_bytes).digest()
    ).digest()


def make_leaf(id_hash: bytes, liability: G1Point, account_bytes: bytes) -> TreeNode:
    encoded = liability.to_bytes()
    return TreeNode(liability, encoded, leaf_digest(id_hash, encoded, account_bytes))


def node_digest(level: int, left: TreeNode, right: TreeNode) -> bytes:
    """The digest of the node at ``level`` with these children."""
    return hashlib.sha256(
        DOMAIN_NODE + bytes([level]) + left.encoded + left.digest + right.encoded + right.digest
    ).digest()


def padding_digest(seed: bytes) -> bytes:
    return hashlib.sha256(DOMAIN_PADDING + seed).digest()


def combine_level(level: int, pairs: Sequence[tuple[TreeNode, TreeNode]]) -> list[TreeNode]:
    """Parents (at ``level``) of many (left, right) child pairs, with one batch point normalization."""
    sums = [left.commitment + right.commitment for left, right in pairs]
    encodings = [encode_affine(xy) for xy in batch_affine(sums)]
    return [
        TreeNode(total, encoded, node_digest(level, left, right))
        for total, encoded, (left, right) in zip(sums, encodings, pairs, strict=True)
    ]


def chunk_levels(leaves: Sequence[TreeNode]) -> list[list[TreeNode]]:
    """All levels of one chunk's dense subtree, leaves first; the last level is [chunk root]."""
    levels = [list(leaves)]
    level = 0
    while len(levels[-1]) > 1:
        level += 1
        below = levels[-1]
        levels.append(combine_level(level, [(below[i], below[i + 1]) for i in range(0, len(below), 2)]))
    return levels


def fold_path(
    leaf: TreeNode, leaf_index: int, siblings: Sequence[TreeNode], *, start_level: int = 0
) -> TreeNode:
    """The root reached from ``leaf`` (at ``start_level``) and its siblings, one per level upward."""
    node = leaf
    index = leaf_index
    for offset, sibling in enumerate(siblings):
        level = start_level + offset + 1
        left, right = (sibling, node) if index & 1 else (node, sibling)
        node = combine_level(level, [(left, right)])[0]
        index >>= 1
    return node


PaddingSource = Callable[[int, int], tuple[TreeNode, int]]


@dataclass(slots=True)
class SumTree:
    """A built tree. ``nodes`` holds every materialized node (chunk subtrees, populated upper
    nodes, padding nodes); ``padding`` maps each upper padding position to its blinding (zero
    value); ``openings`` maps positions to (value, blinding) where the builder knew them."""

    config: TreeConfig
    chunk_positions: tuple[int, ...]
    nodes: dict[Position, TreeNode]
    padding: dict[Position, int]
    openings: dict[Position, tuple[int, int]] = field(default_factory=dict)

    @property
    def root(self) -> TreeNode:
        return self.nodes[(self.config.height, 0)]

    def siblings(self, leaf_index: int) -> list[TreeNode]:
        """The inclusion path of a leaf: its sibling at every level 0..H-1."""
        return [self.nodes[(level, (leaf_index >> level) ^ 1)] for level in range(self.config.height)]

    def upper_positions(self) -> list[Position]:
        """Every materialized node at levels c..H-1 (the ones that carry their own range proof)."""
        c, height = self.config.chunk_bits, self.config.height
        return sorted((pos for pos in self.nodes if c <= pos[0] < height), key=lambda p: (p[0], p[1]))


def build_sum_tree(
    config: TreeConfig,
    chunk_positions: Sequence[int],
    chunk_leaves: Sequence[Sequence[TreeNode]],
    padding_source: PaddingSource,
    *,
    leaf_openings: Sequence[Sequence[tuple[int, int]]] | None = None,
) -> SumTree:
    """Build the tree from each chunk's 2^c leaves and its position among level-c nodes.

    ``padding_source(level, index)`` returns (node, blinding) for a padding node; the builder asks
    for exactly the missing siblings on the populated paths, lowest level first, left to right.
    With ``leaf_openings`` the tree also carries every node's opening (operator side).
    """
    c, height = config.chunk_bits, config.height
    if len(chunk_positions) != len(chunk_leaves):
        raise ValueError("one position per chunk is required")
    nodes: dict[Position, TreeNode] = {}
    openings: dict[Position, tuple[int, int]] = {}
    padding: dict[Position, int] = {}
    level_nodes: dict[int, TreeNode] = {}
    for chunk, (position, leaves) in enumerate(zip(chunk_positions, chunk_leaves, strict=True)):
        if len(leaves) != config.chunk_size:
            raise ProvingError(f"chunk {chunk} has {len(leaves)} leaves, expected {config.chunk_size}")
        if position in level_nodes or not 0 <= position < 1 << config.upper_height:
            raise ProvingError(f"chunk {chunk}: position {position} is taken or outside the tree")
        for level, row in enumerate(chunk_levels(leaves)):
            base = position << (c - level)
            for offset, node in enumerate(row):
                nodes[(level, base + offset)] = node
        level_nodes[position] = nodes[(c, position)]
        if leaf_openings is not None:
            row_open = list(leaf_openings[chunk])
            for level in range(c + 1):
                base = position << (c - level)
                for offset, opening in enumerate(row_open):
                    openings[(level, base + offset)] = opening
                row_open = [
                    _add_openings(row_open[i], row_open[i + 1]) for i in range(0, len(row_open) - 1, 2)
                ]

    for level in range(c, height):
        for index in sorted(level_nodes):
            sibling = index ^ 1
            if sibling not in level_nodes:
                node, blinding = padding_source(level, sibling)
                level_nodes[sibling] = node
                nodes[(level, sibling)] = node
                padding[(level, sibling)] = blinding
                if leaf_openings is not None:
                    openings[(level, sibling)] = (0, blinding)
        parent_indices = sorted({index >> 1 for index in level_nodes})
        parents = combine_level(
            level + 1, [(level_nodes[2 * p], level_nodes[2 * p + 1]) for p in parent_indices]
        )
        level_nodes = dict(zip(parent_indices, parents, strict=True))
        for p, node in level_nodes.items():
            nodes[(level + 1, p)] = node
            if leaf_openings is not None:
                openings[(level + 1, p)] = _add_openings(
                    openings[(level, 2 * p)], openings[(level, 2 * p + 1)]
                )
    return SumTree(
        config=config, chunk_positions=tuple(chunk_positions), nodes=nodes, padding=padding, openings=openings
    )


def _add_openings(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return (a[0] + b[0], (a[1] + b[1]) % R)
