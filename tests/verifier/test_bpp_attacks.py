"""Red team: the tree nodes' Bulletproofs++ range proofs (epoch header version 4), attacked by the operator.

Node proofs moved to another node, level or epoch; old Bulletproofs bytes in place of Bulletproofs++ ones; bytes
truncated, extended or relabelled with another width; and a malicious node prover (``range_proof._prove``
unchecked, with digits that have the right sum but are not digits) proving wrapped values (r − x, exactly 2^n)
at every width ``node_range_bits`` produces, for one asset and for several (m = A, padded when A is not a power
of two). The end-to-end attack: an operator with a large negative dummy leaf who forges both the chunk proof and
every node proof over the true (negative) sums is named by the auditor and by participants in other chunks.
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
from zkclear.crypto.field import R, fr_random
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.chunks import PlainAccount
from zkclear.proofs.epoch_prover import AccountInput
from zkclear.tree.placement import RANGE_WIDTHS, node_range_bits
from zkclear.tree.sum_tree import TreeNode
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.receipt import verify_receipt
from zkclear.verifier.statements import node_statement, verify_named


def _audit_reason(bundle, audit, public=PUBLIC) -> str:
    with pytest.raises(VerificationError) as caught:
        audit_epoch(published(None, bundle, public), audit, chunk_system=SYSTEM, executor=SerialExecutor())
    return caught.value.reason


def _with_proof(audit, position, proof: bytes):
    proofs = dict(audit.node_proofs)
    proofs[position] = proof
    return replace(audit, node_proofs=proofs)


def _malicious_node_proof(values, blindings, n_bits: int, context: bytes) -> BppRangeProof:
    commitments = [commit(v, b) for v, b in zip(values, blindings, strict=True)]
    transcript = bpp.range_proof_transcript(commitments, context, n_bits)
    return bpp._prove([v % R for v in values], blindings, transcript, fr_random, check_witness=False, n_bits=n_bits)


# --- node proofs moved, replaced or re-encoded --------------------------------------------------------------


@pytest.fixture(scope="module")
def epoch():
    return honest_epoch()


def test_a_node_proof_moved_to_another_node_of_the_same_or_another_level_is_named(epoch):
    audit = epoch.artifacts.audit
    positions = sorted(audit.node_proofs)
    by_level: dict[int, list] = {}
    for level, index in positions:
        by_level.setdefault(level, []).append((level, index))
    level, pair = next((lv, ps) for lv, ps in sorted(by_level.items()) if len(ps) >= 2)
    assert node_range_bits(level, epoch.bundle.header.equity_bits) == 64
    target, source = pair[0], pair[1]
    assert _audit_reason(epoch.bundle, _with_proof(audit, target, audit.node_proofs[source])) == "node-range-proof"
    upper = next(p for p in positions if p[0] != level)  # same width (64 bits), another level
    assert _audit_reason(epoch.bundle, _with_proof(audit, target, audit.node_proofs[upper])) == "node-range-proof"
    # a swap of two proofs of one level
    proofs = dict(audit.node_proofs)
    proofs[target], proofs[source] = proofs[source], proofs[target]
    assert _audit_reason(epoch.bundle, replace(audit, node_proofs=proofs)) == "node-range-proof"


def test_a_node_proof_of_the_same_position_in_another_epoch_is_named_for_the_participant(epoch):
    second = second_epoch()
    receipt = second.artifacts.receipts["trader-0"]
    swapped = tuple(epoch.artifacts.audit.node_proofs.get(p, proof) for p, proof in
                    zip(_path(second, "trader-0"), receipt.sibling_proofs, strict=True))
    assert swapped != receipt.sibling_proofs
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(None, second.bundle), replace(receipt, sibling_proofs=swapped), "trader-0",
                       chunk_system=SYSTEM)
    assert caught.value.reason == "sibling-range-proof"


def _path(epoch, account_id):
    receipt = epoch.artifacts.receipts[account_id]
    height, c = epoch.bundle.header.tree.height, epoch.bundle.header.tree.chunk_bits
    return [(level, (receipt.leaf_index >> level) ^ 1) for level in range(c, height)]


def test_old_bulletproofs_bytes_and_malformed_bytes_in_place_of_a_node_proof_are_named(epoch):
    audit, header = epoch.artifacts.audit, epoch.bundle.header
    position = sorted(audit.node_proofs)[0]
    level, index = position
    opening = epoch.artifacts.tree.openings[position]
    values, blinds = [v for v, _ in opening], [b for _, b in opening]
    context = header.context(b"tree-node", level, index)
    n_bits = node_range_bits(level, header.equity_bits)
    # an honest Bulletproofs (v3) proof of the node's true opening, in its context
    old, _ = prove_range(values, blinds, n_bits, context)
    honest = audit.node_proofs[position]
    narrower, _ = prove_range_pp(values, blinds, context, n_bits=32)  # the true value fits 32 bits
    relabelled = bytearray(narrower.to_bytes())
    relabelled[1] = 64
    patched = bytearray(honest)
    patched[1] = 32
    for bad in (old.to_bytes(), honest[:-1], honest + b"\x00", honest[:3], b"", narrower.to_bytes(),
                bytes(relabelled), bytes(patched), bytes([2]) + honest[2:]):
        assert _audit_reason(epoch.bundle, _with_proof(audit, position, bad)) == "node-range-proof"
    missing = dict(audit.node_proofs)
    del missing[position]
    assert _audit_reason(epoch.bundle, replace(audit, node_proofs=missing)) == "audit-structure"


# --- wrapped values at every width and asset count ---------------------------------------------------------------


def _header(epoch, equity_bits: int, assets: int):
    return replace(epoch.bundle.header, equity_bits=equity_bits, reserve_totals=tuple(range(1, assets + 1)))


LEVEL = 3
#: equity_bits that make node_range_bits(LEVEL, ·) each width: 8, 16, 32 and 64 bits
EQUITY_BITS = {8: 5, 16: 13, 32: 29, 64: 61}


@pytest.mark.parametrize("n_bits", RANGE_WIDTHS)
@pytest.mark.parametrize("assets", [1, 3])
@pytest.mark.parametrize("attack", ["minus five", "exactly 2^n", "r minus 2^n plus one", "honest control"])
def test_a_malicious_node_proof_of_a_wrapped_value_is_named_at_every_width(epoch, n_bits, assets, attack):
    header = _header(epoch, EQUITY_BITS[n_bits], assets)
    assert node_range_bits(LEVEL, header.equity_bits) == n_bits
    bad = {"minus five": -5, "exactly 2^n": 1 << n_bits, "r minus 2^n plus one": R - (1 << n_bits) + 1,
           "honest control": (1 << n_bits) - 1}[attack]
    values = [7, bad, 0][:assets] if assets > 1 else [bad]
    blindings = [fr_random() for _ in values]
    index = 5
    proof = _malicious_node_proof(values, blindings, n_bits, header.context(b"tree-node", LEVEL, index))
    node = TreeNode.of([commit(v, b) for v, b in zip(values, blindings, strict=True)], bytes(32))
    statement = node_statement(header, LEVEL, index, node, proof.to_bytes(), "node-range-proof")
    assert type(statement) is BppRangeStatement and statement.n_bits == n_bits
    named = [("node-range-proof", LEVEL, statement)]
    if attack == "honest control":
        verify_named(named)
        return
    with pytest.raises(VerificationError) as caught:
        verify_named(named)
    assert caught.value.reason == "node-range-proof" and caught.value.index == LEVEL
    # and in a batch of honest node statements
    honest = []
    for k in range(3):
        vals = [k + 1] * assets
        blinds = [fr_random() for _ in vals]
        ctx = header.context(b"tree-node", LEVEL, 10 + k)
        p, points = prove_range_pp(vals, blinds, ctx, n_bits=n_bits)
        honest.append(("node-range-proof", LEVEL, node_statement(header, LEVEL, 10 + k, TreeNode.of(points, bytes(32)),
                                                                 p.to_bytes(), "node-range-proof")))
    verify_named(honest)
    with pytest.raises(VerificationError) as caught:
        verify_named([*honest[:2], ("sibling-range-proof", 4, statement), honest[2]])
    assert caught.value.reason == "sibling-range-proof" and caught.value.index == 4


def test_a_node_with_as_many_liabilities_as_a_proof_for_another_asset_count_is_named(epoch):
    header = _header(epoch, 29, 3)  # 32-bit nodes, three assets (M = 4)
    values, blindings = [1, 2, 3, 0], [fr_random() for _ in range(4)]
    ctx = header.context(b"tree-node", LEVEL, 1)
    four, points = prove_range_pp(values, blindings, ctx, n_bits=32)
    three, points3 = prove_range_pp(values[:3], blindings[:3], ctx, n_bits=32)
    # the padded proof of 4 values (the 4th 0) is the right length for M = 4 but is not a proof for m = 3
    statement = node_statement(header, LEVEL, 1, TreeNode.of(points[:3], bytes(32)), four.to_bytes(),
                               "node-range-proof")
    with pytest.raises(VerificationError):
        verify_named([("node-range-proof", LEVEL, statement)])
    with pytest.raises(VerificationError) as caught:  # four liabilities in a three-asset epoch
        node_statement(header, LEVEL, 1, TreeNode.of(points, bytes(32)), four.to_bytes(), "node-range-proof")
    assert caught.value.reason == "node-range-proof"
    verify_named([("node-range-proof", LEVEL, node_statement(header, LEVEL, 1, TreeNode.of(points3, bytes(32)),
                                                             three.to_bytes(), "node-range-proof"))])


# --- end to end -----------------------------------------------------------------------------------------------


def _lying_node_proofs(job):
    """Node proofs of the true (possibly negative) sums, by the malicious prover."""
    _blindings, nodes = job
    return [_malicious_node_proof(list(values), list(blinds), n, ctx).to_bytes() for values, blinds, n, ctx in nodes]


@pytest.fixture(scope="module")
def negative_dummy_epoch():
    """An operator hides a dummy leaf of −10^9 (so every subtree holding it sums below zero): a clamped chunk proof
    (the only one it can make) and node proofs of the true sums by the malicious prover."""
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


def test_the_forged_node_proofs_of_negative_subtrees_and_only_those_fail(negative_dummy_epoch):
    artifacts, bundle = negative_dummy_epoch
    header, audit = bundle.header, artifacts.audit
    negative, positive = [], []
    for (level, index), proof in sorted(audit.node_proofs.items()):
        (value,) = [v for v, _ in artifacts.tree.openings[(level, index)]]
        node = audit.upper_nodes[(level, index)]
        item = ("node-range-proof", level, node_statement(header, level, index, node, proof, "node-range-proof"))
        (negative if value < 0 else positive).append(item)
    assert negative and positive
    verify_named(positive)  # the malicious prover is a prover on values in range
    for item in negative:
        with pytest.raises(VerificationError) as caught:
            verify_named([*positive, item])
        assert caught.value.reason == "node-range-proof" and caught.value.index == item[1]


def test_the_auditor_and_participants_in_other_chunks_name_the_forged_negative_subtree(negative_dummy_epoch):
    artifacts, bundle = negative_dummy_epoch
    # the auditor: the clamped chunk proof or a forged node proof, whichever it meets first
    assert _audit_reason(bundle, artifacts.audit) in ("chunk-collateral-proof", "node-range-proof")
    # a participant in another chunk checks the dummy's subtree only through the sibling node proofs
    dummy_chunk = artifacts.receipts["dummy"].chunk.position
    outside = [r for account_id, r in artifacts.receipts.items() if r.chunk.position != dummy_chunk]
    assert outside
    for receipt in outside:
        with pytest.raises(VerificationError) as caught:
            verify_receipt(published(None, bundle), receipt, receipt.account_id, chunk_system=SYSTEM)
        assert caught.value.reason == "sibling-range-proof"


def test_a_multi_asset_node_proof_with_its_assets_swapped_or_one_dropped_is_named():
    epoch = multi_asset_epoch()
    header, audit = epoch.bundle.header, epoch.artifacts.audit
    assert header.asset_count == 2
    position = sorted(audit.node_proofs)[-1]
    level, index = position
    opening = epoch.artifacts.tree.openings[position]
    values, blinds = [v for v, _ in opening], [b for _, b in opening]
    n_bits = node_range_bits(level, header.equity_bits)
    ctx = header.context(b"tree-node", level, index)
    assert values[0] != values[1]
    swapped, _ = prove_range_pp(values[::-1], blinds[::-1], ctx, n_bits=n_bits)
    single, _ = prove_range_pp(values[:1], blinds[:1], ctx, n_bits=n_bits)
    for bad in (swapped.to_bytes(), single.to_bytes()):
        assert _audit_reason(epoch.bundle, _with_proof(audit, position, bad), MULTI_PUBLIC) == "node-range-proof"


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
