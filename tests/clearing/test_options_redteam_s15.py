"""Red team, session 15: options and portfolio (scenario) margin.

**A short option's requirement is not bounded by its notional.** The notional bound (``Σ_j |q_j|·M_j·m_j ≤
2^62 − 1`` per account) bounds every linear and tiered requirement, but the option-standard short charge is a
fraction of the *underlying's* value per lot: a deep out-of-the-money call marked at one tick carries a notional of
one unit per lot and a charge of ``f_min·F·m``. With ``F = 2^39`` ticks, ``m = 1`` and ``f = 100 %`` (floor 50 %),
``2^24 − 1`` short lots charge ``2^62 − 2^38`` in each of three such calls: the engine summed the columns in int64,
the sum wrapped to ``−2^62 − 3·2^38``, and an account with no equity at all was neither liquidated nor refused — the
epoch committed, and its statement (which proves ``E − requirement ∈ [0, 2^64)`` over the integers) could never be
proven. One more lot in one column stopped the epoch with a ``ClearingError`` that named no input record.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from circuits.public_data import AccountWitness, PublicRiskData
from provers.collateral import assign_account
from tests.clearing.options_helpers import CONFIG, csv, write_files
from tests.clearing.test_options_integration import epoch_dirs
from zkclear.clearing.config import ClearingConfig, PortfolioMarginConfig
from zkclear.clearing.engine import apply_epoch, option_equity_values
from zkclear.clearing.inputs import AccountOpen, EpochInputs, Fill, Fills, ImpliedVol, MarkPrice, Transfer
from zkclear.clearing.instruments import InstrumentSpec
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.margin import MarginLevel, account_requirement, margin_requirements
from zkclear.clearing.money import MAX_AMOUNT, PPM
from zkclear.clearing.provable import StatementLimits
from zkclear.clearing.state import EpochState
from zkclear.errors import ClearingError, InputError

FORWARD = 2**39
STRIKE = 2**40  # the largest strike: the calls are out of the money by the whole forward
SHORT_PER_LOT = 2**38  # max(f·F − OTM, f_min·F)·m with f = 100 %, f_min = 50 %, m = 1
LOTS = MAX_AMOUNT // SHORT_PER_LOT  # 2^24 − 1: each column's requirement just within the amount bound


def _config_text(calls: int, *, portfolio: bool = False) -> str:
    text = ("genesis_timestamp = 1700000000\nepoch_seconds = 86400\n"
            + ("[portfolio_margin]\nshort_option_minimum_ppm = 1000000\n" if portfolio else "")
            + '\n[[instrument]]\nid = "X-PERP"\nkind = "perpetual"\ntick_size = 1\nlot_size = 1\n'
            "contract_multiplier = 1\ninitial_margin_ppm = 100000\nmaintenance_margin_ppm = 50000\n")
    for k in range(1, calls + 1):
        text += (f'\n[[instrument]]\nid = "C{k}"\nkind = "option"\nunderlying = "X-PERP"\noption_type = "call"\n'
                 f"strike = {STRIKE}\nexpiry_epoch = 5\ntick_size = 1\nlot_size = 1\ncontract_multiplier = 1\n"
                 "initial_margin_ppm = 1000000\nmaintenance_margin_ppm = 1000000\n")
    return text


def _epoch_one(tmp_path, sizes: tuple[int, ...], *, portfolio: bool = False, seller_deposit: int = 0):
    """The short seller S sells ``sizes[k]`` calls C{k+1} to L at one tick (the mark); L deposits what its
    long options need (one unit per lot), S ``seller_deposit``. Returns the configuration and the loaded inputs."""
    config = load_config(write_files(tmp_path, {"zkclear.toml": _config_text(len(sizes), portfolio=portfolio)})
                         / "zkclear.toml")
    mode = "portfolio" if portfolio else "standard"
    files = {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"X-PERP,{FORWARD},0"),
        "vols.csv": csv("instrument,implied_vol_ppm", *(f"C{k},1" for k in range(1, len(sizes) + 1))),
        "accounts.csv": csv("account,margin_mode", f"S,{mode}", "L,standard"),
        "transfers.csv": csv("transfer_id,kind,account,amount", f"d1,deposit,L,{sum(sizes)}",
                             *([f"d2,deposit,S,{seller_deposit}"] if seller_deposit else [])),
        "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee",
                         *(f"f{k},L,S,C{k},{size},1,0,0" for k, size in enumerate(sizes, start=1))),
    }
    return config, load_epoch(write_files(tmp_path / "1", files), 1, config)


def test_short_option_requirements_beyond_the_amount_bound_are_refused_on_the_fill_not_wrapped(tmp_path):
    config, inputs = _epoch_one(tmp_path, (LOTS, LOTS, LOTS))
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(config), inputs, config)
    assert error.value.path.endswith("fills.csv")
    assert (error.value.line, error.value.field) == (4, "size")  # S's last fill: the one that completed it
    assert "maintenance requirement" in str(error.value) and "2**62 - 1" in str(error.value)


def test_one_short_option_column_beyond_the_amount_bound_is_refused_on_its_fill(tmp_path):
    config, inputs = _epoch_one(tmp_path, (1, LOTS + 1))
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(config), inputs, config)
    assert (error.value.line, error.value.field) == (3, "size")


def test_a_portfolio_accounts_short_option_charges_beyond_the_amount_bound_are_refused_on_the_fill(tmp_path):
    # short-option minimum 100 % of the forward: 2^39 per short lot, so 2^23 lots charge 2^62
    config, inputs = _epoch_one(tmp_path, (2**23,), portfolio=True)
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(config), inputs, config)
    assert (error.value.line, error.value.field) == (2, "size")
    assert "maintenance requirement" in str(error.value)


def test_an_account_just_within_the_bound_is_cleared_and_liquidated_not_refused(tmp_path):
    """Two columns at 2^62 − 2^38 each: the total, 2^63 − 2^39, is beyond the amount bound too (refused); one
    column within it commits, S (no equity) is liquidated first and nobody is left below maintenance."""
    config, inputs = _epoch_one(tmp_path, (LOTS, LOTS))
    with pytest.raises(InputError, match="maintenance requirement"):
        apply_epoch(EpochState.genesis(config), inputs, config)
    config, inputs = _epoch_one(tmp_path / "one", (LOTS,))
    state, report = apply_epoch(EpochState.genesis(config), inputs, config)
    assert report.liquidations[0].account == "S" and not state.positions[state.row("S")].any()
    requirements = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE)
    assert np.all(requirements >= 0) and np.all(state.cash >= requirements)


def test_the_vectorized_requirement_never_wraps(tmp_path):
    """``margin_requirements`` on positions whose exact requirement passes 2^63 (positions no epoch now leaves):
    a ClearingError, never a wrapped (negative) requirement."""
    config, inputs = _epoch_one(tmp_path, (1, 1, 1))
    _state, report = apply_epoch(EpochState.genesis(config), inputs, config)
    positions = np.array([[0, -LOTS, -LOTS, -LOTS]], dtype=np.int64)
    assert account_requirement(positions[0].tolist(), report.risk, config.risk_models,
                               MarginLevel.MAINTENANCE) == 3 * LOTS * SHORT_PER_LOT
    with pytest.raises(ClearingError, match="amount bound"):
        margin_requirements(positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE)


# -- a scenario scale beyond the statements' rounding width -------------------------------------------------------

def test_a_scenario_scale_beyond_2_32_is_refused_in_the_configuration_not_at_every_epoch(tmp_path):
    """``[portfolio_margin] scale`` is proven in the rounding constraint ``S·W − Σ_g z_g ∈ [0, 2^32)``. A scale of
    ``2^32 + 1`` was accepted by the configuration, and then every epoch was refused, on the first instrument's
    mark in prices.csv: the deployment could clear nothing, and the message named the wrong file."""
    text = CONFIG.replace("portfolio_margin = true", "[portfolio_margin]\nscale = 4294967297\nextreme_weight = 1")
    with pytest.raises(InputError) as error:
        load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    assert (error.value.field, error.value.line) == ("portfolio_margin.scale", 5)
    assert "must be in [1, 2^32]" in str(error.value)
    widest = load_config(write_files(tmp_path / "ok", {"zkclear.toml": text.replace("4294967297", "4294967296")})
                         / "zkclear.toml")
    _state, report = apply_epoch(EpochState.genesis(widest), load_epoch(epoch_dirs(tmp_path / "e")[0], 1, widest),
                                 widest)
    assert report.risk.scenario_table.scale == 2**32


def test_a_carried_short_option_whose_requirement_a_higher_forward_takes_past_the_bound_names_its_vols_row(tmp_path):
    """``2^23 + 1`` short calls charge ``2^61 + 2^38`` at the forward ``2^39``; at ``2^40`` (at the money) each lot
    charges ``2^40``. No fill in epoch 2: the refusal names the record the option's mark comes from, its vols.csv row,
    by that file's own field (it said ``field 'mark_price'``, a column vols.csv does not have)."""
    lots = 2**23 + 1
    config, inputs = _epoch_one(tmp_path, (lots,), seller_deposit=MAX_AMOUNT)
    state, report = apply_epoch(EpochState.genesis(config), inputs, config)
    assert not report.liquidations and state.positions[state.row("S"), 1] == -lots
    files = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"X-PERP,{2 * FORWARD},0"),
             "vols.csv": csv("instrument,implied_vol_ppm", "C1,1"),
             "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee")}
    with pytest.raises(InputError) as error:
        apply_epoch(state, load_epoch(write_files(tmp_path / "2", files), 2, config), config)
    assert error.value.path.endswith("vols.csv")
    assert (error.value.line, error.value.field) == (2, "implied_vol_ppm")
    assert "account 'S' in 'C1': the maintenance requirement" in str(error.value)


