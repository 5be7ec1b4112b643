"""A chunk's position sums as one vector commitment, and the proof that both commit to the same values.

Definitions (docs/protocol.md, "Position vector of a chunk"). For an epoch with n instruments:

- ``G_j = generator_vector("zkclear/positions/G", n)[j]`` (hash-to-curve, no known relation to G, H or each other);
- a chunk's position sums ``P_j = Σ_i C_{q_{i,j}}`` (one per instrument, over its 2^c accounts) commit to the
  chunk's net position ``X_j`` in instrument j: ``P_j = X_j·G + S_j·H``;
- its **position vector** ``V = Σ_j X_j·G_j + ρ·H`` commits to all n of them at once; above the chunks the tree
  carries V instead of the n sums, so a path, a padding node and a receipt's sibling carry one point for the
  matched book whatever the number of instruments;
- the **equality proof** ``π = (A, B, z_0..z_{n-1}, w, u)`` shows that V and the P_j commit to the same X_j.
  Transcript ``T = Transcript("zkclear/chunk-positions/v1")``; absorb ``context`` (the chunk's statement context),
  the P_j and V; ``γ = T.challenge("gamma")``; absorb A and B; ``e = T.challenge("e")``. Accept iff
  ``Σ_j z_j·G_j + u·H = A + e·V`` and ``(Σ_j γ^j·z_j)·G + w·H = B + e·Σ_j γ^j·P_j``.

Prover: nonces ``a_j, α, β``; ``A = Σ a_j·G_j + α·H``, ``B = (Σ γ^j·a_j)·G + β·H``; ``z_j = a_j + e·X_j``,
``u = α + e·ρ``, ``w = β + e·Σ_j γ^j·S_j``. Two accepting answers to one (A, B) give X_j, ρ and a t with
``V = Σ X_j·G_j + ρ·H`` and ``Σ γ^j·P_j = (Σ γ^j·X_j)·G + t·H``; γ is drawn after V and the P_j are fixed, so
if the P_j committed to other values X'_j the polynomial ``Σ γ^j (X'_j − X_j)`` would vanish at a random point
(probability ≤ (n − 1)/r) or the prover would know a discrete-log relation between G and H. The proof is
honest-verifier zero-knowledge (a Schnorr-style sigma protocol made non-interactive by Fiat–Shamir).

Encoding: ``enc(V) || enc(A) || enc(B) || w || u || z_0 || ... || z_{n-1}`` (48-byte points, 32-byte big-endian
scalars below r): ``144 + 32·(n + 2)`` bytes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zkclear.crypto.field import R, scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.generators import generator_vector, pedersen_generators
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.pedersen import commit_vector
from zkclear.crypto.transcript import Transcript
from zkclear.errors import EncodingError

PROTOCOL = b"zkclear/chunk-positions/v1"
GENERATOR_LABEL = b"zkclear/positions/G"
_POINT = 48
_SCALAR = 32


def position_generators(count: int) -> list[G1Point]:
    """G_0..G_{count-1}: the bases of a position vector."""
    return generator_vector(GENERATOR_LABEL, count)


def proof_size(count: int) -> int:
    """Bytes of an encoded proof for ``count`` instruments."""
    return 3 * _POINT + _SCALAR * (count + 2)


@dataclass(frozen=True, slots=True)
class PositionVectorProof:
    """The position vector V of a chunk and the proof that it commits to the chunk's position sums' values."""

    vector: G1Point
    a: G1Point
    b: G1Point
    w: int
    u: int
    z: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return (self.vector.to_bytes() + self.a.to_bytes() + self.b.to_bytes() + scalar_to_bytes(self.w)
                + scalar_to_bytes(self.u) + b"".join(scalar_to_bytes(z) for z in self.z))

    @classmethod
    def from_bytes(cls, data: bytes, count: int) -> PositionVectorProof:
        """Strict: exactly :func:`proof_size` bytes, points in G1, scalars below r (EncodingError otherwise)."""
        if len(data) != proof_size(count):
            raise EncodingError(f"a position vector proof for {count} instruments is {proof_size(count)} bytes, "
                                f"got {len(data)}")
        points = [G1Point.from_bytes(bytes(data[i * _POINT:(i + 1) * _POINT])) for i in range(3)]
        offset = 3 * _POINT
        scalars = [scalar_from_bytes(bytes(data[offset + k * _SCALAR:offset + (k + 1) * _SCALAR]))
                   for k in range(count + 2)]
        return cls(points[0], points[1], points[2], scalars[0], scalars[1], tuple(scalars[2:]))


def _gamma(context: bytes, sums: Sequence[G1Point], vector: G1Point) -> tuple[Transcript, int]:
    transcript = Transcript(PROTOCOL)
    transcript.append_message(b"context", context)
    transcript.append_points(b"position-sums", list(sums))
    transcript.append_point(b"vector", vector)
    return transcript, transcript.challenge_scalar(b"gamma")


def _powers(gamma: int, count: int) -> list[int]:
    out, power = [], 1
    for _ in range(count):
        out.append(power)
        power = power * gamma % R
    return out


def prove_position_vector(context: bytes, sums: Sequence[G1Point], totals: Sequence[int],
                          blinding_sums: Sequence[int], vector_blinding: int,
                          nonce: Callable[[], int]) -> PositionVectorProof:
    """The position vector of a chunk whose position sums ``sums`` open to (``totals``, ``blinding_sums``),
    blinded by ``vector_blinding``, with its equality proof; ``nonce`` yields the prover's random scalars."""
    count = len(sums)
    if not len(totals) == len(blinding_sums) == count:
        raise ValueError("one total and one blinding sum per position sum are required")
    gens = position_generators(count)
    g, h = pedersen_generators()
    vector = commit_vector(totals, vector_blinding, gens)
    transcript, gamma = _gamma(context, sums, vector)
    powers = _powers(gamma, count)
    a = [nonce() for _ in range(count)]
    alpha, beta = nonce(), nonce()
    point_a = commit_vector(a, alpha, gens)
    point_b = msm([g, h], [sum(p * x for p, x in zip(powers, a, strict=True)) % R, beta])
    transcript.append_point(b"A", point_a)
    transcript.append_point(b"B", point_b)
    e = transcript.challenge_scalar(b"e")
    z = tuple((x + e * total) % R for x, total in zip(a, totals, strict=True))
    u = (alpha + e * vector_blinding) % R
    w = (beta + e * sum(p * s for p, s in zip(powers, blinding_sums, strict=True))) % R
    return PositionVectorProof(vector, point_a, point_b, w, u, z)


