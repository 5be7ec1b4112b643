"""Red team: attacks specific to node proof groups (``zkclear.tree.node_groups``, header version 5).

A receipt carries, per band of levels, one group proof and the group's members that are neither on the path nor
siblings of it (its *extras*); the audit data carries one proof per group keyed by the group's anchor. Attacked
here: extras outside the group, duplicated or omitted, or carrying another node's liabilities; group proofs
reordered between bands or dropped; audit data with an extra, missing or misplaced anchor (in the in-memory and the
streaming audit, which must agree); a proof of the right commitments under another group's context. And the pure
functions that define the groups, on small shapes.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from provers.bulletproofs_pp import prove_range_pp
from tests.proofs.epoch_fixtures import (
    BITCOIN_KEY,
    ETHER_KEY,
    MULTI_PUBLIC,
    PUBLIC,
    RESERVE_KEYS,
    SETTLEMENT,
    SMALL,
    SYSTEM,
    TOKENS,
    VENUE,
    accounts,
    entry,
    honest_epoch,
    make_epoch,
    multi_asset_epoch,
    published,
    second_epoch,
)
from zkclear.bundle.format import encode_audit_data, write_file
from zkclear.errors import VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.chunks import PlainAccount, PlainPublicData
from zkclear.proofs.epoch_prover import AccountInput, group_job
from zkclear.proofs.reserves import VenueAsset, build_reserve_book
from zkclear.proofs.streaming import split_level
from zkclear.tree.node_groups import (
    MAX_GROUP_VALUES,
    anchor_of,
    band_bottom,
    band_levels,
    band_top,
    band_tops,
    group_bits,
    group_context_indices,
    group_positions,
    in_group,
    is_band_boundary,
    members_present,
    path_and_siblings,
    receipt_anchors,
    receipt_extras,
)
from zkclear.tree.placement import TreeConfig, node_range_bits
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.audit_stream import audit_file
from zkclear.verifier.published import EpochFiles, PublishedEpoch
from zkclear.verifier.receipt import crowd_audit, verify_receipt

#: A packed tree of 7 chunks of 2 leaves: one full band of 4 levels (group (5, 0) with 16 members, so that every
#: receipt carries 8 extras) and a top band of 2 levels.
DENSE = TreeConfig(height=7, chunk_bits=1, chunk_padding="none", sparse=False)


@pytest.fixture(scope="module")
def dense():
    return make_epoch(DENSE, count=13, secret=b"dense-groups-secret-0123456789ab")


#: USD, BTC and ETH: b = 3, so SMALL's bands are levels 2..4 (anchored at 5) and 5..7 (anchored at the root).
THREE_PUBLIC = PlainPublicData(value_per_lot=(0, 7, 3), equity_bits=32, asset_ids=("BTC", "ETH"))


@pytest.fixture(scope="module")
def three_assets():
    holders = [AccountInput(a.account_id, PlainAccount(a.witness.cash, a.witness.positions,
                                                       (10_000_000 * (i + 1), 3_000 * (i + 1))))
               for i, a in enumerate(accounts(7))]
    btc, eth = (sum(a.witness.balances[k] for a in holders) for k in (0, 1))
    book = build_reserve_book(VENUE, (SETTLEMENT, VenueAsset("BTC", 8), VenueAsset("ETH", 18)),
                              (entry(RESERVE_KEYS[0], "USD", 600_000), entry(RESERVE_KEYS[1], "USD", 400_000),
                               entry(BITCOIN_KEY, "BTC", btc + 5), entry(ETHER_KEY, "ETH", eth + 5)), tokens=TOKENS)
    return make_epoch(public=THREE_PUBLIC, account_list=holders, reserve_book=book,
                      secret=b"three-asset-secret-0123456789abc")


def test_a_three_asset_epoch_has_bands_of_three_levels_and_names_a_moved_band_proof(three_assets):
    epoch = three_assets
    assert epoch.bundle.header.asset_count == 3 and band_levels(3) == 3
    assert {anchor[0] for anchor in epoch.artifacts.audit.node_proofs} == {5, 8}
    assert set(epoch.artifacts.audit.node_proofs) == set(_groups(epoch))
    for receipt in epoch.artifacts.receipts.values():
        assert len(receipt.group_proofs) == 2
        verify_receipt(published(epoch, None, THREE_PUBLIC), receipt, receipt.account_id, chunk_system=SYSTEM)
    receipt = next(iter(epoch.artifacts.receipts.values()))
    own = receipt_anchors(receipt.leaf_index, SMALL.chunk_bits, SMALL.height, 3)[0]
    other = next(a for a in sorted(epoch.artifacts.audit.node_proofs) if a[0] == 5 and a != own)
    moved = replace(receipt, group_proofs=(epoch.artifacts.audit.node_proofs[other], *receipt.group_proofs[1:]))
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(epoch, None, THREE_PUBLIC), moved, receipt.account_id, chunk_system=SYSTEM)
    assert (caught.value.reason, caught.value.index) == ("sibling-range-proof", 5)
    # one member's liabilities in another asset order (BTC and ETH swapped) among the extras of the top band
    extras = receipt.group_extras[1]
    assert extras
    (pos, (usd, btc, eth)), rest = extras[0], extras[1:]
    swapped = replace(receipt, group_extras=(receipt.group_extras[0], ((pos, (usd, eth, btc)), *rest)))
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(epoch, None, THREE_PUBLIC), swapped, receipt.account_id, chunk_system=SYSTEM)
    assert (caught.value.reason, caught.value.index) == ("sibling-range-proof", SMALL.height)


def _groups(epoch) -> dict:
    header, audit = epoch.bundle.header, epoch.artifacts.audit
    tree = header.tree
    return group_positions([pos for pos in audit.upper_nodes if pos[0] < tree.height], tree.chunk_bits,
                           tree.height, band_levels(header.asset_count))


def _receipt_reason(epoch, receipt) -> tuple[str, int | None]:
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(epoch), receipt, receipt.account_id, chunk_system=SYSTEM)
    return caught.value.reason, caught.value.index


def _with_extras(receipt, band: int, extras) -> object:
    bands = list(receipt.group_extras)
    bands[band] = tuple(extras)
    return replace(receipt, group_extras=tuple(bands))


def test_the_dense_epochs_receipts_carry_extras_and_verify(dense):
    assert _groups(dense).keys() == {(5, 0), (7, 0)} and len(_groups(dense)[(5, 0)]) == 16
    for receipt in dense.artifacts.receipts.values():
        assert [len(extras) for extras in receipt.group_extras] == [8, 0]
        verify_receipt(published(dense), receipt, receipt.account_id, chunk_system=SYSTEM)


# --- (a) extras outside the group, duplicated or omitted -----------------------------------------------------


def test_extras_that_are_not_other_members_of_the_group_are_a_malformed_receipt(dense):
    receipt = dense.artifacts.receipts["trader-2"]  # leaf 0: path (l, 0), siblings (l, 1)
    extras = receipt.group_extras[0]
    liabilities = extras[0][1]
    nodes = dense.artifacts.audit.upper_nodes
    outside = {
        "same band, another anchor": ((1, 16), liabilities),
        "the next band's node": ((5, 1), nodes[(5, 1)].liabilities),
        "the anchor itself": ((5, 0), nodes[(5, 0)].liabilities),
        "the root": ((7, 0), nodes[(7, 0)].liabilities),
        "below the chunk level": ((0, 4), liabilities),
        "a negative index": ((1, -1), liabilities),
    }
    for name, extra in outside.items():
        assert _receipt_reason(dense, _with_extras(receipt, 0, (*extras, extra))) == ("receipt-malformed", None), name
    # the top band's group is anchored at the root: a member of the lower band is outside it
    assert _receipt_reason(dense, _with_extras(receipt, 1, (extras[0],))) == ("receipt-malformed", None)


def test_extras_that_repeat_a_path_node_a_sibling_or_another_extra_are_a_malformed_receipt(dense):
    receipt = dense.artifacts.receipts["trader-2"]
    extras = receipt.group_extras[0]
    nodes = dense.artifacts.audit.upper_nodes
    path_node, sibling = ((1, 0), nodes[(1, 0)].liabilities), ((4, 1), nodes[(4, 1)].liabilities)
    for repeated in (path_node, sibling, extras[3]):
        assert _receipt_reason(dense, _with_extras(receipt, 0, (*extras, repeated))) == ("receipt-malformed", None)
    # the top band has no extras: its path node and sibling repeated are malformed too
    assert _receipt_reason(dense, _with_extras(receipt, 1, (((6, 1), nodes[(6, 1)].liabilities),))) == (
        "receipt-malformed", None)


def test_an_omitted_extra_fails_the_group_proof(dense):
    """Not receipt-malformed: in a sparse tree the participant cannot know which members of the group exist, so a
    receipt with fewer extras is well formed; the group proof binds the member list (its context) and the
    commitments, so the published proof fails for the smaller group [sibling-range-proof, the band's anchor
    level]."""
    receipt = dense.artifacts.receipts["trader-2"]
    extras = receipt.group_extras[0]
    for omitted in (0, len(extras) - 1):
        fewer = extras[:omitted] + extras[omitted + 1:]
        assert _receipt_reason(dense, _with_extras(receipt, 0, fewer)) == ("sibling-range-proof", 5)
    assert _receipt_reason(dense, _with_extras(receipt, 0, ())) == ("sibling-range-proof", 5)


def test_a_receipt_proof_over_fewer_members_still_proves_every_path_node_and_sibling(dense):
    """What an operator CAN do (documented, not a break): re-prove a band's group honestly over a subset of the
    members that contains the path and the siblings, and hand the participant that proof with fewer extras. The
    participant accepts it, and it still range-proves every node the participant's sum check relies on (the path
    nodes and the siblings, always members); the omitted nodes are checked by the audit's proof of the full
    group."""
    receipt = dense.artifacts.receipts["trader-2"]
    header, tree = dense.bundle.header, dense.artifacts.tree
    kept = receipt.group_extras[0][2:]
    members = sorted([*path_and_siblings(receipt.leaf_index, 1, 5), *(pos for pos, _ in kept)])
    values, blinds, n_bits, context = group_job(header, (5, 0), [tree.openings[p] for p in members], members)
    proof, _ = prove_range_pp(list(values), list(blinds), context, n_bits=n_bits)
    smaller = replace(_with_extras(receipt, 0, kept), group_proofs=(proof.to_bytes(), *receipt.group_proofs[1:]))
    check = verify_receipt(published(dense), smaller, receipt.account_id, chunk_system=SYSTEM)
    assert check.leaf_index == receipt.leaf_index
    assert path_and_siblings(receipt.leaf_index, 1, 5) <= set(members)


# --- (b) extras with another node's liabilities --------------------------------------------------------------


def test_extras_with_another_nodes_liabilities_fail_the_group_proof(dense):
    receipt = dense.artifacts.receipts["trader-2"]
    extras = list(receipt.group_extras[0])
    nodes = dense.artifacts.audit.upper_nodes
    (pos_a, liab_a), (pos_b, liab_b) = extras[0], extras[2]
    assert liab_a != liab_b
    swapped = [*extras]
    swapped[0], swapped[2] = (pos_a, liab_b), (pos_b, liab_a)
    copied = [*extras]
    copied[0] = (pos_a, nodes[(4, 0)].liabilities)  # a path node's liabilities under an extra's position
    for bad in (swapped, copied):
        assert _receipt_reason(dense, _with_extras(receipt, 0, bad)) == ("sibling-range-proof", 5)
    # an extra with no liability at all in a one-asset epoch (only from objects: the decoder reads one point per
    # asset): named by its group's anchor level, like every failure of a group
    dropped = [*extras]
    dropped[0] = (pos_a, ())
    assert _receipt_reason(dense, _with_extras(receipt, 0, dropped)) == ("sibling-range-proof", 5)


# --- (c) group proofs reordered between bands or dropped ------------------------------------------------------


def test_group_proofs_dropped_or_added_are_a_malformed_receipt(dense):
    receipt = dense.artifacts.receipts["trader-2"]
    proofs, extras = receipt.group_proofs, receipt.group_extras
    for bad in (replace(receipt, group_proofs=proofs[:1]), replace(receipt, group_proofs=proofs[1:]),
                replace(receipt, group_proofs=()), replace(receipt, group_proofs=(*proofs, proofs[0])),
                replace(receipt, group_extras=extras[:1]), replace(receipt, group_extras=(*extras, ()))):
        assert _receipt_reason(dense, bad) == ("receipt-malformed", None)


def test_group_proofs_reordered_between_bands(dense):
    """The proofs alone reordered: the list has the right length and every extra is in its group, so each band's
    statement is built and the bottom band's proof, another group's, fails [sibling-range-proof, that band's anchor
    level]. Proofs and extras moved together: every band's extras are checked before any proof is decoded, so
    the moved extras, outside their new band's group, are receipt-malformed whatever the proofs."""
    receipt = dense.artifacts.receipts["trader-2"]
    proofs, extras = receipt.group_proofs, receipt.group_extras
    both = replace(receipt, group_proofs=proofs[::-1], group_extras=extras[::-1])
    assert _receipt_reason(dense, both) == ("receipt-malformed", None)
    # the extras alone reordered: the other band's extras are outside the group they now sit in
    assert _receipt_reason(dense, replace(receipt, group_extras=extras[::-1])) == ("receipt-malformed", None)
    assert _receipt_reason(dense, replace(receipt, group_proofs=proofs[::-1])) == ("sibling-range-proof", 5)
    # in the sparse epoch, where the bottom band has no extras and the top band has
    sparse = honest_epoch()
    receipt = sparse.artifacts.receipts["trader-0"]
    assert [len(e) for e in receipt.group_extras] == [0, 2]
    assert _receipt_reason(sparse, replace(receipt, group_proofs=receipt.group_proofs[::-1])) == (
        "sibling-range-proof", 6)
    assert _receipt_reason(sparse, replace(receipt, group_proofs=receipt.group_proofs[::-1],
                                           group_extras=receipt.group_extras[::-1])) == ("receipt-malformed", None)


