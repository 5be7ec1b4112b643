"""Portfolio (scenario) margin: a hand-worked hedged short straddle, the batch path, the linear forms.

Hand-worked example (every number below is asserted in the tests):

Underlying BTC, forward F = 1000 ticks, contract multiplier 100 settlement units per tick per lot.
A call and a put, strike K = 1000, T = 0.25 years, sigma = 50%, r = 0. Black-76 gives
C = P = 99.47645 ticks = 9947.645 units per lot, so the mark is v = ceil(9947.645) = 9948.

Grid: scan 10%, 3 price steps (-10%, 0, +10%) x vol {+20%, flat}, extremes -30% / +30% (vol flat)
counted at 35/100; scale S = 100. Black-76 values per lot (units) at the shocked points:

    F = 900,  sigma 60%: C  7012.88  P 17012.88      F = 900,  sigma 50%: C  5272.06  P 15272.06
    F = 1000, sigma 60%: C 11923.54  P 11923.54      F = 1000, sigma 50%: C  9947.64  P  9947.64
    F = 1100, sigma 60%: C 18141.01  P  8141.01      F = 1100, sigma 50%: C 16190.43  P  6190.43
    F = 700,  sigma 50%: C   718.96  P 30718.96      F = 1300, sigma 50%: C 32148.64  P  2148.64

Table E[j][s] = ceil(w * (V_s - 9948)) for options, w * (P_s - P) * 100 for the perp (w = 100 or 35):

    scenario   (-10,up) (-10,flat)  (0,up)  (0,flat) (+10,up) (+10,flat)  (-30)x.35  (+30)x.35
    perp      -1000000  -1000000       0        0   1000000   1000000   -1050000    1050000
    call       -293512   -467594  197554      -35    819302    624243    -323016     777023
    put         706488    532406  197554      -35   -180698   -375757     726984    -272977

Portfolio: short 10 calls, short 10 puts (a short straddle, delta -0.995 lots) hedged by 1 long perp lot.
loss_s = -sum_j q_j E[j][s] = -E[perp][s] + 10 (E[call][s] + E[put][s]):

    5129760  1648120  3951080  -700  5386040  1484860  5089680  3990460

The worst is scenario 4 (+10%, vol up): ceil(5386040 / 100) = 53861. Short-option minimum: 1% of
F * multiplier = 1000 units per short lot, 20 short lots = 20000. Maintenance margin = 73861.
Without the perp the worst is also +10%/vol up, 6386040 -> 63861 + 20000 = 83861: the hedge saves 10000.
"""

import numpy as np
import pytest

from zkclear.errors import ConfigurationError
from zkclear.risk.black76 import black76_price
from zkclear.risk.options import SECONDS_PER_YEAR, OptionSpec, OptionType
from zkclear.risk.portfolio_margin import (
    PortfolioMarginWitness,
    batch_path,
    minimal_witness,
    portfolio_margin,
    portfolio_margin_batch,
    portfolio_margin_forms,
    scenario_losses,
)
from zkclear.risk.scenarios import (
    LinearRiskInput,
    OptionRiskInput,
    ScenarioGrid,
    build_scenario_table,
)

NOW = 1_700_000_000
EXPIRY = NOW + SECONDS_PER_YEAR // 4
CALL = OptionSpec("BTC-C-1000", "BTC", OptionType.CALL, 1000, EXPIRY, 100)
PUT = OptionSpec("BTC-P-1000", "BTC", OptionType.PUT, 1000, EXPIRY, 100)
GRID = ScenarioGrid(
    scan_range_ppm=100_000,
    price_steps=3,
    volatility_shifts_ppm=(200_000, 0),
    extreme_multiple=3,
    extreme_weight=35,
    scale=100,
)


@pytest.fixture(scope="module")
def table():
    instruments = [
        LinearRiskInput("BTC-PERP", "BTC", 1000, 100),
        OptionRiskInput(CALL, 1000, 500_000, NOW),
        OptionRiskInput(PUT, 1000, 500_000, NOW),
    ]
    return build_scenario_table(instruments, GRID, short_option_minimum_ppm=10_000)


