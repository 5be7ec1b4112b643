"""Differential test: the engine against an independent model of docs/clearing.md (reference_clearing_s15.py).

Random small markets (2–6 accounts, 1–3 perpetuals and dated futures, linear or tiered margin, a few epochs) with
edge values drawn on purpose: funding at and beyond the clamp, zero and negative funding, fees at the cap and one
above it, fills at the edges of the price band and one tick outside, withdrawals at the initial requirement to the
unit, operator fund withdrawals of exactly the balance. Each epoch runs through both; the engine must refuse what
the model refuses (same record), and otherwise agree on cash, positions, net deposits, the settlement vector, fees,
funding and its residue, expiries, liquidations and every withdrawal's outcome.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.clearing import reference_clearing_s15 as ref
from zkclear.clearing.config import ClearingConfig, DeficitResolution
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import (
    AccountOpen,
    EpochInputs,
    Fill,
    Fills,
    MarginOverride,
    MarkPrice,
    OperatorAction,
    Transfer,
)
from zkclear.clearing.instruments import InstrumentSpec, MarginTier
from zkclear.clearing.provable import StatementLimits
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

PPM = ref.PPM
EPOCHS = 4


# -- the same market for both ----------------------------------------------------------------------------------------

def engine_config(config: ref.Config) -> ClearingConfig:
    def tiers(table: tuple[ref.Tier, ...]) -> tuple[MarginTier, ...]:
        return tuple(MarginTier(t.notional_bound, t.rate_ppm, t.deduction) for t in table)

    specs = tuple(InstrumentSpec(i.instrument_id, i.kind, tick_size=1, lot_size=1, contract_multiplier=i.multiplier,
                                 initial_margin_ppm=i.initial_ppm, maintenance_margin_ppm=i.maintenance_ppm,
                                 margin_model="tiered" if i.tiered else "linear",
                                 initial_tiers=tiers(i.initial_tiers), maintenance_tiers=tiers(i.maintenance_tiers),
                                 expiry_epoch=i.expiry_epoch)
                  for i in config.instruments)
    return ClearingConfig(instruments=specs, liquidation_penalty_ppm=config.penalty_ppm,
                          deficit_resolution=DeficitResolution(config.deficit_resolution),
                          liquidation_buffer_ppm=config.buffer_ppm, funding_clamp_ppm=config.funding_clamp_ppm,
                          liquidators=config.liquidators, allow_self_trade=config.allow_self_trade,
                          statement_limits=StatementLimits(config.position_bits),
                          fill_price_band_ppm=config.fill_price_band_ppm,
                          fill_fee_cap_ppm=config.fill_fee_cap_ppm)


def engine_inputs(inputs: ref.Inputs) -> EpochInputs:
    return EpochInputs(
        epoch=inputs.epoch,
        fills=Fills.from_records([Fill(f.fill_id, f.buyer, f.seller, f.instrument, f.size, f.price, f.buyer_fee,
                                       f.seller_fee) for f in inputs.fills]),
        marks=tuple(MarkPrice(i, mark, rate) for i, (mark, rate) in inputs.marks.items()),
        transfers=tuple(Transfer(*t) for t in inputs.transfers),
        opens=tuple(AccountOpen(a) for a in inputs.opens),
        margin_overrides=tuple(MarginOverride(i, im, mm) for i, (im, mm) in inputs.margin_overrides.items()),
        operator_actions=tuple(OperatorAction(a, "withdraw_fund", account, amount, "test")
                               for a, account, amount in inputs.operator_actions))


# -- random markets ---------------------------------------------------------------------------------------------------

def tier_table(draw, scale: int) -> tuple[ref.Tier, ...]:
    """Convex, continuous: bounds increasing, rates non-decreasing, each deduction = previous + previous bound ×
    (rate − previous rate) / PPM, exact because bounds are multiples of 1,000 and rates of 1,000 ppm."""
    count = draw(st.integers(1, 3))
    bounds = sorted(set(draw(st.lists(st.integers(1, 400), min_size=count, max_size=count))))
    rates = sorted(draw(st.lists(st.integers(1, 100), min_size=len(bounds), max_size=len(bounds))))
    tiers, deduction = [], 0
    for k, (bound, rate) in enumerate(zip(bounds, rates, strict=True)):
        if k:
            deduction += bounds[k - 1] * 1_000 * (rate - rates[k - 1]) * 1_000 * scale // PPM
        tiers.append(ref.Tier(bound * 1_000, rate * 1_000 * scale, deduction))
    return tuple(tiers)


@st.composite
def instruments(draw, index: int) -> ref.Instrument:
    dated = draw(st.booleans())
    multiplier = draw(st.sampled_from([1, 3, 10, 100]))
    if draw(st.booleans()):
        maintenance = tier_table(draw, 1)
        initial = tuple(ref.Tier(t.notional_bound, 2 * t.rate_ppm, 2 * t.deduction) for t in maintenance)
        return ref.Instrument(f"I{index}", "dated_future" if dated else "perpetual", multiplier, 100_000, 50_000,
                              True, initial, maintenance, draw(st.integers(1, EPOCHS + 1)) if dated else None)
    maintenance_ppm = draw(st.sampled_from([1, 10_000, 50_000, 123_457, PPM]))
    initial_ppm = draw(st.sampled_from(sorted({maintenance_ppm, min(PPM, 2 * maintenance_ppm), PPM})))
    return ref.Instrument(f"I{index}", "dated_future" if dated else "perpetual", multiplier, initial_ppm,
                          maintenance_ppm, expiry_epoch=draw(st.integers(1, EPOCHS + 1)) if dated else None)


def edge_or(draw, edges: list[int], anything: st.SearchStrategy[int]) -> int:
    return draw(st.one_of(st.sampled_from(edges), anything))


@st.composite
def markets(draw):
    specs = tuple(draw(instruments(k)) for k in range(draw(st.integers(1, 3))))
    clamp = draw(st.sampled_from([0, 1, 10_000, 777_777, PPM]))
    users = [f"U{k}" for k in range(draw(st.integers(2, 6)))]
    config = ref.Config(specs, penalty_ppm=draw(st.sampled_from([0, 10_000, 50_000])),
                        buffer_ppm=draw(st.sampled_from([0, 100_000])), funding_clamp_ppm=clamp,
                        liquidators=tuple(users[:draw(st.integers(0, 2))]),
                        deficit_resolution=draw(st.sampled_from(["adl", "socialized_loss"])),
                        allow_self_trade=draw(st.booleans()), position_bits=draw(st.sampled_from([8, 32])))
    late = users[-1] if len(users) > 2 and draw(st.booleans()) else None  # opened in epoch 2
    # a calm, leveraged market (small moves, deposits of a few percent of the book) liquidates partially; a wild one
    # bankrupts and deleverages
    move = draw(st.sampled_from([2, 10, 30]))
    leverage = draw(st.booleans())
    state = ref.State.genesis(config)
    epochs = []
    marks = {i.instrument_id: draw(st.integers(1, 3_000)) for i in specs}
    for epoch in range(1, draw(st.integers(1, EPOCHS)) + 1):
        live = [i for i in specs if not state.expired[i.instrument_id]]
        opened = [a for a in users if a != late] if epoch == 1 else [late] if epoch == 2 and late else []
        traders = [a for a in users if a in state.cash or a in opened] + [ref.BACKSTOP]
        mark_inputs = {}
        for i in live:
            marks[i.instrument_id] = max(1, marks[i.instrument_id] * draw(st.integers(100 - move, 100 + move)) // 100)
            rate = edge_or(draw, [0, clamp, -clamp, clamp + 1, -clamp - 1, PPM, -PPM],
                           st.integers(-PPM, PPM)) if i.kind == "perpetual" else None
            mark_inputs[i.instrument_id] = (marks[i.instrument_id], None if rate is None else max(-PPM, min(PPM, rate)))
        fills = []
        for k in range(draw(st.integers(0, 8)) if live else 0):
            buyer, seller = draw(st.lists(st.sampled_from(traders), min_size=2, max_size=2, unique=True))
            if draw(st.integers(0, 99)) == 0:  # allowed only with allow_self_trade
                seller = buyer
            instrument = draw(st.sampled_from(live))
            column, multiplier = instrument.instrument_id, instrument.multiplier
            span = [marks[column]] + ([state.settlement_prices[column]] if state.settlement_prices[column] else [])
            width = ref.ceil_div(config.fill_price_band_ppm * max(span), PPM)
            lo, hi = max(1, min(span) - width), max(span) + width
            price = edge_or(draw, [lo, hi, hi + 1, max(1, lo - 1)] if draw(st.integers(0, 39)) == 0 else [lo, hi],
                            st.integers(lo, hi))
            size = draw(st.integers(1, 40 if config.position_bits > 8 else 75))
            cap = ref.ceil_div(config.fill_fee_cap_ppm * size * price * multiplier, PPM)
            edges = [0, cap] + ([cap + 1] if draw(st.integers(0, 39)) == 0 else [])
            fees = [edge_or(draw, edges, st.integers(0, min(cap, 50))) for _ in range(2)]
            fills.append(ref.FillRecord(f"e{epoch}f{k}", buyer, seller, column, size, price, *fees))
        transfers = []
        for account in opened:  # mostly enough for the book drawn, sometimes a few units
            amount = draw(st.one_of(st.integers(100_000, 3_000_000), st.integers(1, 100_000)))
            if leverage:  # 2 % to 20 % of what the account trades this epoch, at the mark
                traded = sum(f.size * marks[f.instrument] * next(i.multiplier for i in specs
                                                                  if i.instrument_id == f.instrument)
                             for f in fills if account in (f.buyer, f.seller))
                amount = max(1, traded * draw(st.integers(20_000, 200_000)) // PPM)
            transfers.append((f"d{account}", "deposit", account, amount))
        if epoch == 1:
            transfers.append(("fund", "deposit", ref.INSURANCE_FUND, draw(st.integers(1, 1_000_000))))
            if draw(st.booleans()):
                transfers.append(("backstop", "deposit", ref.BACKSTOP, draw(st.integers(1, 100_000))))
        holders = [a for a in traders if a != ref.BACKSTOP]
        for k in range(draw(st.integers(0, 2))):
            kind = draw(st.sampled_from(["deposit", "withdrawal"]))
            # now and then a withdrawal from a clearing-house account: refused (operator actions instead)
            owners = holders + ([ref.FEE_ACCOUNT] if kind == "withdrawal" and draw(st.integers(0, 29)) == 0 else [])
            transfers.append((f"t{epoch}.{k}", kind, draw(st.sampled_from(owners)), draw(st.integers(1, 200_000))))
        overrides = {}
        for i in live:  # now and then one for a tiered instrument: refused
            if draw(st.integers(0, 4)) == 0 and (not i.tiered or draw(st.integers(0, 99)) == 37):
                mm = draw(st.integers(1, PPM))
                overrides[i.instrument_id] = (draw(st.integers(mm, PPM)), mm)
        inputs = ref.Inputs(epoch, mark_inputs, tuple(fills), tuple(transfers), tuple(opened), overrides)
        try:
            trial, _ = ref.apply_epoch(state, inputs, config)
        except ref.Refused:
            epochs.append(inputs)
            break
        # Withdrawals and fund withdrawals at the boundary, computed on the model's state after the epoch: they come
        # last in input order, so nothing before them changes.
        extra, actions = [], []
        for k, account in enumerate(draw(st.lists(st.sampled_from(holders), max_size=2))):
            initial = ref.requirement(config, trial.positions[account], trial.settlement_prices, "initial", overrides)
            amount = trial.cash[account] - initial + draw(st.sampled_from([-1, 0, 0, 1]))
            if amount >= 1:
                extra.append((f"w{epoch}.{k}", "withdrawal", account, amount))
                trial.cash[account] -= amount if amount <= trial.cash[account] - initial else 0
        for k, account in enumerate(draw(st.lists(st.sampled_from([ref.FEE_ACCOUNT, ref.INSURANCE_FUND]),
                                                  max_size=1))):
            amount = trial.cash[account] + draw(st.sampled_from([-1, 0, 1]))
            if amount >= 1:
                actions.append((f"op{epoch}.{k}", account, amount))
        inputs = ref.Inputs(epoch, mark_inputs, tuple(fills), tuple(transfers) + tuple(extra), tuple(opened),
                            overrides, tuple(actions))
        epochs.append(inputs)
        state, _ = ref.apply_epoch(state, inputs, config)
    return config, epochs


# -- comparison -------------------------------------------------------------------------------------------------------

def assert_same_state(model: ref.State, engine: EpochState, config: ref.Config) -> None:
    assert engine.epoch == model.epoch
    assert list(engine.accounts) == sorted(model.cash)
    ids = [i.instrument_id for i in config.instruments]
    assert {a: engine.cash_of(a) for a in engine.accounts} == model.cash, "cash"
    assert dict(zip(engine.accounts, engine.net_deposits.tolist(), strict=True)) == model.net_deposits, \
        "net deposits"
    assert {a: dict(zip(ids, row, strict=True)) for a, row in zip(engine.accounts, engine.positions.tolist(),
                                                                  strict=True)} == model.positions, "positions"
    assert dict(zip(ids, engine.settlement_prices, strict=True)) == model.settlement_prices, "settlement prices"
    assert dict(zip(ids, engine.funding_indices, strict=True)) == model.funding_indices, "funding indices"
    assert dict(zip(ids, engine.expired, strict=True)) == model.expired, "expired"
    assert (engine.total_deposited, engine.total_withdrawn) == (model.total_deposited, model.total_withdrawn)


def assert_same_report(model: ref.Report, report, config: ref.Config) -> None:
    assert dict(zip(report.accounts, report.settlement.tolist(), strict=True)) == model.settlement, "settlement"
    assert report.fees_collected == model.fees_collected, "fees"
    assert [(f.instrument, f.requested_rate_ppm, f.applied_rate_ppm, f.index_delta, f.index)
            for f in report.funding] == model.funding, "funding"
    assert report.funding_residue == model.funding_residue, "funding residue"
    assert list(report.expired_instruments) == model.expired_instruments, "expiries"
    assert [(w.transfer_id, w.accepted) for w in report.withdrawals] == model.withdrawals, "withdrawals"
    assert all(w.reason for w in report.withdrawals if not w.accepted), "a refused withdrawal names its reason"
    assert [(a.action_id, a.accepted) for a in report.operator_actions] == model.operator_actions, "fund withdrawals"
    ids = [i.instrument_id for i in config.instruments]
    assert [(e.account, e.action, e.closed_lots, e.receiver, e.penalty, e.deficit, e.insurance_paid, e.residue,
             e.resolution) for e in report.liquidations] == [
        (e.account, e.action, tuple(e.closed_lots.get(i, 0) for i in ids), e.receiver, e.penalty, e.deficit,
         e.insurance_paid, e.residue, e.resolution) for e in model.liquidations], "liquidations"
    assert [t.amount for t in report.backstop_topups] == model.backstop_topups, "backstop top-ups"
    assert [(e.bankrupt_account, e.counterparty, e.instrument, e.lots, e.cash) for e in report.adl] == model.adl, "ADL"
    assert [(list(e.residues), e.insurance_paid, list(e.charges))
            for e in report.socialized] == model.socialized, "socialized"


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(markets())
def test_the_engine_clears_as_the_documentation_says(market):
    config, epochs = market
    engine_cfg = engine_config(config)
    model, engine = ref.State.genesis(config), EpochState.genesis(engine_cfg)
    for inputs in epochs:
        try:
            expected = ref.apply_epoch(model, inputs, config)
        except ref.Refused as refusal:
            event(f"refused: {refusal.file} {refusal.fields}")
            try:
                apply_epoch(engine, engine_inputs(inputs), engine_cfg)
            except InputError as error:
                assert error.field in refusal.fields, (str(error), refusal)
                if refusal.file == "fills":
                    assert error.line == refusal.index + 1, (str(error), refusal)
                return
            raise AssertionError(f"the engine accepted what the documentation refuses: {refusal}") from None
        engine, report = apply_epoch(engine, engine_inputs(inputs), engine_cfg)
        model, model_report = expected
        assert_same_state(model, engine, config)
        assert_same_report(model_report, report, config)
        event(f"liquidations: {sorted({e.action for e in model_report.liquidations})}")
        event(f"ADL: {bool(model_report.adl)}, socialized: {bool(model_report.socialized)}")
        event(f"a round socializing several residues: {any(len(r) > 1 for r, _, _ in model_report.socialized)}")
        event(f"funding residue: {bool(model_report.funding_residue)}")
        handed_to_adl = any(e.receiver == "ADL" and e.action in ("partial", "full") for e in model_report.liquidations)
        event(f"lots beyond every receiver's bound closed by ADL: {handed_to_adl}")
        event(f"withdrawals honoured: {sum(h for _, h in model_report.withdrawals)}")


def test_the_first_fill_with_a_fee_above_the_cap_is_named_whichever_side_pays_it():
    """Found by the differential test: the fee cap checked every buyer fee before any seller fee, so the second
    fill's buyer fee was named although the first fill's seller fee was already above its cap (docs/clearing.md:
    "the record is the first bad one in input order")."""
    config = ref.Config((ref.Instrument("I0", "perpetual", 1, 100_000, 50_000),))
    opens = ref.Inputs(1, {"I0": (1_000, 0)}, transfers=(("d0", "deposit", "U0", 10**6),
                                                         ("d1", "deposit", "U1", 10**6)), opens=("U0", "U1"))
    engine_cfg = engine_config(config)
    state, _ = apply_epoch(EpochState.genesis(engine_cfg), engine_inputs(opens), engine_cfg)
    cap = ref.ceil_div(config.fill_fee_cap_ppm * 1 * 1_000 * 1, PPM)  # 125: 12.5 % of one lot at 1,000 ticks
    fills = (ref.FillRecord("f1", "U0", "U1", "I0", 1, 1_000, seller_fee=cap + 1),
             ref.FillRecord("f2", "U0", "U1", "I0", 1, 1_000, buyer_fee=cap + 1))
    with pytest.raises(InputError, match=r"^<memory:fills>:1: field 'seller_fee': a fee of 126 exceeds"):
        apply_epoch(state, engine_inputs(ref.Inputs(2, {"I0": (1_000, 0)}, fills)), engine_cfg)


# -- rules the model had to ask for: now in docs/clearing.md, pinned by hand-worked cases ------------------------------

def _run(config: ref.Config, *epochs: ref.Inputs):
    engine_cfg = engine_config(config)
    state, reports = EpochState.genesis(engine_cfg), []
    for inputs in epochs:
        state, report = apply_epoch(state, engine_inputs(inputs), engine_cfg)
        reports.append(report)
    return state, reports


def test_a_deposit_to_the_backstop_is_in_the_insurance_fund_by_the_end_of_its_epoch():
    config = ref.Config((ref.Instrument("I0", "perpetual", 1, 100_000, 50_000),))
    state, (report,) = _run(config, ref.Inputs(1, {"I0": (100, 0)}, transfers=(
        ("f", "deposit", ref.INSURANCE_FUND, 1_000), ("b", "deposit", ref.BACKSTOP, 500))))
    assert (state.cash_of(ref.BACKSTOP), state.cash_of(ref.INSURANCE_FUND)) == (0, 1_500)
    assert [t.amount for t in report.backstop_topups] == [-500]


def test_an_operators_fund_withdrawal_lowers_the_funds_net_deposits():
    config = ref.Config((ref.Instrument("I0", "perpetual", 1, 100_000, 50_000),))
    state, _ = _run(config, ref.Inputs(1, {"I0": (100, 0)}, transfers=(("f", "deposit", ref.INSURANCE_FUND, 1_000),),
                                       operator_actions=(("op", ref.INSURANCE_FUND, 400),)))
    row = state.row(ref.INSURANCE_FUND)
    assert (state.cash_of(ref.INSURANCE_FUND), int(state.net_deposits[row]), state.total_withdrawn) == (600, 600, 400)


def test_the_adl_rank_is_taken_at_each_instruments_turn():
    """The backstop, short 1 I0 and long 1 I1 after buying I1 at 2 against a mark of 1, is deleveraged whole. U2
    (long I0, short I1; notional 2) outranks U1 (short I1; notional 1) at the start, so it takes the I0 lot; then,
    flat in I0, its notional is 1 like U1's, the tie goes to the id, and U1 takes the I1 lot."""
    config = ref.Config((ref.Instrument("I0", "dated_future", 1, 2_000, 1_000, expiry_epoch=5),
                         ref.Instrument("I1", "perpetual", 1, 2_000, 1_000)), buffer_ppm=0, penalty_ppm=0)
    fills = (ref.FillRecord("f0", "U0", "U1", "I1", 1, 2), ref.FillRecord("f1", "U2", ref.BACKSTOP, "I0", 1, 1),
             ref.FillRecord("f2", ref.BACKSTOP, "U2", "I1", 1, 2))
    deposits = tuple((f"d{a}", "deposit", a, 100_000) for a in ("U0", "U1", "U2"))
    _, (report,) = _run(config, ref.Inputs(1, {"I0": (1, None), "I1": (1, 0)}, fills,
                                           (*deposits, ("f", "deposit", ref.INSURANCE_FUND, 1)), ("U0", "U1", "U2")))
    assert [(e.counterparty, e.instrument, e.lots) for e in report.adl] == [("U2", "I0", 1), ("U1", "I1", 1)]
    assert [e.action for e in report.liquidations] == ["backstop_deleverage"]


