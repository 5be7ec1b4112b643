"""Checking reserve attestations: one signed attestation text per listed reserve address.

An :class:`Attestation` is what a custodian hands back: the chain, the address, the exact text it
signed and the signature in its chain's standard encoding (zkclear.chains.schemes). To check one
against a listed :class:`ReserveEntry` in an :class:`AttestationContext`, :func:`verify_attestation`

1. requires the attestation to be for the entry's chain and address (``attestation-wrong-chain`` /
   ``attestation-wrong-address``);
2. verifies the signature over the text's bytes with the entry's address (malformed, non-canonical,
   wrong signer): from here on the text is known to be what that key signed;
3. parses the signed text strictly (``attestation-text-malformed``);
4. compares what was signed with what is listed and expected, field by field: venue, epoch
   (``attestation-replayed-epoch``), header hash, root, chain, address, asset, balance
   (``attestation-balance-mismatch``) and block (``attestation-block-mismatch``).

:func:`verify_attestations` checks a whole reserves list: exactly one attestation per listed entry (an
address holding several assets, say ETH and USDC on one Ethereum address, is one entry per asset and signs
one text per asset), none for an unlisted address, none twice. Every failure is a VerificationError whose
``reason`` is a code from zkclear.chains.reasons and whose ``detail`` names the address and what differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkclear.chains.addresses import parse_address
from zkclear.chains.attestation_text import AttestationContext, parse_attestation_text, render_attestation_text
from zkclear.chains.reasons import Reason, failure
from zkclear.chains.reserves import ReserveEntry
from zkclear.chains.schemes import verify_message
from zkclear.errors import InputError


@dataclass(frozen=True, slots=True)
class Attestation:
    """A signed attestation text: chain, canonical address, the text and the signature text."""

    chain: str
    address: str
    text: str
    signature: str

    @property
    def key(self) -> tuple[str, str, str | None]:
        """(chain, address, the asset its text names — None if the text does not parse), as
        :attr:`ReserveEntry.key`. Only for matching an attestation with its entry: nothing in it is trusted
        before :func:`verify_attestation` has checked the signature and every field."""
        try:
            asset: str | None = parse_attestation_text(self.text)[1].asset
        except InputError:
            asset = None
        return self.chain, self.address, asset


def verify_attestation(entry: ReserveEntry, attestation: Attestation, context: AttestationContext) -> None:
    """Return iff ``attestation`` is ``entry``'s address's valid signature of ``entry``'s attestation text
    in ``context``; VerificationError naming the address and what failed otherwise."""
    address = entry.address
    if attestation.chain != entry.chain:
        raise failure(Reason.WRONG_CHAIN, address,
                      f"the attestation is for chain {attestation.chain}, the entry is on {entry.chain}")
    if attestation.address != address:
        raise failure(Reason.WRONG_ADDRESS, address, f"the attestation is for address {attestation.address}")
    if not isinstance(attestation.text, str) or not attestation.text.isascii():
        raise failure(Reason.TEXT_MALFORMED, address, "the attested text is not ASCII")
    verify_message(parse_address(entry.chain, address), attestation.text.encode("ascii"), attestation.signature)
    try:
        signed_context, signed = parse_attestation_text(attestation.text)
    except InputError as exc:
        raise failure(Reason.TEXT_MALFORMED, address, f"the signed text is not an attestation text ({exc})") from exc
    _compare(entry, signed, context, signed_context)
    if render_attestation_text(context, entry) != attestation.text:  # implied by the comparisons; kept as a guard
        raise failure(Reason.TEXT_MALFORMED, address, "the signed text differs from the expected text")


def _compare(entry: ReserveEntry, signed: ReserveEntry, context: AttestationContext,
             signed_context: AttestationContext) -> None:
    address = entry.address
    checks = (
        (Reason.WRONG_VENUE, "venue", context.venue, signed_context.venue),
        (Reason.REPLAYED_EPOCH, "epoch", context.epoch, signed_context.epoch),
        (Reason.WRONG_HEADER, "header hash", context.header_hash.hex(), signed_context.header_hash.hex()),
        (Reason.WRONG_ROOT, "root", context.root.hex(), signed_context.root.hex()),
        (Reason.WRONG_CHAIN, "chain", entry.chain, signed.chain),
        (Reason.WRONG_ADDRESS, "address", entry.address, signed.address),
        (Reason.WRONG_ASSET, "asset", entry.asset, signed.asset),
        (Reason.WRONG_ASSET, "token", entry.token_label, signed.token_label),
        (Reason.BALANCE_MISMATCH, "decimals", entry.decimals, signed.decimals),
        (Reason.BALANCE_MISMATCH, "balance", entry.balance, signed.balance),
        (Reason.BLOCK_MISMATCH, "block height", entry.block_height, signed.block_height),
        (Reason.BLOCK_MISMATCH, "block hash", entry.block_hash, signed.block_hash),
    )
    for reason, what, expected, found in checks:
        if expected != found:
            raise failure(reason, address, f"signed {what} {found}, expected {expected}")


def verify_attestations(entries: Sequence[ReserveEntry], attestations: Sequence[Attestation],
                        context: AttestationContext) -> None:
    """Return iff every listed entry (chain, address, asset) has exactly one valid attestation in ``context``
    and no attestation is for an unlisted address; the first failure in list order raises VerificationError.

    An attestation is matched with the listed entry of its chain, address and signed asset. One whose asset
    is not listed at its address (or whose text does not parse) is checked against that address's first
    entry, so it fails with what is wrong in it (signature, text, asset) rather than as unlisted.
    """
    listed: dict[tuple[str, str, str], ReserveEntry] = {}
    first_at: dict[tuple[str, str], tuple[str, str, str]] = {}
    for entry in entries:
        if entry.key in listed:
            raise failure(Reason.DUPLICATE_ADDRESS, entry.address,
                          f"listed twice for {entry.asset} on chain {entry.chain}")
        listed[entry.key] = entry
        first_at.setdefault((entry.chain, entry.address), entry.key)
    by_key: dict[tuple[str, str, str], Attestation] = {}
    for attestation in attestations:
        chain, address, asset = attestation.key
        if (chain, address) not in first_at:
            raise failure(Reason.UNLISTED, attestation.address,
                          f"attested on chain {attestation.chain} but not listed in the reserves")
        key = (chain, address, asset) if (chain, address, asset) in listed else first_at[chain, address]
        if key in by_key:
            raise failure(Reason.DUPLICATE, attestation.address,
                          f"attested twice for {key[2]} on chain {attestation.chain}")
        by_key[key] = attestation
    for key, entry in listed.items():
        if key not in by_key:
            raise failure(Reason.MISSING, entry.address,
                          f"listed for {entry.asset} on chain {entry.chain} but not attested")
        verify_attestation(entry, by_key[key], context)
