"""Base58 (Bitcoin's alphabet) and Base58Check.

Base58 writes a byte string as a big-endian number in base 58 over the alphabet below (no 0, O, I, l),
with one ``1`` per leading zero byte. Every byte string has exactly one encoding, so a decoder that
accepts only alphabet characters is canonical. Base58Check appends the first 4 bytes of
SHA-256(SHA-256(payload)) before encoding; the decoder refuses a wrong checksum.
"""

from __future__ import annotations

from zkclear.chains.hashes import double_sha256
from zkclear.errors import EncodingError

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {character: value for value, character in enumerate(ALPHABET)}
MAX_TEXT_LENGTH = 200  # far above any address or signature; bounds the quadratic big-integer work


def b58encode(data: bytes) -> str:
    """The Base58 text of ``data``."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(ALPHABET[remainder])
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """The bytes of a Base58 text; EncodingError on a character outside the alphabet."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        raise EncodingError("base58: not a string of at most 200 characters")
    number = 0
    for position, character in enumerate(text):
        value = _INDEX.get(character)
        if value is None:
            raise EncodingError(f"base58: invalid character {character!r} at position {position + 1}")
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * zeros + body


def b58check_encode(payload: bytes) -> str:
    """Base58Check: Base58 of ``payload || SHA256d(payload)[:4]``."""
    return b58encode(payload + double_sha256(payload)[:4])


def b58check_decode(text: str) -> bytes:
    """The payload of a Base58Check text; EncodingError if it is too short or its checksum is wrong."""
    raw = b58decode(text)
    if len(raw) < 4:
        raise EncodingError("base58check: shorter than its 4-byte checksum")
    payload, checksum = raw[:-4], raw[-4:]
    if double_sha256(payload)[:4] != checksum:
        raise EncodingError("base58check: checksum mismatch")
    return payload
