"""Aggregated range proofs: completeness, sizes, encoding round trip, transcript binding, generators."""

from __future__ import annotations

import secrets
import struct

import pytest

from provers.bulletproofs import (
    BIT_SIZES,
    RangeProof,
    encoded_size,
    inner_product_rounds,
    prove_range,
    verify_range,
)
from provers.bulletproofs.generators import G_VECTOR_LABEL, H_VECTOR_LABEL, vector_generators
from provers.bulletproofs.parameters import padded_count
from zkclear.crypto.field import R, fr_random
from zkclear.crypto.generators import GENERATOR_DST, pedersen_generators
from zkclear.crypto.group import G1Point
from zkclear.crypto.hash_to_curve import hash_to_curve
from zkclear.crypto.pedersen import commit
from zkclear.errors import ProvingError, VerificationError

CONTEXT = b"epoch=7/kind=account-margin/index=3"


def _prove_and_verify(values: list[int], n_bits: int) -> None:
    blindings = [fr_random() for _ in values]
    proof, commitments = prove_range(values, blindings, n_bits, CONTEXT)
    assert commitments == [commit(v, g) for v, g in zip(values, blindings, strict=True)]
    verify_range(proof, commitments, n_bits, CONTEXT)
    decoded = RangeProof.from_bytes(proof.to_bytes(), n_bits=n_bits, m=len(values))
    assert decoded == proof
    verify_range(decoded, commitments, n_bits, CONTEXT)


@pytest.mark.parametrize("n_bits", BIT_SIZES)
def test_random_value_proves_and_verifies(n_bits: int) -> None:
    _prove_and_verify([secrets.randbelow(1 << n_bits)], n_bits)


@pytest.mark.parametrize("n_bits", BIT_SIZES)
def test_extreme_values_zero_and_two_to_the_n_minus_one_verify(n_bits: int) -> None:
    _prove_and_verify([0, (1 << n_bits) - 1], n_bits)


@pytest.mark.parametrize(("m", "n_bits"), [(1, 16), (3, 16), (3, 64), (5, 8), (8, 16), (64, 8)])
def test_aggregated_proof_of_m_values_verifies(m: int, n_bits: int) -> None:
    values = [secrets.randbelow(1 << n_bits) for _ in range(m)]
    values[0] = 0
    values[-1] = (1 << n_bits) - 1
    _prove_and_verify(values, n_bits)


@pytest.mark.slow
def test_sixty_four_aggregated_64_bit_values_verify() -> None:
    # The largest case the issue names; about 6 s in the pure-Python engine.
    _prove_and_verify([secrets.randbelow(1 << 64) for _ in range(64)], 64)


@pytest.mark.parametrize(("n_bits", "m"), [(8, 1), (8, 3), (16, 4), (32, 5), (64, 1), (64, 8)])
def test_encoded_size_matches_the_formula(n_bits: int, m: int) -> None:
    # version byte + rounds byte + A, S, T1, T2 + tau_x, mu, t_hat + log2(n·M) (L, R) pairs + a, b
    rounds = (n_bits * padded_count(m)).bit_length() - 1
    expected = 1 + 1 + 4 * 48 + 3 * 32 + 2 * rounds * 48 + 2 * 32
    assert inner_product_rounds(n_bits, m) == rounds
    assert encoded_size(rounds) == expected
    proof, _ = prove_range([1] * m, [fr_random() for _ in range(m)], n_bits, CONTEXT)
    assert len(proof.to_bytes()) == expected


def test_single_64_bit_proof_is_930_bytes() -> None:
    proof, _ = prove_range([12345], [fr_random()], 64, CONTEXT)
    assert len(proof.to_bytes()) == 930


def test_deterministic_randomness_gives_identical_proof_bytes() -> None:
    def counter_rng():
        state = iter(range(1, 10_000))
        return lambda: next(state) * 0x9E3779B97F4A7C15 % R

    first, _ = prove_range([5, 6], [7, 8], 8, CONTEXT, rng=counter_rng())
    second, _ = prove_range([5, 6], [7, 8], 8, CONTEXT, rng=counter_rng())
    assert first.to_bytes() == second.to_bytes()


# --- transcript binding -----------------------------------------------------------------


def test_proof_does_not_verify_in_another_context() -> None:
    proof, commitments = prove_range([42], [fr_random()], 16, CONTEXT)
    for other in (b"epoch=8/kind=account-margin/index=3", b"epoch=7/kind=solvency/index=3",
                  b"epoch=7/kind=account-margin/index=4", b""):
        with pytest.raises(VerificationError):
            verify_range(proof, commitments, 16, other)


def test_proof_does_not_verify_with_commitments_reordered() -> None:
    proof, commitments = prove_range([1, 2], [fr_random(), fr_random()], 16, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, commitments[::-1], 16, CONTEXT)


def test_padding_commitments_are_implicit_and_m_is_bound() -> None:
    # m = 3 pads to M = 4 with an identity commitment that is never sent.
    proof, commitments = prove_range([1, 2, 3], [fr_random() for _ in range(3)], 8, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, [*commitments, G1Point.identity()], 8, CONTEXT)
    # and the converse: a proof about 4 values whose last is (0, 0) is not a proof about 3 values
    proof4, commitments4 = prove_range([1, 2, 3, 0], [fr_random(), fr_random(), fr_random(), 0], 8, CONTEXT)
    assert commitments4[3].is_identity()
    verify_range(proof4, commitments4, 8, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof4, commitments4[:3], 8, CONTEXT)


