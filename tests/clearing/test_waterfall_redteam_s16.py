"""Red team (session 16) of the default waterfall: liquidation, insurance fund, backstop, ADL and socialized loss
(zkclear/clearing/liquidation.py, waterfall.py, closeout.py, conversion.py; docs/clearing.md "Liquidation").

Units as in tests/clearing/test_paused_exemption.py: ``BTC-PERP`` and ``ETH-PERP``, 10 settlement units per lot per
tick, IM 10 %, MM 5 %, penalty 1 %, buffer 10 %, the default oracle guard (two sources), epochs 60 s apart.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from circuits.public_data import AccountWitness, PublicRiskData
from provers.collateral import assign_account
from tests.clearing.clearing_helpers import PERP, config, deposit, fill, perp_spec, run
from tests.clearing.test_paused_exemption import ETH, eth_spec, oracle_epoch
from zkclear.clearing.config import BACKSTOP, INSURANCE_FUND, OracleGuardConfig
from zkclear.clearing.inputs import FundingRate
from zkclear.clearing.ledger import Ledger
from zkclear.errors import InputError


def _backstop_holding_eth(fund: int):
    """Epoch 1: ``u1`` buys one ETH lot with 1,500, ``u2`` one BTC lot with 40,000, the fund gets ``fund``.
    Epoch 2: ETH 1,900, ``u1`` (equity 500 < 950) is closed out whole to the backstop, which the fund tops up to its
    target ⌈950 · 1.1⌉ = 1,045 (the penalty 190 goes to the fund)."""
    cfg = config(perp_spec(), eth_spec(), oracle=OracleGuardConfig(), epoch_seconds=60)
    first = oracle_epoch(1, {PERP: (30_000, 2), ETH: (2_000, 2)},
                         fills=[fill("e1", "u1", "dealer", 1, 2_000, ETH), fill("b1", "u2", "dealer", 1, 30_000)],
                         transfers=[deposit("u1", 1_500), deposit("u2", 40_000), deposit("dealer", 10**9),
                                    deposit(INSURANCE_FUND, fund)],
                         opens=["u1", "u2", "dealer"])
    second = oracle_epoch(2, {PERP: (30_000, 2), ETH: (1_900, 2)})
    state, reports = run(cfg, first, second)
    assert reports[1].liquidations[0].receiver == BACKSTOP and state.cash_of(BACKSTOP) == 1_045
    return cfg, (first, second), state


def _assert_provable(state, report, cfg) -> None:
    """Every account passes its collateralization statement (what ``zkclear epoch prove`` checks first)."""
    public = PublicRiskData.from_epoch(report.risk, cfg.risk_models, scenario_table=report.risk.scenario_table,
                                       position_bits=cfg.statement_limits.position_bits)
    for row, account in enumerate(state.accounts):
        assign_account(account, AccountWitness(int(state.cash[row]), tuple(state.positions[row].tolist()),
                                               state.margin_modes[row], tuple(state.asset_balances[row].tolist())),
                       public)


def test_a_liquidation_on_a_healthy_instrument_does_not_sink_a_backstop_the_oracle_guard_exempts():
    """Defect (fixed): ETH-PERP has one source in epoch 3 (liquidations paused), so the backstop, which carried
    u1's ETH lot in, is exempt from deleveraging. BTC falls to 27,000 — a healthy mark — and u2 (equity 10,000 <
    13,500) is closed out; its lot went to the exempt backstop although the backstop and the fund together held
    1,045 + 2,945 against a maintenance of 14,450 with it. The backstop ended the epoch below maintenance, in
    ``paused_accounts``: a proving deployment refused the epoch, and went on refusing while the ETH outage lasted —
    any trader's liquidation on any instrument stopped the venue, and "give the paused instruments' quotes" cannot
    be done in an outage. Now an exempt backstop takes lots only while its equity and the fund cover its maintenance
    with them; u2's lot is closed against the dealer at the mark, as lots no receiver can hold are."""
    cfg, _, state = _backstop_holding_eth(fund=1_100)
    state, (report,) = run(cfg, oracle_epoch(3, {PERP: (27_000, 2), ETH: (1_900, 1)}), state=state)
    assert report.paused_instruments == (ETH,)
    (event,) = report.liquidations
    assert (event.account, event.action, event.receiver) == ("u2", "full", "ADL")
    assert [(e.counterparty, e.lots, e.cash) for e in report.adl] == [("dealer", 1, 0)]
    assert report.paused_accounts == ()
    assert (state.position_of(BACKSTOP, PERP), state.position_of(BACKSTOP, ETH)) == (0, 1)
    _assert_provable(state, report, cfg)


def test_a_backstop_the_fund_cannot_top_up_in_an_outage_is_refused_with_a_remedy_that_needs_no_quote(tmp_path: Path):
    """The left-alone item "a paused backstop can end with negative cash": the backstop carries one ETH lot at its
    target 1,045 with an empty fund; ETH has one source (paused) and funding at the 1 % clamp costs the long
    ⌊1 % · 1,900 · 10⌋ = 190, leaving 855 < 950. The exempt backstop cannot be deleveraged and the fund cannot top it
    up, so a proving deployment refuses the epoch (nothing committed, not stuck): the refusal named only the quotes,
    which an outage cannot give. It now names what the backstop lacks (95) and the remedy that needs none — a
    deposit of that much to the insurance fund — and the same epoch with that deposit commits, provable."""
    cfg, history, _ = _backstop_holding_eth(fund=1_045 - 190)  # the penalty refills the fund to 1,045: spent
    funding = (FundingRate(PERP, 0), FundingRate(ETH, 10_000))
    third = dataclasses.replace(oracle_epoch(3, {PERP: (30_000, 2), ETH: (1_900, 1)}), funding_rates=funding)
    with Ledger(":memory:", cfg) as ledger:
        for inputs in history:
            ledger.commit(inputs, scratch=tmp_path, provable_only=True)
        assert ledger.state(2).cash_of(INSURANCE_FUND) == 0
        with pytest.raises(InputError, match=r"account 'CH:backstop' carried exposure to ETH-PERP.*'CH:backstop' "
                                             r"lacks 95 of its maintenance requirement: a deposit of at least that "
                                             r"much to 'CH:insurance'"):
            ledger.commit(third, scratch=tmp_path, provable_only=True)
        assert ledger.head()[0] == 2
        topped = dataclasses.replace(third, transfers=(deposit(INSURANCE_FUND, 95),))
        result = ledger.commit(topped, scratch=tmp_path, provable_only=True)
    state, report = result.state, result.report
    assert result.epoch == 3 and report.paused_accounts == ()
    assert (state.cash_of(BACKSTOP), state.cash_of(INSURANCE_FUND)) == (950, 0)
    _assert_provable(state, report, cfg)
