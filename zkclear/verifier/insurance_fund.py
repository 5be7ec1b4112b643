"""The insurance fund, published (docs/protocol.md, "The insurance fund, published").

A deployment whose configuration sets ``publish_insurance_fund = true`` publishes, beside every proven epoch's
bundle, the insurance fund's receipt (``epoch-N.insurance-fund.rcpt``: the same bytes as the receipt of account
``CH:insurance``). ``zkclear audit`` then requires it and checks it as a participant checks their own receipt — the
fund's leaf carries the fund's id, its values open the leaf's commitments, its path leads to the root, its chunk is
collateralized — and the leaf holds cash only, as the engine's fund does (``insurance-fund-holdings``), so the
fund's balance it prints is the one committed in the tree and covered by the reserves (a leaf's liability is its
equity: a position would take off what the cash shows). Across the epochs of one audit the fund's account key must not
change (``account-key-changed``): a fund shown from another leaf each epoch given would be caught as a rotated key.
Nothing else binds the key (the audit prints its fingerprint, to compare audits run apart).

The configuration is the one the header binds (published verbatim in the public inputs and parsed strictly by the
recomputation before this runs), so whether the fund must be published is public: an operator cannot withhold
the file of an epoch whose configuration promises it, and a configuration that stops promising it is caught with any
earlier epoch of the deployment (``epoch-chain-broken``: the configuration is fixed at init).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

from zkclear.errors import VerificationError
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.tree.identity import key_fingerprint
from zkclear.verifier.published import CHUNK_SYSTEM, PublishedEpoch
from zkclear.verifier.receipt import ReceiptCheck, verify_receipt

#: the clearing house's insurance fund account (``zkclear.clearing.config.INSURANCE_FUND``; a test pins the two)
INSURANCE_FUND_ACCOUNT = "CH:insurance"


def publishes_insurance_fund(config_text: str) -> bool:
    """Whether the published configuration sets ``publish_insurance_fund = true`` (its text is the header's, already
    parsed strictly by the recomputation, which refuses any other type)."""
    return tomllib.loads(config_text.removeprefix("\ufeff")).get("publish_insurance_fund") is True


@dataclass(frozen=True, slots=True)
class PublishedFund:
    """The insurance fund as its verified receipt shows it: what the check learned, and the fund's account key (public,
    in the published receipt), which every later epoch of the same audit must repeat."""

    check: ReceiptCheck
    account_key: bytes


def check_insurance_fund(published: PublishedEpoch, previous_key: bytes | None = None, *,
                         chunk_system: ChunkProofSystem = CHUNK_SYSTEM) -> PublishedFund | None:
    """The insurance fund's published receipt checked against ``published`` (None when the configuration does not
    publish it); ``previous_key``: the fund's account key in an earlier epoch of the same audit (compared whole: its
    16-hex-digit fingerprint is 64 bits, within reach of a second preimage).

    ``insurance-fund-unpublished`` when the configuration promises the file and nothing is at its path (anything
    but a regular file there: InputError naming it); the receipt's own reason codes when it fails (``receipt-owner``,
    ``leaf-mismatch``, ``path-root-mismatch``, …); ``insurance-fund-holdings`` when the leaf holds more than cash;
    ``account-key-changed`` when the fund's key differs from ``previous_key``."""
    if not publishes_insurance_fund(published.inputs.config_text):
        return None
    path = published.files.insurance_fund
    if not os.path.lexists(path):  # a folder, a pipe or a dangling link in its place is read, and refused by name
        raise VerificationError("insurance-fund-unpublished", detail=(
            f"the configuration publishes the insurance fund, and {path.name} is not in {path.parent}"))
    receipt = published.receipt(path, chunk_system)
    check = verify_receipt(published, receipt, INSURANCE_FUND_ACCOUNT, chunk_system=chunk_system)
    _require_cash_only(check, chunk_system.instrument_ids(published.public))
    if previous_key is not None and receipt.account_key != previous_key:
        raise VerificationError("account-key-changed", detail=(
            f"the insurance fund's account key is {check.key_fingerprint} in epoch {check.epoch_id}, "
            f"{key_fingerprint(previous_key)} in the epoch audited before: its receipt is not of the same leaf's "
            "account"))
    return PublishedFund(check, receipt.account_key)


def _require_cash_only(check: ReceiptCheck, instruments: tuple[str, ...]) -> None:
    """``insurance-fund-holdings`` unless the fund's leaf holds cash only: the engine never lets the fund trade nor
    hold collateral (``zkclear.clearing``), and a leaf's liability is its equity, so a fund leaf short some lots
    would print a cash the reserves do not back (red team s16)."""
    held = [f"{lots} lots of {instrument}" for instrument, lots in zip(instruments, check.positions, strict=True)
            if lots]
    held += [f"{balance} {asset} (smallest units)" for asset, balance, _ in check.collateral if balance]
    if held:
        raise VerificationError("insurance-fund-holdings", detail=(
            f"the insurance fund's leaf holds {', '.join(held)} beside its cash {check.cash} (equity "
            f"{check.equity}): the engine's fund holds the settlement asset only, so this is not its leaf"))