def test_proof_for_one_bit_size_does_not_verify_for_another() -> None:
    # n = 8, m = 2 and n = 16, m = 1 have the same N = 16 (same number of rounds)
    proof, commitments = prove_range([200, 100], [fr_random(), fr_random()], 8, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, commitments, 16, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, commitments[:1], 16, CONTEXT)


def test_transcript_starts_with_label_n_m_context_and_commitments() -> None:
    from provers.bulletproofs.range_proof import PROTOCOL_LABEL, range_proof_transcript
    from zkclear.crypto.transcript import Transcript

    V = [commit(1, 2), commit(3, 4)]
    expected = Transcript(PROTOCOL_LABEL)
    expected.append_u64(b"n", 8)
    expected.append_u64(b"m", 2)
    expected.append_message(b"context", CONTEXT)
    expected.append_points(b"V", V)
    assert range_proof_transcript(8, V, CONTEXT).challenge_bytes(b"t") == expected.challenge_bytes(b"t")


# --- the prover refuses ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [256, 1 << 20, -1, R - 1, R])
def test_prover_refuses_a_value_out_of_range(value: int) -> None:
    with pytest.raises(ProvingError, match="outside"):
        prove_range([3, value], [fr_random(), fr_random()], 8, CONTEXT)


@pytest.mark.parametrize(
    ("values", "blindings", "n_bits", "context", "match"),
    [
        ([1], [1], 7, CONTEXT, "bit size"),
        ([1], [1], 128, CONTEXT, "bit size"),
        ([], [], 8, CONTEXT, "number of values"),
        ([1, 2], [1], 8, CONTEXT, "blindings"),
        ([True], [1], 8, CONTEXT, "int"),
        ([1.0], [1], 8, CONTEXT, "int"),
        ([1], [None], 8, CONTEXT, "int"),
        ([1], [1], 8, "text", "bytes"),
    ],
)
def test_prover_refuses_malformed_requests(values, blindings, n_bits, context, match) -> None:
    with pytest.raises(ProvingError, match=match):
        prove_range(values, blindings, n_bits, context)


def test_verifier_rejects_unsupported_parameters() -> None:
    proof, commitments = prove_range([1], [fr_random()], 8, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, commitments, 12, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, [], 8, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, [b"not a point"], 8, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range(proof, commitments, 8, "text")
    with pytest.raises(VerificationError):
        verify_range(proof, None, 8, CONTEXT)
    with pytest.raises(VerificationError):
        verify_range("not a proof", commitments, 8, CONTEXT)


# --- generators ---------------------------------------------------------------------------


def test_vector_generators_follow_the_documented_derivation() -> None:
    G_vec, H_vec = vector_generators(4)
    for i in range(4):
        index = struct.pack(">I", i)
        assert G_vec[i] == hash_to_curve(G_VECTOR_LABEL + b"/" + index, GENERATOR_DST)
        assert H_vec[i] == hash_to_curve(H_VECTOR_LABEL + b"/" + index, GENERATOR_DST)


def test_vector_generators_are_prefix_stable_distinct_and_cached() -> None:
    small_G, small_H = vector_generators(8)
    big_G, big_H = vector_generators(32)
    assert big_G[:8] == small_G and big_H[:8] == small_H
    G, H = pedersen_generators()
    everything = {*big_G, *big_H, G, H}
    assert len(everything) == 2 * 32 + 2
    assert vector_generators(32) is vector_generators(32)


# --- known answer (docs/protocol.md, "Range proof — known answer") ---------------------------

KAT_SHA256 = "27e9626bab0d32c0c4dd8c492e656931d67c59fce08800511a7e0982524a150a"
KAT_Y = 0x1C5B8979AD3CF6EC44287A053A8A575F818569390A5C397EF49842B07EC2BADB


def test_known_answer_proof_is_byte_exact() -> None:
    import hashlib
    import itertools

    from provers.bulletproofs.range_proof import range_proof_transcript

    counter = itertools.count(1)  # the k-th random scalar the prover draws is k
    proof, commitments = prove_range([5, 250, 0], [11, 22, 33], 8, b"zkclear-kat", rng=lambda: next(counter))
    assert next(counter) == 69  # alpha, s_L (32), s_R (32), rho, tau1, tau2
    encoded = proof.to_bytes()
    assert hashlib.sha256(encoded).hexdigest() == KAT_SHA256
    transcript = range_proof_transcript(8, commitments, b"zkclear-kat")
    transcript.append_point(b"A", proof.A)
    transcript.append_point(b"S", proof.S)
    assert transcript.challenge_scalar(b"y") == KAT_Y
    verify_range(RangeProof.from_bytes(encoded, n_bits=8, m=3), commitments, 8, b"zkclear-kat")


def test_prover_and_verifier_leave_the_garbage_collector_as_they_found_it() -> None:
    import gc

    assert gc.isenabled()
    proof, commitments = prove_range([9], [fr_random()], 8, CONTEXT)
    verify_range(proof, commitments, 8, CONTEXT)
    assert gc.isenabled()
    gc.disable()
    try:
        proof, commitments = prove_range([9], [fr_random()], 8, CONTEXT)
        with pytest.raises(VerificationError):
            verify_range(proof, commitments, 8, b"other")
        assert not gc.isenabled()
    finally:
        gc.enable()
