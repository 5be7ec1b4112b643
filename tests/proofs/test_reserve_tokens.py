"""Tokens held as reserves (zkclear.chains.tokens, zkclear.proofs.reserves): every token entry names its contract
and the decimals of its unit, in the list the header binds and in the text the custodian signs, and is held to
the registry's rule — by the operator's tool (by line and field), and by every verifier (``reserves-mismatch``,
naming the address).

Before this change (red team round 6): the list said neither the contract nor, to the custodian, the unit, so an
operator could declare USDC on Ethereum with 0 decimals instead of 6 (every signed balance true, the reserves
x 10^6), or hold a token of its own minting under the name USDC, and `verify` and `audit` passed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import BITCOIN_KEY, ETHER_KEY, RESERVE_KEYS, SETTLEMENT, TOKENS, VENUE, entry
from zkclear.chains import parse_address, parse_attestation_text, render_attestation_text
from zkclear.chains.attestation_text import AttestationContext
from zkclear.chains.tokens import REGISTERED_TOKENS, token_problem
from zkclear.errors import InputError, VerificationError
from zkclear.proofs.reserves import ReserveBook, VenueAsset, build_reserve_book, check_reserve_book
from zkclear.proving_settings import ProvingSettings, load_proving_settings

ETH_KEY, SOL_KEY = RESERVE_KEYS
USDC_ETH, _ = REGISTERED_TOKENS[("ethereum", "USDC")]
USDT_ETH, _ = REGISTERED_TOKENS[("ethereum", "USDT")]
MINTED = parse_address("ethereum", "0x" + "5a" * 20).text  # a contract of the operator's own
ASSETS = (VenueAsset("USDC", 6), VenueAsset("BTC", 8))


def _rejected(book: ReserveBook, collateral: tuple[str, ...] = ("BTC",)) -> str:
    with pytest.raises(VerificationError) as caught:
        check_reserve_book(book, book.digest(), book.asset_totals(), collateral)
    assert caught.value.reason == "reserves-mismatch"
    return caught.value.detail


def _honest() -> ReserveBook:
    return build_reserve_book(VENUE, ASSETS, (entry(ETH_KEY, "USDC", 5_000_000), entry(SOL_KEY, "USDC", 1_000_000),
                                              entry(BITCOIN_KEY, "BTC", 10**8)))


def _with(book: ReserveBook, index: int, **changes) -> ReserveBook:
    entries = list(book.entries)
    entries[index] = dataclasses.replace(entries[index], **changes)
    return dataclasses.replace(book, entries=tuple(entries))


def test_a_registered_token_needs_no_declaration_and_carries_its_contract_and_decimals():
    book = _honest()
    check_reserve_book(book, book.digest(), book.asset_totals(), ("BTC",))
    assert [(e.token, e.decimals) for e in book.entries] == [
        (USDC_ETH, 6), (REGISTERED_TOKENS[("solana", "USDC")][0], 6), ("", 8)]
    assert book.unregistered_tokens() == ()
    assert book.asset_totals() == (6_000_000, 10**8)


def test_the_list_digest_binds_every_entrys_token_and_decimals():
    book = _honest()
    other_token = _with(book, 0, token=MINTED)
    other_unit = _with(book, 0, decimals=18)
    assert len({book.digest(), other_token.digest(), other_unit.digest()}) == 3
    assert other_unit.asset_totals()[0] == 1_000_000  # 5,000,000 units of 10^-18 are 0 USDC units


def test_attack_a_registered_token_counted_with_fewer_decimals_than_its_contract():
    """USDC on Ethereum declared with 0 decimals: 5 USDC read as 5,000,000 USDC."""
    with pytest.raises(InputError, match=r"reserves.csv:2: field 'asset': the token 0xA0b8.* is USDC, whose "
                                         r"contract has 6 decimals; the reserves list counts it with 0"):
        build_reserve_book(VENUE, ASSETS, (entry(ETH_KEY, "USDC", 5),), path="reserves.csv",
                           tokens={("ethereum", "USDC"): (USDC_ETH, 0)})
    inflated = _with(_honest(), 0, decimals=0)
    assert inflated.asset_totals()[0] > 10**12
    detail = _rejected(inflated)
    assert f"address {ETH_KEY.address.text}" in detail and "contract has 6 decimals" in detail


def test_attack_a_token_of_the_operators_own_minting_under_a_registered_name():
    with pytest.raises(InputError, match=r"USDC on ethereum is the token 0xA0b8.*names the contract 0x5[aA]"):
        build_reserve_book(VENUE, ASSETS, (entry(ETH_KEY, "USDC", 5),), tokens={("ethereum", "USDC"): (MINTED, 6)})
    detail = _rejected(_with(_honest(), 0, token=MINTED))
    assert "USDC on ethereum is the token" in detail and MINTED in detail


def test_attack_another_registered_token_counted_under_a_registered_name():
    """USDT's contract listed as USDC (same decimals on Ethereum): refused, whatever the balances."""
    assert token_problem("ethereum", "USDC", USDT_ETH, 6) is not None
    assert "USDC on ethereum is the token" in _rejected(_with(_honest(), 0, token=USDT_ETH))


