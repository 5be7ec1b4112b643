"""Reserves across chains through the CLI (issue 13, items 4-6): custodians' chain keys, refusals by address before
any proving, wallet signatures added by the operator, and what participants and auditors see per asset and chain.

The deployment (tests/cli/conftest.py) holds its settlement asset USDC at an Ethereum and a Solana address."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.cli_helpers import zkclear
from tests.cli.conftest import KEYS, VENUE, holders
from zkclear.bundle.format import decode_public_bundle, encode_public_bundle, read_file, write_file
from zkclear.chains import key_from_secret, sign_attestation_text, write_key
from zkclear.chains.tokens import REGISTERED_TOKENS
from zkclear.operator import Deployment
from zkclear.synthetic import reserves_csv
from zkclear.verifier.published import open_published


def _copy(proven, tmp_path: Path) -> Deployment:
    target = tmp_path / "copy"
    shutil.copytree(proven["dir"], target)
    return Deployment(target)


def _snapshot(deployment: Deployment, epoch: int) -> dict[str, bytes]:
    folders = (deployment.epoch_dir(epoch), deployment.private_dir(epoch))
    return {str(p): p.read_bytes() for folder in folders for p in folder.rglob("*") if p.is_file()}


def _reserves(proven, epoch: int) -> Path:
    return proven["dir"].parent / f"reserves-{epoch}.csv"


def test_a_signing_key_that_controls_no_listed_address_is_refused_by_address_before_proving(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    stranger = key_from_secret("bitcoin", bytes([0x66]) * 32)
    path = tmp_path / "stranger.key"
    write_key(path, stranger)
    before = _snapshot(deployment, 3)
    out = zkclear("epoch", "prove", "-d", deployment.root, "--epoch", 3, "--reserves", _reserves(proven, 3),
                  "--sign-with", path, expect=1, capsys=capsys)
    assert f"key for {stranger.address.text} (bitcoin) controls no listed reserve address" in out
    assert "proving epoch" not in out and _snapshot(deployment, 3) == before


def test_a_duplicate_signature_is_refused_at_signing_time(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    key = proven["dir"].parent / "custodian-0.key"
    before = _snapshot(deployment, 3)
    out = zkclear("epoch", "prove", "-d", deployment.root, "--epoch", 3, "--reserves", _reserves(proven, 3),
                  "--sign-with", key, "--sign-with", key, expect=1, capsys=capsys)
    assert f"address {KEYS[0].address.text} on ethereum would be signed twice" in out and "duplicate" in out
    assert _snapshot(deployment, 3) == before
    out = zkclear("epoch", "attest", "-d", deployment.root, "--epoch", 3, "--key", key, expect=1, capsys=capsys)
    assert KEYS[0].address.text in out and "duplicate signature" in out and out.count("\n") == 1
    assert _snapshot(deployment, 3) == before


def test_reserves_that_cannot_cover_an_asset_are_refused_before_any_proving(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    short = tmp_path / "reserves.csv"
    short.write_text(reserves_csv(holders(), {"USDC": 1_000}))
    before = _snapshot(deployment, 3)
    out = zkclear("epoch", "prove", "-d", deployment.root, "--epoch", 3, "--reserves", short, expect=1,
                  capsys=capsys)
    assert "the reserves of USDC (1000 smallest units) do not cover the liabilities in USDC" in out
    assert "Traceback" not in out and _snapshot(deployment, 3) == before


def test_reserves_of_an_asset_the_venue_does_not_have_are_refused_by_line(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    bitcoin = key_from_secret("bitcoin", bytes([0x67]) * 32)
    text = reserves_csv([*holders(), ("bitcoin", "BTC", bitcoin.address.text)], {"USDC": 10**15, "BTC": 10**8})
    path = tmp_path / "reserves.csv"
    path.write_text(text)
    out = zkclear("epoch", "prove", "-d", deployment.root, "--epoch", 3, "--reserves", path, expect=1, capsys=capsys)
    assert "reserves.csv:4: field 'asset': BTC is not an asset of this venue (USDC)" in out


def test_proving_needs_the_venues_public_name(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    toml = deployment.root / "proving.toml"
    toml.write_text(toml.read_text().replace(f'venue = "{VENUE}"', '# venue = "unset"'))
    out = zkclear("epoch", "prove", "-d", deployment.root, "--epoch", 3, "--reserves", _reserves(proven, 3),
                  expect=1, capsys=capsys)
    assert "proving.toml: field 'reserves.venue': required to prove" in out


def test_a_custodian_signs_the_printed_text_with_its_own_wallet_and_the_operator_adds_it(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    path = deployment.bundle_path(3)
    bundle = decode_public_bundle(read_file(path))
    solana = KEYS[1]
    write_file(path, encode_public_bundle(bundle.with_attestations(
        tuple(a for a in bundle.attestations if a.chain != "solana"))))
    text = zkclear("show", deployment.epoch_dir(3), "--attestation-text", solana.address.text, capsys=capsys)
    assert f"venue: {VENUE}\nepoch: 3\n" in text and f"address: {solana.address.text}\n" in text
    signature = sign_attestation_text(solana, text.removesuffix("\n")).signature  # the wallet's part
    wrong = sign_attestation_text(solana, text.removesuffix("\n").replace("epoch: 3", "epoch: 2")).signature
    out = zkclear("epoch", "attest", "-d", deployment.root, "--epoch", 3, "--address", solana.address.text,
                  "--signature", wrong, expect=2, capsys=capsys)
    assert "[attestation-wrong-signer]" in out or "[attestation-replayed-epoch]" in out
    for malformed in ("zz", signature[:-4], signature + "A"):  # not a signature at all: bad input (exit 1)
        out = zkclear("epoch", "attest", "-d", deployment.root, "--epoch", 3, "--address", solana.address.text,
                      "--signature", malformed, expect=1, capsys=capsys)
        assert "--signature" in out and solana.address.text in out and out.count("\n") == 1
    out = zkclear("epoch", "attest", "-d", deployment.root, "--epoch", 3, "--address", solana.address.text,
                  "--signature", signature, capsys=capsys)
    assert "(2 of 2 reserve entries signed)" in out
    out = zkclear("audit", deployment.epoch_dir(3), capsys=capsys)
    assert "epoch 3: OK" in out


def test_audit_and_verify_name_a_replayed_chain_signature(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    path = deployment.bundle_path(3)
    bundle = decode_public_bundle(read_file(path))
    older = decode_public_bundle(read_file(deployment.bundle_path(2)))
    replayed = tuple(next(o for o in older.attestations if o.key == a.key) if a.chain == "ethereum" else a
                     for a in bundle.attestations)
    write_file(path, encode_public_bundle(bundle.with_attestations(replayed)))
    out = zkclear("audit", deployment.epoch_dir(3), expect=2, capsys=capsys)
    assert "[attestation-replayed-epoch]" in out and KEYS[0].address.text in out
    trader = next(a for a in deployment.accounts(3) if a.account_id.startswith("trader-"))
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", deployment.receipt_path(3, trader.account_id),
                  "--account", trader.account_id, "--json", expect=2, capsys=capsys)
    assert json.loads(out)["reason"] == "attestation-replayed-epoch"


def test_participant_auditor_and_show_views_name_assets_and_chains(proven, capsys):
    deployment = proven["deployment"]
    summary = json.loads(zkclear("show", deployment.epoch_dir(3), "--json", capsys=capsys))
    assert summary["venue"] == VENUE and summary["chains"] == ["ethereum", "solana"]
    assert [a["asset"] for a in summary["assets"]] == ["USDC"] and summary["collateral_assets"] == []
    out = zkclear("show", deployment.epoch_dir(3), capsys=capsys)
    assert "USDC (6 decimals, reserves" in out
    report = json.loads(zkclear("audit", deployment.epoch_dir(3), "--json", capsys=capsys))
    assert set(report["reserves"]["USDC"]["by_chain"]) == {"ethereum", "solana"}
    out = zkclear("audit", deployment.epoch_dir(3), capsys=capsys)
    assert "USDC" in out and "ethereum" in out and "solana" in out
    trader = next(a for a in deployment.accounts(3) if a.account_id.startswith("trader-"))
    view = json.loads(zkclear("verify", deployment.epoch_dir(3), "--receipt",
                              deployment.receipt_path(3, trader.account_id), "--account", trader.account_id, "--json",
                              capsys=capsys))["epochs"][0]
    assert view["collateral"] == {} and list(view["liabilities"]) == ["USDC"]
    assert view["liabilities"]["USDC"] == view["liability"] == view["equity"]


def test_show_lists_every_reserve_entry_with_its_token_and_the_decimals_it_is_converted_with(proven, capsys):
    """Every entry's unit is public (protocol, "Tokens held as reserves"): the token's contract and its decimals,
    with the raw balance and the block to check on the chain; the demo's USDC is the registered contract on
    Ethereum and Solana, so no token is left to check by hand."""
    deployment = proven["deployment"]
    book = open_published(deployment.epoch_dir(3)).bundle.reserves
    summary = json.loads(zkclear("show", deployment.epoch_dir(3), "--json", capsys=capsys))
    assert summary["reserve_entries"] == [
        {"chain": e.chain, "asset": e.asset, "address": e.address, "balance": e.balance, "token": e.token_label,
         "chain_decimals": e.decimals, "block_height": e.block_height, "block_hash": e.block_hash}
        for e in book.entries]
    assert {e["token"] for e in summary["reserve_entries"]} == {
        REGISTERED_TOKENS[("ethereum", "USDC")][0], REGISTERED_TOKENS[("solana", "USDC")][0]}
    assert summary["unregistered_tokens"] == []
    out = zkclear("show", deployment.epoch_dir(3), capsys=capsys)
    entry = book.entries[0]
    assert (f"{entry.chain}:{entry.asset}:{entry.address} balance {entry.balance} (6 decimals on {entry.chain}, "
            f"token {entry.token})") in out
    solana = next(e for e in book.entries if e.chain == "solana")  # Solana's height is a slot, named as such
    assert f"(6 decimals on solana, token {solana.token}) at slot {solana.block_height} {solana.block_hash}" in out
    assert "unregistered_tokens: none (every token is a registered contract)" in out


def test_show_attestation_text_of_a_long_bogus_address_echoes_it_cut_short_and_escaped(proven, capsys):
    # the whole argument was echoed back: a megabyte error line, and a terminal escape or a line break of the
    # argument printed as it was (a second, forged line)
    bogus = "0x" + "ab" * 500_000 + "\x1b[2J\nerror: forged second line"
    out = zkclear("show", proven["deployment"].epoch_dir(3), "--attestation-text", bogus, expect=1, capsys=capsys)
    assert out.startswith("error: field '--attestation-text': address '0xabab")
    assert "is not a listed reserve address" in out
    assert out.count("\n") == 1 and len(out) < 300 and "\x1b" not in out and "forged" not in out
    out = zkclear("show", proven["deployment"].epoch_dir(3), "--attestation-text", KEYS[0].address.text,
                  "--chain", "solana\x1b[2J" + "x" * 10_000, expect=1, capsys=capsys)
    assert out.count("\n") == 1 and len(out) < 300 and "\x1b" not in out and "on 'solana\\x1b[2J" in out
