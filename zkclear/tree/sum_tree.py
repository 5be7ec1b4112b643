"""The sparse Merkle sum tree of Pedersen commitments (DAPOL+-style).

Every node is a pair (commitment, digest). Definitions (docs/protocol.md, "Merkle sum tree"),
all hashes SHA-256, ``enc(C)`` the 48-byte compressed point, ``u8``/``u32`` big-endian:

- ``id_hash`` is the leaf's salted account id hash (:mod:`zkclear.tree.identity`);
- every node carries one liability commitment per asset (settlement asset first; one in a single-asset epoch, the
  header fixes their number A), and ``enc(C)`` below is the concatenation of their encodings;
- ``leaf      = (C_liab, SHA256("zkclear/tree/leaf/v1" || id_hash || enc(C_liab) || SHA256(account_bytes)))``
  where ``C_liab`` are the account's liability commitments and ``account_bytes`` the canonical encoding of all
  its commitments (cash, positions, balances, witnesses);
- ``node(l)   = (C_L + C_R, SHA256("zkclear/tree/node/v1" || u8(l) || enc(C_L) || h_L || enc(C_R) || h_R))``
  for a node at level ``0 < l <= c`` inside a chunk (leaves are level 0, the root is level H);
- nodes at levels ``c..H`` also carry a **position vector** V, one commitment to the net position of their
  subtree in every instrument (``V = Σ_j X_j·G_j + ρ·H``, :mod:`zkclear.proofs.position_vector`; a chunk root's
  is the chunk's, proven to commit to the values of its accounts' position sums ``P_j = Σ C_{q_j}``) and, above
  the chunks, ``node(l) = (C_L + C_R, V_L + V_R, SHA256("zkclear/tree/node/v2" || u8(l) || enc(C_L) || p_L ||
  h_L || enc(C_R) || p_R || h_R))`` with ``p_X = SHA256("zkclear/tree/positions/v1" || u16(1) || enc(V_X))``:
  the root digest binds every node's position vector, so a participant who folds their path obtains the root's,
  which the matched book opens to zero;
- ``padding   = ((0·G + r_a·H)_a, (0·G + r_V·H), SHA256("zkclear/tree/padding-node/v1" || seed))`` with r_a,
  r_V and seed derived from the operator's blinding secret: without the secret it is indistinguishable from a
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
from zkclear.crypto.group import G1Point, batch_affine, encode_affine, encode_many
from zkclear.errors import ProvingError
from zkclear.tree.placement import TreeConfig

DOMAIN_LEAF = b"zkclear/tree/leaf/v1"
DOMAIN_NODE = b"zkclear/tree/node/v1"
DOMAIN_UPPER_NODE = b"zkclear/tree/node/v2"
DOMAIN_POSITIONS = b"zkclear/tree/positions/v1"
DOMAIN_PADDING = b"zkclear/tree/padding-node/v1"

Position = tuple[int, int]  # (level, index); leaves are level 0
#: Points of the position data a node at the chunk level or above carries: its position vector (one point,
#: whatever the number of instruments).
POSITION_POINTS = 1


def _liabilities(value: G1Point | Sequence[G1Point]) -> tuple[G1Point, ...]:
    return (value,) if isinstance(value, G1Point) else tuple(value)


def encode_points(points: Sequence[G1Point]) -> bytes:
    """The concatenated 48-byte encodings of ``points`` (one field inversion for all of them)."""
    return b"".join(encode_many(list(points)))


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A node of the sum tree: its liability commitments (one per asset, settlement asset first), their
    concatenated encodings, its digest and, at the chunk level and above, its position sums (one commitment per
    instrument) and their encodings."""

    liabilities: tuple[G1Point, ...]
    encoded: bytes
    digest: bytes
    positions: tuple[G1Point, ...] | None = None
    positions_encoded: bytes | None = None

    @classmethod
    def of(cls, liabilities: G1Point | Sequence[G1Point], digest: bytes,
           positions: Sequence[G1Point] | None = None) -> TreeNode:
        """A node from its liability commitment(s) (one point: a single-asset node), digest and position sums."""
        points = _liabilities(liabilities)
        if positions is None:
            return cls(points, encode_points(points), digest)
        return cls(points, encode_points(points), digest, tuple(positions), encode_points(list(positions)))

    def with_positions(self, positions: Sequence[G1Point]) -> TreeNode:
        """This node carrying the position sums ``positions`` (a chunk root)."""
        return TreeNode(self.liabilities, self.encoded, self.digest, tuple(positions), encode_points(list(positions)))

    def positions_digest(self) -> bytes:
        """``p = SHA256("zkclear/tree/positions/v1" || u16(n) || enc(P_1) || ... || enc(P_n))``."""
        if self.positions is None or self.positions_encoded is None:
            raise ValueError("this node carries no position sums")
        return hashlib.sha256(
            DOMAIN_POSITIONS + struct.pack(">H", len(self.positions)) + self.positions_encoded
        ).digest()


