"""The inner-product argument: completeness, the verifier's s-vector, and rejection of tampering."""

from __future__ import annotations

import dataclasses

import pytest

from provers.bulletproofs.generators import pedersen_bases, vector_generators
from provers.bulletproofs.inner_product import (
    InnerProductProof,
    prove_inner_product,
    verification_scalars,
    verify_inner_product,
)
from zkclear.crypto.field import R, fr_inv, fr_random
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.transcript import Transcript
from zkclear.errors import VerificationError

LABEL = b"test/inner-product"


def _instance(n: int):
    G, H = vector_generators(n)
    a = [fr_random() for _ in range(n)]
    b = [fr_random() for _ in range(n)]
    g = [fr_random() for _ in range(n)]
    h = [fr_random() for _ in range(n)]
    Q = pedersen_bases().G * fr_random()
    c = sum(x * y for x, y in zip(a, b, strict=True)) % R
    P = msm([*G, *H, Q], [*(x * f for x, f in zip(a, g, strict=True)),
                          *(y * f for y, f in zip(b, h, strict=True)), c])
    return G, H, a, b, g, h, Q, P


@pytest.mark.parametrize("n", [1, 2, 8, 32])
def test_honest_inner_product_argument_verifies(n: int) -> None:
    G, H, a, b, g, h, Q, P = _instance(n)
    proof = prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b)
    assert len(proof.L_vec) == len(proof.R_vec) == n.bit_length() - 1
    verify_inner_product(proof, Transcript(LABEL), P, Q, g, h, G, H)


def test_s_vector_is_the_product_of_round_challenges_by_index_bits() -> None:
    n = 16
    G, H, a, b, g, h, Q, _ = _instance(n)
    proof = prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b)
    scalars = verification_scalars(proof, n, Transcript(LABEL))
    # Recompute the challenges independently and apply the definition s_i = Π_k u_k^{±1}.
    transcript = Transcript(LABEL)
    transcript.append_u64(b"ipa/n", n)
    challenges = []
    for L, R_ in zip(proof.L_vec, proof.R_vec, strict=True):
        transcript.append_point(b"L", L)
        transcript.append_point(b"R", R_)
        challenges.append(transcript.challenge_scalar(b"u"))
    rounds = len(challenges)
    for i in range(n):
        expected = 1
        for k, u in enumerate(challenges):
            bit = (i >> (rounds - 1 - k)) & 1
            expected = expected * (u if bit else fr_inv(u)) % R
        assert scalars.s[i] == expected
        assert scalars.s[i] * scalars.s[n - 1 - i] % R == 1
    assert scalars.u_squared == tuple(u * u % R for u in challenges)


def test_final_generators_from_s_equal_the_provers_folded_generators() -> None:
    n = 8
    G, H, a, b, g, h, Q, _ = _instance(n)
    proof = prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b)
    s = verification_scalars(proof, n, Transcript(LABEL)).s
    # Fold explicitly as the paper does: G <- u^-1 G_lo + u G_hi, H <- u H_lo + u^-1 H_hi.
    transcript = Transcript(LABEL)
    transcript.append_u64(b"ipa/n", n)
    G_fold = [G[i] * g[i] for i in range(n)]
    H_fold = [H[i] * h[i] for i in range(n)]
    for L, R_ in zip(proof.L_vec, proof.R_vec, strict=True):
        transcript.append_point(b"L", L)
        transcript.append_point(b"R", R_)
        u = transcript.challenge_scalar(b"u")
        half = len(G_fold) // 2
        G_fold = [G_fold[i] * fr_inv(u) + G_fold[half + i] * u for i in range(half)]
        H_fold = [H_fold[i] * u + H_fold[half + i] * fr_inv(u) for i in range(half)]
    assert G_fold[0] == msm(G, [s[i] * g[i] for i in range(n)])
    assert H_fold[0] == msm(H, [s[n - 1 - i] * h[i] for i in range(n)])


def test_wrong_statement_point_is_rejected() -> None:
    G, H, a, b, g, h, Q, P = _instance(8)
    proof = prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b)
    with pytest.raises(VerificationError):
        verify_inner_product(proof, Transcript(LABEL), P + G[0], Q, g, h, G, H)


@pytest.mark.parametrize("field", ["a", "b", "L", "R"])
def test_tampered_proof_is_rejected(field: str) -> None:
    G, H, a, b, g, h, Q, P = _instance(8)
    proof = prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b)
    if field in ("a", "b"):
        forged = dataclasses.replace(proof, **{field: (getattr(proof, field) + 1) % R})
    else:
        vec = list(getattr(proof, f"{field}_vec"))
        vec[1] = vec[1] + G1Point.generator()
        forged = dataclasses.replace(proof, **{f"{field}_vec": tuple(vec)})
    with pytest.raises(VerificationError):
        verify_inner_product(forged, Transcript(LABEL), P, Q, g, h, G, H)


def test_proof_in_another_transcript_is_rejected() -> None:
    G, H, a, b, g, h, Q, P = _instance(4)
    proof = prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b)
    with pytest.raises(VerificationError):
        verify_inner_product(proof, Transcript(b"another protocol"), P, Q, g, h, G, H)


def test_wrong_number_of_rounds_is_rejected() -> None:
    G, H, a, b, g, h, Q, P = _instance(8)
    proof = prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b)
    short = InnerProductProof(L_vec=proof.L_vec[:-1], R_vec=proof.R_vec[:-1], a=proof.a, b=proof.b)
    with pytest.raises(VerificationError, match="rounds"):
        verify_inner_product(short, Transcript(LABEL), P, Q, g, h, G, H)


@pytest.mark.parametrize("factors", ["random", "range-proof"])
def test_the_proof_is_the_same_whatever_the_rounds_tracked_before_folding(factors: str) -> None:
    n = 64
    G, H, a, b, g, h, Q, P = _instance(n)
    if factors == "range-proof":  # 1 for G and y^-i for H: one folding scalar per round (lock-step fold)
        y_inv = fr_random()
        g, h = [1] * n, [pow(y_inv, i, R) for i in range(n)]
    proofs = [prove_inner_product(Transcript(LABEL), Q, g, h, G, H, a, b, tracked_rounds=tracked)
              for tracked in range(7)]
    assert all(proof == proofs[0] for proof in proofs[1:])
    c = sum(x * y for x, y in zip(a, b, strict=True)) % R
    P = msm([*G, *H, Q], [*(x * f for x, f in zip(a, g, strict=True)),
                          *(y * f for y, f in zip(b, h, strict=True)), c])
    verify_inner_product(proofs[0], Transcript(LABEL), P, Q, g, h, G, H)
