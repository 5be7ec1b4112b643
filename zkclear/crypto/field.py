"""The BLS12-381 base field modulus ``P`` and the scalar field Fr = GF(R) of the G1 group.

Scalars are plain Python ints in ``[0, R)`` on every hot path (a galois ``FieldArray``
element costs far more per operation than an int; see docs/performance.md). galois is
used where its vector API makes code clearer, through :func:`fr_field`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from functools import cache

from zkclear.errors import EncodingError

#: Base field modulus of BLS12-381 (381 bits).
P = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
#: Prime order of the G1 subgroup, i.e. the scalar field modulus (255 bits).
R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
#: A generator of the multiplicative group Fr^* (the value arkworks and blst use).
FR_MULTIPLICATIVE_GENERATOR = 7

SCALAR_BYTES = 32

try:  # gmpy2's modular power is ~10x faster than pow() at 381 bits (square roots when decoding)
    from gmpy2 import powmod as _powmod
except ImportError:  # tests/crypto/test_backends.py runs this path in a subprocess
    _powmod = pow

_FP_SQRT_EXPONENT = (P + 1) // 4  # P = 3 mod 4, so a^((P+1)/4) is a square root of a square a


def fr_inv(a: int) -> int:
    """Inverse of ``a`` in Fr; raises ``ZeroDivisionError`` for 0 mod R."""
    a %= R
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in Fr")
    return pow(a, -1, R)


def fr_batch_inv(values: Sequence[int]) -> list[int]:
    """Inverses of many non-zero Fr elements with one field inversion (Montgomery's trick)."""
    n = len(values)
    if n == 0:
        return []
    prefix = [0] * n
    acc = 1
    for i, v in enumerate(values):
        if v % R == 0:
            raise ZeroDivisionError("0 has no inverse in Fr")
        prefix[i] = acc
        acc = acc * v % R
    inv = pow(acc, -1, R)
    out = [0] * n
    for i in range(n - 1, -1, -1):
        out[i] = inv * prefix[i] % R
        inv = inv * values[i] % R
    return out


def fp_sqrt(a: int) -> int | None:
    """A square root of ``a`` in GF(P) (the one ``a^((P+1)/4)`` gives), or None if ``a`` is not a square."""
    a %= P
    root = int(_powmod(a, _FP_SQRT_EXPONENT, P))
    return root if root * root % P == a else None


def fr_random() -> int:
    """A uniformly random element of Fr from the OS CSPRNG."""
    return secrets.randbelow(R)


def scalar_to_bytes(s: int) -> bytes:
    """The canonical 32-byte big-endian encoding of ``s mod R``."""
    return (s % R).to_bytes(SCALAR_BYTES, "big")


def scalar_from_bytes(data: bytes) -> int:
    """Decode a canonical scalar: exactly 32 bytes, big-endian, value < R."""
    if len(data) != SCALAR_BYTES:
        raise EncodingError(f"scalar must be {SCALAR_BYTES} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if value >= R:
        raise EncodingError("non-canonical scalar: value >= group order r")
    return value


@cache
def fr_field():
    """The galois class for GF(R) (cached), built without galois' slow set-up checks.

    ``galois.GF(R)`` on the default path verifies primality and searches for a primitive
    element by factoring R - 1: 58 s on the dev box. R is a known prime and 7 a known
    generator of Fr^* (tests/crypto/test_field.py checks both), so we pass the generator and
    ``verify=False``: import of zkclear plus this call takes ~0.6 s there.
    """
    import galois

    return galois.GF(R, primitive_element=FR_MULTIPLICATIVE_GENERATOR, verify=False)