# --- (d) audit data with an extra, missing or misplaced anchor: in memory and streamed -------------------------


def _both_audits(tmp_path, bundle, audit, public=PUBLIC) -> tuple[tuple[str, int | None], tuple[str, int | None]]:
    files = EpochFiles(tmp_path, bundle.header.epoch_id)
    write_file(files.audit, encode_audit_data(audit, SYSTEM))
    epoch = published(None, bundle, public)
    on_disk = PublishedEpoch(bundle, public, epoch.inputs, files)
    with pytest.raises(VerificationError) as in_memory:
        audit_epoch(on_disk, audit, chunk_system=SYSTEM, executor=SerialExecutor())
    with pytest.raises(VerificationError) as streamed:
        audit_file(on_disk, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=1)
    return (in_memory.value.reason, in_memory.value.index), (streamed.value.reason, streamed.value.index)


def _anchor_cases(epoch) -> dict:
    audit = epoch.artifacts.audit
    proofs = audit.node_proofs
    anchors = sorted(proofs)
    top, lower = anchors[-1], anchors[0]
    tree = epoch.bundle.header.tree
    levels = band_levels(epoch.bundle.header.asset_count)
    tops = band_tops(tree.chunk_bits, tree.height, levels)
    empty = next((lower[0], i) for i in range(1 << (tree.height - lower[0])) if (lower[0], i) not in proofs)
    below_top = (top[0] - 1, 0)
    assert not is_band_boundary(below_top[0], tree.chunk_bits, tree.height, levels)
    assert lower[0] in tops and top[0] == tree.height
    moved_lower = {k: v for k, v in proofs.items() if k != lower}
    moved_lower[(lower[0] - 1, lower[1] * 2)] = proofs[lower]  # a non-band level, below the anchor
    moved_top = {k: v for k, v in proofs.items() if k != top}
    moved_top[below_top] = proofs[top]
    return {
        "extra anchor with no members": {**proofs, empty: proofs[lower]},
        "extra anchor outside the tree": {**proofs, (top[0], 1): proofs[top]},
        "extra anchor at a non-band level": {**proofs, below_top: proofs[top]},
        "extra anchor at the chunk level": {**proofs, (tree.chunk_bits, 0): proofs[lower]},
        "missing lower anchor": {k: v for k, v in proofs.items() if k != lower},
        "missing top anchor": {k: v for k, v in proofs.items() if k != top},
        "lower proof at a non-band level": moved_lower,
        "top proof below the root": moved_top,
    }


