"""Risk models, the public risk parameters of an epoch, and cross-margined account requirements.

Every risk model here is, once the epoch's prices are public, a maximum of linear forms in ``|q|`` (the
absolute position in lots) — the property the ZK statements rely on (PROOF-GOALS.md): the requirement of one
position is

    req(q) = max(0, max_f ceil((lots_coefficient_f * |q| - constant_f) / denominator_f))

over the model's :class:`LinearMarginForm` list (:meth:`RiskModel.forms`). An account's requirement is the
sum of its positions' requirements (cross margin: one equity against the sum). Requirements round up
(``ceil``).

- linear:  ``req = ceil(N * fraction_ppm / PPM)`` with notional ``N = |q| * mark * multiplier``;
- tiered:  ``req = max_t(ceil(N * rate_t / PPM) - deduction_t)``, the convex piecewise-linear table the large
  venues publish (``MM = N * rate_t - deduction_t`` in the bracket containing ``N``; for a continuous,
  convex table the max over all tiers equals the bracket lookup, see
  :func:`~zkclear.clearing.instruments.validate_tiers`).

Options' standard margin is a registered :class:`RiskModel` (``zkclear.clearing.options``). Accounts in
``"portfolio"`` margin mode are not per-position: their requirement is the risk package's scenario (portfolio)
margin from ``RiskParameters.scenario_table`` (:func:`portfolio_requirements`), a maximum of linear forms too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np

from zkclear.clearing.assets import AssetRisk
from zkclear.clearing.instruments import MarginTier
from zkclear.clearing.money import MAX_AMOUNT, PPM, ceil_div, position_value_excess, ppm_ceil_array
from zkclear.errors import ClearingError, ConfigurationError
from zkclear.risk.portfolio_margin import portfolio_margin, portfolio_margin_batch
from zkclear.risk.scenarios import ScenarioTable

STANDARD_MODE = "standard"
PORTFOLIO_MODE = "portfolio"


class MarginLevel(enum.Enum):
    """Which requirement: ``INITIAL`` (to open risk or withdraw) or ``MAINTENANCE`` (to avoid liquidation)."""

    INITIAL = "initial"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class InstrumentRisk:
    """Public risk parameters of one instrument in one epoch (all integers; read by the ZK layer).

    ``mark_price`` in ticks, ``contract_multiplier`` in settlement units per lot per tick, fractions in ppm,
    tiers as (notional bound, rate ppm, deduction). ``margin_model`` names the :class:`RiskModel`.

    Engine-marked options also carry what their standard margin and the scenario table need:
    ``underlying`` (portfolio-margin group), ``underlying_price`` (the forward: the underlying instrument's
    mark this epoch, ticks), ``option_type``, ``strike`` (ticks), ``implied_vol_ppm`` (this epoch's input; 0
    once expired) and ``expiry_timestamp`` (unix s). Other instruments have ``underlying`` set to their
    group and the option fields at their zero defaults.
    """

    instrument_id: str
    kind: str
    mark_price: int
    contract_multiplier: int
    initial_margin_ppm: int
    maintenance_margin_ppm: int
    margin_model: str
    initial_tiers: tuple[MarginTier, ...] = ()
    maintenance_tiers: tuple[MarginTier, ...] = ()
    underlying: str = ""
    underlying_price: int = 0
    option_type: str = ""
    strike: int = 0
    implied_vol_ppm: int = 0
    expiry_timestamp: int = 0

    @property
    def is_engine_option(self) -> bool:
        return self.option_type != ""

    @property
    def value_per_lot(self) -> int:
        """Settlement units per lot at the mark: ``mark_price * contract_multiplier``."""
        return self.mark_price * self.contract_multiplier

    def fraction_ppm(self, level: MarginLevel) -> int:
        return self.initial_margin_ppm if level is MarginLevel.INITIAL else self.maintenance_margin_ppm

    def tiers(self, level: MarginLevel) -> tuple[MarginTier, ...]:
        return self.initial_tiers if level is MarginLevel.INITIAL else self.maintenance_tiers


@dataclass(frozen=True, slots=True)
class RiskParameters:
    """The public data of an epoch's risk model (``EpochPublicData``): prices, multipliers, fractions, tiers,
    and the liquidation parameters. Instruments are in configuration order, the column order of positions.

    ``valuation_timestamp``: when the epoch closes (unix s; 0 without options). ``scenario_table``: the
    epoch's portfolio-margin table (the risk package's ``ScenarioTable``, columns in instrument order,
    ``mark_values`` all 0 because options are settled futures-style) when the deployment has portfolio
    margin, else None; ``portfolio_initial_to_maintenance_ppm`` scales a portfolio account's maintenance
    requirement to its initial one. ``assets``: the collateral (non-settlement) assets in configuration order,
    each at its price instrument's mark of the epoch, with its haircut lines (``zkclear.clearing.assets``;
    empty without collateral assets)."""

    epoch: int
    instruments: tuple[InstrumentRisk, ...]
    liquidation_penalty_ppm: int
    liquidation_buffer_ppm: int
    valuation_timestamp: int = 0
    scenario_table: ScenarioTable | None = None
    portfolio_initial_to_maintenance_ppm: int = 1_250_000
    #: dynamic margin: per underlying group, the scan range (ppm) of the parameters in force this epoch
    dynamic_scan_ranges_ppm: tuple[tuple[str, int], ...] = ()
    assets: tuple[AssetRisk, ...] = ()


@dataclass(frozen=True, slots=True)
class LinearMarginForm:
    """One linear form of a requirement: ``ceil((coefficient * |q| - constant) / denominator)`` where the
    coefficient is ``lots_coefficient`` for a long position and ``short_lots_coefficient`` (default: the same)
    for a short one. The built-in models are symmetric; an option's standard margin is not."""

    lots_coefficient: int
    constant: int
    denominator: int
    short_lots_coefficient: int | None = None

    def coefficient(self, lots: int) -> int:
        """The coefficient that applies to a position of ``lots`` (signed)."""
        if lots < 0 and self.short_lots_coefficient is not None:
            return self.short_lots_coefficient
        return self.lots_coefficient


