"""secp256k1 ECDSA in pure Python: keys, RFC 6979 deterministic signing, verification, key recovery.

The curve is y^2 = x^3 + 7 over GF(P) with the generator G of prime order N (SEC 2, section 2.4.1).
Points are affine ``(x, y)`` tuples, ``None`` is the point at infinity; internally the arithmetic
runs in Jacobian coordinates (X, Y, Z) ~ (X/Z^2, Y/Z^3) so that only one inversion is paid per
scalar multiplication.

Signatures are ``(r, s, recovery_id)`` over a 32-byte digest ``e`` (the caller hashes):
``k`` from RFC 6979 (HMAC-SHA256, the private key and ``e mod N`` as inputs), ``R = k*G``,
``r = R.x mod N``, ``s = k^-1 (e + r*d) mod N``, then ``s`` is replaced by ``N - s`` when above
``N/2`` (low-s, BIP-62 / EIP-2). ``recovery_id`` = parity of R.y (flipped when s was negated)
+ 2 when R.x >= N. This is exactly what libsecp256k1 (and so coincurve, Bitcoin Core, eth-account)
produces, so the same key and digest give the same bytes from either engine.

When coincurve is importable it is used as an accelerator for signing and recovery (``engine="auto"``);
``engine="pure"`` forces this module's code. Verification rules are enforced here, before either engine
runs, so the accept/reject decision never depends on which engine is present.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from zkclear.errors import EncodingError

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)
HALF_N = N // 2

Point = tuple[int, int] | None
Engine = Literal["auto", "pure"]


def is_on_curve(point: Point) -> bool:
    """True for the point at infinity and for affine points satisfying y^2 = x^3 + 7 with 0 <= x, y < P."""
    if point is None:
        return True
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - 7) % P == 0


assert is_on_curve(G)


# -- Jacobian arithmetic ----------------------------------------------------------------------------

_Jacobian = tuple[int, int, int]  # Z == 0 is the point at infinity
_INFINITY: _Jacobian = (1, 1, 0)


def _double(point: _Jacobian) -> _Jacobian:
    x, y, z = point
    if z == 0 or y == 0:
        return _INFINITY
    yy = y * y % P
    s = 4 * x * yy % P
    m = 3 * x * x % P  # a = 0
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    return x3, y3, 2 * y * z % P


def _add(first: _Jacobian, second: _Jacobian) -> _Jacobian:
    x1, y1, z1 = first
    x2, y2, z2 = second
    if z1 == 0:
        return second
    if z2 == 0:
        return first
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    if u1 == u2:
        return _double(first) if s1 == s2 else _INFINITY
    h, r = (u2 - u1) % P, (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    return x3, y3, h * z1 * z2 % P


def _to_jacobian(point: Point) -> _Jacobian:
    return _INFINITY if point is None else (point[0], point[1], 1)


def _to_affine(point: _Jacobian) -> Point:
    x, y, z = point
    if z == 0:
        return None
    z_inverse = pow(z, -1, P)
    zz = z_inverse * z_inverse % P
    return x * zz % P, y * zz * z_inverse % P


def _window_table(point: _Jacobian) -> list[_Jacobian]:
    table = [_INFINITY, point]
    for _ in range(14):
        table.append(_add(table[-1], point))
    return table


def multiply_add(a: int, first: Point, b: int, second: Point) -> Point:
    """a*first + b*second (Straus' interleaving with 4-bit windows: ~256 doublings, ~128 additions)."""
    tables = [_window_table(_to_jacobian(first)), _window_table(_to_jacobian(second))]
    scalars = [a % N, b % N]
    accumulator = _INFINITY
    for shift in range(252, -1, -4):
        for _ in range(4):
            accumulator = _double(accumulator)
        for table, scalar in zip(tables, scalars, strict=True):
            digit = (scalar >> shift) & 15
            if digit:
                accumulator = _add(accumulator, table[digit])
    return _to_affine(accumulator)


def multiply(scalar: int, point: Point = G) -> Point:
    """scalar*point (default: the generator)."""
    return multiply_add(scalar, point, 0, None)


# -- keys -------------------------------------------------------------------------------------------

def secret_scalar(secret: bytes) -> int:
    """The private key as an integer; EncodingError unless 32 bytes in [1, N)."""
    if not isinstance(secret, bytes | bytearray) or len(secret) != 32:
        raise EncodingError("secp256k1: a private key is 32 bytes")
    d = int.from_bytes(secret, "big")
    if not 0 < d < N:
        raise EncodingError("secp256k1: private key out of range [1, N)")
    return d


def encode_point(point: Point, *, compressed: bool = True) -> bytes:
    """SEC 1 encoding: 33 bytes (02/03 || x) or 65 bytes (04 || x || y)."""
    if point is None:
        raise EncodingError("secp256k1: the point at infinity has no encoding")
    x, y = point
    if compressed:
        return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def lift_x(x: int, odd: bool) -> Point:
    """The curve point with this x and y parity, or None when x is not on the curve (or x >= P)."""
    if not 0 <= x < P:
        return None
    y_squared = (pow(x, 3, P) + 7) % P
    y = pow(y_squared, (P + 1) // 4, P)  # P = 3 mod 4
    if y * y % P != y_squared:
        return None
    return (x, y) if (y & 1) == odd else (x, P - y)


def decode_point(data: bytes) -> Point:
    """A SEC 1 encoded public key (33 or 65 bytes); EncodingError when not a valid curve point."""
    if len(data) == 33 and data[0] in (2, 3):
        point = lift_x(int.from_bytes(data[1:], "big"), data[0] == 3)
    elif len(data) == 65 and data[0] == 4:
        point = (int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big"))
        if not is_on_curve(point):
            point = None
    else:
        raise EncodingError("secp256k1: a public key is 33 bytes (02/03 prefix) or 65 bytes (04 prefix)")
    if point is None:
        raise EncodingError("secp256k1: not a point on the curve")
    return point


def public_key(secret: bytes, *, engine: Engine = "auto") -> Point:
    """The public point d*G of a 32-byte private key."""
    d = secret_scalar(secret)
    coincurve = _coincurve(engine)
    if coincurve is not None:
        return decode_point(coincurve.PrivateKey(bytes(secret)).public_key.format(compressed=False))
    return multiply(d)


# -- signatures -------------------------------------------------------------------------------------

def rfc6979_nonce(secret: bytes, digest: bytes) -> int:
    """The first RFC 6979 nonce k in [1, N) for (private key, 32-byte digest), HMAC-SHA256, qlen = 256.

    The loop past the first candidate is RFC 6979 section 3.2 step h.3; signing below does not need the
    later candidates that libsecp256k1 would draw when r or s is 0 (probability ~2^-256).
    """
    message = (int.from_bytes(digest, "big") % N).to_bytes(32, "big")  # bits2octets
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + secret + message, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + secret + message, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        candidate = int.from_bytes(v, "big")
        if 0 < candidate < N:
            return candidate
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def sign(secret: bytes, digest: bytes, *, engine: Engine = "auto") -> tuple[int, int, int]:
    """(r, s, recovery_id) of a low-s ECDSA signature over the 32-byte ``digest``, deterministic."""
    d = secret_scalar(secret)
    _check_digest(digest)
    coincurve = _coincurve(engine)
    if coincurve is not None:
        raw = coincurve.PrivateKey(bytes(secret)).sign_recoverable(bytes(digest), hasher=None)
        return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    e = int.from_bytes(digest, "big")
    k = rfc6979_nonce(bytes(secret), digest)
    point = multiply(k)
    assert point is not None  # k in [1, N)
    r = point[0] % N
    s = pow(k, -1, N) * (e + r * d) % N
    if r == 0 or s == 0:  # probability ~2^-256; libsecp256k1 would try the next RFC 6979 nonce
        raise EncodingError("secp256k1: degenerate signature for this key and digest")
    recovery_id = (point[1] & 1) | (2 if point[0] >= N else 0)
    if s > HALF_N:
        s, recovery_id = N - s, recovery_id ^ 1
    return r, s, recovery_id


def check_signature_scalars(r: int, s: int, *, require_low_s: bool = True) -> None:
    """EncodingError unless 0 < r < N and 0 < s < N, and (by default) s <= N/2 (low-s)."""
    if not 0 < r < N:
        raise EncodingError("secp256k1: r out of range [1, N)")
    if not 0 < s < N:
        raise EncodingError("secp256k1: s out of range [1, N)")
    if require_low_s and s > HALF_N:
        raise EncodingError("secp256k1: high s (a malleated signature; s must be at most N/2)")


def recover(digest: bytes, r: int, s: int, recovery_id: int, *, engine: Engine = "auto") -> Point:
    """The public key Q with a valid low-s signature (r, s) over ``digest`` for this recovery id.

    Q = r^-1 (s*R - e*G) where R is the point with x = r (+ N when recovery_id >= 2) and the
    recovery id's y parity. EncodingError when the scalars are out of range, s is high, or no such
    key exists.
    """
    _check_digest(digest)
    check_signature_scalars(r, s)
    if recovery_id not in (0, 1, 2, 3):
        raise EncodingError("secp256k1: recovery id must be 0..3")
    x = r + N if recovery_id >= 2 else r
    nonce_point = lift_x(x, bool(recovery_id & 1))
    if nonce_point is None:
        raise EncodingError("secp256k1: r does not correspond to a curve point for this recovery id")
    coincurve = _coincurve(engine)
    if coincurve is not None:
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recovery_id])
        try:
            recovered = coincurve.PublicKey.from_signature_and_message(raw, bytes(digest), hasher=None)
        except Exception as exc:  # libsecp256k1 reports failure with its own exception types
            raise EncodingError("secp256k1: no public key recovers from this signature") from exc
        return decode_point(recovered.format(compressed=False))
    e = int.from_bytes(digest, "big") % N
    r_inverse = pow(r, -1, N)
    point = multiply_add(-e * r_inverse, G, s * r_inverse, nonce_point)
    if point is None:
        raise EncodingError("secp256k1: no public key recovers from this signature")
    return point


def verify(public: Point, digest: bytes, r: int, s: int, *, require_low_s: bool = True) -> bool:
    """True iff (r, s) is a valid ECDSA signature of ``digest`` under ``public`` (low-s by default)."""
    _check_digest(digest)
    if public is None or not is_on_curve(public):
        return False
    try:
        check_signature_scalars(r, s, require_low_s=require_low_s)
    except EncodingError:
        return False
    e = int.from_bytes(digest, "big") % N
    s_inverse = pow(s, -1, N)
    point = multiply_add(e * s_inverse, G, r * s_inverse, public)
    return point is not None and point[0] % N == r


def _check_digest(digest: bytes) -> None:
    if not isinstance(digest, bytes | bytearray) or len(digest) != 32:
        raise EncodingError("secp256k1: the signed digest is 32 bytes")


def _coincurve(engine: Engine):
    if engine == "pure":
        return None
    if engine != "auto":
        raise ValueError(f"unknown engine {engine!r}")
    try:
        import coincurve
    except ImportError:  # the pure-Python path gives the same bytes
        return None
    return coincurve
