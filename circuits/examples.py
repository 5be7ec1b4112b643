"""Example deployments: the benchmark profiles of docs/performance.md and the test fixtures.

- :func:`linear_perpetuals`: perpetuals on the clearing engine's linear model (maintenance fraction in ppm);
- :func:`tiered_perpetuals`: perpetuals on a convex, continuous tier table (the engine's tiered model);
- :func:`options_portfolio`: perpetuals and options on one underlying, on portfolio margin with the risk
  module's scenario table (9 price moves x 3 vol shifts = 27 scenarios);

and :func:`collateralized_account`, an account whose cash covers its requirement (plus a margin).
All go through the clearing engine's and the risk module's own constructors, so the public data is
exactly what an epoch would produce.
"""

from __future__ import annotations

import random
from types import MappingProxyType

from circuits.account_statement import account_statement
from circuits.public_data import PORTFOLIO, STANDARD, AccountWitness, PublicRiskData

#: Settlement units per lot per tick and the mark in ticks: a lot is worth 100_000_000 units ($100 at 1e-6).
_MULTIPLIER = 1_000
_MARK_TICKS = 100_000
#: A Binance-like bracket table: (notional bound in settlement units, rate ppm); continuous deductions.
_TIER_TABLE = ((50_000_000_000, 4_000), (250_000_000_000, 5_000), (1_000_000_000_000, 10_000),
               (10_000_000_000_000, 25_000))


def _risk_parameters(instruments: list, models: object) -> tuple[object, object]:
    from zkclear.clearing.margin import RiskParameters

    return RiskParameters(epoch=1, instruments=tuple(instruments), liquidation_penalty_ppm=10_000,
                          liquidation_buffer_ppm=100_000), models


def linear_perpetuals(count: int = 8, *, maintenance_ppm: int = 5_000, position_bits: int = 32,
                      label: str = "linear-perps") -> PublicRiskData:
    """``count`` perpetuals on the linear model (v_j = 0: variation margin is in cash)."""
    from zkclear.clearing.margin import DEFAULT_RISK_MODELS, InstrumentRisk

    instruments = [InstrumentRisk(f"PERP-{k}", "perpetual", _MARK_TICKS + 1_000 * k, _MULTIPLIER,
                                  2 * maintenance_ppm, maintenance_ppm, "linear") for k in range(count)]
    params, models = _risk_parameters(instruments, DEFAULT_RISK_MODELS)
    return PublicRiskData.from_epoch(params, models, position_bits=position_bits, label=label)


def tier_table(tiers: int = 4) -> tuple:
    """The first ``tiers`` brackets of the example table as the engine's MarginTier (continuous)."""
    from zkclear.clearing.instruments import MarginTier
    from zkclear.clearing.money import PPM

    table, deduction, previous = [], 0, None
    for bound, rate in _TIER_TABLE[:tiers]:
        if previous is not None:
            deduction += previous[0] * (rate - previous[1]) // PPM
        table.append(MarginTier(bound, rate, deduction))
        previous = (bound, rate)
    return tuple(table)


def tiered_perpetuals(count: int = 8, *, tiers: int = 4, label: str = "tiered-perps") -> PublicRiskData:
    """``count`` perpetuals on the tiered model with ``tiers`` brackets."""
    from zkclear.clearing.margin import DEFAULT_RISK_MODELS, InstrumentRisk

    table = tier_table(tiers)
    instruments = [InstrumentRisk(f"PERP-{k}", "perpetual", _MARK_TICKS + 1_000 * k, _MULTIPLIER, 10_000,
                                  4_000, "tiered", table, table) for k in range(count)]
    params, models = _risk_parameters(instruments, DEFAULT_RISK_MODELS)
    return PublicRiskData.from_epoch(params, models, label=label)


def options_portfolio(perpetuals: int = 4, options: int = 4, *,
                      label: str = "options-portfolio") -> PublicRiskData:
    """``perpetuals`` perpetuals and ``options`` options (calls and puts around the forward) on one
    underlying, 27 scenarios; standard margin for the perpetuals is linear, for options their charge."""
    from zkclear.clearing.margin import DEFAULT_RISK_MODELS, InstrumentRisk
    from zkclear.risk.options import OptionSpec, OptionType
    from zkclear.risk.scenarios import LinearRiskInput, OptionRiskInput, ScenarioGrid, build_scenario_table

    valuation, expiry = 1_700_000_000, 1_700_000_000 + 30 * 86_400
    inputs, instruments = [], []
    for k in range(perpetuals):
        inputs.append(LinearRiskInput(f"PERP-{k}", "BTC", _MARK_TICKS, _MULTIPLIER))
        instruments.append(InstrumentRisk(f"PERP-{k}", "perpetual", _MARK_TICKS, _MULTIPLIER, 10_000, 5_000,
                                          "linear"))
    for k in range(options):
        kind = OptionType.CALL if k % 2 == 0 else OptionType.PUT
        strike = _MARK_TICKS + (k // 2 - (options - 1) // 4) * 5_000
        spec = OptionSpec(f"OPT-{k}", "BTC", kind, strike, expiry, _MULTIPLIER)
        inputs.append(OptionRiskInput(spec, _MARK_TICKS, 600_000, valuation))
        # In standard mode an option carries no line here; its value is in equity (portfolio mode margins it).
        instruments.append(InstrumentRisk(f"OPT-{k}", "option", _MARK_TICKS, _MULTIPLIER, 0, 0, "linear"))
    table = build_scenario_table(inputs, ScenarioGrid(extreme_multiple=0))
    params, _ = _risk_parameters(instruments, DEFAULT_RISK_MODELS)
    return PublicRiskData.from_epoch(params, DEFAULT_RISK_MODELS, scenario_table=table, label=label)


def required_cash(public: PublicRiskData, positions: tuple[int, ...], mode: str = STANDARD) -> int:
    """The least cash with which an account holding ``positions`` satisfies its statement's
    ``equity`` and ``maintenance`` constraints (both have coefficient 1 on cash; negative when the
    positions' value alone covers the requirement)."""
    statement = account_statement(public, mode)
    values = statement.assign(AccountWitness(0, tuple(positions), mode))
    return max(-constraint.form.evaluate(values) for constraint in statement.statement.constraints
               if constraint.name in ("equity", "maintenance"))


def collateralized_account(public: PublicRiskData, rng: random.Random, *, mode: str = STANDARD,
                           held: int = 3, max_lots: int = 1_000, excess: int = 1_000_000) -> AccountWitness:
    """A random account holding ``held`` instruments with cash = requirement + uniform [0, excess]."""
    n = len(public.instruments)
    positions = [0] * n
    for j in rng.sample(range(n), min(held, n)):
        positions[j] = rng.choice((-1, 1)) * rng.randint(1, max_lots)
    positions_t = tuple(positions)
    cash = required_cash(public, positions_t, mode) + rng.randint(0, excess)
    return AccountWitness(cash, positions_t, mode)


PROFILES = MappingProxyType({
    "linear-8-perps": lambda: linear_perpetuals(8),
    "linear-8-perps-16-bit-positions": lambda: linear_perpetuals(8, position_bits=16),
    "tiered-8-perps": lambda: tiered_perpetuals(8),
    "options-4-perps-4-options": lambda: options_portfolio(4, 4),
})
PROFILE_MODES = MappingProxyType({"linear-8-perps": STANDARD, "linear-8-perps-16-bit-positions": STANDARD,
                                  "tiered-8-perps": STANDARD, "options-4-perps-4-options": PORTFOLIO})
