"""Many points times one scalar, in lock step: ``lo_i + k·hi_i`` for every i (the pure engine), and its
generalization ``Σ_j k_j·V_j[i]`` for a few vectors V_j with one shared scalar each (:func:`combine_scaled`).

The inner-product prover folds its generator vectors every round with one scalar per round
(``G ← G_lo + k·G_hi``). Done point by point, each product is a GLV multiplication in Jacobian
coordinates (about 335 µs). Because the scalar is shared, every point follows the same chain of
doublings and additions, so the whole vector can advance one step at a time in *affine*
coordinates with one field inversion per block of points (Montgomery's trick): a doubling or an
addition then costs about 6–7 multiplications instead of 9–11 (measured in docs/performance.md).

Steps: GLV split ``k = k1 + k2·λ``; width-5 NAF digits of both halves (odd, |d| < 16, about one
position in six non-zero); per point the odd multiples ``1, 3, .., 15·P`` (one doubling and seven
additions, all batched) and their images under ``φ(x, y) = (β·x, y) = [λ]P``; then from the top bit
down: one batched doubling, and one batched addition per non-zero digit. With several vectors
(the WNLA's collapse of tracked rounds: ``P_0 + a·P_1 + b·P_2 + ab·P_3``) the doublings are shared by
all their digits. Every point has the same control flow. An intermediate sum that meets its addend
(equal x) goes through the exact slow path of :func:`~zkclear.crypto.pure_curve.batch_add_xy`; a point
whose chain ever reaches infinity (which needs a partial scalar ≡ 0 mod r), or that holds the identity,
is recomputed alone by :func:`~zkclear.crypto.pure_scalar_mul.glv_mul` (a stand-in keeps its lane going).
"""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.crypto.field import R
from zkclear.crypto.pure_curve import (
    INFINITY,
    MPZ_BETA,
    MPZ_ONE,
    MPZ_P,
    JacobianPoint,
    batch_add_xy,
    batch_double_xy,
    batch_to_affine,
    jacobian_add,
)
from zkclear.crypto.pure_g1 import PureBackend
from zkclear.crypto.pure_scalar_mul import glv_mul, glv_split

_WINDOW = 5
#: Odd multiples 1·P, 3·P, ..., 15·P: what width-5 NAF digits (odd, |d| < 16) select.
_ODD_MULTIPLES = 1 << (_WINDOW - 2)
#: Below this many points the per-point path is as fast (the batched steps have fixed costs).
_MIN_BATCH = 8


def wnaf_digits(k: int, window_bits: int = _WINDOW) -> list[int]:
    """Width-w NAF of k >= 0, least significant first: every non-zero digit is odd with |d| < 2^(w-1),
    and of any w consecutive digits at most one is non-zero (one digit in w + 1 on average)."""
    full = 1 << window_bits
    half = full >> 1
    digits = []
    while k:
        d = 0
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        digits.append(d)
        k >>= 1
    return digits


def _replace(xs: list[int], ys: list[int], indices: Sequence[int], stand_in: tuple[int, int]) -> None:
    """Put a stand-in point at ``indices`` (chains that met infinity, recomputed alone at the end), so that
    the lock step never doubles a placeholder."""
    for i in indices:
        xs[i], ys[i] = stand_in


def _odd_multiples(xs: list[int], ys: list[int], bad: set[int], stand_in: tuple[int, int]
                   ) -> tuple[list[list[int]], list[list[int]]]:
    """Columns j = 0.._ODD_MULTIPLES-1 of (2j + 1)·P for every point P: one doubling and seven additions."""
    table_x, table_y = [xs], [ys]
    dx, dy = batch_double_xy(xs, ys)
    for _ in range(_ODD_MULTIPLES - 1):
        nx, ny, cancelled = batch_add_xy(table_x[-1], table_y[-1], dx, dy)
        bad.update(cancelled)
        _replace(nx, ny, cancelled, stand_in)
        table_x.append(nx)
        table_y.append(ny)
    return table_x, table_y


