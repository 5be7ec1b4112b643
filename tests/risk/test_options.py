"""European options: integer marks (rounded up), premium, expiry payoff and cash settlement."""

import pytest

from zkclear.errors import ClearingError, ConfigurationError, InputError
from zkclear.risk.black76 import black76_price
from zkclear.risk.options import (
    SECONDS_PER_YEAR,
    ImpliedVolatilityQuote,
    OptionSpec,
    OptionType,
    PositionCharge,
    VolatilitySurface,
    expiry_payoff_per_lot,
    option_mark,
    premium_cash_flow,
    settle_expiry,
    standard_option_charge,
)

NOW = 1_700_000_000
QUARTER = NOW + SECONDS_PER_YEAR // 4


def spec(option_type=OptionType.CALL, strike=1000, expiry=QUARTER, multiplier=100):
    return OptionSpec(f"BTC-{option_type.value}-{strike}", "BTC", option_type, strike, expiry, multiplier)


def test_mark_is_black76_rounded_up_to_a_settlement_unit():
    mark = option_mark(spec(), 1000, 500_000, NOW)
    model = black76_price(1000.0, 1000.0, 0.5, 0.25, is_call=True) * 100
    assert mark.model_value_per_lot == pytest.approx(model, rel=1e-12)
    assert mark.value_per_lot == 9948  # 9947.64... rounded up
    assert mark.value_per_lot - 1 < mark.model_value_per_lot <= mark.value_per_lot
    assert mark.mark_price_ticks == 100  # 99.476 ticks rounded up to a whole tick
    assert mark.delta_per_lot == pytest.approx(100 * 0.5497, abs=0.01)


@pytest.mark.parametrize("forward,vol", [(700, 300_000), (1000, 1_200_000), (1300, 50_000), (999, 10_000)])
def test_short_liability_is_never_understated(forward, vol):
    for option_type in OptionType:
        mark = option_mark(spec(option_type), forward, vol, NOW)
        assert mark.value_per_lot >= mark.model_value_per_lot
        assert mark.value_per_lot - 1 < mark.model_value_per_lot
        assert mark.mark_price_ticks * 100 >= mark.model_value_per_lot


def test_mark_at_expiry_is_exact_intrinsic_value():
    expired = spec(OptionType.PUT, strike=1000, expiry=NOW)
    mark = option_mark(expired, 930, 500_000, NOW + 10)
    assert mark.value_per_lot == 70 * 100 and mark.mark_price_ticks == 70 and mark.years_to_expiry == 0.0


def test_premium_is_exact_and_paid_by_the_buyer():
    assert premium_cash_flow(price_ticks=123, quantity_lots=7, contract_multiplier=100) == -86_100
    with pytest.raises(InputError):
        premium_cash_flow(price_ticks=-1, quantity_lots=1, contract_multiplier=100)


def test_expiry_payoff_is_intrinsic_times_multiplier():
    assert expiry_payoff_per_lot(spec(OptionType.CALL), 1250) == 250 * 100
    assert expiry_payoff_per_lot(spec(OptionType.CALL), 900) == 0
    assert expiry_payoff_per_lot(spec(OptionType.PUT), 900) == 100 * 100
    with pytest.raises(InputError):
        expiry_payoff_per_lot(spec(), 0)


def test_settlement_conserves_cash_and_pays_longs():
    positions = {"alice": 5, "bob": -3, "carol": -2, "dave": 0}
    settlement = settle_expiry(spec(OptionType.PUT), 800, positions)
    assert settlement.payoff_per_lot == 20_000
    assert dict(settlement.cash_flows) == {"alice": 100_000, "bob": -60_000, "carol": -40_000}
    assert sum(amount for _, amount in settlement.cash_flows) == 0


def test_settlement_refuses_an_unmatched_book():
    with pytest.raises(ClearingError):
        settle_expiry(spec(), 1200, {"alice": 5, "bob": -4})


def test_volatility_surface_requires_a_quote_per_series():
    surface = VolatilitySurface((ImpliedVolatilityQuote("BTC", QUARTER, 1000, 550_000),))
    assert surface.volatility_ppm(spec()) == 550_000
    with pytest.raises(InputError):
        surface.volatility_ppm(spec(strike=1100))
    with pytest.raises(InputError):
        VolatilitySurface((ImpliedVolatilityQuote("BTC", QUARTER, 1000, 1),) * 2)
    with pytest.raises(InputError):
        ImpliedVolatilityQuote("BTC", QUARTER, 1000, 0)


def test_spec_validation():
    with pytest.raises(ConfigurationError):
        OptionSpec("X", "BTC", OptionType.CALL, 0, QUARTER, 100)
    with pytest.raises(ConfigurationError):
        OptionSpec("X", "BTC", OptionType.CALL, 100, QUARTER, 0)
    assert OptionSpec("X", "BTC", "put", 100, QUARTER, 1).option_type is OptionType.PUT


def test_position_charge_is_linear_on_each_side():
    charge = PositionCharge(long_per_lot=1, short_per_lot=1000)
    assert charge.charge(7) == 7 and charge.charge(-7) == 7000 and charge.charge(0) == 0


def test_standard_short_option_charge_reduces_out_of_the_money_and_floors():
    # 15% of F = 150 ticks; a 1100 call is 100 ticks OTM at F = 1000 -> 50 ticks; floor 10% -> 100 ticks.
    otm = standard_option_charge(
        spec(OptionType.CALL, strike=1100), 1000, maintenance_ppm=150_000, minimum_ppm=100_000
    )
    assert otm == PositionCharge(long_per_lot=1, short_per_lot=100 * 100)
    itm = standard_option_charge(
        spec(OptionType.CALL, strike=900), 1000, maintenance_ppm=150_000, minimum_ppm=100_000
    )
    assert itm.short_per_lot == 150 * 100


def test_standard_long_option_charge_haircuts_its_value():
    # By default a long option's value is not collateral for anything else; a partial haircut rounds up.
    full = standard_option_charge(
        spec(), 1000, maintenance_ppm=150_000, minimum_ppm=100_000, value_per_lot=9948
    )
    assert full.long_per_lot == 9948
    half = standard_option_charge(
        spec(),
        1000,
        maintenance_ppm=150_000,
        minimum_ppm=100_000,
        value_per_lot=9947,
        long_haircut_ppm=500_000,
    )
    assert half.long_per_lot == 4974  # ceil(4973.5)
    worthless = standard_option_charge(spec(), 1000, maintenance_ppm=150_000, minimum_ppm=100_000)
    assert worthless.long_per_lot == 1  # the rounding charge remains
