"""The scenario grid and the public integer table: shape, rounding direction, encoding."""

import numpy as np
import pytest

from zkclear.errors import ConfigurationError, EncodingError
from zkclear.risk.options import OptionSpec, OptionType, option_model_value_per_lot
from zkclear.risk.portfolio_margin import portfolio_margin
from zkclear.risk.scenarios import (
    LinearRiskInput,
    OptionRiskInput,
    ScenarioGrid,
    ScenarioTable,
    build_scenario_table,
    shocked_price_ticks,
    shocked_volatility_ppm,
)

NOW = 1_700_000_000


def test_default_grid_is_nine_moves_by_three_vols_plus_two_extremes():
    grid = ScenarioGrid()
    assert grid.price_moves_ppm() == (
        -160_000,
        -120_000,
        -80_000,
        -40_000,
        0,
        40_000,
        80_000,
        120_000,
        160_000,
    )
    scenarios = grid.scenarios_for("BTC")
    assert len(scenarios) == 9 * 3 + 2
    assert [(s.price_move_ppm, s.weight) for s in scenarios[-2:]] == [(-480_000, 35), (480_000, 35)]
    assert {s.volatility_shift_ppm for s in scenarios[:-2]} == {250_000, 0, -250_000}


def test_moves_and_shocked_prices_round_away_from_zero():
    assert ScenarioGrid(scan_range_ppm=100_000, price_steps=4).price_moves_ppm() == (
        -100_000,
        -33_334,
        33_334,
        100_000,
    )
    assert shocked_price_ticks(999, -160_000) == 839  # 999 * 0.84 = 839.16 -> down to 839
    assert shocked_price_ticks(999, 160_000) == 1159  # 1158.84 -> up to 1159
    assert shocked_price_ticks(1, -950_000) == 1  # never below one tick
    assert shocked_volatility_ppm(333_333, -250_000) == 249_999  # 249999.75 -> away from sigma


def test_linear_entries_are_exact_weighted_price_changes():
    table = build_scenario_table([LinearRiskInput("PERP", "BTC", 999, 7)], ScenarioGrid())
    for scenario, entry in zip(table.scenarios, table.value_changes[0], strict=True):
        assert entry == scenario.weight * (shocked_price_ticks(999, scenario.price_move_ppm) - 999) * 7


def random_book(seed, tick_rounded=False):
    rng = np.random.default_rng(seed)
    instruments = [LinearRiskInput("PERP", "BTC", 30_000, 10)]
    for k in range(8):
        spec = OptionSpec(
            f"O{k}",
            "BTC",
            OptionType.CALL if k % 2 else OptionType.PUT,
            int(rng.integers(20_000, 40_000)),
            NOW + int(rng.integers(1, 200)) * 86_400,
            10,
        )
        instruments.append(
            OptionRiskInput(
                spec, 30_000, int(rng.integers(200_000, 1_500_000)), NOW, tick_rounded_mark=tick_rounded
            )
        )
    return instruments


@pytest.mark.parametrize("tick_rounded", [False, True])
def test_integer_requirement_is_conservative_against_the_float_model(tick_rounded):
    # An account holding exactly the integer requirement must be solvent in every scenario of the float model
    # (values not rounded) after paying the short-option minimum: rounding never favours the account.
    instruments = random_book(3, tick_rounded)
    table = build_scenario_table(instruments, ScenarioGrid())
    rng = np.random.default_rng(5)
    for _ in range(60):
        q = [int(x) for x in rng.integers(-20, 21, size=len(instruments))]
        requirement = portfolio_margin(table, q).maintenance_margin
        cash = requirement - sum(v * quantity for v, quantity in zip(table.mark_values, q, strict=True))
        short_minimum = sum(
            max(0, -quantity) * c.short_per_lot for c, quantity in zip(table.position_charges, q, strict=True)
        )
        for scenario in table.scenarios:
            value = float(cash)
            for instrument, quantity in zip(instruments, q, strict=True):
                weight = scenario.weight / table.scale
                if isinstance(instrument, LinearRiskInput):
                    change = (shocked_price_ticks(30_000, scenario.price_move_ppm) - 30_000) * 10
                    value += quantity * weight * change
                    continue
                base = option_model_value_per_lot(instrument.spec, 30_000, instrument.volatility_ppm, NOW)
                shocked = option_model_value_per_lot(
                    instrument.spec,
                    shocked_price_ticks(30_000, scenario.price_move_ppm),
                    shocked_volatility_ppm(instrument.volatility_ppm, scenario.volatility_shift_ppm),
                    NOW,
                )
                value += quantity * (base + weight * (shocked - base))
            assert value - short_minimum >= -1e-6


