"""Soundness: forged, tampered, replayed and malformed range proofs are rejected.

A "malicious prover" here drives the protocol steps directly (``range_proof._prove`` with the
witness check off), so the proof for an out-of-range value really is emitted and it is the
verifier that must reject it.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provers.bulletproofs import (
    RangeProof,
    RangeStatement,
    batch_verify,
    encoded_size,
    prove_range,
    verify_range,
)
from provers.bulletproofs.range_proof import _prove, range_proof_transcript
from zkclear.crypto.field import P, R, fr_random, scalar_to_bytes
from zkclear.crypto.group import G1Point, encode_affine
from zkclear.crypto.pedersen import commit
from zkclear.errors import EncodingError, VerificationError

CONTEXT = b"epoch=7/kind=solvency/index=0"


def _malicious_proof(values: list[int], n_bits: int) -> tuple[RangeProof, list[G1Point]]:
    """A proof made by running the prover's steps on values it should refuse."""
    blindings = [fr_random() for _ in values]
    commitments = [commit(v, g) for v, g in zip(values, blindings, strict=True)]
    proof = _prove(values, blindings, n_bits, range_proof_transcript(n_bits, commitments, CONTEXT), fr_random,
                   check_witness=False)
    return proof, commitments


@pytest.mark.parametrize("n_bits", [8, 64])
@pytest.mark.parametrize("bad_value", ["two_to_the_n", "minus_one"])
def test_out_of_range_value_from_a_malicious_prover_is_rejected(n_bits: int, bad_value: str) -> None:
    value = 1 << n_bits if bad_value == "two_to_the_n" else R - 1  # R - 1 is "-1" in Fr
    proof, commitments = _malicious_proof([value], n_bits)
    with pytest.raises(VerificationError):
        verify_range(proof, commitments, n_bits, CONTEXT)


def test_one_out_of_range_value_among_aggregated_values_is_rejected() -> None:
    values = [5, 17, R - 1, 200, 0, 255, 1, 2]
    proof, commitments = _malicious_proof(values, 8)
    with pytest.raises(VerificationError):
        verify_range(proof, commitments, 8, CONTEXT)


def test_malicious_prover_path_is_honest_for_in_range_values() -> None:
    # the attack helper is the real prover: with in-range values its proofs verify
    proof, commitments = _malicious_proof([3, 250], 8)
    verify_range(proof, commitments, 8, CONTEXT)


def test_commitment_swapped_after_proving_is_rejected() -> None:
    gammas = [fr_random(), fr_random()]
    proof, commitments = prove_range([10, 20], gammas, 8, CONTEXT)
    for swapped in ([commit(11, gammas[0]), commitments[1]],   # another value, same blinding
                    [commitments[0], commit(20, fr_random())],  # same value, other blinding
                    [commitments[0], commitments[0]]):
        with pytest.raises(VerificationError):
            verify_range(proof, swapped, 8, CONTEXT)


def test_proof_replayed_in_another_context_is_rejected() -> None:
    proof, commitments = prove_range([99], [fr_random()], 8, b"epoch=1/kind=solvency/index=0")
    with pytest.raises(VerificationError):
        verify_range(proof, commitments, 8, b"epoch=2/kind=solvency/index=0")
    with pytest.raises(VerificationError):
        batch_verify([RangeStatement(proof, commitments, 8, b"epoch=2/kind=solvency/index=0")])


@pytest.mark.parametrize("field", ["tau_x", "mu", "t_hat"])
def test_each_tampered_scalar_is_rejected(field: str) -> None:
    proof, commitments = prove_range([7], [fr_random()], 8, CONTEXT)
    forged = dataclasses.replace(proof, **{field: (getattr(proof, field) + 1) % R})
    with pytest.raises(VerificationError):
        verify_range(forged, commitments, 8, CONTEXT)


@pytest.mark.parametrize("field", ["A", "S", "T1", "T2"])
def test_each_tampered_point_is_rejected(field: str) -> None:
    proof, commitments = prove_range([7], [fr_random()], 8, CONTEXT)
    forged = dataclasses.replace(proof, **{field: getattr(proof, field) + G1Point.generator()})
    with pytest.raises(VerificationError):
        verify_range(forged, commitments, 8, CONTEXT)


def _rejected(data: bytes, commitments: list[G1Point]) -> str:
    """How a candidate encoding is rejected: "decoding" or "verification" (fails the test otherwise)."""
    try:
        forged = RangeProof.from_bytes(data, n_bits=8, m=1)
    except EncodingError:
        return "decoding"
    with pytest.raises(VerificationError):
        verify_range(forged, commitments, 8, CONTEXT)
    return "verification"


