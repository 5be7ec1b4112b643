"""Collateral assets in the account statement: balances, haircut values on concave tiers, the settlement
liability, and their bit budget (issue 13, item 3)."""

import dataclasses
import random

import pytest

from circuits import AccountWitness, account_statement
from circuits.examples import (
    HAIRCUT_TABLE,
    collateral_assets,
    haircut_lines,
    linear_perpetuals,
    options_portfolio,
    required_cash,
    with_collateral_assets,
)
from circuits.public_data import MAX_COLLATERAL_ASSETS, PublicAsset, public_asset
from zkclear.errors import ConfigurationError, InputError

BASE = linear_perpetuals(2)
MULTI = with_collateral_assets(BASE, 2)


def _tiered_haircut(value: int, table=HAIRCUT_TABLE) -> int:
    """The Binance-style definition, tier by tier: Σ_t ratio_t·(min(V, upper_t) − lower_t)^+ / 10^6, rounded down."""
    total, lower = 0, 0
    for upper, ratio in table:
        top = value if upper == 0 else min(value, upper)
        if top > lower:
            total += ratio * (top - lower)
        lower = upper
    return total // 1_000_000


def test_single_asset_public_data_and_statement_are_unchanged():
    assert BASE.assets == () and len(BASE.canonical()) == 6
    assert MULTI.canonical()[:6] == dataclasses.replace(BASE, label=MULTI.label).canonical()
    assert len(MULTI.canonical()) == 7 and MULTI.digest() != BASE.digest()
    statement = account_statement(BASE, "standard")
    assert statement.balances == () and statement.liabilities == (statement.equity,)
    assert not any(name.startswith(("balance", "value", "haircut", "settlement")) for name in
                   statement.statement.variables)


