"""Provable by construction (issue 12, item 2): every epoch the engine commits can be proven.

The statements' bounds are checked by the engine (``zkclear.clearing.provable``); an input that would break
one is refused naming its file, line and field; lots a liquidation moves go where they stay provable. The
property test runs random epochs through the engine and every committed account through the statement
builder's completeness check (``provers.collateral.assign_account``, what ``zkclear epoch prove`` runs first).
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import circuits.public_data as circuit_limits
from circuits.public_data import AccountWitness, PublicRiskData
from provers.collateral import assign_account
from tests.clearing.clearing_helpers import config, deposit, epoch_inputs, fill, perp_spec, run
from zkclear.clearing.config import PortfolioMarginConfig
from zkclear.clearing.engine import EpochReport, apply_epoch, option_equity_values
from zkclear.clearing.inputs import AccountOpen, Fill, Fills, MarkPrice
from zkclear.clearing.instruments import InstrumentSpec, MarginTier
from zkclear.clearing.ledger import Ledger, config_canonical_bytes
from zkclear.clearing.money import PPM
from zkclear.clearing.provable import (
    MAX_COEFFICIENT,
    MAX_LISTED_INSTRUMENTS,
    MAX_MARGIN_LINES,
    MAX_SCENARIOS,
    MONEY_BITS,
    POSITION_WIDTHS,
    ROUNDING_BITS,
    StatementLimits,
)
from zkclear.clearing.state import EpochState
from zkclear.errors import ClearingError, ConfigurationError, InputError, ProvingError

PERP = "BTC-PERP"


def _prove_all(state: EpochState, report: EpochReport, cfg) -> None:
    """What ``Deployment.prove`` checks before proving: every account satisfies its statement."""
    public = PublicRiskData.from_epoch(report.risk, cfg.risk_models, scenario_table=report.risk.scenario_table,
                                       equity_values=option_equity_values(cfg, report.risk),
                                       position_bits=cfg.statement_limits.position_bits)
    for account, mode, cash, row in zip(state.accounts, state.margin_modes, state.cash.tolist(),
                                        state.positions.tolist(), strict=True):
        assign_account(account, AccountWitness(int(cash), tuple(int(q) for q in row), mode), public)


def test_the_engine_states_the_circuits_bounds() -> None:
    assert POSITION_WIDTHS == circuit_limits.POSITION_WIDTHS
    assert MONEY_BITS == circuit_limits.MONEY_BITS
    assert MAX_LISTED_INSTRUMENTS == circuit_limits.MAX_LISTED_INSTRUMENTS
    assert MAX_MARGIN_LINES == circuit_limits.MAX_MARGIN_LINES
    assert MAX_SCENARIOS == circuit_limits.MAX_SCENARIOS
    assert MAX_COEFFICIENT == circuit_limits.MAX_COEFFICIENT
    assert ROUNDING_BITS == circuit_limits.ROUNDING_BITS


def test_a_fill_beyond_the_position_bound_is_refused_naming_the_fill_that_crossed_it() -> None:
    """Issue 12: fills up to 2^40 lots were accepted, but the statements bound positions at 2^31 (default
    ``position_bits = 32``), so the epoch committed and could never be proven. Now the second fill, which
    takes A from 2^30 to 2^31 + 4 lots, is refused."""
    cfg = config(perp_spec(contract_multiplier=1))
    inputs = epoch_inputs(1, {PERP: 1}, opens=["A", "B"],
                          transfers=[deposit("A", 10**18), deposit("B", 10**18)],
                          fills=[fill("f1", "A", "B", 2**30, 1), fill("f2", "A", "B", 2**30 + 4, 1)])
    with pytest.raises(InputError, match=r"^<memory:fills>:2: field 'size': account 'A' in 'BTC-PERP': a "
                                         r"position of 2147483652 lots exceeds the statements' bound "
                                         r"±2147483647") as caught:
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    assert "could not be proven" in str(caught.value)
    # Within the bound the same epoch commits and proves.
    fine = dataclasses.replace(inputs, fills=Fills.from_records([Fill("f1", "A", "B", PERP, 2**31 - 1, 1)]))
    state, report = apply_epoch(EpochState.genesis(cfg), fine, cfg)
    _prove_all(state, report, cfg)


def test_the_position_bound_follows_proving_position_bits() -> None:
    cfg = config(perp_spec(), statement_limits=StatementLimits(position_bits=8))
    with pytest.raises(InputError, match=r":3: field 'size': account 'A' .* 128 lots exceeds .* ±127"):
        run(cfg, epoch_inputs(1, {PERP: 100}, opens=["A", "B"], transfers=[deposit("A", 10**9), deposit("B", 10**9)],
                              fills=[fill("f1", "A", "B", 100, 100), fill("f2", "B", "A", 50, 100),
                                     fill("f3", "A", "B", 78, 100)]))
    state, (report,) = run(cfg, epoch_inputs(1, {PERP: 100}, opens=["A", "B"],
                                             transfers=[deposit("A", 10**9), deposit("B", 10**9)],
                                             fills=[fill("f1", "A", "B", 127, 100)]))
    _prove_all(state, report, cfg)


def test_a_fill_that_takes_an_accounts_notional_past_the_amount_bound_is_refused_naming_it() -> None:
    """Two instruments at 2^31 per lot: 2^30 lots of each is 2^62 > 2^62 − 1 in one account. Before, the
    engine stopped with a ClearingError naming no input; now the fill that completed it is named."""
    specs = [perp_spec(instrument_id=name, contract_multiplier=1) for name in ("I0", "I1")]
    cfg = config(*specs)
    inputs = epoch_inputs(1, {"I0": 2**31, "I1": 2**31}, opens=["A", "B", "C"],
                          transfers=[deposit(a, 2**61) for a in "ABC"],
                          fills=[fill("f1", "A", "B", 2**30, 2**31, "I0"), fill("f2", "A", "C", 3, 2**31, "I1"),
                                 fill("f3", "A", "C", 2**30, 2**31, "I1")])
    with pytest.raises(InputError, match=r"^<memory:fills>:3: field 'size': account 'A' in 'I1': the notional"):
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)


def test_a_mark_whose_lot_value_leaves_the_amount_bound_is_refused_not_a_traceback() -> None:
    """I1 (multiplier 2^32, nobody holds it) marked at 2^40 ticks: one lot is worth 2^72 units. Before, the
    variation margin's int64 product raised OverflowError, a traceback; now the mark is refused, named."""
    specs = (perp_spec(instrument_id="I0"), perp_spec(instrument_id="I1", contract_multiplier=2**32))
    cfg = config(*specs)
    state, _ = run(cfg, epoch_inputs(1, {"I0": 100, "I1": 1}, opens=["A", "B"],
                                     transfers=[deposit("A", 10**9), deposit("B", 10**9)],
                                     fills=[fill("f1", "A", "B", 1, 100, "I0")]))
    inputs = dataclasses.replace(epoch_inputs(2, {"I0": 100}), marks=(
        MarkPrice("I0", 100, 0, "prices.csv", 2), MarkPrice("I1", 2**40, 0, "prices.csv", 3)))
    with pytest.raises(InputError, match=r"^prices.csv:3: field 'mark_price': the value of one lot of 'I1' at "
                                         r"this mark, 1099511627776 x 4294967296, exceeds 2\*\*62 - 1"):
        apply_epoch(state, inputs, cfg)


