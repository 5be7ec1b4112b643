"""Bulletproofs aggregated range proofs over BLS12-381 G1 (docs/protocol.md, "Range proof").

Modules, one per protocol role: :mod:`.generators` (G, H, G_i, H_i), :mod:`.inner_product`
(the logarithmic argument), :mod:`.range_proof` (prover and verifier), :mod:`.batch` (many
proofs, one multi-scalar multiplication), :mod:`.encoding` (the proof and its bytes),
:mod:`.parameters` (n, m and the sizes they imply).
"""

from provers.bulletproofs.batch import batch_verify
from provers.bulletproofs.encoding import RangeProof, encoded_size
from provers.bulletproofs.inner_product import InnerProductProof
from provers.bulletproofs.parameters import BIT_SIZES, MAX_AGGREGATION, inner_product_rounds
from provers.bulletproofs.range_proof import (
    BOUND_PROTOCOL_LABEL,
    PROTOCOL_LABEL,
    BoundRangeStatement,
    CommitmentForm,
    RangeClaim,
    RangeStatement,
    prove_bound_range,
    prove_range,
    verify_range,
)

__all__ = [
    "BIT_SIZES",
    "BOUND_PROTOCOL_LABEL",
    "MAX_AGGREGATION",
    "PROTOCOL_LABEL",
    "BoundRangeStatement",
    "CommitmentForm",
    "InnerProductProof",
    "RangeClaim",
    "RangeProof",
    "RangeStatement",
    "batch_verify",
    "encoded_size",
    "inner_product_rounds",
    "prove_bound_range",
    "prove_range",
    "verify_range",
]
