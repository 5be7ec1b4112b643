"""Bound range statements: the commitments are public linear forms of points the context binds, so the
transcript does not absorb them and the verifier never computes them (docs/protocol.md, "Bound range
statements"). Honest paths, the separation from ordinary statements, and attacks on the forms."""

from __future__ import annotations

import dataclasses
import random

import pytest

from provers.bulletproofs import (
    BoundRangeStatement,
    CommitmentForm,
    RangeStatement,
    batch_verify,
    prove_bound_range,
    prove_range,
)
from provers.bulletproofs.range_proof import _prove, bound_range_proof_transcript
from zkclear.crypto.field import R, fr_random
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.pedersen import commit
from zkclear.errors import ProvingError, VerificationError, ZkclearError

CONTEXT = b"test/bound-range/context"
RNG = random.Random(20261206)


def _variables(count: int) -> tuple[list[int], list[int], list[G1Point]]:
    values = [RNG.randrange(1 << 20) for _ in range(count)]
    blindings = [fr_random() for _ in range(count)]
    return values, blindings, [commit(v, g) for v, g in zip(values, blindings, strict=True)]


def _statement(n_bits: int = 32, forms_count: int = 4):
    """Forms ``V_j = κ_j·G + Σ a_ji·X_i`` over 5 committed variables, with values in range."""
    values, blindings, points = _variables(5)
    forms, form_values, form_blindings = [], [], []
    for j in range(forms_count):
        coefficients = [RNG.randrange(-3, 4) for _ in points]
        coefficients[j % len(points)] = 5  # distinct forms
        constant = 1 << 24  # |Σ a_i·x_i| < 2^24 here, so every form's value lies in [0, 2^32)
        form_values.append(constant + sum(a * v for a, v in zip(coefficients, values, strict=True)))
        form_blindings.append(sum(a * g for a, g in zip(coefficients, blindings, strict=True)) % R)
        forms.append(CommitmentForm(tuple(points), tuple(coefficients), constant))
    assert all(0 <= v < 1 << n_bits for v in form_values)
    proof = prove_bound_range(form_values, form_blindings, n_bits, CONTEXT)
    return BoundRangeStatement(proof, tuple(forms), n_bits, CONTEXT), form_values, form_blindings


def _evaluate(form: CommitmentForm) -> G1Point:
    return msm([*form.points, G1Point.generator()], [*form.coefficients, form.constant])


def test_an_honest_bound_statement_verifies_alone_and_in_a_batch_with_ordinary_statements() -> None:
    statement, _, _ = _statement()
    batch_verify([statement])
    values, blindings, _ = _variables(2)
    ordinary, commitments = prove_range(values, blindings, 32, CONTEXT)
    batch_verify([statement, RangeStatement(ordinary, tuple(commitments), 32, CONTEXT), statement])


def test_the_verifier_needs_no_commitment_point_but_agrees_with_the_forms_evaluated() -> None:
    statement, values, blindings = _statement()
    # The forms evaluate to the commitments of the proven values: the same statement as an ordinary one.
    assert [_evaluate(form) for form in statement.forms] == [commit(v, g) for v, g in zip(values, blindings,
                                                                                           strict=True)]
    # The same form written differently (X = 2·X − X) is the same commitment: it verifies too, which is why
    # the caller's context, not the transcript, must fix how the forms are built.
    first = statement.forms[0]
    doubled = CommitmentForm((*first.points, first.points[0]),
                             (first.coefficients[0] + 1, *first.coefficients[1:], -1), first.constant)
    batch_verify([dataclasses.replace(statement, forms=(doubled, *statement.forms[1:]))])


def test_a_bound_proof_is_not_an_ordinary_proof_and_an_ordinary_proof_is_not_a_bound_one() -> None:
    statement, values, blindings = _statement()
    commitments = tuple(_evaluate(form) for form in statement.forms)
    with pytest.raises(VerificationError):
        batch_verify([RangeStatement(statement.proof, commitments, 32, CONTEXT)])
    ordinary, _ = prove_range(values, blindings, 32, CONTEXT)
    with pytest.raises(VerificationError):
        batch_verify([dataclasses.replace(statement, proof=ordinary)])


