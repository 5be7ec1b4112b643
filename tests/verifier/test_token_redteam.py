"""Red team (round 10) of tokens held as reserves, verifier side (zkclear.proofs.reserves ReserveBook /
build_reserve_book / check_reserve_book, the bundle's reserves list, proving.toml ``[[reserves.token]]``, what
``zkclear show`` and ``zkclear audit`` tell the auditor).

Tests named ``test_attack_...`` pass because the code already refuses (or reports) the attack; the others pinned
a defect before its fix (named in their docstring)."""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import (
    BITCOIN_KEY,
    ETHER_KEY,
    MULTI_PUBLIC,
    RESERVE_KEYS,
    SETTLEMENT,
    SYSTEM,
    TOKENS,
    VENUE,
    attested,
    entry,
    multi_asset_accounts,
    multi_asset_epoch,
    public_inputs,
)
from zkclear.bundle.format import FORMAT_VERSION, MAGIC, decode_public_bundle, decode_reserve_book
from zkclear.chains import parse_address, render_attestation_text
from zkclear.chains.attestation_text import AttestationContext
from zkclear.chains.tokens import REGISTERED_TOKENS
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, InputError, VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.epoch_prover import prove_epoch
from zkclear.proofs.reserves import ReserveBook, VenueAsset, build_reserve_book, check_reserve_book, listed_entry
from zkclear.proving_settings import load_proving_settings
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.published import EpochFiles, PublishedEpoch
from zkclear.verifier.receipt import verify_receipt

ETH_KEY, SOL_KEY = RESERVE_KEYS
USDC_ETH = REGISTERED_TOKENS[("ethereum", "USDC")][0]
USDT_ETH = REGISTERED_TOKENS[("ethereum", "USDT")][0]
WBTC_ETH = REGISTERED_TOKENS[("ethereum", "WBTC")][0]
MINTED = parse_address("ethereum", "0x" + "5a" * 20).text
USD_BTC = (SETTLEMENT, VenueAsset("BTC", 8))


def _passes(book: ReserveBook, collateral: tuple[str, ...] = ("BTC",)) -> None:
    check_reserve_book(book, book.digest(), book.asset_totals(), collateral)


def _mismatch(book: ReserveBook, collateral: tuple[str, ...] = ("BTC",)) -> str:
    with pytest.raises(VerificationError) as caught:
        _passes(book, collateral)
    assert caught.value.reason == "reserves-mismatch"
    return caught.value.detail


def _with(book: ReserveBook, index: int, **changes) -> ReserveBook:
    entries = list(book.entries)
    entries[index] = dataclasses.replace(entries[index], **changes)
    return dataclasses.replace(book, entries=tuple(entries))


# -- a registered contract counted for another asset ----------------------------------------------------------

def test_a_registered_stablecoin_counted_as_btc_is_reported_for_a_check_by_hand():
    """Defect (fixed): the rule holds a registered contract to its decimals and a registered name to its contract,
    but not a registered contract to its name. USDT's contract (6 decimals, as registered) declared for the venue's
    BTC (8 decimals): 1 USDT (10^6 units) converts to 10^8 sat, one BTC. Every verifier accepted it (nothing in the
    list is untrue to the registry or the chain) and, the contract being registered, neither ``show`` nor ``audit``
    listed it for the auditor: the one token an auditor was never asked to look at. It is now reported, like an
    unregistered token, with the name the registry knows it by."""
    book = build_reserve_book(VENUE, USD_BTC, (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, "BTC", 10**6)),
                              tokens={("ethereum", "USD"): (USDC_ETH, None), ("ethereum", "BTC"): (USDT_ETH, None)})
    _passes(book)  # zkclear cannot know what the venue's BTC is worth in USDT: the auditor must look
    assert book.asset_totals() == (5, 10**8)
    assert book.unregistered_tokens() == ()
    assert book.renamed_tokens() == (("ethereum", "USD", USDC_ETH, 6, "USDC"), ("ethereum", "BTC", USDT_ETH, 6, "USDT"))


def test_a_registered_token_under_its_own_name_is_not_reported():
    book = build_reserve_book(VENUE, (VenueAsset("USDC", 6), VenueAsset("WBTC", 8)),
                              (entry(ETH_KEY, "USDC", 5), entry(SOL_KEY, "USDC", 5), entry(ETHER_KEY, "WBTC", 7)))
    _passes(book, ("WBTC",))
    assert book.renamed_tokens() == () and book.unregistered_tokens() == ()


