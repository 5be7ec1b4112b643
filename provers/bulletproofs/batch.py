"""Batch verification of many range proofs (any mix of n and m) with one multi-scalar multiplication.

Each statement's verification equation (:func:`~provers.bulletproofs.range_proof.verification_terms`)
is multiplied by an independent random weight r_p and all are summed; the shared generators
G_i, H_i, G, H then appear once each. If any statement is false, the sum is the identity only
with probability about 1/r per bad statement (the weights are unknown to the provers).
"""

from __future__ import annotations

from collections.abc import Sequence

from provers.bulletproofs.range_proof import BoundRangeStatement, RangeStatement, check_terms, verification_terms
from zkclear.crypto.field import fr_random
from zkclear.errors import VerificationError


def batch_verify(statements: Sequence[RangeStatement | BoundRangeStatement], *,
                 identify_failure: bool = False) -> None:
    """Verify every statement at once; raise VerificationError if any fails.

    With ``identify_failure=True`` a failing batch is re-checked statement by statement and the
    error's ``index`` is the position of the first false statement. An empty batch verifies.
    """
    statements = list(statements)
    if not statements:
        return
    terms = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, RangeStatement | BoundRangeStatement):
            raise VerificationError(f"expected a RangeStatement, got {type(statement).__name__}", index=index)
        try:
            terms.append(verification_terms(statement, _nonzero_weight(), fr_random))
        except VerificationError as exc:
            raise VerificationError(exc.reason, index=index) from exc
    if check_terms(terms):
        return
    if not identify_failure:
        raise VerificationError("batch of range proofs does not verify")
    for index, statement in enumerate(statements):
        if not check_terms([verification_terms(statement, 1, fr_random)]):
            raise VerificationError("range proof does not verify", index=index)
    # Every statement passed alone but the batch failed: only possible with probability ~2^-255.
    raise VerificationError("batch of range proofs does not verify")


def _nonzero_weight() -> int:
    return fr_random() or 1  # the OS CSPRNG: the provers must not predict the weights
