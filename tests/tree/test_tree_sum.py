"""The sum tree over plain Pedersen commitments: liability sums, position sums, hashes, padding, paths."""

import hashlib

import pytest

from zkclear.crypto.pedersen import commit
from zkclear.tree.identity import account_id_hash, leaf_id_hash, leaf_salt
from zkclear.tree.placement import TreeConfig
from zkclear.tree.sum_tree import (
    TreeNode,
    build_sum_tree,
    combine_level,
    make_leaf,
    node_digest,
    padding_digest,
    sum_points,
)

CONFIG = TreeConfig(height=10, chunk_bits=2)
POSITIONS = (3, 4, 200)
INSTRUMENTS = 2


def _values():
    return [[(100 * c + s, 7 * c + s + 1) for s in range(4)] for c in range(3)]


def _position_rows():
    """One position commitment per instrument and account: q = (c - s, s), blinding 3 + c + s + j."""
    return [[[commit(c - s if j == 0 else s, 3 + c + s + j) for j in range(INSTRUMENTS)] for s in range(4)]
            for c in range(3)]


def _padding(level, index):
    blinding = 1000 + 31 * level + index
    position_blindings = tuple(500 + level + j for j in range(INSTRUMENTS))
    node = TreeNode.of(commit(0, blinding), padding_digest(bytes([level]) + index.to_bytes(8, "big")),
                       [commit(0, b) for b in position_blindings])
    return node, ((blinding,), position_blindings)


def _tree():
    values = _values()
    leaves = [
        [make_leaf(account_id_hash(f"id-{c}-{s}", b"salt"), commit(v, b), b"acct%d%d" % (c, s))
         for s, (v, b) in enumerate(chunk)]
        for c, chunk in enumerate(values)
    ]
    sums = [sum_points(rows, INSTRUMENTS) for rows in _position_rows()]
    openings = [[((v, b),) for v, b in chunk] for chunk in values]
    return build_sum_tree(CONFIG, POSITIONS, leaves, sums, _padding, leaf_openings=openings), leaves


def _fold(tree, chunk_position):
    """Fold a chunk root up to the root with the tree's siblings (what a participant does)."""
    node, index = tree.nodes[(CONFIG.chunk_bits, chunk_position)], chunk_position
    for level in range(CONFIG.chunk_bits, CONFIG.height):
        sibling = tree.nodes[(level, index ^ 1)]
        left, right = (sibling, node) if index & 1 else (node, sibling)
        node = combine_level(level + 1, [(left, right)])[0]
        index >>= 1
    return node


def test_root_commits_to_the_sum_of_all_leaves():
    tree, _ = _tree()
    total = sum(v for chunk in _values() for v, _ in chunk)
    blinding = sum(b for chunk in _values() for _, b in chunk) + sum(b[0] for b, _ in tree.padding.values())
    assert tree.openings[(10, 0)][0][0] == total
    assert tree.root.liabilities == (commit(total, blinding),)


def test_root_position_sums_are_the_sums_of_every_position_commitment_and_padding():
    tree, _ = _tree()
    for j in range(INSTRUMENTS):
        value = sum((c - s) if j == 0 else s for c in range(3) for s in range(4))
        blinding = sum(3 + c + s + j for c in range(3) for s in range(4))
        blinding += sum(position_blindings[j] for _, position_blindings in tree.padding.values())
        assert tree.root.positions[j] == commit(value, blinding)


def test_every_node_is_the_sum_and_hash_of_its_children():
    tree, _ = _tree()
    for (level, index), node in tree.nodes.items():
        if level == 0 or (level, index) in tree.padding:
            continue
        left, right = tree.nodes[(level - 1, 2 * index)], tree.nodes[(level - 1, 2 * index + 1)]
        assert node.liabilities == (left.liabilities[0] + right.liabilities[0],)
        assert node.digest == node_digest(level, left, right)
        if level > CONFIG.chunk_bits:
            assert node.positions == tuple(a + b for a, b in zip(left.positions, right.positions, strict=True))


def test_upper_node_digests_bind_the_position_sums():
    tree, _ = _tree()
    left, right = tree.nodes[(2, 4)], tree.nodes[(2, 5)]
    moved = TreeNode.of(left.liabilities, left.digest, (left.positions[0] + commit(1, 0), left.positions[1]))
    assert node_digest(3, moved, right) != node_digest(3, left, right)
    # inside a chunk (no position sums) the v1 node digest is used
    leaf_a, leaf_b = tree.nodes[(0, 12)], tree.nodes[(0, 13)]
    assert leaf_a.positions is None and node_digest(1, leaf_a, leaf_b) == hashlib.sha256(
        b"zkclear/tree/node/v1" + bytes([1]) + leaf_a.encoded + leaf_a.digest + leaf_b.encoded + leaf_b.digest
    ).digest()


def test_padding_fills_exactly_the_missing_siblings_above_chunk_level_and_commits_to_zero():
    tree, _ = _tree()
    for (level, index), (blindings, position_blindings) in tree.padding.items():
        assert level >= CONFIG.chunk_bits
        node = tree.nodes[(level, index)]
        assert node.liabilities == tuple(commit(0, b) for b in blindings)
        assert node.positions == tuple(commit(0, b) for b in position_blindings)
        assert (level + 1, index >> 1) in tree.nodes
    # chunks 3 and 4 are not siblings (3 = 0b011, 4 = 0b100): each has a padding sibling at level 2
    assert (2, 2) in tree.padding and (2, 5) in tree.padding and (2, 201) in tree.padding


