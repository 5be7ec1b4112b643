"""reserves.csv v2: strict parsing, one-line errors naming file, line and field."""

from __future__ import annotations

import pytest

from tests.chains.chain_fixtures import BLOCKS, key
from zkclear.chains.reserves import ReserveEntry, load_reserves, parse_reserves_csv, reserve_totals
from zkclear.errors import InputError

HEADER = "chain,asset,address,balance,block_height,block_hash"


def _row(chain: str, label: str = "custodian", balance: str = "150000000", asset: str | None = None,
         address: str | None = None, height: str | None = None, block_hash: str | None = None) -> str:
    default_height, default_hash = BLOCKS[chain]
    asset = asset or {"bitcoin": "BTC", "ethereum": "ETH", "arbitrum": "ETH", "solana": "SOL"}.get(chain, "BTC")
    address = address or key(chain, label).address.text
    return ",".join([chain, asset, address, balance, height or str(default_height), block_hash or default_hash])


def _parse(*rows: str, prefix: str = "", suffix: str = "\n") -> tuple[ReserveEntry, ...]:
    return parse_reserves_csv(prefix + "\n".join((HEADER, *rows)) + suffix, path="reserves.csv")


def _error(*rows: str) -> str:
    with pytest.raises(InputError) as caught:
        _parse(*rows)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_parses_one_entry_per_chain_in_file_order():
    entries = _parse(_row("bitcoin"), _row("ethereum"), _row("solana"), _row("arbitrum"))
    assert [e.chain for e in entries] == ["bitcoin", "ethereum", "solana", "arbitrum"]
    assert entries[0] == ReserveEntry("bitcoin", "BTC", key("bitcoin").address.text, 150_000_000, *BLOCKS["bitcoin"])
    assert reserve_totals(entries)[("ethereum", "ETH")] == 150_000_000


def test_bom_crlf_and_trailing_blank_lines_are_accepted():
    entries = _parse(_row("bitcoin"), prefix="\ufeff", suffix="\r\n\r\n\n")
    assert len(entries) == 1
    text = "\ufeff" + "\r\n".join((HEADER, _row("ethereum"))) + "\r\n\n"
    assert parse_reserves_csv(text)[0].chain == "ethereum"


def test_evm_address_is_stored_in_eip55_form_and_balances_above_2_64_are_kept():
    wei = str(5 * 10**20)  # 500 ETH in wei, above 2^64
    entry = _parse(_row("ethereum", address=key("ethereum").address.text.lower(), balance=wei))[0]
    assert entry.address == key("ethereum").address.text and entry.balance == 5 * 10**20


@pytest.mark.parametrize(("balance", "reason"), [
    ("²", "ASCII digits"), ("１０", "ASCII digits"), ("-5", "ASCII digits"), ("+5", "ASCII digits"),
    ("1e6", "ASCII digits"), ("1.5", "ASCII digits"), ("0x10", "ASCII digits"), ("007", "leading zeros"),
    (str(1 << 256), "at most"), ("1_000", "ASCII digits"),
])
def test_balances_must_be_canonical_ascii_integers(balance, reason):
    message = _error(_row("bitcoin", balance=balance))
    assert message.startswith("reserves.csv:2: field 'balance': ") and reason in message


def test_spaces_around_a_field_are_refused_by_field():
    message = _error(_row("bitcoin", balance=" 5"))
    assert message.startswith("reserves.csv:2: field 'balance': ")


@pytest.mark.parametrize(("chain", "block_hash", "reason"), [
    ("bitcoin", "0x" + "00" * 31, "64 lower-case hex"),
    ("bitcoin", "00000000000000000003" + "A" * 44, "64 lower-case hex"),
    ("bitcoin", "f" * 64, "proof-of-work limit"),
    ("ethereum", "ab" * 32, "'0x' and 64"),
    ("ethereum", "0x" + "AB" * 32, "'0x' and 64"),
    ("solana", "0x" + "ab" * 32, "not Base58"),
    ("solana", "1111", "4 bytes"),
])
def test_block_hash_format_is_checked_per_chain(chain, block_hash, reason):
    message = _error(_row(chain, block_hash=block_hash))
    assert message.startswith("reserves.csv:2: field 'block_hash': ") and reason in message


def test_block_height_must_be_a_canonical_integer():
    message = _error(_row("bitcoin", height="-1"))
    assert message.startswith("reserves.csv:2: field 'block_height': ")


def test_attack_address_listed_twice_on_one_chain_is_refused_by_name():
    evm = key("ethereum").address.text
    message = _error(_row("ethereum", address=evm), _row("bitcoin"), _row("ethereum", address=evm.lower()))
    assert message.startswith("reserves.csv:4: field 'address': ")
    assert f"address {evm} is listed twice on chain ethereum (first on line 2), both for ETH" in message


def test_same_evm_address_on_two_chains_is_two_entries():
    evm = key("ethereum").address.text
    entries = _parse(_row("ethereum", address=evm), _row("arbitrum", address=evm))
    assert {e.key for e in entries} == {("ethereum", evm, "ETH"), ("arbitrum", evm, "ETH")}


def test_one_address_holding_two_assets_is_one_entry_per_asset():
    # a custodian's Ethereum address holds ETH and USDC: two rows, one per asset, each attested on its own
    evm = key("ethereum").address.text
    entries = _parse(_row("ethereum", address=evm), _row("ethereum", address=evm, asset="USDC", balance="7"))
    assert [e.key for e in entries] == [("ethereum", evm, "ETH"), ("ethereum", evm, "USDC")]
    assert reserve_totals(entries) == {("ethereum", "ETH"): 150_000_000, ("ethereum", "USDC"): 7}


@pytest.mark.parametrize(("text", "where"), [
    ("chain,asset,address,balance\n", "reserves.csv:1: expected the header"),
    ("address,balance\n0x00,5\n", "reserves.csv:1: expected the header"),
    (HEADER + "\n", "reserves.csv:2: no reserve rows"),
    (HEADER + "\n\n" + "bitcoin,BTC,x,1,1,1\n", "reserves.csv:2: blank line"),
    (HEADER + "\nbitcoin,BTC,1,2\n", "reserves.csv:2: expected 6 comma-separated fields, got 4"),
    (HEADER + "\ndogecoin,DOGE,D8,1,1,00\n", "reserves.csv:2: field 'chain': unknown chain 'dogecoin'"),
    (HEADER + "\nbitcoin,btc,1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,1,1,00\n", "reserves.csv:2: field 'asset'"),
])
def test_structural_errors_name_file_and_line(text, where):
    with pytest.raises(InputError) as caught:
        parse_reserves_csv(text, path="reserves.csv")
    assert str(caught.value).startswith(where)


def test_attack_wrong_chain_address_in_csv_is_refused_by_field():
    message = _error(_row("bitcoin", address=key("ethereum").address.text))
    assert message.startswith("reserves.csv:2: field 'address': ")


def test_load_reserves_reads_utf8_and_names_the_file(tmp_path):
    path = tmp_path / "reserves.csv"
    path.write_bytes(b"\xff\xfe" + HEADER.encode())
    with pytest.raises(InputError, match="not UTF-8"):
        load_reserves(path)
    path.write_text(HEADER + "\n" + _row("solana") + "\n", encoding="utf-8")
    assert load_reserves(path)[0].chain == "solana"


def test_entry_constructor_requires_the_canonical_address():
    with pytest.raises(InputError, match="canonical form"):
        ReserveEntry("ethereum", "ETH", key("ethereum").address.text.lower(), 1, *BLOCKS["ethereum"])
