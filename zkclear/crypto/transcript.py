"""Fiat–Shamir transcript in the style of Merlin, over SHA-512 (hashlib).

Spec (docs/protocol.md, "Transcript"): the state is a SHA-512 hash object. Every item
fed to it is *framed* as ``u32be(len(label)) || label || u32be(len(data)) || data``.

- ``Transcript(protocol_label)``: absorbs frame(b"zkclear-transcript-v1", b"") then
  frame(b"dom-sep", protocol_label).
- ``append_message(label, data)``: absorbs frame(label, data).
- ``append_point(label, P)``: append_message(label, 48-byte compressed P).
- ``append_scalar(label, s)``: append_message(label, 32-byte big-endian s mod r).
- ``append_u64(label, n)``: append_message(label, u64be(n)).
- ``challenge_scalar(label)``: out = SHA-512(state || frame(b"challenge", label)) is a
  64-byte (512-bit) string; the challenge is int.from_bytes(out, "big") mod r (bias
  < 2^-257); then the transcript absorbs frame(b"challenge-out", out) so every later
  challenge depends on this one.
"""

from __future__ import annotations

import hashlib
import struct

from zkclear.crypto.field import R, scalar_to_bytes
from zkclear.crypto.group import G1Point

_VERSION_LABEL = b"zkclear-transcript-v1"


def _frame(label: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(label)) + label + struct.pack(">I", len(data)) + data


class Transcript:
    """A running Fiat–Shamir transcript; both prover and verifier drive one identically."""

    __slots__ = ("_state",)

    def __init__(self, protocol_label: bytes) -> None:
        self._state = hashlib.sha512()
        self._state.update(_frame(_VERSION_LABEL, b""))
        self.append_message(b"dom-sep", protocol_label)

    def append_message(self, label: bytes, data: bytes) -> None:
        """Absorb labelled bytes."""
        # bytes(n) of an int n is n zero bytes: refuse anything that is not already bytes, so a
        # caller that forgets to encode a number fails loudly instead of binding the wrong data.
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"transcript data must be bytes, got {type(data).__name__}")
        self._state.update(_frame(label, bytes(data)))

    def append_u64(self, label: bytes, value: int) -> None:
        """Absorb a non-negative integer below 2^64 as 8 big-endian bytes."""
        if not 0 <= value < 1 << 64:
            raise ValueError(f"append_u64: {value} out of range")
        self.append_message(label, struct.pack(">Q", value))

    def append_scalar(self, label: bytes, scalar: int) -> None:
        """Absorb an Fr element (32 bytes, big-endian, reduced mod r)."""
        self.append_message(label, scalar_to_bytes(scalar))

    def append_point(self, label: bytes, point: G1Point) -> None:
        """Absorb a G1 point in its 48-byte compressed encoding."""
        self.append_message(label, point.to_bytes())

    def append_points(self, label: bytes, points: list[G1Point] | tuple[G1Point, ...]) -> None:
        """Absorb a list of points: its length (u64) then each point under the same label."""
        self.append_u64(label + b"/len", len(points))
        for point in points:
            self.append_point(label, point)

    def challenge_bytes(self, label: bytes) -> bytes:
        """64 challenge bytes bound to everything absorbed so far; the output is absorbed back."""
        fork = self._state.copy()
        fork.update(_frame(b"challenge", label))
        out = fork.digest()
        self._state.update(_frame(b"challenge-out", out))
        return out

    def challenge_scalar(self, label: bytes) -> int:
        """A challenge in Fr from a 512-bit hash output reduced mod r."""
        return int.from_bytes(self.challenge_bytes(label), "big") % R

    def fork(self) -> Transcript:
        """An independent copy of the transcript in its current state."""
        clone = Transcript.__new__(Transcript)
        clone._state = self._state.copy()
        return clone