def test_show_and_audit_name_a_registered_token_counted_for_another_asset(capsys):
    from zkclear.cli import _print_audit

    entry_json = {"epoch": 4, "header_hash": "ab" * 32, "chunks": 1, "leaves": 16, "upper_nodes": 30,
                  "venue": VENUE, "reserves": {}, "unregistered_tokens": [], "marks_compared": 0,
                  "renamed_tokens": [{"chain": "ethereum", "asset": "BTC", "contract": USDT_ETH, "decimals": 6,
                                      "registered_as": "USDT"}]}
    _print_audit(entry_json, 0)
    out = capsys.readouterr().out
    assert (f"check by hand: BTC on ethereum is counted from the token {USDT_ETH} with 6 decimals, the registry's "
            "USDT") in out


def test_the_json_of_show_and_audit_lists_each_renamed_token_once():
    from zkclear.cli import _renamed_tokens

    book = build_reserve_book(VENUE, USD_BTC, (entry(ETH_KEY, "BTC", 10**6), entry(ETHER_KEY, "BTC", 10**6)),
                              tokens={("ethereum", "BTC"): (USDT_ETH, None)})
    assert _renamed_tokens(book) == [{"chain": "ethereum", "asset": "BTC", "contract": USDT_ETH, "decimals": 6,
                                      "registered_as": "USDT"}]


def test_attack_a_registered_stablecoin_counted_as_btc_passes_verify_and_audit_and_only_the_report_shows_it():
    """The whole epoch: the operator owes BTC, holds none, and lists one USDT per BTC owed at an Ethereum address
    it controls, declared as BTC. Its custodian signs the true balance of the USDT contract; participants and the
    auditor accept (the registry cannot say what a venue's BTC is). ``renamed_tokens`` is what names it."""
    owed = sum(a.witness.balances[0] for a in multi_asset_accounts())
    usdt_units = -(-owed // 100)  # 10^-6 USDT units: x100 into sat
    tokens = {**TOKENS, ("ethereum", "BTC"): (USDT_ETH, None)}
    book = build_reserve_book(VENUE, USD_BTC, (entry(ETH_KEY, "USD", 600_000), entry(SOL_KEY, "USD", 400_000),
                                               entry(ETHER_KEY, "BTC", usdt_units)), tokens=tokens)
    assert book.asset_totals()[1] >= owed
    inputs = public_inputs(1, book)
    artifacts = prove_epoch(multi_asset_accounts(), MULTI_PUBLIC, book, epoch_id=1, previous=None,
                            config=multi_asset_epoch().bundle.header.tree,
                            blindings=BlindingSource.deterministic(b"usdt-as-btc-0123456789abcdefghij"),
                            chunk_system=SYSTEM, executor=SerialExecutor(), public_inputs_digest=inputs.digest())
    bundle = attested(artifacts.bundle, keys=(*RESERVE_KEYS, ETHER_KEY))
    forged = PublishedEpoch(bundle, MULTI_PUBLIC, inputs, EpochFiles(Path("."), 1))
    verify_receipt(forged, artifacts.receipts["trader-4"], "trader-4", chunk_system=SYSTEM)
    audit_epoch(forged, artifacts.audit, chunk_system=SYSTEM, executor=SerialExecutor())
    assert ("ethereum", "BTC", USDT_ETH, 6, "USDT") in bundle.reserves.renamed_tokens()


# -- one token, two assets, two chains ----------------------------------------------------------------------------

def test_attack_one_registered_token_for_two_assets_on_one_chain_is_refused():
    assets = (SETTLEMENT, VenueAsset("USDC", 6))
    book = build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, "USD", 5)), tokens=TOKENS)
    assert "is counted as USDC here and as USD" in _mismatch(_with(book, 1, asset="USDC"), ("USDC",))


def test_attack_ethereums_usdt_address_declared_on_base_is_at_most_an_unregistered_token():
    """The same address string on another EVM chain is another contract: USDT's Ethereum address as the token of
    ``USDT`` on Base (no USDT registered there), with 0 decimals — accepted as declared and reported as
    unregistered (design note in the report: the auditor is shown a familiar address)."""
    listed = dataclasses.replace(entry(ETHER_KEY, "USD", 1), chain="base")
    book = build_reserve_book(VENUE, (SETTLEMENT, VenueAsset("USDT", 6)),
                              (entry(ETH_KEY, "USD", 5), dataclasses.replace(listed, asset="USDT")),
                              tokens={**TOKENS, ("base", "USDT"): (USDT_ETH, 0)})
    _passes(book, ("USDT",))
    assert book.unregistered_tokens() == (("base", "USDT", USDT_ETH, 0),)


