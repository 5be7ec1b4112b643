"""Verifying reserve attestations, one chain at a time and as a set: the honest case and each attack,
rejected by name (the reason code) and naming the address."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from tests.chains.chain_fixtures import CONTEXT, as_token, entry_for, key
from zkclear.chains import secp256k1
from zkclear.chains.attestation_text import AttestationContext, render_attestation_text
from zkclear.chains.keys import attest_reserves, sign_attestation_text
from zkclear.chains.reasons import Reason
from zkclear.chains.schemes import BitcoinFormat, sign_message
from zkclear.chains.verification import Attestation, verify_attestation, verify_attestations
from zkclear.errors import VerificationError

CHAINS = ["bitcoin", "bitcoin-testnet", "ethereum", "solana"]


def _attested(chain: str, label: str = "custodian", context: AttestationContext = CONTEXT, **changes):
    demo_key = key(chain, label)
    entry = dataclasses.replace(entry_for(demo_key), **changes)
    return entry, sign_attestation_text(demo_key, render_attestation_text(context, entry))


def _rejects(reason: Reason, entry, attestation, context=CONTEXT) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_attestation(entry, attestation, context)
    assert caught.value.reason == reason.value
    assert f"address {entry.address}" in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize("chain", CHAINS)
def test_honest_attestation_verifies(chain):
    entry, attestation = _attested(chain)
    verify_attestation(entry, attestation, CONTEXT)


def test_honest_bip322_attestation_verifies():
    demo_key = key("bitcoin")
    entry = entry_for(demo_key)
    attestation = sign_attestation_text(demo_key, render_attestation_text(CONTEXT, entry),
                                        bitcoin_format=BitcoinFormat.BIP322_SIMPLE)
    verify_attestation(entry, attestation, CONTEXT)


@pytest.mark.parametrize("chain", CHAINS)
def test_attack_key_that_does_not_control_the_listed_address(chain):
    entry = entry_for(key(chain, "listed custodian"))
    impostor = key(chain, "impostor")
    text = render_attestation_text(CONTEXT, entry)
    # The impostor signs the listed address's text with its own key (sign_attestation_text refuses that,
    # so the signature is made directly, as an attacker would).
    forged = Attestation(entry.chain, entry.address, text,
                         sign_message(impostor.secret, impostor.address, text.encode()))
    _rejects(Reason.WRONG_SIGNER, entry, forged)


@pytest.mark.parametrize("chain", CHAINS)
def test_attack_balance_differs_from_the_signed_one(chain):
    entry, attestation = _attested(chain)
    inflated = dataclasses.replace(entry, balance=entry.balance * 10)
    message = _rejects(Reason.BALANCE_MISMATCH, inflated, attestation)
    assert f"signed balance {entry.balance}, expected {inflated.balance}" in message


@pytest.mark.parametrize("chain", CHAINS)
def test_attack_block_differs_from_the_signed_one(chain):
    entry, attestation = _attested(chain)
    _rejects(Reason.BLOCK_MISMATCH, dataclasses.replace(entry, block_height=entry.block_height + 1), attestation)
    other_hash = "0x" + "11" * 32 if chain == "ethereum" else (
        "4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZAMdL4VZHirAo" if chain == "solana" else "00000000" + "1" * 56)
    _rejects(Reason.BLOCK_MISMATCH, dataclasses.replace(entry, block_hash=other_hash), attestation)


@pytest.mark.parametrize("chain", CHAINS)
def test_attack_signature_replayed_from_another_epoch(chain):
    previous = dataclasses.replace(CONTEXT, epoch=6)
    entry, attestation = _attested(chain, context=previous)
    message = _rejects(Reason.REPLAYED_EPOCH, entry, attestation)
    assert "signed epoch 6, expected 7" in message


def test_attack_replayed_from_another_venue_header_or_root():
    for field, value, reason in (
        ("venue", "Other Venue", Reason.WRONG_VENUE),
        ("header_hash", bytes(32), Reason.WRONG_HEADER),
        ("root", bytes(32), Reason.WRONG_ROOT),
    ):
        entry, attestation = _attested("ethereum", context=dataclasses.replace(CONTEXT, **{field: value}))
        _rejects(reason, entry, attestation)


def test_attack_evm_attestation_replayed_on_another_evm_chain():
    # The same key controls the same address on every EVM chain; the text names the chain.
    _, attestation = _attested("ethereum")
    on_arbitrum = entry_for(key("ethereum"), chain="arbitrum")
    _rejects(Reason.WRONG_CHAIN, on_arbitrum, attestation)
    relabelled = dataclasses.replace(attestation, chain="arbitrum")
    _rejects(Reason.WRONG_CHAIN, on_arbitrum, relabelled)


def test_attack_asset_differs_from_the_signed_one():
    entry, attestation = _attested("ethereum")
    _rejects(Reason.WRONG_ASSET, as_token(entry, "USDC"), attestation)


@pytest.mark.parametrize("chain", ["bitcoin", "ethereum"])
def test_attack_malleated_high_s_signature(chain):
    entry, attestation = _attested(chain)
    if chain == "ethereum":
        raw = bytes.fromhex(attestation.signature[2:])
        s = int.from_bytes(raw[32:64], "big")
        signature = "0x" + (raw[:32] + (secp256k1.N - s).to_bytes(32, "big") + bytes([55 - raw[64]])).hex()
    else:
        raw = base64.b64decode(attestation.signature)
        s = int.from_bytes(raw[33:], "big")
        header = 27 + ((raw[0] - 27) ^ 1)
        signature = base64.b64encode(bytes([header]) + raw[1:33] + (secp256k1.N - s).to_bytes(32, "big")).decode()
    _rejects(Reason.SIGNATURE_NON_CANONICAL, entry, dataclasses.replace(attestation, signature=signature))


def test_attack_text_edited_after_signing():
    entry, attestation = _attested("solana")
    edited = attestation.text.replace("balance: 150000000", "balance: 950000000")
    _rejects(Reason.WRONG_SIGNER, dataclasses.replace(entry, balance=950000000),
             dataclasses.replace(attestation, text=edited))


def test_signed_text_that_is_not_an_attestation_is_refused():
    demo_key = key("ethereum")
    text = "please send 1 ETH"
    attestation = Attestation("ethereum", demo_key.address.text, text,
                              sign_message(demo_key.secret, demo_key.address, text.encode()))
    _rejects(Reason.TEXT_MALFORMED, entry_for(demo_key), attestation)


def test_malformed_signature_is_refused_by_name():
    entry, attestation = _attested("bitcoin")
    _rejects(Reason.SIGNATURE_MALFORMED, entry, dataclasses.replace(attestation, signature="not base64!"))


# -- the whole reserves list -------------------------------------------------------------------------

def _listed():
    keys = [key("bitcoin"), key("ethereum"), key("solana"), key("bitcoin", "second")]
    entries = [entry_for(k) for k in keys]
    attestations: list[Attestation] = []
    for demo_key in keys:
        attestations += attest_reserves(demo_key, CONTEXT, entries, attestations)
    return entries, attestations


def test_every_listed_address_attested_verifies():
    entries, attestations = _listed()
    verify_attestations(entries, attestations, CONTEXT)


def _set_rejects(reason: Reason, entries, attestations, address: str) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_attestations(entries, attestations, CONTEXT)
    assert caught.value.reason == reason.value
    assert f"address {address}" in str(caught.value)


def test_attack_address_listed_twice_in_the_verified_set():
    entries, attestations = _listed()
    _set_rejects(Reason.DUPLICATE_ADDRESS, [*entries, entries[1]], attestations, entries[1].address)


def test_attack_missing_duplicate_and_unlisted_attestations():
    entries, attestations = _listed()
    _set_rejects(Reason.MISSING, entries, attestations[:-1], entries[-1].address)
    _set_rejects(Reason.DUPLICATE, entries, [*attestations, attestations[0]], attestations[0].address)
    stranger_entry, stranger = _attested("ethereum", "stranger")
    _set_rejects(Reason.UNLISTED, entries, [*attestations, stranger], stranger_entry.address)


def test_attack_attestation_presented_for_another_listed_address():
    entries, attestations = _listed()
    swapped = [dataclasses.replace(attestations[0], address=entries[3].address),
               dataclasses.replace(attestations[3], address=entries[0].address), *attestations[1:3]]
    _set_rejects(Reason.WRONG_SIGNER, entries, swapped, entries[0].address)


def _two_assets_on_one_address():
    """An Ethereum custodian holding ETH and USDC on one address (two entries) beside a Bitcoin one."""
    evm, btc = key("ethereum"), key("bitcoin")
    eth_entry = entry_for(evm)
    usdc_entry = as_token(eth_entry, "USDC", balance=7_000_000)
    entries = [eth_entry, entry_for(btc), usdc_entry]
    attestations = attest_reserves(evm, CONTEXT, entries)
    attestations += attest_reserves(btc, CONTEXT, entries, attestations)
    return entries, list(attestations)


def test_one_address_holding_two_assets_signs_one_text_per_asset_and_verifies():
    entries, attestations = _two_assets_on_one_address()
    assert len(attestations) == 3 and len({a.text for a in attestations}) == 3
    verify_attestations(entries, attestations, CONTEXT)
    verify_attestations(entries, attestations[::-1], CONTEXT)  # matched by (chain, address, asset), not by order


def test_attack_one_asset_of_a_two_asset_address_left_unattested():
    entries, attestations = _two_assets_on_one_address()
    usdc = next(a for a in attestations if "asset: USDC" in a.text)
    with pytest.raises(VerificationError) as caught:
        verify_attestations(entries, [a for a in attestations if a is not usdc], CONTEXT)
    assert caught.value.reason == Reason.MISSING.value and "listed for USDC on chain ethereum" in str(caught.value)


def test_attack_one_assets_attestation_presented_for_the_other_asset():
    entries, attestations = _two_assets_on_one_address()
    eth = next(a for a in attestations if "asset: ETH" in a.text)
    usdc = next(a for a in attestations if "asset: USDC" in a.text)
    # the ETH attestation given twice, in place of the USDC one: a duplicate, never counted for USDC
    _set_rejects(Reason.DUPLICATE, entries, [eth if a is usdc else a for a in attestations], eth.address)
    # the USDC attestation given in place of the ETH one, with the ETH one missing: USDC's is a duplicate too
    _set_rejects(Reason.DUPLICATE, entries, [usdc if a is eth else a for a in attestations], usdc.address)


def test_attack_signed_asset_not_listed_at_the_address():
    entries, attestations = _two_assets_on_one_address()
    evm = key("ethereum")
    dai = sign_attestation_text(evm, render_attestation_text(CONTEXT, as_token(entries[0], "DAI")))
    without_eth = [dai if "asset: ETH" in a.text else a for a in attestations]
    # checked against the address's first entry (ETH): what is wrong in it is named, not "unlisted"
    _set_rejects(Reason.WRONG_ASSET, entries, without_eth, entries[0].address)


def test_attack_balance_of_one_asset_raised_after_signing():
    entries, attestations = _two_assets_on_one_address()
    inflated = [dataclasses.replace(e, balance=e.balance + 1) if e.asset == "USDC" else e for e in entries]
    _set_rejects(Reason.BALANCE_MISMATCH, inflated, attestations, entries[0].address)