@pytest.mark.parametrize("shape", ["sparse", "dense", "two assets", "three assets"])
def test_audit_data_with_an_extra_missing_or_misplaced_anchor_is_audit_structure_in_both_audits(tmp_path, dense,
                                                                                               three_assets, shape):
    epoch = {"sparse": honest_epoch, "dense": lambda: dense, "two assets": multi_asset_epoch,
             "three assets": lambda: three_assets}[shape]()
    public = {"two assets": MULTI_PUBLIC, "three assets": THREE_PUBLIC}.get(shape, PUBLIC)
    audit = epoch.artifacts.audit
    cases = _anchor_cases(epoch)
    assert len(cases) == 8
    for name, proofs in cases.items():
        assert set(proofs) != set(audit.node_proofs), name
        in_memory, streamed = _both_audits(tmp_path, epoch.bundle, replace(audit, node_proofs=proofs), public)
        assert in_memory == streamed and in_memory[0] == "audit-structure", name
    # the control: the honest audit data passes both audits
    files = EpochFiles(tmp_path, epoch.bundle.header.epoch_id)
    write_file(files.audit, encode_audit_data(audit, SYSTEM))
    on_disk = PublishedEpoch(epoch.bundle, public, published(None, epoch.bundle, public).inputs, files)
    assert audit_file(on_disk, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=1).upper_nodes == \
        audit_epoch(on_disk, audit, chunk_system=SYSTEM, executor=SerialExecutor()).upper_nodes


