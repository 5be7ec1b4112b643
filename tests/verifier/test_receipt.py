"""Participant verification of receipts: the honest path, every attack it names, and the crowd audit."""

import random
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import (
    MULTI_PUBLIC,
    PUBLIC,
    SYSTEM,
    attested,
    honest_epoch,
    make_epoch,
    multi_asset_epoch,
    published,
    rootless_first_epoch,
    second_epoch,
    tall_epoch,
)
from zkclear.crypto.pedersen import commit
from zkclear.errors import InputError, VerificationError
from zkclear.tree.identity import key_fingerprint
from zkclear.tree.sum_tree import TreeNode
from zkclear.verifier.participant import Participant, parse_expected_balances, verify_history
from zkclear.verifier.receipt import Expected, crowd_audit, verify_receipt


def _verify(epoch, receipt, account=None, bundle=None, **expected):
    return verify_receipt(published(epoch, bundle), receipt, account or receipt.account_id,
                          expected=Expected(**expected), chunk_system=SYSTEM)


def _failure(epoch, receipt, account=None, bundle=None, **expected) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        _verify(epoch, receipt, account, bundle, **expected)
    return caught.value


def _reason(*args, **kwargs) -> str:
    return _failure(*args, **kwargs).reason


def test_every_receipt_of_an_honest_epoch_verifies_with_the_participants_values():
    epoch = honest_epoch()
    assert len(epoch.artifacts.receipts) == len(epoch.accounts)
    for account in epoch.accounts:
        receipt = epoch.artifacts.receipts[account.account_id]
        check = _verify(epoch, receipt, account.account_id, cash=account.witness.cash,
                        positions=account.witness.positions,
                        header_hash=epoch.bundle.epoch_hash())
        assert check.account_id == account.account_id
        assert check.liability == account.witness.cash + sum(
            v * q for v, q in zip(PUBLIC.value_per_lot, account.witness.positions, strict=True))
        assert check.header_hash == epoch.bundle.epoch_hash().hex()
        assert check.key_fingerprint == key_fingerprint(receipt.account_key)


def test_receipt_at_the_default_height_32_verifies():
    epoch = tall_epoch()
    receipt = next(iter(epoch.artifacts.receipts.values()))
    assert len(receipt.upper_siblings) == 30
    assert receipt.leaf_index < 1 << 32
    _verify(epoch, receipt)


# -- identity: the receipt is checked against the participant's own id, never the one it carries ---------


def test_another_accounts_receipt_is_rejected_by_name():
    epoch = honest_epoch()
    theirs = epoch.artifacts.receipts["trader-3"]
    failure = _failure(epoch, theirs, account="trader-4")
    assert failure.reason == "receipt-owner"
    assert "trader-3" in str(failure) and "trader-4" in str(failure)


def test_another_accounts_receipt_relabelled_with_my_id_does_not_match_my_leaf():
    """The attack of the first review: the operator drops B and hands B the receipt of A (same balance),
    renamed. B's check hashes B's own id with the key in the receipt: A's leaf does not carry it."""
    epoch = honest_epoch()
    theirs = epoch.artifacts.receipts["trader-3"]
    assert _reason(epoch, replace(theirs, account_id="trader-4"), account="trader-4") == "leaf-mismatch"
    mine = epoch.artifacts.receipts["trader-4"]
    relabelled = replace(theirs, account_id="trader-4", account_key=mine.account_key)
    assert _reason(epoch, relabelled, account="trader-4") == "leaf-mismatch"


def test_a_pinned_account_key_must_match():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-2"]
    _verify(epoch, receipt, account_key=receipt.account_key)
    failure = _failure(epoch, receipt, account_key=bytes(32))
    assert failure.reason == "account-key-mismatch"
    assert key_fingerprint(bytes(32)) in str(failure)


def test_receipt_with_another_key_for_my_leaf_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    assert _reason(epoch, replace(receipt, account_key=bytes(32))) == "leaf-mismatch"


