"""Red team, session 16: an operator who wants a bad node of the published tree to escape the crowd audit (each
participant checks k chunks drawn with their own randomness, docs/protocol.md "Crowd audit")."""

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import SYSTEM, honest_epoch, published
from zkclear.bundle.format import encode_audit_data
from zkclear.crypto.pedersen import commit
from zkclear.errors import VerificationError
from zkclear.tree.sum_tree import TreeNode, combine_level, node_digest
from zkclear.verifier.audit_on_disk import open_audit_file
from zkclear.verifier.published import EpochFiles, PublishedEpoch
from zkclear.verifier.receipt import crowd_audit


def _written(bundle, audit, folder: Path) -> PublishedEpoch:
    """The epoch of ``bundle`` published in ``folder`` with ``audit`` as its audit file."""
    on_disk = replace(published(None, bundle), files=EpochFiles(folder, bundle.header.epoch_id))
    on_disk.files.audit.write_bytes(encode_audit_data(audit, SYSTEM))
    return on_disk


def _crowd_both(bundle, audit, k: int) -> list[list[int] | VerificationError]:
    """The crowd audit's outcome (the chunks it drew, or its failure) on ``audit`` held in memory (the browser
    page) and read from its file (the CLI)."""
    outcomes: list[list[int] | VerificationError] = []
    with tempfile.TemporaryDirectory() as folder:
        on_disk = _written(bundle, audit, Path(folder))
        for view in (audit, open_audit_file(on_disk, chunk_system=SYSTEM)):
            try:
                outcomes.append(crowd_audit(on_disk, view, k, chunk_system=SYSTEM))
            except VerificationError as exc:
                outcomes.append(exc)
    return outcomes


def _node_over_padding_only(epoch):
    """The honest epoch's tree with its padding node at level 6, index 1 (the sibling of the populated node (6, 0),
    at the bottom of the top band of levels) published as an ordinary node instead, over two padding children that
    commit to zero, its liabilities unchanged (so the top band's node range proof still verifies) but its position
    vector shifted by a nonzero point: what an operator would do to carry the positions of an account it left out of
    the tree, and keep the book matched. Its ancestors are recomputed (sums and digests) up to a new root, which a
    dishonest prover publishes as its own. Returns (bundle, audit)."""
    audit = epoch.artifacts.audit
    assert epoch.bundle.header.tree.height == 8 and epoch.bundle.header.tree.chunk_bits == 2
    assert {(6, 1), (5, 0)} <= audit.padding.keys() and (6, 0) not in audit.padding
    nodes, padding = dict(audit.upper_nodes), dict(audit.padding)
    hidden = nodes[(6, 1)]
    child = nodes[(5, 0)]  # a padding node and its opening, published again as the fake node's two children
    for index in (2, 3):
        nodes[(5, index)], padding[(5, index)] = child, audit.padding[(5, 0)]
    del padding[(6, 1)]
    shifted = (hidden.positions[0] + commit(5, 0),)
    nodes[(6, 1)] = TreeNode.of(hidden.liabilities, node_digest(6, child, child), shifted)
    for level in (7, 8):
        nodes[(level, 0)] = combine_level(level, [(nodes[(level - 1, 0)], nodes[(level - 1, 1)])])[0]
    assert nodes[(8, 0)].liabilities == epoch.bundle.root.liabilities  # the total is unchanged, the vector is not
    assert nodes[(8, 0)].positions != epoch.bundle.root.positions
    return replace(epoch.bundle, root=nodes[(8, 0)]), replace(audit, upper_nodes=nodes, padding=padding)


def test_a_node_with_only_padding_below_it_is_refused_by_the_crowd_audit_whatever_chunks_are_drawn():
    """Before: the listing check asked of a published node that is not padding only that both its children be
    published, so a node with two padding children passed it; no chunk lies below such a node, so no draw ever walks
    through it and its sums were never compared with its children's. Every crowd auditor passed the tree, every k
    (the escape probability was 1, not (1 - k/n)^P); only the full audit refused it (a node on no populated path).
    Here the shift is arbitrary, so this root would fail the participants' matched-book check; an operator who also
    leaves out an account holding the positions the shift carries keeps it passing (not built here: the prover
    refuses an unmatched book), as with the fake account of tests/verifier/test_redteam_s11.py, which needs
    collateral."""
    epoch = honest_epoch()
    bundle, audit = _node_over_padding_only(epoch)
    chunks = len(audit.chunks)
    for k in (0, chunks):
        outcomes = _crowd_both(bundle, audit, k)
        assert all(isinstance(outcome, VerificationError) for outcome in outcomes), outcomes
        assert {(outcome.reason, outcome.detail) for outcome in outcomes} == {(
            "audit-structure", "the node at level 6, index 1 is published as a node of the tree, not as padding, "
                               "but both its children are padding: no chunk lies below it")}