def test_the_crowd_audit_names_a_missing_or_moved_group_proof_on_the_chunks_it_checks(dense):
    """The crowd audit checks the groups of the chosen chunks' paths only: a missing proof is named by its anchor
    level [node-range-proof, "has no range proof"], a moved one fails [node-range-proof]. (It does not look at
    proofs of groups no chosen path crosses, so an extra anchor is not its concern: the full audit rejects it.)"""
    audit = dense.artifacts.audit
    assert crowd_audit(published(dense), audit, len(audit.chunks), chunk_system=SYSTEM,
                       rng=random.Random(1)) == list(range(len(audit.chunks)))
    for anchor in sorted(audit.node_proofs):
        missing = replace(audit, node_proofs={k: v for k, v in audit.node_proofs.items() if k != anchor})
        with pytest.raises(VerificationError) as caught:
            crowd_audit(published(dense), missing, 1, chunk_system=SYSTEM, rng=random.Random(2))
        assert (caught.value.reason, caught.value.index) == ("node-range-proof", anchor[0])
        assert "no range proof" in caught.value.detail
    lower, top = sorted(audit.node_proofs)
    swapped = replace(audit, node_proofs={lower: audit.node_proofs[top], top: audit.node_proofs[lower]})
    with pytest.raises(VerificationError) as caught:
        crowd_audit(published(dense), swapped, 2, chunk_system=SYSTEM, rng=random.Random(3))
    assert (caught.value.reason, caught.value.index) == ("node-range-proof", lower[0])


