"""Black-76: European options on a forward (or futures) price, in floating point.

This module is the one place where option prices are floats. Everything that becomes money
goes through :mod:`zkclear.risk.options`, which converts these floats to integer settlement
units with a documented rounding. Nothing here knows about ticks, lots or settlement units:
prices are in whatever unit the forward and strike share.

Formulas (Black 1976), with F the forward, K the strike, sigma the annualised volatility,
T the time to expiry in years and D = exp(-r T) the discount factor::

    d1 = (ln(F/K) + sigma^2 T / 2) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T)
    call = D (F N(d1) - K N(d2))
    put  = D (K N(-d2) - F N(-d1))

At T <= 0 or sigma == 0 the price is the discounted intrinsic value ``D max(F - K, 0)``
(call) or ``D max(K - F, 0)`` (put), which is the limit of the formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zkclear.errors import ConfigurationError

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def normal_cdf(x: float) -> float:
    """Standard normal distribution function, accurate in both tails (via ``erfc``)."""
    return 0.5 * math.erfc(-x / _SQRT_2)


def normal_pdf(x: float) -> float:
    """Standard normal density."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@dataclass(frozen=True, slots=True)
class Black76Greeks:
    """Price and sensitivities of one option, per unit of the forward.

    ``delta`` = dV/dF, ``gamma`` = d2V/dF2, ``vega`` = dV/dsigma (per 1.00 of volatility),
    ``theta`` = dV/dt (calendar time, per year; negative for a long option when r = 0),
    ``rho`` = dV/dr (per 1.00 of rate).
    """

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float


def _check_inputs(forward: float, strike: float, volatility: float, rate: float) -> None:
    if not (forward > 0.0 and math.isfinite(forward)):
        raise ConfigurationError(f"Black-76 needs a positive finite forward, got {forward!r}")
    if not (strike > 0.0 and math.isfinite(strike)):
        raise ConfigurationError(f"Black-76 needs a positive finite strike, got {strike!r}")
    if not (volatility >= 0.0 and math.isfinite(volatility)):
        raise ConfigurationError(f"Black-76 needs a finite volatility >= 0, got {volatility!r}")
    if not math.isfinite(rate):
        raise ConfigurationError(f"Black-76 needs a finite rate, got {rate!r}")


def black76_price(
    forward: float, strike: float, volatility: float, years: float, *, is_call: bool, rate: float = 0.0
) -> float:
    """Black-76 price of a European call or put; never negative, at most ``D*F`` (call) / ``D*K`` (put)."""
    return black76_greeks(forward, strike, volatility, years, is_call=is_call, rate=rate).price


def black76_greeks(
    forward: float, strike: float, volatility: float, years: float, *, is_call: bool, rate: float = 0.0
) -> Black76Greeks:
    """Black-76 price and Greeks. At expiry (``years <= 0``) or zero vol: intrinsic value, delta 0/±D."""
    _check_inputs(forward, strike, volatility, rate)
    discount = math.exp(-rate * max(years, 0.0))
    if years <= 0.0 or volatility == 0.0:
        intrinsic = max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
        in_the_money = intrinsic > 0.0
        delta = (discount if is_call else -discount) if in_the_money else 0.0
        price = discount * intrinsic
        return Black76Greeks(
            price=price, delta=delta, gamma=0.0, vega=0.0, theta=rate * price, rho=-max(years, 0.0) * price
        )
    root_t = math.sqrt(years)
    sigma_root_t = volatility * root_t
    d1 = (math.log(forward / strike) + 0.5 * sigma_root_t * sigma_root_t) / sigma_root_t
    d2 = d1 - sigma_root_t
    if is_call:
        undiscounted = forward * normal_cdf(d1) - strike * normal_cdf(d2)
        delta = discount * normal_cdf(d1)
    else:
        undiscounted = strike * normal_cdf(-d2) - forward * normal_cdf(-d1)
        delta = -discount * normal_cdf(-d1)
    # Cancellation can leave a tiny negative number deep out of the money; an option is never worth < 0.
    price = discount * max(undiscounted, 0.0)
    density = normal_pdf(d1)
    gamma = discount * density / (forward * sigma_root_t)
    vega = discount * forward * density * root_t
    theta = rate * price - discount * forward * density * volatility / (2.0 * root_t)
    rho = -years * price
    return Black76Greeks(price=price, delta=delta, gamma=gamma, vega=vega, theta=theta, rho=rho)
