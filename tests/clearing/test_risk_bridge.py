"""Crash day with options through the clearing engine (futures-style options via the kind registry).

Three epochs one day apart, through the SQLite ledger: (1) 30 accounts trade a perpetual and five options at
their marks (Black-76 at forward 30,000 ticks, vol 60 %); (2) the underlying crashes 35 % to 19,500 — the
oracle's circuit breaker (25 %) clamps the perp mark to 22,500 and the options are re-marked on that forward
with vol 90 %; the engine liquidates and runs its waterfall; (3) the options expire and settle at 19,500
(intrinsic values, exact). The engine checks its own invariants each epoch; the tests re-check conservation
and the matched book, that futures-style settlement equals premium paid + payoff received, and that the
integration helpers (marks, oracle inputs, dynamic margins, price history, portfolio requirements) agree
with the engine's data.
"""

import dataclasses

import numpy as np
import pytest

from zkclear.clearing.config import INSURANCE_FUND, ClearingConfig
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import AccountOpen, EpochInputs, Fill, Fills, MarkPrice, Transfer
from zkclear.clearing.instruments import InstrumentSpec
from zkclear.clearing.ledger import Ledger
from zkclear.clearing.margin import DEFAULT_RISK_MODELS, MarginLevel, margin_requirements
from zkclear.clearing.risk_bridge import (
    OptionStandardRiskModel,
    kinds_with_options,
    mark_prices_from_oracle,
    option_mark_prices,
    price_history_from_ledger,
    requirements_with_portfolio_margin,
    scenario_table_for_engine,
    with_dynamic_margins,
)
from zkclear.clearing.state import EpochState
from zkclear.errors import ConfigurationError
from zkclear.risk.dynamic_params import DynamicRiskConfig, compute_risk_parameters
from zkclear.risk.options import (
    ImpliedVolatilityQuote,
    OptionSpec,
    OptionType,
    VolatilitySurface,
    expiry_payoff_per_lot,
    option_mark,
)
from zkclear.risk.oracle import OracleConfig, SourceQuote, decide_epoch_marks
from zkclear.risk.portfolio_margin import portfolio_margin_batch

DAY = 86_400
T1 = 1_700_000_000
EXPIRY = T1 + 2 * DAY
MULTIPLIER = 10
PERP = "BTC-PERP"
OPTIONS = [
    OptionSpec(f"BTC-{t.value[0].upper()}-{k}", "BTC", t, k, EXPIRY, MULTIPLIER)
    for t, k in (
        (OptionType.PUT, 27_000),
        (OptionType.PUT, 30_000),
        (OptionType.PUT, 33_000),
        (OptionType.CALL, 15_000),
        (OptionType.CALL, 33_000),
    )
]
USERS = [f"U{k:02d}" for k in range(30)]
LIQUIDATOR = "LIQ"


def surface(vol_ppm):
    return VolatilitySurface(
        # One quote per (underlying, expiry, strike): a call and a put of the same strike share it.
        tuple(
            ImpliedVolatilityQuote("BTC", EXPIRY, k, vol_ppm)
            for k in sorted({s.strike_ticks for s in OPTIONS})
        )
    )


def clearing_config():
    perp = InstrumentSpec(
        PERP,
        "perpetual",
        tick_size=1,
        lot_size=1,
        contract_multiplier=MULTIPLIER,
        initial_margin_ppm=100_000,
        maintenance_margin_ppm=50_000,
    )
    options = [
        InstrumentSpec(
            s.instrument_id,
            "option",
            tick_size=1,
            lot_size=1,
            contract_multiplier=MULTIPLIER,
            initial_margin_ppm=1_000_000,
            maintenance_margin_ppm=500_000,
            expiry_epoch=3,
        )
        for s in OPTIONS
    ]
    return ClearingConfig(instruments=(perp, *options), kinds=kinds_with_options(), liquidators=(LIQUIDATOR,))


def quotes(price, now):
    return {
        PERP: [
            SourceQuote(name, price + offset, now - 5) for name, offset in (("a", 0), ("b", 10), ("c", -10))
        ]
    }


