"""Bech32 (BIP-173) and Bech32m (BIP-350) strings, and segwit addresses built on them.

A string is ``hrp || "1" || data || checksum``: the human-readable part (1-83 characters in 33..126),
the separator (the last "1"), 5-bit data symbols and six checksum symbols from the alphabet below.
The checksum is a BCH code over GF(32); Bech32 and Bech32m differ only in the constant the polymod
must equal (1 and 0x2bc830a3). Strings are at most 90 characters and either all lower case or all
upper case (the decoder returns the lower-case hrp). A segwit address carries the witness version
(0-16) as its first symbol and the program (2-40 bytes; 20 or 32 for version 0) packed into 5-bit
groups with zero padding of at most 4 bits; version 0 uses Bech32, versions 1-16 Bech32m.
"""

from __future__ import annotations

from enum import Enum

from zkclear.errors import EncodingError

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_INDEX = {character: value for value, character in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
MAX_LENGTH = 90


class Encoding(Enum):
    """Which checksum constant a string uses."""

    BECH32 = 1
    BECH32M = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit in range(5):
            if (top >> bit) & 1:
                checksum ^= _GENERATOR[bit]
    return checksum


def _expand_hrp(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _checksum(hrp: str, data: list[int], encoding: Encoding) -> list[int]:
    polymod = _polymod([*_expand_hrp(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ encoding.value
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def bech32_encode(hrp: str, data: list[int] | tuple[int, ...], encoding: Encoding) -> str:
    """The lower-case string of ``hrp`` and 5-bit ``data`` with ``encoding``'s checksum."""
    hrp = hrp.lower()
    symbols = list(data)
    return hrp + "1" + "".join(CHARSET[v] for v in symbols + _checksum(hrp, symbols, encoding))


def bech32_decode(text: str) -> tuple[str, list[int], Encoding]:
    """(hrp in lower case, data symbols without the checksum, encoding); EncodingError when invalid."""
    if not isinstance(text, str) or not 8 <= len(text) <= MAX_LENGTH:
        raise EncodingError("bech32: length must be 8 to 90 characters")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise EncodingError("bech32: character out of range")
    if text.lower() != text and text.upper() != text:
        raise EncodingError("bech32: mixed case")
    text = text.lower()
    separator = text.rfind("1")
    if separator < 1:
        raise EncodingError("bech32: missing separator or empty human-readable part")
    if separator + 7 > len(text):
        raise EncodingError("bech32: checksum too short")
    hrp, body = text[:separator], text[separator + 1:]
    if any(c not in _INDEX for c in body):
        raise EncodingError("bech32: invalid data character")
    symbols = [_INDEX[c] for c in body]
    constant = _polymod(_expand_hrp(hrp) + symbols)
    for encoding in Encoding:
        if constant == encoding.value:
            return hrp, symbols[:-6], encoding
    raise EncodingError("bech32: checksum mismatch")


def convert_bits(data: list[int] | bytes, from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    """Regroup ``data`` from ``from_bits``-bit to ``to_bits``-bit values (big-endian bit order).

    With ``pad`` the last group is zero-padded; without it, leftover bits must be fewer than
    ``from_bits`` and all zero (EncodingError otherwise).
    """
    accumulator = bits = 0
    out = []
    mask = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise EncodingError("bech32: value out of range")
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & mask)
    if pad:
        if bits:
            out.append((accumulator << (to_bits - bits)) & mask)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & mask:
        raise EncodingError("bech32: invalid padding")
    return out


def encode_segwit_address(hrp: str, version: int, program: bytes) -> str:
    """The segwit address of (version, program) for ``hrp`` ("bc", "tb"); checked by decoding it back."""
    encoding = Encoding.BECH32 if version == 0 else Encoding.BECH32M
    text = bech32_encode(hrp, [version, *convert_bits(program, 8, 5, pad=True)], encoding)
    decode_segwit_address(hrp, text)
    return text


def decode_segwit_address(hrp: str, text: str) -> tuple[int, bytes]:
    """(witness version, program) of a segwit address for ``hrp``; EncodingError when invalid."""
    found_hrp, data, encoding = bech32_decode(text)
    if found_hrp != hrp:
        raise EncodingError(f"segwit address: human-readable part {found_hrp!r}, expected {hrp!r}")
    if not data:
        raise EncodingError("segwit address: empty data")
    version = data[0]
    if version > 16:
        raise EncodingError(f"segwit address: invalid witness version {version}")
    program = bytes(convert_bits(data[1:], 5, 8, pad=False))
    if not 2 <= len(program) <= 40:
        raise EncodingError(f"segwit address: invalid program length {len(program)}")
    if version == 0 and len(program) not in (20, 32):
        raise EncodingError(f"segwit address: version 0 program of {len(program)} bytes (20 or 32 allowed)")
    expected = Encoding.BECH32 if version == 0 else Encoding.BECH32M
    if encoding is not expected:
        raise EncodingError(f"segwit address: version {version} must use {expected.name.lower()}")
    return version, program
