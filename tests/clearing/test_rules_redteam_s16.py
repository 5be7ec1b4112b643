"""Red team (session 16) of this session's clearing rules (docs/clearing.md "Liquidation", "Paused liquidations").

Scenarios in the units of tests/clearing/test_waterfall_redteam_s16.py (``BTC-PERP`` and ``ETH-PERP``, 10 settlement
units per lot per tick, IM 10 %, MM 5 %, penalty 1 %, buffer 10 %, two oracle sources, epochs 60 s apart).
"""

from __future__ import annotations

import pytest

from tests.clearing import reference_clearing_s15 as ref
from tests.clearing.clearing_helpers import PERP, deposit, fill, run
from tests.clearing.test_paused_exemption import ETH, oracle_epoch
from tests.clearing.test_waterfall_redteam_s16 import _assert_provable, _backstop_holding_eth, _model_and_engine
from zkclear.clearing.config import BACKSTOP, INSURANCE_FUND


def test_attack_a_later_candidate_does_not_spend_the_fund_an_exempt_backstop_took_lots_on():
    """Defect (fixed): the exempt backstop (it carries u1's ETH lot; ETH has one source in epoch 3) took u2's BTC lot
    because its equity and the fund's covered its maintenance with it — but the fund was only counted, not committed.
    u3, after u2 in id order, went bankrupt in the same round and the fund paid its deficit; the round-end top-up
    could no longer restore the backstop, which ended the epoch below maintenance: a proving deployment refused the
    epoch, as the check the take passed was meant to prevent. Now the fund pays the backstop what the take relied on
    when it takes the lots, and u3's deficit is covered by what is left."""
    cfg, _, state = _backstop_holding_eth(fund=12_000)
    # u3 opens two BTC lots at 30,000 with 55,000 (equity −5,000 at 27,000), in an epoch both instruments are quoted
    opening = oracle_epoch(3, {PERP: (30_000, 2), ETH: (1_900, 2)}, fills=[fill("b3", "u3", "dealer", 2, 30_000)],
                           transfers=[deposit("u3", 55_000)], opens=["u3"])
    state, _ = run(cfg, opening, state=state)
    fund_before = state.cash_of(INSURANCE_FUND)
    state, (report,) = run(cfg, oracle_epoch(4, {PERP: (27_000, 2), ETH: (1_900, 1)}), state=state)
    assert report.paused_instruments == (ETH,)
    events = {e.account: e for e in report.liquidations}
    assert events["u2"].receiver == BACKSTOP and events["u3"].action == "bankrupt"
    assert state.position_of(BACKSTOP, PERP) == 1
    assert report.paused_accounts == ()
    assert fund_before + events["u2"].penalty - events["u3"].insurance_paid - sum(
        t.amount for t in report.backstop_topups) == state.cash_of(INSURANCE_FUND) >= 0
    _assert_provable(state, report, cfg)


@pytest.mark.parametrize("resolution", ["socialized_loss", "adl"])
def test_attack_the_house_capital_in_the_backstop_pays_a_deficit_before_the_traders(resolution):
    """Defect (fixed): the operator deposits 10,000 to the backstop — insurance capital: backstop cash above its target
    is the fund's by the end of the epoch — in the epoch A (long 10 I0 from W at 100, with 60) goes bankrupt at 40
    (−540) while the fund is empty. The fund covered nothing: W and X were charged 187 and 176 of the socialized
    residue (the backstop 177), or W paid all 540 by ADL, and then 9,801 or 10,000 of the backstop's cash went to the
    fund. Now each liquidation round begins by returning the backstop's surplus to the fund, which covers A's
    deficit: the traders pay nothing (engine and reference model alike)."""
    config = ref.Config((ref.Instrument("I0", "perpetual", 1, 100_000, 50_000),), deficit_resolution=resolution)
    first = ref.Inputs(1, {"I0": (100, 0)}, (ref.FillRecord("x", "A", "W", "I0", 10, 100),),
                       (("a", "deposit", "A", 60), ("w", "deposit", "W", 10_000), ("x", "deposit", "X", 10_000)),
                       ("A", "W", "X"))
    crash = ref.Inputs(2, {"I0": (40, 0)}, transfers=(("b", "deposit", ref.BACKSTOP, 10_000),))
    state, report = _model_and_engine(config, first, crash)
    (event,) = report.liquidations
    assert (event.account, event.action, event.deficit, event.insurance_paid, event.residue) == (
        "A", "bankrupt", 540, 540, 0)
    assert report.adl == () and report.socialized == ()
    assert (state.cash_of("W"), state.cash_of("X")) == (10_600, 10_000)
    assert [t.amount for t in report.backstop_topups] == [-10_000, 22]  # its surplus, then A's 10 lots' target
    assert state.cash_of(INSURANCE_FUND) + state.cash_of(BACKSTOP) == 10_000 - 540
