"""Red team session 15: multi-asset collateral attacks on the clearing engine (issue 13's area).

Units as in tests/clearing/collateral_helpers.py: 1 USDC = 10^6 units, 1 BTC = 10^8 sat (one sat at ``p`` is worth
``p / 100`` units), one lot of ETH-PERP is worth ``10,000 x price`` units; BTC counts a flat 80 % of its value here.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.clearing.clearing_helpers import assert_invariants, deposit, epoch_inputs, fill
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
)
from zkclear.clearing.assets import HaircutTier
from zkclear.clearing.config import OracleGuardConfig
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, Fills, FundingRate, OracleQuote
from zkclear.clearing.margin import MarginLevel, account_requirement
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

FLAT_80 = (HaircutTier(0, 800_000),)
FUNDING = (FundingRate(PERP, 0), FundingRate(ETH_PERP, 0))


def _quotes(epoch: int, btc: int, btc_sources: int, eth: int) -> tuple[OracleQuote, ...]:
    return (*(OracleQuote(PERP, f"s{k}", btc, epoch * 60) for k in range(btc_sources)),
            *(OracleQuote(ETH_PERP, f"s{k}", eth, epoch * 60) for k in range(2)))


@pytest.mark.parametrize("btc_sources, btc_market, withheld_mark, status", [
    (1, 30_000, 60_000, "fallback"),  # one BTC source left: the guard keeps the last good price, 60,000
    (2, 30_000, 45_000, "breaker"),   # BTC halves: the circuit breaker clamps the mark 25 % down, to 45,000
])
def test_attack_collateral_deposited_at_a_withheld_price_is_not_bought_by_the_house_at_that_price(
        btc_sources, btc_market, withheld_mark, status):
    """alice is short 1,000 ETH-PERP lots with 4,000 USDC; ETH to 3,400 leaves her equity 0 < MM 1,700 USDC. While
    BTC's mark is not the market's (an oracle fallback, or a circuit-breaker clamp), she buys 0.03 BTC at the market
    (900 USDC at 30,000) and deposits it. Before the fix her liquidation converted it at the withheld mark — the
    clearing house bought it for 1,782 (fallback) or 1,336.5 USDC (clamp), restoring her account with money the
    sale of the BTC never brings in (the loss appears in no account: the settlement reserves fall short), and she
    kept her position. A conversion is a sale at the mark: at a withheld mark it must wait, and the account is
    liquidated through its positions (at ETH's own, fresh, mark) like any other."""
    cfg = multi_config(btc_asset(haircut=FLAT_80), specs=(btc_perp(), eth_perp()), oracle=OracleGuardConfig(
        min_sources=2), epoch_seconds=60)
    first = dataclasses.replace(
        epoch_inputs(1, {}, fills=[fill("f1", "bob", "alice", 1_000, 3_000, ETH_PERP)],
                     transfers=[deposit("alice", 4_000 * USDC), deposit("bob", 10**12),
                                deposit("CH:insurance", 10**12)], opens=["alice", "bob"]),
        oracle_quotes=_quotes(1, 60_000, 2, 3_000), funding_rates=FUNDING)
    state, _ = apply_epoch(EpochState.genesis(cfg), first, cfg)
    second = dataclasses.replace(
        EpochInputs(epoch=2, fills=Fills.empty(), marks=(), oracle_quotes=_quotes(2, btc_market, btc_sources, 3_400),
                    funding_rates=FUNDING),
        transfers=(deposit_asset("alice", 3 * BTC // 100, "BTC"),))
    after, report = apply_epoch(state, second, cfg)
    (btc_decision,) = [d for d in report.oracle_decisions if d["instrument_id"] == PERP]
    assert (btc_decision["status"], btc_decision["mark_price_ticks"]) == (status, withheld_mark)
    assert report.conversions == ()
    assert after.balance_of("alice", "BTC") == 3 * BTC // 100
    # She is liquidated through her ETH position instead, and ends at maintenance or above.
    (liquidation,) = report.liquidations
    assert liquidation.account == "alice" and liquidation.action in ("partial", "full")
    equity = after.cash_of("alice") + 3 * BTC // 100 * withheld_mark // 100 * 8 // 10
    lots = after.positions[after.row("alice")].tolist()
    assert equity >= account_requirement(lots, report.risk, cfg.risk_models, MarginLevel.MAINTENANCE)
    # The same epoch with BTC marked at the market converts her BTC, at the market's price.
    fresh = dataclasses.replace(second, oracle_quotes=_quotes(2, 60_000, 2, 3_400))
    _, control = apply_epoch(state, fresh, cfg)
    assert [(c.account, c.price) for c in control.conversions] == [("alice", 60_000)]


TRADERS = ("t0", "t1", "t2", "t3")


@st.composite
def _guarded_market(draw):
    """Epochs of an oracle-guarded market (BTC and ETH perpetuals, two sources each, breaker 25 %) in which BTC's
    feed may drop to one source (a fallback) or crash past the breaker (a clamp), with BTC deposited, withdrawn and
    traded around it."""
    prices = {PERP: 60_000, ETH_PERP: 3_000}
    marks = dict(prices)  # the guard's marks (the last good prices): fills trade at them, within the price band
    epochs = []
    for epoch in range(1, draw(st.integers(2, 5)) + 1):
        sources = 2
        if epoch > 1:
            sources = draw(st.sampled_from((1, 2, 2)))
            for instrument in prices:
                move = draw(st.sampled_from((-600_000, -300_000, -100_000, 0, 100_000, 300_000, 600_000)))
                prices[instrument] = max(1, prices[instrument] + prices[instrument] * move // 1_000_000)
                if instrument != PERP or sources == 2:  # else a fallback: the last good price stays the mark
                    step = max(1, marks[instrument] // 4)  # the breaker: 25 % of the last good price
                    marks[instrument] = min(max(prices[instrument], marks[instrument] - step), marks[instrument] + step)
        transfers = [deposit("CH:insurance", 10**11, "fund"), *(deposit(t, 10**10, f"u-{t}") for t in TRADERS)] \
            if epoch == 1 else []
        for k in range(draw(st.integers(0, 3))):
            account, kind = draw(st.sampled_from(TRADERS)), draw(st.sampled_from(("deposit", "withdrawal")))
            transfers.append(dataclasses.replace(deposit_asset(account, draw(st.integers(1, 5 * BTC)), "BTC",
                                                               f"b-{epoch}-{k}"), kind=kind))
        fills = []
        for k in range(draw(st.integers(0, 3))):
            buyer, seller = draw(st.lists(st.sampled_from(TRADERS), min_size=2, max_size=2, unique=True))
            instrument = draw(st.sampled_from(sorted(prices)))
            fills.append(fill(f"f-{epoch}-{k}", buyer, seller, draw(st.integers(1, 3_000)), marks[instrument],
                              instrument))
        inputs = epoch_inputs(epoch, {}, fills=fills, transfers=transfers, opens=list(TRADERS) if epoch == 1 else [])
        epochs.append(dataclasses.replace(inputs, funding_rates=FUNDING, oracle_quotes=(
            *(OracleQuote(PERP, f"s{k}", prices[PERP], epoch * 60) for k in range(sources)),
            *(OracleQuote(ETH_PERP, f"s{k}", prices[ETH_PERP], epoch * 60) for k in range(2)))))
    return epochs


@given(_guarded_market())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_epoch_converts_collateral_at_a_withheld_mark_and_every_committed_epoch_keeps_the_invariants(epochs):
    cfg = multi_config(btc_asset(), specs=(btc_perp(), eth_perp()), oracle=OracleGuardConfig(min_sources=2),
                       epoch_seconds=60)
    state = EpochState.genesis(cfg)
    for inputs in epochs:
        epoch = state.epoch + 1  # a refused epoch is not skipped in numbering; its quotes are timed for it
        inputs = dataclasses.replace(inputs, epoch=epoch, oracle_quotes=tuple(
            dataclasses.replace(quote, timestamp=epoch * 60) for quote in inputs.oracle_quotes))
        try:
            new_state, report = apply_epoch(state, inputs, cfg)
        except InputError as error:  # a refusal names a field; nothing was applied
            assert error.field, str(error)
            event(f"refused on {error.field}")
            continue
        assert_invariants(new_state, report, cfg)  # conservation per asset, balances >= 0, maintenance
        (btc,) = [d for d in report.oracle_decisions if d["instrument_id"] == PERP]
        if btc["status"] == "fallback" or btc["mark_price_ticks"] != btc["median_price_ticks"]:
            event("BTC's mark withheld")
            assert report.conversions == (), (btc, report.conversions)
        elif report.conversions:
            event("collateral converted at the market's mark")
        state = new_state
