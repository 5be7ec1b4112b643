"""The epoch's reserves list (zkclear.proofs.reserves): conversion to the venue's assets, what the operator is
refused by line, and what a verifier rejects by name — reserves of one asset counted for another among them."""

import dataclasses

import pytest

from tests.proofs.epoch_fixtures import BITCOIN_KEY, ETHER_KEY, RESERVE_KEYS, SETTLEMENT, TOKENS, VENUE, entry
from zkclear.bundle.format import decode_reserve_book
from zkclear.chains import ReserveEntry, parse_address, parse_reserves_csv
from zkclear.errors import EncodingError, InputError, VerificationError
from zkclear.proofs.reserves import (
    ReserveBook,
    VenueAsset,
    build_reserve_book,
    check_reserve_book,
    check_venue_assets,
    convert,
    venue_assets,
)
from zkclear.synthetic import reserves_csv

ETH, BTC = RESERVE_KEYS[0], BITCOIN_KEY
ASSETS = (SETTLEMENT, VenueAsset("BTC", 8), VenueAsset("ETH", 9))


def _book(**changes) -> ReserveBook:
    entries = (entry(ETH, "USD", 5_000_000), entry(BTC, "BTC", 150_000_000),
               entry(ETHER_KEY, "ETH", 3 * 10**18 + 999), entry(RESERVE_KEYS[1], "USD", 1_000_000))
    return build_reserve_book(VENUE, ASSETS, entries, **{"tokens": TOKENS, **changes})


def contract(chain: str, label: str) -> str:
    """An unregistered token contract on ``chain`` (canonical form)."""
    return parse_address(chain, "0x" + label * 20 if chain != "solana" else RESERVE_KEYS[1].address.text).text


def test_balances_are_converted_to_each_assets_decimals_rounding_down():
    assert convert(3 * 10**18 + 999_999_999, 18, 9) == 3 * 10**9  # wei to gwei: the remainder is dropped
    assert convert(150_000_000, 8, 8) == 150_000_000
    assert convert(7, 6, 8) == 700
    book = _book()
    assert book.chain_decimals == (6, 8, 18, 6)  # USDC's registered decimals; natives at their chain's
    assert book.asset_totals() == (6_000_000, 150_000_000, 3 * 10**9)
    assert book.by_chain() == {"USD": {"ethereum": 5_000_000, "solana": 1_000_000}, "BTC": {"bitcoin": 150_000_000},
                               "ETH": {"ethereum": 3 * 10**9}}
    declared = _book(tokens={**TOKENS, ("ethereum", "USD"): (contract("ethereum", "11"), 18)})
    assert declared.asset_totals()[0] == 1_000_000 + 5_000_000 // 10**12


def test_the_operator_is_refused_by_line_an_asset_the_venue_does_not_have_or_a_chain_cannot_hold():
    with pytest.raises(InputError, match=r"reserves.csv:3: field 'asset': DOGE is not an asset"):
        build_reserve_book(VENUE, ASSETS, (entry(ETH, "USD", 1), entry(ETHER_KEY, "DOGE", 5)), path="reserves.csv",
                           tokens=TOKENS)
    with pytest.raises(InputError, match="holds only BTC"):
        build_reserve_book(VENUE, ASSETS, (entry(BTC, "USD", 1),))
    with pytest.raises(InputError, match="native coin"):
        build_reserve_book(VENUE, ASSETS, (entry(ETH, "ETH", 1),),
                           tokens={("ethereum", "ETH"): (contract("ethereum", "11"), 6)})
    with pytest.raises(InputError, match=r"reserves.csv:2: field 'asset': USD on ethereum is a token the registry"):
        build_reserve_book(VENUE, ASSETS, (entry(ETH, "USD", 1),), path="reserves.csv")
    with pytest.raises(InputError, match="above 2"):
        build_reserve_book(VENUE, ASSETS, (entry(BTC, "BTC", 1 << 64),))
    with pytest.raises(InputError, match="venue"):
        build_reserve_book(" padded ", ASSETS, (entry(ETH, "USD", 1),), tokens=TOKENS)


def test_a_reserves_csv_v2_from_the_synthetic_market_builds_a_book():
    text = reserves_csv([("ethereum", "USD", ETH.address.text), ("bitcoin", "BTC", BTC.address.text)],
                        {"USD": 10**9, "BTC": 2 * 10**8})
    book = build_reserve_book(VENUE, ASSETS[:2], parse_reserves_csv(text), tokens=TOKENS)
    assert book.asset_totals() == (10**9, 2 * 10**8)


