"""The full audit: an honest epoch passes; every attack is rejected and named."""

from dataclasses import replace

import pytest

import zkclear.proofs.epoch_prover as epoch_prover
from provers.bulletproofs import prove_range
from provers.bulletproofs_pp import prove_range_pp
from tests.proofs.epoch_fixtures import (
    MULTI_PUBLIC,
    PUBLIC,
    SMALL,
    SYSTEM,
    accounts,
    attested,
    honest_epoch,
    make_epoch,
    multi_asset_accounts,
    multi_asset_epoch,
    public_inputs,
    published,
    reserves,
    rootless_first_epoch,
    second_epoch,
)
from zkclear.chains import Attestation, key_from_secret, sign_message
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import ProvingError, VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.chunks import EquityOnlyChunks, PlainAccount
from zkclear.proofs.epoch_prover import AccountInput
from zkclear.tree.sum_tree import TreeNode
from zkclear.verifier.audit import audit_epoch, check_total_opening
from zkclear.verifier.receipt import crowd_audit, verify_receipt


def _audit(bundle, audit, **kwargs):
    return audit_epoch(published_bundle(bundle), audit, chunk_system=SYSTEM, executor=SerialExecutor(), **kwargs)


def published_bundle(bundle):
    return published(None, bundle)


def _verify(bundle, receipt):
    return verify_receipt(published_bundle(bundle), receipt, receipt.account_id, chunk_system=SYSTEM)


def _audit_reason(bundle, audit, **kwargs):
    with pytest.raises(VerificationError) as caught:
        _audit(bundle, audit, **kwargs)
    return caught.value.reason


def test_honest_epoch_passes_the_audit():
    epoch = honest_epoch()
    report = _audit(epoch.bundle, epoch.artifacts.audit)
    assert report.reserves[0].total == 1_000_000
    assert report.leaves == report.chunks * SMALL.chunk_size
    assert report.header_hash == epoch.bundle.epoch_hash().hex()


def test_the_auditors_total_opening_is_checked():
    epoch = honest_epoch()
    expected = sum(
        a.witness.cash + sum(v * q for v, q in zip(PUBLIC.value_per_lot, a.witness.positions, strict=True))
        for a in epoch.accounts
    )
    ((total, blinding),) = epoch.artifacts.total_opening
    assert total == expected
    digest = epoch.bundle.header.digest()
    assert check_total_opening(epoch.bundle, (digest, ((total, blinding),))) == (expected,)
    for bad in ((digest, ((total - 1, blinding),)), (second_epoch().bundle.header.digest(), ((total, blinding),)),
                (digest, ((total, blinding), (0, 0)))):
        with pytest.raises(VerificationError) as caught:
            check_total_opening(epoch.bundle, bad)
        assert caught.value.reason == "total-liabilities-opening"


def test_audit_data_carries_no_total_opening():
    from zkclear.bundle.model import AuditData

    assert "total_opening" not in AuditData.__dataclass_fields__


def test_epochs_are_chained_and_a_wrong_predecessor_is_named():
    first, second = honest_epoch(), second_epoch()
    assert second.bundle.header.previous_root == first.bundle.root.digest
    assert second.bundle.header.previous_epoch_hash == first.bundle.epoch_hash()
    _audit(second.bundle, second.artifacts.audit, previous=first.bundle.chain_link())
    wrong = replace(first.bundle.chain_link(), root_digest=bytes(32))
    assert _audit_reason(second.bundle, second.artifacts.audit, previous=wrong) == "epoch-chain-broken"


def test_a_first_epoch_that_names_a_previous_epoch_is_refused_alone_and_after_an_epoch_0():
    forged = rootless_first_epoch()
    assert forged.bundle.header.epoch_id == 1 and forged.bundle.header.previous_root != bytes(32)
    assert _audit_reason(forged.bundle, forged.artifacts.audit) == "epoch-chain-broken"
    named = replace(forged.bundle.chain_link(), epoch_id=0, root_digest=forged.bundle.header.previous_root,
                    epoch_hash=forged.bundle.header.previous_epoch_hash)  # the epoch 0 it names
    assert _audit_reason(forged.bundle, forged.artifacts.audit, previous=named) == "epoch-chain-broken"