@runtime_checkable
class RiskModel(Protocol):
    """A per-position margin rule, given the signed position ``q`` in lots and the instrument's public risk
    data. ``requirement`` and ``requirements`` must agree with ``forms`` exactly (tests pin it for the
    built-in models), and a flat position must require 0 (every form's ``constant >= 0``): the liquidation
    pass can only fix an account by reducing its positions."""

    name: str

    def forms(self, risk: InstrumentRisk, level: MarginLevel) -> tuple[LinearMarginForm, ...]:
        """The linear forms whose maximum (floored at 0) is the requirement of a position (public data)."""
        ...

    def requirement(self, lots: int, risk: InstrumentRisk, level: MarginLevel) -> int:
        """Requirement of one position of ``lots`` (signed; Python int, rounds up)."""
        ...

    def requirements(self, lots: np.ndarray, risk: InstrumentRisk, level: MarginLevel) -> np.ndarray:
        """Vectorized :meth:`requirement` over signed int64 positions, ``|q| * value_per_lot <= MAX_AMOUNT``
        (callers check it, see :func:`notionals`)."""
        ...


@dataclass(frozen=True, slots=True)
class LinearRiskModel:
    """``req = ceil(N * fraction_ppm / PPM)`` with ``N = |q| * mark * multiplier``."""

    name: str = "linear"

    def forms(self, risk: InstrumentRisk, level: MarginLevel) -> tuple[LinearMarginForm, ...]:
        return (LinearMarginForm(risk.value_per_lot * risk.fraction_ppm(level), 0, PPM),)

    def requirement(self, lots: int, risk: InstrumentRisk, level: MarginLevel) -> int:
        return ceil_div(abs(lots) * risk.value_per_lot * risk.fraction_ppm(level), PPM)

    def requirements(self, lots: np.ndarray, risk: InstrumentRisk, level: MarginLevel) -> np.ndarray:
        return ppm_ceil_array(np.abs(lots) * risk.value_per_lot, risk.fraction_ppm(level))


@dataclass(frozen=True, slots=True)
class TieredRiskModel:
    """``req = max_t(ceil(N * rate_t / PPM) - deduction_t)`` (convex, continuous tier table)."""

    name: str = "tiered"

    def forms(self, risk: InstrumentRisk, level: MarginLevel) -> tuple[LinearMarginForm, ...]:
        return tuple(LinearMarginForm(risk.value_per_lot * tier.rate_ppm, tier.deduction * PPM, PPM)
                     for tier in risk.tiers(level))

    def requirement(self, lots: int, risk: InstrumentRisk, level: MarginLevel) -> int:
        notional = abs(lots) * risk.value_per_lot
        return max(ceil_div(notional * tier.rate_ppm, PPM) - tier.deduction for tier in risk.tiers(level))

    def requirements(self, lots: np.ndarray, risk: InstrumentRisk, level: MarginLevel) -> np.ndarray:
        notional = np.abs(lots) * risk.value_per_lot
        result = np.zeros_like(notional)
        for tier in risk.tiers(level):
            np.maximum(result, ppm_ceil_array(notional, tier.rate_ppm) - tier.deduction, out=result)
        return result


@dataclass(frozen=True, slots=True)
class RiskModels:
    """Immutable registry ``model name -> RiskModel``; extend with :meth:`with_model`."""

    models: Mapping[str, RiskModel]

    def get(self, name: str) -> RiskModel:
        try:
            return self.models[name]
        except KeyError:
            known = sorted(self.models)
            raise ConfigurationError(f"unknown margin model {name!r} (known: {known})") from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.models))

    def with_model(self, model: RiskModel) -> RiskModels:
        return RiskModels(MappingProxyType({**self.models, model.name: model}))


