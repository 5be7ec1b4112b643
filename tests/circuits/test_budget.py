"""The soundness bit budget: every variable bounded, no form can wrap around the group order."""

import dataclasses

import pytest

from circuits import ConstraintSystem, MarginLine, PublicInstrument, PublicRiskData, analyze
from circuits.examples import linear_perpetuals, options_portfolio, tiered_perpetuals
from circuits.public_data import MAX_LISTED_INSTRUMENTS
from zkclear.crypto.field import R
from zkclear.errors import ConfigurationError


def test_bounds_follow_the_coefficient_one_chain():
    cs = ConstraintSystem("t")
    u, q = cs.allocate("u"), cs.allocate("q")
    cs.assert_nonnegative(u, 32, "long")
    cs.assert_nonnegative(u - q, 32, "short")
    report = analyze(cs.finish())
    assert report.variable_bounds == ((0, 2**32 - 1), (-(2**32 - 1), 2**32 - 1))
    assert report.bounded_by == ("long", "short")


def test_margin_forms_alone_do_not_bound_a_position():
    # m >= k·q and m >= -k·q with k = 2: q only appears with coefficient ±2, so q·2 is bounded but q
    # could be (odd integer)/2 mod r, a huge residue. The analysis must refuse it.
    cs = ConstraintSystem("t")
    q, m = cs.allocate("q"), cs.allocate("m")
    cs.assert_nonnegative(m - 2 * q, 64, "m>=2q")
    cs.assert_nonnegative(m + 2 * q, 64, "m>=-2q")
    statement = cs.finish()
    # The attack is real: q = 1/2 mod r, m = 1 puts every form's residue in range, so range proofs
    # alone would accept a position that is not an integer number of lots.
    half = (R + 1) // 2
    assert all(0 <= c.form.evaluate([half, 1]) % R < 2**64 for c in statement.constraints)
    with pytest.raises(ConfigurationError, match="not bounded"):
        analyze(statement)


def test_a_form_that_can_wrap_is_refused():
    cs = ConstraintSystem("t")
    x, y = cs.allocate("x"), cs.allocate("y")
    cs.assert_nonnegative(x, 64, "x")
    cs.assert_nonnegative(y, 64, "y")
    cs.assert_nonnegative(x * (R // 2**60) - y, 64, "huge coefficient")
    with pytest.raises(ConfigurationError, match="wrap"):
        analyze(cs.finish())


@pytest.mark.parametrize("build, mode, bits", [
    (lambda: linear_perpetuals(8), "standard", 16 * 32 + 2 * 64),
    (lambda: tiered_perpetuals(8, tiers=4), "standard", 16 * 32 + (8 * 4 + 2) * 64),
    (lambda: options_portfolio(4, 4), "portfolio", 13 * 32 + 30 * 64),
])
def test_profiles_pass_the_budget_with_the_documented_bit_counts(build, mode, bits):
    report = build().check_budget()[mode]
    assert report.range_bits == bits
    assert report.headroom_bits > 100  # every form stays below 2^150 in magnitude


def _perp(k: int, coefficient: int = 5) -> PublicInstrument:
    return PublicInstrument(f"P{k}", 0, (MarginLine.symmetric(coefficient),))


def test_deployments_that_break_the_limits_are_refused_at_configuration_time():
    with pytest.raises(ConfigurationError, match="exceed"):
        PublicRiskData(tuple(_perp(k) for k in range(MAX_LISTED_INSTRUMENTS + 1))).check_budget()
    with pytest.raises(ConfigurationError, match="position_bits"):
        PublicRiskData((_perp(0),), position_bits=64).check_budget()
    with pytest.raises(ConfigurationError, match="long_per_lot"):
        PublicRiskData((_perp(0, coefficient=-1),)).check_budget()
    with pytest.raises(ConfigurationError, match="value_per_lot"):
        PublicRiskData((PublicInstrument("X", 2**64, ()),)).check_budget()
    with pytest.raises(ConfigurationError, match="denominator"):
        line = MarginLine(1, 1, 0, 2**32 + 1)
        PublicRiskData((PublicInstrument("X", 0, (line,)),)).check_budget()
    with pytest.raises(ConfigurationError, match="unique"):
        PublicRiskData((_perp(0), _perp(0))).check_budget()


def test_scenario_table_shape_is_checked():
    public = options_portfolio(1, 1)
    table = public.scenario_margin
    rows = (table.value_changes[0][:-1], table.value_changes[1])
    short_row = dataclasses.replace(table, value_changes=rows)
    with pytest.raises(ConfigurationError, match="scenario row"):
        dataclasses.replace(public, scenario_margin=short_row).check_budget()
    bad_groups = dataclasses.replace(table, groups=((0, 1),))
    with pytest.raises(ConfigurationError, match="partition"):
        dataclasses.replace(public, scenario_margin=bad_groups).check_budget()


def test_worst_case_deployment_keeps_115_bits_of_headroom():
    from circuits import ScenarioMargin
    from circuits.public_data import MAX_COEFFICIENT, MAX_MARGIN_LINES

    k, denominator = MAX_COEFFICIENT, 2**32
    lines = tuple(MarginLine(k, k, -k if t == 0 else k, denominator) for t in range(MAX_MARGIN_LINES))
    instruments = tuple(PublicInstrument(f"I{j}", -k, lines, k, k) for j in range(MAX_LISTED_INSTRUMENTS))
    rows = tuple(tuple(k if (s + j) % 2 else -k for s in range(64)) for j in range(MAX_LISTED_INSTRUMENTS))
    public = PublicRiskData(instruments, ScenarioMargin(denominator, tuple((s,) for s in range(64)), rows))
    for report in public.check_budget().values():
        assert report.max_form_magnitude_bits <= 139
        assert report.headroom_bits >= 115
