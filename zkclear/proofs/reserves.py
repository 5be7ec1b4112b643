"""The epoch's reserves: real chain addresses, their balances converted to the venue's assets, and the context
every custodian's attestation is signed in (docs/protocol.md, "Reserves across chains in the epoch").

A :class:`ReserveBook` is what the bundle carries and the header binds (``reserves_digest`` and one total per
asset): the venue's name, its assets (the settlement asset first, then the collateral assets in configuration
order, each with its decimals), and the reserves.csv v2 entries (:class:`zkclear.chains.ReserveEntry`, balances
in the chain's smallest unit, exactly as the custodians sign them), each with its unit: the token's contract
(none for a native coin) and the decimals of that unit on its chain. An entry's balance counts for its asset as

    floor(balance · 10^asset_decimals / 10^chain_decimals)        (rounded DOWN, entry by entry)

and an asset's reserves are the sum over its entries (each total below 2^64, the solvency statement's range).
A native coin's chain decimals are the chain's own (zkclear.chains.networks: satoshi 8, wei 18, lamports 9).
A token's contract and decimals are the registry's (zkclear.chains.tokens: USDC, USDT, DAI, WBTC on the chains
that have them) or declared by the operator (proving.toml ``[[reserves.token]]``: ``contract``, ``decimals``),
and every verifier holds them to the registry's rule; an unregistered token is shown to the auditor, who checks
its contract and decimals on the chain. A Bitcoin address holds only BTC.

The operator builds the book with :func:`build_reserve_book` (refusing, by line, what it could not use); a
verifier recomputes its totals and checks it with :func:`check_reserve_book` (standard library only).
"""

from __future__ import annotations

import hashlib
import struct
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zkclear.chains import AttestationContext, ReserveEntry, parse_address
from zkclear.chains.attestation_text import check_venue
from zkclear.chains.networks import Family, get_chain
from zkclear.chains.reserves import MAX_DECIMALS, check_asset
from zkclear.chains.tokens import (
    coin_of,
    is_registered_contract,
    registered_decimals,
    registered_symbol,
    registered_token,
    token_problem,
)
from zkclear.errors import InputError, VerificationError

DOMAIN_RESERVES = b"zkclear/reserves/v3"
#: Every asset's reserve total must fit the solvency statement's 64-bit range.
MAX_TOTAL = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class VenueAsset:
    """One asset of the venue: its id and decimals (its smallest unit is 10^-decimals)."""

    asset_id: str
    decimals: int

    def __post_init__(self) -> None:
        check_asset(self.asset_id)
        if isinstance(self.decimals, bool) or not isinstance(self.decimals, int) or not \
                0 <= self.decimals <= MAX_DECIMALS:
            raise InputError(f"asset {self.asset_id}: decimals must be an integer in [0, {MAX_DECIMALS}]")


def convert(balance: int, chain_decimals: int, asset_decimals: int) -> int:
    """A balance in the chain's smallest unit, in the asset's smallest unit, rounded down."""
    if asset_decimals >= chain_decimals:
        return balance * 10 ** (asset_decimals - chain_decimals)
    return balance // 10 ** (chain_decimals - asset_decimals)


