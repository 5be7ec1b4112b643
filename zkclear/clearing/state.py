"""The clearing state between epochs: integers only, immutable, canonically serializable.

Accounts are kept sorted by account id, so "ordered by row" and "ordered by account id" are the same thing
everywhere in the engine (deterministic tie-breaking). Arrays are int64 and marked read-only.

Canonical serialization (hashed by the ledger, docs/clearing.md "Canonical serialization"): UTF-8 JSON with
sorted keys, no whitespace (``separators=(",", ":")``), ASCII only, integers only (booleans for ``expired``)::

    {"accounts": [[id, margin_mode, cash, net_deposits, [position per instrument...]], ...],   # by id
     "epoch": e, "instruments": [[id, settlement_price, funding_index, expired], ...],                   #
     config order "total_deposited": D, "total_withdrawn": W, "version": 1}

A deployment with collateral assets (issue 13) adds, and only then, ``"assets": {"ids": [asset, ...],
"balances": [[balance per asset...] per account, by id], "totals": [[deposited, withdrawn, converted] per
asset], "converted": G}`` (other states keep their bytes and hashes). A deployment whose oracle guard bounds its
fallback (``oracle.max_fallback_epochs``) adds, and only while some instrument is marked at its last good price,
``"oracle_fallbacks": [epochs running per instrument]`` (config order).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from zkclear.clearing.config import BACKSTOP, SYSTEM_ACCOUNTS, ClearingConfig
from zkclear.errors import LedgerError

STATE_VERSION = 1


def frozen_array(values: object, *, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """An int64 array copy that cannot be written to."""
    array = np.array(values, dtype=np.int64)
    if shape is not None:
        array = array.reshape(shape)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, eq=False)
class EpochState:
    """State after epoch ``epoch`` (0 = genesis).

    - ``settlement_prices[i]``: last price instrument ``i`` was marked to (ticks; 0 before its first mark);
    - ``funding_indices[i]``: cumulative funding index, in millionths of a settlement unit per lot;
    - ``expired[i]``: a dated future after its expiry epoch (positions zero, no further fills);
    - ``cash[a]``: settlement units; after an epoch every position is marked to its settlement price, so
      ``cash`` is also the account's equity (plus, with collateral assets, their haircut value: cash may then be
      negative while the account is covered);
    - ``positions[a, i]``: signed lots;
    - ``net_deposits[a]``: deposits minus honoured withdrawals (used to rank ADL by profit);
    - ``total_deposited`` / ``total_withdrawn``: all-time sums of the settlement asset;
    - collateral assets (issue 13; empty without them): ``asset_ids`` (configuration order),
      ``asset_balances[a, k]`` (smallest units of asset ``k``, ``>= 0``), ``asset_totals[k]`` = all-time
      ``(deposited, withdrawn, converted)`` of asset ``k`` and ``total_converted`` the settlement units the
      conversions of collateral at liquidation credited (gross proceeds).

    Conservation, per asset to the unit: ``sum(cash) == D - W + total_converted`` and ``sum(asset_balances[:, k])
    == deposited_k - withdrawn_k - converted_k``.
    """

    epoch: int
    instruments: tuple[str, ...]
    settlement_prices: tuple[int, ...]
    funding_indices: tuple[int, ...]
    expired: tuple[bool, ...]
    accounts: tuple[str, ...]
    margin_modes: tuple[str, ...]
    cash: np.ndarray
    positions: np.ndarray
    net_deposits: np.ndarray
    total_deposited: int
    total_withdrawn: int
    #: dynamic margin only: per underlying group, its last marks (oldest first, at most the configured window)
    price_history: tuple[tuple[str, tuple[int, ...]], ...] = ()
    #: dynamic margin only: the parameters computed at this epoch's close, effective for the next epoch
    #: (``zkclear.risk.dynamic_params.RiskParameters`` as tuples: underlying, effective epoch, method,
    #: observations, volatility, maintenance, initial, scan range; ppm)
    dynamic_parameters: tuple[tuple[str, int, str, int, int, int, int, int], ...] = ()
    asset_ids: tuple[str, ...] = ()
    #: accounts x collateral assets (None: zeros of that shape)
    asset_balances: np.ndarray | None = None
    asset_totals: tuple[tuple[int, int, int], ...] = ()
    total_converted: int = 0
    #: with a bounded oracle fallback only: per instrument, the consecutive epochs up to this one whose mark was the
    #: guard's fallback (the last good price); () when none is
    oracle_fallbacks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.oracle_fallbacks and not any(self.oracle_fallbacks):
            object.__setattr__(self, "oracle_fallbacks", ())  # one form for "none": equal states, equal bytes
        if self.oracle_fallbacks and (len(self.oracle_fallbacks) != len(self.instruments) or not all(
                type(count) is int and count >= 0 for count in self.oracle_fallbacks)):
            raise ValueError("oracle_fallbacks needs one count (an integer >= 0) per instrument")
        if self.asset_balances is None:
            object.__setattr__(self, "asset_balances",
                               frozen_array(np.zeros((len(self.accounts), len(self.asset_ids)), dtype=np.int64)))
        if self.asset_ids and not self.asset_totals:
            object.__setattr__(self, "asset_totals", ((0, 0, 0),) * len(self.asset_ids))

    @staticmethod
    def genesis(config: ClearingConfig) -> EpochState:
        """The empty state: the clearing house's own accounts with zero balances."""
        accounts = tuple(sorted(SYSTEM_ACCOUNTS))
        count = len(config.instruments)
        modes = tuple(config.backstop_margin_mode if account == BACKSTOP else "standard" for account in accounts)
        return EpochState(
            epoch=0,
            instruments=config.instrument_ids,
            settlement_prices=(0,) * count,
            funding_indices=(0,) * count,
            expired=(False,) * count,
            accounts=accounts,
            margin_modes=modes,
            cash=frozen_array([0] * len(accounts)),
            positions=frozen_array(np.zeros((len(accounts), count), dtype=np.int64)),
            net_deposits=frozen_array([0] * len(accounts)),
            total_deposited=0,
            total_withdrawn=0,
            asset_ids=config.asset_ids,
        )

    @property
    def fallbacks_running(self) -> tuple[int, ...]:
        """Per instrument, the epochs running its mark has been the oracle guard's fallback (zeros when none)."""
        return self.oracle_fallbacks or (0,) * len(self.instruments)

    def row(self, account: str) -> int:
        """Row of one account (``KeyError`` if absent); O(log n) by bisection on the sorted ids."""
        row = bisect_left(self.accounts, account)
        if row == len(self.accounts) or self.accounts[row] != account:
            raise KeyError(account)
        return row

    def cash_of(self, account: str) -> int:
        return int(self.cash[self.row(account)])

    def position_of(self, account: str, instrument: str) -> int:
        return int(self.positions[self.row(account), self.instruments.index(instrument)])

    def balance_of(self, account: str, asset: str) -> int:
        """The account's balance of collateral asset ``asset`` (smallest units)."""
        return int(self.asset_balances[self.row(account), self.asset_ids.index(asset)])

    # -- canonical form ---------------------------------------------------------------------

    def to_canonical(self, *, with_accounts: bool = True) -> dict:
        """The canonical record; without ``with_accounts``, without what is per account (``accounts`` and the
        assets' ``balances``)."""
        extra: dict = {}
        if self.price_history or self.dynamic_parameters:  # dynamic margin only (other states unchanged)
            extra["price_history"] = [[group, list(prices)] for group, prices in self.price_history]
            extra["dynamic_parameters"] = [list(p) for p in self.dynamic_parameters]
        if self.oracle_fallbacks:  # a bounded oracle fallback running only (other states unchanged)
            extra["oracle_fallbacks"] = list(self.oracle_fallbacks)
        if self.asset_ids:  # collateral assets only (other states unchanged)
            extra["assets"] = {"ids": list(self.asset_ids), "totals": [list(t) for t in self.asset_totals],
                               "converted": self.total_converted}
            if with_accounts:
                extra["assets"]["balances"] = self.asset_balances.tolist()
        if with_accounts:
            extra["accounts"] = self._account_rows(0, len(self.accounts))
        return extra | {
            "epoch": self.epoch,
            "instruments": [[i, p, f, e] for i, p, f, e in zip(
                self.instruments, self.settlement_prices, self.funding_indices, self.expired, strict=True)],
            "total_deposited": self.total_deposited,
            "total_withdrawn": self.total_withdrawn,
            "version": STATE_VERSION,
        }

    def canonical_bytes(self) -> bytes:
        """The canonical JSON encoding (see module docstring); equal states give equal bytes. Written a piece
        of :data:`ROWS_PER_PIECE` accounts at a time (the bytes of ``canonical_json(self.to_canonical())``
        without its per-account lists of Python objects: a few hundred bytes per account)."""
        small = self.to_canonical(with_accounts=False)
        parts = [b'{"accounts":[', *_row_pieces(self._account_rows, len(self.accounts)), b"]"]
        if self.asset_ids:  # "assets" sorts right after "accounts"; "balances" first in it
            parts += [b',"assets":{"balances":[',
                      *_row_pieces(lambda a, b: self.asset_balances[a:b].tolist(), len(self.accounts)),
                      b"]," + canonical_json(small.pop("assets"))[1:]]
        parts.append(b"," + canonical_json(small)[1:])
        return b"".join(parts)

    def _account_rows(self, start: int, stop: int) -> list[list]:
        return [[account, mode, cash, deposits, positions] for account, mode, cash, deposits, positions in zip(
            self.accounts[start:stop], self.margin_modes[start:stop], self.cash[start:stop].tolist(),
            self.net_deposits[start:stop].tolist(), self.positions[start:stop].tolist(), strict=True)]

    @staticmethod
    def from_canonical_bytes(data: bytes) -> EpochState:
        """Inverse of :meth:`canonical_bytes`; :class:`LedgerError` if the bytes are not a state. The accounts
        are decoded a piece at a time into their arrays (never all as Python objects at once), and the state
        is re-encoded and compared with ``data``, so only canonical bytes decode; the account ids must be distinct
        and in order (what the engine writes)."""
        try:
            state = _decode_state(data)
        except (KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
            raise LedgerError(f"stored state does not decode: {exc}") from exc
        if state.canonical_bytes() != data:
            raise LedgerError("stored state is not in canonical form")
        accounts = state.accounts
        for row in range(1, len(accounts)):
            if not accounts[row - 1] < accounts[row]:  # the engine's rows are the ids in order, each once
                raise LedgerError(f"stored state: account row {row} ({accounts[row]!r:.80}) is not after row {row - 1} "
                                  f"({accounts[row - 1]!r:.80}): the ids must be distinct and in order")
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EpochState):
            return NotImplemented
        return self.canonical_bytes() == other.canonical_bytes()

    __hash__ = None  # type: ignore[assignment]