# -- a scenario table entry between 2^63 and 2^64 − 1 -------------------------------------------------------------

def test_a_table_entry_beyond_int64_takes_the_exact_path_also_for_flat_portfolio_accounts(tmp_path):
    """The statements accept scenario entries up to ``2^64 − 1``; ``portfolio_margin_batch`` chose the int64 path
    for accounts that are all flat (their product bound is 0), and the table's ``as_int64`` stopped the epoch with a
    ConfigurationError naming no record. Default grid, one perpetual at 600,000,000,000 ticks, ``m = 2^20`` and a
    1 ppm maintenance fraction (its margin line within ``2^64``): the extreme scenario's entry,
    ``35 · 0.48 · P · m ≈ 1.06 · 10^19``, is between ``2^63`` and ``2^64``."""
    from zkclear.risk.portfolio_margin import batch_path, portfolio_margin, portfolio_margin_batch

    text = ("portfolio_margin = true\n\n[[instrument]]\nid = \"X-PERP\"\nkind = \"perpetual\"\ntick_size = 1\n"
            "lot_size = 1\ncontract_multiplier = 1048576\ninitial_margin_ppm = 2\nmaintenance_margin_ppm = 1\n")
    config = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    files = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", "X-PERP,600000000000,0"),
             "accounts.csv": csv("account,margin_mode", "P,portfolio"),
             "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee")}
    state, report = apply_epoch(EpochState.genesis(config), load_epoch(write_files(tmp_path / "1", files), 1, config),
                                config)
    table = report.risk.scenario_table
    assert 2**63 <= table.max_abs_entry() < 2**64
    flat = np.zeros((2, 1), dtype=np.int64)
    assert batch_path(table, flat) == "object"
    assert portfolio_margin_batch(table, flat).tolist() == [0, 0]
    held = np.array([[1], [-1]], dtype=np.int64)
    assert portfolio_margin_batch(table, held).tolist() == [portfolio_margin(table, [q]).maintenance_margin
                                                            for q in (1, -1)]
    assert state.margin_modes[state.row("P")] == "portfolio"