def test_every_chunk_folds_to_the_root_along_its_path():
    tree, _ = _tree()
    for position in POSITIONS:
        root = _fold(tree, position)
        assert (root.digest, root.encoded, root.positions_encoded) == (
            tree.root.digest, tree.root.encoded, tree.root.positions_encoded)


def test_a_chunk_folded_along_another_path_does_not_reach_the_root():
    tree, _ = _tree()
    node, index = tree.nodes[(CONFIG.chunk_bits, POSITIONS[0])], POSITIONS[0] ^ 1
    for level in range(CONFIG.chunk_bits, CONFIG.height):
        sibling = tree.nodes.get((level, (POSITIONS[0] >> (level - CONFIG.chunk_bits)) ^ 1))
        left, right = (sibling, node) if index & 1 else (node, sibling)
        node = combine_level(level + 1, [(left, right)])[0]
        index >>= 1
    assert node.digest != tree.root.digest


def test_leaf_hash_binds_salted_id_and_account_bytes():
    c = commit(5, 9)
    base = make_leaf(account_id_hash("alice", b"s1"), c, b"x")
    assert make_leaf(account_id_hash("alice", b"s2"), c, b"x").digest != base.digest
    assert make_leaf(account_id_hash("bob", b"s1"), c, b"x").digest != base.digest
    assert make_leaf(account_id_hash("alice", b"s1"), c, b"y").digest != base.digest
    assert (
        account_id_hash("alice", b"s1")
        == hashlib.sha256(b"zkclear/tree/account-id/v1" + (2).to_bytes(4, "big") + b"s1" + b"alice").digest()
    )


def test_leaf_salt_is_derived_from_the_account_key_and_the_epoch():
    import hmac

    key = bytes(range(32))
    assert leaf_salt(key, 7) == hmac.new(key, b"zkclear/leaf-salt/v1" + (7).to_bytes(8, "big"),
                                         hashlib.sha256).digest()
    assert leaf_salt(key, 7) != leaf_salt(key, 8)
    assert leaf_id_hash("alice", key, 7) == account_id_hash("alice", leaf_salt(key, 7))
    assert leaf_id_hash("alice", key, 7) != leaf_id_hash("bob", key, 7)


def test_node_hash_is_domain_separated_by_level():
    a = TreeNode.of(commit(1, 2), bytes(32))
    b = TreeNode.of(commit(3, 4), bytes(32))
    assert node_digest(3, a, b) != node_digest(4, a, b)
    assert node_digest(3, a, b) != node_digest(3, b, a)


def test_children_with_and_without_position_sums_are_refused():
    a = TreeNode.of(commit(1, 2), bytes(32), [commit(0, 1)])
    b = TreeNode.of(commit(3, 4), bytes(32))
    with pytest.raises(ValueError):
        node_digest(3, a, b)


def test_chunk_with_wrong_leaf_count_is_refused():
    from zkclear.errors import ProvingError

    leaf = make_leaf(bytes(32), commit(1, 1), b"")
    with pytest.raises(ProvingError):
        build_sum_tree(CONFIG, (0,), [[leaf] * 3], [[commit(0, 1)] * INSTRUMENTS], _padding)


def test_the_benchmarks_node_count_matches_the_built_tree():
    from zkclear.bench.tree import count_upper_nodes

    tree, _ = _tree()
    counts = count_upper_nodes(CONFIG, POSITIONS)
    built = tree.upper_positions()
    assert sum(counts.values()) == len(built)
    for level, count in counts.items():
        assert count == sum(1 for pos in built if pos[0] == level)


def test_every_node_carries_one_liability_per_asset_summed_asset_by_asset():
    """Two assets: each leaf carries (settlement liability, BTC balance); nodes sum them separately, the digest
    binds both, and a single-asset node's encoding is exactly one point."""
    values = [[((10 * c + s, 3 + s), (1_000 * c + s, 40 + s)) for s in range(4)] for c in range(3)]
    leaves = [[make_leaf(account_id_hash(f"id-{c}-{s}", b"salt"), [commit(v, b) for v, b in pair], b"a%d%d" % (c, s))
               for s, pair in enumerate(chunk)] for c, chunk in enumerate(values)]
    sums = [sum_points(rows, INSTRUMENTS) for rows in _position_rows()]

    def padding(level, index):
        blindings = (7 + level, 9 + index)
        node = TreeNode.of([commit(0, b) for b in blindings], padding_digest(bytes([level, index & 0xFF])),
                           [commit(0, 1) for _ in range(INSTRUMENTS)])
        return node, (blindings, (1,) * INSTRUMENTS)

    tree = build_sum_tree(CONFIG, POSITIONS, leaves, sums, padding, leaf_openings=values)
    for asset in range(2):
        total = sum(pair[asset][0] for chunk in values for pair in chunk)
        blinding = (sum(pair[asset][1] for chunk in values for pair in chunk)
                    + sum(b[asset] for b, _ in tree.padding.values()))
        assert tree.openings[(CONFIG.height, 0)][asset] == (total, blinding)
        assert tree.root.liabilities[asset] == commit(total, blinding)
    assert len(tree.root.encoded) == 2 * 48
    left, right = tree.nodes[(2, 4)], tree.nodes[(2, 5)]
    swapped = TreeNode.of(left.liabilities[::-1], left.digest, left.positions)
    assert node_digest(3, swapped, right) != node_digest(3, left, right)
    single = TreeNode.of(commit(1, 2), b"d" * 32)
    with pytest.raises(ValueError, match="liabilities"):
        combine_level(1, [(single, make_leaf(b"x" * 32, [commit(1, 1), commit(2, 2)], b""))])
