"""Mark-to-market (variation margin), perpetual funding, and final settlement of dated futures.

Variation margin of epoch e on the positions held at the start of the epoch ``q`` (settlement units)::

    VM = value(q, M_e) - value(q, S_{e-1}) = q * (M_e - S_{e-1}) * multiplier      (linear kinds)

where ``S_{e-1}`` is the previous settlement price and ``M_e`` the epoch's mark, which becomes ``S_e``.

Funding (kinds with ``pays_funding``): the requested rate ``r`` (ppm per epoch) is clamped to
``[-clamp, +clamp]``; the cumulative index, in millionths of a settlement unit per lot, moves by
``dF = r * M_e * multiplier``; each account pays on its start-of-epoch position ``q``::

    funding payment = floor(-q * dF / PPM)        (rounded toward -inf: against the account)

Since positions sum to zero, the payments sum to ``-residue`` with ``0 <= residue < number of accounts``; the
residue goes to the fee account, so funding is conserved to the unit.

Final settlement (kinds that ``expire``): in the epoch ``expiry_epoch`` the mark is the settlement price;
after variation margin and the epoch's fills are settled at it, every position in the instrument is set to
zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkclear.clearing.instruments import InstrumentKind
from zkclear.clearing.money import position_value_excess, ppm_floor_array
from zkclear.errors import ClearingError


def require_position_values_bounded(positions: np.ndarray, prices: list[int], multipliers: tuple[int, ...],
                                    what: str) -> None:
    """Guarantee that every account's ``sum_i |q[a, i]| * prices[i] * multiplier_i <= MAX_AMOUNT`` (so each term
    and every per-account sum of position values fits int64); raise :class:`ClearingError` otherwise (the engine
    refuses an epoch whose marks would break it first, on the mark: ``money.position_value_excess``)."""
    values = [price * multiplier for price, multiplier in zip(prices, multipliers, strict=True)]
    if position_value_excess(positions, values) is not None:
        raise ClearingError(f"{what}: position values could exceed the bound 2**62 - 1")


def variation_margin(positions: np.ndarray, previous_prices: tuple[int, ...],
                     marks: tuple[int | None, ...], multipliers: tuple[int, ...],
                     kinds: tuple[InstrumentKind, ...]) -> np.ndarray:
    """Per-account VM of ``positions`` from ``previous_prices`` to ``marks`` (int64, sums to zero per column).

    Columns without a mark (``None``: expired instruments) contribute nothing; a column never marked before
    must be flat.
    """
    vm = np.zeros(positions.shape[0], dtype=np.int64)
    bound_prices = [max(p, m or 0) for p, m in zip(previous_prices, marks, strict=True)]
    require_position_values_bounded(positions, bound_prices, multipliers, "variation margin")
    for column, kind in enumerate(kinds):
        if marks[column] is None:
            continue
        q = positions[:, column]
        if previous_prices[column] == 0:
            if np.any(q):
                raise ClearingError(f"instrument column {column} has positions but no previous price")
            continue
        vm += (kind.value(q, marks[column], multipliers[column])
               - kind.value(q, previous_prices[column], multipliers[column]))
    return vm


@dataclass(frozen=True, slots=True)
class FundingApplied:
    """Funding of one instrument in one epoch: requested and applied (clamped) rate, index move and new
    index."""

    instrument: str
    requested_rate_ppm: int
    applied_rate_ppm: int
    index_delta: int
    index: int


def clamp_rate(rate_ppm: int, clamp_ppm: int) -> int:
    """The rate actually applied: ``max(-clamp, min(clamp, rate))``."""
    return max(-clamp_ppm, min(clamp_ppm, rate_ppm))


def funding_payments(positions: np.ndarray, marks: tuple[int, ...], multipliers: tuple[int, ...],
                     applied_rates_ppm: tuple[int, ...]) -> np.ndarray:
    """Per-account funding cash flow ``sum_i floor(-q_i * r_i * M_i * multiplier_i / PPM)`` (int64).

    Columns with rate 0 contribute nothing. Callers bound the position values first
    (:func:`require_position_values_bounded`).
    """
    payments = np.zeros(positions.shape[0], dtype=np.int64)
    for column, rate in enumerate(applied_rates_ppm):
        if rate == 0:
            continue
        signed_notional = positions[:, column] * (marks[column] * multipliers[column])
        payments += ppm_floor_array(-signed_notional, rate)
    return payments