def test_a_later_epoch_audited_alone_is_not_asked_for_the_genesis_values():
    second = second_epoch()
    assert second.bundle.header.previous_root != bytes(32)
    assert _audit(second.bundle, second.artifacts.audit).epoch_id == 2


def test_audit_data_of_another_epoch_is_rejected():
    assert _audit_reason(second_epoch().bundle, honest_epoch().artifacts.audit) == "audit-epoch-mismatch"


def test_sibling_sum_replaced_in_the_published_tree_is_named():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    c = SMALL.chunk_bits
    pos = next(p for p in sorted(audit.upper_nodes) if p[0] == c + 2 and p not in audit.padding)
    node = audit.upper_nodes[pos]
    nodes = dict(audit.upper_nodes)
    nodes[pos] = TreeNode.of(node.liabilities[0] - commit(500, 0), node.digest, node.positions)
    assert _audit_reason(epoch.bundle, replace(audit, upper_nodes=nodes)) == "node-sum-mismatch"
    nodes[pos] = TreeNode.of(node.liabilities, node.digest, (node.positions[0] + commit(1, 0), *node.positions[1:]))
    assert _audit_reason(epoch.bundle, replace(audit, upper_nodes=nodes)) == "node-sum-mismatch"
    nodes[pos] = replace(node, digest=bytes(32))
    assert _audit_reason(epoch.bundle, replace(audit, upper_nodes=nodes)) == "node-hash-mismatch"


def test_swapped_leaves_break_the_chunk_root():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    chunk = audit.chunks[0]
    swapped = replace(chunk, id_hashes=(chunk.id_hashes[1], chunk.id_hashes[0], *chunk.id_hashes[2:]))
    bad = replace(audit, chunks=(swapped, *audit.chunks[1:]))
    assert _audit_reason(epoch.bundle, bad) == "chunk-root-mismatch"


def test_missing_padding_node_is_named():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    padding = dict(audit.padding)
    padding.pop(next(iter(padding)))
    assert _audit_reason(epoch.bundle, replace(audit, padding=padding)) == "padding-node-missing"


def test_padding_node_with_a_non_zero_value_is_caught_by_the_auditor(monkeypatch):
    _shift_padding_liability(monkeypatch, 5)
    epoch = make_epoch(secret=b"padding-attack-secret-0123456789")
    assert _audit_reason(epoch.bundle, epoch.artifacts.audit) == "padding-node-nonzero"


def _shift_padding_liability(monkeypatch, shift: int) -> None:
    """Make every padding node's liability commit to ``shift`` (its position sums stay zero): the prover's
    padding source commits to the liability first, then to one position sum per instrument."""
    real_commit = epoch_prover.commit
    calls = iter(range(1 << 30))
    per_node = 1 + 1  # its liability and its position vector
    monkeypatch.setattr(epoch_prover, "commit",
                        lambda value, blinding: real_commit(value + (shift if next(calls) % per_node == 0 else 0),
                                                            blinding))


def test_negative_padding_sibling_is_caught_by_participants_and_auditor(monkeypatch):
    _shift_padding_liability(monkeypatch, -5)
    epoch = make_epoch(secret=b"negative-padding-secret-01234567")
    with pytest.raises(VerificationError) as caught:
        _verify(epoch.bundle, epoch.artifacts.receipts["trader-0"])
    assert caught.value.reason == "sibling-range-proof"
    assert _audit_reason(epoch.bundle, epoch.artifacts.audit) in ("padding-node-nonzero", "node-range-proof")


class _LyingChunks(EquityOnlyChunks):
    """A cheating operator: publishes the true (negative) equity commitments but range-proves the
    equities clamped at zero (the only proof it can make)."""

    def prove(self, witnesses, public, context, blindings):
        commitments, openings = self.commit_accounts(witnesses, public, context, blindings)
        equities = [o.equity_opening(public) for o in openings]
        proof, _ = prove_range(
            [max(v, 0) for v, _ in equities], [b for _, b in equities], public.equity_bits, context
        )
        return proof.to_bytes(), commitments, openings