@dataclass(frozen=True, slots=True)
class ReserveBook:
    """The reserves of one epoch (see the module docstring). Construction checks types and ranges only; what a
    verifier refuses by name (an address listed twice for one asset, an asset the venue does not have, totals that
    do not add up) is :func:`check_reserve_book`'s."""

    venue: str
    assets: tuple[VenueAsset, ...]
    entries: tuple[ReserveEntry, ...]

    def __post_init__(self) -> None:
        check_venue(self.venue)
        if not self.assets or not all(isinstance(a, VenueAsset) for a in self.assets):
            raise InputError("a reserve book needs the venue's assets (the settlement asset first)")
        if len({a.asset_id for a in self.assets}) != len(self.assets):
            raise InputError("the venue's asset ids must be distinct")
        if not all(isinstance(e, ReserveEntry) and e.unit_fixed for e in self.entries):
            raise InputError("a reserve book's entries need their unit (a token's contract and decimals)")

    @property
    def asset_ids(self) -> tuple[str, ...]:
        return tuple(a.asset_id for a in self.assets)

    @property
    def chain_decimals(self) -> tuple[int, ...]:
        """Every entry's unit decimals on its chain, in list order."""
        return tuple(e.decimals for e in self.entries if e.decimals is not None)

    def unregistered_tokens(self) -> tuple[tuple[str, str, str, int], ...]:
        """``(chain, asset, contract, decimals)`` of every listed token the registry does not know, once each, in
        list order: what an auditor checks on the chain by hand."""
        seen: dict[tuple[str, str, str, int], None] = {}
        for e in self.entries:
            if e.token and e.decimals is not None and not is_registered_contract(e.chain, e.token):
                seen.setdefault((e.chain, e.asset, e.token, e.decimals))
        return tuple(seen)

    def renamed_tokens(self) -> tuple[tuple[str, str, str, int, str], ...]:
        """``(chain, asset, contract, decimals, registered name)`` of every registered token counted for an asset
        of another name (USDC as the venue's USD, USDT as its BTC), once each, in list order: the registry fixes
        the unit, not what the asset is worth, so the auditor checks that the token is the asset."""
        seen: dict[tuple[str, str, str, int, str], None] = {}
        for e in self.entries:
            name = registered_symbol(e.chain, e.token) if e.token else None
            if name is not None and name != e.asset and e.decimals is not None:
                seen.setdefault((e.chain, e.asset, e.token, e.decimals, name))
        return tuple(seen)

    def entry_units(self, index: int) -> int:
        """Entry ``index``'s balance in its asset's smallest unit (0 for an asset the venue does not have)."""
        entry = self.entries[index]
        decimals = {a.asset_id: a.decimals for a in self.assets}.get(entry.asset)
        return 0 if decimals is None or entry.decimals is None else convert(entry.balance, entry.decimals, decimals)

    def asset_totals(self) -> tuple[int, ...]:
        """The reserves of every venue asset (settlement first), in the asset's smallest unit."""
        totals = dict.fromkeys(self.asset_ids, 0)
        for index, entry in enumerate(self.entries):
            if entry.asset in totals:
                totals[entry.asset] += self.entry_units(index)
        return tuple(totals.values())

    def by_chain(self) -> dict[str, dict[str, int]]:
        """Asset -> chain -> reserves on that chain in the asset's smallest unit (chains in listing order)."""
        table: dict[str, dict[str, int]] = {asset: {} for asset in self.asset_ids}
        for index, entry in enumerate(self.entries):
            if entry.asset in table:
                row = table[entry.asset]
                row[entry.chain] = row.get(entry.chain, 0) + self.entry_units(index)
        return table

    def to_bytes(self) -> bytes:
        """``text venue || u16 assets || (text id || u8 decimals)* || u32 entries || (text chain || text asset ||
        text address || u256 balance || u64 height || text block hash || u8 chain decimals || text token)*`` with
        ``text`` = u16 length || UTF-8 (every field is ASCII; ``token`` empty for a native coin)."""
        out = [_text(self.venue), struct.pack(">H", len(self.assets))]
        for asset in self.assets:
            out.append(_text(asset.asset_id) + bytes([asset.decimals]))
        out.append(struct.pack(">I", len(self.entries)))
        for entry, decimals in zip(self.entries, self.chain_decimals, strict=True):
            out.append(_text(entry.chain) + _text(entry.asset) + _text(entry.address)
                       + entry.balance.to_bytes(32, "big") + struct.pack(">Q", entry.block_height)
                       + _text(entry.block_hash) + bytes([decimals]) + _text(entry.token))
        return b"".join(out)

    def digest(self) -> bytes:
        """``SHA256("zkclear/reserves/v3" || to_bytes())``: what the header binds."""
        return hashlib.sha256(DOMAIN_RESERVES + self.to_bytes()).digest()


def _coin_text(chain: str, token: str) -> str:
    """How an error names the coin of an entry: the token, the native coin, or the native coin's contract."""
    if not token:
        return "the native coin"
    return f"the token {token}" + (" (the native coin's own contract)" if coin_of(chain, token) != token else "")


def _block(entry: ReserveEntry) -> tuple[int, str]:
    return entry.block_height, entry.block_hash