def test_account_keys_are_stable_across_epochs_and_leaves_unlinkable():
    first, second = honest_epoch(), second_epoch()
    for account in ("trader-0", "trader-5"):
        a, b = first.artifacts.receipts[account], second.artifacts.receipts[account]
        assert a.account_key == b.account_key
        slot_a = a.leaf_index & (first.bundle.header.tree.chunk_size - 1)
        slot_b = b.leaf_index & (second.bundle.header.tree.chunk_size - 1)
        assert a.chunk.id_hashes[slot_a] != b.chunk.id_hashes[slot_b]
    keys = {r.account_key for r in first.artifacts.receipts.values()}
    assert len(keys) == len(first.artifacts.receipts)


# -- the epoch: posted header, receipt epoch -------------------------------------------------------------


def test_a_header_other_than_the_posted_one_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-1"]
    posted = second_epoch().bundle.epoch_hash()
    failure = _failure(epoch, receipt, header_hash=posted)
    assert failure.reason == "header-mismatch"
    assert posted.hex() in str(failure) and epoch.bundle.epoch_hash().hex() in str(failure)


def test_receipt_from_another_epoch_is_rejected_with_both_epochs_named():
    old = honest_epoch()
    receipt = old.artifacts.receipts["trader-1"]
    new = second_epoch()
    failure = _failure(new, receipt)
    assert failure.reason == "receipt-epoch-mismatch"
    assert "epoch 1" in str(failure) and "epoch is 2" in str(failure)
    # relabelling the old receipt as the new epoch does not help: the salt and path are the old epoch's
    relabelled = replace(receipt, epoch_id=2, header_digest=new.bundle.header.digest())
    assert _reason(new, relabelled) in ("path-root-mismatch", "leaf-mismatch")


# -- values and path ----------------------------------------------------------------------------------


def test_values_other_than_expected_are_named_with_both_values():
    epoch = honest_epoch()
    account = epoch.accounts[0]
    receipt = epoch.artifacts.receipts[account.account_id]
    failure = _failure(epoch, receipt, cash=account.witness.cash + 1)
    assert failure.reason == "account-values-mismatch"
    assert str(account.witness.cash) in str(failure) and str(account.witness.cash + 1) in str(failure)
    failure = _failure(epoch, receipt, positions=(0, 0, 0))
    assert failure.reason == "account-values-mismatch" and "instrument-0" in str(failure)


def test_a_collateral_balance_other_than_expected_is_named():
    """Red team round 6: a participant could expect their cash, positions and margin mode, but not their collateral
    balances — the operator could commit a BTC balance below the one it owes them (a lower BTC liability for its
    reserves to cover; their equity still above maintenance) and a scripted check (`--cash`, `--position`) passed.
    ``Expected.balances`` (``zkclear verify --balance BTC=UNITS``) names the difference."""
    epoch = multi_asset_epoch()
    account = epoch.accounts[3]
    receipt = epoch.artifacts.receipts[account.account_id]
    owed = account.witness.balances[0]
    check = verify_receipt(published(epoch, public=MULTI_PUBLIC), receipt, account.account_id, chunk_system=SYSTEM,
                           expected=Expected(balances=parse_expected_balances([f"BTC={owed}"], ("BTC",))))
    assert check.liabilities[1] == owed
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(epoch, public=MULTI_PUBLIC), receipt, account.account_id, chunk_system=SYSTEM,
                       expected=Expected(balances=(owed + 1,)))
    assert caught.value.reason == "account-values-mismatch"
    assert caught.value.detail == f"BTC balance: you expect {owed + 1} (smallest units), the venue committed {owed}"
    assert parse_expected_balances([], ("BTC", "ETH")) == (0, 0)
    for items, message in ((["USD=5"], "unknown collateral asset 'USD'"), (["BTC=-1"], "non-negative integer"),
                           (["BTC=1", "BTC=2"], "given twice")):
        with pytest.raises(InputError, match=message):
            parse_expected_balances(items, ("BTC",))


def test_replaced_sibling_sum_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-2"]
    siblings = list(receipt.upper_siblings)
    low = siblings[1]
    siblings[1] = replace(low, liabilities=(low.liabilities[0] - commit(1000, 0),),
                          encoded=(low.liabilities[0] - commit(1000, 0)).to_bytes())
    assert _reason(epoch, replace(receipt, upper_siblings=tuple(siblings))) == "path-root-mismatch"


