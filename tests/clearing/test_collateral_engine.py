"""Clearing with collateral assets (issue 13, item 2), hand-worked scenarios through the engine.

Units (tests/clearing/collateral_helpers.py): 1 USDC = 1,000,000 units; 1 BTC = 10^8 sat; one lot of BTC-PERP is
0.001 BTC (1,000 units per lot per tick, ticks of 1 USD); one sat is worth ``price / 100`` units. BTC's haircut:
100,000 USDC at 100 %, the next 900,000 at 95 %, above at 80 %; conversion penalty 1 %; liquidation penalty 1 %,
buffer 10 %, IM 10 %, MM 5 %.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.clearing.clearing_helpers import (
    config,
    deposit,
    epoch_inputs,
    fill,
    perp_spec,
    run,
    withdraw,
)
from tests.clearing.collateral_helpers import (
    BTC,
    ETH_PERP,
    PERP,
    USDC,
    btc_asset,
    btc_perp,
    deposit_asset,
    eth_perp,
    multi_config,
    withdraw_asset,
)
from zkclear.clearing.assets import HaircutTier
from zkclear.clearing.config import OracleGuardConfig
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, Fills, FundingRate, OracleQuote
from zkclear.clearing.ledger import Ledger
from zkclear.clearing.money import MAX_AMOUNT
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

FUND = 10**12  # the insurance fund's capital (1,000,000 USDC)
FLAT_80 = (HaircutTier(0, 800_000),)


def _open(cfg, alice_btc: int, alice_lots: int, *, bob_cash: int = 50_000_000 * USDC, price: int = 60_000):
    """Epoch 1: alice deposits BTC and buys ``alice_lots`` lots from bob at ``price``."""
    inputs = epoch_inputs(1, {PERP: price}, fills=[fill("f1", "alice", "bob", alice_lots, price)],
                          transfers=[deposit_asset("alice", alice_btc, "BTC"), deposit("bob", bob_cash),
                                     deposit("CH:insurance", FUND)], opens=["alice", "bob"])
    return run(cfg, inputs)[0]


def _epoch(cfg, state, epoch: int, price: int, transfers=()):
    new_state, (report,) = run(cfg, epoch_inputs(epoch, {PERP: price}, transfers=list(transfers)), state=state)
    return new_state, report


# -- a negative settlement balance covered by BTC --------------------------------------------------

def test_a_negative_settlement_balance_covered_by_btc_is_left_alone():
    cfg = multi_config()
    state = _open(cfg, BTC, 100)  # 1 BTC; long 0.1 BTC of perpetual
    assert state.cash_of("alice") == 0 and state.balance_of("alice", "BTC") == BTC
    state, report = _epoch(cfg, state, 2, 40_000)
    # Variation margin 100 x (40,000 − 60,000) x 1,000 = −2,000 USDC: a settlement debt ...
    assert state.cash_of("alice") == -2_000 * USDC
    # ... covered: 1 BTC at 40,000 counts 40,000 USDC (first tier), equity 38,000 USDC >= MM 200 USDC.
    assert report.conversions == () and report.liquidations == ()
    assert state.balance_of("alice", "BTC") == BTC


# -- withdrawals against the initial requirement after haircut ---------------------------------------

def test_a_btc_withdrawal_is_checked_against_the_initial_requirement_after_haircut():
    cfg = multi_config()
    state = _open(cfg, 10 * BTC, 20_000)  # 10 BTC (600,000 USDC); long 20 BTC: IM 120,000 USDC
    # Deposited 10 BTC count 100,000 + 0.95 x 500,000 = 575,000 USDC of net deposits.
    assert state.net_deposits[state.row("alice")] == 575_000 * USDC
    state, report = _epoch(cfg, state, 2, 60_000, [withdraw_asset("alice", 8 * BTC, "BTC", "w-8"),
                                                    withdraw_asset("alice", 79 * BTC // 10, "BTC", "w-7.9"),
                                                    withdraw("alice", 1, "w-usdc")])
    eight, seven_nine, usdc = report.withdrawals
    # 8 BTC would leave 2 BTC = 120,000 USDC, counting 100,000 + 0.95 x 20,000 = 119,000 < 120,000.
    assert not eight.accepted and eight.asset == "BTC"
    assert eight.reason == ("equity after withdrawal 119000000000 (the BTC counted 456000000000) would be below "
                            "the initial requirement 120000000000")
    # 7.9 BTC leave 2.1 BTC = 126,000 USDC, counting 124,700 >= 120,000: honoured.
    assert seven_nine.accepted and state.balance_of("alice", "BTC") == 21 * BTC // 10
    assert state.net_deposits[state.row("alice")] == 124_700 * USDC
    # Collateral backs margin; it does not fund a settlement withdrawal (alice holds 0 USDC).
    assert not usdc.accepted and "settlement balance 0 is less than the amount" in usdc.reason
    assert state.asset_totals == ((10 * BTC, 79 * BTC // 10, 0),)


def test_a_withdrawal_of_more_btc_than_held_is_refused_with_its_reason():
    cfg = multi_config()
    state = _open(cfg, BTC, 1)
    state, report = _epoch(cfg, state, 2, 60_000, [withdraw_asset("alice", BTC + 1, "BTC")])
    assert not report.withdrawals[0].accepted
    assert report.withdrawals[0].reason == "the account holds 100000000 BTC, less than the amount"
    assert state.balance_of("alice", "BTC") == BTC


# -- liquidation: conversion first, then positions -----------------------------------------------------

def test_a_crash_converts_btc_then_closes_positions():
    cfg = multi_config()
    state = _open(cfg, 10 * BTC, 40_000)  # 10 BTC; long 40 BTC of perpetual at 60,000
    state, report = _epoch(cfg, state, 2, 50_000)
    # At 50,000: VM −400,000 USDC; 10 BTC = 500,000 USDC count 100,000 + 0.95 x 400,000 = 480,000: equity 80,000
    # < MM 40,000 x 50,000,000 x 5 % = 100,000 (target 110,000). Converting gains 0.99 − 0.95 = 4 % of the
    # value above 100,000 USDC (the first tier counts 100 %, more than its conversion brings): 8 BTC.
    (conversion,) = report.conversions
    assert conversion.account == "alice" and conversion.asset == "BTC" and conversion.price == 50_000
    assert conversion.amount == 8 * BTC
    assert conversion.proceeds == 400_000 * USDC and conversion.penalty == 4_000 * USDC
    # Equity 80,000 + 396,000 − (480,000 − 100,000) = 96,000 < 100,000: positions are closed, the smallest
    # fraction restoring 96,000 − 0.5 c >= 1.1 x 2.5 (40,000 − c) USDC: c = 6,223 lots (penalty 3,111.5 USDC).
    (liquidation,) = report.liquidations
    assert liquidation.action == "partial" and liquidation.equity_before == 96_000 * USDC
    assert liquidation.closed_lots == (6_223,) and liquidation.penalty == 3_111_500_000
    assert state.balance_of("alice", "BTC") == 2 * BTC
    assert state.cash_of("alice") == -400_000 * USDC + 396_000 * USDC - 3_111_500_000
    assert state.position_of("alice", PERP) == 40_000 - 6_223
    # The asset left the book: conservation per asset counts the conversion.
    assert state.asset_totals == ((10 * BTC, 0, 8 * BTC),)
    assert state.total_converted == 400_000 * USDC


def test_a_conversion_alone_restores_the_account_with_the_least_btc():
    cfg = multi_config(btc_asset(haircut=FLAT_80))  # BTC counts 80 % of its value
    state = _open(cfg, BTC, 8_000)  # 1 BTC counting 48,000 USDC; long 8 BTC
    state, report = _epoch(cfg, state, 2, 57_000)
    # Equity −24,000 + 45,600 = 21,600 < MM 22,800 USDC (target 25,080): 3,480 USDC short. Converting x sat
    # brings 570 x less the penalty ⌈5.7 x⌉ and removes 456 x of haircut value.
    need = 25_080 * USDC - 21_600 * USDC
    smallest = next(x for x in range(need // 109, need // 107) if 114 * x - -(-57 * x // 10) >= need)
    (conversion,) = report.conversions
    assert conversion.amount == smallest
    assert report.liquidations == () and state.position_of("alice", PERP) == 8_000
    assert state.balance_of("alice", "BTC") == BTC - smallest
    assert state.cash_of("alice") == -24_000 * USDC + 570 * smallest - (-(-57 * smallest // 10))


def test_a_bankrupt_account_converts_all_its_collateral():
    cfg = multi_config()
    state = _open(cfg, 10 * BTC, 40_000)
    state, report = _epoch(cfg, state, 2, 45_000)
    # At 45,000 (450 units per sat): VM −600,000 USDC; 10 BTC = 450,000 count 100,000 + 0.95 x 350,000 = 432,500:
    # equity −167,500 USDC. Step 1 converts the units above 100,000 USDC of value: 10^9 − ⌈10^13 / 45,000⌉ sat.
    kept = -(-100_000 * USDC * 100 // 45_000)
    first, second = report.conversions
    assert (first.amount, second.amount) == (10 * BTC - kept, kept)
    for event in (first, second):
        assert event.proceeds == event.amount * 450 and event.penalty == -(-event.proceeds // 100)
    # Still bankrupt after it, so step 2 converts the rest: nothing is left against the debt.
    assert state.balance_of("alice", "BTC") == 0
    (liquidation,) = report.liquidations
    assert liquidation.action == "bankrupt"
    expected_equity = (-600_000 * USDC + sum(e.proceeds - e.penalty for e in report.conversions))
    assert liquidation.equity_before == expected_equity and liquidation.deficit == -expected_equity
    assert state.cash_of("alice") == 0 and state.position_of("alice", PERP) == 0
    assert state.asset_totals == ((10 * BTC, 0, 10 * BTC),)


def test_the_largest_haircut_is_converted_first():
    # ETH counted in gwei (9 decimals: balances must fit 2^62 − 1 smallest units); one gwei at 1 USD is 1e-3 unit.
    eth = dataclasses.replace(btc_asset(), asset_id="ETH", decimals=9, price_instrument=ETH_PERP,
                              unit_value=(1, 1_000), haircut=(HaircutTier(0, 700_000),))
    cfg = multi_config(btc_asset(haircut=FLAT_80), eth, specs=(btc_perp(), eth_perp()))
    inputs = epoch_inputs(1, {PERP: 60_000, ETH_PERP: 3_000}, fills=[fill("f1", "alice", "bob", 8_000, 60_000)],
                          transfers=[deposit_asset("alice", BTC // 2, "BTC"), deposit_asset("alice", 10**10, "ETH"),
                                     deposit("bob", 50_000_000 * USDC), deposit("CH:insurance", FUND)],
                          opens=["alice", "bob"])
    state = run(cfg, inputs)[0]
    # 0.5 BTC (80 %: 24,000 USDC) and 10 ETH (70 % of 30,000: 21,000). A drop to 54,000 costs 48,000 USDC: equity
    # −48,000 + 21,600 + 21,000 = −5,400 < MM 21,600. Converting ETH gains 29 % of 30,000 = 8,700, BTC 19 % of
    # 27,000 = 5,130: both are converted whole, ETH first (the larger haircut), and positions are closed after.
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 54_000, ETH_PERP: 3_000}), state=state)
    assert [(c.asset, c.amount, c.proceeds) for c in report.conversions] == [
        ("ETH", 10**10, 30_000 * USDC), ("BTC", BTC // 2, 27_000 * USDC)]
    assert report.liquidations[0].equity_before == (-48_000 + 29_700 + 26_730) * USDC


def test_a_paused_price_leaves_the_collateral_alone():
    guard = OracleGuardConfig(min_sources=2)
    cfg = multi_config(btc_asset(haircut=FLAT_80), specs=(btc_perp(), eth_perp()), oracle=guard, epoch_seconds=60)
    funding = (FundingRate(PERP, 0), FundingRate(ETH_PERP, 0))

    def quotes(epoch: int, btc_sources: int, eth: int) -> tuple[OracleQuote, ...]:
        btc = [OracleQuote(PERP, f"s{k}", 60_000, epoch * 60) for k in range(btc_sources)]
        return (*btc, *(OracleQuote(ETH_PERP, f"s{k}", eth, epoch * 60) for k in range(2)))

    first = dataclasses.replace(
        epoch_inputs(1, {}, fills=[fill("f1", "bob", "alice", 1_000, 3_000, ETH_PERP)],
                     transfers=[deposit_asset("alice", BTC // 10, "BTC"), deposit("bob", 10**12),
                                deposit("CH:insurance", FUND)], opens=["alice", "bob"]),
        oracle_quotes=quotes(1, 2, 3_000), funding_rates=funding)
    state, _ = apply_epoch(EpochState.genesis(cfg), first, cfg)
    # alice: 0.1 BTC (6,000 USDC, counting 4,800), short 1,000 ETH-PERP lots (30,000 USDC). ETH to 3,400 costs
    # her 4,000: equity 800 < MM 1,700 USDC.
    second = EpochInputs(epoch=2, fills=Fills.empty(), marks=(), oracle_quotes=quotes(2, 1, 3_400),
                         funding_rates=funding)
    paused_state, paused = apply_epoch(state, second, cfg)
    # One BTC source: the guard keeps the last price and pauses liquidations on BTC-PERP, which prices BTC, so
    # alice's BTC is not converted at a price nobody vouches for (nor her positions closed); she is reported.
    assert paused.paused_instruments == (PERP,) and paused.paused_accounts == ("alice",)
    assert paused.conversions == () and paused.liquidations == ()
    assert paused_state.balance_of("alice", "BTC") == BTC // 10
    # With both BTC sources the same epoch converts her BTC first.
    _, unpaused = apply_epoch(state, dataclasses.replace(second, oracle_quotes=quotes(2, 2, 3_400)), cfg)
    assert unpaused.conversions and unpaused.conversions[0].account == "alice"


# -- deposits -----------------------------------------------------------------------------------------

def _refusal(cfg, state, transfers, marks=None, epoch=None) -> InputError:
    epoch = epoch or state.epoch + 1
    with pytest.raises(InputError) as caught:
        apply_epoch(state, epoch_inputs(epoch, marks or {PERP: 60_000}, transfers=transfers,
                                        opens=[] if state.epoch else ["alice"]), cfg)
    return caught.value


def test_bad_collateral_transfers_are_refused_by_field():
    cfg = multi_config(btc_asset(cap=2 * BTC))
    genesis = EpochState.genesis(cfg)
    error = _refusal(cfg, genesis, [deposit_asset("alice", 1, "DOGE")])
    assert error.field == "asset" and "unknown asset 'DOGE' (listed: USDC, BTC)" in str(error)
    error = _refusal(cfg, genesis, [deposit_asset("CH:insurance", 1, "BTC")])
    assert error.field == "asset" and "holds only the settlement asset 'USDC'" in str(error)
    error = _refusal(cfg, genesis, [deposit_asset("alice", BTC, "BTC", "a"), deposit_asset("alice", BTC + 1, "BTC")])
    assert error.field == "amount" and "balance to 200000001, above the asset's cap 200000000" in str(error)
    # The settlement asset by name is the settlement asset.
    state, _ = apply_epoch(genesis, epoch_inputs(1, {PERP: 60_000}, transfers=[deposit_asset("alice", 5, "USDC")],
                                                 opens=["alice"]), cfg)
    assert state.cash_of("alice") == 5 and state.balance_of("alice", "BTC") == 0


def test_a_balance_whose_value_breaks_the_amount_bound_is_refused_on_the_deposit_or_the_mark():
    cfg = multi_config()
    genesis = EpochState.genesis(cfg)
    # 10^16 sat at 60,000 are worth 6 x 10^18 units > 2^62 − 1: refused on the deposit, nothing applied.
    error = _refusal(cfg, genesis, [deposit_asset("alice", 10**16, "BTC")])
    assert error.field == "amount" and "exceeds 2^62 − 1" in str(error) and "could not be proven" in str(error)
    # 7 x 10^15 sat are worth 4.2 x 10^18 at 60,000 (accepted) and 4.9 x 10^18 at 70,000: refused on the mark.
    state, _ = apply_epoch(genesis, epoch_inputs(1, {PERP: 60_000}, transfers=[deposit_asset("alice", 7 * 10**15,
                                                                                             "BTC")],
                                                 opens=["alice"]), cfg)
    assert 7 * 10**15 * 600 <= MAX_AMOUNT < 7 * 10**15 * 700
    error = _refusal(cfg, state, [], marks={PERP: 70_000})
    assert error.field == "mark_price" and "at this mark of 'BTC-PERP'" in str(error)


def test_without_assets_a_settlement_asset_column_is_accepted_and_anything_else_refused():
    cfg = config(perp_spec(), settlement_asset="USDC")
    genesis = EpochState.genesis(cfg)
    state, _ = apply_epoch(genesis, epoch_inputs(1, {"BTC-PERP": 1_000},
                                                 transfers=[deposit_asset("alice", 7, "USDC")], opens=["alice"]), cfg)
    assert state.cash_of("alice") == 7
    with pytest.raises(InputError, match="unknown asset 'BTC' \\(listed: USDC\\)"):
        apply_epoch(genesis, epoch_inputs(1, {"BTC-PERP": 1_000}, transfers=[deposit_asset("alice", 7, "BTC")],
                                          opens=["alice"]), cfg)


# -- the ledger --------------------------------------------------------------------------------------

def test_a_multi_asset_ledger_replays_byte_identically(tmp_path):
    cfg = multi_config()
    epochs = [epoch_inputs(1, {PERP: 60_000}, fills=[fill("f1", "alice", "bob", 40_000, 60_000)],
                           transfers=[deposit_asset("alice", 10 * BTC, "BTC"), deposit("bob", 10**14),
                                      deposit("CH:insurance", FUND)], opens=["alice", "bob"]),
              epoch_inputs(2, {PERP: 50_000}, transfers=[withdraw_asset("alice", BTC, "BTC")])]
    with Ledger(tmp_path / "ledger.sqlite", cfg) as ledger:
        for inputs in epochs:
            ledger.commit(inputs, scratch=tmp_path)
        ledger.verify_replay()
        state = ledger.state(2)
        assert state.asset_ids == ("BTC",) and state.asset_totals[0][2] == 8 * BTC
        stored = ledger.inputs(2)
        assert stored.transfers[0].asset == "BTC"
        assert b'["wd-alice-BTC-100000000","withdrawal","alice",100000000,"BTC"]' in stored.canonical_bytes()


def test_a_single_asset_ledger_keeps_the_hashes_it_had_before_issue_13(tmp_path):
    """Epoch hashes of a single-asset deployment (a perpetual, a dated future, deposits, withdrawals, a
    liquidation), computed with the code before issue 13: every encoding is unchanged without assets."""
    from tests.clearing.clearing_helpers import DATED, dated_spec

    cfg = config(perp_spec(), dated_spec(expiry_epoch=3), liquidators=("liq",))
    perp = perp_spec().instrument_id
    epochs = [
        epoch_inputs(1, {perp: 1_000, DATED: 1_010}, fills=[fill("f1", "a", "b", 50, 1_000),
                                                             fill("f2", "b", "c", 20, 1_010, DATED)],
                     transfers=[deposit("a", 6_000), deposit("b", 50_000), deposit("c", 40_000), deposit("liq", 10**6),
                                deposit("CH:insurance", 3_000)], opens=["a", "b", "c", "liq"]),
        epoch_inputs(2, {perp: (930, 100), DATED: 1_000}, transfers=[withdraw("b", 1_000), withdraw("c", 10**6)]),
        epoch_inputs(3, {perp: (990, -50), DATED: 1_005}),
    ]
    expected = ["1737cc1df15ba070fc7a3583be7e76a2c411fda8451099b35f322ff485e1141c",
                "e746e6026eaab4e67559d378619a12b6fd0b823002b67b6e074245eb81466ab5",
                "92821ab6244d6203961504f4e6a2ceee017d273add9c18d9547d82df264326e5"]
    with Ledger(tmp_path / "ledger.sqlite", cfg) as ledger:
        results = [ledger.commit(inputs, scratch=tmp_path) for inputs in epochs]
    assert [r.epoch_hash.hex() for r in results] == expected
    assert len(results[0].report.liquidations) == 1 and [w.accepted for w in results[1].report.withdrawals] == [
        True, False]


def test_deposits_whose_total_passes_what_solvency_can_prove_are_refused_across_accounts_and_epochs():
    """Red team: each deposit within the per-account bound 2^62 − 1, but five of them make the asset's total —
    the liabilities the epoch's tree sums and the solvency statement proves in 64 bits — pass 2^64 − 1: the
    epoch would commit and could never be proven. Refused on the deposit that crosses, in the settlement asset
    and in a collateral asset, also when the earlier deposits were committed in an earlier epoch."""
    big = (1 << 62) - 1
    cfg = multi_config(btc_asset(unit_value=(1, 10**9)))  # a sat worth so little that the value bound allows it
    accounts = ["a1", "a2", "a3", "a4", "a5"]
    for asset in ("USDC", "BTC"):
        genesis = EpochState.genesis(cfg)
        transfers = [deposit_asset(name, big, asset, f"t-{name}") for name in accounts]
        with pytest.raises(InputError) as caught:
            apply_epoch(genesis, epoch_inputs(1, {PERP: 1}, transfers=transfers, opens=accounts), cfg)
        assert caught.value.field == "amount" and f"to {5 * big}, past 2**64 - 1" in str(caught.value)
        # four fit (4 · (2^62 − 1) = 2^64 − 4) and commit; one more unit in the next epoch does not
        state, _ = apply_epoch(genesis, epoch_inputs(1, {PERP: 1}, transfers=transfers[:4], opens=accounts), cfg)
        state, _ = apply_epoch(state, epoch_inputs(2, {PERP: 1}, transfers=[deposit_asset("a5", 3, asset, "ok")]),
                               cfg)
        with pytest.raises(InputError) as caught:
            apply_epoch(state, epoch_inputs(3, {PERP: 1}, transfers=[deposit_asset("a5", 1, asset, "one")]), cfg)
        assert caught.value.field == "amount" and f"hold of {asset} to {1 << 64}" in str(caught.value)
