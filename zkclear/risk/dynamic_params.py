"""Dynamic risk parameters: margin fractions scaled by a volatility forecast of each underlying.

At the close of epoch ``e`` the operator runs :func:`compute_risk_parameters` on every
underlying's price history (oracle marks from the ledger, oldest first, epoch ``e`` last). The
resulting :class:`RiskParameterSet` is stored with epoch ``e`` and is the public risk input of
epoch ``e + 1`` (``effective_epoch``): the proofs of that epoch bind its digest.

Per underlying (floats only up to the first rounding, integers after)::

    r_t            = ln(P_t / P_{t-1})
    sigma_1        = EWMA(r) (default)   or   sqrt(GARCH(1,1) next variance)   (per epoch)
    sigma_h        = sigma_1 * sqrt(h)   (EWMA)  or  sqrt(sum_k GARCH k-step variances)  (h epochs)
    volatility_ppm = ceil(sigma_h * 1e6)                                        (rounded UP)
    maintenance    = min(cap, max(floor, ceil(k_ppm * volatility_ppm / 1e6)))   (ppm, UP)
    initial        = ceil(maintenance * initial_to_maintenance_ppm / 1e6)       (ppm, UP)
    scan_range     = min(max_scan, max(scan_floor, ceil(scan_k_ppm * volatility_ppm / 1e6)))

So the requirement never falls below the floor, and rises as soon as the forecast rises —
with GARCH it rises on the first large return, before the volatility is realised over a window.
A history shorter than ``min_returns`` gives the floors (recorded as method ``"floor"``); GARCH
with fewer than ``garch_min_returns`` returns, or a fit that did not converge, falls back to EWMA
(recorded as ``"ewma-fallback"``).
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from zkclear.errors import ConfigurationError, InputError
from zkclear.risk.rounding import PPM, ceil_div, float_to_ppm_ceil
from zkclear.risk.volatility import (
    ewma_variance_path,
    fit_garch,
    garch_horizon_variance,
    log_returns,
)

PARAMETERS_ENCODING_TAG = "zkclear/risk-parameters/v1"


class VolatilityMethod(enum.StrEnum):
    EWMA = "ewma"
    GARCH = "garch"


@dataclass(frozen=True, slots=True)
class DynamicRiskConfig:
    """How forecasts become margin fractions (all integers; ppm = parts per million)."""

    method: VolatilityMethod = VolatilityMethod.EWMA
    ewma_decay_ppm: int = 940_000
    horizon_epochs: int = 1
    confidence_multiplier_ppm: int = 3_000_000
    maintenance_floor_ppm: int = 30_000
    maintenance_cap_ppm: int = PPM
    initial_to_maintenance_ppm: int = 1_500_000
    scan_multiplier_ppm: int = 4_000_000
    scan_floor_ppm: int = 160_000
    max_scan_ppm: int = 950_000
    min_returns: int = 20
    garch_min_returns: int = 250

    def __post_init__(self) -> None:
        if not 0 < self.ewma_decay_ppm < PPM:
            raise ConfigurationError("ewma_decay_ppm must be in (0, 1e6)")
        if self.horizon_epochs < 1 or self.min_returns < 2 or self.garch_min_returns < self.min_returns:
            raise ConfigurationError("need horizon >= 1, min_returns >= 2, garch_min_returns >= min_returns")
        if not 0 < self.maintenance_floor_ppm <= self.maintenance_cap_ppm:
            raise ConfigurationError("need 0 < maintenance floor <= cap")
        if self.initial_to_maintenance_ppm < PPM:
            raise ConfigurationError("initial margin cannot be below maintenance")
        if not 0 < self.scan_floor_ppm <= self.max_scan_ppm < PPM:
            raise ConfigurationError("need 0 < scan floor <= max scan < 1e6")
        if self.confidence_multiplier_ppm <= 0 or self.scan_multiplier_ppm <= 0:
            raise ConfigurationError("multipliers must be positive")


@dataclass(frozen=True, slots=True)
class RiskParameters:
    """One underlying's public risk parameters for ``effective_epoch`` (integers except the method name)."""

    underlying: str
    effective_epoch: int
    method: str
    observations: int
    volatility_ppm: int
    maintenance_ppm: int
    initial_ppm: int
    scan_range_ppm: int