def test_attack_a_token_contract_that_is_a_listed_custodian_address_is_reported_as_unregistered():
    """A "token" whose contract is the address of a listed custodian (a key that signs: an EOA, not an ERC-20
    contract — unless delegated with EIP-7702) is only ever an unregistered token: the auditor is told to check it."""
    book = build_reserve_book(VENUE, (SETTLEMENT,), (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, "USD", 9)),
                              tokens={("ethereum", "USD"): (ETH_KEY.address.text, 6)})
    _passes(book, ())
    assert book.unregistered_tokens() == (("ethereum", "USD", ETH_KEY.address.text, 6),)
    registered = _with(book, 0, token=USDC_ETH)
    assert "one asset is one token on a chain" in _mismatch(registered, ())


def test_attack_the_registered_name_on_a_chain_where_it_is_not_registered_is_reported():
    """WBTC on Arbitrum is not in the registry: a contract of the operator's own under that name, with 0 decimals
    (1 unit = 1 WBTC), is accepted as declared and reported as unregistered."""
    arb = dataclasses.replace(entry(ETHER_KEY, "WBTC", 3), chain="arbitrum")
    book = build_reserve_book(VENUE, (SETTLEMENT, VenueAsset("WBTC", 8)), (entry(ETH_KEY, "USD", 5), arb),
                              tokens={**TOKENS, ("arbitrum", "WBTC"): (MINTED, 0)})
    _passes(book, ("WBTC",))
    assert book.unregistered_tokens() == (("arbitrum", "WBTC", MINTED, 0),)
    assert book.asset_totals()[1] == 3 * 10**8


# -- the reserves list's bytes ------------------------------------------------------------------------------------

def _book() -> ReserveBook:
    return build_reserve_book(VENUE, USD_BTC, (entry(ETH_KEY, "USD", 5), entry(SOL_KEY, "USD", 6),
                                               entry(BITCOIN_KEY, "BTC", 7)), tokens=TOKENS)


def _entry_offsets(book: ReserveBook) -> list[int]:
    """The offset of each entry's u8 chain decimals in ``book.to_bytes()``."""
    data, offsets, at = book.to_bytes(), [], 0
    for e in book.entries:
        tail = e.block_hash.encode() + bytes([e.decimals]) + struct.pack(">H", len(e.token)) + e.token.encode()
        at = data.index(tail, at) + len(e.block_hash)
        offsets.append(at)
    return offsets


def test_the_entry_offsets_helper_finds_each_decimals_byte():
    book = _book()
    data = book.to_bytes()
    assert [data[o] for o in _entry_offsets(book)] == [6, 6, 8]
    assert decode_reserve_book(data) == book


@pytest.mark.parametrize(("index", "decimals"), [(0, 37), (0, 255), (2, 0), (2, 9), (2, 255)])
def test_attack_decimals_out_of_range_or_not_the_native_coins_do_not_decode(index, decimals):
    book = _book()
    data = bytearray(book.to_bytes())
    data[_entry_offsets(book)[index]] = decimals
    with pytest.raises(EncodingError, match=rf"reserves entry\[{index}\]"):
        decode_reserve_book(bytes(data))


@pytest.mark.parametrize("decimals", [0, 36])
def test_attack_a_registered_token_with_other_decimals_in_the_bytes_decodes_and_is_refused_by_name(decimals):
    book = _book()
    data = bytearray(book.to_bytes())
    data[_entry_offsets(book)[0]] = decimals
    forged = decode_reserve_book(bytes(data))
    assert forged.entries[0].decimals == decimals
    detail = _mismatch(forged)
    assert ETH_KEY.address.text in detail and "contract has 6 decimals" in detail


def test_attack_a_reserves_list_of_the_old_layout_does_not_decode():
    """Version 2 of the list: no ``text token`` after the decimals (and a token's decimals were the asset's)."""
    book = _book()
    old = bytearray(book.to_bytes())
    for offset in reversed(_entry_offsets(book)):
        length = struct.unpack(">H", old[offset + 1:offset + 3])[0]
        del old[offset + 1:offset + 3 + length]
    with pytest.raises(EncodingError):
        decode_reserve_book(bytes(old))


@pytest.mark.parametrize("token", ["", "native", USDC_ETH.lower(), "0x" + "00" * 20 + "00",
                                   REGISTERED_TOKENS[("solana", "USDC")][0], "\u00e9" + USDC_ETH[1:]])
