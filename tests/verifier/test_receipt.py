"""Participant verification of receipts, the attacks it names, and the crowd audit."""

import random
from dataclasses import replace

import pytest

from tests.proofs.epoch_fixtures import PUBLIC, SYSTEM, honest_epoch, second_epoch, tall_epoch
from zkclear.crypto.pedersen import commit
from zkclear.errors import VerificationError
from zkclear.tree.inclusion import crowd_audit, verify_receipt
from zkclear.tree.sum_tree import TreeNode


def _verify(bundle, receipt, **kwargs):
    return verify_receipt(bundle, receipt, PUBLIC, chunk_system=SYSTEM, **kwargs)


def _reason(bundle, receipt, **kwargs):
    with pytest.raises(VerificationError) as caught:
        _verify(bundle, receipt, **kwargs)
    return caught.value.reason


def test_every_receipt_of_an_honest_epoch_verifies_with_the_participants_values():
    epoch = honest_epoch()
    assert len(epoch.artifacts.receipts) == len(epoch.accounts)
    for account in epoch.accounts:
        check = _verify(
            epoch.bundle,
            epoch.artifacts.receipts[account.account_id],
            expected_cash=account.witness.cash,
            expected_positions=account.witness.positions,
        )
        value_per_lot = PUBLIC.value_per_lot
        assert check.liability == account.witness.cash + sum(
            v * q for v, q in zip(value_per_lot, account.witness.positions, strict=True)
        )


def test_receipt_at_the_default_height_32_verifies():
    epoch = tall_epoch()
    receipt = next(iter(epoch.artifacts.receipts.values()))
    assert len(receipt.upper_siblings) == 30
    assert receipt.leaf_index < 1 << 32
    _verify(epoch.bundle, receipt)


def test_values_other_than_expected_are_named():
    epoch = honest_epoch()
    account = epoch.accounts[0]
    receipt = epoch.artifacts.receipts[account.account_id]
    assert _reason(epoch.bundle, receipt, expected_cash=account.witness.cash + 1) == "account-values-mismatch"
    assert _reason(epoch.bundle, receipt, expected_positions=(0, 0, 0)) == "account-values-mismatch"


def test_receipt_from_another_epoch_is_rejected():
    old = honest_epoch()
    receipt = old.artifacts.receipts["trader-1"]
    new = second_epoch()
    assert _reason(new.bundle, receipt) == "receipt-epoch-mismatch"
    # relabelling the old receipt as the new epoch does not help: its path leads to the old root
    relabelled = replace(receipt, epoch_id=2, header_digest=new.bundle.header.digest())
    assert _reason(new.bundle, relabelled) in ("path-root-mismatch", "leaf-mismatch")


def test_replaced_sibling_sum_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-2"]
    siblings = list(receipt.upper_siblings)
    low = siblings[1]
    siblings[1] = TreeNode.of(low.commitment - commit(1000, 0), low.digest)
    assert _reason(epoch.bundle, replace(receipt, upper_siblings=tuple(siblings))) == "path-root-mismatch"


def test_sibling_with_someone_elses_range_proof_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-2"]
    proofs = list(receipt.sibling_proofs)
    proofs[0], proofs[1] = proofs[1], proofs[0]
    with pytest.raises(VerificationError) as caught:
        _verify(epoch.bundle, replace(receipt, sibling_proofs=tuple(proofs)))
    assert caught.value.reason == "sibling-range-proof"


def test_moved_leaf_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    # another slot of the same chunk: that leaf is not the participant's
    assert _reason(epoch.bundle, replace(receipt, leaf_index=receipt.leaf_index ^ 1)) == "leaf-mismatch"
    # the whole chunk moved to the mirror position: the path no longer leads to the root
    moved_position = receipt.chunk.position ^ 1
    moved = replace(
        receipt,
        chunk=replace(receipt.chunk, position=moved_position),
        leaf_index=receipt.leaf_index ^ (1 << epoch.bundle.header.tree.chunk_bits),
    )
    assert _reason(epoch.bundle, moved) == "path-root-mismatch"


def test_someone_elses_receipt_data_does_not_match_my_id():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    assert _reason(epoch.bundle, replace(receipt, account_id="trader-4")) == "leaf-mismatch"
    assert _reason(epoch.bundle, replace(receipt, salt=bytes(32))) == "leaf-mismatch"


def test_opening_of_another_account_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    other = epoch.artifacts.receipts["trader-4"]
    assert _reason(epoch.bundle, replace(receipt, opening=other.opening)) == "opening-mismatch"


def test_truncated_path_is_malformed():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    assert (
        _reason(epoch.bundle, replace(receipt, upper_siblings=receipt.upper_siblings[:-1]))
        == "receipt-malformed"
    )


def test_crowd_audit_checks_chunks_chosen_by_local_randomness():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    picked = crowd_audit(epoch.bundle, audit, PUBLIC, 2, chunk_system=SYSTEM, rng=random.Random(5))
    assert len(picked) == 2 and len(set(picked)) == 2
    everything = crowd_audit(epoch.bundle, audit, PUBLIC, 100, chunk_system=SYSTEM)
    assert everything == list(range(len(audit.chunks)))


def test_crowd_audit_catches_a_bad_chunk_proof():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    chunks = list(audit.chunks)
    chunks[0] = replace(chunks[0], proof=chunks[1].proof)
    bad = replace(audit, chunks=tuple(chunks))
    with pytest.raises(VerificationError) as caught:
        crowd_audit(epoch.bundle, bad, PUBLIC, len(chunks), chunk_system=SYSTEM)
    assert caught.value.reason == "chunk-collateral-proof"
