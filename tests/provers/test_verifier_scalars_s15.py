"""Session 15's verifier-side levers compute the same equation (docs/performance.md, "Session 15: options-heavy
audit"): the Bulletproofs++ G_vec scalars and κ from per-value and per-digit factors equal the prover's
``_public`` formula, the WNLA's g scalars kept as two factors equal the expanded ones, and a point several
statements share enters the batch MSM once — while a false statement among them still fails."""

from __future__ import annotations

import random

import pytest

import provers.bulletproofs.range_proof as bp_range_proof
from provers.bulletproofs import batch_verify
from provers.bulletproofs_pp import BppBoundRangeStatement, prove_bound_range_pp
from provers.bulletproofs_pp import range_proof as bpp
from provers.bulletproofs_pp.wnla import WnlaTerms, _expand
from tests.provers.test_bulletproofs_pp_batch import _bound
from zkclear.crypto.field import R
from zkclear.crypto.group import G1Point
from zkclear.errors import VerificationError

RNG = random.Random(15)


def _reference(e, rho, beta, delta, padded_m, digits, t_d, t_r, weight, wnla_g):
    """The G_vec scalars, κ and δ powers as the verifier computed them before session 15 (from ``_public``)."""
    public = bpp._public(e, rho, beta, delta, padded_m, digits)
    g = [(t_d * (e + p) + t_r * q - weight * x) % R for p, q, x in zip(public.p, public.q, wnla_g, strict=True)]
    return g, public.kappa, public.value_weights


@pytest.mark.parametrize(("padded_m", "digits"), [(1, 2), (1, 16), (2, 8), (4, 4), (8, 16), (64, 8)])
@pytest.mark.parametrize("rho", ["random", "one", "minus-one"])
def test_the_factored_g_scalars_and_kappa_are_the_public_formula(padded_m: int, digits: int, rho: str) -> None:
    e, beta, delta, t_d, t_r, weight = (RNG.randrange(1, R) for _ in range(6))
    rho_value = {"random": RNG.randrange(2, R - 1), "one": 1, "minus-one": R - 1}[rho]  # ±1: μ = 1
    size = padded_m * digits
    final_size = min(4, size)
    rounds = (size // final_size).bit_length() - 1
    final = [RNG.randrange(R) for _ in range(final_size)]
    factors = [(RNG.randrange(R), RNG.randrange(R)) for _ in range(rounds)]
    wnla = WnlaTerms([], [], 0, [], final, _expand([1], factors))
    assert wnla.g_scalars == _expand(final, factors)
    assert bpp._checked_g_scalars(e, beta, rho_value * rho_value % R, delta, padded_m, digits, t_d, t_r, weight,
                                  wnla) == _reference(e, rho_value, beta, delta, padded_m, digits, t_d, t_r, weight,
                                                      wnla.g_scalars)


def _statements_sharing_points():
    """Two bound statements whose forms use the same point objects (as the parts of one chunk use its accounts'
    variables)."""
    b = _bound(16, 2, "shared")
    out = []
    for label in (b"part 0", b"part 1"):
        context = b.context + label
        proof = prove_bound_range_pp(b.values, b.blindings, 16, context)
        out.append(BppBoundRangeStatement(proof, b.forms, 16, context))
    return out, b


def test_a_point_shared_by_statements_enters_the_batch_msm_once(monkeypatch) -> None:
    statements, b = _statements_sharing_points()
    sizes = []
    real_msm = bp_range_proof.msm

    def counting_msm(points, scalars):
        sizes.append(sum(1 for P in points if any(P is Q for Q in b.forms[0].points)))
        return real_msm(points, scalars)

    monkeypatch.setattr(bp_range_proof, "msm", counting_msm)
    batch_verify(statements)
    assert sizes == [len(b.forms[0].points)]


def test_a_false_statement_among_statements_sharing_points_fails() -> None:
    statements, _ = _statements_sharing_points()
    first, second = statements
    shifted = tuple(type(f)(f.points, f.coefficients, f.constant + 1) for f in second.forms)
    with pytest.raises(VerificationError):
        batch_verify([first, BppBoundRangeStatement(second.proof, shifted, 16, second.context)])
    other = statements[1].proof
    with pytest.raises(VerificationError):  # a proof for another context
        batch_verify([first, BppBoundRangeStatement(other, first.forms, 16, first.context)])
    # an equal point under another object is the same statement
    copies = tuple(type(f)(tuple(G1Point.from_bytes(P.to_bytes()) for P in f.points), f.coefficients, f.constant)
                   for f in second.forms)
    batch_verify([first, BppBoundRangeStatement(second.proof, copies, 16, second.context)])
