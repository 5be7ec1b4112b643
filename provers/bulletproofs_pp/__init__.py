"""Bulletproofs++ range proofs over BLS12-381 G1: an experimental lever, used by no statement.

docs/protocol.md, "Bulletproofs++ range proof (experimental, not used by any statement)". Modules,
one job each: :mod:`.wnla` (the weighted norm linear argument), :mod:`.parameters` (base, digits,
vector lengths), :mod:`.range_proof` (the reciprocal range proof: prover and verifier),
:mod:`.encoding` (the proof and its bytes).
"""

from provers.bulletproofs_pp.encoding import BppRangeProof, encoded_size
from provers.bulletproofs_pp.parameters import MAX_VALUES, N_BITS, proof_shape
from provers.bulletproofs_pp.range_proof import PROTOCOL_LABEL, prove_range_pp, verify_range_pp
from provers.bulletproofs_pp.wnla import WnlaProof, prove_wnla, verify_wnla

__all__ = [
    "MAX_VALUES",
    "N_BITS",
    "PROTOCOL_LABEL",
    "BppRangeProof",
    "WnlaProof",
    "encoded_size",
    "proof_shape",
    "prove_range_pp",
    "prove_wnla",
    "verify_range_pp",
    "verify_wnla",
]
