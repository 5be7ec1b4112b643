"""Reserves across chains in a published epoch: every attack on the attestations is rejected by name, for the
participant (verify) and the auditor (audit) alike, with the address it concerns (issue 13, items 4 and 6).

The epoch's reserves are USD on Ethereum and Solana and BTC on Bitcoin (tests/proofs/epoch_fixtures.py); every
signature below is made with a real chain key in that chain's own signed-message format."""

import dataclasses
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import (
    BITCOIN_KEY,
    ETHER_KEY,
    MULTI_PUBLIC,
    PUBLIC,
    RESERVE_KEYS,
    SYSTEM,
    TOKENS,
    accounts,
    attested,
    honest_epoch,
    multi_asset_accounts,
    multi_asset_epoch,
    public_inputs,
    published,
    reserves,
    second_epoch,
)
from zkclear.chains import (
    Attestation,
    ReserveEntry,
    attest_reserves,
    key_from_secret,
    render_attestation_text,
    sign_message,
)
from zkclear.chains.keys import sign_attestation_text
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import InputError, ProvingError, VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.epoch_prover import prove_epoch
from zkclear.proofs.reserves import ReserveBook, VenueAsset, build_reserve_book, check_venue_assets
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.published import EpochFiles, PublishedEpoch
from zkclear.verifier.receipt import verify_receipt


def _reasons(bundle) -> tuple[VerificationError, VerificationError]:
    """The participant's and the auditor's failure on ``bundle`` (both must fail, with the same reason)."""
    epoch = multi_asset_epoch()
    found = []
    for check in (lambda: verify_receipt(published(None, bundle, MULTI_PUBLIC), epoch.artifacts.receipts["trader-4"],
                                         "trader-4", chunk_system=SYSTEM),
                  lambda: audit_epoch(published(None, bundle, MULTI_PUBLIC), epoch.artifacts.audit,
                                      chunk_system=SYSTEM, executor=SerialExecutor())):
        with pytest.raises(VerificationError) as caught:
            check()
        found.append(caught.value)
    assert found[0].reason == found[1].reason
    return found[0], found[1]


def _refused(forged: PublishedEpoch, artifacts) -> list[VerificationError]:
    """The participant's (trader-4's receipt) and the auditor's failure on a forged epoch proven as ``artifacts``."""
    found = []
    for check in (lambda: verify_receipt(forged, artifacts.receipts["trader-4"], "trader-4", chunk_system=SYSTEM),
                  lambda: audit_epoch(forged, artifacts.audit, chunk_system=SYSTEM, executor=SerialExecutor())):
        with pytest.raises(VerificationError) as caught:
            check()
        found.append(caught.value)
    return found


def _replace_attestation(bundle, index: int, attestation: Attestation):
    attestations = list(bundle.attestations)
    attestations[index] = attestation
    return bundle.with_attestations(tuple(attestations))


def _btc_index(bundle) -> int:
    return next(i for i, a in enumerate(bundle.attestations) if a.chain == "bitcoin")


def test_the_honest_multi_chain_epoch_passes():
    epoch = multi_asset_epoch()
    assert {a.chain for a in epoch.bundle.attestations} == {"bitcoin", "ethereum", "solana"}
    check = verify_receipt(published(epoch, public=MULTI_PUBLIC), epoch.artifacts.receipts["trader-4"], "trader-4",
                           chunk_system=SYSTEM)
    assert check.liabilities[1] == 50_000_000


def test_attack_a_forged_chain_signature_is_named():
    bundle = multi_asset_epoch().bundle
    index = _btc_index(bundle)
    genuine = bundle.attestations[index]
    # flip one byte of the BIP-137 signature (re-encoded canonically): it no longer recovers the custodian's key
    import base64

    raw = bytearray(base64.b64decode(genuine.signature))
    raw[40] ^= 0x01
    forged = dataclasses.replace(genuine, signature=base64.b64encode(bytes(raw)).decode())
    participant, auditor = _reasons(_replace_attestation(bundle, index, forged))
    assert participant.reason in ("attestation-wrong-signer", "attestation-signature-malformed",
                                  "attestation-signature-non-canonical")
    assert genuine.address in participant.detail and genuine.address in auditor.detail


def test_attack_a_replayed_chain_signature_of_another_epoch_is_named():
    bundle = multi_asset_epoch().bundle
    other = second_epoch().bundle  # the Ethereum custodian's genuine signature over epoch 2's text
    index = next(i for i, a in enumerate(bundle.attestations) if a.chain == "ethereum")
    replayed = next(a for a in other.attestations if a.chain == "ethereum")
    participant, _ = _reasons(_replace_attestation(bundle, index, replayed))
    assert participant.reason == "attestation-replayed-epoch" and replayed.address in participant.detail


def test_attack_a_replayed_chain_signature_for_another_venue_is_named():
    bundle = multi_asset_epoch().bundle
    index = _btc_index(bundle)
    entry = next(e for e in bundle.reserves.entries if e.chain == "bitcoin")
    elsewhere = dataclasses.replace(bundle.attestation_context(), venue="Another Venue")
    replayed = sign_attestation_text(BITCOIN_KEY, render_attestation_text(elsewhere, entry))
    participant, _ = _reasons(_replace_attestation(bundle, index, replayed))
    assert participant.reason == "attestation-wrong-venue"


