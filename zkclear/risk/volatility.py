"""Volatility forecasts from a price history: EWMA (default) and GARCH(1,1) by maximum likelihood.

Floats are allowed here (estimation only); :mod:`zkclear.risk.dynamic_params` turns a forecast
into integer margin fractions with documented rounding.

Returns are log returns between consecutive epoch prices, ``r_t = ln(P_t / P_{t-1})``, with a
zero mean (at epoch horizons the drift is negligible next to the volatility and estimating it
adds noise). Variances are per epoch.

* EWMA (RiskMetrics): ``s2_{t+1} = lam * s2_t + (1 - lam) * r_t^2``, seeded with the mean of
  the first ``min(n, seed_window)`` squared returns.
* GARCH(1,1): ``s2_t = omega + alpha * r_{t-1}^2 + beta * s2_{t-1}``, ``s2_1`` = sample variance,
  Gaussian quasi-likelihood ``-1/2 sum (ln 2pi + ln s2_t + r_t^2 / s2_t)`` maximised by
  Nelder–Mead over an unconstrained reparametrisation that keeps ``omega > 0``,
  ``alpha, beta >= 0`` and ``alpha + beta < 1`` (so the process is stationary). scipy is not a
  dependency: the simplex search below is the textbook algorithm (Nelder & Mead 1965 with the
  standard coefficients 1, 2, 1/2, 1/2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from zkclear.errors import ConfigurationError, InputError

DEFAULT_EWMA_LAMBDA = 0.94
_MAX_PERSISTENCE = 0.9999


def log_returns(prices: Sequence[int] | Sequence[float]) -> np.ndarray:
    """Log returns of consecutive prices; InputError if a price is not positive."""
    values = np.asarray(prices, dtype=float)
    if values.ndim != 1:
        raise InputError("a price history is one-dimensional", field="prices")
    if values.size and not np.all(values > 0):
        raise InputError("prices must be positive to take log returns", field="prices")
    return np.diff(np.log(values))


def ewma_variance_path(
    returns: Sequence[float] | np.ndarray, *, decay: float = DEFAULT_EWMA_LAMBDA, seed_window: int = 20
) -> np.ndarray:
    """One-step-ahead EWMA variances: element t is the forecast for return t+1 given returns[:t+1].

    The first element seeds on the first ``min(n, seed_window)`` returns (mean of squares).
    """
    r = np.asarray(returns, dtype=float)
    if r.size == 0:
        raise InputError("EWMA needs at least one return", field="prices")
    if not 0.0 < decay < 1.0:
        raise ConfigurationError(f"EWMA decay must be in (0, 1), got {decay}")
    variance = float(np.mean(r[:seed_window] ** 2))
    path = np.empty(r.size)
    for t, value in enumerate(r):
        variance = decay * variance + (1.0 - decay) * value * value
        path[t] = variance
    return path


def ewma_volatility(
    returns: Sequence[float] | np.ndarray, *, decay: float = DEFAULT_EWMA_LAMBDA, seed_window: int = 20
) -> float:
    """EWMA forecast of next epoch's return volatility (standard deviation, per epoch)."""
    return math.sqrt(float(ewma_variance_path(returns, decay=decay, seed_window=seed_window)[-1]))


@dataclass(frozen=True, slots=True)
class GarchParameters:
    """GARCH(1,1) parameters (per-epoch variances). Guarantees omega > 0, alpha, beta >= 0, alpha+beta < 1."""

    omega: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not (self.omega > 0.0 and self.alpha >= 0.0 and self.beta >= 0.0 and self.alpha + self.beta < 1.0):
            raise ConfigurationError(f"not a stationary GARCH(1,1): {self}")

    @property
    def persistence(self) -> float:
        return self.alpha + self.beta

    @property
    def long_run_variance(self) -> float:
        return self.omega / (1.0 - self.persistence)


@dataclass(frozen=True, slots=True)
class GarchFit:
    """A maximum-likelihood fit: parameters, log-likelihood, next-epoch variance, whether NM converged."""

    parameters: GarchParameters
    log_likelihood: float
    next_variance: float
    observations: int
    evaluations: int
    converged: bool


def garch_variance_path(parameters: GarchParameters, returns: np.ndarray) -> np.ndarray:
    """Conditional variances s2_1..s2_{n+1}: element t is the variance of return t (last: the forecast)."""
    omega, alpha, beta = parameters.omega, parameters.alpha, parameters.beta
    r = np.asarray(returns, dtype=float)
    path = np.empty(r.size + 1)
    variance = float(np.mean(r * r)) if r.size else parameters.long_run_variance
    for t in range(r.size):
        path[t] = variance
        variance = omega + alpha * r[t] * r[t] + beta * variance
    path[r.size] = variance
    return path


def garch_log_likelihood(parameters: GarchParameters, returns: np.ndarray) -> float:
    """Gaussian log-likelihood of ``returns`` under ``parameters`` (variance seeded with sample variance)."""
    r = np.asarray(returns, dtype=float)
    variances = garch_variance_path(parameters, r)[:-1]
    return float(-0.5 * np.sum(np.log(2.0 * math.pi * variances) + r * r / variances))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _to_parameters(theta: Sequence[float], scale: float) -> GarchParameters:
    # omega = scale * exp(a); persistence = MAX * sigmoid(b); alpha = persistence * sigmoid(c).
    persistence = _MAX_PERSISTENCE * _sigmoid(theta[1])
    alpha = persistence * _sigmoid(theta[2])
    omega = scale * math.exp(min(max(theta[0], -50.0), 50.0))
    return GarchParameters(omega=omega, alpha=alpha, beta=persistence - alpha)


