"""European options: the instrument, its integer mark, its premium and its cash settlement.

Units (the same as the rest of zkclear): prices and strikes in integer **ticks**, sizes in
integer **lots**, money in integer **settlement units**. ``contract_multiplier`` is the number of
settlement units one tick is worth on one lot, so a price of ``p`` ticks on ``q`` lots is
worth exactly ``p * q * contract_multiplier`` settlement units.

What is exact and what is rounded:

* Premium (``premium_cash_flow``) and expiry payoff (``expiry_payoff_per_lot``,
  ``settle_expiry``) are exact integers: ``price_ticks * contract_multiplier`` per lot. Payoffs of a
  matched book sum to zero exactly.
* The **mark** (``option_mark``) is Black-76 in floating point on the forward with the
  epoch's implied volatility, converted to settlement units per lot and rounded **up**
  (``ceil``). A short holder's liability ``-q * mark`` is therefore never understated. A long
  holder's asset is overstated by less than one settlement unit per lot; the portfolio margin
  charges ``LONG_OPTION_ROUNDING_CHARGE`` (one settlement unit) per long lot, and the standard
  margin at least that (by default the long's whole value), so the margin check stays
  conservative on both sides (see docs/clearing.md).

Time to expiry is ACT/365 in seconds: ``years = (expiry_timestamp - now) / (365 * 86400)``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zkclear.errors import ClearingError, ConfigurationError, InputError
from zkclear.risk.black76 import black76_greeks
from zkclear.risk.rounding import PPM, ceil_div, float_ceil

SECONDS_PER_YEAR = 365 * 86_400
# Settlement units charged per long option lot to cover the upward rounding of the mark.
LONG_OPTION_ROUNDING_CHARGE = 1
# Implied volatilities are public integers in parts per million (650_000 = 65%).
MIN_VOLATILITY_PPM = 1
MAX_VOLATILITY_PPM = 20 * PPM


class OptionType(enum.StrEnum):
    """Call or put."""

    CALL = "call"
    PUT = "put"


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """A cash-settled European option on an underlying's price.

    ``kind`` is ``"option"`` so engines that dispatch on an instrument's kind can route it here.
    Guarantees (checked at construction): strike > 0 ticks, contract_multiplier > 0, ids non-empty.
    """

    instrument_id: str
    underlying: str
    option_type: OptionType
    strike_ticks: int
    expiry_timestamp: int
    contract_multiplier: int
    kind: str = "option"

    def __post_init__(self) -> None:
        if not self.instrument_id or not self.underlying:
            raise ConfigurationError("an option needs an instrument id and an underlying")
        if not isinstance(self.option_type, OptionType):
            object.__setattr__(self, "option_type", OptionType(self.option_type))
        if not isinstance(self.strike_ticks, int) or self.strike_ticks <= 0:
            raise ConfigurationError(f"{self.instrument_id}: strike must be a positive integer of ticks")
        if not isinstance(self.contract_multiplier, int) or self.contract_multiplier <= 0:
            raise ConfigurationError(f"{self.instrument_id}: contract_multiplier must be a positive integer")
        if not isinstance(self.expiry_timestamp, int):
            raise ConfigurationError(f"{self.instrument_id}: expiry_timestamp must be an integer (unix s)")
        if self.kind != "option":
            raise ConfigurationError(f"{self.instrument_id}: OptionSpec.kind must be 'option'")

    @property
    def is_call(self) -> bool:
        return self.option_type is OptionType.CALL

    def intrinsic_ticks(self, price_ticks: int) -> int:
        """max(S - K, 0) for a call, max(K - S, 0) for a put, in ticks (exact)."""
        if self.is_call:
            return max(price_ticks - self.strike_ticks, 0)
        return max(self.strike_ticks - price_ticks, 0)

    def years_to_expiry(self, now_timestamp: int) -> float:
        """ACT/365 year fraction to expiry; 0.0 at or after expiry."""
        return max(self.expiry_timestamp - now_timestamp, 0) / SECONDS_PER_YEAR


@dataclass(frozen=True, slots=True)
class OptionMark:
    """The epoch mark of one option.

    ``value_per_lot`` is the public integer used in equity (``v_j``): ceil of
    ``model_value_per_lot`` to a settlement unit. ``mark_price_ticks`` is the same value as an option
    price in whole ticks, also rounded up (for an engine that carries every mark as a price; then
    ``v_j = mark_price_ticks * contract_multiplier`` and the rounding is up to one tick per lot).
    ``delta_per_lot`` etc. are informational floats (never money).
    """

    instrument_id: str
    forward_ticks: int
    volatility_ppm: int
    years_to_expiry: float
    model_value_per_lot: float
    value_per_lot: int
    mark_price_ticks: int
    delta_per_lot: float
    gamma_per_lot: float
    vega_per_lot: float


def _check_volatility(volatility_ppm: int, where: str) -> None:
    if not isinstance(volatility_ppm, int) or not MIN_VOLATILITY_PPM <= volatility_ppm <= MAX_VOLATILITY_PPM:
        raise InputError(
            f"implied volatility must be an integer in [{MIN_VOLATILITY_PPM}, {MAX_VOLATILITY_PPM}] ppm,"
            f" got {volatility_ppm!r}",
            field=where,
        )


def option_model_value_per_lot(
    spec: OptionSpec, forward_ticks: float, volatility_ppm: int, now_timestamp: int, *, rate_ppm: int = 0
) -> float:
    """Black-76 value of one lot in settlement units, as a float (no rounding)."""
    greeks = black76_greeks(
        float(forward_ticks),
        float(spec.strike_ticks),
        volatility_ppm / PPM,
        spec.years_to_expiry(now_timestamp),
        is_call=spec.is_call,
        rate=rate_ppm / PPM,
    )
    return greeks.price * spec.contract_multiplier


def option_mark(
    spec: OptionSpec, forward_ticks: int, volatility_ppm: int, now_timestamp: int, *, rate_ppm: int = 0
) -> OptionMark:
    """The option's epoch mark: Black-76 on ``forward_ticks`` with ``volatility_ppm``, rounded up per lot.

    Guarantees ``value_per_lot - 1 < model_value_per_lot <= value_per_lot``.
    At or after expiry the value is the intrinsic value on the forward (exact integer).
    """
    if not isinstance(forward_ticks, int) or forward_ticks <= 0:
        raise InputError(
            f"forward must be a positive integer of ticks, got {forward_ticks!r}",
            field=f"{spec.instrument_id}.forward_ticks",
        )
    _check_volatility(volatility_ppm, f"{spec.instrument_id}.volatility_ppm")
    years = spec.years_to_expiry(now_timestamp)
    greeks = black76_greeks(
        float(forward_ticks),
        float(spec.strike_ticks),
        volatility_ppm / PPM,
        years,
        is_call=spec.is_call,
        rate=rate_ppm / PPM,
    )
    if years == 0.0:
        # Exact: avoid any float in the value at expiry.
        price_ticks = spec.intrinsic_ticks(forward_ticks)
        value = price_ticks * spec.contract_multiplier
        model = float(value)
    else:
        model = greeks.price * spec.contract_multiplier
        value = float_ceil(model)
        price_ticks = float_ceil(greeks.price)
    return OptionMark(
        instrument_id=spec.instrument_id,
        forward_ticks=forward_ticks,
        volatility_ppm=volatility_ppm,
        years_to_expiry=years,
        model_value_per_lot=model,
        value_per_lot=value,
        mark_price_ticks=price_ticks,
        delta_per_lot=greeks.delta * spec.contract_multiplier,
        gamma_per_lot=greeks.gamma * spec.contract_multiplier,
        vega_per_lot=greeks.vega * spec.contract_multiplier,
    )


def premium_cash_flow(price_ticks: int, quantity_lots: int, contract_multiplier: int) -> int:
    """Cash flow of the BUYER of ``quantity_lots`` at ``price_ticks`` (negative: the buyer pays).

    The seller's flow is the exact negative; premium is exact, no rounding.
    """
    if price_ticks < 0:
        raise InputError(
            f"an option premium cannot be negative, got {price_ticks} ticks", field="price_ticks"
        )
    if quantity_lots <= 0:
        raise InputError(f"a traded quantity must be positive, got {quantity_lots}", field="quantity")
    return -price_ticks * quantity_lots * contract_multiplier


def expiry_payoff_per_lot(spec: OptionSpec, settlement_price_ticks: int) -> int:
    """Cash paid to a long holder per lot at expiry: ``intrinsic_ticks(S) * contract_multiplier`` (exact)."""
    if not isinstance(settlement_price_ticks, int) or settlement_price_ticks <= 0:
        raise InputError(
            f"settlement price must be a positive integer of ticks, got {settlement_price_ticks!r}",
            field=f"{spec.instrument_id}.settlement_price",
        )
    return spec.intrinsic_ticks(settlement_price_ticks) * spec.contract_multiplier


@dataclass(frozen=True, slots=True)
class ExpirySettlement:
    """The cash settlement of one option series at expiry.

    ``cash_flows`` holds (account, amount) sorted by account; amounts sum to zero exactly.
    """

    instrument_id: str
    settlement_price_ticks: int
    payoff_per_lot: int
    cash_flows: tuple[tuple[str, int], ...]


def settle_expiry(
    spec: OptionSpec, settlement_price_ticks: int, positions: Mapping[str, int] | Iterable[tuple[str, int]]
) -> ExpirySettlement:
    """Cash-settle every open position of ``spec`` against the settlement price.

    Long lots receive ``payoff_per_lot`` each, short lots pay it. Raises ClearingError when the
    positions do not sum to zero (the clearing house would be paying or receiving itself), so a
    returned settlement always conserves cash exactly.
    """
    items = sorted(positions.items() if isinstance(positions, Mapping) else positions)
    net = sum(quantity for _, quantity in items)
    if net != 0:
        raise ClearingError(f"{spec.instrument_id}: open positions sum to {net}, not 0; cannot settle expiry")
    payoff = expiry_payoff_per_lot(spec, settlement_price_ticks)
    flows = tuple((account, quantity * payoff) for account, quantity in items if quantity != 0)
    return ExpirySettlement(
        instrument_id=spec.instrument_id,
        settlement_price_ticks=settlement_price_ticks,
        payoff_per_lot=payoff,
        cash_flows=flows,
    )


@dataclass(frozen=True, slots=True)
class ImpliedVolatilityQuote:
    """One point of the epoch's implied-volatility input: (underlying, expiry, strike) -> vol in ppm."""

    underlying: str
    expiry_timestamp: int
    strike_ticks: int
    volatility_ppm: int

    def __post_init__(self) -> None:
        _check_volatility(
            self.volatility_ppm, f"{self.underlying}/{self.expiry_timestamp}/{self.strike_ticks}"
        )