def test_an_honest_book_passes_the_verifiers_checks_and_its_digest_binds_every_field():
    book = _book()
    check_reserve_book(book, book.digest(), book.asset_totals(), ("BTC", "ETH"))
    changed = [dataclasses.replace(book, venue="Other Venue"),
               dataclasses.replace(book, entries=(*book.entries[:3], dataclasses.replace(
                   book.entries[3], token=contract("solana", ""), decimals=5))),
               dataclasses.replace(book, entries=(dataclasses.replace(book.entries[0], token=contract("ethereum", "22"),
                                                                      decimals=6), *book.entries[1:])),
               dataclasses.replace(book, assets=(SETTLEMENT, VenueAsset("BTC", 8), VenueAsset("ETH", 10))),
               dataclasses.replace(book, entries=(*book.entries[:3], dataclasses.replace(book.entries[3], balance=1)))]
    assert len({b.digest() for b in (book, *changed)}) == len(changed) + 1


def _rejected(book, totals, collateral=("BTC", "ETH")) -> str:
    with pytest.raises(VerificationError) as caught:
        check_reserve_book(book, book.digest(), totals, collateral)
    assert caught.value.reason == "reserves-mismatch"
    return caught.value.detail


def test_attack_reserves_of_one_asset_counted_for_another():
    book = _book()
    usd, btc, eth = book.asset_totals()
    # the header moves ETH's reserves into BTC's total: the same entries, another asset's total
    assert "the header counts" in _rejected(book, (usd, btc + eth, 0)) and "BTC" in _rejected(book, (usd, btc + eth, 0))
    # an entry relabelled as another asset: a Bitcoin address holds no token, so no such entry exists (the
    # bundle's decoder refuses it), and a token needs its contract
    with pytest.raises(InputError, match="holds only BTC"):
        dataclasses.replace(book.entries[1], asset="ETH", token=contract("ethereum", "11"))
    with pytest.raises(InputError, match="its decimals come with its contract"):
        dataclasses.replace(book.entries[2], asset="DOGE")
    # an asset the epoch does not have
    doge = dataclasses.replace(book.entries[2], asset="DOGE", token=contract("ethereum", "33"), decimals=18)
    assert "not an asset of this venue" in _rejected(dataclasses.replace(book, entries=(*book.entries, doge)),
                                                     book.asset_totals())
    # the collateral assets in another order than the public data's
    assert "collateral assets" in _rejected(book, book.asset_totals(), ("ETH", "BTC"))
    # a native coin converted with decimals of the operator's choosing (10^9 times the ETH): no such entry, and
    # the bundle's decoder refuses its bytes
    with pytest.raises(InputError, match=r"native coin \(18 decimals\), not 9"):
        dataclasses.replace(book.entries[2], decimals=9)
    eth = book.entries[2]
    data = book.to_bytes()
    honest = eth.block_hash.encode() + bytes([18]) + b"\x00\x00"
    assert data.count(honest) == 1
    with pytest.raises(EncodingError, match=r"reserves entry\[2\].*native coin"):
        decode_reserve_book(data.replace(honest, eth.block_hash.encode() + bytes([9]) + b"\x00\x00"))
    assert decode_reserve_book(data) == book


def test_a_book_not_bound_by_the_header_is_rejected():
    book = _book()
    with pytest.raises(VerificationError, match="not the one the epoch header binds"):
        check_reserve_book(book, bytes(32), book.asset_totals(), ("BTC", "ETH"))


def test_the_venues_assets_come_from_the_configuration_text():
    single = 'settlement_asset = "USDC"\nsettlement_decimals = 6\n'
    assert venue_assets(single) == (VenueAsset("USDC", 6),)
    multi = ('[[asset]]\nid = "BTC"\ndecimals = 8\n\n[[asset]]\nid = "USDC"\ndecimals = 6\nsettlement = true\n\n'
             '[[asset]]\nid = "ETH"\ndecimals = 9\n')
    assert venue_assets(multi) == (VenueAsset("USDC", 6), VenueAsset("BTC", 8), VenueAsset("ETH", 9))
    with pytest.raises(InputError, match="settlement = true"):
        venue_assets('[[asset]]\nid = "BTC"\ndecimals = 8\n')
    book = build_reserve_book(VENUE, venue_assets(multi), (entry(BTC, "BTC", 5),))
    check_venue_assets(book, multi)
    with pytest.raises(VerificationError, match="BTC \\(10 decimals\\)"):
        check_venue_assets(book, multi.replace("decimals = 8", "decimals = 10"))


def test_entries_are_real_chain_entries():
    with pytest.raises(InputError):
        ReserveEntry("ethereum", "USD", "0x" + "ab" * 20 + "x", 1, 1, "0x" + "00" * 32)