def test_every_single_byte_flip_of_an_encoded_proof_is_rejected() -> None:
    proof, commitments = prove_range([77], [fr_random()], 8, CONTEXT)
    encoded = proof.to_bytes()
    assert len(encoded) == encoded_size(3) == 642
    outcomes = {"decoding": 0, "verification": 0}
    for position in range(len(encoded)):
        # vary the flipped bit with the position so that every bit offset of points and
        # scalars is exercised somewhere in the proof
        mutated = bytearray(encoded)
        mutated[position] ^= 1 << ((position + position // 8) % 8)
        outcomes[_rejected(bytes(mutated), commitments)] += 1
    assert sum(outcomes.values()) == len(encoded)
    # both kinds of rejection occur: points mostly fail to decode, scalars fail to verify
    assert outcomes["decoding"] > 0 and outcomes["verification"] > 0


def test_flipping_any_flag_bit_of_any_point_is_rejected() -> None:
    proof, commitments = prove_range([77], [fr_random()], 8, CONTEXT)
    encoded = proof.to_bytes()
    point_offsets = [2, 50, 98, 146, *range(290, 290 + 6 * 48, 48)]
    outcomes = {"decoding": 0, "verification": 0}
    for offset in point_offsets:
        for flag in (0x80, 0x40, 0x20):  # compression, infinity, sign of y
            mutated = bytearray(encoded)
            mutated[offset] ^= flag
            outcomes[_rejected(bytes(mutated), commitments)] += 1
    # a flipped sign bit decodes (to -P) and must then fail verification
    assert outcomes["verification"] == len(point_offsets)


# --- malformed encodings: one clear error, never a crash -------------------------------------


@pytest.fixture(scope="module")
def encoded_proof() -> bytes:
    proof, _ = prove_range([1, 2], [fr_random(), fr_random()], 8, CONTEXT)
    return proof.to_bytes()


def test_truncated_or_extended_encoding_is_rejected(encoded_proof: bytes) -> None:
    for data in (b"", encoded_proof[:1], encoded_proof[:-1], encoded_proof + b"\x00", encoded_proof[:400]):
        with pytest.raises(EncodingError):
            RangeProof.from_bytes(data, n_bits=8, m=2)


def test_unknown_version_is_rejected(encoded_proof: bytes) -> None:
    with pytest.raises(EncodingError, match="version"):
        RangeProof.from_bytes(b"\x02" + encoded_proof[1:], n_bits=8, m=2)


def test_round_count_must_match_n_times_m(encoded_proof: bytes) -> None:
    with pytest.raises(EncodingError, match="rounds"):
        RangeProof.from_bytes(encoded_proof, n_bits=8, m=4)  # needs 5 rounds, proof has 4
    with pytest.raises(EncodingError, match="rounds"):
        RangeProof.from_bytes(encoded_proof[:1] + b"\x05" + encoded_proof[2:], n_bits=8, m=2)


def test_non_canonical_scalar_is_rejected(encoded_proof: bytes) -> None:
    tau_x_offset = 194
    for bad in (R, R + 5, (1 << 256) - 1):
        data = encoded_proof[:tau_x_offset] + bad.to_bytes(32, "big") + encoded_proof[tau_x_offset + 32:]
        with pytest.raises(EncodingError, match="tau_x"):
            RangeProof.from_bytes(data, n_bits=8, m=2)
    # the reduced value is accepted by the decoder (and then fails verification)
    data = encoded_proof[:tau_x_offset] + scalar_to_bytes(R + 5) + encoded_proof[tau_x_offset + 32:]
    RangeProof.from_bytes(data, n_bits=8, m=2)


def _point_outside_subgroup() -> bytes:
    x = 1
    while True:
        rhs = (x * x * x + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return encode_affine((x, y))
        x += 1


def test_point_outside_the_prime_order_subgroup_is_rejected(encoded_proof: bytes) -> None:
    outside = _point_outside_subgroup()
    with pytest.raises(EncodingError, match="subgroup"):
        G1Point.from_bytes(outside)
    for offset, name in ((2, "A"), (146, "T2"), (290, "L_0")):
        data = encoded_proof[:offset] + outside + encoded_proof[offset + 48:]
        with pytest.raises(EncodingError, match=name):
            RangeProof.from_bytes(data, n_bits=8, m=2)


def test_point_not_on_the_curve_and_uncompressed_flags_are_rejected(encoded_proof: bytes) -> None:
    x = 1
    while pow((x**3 + 4) % P, (P - 1) // 2, P) == 1:  # find an x with no point on the curve
        x += 1
    not_on_curve = encode_affine((x, 0))
    no_compression_flag = bytes([encoded_proof[2] & 0x7F]) + encoded_proof[3:50]
    for chunk in (not_on_curve, no_compression_flag):
        data = encoded_proof[:2] + chunk + encoded_proof[50:]
        with pytest.raises(EncodingError):
            RangeProof.from_bytes(data, n_bits=8, m=2)


def test_decoder_refuses_bad_parameters_and_types(encoded_proof: bytes) -> None:
    for kwargs in ({"n_bits": 7, "m": 2}, {"n_bits": 8, "m": 0}, {"n_bits": 8, "m": 1 << 20}):
        with pytest.raises(EncodingError):
            RangeProof.from_bytes(encoded_proof, **kwargs)
    with pytest.raises(EncodingError):
        RangeProof.from_bytes("not bytes", n_bits=8, m=2)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=700))
def test_arbitrary_bytes_raise_only_encoding_error(data: bytes) -> None:
    with contextlib.suppress(EncodingError):  # the only exception allowed out of the decoder
        RangeProof.from_bytes(data, n_bits=8, m=2)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=encoded_size(4) - 2, max_size=encoded_size(4) - 2))
def test_random_body_with_a_valid_header_raises_only_encoding_error(data: bytes) -> None:
    try:
        proof = RangeProof.from_bytes(b"\x01\x04" + data, n_bits=8, m=2)
    except EncodingError:
        return
    with pytest.raises(VerificationError):  # pragma: no cover - decoding random points is ~impossible
        verify_range(proof, [commit(1, 1), commit(2, 2)], 8, CONTEXT)
