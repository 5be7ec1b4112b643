"""The attestation text: its exact canonical bytes, a strict round trip, and the variants refused."""

from __future__ import annotations

import pytest

from tests.chains.chain_fixtures import CONTEXT, as_token, entry_for, key
from zkclear.chains.attestation_text import AttestationContext, parse_attestation_text, render_attestation_text
from zkclear.errors import InputError


def test_text_has_the_documented_exact_form():
    entry = entry_for(key("bitcoin"))
    text = render_attestation_text(CONTEXT, entry)
    assert text.split("\n") == [
        "zkclear reserve attestation v2",
        "I control this address. At this block it held this balance of this token for this venue's liabilities in "
        "this epoch.",
        "venue: Acme Clearing",
        "epoch: 7",
        f"header hash: {CONTEXT.header_hash.hex()}",
        f"root: {CONTEXT.root.hex()}",
        "chain: bitcoin",
        f"address: {entry.address}",
        "asset: BTC",
        "token: native",
        "decimals: 8",
        "balance: 150000000",
        "block height: 840000",
        "block hash: 0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5",
    ]
    assert text.isascii() and not text.endswith("\n") and "\r" not in text


def test_solana_text_names_the_slot():
    text = render_attestation_text(CONTEXT, entry_for(key("solana")))
    assert "\nslot: 250000000\n" in text and "block height" not in text


@pytest.mark.parametrize("chain", ["bitcoin", "bitcoin-testnet", "ethereum", "solana"])
def test_text_round_trips(chain):
    entry = entry_for(key(chain))
    assert parse_attestation_text(render_attestation_text(CONTEXT, entry)) == (CONTEXT, entry)


def _variants() -> list[tuple[str, str]]:
    text = render_attestation_text(CONTEXT, entry_for(key("ethereum")))
    address = entry_for(key("ethereum")).address
    return [
        ("trailing newline", text + "\n"),
        ("CRLF line ends", text.replace("\n", "\r\n")),
        ("leading zero in the epoch", text.replace("epoch: 7", "epoch: 07")),
        ("full-width digit in the balance", text.replace("balance: 150000000", "balance: １50000000")),
        ("upper-case header hash", text.replace(CONTEXT.header_hash.hex(), CONTEXT.header_hash.hex().upper())),
        ("lower-case (non-EIP-55) address", text.replace(address, address.lower())),
        ("two spaces after a label", text.replace("asset: ETH", "asset:  ETH")),
        ("a line missing", text.replace("\nasset: ETH", "")),
        ("an extra line", text + "\nnote: hi"),
        ("another title", text.replace("v2", "v3", 1)),
        ("version 1 (no token, no decimals)", text.replace("v2", "v1", 1).replace("\ntoken: native", "")
         .replace("\ndecimals: 18", "").replace(" of this token for this venue's liabilities",
                                                 ", which backs this venue's liabilities")),
        ("a native coin named as a token", text.replace("token: native", "token: " + address)),
        ("a native coin with other decimals", text.replace("decimals: 18", "decimals: 9")),
        ("decimals with a leading zero", text.replace("decimals: 18", "decimals: 018")),
        ("token and decimals swapped", text.replace("token: native\ndecimals: 18", "decimals: 18\ntoken: native")),
        ("slot label on an EVM chain", text.replace("block height:", "slot:")),
        ("unknown chain", text.replace("chain: ethereum", "chain: ethereum-classic")),
        ("a balance with a sign", text.replace("balance: 150000000", "balance: +150000000")),
    ]


def test_a_token_text_names_its_contract_and_decimals_and_round_trips():
    entry = as_token(entry_for(key("ethereum")), "USDC", balance=7_000_000)
    text = render_attestation_text(CONTEXT, entry)
    assert "\nasset: USDC\ntoken: 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48\ndecimals: 6\nbalance: 7000000\n" in text
    assert parse_attestation_text(text) == (CONTEXT, entry)
    usdc = entry.token
    for variant in (text.replace(usdc, usdc.lower()),  # not the canonical (EIP-55) form
                    text.replace(f"token: {usdc}", "token: native"),
                    text.replace("decimals: 6", "decimals: 37")):
        with pytest.raises(InputError):
            parse_attestation_text(variant)


def test_a_token_entry_whose_unit_is_not_fixed_has_no_text():
    entry = entry_for(key("ethereum"))
    unfixed = type(entry)(entry.chain, "USDC", entry.address, 1, entry.block_height, entry.block_hash)
    with pytest.raises(InputError, match="contract and decimals are not known"):
        render_attestation_text(CONTEXT, unfixed)


@pytest.mark.parametrize(("what", "text"), _variants(), ids=[what for what, _ in _variants()])
def test_non_canonical_texts_are_refused(what, text):
    with pytest.raises(InputError):
        parse_attestation_text(text)


@pytest.mark.parametrize("venue", ["", " Acme", "Acme ", "Acme\nepoch: 8", "Acmé", "x" * 65])
def test_context_refuses_bad_venue_names(venue):
    with pytest.raises(InputError, match="venue"):
        AttestationContext(venue, 1, bytes(32), bytes(32))


def test_context_refuses_bad_epoch_and_hash_sizes():
    with pytest.raises(InputError, match="epoch"):
        AttestationContext("Acme", -1, bytes(32), bytes(32))
    with pytest.raises(InputError, match="root"):
        AttestationContext("Acme", 1, bytes(32), bytes(48))