def test_hand_worked_table_matches_the_docstring(table):
    assert [(s.price_move_ppm, s.volatility_shift_ppm, s.weight) for s in table.scenarios] == [
        (-100_000, 200_000, 100),
        (-100_000, 0, 100),
        (0, 200_000, 100),
        (0, 0, 100),
        (100_000, 200_000, 100),
        (100_000, 0, 100),
        (-300_000, 0, 35),
        (300_000, 0, 35),
    ]
    assert table.value_changes == (
        (-1000000, -1000000, 0, 0, 1000000, 1000000, -1050000, 1050000),
        (-293512, -467594, 197554, -35, 819302, 624243, -323016, 777023),
        (706488, 532406, 197554, -35, -180698, -375757, 726984, -272977),
    )
    assert table.mark_values == (0, 9948, 9948)
    assert [(c.long_per_lot, c.short_per_lot) for c in table.position_charges] == [
        (0, 0),
        (1, 1000),
        (1, 1000),
    ]
    # The table's option values are Black-76 (one entry recomputed independently).
    shocked = black76_price(1100.0, 1000.0, 0.6, 0.25, is_call=True) * 100
    assert table.value_changes[1][4] == -int(-(100 * (shocked - 9948)) // 1)


def test_hedged_short_straddle_margin_is_73861(table):
    result = portfolio_margin(table, {"BTC-PERP": 1, "BTC-C-1000": -10, "BTC-P-1000": -10})
    assert result.scenario_losses == (5129760, 1648120, 3951080, -700, 5386040, 1484860, 5089680, 3990460)
    assert result.worst_by_underlying == (("BTC", 4, 5386040),)
    assert result.scenario_margin == 53861
    assert result.position_charge == 20000
    assert result.maintenance_margin == 73861
    assert result.initial_margin == 92327  # ceil(73861 * 1.25)


def test_the_perp_hedge_lowers_the_requirement(table):
    naked = portfolio_margin(table, [0, -10, -10])
    assert naked.scenario_margin == 63861 and naked.maintenance_margin == 83861


def test_flat_account_and_all_gain_account_need_nothing(table):
    assert portfolio_margin(table, [0, 0, 0]).maintenance_margin == 0
    result = portfolio_margin(table, [0, 0, 0])
    assert result.worst_by_underlying == (("BTC", -1, 0),)


def test_long_option_scenario_loss_never_exceeds_its_mark(table):
    # A long option can lose at most its premium: every loss_s <= S * v (up to the documented rounding).
    losses = scenario_losses(table, [0, 1, 0])
    assert max(losses) <= 100 * 9948


def test_the_linear_forms_pass_exactly_at_the_requirement(table):
    positions = [1, -10, -10]
    witness = minimal_witness(table, positions)
    assert witness.worst_by_group == (5386040,) and witness.charges == (0, 10000, 10000)
    assert all(value >= 0 for _, value in portfolio_margin_forms(table, 73861, positions, witness))
    failing = dict(portfolio_margin_forms(table, 73860, positions, witness))
    assert failing["S*(equity-sum m)-sum w"] < 0


def test_no_witness_lets_an_undercollateralized_account_pass(table):
    # Any witness that satisfies the per-scenario and per-position forms is at least the minimal one, which
    # makes the last form only smaller: an operator cannot choose witnesses to pass an account below margin.
    positions = [1, -10, -10]
    rng = np.random.default_rng(7)
    minimal = minimal_witness(table, positions)
    for _ in range(200):
        candidate = PortfolioMarginWitness(
            worst_by_group=tuple(int(w + rng.integers(-50_000, 50_000)) for w in minimal.worst_by_group),
            charges=tuple(int(m + rng.integers(-500, 500)) for m in minimal.charges),
        )
        forms = portfolio_margin_forms(table, 73860, positions, candidate)
        assert min(value for _, value in forms) < 0


def test_batch_equals_reference_for_random_portfolios(table):
    rng = np.random.default_rng(11)
    positions = rng.integers(-50, 51, size=(300, 3))
    batch = portfolio_margin_batch(table, positions)
    assert batch.dtype == np.int64
    assert [int(x) for x in batch] == [
        portfolio_margin(table, list(map(int, row))).maintenance_margin for row in positions
    ]


def test_batch_falls_back_to_exact_ints_when_int64_could_overflow(table):
    huge = 2**61
    positions = np.array([[huge, -huge, 0], [1, -10, -10]], dtype=object)
    batch = portfolio_margin_batch(table, positions)
    assert batch.dtype == object
    assert batch[0] == portfolio_margin(table, [huge, -huge, 0]).maintenance_margin
    assert batch[1] == 73861


def test_two_underlyings_add_their_worst_losses():
    grid = ScenarioGrid(scan_range_ppm=100_000, price_steps=3, volatility_shifts_ppm=(0,), extreme_multiple=0)
    table = build_scenario_table(
        [LinearRiskInput("BTC-PERP", "BTC", 1000, 100), LinearRiskInput("ETH-PERP", "ETH", 500, 10)], grid
    )
    # Long BTC and short ETH: no cross-underlying offset; each underlying's worst move is charged.
    result = portfolio_margin(table, [1, -1])
    assert result.worst_by_underlying == (("BTC", 0, 100 * 100 * 100), ("ETH", 5, 100 * 50 * 10))
    assert result.maintenance_margin == 10000 + 500


def test_every_exact_path_gives_the_same_requirements(table):
    rng = np.random.default_rng(12)
    positions = rng.integers(-1000, 1001, size=(500, 3))
    assert batch_path(table, positions) == "float64"
    results = [portfolio_margin_batch(table, positions, path=p) for p in ("float64", "int64", "object")]
    assert [int(x) for x in results[0]] == [int(x) for x in results[1]] == [int(x) for x in results[2]]


def test_a_path_the_bound_check_refuses_cannot_be_forced(table):
    positions = np.array([[2**40, -(2**40), 0]], dtype=np.int64)
    assert batch_path(table, positions) == "int64"
    with pytest.raises(ConfigurationError):
        portfolio_margin_batch(table, positions, path="float64")
    assert int(portfolio_margin_batch(table, positions)[0]) == portfolio_margin(
        table, [2**40, -(2**40), 0]).maintenance_margin