@pytest.mark.parametrize("shape", ["sparse", "dense"])
def test_group_proofs_swapped_between_bands_are_named_alike_in_both_audits(tmp_path, dense, shape):
    epoch = honest_epoch() if shape == "sparse" else dense
    audit = epoch.artifacts.audit
    anchors = sorted(audit.node_proofs)
    lower, top = anchors[0], anchors[-1]
    swapped = {**audit.node_proofs, lower: audit.node_proofs[top], top: audit.node_proofs[lower]}
    in_memory, streamed = _both_audits(tmp_path, epoch.bundle, replace(audit, node_proofs=swapped))
    assert in_memory == streamed == ("node-range-proof", lower[0])
    replayed = {**audit.node_proofs, top: second_epoch().artifacts.audit.node_proofs[top]} if shape == "sparse" \
        else None
    if replayed is not None:  # the same anchor's proof from the next epoch
        in_memory, streamed = _both_audits(tmp_path, epoch.bundle, replace(audit, node_proofs=replayed))
        assert in_memory == streamed == ("node-range-proof", top[0])


# --- (e) the right commitments proven under another group's context --------------------------------------------


def _contexts(epoch, anchor, members) -> dict:
    """Contexts an operator might prove group ``anchor``'s true openings under, none of them its own."""
    header = epoch.bundle.header
    other = next(a for a in sorted(_groups(epoch)) if a[0] == anchor[0] and a != anchor) \
        if sum(1 for a in _groups(epoch) if a[0] == anchor[0]) > 1 else (anchor[0], anchor[1] + 1)
    relabelled = [(level, index + 1) for level, index in members]
    return {
        "another anchor": header.context(b"tree-node-group", *group_context_indices(other, members)),
        "members relabelled": header.context(b"tree-node-group", *group_context_indices(anchor, relabelled)),
        "one member left out of the list": header.context(b"tree-node-group",
                                                          *group_context_indices(anchor, members[:-1])),
        "members in another order": header.context(b"tree-node-group",
                                                   *group_context_indices(anchor, members[::-1])),
        "the per-node label": header.context(b"tree-node", *anchor),
        "another epoch's header": second_epoch().bundle.header.context(
            b"tree-node-group", *group_context_indices(anchor, members)),
    }