#: accounts encoded or decoded at a time by :meth:`EpochState.canonical_bytes` / ``from_canonical_bytes``
ROWS_PER_PIECE = 4096
_ACCOUNTS_HEAD = b'{"accounts":['
_BALANCES_HEAD = b',"assets":{"balances":['


def _row_pieces(rows_of: Callable[[int, int], list], count: int) -> Iterator[bytes]:
    """The comma-joined canonical encoding of rows ``0 .. count - 1``, :data:`ROWS_PER_PIECE` at a time."""
    for start in range(0, count, ROWS_PER_PIECE):
        yield (b"," if start else b"") + canonical_json(rows_of(start, min(count, start + ROWS_PER_PIECE)))[1:-1]


def _region(data: bytes, start: int, row_end: bytes) -> tuple[bytes, int]:
    """``(the rows of the array whose first row starts at data[start], the offset after the array)``: the
    array ends at the first ``row_end + b"]"`` (its rows end with ``row_end``, which no value inside a row
    contains: account ids and modes hold no brackets, the rest are integers)."""
    if data[start:start + 1] == b"]":
        return b"", start + 1
    end = data.find(row_end + b"]", start)
    if end < 0:
        raise ValueError("an array of accounts does not end")
    return data[start:end + len(row_end)], end + len(row_end) + 1


