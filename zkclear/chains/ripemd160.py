"""RIPEMD-160 (Dobbertin, Bosselaers, Preneel, 1996).

``hashlib`` offers RIPEMD-160 only when the OpenSSL it is linked against still ships it (OpenSSL 3 moved
it to the legacy provider, and Pyodide has no OpenSSL at all), so the function is implemented here.
Two parallel lines of 80 steps each over a 64-byte block, words little-endian, as in the paper.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF

# Message word chosen at each step, left and right line.
_WORD_LEFT = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
    3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
    1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
    4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13,
)
_WORD_RIGHT = (
    5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
    6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
    15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
    8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
    12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11,
)
# Left-rotation amount at each step.
_SHIFT_LEFT = (
    11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
    7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
    11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
    11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
    9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
)
_SHIFT_RIGHT = (
    8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
    9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
    9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
    15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
    8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
)
# Additive constant per round of 16 steps (integer parts of 2^30 * sqrt / cbrt of small primes).
_CONSTANT_LEFT = (0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E)
_CONSTANT_RIGHT = (0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000)
_INITIAL = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)


def _boolean(round_index: int, x: int, y: int, z: int) -> int:
    """The round's boolean function f_1 ... f_5 (the right line uses them in reverse order)."""
    if round_index == 0:
        return x ^ y ^ z
    if round_index == 1:
        return (x & y) | (~x & z)
    if round_index == 2:
        return (x | ~y) ^ z
    if round_index == 3:
        return (x & z) | (y & ~z)
    return x ^ (y | ~z)


def _rotate(word: int, count: int) -> int:
    word &= _MASK
    return ((word << count) | (word >> (32 - count))) & _MASK


def _compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    words = struct.unpack("<16I", block)
    a, b, c, d, e = state
    a2, b2, c2, d2, e2 = state
    for step in range(80):
        round_index = step // 16
        t = _rotate(a + _boolean(round_index, b, c, d) + words[_WORD_LEFT[step]] + _CONSTANT_LEFT[round_index],
                    _SHIFT_LEFT[step]) + e
        a, e, d, c, b = e, d, _rotate(c, 10), b, t & _MASK
        t = _rotate(a2 + _boolean(4 - round_index, b2, c2, d2) + words[_WORD_RIGHT[step]]
                    + _CONSTANT_RIGHT[round_index], _SHIFT_RIGHT[step]) + e2
        a2, e2, d2, c2, b2 = e2, d2, _rotate(c2, 10), b2, t & _MASK
    h0, h1, h2, h3, h4 = state
    return (
        (h1 + c + d2) & _MASK,
        (h2 + d + e2) & _MASK,
        (h3 + e + a2) & _MASK,
        (h4 + a + b2) & _MASK,
        (h0 + b + c2) & _MASK,
    )


def ripemd160(data: bytes) -> bytes:
    """RIPEMD-160 of ``data`` (20 bytes)."""
    padded = bytes(data) + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", 8 * len(data))
    state = _INITIAL
    for offset in range(0, len(padded), 64):
        state = _compress(state, padded[offset:offset + 64])
    return struct.pack("<5I", *state)

