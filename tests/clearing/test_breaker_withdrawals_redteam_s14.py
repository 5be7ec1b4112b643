"""Red team session 14: withdrawals across the epochs a circuit breaker lags the market (docs/clearing.md
"Withdrawals while a price is paused or clamped").

``BTC-PERP`` (10 units per lot per tick, IM 10 %, MM 5 %), the default guard (two sources, breaker 25 %), ``LIQ``
the liquidator, an insurance fund of 10^7. Epoch 1 marks 30,000. Then the market crashes to 12,000 (-60 %) and stays
there: the breaker marks 22,500, 16,875, 12,657, then 12,000 — four epochs. In the crash epoch ``A`` buys 10 lots
from ``B`` at the market's 12,000 (inside the price band, which spans the oracle median), and is credited
(22,500 - 12,000) x 10 x 10 = 1,050,000 at the clamped mark; ``B`` (100,000 deposited) is liquidated bankrupt.
Before, ``A`` withdrew 900,000 of it at once, and the insurance fund paid ``A``'s bankruptcy too as the mark caught
up: A and B together took 700,000 more than they deposited. Now ``A`` (and any account exposed to the clamped
instrument) withdraws nothing until an epoch whose mark the breaker did not clamp, which leaves ``A`` its deposit.
"""

from __future__ import annotations

from tests.clearing.clearing_helpers import PERP, config, deposit, fill, perp_spec, withdraw
from tests.clearing.test_paused_exemption import oracle_epoch
from zkclear.clearing.config import INSURANCE_FUND, OracleGuardConfig
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.state import EpochState

FUND = 10**7


def test_an_account_exposed_to_a_clamped_mark_withdraws_only_once_the_mark_is_the_markets():
    cfg = config(perp_spec(), oracle=OracleGuardConfig(), epoch_seconds=60, liquidators=("LIQ",))
    first = oracle_epoch(1, {PERP: (30_000, 2)}, fills=[fill("x", "M1", "M2", 1, 30_000)],
                         transfers=[deposit("A", 100_000), deposit("B", 100_000), deposit("C", 50_000),
                                    deposit("M1", 10**8), deposit("M2", 10**8), deposit("LIQ", 10**9),
                                    deposit(INSURANCE_FUND, FUND)],
                         opens=["A", "B", "C", "M1", "M2", "LIQ"])
    state, _ = apply_epoch(EpochState.genesis(cfg), first, cfg)
    crash = oracle_epoch(2, {PERP: (12_000, 2)}, fills=[fill("f", "A", "B", 10, 12_000)],
                         transfers=[withdraw("A", 900_000), withdraw("C", 50_000)])
    state, report = apply_epoch(state, crash, cfg)
    assert state.settlement_prices == (22_500,) and report.oracle_decisions[0]["breaker_triggered"]
    outcomes = {w.account: w for w in report.withdrawals}
    assert not outcomes["A"].accepted
    assert outcomes["A"].reason.startswith("the account is exposed to a paused or clamped price (BTC-PERP): "
                                           "withdrawals wait for an epoch with a good mark")
    assert outcomes["C"].accepted  # no exposure to the clamped instrument: withdraws as in any epoch
    assert state.cash_of("A") == 100_000 + 1_050_000 and [e.account for e in report.liquidations] == ["B"]
    marks = []
    for epoch in (3, 4, 5):  # the breaker catches up: 16,875, 12,657, then the market's 12,000
        state, report = apply_epoch(state, oracle_epoch(epoch, {PERP: (12_000, 2)},
                                                        transfers=[withdraw("A", 900_000, f"w{epoch}")]), cfg)
        marks.append(state.settlement_prices[0])
        clamped = report.oracle_decisions[0]["breaker_triggered"]
        assert report.withdrawals[0].accepted is False or not clamped
    assert marks == [16_875, 12_657, 12_000]
    # A's credit at the clamped marks is gone; the one real gain it could take out never existed
    assert state.cash_of("A") == 100_000 and report.withdrawals[0].accepted is False
    assert "below the initial requirement" in report.withdrawals[0].reason
    # the fund paid B's deficit at the clamped mark, and nothing of A's: A is not liquidated
    assert state.cash_of(INSURANCE_FUND) == FUND - 950_000


def test_a_breaker_that_lands_on_the_median_withholds_nothing():
    """At a mark of 3 ticks a one-tick move is 33 %, past the breaker, whose clamp (at least one tick) lands on the
    median itself: the mark is the market's, and withdrawals go on."""
    cfg = config(perp_spec(), oracle=OracleGuardConfig(), epoch_seconds=60)
    first = oracle_epoch(1, {PERP: (3, 2)}, fills=[fill("x", "A", "B", 10, 3)],
                         transfers=[deposit("A", 1_000), deposit("B", 1_000)], opens=["A", "B"])
    state, _ = apply_epoch(EpochState.genesis(cfg), first, cfg)
    state, report = apply_epoch(state, oracle_epoch(2, {PERP: (4, 2)}, transfers=[withdraw("A", 100)]), cfg)
    decision = report.oracle_decisions[0]
    assert decision["breaker_triggered"] and decision["mark_price_ticks"] == decision["median_price_ticks"] == 4
    assert report.withdrawals[0].accepted
