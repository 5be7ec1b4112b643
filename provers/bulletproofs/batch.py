"""Batch verification of many range proofs (any mix of n and m) with one multi-scalar multiplication.

Each statement's verification equation (its ``verification_terms`` method, the
:class:`~provers.bulletproofs.range_proof.RangeClaim` protocol: Bulletproofs statements here, Bulletproofs++
statements in provers.bulletproofs_pp) is multiplied by an independent random weight r_p and all are summed;
the shared generators G_i, H_i, G, H then appear once each. If any statement is false, the sum is the
identity only with probability about 1/r per bad statement (the weights are unknown to the provers).
"""

from __future__ import annotations

from collections.abc import Sequence

from provers.bulletproofs.range_proof import RangeClaim, check_terms
from zkclear.crypto.field import fr_random
from zkclear.errors import VerificationError


def batch_verify(statements: Sequence[RangeClaim], *, identify_failure: bool = False) -> None:
    """Verify every statement at once; raise VerificationError if any fails.

    A statement is any object with the ``verification_terms(weight, rng)`` method (:class:`RangeClaim`);
    anything else raises VerificationError with its ``index``. With ``identify_failure=True`` a failing
    batch is re-checked statement by statement and the error's ``index`` is the position of the first false
    statement. An empty batch verifies.
    """
    statements = list(statements)
    if not statements:
        return
    terms = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, RangeClaim):
            raise VerificationError(f"expected a RangeStatement, got {type(statement).__name__}", index=index)
        try:
            terms.append(statement.verification_terms(_nonzero_weight(), fr_random))
        except VerificationError as exc:
            raise VerificationError(exc.reason, index=index) from exc
    if check_terms(terms):
        return
    if not identify_failure:
        raise VerificationError("batch of range proofs does not verify")
    for index, statement in enumerate(statements):
        if not check_terms([statement.verification_terms(1, fr_random)]):
            raise VerificationError("range proof does not verify", index=index)
    # Every statement passed alone but the batch failed: only possible with probability ~2^-255.
    raise VerificationError("batch of range proofs does not verify")


def _nonzero_weight() -> int:
    return fr_random() or 1  # the OS CSPRNG: the provers must not predict the weights
