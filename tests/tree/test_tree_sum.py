"""The sum tree over plain Pedersen commitments: sums, hashes, padding, paths."""

import hashlib

import pytest

from zkclear.crypto.pedersen import commit
from zkclear.tree.placement import TreeConfig
from zkclear.tree.sum_tree import (
    TreeNode,
    account_id_hash,
    build_sum_tree,
    fold_path,
    make_leaf,
    node_digest,
    padding_digest,
)

CONFIG = TreeConfig(height=10, chunk_bits=2)
POSITIONS = (3, 4, 200)


def _values():
    return [[(100 * c + s, 7 * c + s + 1) for s in range(4)] for c in range(3)]


def _padding(level, index):
    blinding = 1000 + 31 * level + index
    return TreeNode.of(
        commit(0, blinding), padding_digest(bytes([level]) + index.to_bytes(8, "big"))
    ), blinding


def _tree():
    values = _values()
    leaves = [
        [
            make_leaf(account_id_hash(f"id-{c}-{s}", b"salt"), commit(v, b), b"acct%d%d" % (c, s))
            for s, (v, b) in enumerate(chunk)
        ]
        for c, chunk in enumerate(values)
    ]
    return build_sum_tree(CONFIG, POSITIONS, leaves, _padding, leaf_openings=values), leaves


def test_root_commits_to_the_sum_of_all_leaves():
    tree, _ = _tree()
    total = sum(v for chunk in _values() for v, _ in chunk)
    blinding = sum(b for chunk in _values() for _, b in chunk) + sum(tree.padding.values())
    assert tree.openings[(10, 0)][0] == total
    assert tree.root.commitment == commit(total, blinding)


def test_every_node_is_the_sum_and_hash_of_its_children():
    tree, _ = _tree()
    for (level, index), node in tree.nodes.items():
        if level == 0 or (level, index) in tree.padding:
            continue
        left, right = tree.nodes[(level - 1, 2 * index)], tree.nodes[(level - 1, 2 * index + 1)]
        assert node.commitment == left.commitment + right.commitment
        assert node.digest == node_digest(level, left, right)


def test_padding_fills_exactly_the_missing_siblings_above_chunk_level_and_commits_to_zero():
    tree, _ = _tree()
    for (level, index), blinding in tree.padding.items():
        assert level >= CONFIG.chunk_bits
        assert tree.nodes[(level, index)].commitment == commit(0, blinding)
        assert (level + 1, index >> 1) in tree.nodes
    # chunks 3 and 4 are not siblings (3 = 0b011, 4 = 0b100): each has a padding sibling at level 2
    assert (2, 2) in tree.padding and (2, 5) in tree.padding and (2, 201) in tree.padding


def test_every_leaf_folds_to_the_root_along_its_path():
    tree, leaves = _tree()
    for c, position in enumerate(POSITIONS):
        for s in range(4):
            index = (position << 2) | s
            assert fold_path(leaves[c][s], index, tree.siblings(index)) == tree.root


def test_a_moved_leaf_does_not_fold_to_the_root():
    tree, leaves = _tree()
    index = (POSITIONS[0] << 2) | 1
    assert fold_path(leaves[0][1], index ^ 1, tree.siblings(index)) != tree.root


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


def test_node_hash_is_domain_separated_by_level():
    a = TreeNode.of(commit(1, 2), bytes(32))
    b = TreeNode.of(commit(3, 4), bytes(32))
    assert node_digest(3, a, b) != node_digest(4, a, b)
    assert node_digest(3, a, b) != node_digest(3, b, a)


def test_chunk_with_wrong_leaf_count_is_refused():
    from zkclear.errors import ProvingError

    leaf = make_leaf(bytes(32), commit(1, 1), b"")
    with pytest.raises(ProvingError):
        build_sum_tree(CONFIG, (0,), [[leaf] * 3], _padding)


def test_the_benchmarks_node_count_matches_the_built_tree():
    from zkclear.bench.tree import count_upper_nodes

    tree, _ = _tree()
    counts = count_upper_nodes(CONFIG, POSITIONS)
    built = tree.upper_positions()
    assert sum(counts.values()) == len(built)
    for level, count in counts.items():
        assert count == sum(1 for pos in built if pos[0] == level)