def sum_points(rows: Sequence[Sequence[G1Point]], count: int) -> list[G1Point]:
    """Column sums of ``rows`` (each of ``count`` points)."""
    totals = [G1Point.identity()] * count
    for row in rows:
        if len(row) != count:
            raise ValueError(f"expected {count} position commitments, got {len(row)}")
        totals = [total + point for total, point in zip(totals, row, strict=True)]
    return totals


def leaf_digest(id_hash: bytes, liability_encoded: bytes, account_bytes: bytes) -> bytes:
    """The digest of a leaf: binds the account (salted id hash) and all of its commitments."""
    return hashlib.sha256(
        DOMAIN_LEAF + id_hash + liability_encoded + hashlib.sha256(account_bytes).digest()
    ).digest()


def make_leaf(id_hash: bytes, liabilities: G1Point | Sequence[G1Point], account_bytes: bytes) -> TreeNode:
    """The leaf of an account: its liability commitment(s) and the digest binding its id hash and commitments."""
    points = _liabilities(liabilities)
    encoded = encode_points(points)
    return TreeNode(points, encoded, leaf_digest(id_hash, encoded, account_bytes))


def padding_digest(seed: bytes) -> bytes:
    return hashlib.sha256(DOMAIN_PADDING + seed).digest()


def node_digest(level: int, left: TreeNode, right: TreeNode) -> bytes:
    """The digest of the node at ``level`` with these children (v2, binding the position sums, when the
    children are chunk roots or above)."""
    if left.positions is None and right.positions is None:
        return hashlib.sha256(
            DOMAIN_NODE + bytes([level]) + left.encoded + left.digest + right.encoded + right.digest
        ).digest()
    if left.positions is None or right.positions is None or len(left.positions) != len(right.positions):
        raise ValueError(f"level {level}: children carry different position sums")
    return hashlib.sha256(
        DOMAIN_UPPER_NODE + bytes([level]) + left.encoded + left.positions_digest() + left.digest
        + right.encoded + right.positions_digest() + right.digest
    ).digest()


def combine_level(level: int, pairs: Sequence[tuple[TreeNode, TreeNode]]) -> list[TreeNode]:
    """Parents (at ``level``) of many (left, right) child pairs, with one batch point normalization. ValueError
    when two children carry different numbers of liabilities or position sums."""
    assets = len(pairs[0][0].liabilities) if pairs else 0
    sums = []
    for left, right in pairs:
        if len(left.liabilities) != assets or len(right.liabilities) != assets:
            raise ValueError(f"level {level}: children carry different numbers of liabilities")
        sums.extend(a + b for a, b in zip(left.liabilities, right.liabilities, strict=True))
    digests = [node_digest(level, left, right) for left, right in pairs]
    carries = bool(pairs) and pairs[0][0].positions is not None
    width = len(pairs[0][0].positions) if carries else 0
    position_sums = [a + b for left, right in pairs for a, b in zip(left.positions or (), right.positions or (),
                                                                    strict=True)]
    encoded = [encode_affine(xy) for xy in batch_affine(sums + position_sums)]
    parents = []
    for k, digest in enumerate(digests):
        liabilities = tuple(sums[k * assets:(k + 1) * assets])
        liabilities_encoded = b"".join(encoded[k * assets:(k + 1) * assets])
        if not carries:
            parents.append(TreeNode(liabilities, liabilities_encoded, digest))
            continue
        start = len(sums) + k * width
        parents.append(TreeNode(liabilities, liabilities_encoded, digest,
                                tuple(position_sums[k * width:(k + 1) * width]),
                                b"".join(encoded[start:start + width])))
    return parents


def chunk_levels(leaves: Sequence[TreeNode]) -> list[list[TreeNode]]:
    """All levels of one chunk's dense subtree, leaves first; the last level is [chunk root]."""
    levels = [list(leaves)]
    level = 0
    while len(levels[-1]) > 1:
        level += 1
        below = levels[-1]
        levels.append(combine_level(level, [(below[i], below[i + 1]) for i in range(0, len(below), 2)]))
    return levels


#: A padding node's opening: the blindings of its liability commitments (one per asset) and of its position vector
#: (all values 0).
PaddingOpening = tuple[tuple[int, ...], tuple[int, ...]]
#: The opening of a node's liabilities: (value, blinding) per asset.
LiabilityOpening = tuple[tuple[int, int], ...]
PaddingSource = Callable[[int, int], tuple[TreeNode, PaddingOpening]]