@pytest.fixture(scope="module")
def epochs(tmp_path_factory):
    rng = np.random.default_rng(77)
    config = clearing_config()
    oracle = OracleConfig(circuit_breaker_ppm=250_000)
    decisions1 = decide_epoch_marks(quotes(30_000, T1), now=T1, epoch=1, previous={}, config=oracle)
    marks1 = {
        m.instrument: m.mark_price for m in option_mark_prices(OPTIONS, {"BTC": 30_000}, surface(600_000), T1)
    }
    fills, trades = [], []
    for k in range(150):
        # U00-U09 trade only options, small sizes (most survive: their cash checks the premium identity).
        option_only = k < 40
        buyer, seller = rng.choice(10 if option_only else len(USERS), size=2, replace=False)
        if option_only:
            instrument = list(marks1)[int(rng.integers(len(marks1)))]
        else:
            buyer, seller = buyer if buyer >= 10 else buyer + 10, seller if seller >= 10 else seller + 10
            if buyer == seller:
                continue
            instrument = [PERP, *marks1][int(rng.integers(1 + len(marks1)))]
        price = decisions1.marks[PERP] if instrument == PERP else marks1[instrument]
        size = int(rng.integers(1, 3 if option_only else 6))
        fills.append(Fill(f"f{k}", USERS[buyer], USERS[seller], instrument, size, price))
        trades.append((USERS[buyer], USERS[seller], instrument, size, price))
    inputs1 = EpochInputs(
        epoch=1,
        fills=Fills.from_records(fills),
        marks=(
            *mark_prices_from_oracle(decisions1, {PERP: 0}),
            *option_mark_prices(OPTIONS, {"BTC": 30_000}, surface(600_000), T1),
        ),
        transfers=tuple(
            Transfer(f"d-{a}", "deposit", a, 600_000 if a != LIQUIDATOR else 50_000_000)
            for a in [*USERS, LIQUIDATOR]
        ),
        opens=tuple(AccountOpen(a) for a in sorted([*USERS, LIQUIDATOR])),
    )
    decisions2 = decide_epoch_marks(
        quotes(19_500, T1 + DAY),
        now=T1 + DAY,
        epoch=2,
        previous={d.instrument_id: d for d in decisions1.decisions},
        config=oracle,
    )
    inputs2 = EpochInputs(
        epoch=2,
        fills=Fills.empty(),
        marks=(
            *mark_prices_from_oracle(decisions2, {PERP: 0}),
            *option_mark_prices(OPTIONS, {"BTC": decisions2.marks[PERP]}, surface(900_000), T1 + DAY),
        ),
    )
    decisions3 = decide_epoch_marks(
        quotes(19_500, EXPIRY),
        now=EXPIRY,
        epoch=3,
        previous={d.instrument_id: d for d in decisions2.decisions},
        config=oracle,
    )
    inputs3 = EpochInputs(
        epoch=3,
        fills=Fills.empty(),
        marks=(
            *mark_prices_from_oracle(decisions3, {PERP: 0}),
            *option_mark_prices(OPTIONS, {"BTC": decisions3.marks[PERP]}, surface(900_000), EXPIRY),
        ),
    )
    folder = tmp_path_factory.mktemp("ledger")
    with Ledger(folder / "ledger.sqlite", config, durable=False) as ledger:
        results = [ledger.commit(inputs, scratch=folder) for inputs in (inputs1, inputs2, inputs3)]
        history = price_history_from_ledger(ledger, [PERP, OPTIONS[0].instrument_id])
    return dict(
        config=config,
        results=results,
        trades=trades,
        decisions=(decisions1, decisions2, decisions3),
        history=history,
        inputs=(inputs1, inputs2, inputs3),
    )


def test_oracle_breaker_clamps_the_crash_and_the_expiry_catches_up(epochs):
    d1, d2, d3 = epochs["decisions"]
    assert d1.marks[PERP] == 30_000
    assert d2.marks[PERP] == 22_500 and d2.flagged == frozenset({PERP}) and not d2.liquidation_paused
    assert d3.marks[PERP] == 19_500 and not d3.flagged


def test_engine_keeps_its_invariants_through_the_crash_and_expiry(epochs):
    deposited = 30 * 600_000 + 50_000_000
    for result in epochs["results"]:
        state = result.state
        assert (state.positions.sum(axis=0) == 0).all()
        assert int(state.cash.sum()) == deposited == state.total_deposited
        assert int(result.report.settlement.sum()) == 0
    crash_report = epochs["results"][1].report
    assert crash_report.liquidations  # the crash forced liquidations (naked put sellers)
    final = epochs["results"][2]
    assert final.report.expired_instruments == tuple(s.instrument_id for s in OPTIONS)
    assert not final.state.positions[:, 1:].any()


