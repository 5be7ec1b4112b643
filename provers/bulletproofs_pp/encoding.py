"""The Bulletproofs++ range proof value and its byte encoding (inside collateral proofs v4 and node proofs).

Layout, all points 48-byte compressed G1 and all scalars 32-byte big-endian canonical (< r):

    offset  size   field
    0       1      version = 0x03 (0x02: the same proof without the n_bits byte, and 0x01: the earlier
                   power layout, are no longer read)
    1       1      n_bits (8, 16, 32 or 64)
    2       1      k = number of WNLA rounds
    3       48     C_D
    51      48     C_B
    99      48     C_R
    147     48     C_S
    195     96·k   X_0, R_0, X_1, R_1, ..., X_{k-1}, R_{k-1}
    195+96k 32·a   l (the WNLA's final linear vector, a scalars)
    ...     32·b   n (the WNLA's final norm vector, b scalars)

k, a and b follow from m and n_bits (:func:`provers.bulletproofs_pp.parameters.proof_shape`): m is not
encoded, the verifier knows it (and n_bits) from the statement; decoding checks that the n_bits byte is the
expected one and that k matches. From version 2 only the header changed: the bytes from k on are those
version 2 wrote for the same 64-bit proof.
"""

from __future__ import annotations

from dataclasses import dataclass

from provers.bulletproofs_pp.parameters import N_BITS, check_bits, check_count, proof_shape
from provers.bulletproofs_pp.wnla import WnlaProof
from zkclear.crypto.field import SCALAR_BYTES, scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.group import POINT_BYTES, G1Point
from zkclear.errors import EncodingError

#: The encoding version this module writes and reads.
VERSION = 3
HEADER_BYTES = 3


def encoded_size(m: int, n_bits: int = N_BITS) -> int:
    """Bytes in a proof for m values of n_bits bits: 3 + 48·(4 + 2k) + 32·(a + b)."""
    rounds, l_final, n_final = proof_shape(m, n_bits)
    return HEADER_BYTES + POINT_BYTES * (4 + 2 * rounds) + SCALAR_BYTES * (l_final + n_final)


@dataclass(frozen=True, slots=True)
class BppRangeProof:
    """A Bulletproofs++ range proof: the commitments C_D, C_B, C_R, C_S, the WNLA proof and the bit width
    it proves (``n_bits``: encoded, and checked by the verifier against the statement's)."""

    C_D: G1Point
    C_B: G1Point
    C_R: G1Point
    C_S: G1Point
    wnla: WnlaProof
    n_bits: int = N_BITS

    def to_bytes(self) -> bytes:
        """The canonical encoding (see the module docstring)."""
        rounds = len(self.wnla.X)
        if len(self.wnla.R) != rounds or rounds > 255:
            raise EncodingError(f"cannot encode a WNLA proof with {rounds} rounds")
        check_bits(self.n_bits, EncodingError)
        parts = [bytes([VERSION, self.n_bits, rounds])]
        parts += [point.to_bytes() for point in (self.C_D, self.C_B, self.C_R, self.C_S)]
        for X, R in zip(self.wnla.X, self.wnla.R, strict=True):
            parts += [X.to_bytes(), R.to_bytes()]
        parts += [scalar_to_bytes(s) for s in (*self.wnla.l, *self.wnla.n)]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, *, m: int, n_bits: int = N_BITS) -> BppRangeProof:
        """Decode a proof for m values of n_bits bits.

        Guaranteed: returns only a proof whose points are in the prime-order subgroup and whose
        scalars are canonical, whose n_bits byte is ``n_bits``, of exactly the shape m and n_bits imply;
        anything else raises EncodingError.
        """
        check_count(m, EncodingError)
        check_bits(n_bits, EncodingError)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EncodingError(f"a Bulletproofs++ range proof is bytes, got {type(data).__name__}")
        data = bytes(data)
        rounds, l_final, n_final = proof_shape(m, n_bits)
        size = encoded_size(m, n_bits)
        if len(data) < HEADER_BYTES:
            raise EncodingError(f"Bulletproofs++ range proof is {len(data)} bytes, shorter than its header")
        if data[0] != VERSION:
            raise EncodingError(f"unknown Bulletproofs++ range proof version {data[0]} (expected {VERSION})")
        if data[1] != n_bits:
            raise EncodingError(f"Bulletproofs++ range proof is for {data[1]} bits, expected {n_bits}")
        if data[2] != rounds:
            raise EncodingError(f"Bulletproofs++ range proof has {data[2]} rounds, expected {rounds} for m={m}, "
                                f"n={n_bits}")
        if len(data) != size:
            raise EncodingError(f"Bulletproofs++ range proof is {len(data)} bytes, expected {size}")
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
        return cls(C_D=C_D, C_B=C_B, C_R=C_R, C_S=C_S, wnla=wnla, n_bits=n_bits)
