"""Pure-Python BLS12-381 G1 engine on plain integers (Jacobian coordinates).

Raw points are tuples ``(X, Y, Z)`` representing the affine point ``(X/Z^2, Y/Z^3)``;
``Z == 0`` is the point at infinity. Curve: y^2 = x^3 + 4 over GF(P).
"""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.crypto.field import P, R

B = 4
GENERATOR_X = 0x17F1D3A73197D7942695638C4FA9AC0FC3688C4F9774B905A14E3A3F171BAC586C55E83FF97A1AEFFB3AF00ADB22C6BB
GENERATOR_Y = 0x08B3F481E3AAA0F1A09E30ED741D8AE4FCF5E095D5D00AF600DB18CB2C04B3EDD03CC744A2888AE40CAA232946C5E7E1

JacobianPoint = tuple[int, int, int]
INFINITY: JacobianPoint = (1, 1, 0)

assert (GENERATOR_Y * GENERATOR_Y - GENERATOR_X**3 - B) % P == 0, "generator is not on the curve"


def jacobian_double(p1: JacobianPoint) -> JacobianPoint:
    """2·P1 (dbl-2009-l, a = 0)."""
    X1, Y1, Z1 = p1
    if Z1 == 0 or Y1 == 0:
        return INFINITY
    A = X1 * X1 % P
    B_ = Y1 * Y1 % P
    C = B_ * B_ % P
    D = 2 * ((X1 + B_) * (X1 + B_) - A - C) % P
    E = 3 * A % P
    F = E * E % P
    X3 = (F - 2 * D) % P
    Y3 = (E * (D - X3) - 8 * C) % P
    Z3 = 2 * Y1 * Z1 % P
    return (X3, Y3, Z3)


def jacobian_add(p1: JacobianPoint, p2: JacobianPoint) -> JacobianPoint:
    """P1 + P2 (add-2007-bl), complete over the special cases."""
    X1, Y1, Z1 = p1
    X2, Y2, Z2 = p2
    if Z1 == 0:
        return p2
    if Z2 == 0:
        return p1
    Z1Z1 = Z1 * Z1 % P
    Z2Z2 = Z2 * Z2 % P
    U1 = X1 * Z2Z2 % P
    U2 = X2 * Z1Z1 % P
    S1 = Y1 * Z2 * Z2Z2 % P
    S2 = Y2 * Z1 * Z1Z1 % P
    H = (U2 - U1) % P
    r = 2 * (S2 - S1) % P
    if H == 0:
        return jacobian_double(p1) if r == 0 else INFINITY
    I = 4 * H * H % P
    J = H * I % P
    V = U1 * I % P
    X3 = (r * r - J - 2 * V) % P
    Y3 = (r * (V - X3) - 2 * S1 * J) % P
    Z3 = ((Z1 + Z2) * (Z1 + Z2) - Z1Z1 - Z2Z2) * H % P
    return (X3, Y3, Z3)


def jacobian_neg(p1: JacobianPoint) -> JacobianPoint:
    X1, Y1, Z1 = p1
    return (X1, (-Y1) % P, Z1)


def jacobian_mul(p1: JacobianPoint, scalar: int) -> JacobianPoint:
    """scalar·P1 by left-to-right double-and-add (scalar reduced mod R)."""
    k = scalar % R
    acc = INFINITY
    for bit in bin(k)[2:] if k else "":
        acc = jacobian_double(acc)
        if bit == "1":
            acc = jacobian_add(acc, p1)
    return acc


def to_affine(p1: JacobianPoint) -> tuple[int, int] | None:
    X1, Y1, Z1 = p1
    if Z1 == 0:
        return None
    zinv = pow(Z1, -1, P)
    zinv2 = zinv * zinv % P
    return (X1 * zinv2 % P, Y1 * zinv2 * zinv % P)


class _NaiveTable:
    def __init__(self, base: JacobianPoint) -> None:
        self._base = base

    def mul(self, scalar: int) -> JacobianPoint:
        return jacobian_mul(self._base, scalar)


class PureBackend:
    """The default engine: Python ints (gmpy2 where installed)."""

    name = "pure"

    def identity(self) -> JacobianPoint:
        return INFINITY

    def generator(self) -> JacobianPoint:
        return (GENERATOR_X, GENERATOR_Y, 1)

    add = staticmethod(jacobian_add)
    double = staticmethod(jacobian_double)
    neg = staticmethod(jacobian_neg)
    mul = staticmethod(jacobian_mul)
    to_affine = staticmethod(to_affine)

    def msm(self, points: Sequence[JacobianPoint], scalars: Sequence[int]) -> JacobianPoint:
        acc = INFINITY
        for pt, k in zip(points, scalars, strict=True):
            acc = jacobian_add(acc, jacobian_mul(pt, k))
        return acc

    def eq(self, a: JacobianPoint, b: JacobianPoint) -> bool:
        X1, Y1, Z1 = a
        X2, Y2, Z2 = b
        if Z1 == 0 or Z2 == 0:
            return Z1 == 0 and Z2 == 0
        Z1Z1 = Z1 * Z1 % P
        Z2Z2 = Z2 * Z2 % P
        return (X1 * Z2Z2 - X2 * Z1Z1) % P == 0 and (Y1 * Z2 * Z2Z2 - Y2 * Z1 * Z1Z1) % P == 0

    def is_identity(self, a: JacobianPoint) -> bool:
        return a[2] == 0

    def batch_to_affine(self, points: Sequence[JacobianPoint]) -> list[tuple[int, int] | None]:
        return [to_affine(p) for p in points]

    def from_affine(self, xy: tuple[int, int] | None) -> JacobianPoint:
        return INFINITY if xy is None else (xy[0], xy[1], 1)

    def fixed_base_table(self, a: JacobianPoint) -> _NaiveTable:
        return _NaiveTable(a)
