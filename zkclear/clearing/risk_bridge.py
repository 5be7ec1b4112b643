"""The one place where the risk package's models meet the clearing engine's types (tests and tools).

The engine itself marks options, decides oracle marks, applies dynamic fractions and portfolio margin
(``options.py``, ``inputs.py``, ``engine.py``, ``margin.py``); these helpers give the same results from the
engine's *public* data and inputs, for callers that drive the engine from outside:

* :func:`option_mark_prices` — the engine's ``MarkPrice`` inputs for options (Black-76, whole ticks, rounded
  up, at least one tick before expiry, the exact intrinsic value at expiry);
* :func:`mark_prices_from_oracle` — ``MarkPrice`` inputs from the oracle guard's decisions;
* :func:`with_dynamic_margins` — a ``ClearingConfig`` whose linear fractions are the dynamic ones;
* :func:`price_history_from_ledger` — the marks of every committed epoch, for ``zkclear.risk.dynamic_params``;
* :func:`scenario_table_for_engine` and :func:`requirements_with_portfolio_margin` — the scenario table from
  the engine's public risk data, and per-account requirements where portfolio accounts use it.

Layering: ``zkclear.risk`` imports nothing from ``zkclear.clearing``; the clearing package imports the risk
models, and nothing inside the engine imports this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from zkclear.clearing.config import ClearingConfig
from zkclear.clearing.inputs import MarkPrice
from zkclear.clearing.instruments import OPTION_KIND, OPTION_KIND_NAME, kinds_with_options
from zkclear.clearing.margin import MarginLevel, RiskModels, RiskParameters, margin_requirements
from zkclear.clearing.money import PPM, ceil_div
from zkclear.clearing.options import OptionStandardRiskModel
from zkclear.errors import ConfigurationError
from zkclear.risk.dynamic_params import RiskParameterSet
from zkclear.risk.options import OptionSpec, VolatilitySurface, option_mark
from zkclear.risk.oracle import OracleEpochDecisions
from zkclear.risk.portfolio_margin import MarginMode, portfolio_margin_batch
from zkclear.risk.scenarios import (
    LinearRiskInput,
    OptionRiskInput,
    ScenarioGrid,
    ScenarioTable,
    build_scenario_table,
)

DEFAULT_GRID = ScenarioGrid()

__all__ = [
    "OPTION_KIND",
    "OptionStandardRiskModel",
    "kinds_with_options",
    "mark_prices_from_oracle",
    "option_mark_prices",
    "price_history_from_ledger",
    "requirements_with_portfolio_margin",
    "scenario_table_for_engine",
    "with_dynamic_margins",
]


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
        for mark in ledger.inputs(epoch, public_only=True).marks:  # type: ignore[attr-defined]
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
