"""Market-integrity controls (issue 12, item 4): the fill price band, operator-only fund withdrawals, the ADL
ranking for accounts with non-positive net deposits, and the backstop's margin mode."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, perp_spec, run, withdraw
from tests.clearing.options_helpers import CALL, CONFIG, PUT, epoch_files, write_files
from zkclear.clearing.book import Book
from zkclear.clearing.config import BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND, SYSTEM_ACCOUNTS, ClearingConfig
from zkclear.clearing.engine import apply_epoch, risk_parameters
from zkclear.clearing.inputs import OperatorAction
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger, config_canonical_bytes
from zkclear.clearing.state import EpochState
from zkclear.clearing.waterfall import adl_ranking, adl_score
from zkclear.errors import ConfigurationError, InputError

FUNDED = [deposit("A", 10**8), deposit("B", 10**8), deposit(INSURANCE_FUND, 6_000)]


# -- price band -------------------------------------------------------------------------------------

def test_an_off_market_fill_is_refused_instead_of_draining_the_insurance_fund() -> None:
    """Issue 12: a fill at 1 tick against a mark of 1,000 moved 999 ticks per lot from one side to the other
    and bankrupted the seller into a 6,000 insurance fund. The default band (10 %) refuses it, naming it."""
    cfg = config(perp_spec())
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["A", "B", "M"], transfers=[
        *FUNDED, deposit("M", 10_000)]))
    attack = epoch_inputs(2, {PERP: 1_000}, fills=[fill("f1", "A", "M", 3, 1_000), fill("f2", "A", "M", 10, 1)])
    with pytest.raises(InputError, match=r"^<memory:fills>:2: field 'price': price 1 ticks is outside the price "
                                         r"band \[900, 1100\] of 'BTC-PERP': the range of its mark 1000, "
                                         r"previous settlement price 1000, widened by fill_price_band_ppm 100000"):
        apply_epoch(state, attack, cfg)
    # Without the band (1,000 %) the same epoch drains the fund: what the band prevents.
    loose = dataclasses.replace(cfg, fill_price_band_ppm=10_000_000)
    drained, _ = apply_epoch(state, attack, loose)
    assert drained.cash_of(INSURANCE_FUND) == 0 < state.cash_of(INSURANCE_FUND)


def test_the_band_spans_the_move_from_the_previous_price_to_the_mark() -> None:
    """A crash epoch: fills at the pre-crash price are within the band (trades happen during the epoch);
    1,000 -> 650 gives [650 - 100, 1000 + 100]; the next epoch, at 650 again, [650 - 65, 650 + 65]."""
    cfg = config(perp_spec())
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["A", "B"], transfers=FUNDED))
    state, _ = run(cfg, epoch_inputs(2, {PERP: 650}, fills=[fill("f1", "A", "B", 1, 1_100),
                                                           fill("f2", "B", "A", 1, 550)]), state=state)
    with pytest.raises(InputError, match=r"price 584 ticks is outside the price band \[585, 715\]"):
        run(cfg, epoch_inputs(3, {PERP: 650}, fills=[fill("f3", "A", "B", 1, 584)]), state=state)


def test_an_option_band_is_measured_on_its_underlying() -> None:
    """An option's price swings are large relative to its own price: its band widens its own mark range by
    10 % of the underlying's (30,000 -> 3,000 ticks). The put is marked 532: a fill at 3,532 is fine,
    3,533 is not."""
    cfg = load_config(write_files(_tmp("band"), {"zkclear.toml": CONFIG}) / "zkclear.toml")
    base = epoch_files(30_000, {PUT: 600_000, CALL: 600_000}, accounts=("A,standard", "B,standard"),
                       transfers=("d1,deposit,A,100000000", "d2,deposit,B,100000000"))
    ok = load_epoch(write_files(_tmp("band-ok"), base | epoch_files(
        30_000, {PUT: 600_000, CALL: 600_000}, fills=(f"f1,A,B,{PUT},1,3532,0,0",))), 1, cfg)
    apply_epoch(EpochState.genesis(cfg), ok, cfg)
    bad = load_epoch(write_files(_tmp("band-bad"), base | epoch_files(
        30_000, {PUT: 600_000, CALL: 600_000}, fills=(f"f1,A,B,{PUT},1,3533,0,0",))), 1, cfg)
    with pytest.raises(InputError, match=r"fills.csv:2: field 'price': price 3533 ticks is outside the price "
                                         r"band \[0, 3532\] of 'BTC-P-30000'"):
        apply_epoch(EpochState.genesis(cfg), bad, cfg)


def test_the_band_is_a_configuration_key_with_a_default_and_a_hash_only_when_changed(tmp_path) -> None:
    text = ("fill_price_band_ppm = 250000\n\n[[instrument]]\nid = \"BTC-PERP\"\nkind = \"perpetual\"\n"
            "tick_size = 1\nlot_size = 1\ncontract_multiplier = 10\ninitial_margin_ppm = 100000\n"
            "maintenance_margin_ppm = 50000\n")
    cfg = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    assert cfg.fill_price_band_ppm == 250_000
    assert b'"fill_price_band_ppm":250000' in config_canonical_bytes(cfg)
    assert b"fill_price_band_ppm" not in config_canonical_bytes(config(perp_spec()))
    with pytest.raises(InputError, match=r"zkclear.toml:1: field 'fill_price_band_ppm': fill_price_band_ppm must be"):
        load_config(write_files(tmp_path, {"zkclear.toml": text.replace("250000", "-1")}) / "zkclear.toml")


def test_a_fee_larger_than_the_fill_is_refused_instead_of_draining_the_insurance_fund_into_the_fee_account(
        tmp_path) -> None:
    """Red team: the price band stops an off-market price, but a fee is paid whatever the payer holds. A
    1-lot fill (value 10,000) carrying a 10,000 fee bankrupted M (1,000) into the insurance fund, whose 6,000
    went to the fee account — which the operator may withdraw. Each fee is capped at fill_fee_cap_ppm (default
    12.5 %) of the fill's value at its price: 1,250 here; a configuration key hashed only when changed."""
    cfg = config(perp_spec())
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["A", "B", "M"], transfers=[
        *FUNDED, deposit("M", 1_000)]))
    attack = epoch_inputs(2, {PERP: 1_000}, fills=[fill("f1", "A", "B", 1, 1_000, buyer_fee=1_250),
                                                   fill("f2", "A", "M", 1, 1_000, seller_fee=10_000)])
    with pytest.raises(InputError, match=r"^<memory:fills>:2: field 'seller_fee': a fee of 10000 exceeds "
                                         r"fill_fee_cap_ppm 125000 of the fill's value 10000 .*at most 1250$"):
        apply_epoch(state, attack, cfg)
    # Without the cap the same epoch moves the fund into the fee account: what the cap prevents.
    drained, _ = apply_epoch(state, attack, dataclasses.replace(cfg, fill_fee_cap_ppm=1_000_000))
    assert drained.cash_of(INSURANCE_FUND) == 0 < state.cash_of(INSURANCE_FUND)
    assert drained.cash_of(FEE_ACCOUNT) == 10_000 + 1_250
    text = ("fill_fee_cap_ppm = 1000\n\n[[instrument]]\nid = \"BTC-PERP\"\nkind = \"perpetual\"\n"
            "tick_size = 1\nlot_size = 1\ncontract_multiplier = 10\ninitial_margin_ppm = 100000\n"
            "maintenance_margin_ppm = 50000\n")
    loaded = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    assert loaded.fill_fee_cap_ppm == 1_000 and b'"fill_fee_cap_ppm":1000' in config_canonical_bytes(loaded)
    assert b"fill_fee_cap_ppm" not in config_canonical_bytes(cfg)
    with pytest.raises(InputError, match=r"zkclear.toml:1: field 'fill_fee_cap_ppm': fill_fee_cap_ppm must be"):
        load_config(write_files(tmp_path, {"zkclear.toml": text.replace("1000\n", "1000001\n", 1)}) / "zkclear.toml")