# -- configuration errors name the key the table sets, with its line ------------------------------------------------

@pytest.mark.parametrize(("old", "new", "field", "line"), [
    # the grid's messages name its keys bare: the field was 'portfolio_margin', without a line
    ("portfolio_margin = true", "[portfolio_margin]\nscan_range_ppm = 99999999999",
     "portfolio_margin.scan_range_ppm", 5),
    ("portfolio_margin = true", "[portfolio_margin]\nscale = 100\nextreme_weight = 101", "portfolio_margin.scale", 5),
    ("portfolio_margin = true", "[portfolio_margin]\nextreme_weight = 101", "portfolio_margin.extreme_weight", 5),
    # a perpetual with a strike: the message names option_type first, which the table does not set
    ('kind = "perpetual"\nunderlying = "BTC"', 'kind = "perpetual"\nunderlying = "BTC"\nstrike = 5',
     "instrument[0].strike", 10),
])
def test_option_and_grid_configuration_errors_name_the_key_set_and_its_line(tmp_path, old, new, field, line):
    text = CONFIG.replace(old, new, 1)
    assert text != CONFIG
    with pytest.raises(InputError) as error:
        load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    assert (error.value.field, error.value.line) == (field, line)


def test_a_large_long_against_a_portfolio_short_is_not_charged_the_short_coefficient(tmp_path):
    """A standard account L buys ``2^31 − 1`` deep out-of-the-money puts (strike 1, forward ``2^39``) from a portfolio
    account S. L's requirement is their value (one tick a lot), S's the scenario margin; no requirement nears the
    bound. The option model's overflow guard multiplied the largest ``|q|`` — L's long — by the larger of the long and
    short charges (``2^39 / 40`` a lot, the short floor) and stopped the epoch with a ClearingError (found by a
    property run over option deployments)."""
    text = _config_text(0, portfolio=True).replace("short_option_minimum_ppm = 1000000", "short_option_minimum_ppm = 0")
    text += ('\n[[instrument]]\nid = "P1"\nkind = "option"\nunderlying = "X-PERP"\noption_type = "put"\nstrike = 1\n'
             "expiry_epoch = 5\ntick_size = 1\nlot_size = 1\ncontract_multiplier = 1\ninitial_margin_ppm = 100000\n"
             "maintenance_margin_ppm = 50000\n")
    config = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    lots = 2**31 - 1
    files = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"X-PERP,{FORWARD},0"),
             "vols.csv": csv("instrument,implied_vol_ppm", "P1,1"),
             "accounts.csv": csv("account,margin_mode", "S,portfolio", "L,standard"),
             "transfers.csv": csv("transfer_id,kind,account,amount", f"d1,deposit,L,{lots}", f"d2,deposit,S,{lots}"),
             "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee",
                              f"f1,L,S,P1,{lots},1,0,0")}
    state, report = apply_epoch(EpochState.genesis(config), load_epoch(write_files(tmp_path / "1", files), 1, config),
                                config)
    assert not report.liquidations
    assert state.positions[state.row("L"), 1] == lots and state.positions[state.row("S"), 1] == -lots
    requirements = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE,
                                       state.margin_modes)
    assert requirements[state.row("L")] == lots  # one tick a lot: the long's whole value


