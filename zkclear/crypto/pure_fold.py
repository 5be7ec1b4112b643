"""Many points times one scalar, in lock step: ``lo_i + k·hi_i`` for every i (the pure engine).

The inner-product prover folds its generator vectors every round with one scalar per round
(``G ← G_lo + k·G_hi``). Done point by point, each product is a GLV multiplication in Jacobian
coordinates (about 335 µs). Because the scalar is shared, every point follows the same chain of
doublings and additions, so the whole vector can advance one step at a time in *affine*
coordinates with one field inversion per block of points (Montgomery's trick): a doubling or an
addition then costs about 6–7 multiplications instead of 9–11 (measured in docs/performance.md).

Steps: GLV split ``k = k1 + k2·λ``; signed 5-bit digits of both halves (26 each); per point the
multiples ``1..16·P`` (one doubling and 14 additions, all batched) and their images under
``φ(x, y) = (β·x, y) = [λ]P``; then from the top window down: 5 batched doublings, one batched
addition for the digit of k1 and one for the digit of k2. Every point has the same control
flow. An intermediate sum that meets its addend (equal x) goes through the exact slow path of
:func:`~zkclear.crypto.pure_curve.batch_add_xy`; a point whose chain ever reaches infinity (which
needs a partial scalar ≡ 0 mod r) is recomputed alone by :func:`~zkclear.crypto.pure_scalar_mul.glv_mul`.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.crypto.field import R
from zkclear.crypto.pure_curve import (
    BATCH_BLOCK,
    GLV_HALF_BITS,
    INFINITY,
    MPZ_BETA,
    MPZ_ONE,
    MPZ_P,
    JacobianPoint,
    batch_add_xy,
    batch_to_affine,
    invert,
    jacobian_add,
)
from zkclear.crypto.pure_g1 import PureBackend
from zkclear.crypto.pure_scalar_mul import glv_mul, glv_split, signed_digits

_WINDOW = 5
_TABLE = 1 << (_WINDOW - 1)  # multiples 1..16
#: Below this many points the per-point path is as fast (the batched steps have fixed costs).
_MIN_BATCH = 8


def batch_double_xy(xs: Sequence[int], ys: Sequence[int]) -> tuple[list[int], list[int]]:
    """Affine doubling of finite points with y != 0 (every point of G1 but the identity), one
    inversion per block: λ = 3x²/(2y), x' = λ² − 2x, y' = λ(x − x') − y."""
    out_x: list[int] = []
    out_y: list[int] = []
    p = MPZ_P
    for start in range(0, len(xs), BATCH_BLOCK):
        bx, by = xs[start:start + BATCH_BLOCK], ys[start:start + BATCH_BLOCK]
        prefix = []
        acc = MPZ_ONE
        for y in by:
            prefix.append(acc)
            acc = acc * (y + y) % p
        inv = invert(acc, p)
        block_x: list[int] = []
        block_y: list[int] = []
        for x, y, before in zip(reversed(bx), reversed(by), reversed(prefix), strict=True):
            lam = 3 * x * x * inv * before % p
            inv = inv * (y + y) % p
            x3 = (lam * lam - x - x) % p
            block_x.append(x3)
            block_y.append((lam * (x - x3) - y) % p)
        block_x.reverse()
        block_y.reverse()
        out_x += block_x
        out_y += block_y
    return out_x, out_y


def _select(table_x: list[list[int]], table_y: list[list[int]], digit: int) -> tuple[list[int], list[int]]:
    """Column |digit| of the tables, negated when digit < 0."""
    column_x = table_x[abs(digit) - 1]
    column_y = table_y[abs(digit) - 1]
    if digit > 0:
        return column_x, column_y
    p = MPZ_P
    return column_x, [p - y for y in column_y]


def fold_scaled(lo: Sequence[JacobianPoint], hi: Sequence[JacobianPoint], k: int) -> list[JacobianPoint]:
    """``[lo[i] + k·hi[i] for i]`` for points of G1, with the shared scalar k (reduced mod R)."""
    if len(lo) != len(hi):
        raise ValueError(f"fold: {len(lo)} low points but {len(hi)} high points")
    k %= R
    count = len(hi)
    if count < _MIN_BATCH or not k:
        return [jacobian_add(a, glv_mul(b, k)) for a, b in zip(lo, hi, strict=True)]
    hi_affine = batch_to_affine(hi)
    bad = {i for i, pt in enumerate(hi_affine) if pt is None}
    if len(bad) == count:
        return list(lo)  # k·O = O
    # Stand-ins keep the lock step for the (identity) points that are handled alone at the end.
    good = next(pt for pt in hi_affine if pt is not None)
    xs = [(pt or good)[0] for pt in hi_affine]
    ys = [(pt or good)[1] for pt in hi_affine]

    # multiples 1..16 of every point, and their images under the endomorphism
    table_x = [xs]
    table_y = [ys]
    dx, dy = batch_double_xy(xs, ys)
    table_x.append(dx)
    table_y.append(dy)
    for _ in range(_TABLE - 2):
        nx, ny, cancelled = batch_add_xy(table_x[-1], table_y[-1], xs, ys)
        bad.update(cancelled)
        table_x.append(nx)
        table_y.append(ny)
    p, beta = MPZ_P, MPZ_BETA
    phi_x = [[beta * x % p for x in column] for column in table_x]

    k1, k2 = glv_split(k)
    windows = -(-GLV_HALF_BITS // _WINDOW)
    digits1 = signed_digits(k1, _WINDOW, windows)
    digits2 = signed_digits(k2, _WINDOW, windows)
    acc_x: list[int] | None = None
    acc_y: list[int] = []
    for d1, d2 in zip(reversed(digits1), reversed(digits2), strict=True):
        if acc_x is not None:
            for _ in range(_WINDOW):
                acc_x, acc_y = batch_double_xy(acc_x, acc_y)
        for digit, columns_x in ((d1, table_x), (d2, phi_x)):
            if not digit:
                continue
            term_x, term_y = _select(columns_x, table_y, digit)
            if acc_x is None:
                acc_x, acc_y = list(term_x), list(term_y)
                continue
            acc_x, acc_y, cancelled = batch_add_xy(acc_x, acc_y, term_x, term_y)
            bad.update(cancelled)
    assert acc_x is not None  # k != 0, so some digit is non-zero

    lo_affine = batch_to_affine(lo)
    out: list[JacobianPoint] = [INFINITY] * count
    pairs = [i for i in range(count) if i not in bad and lo_affine[i] is not None]
    sum_x, sum_y, cancelled = batch_add_xy([lo_affine[i][0] for i in pairs], [lo_affine[i][1] for i in pairs],
                                           [acc_x[i] for i in pairs], [acc_y[i] for i in pairs])
    cancelled_set = set(cancelled)
    for position, i in enumerate(pairs):
        if position not in cancelled_set:
            out[i] = (sum_x[position], sum_y[position], MPZ_ONE)
    for i in range(count):
        if i in bad:
            out[i] = jacobian_add(lo[i], glv_mul(hi[i], k))
        elif lo_affine[i] is None:
            out[i] = (acc_x[i], acc_y[i], MPZ_ONE)
    return out


class FoldingPureBackend(PureBackend):
    """The pure engine with the lock-step fold (what ``ZKCLEAR_BACKEND=pure`` selects)."""

    def fold(self, lo: Sequence[JacobianPoint], hi: Sequence[JacobianPoint], k: int) -> list[JacobianPoint]:
        return fold_scaled(lo, hi, k)