def test_attack_a_token_field_that_is_not_a_contract_of_the_entrys_chain_does_not_decode(token):
    book = _book()
    data = book.to_bytes()
    offset = _entry_offsets(book)[0] + 1
    length = struct.unpack(">H", data[offset:offset + 2])[0]
    raw = token.encode("utf-8")
    forged = data[:offset] + struct.pack(">H", len(raw)) + raw + data[offset + 2 + length:]
    with pytest.raises(EncodingError, match=r"reserves entry\[0\]"):
        decode_reserve_book(forged)


def test_attack_a_native_coin_entry_naming_a_token_does_not_decode():
    book = _book()
    data = book.to_bytes()
    offset = _entry_offsets(book)[2] + 1
    forged = data[:offset] + struct.pack(">H", len(USDC_ETH)) + USDC_ETH.encode() + data[offset + 2:]
    with pytest.raises(EncodingError, match=r"reserves entry\[2\].*native coin"):
        decode_reserve_book(forged)


@pytest.mark.parametrize("version", [4, 5, 7, 0, 0xFFFF])
def test_attack_a_container_of_another_version_is_refused(version):
    body = b"\x00" * 16
    head = struct.pack(">8s4sHQ", MAGIC, b"PUBL", version, len(body)) + body
    with pytest.raises(EncodingError, match=f"unsupported format version {version}"):
        decode_public_bundle(head + hashlib.sha256(head).digest())
    assert FORMAT_VERSION == 6


# -- zkclear show --attestation-text for a token entry -------------------------------------------------------

def test_the_attestation_text_of_a_token_entry_names_its_contract_and_decimals_and_an_address_with_two_assets():
    """What ``zkclear show --attestation-text`` prints (listed_entry + render): for an address holding USDC and ETH
    the asset must be said, and each text names its own unit."""
    book = build_reserve_book(VENUE, (VenueAsset("USDC", 6), VenueAsset("ETH", 18)),
                              (entry(ETH_KEY, "USDC", 5), entry(ETH_KEY, "ETH", 10**18)))
    with pytest.raises(InputError, match="say which with --asset"):
        listed_entry(book, ETH_KEY.address.text, option="--attestation-text")
    context = AttestationContext(VENUE, 1, bytes(32), bytes(32))
    usdc = render_attestation_text(context, listed_entry(book, ETH_KEY.address.text.lower(), asset="USDC"))
    eth = render_attestation_text(context, listed_entry(book, ETH_KEY.address.text, asset="ETH"))
    assert f"asset: USDC\ntoken: {USDC_ETH}\ndecimals: 6\n" in usdc
    assert "asset: ETH\ntoken: native\ndecimals: 18\n" in eth


# -- proving.toml [[reserves.token]] -------------------------------------------------------------------------------

def _toml(tmp_path: Path, body: str):
    path = tmp_path / "proving.toml"
    path.write_text('[reserves]\nvenue = "Acme"\n' + body, encoding="utf-8")
    return load_proving_settings(path)


@pytest.mark.parametrize("table", [
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\ndecimals = 6\nextra = 1\n',
    'chain = "ethereum"\nasset = "USD"\n',
    f'chain = "Ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\n',
    f'chain = "ethereum"\nasset = "usd"\ncontract = "{USDC_ETH}"\n',
    f'chain = "ethereum"\nasset = "USD\u00c9"\ncontract = "{USDC_ETH}"\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}\u200b"\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\ndecimals = {2**70}\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\ndecimals = -6\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\ndecimals = 6.0\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\ndecimals = true\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\ndecimals = "6"\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = ["{USDC_ETH}"]\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{"0x" + "ab" * 5000}"\n',
    f'chain = "{"x" * 10_000}"\nasset = "USD"\ncontract = "{USDC_ETH}"\n',
    f'chain = "ethereum"\nasset = "{"U" * 10_000}"\ncontract = "{USDC_ETH}"\n',
    'chain = "ethereum"\nasset = "USD"\ncontract = "' + "\\u001b[2J" * 5000 + '"\n',
    f'chain = "solana"\nasset = "USD"\ncontract = "{USDC_ETH}"\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{REGISTERED_TOKENS[("solana", "USDC")][0]}"\n',
    f'chain = "ethereum"\nasset = "USDT"\ncontract = "{USDC_ETH}"\n',
    f'chain = "ethereum"\nasset = "USD"\ncontract = "{WBTC_ETH}"\ndecimals = 6\n',
])
def test_attack_a_malformed_token_table_is_refused_by_file_and_field(tmp_path, table):
    with pytest.raises(InputError) as caught:
        _toml(tmp_path, "[[reserves.token]]\n" + table)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'proving.toml'}") and "reserves.token" in message
    # Defect (fixed): a long contract, chain or asset was echoed whole (a 10,000-character error line)
    assert "\n" not in message and "\x1b" not in message and len(message) < 600