def _clamped_node_proofs(job):
    _blindings, nodes = job
    return [prove_range_pp([max(v, 0) for v in values], list(blinds), ctx, n_bits=n)[0].to_bytes()
            for values, blinds, n, ctx in nodes]


def test_dummy_leaf_with_negative_liability_cannot_be_proven():
    dummy = AccountInput("dummy", PlainAccount(-40_000, (0, 0, 0)))
    with pytest.raises(ProvingError):
        make_epoch(account_list=[*accounts(7), dummy])


def test_dummy_leaf_with_negative_liability_and_a_borrowed_proof_is_named(monkeypatch):
    """The operator proves the chunk with the dummy's equity clamped to 0 and publishes the real
    (negative) commitment; node proofs are forged the same way."""
    monkeypatch.setattr(epoch_prover, "_prove_nodes", _clamped_node_proofs)
    dummy = AccountInput("dummy", PlainAccount(-40_000, (0, 0, 0)))
    lying = _LyingChunks()
    artifacts = epoch_prover.prove_epoch(
        [*accounts(7), dummy],
        PUBLIC,
        reserves(),
        epoch_id=1,
        previous=None,
        config=SMALL,
        blindings=BlindingSource.deterministic(b"dummy-leaf-attack-0123456789abcd"),
        chunk_system=lying,
        public_inputs_digest=public_inputs(1).digest(),
    )
    monkeypatch.undo()
    bundle = attested(artifacts.bundle)
    assert _audit_reason(bundle, artifacts.audit) in ("chunk-collateral-proof", "node-range-proof")
    # Every participant who shares the dummy's chunk sees it in the batch proof they verify; a
    # participant elsewhere sees only subtree sums, which may honestly be non-negative: the auditor
    # and the crowd audit are what reach the other chunks.
    dummy_chunk = artifacts.receipts["dummy"].chunk.position
    neighbours = [
        r
        for account_id, r in artifacts.receipts.items()
        if r.chunk.position == dummy_chunk and account_id != "dummy"
    ]
    assert neighbours
    for receipt in neighbours:
        with pytest.raises(VerificationError) as caught:
            _verify(bundle, receipt)
        assert caught.value.reason == "chunk-collateral-proof"
    with pytest.raises(VerificationError) as caught:
        crowd_audit(published_bundle(bundle), artifacts.audit, len(artifacts.audit.chunks), chunk_system=SYSTEM)
    assert caught.value.reason in ("chunk-collateral-proof", "node-range-proof")


def test_position_omitted_breaks_the_matched_book():
    honest = accounts(7)
    with pytest.raises(ProvingError, match="not matched"):
        make_epoch(account_list=honest[:-1])


def test_position_omitted_with_a_forged_blinding_sum_is_named(monkeypatch):
    honest = accounts(7)
    last = honest[-1]
    cut = AccountInput(last.account_id, PlainAccount(last.witness.cash, (0, *last.witness.positions[1:])))
    monkeypatch.setattr(epoch_prover, "require_matched", lambda positions, n: None)
    epoch = make_epoch(account_list=[*honest[:-1], cut], secret=b"omitted-position-0123456789abcde")
    monkeypatch.undo()
    with pytest.raises(VerificationError) as caught:
        _audit(epoch.bundle, epoch.artifacts.audit)
    assert caught.value.reason == "matched-book" and "do not sum to zero" in str(caught.value)


def test_reserves_below_liabilities_cannot_be_proven():
    with pytest.raises(ProvingError, match="reserves"):
        make_epoch(balances=(1000, 1000))


