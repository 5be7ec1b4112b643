"""Dynamic margin fractions (issue 5, item 5): computed at each close from the epoch marks, stored with the
epoch (state and report, so the ledger hashes them) and applied to the next epoch as max(configured, dynamic).

Hand-worked series: the mark alternates 30,000 / 30,900, so every log return is +-ln(1.03) = +-0.0295588 and
the EWMA variance (seeded with the mean square of the first 20 returns, lambda = 0.94) stays exactly r^2:
volatility = ceil(29,558.80) = 29,559 ppm, maintenance = ceil(3 * 29,559) = 88,677 ppm, initial =
ceil(1.5 * 88,677) = 133,016 ppm, scan range = max(16 %, ceil(4 * 29,559)) = 160,000 ppm. The first 20
returns exist after epoch 21's close, so epoch 22 is the first with these fractions (configured 10 % / 5 %).
"""

from __future__ import annotations

import pytest

from tests.clearing.options_helpers import csv, write_files
from zkclear.clearing.config import ClearingConfig, PortfolioMarginConfig
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, Fills, MarkPrice
from zkclear.clearing.instruments import InstrumentSpec
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError
from zkclear.risk.dynamic_params import DynamicRiskConfig, compute_risk_parameters

PERP = "BTC-PERP"
SPEC = InstrumentSpec(PERP, "perpetual", tick_size=1, lot_size=1, contract_multiplier=10,
                      initial_margin_ppm=100_000, maintenance_margin_ppm=50_000, underlying="BTC")


def marks(count, low=30_000, high=30_900):
    return [low if epoch % 2 else high for epoch in range(1, count + 1)]


def run(config, prices):
    state = EpochState.genesis(config)
    reports = []
    for epoch, price in enumerate(prices, start=1):
        state, report = apply_epoch(state, EpochInputs(epoch, Fills.empty(), (MarkPrice(PERP, price, 0),)), config)
        reports.append(report)
    return state, reports


def test_ewma_fractions_are_hand_worked_and_apply_from_the_next_epoch():
    config = ClearingConfig(instruments=(SPEC,), dynamic_margin="ewma")
    state, reports = run(config, marks(22))
    fractions = [(r.risk.instruments[0].initial_margin_ppm, r.risk.instruments[0].maintenance_margin_ppm)
                 for r in reports]
    assert fractions[:21] == [(100_000, 50_000)] * 21  # floors (3 %, 4.5 %) below the configured ones
    assert fractions[21] == (133_016, 88_677)
    (parameters,) = reports[20].dynamic_parameters
    assert parameters == ("BTC", 22, "ewma", 20, 29_559, 88_677, 133_016, 160_000)
    # The same as the risk package on the stored history (what an auditor recomputes).
    reference = compute_risk_parameters({"BTC": marks(22)}, DynamicRiskConfig(), effective_epoch=23)
    assert state.dynamic_parameters[0][3:] == (21, *(getattr(reference.parameters[0], name) for name in (
        "volatility_ppm", "maintenance_ppm", "initial_ppm", "scan_range_ppm")))
    assert state.price_history == (("BTC", tuple(marks(22))),)


def test_the_history_window_bounds_the_state():
    config = ClearingConfig(instruments=(SPEC,), dynamic_margin="ewma", dynamic_window=25)
    state, _ = run(config, marks(30))
    assert len(state.price_history[0][1]) == 25 and state.dynamic_parameters[0][3] == 24


def test_a_dynamic_scan_range_widens_the_portfolio_grid():
    """+-10 % alternation: volatility ceil(95,310.18) = 95,311 ppm, scan range ceil(4 * 95,311) = 381,244 ppm
    > the configured 16 %, so epoch 22's scenario moves reach +-38.1244 %."""
    config = ClearingConfig(instruments=(SPEC,), dynamic_margin="ewma", portfolio_margin=PortfolioMarginConfig())
    _, reports = run(config, marks(22, 30_000, 33_000))
    assert reports[20].dynamic_parameters[0][4] == 95_311
    moves = {s.price_move_ppm for s in reports[21].risk.scenario_table.scenarios if s.weight == 100}
    assert max(moves) == 381_244 and min(moves) == -381_244
    assert max(s.price_move_ppm for s in reports[20].risk.scenario_table.scenarios if s.weight == 100) == 160_000


def test_off_keeps_the_state_and_configuration_encodings_unchanged():
    config = ClearingConfig(instruments=(SPEC,))
    state, reports = run(config, marks(3))
    assert b"price_history" not in state.canonical_bytes() and reports[-1].dynamic_parameters == ()


def test_dynamic_margin_from_the_configuration_file_through_the_ledger(tmp_path):
    toml = ('dynamic_margin = "garch"\n\n[[instrument]]\nid = "BTC-PERP"\nkind = "perpetual"\ntick_size = 1\n'
            "lot_size = 1\ncontract_multiplier = 10\ninitial_margin_ppm = 100000\nmaintenance_margin_ppm = 50000\n")
    config = load_config(write_files(tmp_path, {"zkclear.toml": toml}) / "zkclear.toml")
    assert config.dynamic_margin == "garch"
    with Ledger(tmp_path / "ledger.sqlite", config, durable=False) as ledger:
        for epoch, price in enumerate(marks(22), start=1):
            directory = write_files(tmp_path / str(epoch), {
                "prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"{PERP},{price},0"),
                "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee")})
            result = ledger.commit(load_epoch(directory, epoch, config), scratch=tmp_path)
        # GARCH needs 250 returns: EWMA fallback, recorded as such.
        assert result.state.dynamic_parameters[0][2] == "ewma-fallback"
        assert result.report.risk.instruments[0].maintenance_margin_ppm == 88_677
        assert ledger.verify_replay() == result.state


@pytest.mark.parametrize(("line", "field", "fragment"), [
    ('dynamic_margin = "arima"', "dynamic_margin", "dynamic_margin must be one of"),
    ("dynamic_window = 1", "dynamic_window", "dynamic_window must be an integer in [2"),
    ("dynamic_margin = true", "dynamic_margin", "must be str"),
])
def test_bad_dynamic_configuration_names_the_field(tmp_path, line, field, fragment):
    toml = (f"{line}\n\n[[instrument]]\nid = \"BTC-PERP\"\nkind = \"perpetual\"\ntick_size = 1\nlot_size = 1\n"
            "contract_multiplier = 10\ninitial_margin_ppm = 100000\nmaintenance_margin_ppm = 50000\n")
    with pytest.raises(InputError) as error:
        load_config(write_files(tmp_path, {"zkclear.toml": toml}) / "zkclear.toml")
    assert fragment in str(error.value) and error.value.field == field and error.value.line == 1