def _pieces(region: bytes, separator: bytes, keep: int) -> Iterator[list]:
    """The rows of ``region`` decoded :data:`ROWS_PER_PIECE` at a time; rows are separated by ``separator``,
    whose first ``keep`` bytes close the row before it."""
    if not region:
        return
    begin, seen, index = 0, 0, -1
    while True:
        index = region.find(separator, index + 1)
        if index < 0:
            yield json.loads(b"[" + region[begin:] + b"]")
            return
        seen += 1
        if seen == ROWS_PER_PIECE:
            yield json.loads(b"[" + region[begin:index + keep] + b"]")
            begin, seen = index + keep + 1, 0


def _layout(data: bytes) -> tuple[int, bytes, int, bytes | None, dict]:
    """``(offset of the accounts' rows, their bytes, offset of the balances' rows or -1, their bytes or None, the
    record without them)`` of a state's canonical bytes."""
    if not data.startswith(_ACCOUNTS_HEAD):
        raise ValueError("not a state record")
    accounts_start = len(_ACCOUNTS_HEAD)
    accounts_region, after = _region(data, accounts_start, b"]]")
    balances_start, balances_region = -1, None
    skeleton = _ACCOUNTS_HEAD + b"]"
    if data.startswith(_BALANCES_HEAD, after):
        balances_start = after + len(_BALANCES_HEAD)
        balances_region, after = _region(data, balances_start, b"]")
        skeleton += _BALANCES_HEAD + b"]"
    return accounts_start, accounts_region, balances_start, balances_region, json.loads(skeleton + data[after:])