def test_an_unregistered_token_is_accepted_as_declared_and_reported_for_a_check_by_hand():
    assets = (SETTLEMENT,)  # "USD": not a registered name
    declared = {("ethereum", "USD"): (MINTED, 18), ("solana", "USD"): TOKENS[("solana", "USD")]}
    book = build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 7 * 10**18), entry(SOL_KEY, "USD", 5)),
                              tokens=declared)
    check_reserve_book(book, book.digest(), book.asset_totals(), ())
    assert book.unregistered_tokens() == (("ethereum", "USD", MINTED, 18),)
    assert book.asset_totals() == (7 * 10**6 + 5,)
    with pytest.raises(InputError, match="the registry does not know: name its contract and decimals"):
        build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 1),))
    with pytest.raises(InputError, match="is not registered; declare its decimals"):
        build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 1),), tokens={("ethereum", "USD"): (MINTED, None)})


def test_attack_one_asset_counted_from_two_tokens_on_one_chain():
    """USD on Ethereum from USDC at one address and from an unregistered token at another."""
    book = build_reserve_book(VENUE, (SETTLEMENT,), (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, "USD", 5)),
                              tokens=TOKENS)
    detail = _rejected(_with(book, 1, token=MINTED), ())
    assert "one asset is one token on a chain" in detail and ETHER_KEY.address.text in detail


def test_attack_one_token_counted_for_two_assets():
    """USDC's contract counted as USD at one address and as USDC at another (the same coins, or two assets' worth
    of one token)."""
    assets = (SETTLEMENT, VenueAsset("USDC", 6))
    with pytest.raises(InputError, match="one token counts for one asset"):  # the operator's tool, by line
        build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, "USDC", 5)), tokens=TOKENS)
    book = build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, "USD", 5)), tokens=TOKENS)
    detail = _rejected(_with(book, 1, asset="USDC"), ("USDC",))
    assert f"the token {USDC_ETH} on ethereum is counted as USDC here and as USD" in detail


def test_a_token_entry_cannot_exist_without_its_contract_or_with_a_contract_not_in_canonical_form():
    honest = _honest().entries[0]
    with pytest.raises(InputError, match="its decimals come with its contract"):
        dataclasses.replace(honest, token="")
    with pytest.raises(InputError, match="not in canonical form"):
        dataclasses.replace(honest, token=USDC_ETH.lower())
    with pytest.raises(InputError):
        dataclasses.replace(honest, token="native")
    with pytest.raises(InputError, match="needs its decimals"):
        dataclasses.replace(honest, decimals=None)
    with pytest.raises(InputError, match="native coin: it has no token contract"):
        dataclasses.replace(_honest().entries[2], token=USDC_ETH)


