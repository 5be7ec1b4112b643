"""Premium-style option settlement (``option_settlement = "premium"``) end to end from input files.

Deployment: tests/clearing/options_helpers.py (``BTC-PERP``, a put K = 30,000 and a call K = 33,000
expiring in epoch 3, 10 settlement units per lot per tick, option-standard margin IM 15 % / MM 10 % of the
forward, portfolio margin) with ``option_settlement = "premium"``. Marks as in test_options_integration.py:
epoch 1 (forward 30,000, vol 60 %) put 532, call 8; epoch 2 (forward 27,000, vol 90 %) put 3,006, call 1;
epoch 3 (expiry, forward 27,500) put 2,500 (intrinsic), call 0.

Premium style: the buyer pays ``price * size * 10`` to the seller at trade, options carry no variation
margin, equity is ``cash + sum_j q_j * mark_j * 10`` over option positions, and at expiry the long receives
(the short pays) the intrinsic value in cash.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.clearing.options_helpers import CALL, CONFIG, PERP, PUT, epoch_files, write_files
from zkclear.clearing import option_equity_values
from zkclear.clearing.config import DeficitResolution
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger, config_canonical_bytes
from zkclear.clearing.margin import MarginLevel, margin_requirements
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

PREMIUM_CONFIG = 'option_settlement = "premium"\n' + CONFIG
ACCOUNTS = ("A,standard", "B,standard", "P,portfolio", "Q,portfolio", "LIQ,standard", "C,standard")
DEPOSITS = ("d-A,deposit,A,1000000", "d-B,deposit,B,1000000", "d-P,deposit,P,1000000",
            "d-Q,deposit,Q,1000000", "d-L,deposit,LIQ,100000000", "d-C,deposit,C,1000000")
FILLS_1 = (f"f1,A,B,{PUT},3,500,0,0", f"f2,P,Q,{PERP},2,30000,0,0", f"f3,P,Q,{PUT},2,532,0,0",
           f"f4,Q,A,{CALL},1,8,0,0", f"f5,C,B,{PUT},1,532,0,0")
VOLS_1 = {PUT: 600_000, CALL: 600_000}
VOLS_2 = {PUT: 900_000, CALL: 900_000}


def equities(state, report, config) -> dict[str, int]:
    """Every account's equity from outside the engine: cash + sum_j q_j * v_j."""
    values = option_equity_values(config, report.risk)
    per_lot = np.array([values.get(i, 0) for i in state.instruments], dtype=object)
    return {account: int(state.cash[row]) + int(np.dot(state.positions[row].astype(object), per_lot))
            for row, account in enumerate(state.accounts)}


def assert_premium_invariants(state, report, config) -> None:
    """Matched book, conservation of cash, Σ equity = Σ cash, nobody below maintenance (on equity)."""
    assert not state.positions.sum(axis=0).any()
    assert sum(state.cash.tolist()) == state.total_deposited - state.total_withdrawn
    assert sum(report.settlement.tolist()) == 0
    equity = equities(state, report, config)
    assert sum(equity.values()) == sum(state.cash.tolist())
    maintenance = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE,
                                      state.margin_modes)
    below = [a for row, a in enumerate(state.accounts) if equity[a] < int(maintenance[row])]
    assert not below, below


def run_epochs(root, text, epochs):
    config = load_config(write_files(root, {"zkclear.toml": text}) / "zkclear.toml")
    state, results = EpochState.genesis(config), []
    for epoch, files in enumerate(epochs, start=1):
        state, report = apply_epoch(state, load_epoch(write_files(root / str(epoch), files), epoch, config),
                                    config)
        results.append((state, report))
    return config, results


MAIN_EPOCHS = (epoch_files(30_000, VOLS_1, FILLS_1, ACCOUNTS, DEPOSITS), epoch_files(27_000, VOLS_2),
               epoch_files(27_500, VOLS_2))


@pytest.fixture(scope="module")
def premium(tmp_path_factory):
    return run_epochs(tmp_path_factory.mktemp("premium"), PREMIUM_CONFIG, MAIN_EPOCHS)


