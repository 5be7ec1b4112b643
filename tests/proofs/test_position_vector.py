"""The position vector of a chunk and its equality proof: the honest path, py-ecc as the reference for the
commitment, and the attacks (tampered bytes, out-of-range scalars, points outside G1, another context, another
chunk's proof, a vector over other values) — alone and end to end through the participant's check, the audit,
the streaming audit and the crowd audit."""

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from py_ecc.optimized_bls12_381 import add, multiply, normalize
from py_ecc.optimized_bls12_381 import curve_order as py_ecc_order

from tests.proofs.epoch_fixtures import SYSTEM, honest_epoch, published
from zkclear.bundle.format import encode_audit_data, write_file
from zkclear.crypto.field import R, scalar_to_bytes
from zkclear.crypto.generators import pedersen_generators
from zkclear.crypto.group import G1Point
from zkclear.crypto.pedersen import commit, commit_vector
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.position_vector import (
    PositionVectorProof,
    position_generators,
    proof_size,
    prove_position_vector,
    verify_position_vector,
)
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.audit_stream import audit_file
from zkclear.verifier.published import EpochFiles, PublishedEpoch
from zkclear.verifier.receipt import crowd_audit, verify_receipt

SOURCE = BlindingSource.deterministic(b"position-vector-test-secret-0123")
TOTALS = (5, -3, 0, 7, -(1 << 62))
CONTEXT = b"chunk context for the test"


def _statement(totals=TOTALS, label="sums"):
    blindings = SOURCE.scalars(len(totals), label)
    return [commit(x, s) for x, s in zip(totals, blindings, strict=True)], blindings


def _proof(totals=TOTALS, context=CONTEXT, claimed=None, rho=None):
    """An honest prover's proof over position sums committing to ``totals``; with ``claimed``, a prover that builds
    its vector over other values (and runs the honest algorithm on them)."""
    sums, blindings = _statement(totals)
    rho = SOURCE.scalar("rho") if rho is None else rho
    values = totals if claimed is None else claimed
    return sums, prove_position_vector(context, sums, values, blindings, rho, SOURCE.nonces(context, *values, rho))


def test_an_honest_proof_verifies_and_reproves_to_the_same_bytes():
    sums, proof = _proof()
    assert verify_position_vector(CONTEXT, sums, proof)
    assert _proof()[1].to_bytes() == proof.to_bytes()
    assert len(proof.to_bytes()) == proof_size(len(TOTALS)) == 144 + 32 * (len(TOTALS) + 2)
    assert PositionVectorProof.from_bytes(proof.to_bytes(), len(TOTALS)) == proof


def test_the_vector_is_the_reference_commitment_computed_with_py_ecc():
    """V = Σ X_j·G_j + ρ·H, recomputed with py-ecc's own group arithmetic (negative values mod r)."""
    _, proof = _proof()
    rho = SOURCE.scalar("rho")
    from py_ecc.optimized_bls12_381 import FQ

    def to_py_ecc(point):
        x, y = point.affine()
        return (FQ(x), FQ(y), FQ(1))

    gens = [to_py_ecc(g) for g in position_generators(len(TOTALS))]
    h = to_py_ecc(pedersen_generators()[1])
    total = multiply(h, rho % py_ecc_order)
    for g, x in zip(gens, TOTALS, strict=True):
        total = add(total, multiply(g, x % py_ecc_order))
    x, y = normalize(total)
    assert proof.vector.affine() == (int(x), int(y))
    assert py_ecc_order == R


def test_a_vector_over_other_values_does_not_verify():
    for claimed in ((5, -3, 0, 7, -(1 << 62) + 1), (5, -3, 1, 7, -(1 << 62)), (0, 0, 0, 0, 0),
                    (-3, 5, 0, 7, -(1 << 62))):  # one lot off, a new position, all flat, two instruments swapped
        sums, proof = _proof(claimed=claimed)
        assert not verify_position_vector(CONTEXT, sums, proof)


