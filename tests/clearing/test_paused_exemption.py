"""Which accounts a paused instrument exempts from liquidation (docs/clearing.md "Paused liquidations"): only
exposure carried into the epoch and still held. New exposure never buys immunity.

Positions (plain settlement units): ``BTC-PERP`` and ``ETH-PERP``, 10 units per lot per tick, IM 10 %, MM 5 %,
the default guard (two sources), epochs 60 s apart, ``LIQ`` the one liquidator. Epoch 1 (both instruments
quoted by two sources, BTC 30,000 and ETH 2,000): every user deposits 40,000 and buys one BTC lot from the
dealer at 30,000; ``carrier``, ``seller``, ``adder`` and ``flipper`` also buy one ETH lot at 2,000. Epoch 2: BTC
falls to 27,000 (two sources: a healthy mark), ETH has one source only (fallback to 2,000, liquidations on
ETH-PERP paused). Each user loses 30,000 on BTC: equity 10,000 against a maintenance of 13,500 for the BTC lot
plus 1,000 per ETH lot. In the epoch's fills ``seller`` sells its ETH lot, ``adder`` buys a second one,
``opener`` buys its first and ``flipper`` sells two (long one lot in, short one out). Only ``carrier``, which
only held what it carried in, is exempt.

Collateral (tests/clearing/collateral_helpers.py units: USDC 10^6 units, BTC 10^8 sat, BTC collateral priced by
BTC-PERP at a flat 80 % here): alice carries 0.1 BTC into the epoch in which BTC-PERP pauses, dave deposits one
sat in it; both are short 1,000 ETH-PERP lots that lose 4,000 USDC.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.clearing.clearing_helpers import (
    PERP,
    config,
    deposit,
    epoch_inputs,
    fill,
    perp_spec,
    run,
)
from tests.clearing.collateral_helpers import (
    BTC,
    ETH_PERP,
    USDC,
    btc_asset,
    btc_perp,
    deposit_asset,
    eth_perp,
    multi_config,
)
from zkclear.clearing.assets import HaircutTier
from zkclear.clearing.config import FEE_ACCOUNT, INSURANCE_FUND, OracleGuardConfig
from zkclear.clearing.engine import check_invariants
from zkclear.clearing.inputs import EpochInputs, FundingRate, OracleQuote
from zkclear.clearing.instruments import InstrumentSpec
from zkclear.errors import ClearingError

ETH = "ETH-PERP"
USERS = ("adder", "carrier", "flipper", "opener", "seller")
CARRY_ETH = ("adder", "carrier", "flipper", "seller")


def eth_spec() -> InstrumentSpec:
    return InstrumentSpec(ETH, "perpetual", tick_size=1, lot_size=1, contract_multiplier=10,
                          initial_margin_ppm=100_000, maintenance_margin_ppm=50_000)


def quotes(epoch: int, prices: dict[str, tuple[int, int]]) -> tuple[OracleQuote, ...]:
    """``prices``: instrument -> (price, number of fresh sources)."""
    return tuple(OracleQuote(instrument, f"s{k}", price, epoch * 60)
                 for instrument, (price, sources) in prices.items() for k in range(sources))


def oracle_epoch(epoch: int, prices: dict[str, tuple[int, int]], **records: list) -> EpochInputs:
    return dataclasses.replace(epoch_inputs(epoch, {}, **records), oracle_quotes=quotes(epoch, prices),
                               funding_rates=tuple(FundingRate(instrument, 0) for instrument in prices))


@pytest.fixture(scope="module")
def paused_epoch():
    cfg = config(perp_spec(), eth_spec(), oracle=OracleGuardConfig(), epoch_seconds=60, liquidators=("LIQ",))
    first = oracle_epoch(
        1, {PERP: (30_000, 2), ETH: (2_000, 2)},
        fills=[*(fill(f"b-{user}", user, "dealer", 1, 30_000) for user in USERS),
               *(fill(f"e-{user}", user, "dealer", 1, 2_000, ETH) for user in CARRY_ETH)],
        transfers=[*(deposit(user, 40_000) for user in USERS), deposit("dealer", 10**9), deposit("LIQ", 10**9)],
        opens=[*USERS, "dealer", "LIQ"])
    second = oracle_epoch(
        2, {PERP: (27_000, 2), ETH: (2_000, 1)},
        fills=[fill("sell", "dealer", "seller", 1, 2_000, ETH), fill("add", "adder", "dealer", 1, 2_000, ETH),
               fill("open", "opener", "dealer", 1, 2_000, ETH), fill("flip", "dealer", "flipper", 2, 2_000, ETH)])
    start, _ = run(cfg, first)
    state, (report,) = run(cfg, second, state=start)  # run re-checks every invariant from outside
    return cfg, start, state, report


def test_the_fallback_pauses_liquidations_on_the_instrument_without_a_second_source(paused_epoch):
    _, _, state, report = paused_epoch
    assert report.paused_instruments == (ETH,)
    assert state.settlement_prices == (27_000, 2_000)  # ETH keeps its last good price
    # Every user is below maintenance; the pass closes out exactly those without carried ETH exposure.
    assert sorted(event.account for event in report.liquidations) == ["adder", "flipper", "opener", "seller"]


def test_a_position_carried_into_the_paused_epoch_exempts_an_account_below_maintenance(paused_epoch):
    _, start, state, report = paused_epoch
    liquidated = {event.account for event in report.liquidations}
    # carrier: equity 10,000 < 13,500 + 1,000, its BTC loss on a healthy mark, its ETH lot carried and untouched.
    assert "carrier" not in liquidated
    assert report.paused_accounts == ("carrier",)
    assert (state.position_of("carrier", PERP), state.position_of("carrier", ETH)) == (1, 1)
    assert state.cash_of("carrier") == 10_000
    # The dealer carried its short ETH position too and is exempt, but it is above maintenance: not reported.
    assert start.position_of("dealer", ETH) < 0 and "dealer" not in report.paused_accounts


def test_a_position_opened_in_the_paused_epoch_buys_no_immunity(paused_epoch):
    _, start, state, report = paused_epoch
    events = {event.account: event for event in report.liquidations}
    assert start.position_of("opener", ETH) == 0
    # Liquidated like any account, every position included: the ETH lot at the paused instrument's mark 2,000,
    # the price the whole epoch was already settled at.
    event = events["opener"]
    assert (event.equity_before, event.maintenance_before, event.receiver) == (10_000, 14_500, "LIQ")
    assert event.closed_lots == (1, 1)
    assert (state.position_of("opener", PERP), state.position_of("opener", ETH)) == (0, 0)
    assert "opener" not in report.paused_accounts


def test_a_carried_position_grown_in_the_paused_epoch_no_longer_exempts(paused_epoch):
    """``adder`` carried one ETH lot and bought a second at the paused price: the second is exposure opened in the
    epoch, and the carried lot does not shield it — only reducing risk keeps the exemption."""
    _, start, state, report = paused_epoch
    events = {event.account: event for event in report.liquidations}
    assert start.position_of("adder", ETH) == 1
    event = events["adder"]
    assert (event.equity_before, event.maintenance_before) == (10_000, 15_500)
    # the smallest fraction that restores it closes one lot of each (the ETH lot at the paused mark)
    assert event.action == "partial" and event.closed_lots == (1, 1)
    assert (state.position_of("adder", PERP), state.position_of("adder", ETH)) == (0, 1)
    assert "adder" not in report.paused_accounts


def test_the_next_good_epoch_liquidates_the_exempt_account(paused_epoch):
    cfg, _, state, _ = paused_epoch
    after, (report,) = run(cfg, oracle_epoch(3, {PERP: (27_000, 2), ETH: (2_000, 2)}), state=state)
    assert report.paused_instruments == () and report.paused_accounts == ()
    event = next(event for event in report.liquidations if event.account == "carrier")
    assert (event.equity_before, event.maintenance_before) == (10_000, 14_500)
    assert (after.position_of("carrier", PERP), after.position_of("carrier", ETH)) == (0, 0)


def test_a_carried_position_sold_in_the_paused_epoch_no_longer_exempts(paused_epoch):
    _, start, state, report = paused_epoch
    events = {event.account: event for event in report.liquidations}
    assert start.position_of("seller", ETH) == 1 and state.position_of("seller", ETH) == 0
    event = events["seller"]
    assert (event.equity_before, event.maintenance_before) == (10_000, 13_500)
    assert event.closed_lots[1] == 0 and state.position_of("seller", PERP) == 0
    assert "seller" not in report.paused_accounts


def test_a_carried_position_flipped_to_the_other_side_in_the_paused_epoch_no_longer_exempts(paused_epoch):
    """Long one lot in, short one out: the short lot is exposure taken on at the paused price."""
    _, start, state, report = paused_epoch
    events = {event.account: event for event in report.liquidations}
    assert start.position_of("flipper", ETH) == 1
    event = events["flipper"]
    assert (event.equity_before, event.maintenance_before) == (10_000, 14_500)
    assert event.closed_lots == (1, -1)
    assert (state.position_of("flipper", PERP), state.position_of("flipper", ETH)) == (0, 0)
    assert "flipper" not in report.paused_accounts


def test_the_invariant_exempts_exactly_the_accounts_the_pass_left_alone(paused_epoch):
    cfg, _, state, report = paused_epoch
    rows = {account: state.row(account) for account in state.accounts}
    net = state.total_deposited - state.total_withdrawn + state.total_converted

    def check(exempt: set[str]) -> None:
        check_invariants(state.cash, state.positions, report.risk, cfg, report.settlement, net,
                         (rows[FEE_ACCOUNT], rows[INSURANCE_FUND]), None, frozenset(rows[a] for a in exempt))

    check({"carrier"})
    with pytest.raises(ClearingError, match=f"account row {rows['carrier']} left below maintenance"):
        check(set())  # carrier is below maintenance: without its exemption, a bug


# -- collateral priced by the paused instrument -------------------------------------------------------

def test_collateral_carried_in_exempts_and_collateral_deposited_in_the_paused_epoch_does_not():
    cfg = multi_config(btc_asset(haircut=(HaircutTier(0, 800_000),)), specs=(btc_perp(), eth_perp()),
                       oracle=OracleGuardConfig(), epoch_seconds=60)
    first = oracle_epoch(
        1, {PERP: (60_000, 2), ETH_PERP: (3_000, 2)},
        fills=[fill("f1", "bob", "alice", 1_000, 3_000, ETH_PERP), fill("f2", "bob", "dave", 1_000, 3_000, ETH_PERP)],
        transfers=[deposit_asset("alice", BTC // 10, "BTC"), deposit("dave", 4_800 * USDC), deposit("bob", 10**12),
                   deposit("CH:insurance", 10**12)],
        opens=["alice", "bob", "dave"])
    start, _ = run(cfg, first)
    # alice's 0.1 BTC counts 4,800 USDC, dave holds 4,800 USDC in cash; ETH to 3,400 costs each 4,000: equity
    # 800 USDC < MM 1,700. BTC-PERP has one source: its last price 60,000 is kept, liquidations on it paused.
    # dave deposits one sat (worth 600 units) in that epoch.
    second = oracle_epoch(2, {PERP: (60_000, 1), ETH_PERP: (3_400, 2)}, transfers=[deposit_asset("dave", 1, "BTC")])
    state, (report,) = run(cfg, second, state=start)
    assert report.paused_instruments == (PERP,)
    # alice carried her BTC in: left alone (no conversion at a price nobody vouches for), reported.
    assert report.paused_accounts == ("alice",)
    assert "alice" not in {event.account for event in report.liquidations}
    assert "alice" not in {event.account for event in report.conversions}
    assert state.balance_of("alice", "BTC") == BTC // 10 and state.position_of("alice", ETH_PERP) == -1_000
    # dave's sat buys no immunity: his position is closed. The sat counts 480 units (80 % of 600) and is not
    # converted — no sale at a paused mark (red team session 15: tests/clearing/test_collateral_redteam_s15.py).
    assert report.conversions == ()
    (event,) = report.liquidations
    assert event.account == "dave" and event.equity_before == 800 * USDC + 480
    assert state.balance_of("dave", "BTC") == 1 and abs(state.position_of("dave", ETH_PERP)) < 1_000
    assert "dave" not in report.paused_accounts


def test_the_same_carried_position_exempts_nothing_when_no_instrument_is_paused():
    cfg = config(perp_spec(), eth_spec(), oracle=OracleGuardConfig(), epoch_seconds=60, liquidators=("LIQ",))
    first = oracle_epoch(1, {PERP: (30_000, 2), ETH: (2_000, 2)},
                         fills=[fill("b", "carrier", "dealer", 1, 30_000),
                                fill("e", "carrier", "dealer", 1, 2_000, ETH)],
                         transfers=[deposit("carrier", 40_000), deposit("dealer", 10**9), deposit("LIQ", 10**9)],
                         opens=["carrier", "dealer", "LIQ"])
    start, _ = run(cfg, first)
    state, (report,) = run(cfg, oracle_epoch(2, {PERP: (27_000, 2), ETH: (2_000, 2)}), state=start)
    assert report.paused_instruments == () and report.paused_accounts == ()
    (event,) = report.liquidations
    assert (event.account, event.equity_before, event.maintenance_before) == ("carrier", 10_000, 14_500)
    assert not np.any(state.positions[state.row("carrier")])