# -- a cash balance the epoch's settlement takes beyond the amount bound --------------------------------------------

def test_a_gain_that_takes_a_cash_balance_past_the_bound_is_refused_on_the_fill(tmp_path):
    """A deposits ``2^62 − 6`` and buys 10 perpetuals at 990 against a mark of 1,000 (within the 10 % band): its
    trade settles +1,000 at the mark and its balance would pass ``2^62 − 1``. The engine stopped on a ClearingError
    naming no record (``cash: a value exceeds the amount bound``); the fill is named now. An option's fill does it
    with far less cash: its band is a tenth of the underlying's price, not of the option's (found by a property run
    over option deployments)."""
    text = ('[[instrument]]\nid = "X-PERP"\nkind = "perpetual"\ntick_size = 1\nlot_size = 1\ncontract_multiplier = 10\n'
            "initial_margin_ppm = 100000\nmaintenance_margin_ppm = 50000\n")
    config = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    files = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", "X-PERP,1000,0"),
             "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard"),
             "transfers.csv": csv("transfer_id,kind,account,amount", f"d1,deposit,A,{MAX_AMOUNT - 5}",
                                  "d2,deposit,B,1000000"),
             "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee",
                              "f1,B,A,X-PERP,1,1000,0,0", "f2,A,B,X-PERP,10,990,0,0")}
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(config), load_epoch(write_files(tmp_path / "1", files), 1, config), config)
    assert (error.value.line, error.value.field) == (3, "size")
    assert "account 'A' in 'X-PERP': its cash balance would exceed the amount bound 2**62 - 1" in str(error.value)