def test_option_marks_are_black76_ticks_rounded_up_and_exact_at_expiry(epochs):
    marks = {m.instrument: m.mark_price for m in epochs["inputs"][0].marks}
    for spec in OPTIONS:
        assert marks[spec.instrument_id] == option_mark(spec, 30_000, 600_000, T1).mark_price_ticks
    expiry_marks = {m.instrument: m.mark_price for m in epochs["inputs"][2].marks}
    for spec in OPTIONS:
        assert expiry_marks[spec.instrument_id] * MULTIPLIER == expiry_payoff_per_lot(spec, 19_500)
    assert expiry_marks["BTC-C-33000"] == 0  # out of the money: the engine settles it at zero


def test_futures_style_settlement_equals_premium_plus_payoff(epochs):
    # For accounts that were never liquidated or deleveraged and traded only options: cash change over the
    # three epochs == sum over trades of q * (payoff - premium) * multiplier, the premium-style result.
    results = epochs["results"]
    touched = {e.account for r in results for e in r.report.liquidations}
    touched |= {e.counterparty for r in results for e in r.report.adl}
    touched |= {account for r in results for e in r.report.socialized for account, _ in e.charges}
    payoff = {s.instrument_id: expiry_payoff_per_lot(s, 19_500) for s in OPTIONS}
    flows: dict[str, int] = {}
    perp_traders = set()
    for buyer, seller, instrument, size, price in epochs["trades"]:
        if instrument == PERP:
            perp_traders |= {buyer, seller}
            continue
        value = size * (payoff[instrument] - price * MULTIPLIER)
        flows[buyer] = flows.get(buyer, 0) + value
        flows[seller] = flows.get(seller, 0) - value
    checked = 0
    final = results[2].state
    for account, expected in flows.items():
        if account in touched or account in perp_traders:
            continue
        assert final.cash_of(account) - 600_000 == expected
        checked += 1
    assert checked >= 5


def test_price_history_and_dynamic_margins_plug_into_the_engine(epochs):
    assert epochs["history"][PERP] == [30_000, 22_500, 19_500]
    history = {"BTC": [30_000 + 100 * (k % 7) for k in range(40)] + epochs["history"][PERP]}
    parameters = compute_risk_parameters(history, DynamicRiskConfig(), effective_epoch=4)
    dynamic = with_dynamic_margins(epochs["config"], parameters, {PERP: "BTC"})
    perp = dynamic.instruments[0]
    assert perp.maintenance_margin_ppm == parameters.for_underlying("BTC").maintenance_ppm > 50_000
    assert dynamic.instruments[1:] == epochs["config"].instruments[1:]  # options keep their configured rule
    # The dynamic configuration is a valid engine configuration: a later epoch runs on it.
    state = epochs["results"][2].state
    inputs4 = EpochInputs(epoch=4, fills=Fills.empty(), marks=(MarkPrice(PERP, 19_400, 0),))
    new_state, report = apply_epoch(state, inputs4, dynamic)
    assert int(new_state.cash.sum()) == new_state.total_deposited - new_state.total_withdrawn
    assert report.risk.instruments[0].maintenance_margin_ppm == perp.maintenance_margin_ppm


def test_portfolio_requirements_replace_only_portfolio_accounts(epochs):
    state = epochs["results"][0].state
    report = epochs["results"][0].report
    options = {s.instrument_id: (s, 30_000, 600_000) for s in OPTIONS}
    table = scenario_table_for_engine(report.risk, {PERP: "BTC"}, options, T1)
    assert table.instrument_ids == state.instruments
    modes = ["portfolio" if k % 2 else "standard" for k in range(len(state.accounts))]
    combined = requirements_with_portfolio_margin(
        state.positions, modes, report.risk, DEFAULT_RISK_MODELS, MarginLevel.MAINTENANCE, table
    )
    standard = margin_requirements(state.positions, report.risk, DEFAULT_RISK_MODELS, MarginLevel.MAINTENANCE)
    portfolio = portfolio_margin_batch(table, state.positions)
    for row, mode in enumerate(modes):
        expected = portfolio[row] if mode == "portfolio" else standard[row]
        assert combined[row] == expected
    # The insurance fund holds no positions: both models ask nothing of it.
    row = state.accounts.index(INSURANCE_FUND)
    assert combined[row] == 0