def test_position_bits_is_part_of_the_ledger_configuration_only_when_not_the_default() -> None:
    default = config(perp_spec())
    assert b"position_bits" not in config_canonical_bytes(default)
    narrow = dataclasses.replace(default, statement_limits=StatementLimits(16))
    assert b'"position_bits":16' in config_canonical_bytes(narrow)
    with pytest.raises(ConfigurationError, match="position_bits must be one of"):
        StatementLimits(12)


def test_a_mark_that_makes_a_margin_line_too_wide_is_refused_on_the_mark() -> None:
    """The line coefficient of a linear instrument is ``mark · multiplier · fraction``; at 2^40 ticks,
    multiplier 2^20 and 10 % it is above 2^64 − 1, which the public data cannot carry."""
    cfg = config(perp_spec(contract_multiplier=2**20, initial_margin_ppm=200_000, maintenance_margin_ppm=100_000))
    inputs = epoch_inputs(1, {PERP: 2**40}, opens=["A"], transfers=[deposit("A", 5)])
    inputs = dataclasses.replace(inputs, marks=(MarkPrice(PERP, 2**40, 0, "venue/epoch-1/prices.csv", 2),))
    with pytest.raises(InputError, match=r"^venue/epoch-1/prices.csv:2: field 'mark_price': at this mark, "
                                         r"instrument 'BTC-PERP': a margin line coefficient .* outside"):
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)