def test_haircut_value_is_the_tiered_collateral_ratio_rounded_down():
    btc = collateral_assets(1)[0]
    rng = random.Random(5)
    one_btc = 10**8
    balances = [0, 1, 99, one_btc, 10 * one_btc, 1_000 * one_btc, rng.randint(0, 10**13)]
    # around the tier bounds (100,000 and 1,000,000 USD of value), where the lines meet
    for bound, _ in HAIRCUT_TABLE[:2]:
        balances += [b + d for b in (bound * 100 // 60_000,) for d in (-1, 0, 1)]
    for balance in balances:
        value = balance * 60_000 // 100
        assert btc.value(balance) == value
        assert btc.haircut_value(balance) == _tiered_haircut(value), balance
    lines, denominator = haircut_lines()
    assert denominator == 1_000_000 and [ratio for ratio, _ in lines] == [1_000_000, 950_000, 800_000]


def test_a_cap_is_one_more_line_of_slope_zero():
    lines, denominator = haircut_lines()
    risk = type("AssetRisk", (), {"asset_id": "BTC", "price_ticks": 60_000, "unit_value": (1, 100),
                                  "haircut_lines": lines, "haircut_denominator": denominator, "cap": 3 * 10**8})()
    capped = public_asset(risk)
    assert len(capped.haircut_lines) == len(lines) + 1 and capped.haircut_lines[-1][0] == 0
    for balance in (10**8, 3 * 10**8, 7 * 10**8):
        assert capped.haircut_value(balance) == _tiered_haircut(min(balance, 3 * 10**8) * 600)


def test_equity_counts_the_haircut_values_and_the_settlement_liability_is_the_positive_part():
    statement = account_statement(MULTI, "standard")
    btc, eth = MULTI.assets
    balances = (5 * 10**8, 2 * 10**9)
    positions = (40, -25)
    cash = required_cash(MULTI, positions, balances=balances)
    assert cash < 0  # the collateral covers the requirement: the settlement balance may go negative
    values = statement.assign(AccountWitness(cash, positions, "standard", balances))
    assert statement.statement.violations(values) == []
    assert statement.equity.evaluate(values) == cash + btc.haircut_value(balances[0]) + eth.haircut_value(balances[1])
    liabilities = [form.evaluate(values) for form in statement.liabilities]
    assert liabilities == [0, *balances]  # a debt is not counted as an asset
    positive = statement.assign(AccountWitness(1_000_000, positions, "standard", balances))
    assert [form.evaluate(positive) for form in statement.liabilities] == [1_000_000, *balances]
    below = statement.assign(AccountWitness(cash - 1, positions, "standard", balances))
    assert [c.name for c, _ in statement.statement.violations(below)] == ["maintenance"]


def test_a_negative_balance_violates_its_balance_constraint():
    statement = account_statement(MULTI, "standard")
    values = statement.assign(AccountWitness(10**12, (0, 0), "standard", (-10**8, 0)))
    assert "balance[0]" in [c.name for c, _ in statement.statement.violations(values)]


def test_a_haircut_value_above_a_tier_line_violates_that_tier():
    statement = account_statement(MULTI, "standard")
    values = list(statement.assign(AccountWitness(10**12, (0, 0), "standard", (10 * 10**8, 0))))
    haircut = statement.statement.variables.index("haircut[0]")
    values[haircut] += 1
    violated = {c.name for c, _ in statement.statement.violations(values)}
    assert "haircut tier[0,1]" in violated  # 10 BTC = 600,000 USD of value: the 95 % line binds
    assert "haircut[0]" not in violated


def test_the_witness_must_carry_one_balance_per_asset():
    statement = account_statement(MULTI, "standard")
    with pytest.raises(InputError, match="2 collateral balances"):
        statement.assign(AccountWitness(0, (0, 0), "standard", (1,)))
    with pytest.raises(InputError, match="ints"):
        AccountWitness(0, (0, 0), "standard", (1.5, 0))


@pytest.mark.parametrize("mode", ["standard", "portfolio"])
def test_both_margin_modes_take_collateral_and_pass_the_budget(mode):
    public = with_collateral_assets(options_portfolio(1, 2), 4)
    report = public.check_budget()[mode]
    assert report.headroom_bits > 100
    bounded = dict(zip(account_statement(public, mode).statement.variables, report.bounded_by, strict=True))
    assert bounded["balance[0]"] == "balance[0]" and bounded["haircut[3]"] == "haircut[3]"
    assert bounded["value[2]"] == "value[2]" and bounded["settlement_liability"] == "settlement_liability"
    assert bounded["cash"] in ("equity", "settlement_liability excess")


def test_collateral_budget_at_the_limits_keeps_headroom():
    top = (1 << 64) - 1
    lines = tuple((top, top) for _ in range(16))
    extreme = PublicAsset("MAX", top, top, top, lines, top)
    public = dataclasses.replace(BASE, assets=tuple(dataclasses.replace(extreme, asset_id=f"A{k}")
                                                    for k in range(MAX_COLLATERAL_ASSETS)))
    assert public.check_budget()["standard"].headroom_bits > 50


@pytest.mark.parametrize("change, message", [
    (lambda a: (a,) * (MAX_COLLATERAL_ASSETS + 1), "exceed the supported maximum"),
    (lambda a: (dataclasses.replace(a, haircut_lines=()),), "haircut_lines"),
    (lambda a: (dataclasses.replace(a, haircut_lines=((-1, 0),)),), "slope"),
    (lambda a: (dataclasses.replace(a, haircut_lines=((1, -5),)),), "constant"),
    (lambda a: (dataclasses.replace(a, unit_value_den=0),), "unit_value denominator"),
    (lambda a: (dataclasses.replace(a, price_ticks=0),), "price"),
    (lambda a: (dataclasses.replace(a, asset_id="btc"),), "asset id"),
    (lambda a: (a, a), "asset id"),
])
def test_collateral_parameters_outside_the_limits_are_refused_at_configuration_time(change, message):
    asset = collateral_assets(1)[0]
    with pytest.raises(ConfigurationError, match=message):
        dataclasses.replace(BASE, assets=change(asset)).check_budget()
