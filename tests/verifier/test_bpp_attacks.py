"""Red team: the tree nodes' Bulletproofs++ group range proofs (epoch header version 5), attacked by the operator.

One aggregated proof per group of nodes (``zkclear.tree.node_groups``: a band of levels under one anchor). Group
proofs moved to another group of the same or another band, or to a participant of another epoch; old Bulletproofs
bytes in place of Bulletproofs++ ones; bytes truncated, extended or relabelled with another width; a missing group
proof; and a malicious prover (``range_proof._prove`` unchecked, with digits that have the right sum but are not
digits) proving a wrapped value (r − x, exactly 2^n) for ONE member of a group, at every width ``group_bits``
produces, for one asset and for several. The end-to-end attack: an operator with a large negative dummy leaf who
forges both the chunk proof and every group proof over the true (negative) sums is named by the auditor and by
participants in other chunks.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import provers.collateral as collateral
import zkclear.proofs.epoch_prover as epoch_prover
from circuits import account_statement
from provers.bulletproofs import prove_range
from provers.bulletproofs_pp import BppRangeProof, BppRangeStatement, prove_range_pp
from provers.bulletproofs_pp import range_proof as bpp
from tests.proofs import test_proofs_collateral_epoch as production
from tests.proofs.epoch_fixtures import (
    MULTI_PUBLIC,
    PUBLIC,
    SMALL,
    SYSTEM,
    accounts,
    attested,
    honest_epoch,
    multi_asset_epoch,
    public_inputs,
    published,
    reserves,
    second_epoch,
)
from tests.provers.bpp_malicious import lying_digits
from tests.verifier.test_audit import _LyingChunks
from zkclear.bundle.format import encode_audit_data, write_file
from zkclear.crypto.field import R, fr_random
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.chunks import PlainAccount
from zkclear.proofs.epoch_prover import AccountInput, group_job
from zkclear.tree.node_groups import (
    band_bottom,
    band_levels,
    band_tops,
    group_bits,
    group_context_indices,
    group_positions,
    receipt_anchors,
)
from zkclear.tree.placement import RANGE_WIDTHS
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.audit_stream import audit_file
from zkclear.verifier.published import EpochFiles, PublishedEpoch
from zkclear.verifier.receipt import verify_receipt
from zkclear.verifier.statements import node_group_statement, verify_named


def _audit_reason(bundle, audit, public=PUBLIC) -> tuple[str, int | None]:
    with pytest.raises(VerificationError) as caught:
        audit_epoch(published(None, bundle, public), audit, chunk_system=SYSTEM, executor=SerialExecutor())
    return caught.value.reason, caught.value.index


def _with_proof(audit, anchor, proof: bytes):
    return replace(audit, node_proofs={**audit.node_proofs, anchor: proof})


def _groups(epoch) -> dict:
    """The epoch's groups: anchor → members, as the auditor computes them."""
    header, audit = epoch.bundle.header, epoch.artifacts.audit
    tree = header.tree
    return group_positions([pos for pos in audit.upper_nodes if pos[0] < tree.height], tree.chunk_bits,
                           tree.height, band_levels(header.asset_count))


def _context(header, anchor, members) -> bytes:
    return header.context(b"tree-node-group", *group_context_indices(anchor, members))


def _malicious_group_proof(values, blindings, n_bits: int, context: bytes) -> BppRangeProof:
    """The unchecked prover's proof of ``values`` (any integers, reduced mod r): with ``lying_digits`` patched in,
    its digits sum to each value but are not digits when the value is out of range."""
    commitments = [commit(v, b) for v, b in zip(values, blindings, strict=True)]
    transcript = bpp.range_proof_transcript(commitments, context, n_bits)
    return bpp._prove([v % R for v in values], blindings, transcript, fr_random, check_witness=False, n_bits=n_bits)


# --- group proofs moved, replaced or re-encoded -----------------------------------------------------------------


