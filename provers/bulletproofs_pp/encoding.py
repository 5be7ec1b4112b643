"""The Bulletproofs++ range proof value and its byte encoding (experimental; no file of the product holds it).

Layout, all points 48-byte compressed G1 and all scalars 32-byte big-endian canonical (< r):

    offset  size   field
    0       1      version = 0x02 (0x01: the earlier power layout, no longer read)
    1       1      k = number of WNLA rounds
    2       48     C_D
    50      48     C_B
    98      48     C_R
    146     48     C_S
    194     96·k   X_0, R_0, X_1, R_1, ..., X_{k-1}, R_{k-1}
    194+96k 32·a   l (the WNLA's final linear vector, a scalars)
    ...     32·b   n (the WNLA's final norm vector, b scalars)

k, a and b follow from m (:func:`provers.bulletproofs_pp.parameters.proof_shape`): m is not encoded,
the verifier knows it from the statement and decoding checks that k matches it.
"""

from __future__ import annotations

from dataclasses import dataclass

from provers.bulletproofs_pp.parameters import check_count, proof_shape
from provers.bulletproofs_pp.wnla import WnlaProof
from zkclear.crypto.field import SCALAR_BYTES, scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.group import POINT_BYTES, G1Point
from zkclear.errors import EncodingError

#: The encoding version this module writes and reads.
VERSION = 2
HEADER_BYTES = 2


def encoded_size(m: int) -> int:
    """Bytes in a proof for m values: 2 + 48·(4 + 2k) + 32·(a + b)."""
    rounds, l_final, n_final = proof_shape(m)
    return HEADER_BYTES + POINT_BYTES * (4 + 2 * rounds) + SCALAR_BYTES * (l_final + n_final)


@dataclass(frozen=True, slots=True)
class BppRangeProof:
    """A Bulletproofs++ range proof: the commitments C_D, C_B, C_R, C_S and the WNLA proof."""

    C_D: G1Point
    C_B: G1Point
    C_R: G1Point
    C_S: G1Point
    wnla: WnlaProof

    def to_bytes(self) -> bytes:
        """The canonical encoding (see the module docstring)."""
        rounds = len(self.wnla.X)
        if len(self.wnla.R) != rounds or rounds > 255:
            raise EncodingError(f"cannot encode a WNLA proof with {rounds} rounds")
        parts = [bytes([VERSION, rounds])]
        parts += [point.to_bytes() for point in (self.C_D, self.C_B, self.C_R, self.C_S)]
        for X, R in zip(self.wnla.X, self.wnla.R, strict=True):
            parts += [X.to_bytes(), R.to_bytes()]
        parts += [scalar_to_bytes(s) for s in (*self.wnla.l, *self.wnla.n)]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, *, m: int) -> BppRangeProof:
        """Decode a proof for m values.

        Guaranteed: returns only a proof whose points are in the prime-order subgroup and whose
        scalars are canonical, of exactly the shape m implies; anything else raises EncodingError.
        """
        check_count(m, EncodingError)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EncodingError(f"a Bulletproofs++ range proof is bytes, got {type(data).__name__}")
        data = bytes(data)
        rounds, l_final, n_final = proof_shape(m)
        if len(data) < HEADER_BYTES:
            raise EncodingError(f"Bulletproofs++ range proof is {len(data)} bytes, shorter than its header")
        if data[0] != VERSION:
            raise EncodingError(f"unknown Bulletproofs++ range proof version {data[0]} (expected {VERSION})")
        if data[1] != rounds:
            raise EncodingError(f"Bulletproofs++ range proof has {data[1]} rounds, expected {rounds} for m={m}")
        if len(data) != encoded_size(m):
            raise EncodingError(f"Bulletproofs++ range proof is {len(data)} bytes, expected {encoded_size(m)}")
        offset = HEADER_BYTES

        def point(name: str) -> G1Point:
            nonlocal offset
            start, offset = offset, offset + POINT_BYTES
            try:
                return G1Point.from_bytes(data[start:offset])
            except EncodingError as exc:
                raise EncodingError(f"Bulletproofs++ range proof field {name} (byte offset {start}): {exc}") from exc

        def scalar(name: str) -> int:
            nonlocal offset
            start, offset = offset, offset + SCALAR_BYTES
            try:
                return scalar_from_bytes(data[start:offset])
            except EncodingError as exc:
                raise EncodingError(f"Bulletproofs++ range proof field {name} (byte offset {start}): {exc}") from exc

        C_D, C_B, C_R, C_S = point("C_D"), point("C_B"), point("C_R"), point("C_S")
        X_vec, R_vec = [], []
        for k in range(rounds):
            X_vec.append(point(f"X_{k}"))
            R_vec.append(point(f"R_{k}"))
        l_final_vec = tuple(scalar(f"l_{i}") for i in range(l_final))
        n_final_vec = tuple(scalar(f"n_{i}") for i in range(n_final))
        wnla = WnlaProof(X=tuple(X_vec), R=tuple(R_vec), l=l_final_vec, n=n_final_vec)
        return cls(C_D=C_D, C_B=C_B, C_R=C_R, C_S=C_S, wnla=wnla)
