"""Strict DER encoding of ECDSA signatures (BIP-66), as Bitcoin script and BIP-322 require.

``0x30 len 0x02 len(r) r 0x02 len(s) s``: each integer big-endian, positive and minimally encoded
(no leading 0x00 unless the next byte has its top bit set), the whole at most 72 bytes.
"""

from __future__ import annotations

from zkclear.errors import EncodingError


def _encode_integer(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # one spare bit keeps it positive
    return b"\x02" + bytes([len(body)]) + body


def der_encode(r: int, s: int) -> bytes:
    """The DER encoding of (r, s), both in [1, 2^256)."""
    body = _encode_integer(r) + _encode_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def _decode_integer(data: bytes, offset: int) -> tuple[int, int]:
    if offset + 2 > len(data) or data[offset] != 0x02:
        raise EncodingError("DER: expected an integer")
    length = data[offset + 1]
    body = data[offset + 2:offset + 2 + length]
    if length == 0 or len(body) != length:
        raise EncodingError("DER: integer length out of bounds")
    if body[0] & 0x80:
        raise EncodingError("DER: negative integer")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise EncodingError("DER: integer not minimally encoded")
    return int.from_bytes(body, "big"), offset + 2 + length


def der_decode(data: bytes) -> tuple[int, int]:
    """(r, s) of a strictly DER-encoded signature; EncodingError for any other byte string."""
    if not 8 <= len(data) <= 72 or data[0] != 0x30 or data[1] != len(data) - 2:
        raise EncodingError("DER: not a sequence of the stated length")
    r, offset = _decode_integer(data, 2)
    s, offset = _decode_integer(data, offset)
    if offset != len(data):
        raise EncodingError("DER: trailing bytes")
    return r, s
