"""Bulletproofs++ range proofs over BLS12-381 G1: the collateral parts and the tree nodes' range proofs.

docs/protocol.md, "Bulletproofs++ range proof (collateral parts and tree nodes)". Modules,
one job each: :mod:`.wnla` (the weighted norm linear argument), :mod:`.parameters` (base, digits,
vector lengths), :mod:`.range_proof` (the reciprocal range proof: prover and verifier),
:mod:`.encoding` (the proof and its bytes). Widths n_bits in (8, 16, 32, 64); statements
(:class:`BppRangeStatement`, :class:`BppBoundRangeStatement`) write their verification equation as
provers.bulletproofs' ``VerificationTerms``, so ``provers.bulletproofs.batch_verify`` checks them in one
batch with Bulletproofs statements.
"""

from provers.bulletproofs_pp.encoding import BppRangeProof, encoded_size
from provers.bulletproofs_pp.parameters import BIT_SIZES, MAX_VALUES, N_BITS, proof_shape
from provers.bulletproofs_pp.range_proof import (
    BOUND_PROTOCOL_LABEL,
    PROTOCOL_LABEL,
    BppBoundRangeStatement,
    BppRangeStatement,
    prove_bound_range_pp,
    prove_range_pp,
    verify_bound_range_pp,
    verify_range_pp,
)
from provers.bulletproofs_pp.wnla import WnlaProof, prove_wnla, verify_wnla

__all__ = [
    "BIT_SIZES",
    "BOUND_PROTOCOL_LABEL",
    "MAX_VALUES",
    "N_BITS",
    "PROTOCOL_LABEL",
    "BppBoundRangeStatement",
    "BppRangeProof",
    "BppRangeStatement",
    "WnlaProof",
    "encoded_size",
    "proof_shape",
    "prove_bound_range_pp",
    "prove_range_pp",
    "prove_wnla",
    "verify_bound_range_pp",
    "verify_range_pp",
    "verify_wnla",
]