# -- property: with options, every epoch that commits proves ----------------------------------------------------------

PROPERTY_ACCOUNTS = ("A", "B", "C", "D")


@st.composite
def _option_deployment(draw):
    multiplier = draw(st.sampled_from([1, 10, 2**20]))
    specs = [InstrumentSpec("P", "perpetual", tick_size=1, lot_size=1, contract_multiplier=multiplier,
                            initial_margin_ppm=100_000, maintenance_margin_ppm=50_000)]
    for k in range(draw(st.integers(1, 3))):
        maintenance = draw(st.sampled_from([1, 50_000, 100_000, PPM]))
        specs.append(InstrumentSpec(
            f"O{k}", "option", tick_size=1, lot_size=1, contract_multiplier=multiplier,
            initial_margin_ppm=min(PPM, 2 * maintenance), maintenance_margin_ppm=maintenance,
            margin_model="option-standard", expiry_epoch=draw(st.integers(1, 3)), underlying="P",
            option_type=draw(st.sampled_from(["call", "put"])),
            strike=draw(st.sampled_from([1, 1_000, 30_000, 2**30, 2**40]))))
    portfolio = None
    if draw(st.booleans()):
        grid = draw(st.sampled_from([{"scale": 1, "extreme_weight": 1}, {}, {"scale": 2**32}]))
        portfolio = PortfolioMarginConfig(short_option_minimum_ppm=draw(st.sampled_from([0, 10_000, PPM])), **grid)
    return ClearingConfig(
        instruments=tuple(specs), portfolio_margin=portfolio, liquidators=("A",), genesis_timestamp=1_700_000_000,
        epoch_seconds=86_400, option_settlement=draw(st.sampled_from(["futures", "premium"])),
        fill_price_band_ppm=10**8, statement_limits=StatementLimits(draw(st.sampled_from([8, 16, 32]))))


