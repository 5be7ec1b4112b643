"""Crash day: a -35 % move in one epoch across a book of a few hundred accounts exercises the whole waterfall
(partial and full liquidations, bankruptcies, the insurance fund, then ADL or socialized loss) and money is
still conserved to the unit."""

from __future__ import annotations

import numpy as np
import pytest

from tests.clearing.clearing_helpers import (
    PERP,
    assert_invariants,
    config,
    deposit,
    epoch_inputs,
    fill,
    perp_spec,
)
from zkclear.clearing.config import BACKSTOP, INSURANCE_FUND, DeficitResolution
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.instruments import InstrumentSpec
from zkclear.clearing.state import EpochState

ETH = "ETH-PERP"
ACCOUNTS = 300


def crash_day(resolution: DeficitResolution):
    """300 accounts trade two perpetuals at 1000 / 2000; leverage from ~1.2x to ~19x (deposits between 5.3 %
    and 80 % of the notional each account ends up with); 5 liquidators; a small insurance fund. Then both
    marks drop 35 % in one epoch (BTC 1000 -> 650, ETH 2000 -> 1300)."""
    rng = np.random.default_rng(35)
    eth = InstrumentSpec(ETH, "perpetual", tick_size=1, lot_size=1, contract_multiplier=5,
                         initial_margin_ppm=100_000, maintenance_margin_ppm=50_000)
    accounts = [f"T{k:03d}" for k in range(ACCOUNTS)]
    liquidators = tuple(accounts[:5])
    cfg = config(perp_spec(), eth, liquidators=liquidators, deficit_resolution=resolution)
    longs, shorts = accounts[5:155], accounts[155:]
    fills = []
    for k in range(600):
        buyer, seller = longs[rng.integers(len(longs))], shorts[rng.integers(len(shorts))]
        instrument, price = (PERP, 1000) if k % 2 else (ETH, 2000)
        fills.append(fill(f"c{k}", buyer, seller, int(rng.integers(1, 30)), price, instrument, 1, 1))
    # The notional each account will hold, to size its deposit as a leverage.
    notional = dict.fromkeys(accounts, 0)
    for f in fills:
        value = f.size * f.price * (10 if f.instrument == PERP else 5)
        notional[f.buyer] += value
        notional[f.seller] += value
    transfers = [deposit(a, 5_000_000, f"liq{a}") for a in liquidators]
    for a in longs + shorts:
        fraction_ppm = int(rng.integers(53_000, 800_000))
        transfers.append(deposit(a, max(1, notional[a] * fraction_ppm // 1_000_000 + 10), f"d{a}"))
    transfers.append(deposit(INSURANCE_FUND, 200_000, "fund"))
    state, first = apply_epoch(EpochState.genesis(cfg),
                               epoch_inputs(1, {PERP: (1000, 0), ETH: (2000, 0)}, fills, transfers,
                                            accounts), cfg)
    assert first.liquidations == ()  # everyone starts above maintenance
    crashed, report = apply_epoch(state, epoch_inputs(2, {PERP: (650, 0), ETH: (1300, 0)}), cfg)
    return cfg, state, crashed, report


@pytest.mark.parametrize("resolution", list(DeficitResolution))
def test_a_35_percent_crash_runs_the_whole_waterfall_and_conserves_money(resolution) -> None:
    cfg, before, after, report = crash_day(resolution)
    assert_invariants(after, report, cfg)
    assert after.total_deposited == before.total_deposited
    assert sum(after.cash.tolist()) == sum(before.cash.tolist()) == after.total_deposited

    actions = {event.action for event in report.liquidations}
    assert {"partial", "full", "bankrupt"} <= actions
    bankrupt = [e for e in report.liquidations if e.action == "bankrupt"]
    assert sum(e.insurance_paid for e in bankrupt) > 0
    assert any(e.residue > 0 for e in bankrupt), "the fund should run dry on a crash day"
    # Every deficit is covered exactly: fund payments plus the residue resolved by the chosen mechanism.
    assert all(e.deficit == e.insurance_paid + e.residue for e in bankrupt)
    residues = sum(e.residue for e in bankrupt)
    if resolution is DeficitResolution.ADL:
        assert report.adl  # residues of accounts that still had positions went to ADL
        assert sum(e.cash for e in report.adl) + sum(s.total for s in report.socialized) == residues
    else:
        assert report.socialized and sum(s.total for s in report.socialized) == residues
    # The longs lost, liquidators and backstop absorbed positions, and the book is still matched.
    assert after.cash_of(INSURANCE_FUND) >= 0 and after.cash_of(BACKSTOP) >= 0
    for row, account in enumerate(after.accounts):
        if account.startswith("T") and after.cash[row] < 0:
            pytest.fail(f"{account} left with negative equity")