DEFAULT_RISK_MODELS = RiskModels(MappingProxyType({"linear": LinearRiskModel(), "tiered": TieredRiskModel()}))


def requirement_from_forms(forms: Sequence[LinearMarginForm], lots: int) -> int:
    """The requirement that the linear forms define for the signed position ``lots`` (reference for the ZK
    layer): ``max(0, max_f ceil((coefficient_f(q) * |q| - constant_f) / denominator_f))``."""
    best = 0
    for form in forms:
        best = max(best, ceil_div(form.coefficient(lots) * abs(lots) - form.constant, form.denominator))
    return best


# ---------------------------------------------------------------------------------------------
# Accounts (rows) x instruments (columns)

def notional_excess(positions: np.ndarray, params: RiskParameters) -> tuple[int, int] | None:
    """``(row, column)`` of the first account whose notional ``Σ_j |q_j| · mark_j · multiplier_j`` exceeds
    ``MAX_AMOUNT`` (``column``: its largest position value), or None (:func:`~zkclear.clearing.money.
    position_value_excess` at the epoch's values per lot)."""
    if positions.shape[1] != len(params.instruments):
        raise ClearingError("positions do not match the instruments of the risk parameters")
    return position_value_excess(positions, [risk.value_per_lot for risk in params.instruments])


def notionals(positions: np.ndarray, params: RiskParameters) -> np.ndarray:
    """``|q| * mark * multiplier`` per (account, instrument), after checking that it cannot overflow.

    Guarantees every entry and every row sum is ``<= MAX_AMOUNT``; raises :class:`ClearingError` (naming the
    instrument) when an account's positions are too large for the bounds (the engine refuses the inputs
    that would lead there before, naming them).
    """
    excess = notional_excess(positions, params)
    if excess is not None:
        instrument = params.instruments[excess[1]].instrument_id
        raise ClearingError(f"account row {excess[0]}: the notional of its positions (largest in {instrument!r})"
                            " exceeds the bound 2**62 - 1")
    per_lot = np.array([risk.value_per_lot for risk in params.instruments], dtype=np.int64)
    return np.abs(positions) * per_lot


def margin_requirements(positions: np.ndarray, params: RiskParameters, models: RiskModels,
                        level: MarginLevel, margin_modes: Sequence[str] | None = None) -> np.ndarray:
    """Per-account requirement (int64, ``>= 0``): for a standard account the sum over instruments of each
    position's requirement; for a ``"portfolio"`` account (``margin_modes[row]``) the risk package's
    portfolio margin from ``params.scenario_table`` (maintenance; initial = ``ceil(maintenance *
    portfolio_initial_to_maintenance_ppm / PPM)``). ``margin_modes`` None: every account standard.

    :class:`ClearingError` when an account's requirement exceeds ``MAX_AMOUNT``, never a wrapped sum: the
    notional bound does not bound a short option's charge, a fraction of the *underlying's* value (red team
    session 15: three columns of ``2^62 − 2^38`` summed to a negative int64); the engine refuses the inputs that
    would lead there first (:func:`requirement_excess`)."""
    notionals(positions, params)  # bounds every position's value, and the linear and tiered requirements
    total = np.zeros(positions.shape[0], dtype=np.int64)
    portfolio_rows = np.zeros(0, dtype=np.int64)
    if margin_modes is not None:
        portfolio_rows = np.flatnonzero(np.array([m == PORTFOLIO_MODE for m in margin_modes], dtype=bool))
    # a portfolio account's per-position requirement is never used: not computed (it may pass the bound)
    standard_rows = np.setdiff1d(np.arange(positions.shape[0]), portfolio_rows) if portfolio_rows.size else None
    standard = positions if standard_rows is None else positions[standard_rows]
    subtotal = np.zeros(standard.shape[0], dtype=np.int64)
    for column, risk in enumerate(params.instruments):
        # each term is <= MAX_AMOUNT (the models' own bound) and so is the subtotal before it: no wrap
        subtotal += models.get(risk.margin_model).requirements(standard[:, column], risk, level)
        if subtotal.size and int(subtotal.max()) > MAX_AMOUNT:
            raise ClearingError(f"an account's requirement (with {risk.instrument_id!r}) exceeds the amount bound "
                                "2**62 - 1")
    if standard_rows is None:
        total = subtotal
    else:
        total[standard_rows] = subtotal
        total[portfolio_rows] = portfolio_requirements(positions[portfolio_rows], params, level)
    return total