@dataclass(frozen=True, slots=True)
class RiskParameterSet:
    """All underlyings' parameters for one epoch, sorted by underlying; canonically encodable."""

    effective_epoch: int
    parameters: tuple[RiskParameters, ...]

    def __post_init__(self) -> None:
        names = [p.underlying for p in self.parameters]
        if names != sorted(set(names)):
            raise ConfigurationError("risk parameters must be unique and sorted by underlying")
        if any(p.effective_epoch != self.effective_epoch for p in self.parameters):
            raise ConfigurationError("every parameter must carry the set's effective epoch")

    def for_underlying(self, underlying: str) -> RiskParameters:
        for parameters in self.parameters:
            if parameters.underlying == underlying:
                return parameters
        raise ConfigurationError(f"no risk parameters for {underlying!r}")

    def to_records(self) -> list[dict]:
        """JSON-able records, one per underlying (what the ledger stores with the epoch)."""
        return [asdict(parameters) for parameters in self.parameters]

    @classmethod
    def from_records(cls, effective_epoch: int, records: Sequence[Mapping]) -> RiskParameterSet:
        return cls(effective_epoch, tuple(RiskParameters(**record) for record in records))

    def encode(self) -> bytes:
        """Compact JSON of [tag, epoch, [[underlying, epoch, method, n, vol, mm, im, scan], ...]]."""
        rows = [
            [
                p.underlying,
                p.effective_epoch,
                p.method,
                p.observations,
                p.volatility_ppm,
                p.maintenance_ppm,
                p.initial_ppm,
                p.scan_range_ppm,
            ]
            for p in self.parameters
        ]
        return json.dumps(
            [PARAMETERS_ENCODING_TAG, self.effective_epoch, rows], separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")

    def digest(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()


def forecast_horizon_volatility(prices: Sequence[int], config: DynamicRiskConfig) -> tuple[float, str, int]:
    """(sigma_h, method used, number of returns) for one price history; sigma_h = 0.0 with method 'floor'."""
    returns = log_returns(prices)
    if returns.size < config.min_returns:
        return 0.0, "floor", int(returns.size)
    if config.method is VolatilityMethod.GARCH and returns.size >= config.garch_min_returns:
        fit = fit_garch(returns, min_observations=config.garch_min_returns)
        if fit.converged:
            variance = garch_horizon_variance(fit.parameters, fit.next_variance, config.horizon_epochs)
            return math.sqrt(variance), "garch", int(returns.size)
    variance = float(ewma_variance_path(returns, decay=config.ewma_decay_ppm / PPM)[-1])
    method = "ewma" if config.method is VolatilityMethod.EWMA else "ewma-fallback"
    return math.sqrt(variance * config.horizon_epochs), method, int(returns.size)


def parameters_from_volatility(
    underlying: str,
    effective_epoch: int,
    volatility_ppm: int,
    method: str,
    observations: int,
    config: DynamicRiskConfig,
) -> RiskParameters:
    """The integer part of the rule: margin fractions from an integer volatility (all rounding up)."""
    maintenance = ceil_div(config.confidence_multiplier_ppm * volatility_ppm, PPM)
    maintenance = min(config.maintenance_cap_ppm, max(config.maintenance_floor_ppm, maintenance))
    scan = ceil_div(config.scan_multiplier_ppm * volatility_ppm, PPM)
    scan = min(config.max_scan_ppm, max(config.scan_floor_ppm, scan))
    return RiskParameters(
        underlying=underlying,
        effective_epoch=effective_epoch,
        method=method,
        observations=observations,
        volatility_ppm=volatility_ppm,
        maintenance_ppm=maintenance,
        initial_ppm=ceil_div(maintenance * config.initial_to_maintenance_ppm, PPM),
        scan_range_ppm=scan,
    )


def compute_risk_parameters(
    price_history: Mapping[str, Sequence[int]], config: DynamicRiskConfig, *, effective_epoch: int
) -> RiskParameterSet:
    """Parameters of every underlying in ``price_history`` (integer tick prices, oldest first)."""
    parameters = []
    for underlying in sorted(price_history):
        prices = price_history[underlying]
        if any(not isinstance(price, int) or price <= 0 for price in prices):
            raise InputError(f"{underlying}: price history must be positive integer ticks", field="prices")
        sigma, method, observations = forecast_horizon_volatility(prices, config)
        parameters.append(
            parameters_from_volatility(
                underlying, effective_epoch, float_to_ppm_ceil(sigma), method, observations, config
            )
        )
    return RiskParameterSet(effective_epoch, tuple(parameters))