def test_replaced_sibling_position_sums_are_rejected():
    """A sibling whose position sums hide a position (so the matched book would balance without me)."""
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-2"]
    siblings = list(receipt.upper_siblings)
    low = siblings[0]
    shifted = (low.positions[0] + commit(5, 0), *low.positions[1:])
    siblings[0] = TreeNode.of(low.liabilities, low.digest, shifted)
    assert _reason(epoch, replace(receipt, upper_siblings=tuple(siblings))) == "path-root-mismatch"


def test_group_proofs_of_other_bands_are_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-2"]
    proofs = list(receipt.group_proofs)
    proofs[0], proofs[1] = proofs[1], proofs[0]
    failure = _failure(epoch, replace(receipt, group_proofs=tuple(proofs)))
    assert failure.reason == "sibling-range-proof" and "level" in str(failure)


def test_moved_leaf_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    # another slot of the same chunk: that leaf is not the participant's
    assert _reason(epoch, replace(receipt, leaf_index=receipt.leaf_index ^ 1)) == "leaf-mismatch"
    # the whole chunk moved to the mirror position: its position vector's proof is bound to its position
    moved = replace(receipt, chunk=replace(receipt.chunk, position=receipt.chunk.position ^ 1),
                    leaf_index=receipt.leaf_index ^ (1 << epoch.bundle.header.tree.chunk_bits))
    assert _reason(epoch, moved) == "chunk-position-vector"


def test_opening_of_another_account_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    other = epoch.artifacts.receipts["trader-4"]
    assert _reason(epoch, replace(receipt, opening=other.opening)) == "opening-mismatch"


def test_truncated_path_is_malformed():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    assert _reason(epoch, replace(receipt, upper_siblings=receipt.upper_siblings[:-1])) == "receipt-malformed"


# -- root statements: checked by every participant ------------------------------------------------------


def test_a_stripped_or_forged_matched_book_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    (beta,) = epoch.bundle.matched_book
    forged = attested(replace(epoch.bundle, matched_book=((beta + 1) % (1 << 250),)))
    failure = _failure(epoch, receipt, bundle=forged)
    assert failure.reason == "matched-book" and "do not sum to zero" in str(failure)
    for wrong in ((), (beta, beta)):  # none, or one per instrument as before the position vector
        assert _reason(epoch, receipt, bundle=attested(replace(epoch.bundle, matched_book=wrong))) == "matched-book"


def test_an_unmatched_book_hidden_by_a_missing_account_is_rejected_by_a_participant(monkeypatch):
    """A dishonest operator leaves an account out of the tree (the honest prover refuses: we switch its check
    off) and publishes the blinding sums anyway: the root's position sums do not open to zero."""
    import zkclear.proofs.epoch_prover as prover

    monkeypatch.setattr(prover, "require_matched", lambda *args: None)
    full = honest_epoch()
    partial = make_epoch(account_list=list(full.accounts[1:]), secret=b"other-secret-0123456789abcdefgh")
    receipt = partial.artifacts.receipts["trader-3"]
    failure = _failure(partial, receipt)
    assert failure.reason == "matched-book" and "do not sum to zero" in str(failure)


def test_a_missing_reserve_attestation_is_named_by_address():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    unsigned = replace(epoch.bundle, attestations=epoch.bundle.attestations[:1])
    failure = _failure(epoch, receipt, bundle=unsigned)
    assert failure.reason == "attestation-missing"
    assert epoch.bundle.reserves.entries[1].address in str(failure)


def test_a_replayed_solvency_proof_is_rejected():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-3"]
    replayed = replace(epoch.bundle, solvency_proof=second_epoch().bundle.solvency_proof)
    assert _reason(epoch, receipt, bundle=replayed) == "solvency-proof"


# -- several epochs ------------------------------------------------------------------------------------


def test_history_of_two_epochs_chains_and_keeps_the_key():
    first, second = honest_epoch(), second_epoch()
    pairs = [(published(first), first.artifacts.receipts["trader-2"]),
             (published(second), second.artifacts.receipts["trader-2"])]
    checks = verify_history(pairs, Participant("trader-2"), [Expected(), Expected()], chunk_system=SYSTEM)
    assert [c.epoch_id for c in checks] == [1, 2]
    assert checks[0].key_fingerprint == checks[1].key_fingerprint


