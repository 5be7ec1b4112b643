"""Black-76 prices and Greeks against textbook values, parity and finite differences."""

import math

import pytest

from zkclear.errors import ConfigurationError
from zkclear.risk.black76 import black76_greeks, black76_price, normal_cdf


def test_hull_futures_put_example_is_1_12():
    # Hull, Options Futures and Other Derivatives, Black's model example: F0 = K = 20, r = 9%,
    # T = 4 months, sigma = 25% -> put = 1.12.
    price = black76_price(20.0, 20.0, 0.25, 4.0 / 12.0, is_call=False, rate=0.09)
    assert round(price, 2) == 1.12
    assert price == pytest.approx(1.11664, abs=1e-5)


def test_haug_black76_example_is_1_7011():
    # Haug, The Complete Guide to Option Pricing Formulas: F = K = 19, T = 0.75, r = 10%, sigma = 28%.
    call = black76_price(19.0, 19.0, 0.28, 0.75, is_call=True, rate=0.10)
    put = black76_price(19.0, 19.0, 0.28, 0.75, is_call=False, rate=0.10)
    assert call == pytest.approx(1.7011, abs=5e-5)
    assert put == pytest.approx(call, abs=1e-12)  # at the money forward: call == put


def test_at_the_money_closed_form():
    # F = K: call = D * F * (2 N(sigma sqrt(T) / 2) - 1).
    price = black76_price(100.0, 100.0, 0.2, 1.0, is_call=True)
    assert price == pytest.approx(100.0 * (2.0 * normal_cdf(0.1) - 1.0), rel=1e-14)
    assert price == pytest.approx(7.965567, abs=1e-6)


@pytest.mark.parametrize(
    "forward,strike,vol,years,rate",
    [
        (100.0, 80.0, 0.5, 0.25, 0.0),
        (100.0, 130.0, 0.8, 2.0, 0.05),
        (3000.0, 2900.0, 0.65, 7 / 365, 0.01),
        (1.0, 1.5, 0.1, 0.01, 0.0),
    ],
)
def test_put_call_parity(forward, strike, vol, years, rate):
    call = black76_price(forward, strike, vol, years, is_call=True, rate=rate)
    put = black76_price(forward, strike, vol, years, is_call=False, rate=rate)
    assert call - put == pytest.approx(math.exp(-rate * years) * (forward - strike), abs=1e-9 * forward)


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_match_finite_differences(is_call):
    forward, strike, vol, years, rate = 105.0, 100.0, 0.35, 0.5, 0.03
    greeks = black76_greeks(forward, strike, vol, years, is_call=is_call, rate=rate)

    def price(f=forward, v=vol, t=years, r=rate):
        return black76_price(f, strike, v, t, is_call=is_call, rate=r)

    h = 1e-4
    assert greeks.delta == pytest.approx((price(f=forward + h) - price(f=forward - h)) / (2 * h), rel=1e-6)
    assert greeks.gamma == pytest.approx(
        (price(f=forward + 1e-2) - 2 * price() + price(f=forward - 1e-2)) / 1e-4, rel=1e-4
    )
    assert greeks.vega == pytest.approx((price(v=vol + h) - price(v=vol - h)) / (2 * h), rel=1e-6)
    # theta is dV/d(calendar time) = -dV/dT.
    assert greeks.theta == pytest.approx(-(price(t=years + h) - price(t=years - h)) / (2 * h), rel=1e-5)
    assert greeks.rho == pytest.approx((price(r=rate + h) - price(r=rate - h)) / (2 * h), rel=1e-5)


def test_call_delta_minus_put_delta_is_discount_factor():
    call = black76_greeks(90.0, 100.0, 0.4, 1.5, is_call=True, rate=0.02)
    put = black76_greeks(90.0, 100.0, 0.4, 1.5, is_call=False, rate=0.02)
    assert call.delta - put.delta == pytest.approx(math.exp(-0.02 * 1.5), abs=1e-12)
    assert call.gamma == pytest.approx(put.gamma) and call.vega == pytest.approx(put.vega)


def test_at_expiry_value_is_intrinsic():
    assert black76_price(120.0, 100.0, 0.5, 0.0, is_call=True) == 20.0
    assert black76_price(120.0, 100.0, 0.5, -1.0, is_call=False) == 0.0
    assert black76_price(80.0, 100.0, 0.0, 1.0, is_call=False) == 20.0


def test_deep_out_of_the_money_is_never_negative():
    assert black76_price(100.0, 1e6, 0.2, 0.1, is_call=True) == 0.0
    assert black76_price(1e6, 1.0, 0.2, 0.1, is_call=False) >= 0.0


@pytest.mark.parametrize(
    "args",
    [
        (0.0, 100.0, 0.2, 1.0),
        (100.0, -1.0, 0.2, 1.0),
        (100.0, 100.0, -0.1, 1.0),
        (float("nan"), 100.0, 0.2, 1.0),
    ],
)
def test_invalid_inputs_are_rejected(args):
    with pytest.raises(ConfigurationError):
        black76_price(*args, is_call=True)
