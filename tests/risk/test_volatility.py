"""EWMA and GARCH(1,1) estimates on seeded synthetic series whose parameters are known."""

import math

import numpy as np
import pytest

from zkclear.errors import ConfigurationError, InputError
from zkclear.risk.volatility import (
    GarchParameters,
    ewma_variance_path,
    ewma_volatility,
    fit_garch,
    garch_horizon_variance,
    garch_log_likelihood,
    log_returns,
    nelder_mead,
    simulate_garch,
)

TRUE = GarchParameters(omega=2e-6, alpha=0.08, beta=0.90)


def test_ewma_recursion_by_hand():
    path = ewma_variance_path([0.01, -0.02, 0.03], decay=0.9, seed_window=2)
    seed = (0.01**2 + 0.02**2) / 2
    first = 0.9 * seed + 0.1 * 0.01**2
    second = 0.9 * first + 0.1 * 0.02**2
    third = 0.9 * second + 0.1 * 0.03**2
    assert path.tolist() == pytest.approx([first, second, third], rel=1e-15)


def test_ewma_recovers_a_constant_volatility():
    returns = np.random.default_rng(1).normal(0.0, 0.02, size=5000)
    path = np.sqrt(ewma_variance_path(returns))
    assert float(np.mean(path[100:])) == pytest.approx(0.02, rel=0.03)
    assert ewma_volatility(returns) == pytest.approx(0.02, rel=0.35)  # one reading: ~33-return window


def test_ewma_rises_within_days_of_a_volatility_regime_change():
    rng = np.random.default_rng(2)
    returns = np.concatenate([rng.normal(0, 0.01, 500), rng.normal(0, 0.04, 30)])
    path = np.sqrt(ewma_variance_path(returns))
    assert path[499] < 0.015
    assert path[-1] > 2.0 * path[499]


@pytest.mark.parametrize("seed", [11, 12])
def test_garch_maximum_likelihood_recovers_known_parameters(seed):
    returns = simulate_garch(TRUE, 4000, seed=seed)
    fit = fit_garch(returns)
    assert fit.converged
    assert fit.parameters.alpha == pytest.approx(TRUE.alpha, abs=0.03)
    assert fit.parameters.beta == pytest.approx(TRUE.beta, abs=0.04)
    assert fit.parameters.persistence == pytest.approx(TRUE.persistence, abs=0.02)
    assert math.sqrt(fit.parameters.long_run_variance) == pytest.approx(
        math.sqrt(TRUE.long_run_variance), rel=0.2
    )
    # The optimum is a maximum: the true parameters are no more likely than the fit.
    assert fit.log_likelihood >= garch_log_likelihood(TRUE, returns) - 1e-6


def test_garch_horizon_variance_reverts_to_the_long_run():
    high = 4 * TRUE.long_run_variance
    one = garch_horizon_variance(TRUE, high, 1)
    assert one == pytest.approx(high)
    ten = garch_horizon_variance(TRUE, high, 10)
    assert TRUE.long_run_variance * 10 < ten < high * 10


def test_garch_refuses_short_or_flat_histories_and_bad_parameters():
    with pytest.raises(InputError):
        fit_garch(np.zeros(50))
    with pytest.raises(InputError):
        fit_garch(np.zeros(500))
    with pytest.raises(ConfigurationError):
        GarchParameters(omega=1e-6, alpha=0.5, beta=0.5)


def test_nelder_mead_minimises_a_quadratic():
    x, value, _, converged = nelder_mead(lambda v: (v[0] - 3.0) ** 2 + 10 * (v[1] + 1.0) ** 2, [0.0, 0.0])
    assert converged and value < 1e-10
    assert x.tolist() == pytest.approx([3.0, -1.0], abs=1e-4)


def test_log_returns_need_positive_prices():
    assert log_returns([100, 110]).tolist() == pytest.approx([math.log(1.1)])
    with pytest.raises(InputError):
        log_returns([100, 0, 10])
