"""Engine-marked options and the portfolio-margin scenario table, through the risk package (issue 5).

Options run **futures-style** in the engine by default (docs/clearing.md "Options"): each epoch the engine marks an
option to its Black-76 price on the underlying instrument's mark (the forward) with the epoch's implied
volatility, in whole ticks rounded up, at least one tick before expiry and exactly the intrinsic value in its
expiry epoch; that mark change is variation margin like any future's. A deployment with
``option_settlement = "premium"`` uses the same marks but settles premium-style (premium paid at trade, the
value ``q * mark * multiplier`` counted in equity, intrinsic value paid at expiry; see ``engine.py``).

Layering: the risk package (``zkclear.risk``) knows no clearing type; this module is where its option
models meet the engine's :class:`InstrumentRisk` and :class:`LinearMarginForm`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from zkclear.clearing.instruments import OPTION_STANDARD_MODEL, InstrumentSpec
from zkclear.clearing.margin import InstrumentRisk, LinearMarginForm, MarginLevel, RiskParameters
from zkclear.clearing.money import MAX_AMOUNT, PPM, ceil_div
from zkclear.errors import ClearingError, ConfigurationError
from zkclear.risk.options import OptionSpec, OptionType, PositionCharge, option_mark, standard_option_charge
from zkclear.risk.scenarios import LinearRiskInput, OptionRiskInput, ScenarioGrid, ScenarioTable
from zkclear.risk.scenarios import build_scenario_table as build_risk_table


def option_spec(risk: InstrumentRisk) -> OptionSpec:
    """The risk package's ``OptionSpec`` of an engine-marked option from its public risk data (the
    ``underlying`` of the spec is the portfolio-margin group, which is what the scenario table groups by)."""
    if not risk.is_engine_option:
        raise ConfigurationError(f"{risk.instrument_id!r} is not an engine-marked option")
    return OptionSpec(risk.instrument_id, risk.underlying or risk.instrument_id, OptionType(risk.option_type),
                      risk.strike, risk.expiry_timestamp, risk.contract_multiplier)


def engine_option_mark(spec: InstrumentSpec, forward_ticks: int, implied_vol_ppm: int, expiry_timestamp: int,
                       valuation_timestamp: int) -> int:
    """The engine's mark of an option in ticks: ``zkclear.risk.options.option_mark(...).mark_price_ticks``
    (Black-76 on the forward, rounded **up** to a whole tick), at least 1 tick before expiry, the exact
    intrinsic value (possibly 0) at or after ``expiry_timestamp`` — the rule of
    ``zkclear.clearing.risk_bridge.option_mark_prices``."""
    option = OptionSpec(spec.instrument_id, spec.underlying or "", OptionType(spec.option_type),
                        spec.strike, expiry_timestamp, spec.contract_multiplier)
    marked = option_mark(option, forward_ticks, implied_vol_ppm, valuation_timestamp)
    return marked.mark_price_ticks if marked.years_to_expiry == 0.0 else max(marked.mark_price_ticks, 1)


@dataclass(frozen=True, slots=True)
class OptionStandardRiskModel:
    """Standard (per-position) margin of futures-style options for given forwards, as an engine ``RiskModel``.

    Per lot, from :func:`~zkclear.risk.options.standard_option_charge` with the level's fraction
    ``f = risk.fraction_ppm(level)`` of the forward and a floor of ``f * minimum_share_ppm / 1e6``:

    * short: ``max(1, ceil(max(f*F - OTM, f_min*F) * M / 1e6))``;
    * long: ``max(M, ceil(value_per_lot * long_haircut_ppm / 1e6))`` — futures-style, the premium was not
      paid in cash, so by default the whole value is required (equity minus it is what a premium-style
      account would hold in cash); ``M`` covers the mark's rounding up to a tick.

    One :class:`LinearMarginForm` per instrument with separate long/short coefficients (linear in ``|q|``
    on each side, as the ZK layer's margin lines). ``options`` holds ``(instrument id, spec, forward)``;
    :meth:`for_epoch` builds it for one epoch's forwards (:class:`OptionStandardModel` does it from the
    forward that :class:`InstrumentRisk` carries).
    """

    options: tuple[tuple[str, OptionSpec, int], ...]
    name: str = OPTION_STANDARD_MODEL
    minimum_share_ppm: int = 500_000
    long_haircut_ppm: int = PPM

    @classmethod
    def for_epoch(cls, specs: Sequence[OptionSpec], forwards: Mapping[str, int], *,
                  minimum_share_ppm: int = 500_000, long_haircut_ppm: int = PPM) -> OptionStandardRiskModel:
        """The model for one epoch: ``forwards`` maps each underlying to its forward in ticks."""
        return cls(tuple((s.instrument_id, s, forwards[s.underlying]) for s in specs),
                   minimum_share_ppm=minimum_share_ppm, long_haircut_ppm=long_haircut_ppm)

    def _charge(self, risk: InstrumentRisk, level: MarginLevel) -> PositionCharge:
        for instrument_id, spec, forward in self.options:
            if instrument_id == risk.instrument_id:
                fraction = risk.fraction_ppm(level)
                return standard_option_charge(
                    spec, forward, maintenance_ppm=fraction,
                    minimum_ppm=ceil_div(fraction * self.minimum_share_ppm, PPM),
                    value_per_lot=risk.value_per_lot, long_haircut_ppm=self.long_haircut_ppm,
                    rounding_per_lot=risk.contract_multiplier)
        raise ConfigurationError(f"{self.name}: no forward for {risk.instrument_id!r} this epoch")

    def forms(self, risk: InstrumentRisk, level: MarginLevel) -> tuple[LinearMarginForm, ...]:
        charge = self._charge(risk, level)
        return (LinearMarginForm(charge.long_per_lot, 0, 1, short_lots_coefficient=charge.short_per_lot),)

    def requirement(self, lots: int, risk: InstrumentRisk, level: MarginLevel) -> int:
        return self._charge(risk, level).charge(lots)

    def requirements(self, lots: np.ndarray, risk: InstrumentRisk, level: MarginLevel) -> np.ndarray:
        charge = self._charge(risk, level)
        long_lots, short_lots = np.maximum(lots, 0), np.maximum(-lots, 0)
        # each side against its own charge: a long of 2^31 lots against the short charge of a deep out-of-the-money
        # put (a fortieth of the forward) stopped the epoch although no requirement passed the bound (red team s15)
        if (int(long_lots.max(initial=0)) * charge.long_per_lot > MAX_AMOUNT
                or int(short_lots.max(initial=0)) * charge.short_per_lot > MAX_AMOUNT):
            raise ClearingError(f"{risk.instrument_id}: an option requirement would exceed 2**62 - 1")
        return long_lots * charge.long_per_lot + short_lots * charge.short_per_lot


@lru_cache(maxsize=4096)
def _delegate(risk: InstrumentRisk, minimum_share_ppm: int, long_haircut_ppm: int) -> OptionStandardRiskModel:
    if risk.underlying_price < 1:
        raise ConfigurationError(f"{risk.instrument_id}: no forward (underlying price) in the risk data")
    return OptionStandardRiskModel(((risk.instrument_id, option_spec(risk), risk.underlying_price),),
                                   minimum_share_ppm=minimum_share_ppm, long_haircut_ppm=long_haircut_ppm)


@dataclass(frozen=True, slots=True)
class OptionStandardModel:
    """Standard margin of engine-marked options as an engine ``RiskModel`` named ``"option-standard"``:
    :class:`OptionStandardRiskModel` (short: ``max(1, ceil(max(f*F - OTM, ceil(f/2)*F) * M / 1e6))``
    per lot with ``f`` the level's fraction (ppm) of the forward ``F``; long: the option's whole value per lot, at
    least one tick's value ``M``), fed with the forward that :class:`InstrumentRisk` carries
    (``underlying_price``), so one model instance serves every epoch and a ledger replay."""

    name: str = OPTION_STANDARD_MODEL
    minimum_share_ppm: int = 500_000
    long_haircut_ppm: int = PPM

    def _model(self, risk: InstrumentRisk) -> OptionStandardRiskModel:
        return _delegate(risk, self.minimum_share_ppm, self.long_haircut_ppm)

    def forms(self, risk: InstrumentRisk, level: MarginLevel) -> tuple[LinearMarginForm, ...]:
        return self._model(risk).forms(risk, level)

    def requirement(self, lots: int, risk: InstrumentRisk, level: MarginLevel) -> int:
        return self._model(risk).requirement(lots, risk, level)

    def requirements(self, lots: np.ndarray, risk: InstrumentRisk, level: MarginLevel) -> np.ndarray:
        return self._model(risk).requirements(lots, risk, level)


def build_scenario_table(params: RiskParameters, grid: ScenarioGrid | Mapping[str, ScenarioGrid],
                         short_option_minimum_ppm: int) -> ScenarioTable:
    """The epoch's scenario table in the engine's column order (``zkclear.risk.scenarios``), from the
    public risk data alone, with ``mark_values`` all 0.

    Linear instruments are ``LinearRiskInput(id, group, mark, multiplier)``; options are
    ``OptionRiskInput(spec, forward, vol, valuation time, tick_rounded_mark=True)`` (long charge one tick's
    value per lot; short-option minimum ``short_option_minimum_ppm`` of the forward). ``mark_values`` are 0
    because the engine settles an option's mark into cash every epoch (futures-style): a non-zero ``v_j``
    would count its value twice in the ZK equity ``cash + sum v_j q_j``. This is what
    ``zkclear.clearing.risk_bridge.scenario_table_for_engine`` computes for live options; an expired option
    (no position can be open in it) is valued at its intrinsic value, with any volatility.
    """
    inputs: list[LinearRiskInput | OptionRiskInput] = []
    for risk in params.instruments:
        if risk.is_engine_option:
            inputs.append(OptionRiskInput(option_spec(risk), risk.underlying_price, max(risk.implied_vol_ppm, 1),
                                          params.valuation_timestamp, tick_rounded_mark=True))
        else:
            if risk.mark_price < 1:
                raise ConfigurationError(f"{risk.instrument_id}: no mark price for the scenario table")
            inputs.append(LinearRiskInput(risk.instrument_id, risk.underlying or risk.instrument_id,
                                          risk.mark_price, risk.contract_multiplier))
    table = build_risk_table(inputs, grid, short_option_minimum_ppm=short_option_minimum_ppm)
    return replace(table, mark_values=(0,) * len(table.mark_values))
