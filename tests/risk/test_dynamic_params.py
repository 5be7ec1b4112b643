"""Dynamic risk parameters: volatility-scaled margin fractions in integer ppm, rounded up, floored."""

import math

import numpy as np
import pytest

from zkclear.errors import InputError
from zkclear.risk.dynamic_params import (
    DynamicRiskConfig,
    RiskParameterSet,
    VolatilityMethod,
    compute_risk_parameters,
    parameters_from_volatility,
)
from zkclear.risk.volatility import GarchParameters, simulate_garch


def prices_from_returns(returns, start=50_000):
    return [round(start * math.exp(x)) for x in np.concatenate([[0.0], np.cumsum(returns)])]


def calm_then_rising(seed=4):
    rng = np.random.default_rng(seed)
    calm = rng.normal(0.0, 0.005, 400)
    rising = rng.normal(0.0, 1.0, 15) * np.linspace(0.01, 0.06, 15)
    return prices_from_returns(calm), prices_from_returns(np.concatenate([calm, rising]))


def test_integer_rule_rounds_every_step_up():
    config = DynamicRiskConfig(
        confidence_multiplier_ppm=3_000_000,
        maintenance_floor_ppm=30_000,
        initial_to_maintenance_ppm=1_500_000,
        scan_multiplier_ppm=4_000_000,
        scan_floor_ppm=160_000,
    )
    params = parameters_from_volatility("BTC", 7, 12_345, "ewma", 100, config)
    assert params.maintenance_ppm == 37_035  # 3 * 12345
    assert params.initial_ppm == 55_553  # ceil(37035 * 1.5) = ceil(55552.5)
    assert params.scan_range_ppm == 160_000  # 4 * 12345 = 49380 < floor
    assert parameters_from_volatility("BTC", 7, 3, "ewma", 100, config).maintenance_ppm == 30_000  # floor
    big = parameters_from_volatility("BTC", 7, 100_001, "ewma", 100, config)
    assert big.maintenance_ppm == 300_003 and big.scan_range_ppm == 400_004


def test_calm_market_sits_on_the_floor():
    calm, _ = calm_then_rising()
    params = compute_risk_parameters({"BTC": calm}, DynamicRiskConfig(), effective_epoch=401).for_underlying(
        "BTC"
    )
    assert params.method == "ewma" and params.observations == 400
    assert params.maintenance_ppm == 30_000
    assert 4_000 <= params.volatility_ppm <= 6_500  # about 0.5% per epoch, rounded up to ppm


@pytest.mark.parametrize("method", [VolatilityMethod.EWMA, VolatilityMethod.GARCH])
def test_requirement_grows_before_the_stress_when_volatility_rises(method):
    calm, rising = calm_then_rising()
    config = DynamicRiskConfig(method=method)
    before = compute_risk_parameters({"BTC": calm}, config, effective_epoch=401).for_underlying("BTC")
    after = compute_risk_parameters({"BTC": rising}, config, effective_epoch=416).for_underlying("BTC")
    assert after.method == method.value
    assert after.maintenance_ppm > 2 * before.maintenance_ppm
    assert after.scan_range_ppm >= before.scan_range_ppm == 160_000  # the scan range has its own floor
    assert after.initial_ppm >= after.maintenance_ppm


def test_garch_forecast_tracks_a_known_process():
    true = GarchParameters(omega=4e-6, alpha=0.1, beta=0.85)
    prices = prices_from_returns(simulate_garch(true, 1500, seed=21))
    config = DynamicRiskConfig(method=VolatilityMethod.GARCH, horizon_epochs=5)
    params = compute_risk_parameters({"ETH": prices}, config, effective_epoch=1).for_underlying("ETH")
    assert params.method == "garch"
    long_run_5 = math.sqrt(5 * true.long_run_variance)
    assert 0.3 * long_run_5 * 1e6 < params.volatility_ppm < 3 * long_run_5 * 1e6


def test_short_histories_fall_back_and_say_so():
    calm, _ = calm_then_rising()
    config = DynamicRiskConfig(method=VolatilityMethod.GARCH)
    result = compute_risk_parameters({"A": calm[:10], "B": calm[:100]}, config, effective_epoch=2)
    assert result.for_underlying("A").method == "floor"
    assert result.for_underlying("A").maintenance_ppm == config.maintenance_floor_ppm
    assert result.for_underlying("B").method == "ewma-fallback"


def test_parameter_set_encoding_and_records_round_trip():
    calm, rising = calm_then_rising()
    result = compute_risk_parameters({"ETH": calm, "BTC": rising}, DynamicRiskConfig(), effective_epoch=9)
    assert [p.underlying for p in result.parameters] == ["BTC", "ETH"]
    again = RiskParameterSet.from_records(9, result.to_records())
    assert again == result and again.digest() == result.digest()
    assert result.encode().startswith(b'["zkclear/risk-parameters/v1",9,[["BTC",9,"ewma",415,')


def test_price_history_must_be_positive_integer_ticks():
    with pytest.raises(InputError):
        compute_risk_parameters({"BTC": [100, 101.5]}, DynamicRiskConfig(), effective_epoch=1)
