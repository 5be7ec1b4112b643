"""Reason codes of failed reserve attestations (``VerificationError.reason``), and the error they make.

Every failure names the address it concerns in the error's ``detail``, so one line tells the auditor
which custodian's attestation failed and why.
"""

from __future__ import annotations

from enum import StrEnum

from zkclear.errors import VerificationError


class Reason(StrEnum):
    """Why an attestation was refused."""

    SIGNATURE_MALFORMED = "attestation-signature-malformed"  # undecodable, wrong length, bad header or DER
    SIGNATURE_NON_CANONICAL = "attestation-signature-non-canonical"  # high s, non-canonical base64/hex
    WRONG_SIGNER = "attestation-wrong-signer"  # valid signature, but not by the listed address's key
    TEXT_MALFORMED = "attestation-text-malformed"  # the signed text is not the canonical attestation text
    WRONG_VENUE = "attestation-wrong-venue"
    REPLAYED_EPOCH = "attestation-replayed-epoch"  # signed for another epoch
    WRONG_HEADER = "attestation-wrong-header"
    WRONG_ROOT = "attestation-wrong-root"
    WRONG_CHAIN = "attestation-wrong-chain"
    WRONG_ADDRESS = "attestation-wrong-address"
    WRONG_ASSET = "attestation-wrong-asset"
    BALANCE_MISMATCH = "attestation-balance-mismatch"  # the listed balance differs from the signed one
    BLOCK_MISMATCH = "attestation-block-mismatch"  # the listed block differs from the signed one
    DUPLICATE = "attestation-duplicate"  # two attestations for one listed address
    MISSING = "attestation-missing"  # a listed address without attestation
    UNLISTED = "attestation-unlisted"  # an attestation for an address that is not listed
    DUPLICATE_ADDRESS = "reserves-duplicate-address"  # an address listed twice for one asset on one chain


def failure(reason: Reason, address: str, what: str) -> VerificationError:
    """The VerificationError for ``reason`` whose detail reads ``address ADDRESS: WHAT``."""
    return VerificationError(reason.value, detail=f"address {address}: {what}")
