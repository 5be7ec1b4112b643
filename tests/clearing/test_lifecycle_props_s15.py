"""Property campaigns over the lifecycle of perpetuals and dated futures (session 15): defects they found, each
pinned here, and a modest property over many epochs.

The campaigns (thousands of random deployments, 3-10 epochs each: tiered and linear margin, dated futures expiring
at a final price, funding at and beyond the clamp, fees at the cap, deposits and withdrawals at the amount bound,
liquidations into an empty or a full insurance fund, ADL and socialized loss, the oracle guard's fallbacks and breaker
clamps, dynamic margin, a collateral asset, operator actions) found epochs the engine stopped with a
``ClearingError`` that named no input record: the int64 guards over the epoch's trade settlement and fees bounded
sums that the committed state never holds (or could name the fill that took it past), and a transfer into an
insurance fund near the amount bound (a liquidation penalty, the backstop's surplus) had nowhere to go.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from circuits.public_data import AccountWitness, PublicRiskData
from provers.collateral import assign_account
from tests.clearing.clearing_helpers import (
    DATED,
    assert_invariants,
    config,
    dated_spec,
    deposit,
    epoch_inputs,
    fill,
    perp_spec,
)
from tests.clearing.collateral_helpers import btc_asset
from tests.clearing.options_helpers import csv, write_files
from zkclear.clearing.config import (
    BACKSTOP,
    FEE_ACCOUNT,
    INSURANCE_FUND,
    ClearingConfig,
    DeficitResolution,
    OracleGuardConfig,
)
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, FundingRate, OperatorAction, OracleQuote, Transfer
from zkclear.clearing.instruments import MarginTier
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.ledger import Ledger
from zkclear.clearing.money import MAX_AMOUNT, PPM
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

PERP = "BTC-PERP"
MARK = 2**40  # the largest mark
SIZE = 2**22 - 1  # each fill's value SIZE x MARK is within 2^62 - 1
PRICE = MARK - MARK // 10  # within the 10 % band: each leg settles SIZE x MARK / 10 against the mark


def test_round_trips_whose_legs_sum_past_int64_commit_flat_not_a_clearing_error() -> None:
    """A buys ``2^22 − 1`` lots from B a tenth below the mark and sells them back at the same price, six times:
    every fill is valid, both accounts end flat with the cash they had (each round trip settles ``+x`` then
    ``−x``). The netting's guard summed the legs' absolute cash flows (``24 · 2^62 / 10 > 2^63``) and stopped
    the epoch with ``ClearingError('trade settlement: sum would overflow int64')`` — a sum no balance holds."""
    cfg = config(perp_spec(contract_multiplier=1))
    fills = [fill(f"f{k}", *(("A", "B") if k % 2 == 0 else ("B", "A")), SIZE, PRICE) for k in range(12)]
    inputs = epoch_inputs(1, {PERP: MARK}, fills, [deposit("A", 10**6), deposit("B", 10**6)], ["A", "B"])
    state, report = apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert not report.liquidations
    assert (state.cash_of("A"), state.cash_of("B")) == (10**6, 10**6)
    assert not state.positions.any()


def test_a_run_of_gains_past_the_bound_is_refused_on_a_fill_not_a_clearing_error() -> None:
    """A buys 7,000,000 lots a tenth below the mark ``2^39`` and sells them a tenth above it, seven times each, from
    and to fourteen accounts: flat at the end, each fill a gain of about ``3.85 · 10^17``, fourteen of them past
    ``2^62 − 1``. Refused naming one of A's fills (field ``size``), not the netting guard's ``ClearingError``."""
    cfg = config(perp_spec(contract_multiplier=1))
    mark, size = 2**39, 7_000_000
    fills = [fill(f"f{k}", "A", f"S{k}", size, mark - mark // 10) if k % 2 == 0
             else fill(f"f{k}", f"S{k}", "A", size, mark + mark // 10) for k in range(14)]
    inputs = epoch_inputs(1, {PERP: mark}, fills, [deposit("A", 10**6)], ["A", *(f"S{k}" for k in range(14))])
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert error.value.field == "size" and error.value.path == "<memory:fills>"
    assert "account 'A'" in str(error.value) and "2**62 - 1" in str(error.value)


def test_fees_past_the_amount_bound_are_refused_on_the_fee_that_crossed_it() -> None:
    """With a fee cap of 100 %, A and B each pay a fee equal to their fill's value (``≈ 2^62``): the fee account
    would hold ``≈ 2^63``. The engine stopped on ``ClearingError('fees of the epoch exceed the amount bound')``;
    the second fee, which takes the fee account past the bound, is refused by line and field."""
    cfg = config(perp_spec(contract_multiplier=1), fill_fee_cap_ppm=1_000_000)
    fee = SIZE * MARK
    fills = [fill("f1", "A", "B", SIZE, MARK, buyer_fee=fee), fill("f2", "A", "B", 1, MARK, seller_fee=1),
             fill("f3", "B", "A", SIZE, MARK, seller_fee=fee)]
    inputs = epoch_inputs(1, {PERP: MARK}, fills, [deposit("A", MAX_AMOUNT), deposit("B", MAX_AMOUNT)], ["A", "B"])
    with pytest.raises(InputError) as error:
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert (error.value.line, error.value.field) == (3, "seller_fee")
    assert f"{FEE_ACCOUNT!r}" in str(error.value) and "2**62 - 1" in str(error.value)



def test_a_fee_account_at_the_bound_refuses_the_funding_rate_whose_residue_would_pass_it() -> None:
    """A fee of exactly ``2^62 − 1`` (a fill worth that much, a 100 % cap) fills the fee account to the bound; the
    next epoch's funding at 7 ppm rounds one unit down into it. With the fee check above that was a ClearingError
    (before it, a refusal of the epoch's first mark, which has nothing to do with it); it names the funding rate,
    and a rate that leaves no residue commits."""
    size, price = 2**31 - 1, 3 * 715_827_883  # size x price = 2^62 - 1
    cfg = config(perp_spec(contract_multiplier=1), fill_fee_cap_ppm=1_000_000)
    first = epoch_inputs(1, {PERP: price}, [fill("f1", "A", "B", size, price, buyer_fee=MAX_AMOUNT),
                                            fill("f2", "C", "D", 1_000, price)],
                         [deposit(a, MAX_AMOUNT if a in "AB" else 10**15) for a in "ABCD"], list("ABCD"))
    state, _ = apply_epoch(EpochState.genesis(cfg), first, cfg)
    assert state.cash_of(FEE_ACCOUNT) == MAX_AMOUNT
    with pytest.raises(InputError) as error:
        apply_epoch(state, epoch_inputs(2, {PERP: (price + 12_345, 7)}), cfg)
    assert error.value.field == "funding_rate_ppm" and "past the amount bound" in str(error.value)
    after, report = apply_epoch(state, epoch_inputs(2, {PERP: (price + 12_345, 10_000)}), cfg)
    assert report.funding_residue == 0 and after.cash_of(FEE_ACCOUNT) == MAX_AMOUNT


@pytest.mark.parametrize("penalty_ppm", [10_000, 1_000_000])
def test_an_insurance_fund_at_the_bound_takes_the_penalty_that_fits_and_the_liquidation_happens(penalty_ppm) -> None:
    """The fund holds ``2^62 − 6``; A (long 10^6 lots at 1,000) falls below maintenance at 930. Its penalty (300,000
    or the whole equity) went to the fund through a transfer that would pass the bound, and the epoch stopped with
    ``ClearingError('a liquidation transfer would leave the amount bound 2**62 - 1')``: no liquidation could happen
    until the operator emptied the fund. The fund now takes the 5 units that fit; A is liquidated."""
    cfg = config(perp_spec(contract_multiplier=1), liquidation_penalty_ppm=penalty_ppm, liquidators=("L",))
    first = epoch_inputs(1, {PERP: 1_000}, [fill("f1", "A", "B", 10**6, 1_000)],
                         [deposit("A", 10**8), deposit("B", 10**12), deposit("L", 10**15),
                          deposit(INSURANCE_FUND, MAX_AMOUNT - 5)], ["A", "B", "L"])
    state, _ = apply_epoch(EpochState.genesis(cfg), first, cfg)
    state, report = apply_epoch(state, epoch_inputs(2, {PERP: 930}), cfg)
    (liquidation,) = report.liquidations
    assert liquidation.account == "A" and liquidation.penalty == 5 and liquidation.receiver == "L"
    assert state.cash_of(INSURANCE_FUND) == MAX_AMOUNT
    assert_invariants(state, report, cfg)


def test_a_backstop_surplus_returns_to_a_nearly_full_fund_what_fits() -> None:
    """No liquidator: A's 505,377 closed lots go to the backstop at 930, which the fund tops up; at 2,000 the
    backstop's surplus (about 5.1 · 10^8) exceeds what the fund holds short of the bound (about 3.2 · 10^8). Its
    return stopped the epoch with the same ClearingError; the fund takes what fits, the backstop keeps the rest."""
    cfg = config(perp_spec(contract_multiplier=1))
    first = epoch_inputs(1, {PERP: 1_000}, [fill("f1", "A", "B", 10**6, 1_000)],
                         [deposit("A", 10**8), deposit("B", 10**12), deposit(INSURANCE_FUND, MAX_AMOUNT - 3 * 10**8)],
                         ["A", "B"])
    state, _ = apply_epoch(EpochState.genesis(cfg), first, cfg)
    state, report = apply_epoch(state, epoch_inputs(2, {PERP: 930}), cfg)
    assert report.liquidations[0].receiver == BACKSTOP and report.backstop_topups[0].amount > 0
    room = MAX_AMOUNT - state.cash_of(INSURANCE_FUND)
    backstop = state.cash_of(BACKSTOP)
    state, report = apply_epoch(state, epoch_inputs(3, {PERP: 2_000}), cfg)
    assert [t.amount for t in report.backstop_topups] == [-room]
    assert state.cash_of(INSURANCE_FUND) == MAX_AMOUNT
    assert state.cash_of(BACKSTOP) == backstop + 505_377 * (2_000 - 930) - room
    assert_invariants(state, report, cfg)


def _fill_files(tmp_path, fills: list[str], fee_cap_ppm: int = 125_000):
    text = (f"fill_fee_cap_ppm = {fee_cap_ppm}\n\n[[instrument]]\nid = \"{PERP}\"\nkind = \"perpetual\"\n"
            "tick_size = 1\nlot_size = 1\ncontract_multiplier = 1\ninitial_margin_ppm = 100000\n"
            "maintenance_margin_ppm = 50000\n")
    cfg = load_config(write_files(tmp_path, {"zkclear.toml": text}) / "zkclear.toml")
    folder = write_files(tmp_path / "1", {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"{PERP},{MARK},0"),
        "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard"),
        "transfers.csv": csv("transfer_id,kind,account,amount", f"d1,deposit,A,{MAX_AMOUNT}",
                             f"d2,deposit,B,{MAX_AMOUNT}"),
        "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee", *fills)})
    return cfg, folder


@pytest.mark.parametrize("batch_fills", [1, 5])
def test_fills_read_in_batches_net_exactly_and_name_the_same_fee(tmp_path, batch_fills) -> None:
    """The exact sums start at the batch that passes int64, the refusals read the fills again batch by batch: the
    round trips commit the same state as in one batch, the fee past the bound is named by its line either way."""
    round_trips = [f"f{k},{'A,B' if k % 2 == 0 else 'B,A'},{PERP},{SIZE},{PRICE},0,0" for k in range(12)]
    cfg, folder = _fill_files(tmp_path, round_trips)
    scratch, fee_scratch = tmp_path / "scratch", tmp_path / "fee-scratch"  # one folder per epoch read in batches
    scratch.mkdir()
    fee_scratch.mkdir()
    whole = apply_epoch(EpochState.genesis(cfg), load_epoch(folder, 1, cfg), cfg)[0]
    batched = apply_epoch(EpochState.genesis(cfg), load_epoch(folder, 1, cfg, batch_fills=batch_fills,
                                                              scratch=scratch), cfg)[0]
    assert batched.canonical_bytes() == whole.canonical_bytes() and not batched.positions.any()
    fee = 10**18 - 1  # the most a file's fee column holds (18 digits): the fifth passes the bound
    fees = [f"f{k},{'A,B' if k % 2 else 'B,A'},{PERP},{SIZE},{MARK},{fee},0" for k in range(1, 5)]
    cfg, folder = _fill_files(tmp_path / "fees", [*fees, f"f5,A,B,{PERP},{SIZE},{MARK},0,{fee}"], fee_cap_ppm=PPM)
    batched_fees = load_epoch(folder, 1, cfg, batch_fills=batch_fills, scratch=fee_scratch)
    for inputs in (load_epoch(folder, 1, cfg), batched_fees):
        with pytest.raises(InputError) as error:
            apply_epoch(EpochState.genesis(cfg), inputs, cfg)
        assert error.value.path.endswith("fills.csv")
        assert (error.value.line, error.value.field) == (6, "seller_fee")

# -- property: a market's lifecycle, epoch after epoch --------------------------------------------------------------

TRADERS = ("A", "B", "C", "D")
AMOUNTS = (1, 10**6, 10**12, 2**60, MAX_AMOUNT)


@st.composite
def _market(draw) -> ClearingConfig:
    multiplier = draw(st.sampled_from([1, 10, 2**20]))
    perp = perp_spec(contract_multiplier=multiplier, maintenance_margin_ppm=draw(st.sampled_from([1, 50_000])))
    if draw(st.booleans()):  # tiered, continuous at the bound
        perp = dataclasses.replace(perp, margin_model="tiered", maintenance_margin_ppm=50_000,
                                   maintenance_tiers=(MarginTier(10**9, 50_000, 0),
                                                      MarginTier(MAX_AMOUNT, 100_000, 50_000_000)),
                                   initial_tiers=(MarginTier(MAX_AMOUNT, 100_000, 0),))
    dated = dataclasses.replace(dated_spec(draw(st.integers(1, 4))), contract_multiplier=multiplier)
    assets = (btc_asset(price_instrument=PERP),) if draw(st.booleans()) else ()
    oracle = None
    if draw(st.booleans()):
        oracle = OracleGuardConfig(min_sources=2, circuit_breaker_ppm=draw(st.sampled_from([50_000, 250_000])),
                                   pause_liquidations_on_breaker=draw(st.booleans()))
    return config(perp, dated, liquidators=("A",), deficit_resolution=draw(st.sampled_from(list(DeficitResolution))),
                  funding_clamp_ppm=draw(st.sampled_from([0, 10_000, PPM])), fill_fee_cap_ppm=PPM,
                  assets=assets, settlement_asset="USDC" if assets else "USD", oracle=oracle,
                  epoch_seconds=3600 if oracle else 0)


@st.composite
def _lifecycle_epoch(draw, cfg: ClearingConfig, epoch: int, marks: dict[str, int]) -> EpochInputs:
    live = [s.instrument_id for s in cfg.instruments if s.expiry_epoch is None or s.expiry_epoch >= epoch]
    for instrument in live:  # crashes and recoveries
        marks[instrument] = max(1, min(2**40, marks[instrument] * draw(st.sampled_from([1, 1, 3, 10]))
                                       // draw(st.sampled_from([1, 1, 3, 10]))))
    fills = []
    for k in range(draw(st.integers(0, 5))):
        buyer, seller = draw(st.permutations(TRADERS))[:2]
        instrument = draw(st.sampled_from(live))
        mark = marks[instrument]
        price = max(1, mark + draw(st.sampled_from([0, mark // 20, -(mark // 20)])))
        size = draw(st.sampled_from([1, 100, 2**20]))
        fee = min(MAX_AMOUNT, draw(st.sampled_from([0, 1, size * price * 10])))  # to the value: the 100 % cap
        fills.append(fill(f"f{epoch}-{k}", buyer, seller, size, price, instrument, fee, 0))
    transfers = [Transfer(f"t{epoch}-{k}", draw(st.sampled_from(["deposit", "withdrawal"])),
                          draw(st.sampled_from(TRADERS)), draw(st.sampled_from(AMOUNTS)),
                          asset=draw(st.sampled_from(["", "BTC"])) if cfg.assets else "")
                 for k in range(draw(st.integers(0, 3)))]
    if epoch == 1:
        transfers.append(deposit(INSURANCE_FUND, draw(st.sampled_from([1, 10**9, MAX_AMOUNT - 10**9])), "fund"))
    clamp = cfg.funding_clamp_ppm
    rate = draw(st.sampled_from([0, clamp, -clamp - 1, PPM])) if PERP in live else None
    actions = ()
    if draw(st.integers(0, 4)) == 0:
        actions = (OperatorAction(f"op{epoch}", "withdraw_fund", draw(st.sampled_from([FEE_ACCOUNT, INSURANCE_FUND])),
                                  draw(st.sampled_from([1, MAX_AMOUNT])), "property"),)
    inputs = epoch_inputs(epoch, {i: (marks[i], rate if i == PERP else None) for i in live}, fills, transfers,
                          TRADERS if epoch == 1 else ())
    inputs = dataclasses.replace(inputs, operator_actions=actions)
    if cfg.oracle is None:
        return inputs
    close = epoch * 3600
    quotes = tuple(OracleQuote(i, f"s{k}", marks[i], close) for i in live
                   for k in range(2 if epoch == 1 else draw(st.sampled_from([0, 1, 2, 2]))))
    return dataclasses.replace(inputs, marks=(), oracle_quotes=quotes,
                               funding_rates=(FundingRate(PERP, rate),) if rate is not None else ())


def _check_lifecycle_epoch(state: EpochState, report, cfg: ClearingConfig) -> None:
    """Conservation and bounds, nobody below maintenance but the paused-exempt accounts, every other account's
    statement satisfied (``assign_account``)."""
    if BACKSTOP in report.paused_accounts:  # the engine's invariant exempts a paused backstop, debt included
        assert sum(state.cash.tolist()) == state.total_deposited - state.total_withdrawn + state.total_converted
    else:
        assert_invariants(state, report, cfg)
    assert all(abs(c) <= MAX_AMOUNT for c in state.cash.tolist())
    public = PublicRiskData.from_epoch(report.risk, cfg.risk_models, scenario_table=report.risk.scenario_table,
                                       position_bits=cfg.statement_limits.position_bits)
    for row, account in enumerate(state.accounts):
        if account in report.paused_accounts:
            continue  # "Paused liquidations": a deployment that proves refuses to commit this epoch
        assign_account(account, AccountWitness(int(state.cash[row]), tuple(state.positions[row].tolist()),
                                               state.margin_modes[row], tuple(state.asset_balances[row].tolist())),
                       public)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_epoch_of_a_futures_market_is_refused_by_field_or_commits_conserved_and_provable(data) -> None:
    """Perpetual (linear or tiered) and a dated future that expires at its final price, 3-6 epochs of prices that
    crash and recover, fills off the mark with fees up to the fill's value, funding at and beyond the clamp,
    deposits and withdrawals up to the amount bound, an insurance fund nearly empty or nearly full, ADL or socialized
    loss, a collateral asset, the oracle guard's fallbacks and breaker, operator withdrawals: every epoch is refused
    by an InputError naming its file and field, or commits conserved, within the bounds, provable and reproducible,
    and the ledger replays the committed epochs byte for byte (the campaigns this condenses, over thousands of
    markets, found the defects above)."""
    cfg = data.draw(_market())
    marks = {PERP: data.draw(st.sampled_from([7, 60_000, 2**30])), DATED: data.draw(st.sampled_from([1, 60_000]))}
    state = EpochState.genesis(cfg)
    committed = []
    for _ in range(data.draw(st.integers(3, 6))):
        inputs = data.draw(_lifecycle_epoch(cfg, state.epoch + 1, marks))
        try:
            new_state, report = apply_epoch(state, inputs, cfg)
        except InputError as error:
            assert error.path and error.field, str(error)
            event(f"refused on {error.field}")
            continue
        _check_lifecycle_epoch(new_state, report, cfg)
        assert apply_epoch(state, inputs, cfg)[0].canonical_bytes() == new_state.canonical_bytes()
        event("committed")
        for what in ("liquidations", "adl", "socialized", "expired_instruments", "paused_accounts", "conversions"):
            if getattr(report, what):
                event(what)
        committed.append(inputs)
        state = new_state
    with tempfile.TemporaryDirectory() as scratch, Ledger(":memory:", cfg) as ledger:  # the ledger replays it
        for inputs in committed:
            ledger.commit(inputs, scratch=Path(scratch))
        assert ledger.verify_replay().canonical_bytes() == state.canonical_bytes()