def nelder_mead(
    objective: Callable[[np.ndarray], float],
    start: Sequence[float],
    *,
    step: float = 0.5,
    x_tolerance: float = 1e-7,
    f_tolerance: float = 1e-9,
    max_evaluations: int = 4000,
) -> tuple[np.ndarray, float, int, bool]:
    """Minimise ``objective`` from ``start``; returns (x, f(x), evaluations, converged).

    Converged means the simplex shrank below ``x_tolerance`` in every coordinate and its values
    spread less than ``f_tolerance`` before ``max_evaluations``.
    """
    dimension = len(start)
    simplex = [np.asarray(start, dtype=float)]
    for i in range(dimension):
        vertex = simplex[0].copy()
        vertex[i] += step
        simplex.append(vertex)
    values = [objective(vertex) for vertex in simplex]
    evaluations = dimension + 1
    while evaluations < max_evaluations:
        order = sorted(range(dimension + 1), key=values.__getitem__)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        spread_x = max(float(np.max(np.abs(vertex - simplex[0]))) for vertex in simplex[1:])
        if spread_x <= x_tolerance and values[-1] - values[0] <= f_tolerance:
            return simplex[0], values[0], evaluations, True
        centroid = np.mean(simplex[:-1], axis=0)
        reflected = centroid + (centroid - simplex[-1])
        f_reflected = objective(reflected)
        evaluations += 1
        if values[0] <= f_reflected < values[-2]:
            simplex[-1], values[-1] = reflected, f_reflected
            continue
        if f_reflected < values[0]:
            expanded = centroid + 2.0 * (centroid - simplex[-1])
            f_expanded = objective(expanded)
            evaluations += 1
            if f_expanded < f_reflected:
                simplex[-1], values[-1] = expanded, f_expanded
            else:
                simplex[-1], values[-1] = reflected, f_reflected
            continue
        if f_reflected < values[-1]:
            contracted = centroid + 0.5 * (reflected - centroid)
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
        f_contracted = objective(contracted)
        evaluations += 1
        if f_contracted < min(f_reflected, values[-1]):
            simplex[-1], values[-1] = contracted, f_contracted
            continue
        for i in range(1, dimension + 1):
            simplex[i] = simplex[0] + 0.5 * (simplex[i] - simplex[0])
            values[i] = objective(simplex[i])
        evaluations += dimension
    best = int(np.argmin(values))
    return simplex[best], values[best], evaluations, False


def fit_garch(returns: Sequence[float] | np.ndarray, *, min_observations: int = 100) -> GarchFit:
    """Fit GARCH(1,1) by maximum likelihood (Nelder–Mead, from two starting points; the better wins).

    InputError when there are fewer than ``min_observations`` returns (a GARCH fit on a short
    history is noise; callers fall back to EWMA).
    """
    r = np.asarray(returns, dtype=float)
    if r.size < min_observations:
        raise InputError(f"GARCH needs at least {min_observations} returns, got {r.size}", field="prices")
    sample_variance = float(np.mean(r * r))
    if not sample_variance > 0.0:
        raise InputError("GARCH needs a price history that moves", field="prices")
    r_list = [float(x) for x in r]

    def negative_log_likelihood(theta: np.ndarray) -> float:
        parameters = _to_parameters(theta, sample_variance)
        omega, alpha, beta = parameters.omega, parameters.alpha, parameters.beta
        variance = sample_variance
        total = 0.0
        log = math.log
        for value in r_list:
            if variance <= 0.0:
                return math.inf
            square = value * value
            total += log(variance) + square / variance
            variance = omega + alpha * square + beta * variance
        return 0.5 * total

    best: tuple[np.ndarray, float, int, bool] | None = None
    evaluations = 0
    for persistence, alpha_share in ((0.95, 0.1), (0.8, 0.3)):
        omega_ratio = 1.0 - persistence
        start = [math.log(omega_ratio), _logit(persistence / _MAX_PERSISTENCE), _logit(alpha_share)]
        result = nelder_mead(negative_log_likelihood, start)
        evaluations += result[2]
        if best is None or result[1] < best[1]:
            best = result
    assert best is not None
    parameters = _to_parameters(best[0], sample_variance)
    return GarchFit(
        parameters=parameters,
        log_likelihood=garch_log_likelihood(parameters, r),
        next_variance=float(garch_variance_path(parameters, r)[-1]),
        observations=int(r.size),
        evaluations=evaluations,
        converged=best[3],
    )


def garch_horizon_variance(parameters: GarchParameters, next_variance: float, horizon: int) -> float:
    """Variance of the sum of the next ``horizon`` returns: sum_k (V_L + p^(k-1) (s2_{t+1} - V_L))."""
    if horizon < 1:
        raise ConfigurationError("a horizon is at least one epoch")
    long_run = parameters.long_run_variance
    persistence = parameters.persistence
    return sum(long_run + persistence**k * (next_variance - long_run) for k in range(horizon))


def simulate_garch(parameters: GarchParameters, count: int, *, seed: int) -> np.ndarray:
    """``count`` returns of a GARCH(1,1) with Gaussian shocks (seeded; starts at the long-run variance)."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal(count)
    returns = np.empty(count)
    variance = parameters.long_run_variance
    for t in range(count):
        returns[t] = math.sqrt(variance) * shocks[t]
        variance = parameters.omega + parameters.alpha * returns[t] ** 2 + parameters.beta * variance
    return returns
