"""The mutable working copy of balances and positions that one epoch's liquidation pass edits.

Only :func:`zkclear.clearing.engine.apply_epoch` creates a :class:`Book`, from arrays it owns; every change
is a transfer between two rows (cash) or a move of lots between two rows (positions), so conservation of money
and the matched book hold by construction, and the engine re-checks both at the end of the epoch. The one
exception is a conversion of collateral at liquidation (:meth:`Book.convert`): the clearing house sells the
collateral at the mark, so the asset leaves the book and its proceeds enter it, both counted in the book's
conversion totals so that conservation per asset still holds to the unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkclear.clearing.assets import AssetRisk
from zkclear.clearing.config import BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND, ClearingConfig
from zkclear.clearing.margin import STANDARD_MODE, MarginLevel, RiskParameters, account_requirement
from zkclear.clearing.money import MAX_AMOUNT, checked_add
from zkclear.clearing.provable import StatementBounds
from zkclear.errors import ClearingError


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """One account's liquidation.

    ``action``: ``"partial"``, ``"full"`` or ``"bankrupt"`` (``"backstop_deleverage"`` for the backstop);
    ``closed_lots``: lots taken off each instrument (signed like the position); ``receiver``: the liquidator
    or backstop that took them, or ``"ADL"`` when they were closed against opposite-side accounts;
    ``penalty`` (to the insurance fund); ``deficit`` (negative equity before cover), ``insurance_paid`` and
    ``residue`` (the part of the deficit left to ADL / socialized loss, named in ``resolution``).
    """

    account: str
    action: str
    equity_before: int
    maintenance_before: int
    closed_lots: tuple[int, ...]
    receiver: str
    penalty: int = 0
    deficit: int = 0
    insurance_paid: int = 0
    residue: int = 0
    resolution: str = ""


@dataclass(frozen=True, slots=True)
class AdlEvent:
    """``counterparty`` was deleveraged: ``lots`` of ``instrument`` closed against ``bankrupt_account``,
    paying ``cash`` (its share of the residue: the difference between the bankruptcy price and the mark)."""

    bankrupt_account: str
    counterparty: str
    instrument: str
    lots: int
    cash: int


@dataclass(frozen=True, slots=True)
class SocializedLoss:
    """One liquidation round's socialized loss: the ``residues`` left to it (``(bankrupt account, amount)``, in the
    order they arose in the round) were paid when the round ended — ``insurance_paid`` by the insurance fund (what a
    later candidate's penalty put in it), the rest in one allocation pro rata to positive equity by the ``charges``
    (``(account, amount)``, the accounts charged a non-zero amount, in id order)."""

    residues: tuple[tuple[str, int], ...]
    insurance_paid: int
    charges: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        """The round's residues' sum: ``insurance_paid`` plus the charges."""
        return sum(amount for _, amount in self.residues)


@dataclass(frozen=True, slots=True)
class ConversionEvent:
    """At liquidation, ``amount`` smallest units of ``account``'s collateral ``asset`` were converted into the
    settlement asset at its price ``price`` (ticks): ``proceeds`` (the value at the mark, rounded down), of which
    ``penalty`` went to the insurance fund and the rest to the account."""

    account: str
    asset: str
    amount: int
    price: int
    proceeds: int
    penalty: int


@dataclass(frozen=True, slots=True)
class BackstopTopUp:
    """The insurance fund moved ``amount`` to the backstop account to restore its margin (negative: the
    backstop returned surplus cash to the fund)."""

    amount: int


@dataclass(eq=False)
class Book:
    """Writable cash, positions and net deposits, plus the epoch's events.

    Equity is ``cash + positions @ equity_values``: ``equity_values[j]`` is the value per lot of instrument
    ``j`` that is *not* in cash (``mark * multiplier`` for premium-style options, 0 otherwise), so for a
    futures-style deployment equity is cash. A position transfer at the mark (:meth:`move_lots`) also moves
    its value in cash from the receiver to the giver, so both sides' equity is unchanged by it.

    With collateral assets, ``balances[a, k]`` is account ``a``'s balance of asset ``k`` (``assets[k]``, the
    epoch's public data) and equity also counts ``collateral[a]`` = the sum of the balances' haircut values."""

    accounts: tuple[str, ...]
    cash: np.ndarray
    positions: np.ndarray
    net_deposits: np.ndarray
    params: RiskParameters
    config: ClearingConfig
    margin_modes: tuple[str, ...] = ()
    #: accounts the liquidation pass must leave alone this epoch (they carried into it, and still hold, exposure
    #: to an instrument whose liquidations the oracle guard paused)
    paused_rows: frozenset[int] = frozenset()
    #: collateral assets (``assets`` indices) whose price instrument's mark is withheld this epoch — paused or
    #: clamped by the circuit breaker, not the market's: never converted (a conversion is a sale at the mark)
    withheld_assets: frozenset[int] = frozenset()
    #: the statements' bounds of the epoch: a liquidator or the backstop only takes lots within them
    bounds: StatementBounds | None = None
    #: each instrument's previous settlement price (ticks; 0 before its first mark): what a lot moved this epoch
    previous_prices: tuple[int, ...] = ()
    balances: np.ndarray | None = None
    liquidations: list[LiquidationEvent] = field(default_factory=list)
    adl: list[AdlEvent] = field(default_factory=list)
    socialized: list[SocializedLoss] = field(default_factory=list)
    #: the current liquidation round's residues left to its socialized loss, ``(row, amount)``, not paid yet
    #: (:func:`zkclear.clearing.waterfall.socialize_round` pays them at the round's end)
    unsocialized: list[tuple[int, int]] = field(default_factory=list)
    topups: list[BackstopTopUp] = field(default_factory=list)
    conversions: list[ConversionEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        index = {account: row for row, account in enumerate(self.accounts)}
        self.insurance_row = index[INSURANCE_FUND]
        self.fee_row = index[FEE_ACCOUNT]
        self.backstop_row = index[BACKSTOP]
        self.liquidator_rows = tuple(index[a] for a in self.config.liquidators if a in index)
        self.value_per_lot = tuple(risk.value_per_lot for risk in self.params.instruments)
        previous = self.previous_prices or (0,) * len(self.value_per_lot)
        #: what a lot lost this epoch (settlement units; 0 where its price did not fall): with its value, the most an
        #: ADL counterparty pays for a long lot at the bankruptcy price (docs/clearing.md "Liquidation")
        self.fall_per_lot = tuple(max(0, price - risk.mark_price) * risk.contract_multiplier
                                  for risk, price in zip(self.params.instruments, previous, strict=True))
        premium = set(self.config.premium_columns())
        self.equity_values = tuple(value if column in premium else 0
                                   for column, value in enumerate(self.value_per_lot))
        self.has_equity_values = any(self.equity_values)
        self.assets: tuple[AssetRisk, ...] = self.params.assets
        if self.balances is None:
            self.balances = np.zeros((len(self.accounts), len(self.assets)), dtype=np.int64)
        self.has_collateral = bool(self.assets) and bool(self.balances.any())
        self.collateral = np.zeros(len(self.accounts), dtype=np.int64)
        for k, asset in enumerate(self.assets):
            self.collateral += asset.haircut_values(self.balances[:, k])  # bounded: Σ_k h <= 2^62 − 1
        #: per asset, the smallest units converted this epoch; and the settlement units they brought in
        self.converted = [0] * len(self.assets)
        self.converted_proceeds = 0

    def equities(self) -> np.ndarray:
        """Every account's equity (int64): cash plus the value of premium-style option positions plus the
        haircut value of its collateral."""
        equities = self.cash
        if self.has_equity_values:
            equities = checked_add(equities, self.positions @ np.array(self.equity_values, dtype=np.int64), "equity")
        if self.has_collateral:
            equities = checked_add(equities, self.collateral, "equity")
        return equities

    def position_value(self, lots: list[int]) -> int:
        """Value of ``lots`` that equity counts outside cash (Python int)."""
        return sum(q * v for q, v in zip(lots, self.equity_values, strict=True))

    def equity(self, row: int) -> int:
        """Cash plus the value of the account's premium-style option positions (cash alone otherwise) plus the
        haircut value of its collateral."""
        equity = int(self.cash[row]) + int(self.collateral[row])
        if not self.has_equity_values:
            return equity
        return equity + self.position_value(self.position_row(row))

    def position_row(self, row: int) -> list[int]:
        return self.positions[row].tolist()

    def mode(self, row: int) -> str:
        return self.margin_modes[row] if self.margin_modes else STANDARD_MODE

    def requirement(self, row: int, lots: list[int], level: MarginLevel = MarginLevel.MAINTENANCE) -> int:
        """Requirement of account ``row`` if it held ``lots`` (its own margin mode)."""
        return account_requirement(lots, self.params, self.config.risk_models, level, self.mode(row))

    def within_bounds(self, row: int, lots: list[int]) -> bool:
        """Whether account ``row`` holding ``lots`` stays provable (:mod:`zkclear.clearing.provable`) and within
        the amount bound of an account's notional (the backstop taking the lots of several accounts could pass
        it, and every requirement after it would be refused) and of its maintenance requirement (no equity covers
        more: a short option's charge is not bounded by its notional)."""
        if sum(abs(q) * v for q, v in zip(lots, self.value_per_lot, strict=True)) > MAX_AMOUNT:
            return False
        if self.requirement(row, lots) > MAX_AMOUNT:  # a short option's charge is not bounded by its notional
            return False
        return self.bounds is None or self.bounds.account_breach(lots, self.mode(row)) is None

    def pay(self, from_row: int, to_row: int, amount: int) -> None:
        """Move ``amount`` (>= 0) of cash between two rows; :class:`ClearingError` if a balance would leave
        the amount bound (computed in Python ints, so nothing wraps)."""
        if amount:
            paid, received = int(self.cash[from_row]) - amount, int(self.cash[to_row]) + amount
            if max(abs(paid), abs(received)) > MAX_AMOUNT:
                raise ClearingError("a liquidation transfer would leave the amount bound 2**62 - 1")
            self.cash[from_row] = paid
            self.cash[to_row] = received

    def pay_many(self, debits: list[tuple[int, int]], credits: list[tuple[int, int]]) -> None:
        """One transfer among many rows: each ``(row, amount >= 0)`` of ``debits`` pays ``amount``, each of
        ``credits`` receives it; the rows distinct, the two totals equal. :class:`ClearingError` if a balance would
        leave the amount bound (nothing is moved then)."""
        if sum(amount for _, amount in debits) != sum(amount for _, amount in credits):
            raise ClearingError("a transfer among many accounts that does not balance")
        rows = np.array([row for row, _ in debits + credits], dtype=np.int64)
        if np.unique(rows).size != rows.size:
            raise ClearingError("a transfer among many accounts names an account twice")
        # int64 holds it: a debit is at most the payer's equity, a credit the bankrupt's negative equity
        moved = np.array([-amount for _, amount in debits] + [amount for _, amount in credits], dtype=np.int64)
        after = self.cash[rows] + moved
        if rows.size and int(np.abs(after).max()) > MAX_AMOUNT:
            raise ClearingError("a liquidation transfer would leave the amount bound 2**62 - 1")
        self.cash[rows] = after

    def convert(self, row: int, asset: int, amount: int) -> None:
        """Convert ``amount`` (``1 … balance``) of account ``row``'s collateral ``asset`` into the settlement
        asset at the mark (``AssetRisk.conversion``): the account is credited the proceeds less the penalty,
        the insurance fund the penalty (at most what it holds short of the amount bound); the asset leaves the book
        (the clearing house sells it)."""
        risk = self.assets[asset]
        balance = int(self.balances[row, asset])
        if not 1 <= amount <= balance:
            raise ClearingError(f"conversion of {amount} from a balance of {balance}")
        proceeds, penalty = risk.conversion(amount)
        credited = int(self.cash[row]) + proceeds
        if credited > MAX_AMOUNT:
            raise ClearingError("a conversion would leave the amount bound 2**62 - 1")
        self.collateral[row] += risk.haircut_value(balance - amount) - risk.haircut_value(balance)
        self.balances[row, asset] = balance - amount
        self.cash[row] = credited
        penalty = min(penalty, MAX_AMOUNT - int(self.cash[self.insurance_row]))  # a full fund takes what fits
        self.pay(row, self.insurance_row, penalty)
        self.converted[asset] += amount
        self.converted_proceeds += proceeds
        self.conversions.append(ConversionEvent(self.accounts[row], risk.asset_id, amount, risk.price_ticks,
                                                proceeds, penalty))

    def move_lots(self, from_row: int, to_row: int, lots: list[int]) -> None:
        """``from_row`` gives ``lots`` (per instrument, signed) to ``to_row``: the book stays matched.
        :class:`ClearingError` if a position would leave the bound (Python ints, nothing wraps)."""
        given = [q - c for q, c in zip(self.position_row(from_row), lots, strict=True)]
        taken = [q + c for q, c in zip(self.position_row(to_row), lots, strict=True)]
        if max(map(abs, given + taken)) > MAX_AMOUNT:
            raise ClearingError("a position transfer would leave the bound 2**62 - 1")
        self.positions[from_row] = given
        self.positions[to_row] = taken
        # Premium-style options change hands at the mark: the receiver pays their value in cash.
        value = self.position_value(lots) if self.has_equity_values else 0
        if value > 0:
            self.pay(to_row, from_row, value)
        elif value < 0:
            self.pay(from_row, to_row, -value)