def test_attack_an_address_that_is_not_the_signers_is_named():
    bundle = multi_asset_epoch().bundle
    index = next(i for i, a in enumerate(bundle.attestations) if a.chain == "solana")
    genuine = bundle.attestations[index]
    impostor = key_from_secret("solana", bytes([0x5A]) * 32)
    signed = Attestation(genuine.chain, genuine.address, genuine.text,
                         sign_message(impostor.secret, impostor.address, genuine.text.encode("ascii")))
    participant, auditor = _reasons(_replace_attestation(bundle, index, signed))
    assert participant.reason == "attestation-wrong-signer" and genuine.address in auditor.detail


@pytest.mark.parametrize("field, value, reason", [
    ("balance", 50_000_000_000, "attestation-balance-mismatch"),
    ("block_height", 839_999, "attestation-block-mismatch"),
])
def test_attack_a_balance_or_block_differing_from_the_signed_one_is_named(field, value, reason):
    bundle = multi_asset_epoch().bundle
    index = _btc_index(bundle)
    entry = next(e for e in bundle.reserves.entries if e.chain == "bitcoin")
    # the custodian signed another balance (or block) than the one the operator listed and the header binds
    other = dataclasses.replace(entry, **{field: value})
    signed = sign_attestation_text(BITCOIN_KEY, render_attestation_text(bundle.attestation_context(), other))
    participant, _ = _reasons(_replace_attestation(bundle, index, signed))
    assert participant.reason == reason and entry.address in participant.detail


def test_attack_an_address_listed_twice_is_refused_to_the_operator_and_named_to_verifiers():
    bundle = multi_asset_epoch().bundle
    book = bundle.reserves
    doubled_entries = (*book.entries, book.entries[0])
    with pytest.raises(InputError, match="listed twice"):
        build_reserve_book(book.venue, book.assets, doubled_entries, tokens=TOKENS)
    doubled = ReserveBook(book.venue, book.assets, doubled_entries)
    # the verifier refuses the list before any signature: the header's digest or the duplicate, by name
    with pytest.raises(VerificationError) as caught:
        from zkclear.chains import verify_attestations

        verify_attestations(doubled.entries, bundle.attestations, bundle.attestation_context())
    assert caught.value.reason == "reserves-duplicate-address" and book.entries[0].address in caught.value.detail


def test_a_signature_missing_or_signed_twice_is_named():
    bundle = multi_asset_epoch().bundle
    participant, _ = _reasons(bundle.with_attestations(bundle.attestations[1:]))
    assert participant.reason == "attestation-missing"
    participant, _ = _reasons(bundle.with_attestations((*bundle.attestations, bundle.attestations[0])))
    assert participant.reason == "attestation-duplicate"


def test_the_keys_of_the_fixture_are_the_listed_custodians():
    listed = {(e.chain, e.address) for e in multi_asset_epoch().bundle.reserves.entries}
    assert listed == {(k.chain, k.address.text) for k in (*RESERVE_KEYS, BITCOIN_KEY)}