@pytest.fixture(scope="module")
def epoch():
    return honest_epoch()


def test_the_honest_epoch_has_groups_in_two_bands_with_proofs_keyed_by_anchor(epoch):
    groups = _groups(epoch)
    assert set(epoch.artifacts.audit.node_proofs) == set(groups)
    tops = {anchor[0] for anchor in groups}
    assert tops == set(band_tops(SMALL.chunk_bits, SMALL.height, band_levels(1))) == {6, 8}
    assert audit_epoch(published(epoch), epoch.artifacts.audit, chunk_system=SYSTEM,
                       executor=SerialExecutor()).chunks == len(epoch.artifacts.audit.chunks)


def test_a_group_proof_moved_to_another_group_of_the_same_or_another_band_is_named(epoch):
    audit, header = epoch.artifacts.audit, epoch.bundle.header
    groups = _groups(epoch)
    lower = [anchor for anchor in groups if anchor[0] == 6]
    assert len(lower) >= 2 and len(groups[lower[0]]) == len(groups[lower[1]])  # same band, same size and width
    target, source = lower[0], lower[1]
    top = (SMALL.height, 0)
    assert group_bits(target[0], header.equity_bits) == group_bits(top[0], header.equity_bits) == 64
    assert _audit_reason(epoch.bundle, _with_proof(audit, target, audit.node_proofs[source])) == (
        "node-range-proof", target[0])
    # the top band's proof (another band, another member count) in a lower group, and the reverse
    assert _audit_reason(epoch.bundle, _with_proof(audit, target, audit.node_proofs[top])) == (
        "node-range-proof", target[0])
    assert _audit_reason(epoch.bundle, _with_proof(audit, top, audit.node_proofs[source])) == (
        "node-range-proof", top[0])
    # a swap of the two proofs of one band
    swapped = {**audit.node_proofs, target: audit.node_proofs[source], source: audit.node_proofs[target]}
    assert _audit_reason(epoch.bundle, replace(audit, node_proofs=swapped)) == ("node-range-proof", target[0])


def test_a_group_proof_of_the_same_anchor_in_another_epoch_is_named_for_the_participant(epoch):
    second = second_epoch()
    receipt = second.artifacts.receipts["trader-0"]
    tree = second.bundle.header.tree
    anchors = receipt_anchors(receipt.leaf_index, tree.chunk_bits, tree.height, band_levels(1))
    old = epoch.artifacts.audit.node_proofs
    assert any(anchor in old for anchor in anchors)
    for band, anchor in enumerate(anchors):
        if anchor not in old:
            continue
        proofs = list(receipt.group_proofs)
        proofs[band] = old[anchor]
        assert proofs[band] != receipt.group_proofs[band]
        with pytest.raises(VerificationError) as caught:
            verify_receipt(published(second), replace(receipt, group_proofs=tuple(proofs)), "trader-0",
                           chunk_system=SYSTEM)
        assert (caught.value.reason, caught.value.index) == ("sibling-range-proof", anchor[0])
    verify_receipt(published(second), receipt, "trader-0", chunk_system=SYSTEM)  # the control


def test_old_bulletproofs_bytes_and_malformed_bytes_in_place_of_a_group_proof_are_named(epoch):
    audit, header, tree = epoch.artifacts.audit, epoch.bundle.header, epoch.artifacts.tree
    groups = _groups(epoch)
    anchor = next(iter(groups))
    members = groups[anchor]
    values, blinds, n_bits, context = group_job(header, anchor, [tree.openings[p] for p in members], members)
    assert n_bits == 64 and len(values) == len(members) > 1
    # an honest Bulletproofs (v3) proof of the group's true openings, in its context
    old, _ = prove_range(list(values), list(blinds), n_bits, context)
    honest = audit.node_proofs[anchor]
    narrower, _ = prove_range_pp(list(values), list(blinds), context, n_bits=32)  # the true values fit 32 bits
    relabelled = bytearray(narrower.to_bytes())
    relabelled[1] = 64
    patched = bytearray(honest)
    patched[1] = 32
    for bad in (old.to_bytes(), honest[:-1], honest + b"\x00", honest[:3], b"", narrower.to_bytes(),
                bytes(relabelled), bytes(patched), bytes([2]) + honest[2:]):
        assert _audit_reason(epoch.bundle, _with_proof(audit, anchor, bad)) == ("node-range-proof", anchor[0])
    missing = dict(audit.node_proofs)
    del missing[anchor]
    assert _audit_reason(epoch.bundle, replace(audit, node_proofs=missing))[0] == "audit-structure"