def test_reserves_below_liabilities_with_a_forged_proof_are_named(monkeypatch):
    def forged(reserves, totals, root_blindings, context, *, asset_ids=None, nonces=None):
        return prove_range([0] * len(totals), [-b for b in root_blindings], 64, context)[0].to_bytes()

    monkeypatch.setattr(epoch_prover, "prove_solvency", forged)
    monkeypatch.setattr(epoch_prover, "require_solvent", lambda reserves, totals, assets: None)
    epoch = make_epoch(balances=(1000, 1000), secret=b"insolvent-operator-0123456789abc")
    monkeypatch.undo()
    assert _audit_reason(epoch.bundle, epoch.artifacts.audit) == "solvency-proof"


def test_attestation_by_the_wrong_key_is_named():
    epoch = honest_epoch()
    listed = epoch.bundle.reserves.entries[1]
    impostor = key_from_secret("solana", bytes([0x33]) * 32)
    text = epoch.bundle.attestations[1].text  # the listed address's text, signed by another key
    forged = Attestation(listed.chain, listed.address, text,
                         sign_message(impostor.secret, impostor.address, text.encode("ascii")))
    wrong = epoch.bundle.with_attestations((epoch.bundle.attestations[0], forged))
    with pytest.raises(VerificationError) as caught:
        _audit(wrong, epoch.artifacts.audit)
    assert caught.value.reason == "attestation-wrong-signer" and listed.address in caught.value.detail


def test_missing_attestation_and_attestation_of_another_epoch_are_named():
    epoch, other = honest_epoch(), second_epoch()
    assert (
        _audit_reason(epoch.bundle.with_attestations(epoch.bundle.attestations[:1]), epoch.artifacts.audit)
        == "attestation-missing"
    )
    assert (
        _audit_reason(epoch.bundle.with_attestations(other.bundle.attestations), epoch.artifacts.audit)
        == "attestation-replayed-epoch"
    )


def test_node_proof_of_another_epoch_does_not_verify():
    first, second = honest_epoch(), second_epoch()
    audit = second.artifacts.audit
    proofs = dict(audit.node_proofs)
    pos = next(p for p in sorted(proofs) if p in first.artifacts.audit.node_proofs)
    proofs[pos] = first.artifacts.audit.node_proofs[pos]
    assert _audit_reason(second.bundle, replace(audit, node_proofs=proofs)) == "node-range-proof"


def test_reproving_with_the_same_secret_gives_the_same_tree():
    first = honest_epoch()
    again = make_epoch()
    assert again.bundle.root == first.bundle.root
    assert again.bundle.header == first.bundle.header


def test_chunk_count_outside_the_padding_policy_is_named():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    assert len(audit.chunks) == 2
    assert _audit_reason(epoch.bundle, replace(audit, chunks=audit.chunks[:1] * 3)) == "chunk-count-policy"


def test_two_leaves_with_the_same_id_hash_are_named():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    chunk = audit.chunks[0]
    doubled = replace(chunk, id_hashes=(chunk.id_hashes[0], chunk.id_hashes[0], *chunk.id_hashes[2:]))
    assert _audit_reason(epoch.bundle, replace(audit, chunks=(doubled, *audit.chunks[1:]))) == "duplicate-leaf"


def test_padding_node_hiding_a_position_sum_is_named():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    pos = next(iter(sorted(audit.padding)))
    blinding, position_blindings = audit.padding[pos]
    padding = dict(audit.padding)
    padding[pos] = (blinding, (position_blindings[0] + 1, *position_blindings[1:]))
    assert _audit_reason(epoch.bundle, replace(audit, padding=padding)) == "padding-node-nonzero"


def test_a_stripped_matched_book_fails_the_audit():
    epoch = honest_epoch()
    stripped = attested(replace(epoch.bundle, matched_book=()))
    assert _audit_reason(stripped, epoch.artifacts.audit) == "matched-book"


# -- several assets: USD (settlement) and BTC -----------------------------------------------------------------


def _published_multi(bundle):
    return published(None, bundle, MULTI_PUBLIC)