@dataclass(frozen=True, slots=True)
class VolatilitySurface:
    """The epoch's implied volatilities per strike and expiry (an epoch input; no interpolation).

    Every listed option must have its own quote: a missing one is an input error, not a guess.
    """

    quotes: tuple[ImpliedVolatilityQuote, ...]

    def __post_init__(self) -> None:
        seen: set[tuple[str, int, int]] = set()
        for quote in self.quotes:
            key = (quote.underlying, quote.expiry_timestamp, quote.strike_ticks)
            if key in seen:
                raise InputError(f"duplicate implied volatility for {key}", field="implied_volatility")
            seen.add(key)

    def volatility_ppm(self, spec: OptionSpec) -> int:
        """The quote for ``spec``'s (underlying, expiry, strike); InputError if absent."""
        for quote in self.quotes:
            if (quote.underlying, quote.expiry_timestamp, quote.strike_ticks) == (
                spec.underlying,
                spec.expiry_timestamp,
                spec.strike_ticks,
            ):
                return quote.volatility_ppm
        raise InputError(f"no implied volatility for {spec.instrument_id}", field="implied_volatility")


@dataclass(frozen=True, slots=True)
class PositionCharge:
    """A per-position charge, linear on each side: ``m_j >= long * q_j`` and ``m_j >= -short * q_j``.

    So the charge is ``long * q`` for a long position and ``short * |q|`` for a short one, both in
    settlement units per lot (integers >= 0). The ZK layer proves it with one hidden ``m_j``.
    """

    long_per_lot: int
    short_per_lot: int

    def __post_init__(self) -> None:
        if self.long_per_lot < 0 or self.short_per_lot < 0:
            raise ConfigurationError("position charges are non-negative")

    def charge(self, quantity_lots: int) -> int:
        """The charge on a position of ``quantity_lots`` (signed)."""
        return max(self.long_per_lot * quantity_lots, -self.short_per_lot * quantity_lots, 0)


