"""Example deployments: the benchmark profiles of docs/performance.md and the test fixtures.

- :func:`linear_perpetuals`: perpetuals on the clearing engine's linear model (maintenance fraction in ppm);
- :func:`tiered_perpetuals`: perpetuals on a convex, continuous tier table (the engine's tiered model);
- :func:`options_portfolio`: perpetuals and options on one underlying, on portfolio margin with the risk
  module's scenario table (9 price moves x 3 vol shifts = 27 scenarios);
- :func:`with_collateral_assets`: any of the above plus collateral assets (BTC, ETH, SOL, XAU) on a
  Binance-style tiered haircut (:func:`haircut_lines`);

and :func:`collateralized_account`, an account whose cash covers its requirement (plus a margin).
All go through the clearing engine's and the risk module's own constructors, so the public data is
exactly what an epoch would produce.
"""

from __future__ import annotations

import dataclasses
import random
from types import MappingProxyType

from circuits.account_statement import account_statement
from circuits.public_data import PORTFOLIO, STANDARD, AccountWitness, PublicAsset, PublicRiskData

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


#: A Binance-style haircut table by collateral value (settlement units): the first 100,000 USD at 100 %, the next
#: 900,000 at 95 %, the rest at 80 % (upper bound 0 = none), with 1 USD = 10^6 settlement units.
HAIRCUT_TABLE = ((100_000_000_000, 1_000_000), (1_000_000_000_000, 950_000), (0, 800_000))
#: (id, price ticks, unit value (settlement units per smallest unit and tick)): BTC at 60,000 USD with 8 decimals,
#: ETH at 3,000 USD with 9 decimals (gwei), SOL at 150 USD with 9 decimals, XAU at 2,400 USD with 6 decimals.
_COLLATERAL = (("BTC", 60_000, (1, 100)), ("ETH", 3_000, (1, 1_000)), ("SOL", 150, (1, 1_000)),
               ("XAU", 2_400, (1, 1)))


def haircut_lines(table: tuple[tuple[int, int], ...] = HAIRCUT_TABLE) -> tuple[tuple[tuple[int, int], ...], int]:
    """The concave tier table ``((upper bound, ratio ppm), ...)`` as lines ``(ratio_t, C_t)`` over 10^6 with
    ``H(V) = min_t (ratio_t·V + C_t) / 10^6`` (ratios must not increase; ``C_t`` continues the tiers)."""
    lines: list[tuple[int, int]] = []
    constant = 0
    for t, (_, ratio) in enumerate(table):
        if t:  # the lines of tiers t-1 and t meet at tier t-1's upper bound
            previous_upper, previous_ratio = table[t - 1]
            constant += (previous_ratio - ratio) * previous_upper
        lines.append((ratio, constant))
    return tuple(lines), 1_000_000


def collateral_assets(count: int = 4, *, tiers: int = 3) -> tuple[PublicAsset, ...]:
    """``count`` (at most 4) collateral assets with the first ``tiers`` tiers of :data:`HAIRCUT_TABLE`."""
    table = (*HAIRCUT_TABLE[:tiers - 1], (0, HAIRCUT_TABLE[tiers - 1][1]))
    lines, denominator = haircut_lines(table)
    return tuple(PublicAsset(asset_id, num, den, price, lines, denominator)
                 for asset_id, price, (num, den) in _COLLATERAL[:count])


def with_collateral_assets(public: PublicRiskData, count: int = 4, *, tiers: int = 3) -> PublicRiskData:
    """``public`` plus ``count`` collateral assets (the settlement asset stays the one cash is in)."""
    extended = dataclasses.replace(public, assets=collateral_assets(count, tiers=tiers),
                                   label=f"{public.label}+{count}-assets")
    extended.check_budget()
    return extended


def required_cash(public: PublicRiskData, positions: tuple[int, ...], mode: str = STANDARD,
                  balances: tuple[int, ...] = ()) -> int:
    """The least cash with which an account holding ``positions`` (and collateral ``balances``) satisfies its
    statement's ``equity`` and ``maintenance`` constraints (both have coefficient 1 on cash; negative when the
    positions' value or the collateral alone covers the requirement)."""
    statement = account_statement(public, mode)
    values = statement.assign(AccountWitness(0, tuple(positions), mode, tuple(balances)))
    return max(-constraint.form.evaluate(values) for constraint in statement.statement.constraints
               if constraint.name in ("equity", "maintenance"))


def collateralized_account(public: PublicRiskData, rng: random.Random, *, mode: str = STANDARD,
                           held: int = 3, max_lots: int = 1_000, excess: int = 1_000_000,
                           max_collateral: int = 10**10) -> AccountWitness:
    """A random account holding ``held`` instruments and, when the epoch has collateral assets, a random balance
    of each (uniform in [0, max_collateral] smallest units), with cash = requirement + uniform [0, excess]
    (negative when the collateral covers more than the requirement)."""
    n = len(public.instruments)
    positions = [0] * n
    for j in rng.sample(range(n), min(held, n)):
        positions[j] = rng.choice((-1, 1)) * rng.randint(1, max_lots)
    positions_t = tuple(positions)
    balances = tuple(rng.randint(0, max_collateral) for _ in public.assets)
    cash = required_cash(public, positions_t, mode, balances) + rng.randint(0, excess)
    return AccountWitness(cash, positions_t, mode, balances)


PROFILES = MappingProxyType({
    "linear-8-perps": lambda: linear_perpetuals(8),
    "linear-8-perps-16-bit-positions": lambda: linear_perpetuals(8, position_bits=16),
    "tiered-8-perps": lambda: tiered_perpetuals(8),
    "options-4-perps-4-options": lambda: options_portfolio(4, 4),
    "multi-asset-8-perps-4-assets": lambda: with_collateral_assets(linear_perpetuals(8), 4, tiers=3),
})
PROFILE_MODES = MappingProxyType({"linear-8-perps": STANDARD, "linear-8-perps-16-bit-positions": STANDARD,
                                  "tiered-8-perps": STANDARD, "options-4-perps-4-options": PORTFOLIO,
                                  "multi-asset-8-perps-4-assets": STANDARD})