# -- fund withdrawals -------------------------------------------------------------------------------

def test_a_withdrawal_from_the_insurance_fund_in_transfers_is_refused() -> None:
    """Issue 12: the operator could withdraw from the insurance fund like from any account."""
    cfg = config(perp_spec())
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["A", "B"], transfers=FUNDED))
    for account in (INSURANCE_FUND, FEE_ACCOUNT, BACKSTOP):
        with pytest.raises(InputError, match=r"field 'account': withdrawals from the clearing house's account "
                                             r".* are operator actions: give them in operator_actions.csv"):
            apply_epoch(state, epoch_inputs(2, {PERP: 1_000}, transfers=[withdraw(account, 1)]), cfg)


def _action(action_id: str, account: str, amount: int, reason: str = "fund rebalanced to the treasury",
            action: str = "withdraw_fund") -> OperatorAction:
    return OperatorAction(action_id, action, account, amount, reason)


def test_an_operator_action_withdraws_from_a_fund_and_the_report_records_it() -> None:
    cfg = config(perp_spec())
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["A", "B"], transfers=FUNDED))
    inputs = dataclasses.replace(epoch_inputs(2, {PERP: 1_000}), operator_actions=(
        _action("op-1", INSURANCE_FUND, 2_500), _action("op-2", INSURANCE_FUND, 10**6, "too much")))
    after, report = apply_epoch(state, inputs, cfg)
    assert after.cash_of(INSURANCE_FUND) == 3_500
    assert after.total_withdrawn == state.total_withdrawn + 2_500
    first, second = report.operator_actions
    assert (first.accepted, first.reason, first.amount) == (True, "fund rebalanced to the treasury", 2_500)
    assert (second.accepted, second.rejection) == (False, "the account holds 3500 after the liquidation pass")
    canonical = report.to_canonical()["operator_actions"]
    assert canonical[0] == ["op-1", "withdraw_fund", INSURANCE_FUND, 2_500, "fund rebalanced to the treasury", True,
                            ""]
    assert inputs.to_canonical()["operator_actions"][1] == ["op-2", "withdraw_fund", INSURANCE_FUND, 10**6,
                                                           "too much"]
    assert "operator_actions" not in epoch_inputs(2, {PERP: 1_000}).to_canonical()