def test_the_honest_epoch_still_passes_the_crowd_audit_from_memory_and_from_its_file():
    epoch = honest_epoch()
    chunks = len(epoch.artifacts.audit.chunks)
    assert _crowd_both(epoch.bundle, epoch.artifacts.audit, chunks) == [list(range(chunks))] * 2


def test_the_crowd_sample_is_the_callers_randomness_and_reaches_every_chunk():
    """The draw comes from the ``rng`` given (by default the OS CSPRNG), never from the header, the receipt or the
    file: over a few seeded draws of one chunk each, every chunk number, the first and the last included, is drawn."""
    import random

    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    seen: set[int] = set()
    for seed in range(12):
        picked = crowd_audit(published(epoch), audit, 1, chunk_system=SYSTEM, rng=random.Random(seed))
        assert len(picked) == 1
        seen.update(picked)
    assert seen == set(range(len(audit.chunks)))


def test_chunks_listed_under_a_padding_node_are_refused_before_any_draw():
    """Before: a padding node's children were never looked at, so chunks listed (with their paths) under a node
    published as padding passed the listing check: chunks the root does not count, in the list every draw is taken
    from. Now every published node that is not padding must have a parent that is not padding either."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    nodes, padding = dict(audit.upper_nodes), dict(audit.padding)
    nodes[(7, 0)], padding[(7, 0)] = nodes[(6, 1)], padding[(6, 1)]  # chunk 8's subtree, cut off under padding
    nodes[(8, 0)] = combine_level(8, [(nodes[(7, 0)], nodes[(7, 1)])])[0]
    bundle = replace(epoch.bundle, root=nodes[(8, 0)])
    outcomes = _crowd_both(bundle, replace(audit, upper_nodes=nodes, padding=padding), 0)
    assert all(isinstance(outcome, VerificationError) for outcome in outcomes), outcomes
    assert {(outcome.reason, outcome.detail) for outcome in outcomes} == {(
        "audit-structure", "the node at level 6, index 0 is published as a node of the tree, not as padding, but its "
                           "parent is padding or missing: it is not under the root")}


# -- the streaming audit: a bad proof in the last, partial group of chunks or batch of node proofs -------------------


def _flipped(proof: bytes) -> bytes:
    data = bytearray(proof)
    data[-40] ^= 1  # inside the last scalars: the proof still decodes and no longer verifies
    return bytes(data)


@pytest.mark.parametrize("group_chunks", [1, 3])
def test_a_bad_chunk_proof_in_the_last_partial_group_is_named_by_the_streaming_audit(tmp_path, group_chunks):
    """Two chunks: with groups of 3 they form one partial group, batch-verified as one multi-scalar
    multiplication and re-checked chunk by chunk when it fails; with groups of 1 the bad chunk is the last group."""
    from zkclear.executor import SerialExecutor
    from zkclear.verifier.audit_stream import audit_file

    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    last = audit.chunks[-1]
    forged = replace(audit, chunks=(*audit.chunks[:-1], replace(last, proof=_flipped(last.proof))))
    with pytest.raises(VerificationError) as failure:
        audit_file(_written(epoch.bundle, forged, tmp_path), chunk_system=SYSTEM, executor=SerialExecutor(),
                   group_chunks=group_chunks)
    assert (failure.value.reason, failure.value.index) == ("chunk-collateral-proof", len(audit.chunks) - 1)


def test_a_bad_node_proof_last_in_a_partial_batch_is_named_by_the_streaming_audit(tmp_path):
    """The epoch's three node proofs make one batch (of up to 64), its last the root band's: flipped, the batch
    fails and the proof is named."""
    from zkclear.executor import SerialExecutor
    from zkclear.verifier.audit_stream import audit_file

    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    anchor = max(audit.node_proofs)
    forged = replace(audit, node_proofs={**audit.node_proofs, anchor: _flipped(audit.node_proofs[anchor])})
    with pytest.raises(VerificationError) as failure:
        audit_file(_written(epoch.bundle, forged, tmp_path), chunk_system=SYSTEM, executor=SerialExecutor())
    assert (failure.value.reason, failure.value.index) == ("node-range-proof", anchor[0])