def _block_text(entry: ReserveEntry) -> str:
    return f"block {entry.block_height} ({entry.block_hash})"


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack(">H", len(data)) + data


def attestation_context(venue: str, epoch: int, header_hash: bytes, root_digest: bytes) -> AttestationContext:
    """The context each attestation text of the epoch names: the venue, the epoch, the epoch's header hash (the
    32 bytes the venue posts, binding header and root) and the tree's root digest."""
    return AttestationContext(venue, epoch, header_hash, root_digest)


# ---------------------------------------------------------------------------------------------------------------
# Operator side


def venue_assets(config_text: str, *, path: str | None = None) -> tuple[VenueAsset, ...]:
    """The venue's assets from the text of its ``zkclear.toml``: with ``[[asset]]`` tables, the one with
    ``settlement = true`` first, then the others in file order; without, ``settlement_asset`` /
    ``settlement_decimals`` (defaults USD, 6). The text is what the public inputs publish verbatim, so an
    auditor derives the same list."""
    try:
        document = tomllib.loads(config_text.removeprefix("\ufeff"))
    except (tomllib.TOMLDecodeError, RecursionError) as exc:  # tomllib recurses once per nested array
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    tables = document.get("asset")
    if not tables:
        return (VenueAsset(str(document.get("settlement_asset", "USD")), document.get("settlement_decimals", 6)),)
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise InputError("[[asset]] must be tables", path=path, field="asset")
    settlement = [t for t in tables if t.get("settlement") is True]
    if len(settlement) != 1:
        raise InputError("exactly one [[asset]] must have settlement = true", path=path, field="asset")
    ordered = settlement + [t for t in tables if t.get("settlement") is not True]
    try:
        return tuple(VenueAsset(t.get("id"), t.get("decimals")) for t in ordered)
    except InputError as exc:
        raise InputError(exc.detail, path=path, field="asset") from None


#: proving.toml ``[[reserves.token]]``: ``(chain, asset) -> (contract, decimals or None)`` (None: the registry's).
TokenDeclarations = Mapping[tuple[str, str], tuple[str, int | None]]


def entry_with_unit(entry: ReserveEntry, tokens: TokenDeclarations) -> ReserveEntry:
    """``entry`` with its unit fixed (see the module docstring): a native coin's is its chain's; a token's is the
    one declared for its chain and asset, else the registry's token of that name. InputError when the chain
    cannot hold the asset, a native coin is declared as a token, an unregistered token is not declared (or
    without its decimals), or the token breaks the registry's rule (zkclear.chains.tokens)."""
    chain = get_chain(entry.chain)
    declared = tokens.get((entry.chain, entry.asset))
    if entry.asset == chain.native_asset:
        if declared is not None:
            raise InputError(f"{entry.asset} is {entry.chain}'s native coin ({chain.native_decimals} decimals); "
                             "it cannot be declared as a token")
        return entry
    if chain.family is Family.BITCOIN:
        raise InputError(f"a {entry.chain} address holds only BTC, not {entry.asset}")
    if declared is None:
        registered = registered_token(entry.chain, entry.asset)
        if registered is None:
            raise InputError(f"{entry.asset} on {entry.chain} is a token the registry does not know: name its "
                             "contract and decimals in proving.toml [[reserves.token]]")
        contract, decimals = registered
    else:
        contract, maybe = declared
        decimals = registered_decimals(entry.chain, contract) if maybe is None else maybe
        if decimals is None:
            raise InputError(f"{entry.asset} on {entry.chain}: the token {contract} is not registered; declare its "
                             "decimals in proving.toml [[reserves.token]]")
    problem = token_problem(entry.chain, entry.asset, contract, decimals)
    if problem is not None:
        raise InputError(problem)
    return ReserveEntry(entry.chain, entry.asset, entry.address, entry.balance, entry.block_height,
                        entry.block_hash, contract, decimals)


