"""The auditor's padding-node check, batched: one random linear combination per batch of padding commitments
(docs/protocol.md, "Padding node"), on both group engines: the engine ``ZKCLEAR_BACKEND`` selected (the suite's
default is pure), then the other one in a fresh process (the engine is chosen at import, and the cached Pedersen
generators are that engine's points, so it cannot be swapped in-process as ``each_backend`` swaps the group API's).

Every wrong commitment below must make the check fail: the weights are fresh verifier randomness, so the tests
are not probabilistic in any way that matters (a wrong point passes with probability ≤ 2^-128).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zkclear.bundle.format import encode_node
from zkclear.crypto.field import R, scalar_to_bytes
from zkclear.crypto.group import BACKEND, G1Point
from zkclear.crypto.pedersen import all_commit_to_zero, commit
from zkclear.tree.sum_tree import TreeNode
from zkclear.verifier.audit import commits_to_zero, first_nonzero_padding
from zkclear.verifier.audit_stream import PaddingBatch, check_padding

ASSETS, INSTRUMENTS = 2, 5


def _blindings(seed: int, count: int) -> list[int]:
    return [int.from_bytes(hashlib.sha256(b"padding-test/%d/%d" % (seed, k)).digest(), "big") % R
            for k in range(count)]


def _padding(seed: int, assets: int = ASSETS, instruments: int = INSTRUMENTS) -> tuple[TreeNode, list[int], list[int]]:
    liability_blindings, position_blindings = _blindings(seed, assets), _blindings(1000 + seed, instruments)
    node = TreeNode.of([commit(0, b) for b in liability_blindings], hashlib.sha256(b"%d" % seed).digest(),
                       [commit(0, b) for b in position_blindings])
    return node, liability_blindings, position_blindings


def _with_points(node: TreeNode, liabilities: list[G1Point], positions: list[G1Point]) -> TreeNode:
    return TreeNode.of(liabilities, node.digest, positions)


def _replace(node: TreeNode, where: str, k: int, point: G1Point) -> TreeNode:
    liabilities, positions = list(node.liabilities), list(node.positions or ())
    (liabilities if where == "liability" else positions)[k] = point
    return _with_points(node, liabilities, positions)


def _all_points(node: TreeNode) -> list[G1Point]:
    return [*node.liabilities, *(node.positions or ())]


# -- the crypto-layer check ----------------------------------------------------------------------------------------


def test_honest_zero_commitments_pass_and_empty_lists_pass():
    blindings = _blindings(1, 7)
    assert all_commit_to_zero([commit(0, b) for b in blindings], blindings)
    assert all_commit_to_zero([], [])


@pytest.mark.parametrize("k", [0, 3, 6])
def test_one_wrong_commitment_fails_wherever_it_is(k):
    blindings = _blindings(2, 7)
    points = [commit(0, b) for b in blindings]
    for wrong in (commit(1, blindings[k]), commit(0, blindings[k] + 1), commit(0, blindings[k]) + G1Point.generator()):
        assert not all_commit_to_zero([*points[:k], wrong, *points[k + 1:]], blindings)


def test_compensating_errors_fail():
    blindings = _blindings(3, 4)
    points = [commit(0, b) for b in blindings]
    shift = commit(5, 17)
    points[1], points[2] = points[1] + shift, points[2] - shift
    # the all-ones combination does not see them: only the random weights do
    assert sum(points[1:], points[0]) == commit(0, sum(blindings))
    assert not all_commit_to_zero(points, blindings)


def test_mismatched_lengths_are_refused():
    blindings = _blindings(4, 3)
    with pytest.raises(ValueError, match="3 commitments but 2 blindings"):
        all_commit_to_zero([commit(0, b) for b in blindings], blindings[:2])


# -- padding nodes: one node (commits_to_zero) and many (first_nonzero_padding) ---------------------------------------


def test_honest_padding_nodes_pass_one_by_one_and_together():
    items = [(k, *_padding(k)) for k in range(4)]
    assert all(commits_to_zero(node, ls, ps) for _, node, ls, ps in items)
    assert first_nonzero_padding(items) is None
    assert first_nonzero_padding(items, points=3) is None  # batches of one node each (7 points a node)
    assert first_nonzero_padding([]) is None


@pytest.mark.parametrize(("where", "k"), [("liability", 0), ("liability", ASSETS - 1), ("position", 0),
                                          ("position", INSTRUMENTS // 2), ("position", INSTRUMENTS - 1)])
def test_a_single_wrong_point_is_found_in_its_node(where, k):
    node, liability_blindings, position_blindings = _padding(5)
    blinding = (liability_blindings if where == "liability" else position_blindings)[k]
    for wrong in (commit(1, blinding), commit(0, blinding + 1)):
        bad = _replace(node, where, k, wrong)
        assert not commits_to_zero(bad, liability_blindings, position_blindings)
        assert first_nonzero_padding([("bad", bad, liability_blindings, position_blindings)]) == "bad"


@pytest.mark.parametrize("bad_at", [0, 2, 4])
def test_the_first_failing_node_is_named_first_middle_or_last(bad_at):
    items = [(k, *_padding(10 + k)) for k in range(5)]
    _, node, ls, ps = items[bad_at]
    items[bad_at] = (bad_at, _replace(node, "position", 1, commit(0, ps[1] + 1)), ls, ps)
    later = min(bad_at + 2, 4)
    if later != bad_at:  # a second bad node after it: the first is still the one named
        _, node, ls, ps = items[later]
        items[later] = (later, _replace(node, "liability", 0, commit(1, ls[0])), ls, ps)
    for points in (3, 10, 4096):  # one node per batch, a batch spanning nodes, everything in one batch
        assert first_nonzero_padding(items, points=points) == bad_at


def test_compensating_errors_across_two_nodes_fail():
    (node_a, la, pa), (node_b, lb, pb) = _padding(20), _padding(21)
    shift = commit(3, 99)
    bad_a = _replace(node_a, "position", INSTRUMENTS - 1, node_a.positions[-1] + shift)
    bad_b = _replace(node_b, "liability", 0, node_b.liabilities[0] - shift)
    items = [("a", bad_a, la, pa), ("b", bad_b, lb, pb)]
    total = sum([*_all_points(bad_a)[1:], *_all_points(bad_b)], _all_points(bad_a)[0])
    assert total == commit(0, sum([*la, *pa, *lb, *pb]))  # invisible to an all-ones sum
    assert first_nonzero_padding(items) == "a"


def test_wrong_numbers_of_blindings_fail_after_the_nodes_before_them():
    node, ls, ps = _padding(30)
    assert not commits_to_zero(node, ls[:-1], ps)
    assert not commits_to_zero(node, ls, [*ps, 7])
    assert first_nonzero_padding([("short", node, ls, ps[:-1])]) == "short"
    good, bad_before = ("good", node, ls, ps), ("bad", _replace(node, "liability", 1, commit(1, ls[1])), ls, ps)
    assert first_nonzero_padding([good, ("long", node, [*ls, 1], ps)]) == "long"
    assert first_nonzero_padding([bad_before, ("long", node, [*ls, 1], ps)]) == "bad"


def test_the_nodes_are_consumed_one_batch_at_a_time():
    seen = []

    def nodes():
        for k in range(6):
            seen.append(k)
            node, ls, ps = _padding(40 + k)
            if k == 1:
                node = _replace(node, "position", 0, commit(0, ps[0] + 1))
            yield k, node, ls, ps

    assert first_nonzero_padding(nodes(), points=14) == 1  # two nodes of 7 points per batch
    assert seen == [0, 1]


# -- the streaming audit's worker task -------------------------------------------------------------------------------


def _entry(ls: list[int], ps: list[int]) -> bytes:
    return b"".join(scalar_to_bytes(b) for b in (*ls, *ps))


def test_the_streaming_padding_task_names_the_node_or_the_undecodable_one_in_order():
    items = [(k, *_padding(50 + k, instruments=1)) for k in range(3)]  # a published node carries one position vector
    honest = [(index, encode_node(node), _entry(ls, ps)) for index, node, ls, ps in items]
    assert check_padding(PaddingBatch(3, ASSETS, tuple(honest))) is None
    _, node, ls, ps = items[1]
    bad = (1, encode_node(_replace(node, "liability", 0, commit(1, ls[0]))), _entry(ls, ps))
    reason, level, detail = check_padding(PaddingBatch(3, ASSETS, (honest[0], bad, honest[2])))
    assert (reason, level) == ("padding-node-nonzero", 3)
    assert detail == "the padding node at level 3, index 1 does not commit to zero"
    truncated = (2, honest[2][1][:-1], honest[2][2])
    assert check_padding(PaddingBatch(3, ASSETS, (honest[0], bad, truncated)))[0] == \
        "padding-node-nonzero"  # the nonzero node comes first
    assert check_padding(PaddingBatch(3, ASSETS, (honest[0], honest[1], truncated)))[0] == "encoding"


# -- the other engine --------------------------------------------------------------------------------------------------


def test_every_check_above_passes_on_the_other_engine():
    other = "pure" if BACKEND.name == "arkworks" else "arkworks"
    if other == "arkworks":
        pytest.importorskip("py_arkworks_bls12381")  # the native extra, as in ``each_backend``
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ZKCLEAR_BACKEND": other, "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__)),
                             "-k", "not other_engine"], capture_output=True, text=True, env=env, cwd=root,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout and "skipped" not in result.stdout