def test_attack_asset_decimals_inflated_in_the_reserves_list_is_named_to_participants_too():
    """The configuration gives BTC 8 decimals (satoshi, what every BTC liability counts in); the operator's
    reserves list says BTC has 10, so 1/100 of the BTC owed, held on Bitcoin, converts to all of it. The list and
    the header agree and every custodian signed its true balance: only the published configuration (bound by the
    header through the public inputs) shows the inflation, and participants have it as the auditor does."""
    owed = sum(a.witness.balances[0] for a in multi_asset_accounts())
    honest_inputs = public_inputs(1, reserves(collateral=(("BTC", 8, owed),)))
    book = reserves(collateral=(("BTC", 8, owed // 100),))
    book = dataclasses.replace(book, assets=(book.assets[0], VenueAsset("BTC", 10)))
    assert book.asset_totals()[1] == owed  # the inflated list covers what is owed
    artifacts = prove_epoch(multi_asset_accounts(), MULTI_PUBLIC, book, epoch_id=1, previous=None,
                            config=multi_asset_epoch().bundle.header.tree,
                            blindings=BlindingSource.deterministic(b"inflated-decimals-0123456789abcd"),
                            chunk_system=SYSTEM, executor=SerialExecutor(),
                            public_inputs_digest=honest_inputs.digest())
    bundle = attested(artifacts.bundle)
    forged = PublishedEpoch(bundle, MULTI_PUBLIC, honest_inputs, EpochFiles(Path("."), 1))
    for check in (lambda: verify_receipt(forged, artifacts.receipts["trader-4"], "trader-4", chunk_system=SYSTEM),
                  lambda: audit_epoch(forged, artifacts.audit, chunk_system=SYSTEM, executor=SerialExecutor())):
        with pytest.raises(VerificationError) as caught:
            check()
        assert caught.value.reason == "reserves-mismatch" and "BTC (10 decimals)" in caught.value.detail


def test_a_published_configuration_nested_too_deeply_fails_the_assets_check_by_name():
    """What a participant's check reads of the configuration: a deeply nested one is a reserves-mismatch naming the
    configuration, not a RecursionError."""
    with pytest.raises(VerificationError) as caught:
        check_venue_assets(multi_asset_epoch().bundle.reserves, "a = " + "[" * 200_000 + "]" * 200_000)
    assert caught.value.reason == "reserves-mismatch" and "configuration" in caught.value.detail


def test_attack_faucet_coins_on_a_test_network_counted_as_reserves():
    """Bitcoin testnet coins (free from a faucet) listed as BTC reserves, signed by their own key: refused to the
    operator by line and field, and — in a list built without that check — named to participants and the auditor.
    (Before: both checks passed and only the audit's by-chain line said 'bitcoin-testnet'.)"""
    owed = sum(a.witness.balances[0] for a in multi_asset_accounts())
    honest = reserves(collateral=(("BTC", 8, owed),))
    faucet_key = key_from_secret("bitcoin-testnet", bytes([0x71]) * 32)
    faucet = ReserveEntry("bitcoin-testnet", "BTC", faucet_key.address.text, owed, 2_500_000,
                          "000000000000000f" + "1" * 48)
    entries = (*honest.entries[:-1], faucet)
    with pytest.raises(InputError) as caught:
        build_reserve_book(honest.venue, honest.assets, entries, path="reserves.csv", tokens=TOKENS)
    assert str(caught.value).startswith("reserves.csv:4: field 'chain': bitcoin-testnet is a test network")
    book = ReserveBook(honest.venue, honest.assets, entries)
    inputs = public_inputs(1, book)
    artifacts = prove_epoch(multi_asset_accounts(), MULTI_PUBLIC, book, epoch_id=1, previous=None,
                            config=multi_asset_epoch().bundle.header.tree,
                            blindings=BlindingSource.deterministic(b"faucet-coins-0123456789abcdefghi"),
                            chunk_system=SYSTEM, executor=SerialExecutor(), public_inputs_digest=inputs.digest())
    bundle = artifacts.bundle.with_attestations(
        attest_reserves(faucet_key, artifacts.bundle.attestation_context(), book.entries)
        + attested(artifacts.bundle, keys=RESERVE_KEYS).attestations)
    for failure in _refused(PublishedEpoch(bundle, MULTI_PUBLIC, inputs, EpochFiles(Path("."), 1)), artifacts):
        assert failure.reason == "reserves-mismatch"
        assert f"address {faucet.address} is on bitcoin-testnet, a test network" in failure.detail


def test_attack_coins_moved_between_two_listed_addresses_between_two_blocks_count_twice():
    """Red team round 6. The operator owes 112,061 USD units and holds 100,000 on Ethereum and Solana. At block
    19,000,000 60,000 of them sit at the first custodian's Ethereum address; the operator then moves them to a second
    Ethereum address it controls and lists that one too, at block 19,000,001. Each entry is exactly what the chain
    shows at its block and each custodian signs its true balance, so the auditor's per-entry comparison with the chain
    passes too — and the same coins count twice: 160,000 "cover" 112,061. Before: the operator's tool, every
    participant and the audit accepted it. Every entry of a chain must now be read at one block: refused to the
    operator by line and field, named to verifiers."""
    honest = reserves((60_000, 40_000))
    moved_at = 19_000_001
    moved = ReserveEntry("ethereum", "USD", ETHER_KEY.address.text, 60_000, moved_at, "0x" + "ab" * 32)
    unit = {"token": honest.entries[0].token, "decimals": honest.entries[0].decimals}
    entries = (*honest.entries, moved)
    with pytest.raises(InputError) as caught:
        build_reserve_book(honest.venue, honest.assets, entries, path="reserves.csv", tokens=TOKENS)
    assert str(caught.value).startswith("reserves.csv:4: field 'block_height': every ethereum entry must be read at "
                                        "one block")
    book = ReserveBook(honest.venue, honest.assets, (*honest.entries, dataclasses.replace(moved, **unit)))
    assert book.asset_totals() == (160_000,)  # the 60,000 counted at both addresses
    inputs = public_inputs(1)

    def prove(reserve_book):
        return prove_epoch(accounts(), PUBLIC, reserve_book, epoch_id=1, previous=None,
                           config=honest_epoch().bundle.header.tree,
                           blindings=BlindingSource.deterministic(b"moved-coins-0123456789abcdefghij"),
                           chunk_system=SYSTEM, executor=SerialExecutor(), public_inputs_digest=inputs.digest())

    with pytest.raises(ProvingError):  # the honest list does not cover the liabilities
        prove(honest)
    artifacts = prove(book)
    bundle = attested(artifacts.bundle, keys=(*RESERVE_KEYS, ETHER_KEY))
    for failure in _refused(PublishedEpoch(bundle, PUBLIC, inputs, EpochFiles(Path("."), 1)), artifacts):
        assert failure.reason == "reserves-mismatch"
        assert f"address {moved.address} on ethereum is listed at block {moved_at}" in failure.detail