@pytest.fixture(scope="module")
def futures(tmp_path_factory):
    return run_epochs(tmp_path_factory.mktemp("futures"), CONFIG, MAIN_EPOCHS)


def test_the_setting_is_parsed_strictly_and_only_a_premium_deployment_changes_the_canonical_config(tmp_path):
    config = load_config(write_files(tmp_path, {"zkclear.toml": PREMIUM_CONFIG}) / "zkclear.toml")
    default = load_config(write_files(tmp_path / "d", {"zkclear.toml": CONFIG}) / "zkclear.toml")
    explicit = load_config(write_files(tmp_path / "f", {"zkclear.toml": 'option_settlement = "futures"\n'
                                                        + CONFIG}) / "zkclear.toml")
    assert (config.option_settlement, default.option_settlement) == ("premium", "futures")
    assert b"option_settlement" not in config_canonical_bytes(default)
    assert config_canonical_bytes(explicit) == config_canonical_bytes(default)
    assert b'"option_settlement":"premium"' in config_canonical_bytes(config)
    for bad, message in (('option_settlement = "premiums"\n', "must be 'futures' or 'premium'"),
                         ("option_settlement = 1\n", "must be str")):
        path = write_files(tmp_path / "bad", {"zkclear.toml": "\n" + bad + CONFIG}) / "zkclear.toml"
        with pytest.raises(InputError, match=message) as error:
            load_config(path)
        assert (error.value.line, error.value.field) == (2, "option_settlement")


def test_the_premium_is_paid_at_trade(premium):
    """Epoch 1 settlement: A pays 3 * 500 * 10 = 15,000 for puts and receives 1 * 8 * 10 = 80 for the call:
    -14,920; B receives 15,000 + 5,320 = 20,320; P pays 2 * 532 * 10 = 10,640 (the perp at its mark: 0);
    Q receives 10,640 and pays 80: +10,560; C pays 5,320."""
    _, results = premium
    state, report = results[0]
    settlement = dict(zip(report.accounts, report.settlement.tolist(), strict=True))
    assert {a: settlement[a] for a in "ABPQC"} == {"A": -14_920, "B": 20_320, "P": -10_640, "Q": 10_560,
                                                   "C": -5_320}
    assert state.cash_of("A") == 985_080


def test_option_positions_carry_no_variation_margin(premium):
    """Epoch 2 (put 532 -> 3,006): no option holder's cash moves; P and Q settle only the perp's VM
    2 * (27,000 - 30,000) * 10 = -60,000 / +60,000."""
    _, results = premium
    _, report = results[1]
    settlement = dict(zip(report.accounts, report.settlement.tolist(), strict=True))
    assert {a: settlement[a] for a in "ABPQC"} == {"A": 0, "B": 0, "P": -60_000, "Q": 60_000, "C": 0}


def test_equity_includes_the_option_value_and_equals_the_futures_style_cash(premium, futures):
    """A in epoch 2: cash 985,080 + 3 puts * 3,006 * 10 - 1 call * 1 * 10 = 1,075,250, which is A's cash
    under futures-style settlement (1,000,960 + 3 * 2,474 * 10 + 7 * 10). Every account, every epoch: the
    premium-style equity equals the futures-style cash (no liquidations here)."""
    config, results = premium
    futures_config, futures_results = futures
    state, report = results[1]
    assert option_equity_values(config, report.risk) == {PUT: 30_060, CALL: 10}
    assert option_equity_values(futures_config, futures_results[1][1].risk) == {}
    assert equities(state, report, config)["A"] == 1_075_250
    for (state, report), (f_state, _) in zip(results, futures_results, strict=True):
        assert_premium_invariants(state, report, config)
        assert equities(state, report, config) == dict(zip(f_state.accounts, f_state.cash.tolist(),
                                                           strict=True))