def test_the_custodian_signs_the_token_and_its_decimals():
    book = _honest()
    context = AttestationContext(VENUE, 1, bytes(32), bytes(32))
    text = render_attestation_text(context, book.entries[0])
    assert f"\ntoken: {USDC_ETH}\ndecimals: 6\n" in text
    assert parse_attestation_text(text) == (context, book.entries[0])
    btc = render_attestation_text(context, book.entries[2])
    assert "\ntoken: native\ndecimals: 8\n" in btc


TOML = """[reserves]
venue = "Acme"
{tokens}
"""


def _settings(tmp_path: Path, tokens: str) -> ProvingSettings:
    path = tmp_path / "proving.toml"
    path.write_text(TOML.format(tokens=tokens), encoding="utf-8")
    return load_proving_settings(path)


def _token_table(**keys) -> str:
    return "[[reserves.token]]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in keys.items())


def test_proving_toml_declares_a_token_by_its_contract(tmp_path):
    settings = _settings(tmp_path, _token_table(chain="ethereum", asset="USD", contract=USDC_ETH)
                         + _token_table(chain="bsc", asset="USD", contract=MINTED, decimals=18))
    assert settings.tokens == (("ethereum", "USD", USDC_ETH, None), ("bsc", "USD", MINTED, 18))
    again = tmp_path / "again"
    again.mkdir()
    (again / "proving.toml").write_text(settings.to_toml(), encoding="utf-8")
    assert load_proving_settings(again / "proving.toml").tokens == settings.tokens


@pytest.mark.parametrize(("table", "message"), [
    (_token_table(chain="ethereum", asset="USD", decimals=6), "the keys chain, asset, contract"),
    (_token_table(chain="ethereum", asset="USD", contract=MINTED), "not registered: declare its decimals"),
    (_token_table(chain="ethereum", asset="USD", contract=USDC_ETH.lower()), "not in canonical form"),
    (_token_table(chain="ethereum", asset="USD", contract="0x1234"), "reserves.token[0]"),
    (_token_table(chain="ethereum", asset="USD", contract=USDC_ETH, decimals=0), "contract has 6 decimals"),
    (_token_table(chain="ethereum", asset="USDC", contract=MINTED, decimals=6), "USDC on ethereum is the token"),
    (_token_table(chain="ethereum", asset="ETH", contract=MINTED, decimals=18), "cannot be a token"),
    (_token_table(chain="bitcoin", asset="USD", contract=MINTED, decimals=6), "cannot be a token"),
    (_token_table(chain="ethereum", asset="USD", contract=USDC_ETH, decimals=37), "must be in [0, 36]"),
    (_token_table(chain="ethereum", asset="USD", contract=USDC_ETH) * 2, "declared twice"),
    (_token_table(chain="ethereum", asset="USD", contract=USDC_ETH, note="x"), "the keys chain, asset, contract"),
])
def test_proving_toml_refuses_a_token_table_by_line_and_field(tmp_path, table, message):
    with pytest.raises(InputError) as caught:
        _settings(tmp_path, table)
    assert message in str(caught.value) and "proving.toml:" in str(caught.value)


def test_the_audit_names_every_unregistered_token_to_check_by_hand(capsys):
    from zkclear.cli import _print_audit

    entry = {"epoch": 4, "header_hash": "ab" * 32, "chunks": 1, "leaves": 16, "upper_nodes": 30, "venue": VENUE,
             "reserves": {"USD": {"decimals": 6, "total": 7, "by_chain": {"ethereum": 7}, "total_liabilities": None}},
             "unregistered_tokens": [{"chain": "ethereum", "asset": "USD", "contract": MINTED, "decimals": 18}],
             "marks_compared": 0}
    _print_audit(entry, 0)
    assert (f"check by hand: USD on ethereum is counted from the token {MINTED} with 18 decimals, a contract "
            "zkclear does not know") in capsys.readouterr().out
