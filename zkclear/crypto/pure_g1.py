"""The pure-Python BLS12-381 G1 engine behind :mod:`zkclear.crypto.group`: the backend object over
:mod:`~zkclear.crypto.pure_curve` (arithmetic), :mod:`~zkclear.crypto.pure_scalar_mul` (GLV),
:mod:`~zkclear.crypto.pure_msm` (Pippenger) and :mod:`~zkclear.crypto.pure_fixed_base` (fixed-base tables)."""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.crypto.pure_curve import (
    GENERATOR_X,
    GENERATOR_Y,
    INFINITY,
    MPZ_ONE,
    AffinePoint,
    JacobianPoint,
    batch_to_affine,
    in_g1,
    jacobian_add,
    jacobian_double,
    jacobian_eq,
    jacobian_neg,
    mpz,
    to_affine,
)
from zkclear.crypto.pure_fixed_base import FixedBaseTable, fixed_base_sums
from zkclear.crypto.pure_msm import msm, prepare_fixed_bases
from zkclear.crypto.pure_scalar_mul import glv_mul


class PureBackend:
    """The pure-Python engine behind :mod:`zkclear.crypto.group` (gmpy2 where installed)."""

    name = "pure"

    def identity(self) -> JacobianPoint:
        return INFINITY

    def generator(self) -> JacobianPoint:
        return (mpz(GENERATOR_X), mpz(GENERATOR_Y), MPZ_ONE)

    add = staticmethod(jacobian_add)
    double = staticmethod(jacobian_double)
    neg = staticmethod(jacobian_neg)
    mul = staticmethod(glv_mul)
    msm = staticmethod(msm)
    eq = staticmethod(jacobian_eq)
    to_affine = staticmethod(to_affine)

    def is_identity(self, a: JacobianPoint) -> bool:
        return not a[2]

    def batch_to_affine(self, points: Sequence[JacobianPoint]) -> list[AffinePoint | None]:
        return [None if pt is None else (int(pt[0]), int(pt[1])) for pt in batch_to_affine(points)]

    def from_affine(self, xy: AffinePoint | None) -> JacobianPoint:
        return INFINITY if xy is None else (mpz(xy[0]), mpz(xy[1]), MPZ_ONE)

    def fold(self, lo: Sequence[JacobianPoint], hi: Sequence[JacobianPoint], k: int) -> list[JacobianPoint]:
        """[lo[i] + k·hi[i]], point by point (zkclear.crypto.pure_fold does it in lock step)."""
        return [jacobian_add(a, glv_mul(b, k)) for a, b in zip(lo, hi, strict=True)]

    def prepare_msm_bases(self, points: Sequence[JacobianPoint]) -> None:
        prepare_fixed_bases(points)

    def combine(self, vectors: Sequence[Sequence[JacobianPoint]], scalars: Sequence[int]) -> list[JacobianPoint]:
        """[Σ_j scalars[j]·vectors[j][i]], point by point (zkclear.crypto.pure_fold does it in lock step)."""
        return [msm(list(points), scalars) for points in zip(*vectors, strict=True)]

    def in_subgroup(self, a: JacobianPoint) -> bool:
        xy = to_affine(a)
        return xy is None or in_g1(xy)

    def fixed_base_table(self, a: JacobianPoint) -> FixedBaseTable:
        return FixedBaseTable(a)

    def fixed_base_sums(
        self, tables: Sequence[FixedBaseTable], rows: Sequence[Sequence[int]]
    ) -> list[JacobianPoint]:
        return fixed_base_sums(tables, rows)
