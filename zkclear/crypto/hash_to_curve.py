"""RFC 9380 hashing to BLS12-381 G1, suite ``BLS12381G1_XMD:SHA-256_SSWU_RO_``.

The suite (RFC 9380, section 8.8.1) is:

- ``expand_message_xmd`` with SHA-256 (section 5.3.1);
- ``hash_to_field`` with m = 1, L = 64, count = 2 (section 5.2);
- simplified SWU (section 6.6.2) onto the 11-isogenous curve
  E': y^2 = x^3 + A'·x + B' with Z = 11, then the 11-isogeny map to E: y^2 = x^3 + 4
  (section 6.6.3, appendix E.2);
- cofactor clearing by multiplication with h_eff = 0xd201000000010001 (section 7).

The output is deterministic, in the prime-order subgroup by construction, and equal to what
every conforming implementation (py-ecc, blst, arkworks) returns; tests pin the RFC 9380
appendix J.9.1 vectors. Inputs are public (generator labels), so the code is not constant time.

Arithmetic runs on plain integers; gmpy2's ``mpz`` is used when installed because modular
exponentiation (one square root per field element) dominates the cost and is ~8x faster there.
"""

from __future__ import annotations

import hashlib

from zkclear.crypto import isogeny_constants as iso
from zkclear.crypto.field import P
from zkclear.crypto.group import BACKEND, G1Point

try:  # gmpy2 is a declared dependency on CPython; plain ints are the fallback.
    from gmpy2 import mpz as _num
except ImportError:  # pragma: no cover - exercised only where gmpy2 is missing
    _num = int

#: The ciphersuite identifier of RFC 9380, section 8.8.1.
SUITE_ID = b"BLS12381G1_XMD:SHA-256_SSWU_RO_"
#: Cofactor-clearing scalar for G1 (RFC 9380, section 8.8.1).
H_EFF = 0xD201000000010001
#: A' and B' of the 11-isogenous curve E': y^2 = x^3 + A'·x + B' (RFC 9380, section 8.8.1).
ISOGENOUS_CURVE_A = iso.ISOGENOUS_CURVE_A
ISOGENOUS_CURVE_B = iso.ISOGENOUS_CURVE_B
#: The non-square Z of the simplified SWU map for this suite.
SSWU_Z = 11
#: Bytes per field element in hash_to_field: ceil((ceil(log2 p) + k) / 8) with k = 128.
HASH_TO_FIELD_L = 64

_SHA256_BLOCK = 64
_SHA256_OUT = 32

