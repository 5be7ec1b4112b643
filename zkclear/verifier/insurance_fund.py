"""The insurance fund, published (docs/protocol.md, "The insurance fund, published").

A deployment whose configuration sets ``publish_insurance_fund = true`` publishes, beside every proven epoch's
bundle, the insurance fund's receipt (``epoch-N.insurance-fund.rcpt``: the same bytes as the receipt of account
``CH:insurance``). ``zkclear audit`` then requires it and checks it as a participant checks their own receipt — the
fund's leaf carries the fund's id, its values open the leaf's commitments, its path leads to the root, its chunk is
collateralized — so the fund's balances it prints are the ones committed in the tree (and covered by the reserves,
since they count in the liabilities). Across the epochs of one audit the fund's account key must not change
(``account-key-changed``): a fund shown from another leaf each epoch would be caught as a rotated key.

The configuration is the one the header binds (published verbatim in the public inputs and parsed strictly by the
recomputation before this runs), so whether the fund must be published is public: an operator cannot withhold
the file of a deployment that promised it.
"""

from __future__ import annotations

import tomllib

from zkclear.errors import VerificationError
from zkclear.verifier.published import PublishedEpoch
from zkclear.verifier.receipt import ReceiptCheck, verify_receipt

#: the clearing house's insurance fund account (``zkclear.clearing.config.INSURANCE_FUND``; a test pins the two)
INSURANCE_FUND_ACCOUNT = "CH:insurance"


def publishes_insurance_fund(config_text: str) -> bool:
    """Whether the published configuration sets ``publish_insurance_fund = true`` (its text is the header's, already
    parsed strictly by the recomputation, which refuses any other type)."""
    return tomllib.loads(config_text.removeprefix("\ufeff")).get("publish_insurance_fund") is True


def check_insurance_fund(published: PublishedEpoch, previous_key: str | None = None) -> ReceiptCheck | None:
    """The insurance fund's published receipt checked against ``published`` (None when the configuration does not
    publish it); ``previous_key``: the fund's key fingerprint in an earlier epoch of the same audit.

    ``insurance-fund-unpublished`` when the configuration promises the file and it is missing; the receipt's own
    reason codes when it fails (``receipt-owner``, ``leaf-mismatch``, ``path-root-mismatch``, …);
    ``account-key-changed`` when the fund's key differs from ``previous_key``."""
    if not publishes_insurance_fund(published.inputs.config_text):
        return None
    path = published.files.insurance_fund
    if not path.is_file():
        raise VerificationError("insurance-fund-unpublished", detail=(
            f"the configuration publishes the insurance fund, and {path.name} is not in {path.parent}"))
    check = verify_receipt(published, published.receipt(path), INSURANCE_FUND_ACCOUNT)
    if previous_key is not None and check.key_fingerprint != previous_key:
        raise VerificationError("account-key-changed", detail=(
            f"the insurance fund's account key is {check.key_fingerprint} in epoch {check.epoch_id}, "
            f"{previous_key} in the epoch audited before: its receipt is not of the same leaf's account"))
    return check
