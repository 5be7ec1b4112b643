"""Plugging the risk package into the clearing engine (``zkclear/clearing``) through its public seams.

What works with the engine as it is (no engine change):

* :data:`OPTION_KIND` / :func:`kinds_with_options` — an ``"option"`` instrument kind for the engine's
  :class:`~zkclear.clearing.instruments.InstrumentKinds` registry. The engine marks every instrument to a
  price and settles the change as variation margin, so options run **futures-style** in it: the epoch's
  mark price of an option is its Black-76 price in whole ticks rounded up (:func:`option_mark_prices`), the
  trade price is settled against it at novation, and the option expires in its ``expiry_epoch``.
  Economically this equals premium-style (the buyer's equity is ``-premium + mark`` either way); only where
  the value sits differs.
* :func:`mark_prices_from_oracle` — the engine's ``MarkPrice`` inputs from the oracle guard's decisions.
* :func:`with_dynamic_margins` — a ``ClearingConfig`` whose linear fractions are the epoch's dynamic ones.
* :func:`price_history_from_ledger` — the marks of every committed epoch, for :mod:`dynamic_params`.
* :func:`scenario_table_for_engine` and :func:`requirements_with_portfolio_margin` — the scenario table from
  the engine's public risk data and per-account requirements where portfolio accounts use it.

What needs an engine change is listed in docs/clearing.md ("Engine integration") and in the issue-5 report.
This is the only module of ``zkclear/risk`` that imports ``zkclear.clearing``; the engine never imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from zkclear.clearing.config import ClearingConfig
from zkclear.clearing.inputs import MarkPrice
from zkclear.clearing.instruments import DEFAULT_KINDS, InstrumentKind, InstrumentKinds, linear_value
from zkclear.clearing.margin import (
    InstrumentRisk,
    LinearMarginForm,
    MarginLevel,
    RiskModels,
    RiskParameters,
    margin_requirements,
)
from zkclear.clearing.money import MAX_AMOUNT
from zkclear.errors import ClearingError, ConfigurationError
from zkclear.risk.dynamic_params import RiskParameterSet
from zkclear.risk.options import (
    OptionSpec,
    PositionCharge,
    VolatilitySurface,
    option_mark,
    standard_option_charge,
)
from zkclear.risk.oracle import OracleEpochDecisions
from zkclear.risk.portfolio_margin import MarginMode, portfolio_margin_batch
from zkclear.risk.rounding import PPM, ceil_div
from zkclear.risk.scenarios import (
    LinearRiskInput,
    OptionRiskInput,
    ScenarioGrid,
    ScenarioTable,
    build_scenario_table,
)

OPTION_KIND_NAME = "option"
DEFAULT_GRID = ScenarioGrid()
#: Futures-style option: no funding, expires in its ``expiry_epoch``, value ``q * option_price * multiplier``.
OPTION_KIND = InstrumentKind(
    OPTION_KIND_NAME, pays_funding=False, expires=True, value=linear_value, may_settle_at_zero=True
)


def kinds_with_options(kinds: InstrumentKinds = DEFAULT_KINDS) -> InstrumentKinds:
    """``kinds`` with the option kind registered (pass as ``ClearingConfig(kinds=...)``)."""
    return kinds.with_kind(OPTION_KIND)


def option_mark_prices(
    options: Sequence[OptionSpec],
    forwards: Mapping[str, int],
    surface: VolatilitySurface,
    now_timestamp: int,
    *,
    rate_ppm: int = 0,
) -> tuple[MarkPrice, ...]:
    """The engine's mark inputs for options: Black-76 price in whole ticks, rounded up, at least 1 tick
    before expiry; at expiry (``now >= expiry``) the exact intrinsic value, which may be 0.

    ``forwards`` maps an underlying to its forward in ticks (the underlying's mark or the future of the same
    expiry; at expiry, the settlement price). The 1-tick floor before expiry exists because the engine
    accepts a zero mark only in an option's expiry epoch; it only ever raises a value (conservative for the
    short side; the long's extra variation margin is covered by the one-tick long charge).
    """
    records = []
    for spec in options:
        if spec.underlying not in forwards:
            raise ConfigurationError(f"no forward for underlying {spec.underlying!r} of {spec.instrument_id}")
        mark = option_mark(
            spec, forwards[spec.underlying], surface.volatility_ppm(spec), now_timestamp, rate_ppm=rate_ppm
        )
        price = mark.mark_price_ticks if mark.years_to_expiry == 0.0 else max(mark.mark_price_ticks, 1)
        records.append(MarkPrice(spec.instrument_id, price, None))
    return tuple(records)


def mark_prices_from_oracle(
    decisions: OracleEpochDecisions, funding_rates_ppm: Mapping[str, int | None]
) -> tuple[MarkPrice, ...]:
    """The engine's ``MarkPrice`` inputs from the guard's decisions (funding: instrument -> ppm or None)."""
    return tuple(
        MarkPrice(
            decision.instrument_id, decision.mark_price_ticks, funding_rates_ppm.get(decision.instrument_id)
        )
        for decision in decisions.decisions
    )


def with_dynamic_margins(
    config: ClearingConfig, parameters: RiskParameterSet, underlying_of: Mapping[str, str]
) -> ClearingConfig:
    """``config`` with every linear-model instrument's fractions set from its underlying's dynamic parameters.

    Fractions only ever go up from the configured ones (the configured fraction acts as a floor too);
    tiered instruments are left as configured (their tier table is the published schedule).
    """
    instruments = []
    for spec in config.instruments:
        underlying = underlying_of.get(spec.instrument_id)
        if underlying is None or spec.margin_model != "linear" or spec.kind == OPTION_KIND_NAME:
            instruments.append(spec)
            continue
        dynamic = parameters.for_underlying(underlying)
        maintenance = min(PPM, max(spec.maintenance_margin_ppm, dynamic.maintenance_ppm))
        initial = min(PPM, max(spec.initial_margin_ppm, dynamic.initial_ppm, maintenance))
        instruments.append(
            dataclasses.replace(spec, maintenance_margin_ppm=maintenance, initial_margin_ppm=initial)
        )
    return dataclasses.replace(config, instruments=tuple(instruments))


def price_history_from_ledger(ledger: object, instrument_ids: Sequence[str]) -> dict[str, list[int]]:
    """Mark prices of ``instrument_ids`` in every committed epoch, oldest first (from ``Ledger.inputs``)."""
    head, _ = ledger.head()  # type: ignore[attr-defined]
    history: dict[str, list[int]] = {instrument: [] for instrument in instrument_ids}
    for epoch in range(1, head + 1):
        for mark in ledger.inputs(epoch).marks:  # type: ignore[attr-defined]
            if mark.instrument in history:
                history[mark.instrument].append(mark.mark_price)
    return history


def scenario_table_for_engine(
    params: RiskParameters,
    underlying_of: Mapping[str, str],
    options: Mapping[str, tuple[OptionSpec, int, int]],
    valuation_timestamp: int,
    grids: ScenarioGrid | Mapping[str, ScenarioGrid] = DEFAULT_GRID,
    *,
    short_option_minimum_ppm: int = 10_000,
) -> ScenarioTable:
    """The scenario table in the engine's column order, for the engine's futures-style options.

    Linear kinds come from the engine's public ``InstrumentRisk`` (mark, multiplier); option columns from
    ``options[instrument_id] = (spec, forward_ticks, volatility_ppm)``, which must reproduce the engine's
    option mark (``max(1, mark_price_ticks)``; ConfigurationError otherwise). Options are tick-rounded
    (``tick_rounded_mark``: long charge one tick's value per lot). As the engine settles every mark
    change into cash, equity is cash alone: the returned table's ``mark_values`` are all 0 (a non-zero
    ``v_j`` would count the option's value twice in the ZK equity ``cash + sum v_j q_j``).
    """
    inputs = []
    for risk in params.instruments:
        if risk.kind == OPTION_KIND_NAME:
            if risk.instrument_id not in options:
                raise ConfigurationError(f"no option data for {risk.instrument_id!r}")
            spec, forward, volatility = options[risk.instrument_id]
            marked = option_mark(spec, forward, volatility, valuation_timestamp)
            engine_mark = (
                marked.mark_price_ticks if marked.years_to_expiry == 0.0 else max(marked.mark_price_ticks, 1)
            )
            if engine_mark != risk.mark_price:
                raise ConfigurationError(
                    f"{risk.instrument_id}: option data gives mark {engine_mark}, "
                    f"the engine has {risk.mark_price}"
                )
            inputs.append(
                OptionRiskInput(spec, forward, volatility, valuation_timestamp, tick_rounded_mark=True)
            )
        else:
            if risk.instrument_id not in underlying_of:
                raise ConfigurationError(f"no underlying for {risk.instrument_id!r}")
            inputs.append(
                LinearRiskInput(
                    risk.instrument_id,
                    underlying_of[risk.instrument_id],
                    risk.mark_price,
                    risk.contract_multiplier,
                )
            )
    table = build_scenario_table(inputs, grids, short_option_minimum_ppm=short_option_minimum_ppm)
    return dataclasses.replace(table, mark_values=(0,) * len(table.mark_values))


def requirements_with_portfolio_margin(
    positions: np.ndarray,
    margin_modes: Sequence[str],
    params: RiskParameters,
    models: RiskModels,
    level: MarginLevel,
    table: ScenarioTable,
    *,
    initial_to_maintenance_ppm: int = 1_250_000,
) -> np.ndarray:
    """Per-account requirement: the engine's per-position models for standard accounts, the scenario margin
    for ``"portfolio"`` accounts (initial = ``ceil(maintenance * ratio / 1e6)``). An int64 array.

    With futures-style options (variation margin in cash) the portfolio requirement counts the option marks
    as already settled; the per-position charges still apply.
    """
    if tuple(table.instrument_ids) != tuple(r.instrument_id for r in params.instruments):
        raise ConfigurationError("scenario table columns differ from the engine's instruments")
    modes = np.array([mode == MarginMode.PORTFOLIO.value for mode in margin_modes], dtype=bool)
    result = margin_requirements(positions, params, models, level).astype(np.int64)
    if modes.any():
        portfolio = portfolio_margin_batch(table, positions[modes])
        if level is MarginLevel.INITIAL:
            portfolio = np.array(
                [ceil_div(int(x) * initial_to_maintenance_ppm, PPM) for x in portfolio], dtype=np.int64
            )
        result[modes] = np.asarray(portfolio, dtype=np.int64)
    return result


@dataclass(frozen=True, slots=True)
class OptionStandardRiskModel:
    """Standard (per-position) margin of the engine's futures-style options, as an engine ``RiskModel``.

    Per lot, from :func:`~zkclear.risk.options.standard_option_charge` with the level's fraction
    ``f = risk.fraction_ppm(level)`` of the forward and a floor of ``f * minimum_share_ppm / 1e6``:

    * short: ``max(1, ceil(max(f*F - OTM, f_min*F) * M / 1e6))``;
    * long: ``max(M, ceil(value_per_lot * long_haircut_ppm / 1e6))`` — futures-style, the premium was not
      paid in cash, so by default the whole value is required (equity minus it is what a premium-style
      account would hold in cash); ``M`` covers the mark's rounding up to a tick.

    One :class:`LinearMarginForm` per instrument with separate long/short coefficients (linear in ``|q|``
    on each side, as the ZK layer's margin lines). The forward of each option is epoch data the engine's
    ``InstrumentRisk`` does not carry, so the model holds it: build it for the epoch with
    :meth:`for_epoch`. (With ``InstrumentRisk`` carrying the forward the model would need no epoch data.)
    """

    options: tuple[tuple[str, OptionSpec, int], ...]
    name: str = "option-standard"
    minimum_share_ppm: int = 500_000
    long_haircut_ppm: int = PPM

    @classmethod
    def for_epoch(
        cls, specs: Sequence[OptionSpec], forwards: Mapping[str, int], **options: object
    ) -> OptionStandardRiskModel:
        """The model for one epoch: ``forwards`` maps each underlying to its forward in ticks."""
        return cls(tuple((s.instrument_id, s, forwards[s.underlying]) for s in specs), **options)  # type: ignore[arg-type]

    def _charge(self, risk: InstrumentRisk, level: MarginLevel) -> PositionCharge:
        for instrument_id, spec, forward in self.options:
            if instrument_id == risk.instrument_id:
                fraction = risk.fraction_ppm(level)
                return standard_option_charge(
                    spec,
                    forward,
                    maintenance_ppm=fraction,
                    minimum_ppm=ceil_div(fraction * self.minimum_share_ppm, PPM),
                    value_per_lot=risk.value_per_lot,
                    long_haircut_ppm=self.long_haircut_ppm,
                    rounding_per_lot=risk.contract_multiplier,
                )
        raise ConfigurationError(f"{self.name}: no forward for {risk.instrument_id!r} this epoch")

    def forms(self, risk: InstrumentRisk, level: MarginLevel) -> tuple[LinearMarginForm, ...]:
        charge = self._charge(risk, level)
        return (LinearMarginForm(charge.long_per_lot, 0, 1, short_lots_coefficient=charge.short_per_lot),)

    def requirement(self, lots: int, risk: InstrumentRisk, level: MarginLevel) -> int:
        return self._charge(risk, level).charge(lots)

    def requirements(self, lots: np.ndarray, risk: InstrumentRisk, level: MarginLevel) -> np.ndarray:
        charge = self._charge(risk, level)
        largest = int(np.max(np.abs(lots))) if lots.size else 0
        if largest * max(charge.long_per_lot, charge.short_per_lot) > MAX_AMOUNT:
            raise ClearingError(f"{risk.instrument_id}: an option requirement would exceed 2**62 - 1")
        return np.where(lots < 0, -lots * charge.short_per_lot, lots * charge.long_per_lot)
