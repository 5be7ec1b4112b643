"""Reserve entries and the ``reserves.csv`` (version 2) input that lists them.

One entry is one address on one chain holding one asset: ``chain, asset, address, balance, block_height,
block_hash``; an address holding several assets (ETH and USDC on one Ethereum address) is one entry per asset
(docs/format.md, "reserves.csv v2"). The balance is an integer in the chain's smallest unit
of the asset (satoshi, wei, lamports, token base units) as the chain reports it at that block, so an
auditor compares it with the chain's own tools without conversion; mapping it onto the venue's asset
units is the caller's job.

Parsing is strict: the exact header, six fields per row, ASCII digits only for numbers (``str.isdigit``
would accept superscripts and full-width digits) with no sign, no spaces and no leading zeros, each
address in its chain's canonical form, each block hash in its chain's format, no address listed twice
for one asset on one chain. A UTF-8 byte-order mark, CRLF line ends and trailing blank lines are accepted. The first
problem raises one InputError naming the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zkclear.chains.addresses import parse_address, parse_token_contract
from zkclear.chains.blocks import MAX_HEIGHT, check_block_hash, check_block_height
from zkclear.chains.networks import Family, get_chain
from zkclear.errors import InputError

HEADER = ("chain", "asset", "address", "balance", "block_height", "block_hash")
MAX_BALANCE = (1 << 256) - 1
ASSET_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
MAX_ASSET_LENGTH = 16
#: Decimals a chain unit or an asset may have (wei has 18; no chain reports more than 36).
MAX_DECIMALS = 36
_DIGITS = frozenset("0123456789")


def parse_decimal(text: str, *, maximum: int, what: str) -> int:
    """A canonical non-negative decimal: ASCII digits only, no sign or spaces, no leading zero, <= maximum."""
    if not text or not set(text) <= _DIGITS:
        raise InputError(f"{what} must be a non-negative integer in ASCII digits, got {text!r}")
    if len(text) > 1 and text[0] == "0":
        raise InputError(f"{what} must not have leading zeros, got {text!r}")
    if len(text) > len(str(maximum)) or int(text) > maximum:
        raise InputError(f"{what} must be at most {maximum}, got {text}")
    return int(text)


def check_asset(asset: str) -> str:
    """The asset id unchanged: 1-16 of A-Z 0-9 . - _, starting with a letter or digit; InputError otherwise."""
    if (
        not isinstance(asset, str)
        or not 1 <= len(asset) <= MAX_ASSET_LENGTH
        or not set(asset) <= ASSET_CHARACTERS
        or not asset[0].isalnum()
    ):
        raise InputError(f"asset {asset!r:.40} must be 1-16 characters of A-Z, 0-9, '.', '-', '_' starting with "
                         "a letter or digit")
    return asset


@dataclass(frozen=True, slots=True)
class ReserveEntry:
    """One reserve address: what it holds (integer smallest units), the block the balance was read at, and the
    unit the balance is counted in.

    The unit: ``token`` is ``""`` for the chain's native coin, else the token's contract (ERC-20 contract, SPL
    mint) in the chain's canonical address form; ``decimals`` are that unit's decimals on its chain (a native
    coin's are the chain's and are filled in). A token row of reserves.csv does not say its token: its
    ``token`` and ``decimals`` stay unset (``""`` and None) until the reserve book fixes them from the
    registry or proving.toml (zkclear.proofs.reserves); an attestation text names both, so only an entry whose
    unit is fixed (:attr:`unit_fixed`) can be attested.

    Construction validates every field and requires the addresses in their canonical form (use
    :func:`parse_address` first to canonicalize user input).
    """

    chain: str
    asset: str
    address: str
    balance: int
    block_height: int
    block_hash: str
    token: str = ""
    decimals: int | None = None

    def __post_init__(self) -> None:
        chain = get_chain(self.chain)
        check_asset(self.asset)
        canonical = parse_address(self.chain, self.address).text
        if canonical != self.address:
            raise InputError(f"address {self.address} is not in canonical form (write {canonical})")
        if isinstance(self.balance, bool) or not isinstance(self.balance, int) or not 0 <= self.balance <= MAX_BALANCE:
            raise InputError(f"balance must be an integer in [0, 2^256), got {self.balance!r}")
        check_block_height(self.block_height)
        check_block_hash(self.chain, self.block_hash)
        if not isinstance(self.token, str):
            raise InputError("token must be a contract address or '' (the native coin)")
        if self.decimals is not None and (isinstance(self.decimals, bool) or not isinstance(self.decimals, int)
                                          or not 0 <= self.decimals <= MAX_DECIMALS):
            raise InputError(f"decimals must be an integer in [0, {MAX_DECIMALS}], got {self.decimals!r}")
        if self.asset == chain.native_asset:
            if self.token:
                raise InputError(f"{self.asset} is {self.chain}'s native coin: it has no token contract")
            if self.decimals not in (None, chain.native_decimals):
                raise InputError(f"{self.asset} is {self.chain}'s native coin ({chain.native_decimals} decimals), "
                                 f"not {self.decimals}")
            object.__setattr__(self, "decimals", chain.native_decimals)
        elif self.token:
            if chain.family is Family.BITCOIN:
                raise InputError(f"a {self.chain} address holds only BTC: no token {self.token}")
            token = parse_token_contract(self.chain, self.token)
            if token != self.token:
                raise InputError(f"token {self.token} is not in canonical form (write {token})")
            if self.decimals is None:
                raise InputError(f"the token {self.token} needs its decimals")
        elif self.decimals is not None:
            raise InputError(f"{self.asset} on {self.chain} is a token: its decimals come with its contract")

    @property
    def key(self) -> tuple[str, str, str]:
        """(chain, address, asset): what identifies the entry (one entry per asset per address per chain)."""
        return self.chain, self.address, self.asset

    @property
    def unit_fixed(self) -> bool:
        """Whether the unit is known: a native coin, or a token with its contract and decimals."""
        return self.decimals is not None

    @property
    def token_label(self) -> str:
        """``native`` or the token's contract: how the attestation text and ``zkclear show`` name the unit."""
        return self.token or "native"