def test_integration_refuses_a_table_in_another_column_order(epochs):
    report = epochs["results"][0].report
    options = {s.instrument_id: (s, 30_000, 600_000) for s in OPTIONS}
    table = scenario_table_for_engine(report.risk, {PERP: "BTC"}, options, T1)
    shuffled = dataclasses.replace(report.risk, instruments=tuple(reversed(report.risk.instruments)))
    with pytest.raises(ConfigurationError, match="columns differ"):
        requirements_with_portfolio_margin(
            epochs["results"][0].state.positions,
            ["standard"] * 34,
            shuffled,
            DEFAULT_RISK_MODELS,
            MarginLevel.MAINTENANCE,
            table,
        )


def test_engine_table_counts_option_value_once_and_must_match_the_engine_marks(epochs):
    report = epochs["results"][0].report
    options = {s.instrument_id: (s, 30_000, 600_000) for s in OPTIONS}
    table = scenario_table_for_engine(report.risk, {PERP: "BTC"}, options, T1)
    # Futures-style: the option value is already in cash, so v_j = 0; the long charge is one tick's value.
    assert table.mark_values == (0,) * 6
    assert [c.long_per_lot for c in table.position_charges[1:]] == [MULTIPLIER] * 5
    wrong = {**options, OPTIONS[0].instrument_id: (OPTIONS[0], 30_000, 650_000)}
    with pytest.raises(ConfigurationError, match="option data gives mark"):
        scenario_table_for_engine(report.risk, {PERP: "BTC"}, wrong, T1)


def test_standard_option_model_plugs_into_the_engine_registry():
    # Options on the "option-standard" model: a short pays the exchange rule on the forward, a long its full
    # (futures-style, unpaid) value; the engine computes it through its RiskModel protocol.
    model = OptionStandardRiskModel.for_epoch(OPTIONS, {"BTC": 30_000})
    base = clearing_config()
    options = tuple(
        dataclasses.replace(
            spec, margin_model=model.name, initial_margin_ppm=150_000, maintenance_margin_ppm=100_000
        )
        for spec in base.instruments[1:]
    )
    config = dataclasses.replace(
        base, instruments=(base.instruments[0], *options), risk_models=DEFAULT_RISK_MODELS.with_model(model)
    )
    marks = option_mark_prices(OPTIONS, {"BTC": 30_000}, surface(600_000), T1)
    put_30k = {m.instrument: m.mark_price for m in marks}["BTC-P-30000"]
    inputs = EpochInputs(
        epoch=1,
        fills=Fills.from_records([Fill("f1", "A", "B", "BTC-P-30000", 3, put_30k)]),
        marks=(MarkPrice(PERP, 30_000, 0), *marks),
        transfers=(Transfer("da", "deposit", "A", 10_000_000), Transfer("db", "deposit", "B", 10_000_000)),
        opens=(AccountOpen("A"), AccountOpen("B")),
    )
    state, report = apply_epoch(EpochState.genesis(config), inputs, config)
    maintenance = margin_requirements(
        state.positions, report.risk, config.risk_models, MarginLevel.MAINTENANCE
    )
    long_row, short_row = state.accounts.index("A"), state.accounts.index("B")
    # Long 3 puts: their whole value, 3 * mark * M. Short 3 at-the-money puts: 10% of F = 3000 ticks per lot.
    assert int(maintenance[long_row]) == 3 * put_30k * MULTIPLIER
    assert int(maintenance[short_row]) == 3 * 3_000 * MULTIPLIER
    risk = report.risk.instruments[state.instruments.index("BTC-P-30000")]
    (form,) = model.forms(risk, MarginLevel.MAINTENANCE)
    assert (form.coefficient(3), form.coefficient(-3)) == (put_30k * MULTIPLIER, 3_000 * MULTIPLIER)
    initial = margin_requirements(state.positions, report.risk, config.risk_models, MarginLevel.INITIAL)
    assert int(initial[short_row]) == 3 * 4_500 * MULTIPLIER  # 15% of F
