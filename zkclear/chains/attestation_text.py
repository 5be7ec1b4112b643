"""The attestation text: what a reserve custodian signs, in one canonical, human-readable form.

Exact bytes (ASCII; lines separated by a single LF 0x0A; no trailing LF; no CR; no trailing spaces)::

    zkclear reserve attestation v2
    I control this address. At this block it held this balance of this token for this venue's liabilities in this epoch.
    venue: <venue>
    epoch: <epoch>
    header hash: <64 lower-case hex digits>
    root: <64 lower-case hex digits>
    chain: <chain id>
    address: <address, canonical form>
    asset: <asset id>
    token: <"native", or the token's contract / mint, canonical form>
    decimals: <integer, the decimals of the balance's unit on its chain>
    balance: <integer, that unit>
    block height: <integer>          (``slot: <integer>`` on Solana)
    block hash: <block hash, chain's format>

- ``venue``: 1-64 printable ASCII characters (0x20-0x7E), no leading or trailing space;
- ``epoch``: decimal in [0, 2^64), no leading zeros;
- ``header hash`` / ``root``: the epoch header digest and the tree root digest, 32 bytes each;
- the reserve fields as in zkclear.chains.reserves (canonical address, asset id, token, decimals, balance,
  block).

Every field that could be replayed is in the text: another venue, epoch, header or root, another
chain (the same EVM key controls the same address on every EVM chain), address, asset, token, decimals,
balance or block gives different bytes, hence a signature that does not verify for them. Version 1 (without
token and decimals: the custodian's balance did not say which token, or in what unit) is refused. The parser
accepts only texts that render back to the same bytes, so there is exactly one text per attestation.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkclear.chains.blocks import MAX_HEIGHT, check_block_hash, height_label
from zkclear.chains.networks import get_chain
from zkclear.chains.reserves import MAX_BALANCE, MAX_DECIMALS, ReserveEntry, check_asset, parse_decimal
from zkclear.errors import InputError

TITLE = "zkclear reserve attestation v2"
STATEMENT = ("I control this address. At this block it held this balance of this token for this venue's "
             "liabilities in this epoch.")
MAX_EPOCH = (1 << 64) - 1
MAX_VENUE_LENGTH = 64
MAX_TEXT_LENGTH = 1024
_LOWER_HEX = frozenset("0123456789abcdef")


def check_venue(venue: str) -> str:
    """The venue name unchanged: 1-64 printable ASCII characters, no surrounding spaces."""
    if (
        not isinstance(venue, str)
        or not 1 <= len(venue) <= MAX_VENUE_LENGTH
        or any(not 0x20 <= ord(c) <= 0x7E for c in venue)
        or venue.strip() != venue
    ):
        raise InputError(f"venue {venue!r} must be 1-64 printable ASCII characters without surrounding spaces")
    return venue


@dataclass(frozen=True, slots=True)
class AttestationContext:
    """What binds an attestation to one epoch of one venue: its name, the epoch, header hash and root."""

    venue: str
    epoch: int
    header_hash: bytes
    root: bytes

    def __post_init__(self) -> None:
        check_venue(self.venue)
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or not 0 <= self.epoch <= MAX_EPOCH:
            raise InputError(f"epoch must be an integer in [0, 2^64), got {self.epoch!r}")
        for name in ("header_hash", "root"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise InputError(f"{name} must be 32 bytes")


def render_attestation_text(context: AttestationContext, entry: ReserveEntry) -> str:
    """The canonical attestation text of ``entry`` in ``context`` (see the module docstring); InputError for an
    entry whose unit is not fixed (a token row before the reserve book named its contract)."""
    if not entry.unit_fixed:
        raise InputError(f"{entry.asset} on {entry.chain} at {entry.address}: the token's contract and decimals are "
                         "not known, so there is nothing to attest")
    return "\n".join((
        TITLE,
        STATEMENT,
        f"venue: {context.venue}",
        f"epoch: {context.epoch}",
        f"header hash: {context.header_hash.hex()}",
        f"root: {context.root.hex()}",
        f"chain: {entry.chain}",
        f"address: {entry.address}",
        f"asset: {entry.asset}",
        f"token: {entry.token_label}",
        f"decimals: {entry.decimals}",
        f"balance: {entry.balance}",
        f"{height_label(entry.chain)}: {entry.block_height}",
        f"block hash: {entry.block_hash}",
    ))


def _hash32(text: str, what: str) -> bytes:
    if len(text) != 64 or not set(text) <= _LOWER_HEX:
        raise InputError(f"{what} must be 64 lower-case hex digits")
    return bytes.fromhex(text)


def parse_attestation_text(text: str) -> tuple[AttestationContext, ReserveEntry]:
    """The context and entry of a canonical attestation text; InputError (naming the line) otherwise."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH or not text.isascii():
        raise InputError("an attestation text is ASCII of at most 1024 characters")
    lines = text.split("\n")
    if len(lines) != 14 or lines[0] != TITLE or lines[1] != STATEMENT:
        raise InputError(f"not a zkclear attestation text: expected 14 lines starting with '{TITLE}' and the "
                         "statement line")
    labels = ["venue", "epoch", "header hash", "root", "chain", "address", "asset", "token", "decimals", "balance",
              None, "block hash"]
    values: list[str] = []
    for number, (label, line) in enumerate(zip(labels, lines[2:], strict=True), start=3):
        if label is None:  # the height line's label depends on the chain
            chain_name = values[4]
            label = height_label(get_chain(chain_name).name)
        prefix = f"{label}: "
        if not line.startswith(prefix):
            raise InputError(f"attestation text line {number}: expected '{prefix}...'")
        values.append(line[len(prefix):])
    venue, epoch, header_hash, root, chain, address, asset, token, decimals, balance, height, block_hash = values
    context = AttestationContext(
        check_venue(venue),
        parse_decimal(epoch, maximum=MAX_EPOCH, what="epoch"),
        _hash32(header_hash, "header hash"),
        _hash32(root, "root"),
    )
    entry = ReserveEntry(
        get_chain(chain).name,
        check_asset(asset),
        address,  # ReserveEntry refuses it unless valid and canonical for the chain
        parse_decimal(balance, maximum=MAX_BALANCE, what="balance"),
        parse_decimal(height, maximum=MAX_HEIGHT, what=height_label(chain)),
        check_block_hash(chain, block_hash),
        "" if token == "native" else token,  # refused unless canonical, and a native coin's is "native"
        parse_decimal(decimals, maximum=MAX_DECIMALS, what="decimals"),
    )
    if render_attestation_text(context, entry) != text:
        raise InputError("the attestation text is not in canonical form")
    return context, entry