def test_attack_the_same_chain_and_asset_declared_twice_even_with_the_same_contract_is_refused(tmp_path):
    table = f'[[reserves.token]]\nchain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\n'
    with pytest.raises(InputError, match="declared twice"):
        _toml(tmp_path, table * 2)


def test_a_token_table_may_name_a_test_network_but_its_entries_never_count(tmp_path):
    settings = _toml(tmp_path, f'[[reserves.token]]\nchain = "sepolia"\nasset = "USD"\ncontract = "{MINTED}"\n'
                               "decimals = 6\n")
    assert settings.tokens == (("sepolia", "USD", MINTED, 6),)
    faucet = dataclasses.replace(entry(ETHER_KEY, "USD", 5), chain="sepolia")
    with pytest.raises(InputError, match="test network"):
        build_reserve_book(VENUE, (SETTLEMENT,), (faucet,), tokens={("sepolia", "USD"): (MINTED, 6)})


@pytest.mark.parametrize("asset", ["USDC.", "USDC-E", "USDC_", "USDC0", "USDCE", "USD.C", "0USDC"])
def test_attack_an_asset_id_one_character_from_a_registered_name_is_no_registered_token(asset):
    """Rule 2 protects the exact name (``USDC`` on ``ethereum``); a near-miss id is the venue's own asset: a contract
    of the operator's own under it is reported as unregistered, the registered USDC under it as renamed, and both
    under two such ids are one token for two assets."""
    assets = (SETTLEMENT, VenueAsset(asset, 6))
    minted = build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, asset, 5)),
                                tokens={**TOKENS, ("ethereum", asset): (MINTED, 0)})
    _passes(minted, (asset,))
    assert minted.unregistered_tokens() == (("ethereum", asset, MINTED, 0),)
    usdc = build_reserve_book(VENUE, assets, (entry(ETHER_KEY, asset, 5),),
                              tokens={("ethereum", asset): (USDC_ETH, None)})
    _passes(usdc, (asset,))
    assert usdc.renamed_tokens() == (("ethereum", asset, USDC_ETH, 6, "USDC"),)
    with pytest.raises(InputError, match="contract has 6 decimals"):
        build_reserve_book(VENUE, assets, (entry(ETHER_KEY, asset, 5),), tokens={("ethereum", asset): (USDC_ETH, 0)})


def test_the_operators_tool_refuses_one_token_for_two_assets_by_line():
    """Defect (fixed): rule 3's "one token for one asset" was a verifier's check only: ``build_reserve_book``
    built (and ``epoch prove`` proved) a list counting USDC's contract as USD on line 2 and as USDC on line 3, which
    every participant and the auditor then refused (reserves-mismatch)."""
    assets = (SETTLEMENT, VenueAsset("USDC", 6))
    with pytest.raises(InputError) as caught:
        build_reserve_book(VENUE, assets, (entry(ETH_KEY, "USD", 5), entry(ETHER_KEY, "USDC", 5)), tokens=TOKENS,
                           path="reserves.csv")
    message = str(caught.value)
    assert message.startswith("reserves.csv:3: field 'asset'") and "USD on line 2" in message and USDC_ETH in message


def test_the_operators_tool_refuses_one_contract_declared_for_two_assets_in_proving_toml(tmp_path):
    table = '[[reserves.token]]\nchain = "ethereum"\nasset = "{asset}"\ncontract = "{contract}"\ndecimals = 6\n'
    with pytest.raises(InputError, match="one token counts for one asset"):
        _toml(tmp_path, table.format(asset="USD", contract=MINTED) + table.format(asset="EUR", contract=MINTED))
    settings = _toml(tmp_path, table.format(asset="USD", contract=MINTED)
                     + table.format(asset="USD", contract=MINTED).replace("ethereum", "base"))
    assert len(settings.tokens) == 2  # the same address on two chains: two contracts


@pytest.mark.parametrize("body", ['token = ["ethereum"]\n', "token = [[]]\n", "token = 7\n",
                                  f'[reserves.token]\nchain = "ethereum"\nasset = "USD"\ncontract = "{USDC_ETH}"\n',
                                  "token = [" + "[" * 5000 + "]" * 5000 + "]\n"])
def test_attack_reserves_token_that_is_not_an_array_of_tables_is_refused_in_one_line(tmp_path, body):
    with pytest.raises(InputError) as caught:
        _toml(tmp_path, body)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'proving.toml'}") and "\n" not in message and len(message) < 600
