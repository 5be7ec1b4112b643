"""A multi-asset deployment (USDC-settled, BTC and ETH collateral; reserves on Bitcoin, Ethereum and Solana attested
with each chain's own signatures) proven by `epoch prove`'s streaming close writes, file for file, what the in-memory
close and ``Deployment.publish`` write; `zkclear audit` (streaming) passes it and reports every asset, and its
``--json`` output carries no progress."""

from __future__ import annotations

import json
import subprocess

from tests.scale.venue import ZKCLEAR, env, make_venue, snapshot
from zkclear.bundle.format import decode_public_bundle, decode_total_opening, read_file
from zkclear.chains import attest_reserves
from zkclear.crypto.randomness import BlindingSource
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
