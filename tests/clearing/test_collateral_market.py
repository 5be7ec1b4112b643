"""The synthetic market with BTC and ETH collateral (issue 13, item 4), cleared through the ledger: the crash
converts collateral at liquidation, and every asset is conserved to the unit in every epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clearing.clearing_helpers import assert_invariants
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger
from zkclear.synthetic import COLLATERAL_ASSETS, MarketSpec, config_toml, generate_market


@pytest.mark.parametrize("options", [True, False], ids=["options-oracle", "plain-prices"])
def test_the_crash_converts_collateral_and_every_asset_is_conserved(tmp_path: Path, options: bool):
    spec = MarketSpec(accounts=40, epochs=4, fills_per_epoch=120, seed=11, options=options, collateral=True)
    config_path, epoch_dirs = generate_market(tmp_path / "market", spec)
    config = load_config(config_path)
    assert config.asset_ids == tuple(asset[0] for asset in COLLATERAL_ASSETS) == ("BTC", "ETH")
    reports = []
    with Ledger(tmp_path / "ledger.sqlite", config) as ledger:
        for number, directory in enumerate(epoch_dirs, start=1):
            result = ledger.commit(load_epoch(directory, number, config), scratch=tmp_path)
            assert_invariants(result.state, result.report, config)  # per asset, from outside the engine
            reports.append(result.report)
        state = result.state
        ledger.verify_replay()
    holders = [a for a in state.accounts if any(state.asset_balances[state.row(a)].tolist())]
    assert len(holders) >= 4  # a fifth of the traders posted BTC or ETH
    before_crash = reports[: spec.crash_epoch - 1]
    assert not any(report.conversions for report in before_crash)
    crash = reports[spec.crash_epoch - 1]
    assert crash.conversions, "the crash converted no collateral"
    assert {event.asset for event in crash.conversions} <= {"BTC", "ETH"}
    for event in crash.conversions:  # converted at the crash epoch's mark of its price instrument
        instrument = next(a[2] for a in COLLATERAL_ASSETS if a[0] == event.asset)
        assert event.price == next(r.mark_price for r in crash.risk.instruments if r.instrument_id == instrument)
        assert 0 < event.penalty <= event.proceeds
    assert state.total_converted == sum(e.proceeds for r in reports for e in r.conversions)
    converted = {asset: sum(e.amount for r in reports for e in r.conversions if e.asset == asset)
                 for asset in ("BTC", "ETH")}
    assert [totals[2] for totals in state.asset_totals] == [converted["BTC"], converted["ETH"]]
    # The last epoch's collateral withdrawal is decided against the initial requirement after haircut.
    assert any(outcome.asset for outcome in reports[-1].withdrawals)


def test_without_collateral_the_market_is_the_one_it_was():
    plain = config_toml(MarketSpec())
    assert "[[asset]]" not in plain and 'settlement_asset = "USDC"' in plain
