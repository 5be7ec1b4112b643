"""Properties of clearing with collateral assets (issue 13): over random deployments and epochs (deposits and
withdrawals of every asset, fills, marks that drift and crash), every epoch is either refused naming a file
field or commits, and what commits conserves every asset to the unit, holds no negative collateral balance,
keeps every account at or above maintenance with its collateral counted at its tier-sum haircut value, and fits
every bound the statements rely on."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.clearing.clearing_helpers import assert_invariants, deposit, epoch_inputs, fill, tier_sum_haircut, withdraw
from tests.clearing.collateral_helpers import (
    BTC,
    ETH_PERP,
    PERP,
    USDC,
    btc_asset,
    btc_perp,
    deposit_asset,
    eth_asset,
    eth_perp,
    multi_config,
    withdraw_asset,
)
from zkclear.clearing.assets import HaircutTier
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.margin import MarginLevel, account_requirement
from zkclear.clearing.provable import MONEY_BITS, StatementBounds, collateral_breach, statement_haircut_lines
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

TRADERS = ("t0", "t1", "t2", "t3")
ASSETS = ("", "BTC", "ETH")  # "" is the settlement asset


@st.composite
def tiers(draw) -> tuple[HaircutTier, ...]:
    ratios = sorted(draw(st.lists(st.integers(0, 1_000_000), min_size=1, max_size=4)), reverse=True)
    bounds, upper = [], 0
    for _ in ratios[1:]:
        upper += draw(st.integers(1, 10**12))
        bounds.append(upper)
    return tuple(HaircutTier(bound, ratio) for bound, ratio in zip([*bounds, 0], ratios, strict=True))


@st.composite
def transfer(draw, epoch: int, k: int):
    account = draw(st.sampled_from(TRADERS))
    asset = draw(st.sampled_from(ASSETS))
    amount = draw(st.one_of(st.integers(1, 10 * USDC), st.integers(1, 10**12), st.integers(1, 10**17)))
    transfer_id = f"x-{epoch}-{k}"
    if draw(st.booleans()):
        return deposit_asset(account, amount, asset, transfer_id) if asset else deposit(account, amount, transfer_id)
    return withdraw_asset(account, amount, asset, transfer_id) if asset else withdraw(account, amount, transfer_id)


@st.composite
def scenario(draw):
    btc = btc_asset(haircut=draw(tiers()), conversion_penalty_ppm=draw(st.integers(0, 100_000)))
    eth = eth_asset(haircut=draw(tiers()), conversion_penalty_ppm=draw(st.integers(0, 100_000)))
    cfg = multi_config(btc, eth, specs=(btc_perp(), eth_perp()), liquidators=("t3",),
                       deficit_resolution=draw(st.sampled_from(list(type(multi_config().deficit_resolution)))))
    prices = {PERP: 60_000, ETH_PERP: 3_000}
    epochs = [epoch_inputs(1, dict(prices), transfers=[
        *(deposit_asset(t, draw(st.integers(0, 20 * BTC)) or 1, "BTC", f"b-{t}") for t in TRADERS),
        *(deposit_asset(t, draw(st.integers(0, 10**11)) or 1, "ETH", f"e-{t}") for t in TRADERS),
        *(deposit(t, draw(st.integers(1, 10**11)), f"u-{t}") for t in TRADERS),
        deposit("CH:insurance", draw(st.integers(0, 10**11)) or 1, "fund")], opens=list(TRADERS))]
    for epoch in range(2, draw(st.integers(2, 5)) + 1):
        for instrument in prices:
            move = draw(st.sampled_from((-600_000, -300_000, -90_000, -20_000, 0, 20_000, 90_000, 300_000)))
            prices[instrument] = max(1, prices[instrument] + prices[instrument] * move // 1_000_000)
        fills = []
        for k in range(draw(st.integers(0, 4))):
            buyer, seller = draw(st.lists(st.sampled_from(TRADERS), min_size=2, max_size=2, unique=True))
            instrument = draw(st.sampled_from(sorted(prices)))
            fills.append(fill(f"f-{epoch}-{k}", buyer, seller, draw(st.integers(1, 5_000)), prices[instrument],
                              instrument))
        transfers = [draw(transfer(epoch, k)) for k in range(draw(st.integers(0, 4)))]
        epochs.append(epoch_inputs(epoch, dict(prices), fills=fills, transfers=transfers))
    return cfg, epochs


def _check_committed(state: EpochState, report, cfg) -> None:
    assert_invariants(state, report, cfg)  # conservation per asset, balances >= 0, equity >= maintenance
    bounds = StatementBounds(report.risk, cfg.risk_models, cfg.statement_limits)
    assets = report.risk.assets
    for row, account in enumerate(state.accounts):
        held = state.asset_balances[row].tolist()
        # Everything that commits fits the statements' bounds: collateral value, haircut lines, positions.
        assert collateral_breach(assets, held) is None
        assert bounds.account_breach(state.positions[row].tolist(), state.margin_modes[row]) is None
        for asset, balance in zip(assets, held, strict=True):
            credited = tier_sum_haircut(asset, balance)
            assert asset.haircut_value(balance) == credited
            value = asset.value(balance)  # what the statement proves: 0 <= k·V + c − D·h < 2^64 per line
            for slope, constant, denominator in statement_haircut_lines(asset):
                assert 0 <= slope * value + constant - denominator * credited < 1 << MONEY_BITS
        equity = int(state.cash[row]) + sum(tier_sum_haircut(a, b) for a, b in zip(assets, held, strict=True))
        assert 0 <= equity <= (1 << 62) - 1
        requirement = account_requirement(state.positions[row].tolist(), report.risk, cfg.risk_models,
                                          MarginLevel.MAINTENANCE)
        assert equity >= requirement, account


def _held(state: EpochState, inputs, account: str, asset: str) -> int:
    """The account's balance of ``asset`` before the epoch plus the epoch's deposits of it."""
    before = state.balance_of(account, asset) if account in state.accounts else 0
    return before + sum(t.amount for t in inputs.transfers if t.account == account and t.asset == asset
                        and t.kind == "deposit")


@given(scenario())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_collateral_epoch_is_refused_by_field_or_commits_conserved_and_provable(case):
    cfg, epochs = case
    state = EpochState.genesis(cfg)
    for inputs in epochs:
        inputs = dataclasses.replace(inputs, epoch=state.epoch + 1)  # a refused epoch is not skipped in numbering
        try:
            new_state, report = apply_epoch(state, inputs, cfg)
        except InputError as error:  # a refusal names a field; nothing was applied
            assert error.field, str(error)
            event(f"refused on {error.field}")
            continue
        event("committed")
        if report.conversions:
            event("collateral converted")
        if report.liquidations:
            event("positions liquidated")
        _check_committed(new_state, report, cfg)
        for outcome in report.withdrawals:  # a withdrawal never takes more than the account held
            if outcome.accepted and outcome.asset:
                assert outcome.amount <= _held(state, inputs, outcome.account, outcome.asset)
        for conversion in report.conversions:
            assert conversion.amount <= _held(state, inputs, conversion.account, conversion.asset)
            assert 0 <= conversion.penalty <= conversion.proceeds
        state = new_state