def test_history_detects_a_rotated_account_key():
    first, second = honest_epoch(), second_epoch()
    rotated = make_epoch(epoch_id=2, previous=first.bundle.chain_link(), secret=b"rotated-secret-0123456789abcdef")
    pairs = [(published(first), first.artifacts.receipts["trader-2"]),
             (published(rotated), rotated.artifacts.receipts["trader-2"])]
    with pytest.raises(VerificationError) as caught:
        verify_history(pairs, Participant("trader-2"), [Expected(), Expected()], chunk_system=SYSTEM)
    assert caught.value.reason == "account-key-changed"
    assert second.bundle.header.epoch_id == 2


def test_history_detects_epochs_that_do_not_chain():
    first = honest_epoch()
    forked = make_epoch(epoch_id=2, previous=None)
    pairs = [(published(first), first.artifacts.receipts["trader-2"]),
             (published(forked), forked.artifacts.receipts["trader-2"])]
    with pytest.raises(VerificationError) as caught:
        verify_history(pairs, Participant("trader-2"), [Expected(), Expected()], chunk_system=SYSTEM)
    assert caught.value.reason == "epoch-chain-broken" and "epoch 2" in str(caught.value)


def test_a_history_starting_at_epoch_1_must_start_at_the_genesis_header():
    forged, second = rootless_first_epoch(), second_epoch()
    with pytest.raises(VerificationError) as caught:
        verify_history([(published(forged), forged.artifacts.receipts["trader-2"])], Participant("trader-2"),
                       [Expected()], chunk_system=SYSTEM)
    assert caught.value.reason == "epoch-chain-broken" and "epoch 1" in str(caught.value)
    # a history may start later: epoch 2 alone names an epoch 1 that cannot be checked here
    alone = verify_history([(published(second), second.artifacts.receipts["trader-2"])], Participant("trader-2"),
                           [Expected()], chunk_system=SYSTEM)
    assert [check.epoch_id for check in alone] == [2]


# -- crowd audit ---------------------------------------------------------------------------------------


def test_crowd_audit_checks_chunks_chosen_by_local_randomness():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    picked = crowd_audit(published(epoch), audit, 2, chunk_system=SYSTEM, rng=random.Random(5))
    assert len(picked) == 2 and len(set(picked)) == 2
    everything = crowd_audit(published(epoch), audit, 100, chunk_system=SYSTEM)
    assert everything == list(range(len(audit.chunks)))


def test_crowd_audit_from_the_file_decodes_only_the_chunks_it_draws(tmp_path, monkeypatch):
    from zkclear.verifier import audit_on_disk

    epoch = honest_epoch()
    on_disk, audit = _on_disk(epoch, epoch.artifacts.audit, tmp_path)
    decoded = []
    real = audit_on_disk.decode_chunk_record
    monkeypatch.setattr(audit_on_disk, "decode_chunk_record",
                        lambda data, *rest: decoded.append(data) or real(data, *rest))
    picked = crowd_audit(on_disk, audit, 1, chunk_system=SYSTEM, rng=random.Random(5))
    assert len(audit.chunks) >= 2 and len(picked) == 1 and len(decoded) == 1
    assert picked == crowd_audit(published(epoch), epoch.artifacts.audit, 1, chunk_system=SYSTEM, rng=random.Random(5))
    assert audit.chunks[picked[0]] == epoch.artifacts.audit.chunks[picked[0]]


def test_crowd_audit_catches_a_bad_chunk_proof():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    chunks = list(audit.chunks)
    chunks[0] = replace(chunks[0], proof=chunks[1].proof)
    bad = replace(audit, chunks=tuple(chunks))
    assert _crowd_failure(epoch, bad).reason == "chunk-collateral-proof"


def test_crowd_audit_refuses_a_negative_count():
    epoch = honest_epoch()
    with pytest.raises(ValueError):
        crowd_audit(published(epoch), epoch.artifacts.audit, -1, chunk_system=SYSTEM)