def build_reserve_book(venue: str, assets: Sequence[VenueAsset], entries: Sequence[ReserveEntry], *,
                       tokens: TokenDeclarations | None = None, path: str | None = None) -> ReserveBook:
    """The epoch's reserve book from a parsed reserves.csv v2 (entries in file order, so entry ``i`` is on line
    ``i + 2``), every entry's unit fixed by :func:`entry_with_unit`; InputError naming the line and field of an
    address listed twice for one asset, of an entry on a test network, of an entry at another block than an
    earlier entry of its chain (every chain is read at one block), of an entry whose asset is not the venue's or
    whose unit cannot be fixed, of a coin (a token; the native coin, also under its own contract:
    zkclear.chains.tokens.coin_of) an earlier entry counted for another asset, and of the entry that takes its
    asset's total to 2^64 (field ``balance``)."""
    declared = dict(tokens or {})
    by_id = {asset.asset_id: asset for asset in assets}
    fixed = []
    seen: dict[tuple[str, str, str], int] = {}
    counted_as: dict[tuple[str, str], tuple[str, int]] = {}  # (chain, coin) -> (asset, line): one asset per coin
    blocks: dict[str, tuple[ReserveEntry, int]] = {}
    for index, entry in enumerate(entries):
        if entry.key in seen:
            raise InputError(f"address {entry.address} is listed twice on chain {entry.chain} (first on line "
                             f"{seen[entry.key]}), both for {entry.asset}", path=path, line=index + 2,
                             field="address")
        seen[entry.key] = index + 2
        first, line = blocks.setdefault(entry.chain, (entry, index + 2))
        if _block(first) != _block(entry):
            field = "block_height" if first.block_height != entry.block_height else "block_hash"
            raise InputError(f"every {entry.chain} entry must be read at one block: line {line} is at "
                             f"{_block_text(first)}, this one at {_block_text(entry)} (coins moved between two listed "
                             "addresses between two blocks would count twice)", path=path, line=index + 2, field=field)
        if get_chain(entry.chain).test_network:
            raise InputError(f"{entry.chain} is a test network: its coins and tokens have no value and never count as "
                             "reserves", path=path, line=index + 2, field="chain")
        if entry.asset not in by_id:
            raise InputError(f"{entry.asset} is not an asset of this venue ({', '.join(by_id)})", path=path,
                             line=index + 2, field="asset")
        try:
            fixed.append(entry_with_unit(entry, declared))
        except InputError as exc:
            raise InputError(exc.detail, path=path, line=index + 2, field="asset") from None
        token = fixed[-1].token
        other, line = counted_as.setdefault((entry.chain, coin_of(entry.chain, token)), (entry.asset, index + 2))
        if other != entry.asset:  # a native coin counts for its own asset only, unless its contract is declared
            raise InputError(f"{_coin_text(entry.chain, token)} on {entry.chain} is counted as {other} on line {line} "
                             f"and as {entry.asset} here: one token counts for one asset", path=path,
                             line=index + 2, field="asset")
    book = ReserveBook(check_venue(venue), tuple(assets), tuple(fixed))
    running = dict.fromkeys(book.asset_ids, 0)
    for index, entry in enumerate(book.entries):  # blamed on the line whose entry takes its asset's total past it
        running[entry.asset] += book.entry_units(index)
        if running[entry.asset] > MAX_TOTAL:
            raise InputError(f"the reserves of {entry.asset} would total {running[entry.asset]} smallest units with "
                             "this entry, above 2^64 - 1 (the solvency statement's range)", path=path,
                             line=index + 2, field="balance")
    return book


def listed_entry(book: ReserveBook, address: str, chain: str | None = None, asset: str | None = None, *,
                 option: str = "--address") -> ReserveEntry:
    """The book's entry for ``address`` (on ``chain``, needed when an EVM address is listed on several chains; for
    ``asset``, needed when the address is listed for several assets); InputError naming the address (given as the
    command-line ``option``) otherwise."""

    def same(entry: ReserveEntry) -> bool:
        try:
            return parse_address(entry.chain, address).text == entry.address
        except InputError:
            return False

    matches = [e for e in book.entries if (chain is None or e.chain == chain) and same(e)
               and (asset is None or e.asset == asset)]
    if not matches:  # what the user typed is echoed quoted and cut short (it may be megabytes, or hold escapes)
        raise InputError(f"address {address!r:.100} is not a listed reserve address"
                         + (f" on {chain!r:.40}" if chain else "") + (f" for {asset!r:.40}" if asset else ""),
                         field=option)
    chains = sorted({e.chain for e in matches})
    if len(chains) > 1:
        raise InputError(f"address {address} is listed on {', '.join(chains)}: say which with --chain",
                         field="--chain")
    if len(matches) > 1:
        assets = ", ".join(sorted(e.asset for e in matches))
        raise InputError(f"address {address} is listed on {chains[0]} for {assets}: say which with --asset",
                         field="--asset")
    return matches[0]


