"""Instruments: their static specification and the per-kind rules the engine applies to them.

An instrument has a ``kind`` (a string) and the engine looks the kind up in an :class:`InstrumentKinds`
registry carried by the deployment configuration. Built in: ``"perpetual"`` (pays funding, never expires) and
``"dated_future"`` (no funding, settles finally at the mark price of its expiry epoch). A later kind (options)
registers its own :class:`InstrumentKind` with its own valuation function; the engine's steps only ask the
kind questions (does it pay funding, does it expire now, what is a position worth at a price).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from zkclear.clearing.money import MAX_AMOUNT, MAX_MULTIPLIER, MAX_PRICE_TICKS, PPM
from zkclear.errors import ConfigurationError

#: Valuation of positions at a price: ``value(positions_lots, price_ticks, multiplier) -> amounts``
#: (int64 arrays).
Valuation = Callable[[np.ndarray, int, int], np.ndarray]


def linear_value(positions: np.ndarray, price_ticks: int, contract_multiplier: int) -> np.ndarray:
    """Value of a linear (futures-style) position: ``q * price * multiplier`` settlement units.

    Callers bound ``|q| * price * multiplier <= MAX_AMOUNT`` first (the engine's notional check).
    """
    return positions * (price_ticks * contract_multiplier)


@dataclass(frozen=True, slots=True)
class InstrumentKind:
    """What the engine needs to know about a kind of instrument.

    ``value`` gives the position value at a price; the variation margin of an epoch is
    ``value(q, new_mark) - value(q, previous_settlement_price)``. ``pays_funding`` kinds take a funding rate
    every epoch; ``expires`` kinds need ``expiry_epoch`` and are settled and closed in that epoch.
    ``may_settle_at_zero`` kinds accept a mark of 0 in their expiry epoch (an out-of-the-money option); every
    other mark is at least one tick.
    """

    name: str
    pays_funding: bool
    expires: bool
    value: Valuation
    may_settle_at_zero: bool = False


PERPETUAL = InstrumentKind("perpetual", pays_funding=True, expires=False, value=linear_value)
DATED_FUTURE = InstrumentKind("dated_future", pays_funding=False, expires=True, value=linear_value)


@dataclass(frozen=True, slots=True)
class InstrumentKinds:
    """An immutable registry ``kind name -> InstrumentKind``; extend with :meth:`with_kind`."""

    kinds: Mapping[str, InstrumentKind]

    def get(self, name: str) -> InstrumentKind:
        try:
            return self.kinds[name]
        except KeyError:
            known = sorted(self.kinds)
            raise ConfigurationError(f"unknown instrument kind {name!r} (known: {known})") from None

    def with_kind(self, kind: InstrumentKind) -> InstrumentKinds:
        """A new registry with ``kind`` added (or replaced)."""
        return InstrumentKinds(MappingProxyType({**self.kinds, kind.name: kind}))


DEFAULT_KINDS = InstrumentKinds(MappingProxyType({k.name: k for k in (PERPETUAL, DATED_FUTURE)}))


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One bracket of a tiered margin table: for notional up to ``notional_bound`` (settlement units), the
    requirement is ``notional * rate_ppm / PPM - deduction`` (rounded up; see margin.py)."""

    notional_bound: int
    rate_ppm: int
    deduction: int


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """Static parameters of one instrument (from the deployment configuration).

    - ``tick_size``: price units (the unit of the input files' ``price`` column) per tick;
    - ``lot_size``: quantity units (the input files' ``size`` column) per lot;
    - ``contract_multiplier``: settlement units per lot per tick;
    - ``initial_margin_ppm`` / ``maintenance_margin_ppm``: linear fractions of notional;
    - ``margin_model``: name of the risk model in the configuration's registry (``"linear"`` or ``"tiered"``);
    - ``initial_tiers`` / ``maintenance_tiers``: tier tables for the tiered model (empty otherwise);
    - ``expiry_epoch``: the epoch whose mark is the final settlement price (kinds that expire only).
    - ``underlying``: for a linear instrument, an optional label grouping it with others of the same asset
      in portfolio margin (default: its own id); for an engine-marked option (``kind = "option"``), the id
      of the listed perpetual or dated future whose mark is the option's forward;
    - ``option_type`` (``"call"`` / ``"put"``) and ``strike`` (ticks of the underlying): engine-marked
      options only. An option without them is marked externally (its marks are inputs, as for futures).
    """

    instrument_id: str
    kind: str
    tick_size: int
    lot_size: int
    contract_multiplier: int
    initial_margin_ppm: int
    maintenance_margin_ppm: int
    margin_model: str = "linear"
    initial_tiers: tuple[MarginTier, ...] = ()
    maintenance_tiers: tuple[MarginTier, ...] = ()
    expiry_epoch: int | None = None
    underlying: str | None = None
    option_type: str | None = None
    strike: int | None = None

    @property
    def engine_marked_option(self) -> bool:
        """True for an option the engine marks itself (Black-76 on its underlying's mark)."""
        return self.kind == OPTION_KIND_NAME and self.option_type is not None


#: The kind name options register under (:data:`OPTION_KIND`).
OPTION_KIND_NAME = "option"
OPTION_TYPES = ("call", "put")
#: The margin model of engine-marked options (registered automatically, see ``zkclear.clearing.options``).
OPTION_STANDARD_MODEL = "option-standard"
#: Options as an engine kind: no funding, expire in their ``expiry_epoch``, value ``q * price * multiplier``
#: (futures-style by default; a premium-style deployment counts the value in equity, see ``engine.py``),
#: and a mark of 0 is accepted in the expiry epoch (an option out of the money).
OPTION_KIND = InstrumentKind(OPTION_KIND_NAME, pays_funding=False, expires=True, value=linear_value,
                             may_settle_at_zero=True)


def kinds_with_options(kinds: InstrumentKinds = DEFAULT_KINDS) -> InstrumentKinds:
    """``kinds`` with the option kind registered (pass as ``ClearingConfig(kinds=...)``)."""
    return kinds.with_kind(OPTION_KIND)


def _positive_int(value: object, name: str, high: int) -> None:
    if type(value) is not int or not 1 <= value <= high:
        raise ConfigurationError(f"{name} must be an integer in [1, {high}], got {value!r}")


def validate_tiers(tiers: tuple[MarginTier, ...], where: str) -> None:
    """Tier tables must be convex and continuous so that ``max_t(N * rate_t / PPM - deduction_t)`` equals the
    bracket lookup: bounds strictly increasing, rates non-decreasing within [0, PPM], ``deduction_0 = 0`` and
    ``deduction_t = deduction_{t-1} + bound_{t-1} * (rate_t - rate_{t-1}) / PPM`` exactly (an integer)."""
    if not tiers:
        raise ConfigurationError(f"{where}: a tiered model needs at least one tier")
    previous: MarginTier | None = None
    for index, tier in enumerate(tiers):
        label = f"{where}[{index}]"
        for name in ("notional_bound", "rate_ppm", "deduction"):
            if type(getattr(tier, name)) is not int:
                raise ConfigurationError(f"{label}.{name} must be an integer")
        if not 0 < tier.notional_bound <= MAX_AMOUNT:
            raise ConfigurationError(f"{label}.notional_bound must be in [1, 2**62 - 1]")
        if not 0 <= tier.rate_ppm <= PPM:
            raise ConfigurationError(f"{label}.rate_ppm must be in [0, {PPM}]")
        if previous is None:
            if tier.deduction != 0:
                raise ConfigurationError(f"{label}.deduction must be 0 for the first tier")
        else:
            if tier.notional_bound <= previous.notional_bound:
                raise ConfigurationError(f"{label}.notional_bound must exceed the previous tier's")
            if tier.rate_ppm < previous.rate_ppm:
                raise ConfigurationError(f"{label}.rate_ppm must not be below the previous tier's")
            step = previous.notional_bound * (tier.rate_ppm - previous.rate_ppm)
            if step % PPM:
                raise ConfigurationError(
                    f"{label}: bound_(t-1) * (rate_t - rate_(t-1)) must be a multiple of {PPM} "
                    "so that the deduction is an integer")
            expected = previous.deduction + step // PPM
            if tier.deduction != expected:
                raise ConfigurationError(f"{label}.deduction must be {expected} (continuity), "
                                         f"got {tier.deduction}")
        previous = tier


def _require_initial_covers_maintenance(initial: tuple[MarginTier, ...], maintenance: tuple[MarginTier, ...],
                                        where: str) -> None:
    """The initial requirement must be at least the maintenance one at every notional, as for the linear
    fractions: a withdrawal or a liquidator's take-over checked against the initial requirement would otherwise
    leave an account below maintenance. Both tables are maxima of lines in the notional, so their difference is
    linear between the tables' bounds: it is checked at 0, at every bound, and beyond the last by the slopes."""
    def scaled(tiers: tuple[MarginTier, ...], notional: int) -> int:  # PPM x the requirement before rounding
        return max(notional * tier.rate_ppm - tier.deduction * PPM for tier in tiers)

    for notional in sorted({0, *(tier.notional_bound for tier in initial + maintenance)}):
        if scaled(initial, notional) < scaled(maintenance, notional):
            raise ConfigurationError(f"{where}: initial_tiers must require at least maintenance_tiers at every "
                                     f"notional (at {notional} the initial requirement is below the maintenance "
                                     "one)")
    if initial[-1].rate_ppm < maintenance[-1].rate_ppm:
        raise ConfigurationError(f"{where}: initial_tiers must require at least maintenance_tiers at every "
                                 f"notional (above {max(initial[-1].notional_bound, maintenance[-1].notional_bound)} "
                                 "the initial rate is below the maintenance one)")


def validate_instrument(spec: InstrumentSpec, kinds: InstrumentKinds,
                        risk_model_names: Iterable[str]) -> None:
    """Raise :class:`ConfigurationError` unless ``spec`` is internally consistent for its kind and model."""
    where = f"instrument {spec.instrument_id!r}"
    try:
        kind = kinds.get(spec.kind)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: kind: {exc}") from None
    _positive_int(spec.tick_size, f"{where}: tick_size", MAX_PRICE_TICKS)
    _positive_int(spec.lot_size, f"{where}: lot_size", MAX_PRICE_TICKS)
    _positive_int(spec.contract_multiplier, f"{where}: contract_multiplier", MAX_MULTIPLIER)
    _positive_int(spec.maintenance_margin_ppm, f"{where}: maintenance_margin_ppm", PPM)
    _positive_int(spec.initial_margin_ppm, f"{where}: initial_margin_ppm", PPM)
    if spec.initial_margin_ppm < spec.maintenance_margin_ppm:
        raise ConfigurationError(f"{where}: initial_margin_ppm must be >= maintenance_margin_ppm")
    if spec.margin_model not in set(risk_model_names):
        raise ConfigurationError(f"{where}: unknown margin_model {spec.margin_model!r}")
    if spec.margin_model == "tiered":
        validate_tiers(spec.maintenance_tiers, f"{where}: maintenance_tiers")
        validate_tiers(spec.initial_tiers, f"{where}: initial_tiers")
        _require_initial_covers_maintenance(spec.initial_tiers, spec.maintenance_tiers, where)
    elif spec.initial_tiers or spec.maintenance_tiers:
        raise ConfigurationError(f"{where}: tiers are only meaningful with margin_model = 'tiered'")
    if kind.expires:
        if type(spec.expiry_epoch) is not int or spec.expiry_epoch < 1:
            raise ConfigurationError(f"{where}: a {kind.name} needs expiry_epoch >= 1")
    elif spec.expiry_epoch is not None:
        raise ConfigurationError(f"{where}: a {kind.name} has no expiry_epoch")
    if spec.underlying is not None and (type(spec.underlying) is not str or not spec.underlying):
        raise ConfigurationError(f"{where}: underlying must be a non-empty string")
    if spec.kind == OPTION_KIND_NAME and (spec.option_type is not None or spec.strike is not None):
        if spec.option_type not in OPTION_TYPES:
            raise ConfigurationError(f"{where}: option_type must be 'call' or 'put', got {spec.option_type!r}")
        _positive_int(spec.strike, f"{where}: strike", MAX_PRICE_TICKS)
        if spec.underlying is None:
            raise ConfigurationError(f"{where}: an option needs the underlying instrument it is written on")
    elif spec.option_type is not None or spec.strike is not None:
        raise ConfigurationError(f"{where}: option_type and strike are only meaningful for kind 'option'")