def _on_disk(epoch, audit, folder: Path) -> tuple:
    """The epoch with ``audit`` written to its audit file in ``folder``, and that file opened as the CLI's crowd
    audit reads it (only what it samples)."""
    from zkclear.bundle.format import encode_audit_data
    from zkclear.verifier.audit_on_disk import open_audit_file
    from zkclear.verifier.published import EpochFiles

    on_disk = replace(published(epoch), files=EpochFiles(folder, epoch.bundle.header.epoch_id))
    on_disk.files.audit.write_bytes(encode_audit_data(audit, SYSTEM))
    return on_disk, open_audit_file(on_disk, chunk_system=SYSTEM)


def _crowd_failure(epoch, audit) -> VerificationError:
    """The crowd audit's failure on ``audit`` (every chunk drawn), the same whether the audit data is held in memory
    or read from its file on demand."""
    with pytest.raises(VerificationError) as caught:
        crowd_audit(published(epoch), audit, len(epoch.artifacts.audit.chunks), chunk_system=SYSTEM)
    with tempfile.TemporaryDirectory() as folder, pytest.raises(VerificationError) as from_file:
        crowd_audit(*_on_disk(epoch, audit, Path(folder)), len(epoch.artifacts.audit.chunks), chunk_system=SYSTEM)
    assert (from_file.value.reason, from_file.value.detail) == (caught.value.reason, caught.value.detail)
    return caught.value


def test_crowd_audit_is_not_fooled_by_a_chunk_left_out_of_the_list():
    """The operator lists only the chunks it wants checked: the chunk left out (say, a bad one) was never drawn."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    assert len(audit.chunks) >= 2
    failure = _crowd_failure(epoch, replace(audit, chunks=audit.chunks[:1]))
    assert failure.reason == "audit-structure" and "its chunk is not listed" in failure.detail


def test_crowd_audit_is_not_fooled_by_a_good_chunk_listed_in_place_of_another():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    failure = _crowd_failure(epoch, replace(audit, chunks=(audit.chunks[0],) * len(audit.chunks)))
    assert failure.reason == "audit-structure" and "taken" in failure.detail


def test_crowd_audit_refuses_the_chunks_listed_out_of_order():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    failure = _crowd_failure(epoch, replace(audit, chunks=tuple(reversed(audit.chunks))))
    assert failure.reason == "audit-structure" and "out of order" in failure.detail


def test_crowd_audit_of_audit_data_without_chunks_fails_instead_of_passing_empty():
    epoch = honest_epoch()
    failure = _crowd_failure(epoch, replace(epoch.artifacts.audit, chunks=()))
    assert failure.reason == "audit-structure"


def test_crowd_audit_is_not_fooled_by_a_subtree_left_unpublished():
    """A chunk and its sibling dropped from the chunk list and from the published nodes, their parent kept."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    c = epoch.artifacts.bundle.header.tree.chunk_bits
    parent = audit.chunks[1].position >> 1
    gone = {(c, 2 * parent), (c, 2 * parent + 1)}
    stripped = replace(audit, chunks=tuple(ch for ch in audit.chunks if (c, ch.position) not in gone),
                       upper_nodes={pos: n for pos, n in audit.upper_nodes.items() if pos not in gone},
                       node_proofs={pos: p for pos, p in audit.node_proofs.items() if pos not in gone},
                       padding={pos: b for pos, b in audit.padding.items() if pos not in gone})
    failure = _crowd_failure(epoch, stripped)
    assert failure.reason == "audit-structure" and "without its children" in failure.detail


def test_crowd_audit_without_the_root_published_fails():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    height = epoch.artifacts.bundle.header.tree.height
    failure = _crowd_failure(epoch, replace(audit, upper_nodes={p: n for p, n in audit.upper_nodes.items()
                                                                 if p != (height, 0)}))
    assert failure.reason == "audit-structure" and "root" in failure.detail