def _lock_step_sum(
    his: Sequence[Sequence[JacobianPoint]], scalars: Sequence[int], bad: set[int]
) -> tuple[list[int], list[int]] | None:
    """Affine ``Σ_j scalars[j]·his[j][i]`` for every i (scalars in [1, R)), all chains in lock step; indices
    whose chain meets infinity (or holds the identity) are added to ``bad`` and their coordinates are
    meaningless. None when every index is bad.

    Each scalar is split by GLV into two halves of at most 128 bits, each recoded in width-5 NAF; one
    doubling per bit is shared by all of them, and each non-zero digit is one batched addition of a
    precomputed odd multiple (of the point, or of its image under φ for the second half).
    """
    count = len(his[0])
    affine = batch_to_affine([pt for column in his for pt in column])
    for j in range(len(his)):
        bad.update(i for i in range(count) if affine[j * count + i] is None)
    if len(bad) == count:
        return None
    good = next(i for i in range(count) if i not in bad)
    stand_in = affine[good]
    p, beta = MPZ_P, MPZ_BETA
    streams: list[tuple[list[list[int]], list[list[int]], list[int]]] = []
    for j, k in enumerate(scalars):
        column = [pt or affine[j * count + good] for pt in affine[j * count:(j + 1) * count]]
        table_x, table_y = _odd_multiples([pt[0] for pt in column], [pt[1] for pt in column], bad, stand_in)
        phi_x = [[beta * x % p for x in xs] for xs in table_x]
        k1, k2 = glv_split(k)
        streams.append((table_x, table_y, wnaf_digits(k1)))
        streams.append((phi_x, table_y, wnaf_digits(k2)))
    acc_x: list[int] | None = None
    acc_y: list[int] = []
    for bit in range(max(len(digits) for _, _, digits in streams) - 1, -1, -1):
        if acc_x is not None:
            acc_x, acc_y = batch_double_xy(acc_x, acc_y)
        for table_x, table_y, digits in streams:
            digit = digits[bit] if bit < len(digits) else 0
            if not digit:
                continue
            term_x = table_x[abs(digit) >> 1]
            term_y = table_y[abs(digit) >> 1]
            if digit < 0:
                term_y = [p - y for y in term_y]
            if acc_x is None:
                acc_x, acc_y = list(term_x), list(term_y)
                continue
            acc_x, acc_y, cancelled = batch_add_xy(acc_x, acc_y, term_x, term_y)
            bad.update(cancelled)
            _replace(acc_x, acc_y, cancelled, stand_in)
    assert acc_x is not None  # every scalar is non-zero
    return acc_x, acc_y


def combine_scaled(vectors: Sequence[Sequence[JacobianPoint]], scalars: Sequence[int]) -> list[JacobianPoint]:
    """``[Σ_j scalars[j]·vectors[j][i] for i]`` for points of G1: a few vectors, each times one scalar shared
    by all its points (scalars reduced mod R), every index's chain in lock step."""
    if len(vectors) != len(scalars) or not vectors:
        raise ValueError(f"combine: {len(vectors)} vectors but {len(scalars)} scalars")
    count = len(vectors[0])
    if any(len(column) != count for column in vectors):
        raise ValueError("combine: vectors of different lengths")
    scalars = [k % R for k in scalars]

    def alone(i: int) -> JacobianPoint:
        total = INFINITY
        for column, k in zip(vectors, scalars, strict=True):
            total = jacobian_add(total, column[i] if k == 1 else glv_mul(column[i], k))
        return total

    scaled = [(column, k) for column, k in zip(vectors, scalars, strict=True) if k > 1]
    plain = [column for column, k in zip(vectors, scalars, strict=True) if k == 1]
    if count < _MIN_BATCH or not scaled:
        return [alone(i) for i in range(count)]
    bad: set[int] = set()
    sums = _lock_step_sum([column for column, _ in scaled], [k for _, k in scaled], bad)
    if sums is None:
        return [alone(i) for i in range(count)]
    acc_x, acc_y = sums
    for column in plain:
        column_affine = batch_to_affine(column)
        pairs = [i for i in range(count) if i not in bad and column_affine[i] is not None]
        sum_x, sum_y, cancelled = batch_add_xy([column_affine[i][0] for i in pairs],
                                               [column_affine[i][1] for i in pairs],
                                               [acc_x[i] for i in pairs], [acc_y[i] for i in pairs])
        bad.update(pairs[position] for position in cancelled)
        for position, i in enumerate(pairs):
            acc_x[i], acc_y[i] = sum_x[position], sum_y[position]
    return [alone(i) if i in bad else (acc_x[i], acc_y[i], MPZ_ONE) for i in range(count)]


def fold_scaled(lo: Sequence[JacobianPoint], hi: Sequence[JacobianPoint], k: int) -> list[JacobianPoint]:
    """``[lo[i] + k·hi[i] for i]`` for points of G1, with the shared scalar k (reduced mod R)."""
    if len(lo) != len(hi):
        raise ValueError(f"fold: {len(lo)} low points but {len(hi)} high points")
    k %= R
    if not k:
        return list(lo)
    return combine_scaled([lo, hi], [1, k])


class FoldingPureBackend(PureBackend):
    """The pure engine with the lock-step fold (what ``ZKCLEAR_BACKEND=pure`` selects)."""

    def fold(self, lo: Sequence[JacobianPoint], hi: Sequence[JacobianPoint], k: int) -> list[JacobianPoint]:
        return fold_scaled(lo, hi, k)

    def combine(self, vectors: Sequence[Sequence[JacobianPoint]], scalars: Sequence[int]) -> list[JacobianPoint]:
        return combine_scaled(vectors, scalars)