def test_a_vector_moved_by_a_generator_or_another_context_or_other_sums_does_not_verify():
    sums, proof = _proof()
    gens = position_generators(len(TOTALS))
    assert not verify_position_vector(CONTEXT, sums, replace(proof, vector=proof.vector + gens[0]))
    assert not verify_position_vector(CONTEXT, sums, replace(proof, vector=proof.vector + pedersen_generators()[1]))
    assert not verify_position_vector(CONTEXT + b"!", sums, proof)  # another chunk or epoch: another context
    assert not verify_position_vector(CONTEXT, sums[::-1], proof)  # instruments reordered
    assert not verify_position_vector(CONTEXT, [sums[0] + commit(1, 0), *sums[1:]], proof)
    assert not verify_position_vector(CONTEXT, sums[:-1], proof)  # one instrument fewer
    other_sums, other = _proof(totals=(1, 2, 3, 4, 5))
    assert verify_position_vector(CONTEXT, other_sums, other)
    assert not verify_position_vector(CONTEXT, sums, other)  # another chunk's proof (replay)


def test_every_field_tampered_fails_to_decode_or_to_verify():
    sums, proof = _proof()
    data = proof.to_bytes()
    for offset in [*range(0, 144, 7), *range(144, len(data), 13), len(data) - 1]:
        tampered = bytearray(data)
        tampered[offset] ^= 0x01
        try:
            decoded = PositionVectorProof.from_bytes(bytes(tampered), len(TOTALS))
        except EncodingError:
            continue
        assert not verify_position_vector(CONTEXT, sums, decoded), offset


def test_scalars_at_or_above_r_and_wrong_lengths_are_refused_by_the_decoder():
    _, proof = _proof()
    data = proof.to_bytes()
    for k in range(len(TOTALS) + 2):  # w, u, z_0..z_{n-1}: each + r (the same value mod r) is not canonical
        at = 144 + 32 * k
        value = int.from_bytes(data[at:at + 32], "big") + R
        if value >= 1 << 256:
            continue
        wrapped = data[:at] + value.to_bytes(32, "big") + data[at + 32:]
        with pytest.raises(EncodingError, match="non-canonical scalar"):
            PositionVectorProof.from_bytes(wrapped, len(TOTALS))
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(EncodingError, match="position vector proof"):
            PositionVectorProof.from_bytes(bad, len(TOTALS))
    with pytest.raises(EncodingError):
        PositionVectorProof.from_bytes(data, len(TOTALS) + 1)  # read as one more instrument


