"""Blinding factors: fresh from the OS CSPRNG, or derived deterministically from a secret.

Deterministic derivation (docs/protocol.md, "Blinding derivation")::

    scalar(part_1, ..., part_n) = int(HMAC-SHA-512(secret, DOMAIN || enc(part_1) || ... || enc(part_n))) mod R

with ``DOMAIN = b"zkclear-v1/blinding"`` and, for each part, ``enc(part) = tag || u32be(len(body)) || body``:

===========  =====  ===============================================================
part type    tag    body
===========  =====  ===============================================================
``bytes``    0x01   the bytes themselves
``str``      0x02   its UTF-8 encoding
``int``      0x03   ASCII decimal, ``-`` first when negative, no leading zeros ("0" for 0)
===========  =====  ===============================================================

The 64-byte HMAC output is read big-endian and reduced mod R (bias < 2^-257). Each part is
type-tagged and length-prefixed, so distinct part tuples give distinct HMAC inputs:
("ab", "c") and ("a", "bc") differ, as do 5, "5" and b"5".

The deterministic mode lets an operator re-derive every blinding of an epoch from one secret
(for audits and crash recovery); the secret must carry at least 256 bits of entropy, since
anyone holding it can open every commitment.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable

from zkclear.crypto.field import R, fr_random

#: Domain-separation prefix of every deterministic blinding derivation.
BLINDING_DOMAIN = b"zkclear-v1/blinding"
#: First context part of every prover nonce (see :meth:`BlindingSource.nonces`).
NONCE_LABEL = b"zkclear-v1/nonce"

_TAG_BYTES = b"\x01"
_TAG_STR = b"\x02"
_TAG_INT = b"\x03"

ContextPart = bytes | str | int


def encode_context_part(part: ContextPart) -> bytes:
    """The unambiguous encoding ``tag || u32be(len(body)) || body`` of one context part."""
    if isinstance(part, bool):  # bool is an int subclass; True vs 1 would be ambiguous
        raise TypeError("blinding context parts are bytes, str or int, not bool")
    if isinstance(part, bytes | bytearray):
        tag, body = _TAG_BYTES, bytes(part)
    elif isinstance(part, str):
        tag, body = _TAG_STR, part.encode("utf-8")
    elif isinstance(part, int):
        tag, body = _TAG_INT, str(part).encode("ascii")
    else:
        raise TypeError(f"blinding context parts are bytes, str or int, not {type(part).__name__}")
    return tag + struct.pack(">I", len(body)) + body


class BlindingSource:
    """Where blinding factors come from: ``BlindingSource.random()`` or ``.deterministic(secret)``.

    Never shows its secret in ``repr``. Instances are immutable and safe to share.
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | None) -> None:
        """Prefer the constructors :meth:`random` and :meth:`deterministic`."""
        object.__setattr__(self, "_secret", secret)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("BlindingSource is immutable")

    @classmethod
    def random(cls) -> BlindingSource:
        """Every ``scalar`` call returns a fresh uniform element of Fr from the OS CSPRNG."""
        return cls(None)

    @classmethod
    def deterministic(cls, secret: bytes) -> BlindingSource:
        """``scalar(*context)`` is a fixed function of (secret, context); see the module doc."""
        if not isinstance(secret, bytes | bytearray):
            raise TypeError(f"the blinding secret must be bytes, got {type(secret).__name__}")
        if len(secret) == 0:
            raise ValueError("the blinding secret must not be empty")
        return cls(bytes(secret))

    @property
    def is_deterministic(self) -> bool:
        return self._secret is not None

    def scalar(self, *context_parts: ContextPart) -> int:
        """A blinding in [0, R) for this context (epoch, account, purpose, ...).

        Deterministic mode: the same (secret, context) always gives the same scalar, and
        different contexts give independent-looking scalars. Random mode: a fresh scalar per call
        (the context is still validated, so code paths behave the same in both modes).
        """
        message = BLINDING_DOMAIN + b"".join(encode_context_part(part) for part in context_parts)
        if self._secret is None:
            return fr_random()
        digest = hmac.new(self._secret, message, hashlib.sha512).digest()
        return int.from_bytes(digest, "big") % R

    def scalars(self, count: int, *context_parts: ContextPart) -> list[int]:
        """``[scalar(*context_parts, i) for i in range(count)]``, e.g. for a blinding vector."""
        return [self.scalar(*context_parts, index) for index in range(count)]

    def nonces(self, *context_parts: ContextPart) -> Callable[[], int]:
        """A source of prover nonces (the random scalars inside one proof).

        Deterministic mode: ``seed = HMAC-SHA-512(secret, NONCE_LABEL || enc(part_1) || ...)`` once, then
        the i-th call returns ``int(HMAC-SHA-512(seed, u64be(i))) mod R``; re-proving the same statement
        gives a byte-identical proof. Callers MUST include the proof's context and its whole witness
        (values and blindings) in ``context_parts``: as in RFC 6979, a nonce is then never reused for a
        different witness (reuse across two witnesses would let anyone solve for the witness).
        Random mode: fresh OS-CSPRNG scalars.
        """
        if self._secret is None:
            return fr_random
        message = NONCE_LABEL + b"".join(encode_context_part(part) for part in context_parts)
        seed = hmac.new(self._secret, message, hashlib.sha512).digest()
        counter = iter(range(1 << 63))

        def next_nonce() -> int:
            block = hmac.new(seed, struct.pack(">Q", next(counter)), hashlib.sha512).digest()
            return int.from_bytes(block, "big") % R

        return next_nonce

    def __reduce__(self) -> tuple[type[BlindingSource], tuple[bytes | None]]:
        # Picklable despite the immutability guard, so a source can go to executor workers.
        return (BlindingSource, (self._secret,))

    def __repr__(self) -> str:
        if self._secret is None:
            return "BlindingSource.random()"
        return "BlindingSource.deterministic(<secret>)"