@pytest.mark.parametrize(("action", "field", "fragment"), [
    (_action("op", "A", 1), "account", "an operator withdrawal is from CH:fees or CH:insurance"),
    (_action("op", FEE_ACCOUNT, 1, reason=" "), "reason", "a reason of 1 to 200 printable characters"),
    (_action("op", FEE_ACCOUNT, 1, action="deposit"), "action", "action must be 'withdraw_fund'"),
    (_action("dep-A-100000000", FEE_ACCOUNT, 1), "action_id", "transfer and action ids share one namespace"),
])
def test_a_bad_operator_action_is_refused_naming_the_field(action, field, fragment) -> None:
    cfg = config(perp_spec())
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["A", "B"], transfers=FUNDED))
    inputs = dataclasses.replace(epoch_inputs(2, {PERP: 1_000}, transfers=[deposit("A", 100_000_000)]),
                                 operator_actions=(action,))
    with pytest.raises(InputError, match=fragment) as error:
        apply_epoch(state, inputs, cfg)
    assert error.value.field == field


def test_operator_actions_come_from_their_own_file_and_their_ids_are_never_reused(tmp_path) -> None:
    cfg = config(perp_spec())
    header = "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
    first = write_files(tmp_path / "1", {
        "fills.csv": header, "prices.csv": f"instrument,mark_price,funding_rate_ppm\n{PERP},1000,0\n",
        "transfers.csv": "transfer_id,kind,account,amount\nt-fund,deposit,CH:insurance,9000\n"})
    second = write_files(tmp_path / "2", {
        "fills.csv": header, "prices.csv": f"instrument,mark_price,funding_rate_ppm\n{PERP},1000,0\n",
        "operator_actions.csv": "action_id,action,account,amount,reason\n"
                                "op-1,withdraw_fund,CH:insurance,4000,\"board decision 7, to reserves\"\n"})
    with Ledger(tmp_path / "l.sqlite", cfg) as ledger:
        ledger.commit(load_epoch(first, 1, cfg), scratch=tmp_path)
        result = ledger.commit(load_epoch(second, 2, cfg), scratch=tmp_path)
        assert result.state.cash_of(INSURANCE_FUND) == 5_000
        assert result.report.operator_actions[0].reason == "board decision 7, to reserves"
        third = write_files(tmp_path / "3", {
            "fills.csv": header, "prices.csv": f"instrument,mark_price,funding_rate_ppm\n{PERP},1000,0\n",
            "operator_actions.csv": "action_id,action,account,amount,reason\nop-1,withdraw_fund,CH:fees,1,x\n"})
        with pytest.raises(InputError, match=r"operator_actions.csv:2: field 'action_id': transfer id 'op-1' was "
                                             r"already committed in epoch 2"):
            ledger.commit(load_epoch(third, 3, cfg), scratch=tmp_path)
        assert ledger.verify_replay() == result.state