# ---------------------------------------------------------------------------------------------------------------
# Verifier side


def _mismatch(detail: str) -> VerificationError:
    return VerificationError("reserves-mismatch", detail=detail)


def check_reserve_book(book: ReserveBook, reserves_digest: bytes, reserve_totals: Sequence[int],
                       collateral_ids: Sequence[str]) -> None:
    """Everything about the reserves list a verifier checks without the chains' signatures: it is the one the
    header binds, its assets are the settlement asset and the epoch's collateral assets in order, every entry is
    of one of them on a main-network chain that can hold it, every entry of a chain is at that chain's one block
    (height and hash), native coins use their chain's decimals, tokens meet the registry's rule
    (zkclear.chains.tokens) with one token per asset and chain and one asset per coin (a token; the native coin, also
    under its own contract), and every asset's
    total is the header's (so reserves of one asset are never counted for another). VerificationError
    ``reserves-mismatch`` naming the asset or address otherwise."""
    if book.digest() != reserves_digest:
        raise _mismatch("the reserves list is not the one the epoch header binds")
    if len(book.assets) != len(reserve_totals) or tuple(book.asset_ids[1:]) != tuple(collateral_ids):
        raise _mismatch(f"the reserves list names the assets {', '.join(book.asset_ids)}; the epoch has a "
                        f"settlement asset and the collateral assets {', '.join(collateral_ids) or '(none)'} "
                        f"({len(reserve_totals)} reserve totals)")
    assets = {asset.asset_id: asset for asset in book.assets}
    blocks: dict[str, ReserveEntry] = {}
    units: dict[tuple[str, str], ReserveEntry] = {}
    assets_of: dict[tuple[str, str], ReserveEntry] = {}
    for entry in book.entries:
        first = blocks.setdefault(entry.chain, entry)
        if _block(first) != _block(entry):
            raise _mismatch(f"address {entry.address} on {entry.chain} is listed at {_block_text(entry)}, address "
                            f"{first.address} at {_block_text(first)}: every entry of a chain is read at one block "
                            "(else coins moved between two listed addresses between the blocks count twice)")
        asset = assets.get(entry.asset)
        if asset is None:
            raise _mismatch(f"address {entry.address} on {entry.chain} is listed as {entry.asset}, which is not an "
                            f"asset of this venue ({', '.join(assets)})")
        chain = get_chain(entry.chain)
        if chain.test_network:  # faucet coins: a signature proves control, not value
            raise _mismatch(f"address {entry.address} is on {entry.chain}, a test network: its {entry.asset} has "
                            "no value and never counts as reserves")
        if entry.asset != chain.native_asset and chain.family is Family.BITCOIN:
            raise _mismatch(f"address {entry.address}: a {entry.chain} address holds only BTC, not {entry.asset}")
        _check_token(entry, units, assets_of)  # a native coin's decimals are its chain's (ReserveEntry)
    differing = [f"{asset}: the header counts {counted}, the listed {asset} reserves total {listed}"
                 for asset, counted, listed in zip(book.asset_ids, reserve_totals, book.asset_totals(), strict=True)
                 if counted != listed]
    if differing:
        raise _mismatch("; ".join(differing) + " (reserves of one asset may be counted for another)")