_Pn = _num(P)
_A = _num(ISOGENOUS_CURVE_A)
_B = _num(ISOGENOUS_CURVE_B)
_Z = _num(SSWU_Z)
# Coefficients of the isogeny's rational maps, lowest degree first (RFC 9380, appendix E.2).
# The leading coefficient of both denominators is 1 and is included in these tuples.
_X_NUM = tuple(_num(c) for c in iso.X_NUMERATOR)
_X_DEN = tuple(_num(c) for c in iso.X_DENOMINATOR)
_Y_NUM = tuple(_num(c) for c in iso.Y_NUMERATOR)
_Y_DEN = tuple(_num(c) for c in iso.Y_DENOMINATOR)
# p = 3 mod 4: sqrt(a) = a^((p+1)/4) when a is a square; for a non-square a the same power is
# a square root of -a.
_SQRT_EXP = _num((P + 1) // 4)
# sqrt(-Z^3) = sqrt(-1331); turns a root of -g(x1) into a root of g(x2) = Z^3·u^6·g(x1).
_SQRT_MINUS_Z3 = pow(_num(P - 1331), _SQRT_EXP, _Pn)
# -B'/A' and B'/(Z·A'), the constants of the simplified SWU map.
_MINUS_B_OVER_A = (-_B * pow(_A, -1, _Pn)) % _Pn
_B_OVER_ZA = _B * pow(_Z * _A, -1, _Pn) % _Pn

assert _SQRT_MINUS_Z3 * _SQRT_MINUS_Z3 % _Pn == P - 1331, "-Z^3 must be a square mod p"
assert len(_X_NUM) == 12 and len(_X_DEN) == 11 and len(_Y_NUM) == 16 and len(_Y_DEN) == 16

AffinePoint = tuple[int, int] | None


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """``expand_message_xmd`` with SHA-256 (RFC 9380, section 5.3.1)."""
    if len(dst) > 255:
        raise ValueError("DST must be at most 255 bytes (RFC 9380, section 5.3.3)")
    ell = -(-len_in_bytes // _SHA256_OUT)
    if ell > 255 or len_in_bytes > 65535 or len_in_bytes < 0:
        raise ValueError(f"expand_message_xmd: len_in_bytes {len_in_bytes} out of range")
    dst_prime = dst + bytes([len(dst)])
    b_0 = hashlib.sha256(
        bytes(_SHA256_BLOCK) + msg + len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime
    ).digest()
    b_i = hashlib.sha256(b_0 + b"\x01" + dst_prime).digest()
    blocks = [b_i]
    for i in range(2, ell + 1):
        mixed = (int.from_bytes(b_0, "big") ^ int.from_bytes(b_i, "big")).to_bytes(_SHA256_OUT, "big")
        b_i = hashlib.sha256(mixed + bytes([i]) + dst_prime).digest()
        blocks.append(b_i)
    return b"".join(blocks)[:len_in_bytes]


def hash_to_field(msg: bytes, dst: bytes, count: int = 2) -> list[int]:
    """``count`` elements of GF(p) from ``msg`` (RFC 9380, section 5.2, m = 1, L = 64)."""
    uniform = expand_message_xmd(msg, dst, count * HASH_TO_FIELD_L)
    return [
        int.from_bytes(uniform[i * HASH_TO_FIELD_L : (i + 1) * HASH_TO_FIELD_L], "big") % P
        for i in range(count)
    ]


def map_to_curve_simple_swu(u: int) -> tuple[int, int]:
    """Simplified SWU (RFC 9380, section 6.6.2): a point (x', y') on the isogenous curve E'."""
    u = _num(u)
    zu2 = _Z * u * u % _Pn
    tv1 = (zu2 * zu2 + zu2) % _Pn
    x1 = _B_OVER_ZA if tv1 == 0 else _MINUS_B_OVER_A * (1 + pow(tv1, -1, _Pn)) % _Pn
    gx1 = (x1 * x1 * x1 + _A * x1 + _B) % _Pn
    y1 = pow(gx1, _SQRT_EXP, _Pn)
    if y1 * y1 % _Pn == gx1:
        x, y = x1, y1
    else:
        # g(x2) = Z^3·u^6·g(x1) for x2 = Z·u^2·x1, and y1 is a root of -g(x1).
        x = zu2 * x1 % _Pn
        y = y1 * u * u * u * _SQRT_MINUS_Z3 % _Pn
    if (u & 1) != (y & 1):  # sgn0 for m = 1 is the parity of the canonical representative
        y = _Pn - y
    return int(x), int(y)


def _affine_add(p1: AffinePoint, p2: AffinePoint, a: int) -> AffinePoint:
    """Affine addition on y^2 = x^3 + a·x + b, complete over the special cases (b is not needed)."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = _num(p1[0]), _num(p1[1])
    x2, y2 = _num(p2[0]), _num(p2[1])
    if x1 == x2:
        if (y1 + y2) % _Pn == 0:
            return None
        slope = (3 * x1 * x1 + a) * pow(2 * y1, -1, _Pn) % _Pn
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _Pn) % _Pn
    x3 = (slope * slope - x1 - x2) % _Pn
    y3 = (slope * (x1 - x3) - y1) % _Pn
    return int(x3), int(y3)


def _mul_affine_complete(point: AffinePoint, scalar: int) -> AffinePoint:
    """scalar·point on E by affine double-and-add with complete case handling (slow, rare)."""
    acc: AffinePoint = None
    for bit in bin(scalar)[2:]:
        acc = _affine_add(acc, acc, 0)
        if bit == "1":
            acc = _affine_add(acc, point, 0)
    return acc


def _horner(coefficients: tuple, x):  # x and the result are int or mpz
    acc = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        acc = (acc * x + c) % _Pn
    return acc


def iso_map(point: AffinePoint) -> AffinePoint:
    """The 11-isogeny E' -> E (RFC 9380, appendix E.2); None is the point at infinity."""
    if point is None:
        return None
    x, y = _num(point[0]), _num(point[1])
    x_den = _horner(_X_DEN, x)
    y_den = _horner(_Y_DEN, x)
    if x_den == 0 or y_den == 0:  # the isogeny's kernel maps to the identity
        return None
    inv = pow(x_den * y_den % _Pn, -1, _Pn)
    x_out = _horner(_X_NUM, x) * y_den % _Pn * inv % _Pn
    y_out = y * _horner(_Y_NUM, x) % _Pn * x_den % _Pn * inv % _Pn
    return int(x_out), int(y_out)


def clear_cofactor(point: AffinePoint) -> AffinePoint:
    """h_eff·point on E (y^2 = x^3 + 4), by double-and-add in Jacobian coordinates."""
    if point is None:
        return None
    p = _Pn
    bx, by = _num(point[0]), _num(point[1])
    X, Y, Z = bx, by, _num(1)  # h_eff's top bit is 1: start from the base
    for bit in bin(H_EFF)[3:]:
        # dbl-2009-l (a = 0). Y = 0 cannot occur: #E(F_p) is odd, so E has no point of order 2.
        A = X * X % p
        B = Y * Y % p
        C = B * B % p
        D = 2 * ((X + B) * (X + B) - A - C) % p
        E = 3 * A % p
        X3 = (E * E - 2 * D) % p
        Z = 2 * Y * Z % p
        Y = (E * (D - X3) - 8 * C) % p
        X = X3
        if bit == "1":
            # madd-2007-bl: (X, Y, Z) + (bx, by, 1)
            Z1Z1 = Z * Z % p
            U2 = bx * Z1Z1 % p
            S2 = by * Z * Z1Z1 % p
            H = (U2 - X) % p
            rr = 2 * (S2 - Y) % p
            if H == 0 or Z == 0:
                # The accumulator hit ±base or infinity: only possible when the point has a tiny
                # order, which a hashed input reaches with probability ~2^-250. Take the slow
                # complete path rather than special-casing the formulas.
                return _mul_affine_complete(point, H_EFF)
            HH = H * H % p
            I = 4 * HH % p
            J = H * I % p
            V = X * I % p
            X3 = (rr * rr - J - 2 * V) % p
            Y = (rr * (V - X3) - 2 * Y * J) % p
            Z = ((Z + H) * (Z + H) - Z1Z1 - HH) % p
            X = X3
    if Z == 0:
        return None
    z_inv = pow(Z, -1, p)
    z_inv2 = z_inv * z_inv % p
    return int(X * z_inv2 % p), int(Y * z_inv2 * z_inv % p)


def hash_to_curve_affine(msg: bytes, dst: bytes) -> AffinePoint:
    """Affine coordinates of hash_to_curve(msg) (RFC 9380, section 3); None only for the identity."""
    u0, u1 = hash_to_field(msg, dst, 2)
    # The isogeny is a group homomorphism, so adding on E' and mapping once equals mapping both
    # points and adding on E (RFC 9380, section 6.6.3); it saves one isogeny evaluation.
    q = _affine_add(map_to_curve_simple_swu(u0), map_to_curve_simple_swu(u1), _A)
    return clear_cofactor(iso_map(q))


def hash_to_curve(msg: bytes, dst: bytes) -> G1Point:
    """hash_to_curve for suite ``BLS12381G1_XMD:SHA-256_SSWU_RO_``: a point of the prime-order subgroup.

    Guaranteed equal to RFC 9380's definition for every ``msg`` and every ``dst`` of at most
    255 bytes. The result needs no subgroup check: cofactor clearing puts it in the subgroup.
    """
    if not isinstance(msg, bytes | bytearray) or not isinstance(dst, bytes | bytearray):
        raise TypeError("hash_to_curve takes bytes for msg and dst")
    if len(dst) == 0:
        raise ValueError("an empty DST gives no domain separation (RFC 9380, section 3.1)")
    xy = hash_to_curve_affine(bytes(msg), bytes(dst))
    return G1Point(BACKEND.from_affine(xy))
