"""Second reading of the Bulletproofs++ soundness argument (docs/protocol.md, "Second reading (2026-12-07)").

A bound statement's transcript absorbs no commitment: its soundness rests entirely on the caller's context
determining the forms before the first challenge (finding 2). These tests make that precondition concrete: with
a context that does NOT determine the form, a prover that knows no in-range opening produces an accepting proof
for a commitment whose opening it knows and whose value is a random field element (far outside [0, 2^n)); the
same proof is rejected for the commitment it was "meant" for, and an ordinary statement (V absorbed) is immune
because the commitment must exist before e. Product callers (provers/collateral.py) hash every commitment into
the context, so this is a demonstration of the documented precondition, not a defect of the product.
"""

from __future__ import annotations

import pytest

import provers.bulletproofs_pp.range_proof as bpp
from provers.bulletproofs import CommitmentForm
from provers.bulletproofs.generators import pedersen_bases
from provers.bulletproofs.parameters import padded_count
from provers.bulletproofs_pp.parameters import UNUSED_SLOT, l_length, n_length, proof_shape
from provers.bulletproofs_pp.wnla import inner, weighted_inner
from zkclear.crypto.field import R, fr_batch_inv, fr_inv, fr_random
from zkclear.errors import VerificationError

N_BITS = 8
VALUE = (1 << N_BITS) + 5  # 261 = 5 + 16·16: written with the non-digit 16
DIGITS = [5, 16]
BLINDING = 7
CONTEXT = b"second-reading/unbound-context"


def _replayed_checked_coefficient(proof) -> tuple[int, int]:
    """The T⁴ coefficient the (malicious) witness of ``proof`` produces, and δ: replayed from the public
    transcript and the digits the prover used (the prover knows both)."""
    transcript = bpp.bound_range_proof_transcript(1, CONTEXT, N_BITS)
    transcript.append_point(b"C_D", proof.C_D)
    transcript.append_point(b"C_B", proof.C_B)
    e = transcript.challenge_scalar(b"e")
    transcript.append_point(b"C_R", proof.C_R)
    rho = transcript.challenge_scalar(b"rho")
    beta = transcript.challenge_scalar(b"beta")
    delta = transcript.challenge_scalar(b"delta")
    public = bpp._public(e, rho, beta, delta, 1, len(DIGITS))
    r = fr_batch_inv([e + d for d in DIGITS])
    a_vec = [(d + e + p) % R for d, p in zip(DIGITS, public.p, strict=True)]
    b_vec = [(x + q) % R for x, q in zip(r, public.q, strict=True)]
    mult = [DIGITS.count(a) for a in range(16)]
    checked = (2 * weighted_inner(a_vec, b_vec, public.mu) + inner(public.mult_coefficients, mult)) % R
    return (checked - public.kappa) % R, delta


@pytest.fixture
def forged(monkeypatch):
    """A bound proof run with the digits (5, 16) of 261 and the self-check off, and the opening
    (x', γ) of the only commitment it verifies for, found after every challenge."""
    monkeypatch.setattr(bpp, "_digits", lambda values, count: list(DIGITS))
    transcript = bpp.bound_range_proof_transcript(1, CONTEXT, N_BITS)
    proof = bpp._prove([VALUE], [BLINDING], transcript, fr_random, check_witness=False, n_bits=N_BITS)
    monkeypatch.undo()
    residual, delta = _replayed_checked_coefficient(proof)
    x_forged = residual * fr_inv(2 * delta) % R  # 2δ·x' + κ = the witness's T⁴ coefficient
    return proof, x_forged


def test_unbound_context_lets_the_prover_choose_the_commitment_after_the_challenges(forged) -> None:
    proof, x_forged = forged
    bases = pedersen_bases()
    V_forged = bases.G * x_forged + bases.H * BLINDING
    # Accepted, for a commitment chosen after every challenge, whose opening the prover knows ...
    bpp.verify_bound_range_pp(proof, [CommitmentForm((V_forged,), (1,))], N_BITS, CONTEXT)
    # ... and whose value is a random field element, not in [0, 2^8) (probability 2^-247 of a false alarm).
    assert x_forged >= 1 << N_BITS
    assert x_forged != VALUE


def test_the_forged_proof_is_rejected_for_the_commitment_it_was_meant_for(forged) -> None:
    proof, _ = forged
    bases = pedersen_bases()
    V_meant = bases.G * VALUE + bases.H * BLINDING
    with pytest.raises(VerificationError):
        bpp.verify_bound_range_pp(proof, [CommitmentForm((V_meant,), (1,))], N_BITS, CONTEXT)


def test_an_ordinary_statement_fixes_the_commitment_before_e(forged) -> None:
    # The same messages under the ordinary transcript (V absorbed first) draw other challenges: the commitment
    # solved for the bound transcript is rejected there.
    proof, x_forged = forged
    bases = pedersen_bases()
    V_forged = bases.G * x_forged + bases.H * BLINDING
    with pytest.raises(VerificationError):
        bpp.verify_range_pp(proof, [V_forged], CONTEXT, n_bits=N_BITS)


@pytest.mark.parametrize("n_bits", [8, 16, 32, 64])
@pytest.mark.parametrize("m", [1, 2, 3, 8, 9, 64])
def test_arity_sum_matches_the_written_knowledge_error(n_bits: int, m: int) -> None:
    # "Extractor (written)", cost and soundness error: Σ (k_i − 1) over e, ρ, β, δ, T and the WNLA rounds equals
    # 3N + L + 2M + 15 + 3K with the arities of the tree (k_β = max(2, L − UNUSED_SLOT), which is L − 21 since
    # L ≥ 32); the narrow widths have L > N, which no count assumes away.
    M, N, L = padded_count(m), n_length(m, n_bits), l_length(m, n_bits)
    K = proof_shape(m, n_bits)[0]
    arities = {"e": N + 16, "rho": 2 * N + 1, "beta": max(2, L - UNUSED_SLOT), "delta": 2 * M + 1, "T": 23}
    total = sum(k - 1 for k in arities.values()) + 3 * K
    assert total == 3 * N + L + 2 * M + 15 + 3 * K
    assert min(L, N) ** 2 >= 4**K
    if (m, n_bits) == (64, 64):
        assert total == 3495 and total * 2**243 < R - 16