# --- a wrapped value for one member, at every width and asset count ---------------------------------------------


def _header(epoch, equity_bits: int, assets: int):
    return replace(epoch.bundle.header, equity_bits=equity_bits, reserve_totals=tuple(range(1, assets + 1)))


def _some_members(anchor, chunk_bits: int, height: int, levels: int) -> list:
    """Four members of the group anchored at ``anchor``: a pair at its bottom level and the pair below the anchor."""
    top, index = anchor
    low = band_bottom(top, chunk_bits, height, levels)
    first = index << (top - low)
    return sorted({(low, first), (low, first + 1), (top - 1, 2 * index), (top - 1, 2 * index + 1)})


def _width_cases() -> list:
    """(n_bits, assets, anchor level): every width at the anchor level of every band of SMALL with A assets."""
    cases = []
    for assets in (1, 3):
        for top in band_tops(SMALL.chunk_bits, SMALL.height, band_levels(assets)):
            for n_bits in RANGE_WIDTHS:
                cases.append((n_bits, assets, top))
    return cases


@pytest.mark.parametrize(("n_bits", "assets", "top"), _width_cases())
@pytest.mark.parametrize("attack", ["minus five", "exactly 2^n", "r minus 2^n plus one", "honest control"])
def test_a_malicious_group_proof_of_one_wrapped_member_is_named_at_every_width(epoch, monkeypatch, n_bits, assets,
                                                                               top, attack):
    monkeypatch.setattr(bpp, "_digits", lying_digits)
    equity_bits = n_bits - (top - 1)  # the group's widest member sits at level top - 1
    header = _header(epoch, equity_bits, assets)
    assert header.asset_count == assets and group_bits(top, header.equity_bits) == n_bits
    levels = band_levels(assets)
    assert top in band_tops(SMALL.chunk_bits, SMALL.height, levels)
    anchor = (top, 1)
    members = _some_members(anchor, SMALL.chunk_bits, SMALL.height, levels)
    bad = {"minus five": -5, "exactly 2^n": 1 << n_bits, "r minus 2^n plus one": R - (1 << n_bits) + 1,
           "honest control": (1 << n_bits) - 1}[attack]
    values = [7 + k for k in range(len(members) * assets)]
    wrapped = 2 * assets + (assets - 1)  # the third member's last asset
    values[wrapped] = bad
    blindings = [fr_random() for _ in values]
    proof = _malicious_group_proof(values, blindings, n_bits, _context(header, anchor, members))
    points = [commit(v, b) for v, b in zip(values, blindings, strict=True)]
    group = [(pos, tuple(points[k * assets:(k + 1) * assets])) for k, pos in enumerate(members)]
    statement = node_group_statement(header, anchor, group, proof.to_bytes(), "node-range-proof")
    assert type(statement) is BppRangeStatement and statement.n_bits == n_bits
    named = [("node-range-proof", top, statement)]
    if attack == "honest control":
        verify_named(named)
        return
    with pytest.raises(VerificationError) as caught:
        verify_named(named)
    assert (caught.value.reason, caught.value.index) == ("node-range-proof", top)
    # and among honest group statements of the other groups of the band
    honest = []
    for k in range(3):
        other = (top, 2 + k)
        other_members = _some_members(other, SMALL.chunk_bits, SMALL.height, levels)
        vals = [k + 1] * (len(other_members) * assets)
        blinds = [fr_random() for _ in vals]
        p, pts = prove_range_pp(vals, blinds, _context(header, other, other_members), n_bits=n_bits)
        other_group = [(pos, tuple(pts[j * assets:(j + 1) * assets])) for j, pos in enumerate(other_members)]
        honest.append(("node-range-proof", top, node_group_statement(header, other, other_group, p.to_bytes(),
                                                                     "node-range-proof")))
    verify_named(honest)
    with pytest.raises(VerificationError) as caught:
        verify_named([*honest[:2], ("sibling-range-proof", top, statement), honest[2]])
    assert (caught.value.reason, caught.value.index) == ("sibling-range-proof", top)