def test_a_group_proof_of_the_right_commitments_under_another_groups_context_fails(dense):
    for epoch in (honest_epoch(), dense):
        header, audit, tree = epoch.bundle.header, epoch.artifacts.audit, epoch.artifacts.tree
        groups = _groups(epoch)
        anchor = min(groups)
        members = groups[anchor]
        values, blinds, n_bits, own = group_job(header, anchor, [tree.openings[p] for p in members], members)
        for name, context in _contexts(epoch, anchor, members).items():
            assert context != own
            proof, _ = prove_range_pp(list(values), list(blinds), context, n_bits=n_bits)
            bad = replace(audit, node_proofs={**audit.node_proofs, anchor: proof.to_bytes()})
            with pytest.raises(VerificationError) as caught:
                audit_epoch(published(epoch), bad, chunk_system=SYSTEM, executor=SerialExecutor())
            assert (caught.value.reason, caught.value.index) == ("node-range-proof", anchor[0]), name
            receipt = next(r for r in epoch.artifacts.receipts.values()
                           if anchor in receipt_anchors(r.leaf_index, header.tree.chunk_bits, header.tree.height,
                                                        band_levels(header.asset_count)))
            band = receipt_anchors(receipt.leaf_index, header.tree.chunk_bits, header.tree.height,
                                   band_levels(header.asset_count)).index(anchor)
            proofs = list(receipt.group_proofs)
            proofs[band] = proof.to_bytes()
            assert _receipt_reason(epoch, replace(receipt, group_proofs=tuple(proofs))) == (
                "sibling-range-proof", anchor[0]), name
        # the control: a fresh proof under the group's own context passes
        proof, _ = prove_range_pp(list(values), list(blinds), own, n_bits=n_bits)
        audit_epoch(published(epoch), replace(audit, node_proofs={**audit.node_proofs, anchor: proof.to_bytes()}),
                    chunk_system=SYSTEM, executor=SerialExecutor())


# --- (f) the groups themselves -------------------------------------------------------------------------------