MARK = 1_000_003  # odd and not a multiple of 5: the lines do not reduce, so D = 10^6


def _wide_tiers() -> InstrumentSpec:
    """Tiers 1 ppm and 999,999 ppm (deduction 999,998 = 10^6 · 999,998 / 10^6): in 1/D units, D = 10^6,
    the tier constraint ``m − L_0`` is about ``999,998 · notional``."""
    maintenance = (MarginTier(10**6, 1, 0), MarginTier(2**61, 999_999, 999_998))
    return InstrumentSpec(PERP, "perpetual", tick_size=1, lot_size=1, contract_multiplier=1,
                          initial_margin_ppm=999_999, maintenance_margin_ppm=1, margin_model="tiered",
                          maintenance_tiers=maintenance, initial_tiers=(MarginTier(2**61, 999_999, 0),))


def test_a_fill_that_makes_a_tier_constraint_too_wide_is_refused_naming_the_fill() -> None:
    """2^24 lots at 1,000,003 ticks: ``m − L_0 ≈ 999,998 · 1.68·10^13 < 2^64``; a second fill of 2^24 lots
    doubles it past 2^64, which the statement cannot prove (``tier[j,f] ∈ [0, 2^64)``): refused on that fill."""
    cfg = config(_wide_tiers())
    inputs = epoch_inputs(1, {PERP: MARK}, opens=["A", "B"],
                          transfers=[deposit("A", 2**60), deposit("B", 2**60)],
                          fills=[fill("f1", "A", "B", 2**24, MARK), fill("f2", "A", "B", 2**24, MARK)])
    with pytest.raises(InputError, match=r"^<memory:fills>:2: field 'size': account 'A' in 'BTC-PERP': its "
                                         r"margin tier constraint .* reaches 2\^64"):
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    first_only = dataclasses.replace(inputs, fills=Fills.from_records([Fill("f1", "A", "B", PERP, 2**24, MARK)]))
    state, report = apply_epoch(EpochState.genesis(cfg), first_only, cfg)
    _prove_all(state, report, cfg)


def test_the_statements_would_have_refused_what_the_engine_refuses() -> None:
    """The refusal above is not over-cautious: the account it refuses fails the statement builder's check."""
    cfg = config(_wide_tiers())
    _, report = apply_epoch(EpochState.genesis(cfg), epoch_inputs(
        1, {PERP: MARK}, opens=["A", "B"], transfers=[deposit("A", 2**60), deposit("B", 2**60)]), cfg)
    public = PublicRiskData.from_epoch(report.risk, cfg.risk_models)
    assign_account("A", AccountWitness(2**60, (2**24,), "standard"), public)
    with pytest.raises(ProvingError, match="tier"):
        assign_account("A", AccountWitness(2**60, (2**25,), "standard"), public)


