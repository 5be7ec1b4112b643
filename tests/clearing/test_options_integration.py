"""Options and portfolio margin end to end from input files (issue 5 in the engine).

Deployment (tests/clearing/options_helpers.py): ``BTC-PERP`` and, on it, a put K = 30,000 and a call
K = 33,000 expiring in epoch 3, 10 settlement units per lot per tick, epochs one day apart; option-standard
margin IM 15 % / MM 10 % of the forward; portfolio margin with the risk package's default grid.

Epoch 1 (forward 30,000, implied vol 60 %, two days to expiry): the put's Black-76 value is 531.51 ticks, so
its mark is 532 (rounded up to a whole tick); the call's is 7.95 -> 8. Fills: A buys 3 puts from B at 500;
P buys 2 perps from Q at 30,000 and 2 puts from Q at 532; Q buys 1 call from A at 8; C buys 1 put from B
at 532.
Epoch 2 (forward 27,000, vol 90 %): put 3,005.90 -> 3,006, call 0.003 -> 1 (the one-tick floor before expiry).
Epoch 3 (expiry, forward 27,500): put = intrinsic 2,500, call = 0 (out of the money, settles at zero).
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.clearing.options_helpers import (
    CALL,
    CONFIG,
    DAY,
    GENESIS,
    MULTIPLIER,
    PERP,
    PUT,
    epoch_files,
    write_files,
)
from zkclear.clearing.engine import apply_epoch, scenario_table
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger, config_canonical_bytes
from zkclear.clearing.margin import MarginLevel, margin_requirements
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError
from zkclear.risk.options import OptionSpec, OptionType, option_mark
from zkclear.risk.portfolio_margin import portfolio_margin

ACCOUNTS = ("A,standard", "B,standard", "P,portfolio", "Q,portfolio", "LIQ,standard", "C,standard")
DEPOSITS = ("d-A,deposit,A,1000000", "d-B,deposit,B,1000000", "d-P,deposit,P,1000000",
            "d-Q,deposit,Q,1000000", "d-L,deposit,LIQ,100000000", "d-C,deposit,C,1000000")
FILLS_1 = (f"f1,A,B,{PUT},3,500,0,0", f"f2,P,Q,{PERP},2,30000,0,0", f"f3,P,Q,{PUT},2,532,0,0",
           f"f4,Q,A,{CALL},1,8,0,0", f"f5,C,B,{PUT},1,532,0,0")
VOLS_1 = {PUT: 600_000, CALL: 600_000}
VOLS_2 = {PUT: 900_000, CALL: 900_000}


def epoch_dirs(root):
    return [
        write_files(root / "1", epoch_files(30_000, VOLS_1, FILLS_1, ACCOUNTS, DEPOSITS)),
        write_files(root / "2", epoch_files(27_000, VOLS_2)),
        write_files(root / "3", epoch_files(27_500, VOLS_2)),
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("options")
    config = load_config(write_files(root, {"zkclear.toml": CONFIG}) / "zkclear.toml")
    with Ledger(root / "ledger.sqlite", config, durable=False) as ledger:
        results = [ledger.commit(load_epoch(d, k + 1, config), scratch=root) for k, d in enumerate(epoch_dirs(root))]
        ledger.verify_replay()
    return {"config": config, "results": results, "root": root}


def _row(state, account):
    return state.row(account)


def test_config_lists_options_and_registers_the_kind_and_the_option_model(run):
    config = run["config"]
    assert "option" in config.kinds.kinds and "option-standard" in config.risk_models.models
    put = config.instruments[1]
    assert (put.kind, put.underlying, put.option_type, put.strike, put.expiry_epoch, put.margin_model) == (
        "option", PERP, "put", 30_000, 3, "option-standard")
    assert config.valuation_timestamp(3) == GENESIS + 3 * DAY
    assert config.portfolio_margin is not None and config.portfolio_margin.price_steps == 9


def test_option_marks_are_black76_on_the_underlying_mark_rounded_up_to_a_tick(run):
    """Epoch 1: put 531.51 -> 532 ticks, call 7.95 -> 8; epoch 2: 3,005.90 -> 3,006 and 0.003 -> 1 (floor of
    one tick before expiry); epoch 3 (expiry): intrinsic 2,500 and 0."""
    marks = [[r.mark_price for r in result.report.risk.instruments] for result in run["results"]]
    assert marks == [[30_000, 532, 8], [27_000, 3_006, 1], [27_500, 2_500, 0]]
    spec = OptionSpec(PUT, "BTC", OptionType.PUT, 30_000, GENESIS + 3 * DAY, MULTIPLIER)
    assert option_mark(spec, 30_000, 600_000, GENESIS + DAY).mark_price_ticks == 532
    put = run["results"][0].report.risk.instruments[1]
    assert (put.underlying, put.underlying_price, put.implied_vol_ppm, put.strike) == ("BTC", 30_000, 600_000,
                                                                                       30_000)


def test_trade_price_is_settled_against_the_mark_and_standard_option_margin_is_hand_worked(run):
    """A bought 3 puts at 500 with the mark at 532: +3 * 32 * 10 = 960 at once (B pays it).
    A's maintenance: long 3 puts = their whole value 3 * 532 * 10 = 15,960, plus short 1 call 3,000 ticks out
    of the money: max(10 % * 30,000 - 3,000, 5 % * 30,000) = 1,500 ticks = 15,000 -> 30,960.
    B: short 4 at-the-money puts, 10 % * 30,000 = 3,000 ticks each -> 120,000; initial (15 %) 180,000.
    C: long 1 put, 5,320."""
    result = run["results"][0]
    state, report, config = result.state, result.report, run["config"]
    settlement = dict(zip(report.accounts, report.settlement.tolist(), strict=True))
    assert settlement["A"] == 960 + 80 * 0 and settlement["B"] == -960
    maintenance = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE,
                                      state.margin_modes)
    initial = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.INITIAL,
                                  state.margin_modes)
    assert int(maintenance[_row(state, "A")]) == 15_960 + 15_000
    assert int(maintenance[_row(state, "B")]) == 120_000
    assert int(initial[_row(state, "B")]) == 180_000
    assert int(maintenance[_row(state, "C")]) == 5_320


def test_options_expire_cash_settled_at_the_payoff_equal_to_premium_style(run):
    """Futures-style over the option's life = premium-style: A paid 3 * 500 * 10 = 15,000 for the puts and
    receives the payoff 3 * 2,500 * 10 = 75,000; it sold the call for 80 and it expires worthless:
    +60,080 in cash. B sold 3 puts at 500 and 1 at 532 (+20,320) and pays 4 * 25,000: -79,680; C paid 5,320
    and receives 25,000. Positions are closed and the options expired."""
    final = run["results"][2]
    assert final.report.expired_instruments == (PUT, CALL)
    assert not final.state.positions[:, 1:].any()
    assert final.state.cash_of("A") - 1_000_000 == -15_000 + 75_000 + 80
    assert final.state.cash_of("B") - 1_000_000 == 20_320 - 100_000
    assert final.state.cash_of("C") - 1_000_000 == -5_320 + 25_000
    assert final.state.expired == (False, True, True)
    assert final.state.settlement_prices == (27_500, 2_500, 0)


def test_portfolio_accounts_use_the_risk_package_portfolio_margin(run):
    """P is long 2 perps with 2 protective puts: its worst scenario (-16 %, vol -25 %) loses 2 * 4,800 * 10
    on the perps less what the puts gain; Q holds the other side. Their engine requirement is exactly the
    risk package's ``portfolio_margin`` on the epoch's table; standard accounts keep their per-position
    requirement."""
    result = run["results"][0]
    state, report, config = result.state, result.report, run["config"]
    table = report.risk.scenario_table
    assert table is not None and table == scenario_table(config, report.risk)
    assert len(table.scenarios) == 27 + 2 and table.mark_values == (0, 0, 0)
    for level in MarginLevel:
        combined = margin_requirements(state.positions, report.risk, config.risk_models, level,
                                       state.margin_modes)
        standard = margin_requirements(state.positions, report.risk, config.risk_models, level)
        for account in state.accounts:
            row = _row(state, account)
            lots = state.positions[row].tolist()
            if state.margin_modes[row] == "portfolio":
                reference = portfolio_margin(table, lots)
                expected = reference.initial_margin if level is MarginLevel.INITIAL else reference.maintenance_margin
                assert int(combined[row]) == expected
            else:
                assert int(combined[row]) == int(standard[row])
    p = portfolio_margin(table, state.positions[_row(state, "P")].tolist())
    standard_p = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE)
    assert 0 < p.maintenance_margin < int(standard_p[_row(state, "P")])  # the hedge is credited


def test_public_risk_data_from_the_epoch_agrees_with_the_engine_requirement(run):
    """What the operator does for the ZK layer: ``PublicRiskData.from_epoch(report.risk, config.risk_models,
    scenario_table=TABLE, equity_values={})``; the least cash that satisfies ``circuits``' statement of an
    account equals the engine's maintenance requirement (equity = cash: v_j = 0, futures-style). Standard
    accounts short an option are the next test (a circuits defect)."""
    from circuits.examples import required_cash
    from circuits.public_data import PublicRiskData

    config = run["config"]
    for result in run["results"][:2]:
        state, report = result.state, result.report
        table = scenario_table(config, report.risk)
        public = PublicRiskData.from_epoch(report.risk, config.risk_models, scenario_table=table,
                                           equity_values={})
        assert public.value_per_lot == (0, 0, 0)
        maintenance = margin_requirements(state.positions, report.risk, config.risk_models,
                                          MarginLevel.MAINTENANCE, state.margin_modes)
        for account in ("C", "P", "Q", "LIQ", "CH:insurance"):
            row = _row(state, account)
            lots = tuple(state.positions[row].tolist())
            assert required_cash(public, lots, state.margin_modes[row]) == int(maintenance[row]), account


def test_public_risk_data_charges_a_short_option_like_the_engine(run):
    """B is short 4 at-the-money puts: the engine charges 3,000 ticks of the forward per lot (120,000), and
    so must the statement circuits builds (its short coefficient, not the long one: 5,320 per lot)."""
    from circuits.examples import required_cash
    from circuits.public_data import PublicRiskData

    config = run["config"]
    result = run["results"][0]
    state, report = result.state, result.report
    public = PublicRiskData.from_epoch(report.risk, config.risk_models,
                                       scenario_table=scenario_table(config, report.risk), equity_values={})
    row = _row(state, "B")
    assert required_cash(public, tuple(state.positions[row].tolist()), "standard") == 120_000


def test_a_portfolio_withdrawal_is_checked_against_the_portfolio_initial_margin(run):
    """P may withdraw down to ``ceil(1.25 * portfolio maintenance)`` and not one unit more."""
    config = run["config"]
    state = run["results"][0].state
    root = run["root"] / "withdraw"
    # The same epoch without the withdrawal gives the requirement it is checked against (marks of epoch 2).
    after, report = apply_epoch(state, load_epoch(write_files(root / "none", epoch_files(30_000, VOLS_1)), 2,
                                                  config), config)
    initial = portfolio_margin(report.risk.scenario_table, after.positions[_row(after, "P")].tolist()).initial_margin
    free = after.cash_of("P") - initial
    assert 0 < free < after.cash_of("P")
    for amount, accepted in ((free, True), (free + 1, False)):
        inputs = load_epoch(write_files(root / str(amount), epoch_files(
            30_000, VOLS_1, transfers=(f"w-{amount},withdrawal,P,{amount}",))), 2, config)
        _, new_report = apply_epoch(state, inputs, config)
        assert new_report.withdrawals[0].accepted is accepted


def test_a_portfolio_account_below_its_scenario_requirement_is_liquidated_back_above_it(run, tmp_path):
    """Q (short 2 perps and 2 puts, long a call) withdraws down to its portfolio initial margin; then the
    underlying rises 12 % with the volatility doubled. Q falls below its portfolio requirement, is liquidated,
    and every account ends at or above its own mode's maintenance requirement (the engine's invariant)."""
    config = run["config"]
    state = run["results"][0].state
    # Q first withdraws all it can, so the crash takes it below its requirement.
    after, report = apply_epoch(state, load_epoch(write_files(tmp_path / "none", epoch_files(30_000, VOLS_1)), 2,
                                                  config), config)
    row = _row(after, "Q")
    free = after.cash_of("Q") - portfolio_margin(report.risk.scenario_table,
                                                 after.positions[row].tolist()).initial_margin
    inputs = load_epoch(write_files(tmp_path / "2", epoch_files(
        30_000, VOLS_1, transfers=(f"w-Q,withdrawal,Q,{free}",))), 2, config)
    state, report = apply_epoch(state, inputs, config)
    assert report.withdrawals[0].accepted
    inputs = load_epoch(write_files(tmp_path / "3", epoch_files(
        33_600, {PUT: 1_200_000, CALL: 1_200_000})), 3, config)
    state, report = apply_epoch(state, inputs, config)
    liquidated = {event.account for event in report.liquidations}
    assert "Q" in liquidated
    maintenance = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE,
                                      state.margin_modes)
    assert (state.cash >= maintenance).all()
    assert int(state.cash.sum()) == state.total_deposited - state.total_withdrawn


def test_deployments_without_options_keep_their_canonical_configuration():
    from tests.clearing.clearing_helpers import config as plain_config

    encoded = config_canonical_bytes(plain_config())
    for key in (b"underlying", b"portfolio_margin", b"epoch_seconds", b"option_type"):
        assert key not in encoded


# -- bad inputs: file, line, field; the ledger is unchanged ------------------------------------------------

def _ledger_after_epoch_1(tmp_path):
    config = load_config(write_files(tmp_path, {"zkclear.toml": CONFIG}) / "zkclear.toml")
    ledger = Ledger(tmp_path / "ledger.sqlite", config, durable=False)
    ledger.commit(load_epoch(epoch_dirs(tmp_path / "epochs")[0], 1, config), scratch=tmp_path)
    return config, ledger


def _rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT epoch, epoch_hash FROM epochs ORDER BY epoch").fetchall()


@pytest.mark.parametrize(("files", "name", "line", "field", "fragment"), [
    ({"prices.csv": f"instrument,mark_price,funding_rate_ppm\n{PERP},27000,0\n{PUT},3000,\n"}, "prices.csv", 3,
     "instrument", "marked by the engine"),
    ({"vols.csv": f"instrument,implied_vol_ppm\n{PUT},900000\n"}, "vols.csv", None, "implied_vol_ppm",
     f"no implied volatility for live option '{CALL}'"),
    ({"vols.csv": f"instrument,implied_vol_ppm\n{PUT},900000\n{CALL},900000\n{PUT},800000\n"}, "vols.csv", 4,
     "instrument", "second implied volatility"),
    ({"vols.csv": f"instrument,implied_vol_ppm\n{PUT},900000\n{CALL},900000\n{PERP},500000\n"}, "vols.csv", 4,
     "instrument", "is not an engine-marked option"),
    ({"vols.csv": f"instrument,implied_vol_ppm\n{PUT},900000\n{CALL},0\n"}, "vols.csv", 3,
     "implied_vol_ppm", "must be positive"),
    ({"vols.csv": f"instrument,implied_vol_ppm\n{PUT},900000\n{CALL},20000001\n"}, "vols.csv", 3,
     "implied_vol_ppm", "must be an integer in [1, 20000000]"),
    ({"vols.csv": f"instrument,implied_vol_ppm\n{PUT},0.9\n{CALL},900000\n"}, "vols.csv", 2,
     "implied_vol_ppm", "plain decimal integer"),
    ({"vols.csv": "instrument,vol\n"}, "vols.csv", 1, None, "header must be"),
    ({"accounts.csv": "account,margin_mode\nZ,cross\n"}, "accounts.csv", 2, "margin_mode", "not supported"),
])
def test_bad_option_inputs_name_file_line_and_field_and_leave_the_ledger_unchanged(tmp_path, files, name, line,
                                                                                   field, fragment):
    config, ledger = _ledger_after_epoch_1(tmp_path)
    with ledger:
        before = _rows(tmp_path / "ledger.sqlite")
        directory = write_files(tmp_path / "bad", epoch_files(27_000, VOLS_2) | files)
        with pytest.raises(InputError) as error:
            ledger.commit(load_epoch(directory, 2, config), scratch=tmp_path)
        assert _rows(tmp_path / "ledger.sqlite") == before
    assert fragment in str(error.value)
    assert error.value.path.endswith(name)
    assert error.value.line == line
    assert error.value.field == field


def test_portfolio_mode_needs_portfolio_margin_in_the_deployment(tmp_path):
    config = load_config(write_files(tmp_path, {
        "zkclear.toml": CONFIG.replace("portfolio_margin = true", "portfolio_margin = false")}) / "zkclear.toml")
    inputs = load_epoch(epoch_dirs(tmp_path / "epochs")[0], 1, config)
    with pytest.raises(InputError, match="no portfolio_margin") as error:
        apply_epoch(EpochState.genesis(config), inputs, config)
    assert error.value.field == "margin_mode" and error.value.line == 4  # P's row in accounts.csv


@pytest.mark.parametrize(("old", "new", "line", "field", "fragment"), [
    ('strike = 30000\n', "", 18, "instrument[1].strike", "required key missing for an option"),
    ('option_type = "put"', 'option_type = "straddle"', 20, "instrument[1].option_type", "'call' or 'put'"),
    (f'underlying = "{PERP}"\noption_type = "put"', 'underlying = "ETH-PERP"\noption_type = "put"', 19,
     "instrument[1].underlying", "not a listed instrument"),
    ('strike = 30000', 'strike = 0', 21, "instrument[1].strike", "strike must be an integer in [1"),
    ('strike = 30000', 'strike = 30000.5', 21, "instrument[1].strike", "must be int"),
    ('tick_size = 1\nlot_size = 1\ncontract_multiplier = 10\ninitial_margin_ppm = 150000',
     'tick_size = 5\nlot_size = 1\ncontract_multiplier = 10\ninitial_margin_ppm = 150000', 23,
     "instrument[1].tick_size", "tick_size must equal"),
    ("epoch_seconds = 86400\n", "", None, "epoch_seconds", "epoch_seconds must be >= 1"),
    ("portfolio_margin = true", "[portfolio_margin]\nscan_range_ppm = 2000000", 5, "portfolio_margin.scan_range_ppm",
     "scan_range_ppm"),
    ("portfolio_margin = true", "[portfolio_margin]\nprice_step = 9", 5, "portfolio_margin.price_step",
     "unknown key"),
    ("portfolio_margin = true", "[portfolio_margin]\nscale = true", 5, "portfolio_margin.scale", "must be int"),
    ("portfolio_margin = true", 'portfolio_margin = "yes"', 4, "portfolio_margin", "must be bool or dict"),
])
def test_bad_option_configuration_names_file_line_and_field(tmp_path, old, new, line, field, fragment):
    """Line numbers of the deployment in options_helpers.py: the put's table starts at line 16 (kind 18,
    underlying 19, option_type 20, strike 21, tick_size 23); ``portfolio_margin`` is line 4."""
    text = CONFIG.replace(old, new, 1)
    assert text != CONFIG
    with pytest.raises(InputError) as error:
        load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    assert fragment in str(error.value)
    assert (error.value.field, error.value.line) == (field, line)


def test_a_portfolio_grid_table_in_the_configuration_sets_the_scenarios(tmp_path):
    text = CONFIG.replace("portfolio_margin = true\n", "") + (
        "\n[portfolio_margin]\nscan_range_ppm = 200000\nprice_steps = 5\nvolatility_shifts_ppm = [0]\n"
        "extreme_multiple = 0\n")
    config = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    state, report = apply_epoch(EpochState.genesis(config), load_epoch(epoch_dirs(tmp_path / "epochs")[0], 1,
                                                                       config), config)
    moves = sorted({s.price_move_ppm for s in report.risk.scenario_table.scenarios})
    assert moves == [-200_000, -100_000, 0, 100_000, 200_000]
    assert np.all(state.positions.sum(axis=0) == 0)


def test_portfolio_accounts_at_exactly_the_engine_requirement_prove_and_one_unit_less_does_not(run):
    """The collateralization proof (provers.collateral) over the epoch's public data accepts P and Q with cash
    equal to the engine's requirement and refuses either with one unit less: engine and ZK statement agree at
    the boundary."""
    from circuits.public_data import AccountWitness, PublicRiskData
    from provers.collateral import prove_collateral_batch, verify_collateral_batch
    from zkclear.crypto.randomness import BlindingSource
    from zkclear.errors import ProvingError

    config = run["config"]
    result = run["results"][0]
    state, report = result.state, result.report
    public = PublicRiskData.from_epoch(report.risk, config.risk_models,
                                       scenario_table=scenario_table(config, report.risk), equity_values={})
    maintenance = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE,
                                      state.margin_modes)
    witnesses = [AccountWitness(int(maintenance[state.row(a)]), tuple(state.positions[state.row(a)].tolist()),
                                "portfolio") for a in ("P", "Q")]
    blindings = BlindingSource.deterministic(b"test")
    proof, commitments, _ = prove_collateral_batch(witnesses, public, b"options-test", blindings)
    verify_collateral_batch(proof, commitments, public, b"options-test")
    short = [AccountWitness(w.cash - 1, w.positions, w.margin_mode) for w in witnesses[:1]]
    with pytest.raises(ProvingError):
        prove_collateral_batch(short, public, b"options-test", blindings)


def test_an_oracle_fallback_on_the_underlying_pauses_its_options_too(tmp_path):
    """With the guard in the deployment, one fresh source for BTC-PERP in epoch 2: fallback to 30,000, and the
    put and the call (marked from it) are paused with it; their marks are recomputed from the fallback."""
    text = CONFIG.replace("portfolio_margin = true", "portfolio_margin = true\noracle = true")
    config = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    quotes = "instrument,source,price,timestamp\n" + "".join(
        f"{PERP},{source},30000,{GENESIS + DAY}\n" for source in "abc")
    first = epoch_files(30_000, VOLS_1, FILLS_1, ACCOUNTS, DEPOSITS)
    del first["prices.csv"]
    first |= {"oracle.csv": quotes, "funding.csv": f"instrument,funding_rate_ppm\n{PERP},0\n"}
    state, report = apply_epoch(EpochState.genesis(config), load_epoch(write_files(tmp_path / "1", first), 1,
                                                                       config), config)
    assert report.paused_instruments == ()
    second = {"oracle.csv": f"instrument,source,price,timestamp\n{PERP},a,27000,{GENESIS + 2 * DAY}\n",
              "funding.csv": f"instrument,funding_rate_ppm\n{PERP},0\n",
              "vols.csv": f"instrument,implied_vol_ppm\n{PUT},600000\n{CALL},600000\n",
              "fills.csv": "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"}
    state, report = apply_epoch(state, load_epoch(write_files(tmp_path / "2", second), 2, config), config)
    assert report.paused_instruments == (PERP, PUT, CALL)
    assert report.oracle_decisions[0]["status"] == "fallback"
    assert report.risk.instruments[0].mark_price == 30_000
    put = OptionSpec(PUT, "BTC", OptionType.PUT, 30_000, GENESIS + 3 * DAY, MULTIPLIER)
    assert report.risk.instruments[1].mark_price == option_mark(put, 30_000, 600_000,
                                                                GENESIS + 2 * DAY).mark_price_ticks
    bad = second | {"funding.csv": f"instrument,funding_rate_ppm\n{PERP},0\n{PUT},0\n"}
    with pytest.raises(InputError) as error:
        apply_epoch(state, load_epoch(write_files(tmp_path / "3", bad), 3, config), config)
    assert (error.value.line, error.value.field) == (3, "instrument")


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"kind": "perpetual", "expiry_epoch": None}, "only meaningful for kind 'option'"),
    ({"strike": None}, "strike must be an integer"),
    ({"underlying": None}, "needs the underlying instrument"),
    ({"underlying": "BTC-DEC"}, "must not be after the underlying's"),
    ({"underlying": "BTC-C-33000"}, "not an option"),
    # a fraction of the premium: a short deep out of the money would carry almost no margin (session 16)
    ({"margin_model": "linear"}, "margined with the 'option-standard' model"),
])
def test_an_option_specification_is_checked_against_the_listing(run, changes, fragment):
    import dataclasses

    from zkclear.clearing.config import ClearingConfig
    from zkclear.clearing.instruments import InstrumentSpec
    from zkclear.errors import ConfigurationError

    config = run["config"]
    dated = InstrumentSpec("BTC-DEC", "dated_future", 1, 1, 10, 100_000, 50_000, expiry_epoch=2)
    put = dataclasses.replace(config.instruments[1], **changes)
    with pytest.raises(ConfigurationError, match=fragment):
        ClearingConfig(instruments=(config.instruments[0], dated, put, config.instruments[2]),
                       epoch_seconds=DAY)


def test_a_configuration_file_that_margins_an_option_on_its_premium_is_refused(tmp_path):
    """``margin_model = "linear"`` on an engine-marked option in zkclear.toml: refused with one line naming the
    option, before any epoch (the default for an option is the standard model)."""
    text = CONFIG.replace(f'id = "{PUT}"', f'id = "{PUT}"\nmargin_model = "linear"', 1)
    assert text != CONFIG
    (tmp_path / "zkclear.toml").write_text(text)
    with pytest.raises(InputError, match=rf"zkclear.toml: field 'instrument\[1\]': instrument '{PUT}': an "
                       "engine-marked option is margined"):
        load_config(tmp_path / "zkclear.toml")
    (tmp_path / "zkclear.toml").write_text(CONFIG)
    assert load_config(tmp_path / "zkclear.toml").instruments[1].margin_model == "option-standard"


@pytest.mark.parametrize("seed", [3, 5, 9])  # seeds whose books liquidate portfolio accounts
def test_random_option_books_through_a_crash_keep_every_invariant(tmp_path, seed):
    """30 accounts (half on portfolio margin) trade the perp and both options at their marks with random
    sizes and cash; then the underlying moves -30 %..+30 % with the volatility up to 2.5x. The engine's own
    invariants hold (it raises otherwise), re-checked from outside with each account's own margin mode."""
    from tests.clearing.clearing_helpers import assert_invariants

    rng = np.random.default_rng(seed)
    config = load_config(write_files(tmp_path, {"zkclear.toml": CONFIG}) / "zkclear.toml")
    users = [f"U{k:02d}" for k in range(30)]
    accounts = (*(f"{u},{'portfolio' if k % 2 else 'standard'}" for k, u in enumerate(users)), "LIQ,standard")
    deposits = (*(f"d-{u},deposit,{u},{int(rng.integers(50_000, 2_000_000))}" for u in users),
                "d-LIQ,deposit,LIQ,500000000", "d-fund,deposit,CH:insurance,200000")
    prices = {PERP: 30_000, PUT: 532, CALL: 8}
    fills = []
    for k in range(80):
        buyer, seller = rng.choice(len(users), size=2, replace=False)
        instrument = (PERP, PUT, CALL)[int(rng.integers(3))]
        fills.append(f"f{k},{users[buyer]},{users[seller]},{instrument},{int(rng.integers(1, 4))},"
                     f"{prices[instrument]},0,0")
    state = EpochState.genesis(config)
    move = float(rng.uniform(-0.3, 0.3))
    vol = int(600_000 * rng.uniform(1.0, 2.5))
    epochs = [epoch_files(30_000, VOLS_1, tuple(fills), accounts, deposits),
              epoch_files(int(30_000 * (1 + move)), {PUT: vol, CALL: vol}),
              epoch_files(int(30_000 * (1 + move)), {PUT: vol, CALL: vol})]
    liquidated = set()
    for epoch, files in enumerate(epochs, start=1):
        state, report = apply_epoch(state, load_epoch(write_files(tmp_path / str(epoch), files), epoch, config),
                                    config)
        assert_invariants(state, report, config)
        liquidated |= {event.account for event in report.liquidations}
    assert not state.positions[:, 1:].any()
    modes = dict(zip(state.accounts, state.margin_modes, strict=True))
    assert any(modes[account] == "portfolio" for account in liquidated)