def test_expiry_pays_the_intrinsic_value_in_cash_and_closes_the_positions(premium):
    """Epoch 3: the put expires at 2,500 ticks in the money: A receives 3 * 2,500 * 10 = 75,000 (cash
    985,080 -> 1,060,080), B pays 4 * 25,000 = 100,000 (1,020,320 -> 920,320), C receives 25,000,
    P receives 50,000 (plus the perp's VM 2 * 500 * 10 = 10,000) and Q pays them; the call expires worthless."""
    _, results = premium
    state, report = results[2]
    settlement = dict(zip(report.accounts, report.settlement.tolist(), strict=True))
    assert {a: settlement[a] for a in "ABPQC"} == {"A": 75_000, "B": -100_000, "P": 60_000, "Q": -60_000,
                                                   "C": 25_000}
    assert report.expired_instruments == (PUT, CALL)
    assert not state.positions[:, 1:].any()
    assert (state.cash_of("A"), state.cash_of("B"), state.cash_of("C")) == (1_060_080, 920_320, 1_019_680)


def test_a_short_option_account_below_maintenance_is_liquidated_at_the_mark(tmp_path):
    """S deposits 40,000 and sells 1 put to C at 532: cash 45,320, equity 45,320 - 5,320 = 40,000 >= MM
    30,000 (10 % of 30,000 ticks * 10). Epoch 2: put 3,006, equity 45,320 - 30,060 = 15,260 < MM 27,000 (10 %
    of 27,000 * 10, in the money): full liquidation. Penalty ceil(1 % * 30,060) = 301 to the fund; LIQ takes
    the short put at the mark and is paid its value 30,060 by S: S cash 45,320 - 301 - 30,060 = 14,959, flat."""
    accounts = ("S,standard", "C,standard", "LIQ,standard")
    deposits = ("d-S,deposit,S,40000", "d-C,deposit,C,1000000", "d-L,deposit,LIQ,100000000")
    config, results = run_epochs(tmp_path, PREMIUM_CONFIG, (
        epoch_files(30_000, VOLS_1, (f"f1,C,S,{PUT},1,532,0,0",), accounts, deposits),
        epoch_files(27_000, VOLS_2)))
    state, report = results[1]
    assert_premium_invariants(state, report, config)
    (event,) = report.liquidations
    assert (event.account, event.action, event.equity_before, event.maintenance_before, event.closed_lots,
            event.receiver, event.penalty) == ("S", "full", 15_260, 27_000, (0, -1, 0), "LIQ", 301)
    assert state.cash_of("S") == 14_959 and not state.positions[state.row("S")].any()
    assert state.cash_of("LIQ") == 100_000_000 + 30_060 and state.position_of("LIQ", PUT) == -1
    assert state.cash_of("CH:insurance") == 301
    assert equities(state, report, config)["LIQ"] == 100_000_000


def test_a_withdrawal_is_checked_against_equity_including_the_option_value(tmp_path):
    """C paid 5,320 for 1 put: cash 994,680, equity 1,000,000, initial requirement of a long option = its
    value 5,320: C may withdraw 994,680 (cash to 0, equity 5,320) but not one unit more."""
    accounts = ("S,standard", "C,standard")
    deposits = ("d-S,deposit,S,1000000", "d-C,deposit,C,1000000")
    for amount, accepted in ((994_680, True), (994_681, False)):
        _, results = run_epochs(tmp_path / str(amount), PREMIUM_CONFIG, (
            epoch_files(30_000, VOLS_1, (f"f1,C,S,{PUT},1,532,0,0",), accounts, deposits),
            epoch_files(30_000, VOLS_1, transfers=(f"w,withdrawal,C,{amount}",))))
        assert results[1][1].withdrawals[0].accepted is accepted


