"""Recoverable ECDSA signatures as BIP-137 and EIP-191 carry them: checks with reason codes, then recovery.

Order of the checks (so the reason is stable whichever engine recovers): r and s in [1, N)
(else malformed), s <= N/2 (else non-canonical: (r, N - s) with the other recovery id is a second
valid signature of the same message, which low-s rules out), then the recovery itself (malformed
when no key recovers).
"""

from __future__ import annotations

from zkclear.chains import secp256k1
from zkclear.chains.reasons import Reason, failure
from zkclear.errors import EncodingError


def recover_checked(digest: bytes, r: int, s: int, recovery_id: int, address: str) -> secp256k1.Point:
    """The signer's key of a recoverable signature; malformed / non-canonical (high s) refused by reason."""
    try:
        secp256k1.check_signature_scalars(r, s, require_low_s=False)
    except EncodingError as exc:
        raise failure(Reason.SIGNATURE_MALFORMED, address, str(exc)) from exc
    if s > secp256k1.HALF_N:
        raise failure(Reason.SIGNATURE_NON_CANONICAL, address,
                      "high s: a malleated signature (s must be at most N/2)")
    try:
        return secp256k1.recover(digest, r, s, recovery_id)
    except EncodingError as exc:
        raise failure(Reason.SIGNATURE_MALFORMED, address, str(exc)) from exc