def test_a_group_with_as_many_liabilities_as_a_proof_for_another_asset_count_is_named(epoch):
    header = _header(epoch, 28, 3)  # three assets: b = 3, bands anchored at levels 5 and 8
    anchor = (5, 1)
    members = [(4, 2), (4, 3)]
    assert group_bits(anchor[0], header.equity_bits) == 32
    ctx = _context(header, anchor, members)
    values, blindings = [1, 2, 3, 4, 5, 6, 0, 0], [fr_random() for _ in range(8)]
    eight, points = prove_range_pp(values, blindings, ctx, n_bits=32)
    six, points6 = prove_range_pp(values[:6], blindings[:6], ctx, n_bits=32)
    # the padded proof of 8 values (the last two 0) is the right length for M = 8 but is not a proof for m = 6
    statement = node_group_statement(header, anchor, [((4, 2), tuple(points[:3])), ((4, 3), tuple(points[3:6]))],
                                     eight.to_bytes(), "node-range-proof")
    with pytest.raises(VerificationError) as caught:
        verify_named([("node-range-proof", anchor[0], statement)])
    assert (caught.value.reason, caught.value.index) == ("node-range-proof", anchor[0])
    with pytest.raises(VerificationError) as caught:  # four liabilities for a member in a three-asset epoch
        node_group_statement(header, anchor, [((4, 2), tuple(points[:4])), ((4, 3), tuple(points[4:]))],
                             eight.to_bytes(), "node-range-proof")
    assert (caught.value.reason, caught.value.index) == ("node-range-proof", anchor[0])  # named by its group
    assert "level 4, index 2" in caught.value.detail
    verify_named([("node-range-proof", anchor[0],
                   node_group_statement(header, anchor, [((4, 2), tuple(points6[:3])), ((4, 3), tuple(points6[3:]))],
                                        six.to_bytes(), "node-range-proof"))])


# --- end to end -----------------------------------------------------------------------------------------------


def _lying_node_proofs(job):
    """Group proofs of the true (possibly negative) sums of every member and asset, by the malicious prover."""
    _blindings, groups = job
    return [_malicious_group_proof(list(values), list(blinds), n, ctx).to_bytes()
            for values, blinds, n, ctx in groups]


@pytest.fixture(scope="module")
def negative_dummy_epoch():
    """An operator hides a dummy leaf of −10^9 (so every subtree holding it sums below zero): a clamped chunk proof
    (the only one it can make) and group proofs of the true sums by the malicious prover."""
    patch = pytest.MonkeyPatch()
    patch.setattr(epoch_prover, "_prove_nodes", _lying_node_proofs)
    patch.setattr(bpp, "_digits", lying_digits)
    try:
        dummy = AccountInput("dummy", PlainAccount(-(10**9), (0, 0, 0)))
        artifacts = epoch_prover.prove_epoch(
            [*accounts(7), dummy], PUBLIC, reserves(), epoch_id=1, previous=None, config=SMALL,
            blindings=BlindingSource.deterministic(b"negative-dummy-redteam-01234567"), chunk_system=_LyingChunks(),
            executor=SerialExecutor(), public_inputs_digest=public_inputs(1).digest(),
        )
    finally:
        patch.undo()
    return artifacts, attested(artifacts.bundle)


