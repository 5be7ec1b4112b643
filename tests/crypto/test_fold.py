"""Many points times one scalar (``fold_points``): the pure engine's lock-step chains against one
multiplication per point, on both engines, including the identity, cancellations and equal points."""

from __future__ import annotations

import pytest

from zkclear.crypto.field import R, fr_random
from zkclear.crypto.group import G1Point, combine_points, fold_points
from zkclear.crypto.pure_curve import batch_to_affine, jacobian_add
from zkclear.crypto.pure_fold import combine_scaled, fold_scaled, wnaf_digits
from zkclear.crypto.pure_g1 import PureBackend
from zkclear.crypto.pure_scalar_mul import glv_mul

BASE = PureBackend().generator()


def _points(count: int) -> list[tuple]:
    return [glv_mul(BASE, fr_random()) for _ in range(count)]


def _affine(points):
    return batch_to_affine(points)


@pytest.mark.parametrize("k", [1, 2, 3, 16, 17, R - 1, (1 << 128) + 5, None])
def test_lock_step_fold_equals_one_multiplication_per_point(k):
    k = fr_random() if k is None else k
    lo, hi = _points(40), _points(40)
    expected = [jacobian_add(a, glv_mul(b, k)) for a, b in zip(lo, hi, strict=True)]
    assert _affine(fold_scaled(lo, hi, k)) == _affine(expected)


def test_lock_step_fold_handles_the_identity_cancellations_and_repeated_points():
    k = fr_random()
    identity = (1, 1, 0)
    hi = _points(12)
    lo = _points(12)
    hi[0] = identity                                   # k·O = O: the result is lo
    lo[1] = identity                                   # O + k·P
    lo[2] = glv_mul(hi[2], R - k)                      # lo = −k·hi: the sum is the identity
    hi[3] = hi[4]                                      # the same point twice
    lo[5] = glv_mul(hi[5], k)                          # lo = k·hi: the sum is a doubling
    expected = [jacobian_add(a, glv_mul(b, k)) for a, b in zip(lo, hi, strict=True)]
    assert _affine(fold_scaled(lo, hi, k)) == _affine(expected)
    assert _affine(fold_scaled([identity] * 9, [identity] * 9, k)) == [None] * 9
    assert _affine(fold_scaled(lo, hi, 0)) == _affine(lo)


def test_fold_points_is_the_same_on_the_public_api_and_per_point():
    k = fr_random()
    lo = [G1Point.generator() * fr_random() for _ in range(20)]
    hi = [G1Point.generator() * fr_random() for _ in range(20)]
    assert fold_points(lo, hi, k) == [a + b * k for a, b in zip(lo, hi, strict=True)]
    with pytest.raises(ValueError):
        fold_points(lo, hi[:3], k)


def test_the_native_engine_folds_like_the_pure_one():
    native = pytest.importorskip("zkclear.crypto.arkworks_g1").ArkworksBackend()
    pure = PureBackend()
    k = fr_random()
    lo, hi = _points(10), _points(10)
    native_lo = [native.from_affine(xy) for xy in _affine(lo)]
    native_hi = [native.from_affine(xy) for xy in _affine(hi)]
    assert [native.to_affine(p) for p in native.fold(native_lo, native_hi, k)] == \
        [pure.to_affine(p) for p in fold_scaled(lo, hi, k)]


def _combined_per_point(vectors, scalars):
    out = []
    for i in range(len(vectors[0])):
        total = (1, 1, 0)
        for column, k in zip(vectors, scalars, strict=True):
            total = jacobian_add(total, glv_mul(column[i], k))
        out.append(total)
    return out


@pytest.mark.parametrize("k", [1, 2, 15, 16, 17, 31, (1 << 128) - 1, 1 << 128, R - 1])
def test_width_5_naf_digits_recompose_the_scalar(k):
    digits = wnaf_digits(k)
    assert sum(d << i for i, d in enumerate(digits)) == k
    assert all(d == 0 or (d % 2 and abs(d) < 16) for d in digits)
    assert all(sum(1 for d in digits[i:i + 5] if d) <= 1 for i in range(len(digits)))
    assert wnaf_digits(0) == []


def test_lock_step_combination_equals_one_msm_per_index():
    # What the inner-product collapse asks: Σ_r c_r·P_{4j+r} with c_0 = 1 (a plain addition), scalars of
    # every size, a zero scalar; the identity, repeated points, a sum that cancels and one that doubles.
    a, b = fr_random(), fr_random()
    identity = (1, 1, 0)
    vectors = [_points(12) for _ in range(4)]
    scalars = [1, a, b, a * b % R]
    vectors[1][0] = identity
    vectors[0][1] = identity
    vectors[2][2] = vectors[1][2]                                      # the same point twice
    vectors[3][3] = glv_mul(vectors[1][3], (R - a) * pow(scalars[3], -1, R) % R)  # c3·P3 = −c1·P1
    vectors[0][4] = glv_mul(vectors[1][4], a)                          # P0 = a·P1: a doubling
    assert _affine(combine_scaled(vectors, scalars)) == _affine(_combined_per_point(vectors, scalars))
    small = [1, 2, 0, R - 1]
    assert _affine(combine_scaled(vectors, small)) == _affine(_combined_per_point(vectors, small))
    assert _affine(combine_scaled([[identity] * 9] * 2, [a, b])) == [None] * 9
    with pytest.raises(ValueError):
        combine_scaled(vectors, scalars[:3])


def test_combine_points_is_the_same_on_the_public_api_and_per_point():
    scalars = [1, fr_random(), fr_random()]
    vectors = [[G1Point.generator() * fr_random() for _ in range(10)] for _ in scalars]
    expected = [sum((column[i] * k for column, k in zip(vectors, scalars, strict=True)), G1Point.identity())
                for i in range(10)]
    assert combine_points(vectors, scalars) == expected
    with pytest.raises(ValueError):
        combine_points(vectors, scalars[:2])


def test_the_native_engine_combines_like_the_pure_one():
    native = pytest.importorskip("zkclear.crypto.arkworks_g1").ArkworksBackend()
    scalars = [1, fr_random(), fr_random(), 0]
    vectors = [_points(9) for _ in scalars]
    native_vectors = [[native.from_affine(xy) for xy in _affine(column)] for column in vectors]
    expected = _affine(combine_scaled(vectors, scalars))
    assert [native.to_affine(p) for p in native.combine(native_vectors, scalars)] == expected
    assert _affine(PureBackend().combine(vectors, scalars)) == expected