def test_lots_no_receiver_can_hold_within_the_bound_are_closed_by_adl_at_the_mark():
    """Position width 8 bits (±127 lots). U1, long 51 after a 13-unit fee, is 8 below maintenance (247 < 255); the
    smallest restoring close-out is 8 lots (247 − 8 ≥ ⌈1.1 · 215⌉ = 237 fails at 7: 240 < 242). The backstop, long
    125, would hold 133: the 8 lots are closed at the mark against the shorts, in ADL rank order, and the backstop
    keeps its 125."""
    config = ref.Config((ref.Instrument("I0", "perpetual", 1, 100_000, 50_000),), position_bits=8)
    first = ref.Inputs(1, {"I0": (100, 0)}, (ref.FillRecord("f1", ref.BACKSTOP, "U0", "I0", 125, 100),
                                              ref.FillRecord("f2", "U1", "U2", "I0", 50, 100)),
                       (("d0", "deposit", "U0", 100_000), ("d1", "deposit", "U1", 260),
                        ("d2", "deposit", "U2", 100_000), ("db", "deposit", ref.BACKSTOP, 1_000)), ("U0", "U1", "U2"))
    second = ref.Inputs(2, {"I0": (100, 0)}, (ref.FillRecord("f3", "U1", "U2", "I0", 1, 100, buyer_fee=13),))
    state, reports = _run(config, first, second)
    (event,) = reports[1].liquidations
    assert (event.account, event.action, event.closed_lots, event.receiver, event.penalty) == (
        "U1", "partial", (8,), "ADL", 8)
    assert sum(e.lots for e in reports[1].adl) == 8 and all(e.cash == 0 for e in reports[1].adl)
    assert state.position_of(ref.BACKSTOP, "I0") == 125 and state.position_of("U1", "I0") == 43
    model, expected = ref.State.genesis(config), None
    for inputs in (first, second):
        model, expected = ref.apply_epoch(model, inputs, config)
    assert [(e.counterparty, e.lots) for e in reports[1].adl] == [(c, lots) for _, c, _, lots, _ in expected.adl]
