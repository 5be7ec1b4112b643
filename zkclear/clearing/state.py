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
asset], "converted": G}`` (other states keep their bytes and hashes).
"""

from __future__ import annotations

import json
from bisect import bisect_left
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

    def __post_init__(self) -> None:
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

    def account_index(self) -> dict[str, int]:
        """``account id -> row``."""
        return {account: row for row, account in enumerate(self.accounts)}

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

    def to_canonical(self) -> dict:
        rows = [[account, mode, cash, deposits, positions] for account, mode, cash, deposits,
                positions in zip(
            self.accounts, self.margin_modes, self.cash.tolist(), self.net_deposits.tolist(),
            self.positions.tolist(), strict=True)]
        extra: dict = {}
        if self.price_history or self.dynamic_parameters:  # dynamic margin only (other states unchanged)
            extra["price_history"] = [[group, list(prices)] for group, prices in self.price_history]
            extra["dynamic_parameters"] = [list(p) for p in self.dynamic_parameters]
        if self.asset_ids:  # collateral assets only (other states unchanged)
            extra["assets"] = {"ids": list(self.asset_ids), "balances": self.asset_balances.tolist(),
                               "totals": [list(t) for t in self.asset_totals], "converted": self.total_converted}
        return extra | {
            "accounts": rows,
            "epoch": self.epoch,
            "instruments": [[i, p, f, e] for i, p, f, e in zip(
                self.instruments, self.settlement_prices, self.funding_indices, self.expired, strict=True)],
            "total_deposited": self.total_deposited,
            "total_withdrawn": self.total_withdrawn,
            "version": STATE_VERSION,
        }

    def canonical_bytes(self) -> bytes:
        """The canonical JSON encoding (see module docstring); equal states give equal bytes."""
        return canonical_json(self.to_canonical())

    @staticmethod
    def from_canonical_bytes(data: bytes) -> EpochState:
        """Inverse of :meth:`canonical_bytes`; :class:`LedgerError` if the bytes are not a state."""
        try:
            obj = json.loads(data)
            if obj["version"] != STATE_VERSION:
                raise LedgerError(f"state version {obj['version']} is not supported")
            rows = obj["accounts"]
            instruments = obj["instruments"]
            count = len(instruments)
            assets = obj.get("assets", {"ids": [], "balances": None, "totals": [], "converted": 0})
            if set(assets) != {"ids", "balances", "totals", "converted"}:
                raise LedgerError("stored state: the assets record does not decode")
            asset_ids = tuple(assets["ids"])
            state = EpochState(
                epoch=obj["epoch"],
                instruments=tuple(i[0] for i in instruments),
                settlement_prices=tuple(i[1] for i in instruments),
                funding_indices=tuple(i[2] for i in instruments),
                expired=tuple(bool(i[3]) for i in instruments),
                accounts=tuple(r[0] for r in rows),
                margin_modes=tuple(r[1] for r in rows),
                cash=frozen_array([r[2] for r in rows]),
                positions=frozen_array([r[4] for r in rows], shape=(len(rows), count)),
                net_deposits=frozen_array([r[3] for r in rows]),
                total_deposited=obj["total_deposited"],
                total_withdrawn=obj["total_withdrawn"],
                price_history=tuple((g, tuple(p)) for g, p in obj.get("price_history", [])),
                dynamic_parameters=tuple(tuple(p) for p in obj.get("dynamic_parameters", [])),
                asset_ids=asset_ids,
                asset_balances=None if not asset_ids else frozen_array(assets["balances"],
                                                                       shape=(len(rows), len(asset_ids))),
                asset_totals=tuple(tuple(t) for t in assets["totals"]), total_converted=assets["converted"],
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise LedgerError(f"stored state does not decode: {exc}") from exc
        if state.canonical_bytes() != data:
            raise LedgerError("stored state is not in canonical form")
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EpochState):
            return NotImplemented
        return self.canonical_bytes() == other.canonical_bytes()

    __hash__ = None  # type: ignore[assignment]


def canonical_json(obj: object) -> bytes:
    """Sorted-key, whitespace-free, ASCII JSON: the one encoding the ledger hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")