def _negative_anchors(artifacts) -> set:
    """The anchors of the groups with a member whose (single-asset) sum is negative."""
    header = artifacts.bundle.header
    tree = header.tree
    upper = [pos for pos in artifacts.audit.upper_nodes if pos[0] < tree.height]
    groups = group_positions(upper, tree.chunk_bits, tree.height, band_levels(header.asset_count))
    return {anchor for anchor, members in groups.items()
            if any(value < 0 for pos in members for value, _ in artifacts.tree.openings[pos])}


def test_the_forged_group_proofs_of_negative_subtrees_and_only_those_fail(negative_dummy_epoch):
    artifacts, bundle = negative_dummy_epoch
    header, audit = bundle.header, artifacts.audit
    tree = header.tree
    upper = [pos for pos in audit.upper_nodes if pos[0] < tree.height]
    groups = group_positions(upper, tree.chunk_bits, tree.height, band_levels(header.asset_count))
    assert set(audit.node_proofs) == set(groups)
    negative_anchors = _negative_anchors(artifacts)
    negative, positive = [], []
    for anchor, members in groups.items():
        statement = node_group_statement(header, anchor, [(pos, audit.upper_nodes[pos].liabilities)
                                                          for pos in members],
                                         audit.node_proofs[anchor], "node-range-proof")
        (negative if anchor in negative_anchors else positive).append(("node-range-proof", anchor[0], statement))
    # the dummy's subtree is negative in both bands; a group of the lower band away from it is not
    assert {item[1] for item in negative} == {6, 8} and positive
    verify_named(positive)  # the malicious prover is a prover on values in range
    for item in negative:
        with pytest.raises(VerificationError) as caught:
            verify_named([*positive, item])
        assert (caught.value.reason, caught.value.index) == ("node-range-proof", item[1])


def test_the_auditor_and_participants_in_other_chunks_name_the_forged_negative_subtree(negative_dummy_epoch):
    artifacts, bundle = negative_dummy_epoch
    # the auditor: the group statements are batched first, so the lowest negative group is named
    assert _audit_reason(bundle, artifacts.audit) == ("node-range-proof",
                                                      min(anchor[0] for anchor in _negative_anchors(artifacts)))
    # a participant in another chunk checks the dummy's subtree only through the group proofs of its path
    negative_anchors = _negative_anchors(artifacts)
    tree = bundle.header.tree
    dummy_chunk = artifacts.receipts["dummy"].chunk.position
    outside = [r for r in artifacts.receipts.values() if r.chunk.position != dummy_chunk]
    assert outside
    for receipt in outside:
        anchors = receipt_anchors(receipt.leaf_index, tree.chunk_bits, tree.height, band_levels(1))
        expected = min(anchor[0] for anchor in anchors if anchor in negative_anchors)
        with pytest.raises(VerificationError) as caught:
            verify_receipt(published(None, bundle), receipt, receipt.account_id, chunk_system=SYSTEM)
        assert (caught.value.reason, caught.value.index) == ("sibling-range-proof", expected)


def test_the_streaming_audit_names_the_forged_negative_subtree_as_the_in_memory_audit(tmp_path,
                                                                                      negative_dummy_epoch):
    artifacts, bundle = negative_dummy_epoch
    files = EpochFiles(tmp_path, bundle.header.epoch_id)
    write_file(files.audit, encode_audit_data(artifacts.audit, SYSTEM))
    on_disk = PublishedEpoch(bundle, PUBLIC, published(None, bundle).inputs, files)
    with pytest.raises(VerificationError) as streamed:
        audit_file(on_disk, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=1)
    assert (streamed.value.reason, streamed.value.index) == _audit_reason(bundle, artifacts.audit)


