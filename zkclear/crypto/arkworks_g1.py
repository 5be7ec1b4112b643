"""The native group engine: BLS12-381 G1 from arkworks through ``py-arkworks-bls12381``.

Optional (extra ``zkclear[native]``); importing this module raises ImportError when the
package is absent, which :func:`zkclear.crypto.backend.select_backend` turns into a fallback
(``auto``) or a ConfigurationError (``arkworks``). Raw points are ``py_arkworks_bls12381.G1Point``.
"""

from __future__ import annotations

from collections.abc import Sequence

from py_arkworks_bls12381 import G1Point as ArkPoint
from py_arkworks_bls12381 import Scalar

from zkclear.crypto.field import R
from zkclear.crypto.pure_scalar_mul import signed_digits

_COORDINATE_BYTES = 48
_IDENTITY = ArkPoint.identity()
_GENERATOR = ArkPoint()
#: Fixed-base tables: signed 8-bit digits, 32 rows of 128 points (scalars < R < 2^255 need 32 digits).
_FIXED_BASE_WINDOW = 8
_FIXED_BASE_ROWS = 32


def _scalar(k: int) -> Scalar:
    # From canonical little-endian bytes: 0.4 µs against 6 µs for Scalar(int) (measured; at 16 µs per
    # point of a large native MSM the conversion was a quarter of it).
    return _from_le_bytes((k % R).to_bytes(32, "little"))


_from_le_bytes = Scalar.from_le_bytes


class ArkworksFixedBaseTable:
    """rows[j][m - 1] = m·2^(8j)·base, so scalar·base is at most 32 native additions."""

    __slots__ = ("_rows",)

    def __init__(self, base: ArkPoint) -> None:
        half = 1 << (_FIXED_BASE_WINDOW - 1)
        rows = []
        row_base = base
        for _ in range(_FIXED_BASE_ROWS):
            row = [row_base]
            for _ in range(half - 1):
                row.append(row[-1] + row_base)
            rows.append(row)
            row_base = row[-1] + row[-1]  # 2^(c-1)·2^(c·j)·base doubled = 2^(c·(j+1))·base
        self._rows = rows

    def mul(self, scalar: int) -> ArkPoint:
        """scalar·base."""
        acc = _IDENTITY
        for row, d in zip(self._rows, signed_digits(scalar % R, _FIXED_BASE_WINDOW, _FIXED_BASE_ROWS),
                          strict=True):
            if d > 0:
                acc = acc + row[d - 1]
            elif d:
                acc = acc - row[-d - 1]
        return acc


class ArkworksBackend:
    """G1 arithmetic in arkworks (Rust); every operation is one native call."""

    name = "arkworks"

    def identity(self) -> ArkPoint:
        return _IDENTITY

    def generator(self) -> ArkPoint:
        return _GENERATOR

    def add(self, a: ArkPoint, b: ArkPoint) -> ArkPoint:
        return a + b

    def double(self, a: ArkPoint) -> ArkPoint:
        return a + a

    def neg(self, a: ArkPoint) -> ArkPoint:
        return -a

    def mul(self, a: ArkPoint, scalar: int) -> ArkPoint:
        return a * _scalar(scalar)

    def fold(self, lo: Sequence[ArkPoint], hi: Sequence[ArkPoint], k: int) -> list[ArkPoint]:
        scalar = _scalar(k)
        return [a + b * scalar for a, b in zip(lo, hi, strict=True)]

    def prepare_msm_bases(self, points: Sequence[ArkPoint]) -> None:
        """Nothing to precompute: the binding's MSM takes the points as they are."""

    def combine(self, vectors: Sequence[Sequence[ArkPoint]], scalars: Sequence[int]) -> list[ArkPoint]:
        return [self.msm(list(points), scalars) for points in zip(*vectors, strict=True)]

    def msm(self, points: Sequence[ArkPoint], scalars: Sequence[int]) -> ArkPoint:
        if len(points) != len(scalars):
            raise ValueError(f"msm: {len(points)} points but {len(scalars)} scalars")
        if not points:
            return _IDENTITY
        return ArkPoint.multiexp_unchecked(list(points), [_scalar(k) for k in scalars])

    def eq(self, a: ArkPoint, b: ArkPoint) -> bool:
        return a == b

    def is_identity(self, a: ArkPoint) -> bool:
        return a == _IDENTITY

    def to_affine(self, a: ArkPoint) -> tuple[int, int] | None:
        if a == _IDENTITY:
            return None
        xy = a.to_xy_bytes_be()
        return (int.from_bytes(xy[:_COORDINATE_BYTES], "big"), int.from_bytes(xy[_COORDINATE_BYTES:], "big"))

    def batch_to_affine(self, points: Sequence[ArkPoint]) -> list[tuple[int, int] | None]:
        return [self.to_affine(p) for p in points]

    def from_affine(self, xy: tuple[int, int] | None) -> ArkPoint:
        if xy is None:
            return _IDENTITY
        x, y = xy
        return ArkPoint.from_xy_bytes_unchecked_be(
            x.to_bytes(_COORDINATE_BYTES, "big") + y.to_bytes(_COORDINATE_BYTES, "big")
        )

    def in_subgroup(self, a: ArkPoint) -> bool:
        return a.is_in_subgroup()

    def fixed_base_table(self, a: ArkPoint) -> ArkworksFixedBaseTable:
        return ArkworksFixedBaseTable(a)

    def fixed_base_sums(
        self, tables: Sequence[ArkworksFixedBaseTable], rows: Sequence[Sequence[int]]
    ) -> list[ArkPoint]:
        out = []
        for row in rows:
            acc = _IDENTITY
            for table, k in zip(tables, row, strict=True):
                acc = acc + table.mul(k)
            out.append(acc)
        return out