def standard_option_charge(
    spec: OptionSpec,
    forward_ticks: int,
    *,
    maintenance_ppm: int,
    minimum_ppm: int,
    value_per_lot: int = 0,
    long_haircut_ppm: int = PPM,
    rounding_per_lot: int = LONG_OPTION_ROUNDING_CHARGE,
) -> PositionCharge:
    """Standard (non-portfolio) margin of an option, as a per-lot charge on top of its mark in equity.

    Short: ``max(1, ceil(max(maintenance_ppm * F - OTM, minimum_ppm * F) * contract_multiplier / 1e6))``
    per lot, with OTM the out-of-the-money amount in ticks — the usual exchange rule (a fraction of the
    underlying, reduced for out-of-the-money strikes, floored), rounded up. The mark is already a liability
    in equity, so this is the margin beyond it.

    Long: ``max(rounding_per_lot, ceil(value_per_lot * long_haircut_ppm / 1e6))`` per lot. With the default
    full haircut the option's own value does not count as collateral for anything else — what "premium
    paid at trade" means once equity is cross-margined (a long can at worst lose its whole value, and
    only the portfolio model measures how much less). ``rounding_per_lot`` covers the mark's upward
    rounding (1 unit, or one tick's value for tick-rounded marks).
    """
    if maintenance_ppm < 0 or minimum_ppm < 0 or not 0 <= long_haircut_ppm <= PPM:
        raise ConfigurationError("margin fractions must be in [0, 1e6] ppm")
    if value_per_lot < 0 or rounding_per_lot < 0:
        raise ConfigurationError("option values and rounding charges are non-negative")
    out_of_the_money = (
        (spec.strike_ticks - forward_ticks) if spec.is_call else (forward_ticks - spec.strike_ticks)
    )
    out_of_the_money = max(out_of_the_money, 0)
    per_lot_scaled = max(
        maintenance_ppm * forward_ticks - out_of_the_money * PPM, minimum_ppm * forward_ticks
    )
    short = max(ceil_div(per_lot_scaled * spec.contract_multiplier, PPM), 1)
    long = max(rounding_per_lot, ceil_div(value_per_lot * long_haircut_ppm, PPM))
    return PositionCharge(long_per_lot=long, short_per_lot=short)
