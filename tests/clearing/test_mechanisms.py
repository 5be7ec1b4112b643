"""One scenario per clearing mechanism, numbers worked out by hand in each docstring.

Common instrument (clearing_helpers.perp_spec): 10 settlement units per lot per tick, IM 10 %, MM 5 %, linear.
So one lot at a mark of 1000 ticks is worth 10,000 units, needs 1,000 initial and 500 maintenance.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.clearing.clearing_helpers import (
    DATED,
    PERP,
    assert_invariants,
    config,
    dated_spec,
    deposit,
    epoch_inputs,
    fill,
    perp_spec,
    run,
    withdraw,
)
from zkclear.clearing.config import BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND, DeficitResolution
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.novation import novate
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError


def test_novation_turns_a_fill_into_two_legs_against_the_clearing_house() -> None:
    """A buys 3 lots from B at 1000, mark 1000, fees 4 (buyer) and 2 (seller).

    Legs: A +3 @ 1000 and B -3 @ 1000 against the clearing house, whose net is 0.
    Settlement against the mark: 3 * (1000 - 1000) * 10 = 0 each. Cash: A 10,000 - 4 = 9,996,
    B 10,000 - 2 = 9,998, fee account 6. Positions A +3, B -3.
    """
    legs = novate(np.array([0]), np.array([1]), np.array([0]), np.array([3]), np.array([1000]), np.array([4]),
                  np.array([2]))
    assert legs.rows.tolist() == [0, 1]
    assert legs.signed_size.tolist() == [3, -3]
    assert legs.price.tolist() == [1000, 1000]
    assert int(legs.signed_size.sum()) == 0  # the clearing house is flat
    cfg = config()
    state, (report,) = run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 3, 1000, buyer_fee=4,
                                                                        seller_fee=2)],
                                             [deposit("A", 10_000), deposit("B", 10_000)], ["A", "B"]))
    assert state.position_of("A", PERP) == 3
    assert state.position_of("B", PERP) == -3
    assert (state.cash_of("A"), state.cash_of("B"), state.cash_of(FEE_ACCOUNT)) == (9_996, 9_998, 6)
    assert report.fees_collected == 6


def test_netting_sums_legs_per_account_and_settles_each_leg_at_the_mark() -> None:
    """Mark 101. A buys 5 from B @100; A sells 2 to C @102; B buys 1 from C @101.

    Positions: A 5 - 2 = +3, B -5 + 1 = -4, C 2 - 1 = +1 (sum 0).
    Leg flows q * (M - p) * 10: A 5*1*10 + (-2)*(-1)*10 = 50 + 20 = 70; B -5*1*10 + 1*0*10 = -50;
    C 2*(-1)*10 + (-1)*0*10 = -20. Sum 0: the net settlement obligations are A +70, B -50, C -20.
    """
    cfg = config()
    state, (report,) = run(cfg, epoch_inputs(
        1, {PERP: 101},
        [fill("f1", "A", "B", 5, 100), fill("f2", "C", "A", 2, 102), fill("f3", "B", "C", 1, 101)],
        [deposit(a, 100_000) for a in "ABC"], list("ABC")))
    assert [state.position_of(a, PERP) for a in "ABC"] == [3, -4, 1]
    settlement = dict(zip(report.accounts, report.settlement.tolist(), strict=True))
    assert (settlement["A"], settlement["B"], settlement["C"]) == (70, -50, -20)
    assert [state.cash_of(a) for a in "ABC"] == [100_070, 99_950, 99_980]


def test_funding_moves_the_index_and_charges_longs_when_the_rate_is_positive() -> None:
    """Epoch 1: A long 10 from B @1000, mark 1000. Epoch 2: mark 1000, rate 250 ppm.

    dF = 250 * 1000 * 10 = 2,500,000 millionths per lot (2.5 units). A pays floor(-10 * 2.5) = -25, B gets
    floor(+25) = 25. Epoch 3: rate 3 ppm: dF = 30,000 (0.03 / lot); A floor(-0.3) = -1, B floor(0.3) = 0, so
    the rounding residue 1 goes to the fee account. Epoch 4: requested 20,000 ppm is clamped to 10,000:
    dF = 100,000,000 (100 / lot): A -1,000, B +1,000.
    """
    cfg = config()
    state, reports = run(
        cfg,
        epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 10, 1000)],
                     [deposit("A", 100_000), deposit("B", 100_000)], ["A", "B"]),
        epoch_inputs(2, {PERP: (1000, 250)}),
        epoch_inputs(3, {PERP: (1000, 3)}),
        epoch_inputs(4, {PERP: (1000, 20_000)}))
    funding2, _, funding4 = (r.funding[0] for r in reports[1:])
    assert (funding2.index_delta, funding2.index) == (2_500_000, 2_500_000)
    assert reports[1].settlement.tolist()[:2] == [-25, 25]
    assert reports[2].settlement.tolist()[:2] == [-1, 0]
    assert reports[2].funding_residue == 1
    assert (funding4.requested_rate_ppm, funding4.applied_rate_ppm) == (20_000, 10_000)
    assert reports[3].settlement.tolist()[:2] == [-1_000, 1_000]
    assert state.funding_indices == (2_500_000 + 30_000 + 100_000_000,)
    assert (state.cash_of("A"), state.cash_of("B"), state.cash_of(FEE_ACCOUNT)) == (98_974, 101_025, 1)


def test_variation_margin_marks_positions_to_market_into_cash_each_epoch() -> None:
    """A long 4 from B @1000 (mark 1000). Mark 1025: A +4*25*10 = +1,000, B -1,000. Mark 990: A 4*(-35)*10 =
    -1,400, B +1,400. Cash A 50,000 + 1,000 - 1,400 = 49,600; B 50,400; settlement price 990."""
    cfg = config()
    state, reports = run(
        cfg,
        epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 4, 1000)], [deposit("A", 50_000),
                                                                         deposit("B", 50_000)], ["A", "B"]),
        epoch_inputs(2, {PERP: 1025}),
        epoch_inputs(3, {PERP: 990}))
    assert reports[1].settlement.tolist()[:2] == [1_000, -1_000]
    assert reports[2].settlement.tolist()[:2] == [-1_400, 1_400]
    assert (state.cash_of("A"), state.cash_of("B")) == (49_600, 50_400)
    assert state.settlement_prices == (990,)


def test_dated_future_settles_finally_at_the_expiry_mark_and_then_refuses_fills() -> None:
    """BTC-DEC expires in epoch 2. A long 2 from B @500 (mark 500). Epoch 2 mark 540 is the settlement price:
    A +2*40*10 = +800, B -800, positions closed, instrument expired. A fill in epoch 3 is refused."""
    cfg = config(perp_spec(), dated_spec(expiry_epoch=2))
    state, reports = run(
        cfg,
        epoch_inputs(1, {PERP: 1000, DATED: 500}, [fill("f1", "A", "B", 2, 500, DATED)],
                     [deposit("A", 10_000), deposit("B", 10_000)], ["A", "B"]),
        epoch_inputs(2, {PERP: 1000, DATED: 540}))
    assert reports[1].expired_instruments == (DATED,)
    assert (state.position_of("A", DATED), state.position_of("B", DATED)) == (0, 0)
    assert (state.cash_of("A"), state.cash_of("B")) == (10_800, 9_200)
    assert state.expired == (False, True)
    with pytest.raises(InputError, match="has expired") as error:
        apply_epoch(state, epoch_inputs(3, {PERP: 1000}, [fill("f2", "A", "B", 1, 540, DATED)]), cfg)
    assert error.value.field == "instrument" and error.value.line == 1


def _long_a_short_b(cfg, deposit_a: int, deposit_b: int = 100_000, extra=(), opens=()):
    """Epoch 1: A buys 100 lots from B @1000 (mark 1000)."""
    return run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 100, 1000)],
                                 [deposit("A", deposit_a), deposit("B", deposit_b), *extra],
                                 ["A", "B", *opens]))[0]


def test_partial_liquidation_closes_the_smallest_share_that_restores_maintenance_plus_buffer() -> None:
    """A long 100 @1000 with 55,000; mark drops to 990: equity 55,000 - 100*10*10 = 45,000 < MM 49,500.
    Penalty 1 %, buffer 10 %. Closing c lots: penalty ceil(c * 9,900 * 1 %) = 99c, MM after 495(100 - c),
    target ceil(1.1 * 495(100 - c)) = ceil(544.5(100 - c)). Need 45,000 - 99c >= target:
    c = 21: 42,921 < 43,016; c = 22: 42,822 >= 42,471. So 22 lots go to liquidator L (IM 22 * 990 = 21,780 <=
    50,000) at the mark, A pays 2,178 to the insurance fund and keeps 78 lots with 42,822."""
    cfg = config(liquidators=("L",))
    state = _long_a_short_b(cfg, 55_000, extra=[deposit("L", 50_000)], opens=["L"])
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 990}), state=state)
    (event,) = report.liquidations
    assert (event.account, event.action, event.closed_lots, event.receiver) == ("A", "partial", (22,), "L")
    assert (event.equity_before, event.maintenance_before, event.penalty) == (45_000, 49_500, 2_178)
    assert state.position_of("A", PERP) == 78 and state.position_of("L", PERP) == 22
    assert state.cash_of("A") == 42_822 and state.cash_of(INSURANCE_FUND) == 2_178


def test_full_liquidation_when_no_partial_close_reaches_the_target() -> None:
    """A long 100 @1000 with 50,000 (= MM at 1000); mark 955: equity 50,000 - 100*45*10 = 5,000 < MM 47,750.
    Any partial close leaves a positive target while the capped penalty takes the equity towards 0 (c = 99:
    5,000 - min(9,455, 5,000) = 0 < target ceil(1.1 * 478) = 526), so all 100 lots go, to the backstop (no
    liquidator opted in); penalty min(ceil(955,000 * 1 %), 5,000) = 5,000 to the fund.
    The backstop (equity 0, MM 47,750) is topped up with the fund's 5,000 (its target 52,525 is more); still
    below MM, it deleverages at the mark against the short B: keeping k lots needs ceil(1.1 * ceil(477.5 k))
    <= 5,000, so k = 9 (4,728; k = 10 needs 5,253) and 91 lots are closed against B. The 5,000 - 4,728 = 272
    surplus returns to the fund."""
    cfg = config()
    state = _long_a_short_b(cfg, 50_000)
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 955}), state=state)
    first, second = report.liquidations
    assert (first.account, first.action, first.closed_lots, first.receiver, first.penalty) == (
        "A", "full", (100,), BACKSTOP, 5_000)
    assert (first.equity_before, first.maintenance_before) == (5_000, 47_750)
    assert state.position_of("A", PERP) == 0 and state.cash_of("A") == 0
    assert (second.account, second.action, second.closed_lots) == (BACKSTOP, "backstop_deleverage", (91,))
    assert [(e.counterparty, e.lots, e.cash) for e in report.adl] == [("B", 91, 0)]
    assert [t.amount for t in report.backstop_topups] == [5_000, -272]
    assert (state.position_of(BACKSTOP, PERP), state.cash_of(BACKSTOP)) == (9, 4_728)
    assert state.cash_of(INSURANCE_FUND) == 272 and state.position_of("B", PERP) == -9


def test_full_liquidation_to_an_opted_in_liquidator() -> None:
    """Same as above with liquidator L holding 200,000 (IM of 100 lots at 955 = 95,500): L takes all 100 lots
    at the mark; the fund keeps the 5,000 penalty; nobody is deleveraged."""
    cfg = config(liquidators=("L",))
    state = _long_a_short_b(cfg, 50_000, extra=[deposit("L", 200_000)], opens=["L"])
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 955}), state=state)
    (event,) = report.liquidations
    assert (event.action, event.receiver, event.penalty) == ("full", "L", 5_000)
    assert state.position_of("L", PERP) == 100 and report.adl == ()
    assert state.cash_of(INSURANCE_FUND) == 5_000 and state.cash_of("A") == 0


def test_bankruptcy_is_covered_by_the_insurance_fund() -> None:
    """A long 100 @1000 with 50,000; mark 930: equity 50,000 - 70,000 = -20,000. The fund (30,000) pays the
    20,000 deficit, A's 100 lots go to L (200,000 >= IM 93,000) at the mark with no penalty (equity 0).
    The fund ends at 10,000."""
    cfg = config(liquidators=("L",))
    state = _long_a_short_b(cfg, 50_000, extra=[deposit("L", 200_000), deposit(INSURANCE_FUND, 30_000)],
                            opens=["L"])
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 930}), state=state)
    (event,) = report.liquidations
    assert (event.action, event.deficit, event.insurance_paid, event.residue, event.receiver) == (
        "bankrupt", 20_000, 20_000, 0, "L")
    assert state.cash_of("A") == 0 and state.position_of("L", PERP) == 100
    assert state.cash_of(INSURANCE_FUND) == 10_000


def _bankrupt_with_small_fund(resolution: DeficitResolution):
    """Epoch 1 @1000: A long 50 (from B, 25,000 = its MM), D long 50 (10 from B, 40 from C, 100,000), B
    short 60 (40,000), C short 40 (200,000), L 200,000, fund 1,000. Mark 940: A has 25,000 - 50*60*10 =
    -5,000; the fund pays 1,000, residue 4,000. B: 40,000 + 60*60*10 = 76,000; C 224,000; D 70,000; L
    200,000."""
    cfg = config(liquidators=("L",), deficit_resolution=resolution)
    opens = ["A", "B", "C", "D", "L"]
    fills = [fill("f1", "A", "B", 50, 1000), fill("f2", "D", "B", 10, 1000), fill("f3", "D", "C", 40, 1000)]
    transfers = [deposit("A", 25_000), deposit("B", 40_000), deposit("C", 200_000), deposit("D", 100_000),
                 deposit("L", 200_000), deposit(INSURANCE_FUND, 1_000)]
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1000}, fills, transfers, opens))
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 940}), state=state)
    return state, report


def test_fund_exhausted_residue_is_covered_by_auto_deleveraging_the_top_ranked_short() -> None:
    """ADL rank: B pnl 36,000/40,000 = 0.9, leverage 564,000/76,000 = 7.42 -> score 6.68; C pnl 0.12, leverage
    376,000/224,000 = 1.68 -> 0.20. B is first and holds 60 >= 50 lots, so B alone takes A's 50 lots at the
    bankruptcy price 948 (50 * (948 - 940) * 10 = 4,000): B pays the whole residue. A ends at 0 and flat, B
    short 10 with 72,000, C untouched, fund 0."""
    state, report = _bankrupt_with_small_fund(DeficitResolution.ADL)
    (event,) = report.liquidations
    assert (event.deficit, event.insurance_paid, event.residue) == (5_000, 1_000, 4_000)
    assert event.resolution == "adl"
    assert [(e.counterparty, e.instrument, e.lots, e.cash) for e in report.adl] == [("B", PERP, 50, 4_000)]
    assert state.cash_of("A") == 0 and state.position_of("A", PERP) == 0
    assert (state.cash_of("B"), state.position_of("B", PERP)) == (72_000, -10)
    assert (state.cash_of("C"), state.position_of("C", PERP)) == (224_000, -40)
    assert state.cash_of(INSURANCE_FUND) == 0


def test_fund_exhausted_residue_is_socialized_pro_rata_to_positive_equity() -> None:
    """Weights (positive equity of every other account; the fee account and backstop hold 0): B 76,000, C
    224,000, D 70,000, L 200,000; total
    570,000. Floors of 4,000 * w / 570,000: B 533 (.33), C 1,571 (.93), D 491 (.23), L 1,403 (.51) = 3,998;
    the two leftover units go to the largest remainders C and L: 533, 1,572, 491, 1,404. A (now 0) hands its
    50 lots to L at the mark (IM 47,000)."""
    state, report = _bankrupt_with_small_fund(DeficitResolution.SOCIALIZED_LOSS)
    (event,) = report.liquidations
    assert (event.residue, event.resolution, event.receiver) == (4_000, "socialized_loss", "L")
    (loss,) = report.socialized
    assert loss.residues == (("A", 4_000),)
    assert loss.charges == (("B", 533), ("C", 1_572), ("D", 491), ("L", 1_404))
    assert (state.cash_of("B"), state.cash_of("C"), state.cash_of("D"), state.cash_of("L")) == (
        75_467, 222_428, 69_509, 198_596)
    assert state.position_of("L", PERP) == 50 and state.cash_of("A") == 0
    assert report.adl == ()


def test_withdrawal_below_initial_requirement_is_rejected_with_a_reason() -> None:
    """A long 10 @1000 (IM 10 * 10,000 * 10 % = 10,000) with 15,000. Withdrawing 6,000 would leave 9,000 <
    10,000: rejected. Then 5,000 leaves exactly 10,000: honoured. Cash 10,000; totals record one
    withdrawal."""
    cfg = config()
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 10, 1000)],
                                     [deposit("A", 15_000), deposit("B", 100_000)], ["A", "B"]))
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 1000}, transfers=[withdraw("A", 6_000, "w1"),
                                                                         withdraw("A", 5_000, "w2")]),
                           state=state)
    rejected, accepted = report.withdrawals
    assert not rejected.accepted and "below the initial requirement 10000" in rejected.reason
    assert accepted.accepted
    assert state.cash_of("A") == 10_000 and state.total_withdrawn == 5_000


def test_tiered_margin_drives_liquidation_decisions() -> None:
    """Tiers: 5 % up to notional 100,000, then 10 % with deduction 5,000. A long 30 @1000 (notional 300,000):
    MM = max(15,000, 30,000 - 5,000) = 25,000; with equity 24,000 A is liquidated, with 26,000 it is not."""
    from zkclear.clearing.instruments import MarginTier

    tiers = (MarginTier(100_000, 50_000, 0), MarginTier(1_000_000, 100_000, 5_000))
    initial = (MarginTier(100_000, 100_000, 0), MarginTier(1_000_000, 200_000, 10_000))
    cfg = config(perp_spec(margin_model="tiered", maintenance_tiers=tiers, initial_tiers=initial))
    maintenance_seen = []
    for equity in (24_000, 26_000):
        _, (report,) = run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 30, 1000)],
                                             [deposit("A", equity), deposit("B", 10**6)], ["A", "B"]))
        maintenance_seen.append([(e.account, e.maintenance_before) for e in report.liquidations
                                 if e.account == "A"])
    assert maintenance_seen == [[("A", 25_000)], []]


def test_a_margin_override_of_a_tiered_instrument_is_refused_not_ignored() -> None:
    """Red team s12: an override of the fractions of an instrument margined by its tier tables changed nothing and
    said nothing (the operator believed margins raised). It is refused, naming the record."""
    from zkclear.clearing.inputs import MarginOverride
    from zkclear.clearing.instruments import MarginTier

    tiers = (MarginTier(100_000, 50_000, 0), MarginTier(1_000_000, 100_000, 5_000))
    initial = (MarginTier(100_000, 100_000, 0), MarginTier(1_000_000, 200_000, 10_000))
    cfg = config(perp_spec(margin_model="tiered", maintenance_tiers=tiers, initial_tiers=initial))
    inputs = dataclasses.replace(epoch_inputs(1, {PERP: 1000}, [], [deposit("A", 10)], ["A"]),
                                 margin_overrides=(MarginOverride(PERP, 400_000, 200_000, "margin.csv", 2),))
    with pytest.raises(InputError, match="margined by its tier tables") as error:
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert (error.value.path, error.value.line, error.value.field) == ("margin.csv", 2, "instrument")


def test_epoch_is_pure_and_deterministic() -> None:
    """Applying the same epoch twice to the same state gives byte-identical states and reports; the input
    state is untouched (its arrays are read-only)."""
    from zkclear.clearing.state import canonical_json

    cfg = config()
    state = _long_a_short_b(cfg, 50_000, extra=[deposit(INSURANCE_FUND, 500)])
    before = state.canonical_bytes()
    inputs = epoch_inputs(2, {PERP: 930})
    first, report1 = apply_epoch(state, inputs, cfg)
    second, report2 = apply_epoch(state, inputs, cfg)
    assert first.canonical_bytes() == second.canonical_bytes()
    assert canonical_json(report1.to_canonical()) == canonical_json(report2.to_canonical())
    assert state.canonical_bytes() == before
    with pytest.raises(ValueError):
        state.cash[0] = 1
    assert_invariants(first, report1, cfg)


def test_self_trade_when_allowed_nets_to_nothing_but_pays_fees() -> None:
    """With allow_self_trade, A buying 5 from itself leaves A flat and only moves its fees (3 + 2) to the fee
    account; without it the same fill is an input error naming the record."""
    fills = [fill("f1", "A", "A", 5, 1000, buyer_fee=3, seller_fee=2)]
    state, _ = run(config(allow_self_trade=True),
                   epoch_inputs(1, {PERP: 1000}, fills, [deposit("A", 1_000)], ["A"]))
    assert state.position_of("A", PERP) == 0
    assert (state.cash_of("A"), state.cash_of(FEE_ACCOUNT)) == (995, 5)
    with pytest.raises(InputError, match="self-trade") as error:
        run(config(), epoch_inputs(1, {PERP: 1000}, fills, [deposit("A", 1_000)], ["A"]))
    assert (error.value.path, error.value.line, error.value.field) == ("<memory:fills>", 1, "seller")


def test_epoch_margin_overrides_can_only_tighten_and_are_bound_in_the_inputs() -> None:
    """A long 100 @1000 with 60,000: MM 5 % = 50,000 is met. An override to 7 % maintenance (IM 14 %) makes MM
    70,000 > 60,000, so A is liquidated; an override *below* the configuration (2 %) changes nothing
    (max(configured, override)). The override is part of the canonical inputs, so the ledger hashes it."""
    from zkclear.clearing.inputs import MarginOverride

    cfg = config(liquidators=("L",))
    state = _long_a_short_b(cfg, 60_000, extra=[deposit("L", 10**6)], opens=["L"])
    tighter = dataclasses.replace(epoch_inputs(2, {PERP: 1000}),
                                  margin_overrides=(MarginOverride(PERP, 140_000, 70_000),))
    _, (report,) = run(cfg, tighter, state=state)
    assert [(e.account, e.maintenance_before) for e in report.liquidations] == [("A", 70_000)]
    assert report.risk.instruments[0].maintenance_margin_ppm == 70_000
    looser = dataclasses.replace(tighter, margin_overrides=(MarginOverride(PERP, 40_000, 20_000),))
    _, (report,) = run(cfg, looser, state=state)
    assert report.liquidations == () and report.risk.instruments[0].maintenance_margin_ppm == 50_000
    assert b'"margin_overrides":[["BTC-PERP",140000,70000]]' in tighter.canonical_bytes()
    bad = dataclasses.replace(tighter, margin_overrides=(MarginOverride(PERP, 10_000, 70_000),))
    with pytest.raises(InputError, match="initial_margin_ppm must be >=") as error:
        apply_epoch(state, bad, cfg)
    assert error.value.field == "initial_margin_ppm"
