"""Fixed-base tables for the pure engine: every signed-digit multiple of one G1 point that multiplying it needs, so
that ``k·base`` (and sums of such products, the Pedersen commitments) cost additions only, no doublings."""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.crypto.field import R
from zkclear.crypto.pure_curve import (
    GLV_HALF_BITS,
    MPZ_BETA,
    MPZ_ONE,
    MPZ_P,
    AffinePoint,
    JacobianPoint,
    batch_add_xy,
    batch_to_affine,
    jacobian_double,
    sum_affine,
)
from zkclear.crypto.pure_msm import sum_keyed
from zkclear.crypto.pure_scalar_mul import glv_split, signed_digits

#: Window of the fixed-base tables: 11 GLV windows x 2^11 affine points (7.6 MB per base).
FIXED_BASE_WINDOW = 12


class FixedBaseTable:
    """All signed-digit multiples of one G1 point needed to multiply it without doublings.

    ``rows_x[j][m - 1], rows_y[j][m - 1]`` are the affine coordinates of m·2^(c·j)·base for m in
    1..2^(c-1); the GLV split lets the same rows serve the second half-scalar through the
    endomorphism (one multiplication by BETA). Coordinates live in flat lists of numbers, which
    the garbage collector does not scan (tuples of them would slow every collection).
    """

    __slots__ = ("_rows_x", "_rows_y", "_window", "_windows")

    def __init__(self, base: JacobianPoint, window_bits: int = FIXED_BASE_WINDOW) -> None:
        self._window = window_bits
        self._windows = -(-GLV_HALF_BITS // window_bits)
        affine = batch_to_affine([base])[0]
        if affine is None:
            self._rows_x: list[list[int]] = []
            self._rows_y: list[list[int]] = []
        else:
            self._rows_x, self._rows_y = _fixed_base_rows(affine, window_bits, self._windows)

    def terms(self, scalar: int) -> tuple[list[int], list[int]]:
        """Coordinates (xs, ys) of affine points whose sum is scalar·base."""
        k = scalar % R
        xs: list[int] = []
        ys: list[int] = []
        if not self._rows_x or not k:
            return xs, ys
        p = MPZ_P
        beta = MPZ_BETA
        k1, k2 = glv_split(k)
        for half, endomorphic in ((k1, False), (k2, True)):
            if not half:  # k2 = 0 whenever k < LAMBDA, e.g. a 64-bit committed value
                continue
            digits = signed_digits(half, self._window, self._windows)
            for row_x, row_y, d in zip(self._rows_x, self._rows_y, digits, strict=True):
                if d:
                    x = row_x[abs(d) - 1]
                    y = row_y[abs(d) - 1]
                    xs.append(beta * x % p if endomorphic else x)
                    ys.append(y if d > 0 else p - y)
        return xs, ys

    def mul(self, scalar: int) -> JacobianPoint:
        """scalar·base."""
        return sum_affine(*self.terms(scalar))


def _fixed_base_rows(base: AffinePoint, c: int, windows: int) -> tuple[list[list[int]], list[list[int]]]:
    """Coordinates of rows[j] = [m·2^(c·j)·base for m in 1..2^(c-1)], built level by level in batches."""
    row_bases = [base]
    for _ in range(windows - 1):
        acc = (row_bases[-1][0], row_bases[-1][1], MPZ_ONE)
        for _ in range(c):
            acc = jacobian_double(acc)
        row_bases.append(batch_to_affine([acc])[0])  # type: ignore[arg-type]
    rows_x = [[x] for x, _ in row_bases]
    rows_y = [[y] for _, y in row_bases]
    size = 1 << (c - 1)
    # Level by level every row grows from [1..L]·b to [1..2L]·b as (m + L)·b = m·b + L·b,
    # one batched addition per level for all rows (m = L is a doubling: the slow path).
    while len(rows_x[0]) < size:
        length = len(rows_x[0])
        grow = min(length, size - length)
        x1s = [x for row in rows_x for x in row[:grow]]
        y1s = [y for row in rows_y for y in row[:grow]]
        x2s = [row[length - 1] for row in rows_x for _ in range(grow)]
        y2s = [row[length - 1] for row in rows_y for _ in range(grow)]
        sum_x, sum_y, _ = batch_add_xy(x1s, y1s, x2s, y2s)  # never cancels: m + L < R
        for j in range(windows):
            rows_x[j] += sum_x[j * grow : (j + 1) * grow]
            rows_y[j] += sum_y[j * grow : (j + 1) * grow]
    return rows_x, rows_y


def fixed_base_sums(tables: Sequence[FixedBaseTable], rows: Sequence[Sequence[int]]) -> list[JacobianPoint]:
    """``[Σ_i row[i]·base_i for row in rows]`` for the tables' bases: every row's terms summed in one batched run."""
    if len(rows) == 1:
        xs: list[int] = []
        ys: list[int] = []
        for table, k in zip(tables, rows[0], strict=True):
            term_x, term_y = table.terms(k)
            xs += term_x
            ys += term_y
        return [sum_affine(xs, ys)]
    keys: list[int] = []
    xs = []
    ys = []
    for index, row in enumerate(rows):
        for table, k in zip(tables, row, strict=True):
            term_x, term_y = table.terms(k)
            xs += term_x
            ys += term_y
            keys += [index] * len(term_x)
    return sum_keyed(keys, xs, ys, len(rows))