@pytest.mark.parametrize("resolution", ["adl", "socialized_loss"])
def test_a_crash_with_premium_style_options_conserves_money_in_both_deficit_modes(tmp_path, resolution):
    """24 thinly funded accounts trade the perp and both options at their marks; the underlying then falls
    35 % with the volatility doubled, bankrupting put sellers beyond the small insurance fund. Every epoch:
    Σ cash (fund and fees included) = deposits - withdrawals, Σ equity = Σ cash, settlement sums to zero, no
    account below maintenance on equity; the deficits reach the configured resolution."""
    rng = np.random.default_rng(7)
    text = PREMIUM_CONFIG.replace("portfolio_margin = true",
                                  f'portfolio_margin = true\ndeficit_resolution = "{resolution}"')
    users = [f"U{k:02d}" for k in range(24)]
    accounts = (*(f"{u},{'portfolio' if k % 2 else 'standard'}" for k, u in enumerate(users)), "LIQ,standard")
    deposits = (*(f"d-{u},deposit,{u},{int(rng.integers(40_000, 400_000))}" for u in users),
                "d-LIQ,deposit,LIQ,500000000", "d-fund,deposit,CH:insurance,1000")
    prices = {PERP: 30_000, PUT: 532, CALL: 8}
    fills = []
    for k in range(60):
        buyer, seller = rng.choice(len(users), size=2, replace=False)
        instrument = (PERP, PUT, PUT, CALL)[int(rng.integers(4))]
        fills.append(f"f{k},{users[buyer]},{users[seller]},{instrument},{int(rng.integers(1, 4))},"
                     f"{prices[instrument]},0,0")
    crash = {PUT: 1_200_000, CALL: 1_200_000}
    config, results = run_epochs(tmp_path, text, (
        epoch_files(30_000, VOLS_1, tuple(fills), accounts, deposits),
        epoch_files(19_500, crash), epoch_files(19_500, crash)))
    assert config.deficit_resolution is DeficitResolution(resolution)
    for state, report in results:
        assert_premium_invariants(state, report, config)
    events = [e for _, report in results for e in report.liquidations]
    assert any(e.action == "bankrupt" and e.residue > 0 and e.resolution == resolution for e in events)
    if resolution == "adl":
        assert any(report.adl for _, report in results)
    else:
        assert any(report.socialized for _, report in results)
    state, _ = results[-1]
    assert not state.positions[:, 1:].any()


def test_a_premium_style_ledger_replays_to_the_same_hashes(tmp_path):
    config = load_config(write_files(tmp_path, {"zkclear.toml": PREMIUM_CONFIG}) / "zkclear.toml")
    with Ledger(tmp_path / "ledger.sqlite", config, durable=False) as ledger:
        for epoch, files in enumerate(MAIN_EPOCHS[:2], start=1):
            ledger.commit(load_epoch(write_files(tmp_path / str(epoch), files), epoch, config), scratch=tmp_path)
        ledger.verify_replay()


def test_the_zk_statement_with_option_equity_values_accepts_every_account_and_is_tight(premium):
    """``PublicRiskData.from_epoch(..., equity_values=option_equity_values(config, report.risk))``: the
    statement proves equity = cash + Σ v_j q_j, so every account of the epoch (standard and portfolio) is
    accepted with its engine cash. B (short 4 puts, standard) at exactly maintenance: its MM 4 * 2,700 * 10 =
    108,000 in epoch 2 needs cash 108,000 + 4 * 30,060 = 228,240; one unit less is refused."""
    from circuits.examples import required_cash
    from circuits.public_data import AccountWitness, PublicRiskData
    from provers.collateral import assign_account
    from zkclear.errors import ProvingError

    config, results = premium
    for state, report in results[:2]:
        public = PublicRiskData.from_epoch(report.risk, config.risk_models,
                                           scenario_table=report.risk.scenario_table,
                                           equity_values=option_equity_values(config, report.risk))
        for account in ("A", "B", "C", "P", "Q", "LIQ"):
            row = state.row(account)
            assign_account(account, AccountWitness(int(state.cash[row]), tuple(state.positions[row].tolist()),
                                                   state.margin_modes[row]), public)
    state, report = results[1]
    public = PublicRiskData.from_epoch(report.risk, config.risk_models, scenario_table=report.risk.scenario_table,
                                       equity_values=option_equity_values(config, report.risk))
    lots = tuple(state.positions[state.row("B")].tolist())
    maintenance = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE,
                                      state.margin_modes)
    assert int(maintenance[state.row("B")]) == 108_000
    assert required_cash(public, lots, "standard") == 228_240
    assign_account("B", AccountWitness(228_240, lots, "standard"), public)
    with pytest.raises(ProvingError):
        assign_account("B", AccountWitness(228_239, lots, "standard"), public)