# -- ADL ranking ------------------------------------------------------------------------------------

def test_the_profit_share_is_bounded_and_continuous_through_zero_net_deposits() -> None:
    assert adl_score(2_000, 1_000, 4_000) == Fraction(1, 2) * 2          # winner: 1 - D/E, times leverage
    assert adl_score(500, 1_000, 1_000) == Fraction(-1, 2) / 2           # loser: (E - D) / D, over leverage
    assert adl_score(2_000, 0, 4_000) == adl_score(2_000, -10**9, 4_000) == 2  # all equity is profit: share 1
    assert adl_score(2_000, 1, 4_000) == Fraction(1_999, 2_000) * 2      # next to D = 0, not a jump
    assert adl_score(0, -5, 0) == 0


def _ranking_book() -> tuple[Book, dict[str, int]]:
    """Short counterparties of a long: W withdrew more than it deposited (net deposits -50,000) and holds 10
    lots on 100,000 equity (leverage 1); P doubled 100,000 to 200,000 and holds 100 lots (leverage 5); L lost
    half its 100,000 and holds 10 lots; the backstop holds 50 lots."""
    cfg = config(perp_spec())
    accounts = tuple(sorted((*SYSTEM_ACCOUNTS, "L", "P", "W", "X")))
    row = {a: k for k, a in enumerate(accounts)}
    cash = np.zeros(len(accounts), dtype=np.int64)
    positions = np.zeros((len(accounts), 1), dtype=np.int64)
    deposits = np.zeros(len(accounts), dtype=np.int64)
    for account, equity, net, lots in (("W", 100_000, -50_000, -10), ("P", 200_000, 100_000, -100),
                                       ("L", 50_000, 100_000, -10), (BACKSTOP, 10**6, 0, -50)):
        cash[row[account]], deposits[row[account]], positions[row[account], 0] = equity, net, lots
    positions[row["X"], 0] = 170
    params = risk_parameters(cfg, 1, (1_000,))
    return Book(accounts=accounts, cash=cash, positions=positions, net_deposits=deposits, params=params,
                config=cfg), row


def test_adl_ranks_an_account_that_withdrew_its_deposit_by_its_leverage_and_the_backstop_last() -> None:
    """Issue 12: with D <= 0 counted as 1, W scored 150,000 x 0.1 = 15,000 and went first, and the backstop
    (D = 0) before any trader. Now: P (profit share 1/2 at leverage 5: 2.5) before W (share 1, leverage 1),
    then L, the backstop last."""
    book, row = _ranking_book()
    order = [book.accounts[r] for r in adl_ranking(book, 0, 1, row["X"])]
    assert order == ["P", "W", "L", BACKSTOP]