@st.composite
def _option_epoch(draw, cfg, epoch: int, live: list[str]):
    mark = draw(st.sampled_from([1, 3, 100, 30_000, 10**6, 2**30, 2**39, 2**40]))
    fills = []
    for k in range(draw(st.integers(0, 6))):
        buyer, seller = draw(st.permutations(PROPERTY_ACCOUNTS))[:2]
        instrument = draw(st.sampled_from(live))
        price = mark if instrument == "P" else draw(st.sampled_from([1, mark, 2**20]))
        fills.append(Fill(f"e{epoch}-{k}", buyer, seller, instrument,
                          draw(st.sampled_from([1, 100, 127, 2**15, 2**20, 2**24, 2**31 - 1])), price, 0, 0))
    transfers = tuple(Transfer(f"d{epoch}-{a}", "deposit", a, draw(st.sampled_from([10**3, 10**9, 10**15, 2**60])))
                      for a in PROPERTY_ACCOUNTS if draw(st.booleans()))
    opens = ()
    if epoch == 1:
        opens = tuple(AccountOpen(a, draw(st.sampled_from(["standard", "portfolio"])) if cfg.portfolio_margin
                                  else "standard") for a in PROPERTY_ACCOUNTS)
    vols = tuple(ImpliedVol(i, draw(st.sampled_from([1, 10_000, 600_000, 20_000_000]))) for i in live if i != "P")
    return EpochInputs(epoch=epoch, fills=Fills.from_records(fills), marks=(MarkPrice("P", mark, 0),),
                       transfers=transfers, opens=opens, implied_vols=vols)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_epoch_of_an_options_deployment_that_commits_proves(data) -> None:
    """tests/clearing/test_provable.py's property over deployments with engine-marked options (deep in and out of
    the money, strikes up to ``2^40``, volatilities 1 ppm to 2000 %, futures- or premium-style, standard or portfolio
    accounts, scenario scales 1 to ``2^32``, position widths 8/16/32): every epoch is refused by file and field, or
    commits, and then every account passes ``assign_account`` against ``PublicRiskData.from_epoch`` with the option
    values. Longer runs of it (3,000 deployments) found the int64 table path, the long-against-short guard and the
    cash-balance refusal above."""
    cfg = data.draw(_option_deployment())
    state = EpochState.genesis(cfg)
    for _ in range(4):
        epoch = state.epoch + 1
        live = [s.instrument_id for s in cfg.instruments if s.expiry_epoch is None or s.expiry_epoch >= epoch]
        inputs = data.draw(_option_epoch(cfg, epoch, live))
        try:
            new_state, report = apply_epoch(state, inputs, cfg)
        except InputError as exc:
            assert exc.path and exc.field, str(exc)
            continue
        except ClearingError as exc:  # the engine's conservative int64 guards over all accounts only
            assert "could exceed the bound" in str(exc) or "exceeds the bound" in str(exc), str(exc)
            continue
        public = PublicRiskData.from_epoch(report.risk, cfg.risk_models, scenario_table=report.risk.scenario_table,
                                           equity_values=option_equity_values(cfg, report.risk),
                                           position_bits=cfg.statement_limits.position_bits)
        for account, mode, cash, row in zip(new_state.accounts, new_state.margin_modes, new_state.cash.tolist(),
                                            new_state.positions.tolist(), strict=True):
            assign_account(account, AccountWitness(int(cash), tuple(int(q) for q in row), mode), public)
        event("committed and proven")
        state = new_state


def test_a_withdrawal_against_a_portfolio_initial_requirement_beyond_the_bound_is_refused_not_an_error(tmp_path):
    """S (portfolio, short-option minimum 100 % of the forward: ``2^39`` a lot) is short ``0.9 · 2^23`` calls: its
    maintenance ``≈ 0.9 · 2^62`` is covered by a deposit of ``2^62 − 1``, its initial requirement (1.25 times) is
    beyond the amount bound. Its withdrawal of 1 stopped the epoch with a ClearingError (the scalar portfolio
    requirement raised past the bound, where every caller compares Python ints); it is refused like any other."""
    lots = 9 * 2**23 // 10
    config, inputs = _epoch_one(tmp_path, (lots,), portfolio=True, seller_deposit=MAX_AMOUNT)
    state, report = apply_epoch(EpochState.genesis(config), inputs, config)
    assert not report.liquidations
    files = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"X-PERP,{FORWARD},0"),
             "vols.csv": csv("instrument,implied_vol_ppm", "C1,1"),
             "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee"),
             "transfers.csv": csv("transfer_id,kind,account,amount", "w1,withdrawal,S,1")}
    _state, report = apply_epoch(state, load_epoch(write_files(tmp_path / "2", files), 2, config), config)
    (outcome,) = report.withdrawals
    assert not outcome.accepted and "below the initial requirement" in outcome.reason
