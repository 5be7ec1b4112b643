"""Solvency per asset: reserves minus total liabilities is proven in [0, 2^64) for every asset, totals hidden.

Statement (docs/protocol.md, "Solvency"): with C_root,a = L_a·G + ρ_a·H the root's liability commitment of asset a
(settlement asset first) and ``reserves_a`` the header's reserve total of that asset (< 2^64, in its smallest unit),

    D_a = reserves_a·G − C_root,a = (reserves_a − L_a)·G + (−ρ_a)·H

and one aggregated 64-bit range proof over (D_0, …, D_{A−1}) (context ``header.context(b"solvency")``) shows
0 <= reserves_a − L_a for every asset a. With one asset it is the single-value proof it always was. Both children
of the root carry their own node range proofs (each value < 2^64), so no L_a can wrap modulo the group order. The
auditor may receive every (L_a, ρ_a) in an auditor-only file (zkclear.verifier.audit.check_total_opening).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from provers.bulletproofs import RangeProof, RangeStatement, prove_range
from zkclear.crypto.field import R
from zkclear.crypto.generators import pedersen_generators
from zkclear.crypto.group import G1Point
from zkclear.errors import EncodingError, ProvingError, VerificationError

SOLVENCY_BITS = 64


def solvency_commitments(reserves: Sequence[int], root_liabilities: Sequence[G1Point]) -> tuple[G1Point, ...]:
    """D_a = reserves_a·G − C_root,a for every asset."""
    G = pedersen_generators()[0]
    return tuple(G * total - commitment for total, commitment in zip(reserves, root_liabilities, strict=True))


def require_solvent(reserves: Sequence[int], liabilities: Sequence[int], asset_ids: Sequence[str]) -> None:
    """ProvingError naming the first asset whose reserves do not cover its liabilities (the prover never emits a
    false solvency proof)."""
    for asset, total, owed in zip(asset_ids, reserves, liabilities, strict=True):
        if not 0 <= total - owed < 1 << SOLVENCY_BITS:
            raise ProvingError(f"the reserves of {asset} ({total} smallest units) do not cover the liabilities in "
                               f"{asset} ({owed}): refusing to prove solvency")


def prove_solvency(reserves: Sequence[int], liabilities: Sequence[int], root_blindings: Sequence[int],
                   context: bytes, *, asset_ids: Sequence[str] | None = None,
                   nonces: Callable[[], int] | None = None) -> bytes:
    """The aggregated range proof of reserves_a − L_a >= 0 for every asset; ProvingError if some asset's reserves
    do not cover its liabilities. ``nonces``: the prover's nonce source (BlindingSource.nonces; default the OS
    CSPRNG)."""
    names = asset_ids if asset_ids is not None else [f"asset {a}" for a in range(len(reserves))]
    require_solvent(reserves, liabilities, names)
    proof, _ = prove_range([total - owed for total, owed in zip(reserves, liabilities, strict=True)],
                           [(-blinding) % R for blinding in root_blindings], SOLVENCY_BITS, context, rng=nonces)
    return proof.to_bytes()


def solvency_statement(proof: bytes, reserves: Sequence[int], root_liabilities: Sequence[G1Point],
                       context: bytes) -> RangeStatement:
    """The range statement the solvency proof must satisfy (for batch verification)."""
    if len(reserves) != len(root_liabilities) or not reserves:
        raise VerificationError("solvency-proof", detail=f"{len(reserves)} reserve totals for "
                                                         f"{len(root_liabilities)} root liabilities")
    try:
        decoded = RangeProof.from_bytes(proof, n_bits=SOLVENCY_BITS, m=len(reserves))
    except EncodingError as exc:
        raise VerificationError("solvency-proof") from exc
    return RangeStatement(decoded, solvency_commitments(reserves, root_liabilities), SOLVENCY_BITS, context)