def test_a_history_csv_never_starts_a_cell_with_a_formula_character():
    """Instrument ids of the configuration may start with '-', which a spreadsheet reads as a formula."""
    from zkclear.verifier.participant import HistoryRow, history_csv

    text = history_csv([HistoryRow(1, "ab" * 32, "standard", -5, (3, -2), 10, 4)], ["-A1-A1", "BTC-PERP"])
    header, row = text.splitlines()
    assert header.split(",")[4:6] == ["'-A1-A1", "BTC-PERP"]
    assert row.split(",")[3:6] == ["-5", "3", "-2"]  # numbers stay numbers


def test_the_verifiers_identifier_patterns_are_the_configurations():
    from zkclear.clearing.assets import ASSET_IDENTIFIER
    from zkclear.clearing.config import IDENTIFIER
    from zkclear.verifier.published import ASSET_ID, INSTRUMENT_ID

    assert (INSTRUMENT_ID.pattern, ASSET_ID.pattern) == (IDENTIFIER.pattern, ASSET_IDENTIFIER.pattern)


def test_a_history_whose_epochs_list_other_instruments_is_refused_not_misaligned():
    """The operator lists one more instrument in epoch 2 (a chained epoch): the history's columns would carry epoch
    1's positions under epoch 2's names (and its equity under an instrument), so the history is refused by name."""
    from zkclear.proofs.chunks import PlainAccount, PlainPublicData
    from zkclear.proofs.epoch_prover import AccountInput

    first = honest_epoch()
    wider = PlainPublicData(value_per_lot=(0, 7, 3, 5), equity_bits=32)
    listed = [AccountInput(a.account_id, PlainAccount(a.witness.cash, (*a.witness.positions, 0)))
              for a in first.accounts]
    second = make_epoch(epoch_id=2, previous=first.bundle.chain_link(), public=wider, account_list=listed)
    pairs = [(published(first), first.artifacts.receipts["trader-2"]),
             (published(second, public=wider), second.artifacts.receipts["trader-2"])]
    with pytest.raises(VerificationError) as caught:
        verify_history(pairs, Participant("trader-2"), [Expected(), Expected()], chunk_system=SYSTEM)
    assert caught.value.reason == "epoch-chain-broken"
    assert "epoch 2 lists the instruments instrument-0, instrument-1, instrument-2, instrument-3" in caught.value.detail


def test_an_expected_position_given_twice_is_refused_not_overwritten():
    from zkclear.errors import InputError
    from zkclear.verifier.participant import parse_expected_positions

    assert parse_expected_positions(["B=-2"], ["A", "B"]) == (0, -2)
    with pytest.raises(InputError) as caught:
        parse_expected_positions(["A=1", "A=2"], ["A", "B"])
    assert str(caught.value) == "field '--position': A is given twice"