def test_band_levels_is_the_largest_band_whose_full_group_fits_64_values():
    expected = {1: 4, 2: 4, 3: 3, 4: 3, 5: 2, 6: 2, 10: 2, 11: 1, 32: 1, 33: 1, 100: 1}
    assert {assets: band_levels(assets) for assets in expected} == expected
    for assets in range(1, 33):
        levels = band_levels(assets)
        assert ((1 << (levels + 1)) - 2) * assets <= MAX_GROUP_VALUES
        assert levels == 4 or ((1 << (levels + 2)) - 2) * assets > MAX_GROUP_VALUES
    with pytest.raises(ValueError):
        band_levels(0)


def test_every_asset_count_a_header_allows_fits_its_smallest_group():
    """The smallest group is a pair of siblings (b = 1): 2·A values, which one Bulletproofs++ proof must hold. The
    header (and the configuration: 31 collateral assets and the settlement asset) allows no more assets than that;
    33 assets (the limit before groups) would put 66 values in a pair."""
    from circuits.public_data import MAX_COLLATERAL_ASSETS
    from provers.bulletproofs_pp import MAX_VALUES
    from zkclear.clearing.assets import MAX_COLLATERAL_ASSETS as CONFIGURED
    from zkclear.proofs.header import MAX_ASSETS

    assert MAX_ASSETS == 1 + MAX_COLLATERAL_ASSETS == 1 + CONFIGURED
    for assets in range(1, MAX_ASSETS + 1):
        assert ((1 << (band_levels(assets) + 1)) - 2) * assets <= MAX_VALUES
    assert 2 * (MAX_ASSETS + 1) > MAX_VALUES


def test_band_top_bottom_and_anchors_with_a_shorter_last_band():
    c, height, levels = 2, 9, 3  # H − c = 7: bands 2..4, 5..7 and the single level 8
    assert [band_top(level, c, height, levels) for level in range(c, height)] == [5, 5, 5, 8, 8, 8, 9]
    assert band_tops(c, height, levels) == [5, 8, 9]
    assert [band_bottom(top, c, height, levels) for top in (5, 8, 9)] == [2, 5, 8]
    for bad_top in (2, 3, 4, 6, 7):
        with pytest.raises(ValueError):
            band_bottom(bad_top, c, height, levels)
    for bad_level in (1, 9, 10):
        with pytest.raises(ValueError):
            band_top(bad_level, c, height, levels)
    assert [is_band_boundary(level, c, height, levels) for level in range(c, height + 1)] == [
        True, False, False, True, False, False, True, True]
    assert anchor_of((2, 13), c, height, levels) == (5, 1)
    assert anchor_of((4, 13), c, height, levels) == (5, 6)
    assert anchor_of((7, 5), c, height, levels) == (8, 2)
    assert anchor_of((8, 1), c, height, levels) == (9, 0)
    leaf = 0b101101101
    assert receipt_anchors(leaf, c, height, levels) == [(5, leaf >> 5), (8, leaf >> 8), (9, 0)]
    assert group_bits(5, 30) == node_range_bits(4, 30) == 64 and group_bits(5, 20) == 32
    assert group_context_indices((5, 1), [(2, 8), (3, 4)]) == (5, 1, 2, 2, 8, 3, 4)
    # b dividing H − c: no shorter band
    assert band_tops(2, 8, 2) == [4, 6, 8] and band_tops(2, 8, 6) == [8] and band_tops(2, 8, 4) == [6, 8]


@pytest.mark.parametrize(("c", "height", "levels"), [(2, 9, 3), (1, 7, 4), (2, 8, 4), (0, 5, 2), (3, 6, 1),
                                                     (1, 6, 4)])
