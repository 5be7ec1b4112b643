"""The bound on the value of an account's positions (variation margin and funding are computed in int64): per
account, exact (docs/clearing.md, "Provable by construction").

Red team s12: the engine bounded the sum over instruments of the largest position of each, so a book in which one
account held the largest BTC position and another the largest ETH position — each account within the bound, the
epoch committed — raised a ClearingError naming no record at every later epoch: the venue could clear nothing more.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, perp_spec, run
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.money import MAX_AMOUNT, position_value_excess
from zkclear.errors import InputError

ETH = "ETH-PERP"
LOTS = 2**31 - 1  # the statements' position bound (32-bit positions)
BTC_PRICE, ETH_PRICE = 2**30, 2**30 + 2**29 + 2**28  # values 2^61 and 1.75 · 2^61 per account: each within 2^62


def _book():
    cfg = config(perp_spec(contract_multiplier=1), perp_spec(instrument_id=ETH, contract_multiplier=1))
    state, _ = run(cfg, epoch_inputs(
        1, {PERP: BTC_PRICE, ETH: ETH_PRICE},
        fills=[fill("a", "alice", "d1", LOTS, BTC_PRICE), fill("b", "bob", "d2", LOTS, ETH_PRICE, ETH)],
        transfers=[deposit(account, 2**60) for account in ("alice", "bob", "d1", "d2")],
        opens=["alice", "bob", "d1", "d2"]))
    return cfg, state


def test_a_book_whose_largest_positions_sit_in_different_accounts_clears_the_next_epoch():
    cfg, state = _book()
    after, report = apply_epoch(state, epoch_inputs(2, {PERP: BTC_PRICE, ETH: ETH_PRICE}), cfg)
    assert after.epoch == 2 and after.position_of("bob", ETH) == LOTS
    assert not report.liquidations and int(np.sum(report.settlement)) == 0


def test_a_mark_that_values_carried_positions_beyond_the_bound_is_refused_on_that_mark():
    cfg, state = _book()
    # ETH to 2^31: bob's 2^31 − 1 lots would be worth ≈ 2^62, beyond the bound (BTC unchanged)
    with pytest.raises(InputError) as refused:
        apply_epoch(state, epoch_inputs(2, {PERP: BTC_PRICE, ETH: 2**31 + 2**30}), cfg)
    error = refused.value
    assert error.field == "mark_price"
    assert ("at this mark of 'ETH-PERP', the positions account 'bob' carries into the epoch would be worth more than "
            "the amount bound") in str(error)


def test_the_excess_is_the_exact_per_account_sum():
    rng = random.Random(12)
    for _ in range(300):
        accounts, instruments = rng.randint(1, 6), rng.randint(1, 4)
        positions = np.array([[rng.choice([0, 1, -1]) * rng.randint(0, 2**31 - 1) for _ in range(instruments)]
                              for _ in range(accounts)], dtype=np.int64)
        prices = [rng.randint(1, 2**31) for _ in range(instruments)]
        multipliers = tuple(rng.randint(1, 4) for _ in range(instruments))
        sums = [sum(abs(int(q)) * p * m for q, p, m in zip(row, prices, multipliers, strict=True))
                for row in positions.tolist()]
        beyond = [row for row, total in enumerate(sums) if total > MAX_AMOUNT]
        found = position_value_excess(positions, [p * m for p, m in zip(prices, multipliers, strict=True)])
        if not beyond:
            assert found is None
        else:
            row, column = found
            assert row == beyond[0]
            terms = [abs(int(q)) * p * m for q, p, m in zip(positions[row], prices, multipliers, strict=True)]
            assert terms[column] == max(terms)