def _tampered(statement: BoundRangeStatement, how: str) -> BoundRangeStatement:
    form = statement.forms[1]
    if how == "coefficient":
        form = dataclasses.replace(form, coefficients=(form.coefficients[0] + 1, *form.coefficients[1:]))
    elif how == "constant":
        form = dataclasses.replace(form, constant=form.constant - 1)
    elif how == "point":
        form = dataclasses.replace(form, points=(form.points[1], form.points[0], *form.points[2:]))
    elif how == "coefficient-mod-r":  # a coefficient that wraps around r is another form, not the same one
        form = dataclasses.replace(form, coefficients=(form.coefficients[0] + R + 1, *form.coefficients[1:]))
    forms = list(statement.forms)
    if how == "order":
        forms[0], forms[1] = forms[1], forms[0]
    elif how == "dropped":
        forms.pop()
    elif how == "added":
        forms.append(forms[0])
    else:
        forms[1] = form
    return dataclasses.replace(statement, forms=tuple(forms))


@pytest.mark.parametrize("how", ["coefficient", "constant", "point", "coefficient-mod-r", "order", "dropped",
                                 "added"])
def test_every_change_of_the_forms_is_rejected(how: str) -> None:
    statement, _, _ = _statement()
    with pytest.raises(VerificationError):
        batch_verify([_tampered(statement, how)])


def test_another_context_is_rejected() -> None:
    statement, _, _ = _statement()
    with pytest.raises(VerificationError):
        batch_verify([dataclasses.replace(statement, context=CONTEXT + b"/another")])


@pytest.mark.parametrize("bad", [1 << 32, R - 1])
def test_an_out_of_range_value_from_a_malicious_prover_is_rejected(bad: int) -> None:
    _, blindings, _ = _variables(2)
    # Form 0 is X_0 itself, whose opening the malicious prover replaces by an out-of-range value it commits to.
    blinding = fr_random()
    point = commit(bad, blinding)
    transcript = bound_range_proof_transcript(32, 2, CONTEXT)
    proof = _prove([bad, 7], [blinding, blindings[1]], 32, transcript, fr_random, check_witness=False)
    seven = commit(7, blindings[1])
    forms = (CommitmentForm((point,), (1,)), CommitmentForm((seven,), (1,)))
    with pytest.raises(VerificationError):
        batch_verify([BoundRangeStatement(proof, forms, 32, CONTEXT)])
    with pytest.raises(ProvingError):
        prove_bound_range([bad, 7], [blinding, blindings[1]], 32, CONTEXT)


def test_a_failing_bound_statement_is_identified_in_a_batch() -> None:
    good, _, _ = _statement()
    bad = _tampered(_statement()[0], "constant")
    with pytest.raises(VerificationError) as caught:
        batch_verify([good, bad, good], identify_failure=True)
    assert caught.value.index == 1


@pytest.mark.parametrize("points, coefficients, constant", [
    ((G1Point.generator(),), (), 0),                  # one coefficient per point
    ((b"not a point",), (1,), 0),
    ((G1Point.generator(),), (1.5,), 0),
    ((G1Point.generator(),), (True,), 0),
    ((G1Point.generator(),), (1,), "0"),
])
def test_a_malformed_form_is_refused(points, coefficients, constant) -> None:
    with pytest.raises(VerificationError):
        CommitmentForm(points, coefficients, constant)


def test_a_statement_of_something_else_than_forms_is_refused() -> None:
    statement, _, _ = _statement()
    with pytest.raises(VerificationError):
        BoundRangeStatement(statement.proof, (G1Point.generator(),), 32, CONTEXT)
    with pytest.raises(VerificationError):
        BoundRangeStatement(statement.proof, 5, 32, CONTEXT)


def _leaf_changes(value):
    """Every value that differs from ``value`` in exactly one leaf (an int plus one, a string extended), rebuilt
    through the dataclasses' constructors; values the constructors refuse are left out."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value + 1
    elif isinstance(value, str):
        yield value + "x"
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            for changed in _leaf_changes(item):
                yield (*value[:index], changed, *value[index + 1:])
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            for changed in _leaf_changes(getattr(value, field.name)):
                try:
                    yield dataclasses.replace(value, **{field.name: changed})
                except (ZkclearError, ValueError, TypeError):  # a value the constructor refuses: no public data
                    continue


def test_the_public_data_digest_covers_every_field_the_forms_depend_on() -> None:
    """A collateral part's context binds its forms through ``public.digest()`` (with the batch's commitments): every
    leaf of the public data — prices, lines, charges, scenarios, assets, widths, label — must change the digest, or a
    statement could change under the same context."""
    from circuits.examples import options_portfolio, with_collateral_assets

    public = with_collateral_assets(options_portfolio(2, 2), 2)
    assert public.scenario_margin is not None and public.assets
    digest = public.digest()
    changed = list(_leaf_changes(public))
    assert len(changed) > 100
    for other in changed:
        assert other.digest() != digest, other