def test_crowd_audit_is_not_fooled_by_a_chunk_relabelled_as_padding():
    """The chunk left out of the list, its root declared a padding node (with blindings that do not open it to
    zero): padding nodes are opened, in one batch."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    c = epoch.artifacts.bundle.header.tree.chunk_bits
    hidden = audit.chunks[1]
    node = audit.upper_nodes[(c, hidden.position)]
    fake = (tuple(1 for _ in node.liabilities), tuple(1 for _ in node.positions or ()))
    relabelled = replace(audit, chunks=audit.chunks[:1], padding={**audit.padding, (c, hidden.position): fake})
    failure = _crowd_failure(epoch, relabelled)
    assert failure.reason == "padding-node-nonzero" and "does not commit to zero" in failure.detail


def test_an_account_omitted_and_offset_in_a_padding_node_escapes_participants_but_not_audits(monkeypatch):
    """Red team round 4 (a limit, stated in docs/protocol.md's threat model): the operator omits trader-0, whose
    positions are not zero, and adds them to one padding node's position sums instead (no collateral needed: a
    padding node proves only its liability). Every other participant's matched-book check passes — a participant
    cannot tell a padding sibling from a real one — while the auditor and the crowd audit open every padding node."""
    from tests.proofs.epoch_fixtures import accounts
    from zkclear.proofs import epoch_prover
    from zkclear.verifier.audit import audit_epoch

    everyone = accounts()
    omitted, kept = everyone[0], everyone[1:]
    assert any(omitted.witness.positions)
    from zkclear.crypto.pedersen import commit_vector
    from zkclear.proofs.position_vector import position_generators

    real_node = epoch_prover.padding_node
    chosen: list = []
    gens = position_generators(len(omitted.witness.positions))

    def offset_padding(blindings, epoch_id, assets, level, index):
        node, opening = real_node(blindings, epoch_id, assets, level, index)
        chosen[:] = chosen or [(level, index)]
        if chosen[0] != (level, index):
            return node, opening
        moved = [node.positions[0] + commit_vector(omitted.witness.positions, 0, gens)]
        return TreeNode.of(node.liabilities, node.digest, moved), opening

    monkeypatch.setattr(epoch_prover, "padding_node", offset_padding)
    monkeypatch.setattr(epoch_prover, "require_matched", lambda positions, count: None)
    epoch = make_epoch(secret=b"omitted-offset-secret-0123456789", account_list=kept)
    for account in kept:  # the limit: nobody but trader-0 (whose leaf is gone) notices from a receipt alone
        _verify(epoch, epoch.artifacts.receipts[account.account_id])
    with pytest.raises(VerificationError) as caught:
        audit_epoch(published(epoch), epoch.artifacts.audit, chunk_system=SYSTEM)
    assert caught.value.reason == "padding-node-nonzero"
    assert _crowd_failure(epoch, epoch.artifacts.audit).reason == "padding-node-nonzero"


def _checked_then_swapped(epoch) -> tuple[bytes, bytes]:
    """Red team round 5: an audit file whose chunk 1 fails when drawn (the bytes the crowd audit checks the checksum
    of), and the same file with chunk 0's record in chunk 1's place, of the same length (what a shared folder could
    serve once the checksum has been checked)."""
    from zkclear.bundle.format import encode_audit_data

    audit = epoch.artifacts.audit
    bad = list(audit.chunks)
    bad[1] = replace(bad[1], proof=audit.chunks[0].proof)
    swapped = list(bad)
    swapped[1] = audit.chunks[0]
    checked = encode_audit_data(replace(audit, chunks=tuple(bad)), SYSTEM)
    served = encode_audit_data(replace(audit, chunks=tuple(swapped)), SYSTEM)
    assert len(checked) == len(served) and checked != served
    return checked, served


def test_crowd_audit_refuses_bytes_changed_after_the_checksum(tmp_path):
    """The lazy reads of the crowd audit used to re-read the file: a file changed after open_audit_file had checked
    its checksum and layout passed with chunk 1 read from chunk 0's record (the bad chunk 1 never checked)."""
    from zkclear.errors import EncodingError
    from zkclear.verifier.audit_on_disk import open_audit_file

    epoch = honest_epoch()
    checked, served = _checked_then_swapped(epoch)
    on_disk, _opened = _on_disk(epoch, epoch.artifacts.audit, tmp_path)
    on_disk.files.audit.write_bytes(checked)
    with pytest.raises(VerificationError) as static:
        crowd_audit(on_disk, open_audit_file(on_disk, chunk_system=SYSTEM), 2, chunk_system=SYSTEM)
    assert static.value.reason == "chunk-collateral-proof"
    opened = open_audit_file(on_disk, chunk_system=SYSTEM)
    on_disk.files.audit.write_bytes(served)  # in place: same file, same length
    with pytest.raises(EncodingError, match=r"epoch-1\.audit: chunk\[1\] changed since the file's checksum"):
        crowd_audit(on_disk, opened, 2, chunk_system=SYSTEM, rng=random.Random(1))
    opened = open_audit_file(on_disk, chunk_system=SYSTEM)  # the served file is refused on its own merits too
    with pytest.raises(VerificationError, match="taken"):
        crowd_audit(on_disk, opened, 2, chunk_system=SYSTEM)


