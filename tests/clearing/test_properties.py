"""Property tests: invariants over random fill streams and price paths (hypothesis, modest example counts)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.clearing.clearing_helpers import (
    DATED,
    PERP,
    assert_invariants,
    config,
    dated_spec,
    deposit,
    epoch_inputs,
    fill,
    perp_spec,
    withdraw,
)
from zkclear.clearing.config import BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND, DeficitResolution
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.state import EpochState, canonical_json

EXPIRY = 3
PROPERTY_SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw):
    accounts = [f"U{k}" for k in range(draw(st.integers(2, 6)))]
    resolution = draw(st.sampled_from(list(DeficitResolution)))
    epochs = []
    marks = {PERP: draw(st.integers(500, 2000)), DATED: draw(st.integers(500, 2000))}
    for epoch in range(1, draw(st.integers(1, 5)) + 1):
        live = [PERP] + ([DATED] if epoch <= EXPIRY else [])
        for instrument in live:  # a price path with jumps of up to +-40 % per epoch
            marks[instrument] = max(1, marks[instrument] * draw(st.integers(60, 140)) // 100)
        fills = []
        for k in range(draw(st.integers(0, 10))):
            buyer, seller = draw(st.lists(st.sampled_from(accounts), min_size=2, max_size=2, unique=True))
            instrument = draw(st.sampled_from(live))
            # within the default 10 % price band around the mark (off-band fills are refused: test_market_integrity)
            spread = marks[instrument] // 20
            price = max(1, marks[instrument] + draw(st.integers(-spread, spread)))
            fills.append(fill(f"e{epoch}f{k}", buyer, seller, draw(st.integers(1, 40)), price, instrument,
                              draw(st.integers(0, 5)), draw(st.integers(0, 5))))
        transfers = []
        if epoch == 1:
            transfers = [deposit(a, draw(st.integers(1_000, 400_000)), f"d{a}") for a in accounts]
            transfers.append(deposit(INSURANCE_FUND, draw(st.integers(0, 50_000)) + 1, "fund"))
        for k in range(draw(st.integers(0, 2))):
            make = draw(st.sampled_from([deposit, withdraw]))
            transfers.append(make(draw(st.sampled_from(accounts)), draw(st.integers(1, 100_000)),
                                  f"t{epoch}.{k}"))
        mark_inputs = {PERP: (marks[PERP], draw(st.integers(-20_000, 20_000)))}
        if epoch <= EXPIRY:
            mark_inputs[DATED] = marks[DATED]
        epochs.append(epoch_inputs(epoch, mark_inputs, fills, transfers, accounts if epoch == 1 else ()))
    return config(perp_spec(), dated_spec(EXPIRY), liquidators=("U0",), deficit_resolution=resolution), epochs


def reference_cash(state: EpochState, inputs, report, cfg) -> dict[str, int]:
    """Cash after an epoch without liquidations, recomputed independently with Python ints: deposits, leg
    settlement q * (M - p) * mult, variation margin, floor-rounded funding, fees, backstop top-ups, accepted
    withdrawals."""
    cash = {a: state.cash_of(a) for a in state.accounts}
    for a in inputs.opens:
        cash[a.account] = 0
    marks = {m.instrument: m for m in inputs.marks}
    multiplier = {s.instrument_id: s.contract_multiplier for s in cfg.instruments}
    for t in inputs.transfers:
        if t.kind == "deposit":
            cash[t.account] += t.amount
    residue = 0
    for column, instrument in enumerate(state.instruments):
        if instrument not in marks:
            continue
        mark, previous = marks[instrument].mark_price, state.settlement_prices[column]
        rate = marks[instrument].funding_rate_ppm or 0
        rate = max(-cfg.funding_clamp_ppm, min(cfg.funding_clamp_ppm, rate))
        for row, account in enumerate(state.accounts):
            q = int(state.positions[row, column])
            cash[account] += q * (mark - previous) * multiplier[instrument] if previous else 0
            payment = (-q * rate * mark * multiplier[instrument]) // 1_000_000
            cash[account] += payment
            residue -= payment
    fills = inputs.fills
    for k in range(len(fills)):
        instrument = fills.instrument[k]
        mark = marks[instrument].mark_price
        flow = int(fills.size[k]) * (mark - int(fills.price[k])) * multiplier[instrument]
        cash[fills.buyer[k]] += flow - int(fills.buyer_fee[k])
        cash[fills.seller[k]] += -flow - int(fills.seller_fee[k])
        cash[FEE_ACCOUNT] += int(fills.buyer_fee[k]) + int(fills.seller_fee[k])
    cash[FEE_ACCOUNT] += residue
    for top_up in report.backstop_topups:  # the fund recapitalizing the backstop (negative: surplus back)
        cash[BACKSTOP] += top_up.amount
        cash[INSURANCE_FUND] -= top_up.amount
    for outcome in report.withdrawals:
        if outcome.accepted:
            cash[outcome.account] -= outcome.amount
    return cash


@PROPERTY_SETTINGS
@given(scenarios())
def test_invariants_hold_over_random_fill_streams_and_price_paths(scenario) -> None:
    """Every epoch: book matched, money conserved to the unit, settlement flows sum to zero, nobody left below
    maintenance, the fund and fee account never negative; the transition is deterministic; and when nothing
    was liquidated each balance equals an independent recomputation."""
    cfg, epochs = scenario
    state = EpochState.genesis(cfg)
    for inputs in epochs:
        new_state, report = apply_epoch(state, inputs, cfg)
        assert_invariants(new_state, report, cfg)
        again, report_again = apply_epoch(state, inputs, cfg)
        assert again.canonical_bytes() == new_state.canonical_bytes()
        assert canonical_json(report.to_canonical()) == canonical_json(report_again.to_canonical())
        if not report.liquidations:
            expected = reference_cash(state, inputs, report, cfg)
            assert {a: new_state.cash_of(a) for a in new_state.accounts} == expected
        for outcome in report.withdrawals:
            assert outcome.accepted or outcome.reason
        state = new_state
