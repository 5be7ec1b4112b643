"""Pedersen commitments: agreement with py-ecc, homomorphism, openings, misuse rejected."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381 import add, multiply, normalize

from zkclear.crypto.field import R
from zkclear.crypto.generators import generator_vector, pedersen_generators
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.pedersen import Opening, commit, commit_many, commit_vector, verify_opening


def _reference_point(point: G1Point) -> tuple[FQ, FQ, FQ]:
    x, y = point.affine()
    return (FQ(x), FQ(y), FQ(1))


def _reference_commit(value: int, blinding: int) -> tuple[int, int]:
    """value·G + blinding·H computed by py-ecc on the same points' affine coordinates."""
    G, H = pedersen_generators()
    total = add(multiply(_reference_point(G), value % R), multiply(_reference_point(H), blinding % R))
    x, y = normalize(total)
    return (x.n, y.n)


@pytest.mark.parametrize(
    ("value", "blinding"),
    [
        (0, 1),
        (1, 0),
        (1_000_000_007, 0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0),
        (R - 1, R - 2),
        (-5, 2**254 + 17),  # a negative value is committed as R - 5
    ],
)
def test_commit_matches_py_ecc_reference(value: int, blinding: int) -> None:
    assert commit(value, blinding).affine() == _reference_commit(value, blinding)


def test_commit_reduces_scalars_mod_r() -> None:
    assert commit(-5, 7) == commit(R - 5, 7)
    assert commit(3 + R, 7 + 2 * R) == commit(3, 7)
    assert commit(0, 0).is_identity()


def test_commitments_are_additively_homomorphic() -> None:
    v1, r1, v2, r2 = 1_234, 98_765_432_109, 4_321, 12_345_678_901_234
    c1, c2 = commit(v1, r1), commit(v2, r2)
    assert c1 + c2 == commit(v1 + v2, r1 + r2)
    assert c1 - c2 == commit(v1 - v2, r1 - r2)
    assert c1 * 7 == commit(7 * v1, 7 * r1)
    assert -c1 == commit(-v1, -r1)


def test_commit_binds_roles_of_value_and_blinding() -> None:
    assert commit(5, 9) != commit(9, 5)
    assert commit(5, 9) != commit(6, 9)
    assert commit(5, 9) != commit(5, 10)


def test_commit_many_equals_commit_one_by_one() -> None:
    values = [0, 1, -1, 10**12, 2**63]
    blindings = [11, 22, 33, 44, 55]
    assert commit_many(values, blindings) == [commit(v, r) for v, r in zip(values, blindings, strict=True)]
    assert commit_many([], []) == []


def test_commit_many_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        commit_many([1, 2], [3])


def test_commit_vector_is_the_sum_over_generators_plus_blinding() -> None:
    gens = generator_vector(b"zkclear-test/pedersen-vector", 4)
    values = [3, 0, -2, 10**9]
    blinding = 777
    _, H = pedersen_generators()
    expected = gens[0] * 3 + gens[2] * (R - 2) + gens[3] * 10**9 + H * blinding
    assert commit_vector(values, blinding, gens) == expected
    assert commit_vector([], blinding, []) == H * blinding
    assert msm(gens, values) + H * blinding == expected


def test_commit_vector_rejects_mismatched_lengths() -> None:
    gens = generator_vector(b"zkclear-test/pedersen-vector", 4)
    with pytest.raises(ValueError):
        commit_vector([1, 2, 3], 5, gens)


def test_opening_arithmetic_mirrors_the_homomorphism() -> None:
    a = Opening(100, 123_456_789)
    b = Opening(-30, R - 5)
    ca, cb = a.commitment(), b.commitment()
    assert verify_opening(ca + cb, a + b)
    assert verify_opening(ca - cb, a - b)
    assert verify_opening(ca * 12, a.scale(12))
    assert verify_opening(-ca, -a)
    assert (a - b).value == 130  # values stay exact integers
    assert (a + b).blinding == (123_456_789 - 5) % R  # blindings are reduced mod R


def test_verify_opening_rejects_wrong_openings() -> None:
    opening = Opening(42, 987_654_321)
    commitment = commit(42, 987_654_321)
    assert verify_opening(commitment, opening)
    assert not verify_opening(commitment, Opening(43, 987_654_321))
    assert not verify_opening(commitment, Opening(42, 987_654_322))
    assert not verify_opening(commitment, Opening(987_654_321, 42))  # roles swapped
    assert not verify_opening(commitment + G1Point.generator(), opening)


def test_opening_is_frozen_typed_and_does_not_print_secrets() -> None:
    opening = Opening(42, 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opening.value = 1  # type: ignore[misc]
    assert "42" not in repr(opening)
    assert Opening(1, R + 3) == Opening(1, 3)
    with pytest.raises(TypeError):
        Opening(1.5, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Opening(True, 3)


def test_opening_survives_pickling_for_executor_workers() -> None:
    opening = Opening(-7, 123)
    assert pickle.loads(pickle.dumps(opening)) == opening


def test_non_integer_values_are_refused() -> None:
    with pytest.raises(TypeError):
        commit(1.0, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        commit_many([1, 2.5], [3, 4])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        commit_vector([1.5], 2, generator_vector(b"zkclear-test/pedersen-vector", 1))  # type: ignore[list-item]


def test_numpy_integers_commit_like_python_ints() -> None:
    import numpy  # a core dependency of zkclear
    assert commit(numpy.int64(-5), numpy.uint32(9)) == commit(-5, 9)
