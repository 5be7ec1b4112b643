"""A multi-asset deployment (USDC-settled, BTC and ETH collateral; reserves on Bitcoin, Ethereum and Solana attested
with each chain's own signatures) proven by `epoch prove`'s streaming close writes, file for file, what the in-memory
close and ``Deployment.publish`` write; `zkclear audit` (streaming) passes it and reports every asset, and its
``--json`` output carries no progress."""

from __future__ import annotations

import json
import subprocess

from tests.scale.venue import ZKCLEAR, env, make_venue, snapshot
from zkclear.bundle.format import decode_public_bundle, decode_total_opening, read_file
from zkclear.chains import attest_reserves, sign_attestation_text, write_key
from zkclear.crypto.randomness import BlindingSource
from zkclear.demo import custodians, demo_reserves_csv
from zkclear.executor import ProcessExecutor, SerialExecutor
from zkclear.operator import Deployment
from zkclear.proofs.epoch_prover import prove_epoch
from zkclear.verifier.published import CHUNK_SYSTEM


def _in_memory(deployment: Deployment, entries, keys) -> None:
    """The path before the streaming close: ``prove_epoch`` over every account at once, then ``publish``."""
    book = deployment.reserve_book(entries)
    inputs = deployment.public_inputs(1)
    public = deployment.public_data(1, inputs)
    artifacts = prove_epoch(deployment.accounts(1), public, book, epoch_id=1, previous=None,
                            config=deployment.proving.tree, blindings=BlindingSource.deterministic(deployment._secret),
                            chunk_system=CHUNK_SYSTEM, executor=SerialExecutor(), public_inputs_digest=inputs.digest())
    attestations: list = []
    for key in keys:
        attestations += attest_reserves(key, artifacts.bundle.attestation_context(), book.entries, attestations)
    artifacts.bundle = artifacts.bundle.with_attestations(tuple(attestations))
    deployment.publish(1, artifacts, public, inputs)


def test_a_multi_asset_close_streams_the_in_memory_bytes_and_audits(tmp_path):
    venue = make_venue(tmp_path / "make", collateral=True)
    streamed = Deployment(venue.copy(tmp_path / "streamed"))
    with ProcessExecutor(workers=2) as run:
        streamed.prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(), executor=run)
    in_memory = Deployment(venue.copy(tmp_path / "in-memory"))
    _in_memory(in_memory, venue.reserve_entries(), venue.reserve_keys())
    files = snapshot(streamed.root)
    assert files == snapshot(in_memory.root)

    folder = streamed.root / "epochs" / "1"
    bundle = decode_public_bundle(read_file(folder / "epoch-1.bundle"))
    assert bundle.header.asset_count == 3 and bundle.reserves.asset_ids == ("USDC", "BTC", "ETH")
    assert {a.chain for a in bundle.attestations} == {"bitcoin", "ethereum", "solana"}
    assert len(bundle.attestations) == len(bundle.reserves.entries) == 4
    total_file = streamed.private_dir(1) / "epoch-1.total"
    _, openings = decode_total_opening(read_file(total_file))
    assert len(openings) == 3 and openings[1][0] > 0 and openings[2][0] > 0  # BTC and ETH are owed

    result = subprocess.run([*ZKCLEAR, "audit", str(folder), "--total", str(total_file), "--json", "--progress"],
                            capture_output=True, text=True, env=env(), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # --json: never any progress
    report = json.loads(result.stdout)
    assert report["ok"] is True and set(report["reserves"]) == {"USDC", "BTC", "ETH"}
    assert [report["reserves"][a]["total_liabilities"] for a in ("USDC", "BTC", "ETH")] == [o[0] for o in openings]
    progress = subprocess.run([*ZKCLEAR, "audit", str(folder), "--progress"], capture_output=True, text=True,
                              env=env(), timeout=600)
    assert progress.returncode == 0, progress.stdout + progress.stderr
    assert "chunks (collateralization proofs):" in progress.stderr and "ETA" not in progress.stdout


def _cli(*args, expect: int = 0) -> str:
    result = subprocess.run([*ZKCLEAR, *map(str, args)], capture_output=True, text=True, env=env(), timeout=600)
    assert result.returncode == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def test_one_address_holding_eth_and_usdc_attests_each_asset_and_audits(tmp_path):
    # A custodian keeps ETH and USDC on one Ethereum address (the common case for a token): two reserve entries, one
    # attestation text per asset; the CLI asks which asset when an address alone does not say.
    venue = make_venue(tmp_path / "make", collateral=True)
    keys, holders = custodians()
    eth_key = next(key for key, (_, asset, _) in zip(keys, holders, strict=True) if asset == "ETH")
    address = eth_key.address.text
    shared = [(c, a, address if (c, a) == ("ethereum", "USDC") else held) for c, a, held in holders]
    deployment = Deployment(venue.copy(tmp_path / "venue"))
    reserves = tmp_path / "reserves.csv"
    reserves.write_text(demo_reserves_csv(deployment, 1, shared))
    signers = [arg for path in venue.keys if "ethereum" not in path.name for arg in ("--sign-with", path)]
    out = _cli("epoch", "prove", "-d", deployment.root, "--reserves", reserves, *signers)
    assert "reserves: 2 of 4 entries signed" in out
    folder = deployment.epoch_dir(1)
    out = _cli("show", folder, "--attestation-text", address, expect=1)
    assert f"address {address} is listed on ethereum for ETH, USDC: say which with --asset" in out
    assert out.count("\n") == 1
    text = _cli("show", folder, "--attestation-text", address, "--asset", "USDC")
    assert "\nasset: USDC\n" in text
    signature = sign_attestation_text(eth_key, text.removesuffix("\n")).signature  # the custodian's wallet
    out = _cli("epoch", "attest", "-d", deployment.root, "--epoch", 1, "--address", address, "--signature",
               signature, expect=1)
    assert "say which with --asset" in out
    out = _cli("epoch", "attest", "-d", deployment.root, "--epoch", 1, "--address", address, "--signature",
               signature, "--asset", "USDC")
    assert "(3 of 4 reserve entries signed)" in out
    # the ETH entry's signature for the USDC entry: refused, never counted for USDC
    out = _cli("epoch", "attest", "-d", deployment.root, "--epoch", 1, "--address", address, "--signature",
               signature, "--asset", "ETH", expect=2)
    assert "[attestation-" in out
    key_file = tmp_path / "eth.key"
    write_key(key_file, eth_key)
    out = _cli("epoch", "attest", "-d", deployment.root, "--epoch", 1, "--key", key_file)
    assert "(4 of 4 reserve entries signed)" in out  # signs the ETH entry, the one still missing
    out = _cli("epoch", "attest", "-d", deployment.root, "--epoch", 1, "--key", key_file, expect=1)
    assert "already attested" in out and "ETH on ethereum, USDC on ethereum" in out
    bundle = decode_public_bundle(read_file(folder / "epoch-1.bundle"))
    assert sorted(a.key[2] for a in bundle.attestations if a.address == address) == ["ETH", "USDC"]
    out = _cli("audit", folder)
    assert "epoch 1: OK" in out
