"""Red team (round 10) of tokens held as reserves, chains side only (zkclear.chains.tokens, reserves, attestation
text, verification): a dishonest operator who wants a worthless token or a wrong unit to count, and malformed input.

Tests named ``test_attack_...`` pass because the code already refuses the attack; the others pinned a defect
before its fix (named in their docstring)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from tests.chains.chain_fixtures import CONTEXT, as_token, entry_for, key
from zkclear.chains import ed25519, parse_address
from zkclear.chains.addresses import eip55_checksum
from zkclear.chains.attestation_text import parse_attestation_text, render_attestation_text
from zkclear.chains.base58 import b58encode
from zkclear.chains.keys import sign_attestation_text
from zkclear.chains.networks import get_chain
from zkclear.chains.reasons import Reason
from zkclear.chains.reserves import ReserveEntry
from zkclear.chains.tokens import REGISTERED_TOKENS, is_registered_contract, registered_decimals, token_problem
from zkclear.chains.verification import verify_attestation
from zkclear.errors import EncodingError, InputError, VerificationError

USDC_ETH = REGISTERED_TOKENS[("ethereum", "USDC")][0]
USDC_SOL = REGISTERED_TOKENS[("solana", "USDC")][0]


# -- the registry itself ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("chain", "symbol"), sorted(REGISTERED_TOKENS))
def test_every_registered_contract_is_in_its_chains_canonical_form(chain, symbol):
    """Defect (fixed): Optimism's USDC was pinned as ``0x0b2C…7837cAf6…`` while its EIP-55 form is ``…7837CAf6…``.
    A ReserveEntry holds the canonical form only, so the registry's rule never matched it: the real Optimism USDC
    contract counted as an unregistered token with any decimals the operator declared (0: reserves x 10^6, only
    a "check by hand" line), and USDC under its own name on Optimism could not be listed at all."""
    contract, decimals = REGISTERED_TOKENS[(chain, symbol)]
    assert parse_address(chain, contract).text == contract
    assert not get_chain(chain).test_network and 0 <= decimals <= 36
    assert is_registered_contract(chain, contract) and registered_decimals(chain, contract) == decimals


def test_the_real_optimism_usdc_contract_counts_with_its_six_decimals_only():
    """The canonical Optimism USDC contract (what a ReserveEntry must hold) with 0 decimals is a registry problem."""
    canonical = eip55_checksum(bytes.fromhex("0b2c639c533813f4aa9d7837caf62653d097ff85"))
    assert token_problem("optimism", "USD", canonical, 0) is not None
    assert token_problem("optimism", "USDC", canonical, 6) is None


def test_attack_no_contract_is_registered_twice_on_one_chain_nor_under_two_names():
    by_contract = [(chain, contract.lower()) for (chain, _), (contract, _) in REGISTERED_TOKENS.items()]
    assert len(set(by_contract)) == len(by_contract)


# -- a registered contract written another way ---------------------------------------------------------------

@pytest.mark.parametrize("spelling", [USDC_ETH.lower(), "0x" + USDC_ETH[2:].upper(), "0X" + USDC_ETH[2:],
                                      USDC_ETH + " ", "\u200b" + USDC_ETH, USDC_ETH.replace("A", "\u0391", 1)])
def test_attack_a_registered_contract_in_another_case_or_with_stray_characters_is_not_a_token(spelling):
    """The registry compares canonical texts; a ReserveEntry holds nothing else, so another spelling of a
    registered contract can never slip past the rule as an 'unregistered' token."""
    entry = as_token(entry_for(key("ethereum")), "USDC")
    with pytest.raises(InputError):
        dataclasses.replace(entry, token=spelling)


def test_attack_a_contract_of_another_chain_family_is_refused_as_the_token():
    eth = as_token(entry_for(key("ethereum")), "USDC")
    sol = as_token(entry_for(key("solana")), "USDC")
    with pytest.raises(InputError):
        dataclasses.replace(eth, token=USDC_SOL)
    with pytest.raises(InputError):
        dataclasses.replace(sol, token=USDC_ETH)
    with pytest.raises(InputError, match="holds only BTC"):
        dataclasses.replace(entry_for(key("bitcoin")), asset="USDC", token=key("bitcoin", "mint").address.text,
                            decimals=6)


def test_attack_a_registered_contract_of_another_evm_chain_is_not_that_chains_token():
    """Ethereum's USDC address named as the token of ``USDC`` on Arbitrum: rule 2 (Arbitrum's USDC is another
    contract); and counted there with 0 decimals under another name it is not the registered token, so it is at
    most an unregistered one (reported to the auditor, see tests/verifier/test_token_redteam.py)."""
    assert token_problem("arbitrum", "USDC", USDC_ETH, 6) is not None
    assert not is_registered_contract("arbitrum", USDC_ETH)


def _off_curve_solana_key() -> str:
    for counter in range(256):
        candidate = hashlib.sha256(b"off curve %d" % counter).digest()
        try:
            ed25519.check_public_key(candidate)
        except EncodingError:
            return b58encode(candidate)
    raise AssertionError("no off-curve key found")


def test_a_solana_token_account_pda_is_never_a_reserve_address_but_a_pda_mint_is_a_mint():
    """Mint vs owner: a reserve address is the owner's wallet key (it signs); a token account (an associated token
    account is a program-derived address, off the curve) cannot be listed as the address. A mint is never a
    signer and may itself be a program-derived address: it is taken as any 32 bytes in Base58 (red team design
    note: such a mint could not be declared before)."""
    sol = as_token(entry_for(key("solana")), "USDC")
    off_curve = _off_curve_solana_key()
    with pytest.raises(InputError, match="cannot sign"):
        dataclasses.replace(sol, address=off_curve)
    pda_mint = dataclasses.replace(sol, asset="USD", token=off_curve)
    assert pda_mint.token == off_curve
    for bad in ("0" + off_curve[1:], off_curve + "1", "1" + off_curve):  # not Base58 / 33 bytes / not canonical
        with pytest.raises(InputError):
            dataclasses.replace(sol, asset="USD", token=bad)


# -- decimals ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("decimals", [-1, 37, 255, 2**64, True, 6.0, "6"])
def test_attack_token_decimals_out_of_range_or_not_an_integer_are_refused(decimals):
    entry = as_token(entry_for(key("ethereum")), "USDC")
    with pytest.raises(InputError):
        dataclasses.replace(entry, asset="USD", decimals=decimals)


@pytest.mark.parametrize("decimals", [0, 36])
def test_an_unregistered_token_may_have_any_decimals_in_range_and_a_registered_one_only_its_own(decimals):
    entry = as_token(entry_for(key("ethereum")), "USDC")
    other = parse_address("ethereum", "0x" + "5a" * 20).text
    assert dataclasses.replace(entry, asset="USD", token=other, decimals=decimals).decimals == decimals
    assert token_problem("ethereum", "USD", other, decimals) is None
    assert token_problem("ethereum", "USD", USDC_ETH, decimals) is not None


def test_attack_a_native_coin_with_a_token_or_other_decimals_is_refused():
    eth = entry_for(key("ethereum"))
    with pytest.raises(InputError, match="native coin"):
        dataclasses.replace(eth, token=USDC_ETH, decimals=18)
    with pytest.raises(InputError, match="native coin"):
        dataclasses.replace(eth, decimals=6)


# -- the text the custodian signs ---------------------------------------------------------------------------------

def _signed(entry: ReserveEntry, label: str = "custodian"):
    return sign_attestation_text(key(entry.chain, label), render_attestation_text(CONTEXT, entry))


@pytest.mark.parametrize("chain", ["ethereum", "solana"])
def test_attack_a_text_signed_for_the_right_token_while_the_list_names_another(chain):
    """The custodian signed 'this balance of USDC'; the list counts the same balance from another contract, or
    with other decimals: attestation-wrong-asset / attestation-balance-mismatch, naming the address."""
    signed = dataclasses.replace(as_token(entry_for(key(chain)), "USDC"), asset="USD")
    attestation = _signed(signed)
    verify_attestation(signed, attestation, CONTEXT)
    other = parse_address(chain, "0x" + "5a" * 20 if chain == "ethereum" else _on_curve_solana_key()).text
    for listed, reason in ((dataclasses.replace(signed, token=other), Reason.WRONG_ASSET),
                           (dataclasses.replace(signed, token=other, decimals=0), Reason.WRONG_ASSET),
                           (dataclasses.replace(signed, decimals=0), Reason.BALANCE_MISMATCH),
                           (dataclasses.replace(signed, asset="USDC"), Reason.WRONG_ASSET)):
        with pytest.raises(VerificationError) as caught:
            verify_attestation(listed, attestation, CONTEXT)
        assert caught.value.reason == reason.value and signed.address in str(caught.value)


def _on_curve_solana_key() -> str:
    return key("solana", "some mint").address.text


def test_attack_the_list_names_the_signed_token_with_other_decimals():
    signed = dataclasses.replace(as_token(entry_for(key("ethereum")), "USDC"), asset="USD",
                                 token=parse_address("ethereum", "0x" + "5a" * 20).text, decimals=18)
    attestation = _signed(signed)
    with pytest.raises(VerificationError) as caught:
        verify_attestation(dataclasses.replace(signed, decimals=0), attestation, CONTEXT)
    assert caught.value.reason == Reason.BALANCE_MISMATCH.value and "decimals" in str(caught.value)


@pytest.mark.parametrize(("old", "new"), [
    ("decimals: 6", "decimals: 06"), ("decimals: 6", "decimals: 255"), ("decimals: 6", "decimals: 37"),
    ("decimals: 6", "decimals: -6"), ("decimals: 6", "decimals: 6 "), ("decimals: 6", "decimals: \u0666"),
    ("decimals: 6", "decimals:6"), ("token: 0x", "token:  0x"), ("token: 0x", "Token: 0x"),
    ("decimals: 6\n", ""), ("token: ", "token: native\ntoken: "),
])
def test_attack_a_malformed_token_or_decimals_line_is_refused(old, new):
    text = render_attestation_text(CONTEXT, as_token(entry_for(key("ethereum")), "USDC"))
    assert old in text
    with pytest.raises(InputError):
        parse_attestation_text(text.replace(old, new, 1))


def test_attack_a_token_text_that_says_native_or_a_lower_case_contract_is_refused():
    entry = as_token(entry_for(key("ethereum")), "USDC")
    text = render_attestation_text(CONTEXT, entry)
    for forged in (text.replace(f"token: {USDC_ETH}", "token: native"),
                   text.replace(f"token: {USDC_ETH}", f"token: {USDC_ETH.lower()}")):
        with pytest.raises(InputError):
            parse_attestation_text(forged)
    native = render_attestation_text(CONTEXT, entry_for(key("ethereum")))
    with pytest.raises(InputError):  # ETH named by a contract: a native coin has none
        parse_attestation_text(native.replace("token: native", f"token: {USDC_ETH}"))
    with pytest.raises(InputError):  # ETH with 6 decimals
        parse_attestation_text(native.replace("decimals: 18", "decimals: 6"))


@pytest.mark.parametrize(("field", "value"), [("chain", "x" * 100_000), ("asset", "U" * 100_000),
                                              ("address", "0x" + "ab" * 50_000), ("address", "1" * 100_000)])
def test_a_huge_field_of_reserves_csv_is_refused_in_one_short_line(field, value):
    """Defect (fixed): the chain, asset and address were echoed whole in the error (a 100,000-character line)."""
    from zkclear.chains.reserves import HEADER, parse_reserves_csv

    honest = entry_for(key("ethereum"))
    row = dict(zip(HEADER, ("ethereum", "ETH", honest.address, "1", str(honest.block_height), honest.block_hash),
                   strict=True))
    row[field] = value
    with pytest.raises(InputError) as caught:
        parse_reserves_csv(",".join(HEADER) + "\n" + ",".join(row.values()) + "\n", path="reserves.csv")
    message = str(caught.value)
    assert message.startswith(f"reserves.csv:2: field '{field}'") and len(message) < 400
