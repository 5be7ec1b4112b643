"""The range proof value and its byte encoding (docs/protocol.md, "Range proof", section "Encoding").

Layout, all points 48-byte compressed G1 and all scalars 32-byte big-endian canonical (< r):

    offset  size  field
    0       1     version = 0x01
    1       1     k = number of inner-product rounds = log2(n·M)
    2       48    A
    50      48    S
    98      48    T1
    146     48    T2
    194     32    tau_x
    226     32    mu
    258     32    t_hat
    290     96·k  L_0, R_0, L_1, R_1, ..., L_{k-1}, R_{k-1}
    290+96k 32    a
    322+96k 32    b

Total: 354 + 96·k bytes. n and m are not encoded: the verifier knows them from the statement
and decoding checks that k matches them.
"""

from __future__ import annotations

from dataclasses import dataclass

from provers.bulletproofs.inner_product import InnerProductProof
from provers.bulletproofs.parameters import check_parameters, inner_product_rounds
from zkclear.crypto.field import SCALAR_BYTES, scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.group import POINT_BYTES, G1Point
from zkclear.errors import EncodingError

#: The encoding version this module writes and reads.
VERSION = 1
HEADER_BYTES = 2


def encoded_size(rounds: int) -> int:
    """Bytes in a proof with ``rounds`` inner-product rounds: 354 + 96·rounds."""
    return HEADER_BYTES + 4 * POINT_BYTES + 3 * SCALAR_BYTES + 2 * rounds * POINT_BYTES + 2 * SCALAR_BYTES


@dataclass(frozen=True, slots=True)
class RangeProof:
    """An aggregated range proof: the messages A, S, T1, T2, tau_x, mu, t_hat and the IPA."""

    A: G1Point
    S: G1Point
    T1: G1Point
    T2: G1Point
    tau_x: int
    mu: int
    t_hat: int
    ipp: InnerProductProof

    def to_bytes(self) -> bytes:
        """The canonical encoding (see the module docstring)."""
        rounds = len(self.ipp.L_vec)
        if len(self.ipp.R_vec) != rounds or rounds > 255:
            raise EncodingError(f"cannot encode an inner-product proof with {rounds} rounds")
        parts = [bytes([VERSION, rounds])]
        parts += [point.to_bytes() for point in (self.A, self.S, self.T1, self.T2)]
        parts += [scalar_to_bytes(s) for s in (self.tau_x, self.mu, self.t_hat)]
        for L, R in zip(self.ipp.L_vec, self.ipp.R_vec, strict=True):
            parts += [L.to_bytes(), R.to_bytes()]
        parts += [scalar_to_bytes(self.ipp.a), scalar_to_bytes(self.ipp.b)]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, *, n_bits: int, m: int) -> RangeProof:
        """Decode a proof for m values of n_bits bits.

        Guaranteed: returns only a proof whose points are in the prime-order subgroup and whose
        scalars are canonical, with exactly log2(n·M) rounds; anything else raises EncodingError.
        """
        check_parameters(n_bits, m, EncodingError)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EncodingError(f"a range proof is bytes, got {type(data).__name__}")
        data = bytes(data)
        rounds = inner_product_rounds(n_bits, m)
        expected = encoded_size(rounds)
        if len(data) < HEADER_BYTES:
            raise EncodingError(f"range proof is {len(data)} bytes, shorter than its header")
        if data[0] != VERSION:
            raise EncodingError(f"unknown range proof version {data[0]} (expected {VERSION})")
        if data[1] != rounds:
            raise EncodingError(f"range proof has {data[1]} inner-product rounds, expected {rounds} "
                                f"for n={n_bits}, m={m}")
        if len(data) != expected:
            raise EncodingError(f"range proof is {len(data)} bytes, expected {expected}")
        reader = _Reader(data, HEADER_BYTES)
        A, S, T1, T2 = (reader.point(name) for name in ("A", "S", "T1", "T2"))
        tau_x, mu, t_hat = (reader.scalar(name) for name in ("tau_x", "mu", "t_hat"))
        L_vec, R_vec = [], []
        for k in range(rounds):
            L_vec.append(reader.point(f"L_{k}"))
            R_vec.append(reader.point(f"R_{k}"))
        a, b = reader.scalar("a"), reader.scalar("b")
        ipp = InnerProductProof(L_vec=tuple(L_vec), R_vec=tuple(R_vec), a=a, b=b)
        return cls(A=A, S=S, T1=T1, T2=T2, tau_x=tau_x, mu=mu, t_hat=t_hat, ipp=ipp)


class _Reader:
    """Sequential reader that names the field in every decoding error."""

    __slots__ = ("data", "offset")

    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    def _take(self, size: int) -> tuple[int, bytes]:
        start = self.offset
        self.offset += size
        return start, self.data[start:self.offset]

    def point(self, name: str) -> G1Point:
        start, chunk = self._take(POINT_BYTES)
        try:
            return G1Point.from_bytes(chunk)
        except EncodingError as exc:
            raise EncodingError(f"range proof field {name} (byte offset {start}): {exc}") from exc

    def scalar(self, name: str) -> int:
        start, chunk = self._take(SCALAR_BYTES)
        try:
            return scalar_from_bytes(chunk)
        except EncodingError as exc:
            raise EncodingError(f"range proof field {name} (byte offset {start}): {exc}") from exc