@dataclass(slots=True)
class SumTree:
    """A built tree. ``nodes`` holds every materialized node (chunk subtrees, populated upper
    nodes, padding nodes); ``padding`` maps each upper padding position to its opening (blindings of
    a zero liability and zero position sums); ``openings`` maps positions to (value, blinding) of the
    liability where the builder knew them."""

    config: TreeConfig
    chunk_positions: tuple[int, ...]
    nodes: dict[Position, TreeNode]
    padding: dict[Position, PaddingOpening]
    openings: dict[Position, LiabilityOpening] = field(default_factory=dict)

    @property
    def root(self) -> TreeNode:
        return self.nodes[(self.config.height, 0)]

    def upper_positions(self) -> list[Position]:
        """Every materialized node at levels c..H-1 (the ones that carry their own range proof)."""
        c, height = self.config.chunk_bits, self.config.height
        return sorted((pos for pos in self.nodes if c <= pos[0] < height), key=lambda p: (p[0], p[1]))


def build_sum_tree(
    config: TreeConfig,
    chunk_positions: Sequence[int],
    chunk_leaves: Sequence[Sequence[TreeNode]],
    chunk_position_sums: Sequence[Sequence[G1Point]],
    padding_source: PaddingSource,
    *,
    leaf_openings: Sequence[Sequence[LiabilityOpening]] | None = None,
) -> SumTree:
    """Build the tree from each chunk's 2^c leaves, the sums of its accounts' position commitments and its
    position among level-c nodes.

    ``padding_source(level, index)`` returns (node, opening) for a padding node; the builder asks
    for exactly the missing siblings on the populated paths, lowest level first, left to right.
    With ``leaf_openings`` (per leaf, (value, blinding) of each liability) the tree also carries every node's
    liability openings (operator side).
    """
    c, height = config.chunk_bits, config.height
    if not len(chunk_positions) == len(chunk_leaves) == len(chunk_position_sums):
        raise ValueError("one position, one set of leaves and one set of position sums per chunk are required")
    nodes: dict[Position, TreeNode] = {}
    openings: dict[Position, LiabilityOpening] = {}
    padding: dict[Position, PaddingOpening] = {}
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
        nodes[(c, position)] = nodes[(c, position)].with_positions(chunk_position_sums[chunk])
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

    span = build_span(c, height, level_nodes, padding_source,
                      {p: openings[(c, p)] for p in level_nodes} if leaf_openings is not None else None)
    nodes.update(span.nodes)
    padding.update(span.padding)
    openings.update(span.openings)
    return SumTree(
        config=config, chunk_positions=tuple(chunk_positions), nodes=nodes, padding=padding, openings=openings
    )


@dataclass(slots=True)
class Span:
    """Levels ``low..high`` of the upper tree built above some nodes at level ``low``: every node made
    (padding siblings at levels low..high-1 and parents at levels low+1..high; not the base nodes), the
    padding openings, and the liability openings when the base's were given."""

    nodes: dict[Position, TreeNode]
    padding: dict[Position, PaddingOpening]
    openings: dict[Position, LiabilityOpening]

    def top(self, high: int) -> dict[int, TreeNode]:
        """The nodes at level ``high`` by index."""
        return {index: node for (level, index), node in self.nodes.items() if level == high}


def build_span(
    low: int,
    high: int,
    base: dict[int, TreeNode],
    padding_source: PaddingSource,
    base_openings: dict[int, LiabilityOpening] | None = None,
) -> Span:
    """Build levels ``low+1..high`` above the nodes ``base`` (index -> node at level ``low``), asking
    ``padding_source`` for every missing sibling at levels low..high-1. The same nodes come out whether the
    upper tree is built at once or as subtrees whose roots are then built on (all derivations are by
    position)."""
    nodes: dict[Position, TreeNode] = {}
    openings: dict[Position, LiabilityOpening] = {}
    padding: dict[Position, PaddingOpening] = {}
    level_nodes = dict(base)
    level_openings = dict(base_openings) if base_openings is not None else None
    for level in range(low, high):
        for index in sorted(level_nodes):
            sibling = index ^ 1
            if sibling not in level_nodes:
                node, opening = padding_source(level, sibling)
                level_nodes[sibling] = node
                nodes[(level, sibling)] = node
                padding[(level, sibling)] = opening
                if level_openings is not None:
                    level_openings[sibling] = tuple((0, blinding) for blinding in opening[0])
                    openings[(level, sibling)] = level_openings[sibling]
        parent_indices = sorted({index >> 1 for index in level_nodes})
        parents = combine_level(
            level + 1, [(level_nodes[2 * p], level_nodes[2 * p + 1]) for p in parent_indices]
        )
        level_nodes = dict(zip(parent_indices, parents, strict=True))
        for p, node in level_nodes.items():
            nodes[(level + 1, p)] = node
        if level_openings is not None:
            level_openings = {p: _add_openings(level_openings[2 * p], level_openings[2 * p + 1])
                              for p in parent_indices}
            for p, opening in level_openings.items():
                openings[(level + 1, p)] = opening
    return Span(nodes, padding, openings)


def _add_openings(a: LiabilityOpening, b: LiabilityOpening) -> LiabilityOpening:
    return tuple((x[0] + y[0], (x[1] + y[1]) % R) for x, y in zip(a, b, strict=True))
