"""Ed25519 (RFC 8032, section 5.1) in pure Python: key derivation, signing, strict verification.

The curve is -x^2 + y^2 = 1 + d x^2 y^2 over GF(P), P = 2^255 - 19, with base point B of prime order
L = 2^252 + 27742317777372353535851937790883648493 (cofactor 8). Points are extended coordinates
(X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z. A point is encoded as 32 bytes: y little-endian with
the parity of x in the top bit.

Keys and signatures follow RFC 8032 exactly (the 32-byte private key is the seed; SHA-512 of it gives
the clamped scalar a and the nonce prefix; a signature is R || S). Verification is strict, as
libsodium's: S < L, the public key and R decode canonically (y < P) and are not of small order, and
the encoding of [S]B - [k]A must equal R byte for byte (k = SHA-512(R || A || M) mod L), which is the
cofactorless equation [S]B = R + [k]A with non-canonical R refused.
"""

from __future__ import annotations

import hashlib

from zkclear.errors import EncodingError

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
SQRT_MINUS_ONE = pow(2, (P - 1) // 4, P)

_Point = tuple[int, int, int, int]
IDENTITY: _Point = (0, 1, 1, 0)


def _recover_x(y: int, sign: int) -> int | None:
    """x with x^2 = (y^2 - 1) / (d y^2 + 1) and the given parity, or None (RFC 8032, 5.1.3)."""
    if y >= P:
        return None
    x_squared = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    if x_squared == 0:
        return None if sign else 0
    x = pow(x_squared, (P + 3) // 8, P)
    if (x * x - x_squared) % P:
        x = x * SQRT_MINUS_ONE % P
    if (x * x - x_squared) % P:
        return None
    return P - x if (x & 1) != sign else x


_BASE_Y = 4 * pow(5, -1, P) % P
_BASE_X = _recover_x(_BASE_Y, 0)
assert _BASE_X is not None
BASE: _Point = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % P)


def _add(first: _Point, second: _Point) -> _Point:
    """Complete addition for a = -1 (add-2008-hwcd-3)."""
    x1, y1, z1, t1 = first
    x2, y2, z2, t2 = second
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = b - a, dd - c, dd + c, b + a
    return e * f % P, g * h % P, f * g % P, e * h % P


def _double(point: _Point) -> _Point:
    """Doubling for a = -1 (dbl-2008-hwcd)."""
    x1, y1, z1, _ = point
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return e * f % P, g * h % P, f * g % P, e * h % P


def _negate(point: _Point) -> _Point:
    x, y, z, t = point
    return (P - x) % P, y, z, (P - t) % P


def multiply(scalar: int, point: _Point = BASE) -> _Point:
    """scalar*point, 4-bit fixed windows (scalar taken as a non-negative integer, not reduced)."""
    table = [IDENTITY, point]
    for _ in range(14):
        table.append(_add(table[-1], point))
    accumulator = IDENTITY
    for shift in range(((scalar.bit_length() + 3) // 4) * 4 - 4, -1, -4):
        for _ in range(4):
            accumulator = _double(accumulator)
        digit = (scalar >> shift) & 15
        if digit:
            accumulator = _add(accumulator, table[digit])
    return accumulator


def _equal(first: _Point, second: _Point) -> bool:
    x1, y1, z1, _ = first
    x2, y2, z2, _ = second
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def encode_point(point: _Point) -> bytes:
    """The 32-byte encoding: y little-endian, bit 255 = parity of x."""
    x, y, z, _ = point
    z_inverse = pow(z, -1, P)
    x, y = x * z_inverse % P, y * z_inverse % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decode_point(data: bytes) -> _Point:
    """The point of a 32-byte encoding; EncodingError when y >= P or no x exists (RFC 8032, 5.1.3)."""
    if not isinstance(data, bytes | bytearray) or len(data) != 32:
        raise EncodingError("ed25519: a point is 32 bytes")
    value = int.from_bytes(data, "little")
    y, sign = value & ((1 << 255) - 1), value >> 255
    x = _recover_x(y, sign)
    if x is None:
        raise EncodingError("ed25519: not the canonical encoding of a curve point")
    return x, y, 1, x * y % P


def is_small_order(point: _Point) -> bool:
    """True for the 8 points of order dividing 8 (they let anyone forge signatures for that key)."""
    return _equal(multiply(8, point), IDENTITY)


def check_public_key(data: bytes) -> None:
    """EncodingError unless ``data`` is the key of a wallet: a canonical point of prime order L."""
    point = decode_point(data)
    if is_small_order(point):
        raise EncodingError("ed25519: a small-order point is not a usable public key")
    if not _equal(multiply(L, point), IDENTITY):
        raise EncodingError("ed25519: the point is not in the prime-order subgroup")


def _expand(seed: bytes) -> tuple[int, bytes]:
    if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
        raise EncodingError("ed25519: a private key (seed) is 32 bytes")
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def public_key(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte private key (seed)."""
    scalar, _ = _expand(seed)
    return encode_point(multiply(scalar))


def sign(seed: bytes, message: bytes) -> bytes:
    """The 64-byte signature R || S of ``message`` (deterministic, RFC 8032 section 5.1.6)."""
    scalar, prefix = _expand(seed)
    public = encode_point(multiply(scalar))
    nonce = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % L
    nonce_encoded = encode_point(multiply(nonce))
    challenge = int.from_bytes(hashlib.sha512(nonce_encoded + public + message).digest(), "little") % L
    return nonce_encoded + ((nonce + challenge * scalar) % L).to_bytes(32, "little")


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid strict Ed25519 signature of ``message`` under ``public``."""
    if len(signature) != 64 or len(public) != 32:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    try:
        key_point = decode_point(public)
        nonce_point = decode_point(signature[:32])
    except EncodingError:
        return False
    if is_small_order(key_point) or is_small_order(nonce_point):
        return False
    challenge = int.from_bytes(hashlib.sha512(bytes(signature[:32]) + public + message).digest(), "little") % L
    check = _add(multiply(s), _negate(multiply(challenge, key_point)))
    return encode_point(check) == bytes(signature[:32])