def test_every_upper_node_is_in_exactly_one_group_with_its_sibling(c, height, levels):
    upper = [(level, index) for level in range(c, height) for index in range(1 << (height - level))]
    groups = group_positions(upper, c, height, levels)
    assert sorted(pos for members in groups.values() for pos in members) == sorted(upper)
    assert list(groups) == sorted(groups)
    for anchor, members in groups.items():
        top = anchor[0]
        low = band_bottom(top, c, height, levels)
        assert top in band_tops(c, height, levels)
        assert len(members) == (1 << (top - low + 1)) - 2 <= (1 << (levels + 1)) - 2  # full tree: full groups
        assert members == sorted(members) == members_present(set(upper), anchor, c, height, levels)
        for level, index in members:
            assert (level, index ^ 1) in members  # the sibling shares the group
            assert in_group((level, index), anchor, c, height, levels)
            assert anchor_of((level, index), c, height, levels) == anchor
    for level, index in upper:
        owners = [a for a in groups if in_group((level, index), a, c, height, levels)]
        assert owners == [anchor_of((level, index), c, height, levels)]
    assert not in_group((height, 0), (height, 0), c, height, levels)  # the root is in no group
    if c:
        assert not in_group((c - 1, 0), anchor_of((c, 0), c, height, levels), c, height, levels)


@pytest.mark.parametrize(("c", "height", "levels"), [(2, 9, 3), (1, 7, 4), (0, 5, 2)])
def test_a_receipts_anchors_groups_and_extras_cover_its_path(c, height, levels):
    upper = [(level, index) for level in range(c, height) for index in range(1 << (height - level))]
    groups = group_positions(upper, c, height, levels)
    for leaf in (0, 1, (1 << height) - 1, 0b1011 << (height - 4) | 3):
        anchors = receipt_anchors(leaf, c, height, levels)
        assert [a[0] for a in anchors] == band_tops(c, height, levels)
        for anchor in anchors:
            members = groups[anchor]
            low, top = band_bottom(anchor[0], c, height, levels), anchor[0]
            known = path_and_siblings(leaf, low, top)
            assert known <= set(members)  # the path and the siblings of the band are members
            extras = receipt_extras(members, leaf)
            assert sorted([*extras, *known]) == members and not set(extras) & known
            assert len(extras) == len(members) - 2 * (top - low)


def test_members_present_and_extras_of_a_partly_populated_group():
    c, height, levels = 1, 7, 4
    present = {(1, 0), (1, 1), (1, 5), (1, 4), (2, 0), (2, 1), (2, 2), (2, 3), (3, 0), (3, 1), (4, 0), (4, 1),
               (1, 16), (1, 17)}
    assert members_present(present, (5, 0), c, height, levels) == sorted(present - {(1, 16), (1, 17)})
    assert members_present(present, (5, 1), c, height, levels) == [(1, 16), (1, 17)]
    assert members_present(present, (7, 0), c, height, levels) == []
    members = members_present(present, (5, 0), c, height, levels)
    assert receipt_extras(members, 0) == [(1, 4), (1, 5), (2, 2), (2, 3)]
    assert receipt_extras(members, 2 * 5) == [(1, 0), (1, 1), (2, 0), (2, 1)]  # leaf 10: chunk 5, (2, 2)'s
    assert receipt_extras([(1, 16), (1, 17)], 16 << 1) == []


@pytest.mark.parametrize("sparse", [True, False])
def test_split_level_is_a_band_boundary(sparse):
    for height, c in ((32, 4), (20, 2), (9, 2), (7, 1)):
        config = TreeConfig(height=height, chunk_bits=c, chunk_padding="none", sparse=sparse)
        for chunks in (1, 3, 100, 5000):
            if not sparse and chunks > 1 << (height - c):
                continue
            for subtree_chunks in (1, 4, 64, 1000):
                unbanded = split_level(config, chunks, subtree_chunks)
                for levels in (1, 2, 3, 4):
                    split = split_level(config, chunks, subtree_chunks, levels)
                    assert is_band_boundary(split, c, height, levels), (height, c, chunks, subtree_chunks, levels)
                    # raised to the next boundary (the top the coordinator holds shrinks), never past the root
                    assert unbanded <= split <= height and (split == height or split - unbanded < levels)
    assert split_level(TreeConfig(height=9, chunk_bits=2, chunk_padding="none", sparse=False), 32, 8, 3) == 5