def test_crowd_audit_refuses_a_file_truncated_after_the_checksum(tmp_path):
    from zkclear.errors import EncodingError

    epoch = honest_epoch()
    on_disk, opened = _on_disk(epoch, epoch.artifacts.audit, tmp_path)
    data = on_disk.files.audit.read_bytes()
    on_disk.files.audit.write_bytes(data[: len(data) // 2])
    with pytest.raises(EncodingError, match="changed since the file's checksum was checked"):
        crowd_audit(on_disk, opened, 2, chunk_system=SYSTEM)


def test_crowd_audit_reads_the_file_it_checked_when_another_is_renamed_over_it(tmp_path):
    """The file is held open from the checksum on: a file (or a named pipe, which would block a reader) put in its
    place changes nothing; what is audited is what was checked."""
    import os

    epoch = honest_epoch()
    checked, _served = _checked_then_swapped(epoch)
    on_disk, opened = _on_disk(epoch, epoch.artifacts.audit, tmp_path)  # honest
    (tmp_path / "other").write_bytes(checked)
    os.replace(tmp_path / "other", on_disk.files.audit)
    assert crowd_audit(on_disk, opened, 2, chunk_system=SYSTEM) == [0, 1]
    on_disk.files.audit.unlink()
    os.mkfifo(on_disk.files.audit)
    assert crowd_audit(on_disk, opened, 2, chunk_system=SYSTEM) == [0, 1]


def test_crowd_audit_index_of_a_file_of_empty_node_proofs_stays_a_small_multiple_of_the_file(tmp_path):
    """Red team round 5: each node proof entry (13 bytes when empty) took a dictionary entry of some hundreds of
    bytes in the crowd audit's index: a file of 100,000 empty proofs took 22 times its size in memory. The index
    now holds flat arrays (53 bytes an entry), found by bisection; the entries are still found by position."""
    import tracemalloc

    from zkclear.verifier.audit_on_disk import open_audit_file

    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    extra = {(0, index): b"" for index in range(100_000)}
    on_disk, _opened = _on_disk(epoch, replace(audit, node_proofs={**audit.node_proofs, **extra}), tmp_path)
    size = on_disk.files.audit.stat().st_size
    tracemalloc.start()
    try:
        opened = open_audit_file(on_disk, chunk_system=SYSTEM)
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 6 * size
    assert len(opened.node_proofs) == len(audit.node_proofs) + len(extra)
    assert (0, 99_999) in opened.node_proofs and (0, 100_000) not in opened.node_proofs
    assert all(opened.node_proofs[position] == proof for position, proof in audit.node_proofs.items())
    assert list(opened.upper_nodes) == sorted(audit.upper_nodes)


def test_crowd_audit_binds_every_published_upper_node_to_the_root_not_only_the_drawn_paths():
    """Before: the crowd audit hash-checked only the drawn paths, so a published node nobody drew (here the
    parent of two chunk roots, its digest replaced) could differ from the committed tree — and with it the chunk
    roots and padding nodes the listing and padding checks rely on. Every published node above the chunk roots
    must now hash its children, whatever is drawn (k = 0 draws nothing)."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    assert crowd_audit(published(epoch), audit, 0, chunk_system=SYSTEM) == []
    c = epoch.bundle.header.tree.chunk_bits
    target = next(pos for pos in sorted(audit.upper_nodes) if pos[0] == c + 1 and pos not in audit.padding)
    nodes = dict(audit.upper_nodes)
    nodes[target] = replace(nodes[target], digest=bytes(32))
    with pytest.raises(VerificationError) as caught:
        crowd_audit(published(epoch), replace(audit, upper_nodes=nodes), 0, chunk_system=SYSTEM)
    assert caught.value.reason == "node-hash-mismatch" and f"level {c + 1}, index {target[1]}" in caught.value.detail
    # a chunk root swapped for another encoding: its parent no longer hashes it
    chunk_root = next(pos for pos in sorted(audit.upper_nodes) if pos[0] == c and pos not in audit.padding)
    other = next(pos for pos in sorted(audit.upper_nodes) if pos[0] == c and pos != chunk_root
                 and pos not in audit.padding)
    nodes = dict(audit.upper_nodes)
    nodes[chunk_root] = replace(nodes[chunk_root], encoded=nodes[other].encoded)
    with pytest.raises(VerificationError) as caught:
        crowd_audit(published(epoch), replace(audit, upper_nodes=nodes), 0, chunk_system=SYSTEM)
    assert caught.value.reason == "node-hash-mismatch"
