"""Withdrawals while a price is paused (docs/clearing.md "Withdrawals while a price is paused or clamped"): an
account exposed to a paused price — it held, traded or holds a paused instrument, or holds collateral priced by
one — withdraws nothing that epoch; every other account withdraws as usual.

Red team s12: during a fallback the epoch's fills settle against the last good price. A trader who bought at the
real (lower) price was credited the difference in cash and took it out in the same epoch, leaving the loss to
whoever stayed; a round trip (bought and sold back, flat at the end) did the same without holding a lot.
Units as in tests/clearing/test_paused_exemption.py: BTC-PERP and ETH-PERP, 10 units per lot per tick, IM 10 %.
"""

from __future__ import annotations

from tests.clearing.clearing_helpers import PERP, config, deposit, fill, perp_spec, run, withdraw
from tests.clearing.collateral_helpers import (
    BTC,
    ETH_PERP,
    USDC,
    btc_asset,
    btc_perp,
    deposit_asset,
    eth_perp,
    multi_config,
    withdraw_asset,
)
from tests.clearing.test_paused_exemption import ETH, eth_spec, oracle_epoch
from zkclear.clearing.assets import HaircutTier
from zkclear.clearing.config import OracleGuardConfig

STALE = ("the account is exposed to a paused price ({}): withdrawals wait for an epoch with a good mark (equity at "
         "a price nobody vouches for does not leave the venue)")


def _market():
    """Epoch 1, both instruments quoted by two sources (BTC 30,000, ETH 2,000): ``buyer`` and ``tripper`` deposit
    100,000 and hold nothing; ``btc_only`` buys one BTC lot; the dealer is the other side of everything."""
    cfg = config(perp_spec(), eth_spec(), oracle=OracleGuardConfig(), epoch_seconds=60)
    state, _ = run(cfg, oracle_epoch(
        1, {PERP: (30_000, 2), ETH: (2_000, 2)}, fills=[fill("b", "btc_only", "dealer", 1, 30_000)],
        transfers=[deposit("buyer", 100_000), deposit("tripper", 100_000), deposit("btc_only", 100_000),
                   deposit("dealer", 10**9)],
        opens=["buyer", "tripper", "btc_only", "dealer"]))
    return cfg, state


def test_a_gain_credited_at_a_stale_mark_cannot_be_withdrawn_in_the_paused_epoch():
    cfg, state = _market()
    # ETH has one source: its mark stays 2,000 (liquidations on it paused). The buyer buys 10 lots at 1,900 (inside
    # the band), credited 10 × (2,000 − 1,900) × 10 = 10,000 at the stale mark, and asks for it at once.
    paused, (report,) = run(cfg, oracle_epoch(
        2, {PERP: (30_000, 2), ETH: (2_000, 1)}, fills=[fill("e", "buyer", "dealer", 10, 1_900, ETH)],
        transfers=[withdraw("buyer", 10_000, "out")]), state=state)
    assert report.paused_instruments == (ETH,)
    (outcome,) = report.withdrawals
    assert (outcome.accepted, outcome.reason) == (False, STALE.format(ETH))
    assert paused.cash_of("buyer") == 110_000  # credited, kept in the venue
    # The next epoch with a good mark settles the lots at the market (1,900): the credit is given back as
    # variation margin before anything can leave.
    after, (report,) = run(cfg, oracle_epoch(3, {PERP: (30_000, 2), ETH: (1_900, 2)},
                                             transfers=[withdraw("buyer", 10_000, "out-2")]), state=paused)
    (outcome,) = report.withdrawals
    assert outcome.accepted and after.cash_of("buyer") == 100_000 - 10_000


def test_a_round_trip_on_the_paused_instrument_blocks_the_withdrawal_too():
    cfg, state = _market()
    # bought at 1,900 and sold back at 2,000 (the stale mark): flat at the end, 10,000 richer at that mark
    paused, (report,) = run(cfg, oracle_epoch(
        2, {PERP: (30_000, 2), ETH: (2_000, 1)},
        fills=[fill("in", "tripper", "dealer", 10, 1_900, ETH), fill("out", "dealer", "tripper", 10, 2_000, ETH)],
        transfers=[withdraw("tripper", 1_000, "out")]), state=state)
    assert paused.position_of("tripper", ETH) == 0
    (outcome,) = report.withdrawals
    assert (outcome.accepted, outcome.reason) == (False, STALE.format(ETH))


def test_an_account_without_exposure_to_the_paused_price_withdraws_as_usual():
    cfg, state = _market()
    paused, (report,) = run(cfg, oracle_epoch(
        2, {PERP: (30_000, 2), ETH: (2_000, 1)},
        transfers=[withdraw("btc_only", 50_000, "a"), withdraw("buyer", 50_000, "b")]), state=state)
    assert [(w.account, w.accepted, w.reason) for w in report.withdrawals] == [
        ("btc_only", True, ""), ("buyer", True, "")]
    assert (paused.cash_of("btc_only"), paused.cash_of("buyer")) == (50_000, 50_000)


def test_a_paused_price_leaves_the_withdrawals_of_a_good_epoch_alone():
    cfg, state = _market()
    _, (report,) = run(cfg, oracle_epoch(
        2, {PERP: (30_000, 2), ETH: (2_000, 2)}, fills=[fill("e", "buyer", "dealer", 10, 1_900, ETH)],
        transfers=[withdraw("buyer", 10_000, "out")]), state=state)
    assert report.paused_instruments == ()
    (outcome,) = report.withdrawals
    assert outcome.accepted


def test_collateral_priced_by_a_paused_instrument_waits_and_so_does_its_holders_cash():
    """BTC collateral is priced by BTC-PERP; with BTC-PERP paused, neither the BTC nor the settlement balance of
    its holder leaves; an account holding no BTC and nothing on BTC-PERP withdraws."""
    cfg = multi_config(btc_asset(haircut=(HaircutTier(0, 800_000),)), specs=(btc_perp(), eth_perp()),
                       oracle=OracleGuardConfig(), epoch_seconds=60)
    state, _ = run(cfg, oracle_epoch(
        1, {PERP: (60_000, 2), ETH_PERP: (3_000, 2)},
        transfers=[deposit_asset("alice", BTC // 10, "BTC"), deposit("alice", 1_000 * USDC),
                   deposit("carol", 1_000 * USDC)],
        opens=["alice", "carol"]))
    _, (report,) = run(cfg, oracle_epoch(
        2, {PERP: (60_000, 1), ETH_PERP: (3_000, 2)},
        transfers=[withdraw_asset("alice", BTC // 100, "BTC", "btc-out"), withdraw("alice", USDC, "usdc-out"),
                   withdraw("carol", USDC, "carol-out")]), state=state)
    assert report.paused_instruments == (PERP,)
    outcomes = {w.transfer_id: (w.accepted, w.reason, w.asset) for w in report.withdrawals}
    assert outcomes == {"btc-out": (False, STALE.format(PERP), "BTC"), "usdc-out": (False, STALE.format(PERP), ""),
                        "carol-out": (True, "", "")}
