"""Bulletproofs++ statements (ordinary and bound) and their batch verification with Bulletproofs ones.

A bound statement's commitments are public linear forms of points the context binds (the collateral prover's
form): its transcript absorbs no V and the verifier never computes one. Every statement writes its verification
equation as provers.bulletproofs' VerificationTerms, so provers.bulletproofs.batch_verify takes any mix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random

import pytest

from provers.bulletproofs import (
    BoundRangeStatement,
    CommitmentForm,
    RangeClaim,
    RangeStatement,
    batch_verify,
    prove_bound_range,
    prove_range,
)
from provers.bulletproofs_pp import (
    BOUND_PROTOCOL_LABEL,
    PROTOCOL_LABEL,
    BppBoundRangeStatement,
    BppRangeProof,
    BppRangeStatement,
    prove_bound_range_pp,
    prove_range_pp,
    verify_bound_range_pp,
    verify_range_pp,
)
from provers.bulletproofs_pp import range_proof as bpp
from zkclear.crypto.field import R, fr_random, scalar_to_bytes
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.pedersen import commit
from zkclear.errors import EncodingError, ProvingError, VerificationError

RNG = random.Random(20261207)


@dataclasses.dataclass
class Bound:
    """A bound instance: forms over shared points, their openings and a context that hashes them."""

    forms: tuple[CommitmentForm, ...]
    values: list[int]
    blindings: list[int]
    context: bytes
    n_bits: int


def _bound(n_bits: int, m: int, label: str = "bound") -> Bound:
    """m forms ``V_k = κ_k·G + Σ a_ki·X_i`` over 3 committed variables X_i (every form uses every point, so
    each point is shared by all forms), values in [0, 2^n_bits) with the top value for the first form."""
    x = [RNG.randrange(1 << (n_bits - 4)) for _ in range(3)]
    gamma = [fr_random() for _ in range(3)]
    points = tuple(commit(v, g) for v, g in zip(x, gamma, strict=True))
    forms, values, blindings = [], [], []
    for k in range(m):
        coefficients = (RNG.randrange(-2, 3), 1, -1) if k else (1, -1, 2)
        linear = sum(a * v for a, v in zip(coefficients, x, strict=True))
        target = (1 << n_bits) - 1 if k == 0 else RNG.randrange(1 << n_bits)
        constant = target - linear  # any integer: negative constants are taken mod r
        forms.append(CommitmentForm(points, coefficients, constant))
        values.append(target)
        blindings.append(sum(a * g for a, g in zip(coefficients, gamma, strict=True)) % R)
    digest = hashlib.sha256(label.encode() + bytes([n_bits, m]))
    for form in forms:
        digest.update(b"".join(P.to_bytes() for P in form.points))
        digest.update(repr((form.coefficients, form.constant)).encode())
    return Bound(tuple(forms), values, blindings, digest.digest(), n_bits)


def _evaluate(form: CommitmentForm) -> G1Point:
    return msm([*form.points, G1Point.generator()], [*form.coefficients, form.constant])


def _bound_statement(n_bits: int, m: int) -> tuple[BppBoundRangeStatement, Bound]:
    b = _bound(n_bits, m)
    proof = prove_bound_range_pp(b.values, b.blindings, n_bits, b.context)
    assert [_evaluate(f) for f in b.forms] == [commit(v, g) for v, g in zip(b.values, b.blindings, strict=True)]
    return BppBoundRangeStatement(proof, b.forms, n_bits, b.context), b


# --- bound statements ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_bits", "m"), [(8, 1), (16, 3), (32, 2), (64, 1)])
def test_honest_bound_statements_verify(n_bits: int, m: int) -> None:
    statement, b = _bound_statement(n_bits, m)
    verify_bound_range_pp(statement.proof, b.forms, n_bits, b.context)
    batch_verify([statement])
    decoded = BppRangeProof.from_bytes(statement.proof.to_bytes(), m=m, n_bits=n_bits)
    verify_bound_range_pp(decoded, list(b.forms), n_bits, b.context)


def test_a_point_in_several_forms_enters_the_equation_once_with_summed_scalars() -> None:
    statement, b = _bound_statement(16, 3)
    terms = statement.verification_terms(1, fr_random)
    shared = b.forms[0].points
    assert sum(1 for P in terms.points if any(P is Q for Q in shared)) == len(shared)
    # a form written with a repeated point (X = 2·X − X) is the same commitment and verifies too: the caller's
    # context, not the transcript, fixes how the forms are written
    first = b.forms[0]
    doubled = CommitmentForm((*first.points, first.points[0]), (first.coefficients[0] + 1, *first.coefficients[1:],
                                                                -1), first.constant)
    verify_bound_range_pp(statement.proof, (doubled, *b.forms[1:]), 16, b.context)


def _changed_forms(b: Bound) -> dict[str, tuple[CommitmentForm, ...]]:
    first, rest = b.forms[0], b.forms[1:]
    other = commit(5, fr_random())
    return {
        "coefficient": (dataclasses.replace(first, coefficients=(first.coefficients[0] + 1, *first.coefficients[1:])),
                        *rest),
        "constant": (dataclasses.replace(first, constant=first.constant + 1), *rest),
        "constant + r": (dataclasses.replace(first, constant=first.constant + R), *rest),  # the same mod r
        "point": (dataclasses.replace(first, points=(other, *first.points[1:])), *rest),
        "order": (*rest, first),
        "dropped": rest,
        "extra": (*b.forms, first),
    }


@pytest.mark.parametrize("change", ["coefficient", "constant", "point", "order", "dropped", "extra"])
def test_changed_forms_are_rejected(change: str) -> None:
    statement, b = _bound_statement(16, 3)
    forms = _changed_forms(b)[change]
    with pytest.raises(VerificationError):
        verify_bound_range_pp(statement.proof, forms, 16, b.context)
    with pytest.raises(VerificationError) as caught:
        batch_verify([statement, dataclasses.replace(statement, forms=forms)], identify_failure=True)
    assert caught.value.index == 1


def test_a_constant_changed_by_r_is_the_same_form() -> None:
    statement, b = _bound_statement(8, 3)
    verify_bound_range_pp(statement.proof, _changed_forms(b)["constant + r"], 8, b.context)


def test_a_bound_proof_under_another_context_or_width_is_rejected() -> None:
    statement, b = _bound_statement(16, 2)
    for context in (b.context + b"x", b"", _bound(16, 2).context):
        with pytest.raises(VerificationError):
            verify_bound_range_pp(statement.proof, b.forms, 16, context)
    for n_bits in (8, 32):
        with pytest.raises(VerificationError):
            verify_bound_range_pp(statement.proof, b.forms, n_bits, b.context)
        with pytest.raises(VerificationError):
            verify_bound_range_pp(dataclasses.replace(statement.proof, n_bits=n_bits), b.forms, n_bits, b.context)


def test_a_bound_proof_is_not_an_ordinary_proof_and_an_ordinary_proof_is_not_a_bound_one() -> None:
    assert BOUND_PROTOCOL_LABEL != PROTOCOL_LABEL
    statement, b = _bound_statement(32, 2)
    commitments = [_evaluate(form) for form in b.forms]
    with pytest.raises(VerificationError):
        verify_range_pp(statement.proof, commitments, b.context, n_bits=32)
    ordinary, commitments = prove_range_pp(b.values, b.blindings, b.context, n_bits=32)
    verify_range_pp(ordinary, commitments, b.context, n_bits=32)
    with pytest.raises(VerificationError):
        verify_bound_range_pp(ordinary, b.forms, 32, b.context)
    identity_forms = [CommitmentForm((V,), (1,)) for V in commitments]  # V_k = 1·V_k
    with pytest.raises(VerificationError):
        verify_bound_range_pp(ordinary, identity_forms, 32, b.context)
    with pytest.raises(VerificationError):
        batch_verify([BppBoundRangeStatement(ordinary, tuple(identity_forms), 32, b.context)])
    with pytest.raises(VerificationError):
        batch_verify([BppRangeStatement(statement.proof, tuple(commitments), 32, b.context)])


def test_a_bulletproofs_bound_proof_is_not_a_bulletproofs_pp_one() -> None:
    b = _bound(32, 1)
    bp_proof = prove_bound_range(b.values, b.blindings, 32, b.context)
    with pytest.raises(VerificationError, match="BppRangeProof"):
        verify_bound_range_pp(bp_proof, b.forms, 32, b.context)  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="RangeProof"):
        batch_verify([BoundRangeStatement(prove_bound_range_pp(b.values, b.blindings, 32, b.context),  # type: ignore
                                          b.forms, 32, b.context)])


def test_the_bound_prover_refuses_what_the_ordinary_one_refuses() -> None:
    for n_bits in (8, 16, 32, 64):
        for value in (1 << n_bits, -1, R - 1):
            with pytest.raises(ProvingError, match="outside"):
                prove_bound_range_pp([value], [1], n_bits, b"ctx")
    for values, blindings, n_bits, context in (([], [], 8, b"c"), ([1], [1, 2], 8, b"c"), ([1], [1], 12, b"c"),
                                               ([1], [1], 8, "c")):
        with pytest.raises(ProvingError):
            prove_bound_range_pp(values, blindings, n_bits, context)  # type: ignore[arg-type]


def test_bound_statements_validate_their_fields() -> None:
    statement, b = _bound_statement(8, 1)
    with pytest.raises(VerificationError, match="CommitmentForm"):
        BppBoundRangeStatement(statement.proof, (commit(1, 1),), 8, b.context)  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="CommitmentForm"):
        BppBoundRangeStatement(statement.proof, 5, 8, b.context)  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="G1Point"):
        BppRangeStatement(statement.proof, 5, 8, b.context)  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="G1Point"):
        verify_range_pp(statement.proof, ["not a point"], b.context, n_bits=8)  # type: ignore[list-item]
    with pytest.raises(VerificationError, match="context"):
        verify_bound_range_pp(statement.proof, b.forms, 8, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="number of values"):
        verify_bound_range_pp(statement.proof, (), 8, b.context)


def test_verification_terms_scale_with_the_weight() -> None:
    statement, _ = _bound_statement(8, 2)
    one, seven = statement.verification_terms(1, fr_random), statement.verification_terms(7, fr_random)
    assert seven.g_scalars == [7 * x % R for x in one.g_scalars]
    assert seven.h_scalars == [7 * x % R for x in one.h_scalars]
    assert (seven.G_scalar, seven.H_scalar) == (7 * one.G_scalar % R, 7 * one.H_scalar % R)
    assert seven.points == one.points and seven.scalars == [7 * x % R for x in one.scalars]
    # the h vector (Bulletproofs' H_0 .. H_30) is longer than the g vector here (D·M = 4 digits)
    assert (len(one.g_scalars), len(one.h_scalars)) == (4, 31)


# --- mixed batches -------------------------------------------------------------------------------------------


def _bp(n_bits: int, m: int, index: int) -> RangeStatement:
    context = f"mixed/bp/{index}".encode()
    values = [(1 << n_bits) - 1 - k for k in range(m)]
    proof, commitments = prove_range(values, [fr_random() for _ in range(m)], n_bits, context)
    return RangeStatement(proof, commitments, n_bits, context)


def _bp_bound(n_bits: int, m: int) -> BoundRangeStatement:
    b = _bound(n_bits, m, "bp-bound")
    return BoundRangeStatement(prove_bound_range(b.values, b.blindings, n_bits, b.context), b.forms, n_bits,
                               b.context)


def _bpp(n_bits: int, m: int, index: int) -> BppRangeStatement:
    context = f"mixed/bpp/{index}".encode()
    values = [k * 3 % (1 << n_bits) for k in range(m)]
    proof, commitments = prove_range_pp(values, [fr_random() for _ in range(m)], context, n_bits=n_bits)
    return BppRangeStatement(proof, commitments, n_bits, context)


@pytest.fixture(scope="module")
def mixed() -> list[RangeClaim]:
    return [
        _bp(8, 2, 0),
        _bp_bound(16, 3),
        _bpp(32, 3, 2),
        _bound_statement(8, 2)[0],
        _bpp(64, 1, 4),
        _bound_statement(16, 1)[0],
        _bpp(8, 8, 6),
    ]


def test_a_mixed_batch_of_both_systems_widths_and_sizes_verifies(mixed) -> None:
    assert all(isinstance(statement, RangeClaim) for statement in mixed)
    batch_verify(mixed)
    batch_verify(mixed, identify_failure=True)
    batch_verify(list(reversed(mixed)))
    for statement in mixed:
        batch_verify([statement])


def _false(statement: RangeClaim) -> RangeClaim:
    """The same statement made false: another context (every kind binds its context)."""
    return dataclasses.replace(statement, context=statement.context + b"/forged")  # type: ignore[type-var]


def _false_by_proof(statement: RangeClaim) -> RangeClaim:
    """The same statement with one proof element changed (a point of the proof plus G)."""
    proof = statement.proof  # type: ignore[attr-defined]
    if isinstance(proof, BppRangeProof):
        return dataclasses.replace(statement, proof=dataclasses.replace(proof, C_R=proof.C_R + G1Point.generator()))
    return dataclasses.replace(statement, proof=dataclasses.replace(proof, T1=proof.T1 + G1Point.generator()))


@pytest.mark.parametrize("make_false", [_false, _false_by_proof], ids=["context", "proof"])
def test_each_false_statement_fails_the_mixed_batch_and_is_identified(mixed, make_false) -> None:
    for index in range(len(mixed)):
        batch = [*mixed[:index], make_false(mixed[index]), *mixed[index + 1:]]
        with pytest.raises(VerificationError) as caught:
            batch_verify(batch)
        assert caught.value.index is None
        with pytest.raises(VerificationError) as caught:
            batch_verify(batch, identify_failure=True)
        assert caught.value.index == index


def test_a_false_value_in_a_bpp_statement_fails_the_mixed_batch(mixed, monkeypatch) -> None:
    # a malicious Bulletproofs++ prover (value 2^16 at width 16) hidden among honest statements of both systems
    values = [1 << 16]
    blindings = [fr_random()]
    commitments = [commit(v, g) for v, g in zip(values, blindings, strict=True)]
    proof = bpp._prove(values, blindings, bpp.range_proof_transcript(commitments, b"evil", 16), fr_random,
                       check_witness=False, n_bits=16)
    batch = [*mixed[:3], BppRangeStatement(proof, commitments, 16, b"evil"), *mixed[3:]]
    with pytest.raises(VerificationError) as caught:
        batch_verify(batch, identify_failure=True)
    assert caught.value.index == 3


def test_malformed_members_of_a_mixed_batch_raise_with_their_index(mixed) -> None:
    bpp_statement = mixed[2]
    bad = [
        object(),  # no verification_terms method
        "not a statement",
        dataclasses.replace(bpp_statement, n_bits=12),
        dataclasses.replace(bpp_statement, n_bits=16),  # the proof is for 32 bits
        dataclasses.replace(bpp_statement, proof=mixed[0].proof),  # a Bulletproofs proof in a BP++ statement
        dataclasses.replace(mixed[0], proof=bpp_statement.proof),  # and the converse
    ]
    for member in bad:
        with pytest.raises(VerificationError) as caught:
            batch_verify([*mixed[:5], member, *mixed[5:]])
        assert caught.value.index == 5


def test_non_canonical_scalars_in_a_bpp_proof_are_rejected(mixed) -> None:
    statement = mixed[2]
    proof = statement.proof
    # decoded: an unreduced scalar (+r) is refused by the decoder, never reduced
    encoded = proof.to_bytes()
    offset = len(encoded) - 32
    last = f"n_{len(proof.wnla.n) - 1}"
    with pytest.raises(EncodingError, match=last):
        BppRangeProof.from_bytes(encoded[:offset] + (proof.wnla.n[-1] + R).to_bytes(32, "big"), m=3, n_bits=32)
    assert BppRangeProof.from_bytes(encoded[:offset] + scalar_to_bytes(proof.wnla.n[-1]), m=3, n_bits=32) == proof
    # built in memory: the verifier refuses it too, in a batch with its index
    for field in ("l", "n"):
        values = getattr(proof.wnla, field)
        wnla = dataclasses.replace(proof.wnla, **{field: (values[0] + R, *values[1:])})
        forged = dataclasses.replace(statement, proof=dataclasses.replace(proof, wnla=wnla))
        with pytest.raises(VerificationError, match="WNLA") as caught:
            batch_verify([mixed[0], forged])
        assert caught.value.index == 1


def test_the_verifiers_agree_with_the_batch(mixed) -> None:
    statement = mixed[2]
    verify_range_pp(statement.proof, statement.commitments, statement.context, n_bits=statement.n_bits)
    forged = _false(statement)
    with pytest.raises(VerificationError):
        verify_range_pp(forged.proof, forged.commitments, forged.context, n_bits=forged.n_bits)


@pytest.mark.parametrize("n_bits", [8, 64])
@pytest.mark.parametrize("attack", ["truncated digits", "digit 16"])
def test_a_malicious_bound_proof_of_a_value_outside_the_range_is_rejected(n_bits: int, attack: str,
                                                                          monkeypatch) -> None:
    # a form whose value is 2^n (its constant pushed up by one): the prover's steps run unchecked on the bound
    # transcript (the D digits of 2^n are 0, their sum is not the value) or with a digit 16 (the right sum)
    b = _bound(n_bits, 2)
    # control: the same unchecked steps on the honest openings verify (the harness is the prover)
    honest_proof = bpp._prove(b.values, b.blindings, bpp.bound_range_proof_transcript(2, b.context, n_bits),
                              fr_random, check_witness=False, n_bits=n_bits)
    verify_bound_range_pp(honest_proof, b.forms, n_bits, b.context)
    forms = (dataclasses.replace(b.forms[0], constant=b.forms[0].constant + 1), *b.forms[1:])
    values = [b.values[0] + 1, *b.values[1:]]
    assert values[0] == 1 << n_bits
    if attack == "digit 16":
        honest = bpp._digits
        top = [0] * (n_bits // 4 - 1) + [16]
        monkeypatch.setattr(bpp, "_digits", lambda padded, count: top + honest(padded, count)[count:])
    proof = bpp._prove(values, b.blindings, bpp.bound_range_proof_transcript(2, b.context, n_bits), fr_random,
                       check_witness=False, n_bits=n_bits)
    with pytest.raises(VerificationError):
        verify_bound_range_pp(proof, forms, n_bits, b.context)
    with pytest.raises(VerificationError) as caught:
        batch_verify([BppBoundRangeStatement(proof, forms, n_bits, b.context)], identify_failure=True)
    assert caught.value.index == 0