def test_through_the_engine_the_backstop_is_deleveraged_after_the_traders() -> None:
    """Z's liquidation leaves the backstop short 1 lot (net deposits 0); when X goes bankrupt with the fund
    short of its deficit, the residue is charged to the shorts in rank order. Before, the backstop's
    ``max(0, 1) = 1`` made its profit ratio its whole equity and it came first; now it comes last."""
    cfg = config(perp_spec())
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["S", "X", "Z"], transfers=[
        deposit("S", 400_000), deposit("X", 30_000), deposit("Z", 6_000)],
        fills=[fill("f1", "X", "S", 20, 1_000), fill("f2", "X", "Z", 10, 1_000)]))
    state, _ = run(cfg, epoch_inputs(2, {PERP: 1_030}), state=state)
    assert state.position_of(BACKSTOP, PERP) == -1
    _, (report,) = run(cfg, epoch_inputs(3, {PERP: 850}), state=state)
    assert [(e.counterparty, e.lots) for e in report.adl] == [("Z", 4), ("S", 20), (BACKSTOP, 1)]


# -- backstop margin mode ---------------------------------------------------------------------------

def _tmp(name: str):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix=f"zkclear-{name}-"))


def _package_epoch(mode: str):
    """X (portfolio) holds 10 perps and 10 protective puts on 40,000 equity against a portfolio requirement of
    53,300 and is liquidated partially (7 of each); the backstop takes the package, and the fund (100,000 +
    the penalty) tops it up."""
    text = (f'backstop_margin_mode = "{mode}"\n' if mode else "") + CONFIG
    cfg = load_config(write_files(_tmp(f"backstop-{mode}"), {"zkclear.toml": text}) / "zkclear.toml")
    files = epoch_files(30_000, {PUT: 600_000, CALL: 600_000},
                        (f"f1,X,S,{PERP},10,30000,0,0", f"f2,X,S,{PUT},10,532,0,0"),
                        ("X,portfolio", "S,standard"),
                        ("d1,deposit,X,40000", "d2,deposit,S,100000000", "d3,deposit,CH:insurance,100000"))
    inputs = load_epoch(write_files(_tmp(f"backstop-epoch-{mode}"), files), 1, cfg)
    return cfg, *apply_epoch(EpochState.genesis(cfg), inputs, cfg)


def test_the_backstop_of_an_options_venue_is_on_portfolio_margin_and_keeps_a_hedged_package() -> None:
    """Issue 12: on standard margin the backstop is charged the full standard margin of the package (perp 5 %
    + the put's whole value: 142,240 for 7 + 7), the fund cannot cover it and the backstop is deleveraged at
    once; on portfolio margin (the default for a deployment with portfolio margin and options) it needs
    41,041 and keeps the package."""
    cfg, state, report = _package_epoch("")
    assert cfg.backstop_margin_mode == "portfolio"
    assert state.margin_modes[state.row(BACKSTOP)] == "portfolio"
    assert [e.action for e in report.liquidations] == ["partial"] and not report.adl
    assert state.positions[state.row(BACKSTOP)].tolist() == [7, 7, 0]
    assert state.cash_of(INSURANCE_FUND) == 80_332

    cfg, state, report = _package_epoch("standard")
    assert [e.action for e in report.liquidations] == ["partial", "backstop_deleverage"] and report.adl
    assert state.cash_of(INSURANCE_FUND) == 9_613


def test_the_backstop_margin_mode_is_configurable_and_checked() -> None:
    assert config(perp_spec()).backstop_margin_mode == "standard"
    assert b"backstop_margin_mode" not in config_canonical_bytes(config(perp_spec()))
    with pytest.raises(ConfigurationError, match="backstop_margin_mode 'portfolio' needs portfolio_margin"):
        ClearingConfig(instruments=(perp_spec(),), backstop_margin_mode="portfolio")
    with pytest.raises(ConfigurationError, match="backstop_margin_mode must be one of"):
        ClearingConfig(instruments=(perp_spec(),), backstop_margin_mode="isolated")