def test_points_outside_the_subgroup_or_off_the_curve_are_refused_by_the_decoder():
    _, proof = _proof()
    data = proof.to_bytes()
    # the first small x whose point is on the curve y^2 = x^3 + 4 (almost every point of E(Fp) is outside the
    # prime-order subgroup)
    from zkclear.crypto.field import P
    from zkclear.crypto.group import encode_affine

    for x in range(1, 200):
        rhs = (x ** 3 + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            off_subgroup = encode_affine((x, y))
            break
    with pytest.raises(EncodingError, match="subgroup"):
        G1Point.from_bytes(off_subgroup)
    for at in (0, 48, 96):  # V, A, B
        with pytest.raises(EncodingError):
            PositionVectorProof.from_bytes(data[:at] + off_subgroup + data[at + 48:], len(TOTALS))
        uncompressed_flag = bytes([data[at] & 0x7F]) + data[at + 1:at + 48]
        with pytest.raises(EncodingError):
            PositionVectorProof.from_bytes(data[:at] + uncompressed_flag + data[at + 48:], len(TOTALS))


def test_the_responses_of_another_challenge_do_not_verify():
    """Special soundness the other way round: responses for one challenge with A and B of another transcript."""
    sums, proof = _proof()
    _, other = _proof(rho=SOURCE.scalar("another rho"))
    assert not verify_position_vector(CONTEXT, sums, replace(proof, a=other.a))
    assert not verify_position_vector(CONTEXT, sums, replace(proof, b=other.b))
    assert not verify_position_vector(CONTEXT, sums, replace(proof, z=(*proof.z[:-1], (proof.z[-1] + 1) % R)))
    assert not verify_position_vector(CONTEXT, sums, replace(proof, w=(proof.w + 1) % R))
    assert not verify_position_vector(CONTEXT, sums, replace(proof, u=(proof.u + 1) % R))


def test_the_vector_hides_the_totals():
    """Two chunks with the same totals have unrelated vectors (different blindings): V reveals nothing by itself."""
    _, first = _proof(rho=11)
    _, second = _proof(rho=12)
    assert first.vector != second.vector
    assert first.vector - second.vector == commit_vector([0] * len(TOTALS), R - 1, position_generators(len(TOTALS)))


# -- end to end: a chunk whose vector leaves an account's positions out ------------------------------------------------


def _forged_chunk(epoch, chunk):
    header = epoch.bundle.header
    sums = [commit(0, 0) * 0] * header.instrument_count
    for account in chunk.accounts:
        sums = [s + p for s, p in zip(sums, SYSTEM.position_commitments(account), strict=True)]
    context = header.context(b"collateral-chunk", chunk.position)
    claimed = [0] * header.instrument_count  # "this chunk is flat"
    proof = prove_position_vector(context, sums, claimed, [0] * len(claimed), 7, SOURCE.nonces(context, 7))
    return replace(chunk, positions_proof=proof.to_bytes())


def _with_chunk(audit, number, chunk):
    return replace(audit, chunks=tuple(chunk if k == number else c for k, c in enumerate(audit.chunks)))


def _all_verifiers_name(epoch, audit, receipt, reason):
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(epoch), receipt, receipt.account_id, chunk_system=SYSTEM)
    assert caught.value.reason == reason
    with pytest.raises(VerificationError) as caught:
        audit_epoch(published(epoch), audit, chunk_system=SYSTEM, executor=SerialExecutor())
    assert caught.value.reason == reason
    with pytest.raises(VerificationError) as caught:
        crowd_audit(published(epoch), audit, len(audit.chunks), chunk_system=SYSTEM)
    assert caught.value.reason == reason
    with tempfile.TemporaryDirectory() as folder:
        files = EpochFiles(Path(folder), epoch.bundle.header.epoch_id)
        write_file(files.audit, encode_audit_data(audit, SYSTEM))
        base = published(epoch)
        with pytest.raises(VerificationError) as caught:
            audit_file(PublishedEpoch(base.bundle, base.public, base.inputs, files), chunk_system=SYSTEM,
                       executor=SerialExecutor(), group_chunks=1)
        assert caught.value.reason == reason


@pytest.mark.parametrize("attack", ["flat-vector", "other-chunk", "truncated", "empty"])
def test_a_chunk_vector_that_is_not_its_accounts_positions_is_named_by_every_verifier(attack):
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    receipt = next(r for r in epoch.artifacts.receipts.values() if r.chunk.position == audit.chunks[0].position)
    chunk = audit.chunks[0]
    if attack == "flat-vector":
        bad = _forged_chunk(epoch, chunk)
    elif attack == "other-chunk":
        assert len(audit.chunks) > 1
        bad = replace(chunk, positions_proof=audit.chunks[1].positions_proof)
    elif attack == "truncated":
        bad = replace(chunk, positions_proof=chunk.positions_proof[:-1])
    else:
        bad = replace(chunk, positions_proof=b"")
    _all_verifiers_name(epoch, _with_chunk(audit, 0, bad), replace(receipt, chunk=bad), "chunk-position-vector")


def test_an_honest_epoch_still_passes_every_verifier_and_its_upper_nodes_carry_one_position_point():
    epoch = honest_epoch()
    for node in epoch.artifacts.audit.upper_nodes.values():
        assert node.positions is not None and len(node.positions) == 1
    assert len(epoch.bundle.matched_book) == 1
    for receipt in epoch.artifacts.receipts.values():
        verify_receipt(published(epoch), receipt, receipt.account_id, chunk_system=SYSTEM)
    audit_epoch(published(epoch), epoch.artifacts.audit, chunk_system=SYSTEM, executor=SerialExecutor())
    assert scalar_to_bytes(epoch.bundle.matched_book[0])  # a scalar below r
