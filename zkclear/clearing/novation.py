"""Novation (each fill becomes two legs against the clearing house) and multilateral netting.

A fill "B buys s lots of instrument i from S at price p" becomes

    leg(B): +s lots of i at p, counterparty the clearing house
    leg(S): -s lots of i at p, counterparty the clearing house

so the clearing house holds ``-s`` and ``+s`` — flat. Netting sums every account's legs per instrument into
its position. Each leg is settled against the epoch's mark ``M_i`` at once: its cash flow is
``q_leg * (M_i - p) * multiplier_i`` (buying below the mark gains). The two legs' flows cancel exactly, so
trade settlement moves no money into or out of the set of accounts; fees move money to the fee account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from zkclear.clearing.money import INT64_MAX, MAX_AMOUNT, exact_abs_sum
from zkclear.errors import ClearingError


@dataclass(frozen=True, slots=True, eq=False)
class Legs:
    """The legs of a batch of fills (length ``2 * fills``: buyer legs first, then seller legs)."""

    rows: np.ndarray
    columns: np.ndarray
    signed_size: np.ndarray
    price: np.ndarray
    fee: np.ndarray


def novate(buyer_rows: np.ndarray, seller_rows: np.ndarray, columns: np.ndarray, size: np.ndarray,
           price: np.ndarray, buyer_fee: np.ndarray, seller_fee: np.ndarray) -> Legs:
    """Split fills into buyer and seller legs against the clearing house."""
    return Legs(rows=np.concatenate([buyer_rows, seller_rows]), columns=np.concatenate([columns, columns]),
                signed_size=np.concatenate([size, -size]), price=np.concatenate([price, price]),
                fee=np.concatenate([buyer_fee, seller_fee]))


@dataclass(frozen=True, slots=True, eq=False)
class Netting:
    """Per-account results of netting a batch of legs onto the previous positions.

    ``positions``: new positions (accounts x instruments); ``trade_cash``: sum of the account's legs'
    ``q * (M - p) * multiplier``; ``fees``: fees the account paid (>= 0) — all int64, except that
    ``trade_cash`` and ``fees`` are exact Python ints (dtype object) when the legs' flows could sum past int64
    (:func:`net_batches`): the caller refuses the accounts beyond the amount bound, then :meth:`as_int64`.
    """

    positions: np.ndarray
    trade_cash: np.ndarray
    fees: np.ndarray

    @property
    def exact(self) -> bool:
        """Whether ``trade_cash`` and ``fees`` are exact Python ints (their sums could pass int64)."""
        return self.trade_cash.dtype == object

    def as_int64(self) -> Netting:
        """The same netting in int64, once every ``trade_cash`` and ``fees`` entry is known to fit it."""
        return Netting(self.positions, self.trade_cash.astype(np.int64), self.fees.astype(np.int64))


def _require_leg_values_bounded(legs: Legs, marks: np.ndarray, per_lot: np.ndarray) -> None:
    """Every leg's value ``|q| * max(price, mark) * multiplier`` within the amount bound, so that its cash flow
    ``q * (mark - price) * multiplier`` fits int64 (the engine has checked every fill so first: this keeps the
    function safe for any caller). Each leg on its own: the largest size of one fill and the highest price of
    another are not a fill (red team s12: two valid fills were refused together)."""
    reference = np.maximum(legs.price, marks[legs.columns])
    rough = (np.abs(legs.signed_size).astype(np.float64) * reference.astype(np.float64)
             * per_lot[legs.columns].astype(np.float64))
    for k in np.flatnonzero(rough > MAX_AMOUNT * (1 - 2.0**-40)).tolist():  # float64 errs by < 2^-50
        column = int(legs.columns[k])
        if abs(int(legs.signed_size[k])) * int(reference[k]) * int(per_lot[column]) > MAX_AMOUNT:
            raise ClearingError(f"instrument column {column}: a fill's value exceeds the bound 2**62 - 1")


def net_batches(batches: Iterable[Legs], positions: np.ndarray, marks: tuple[int, ...],
                multipliers: tuple[int, ...]) -> Netting:
    """Net the legs of every batch into ``positions`` (not modified) and settle each leg against the mark.

    The sums are exact and do not depend on how the legs are batched; the bounds of the sums are checked over
    all the batches at the end, and each leg's value on its own, so the same legs are refused (or not) whatever
    the batching. Each leg's own cash flow fits int64 because every fill's value ``size * max(price, mark) *
    multiplier`` was checked against 2**62 - 1 first (``zkclear.clearing.inputs.check_fill_prices_and_fees``;
    checked again here per leg). Once the legs' absolute cash flows or fees could sum past int64 the per-account
    sums are kept exact (Python ints) from there on: many valid fills can do that, round trips that net to
    nothing among them (session 15), so it is no reason to stop the epoch. Raises :class:`ClearingError` if a
    leg's value or the positions' sum could leave the int64-safe bounds.
    """
    accounts, instruments = positions.shape
    per_lot = np.array(multipliers, dtype=np.int64)
    mark_array = np.array(marks, dtype=np.int64)
    new_positions = positions.copy()
    trade_cash = np.zeros(accounts, dtype=np.int64)
    fees = np.zeros(accounts, dtype=np.int64)
    size_sum = cash_sum = fee_sum = 0
    with np.errstate(over="ignore"):
        for legs in batches:
            if not legs.rows.size:
                continue
            _require_leg_values_bounded(legs, mark_array, per_lot)
            leg_cash = legs.signed_size * (mark_array[legs.columns] - legs.price) * per_lot[legs.columns]
            size_sum += exact_abs_sum(legs.signed_size)
            cash_sum += exact_abs_sum(leg_cash)
            fee_sum += exact_abs_sum(legs.fee)
            leg_fees = legs.fee
            if max(cash_sum, fee_sum) > INT64_MAX:  # from here on the sums are exact (the partial sums fit)
                trade_cash, fees = trade_cash.astype(object), fees.astype(object)
                leg_cash, leg_fees = leg_cash.astype(object), leg_fees.astype(object)
            np.add.at(new_positions.reshape(-1), legs.rows * instruments + legs.columns, legs.signed_size)
            np.add.at(trade_cash, legs.rows, leg_cash)
            np.add.at(fees, legs.rows, leg_fees)
    base = int(np.max(np.abs(positions))) if positions.size else 0
    if size_sum + base > INT64_MAX:
        raise ClearingError("netted positions: sum would overflow int64")
    return Netting(positions=new_positions, trade_cash=trade_cash, fees=fees)