def parse_reserves_csv(text: str, *, path: str | None = None) -> tuple[ReserveEntry, ...]:
    """The entries of a reserves.csv v2 text, in file order; InputError naming file, line and field."""
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    while lines and lines[-1].strip("\r") == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if not lines or tuple(lines[0].split(",")) != HEADER:
        raise InputError(f"expected the header row '{','.join(HEADER)}'", path=path, line=1)
    entries: list[ReserveEntry] = []
    seen: dict[tuple[str, str, str], int] = {}
    for number, line in enumerate(lines[1:], start=2):
        entry = _parse_row(line, path=path, number=number)
        if entry.key in seen:
            raise InputError(f"address {entry.address} is listed twice on chain {entry.chain} "
                             f"(first on line {seen[entry.key]}), both for {entry.asset}", path=path, line=number,
                             field="address")
        seen[entry.key] = number
        entries.append(entry)
    if not entries:
        raise InputError("no reserve rows after the header", path=path, line=2)
    return tuple(entries)


def _parse_row(line: str, *, path: str | None, number: int) -> ReserveEntry:
    if not line:
        raise InputError("blank line inside the file", path=path, line=number)
    cells = line.split(",")
    if len(cells) != len(HEADER):
        raise InputError(f"expected {len(HEADER)} comma-separated fields, got {len(cells)}", path=path, line=number)
    values = dict(zip(HEADER, cells, strict=True))

    def checked(field: str, check):
        value = values[field]
        if value != value.strip() or not value:
            raise InputError("empty, or surrounded by spaces", path=path, line=number, field=field)
        try:
            return check(value)
        except InputError as exc:
            raise InputError(exc.detail, path=path, line=number, field=field) from exc

    chain = checked("chain", lambda v: get_chain(v).name)
    asset = checked("asset", check_asset)
    address = checked("address", lambda v: parse_address(chain, v).text)
    balance = checked("balance", lambda v: parse_decimal(v, maximum=MAX_BALANCE, what="balance"))
    height = checked("block_height", lambda v: parse_decimal(v, maximum=MAX_HEIGHT, what="block height"))
    block_hash = checked("block_hash", lambda v: check_block_hash(chain, v))
    return ReserveEntry(chain, asset, address, balance, height, block_hash)


def load_reserves(path: str | Path) -> tuple[ReserveEntry, ...]:
    """Read and parse a reserves.csv v2 file (UTF-8)."""
    # here: importing zkclear.chains loads no other module
    from zkclear.files import MAX_DOCUMENT_BYTES, decode_text, read_file

    try:  # a byte that is not UTF-8 is named by its line
        text = decode_text(read_file(path, limit=MAX_DOCUMENT_BYTES), str(path))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    return parse_reserves_csv(text, path=str(path))


def reserve_totals(entries: Sequence[ReserveEntry]) -> dict[tuple[str, str], int]:
    """Total balance per (chain, asset), in the chain's smallest units."""
    totals: dict[tuple[str, str], int] = {}
    for entry in entries:
        totals[(entry.chain, entry.asset)] = totals.get((entry.chain, entry.asset), 0) + entry.balance
    return totals
