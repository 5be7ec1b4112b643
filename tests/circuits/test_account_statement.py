"""Account statements agree with the clearing engine's and the risk module's margin requirements."""

import random

import pytest

from circuits import AccountWitness, account_statement
from circuits.examples import linear_perpetuals, options_portfolio, required_cash, tiered_perpetuals
from circuits.public_data import MarginLine, PublicInstrument, PublicRiskData
from zkclear.clearing.margin import DEFAULT_RISK_MODELS, MarginLevel, account_requirement
from zkclear.errors import InputError


def _random_positions(rng: random.Random, n: int, max_lots: int) -> tuple[int, ...]:
    return tuple(rng.choice((0, rng.randint(-max_lots, max_lots))) for _ in range(n))


def _engine_params(public: PublicRiskData, tiered: bool):
    from circuits.examples import tier_table
    from zkclear.clearing.margin import InstrumentRisk, RiskParameters

    table = tier_table(4) if tiered else ()
    model, fraction = ("tiered", 4_000) if tiered else ("linear", 5_000)
    instruments = tuple(InstrumentRisk(f"PERP-{k}", "perpetual", 100_000 + 1_000 * k, 1_000, 10_000,
                                       fraction, model, table, table)
                        for k in range(len(public.instruments)))
    return RiskParameters(1, instruments, 10_000, 100_000)


@pytest.mark.parametrize("tiered", [False, True])
def test_standard_requirement_equals_the_clearing_engine(tiered):
    public = tiered_perpetuals(4) if tiered else linear_perpetuals(4)
    params = _engine_params(public, tiered)
    rng = random.Random(7)
    for _ in range(40):
        positions = _random_positions(rng, 4, 5_000_000)
        engine = account_requirement(positions, params, DEFAULT_RISK_MODELS, MarginLevel.MAINTENANCE)
        # v_j = 0 for perpetuals, so the least equity is the least cash.
        assert required_cash(public, positions) == engine


def test_portfolio_requirement_equals_the_risk_module():
    from zkclear.risk.portfolio_margin import portfolio_margin

    public = options_portfolio(2, 4)
    table = _table(public)
    rng = random.Random(11)
    for _ in range(30):
        positions = _random_positions(rng, 6, 200)
        statement = account_statement(public, "portfolio")
        least_equity = required_cash(public, positions, "portfolio") + statement.equity.evaluate(
            [0, *positions, *([0] * len(statement.witnesses))])
        assert least_equity == max(portfolio_margin(table, positions).maintenance_margin, 0)


def _table(public):
    from zkclear.risk.options import OptionSpec, OptionType
    from zkclear.risk.scenarios import LinearRiskInput, OptionRiskInput, ScenarioGrid, build_scenario_table

    # Rebuild the same table the example used (same inputs), to compare with the reference formula.
    valuation, expiry = 1_700_000_000, 1_700_000_000 + 30 * 86_400
    inputs = [LinearRiskInput(f"PERP-{k}", "BTC", 100_000, 1_000) for k in range(2)]
    for k in range(4):
        kind = OptionType.CALL if k % 2 == 0 else OptionType.PUT
        spec = OptionSpec(f"OPT-{k}", "BTC", kind, 100_000 + (k // 2 - 3 // 4) * 5_000, expiry, 1_000)
        inputs.append(OptionRiskInput(spec, 100_000, 600_000, valuation))
    table = build_scenario_table(inputs, ScenarioGrid(extreme_multiple=0))
    assert tuple(tuple(row) for row in table.value_changes) == public.scenario_margin.value_changes
    return table


def test_rounding_with_a_denominator_is_the_rational_requirement():
    # A line 1/3 settlement unit per lot: the statement proves S·W >= Σ lines with W = ceil(Σ / S).
    line = MarginLine.symmetric(1, 0, 3)
    public = PublicRiskData((PublicInstrument("A", 0, (line,)), PublicInstrument("B", 0, (line,))))
    assert public.scale == 3
    assert required_cash(public, (1, -1)) == 1  # ceil(2/3); the engine's per-position ceil would be 2
    assert required_cash(public, (3, 0)) == 1
    assert required_cash(public, (0, 0)) == 0


def test_every_listed_instrument_has_a_position_variable_and_equity_counts_option_values():
    public = options_portfolio(1, 2)
    statement = account_statement(public, "portfolio")
    assert len(statement.positions) == 3
    v = public.value_per_lot
    assert v[0] == 0 and v[1] > 0 and v[2] > 0
    values = statement.assign(AccountWitness(5, (1, 2, -1), "portfolio"))
    assert statement.equity.evaluate(values) == 5 + 2 * v[1] - v[2]


def test_malformed_witnesses_are_input_errors():
    public = linear_perpetuals(2)
    statement = account_statement(public, "standard")
    with pytest.raises(InputError, match="positions"):
        statement.assign(AccountWitness(0, (1,)))
    with pytest.raises(InputError, match="margin mode"):
        AccountWitness(0, (0, 0), "cross")
    with pytest.raises(InputError):
        statement.assign(AccountWitness(0, (0, 0), "portfolio"))


def test_margin_line_reduction_keeps_the_requirement():
    line = MarginLine.symmetric(6_000_000, 2_000_000, 1_000_000)
    assert line.reduced() == MarginLine(6, 6, 2, 1)
    assert all(line.requirement(q) == line.reduced().requirement(q) for q in range(-5, 6))