def requirement_excess(positions: np.ndarray, params: RiskParameters, models: RiskModels,
                       margin_modes: Sequence[str] | None = None) -> tuple[int, int] | None:
    """``(row, column)`` of the first account whose maintenance requirement exceeds ``MAX_AMOUNT`` (``column``: its
    largest term), or None. No equity covers such a requirement, and the statements prove ``E − requirement``
    over the integers. A linear or tiered requirement is at most the position's notional, which the notional bound
    keeps within it; an option's short charge is a fraction of its underlying's value and is not (red team session
    15). Every requirement is at most ``|q|`` times a per-lot bound (each form's constant is ``>= 0``): rows whose
    float64 estimate reaches ``2^61`` are computed exactly."""
    table = params.scenario_table
    portfolio = np.zeros(positions.shape[0], dtype=bool)
    if margin_modes is not None and table is not None:
        portfolio = np.array([m == PORTFOLIO_MODE for m in margin_modes], dtype=bool)
    standard_per_lot = [max((ceil_div(max(f.lots_coefficient, f.short_lots_coefficient or 0), f.denominator)
                             for f in models.get(risk.margin_model).forms(risk, MarginLevel.MAINTENANCE)), default=0)
                        for risk in params.instruments]
    portfolio_per_lot = standard_per_lot
    if table is not None:  # Σ_u worst_u <= Σ_j |q_j| · max_s |E[j][s]|: an instrument's scenarios are its group's
        portfolio_per_lot = [ceil_div(max(map(abs, row), default=0), table.scale) + max(c.long_per_lot, c.short_per_lot)
                             for row, c in zip(table.value_changes, table.position_charges, strict=True)]
    lots = np.abs(positions).astype(np.float64)
    estimate = np.where(portfolio, lots @ np.array(portfolio_per_lot, dtype=np.float64) + 1,
                        lots @ np.array(standard_per_lot, dtype=np.float64))
    for row in np.flatnonzero(estimate >= 2.0**61).tolist():
        held = positions[row].tolist()
        if portfolio[row]:
            requirement = portfolio_margin(table, held).maintenance_margin
            terms = [abs(q) * per_lot for q, per_lot in zip(held, portfolio_per_lot, strict=True)]
        else:
            terms = [models.get(risk.margin_model).requirement(int(q), risk, MarginLevel.MAINTENANCE) if q else 0
                     for q, risk in zip(held, params.instruments, strict=True)]
            requirement = sum(terms)
        if requirement > MAX_AMOUNT:
            return row, max(range(len(terms)), key=terms.__getitem__)
    return None


def portfolio_requirements(positions: np.ndarray, params: RiskParameters, level: MarginLevel) -> np.ndarray:
    """Vectorized :func:`portfolio_requirement` (``zkclear.risk.portfolio_margin.portfolio_margin_batch``,
    which picks an arithmetic it proves exact); int64, ``ClearingError`` past the amount bound."""
    table = params.scenario_table
    if table is None:
        raise ClearingError("a portfolio-margin account needs the epoch's scenario table")
    maintenance = [int(x) for x in portfolio_margin_batch(table, positions)]
    if level is MarginLevel.INITIAL:
        ratio = params.portfolio_initial_to_maintenance_ppm
        maintenance = [ceil_div(x * ratio, PPM) for x in maintenance]
    if maintenance and max(maintenance) > MAX_AMOUNT:
        raise ClearingError("a portfolio requirement exceeds the amount bound 2**62 - 1")
    return np.array(maintenance, dtype=np.int64)


def portfolio_requirement(position_row: Sequence[int], params: RiskParameters, level: MarginLevel) -> int:
    """A portfolio account's requirement (``zkclear.risk.portfolio_margin.portfolio_margin``, exact ints). Not bounded:
    every caller compares Python ints (an initial requirement beyond the amount bound refuses a withdrawal; it stopped
    the epoch with a ClearingError before red team session 15); the vectorized :func:`portfolio_requirements` is."""
    table = params.scenario_table
    if table is None:
        raise ClearingError("a portfolio-margin account needs the epoch's scenario table")
    result = portfolio_margin(table, [int(q) for q in position_row],
                              initial_to_maintenance_ppm=params.portfolio_initial_to_maintenance_ppm)
    return result.initial_margin if level is MarginLevel.INITIAL else result.maintenance_margin


def account_requirement(position_row: Sequence[int], params: RiskParameters, models: RiskModels,
                        level: MarginLevel, margin_mode: str = STANDARD_MODE) -> int:
    """Scalar twin of :func:`margin_requirements` for one account (Python ints, used in the liquidation
    loop)."""
    if margin_mode == PORTFOLIO_MODE:
        return portfolio_requirement(position_row, params, level) if any(position_row) else 0
    total = 0
    for lots, risk in zip(position_row, params.instruments, strict=True):
        if lots:
            total += models.get(risk.margin_model).requirement(int(lots), risk, level)
    return total