def test_canonical_encoding_is_deterministic_and_binds_every_entry():
    instruments = random_book(9)
    table = build_scenario_table(instruments, ScenarioGrid())
    again = build_scenario_table(instruments, ScenarioGrid())
    assert table.encode() == again.encode() and table.digest() == again.digest()
    assert all(type(entry) is int for row in table.canonical()[5] for entry in row)
    rows = [list(row) for row in table.value_changes]
    rows[3][7] += 1
    tampered = ScenarioTable(
        table.instrument_ids,
        table.instrument_underlyings,
        table.scenarios,
        tuple(tuple(row) for row in rows),
        table.mark_values,
        table.position_charges,
        table.scale,
    )
    assert tampered.digest() != table.digest()
    assert table.as_int64().shape == (9, 29)
    assert table.as_int64()[3, 7] == table.value_changes[3][7]


def test_table_refuses_non_integer_entries_and_ragged_rows():
    base = build_scenario_table([LinearRiskInput("PERP", "BTC", 100, 1)], ScenarioGrid())
    with pytest.raises(ConfigurationError):
        ScenarioTable(
            base.instrument_ids,
            base.instrument_underlyings,
            base.scenarios,
            ((1.5,) * len(base.scenarios),),
            base.mark_values,
            base.position_charges,
            base.scale,
        )
    with pytest.raises(ConfigurationError):
        ScenarioTable(
            base.instrument_ids,
            base.instrument_underlyings,
            base.scenarios,
            ((1,),),
            base.mark_values,
            base.position_charges,
            base.scale,
        )


def test_grids_with_different_scales_cannot_be_combined():
    with pytest.raises(ConfigurationError):
        build_scenario_table(
            [LinearRiskInput("A", "BTC", 100, 1), LinearRiskInput("B", "ETH", 100, 1)],
            {"BTC": ScenarioGrid(scale=100), "ETH": ScenarioGrid(scale=1000)},
        )


def test_per_underlying_scan_ranges_come_from_their_grids():
    table = build_scenario_table(
        [LinearRiskInput("A", "BTC", 1000, 1), LinearRiskInput("B", "ETH", 1000, 1)],
        {"BTC": ScenarioGrid(scan_range_ppm=160_000), "ETH": ScenarioGrid(scan_range_ppm=300_000)},
    )
    btc, eth = table.groups
    ordinary = {s for s, scenario in enumerate(table.scenarios) if scenario.weight == table.scale}
    assert max(table.value_changes[0][s] for s in btc[1] if s in ordinary) == 100 * 160
    assert max(table.value_changes[1][s] for s in eth[1] if s in ordinary) == 100 * 300
    assert max(table.value_changes[1][s] for s in eth[1]) == 35 * 900  # the extreme move, 35% of 3 x 30%
    assert all(table.value_changes[0][s] == 0 for s in eth[1])


def test_decode_round_trips_and_rejects_non_canonical_bytes():
    table = build_scenario_table(random_book(4), ScenarioGrid())
    data = table.encode()
    assert ScenarioTable.decode(data) == table
    with pytest.raises(EncodingError):
        ScenarioTable.decode(data.replace(b",", b", ", 1))  # same JSON value, other bytes
    with pytest.raises(EncodingError):
        ScenarioTable.decode(data.replace(b"zkclear/scenario-table/v1", b"zkclear/scenario-table/v0"))
    with pytest.raises(EncodingError):
        ScenarioTable.decode(b'[["zkclear/scenario-table/v1"],[100],["A"],["BTC"],[],[[1.5]],[0],[[0,0]]]')
    with pytest.raises(EncodingError):
        ScenarioTable.decode(b"\xff")
    with pytest.raises(EncodingError):  # a weight must be an integer, not a string that encodes the same way
        ScenarioTable.decode(
            b'[["zkclear/scenario-table/v1"],[100],["A"],["BTC"],[["BTC",0,0,"35"]],[[1]],[0],[[0,0]]]'
        )