def test_a_multi_asset_epoch_passes_the_audit_and_the_participants_check():
    epoch = multi_asset_epoch()
    report = audit_epoch(_published_multi(epoch.bundle), epoch.artifacts.audit, chunk_system=SYSTEM,
                         executor=SerialExecutor())
    assert [(r.asset_id, r.total) for r in report.reserves] == list(zip(("USD", "BTC"),
                                                                        epoch.bundle.header.reserve_totals,
                                                                        strict=True))
    assert report.reserves[1].by_chain == (("bitcoin", epoch.bundle.header.reserve_totals[1]),)
    check = verify_receipt(_published_multi(epoch.bundle), epoch.artifacts.receipts["trader-2"], "trader-2",
                           chunk_system=SYSTEM)
    assert check.collateral == (("BTC", 30_000_000, 0),) and check.liabilities[1] == 30_000_000
    totals = check_total_opening(epoch.bundle, (epoch.bundle.header.digest(), epoch.artifacts.total_opening))
    assert totals[1] == sum(a.witness.balances[0] for a in epoch.accounts)


def test_attack_reserves_of_one_asset_counted_for_another_is_named(monkeypatch):
    """BTC reserves fall short of the BTC owed; the operator's header counts some USD reserves for BTC (the
    solvency proof then verifies against the header's totals): the listed reserves contradict the header."""
    owed = sum(a.witness.balances[0] for a in multi_asset_accounts())
    book = reserves((2_000_000, 2_000_000), collateral=(("BTC", 8, owed - 1_000),))
    honest_totals = book.asset_totals()
    moved = (honest_totals[0] - 1_000, honest_totals[1] + 1_000)
    with pytest.raises(ProvingError, match="reserves of BTC"):
        make_epoch(public=MULTI_PUBLIC, account_list=multi_asset_accounts(), reserve_book=book)
    monkeypatch.setattr(type(book), "asset_totals", lambda self: moved)
    epoch = make_epoch(public=MULTI_PUBLIC, account_list=multi_asset_accounts(), reserve_book=book,
                       secret=b"asset-counted-for-another-012345")
    monkeypatch.undo()
    assert epoch.bundle.header.reserve_totals == moved
    with pytest.raises(VerificationError) as caught:
        audit_epoch(_published_multi(epoch.bundle), epoch.artifacts.audit, chunk_system=SYSTEM,
                    executor=SerialExecutor())
    detail = caught.value.detail
    assert caught.value.reason == "reserves-mismatch" and "BTC: the header counts" in detail and "USD:" in detail
    with pytest.raises(VerificationError) as caught:
        verify_receipt(_published_multi(epoch.bundle), epoch.artifacts.receipts["trader-0"], "trader-0",
                       chunk_system=SYSTEM)
    assert caught.value.reason == "reserves-mismatch"


def test_a_negative_btc_liability_in_a_padding_node_is_named(monkeypatch):
    """Every node proves all its liabilities in one aggregated range proof: a padding node whose BTC liability
    commits to -5 (its USD one honest) fails its node proof for participants and the auditor."""
    real_commit = epoch_prover.commit
    calls = iter(range(1 << 30))
    per_node = 2 + 1  # its two liabilities and its position vector
    monkeypatch.setattr(epoch_prover, "commit",
                        lambda value, blinding: real_commit(value - (5 if next(calls) % per_node == 1 else 0),
                                                            blinding))
    epoch = make_epoch(public=MULTI_PUBLIC, account_list=multi_asset_accounts(),
                       secret=b"negative-btc-padding-0123456789a", reserve_book=multi_asset_epoch().bundle.reserves)
    monkeypatch.undo()
    with pytest.raises(VerificationError) as caught:
        verify_receipt(_published_multi(epoch.bundle), epoch.artifacts.receipts["trader-0"], "trader-0",
                       chunk_system=SYSTEM)
    assert caught.value.reason == "sibling-range-proof"
    with pytest.raises(VerificationError) as caught:
        audit_epoch(_published_multi(epoch.bundle), epoch.artifacts.audit, chunk_system=SYSTEM,
                    executor=SerialExecutor())
    assert caught.value.reason in ("padding-node-nonzero", "node-range-proof")