def _challenges(context: bytes, sums: Sequence[G1Point], proof: PositionVectorProof) -> tuple[int, list[int]]:
    """The verifier's e and the powers γ^0 .. γ^{n-1}."""
    transcript, gamma = _gamma(context, sums, proof.vector)
    transcript.append_point(b"A", proof.a)
    transcript.append_point(b"B", proof.b)
    return transcript.challenge_scalar(b"e"), _powers(gamma, len(sums))


def verify_position_vector(context: bytes, sums: Sequence[G1Point], proof: PositionVectorProof) -> bool:
    """True iff ``proof`` shows that ``proof.vector`` commits to the values of ``sums`` (same context)."""
    count = len(sums)
    if len(proof.z) != count:
        return False
    gens = position_generators(count)
    g, h = pedersen_generators()
    e, powers = _challenges(context, sums, proof)
    # Σ z_j·G_j + u·H − A − e·V = O
    first = msm([*gens, h, proof.a, proof.vector], [*proof.z, proof.u, R - 1, (R - e) % R])
    if not first.is_identity():
        return False
    # (Σ γ^j z_j)·G + w·H − B − e·Σ γ^j P_j = O
    folded = sum(p * z for p, z in zip(powers, proof.z, strict=True)) % R
    second = msm([g, h, proof.b, *sums], [folded, proof.w, R - 1, *((R - e) * p % R for p in powers)])
    return second.is_identity()


@dataclass(frozen=True, slots=True)
class PositionVectorCheck:
    """One chunk's equality proof waiting to be checked: its context, position sums and proof."""

    context: bytes
    sums: tuple[G1Point, ...]
    proof: PositionVectorProof


#: The random weights of :func:`verify_position_vectors` are drawn uniformly from [1, 2^BATCH_WEIGHT_BITS).
BATCH_WEIGHT_BITS = 128


def verify_position_vectors(checks: Sequence[PositionVectorCheck]) -> bool:
    """True iff every check's proof verifies (:func:`verify_position_vector`), tested together with ONE
    multi-scalar multiplication: both equations of every check, each times its own weight drawn here with
    ``secrets`` from [1, 2^128), summed; the generators G_j, G and H enter once. Every point is in G1 (prime order
    r), so if an equation's left side is some E ≠ 𝒪 the sum is 𝒪 for at most one residue of its weight mod r once
    the others are fixed: a false check passes with probability ≤ 1/(2^128 − 1) (docs/protocol.md, "Position
    vector of a chunk"). A check whose proof has the wrong number of scalars fails. True for no checks."""
    if not checks:
        return True
    count = len(checks[0].sums)
    if any(len(check.sums) != count or len(check.proof.z) != count for check in checks):
        return False
    g, h = pedersen_generators()
    gens_scalars = [0] * count
    g_scalar = h_scalar = 0
    points: list[G1Point] = []
    scalars: list[int] = []
    for check in checks:
        proof = check.proof
        e, powers = _challenges(check.context, check.sums, proof)
        first, second = (secrets.randbelow((1 << BATCH_WEIGHT_BITS) - 1) + 1 for _ in range(2))
        # first·(Σ z_j·G_j + u·H − A − e·V) + second·((Σ γ^j z_j)·G + w·H − B − e·Σ γ^j P_j)
        gens_scalars = [total + first * z for total, z in zip(gens_scalars, proof.z, strict=True)]
        h_scalar += first * proof.u + second * proof.w
        g_scalar += second * sum(p * z for p, z in zip(powers, proof.z, strict=True))
        minus_e_second = (R - e) * second % R
        points += [proof.a, proof.vector, proof.b, *check.sums]
        scalars += [R - first, (R - e) * first, R - second, *(minus_e_second * p for p in powers)]
    total = msm([*position_generators(count), g, h, *points], [*gens_scalars, g_scalar, h_scalar, *scalars])
    return total.is_identity()
