"""The named integer roundings: each rounds the way its name says, exactly, for every sign."""

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkclear.errors import ConfigurationError
from zkclear.risk.rounding import ceil_div, div_away_from_zero, float_ceil, float_to_ppm_ceil, floor_div

integers = st.integers(min_value=-(10**30), max_value=10**30)
denominators = st.integers(min_value=1, max_value=10**12)


@given(integers, denominators)
def test_integer_divisions_round_as_named(numerator, denominator):
    exact = Fraction(numerator, denominator)
    assert ceil_div(numerator, denominator) == math.ceil(exact)
    assert floor_div(numerator, denominator) == math.floor(exact)
    away = div_away_from_zero(numerator, denominator)
    assert abs(away) == math.ceil(abs(exact)) and (away == 0 or (away > 0) == (exact > 0))


def test_ppm_rounding_is_up_but_ignores_float_noise():
    assert float_to_ppm_ceil(0.05) == 50_000  # 0.05 * 1e6 = 50000.000000000007 in binary
    assert float_to_ppm_ceil(0.0500001) == 50_001  # 50000.1 -> up to 50001
    assert float_to_ppm_ceil(0.0) == 0
    with pytest.raises(ConfigurationError):
        float_to_ppm_ceil(-0.1)
    with pytest.raises(ConfigurationError):
        float_to_ppm_ceil(float("nan"))


def test_money_from_a_non_finite_float_is_refused():
    assert float_ceil(-0.5) == 0 and float_ceil(2.0000001) == 3
    with pytest.raises(ConfigurationError):
        float_ceil(float("inf"))
    with pytest.raises(ConfigurationError):
        ceil_div(1, 0)
