"""What a participant runs: their identity (a participant file or an account id), the check of one or several
epochs' receipts, and the history those receipts tell (docs/protocol.md, "Participant verification").

Across several epochs, :func:`verify_history` also checks that the epochs chain (each header names the
previous epoch's header hash; a history that starts at epoch 1 starts at a genesis header) [epoch-chain-broken]
and that the account key did not change [account-key-changed]: the operator cannot rotate the salt of an account
without its owner noticing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from zkclear.bundle.format import read_file
from zkclear.errors import InputError, VerificationError
from zkclear.files import decode_text
from zkclear.integers import parse_canonical_int
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.header import ChainLink, check_chain, check_first
from zkclear.proofs.reserves import LastBlocks, check_blocks_advance, last_blocks
from zkclear.tree.identity import ACCOUNT_KEY_BYTES, key_fingerprint
from zkclear.tree.receipts import Receipt
from zkclear.verifier.published import CHUNK_SYSTEM, PublishedEpoch, repeated_epoch
from zkclear.verifier.receipt import Expected, ReceiptCheck, verify_receipt

_ACCOUNT_ID_MAX = 64


@dataclass(frozen=True, slots=True)
class Participant:
    """Who is checking: their account id and, when pinned, their account key."""

    account_id: str
    account_key: bytes | None = None


def parse_account_key(text: str, *, path: str | None = None, field: str = "account_key") -> bytes:
    """A 32-byte account key from 64 ASCII hexadecimal digits; InputError otherwise."""
    if not (isinstance(text, str) and len(text) == 2 * ACCOUNT_KEY_BYTES and text.isascii()
            and all(ch in "0123456789abcdefABCDEF" for ch in text)):
        raise InputError("an account key is 64 hexadecimal digits", path=path, field=field)
    return bytes.fromhex(text)


def parse_header_hash(text: str, *, field: str = "--expect-header") -> bytes:
    """The 32-byte header hash a venue posted, from 64 ASCII hexadecimal digits; InputError otherwise."""
    if not (isinstance(text, str) and len(text) == 64 and text.isascii()
            and all(ch in "0123456789abcdefABCDEF" for ch in text)):
        raise InputError("a header hash is 64 hexadecimal digits", field=field)
    return bytes.fromhex(text)


def parse_expected_positions(items: Sequence[str], instruments: Sequence[str], *,
                             field: str = "--position") -> tuple[int, ...]:
    """The positions a participant expects, in listing order, from ``INSTRUMENT=LOTS`` items (instruments not
    named are expected flat); InputError naming an unknown instrument or a malformed number."""
    return _parse_expected(items, instruments, field=field, kind="instrument", unit="lots", signed=True)


def parse_expected_balances(items: Sequence[str], assets: Sequence[str], *,
                            field: str = "--balance") -> tuple[int, ...]:
    """The collateral balances a participant expects, in the epoch's asset order, from ``ASSET=UNITS`` items (the
    asset's smallest units; assets not named are expected empty); InputError naming an unknown asset (the
    settlement asset is ``--cash``) or a malformed number."""
    return _parse_expected(items, assets, field=field, kind="collateral asset", unit="units", signed=False)


def _parse_expected(items: Sequence[str], names: Sequence[str], *, field: str, kind: str, unit: str,
                    signed: bool) -> tuple[int, ...]:
    expected = dict.fromkeys(names, 0)
    named: set[str] = set()
    for item in items:
        name, _, amount = item.partition("=")
        if name not in expected:
            raise InputError(f"unknown {kind} {name!r} (listed: {', '.join(names) or 'none'})", field=field)
        if name in named:  # else the last one would be checked and the other silently dropped
            raise InputError(f"{name} is given twice", field=field)
        named.add(name)
        try:
            value = parse_canonical_int(amount, max_digits=20)
        except ValueError as exc:
            raise InputError(f"the {unit} of {name} {exc}", field=field) from None
        if value < 0 and not signed:
            raise InputError(f"the {unit} of {name} must be a non-negative integer, got {amount!r}", field=field)
        expected[name] = value
    return tuple(expected[n] for n in names)


def check_account_id(text: str, *, path: str | None = None, field: str = "account") -> str:
    if not isinstance(text, str) or not 1 <= len(text) <= _ACCOUNT_ID_MAX or not text.isprintable():
        raise InputError(f"an account id is 1 to {_ACCOUNT_ID_MAX} printable characters", path=path, field=field)
    return text


def load_participant_file(path: Path) -> Participant:
    """Read a participant file (``account = "..."``, ``account_key = "hex"``; docs/format.md) strictly."""
    name = str(path)
    text = decode_text(read_file(path, limit=4096), name)  # a byte that is not UTF-8 is named by its line
    try:
        document = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per nested array
        raise InputError("not valid TOML: nested too deeply", path=name) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=name) from None
    unknown = sorted(set(document) - {"account", "account_key"})
    if unknown:
        raise InputError("unknown key", path=name, field=unknown[0])
    if "account" not in document:
        raise InputError("required key missing", path=name, field="account")
    account = check_account_id(document["account"], path=name)
    key = None
    if "account_key" in document:
        key = parse_account_key(document["account_key"], path=name)
    return Participant(account, key)


@dataclass(frozen=True, slots=True)
class CashChange:
    """Why the cash moved from the epoch before (both verified; docs/protocol.md, "Participant verification"): the
    variation margin and the funding of the positions carried in, as the clearing engine computes them from the
    epoch's public inputs, and ``other``, the rest of the change (trades at the mark, fees, transfers, liquidation,
    premium-style options' premiums and payoffs)."""

    variation_margin: int
    funding: int
    other: int


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One epoch of a participant's history (their own values only); ``cash_change`` when explained (the CLI,
    for an epoch that follows the one before it in the history)."""

    epoch: int
    header_hash: str
    margin_mode: str
    cash: int
    positions: tuple[int, ...]
    equity: int
    requirement: int
    cash_change: CashChange | None = None

    @property
    def distance_to_maintenance(self) -> int:
        """Equity above the maintenance requirement (how far the account is from liquidation)."""
        return self.equity - self.requirement


def verify_history(epochs: Sequence[tuple[PublishedEpoch, Receipt]], participant: Participant,
                   expected: Sequence[Expected], *, chunk_system: ChunkProofSystem = CHUNK_SYSTEM,
                   on_verified: Callable[[ReceiptCheck], None] | None = None) -> list[ReceiptCheck]:
    """Verify every (published epoch, receipt) pair for ``participant`` (``expected[i]`` for pair i), in
    epoch order; consecutive epochs must chain, epoch 1 (when given) must be a genesis header, every epoch must
    list the same instruments (their positions are one history), every receipt must carry the same account key and
    no chain's reserves may be read at an older block than the latest earlier epoch given that listed the chain
    (``reserves-mismatch``).
    ``on_verified`` is told each epoch's check as it passes (a failure is then that of the next epoch in
    order: the browser page attributes it so, and shows progress)."""
    if len(expected) != len(epochs):
        raise ValueError("one Expected per epoch is required")
    ordered = sorted(zip(epochs, expected, strict=True), key=lambda item: item[0][0].epoch)
    for ((before, _), _), ((after, _), _) in pairwise(ordered):  # before any check: a fork is the finding, not the
        if before.epoch == after.epoch:                            # failure of one of its versions (red team s16)
            raise repeated_epoch(after.epoch, before.bundle.epoch_hash(), after.bundle.epoch_hash())
    checks: list[ReceiptCheck] = []
    pinned = participant.account_key
    previous: ChainLink | None = None
    listing: tuple[str, ...] | None = None
    blocks: LastBlocks = {}  # chain -> (epoch, entry): the block each chain was last read at
    for (published, receipt), wanted in ordered:
        instruments = tuple(chunk_system.instrument_ids(published.public))
        if previous is not None and instruments != listing:
            # the configuration is fixed at init: else the history would show positions under other names
            raise VerificationError("epoch-chain-broken", detail=(
                f"epoch {published.epoch} lists the instruments {', '.join(instruments)}, epoch {previous.epoch_id} "
                f"listed {', '.join(listing or ())}: a venue's listing never changes")[:600])
        listing = instruments
        if previous is None:
            check_first(published.bundle.header)
        elif published.epoch == previous.epoch_id + 1:
            check_chain(previous, published.bundle.header)
        if pinned is not None and receipt.account_key != pinned:
            first = checks[0].epoch_id if checks else None
            reason = "account-key-changed" if participant.account_key is None else "account-key-mismatch"
            since = f"since epoch {first}" if first is not None else "pinned (--account-key or your participant file)"
            raise VerificationError(reason, detail=f"epoch {published.epoch}'s receipt carries account key "
                                                   f"{key_fingerprint(receipt.account_key)}, not the key "
                                                   f"{key_fingerprint(pinned)} you have {since}")
        checks.append(verify_receipt(published, receipt, participant.account_id,
                                     expected=replace(wanted, account_key=pinned), chunk_system=chunk_system))
        check_blocks_advance(blocks, published.bundle.reserves, published.epoch)  # both lists checked
        blocks = last_blocks(blocks, published.bundle.reserves, published.epoch)
        if on_verified is not None:
            on_verified(checks[-1])
        pinned = receipt.account_key
        previous = published.bundle.chain_link()
    return checks


def history_rows(checks: Sequence[ReceiptCheck],
                 carried: Mapping[int, tuple[int, int]] | None = None) -> list[HistoryRow]:
    """One row per check, in order. ``carried`` maps an epoch to the variation margin and funding of the positions
    carried into it; a row gets its :class:`CashChange` only when the check before it is of the epoch before (a gap
    leaves the change unexplained: the cash and positions in between are unknown)."""
    carried = carried or {}
    rows = []
    for k, c in enumerate(checks):
        change = None
        if k and checks[k - 1].epoch_id == c.epoch_id - 1 and c.epoch_id in carried:
            vm, funding = carried[c.epoch_id]
            change = CashChange(vm, funding, c.cash - checks[k - 1].cash - vm - funding)
        rows.append(HistoryRow(c.epoch_id, c.header_hash, c.margin_mode, c.cash, c.positions, c.equity,
                               c.requirement, change))
    return rows


#: the history CSV's columns for :class:`CashChange` (written by the CLI; the browser page has no clearing engine)
CASH_CHANGE_COLUMNS = ("variation_margin", "funding", "other_cash_change")


def history_csv(rows: Sequence[HistoryRow], instruments: Sequence[str], *, cash_change: bool = False) -> str:
    """The history as CSV: epoch, header hash, mode, cash, one column per instrument, equity, requirement,
    distance to maintenance and, with ``cash_change``, :data:`CASH_CHANGE_COLUMNS` (empty where a row has none). An
    instrument name a spreadsheet would read as a formula (``-``, ``=``, ``+``, ``@`` first) is written after an
    apostrophe."""
    names = [f"'{name}" if name[:1] in ("-", "=", "+", "@") else name for name in instruments]
    header = ["epoch", "header_hash", "margin_mode", "cash", *names, "equity", "maintenance_requirement",
              "distance_to_maintenance", *(CASH_CHANGE_COLUMNS if cash_change else ())]
    lines = [",".join(header)]
    for row in rows:
        values = [row.epoch, row.header_hash, row.margin_mode, row.cash, *row.positions, row.equity,
                  row.requirement, row.distance_to_maintenance]
        if cash_change:
            change = row.cash_change
            values += ["", "", ""] if change is None else [change.variation_margin, change.funding, change.other]
        lines.append(",".join(str(v) for v in values))
    return "\n".join(lines) + "\n"


def whole_units(amount: int, decimals: int) -> str:
    """``amount`` smallest units of an asset with ``decimals`` decimals, in whole units, exactly (``6796710`` at 8
    decimals is ``0.06796710``)."""
    digits = str(abs(amount)).rjust(decimals + 1, "0")
    whole = f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits
    return f"-{whole}" if amount < 0 else whole


def account_view(check: ReceiptCheck, published: PublishedEpoch, *, zero_positions: bool = False) -> dict:
    """What a verified receipt established about the participant's account, as plain JSON values.

    The CLI's ``verify --json`` and the verification page both report this; positions of zero lots are left out
    unless ``zero_positions`` (the page charts every instrument).
    """
    instruments = published.public.instrument_ids
    return {
        "epoch": check.epoch_id, "header_hash": check.header_hash, "venue": published.bundle.reserves.venue,
        "account": check.account_id,
        "account_key_fingerprint": check.key_fingerprint, "leaf_index": check.leaf_index,
        "margin_mode": check.margin_mode, "cash": check.cash,
        "positions": {i: q for i, q in zip(instruments, check.positions, strict=True) if q or zero_positions},
        "equity": check.equity, "maintenance_requirement": check.requirement,
        "distance_to_maintenance": check.equity - check.requirement, "liability": check.liability,
        "collateral": {asset: {"balance": balance, "haircut_value": haircut}
                       for asset, balance, haircut in check.collateral},
        "liabilities": dict(zip(published.bundle.reserves.asset_ids, check.liabilities, strict=True)),
        # every asset's decimals, the settlement asset first: the unit its reserves are converted to (red team s15)
        "decimals": {asset.asset_id: asset.decimals for asset in published.bundle.reserves.assets},
        # named, not only first: JavaScript lists an object's integer-like keys ("1000", a valid asset id) before
        # the others, and the page took such a collateral asset for the settlement asset (red team s16)
        "settlement_asset": published.bundle.reserves.assets[0].asset_id,
        "marks": published.inputs.marks(), "checks": list(check.passed),
    }
