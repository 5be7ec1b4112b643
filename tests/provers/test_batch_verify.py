"""Batch verification: many proofs of different n and m, one multi-scalar multiplication."""

from __future__ import annotations

import dataclasses

import pytest

from provers.bulletproofs import RangeStatement, batch_verify, prove_range, verify_range
from provers.bulletproofs import batch as batch_module
from provers.bulletproofs import range_proof as range_proof_module
from zkclear.crypto.field import R, fr_random
from zkclear.crypto.pedersen import commit
from zkclear.errors import VerificationError

SHAPES = [(8, 1), (16, 3), (8, 2), (32, 1), (8, 4), (64, 1)]


@pytest.fixture(scope="module")
def statements() -> list[RangeStatement]:
    out = []
    for index, (n_bits, m) in enumerate(SHAPES):
        context = f"epoch=3/kind=account/index={index}".encode()
        values = [(index * 37 + j) % (1 << n_bits) for j in range(m)]
        proof, commitments = prove_range(values, [fr_random() for _ in range(m)], n_bits, context)
        out.append(RangeStatement(proof, commitments, n_bits, context))
    return out


def _with_bad(statements: list[RangeStatement], index: int) -> list[RangeStatement]:
    bad = statements[index]
    forged = dataclasses.replace(bad.proof, t_hat=(bad.proof.t_hat + 1) % R)
    return [*statements[:index], dataclasses.replace(bad, proof=forged), *statements[index + 1:]]


def test_batch_of_valid_proofs_of_different_sizes_verifies(statements) -> None:
    batch_verify(statements)
    batch_verify(statements, identify_failure=True)


def test_empty_batch_verifies() -> None:
    batch_verify([])


def test_batch_uses_exactly_one_multi_scalar_multiplication(statements, monkeypatch) -> None:
    calls = []
    real_msm = range_proof_module.msm

    def counting_msm(points, scalars):
        calls.append(len(points))
        return real_msm(points, scalars)

    monkeypatch.setattr(range_proof_module, "msm", counting_msm)
    batch_verify(statements)
    assert len(calls) == 1
    # the shared generators appear once: 2·max(N) + G + H + per-proof points
    max_N = max(n * (1 << (m - 1).bit_length()) for n, m in SHAPES)
    per_proof = sum(4 + 2 * len(s.proof.ipp.L_vec) + len(s.commitments) for s in statements)
    assert calls[0] == 2 * max_N + 2 + per_proof
    calls.clear()
    verify_range(statements[0].proof, statements[0].commitments, statements[0].n_bits, statements[0].context)
    assert len(calls) == 1


@pytest.mark.parametrize("bad_index", [0, 3, 5])
def test_batch_with_one_bad_proof_is_rejected_and_the_bad_one_named(statements, bad_index: int) -> None:
    batch = _with_bad(statements, bad_index)
    with pytest.raises(VerificationError) as plain:
        batch_verify(batch)
    assert plain.value.index is None
    with pytest.raises(VerificationError) as named:
        batch_verify(batch, identify_failure=True)
    assert named.value.index == bad_index


def test_batch_with_a_swapped_commitment_is_rejected(statements) -> None:
    victim = statements[1]
    swapped = dataclasses.replace(victim, commitments=(commit(1, 1), *victim.commitments[1:]))
    batch = [*statements[:1], swapped, *statements[2:]]
    with pytest.raises(VerificationError) as error:
        batch_verify(batch, identify_failure=True)
    assert error.value.index == 1


def test_batch_with_a_replayed_context_is_rejected(statements) -> None:
    replayed = dataclasses.replace(statements[2], context=statements[3].context)
    with pytest.raises(VerificationError) as error:
        batch_verify([*statements[:2], replayed, *statements[3:]], identify_failure=True)
    assert error.value.index == 2


def test_malformed_statement_is_reported_with_its_index(statements) -> None:
    wrong_size = dataclasses.replace(statements[4], n_bits=16)  # round count no longer matches
    with pytest.raises(VerificationError) as error:
        batch_verify([*statements[:4], wrong_size])
    assert error.value.index == 4
    with pytest.raises(VerificationError) as error:
        batch_verify([statements[0], "not a statement"])
    assert error.value.index == 1


def test_two_bad_proofs_in_one_batch_are_rejected_and_the_first_named(statements) -> None:
    first, second = statements[1], statements[4]
    up = dataclasses.replace(first.proof, tau_x=(first.proof.tau_x + 1) % R)
    down = dataclasses.replace(second.proof, tau_x=(second.proof.tau_x - 1) % R)
    batch = list(statements)
    batch[1] = dataclasses.replace(first, proof=up)
    batch[4] = dataclasses.replace(second, proof=down)
    with pytest.raises(VerificationError) as error:
        batch_verify(batch, identify_failure=True)
    assert error.value.index == 1


def test_batch_weights_come_from_the_os_random_source(statements, monkeypatch) -> None:
    drawn = []

    def recording_random() -> int:
        drawn.append(fr_random())
        return drawn[-1]

    monkeypatch.setattr(batch_module, "fr_random", recording_random)
    batch_verify(statements)
    # one weight and one combining scalar c per statement, all distinct
    assert len(drawn) == 2 * len(statements) and len(set(drawn)) == len(drawn)
