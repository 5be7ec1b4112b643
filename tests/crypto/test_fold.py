"""Many points times one scalar (``fold_points``): the pure engine's lock-step chains against one
multiplication per point, on both engines, including the identity, cancellations and equal points."""

from __future__ import annotations

import pytest

from zkclear.crypto.field import R, fr_random
from zkclear.crypto.group import G1Point, fold_points
from zkclear.crypto.pure_curve import batch_to_affine, jacobian_add
from zkclear.crypto.pure_fold import fold_scaled
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
