"""Solvency: reserves minus total liabilities is proven in [0, 2^64) without revealing the total.

Statement (docs/protocol.md, "Solvency"): with C_root = L·G + ρ·H the root commitment of the sum
tree and ``reserves`` the public total of the attested reserves (< 2^64),

    D = reserves·G − C_root = (reserves − L)·G + (−ρ)·H

and a 64-bit range proof over D (context ``header.context(b"solvency")``) shows 0 <= reserves − L.
Since both children of the root carry their own node range proofs (each < 2^64), L cannot wrap
modulo the group order. The auditor may receive (L, ρ) in an auditor-only file and then checks
C_root = commit(L, ρ) (zkclear.verifier.audit.check_total_opening).
"""

from __future__ import annotations

from collections.abc import Callable

from provers.bulletproofs import RangeProof, RangeStatement, prove_range
from zkclear.crypto.field import R
from zkclear.crypto.generators import pedersen_generators
from zkclear.crypto.group import G1Point
from zkclear.errors import EncodingError, ProvingError, VerificationError

SOLVENCY_BITS = 64


def solvency_commitment(reserves: int, root_commitment: G1Point) -> G1Point:
    """D = reserves·G − C_root."""
    return pedersen_generators()[0] * reserves - root_commitment


def require_solvent(reserves: int, total_liabilities: int) -> None:
    """ProvingError unless 0 <= reserves − L < 2^64 (the prover never emits a false solvency proof)."""
    if not 0 <= reserves - total_liabilities < 1 << SOLVENCY_BITS:
        raise ProvingError("reserves do not cover the total liabilities: refusing to prove solvency")


def prove_solvency(reserves: int, total_liabilities: int, root_blinding: int, context: bytes, *,
                   nonces: Callable[[], int] | None = None) -> bytes:
    """The range proof of reserves − L >= 0; ProvingError if the reserves do not cover L.
    ``nonces``: the prover's nonce source (BlindingSource.nonces; default the OS CSPRNG)."""
    require_solvent(reserves, total_liabilities)
    proof, _ = prove_range([reserves - total_liabilities], [(-root_blinding) % R], SOLVENCY_BITS, context,
                           rng=nonces)
    return proof.to_bytes()


def solvency_statement(
    proof: bytes, reserves: int, root_commitment: G1Point, context: bytes
) -> RangeStatement:
    """The range statement the solvency proof must satisfy (for batch verification)."""
    try:
        decoded = RangeProof.from_bytes(proof, n_bits=SOLVENCY_BITS, m=1)
    except EncodingError as exc:
        raise VerificationError("solvency-proof") from exc
    return RangeStatement(decoded, (solvency_commitment(reserves, root_commitment),), SOLVENCY_BITS, context)
