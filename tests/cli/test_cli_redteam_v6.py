"""Red team, session 11, through the real CLI, on the position vector (container version 6): a chunk whose vector
claims a flat book, in the audit file (`zkclear audit`, `zkclear verify --crowd-audit`) and in a participant's receipt
(`zkclear verify`); the first failing chunk named by the streaming audit. Each test asserts the exit status and the
check's name (exit 3, an internal error, would be a defect)."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

from tests.cli.cli_helpers import zkclear
from zkclear.bundle.format import decode_receipt, encode_audit_data, encode_receipt
from zkclear.crypto.randomness import BlindingSource
from zkclear.proofs.position_vector import prove_position_vector
from zkclear.tree.sum_tree import sum_points
from zkclear.verifier.published import CHUNK_SYSTEM, open_published


def _folder_copy(deployment, epoch: int, tmp_path: Path) -> Path:
    target = tmp_path / str(epoch)
    shutil.copytree(deployment.epoch_dir(epoch), target)
    return target


def _flat(published, chunk):
    """``chunk`` with a position vector for the zero vector ("this chunk is flat") and the honest prover's proof
    over those values: what an operator leaving the chunk's positions out of the matched book would publish."""
    header = published.bundle.header
    n = header.instrument_count
    sums = sum_points([CHUNK_SYSTEM.position_commitments(a) for a in chunk.accounts], n)
    context = header.context(b"collateral-chunk", chunk.position)
    source = BlindingSource.deterministic(b"red team v6 operator secret 0123")
    proof = prove_position_vector(context, sums, [0] * n, [0] * n, 5, source.nonces(context, b"flat"))
    return replace(chunk, positions_proof=proof.to_bytes())


def _trader(deployment, epoch: int):
    return next(a for a in deployment.accounts(epoch) if a.account_id.startswith("trader-"))


def test_a_flat_vector_in_the_audit_file_is_named_by_the_audit_and_the_crowd_audit(proven, tmp_path):
    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 3, tmp_path)
    published = open_published(folder)
    audit = published.audit_data()
    chunks = list(audit.chunks)
    chunks[0] = _flat(published, chunks[0])
    published.files.audit.write_bytes(encode_audit_data(replace(audit, chunks=tuple(chunks)), CHUNK_SYSTEM))
    failure = json.loads(zkclear("audit", folder, "--json", expect=2))
    assert (failure["ok"], failure["reason"], failure["epoch"]) == (False, "chunk-position-vector", 3)
    assert "FAILED [chunk-position-vector]" in zkclear("audit", folder, expect=2)
    account = _trader(deployment, 3)
    args = ["verify", folder, "--receipt", deployment.receipt_path(3, account.account_id),
            "--participant", deployment.participant_path(account.account_id), "--crowd-audit", len(chunks)]
    out = zkclear(*args, "--json", expect=2).strip().splitlines()[-1]  # every chunk sampled (the shape test: one)
    assert json.loads(out)["reason"] == "chunk-position-vector"


def test_a_receipt_whose_chunk_claims_a_flat_book_is_refused_by_the_participant(proven, tmp_path):
    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 2, tmp_path)
    published = open_published(folder)
    account = _trader(deployment, 2)
    source = deployment.receipt_path(2, account.account_id)
    data = Path(source).read_bytes()
    header = published.bundle.header
    receipt = decode_receipt(data, published.public, CHUNK_SYSTEM, chunk_size=header.tree.chunk_size)
    forged = tmp_path / "forged.receipt"
    forged.write_bytes(encode_receipt(replace(receipt, chunk=_flat(published, receipt.chunk)), CHUNK_SYSTEM))
    participant = deployment.participant_path(account.account_id)
    assert zkclear("verify", folder, "--receipt", source, "--participant", participant).count("FAILED") == 0
    out = zkclear("verify", folder, "--receipt", forged, "--participant", participant, "--json",
                  expect=2).strip().splitlines()[-1]
    assert json.loads(out)["reason"] == "chunk-position-vector"
    # another epoch's chunk vector and proof (bound to that epoch's header and chunk position) in this receipt
    other = decode_receipt(Path(deployment.receipt_path(1, account.account_id)).read_bytes(),
                           open_published(deployment.epoch_dir(1)).public, CHUNK_SYSTEM,
                           chunk_size=header.tree.chunk_size)
    moved = tmp_path / "moved.receipt"
    moved.write_bytes(encode_receipt(replace(receipt, chunk=replace(
        receipt.chunk, positions_proof=other.chunk.positions_proof)), CHUNK_SYSTEM))
    out = zkclear("verify", folder, "--receipt", moved, "--participant",
                  deployment.participant_path(account.account_id), "--json", expect=2).strip().splitlines()[-1]
    assert json.loads(out)["reason"] == "chunk-position-vector"
    assert hashlib.sha256(Path(source).read_bytes()).digest() == hashlib.sha256(data).digest()


def test_the_deployment_has_the_shape_these_attacks_need(proven):
    """One chunk: the crowd audit of every chunk samples the forged one. The streaming audit's order of chunks is
    tested on epochs of several chunks in tests/proofs/test_position_vector_redteam.py."""
    deployment = proven["deployment"]
    assert len(open_published(deployment.epoch_dir(3)).audit_data().chunks) == 1