def test_a_multi_asset_group_proof_with_assets_swapped_or_one_dropped_is_named():
    epoch = multi_asset_epoch()
    header, audit, tree = epoch.bundle.header, epoch.artifacts.audit, epoch.artifacts.tree
    assert header.asset_count == 2
    groups = _groups(epoch)
    anchor = max(groups)  # the top band's group
    members = groups[anchor]
    values, blinds, n_bits, ctx = group_job(header, anchor, [tree.openings[p] for p in members], members)
    assert values[0] != values[1]

    def per_member(flat, order):
        return [x for k in range(len(members)) for x in (flat[2 * k + order[0]], flat[2 * k + order[1]])]

    swapped, _ = prove_range_pp(per_member(values, (1, 0)), per_member(blinds, (1, 0)), ctx, n_bits=n_bits)
    first_member_swapped, _ = prove_range_pp([values[1], values[0], *values[2:]], [blinds[1], blinds[0], *blinds[2:]],
                                             ctx, n_bits=n_bits)
    dropped, _ = prove_range_pp(list(values[1:]), list(blinds[1:]), ctx, n_bits=n_bits)
    single, _ = prove_range_pp(per_member(values, (0, 0))[::2], per_member(blinds, (0, 0))[::2], ctx, n_bits=n_bits)
    for bad in (swapped, first_member_swapped, dropped, single):
        assert _audit_reason(epoch.bundle, _with_proof(audit, anchor, bad.to_bytes()), MULTI_PUBLIC) == (
            "node-range-proof", anchor[0])
    honest, _ = prove_range_pp(list(values), list(blinds), ctx, n_bits=n_bits)  # the control: a fresh honest proof
    audit_epoch(published(None, epoch.bundle, MULTI_PUBLIC), _with_proof(audit, anchor, honest.to_bytes()),
                chunk_system=SYSTEM, executor=SerialExecutor())


# --- end to end with the production chunk system: a wrapped collateral part -----------------------------------


def test_an_under_collateralized_account_with_a_forged_collateral_part_is_named_end_to_end():
    """The operator skips the account checks and proves the parts with the malicious prover (the negative
    maintenance form as r − x with digits that sum to it): the audit and every participant of the chunk name the
    chunk's collateral proof."""
    patch = pytest.MonkeyPatch()
    patch.setattr(collateral, "assign_account",
                  lambda index, witness, public: account_statement(public, witness.margin_mode).assign(witness))
    patch.setattr(bpp, "_digits", lying_digits)

    def unchecked(values, blindings, n_bits, context, rng=None):
        transcript = bpp.bound_range_proof_transcript(len(values), context, n_bits)
        return bpp._prove([v % R for v in values], blindings, transcript, fr_random, check_witness=False,
                          n_bits=n_bits)

    patch.setattr(collateral, "prove_bound_range_pp", unchecked)
    try:
        artifacts = production._prove(production._accounts(under_collateralized=True))
    finally:
        patch.undo()
    bundle, public, system = attested(artifacts.bundle), production._public(), production.SYSTEM
    with pytest.raises(VerificationError) as caught:
        audit_epoch(published(None, bundle, public), artifacts.audit, chunk_system=system, executor=SerialExecutor())
    assert caught.value.reason == "chunk-collateral-proof"
    short = artifacts.receipts["member-2-1"]
    assert caught.value.index == next(n for n, c in enumerate(artifacts.audit.chunks)
                                      if c.position == short.chunk.position)
    same_chunk = [r for r in artifacts.receipts.values() if r.chunk.position == short.chunk.position]
    for receipt in same_chunk:
        with pytest.raises(VerificationError) as caught:
            verify_receipt(published(None, bundle, public), receipt, receipt.account_id, chunk_system=system)
        assert caught.value.reason == "chunk-collateral-proof"
    other = [r for r in artifacts.receipts.values() if r.chunk.position != short.chunk.position]
    assert other
    for receipt in other:  # the other chunks' proofs are honest: their members' checks pass
        verify_receipt(published(None, bundle, public), receipt, receipt.account_id, chunk_system=system)
