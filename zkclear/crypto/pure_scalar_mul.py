"""Variable-base scalar multiplication on G1 for the pure engine: the GLV split of a scalar into two half-size
parts, signed-digit recoding, and ``glv_mul`` (signed 5-bit windows over the point and its endomorphic image)."""

from __future__ import annotations

from zkclear.crypto.field import R
from zkclear.crypto.pure_curve import (
    GLV_HALF_BITS,
    GLV_LAMBDA,
    INFINITY,
    MPZ_ONE,
    MPZ_P,
    AffinePoint,
    JacobianPoint,
    batch_to_affine,
    endomorphism,
    jacobian_add_affine,
    jacobian_double,
)


def glv_split(k: int) -> tuple[int, int]:
    """(k1, k2) with k = k1 + k2·LAMBDA (mod R) and 0 <= k1, k2 < 2^128, for 0 <= k < R.

    LAMBDA = z^2 - 1 is itself ~2^128 and R = LAMBDA^2 + LAMBDA + 1, so plain division
    already gives two half-size parts (no lattice reduction is needed on this curve).
    """
    k2, k1 = divmod(k, GLV_LAMBDA)
    return k1, k2


def signed_digits(k: int, window_bits: int, count: int) -> list[int]:
    """Digits d_j in [-2^(w-1), 2^(w-1)] with k = Σ d_j·2^(w·j), least significant first.

    ``count`` digits must suffice: k < 2^(w·count - 1).
    """
    full = 1 << window_bits
    half = full >> 1
    mask = full - 1
    digits = []
    for _ in range(count):
        d = k & mask
        k >>= window_bits
        if d > half:
            d -= full
            k += 1
        digits.append(d)
    if k:
        raise ValueError("signed_digits: scalar too large for the digit count")
    return digits


_MUL_WINDOW = 5


def _multiples(point: AffinePoint, count: int) -> list[AffinePoint]:
    """[1·point, 2·point, ..., count·point] in affine form, for a point of order > count."""
    jacobian = [(point[0], point[1], MPZ_ONE)]
    for _ in range(count - 1):
        jacobian.append(jacobian_add_affine(jacobian[-1], *point))
    return batch_to_affine(jacobian)  # type: ignore[return-value]


def glv_mul(p1: JacobianPoint, scalar: int) -> JacobianPoint:
    """scalar·P1 for P1 in G1 (scalar reduced mod R), via GLV and signed 5-bit windows."""
    k = scalar % R
    affine = batch_to_affine([p1])[0]
    if affine is None or not k:
        return INFINITY
    k1, k2 = glv_split(k)
    count = -(-GLV_HALF_BITS // _MUL_WINDOW)
    digits1 = signed_digits(k1, _MUL_WINDOW, count)
    digits2 = signed_digits(k2, _MUL_WINDOW, count)
    table = _multiples(affine, 1 << (_MUL_WINDOW - 1))
    table_phi = [endomorphism(pt) for pt in table]
    acc = INFINITY
    for d1, d2 in zip(reversed(digits1), reversed(digits2), strict=True):
        for _ in range(_MUL_WINDOW):
            acc = jacobian_double(acc)
        if d1:
            x, y = table[abs(d1) - 1]
            acc = jacobian_add_affine(acc, x, y if d1 > 0 else MPZ_P - y)
        if d2:
            x, y = table_phi[abs(d2) - 1]
            acc = jacobian_add_affine(acc, x, y if d2 > 0 else MPZ_P - y)
    return acc