def _check_token(entry: ReserveEntry, units: dict[tuple[str, str], ReserveEntry],
                 assets_of: dict[tuple[str, str], ReserveEntry]) -> None:
    """A token entry under the registry's rule, with the one unit of its chain and asset, and every entry's coin (a
    token's contract; the native coin, also under its own contract) counted for one asset only (``units`` and
    ``assets_of`` collect what earlier entries named)."""
    if get_chain(entry.chain).native_asset != entry.asset and entry.decimals is not None:
        # a token (a native coin's unit is checked above: ReserveEntry refuses a contract for it)
        if not entry.token:
            raise _mismatch(f"address {entry.address}: {entry.asset} on {entry.chain} is a token and the reserves "
                            "list does not name its contract")
        problem = token_problem(entry.chain, entry.asset, entry.token, entry.decimals)
        if problem is not None:
            raise _mismatch(f"address {entry.address}: {problem}")
        first = units.setdefault((entry.chain, entry.asset), entry)
        if (first.token, first.decimals) != (entry.token, entry.decimals):
            raise _mismatch(f"address {entry.address}: {entry.asset} on {entry.chain} is counted from the token "
                            f"{entry.token} ({entry.decimals} decimals), address {first.address}'s from {first.token} "
                            f"({first.decimals} decimals): one asset is one token on a chain")
    other = assets_of.setdefault((entry.chain, coin_of(entry.chain, entry.token)), entry)
    if other.asset != entry.asset:
        raise _mismatch(f"address {entry.address}: {_coin_text(entry.chain, entry.token)} on {entry.chain} is "
                        f"counted as {entry.asset} here and as {other.asset} at address {other.address}")


#: chain -> (epoch, one of its entries) of the latest epoch that listed the chain: the block (height and hash) its
#: reserves were last read at.
LastBlocks = Mapping[str, tuple[int, ReserveEntry]]


def last_blocks(history: LastBlocks, book: ReserveBook, epoch: int) -> dict[str, tuple[int, ReserveEntry]]:
    """``history`` (the epochs before ``epoch``) with the blocks ``book``, the reserves of ``epoch``, lists."""
    updated = dict(history)
    updated.update((entry.chain, (epoch, entry)) for entry in book.entries)
    return updated


def older_block(history: LastBlocks, book: ReserveBook) -> tuple[int, ReserveEntry, int, ReserveEntry] | None:
    """``(index, entry, epoch, earlier entry)`` of the first entry of ``book`` read at a lower block than the latest
    earlier epoch that listed its chain (``history``; every entry of a chain is at that chain's one block), or at the
    same height under another hash (two blocks at one height: one of them is not on the chain), or None."""
    for index, entry in enumerate(book.entries):
        epoch, old = history.get(entry.chain, (0, None))
        if old is not None and (entry.block_height < old.block_height or (
                entry.block_height == old.block_height and entry.block_hash != old.block_hash)):
            return index, entry, epoch, old
    return None


def check_blocks_advance(history: LastBlocks, book: ReserveBook, epoch: int) -> None:
    """Verifier, for the reserves of ``epoch`` after earlier epochs (``history``, :func:`last_blocks`): no chain's
    reserves are read at a lower block than the latest earlier epoch that listed the chain — the epoch before, or one
    before it when the chain was left out in between or the epochs given have a gap (a snapshot older than one already
    published would count coins that may have left since, every signature genuine and every row true at its block;
    red team session 16: a chain left out for one epoch came back at an older block) — nor at that epoch's height
    under another hash. The same block again passes: how far a block is behind the epoch's close stays the auditor's
    to judge. VerificationError ``reserves-mismatch`` naming the chain, the address and both blocks."""
    older = older_block(history, book)
    if older is not None:
        _, entry, earlier, old = older
        what = ("another block at that height: one of the two is not on the chain" if entry.block_height ==
                old.block_height else "a reserves snapshot older than the previous epoch's to list the chain")
        raise _mismatch(f"address {entry.address} on {entry.chain} is listed in epoch {epoch} at "
                        f"{_block_text(entry)}, epoch {earlier} at {_block_text(old)}: {what}")


def check_venue_assets(book: ReserveBook, config_text: str) -> None:
    """Auditor: the assets and decimals the reserves are converted with are the configuration's (published
    verbatim in the public inputs); ``reserves-mismatch`` naming the asset otherwise."""
    try:
        configured = venue_assets(config_text)
    except InputError as exc:
        raise _mismatch(f"the published configuration's assets do not parse ({exc.detail})") from None
    if configured != book.assets:
        listed = ", ".join(f"{a.asset_id} ({a.decimals} decimals)" for a in book.assets)
        expected = ", ".join(f"{a.asset_id} ({a.decimals} decimals)" for a in configured)
        raise _mismatch(f"the reserves list converts to {listed}; the published configuration has {expected}")