def test_liquidated_lots_go_where_they_stay_provable_else_to_adl_at_the_mark() -> None:
    """position_bits 8 (|q| <= 127), perpetual 10 units per lot per tick, MM 5 %, penalty 1 %, buffer 10 %.
    Mark 1,000 -> 950: X (long 60, equity 40,000 - 30,000 = 10,000 < MM 28,500) must close 50 lots
    (10,000 - 95c >= 522.5 (60 - c) from c = 50); the liquidator LIQ already holds 120, so 170 would not be
    provable and the backstop (flat) takes them. Z (long 90, equity 46,000 - 45,000 = 1,000) is closed out
    in full; the backstop would hold 140 > 127, so the 90 lots are closed against the shorts at the mark."""
    cfg = config(perp_spec(), liquidators=("LIQ",), statement_limits=StatementLimits(8))
    shorts = [fill("f1", "LIQ", "S1", 120, 1_000), fill("f2", "X", "S2", 60, 1_000),
              fill("f3", "Z", "S3", 90, 1_000)]
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1_000}, opens=["LIQ", "S1", "S2", "S3", "X", "Z"], fills=shorts,
                                     transfers=[deposit("LIQ", 10**9), deposit("S1", 10**9), deposit("S2", 10**9),
                                                deposit("S3", 10**9), deposit("X", 40_000), deposit("Z", 46_000)]))
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 950}), state=state)
    by_account = {e.account: e for e in report.liquidations}
    assert (by_account["X"].action, by_account["X"].closed_lots, by_account["X"].receiver) == (
        "partial", (50,), "CH:backstop")
    assert (by_account["Z"].action, by_account["Z"].closed_lots, by_account["Z"].receiver) == ("full", (90,), "ADL")
    assert {(e.counterparty, e.cash) for e in report.adl if e.bankrupt_account == "Z"} <= {
        ("S1", 0), ("S2", 0), ("S3", 0)}
    assert state.position_of("LIQ", PERP) == 120
    assert max(abs(q) for q in state.positions[:, 0].tolist()) <= 127
    _prove_all(state, report, cfg)


# ---------------------------------------------------------------------------------------------
# Property: everything that commits proves.

ACCOUNTS = ("A", "B", "C", "D")


