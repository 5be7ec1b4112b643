"""Integer rounding helpers with the direction in the name.

Every conversion from a ratio or a float to money in zkclear/risk goes through one of these,
so a reader can see at the call site which way it rounds.
"""

from __future__ import annotations

import math

from zkclear.errors import ConfigurationError

PPM = 1_000_000
# Below this distance from an integer, a ppm value computed in floating point is float noise.
_FLOAT_NOISE_PPM = 1e-6


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact ceil(numerator / denominator) for integers, denominator > 0."""
    if denominator <= 0:
        raise ConfigurationError(f"denominator must be positive, got {denominator}")
    return -((-numerator) // denominator)


def floor_div(numerator: int, denominator: int) -> int:
    """Exact floor(numerator / denominator) for integers, denominator > 0."""
    if denominator <= 0:
        raise ConfigurationError(f"denominator must be positive, got {denominator}")
    return numerator // denominator


def div_away_from_zero(numerator: int, denominator: int) -> int:
    """Exact numerator / denominator rounded away from zero (|result| >= |exact|), denominator > 0."""
    if numerator >= 0:
        return ceil_div(numerator, denominator)
    return -ceil_div(-numerator, denominator)


def float_ceil(value: float) -> int:
    """ceil of a finite float as an int; raises ConfigurationError on NaN/inf (never a silent 0)."""
    if not math.isfinite(value):
        raise ConfigurationError(f"cannot round a non-finite value {value!r} to money")
    return math.ceil(value)


def float_floor(value: float) -> int:
    """floor of a finite float as an int; raises ConfigurationError on NaN/inf."""
    if not math.isfinite(value):
        raise ConfigurationError(f"cannot round a non-finite value {value!r} to money")
    return math.floor(value)


def float_to_ppm_ceil(value: float) -> int:
    """A non-negative float fraction as integer parts-per-million, rounded up (used for margin fractions).

    A product within 1e-6 ppm of an integer is taken as that integer: ``0.05 * 1e6`` is
    ``50000.000000000007`` in binary floating point and must give 50000, not 50001.
    """
    if not math.isfinite(value) or value < 0.0:
        raise ConfigurationError(f"a fraction must be finite and >= 0, got {value!r}")
    scaled = value * PPM
    nearest = round(scaled)
    if abs(scaled - nearest) <= _FLOAT_NOISE_PPM:
        return int(nearest)
    return math.ceil(scaled)