def _header_fields(header: dict, has_balances: bool) -> dict:
    """The :class:`EpochState` fields that are not per account, from a record without its accounts."""
    if header["version"] != STATE_VERSION:
        raise LedgerError(f"state version {header['version']} is not supported")
    instruments = header["instruments"]
    assets = header.get("assets", {"ids": [], "balances": [], "totals": [], "converted": 0})
    if set(assets) != {"ids", "balances", "totals", "converted"} or assets["balances"] != [] \
            or has_balances != bool(assets["ids"]):
        raise LedgerError("stored state: the assets record does not decode")
    return {"epoch": header["epoch"], "instruments": tuple(i[0] for i in instruments),
            "settlement_prices": tuple(i[1] for i in instruments), "funding_indices": tuple(i[2] for i in instruments),
            "expired": tuple(bool(i[3]) for i in instruments),
            "total_deposited": header["total_deposited"], "total_withdrawn": header["total_withdrawn"],
            "price_history": tuple((g, tuple(p)) for g, p in header.get("price_history", [])),
            "dynamic_parameters": tuple(tuple(p) for p in header.get("dynamic_parameters", [])),
            "oracle_fallbacks": tuple(header.get("oracle_fallbacks", [])),
            "asset_ids": tuple(assets["ids"]), "asset_totals": tuple(tuple(t) for t in assets["totals"]),
            "total_converted": assets["converted"]}


def _decode_state(data: bytes) -> EpochState:
    _, accounts_region, _, balances_region, header = _layout(data)
    fields = _header_fields(header, balances_region is not None)
    instrument_count, asset_count = len(fields["instruments"]), len(fields["asset_ids"])
    count = accounts_region.count(b"]],[") + 1 if accounts_region else 0
    ids: list[str] = []
    modes: list[str] = []
    known_modes: dict[str, str] = {}
    cash = np.empty(count, dtype=np.int64)
    deposits = np.empty(count, dtype=np.int64)
    positions = np.empty((count, instrument_count), dtype=np.int64)
    done = 0
    for rows in _pieces(accounts_region, b"]],[", 2):
        stop = done + len(rows)
        for account, mode, _, _, _ in rows:
            ids.append(account)
            modes.append(known_modes.setdefault(mode, mode))  # one string object per mode, not per account
        cash[done:stop] = [row[2] for row in rows]
        deposits[done:stop] = [row[3] for row in rows]
        positions[done:stop] = np.array([row[4] for row in rows], dtype=np.int64).reshape(len(rows),
                                                                                            instrument_count)
        done = stop
    if done != count:
        raise ValueError("the accounts do not decode")
    balances = None
    if balances_region is not None:
        balances = np.empty((count, asset_count), dtype=np.int64)
        done = 0
        for rows in _pieces(balances_region, b"],[", 1):
            balances[done:done + len(rows)] = np.array(rows, dtype=np.int64).reshape(len(rows), asset_count)
            done += len(rows)
        if done != count:
            raise ValueError("the balances do not match the accounts")
    for array in (cash, deposits, positions, balances):
        if array is not None:
            array.flags.writeable = False
    return EpochState(**fields, accounts=tuple(ids), margin_modes=tuple(modes), cash=cash, positions=positions,
                      net_deposits=deposits, asset_balances=balances)


def canonical_json(obj: object) -> bytes:
    """Sorted-key, whitespace-free, ASCII JSON: the one encoding the ledger hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")