@st.composite
def _deployment(draw):
    count = draw(st.integers(1, 3))
    specs = []
    for k in range(count):
        multiplier = draw(st.sampled_from([1, 7, 10, 1_000, 2**20, 2**32]))
        maintenance = draw(st.sampled_from([1, 7, 333, 5_000, 50_000, 123_457, PPM]))
        fields = {"instrument_id": f"I{k}", "kind": "perpetual", "tick_size": 1, "lot_size": 1,
                  "contract_multiplier": multiplier, "maintenance_margin_ppm": maintenance,
                  "initial_margin_ppm": min(PPM, maintenance * draw(st.sampled_from([1, 2, 3])))}
        if draw(st.booleans()):
            fields |= {"kind": "dated_future", "expiry_epoch": draw(st.integers(2, 4))}
        if draw(st.integers(0, 3)) == 0:  # tiered, continuous: deduction = bound * (rate difference) / 1e6
            low, high = draw(st.sampled_from([(3, 7), (50_000, 100_000), (1, 999_999)]))
            bound = PPM * draw(st.sampled_from([1, 10**6, 2**30]))
            tiers = (MarginTier(bound, low, 0), MarginTier(2**62 - 1, high, bound * (high - low) // PPM))
            fields |= {"margin_model": "tiered", "maintenance_tiers": tiers,
                       "initial_tiers": (MarginTier(2**62 - 1, high, 0),), "maintenance_margin_ppm": low,
                       "initial_margin_ppm": high}
        fields["underlying"] = draw(st.sampled_from(["X", "Y"]))
        specs.append(InstrumentSpec(**fields))
    portfolio = PortfolioMarginConfig() if draw(st.booleans()) else None
    return config(*specs, portfolio_margin=portfolio, liquidators=("A",),
                  liquidation_penalty_ppm=draw(st.sampled_from([0, 10_000, 60_000])),
                  statement_limits=StatementLimits(draw(st.sampled_from([8, 16, 32]))))


@st.composite
def _epoch(draw, cfg, epoch: int, live: list[str]):
    marks = {}
    for spec in cfg.instruments:
        if spec.instrument_id in live:
            rate = 0 if spec.kind == "perpetual" else None
            marks[spec.instrument_id] = (draw(st.sampled_from([1, 3, 100, 10**4, 10**6, 2**30, 2**40])), rate)
    fills = []
    for k in range(draw(st.integers(0, 6))):
        buyer, seller = draw(st.permutations(ACCOUNTS))[:2]
        instrument = draw(st.sampled_from(live))
        mark = marks[instrument][0]
        size = draw(st.sampled_from([1, 5, 100, 127, 128, 3_000, 2**15, 2**20, 2**31 - 1, 2**31]))
        fills.append(fill(f"e{epoch}-{k}", buyer, seller, size, mark, instrument))
    transfers = [deposit(a, draw(st.sampled_from([10**3, 10**9, 10**15, 2**60])), f"d{epoch}-{a}")
                 for a in ACCOUNTS if draw(st.booleans())]
    modes = [draw(st.sampled_from(["standard", "portfolio"])) if cfg.portfolio_margin else "standard"
             for _ in ACCOUNTS]
    inputs = epoch_inputs(epoch, marks, fills=fills, transfers=transfers)
    if epoch == 1:
        inputs = dataclasses.replace(inputs, opens=tuple(AccountOpen(a, m) for a, m in zip(ACCOUNTS, modes,
                                                                                               strict=True)))
    return inputs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_epoch_that_commits_proves(data) -> None:
    cfg = data.draw(_deployment())
    state = EpochState.genesis(cfg)
    committed = 0
    for _ in range(3):
        epoch = state.epoch + 1  # a refused epoch is tried again with other inputs, as an operator would
        live = [spec.instrument_id for spec in cfg.instruments
                if spec.expiry_epoch is None or spec.expiry_epoch >= epoch]
        if not live:
            break
        inputs = data.draw(_epoch(cfg, epoch, live))
        try:
            new_state, report = apply_epoch(state, inputs, cfg)
        except InputError as exc:
            assert exc.path and exc.field, str(exc)  # every refusal names its file and field
            continue  # the operator fixes the file: the next epoch starts from the same state
        except ClearingError as exc:
            # The engine's own int64 guards (conservative over all accounts) may refuse an epoch; that is
            # not a commit. Nothing else may.
            assert "could exceed the bound" in str(exc) or "exceeds the bound" in str(exc), str(exc)
            continue
        _prove_all(new_state, report, cfg)
        state = new_state
        committed += 1
    event(f"epochs committed and proven: {committed}")


def test_a_committed_epoch_is_proven_through_the_ledger(tmp_path) -> None:
    """The same check through the SQLite ledger (what ``zkclear epoch run`` commits)."""
    cfg = config(perp_spec(), statement_limits=StatementLimits(8))
    with Ledger(":memory:", cfg) as ledger:
        result = ledger.commit(epoch_inputs(1, {PERP: 100}, opens=["A", "B"],
                                            transfers=[deposit("A", 10**6), deposit("B", 10**6)],
                                            fills=[fill("f1", "A", "B", 127, 100)]), scratch=tmp_path)
        _prove_all(result.state, result.report, cfg)
        with pytest.raises(InputError, match="field 'size'"):
            ledger.commit(epoch_inputs(2, {PERP: 100}, fills=[fill("f2", "A", "B", 1, 100)]), scratch=tmp_path)
        assert ledger.head()[0] == 1

