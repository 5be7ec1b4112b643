"""Which upper-tree nodes share one range proof (docs/protocol.md, "Node proof groups").

The nodes below the root, levels c..H-1, are cut into *bands* of ``b`` levels counted from the chunk level c:
band k holds levels ``lo = c + k·b`` .. ``hi - 1`` with ``hi = min(lo + b, H)``. A band's nodes are grouped by
their ancestor at level ``hi`` — the group's *anchor* ``(hi, i >> (hi - l))`` for a node ``(l, i)`` — so a
group is every node of the band under one anchor, at most ``2^(b+1) - 2`` nodes. One aggregated range proof per
group covers all its nodes' liabilities. A path from a chunk to the root crosses each band once, and a node
and its sibling always share a group, so a receipt needs one proof per band.

``b`` depends only on the number of assets A (public, in the header): the largest ``b <= 4`` with
``(2^(b+1) - 2)·A <= 64``, at least 1 — a full group proves at most 64 values (from 11 assets on, pairs of
siblings; a header allows at most 32 assets, so a pair's 2·A values always fit). Everything here is a pure function
of public numbers.
"""

from __future__ import annotations

from collections.abc import Container, Iterable

from zkclear.tree.placement import node_range_bits
from zkclear.tree.sum_tree import Position

#: The most levels a band spans.
MAX_BAND_LEVELS = 4
#: The most values a full group proves (nodes × assets), where b allows it.
MAX_GROUP_VALUES = 64


def band_levels(asset_count: int) -> int:
    """b: the levels per band for an epoch with ``asset_count`` assets."""
    if asset_count < 1:
        raise ValueError("an epoch has at least one asset")
    for levels in range(MAX_BAND_LEVELS, 0, -1):
        if ((1 << (levels + 1)) - 2) * asset_count <= MAX_GROUP_VALUES:
            return levels
    return 1


def band_top(level: int, chunk_bits: int, height: int, levels: int) -> int:
    """``hi``: the anchor level of the band holding ``level`` (c <= level < H)."""
    if not chunk_bits <= level < height:
        raise ValueError(f"level {level} is not an upper level below the root")
    low = chunk_bits + levels * ((level - chunk_bits) // levels)
    return min(low + levels, height)


def band_bottom(top: int, chunk_bits: int, height: int, levels: int) -> int:
    """``lo``: the lowest level of the band whose anchor level is ``top``."""
    low = chunk_bits + levels * ((top - 1 - chunk_bits) // levels)
    if band_top(low, chunk_bits, height, levels) != top:
        raise ValueError(f"level {top} is not the anchor level of a band")
    return low


def is_band_boundary(level: int, chunk_bits: int, height: int, levels: int) -> bool:
    """True when ``level`` is c, H, or the anchor level of a band (a level no group straddles)."""
    return level in (chunk_bits, height) or (chunk_bits < level < height and (level - chunk_bits) % levels == 0)


def anchor_of(position: Position, chunk_bits: int, height: int, levels: int) -> Position:
    """The anchor of the group holding the node at ``position``."""
    level, index = position
    top = band_top(level, chunk_bits, height, levels)
    return top, index >> (top - level)


def group_positions(positions: Iterable[Position], chunk_bits: int, height: int,
                    levels: int) -> dict[Position, list[Position]]:
    """The groups of the nodes at ``positions`` (each below the root): anchor → members in (level, index)
    order; anchors in increasing (level, index) order."""
    groups: dict[Position, list[Position]] = {}
    for position in sorted(positions):
        groups.setdefault(anchor_of(position, chunk_bits, height, levels), []).append(position)
    return dict(sorted(groups.items()))


def in_group(position: Position, anchor: Position, chunk_bits: int, height: int, levels: int) -> bool:
    """True when the node at ``position`` (any level) belongs to the group anchored at ``anchor``."""
    level = position[0]
    return chunk_bits <= level < height and anchor_of(position, chunk_bits, height, levels) == anchor


def group_bits(anchor_level: int, equity_bits: int) -> int:
    """The width n of a group's range proof: its widest member's (the band's top level - 1)."""
    return node_range_bits(anchor_level - 1, equity_bits)


def group_context_indices(anchor: Position, members: Iterable[Position]) -> tuple[int, ...]:
    """The integers a group's statement context binds: the anchor, the member count, then every member's
    (level, index) in order."""
    flat = [value for member in members for value in member]
    return (*anchor, len(flat) // 2, *flat)


def receipt_anchors(leaf_index: int, chunk_bits: int, height: int, levels: int) -> list[Position]:
    """The anchors of the groups a receipt for leaf ``leaf_index`` carries: one per band, bottom band first."""
    anchors = []
    top = chunk_bits
    while top < height:
        top = band_top(top, chunk_bits, height, levels)
        anchors.append((top, leaf_index >> top))
    return anchors


def path_and_siblings(leaf_index: int, low: int, top: int) -> set[Position]:
    """The path nodes of leaf ``leaf_index`` and their siblings at levels ``low .. top - 1``."""
    return {(level, (leaf_index >> level) ^ flip) for level in range(low, top) for flip in (0, 1)}


def receipt_extras(members: Iterable[Position], leaf_index: int) -> list[Position]:
    """The members of a group that a receipt for ``leaf_index`` must carry: those neither on the leaf's path nor
    a sibling of it (the receipt's verifier computes the path and has the siblings)."""
    members = list(members)
    low, top = members[0][0], members[-1][0] + 1
    known = path_and_siblings(leaf_index, low, top)
    return [pos for pos in members if pos not in known]


def members_present(present: Container[Position], anchor: Position, chunk_bits: int, height: int,
                    levels: int) -> list[Position]:
    """The members of the group anchored at ``anchor`` among the positions in ``present``, in (level, index)
    order (at most 2^(b+1) - 2 positions are looked up)."""
    top, index = anchor
    low = band_bottom(top, chunk_bits, height, levels)
    return [(level, i) for level in range(low, top)
            for i in range(index << (top - level), (index + 1) << (top - level)) if (level, i) in present]


def band_tops(chunk_bits: int, height: int, levels: int) -> list[int]:
    """The anchor levels of the bands, bottom band first."""
    return [anchor[0] for anchor in receipt_anchors(0, chunk_bits, height, levels)]
