"""Property campaigns over the lifecycle of perpetuals and dated futures (session 15): defects they found, each
pinned here, and a modest property over many epochs.

The campaigns (thousands of random deployments, 3-10 epochs each: tiered and linear margin, dated futures expiring
at a final price, funding at and beyond the clamp, fees at the cap, deposits and withdrawals at the amount bound,
liquidations into an empty insurance fund, ADL and socialized loss, the oracle guard's fallbacks and breaker clamps,
dynamic margin, a collateral asset, operator actions) found two epochs the engine stopped with a ``ClearingError``
that named no input record: the int64 guards over the epoch's trade settlement and fees bounded sums that the
committed state never holds (or could name the fill that took it past).
"""

from __future__ import annotations

import pytest

from tests.clearing.clearing_helpers import config, deposit, epoch_inputs, fill, perp_spec
from zkclear.clearing.config import FEE_ACCOUNT
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.money import MAX_AMOUNT
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

PERP = "BTC-PERP"
MARK = 2**40  # the largest mark
SIZE = 2**22 - 1  # each fill's value SIZE x MARK is within 2^62 - 1
PRICE = MARK - MARK // 10  # within the 10 % band: each leg settles SIZE x MARK / 10 against the mark


def test_round_trips_whose_legs_sum_past_int64_commit_flat_not_a_clearing_error() -> None:
    """A buys ``2^22 − 1`` lots from B a tenth below the mark and sells them back at the same price, six times:
    every fill is valid, both accounts end flat with the cash they had (each round trip settles ``+x`` then
    ``−x``). The netting's guard summed the legs' absolute cash flows (``24 · 2^62 / 10 > 2^63``) and stopped
    the epoch with ``ClearingError('trade settlement: sum would overflow int64')`` — a sum no balance holds."""
    cfg = config(perp_spec(contract_multiplier=1))
    fills = [fill(f"f{k}", *(("A", "B") if k % 2 == 0 else ("B", "A")), SIZE, PRICE) for k in range(12)]
    inputs = epoch_inputs(1, {PERP: MARK}, fills, [deposit("A", 10**6), deposit("B", 10**6)], ["A", "B"])
    state, report = apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert not report.liquidations
    assert (state.cash_of("A"), state.cash_of("B")) == (10**6, 10**6)
    assert not state.positions.any()


def test_a_run_of_gains_past_the_bound_is_refused_on_a_fill_not_a_clearing_error() -> None:
    """A buys 7,000,000 lots a tenth below the mark ``2^39`` and sells them a tenth above it, seven times each, from
    and to fourteen accounts: flat at the end, each fill a gain of about ``3.85 · 10^17``, fourteen of them past
    ``2^62 − 1``. Refused naming one of A's fills (field ``size``), not the netting guard's ``ClearingError``."""
    cfg = config(perp_spec(contract_multiplier=1))
    mark, size = 2**39, 7_000_000
    fills = [fill(f"f{k}", "A", f"S{k}", size, mark - mark // 10) if k % 2 == 0
             else fill(f"f{k}", f"S{k}", "A", size, mark + mark // 10) for k in range(14)]
    inputs = epoch_inputs(1, {PERP: mark}, fills, [deposit("A", 10**6)], ["A", *(f"S{k}" for k in range(14))])
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert error.value.field == "size" and error.value.path == "<memory:fills>"
    assert "account 'A'" in str(error.value) and "2**62 - 1" in str(error.value)


def test_fees_past_the_amount_bound_are_refused_on_the_fee_that_crossed_it() -> None:
    """With a fee cap of 100 %, A and B each pay a fee equal to their fill's value (``≈ 2^62``): the fee account
    would hold ``≈ 2^63``. The engine stopped on ``ClearingError('fees of the epoch exceed the amount bound')``;
    the second fee, which takes the fee account past the bound, is refused by line and field."""
    cfg = config(perp_spec(contract_multiplier=1), fill_fee_cap_ppm=1_000_000)
    fee = SIZE * MARK
    fills = [fill("f1", "A", "B", SIZE, MARK, buyer_fee=fee), fill("f2", "A", "B", 1, MARK, seller_fee=1),
             fill("f3", "B", "A", SIZE, MARK, seller_fee=fee)]
    inputs = epoch_inputs(1, {PERP: MARK}, fills, [deposit("A", MAX_AMOUNT), deposit("B", MAX_AMOUNT)], ["A", "B"])
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert (error.value.line, error.value.field) == (3, "seller_fee")
    assert f"{FEE_ACCOUNT!r}" in str(error.value) and "2**62 - 1" in str(error.value)
