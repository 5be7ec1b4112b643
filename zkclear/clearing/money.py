"""Fixed-point domain values of the clearing engine and the integer arithmetic they rest on.

Units (docs/clearing.md, "Units"):

- an *amount* is an integer number of the settlement asset's smallest unit (e.g. 1e-6 USDC);
- a *price* is an integer number of ticks of its instrument;
- a *size* (quantity, position) is an integer number of lots of its instrument;
- a *rate* is an integer number of parts per million (ppm, ``PPM = 1_000_000``).

The value of ``q`` lots at ``p`` ticks is ``q * p * contract_multiplier`` settlement units, where the
contract multiplier is the number of settlement units per lot per tick.

Bounds (validated at input; exceeding one is an error, never a wrap): ``|amount| <= MAX_AMOUNT = 2**62 - 1``
for every balance, fee, notional and per-account total notional; ``0 < price <= MAX_PRICE_TICKS = 2**40``;
``0 < fill size <= MAX_LOTS = 2**40``; ``1 <= contract multiplier <= MAX_MULTIPLIER = 2**32``. With these,
every product and sum the engine forms in numpy int64 is proven in range before it is formed (see
:func:`require_sum_fits_int64`), so int64 never wraps silently.

The value types (:class:`Amount`, :class:`Price`, :class:`Lots`, :class:`Ppm`) wrap one int, refuse to mix
with each other (``Amount + Price`` raises ``TypeError``) and check their bounds. The vectorized engine works
on the raw integers in int64 arrays after the inputs have been validated against the same bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zkclear.errors import ClearingError

PPM = 1_000_000
MAX_AMOUNT = 2**62 - 1
MAX_PRICE_TICKS = 2**40
MAX_LOTS = 2**40
MAX_MULTIPLIER = 2**32
INT64_MAX = 2**63 - 1


def _require_int(value: object, what: str) -> int:
    # bool is an int subclass; a True that slips into a money field is a bug, not a 1.
    if type(value) is not int:
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True, order=True)
class _Fixed:
    """One integer in one unit. Arithmetic only with the same unit; comparisons only with the same unit."""

    raw: int
    UNIT: ClassVar[str] = "?"
    LOW: ClassVar[int] = -MAX_AMOUNT
    HIGH: ClassVar[int] = MAX_AMOUNT

    def __post_init__(self) -> None:
        _require_int(self.raw, self.UNIT)
        if not self.LOW <= self.raw <= self.HIGH:
            raise OverflowError(f"{self.UNIT} {self.raw} outside [{self.LOW}, {self.HIGH}]")

    def _same(self, other: object) -> _Fixed:
        if type(other) is not type(self):
            raise TypeError(f"cannot combine {self.UNIT} with {getattr(other, 'UNIT', type(other).__name__)}")
        return other  # type: ignore[return-value]

    def __add__(self, other: object):
        return type(self)(self.raw + self._same(other).raw)

    def __sub__(self, other: object):
        return type(self)(self.raw - self._same(other).raw)

    def __neg__(self):
        return type(self)(-self.raw)

    def __int__(self) -> int:
        return self.raw


class Amount(_Fixed):
    """Settlement-asset smallest units. ``|raw| <= MAX_AMOUNT``."""

    UNIT = "amount"
    __slots__ = ()


class Price(_Fixed):
    """Instrument ticks. ``0 < raw <= MAX_PRICE_TICKS``."""

    UNIT = "price"
    LOW = 1
    HIGH = MAX_PRICE_TICKS
    __slots__ = ()


class Lots(_Fixed):
    """Instrument lots (a signed position or a size). ``|raw| <= MAX_AMOUNT``."""

    UNIT = "lots"
    __slots__ = ()


class Ppm(_Fixed):
    """Parts per million. ``|raw| <= PPM``."""

    UNIT = "ppm"
    LOW = -PPM
    HIGH = PPM
    __slots__ = ()


def position_value(size: Lots, price: Price, contract_multiplier: int) -> Amount:
    """``size * price * multiplier`` as an :class:`Amount`; ``OverflowError`` if it leaves the amount
    bound."""
    _require_int(contract_multiplier, "contract multiplier")
    if type(size) is not Lots or type(price) is not Price:
        raise TypeError("position_value takes (Lots, Price, int)")
    return Amount(size.raw * price.raw * contract_multiplier)


def saturated(value: int) -> int:
    """``value`` clamped to ``±MAX_AMOUNT``: for a ranking input that is never money (an account's net deposits),
    which many withdrawals of profit could otherwise walk out of int64."""
    return max(-MAX_AMOUNT, min(MAX_AMOUNT, value))


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact ``ceil(numerator / denominator)`` for ints, ``denominator > 0``."""
    return -((-numerator) // denominator)


def ppm_of_ceil(amount: int, rate_ppm: int) -> int:
    """``ceil(amount * rate_ppm / PPM)``: a requirement or charge, rounded against the account."""
    return ceil_div(amount * rate_ppm, PPM)


# ---------------------------------------------------------------------------------------------
# int64 arrays: every operation that could exceed int64 is bounded first.

_LOW_BITS = 31
_LOW_MASK = (1 << _LOW_BITS) - 1


def exact_abs_sum(values: np.ndarray) -> int:
    """``sum(|v|)`` as an exact Python int for an int64 array whose entries satisfy ``|v| <= MAX_AMOUNT``.

    The high and low 31-bit halves are summed separately; each half-sum fits int64 for up to 2**31 entries.
    """
    if values.size == 0:
        return 0
    if values.size >= 2**31:
        raise ClearingError("too many values for an exact int64 sum")
    magnitudes = np.abs(values.astype(np.int64, copy=False))
    if int(magnitudes.min()) < 0:  # only -2**63 stays negative under abs
        raise ClearingError("value outside the int64 range")
    high = int(np.sum(magnitudes >> _LOW_BITS, dtype=np.int64))
    low = int(np.sum(magnitudes & _LOW_MASK, dtype=np.int64))
    return (high << _LOW_BITS) + low


def require_sum_fits_int64(values: np.ndarray, what: str, *, base_bound: int = 0) -> None:
    """Guarantee that any partial sum of ``values``, from a start of magnitude ``<= base_bound``, fits int64.

    Raises :class:`ClearingError` otherwise; call before ``np.add.at`` / ``np.sum`` on money arrays.
    """
    if exact_abs_sum(values) + base_bound > INT64_MAX:
        raise ClearingError(f"{what}: sum would overflow int64")


def require_within_amount(values: np.ndarray, what: str) -> None:
    """Raise :class:`ClearingError` unless every entry satisfies ``|v| <= MAX_AMOUNT``."""
    if values.size and int(np.max(np.abs(values))) > MAX_AMOUNT:
        raise ClearingError(f"{what}: a value exceeds the amount bound 2**62 - 1")


def ppm_ceil_array(amounts: np.ndarray, rate_ppm: int) -> np.ndarray:
    """Element-wise ``ceil(a * rate_ppm / PPM)`` in int64, for ``0 <= a <= MAX_AMOUNT``, ``0 <= rate <= PPM``.

    ``a = high * PPM + low`` so that ``high * rate`` and ``low * rate`` stay below 2**62 each.
    """
    high, low = np.divmod(amounts, PPM)
    return high * rate_ppm + (-((-(low * rate_ppm)) // PPM))


def ppm_floor_array(amounts: np.ndarray, rate_ppm: int) -> np.ndarray:
    """Element-wise ``floor(a * rate_ppm / PPM)`` for signed ``|a| <= MAX_AMOUNT``, ``|rate_ppm| <= PPM``."""
    high, low = np.divmod(amounts, PPM)  # floor division: low in [0, PPM)
    return high * rate_ppm + (low * rate_ppm) // PPM


def checked_add(left: np.ndarray, right: np.ndarray, what: str) -> np.ndarray:
    """``left + right`` for int64 arrays, raising :class:`ClearingError` instead of wrapping on overflow."""
    result = left + right
    # Two's-complement overflow happened exactly where both operands' signs differ from the result's sign.
    if np.any(((left ^ result) & (right ^ result)) < 0):
        raise ClearingError(f"{what}: int64 overflow")
    return result


def exact_sum(values: np.ndarray) -> int:
    """The exact sum of an int64 array as a Python int (never wraps)."""
    return sum(values.tolist())


def position_value_excess(positions: np.ndarray, values_per_lot: Sequence[int]) -> tuple[int, int] | None:
    """``(row, column)`` of the first account whose position values ``Σ_j |q_j| · values_per_lot[j]`` exceed
    ``MAX_AMOUNT`` (``column``: its largest term), or None. Exact per account, int64 only where it cannot wrap: a
    book in which different accounts hold the largest positions of different instruments is within the bound when
    each account is."""
    values = list(values_per_lot)
    largest = [int(np.max(np.abs(positions[:, c]))) if positions.shape[0] else 0 for c in range(positions.shape[1])]
    if sum(q * v for q, v in zip(largest, values, strict=True)) <= MAX_AMOUNT:
        return None
    rows = range(positions.shape[0])
    if all(q * v <= MAX_AMOUNT for q, v in zip(largest, values, strict=True)):
        per_lot = np.array(values, dtype=np.int64)
        each = np.abs(positions) * per_lot  # every entry <= MAX_AMOUNT
        high = (each >> 31).sum(axis=1)      # partial sums of 31-bit halves fit int64 (<= 2^31 columns)
        # the low halves add less than ``columns · 2^31``: a row total is below 2^62 unless this holds
        rows = np.flatnonzero(high + positions.shape[1] >= (MAX_AMOUNT >> 31)).tolist()
    for row in rows:
        held = [abs(int(q)) * v for q, v in zip(positions[row].tolist(), values, strict=True)]
        if sum(held) > MAX_AMOUNT:
            return row, max(range(len(held)), key=held.__getitem__)
    return None
