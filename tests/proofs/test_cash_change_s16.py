"""``carried_cash_flows``: the variation margin and funding the clearing engine pays on positions carried into an
epoch, recomputed from the epoch's public inputs alone, against the engine's own report — through a dated future's
final settlement and expiry, with a funding rate beyond the clamp (no proving: the engine and the public inputs)."""

from __future__ import annotations

from tests.clearing.clearing_helpers import DATED, deposit, epoch_inputs, fill
from tests.clearing.collateral_helpers import PERP
from tests.proofs.test_public_inputs_redteam_s13 import TOML as DATED_TOML
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.io import parse_config
from zkclear.clearing.state import EpochState
from zkclear.proofs.recompute import carried_cash_flows, public_inputs_of_epoch

CLAMP = 250
#: a perpetual and a dated future expiring in epoch 2 (the red team's venue of session 13), funding clamped
TOML = DATED_TOML.replace("liquidation_buffer_ppm = 100000",
                          f"liquidation_buffer_ppm = 100000\nfunding_clamp_ppm = {CLAMP}", 1)
MULTIPLIER = 1000  # both instruments


def test_carried_flows_are_the_engines_through_expiry_and_the_clamp():
    config = parse_config(TOML, path="venue.toml")
    epochs = [
        epoch_inputs(1, {PERP: (60_000, 100), DATED: 60_500},
                     fills=[fill("f1", "alice", "bob", 40, 60_000), fill("f2", "bob", "alice", 3, 60_500, DATED)],
                     transfers=[deposit("alice", 10**12), deposit("bob", 10**12)], opens=["alice", "bob"]),
        epoch_inputs(2, {PERP: (61_000, -200), DATED: 61_200}),   # the future's final settlement
        epoch_inputs(3, {PERP: (59_500, 300)}),                   # expired; the rate clamped to 250 ppm
    ]
    states, reports, published = [EpochState.genesis(config)], [None], [None]
    for inputs in epochs:
        published.append(public_inputs_of_epoch(TOML, states[-1], inputs, position_bits=32))
        state, report = apply_epoch(states[-1], inputs, config)
        states.append(state)
        reports.append(report)
    marks = {2: {PERP: 61_000, DATED: 61_200}, 3: {PERP: 59_500}}
    rates = {2: -200, 3: CLAMP}
    previous = {2: {PERP: 60_000, DATED: 60_500}, 3: {PERP: 61_000}}
    seen_dated = False
    for epoch in (2, 3):
        before, after, report = states[epoch - 1], states[epoch], reports[epoch]
        for account in ("alice", "bob"):
            row = before.accounts.index(account)
            positions = dict(zip(before.instruments, (int(q) for q in before.positions[row]), strict=True))
            vm = sum(positions[i] * (marks[epoch][i] - previous[epoch][i]) * MULTIPLIER for i in marks[epoch])
            funding = (-positions[PERP] * rates[epoch] * marks[epoch][PERP] * MULTIPLIER) // 1_000_000
            assert carried_cash_flows(published[epoch], positions) == (vm, funding)
            # no fills, transfers or liquidations in epochs 2 and 3: the engine's settlement and the cash change
            settled = int(report.settlement[report.accounts.index(account)])
            assert settled == vm + funding == int(after.cash[after.accounts.index(account)]) - int(before.cash[row])
            assert vm and funding
            seen_dated |= epoch == 2 and positions[DATED] != 0
        assert after.expired == (False, True)
    assert seen_dated
    dated = states[2].instruments.index(DATED)
    assert not states[2].positions[:, dated].any()  # the future closed at expiry: nothing carried into epoch 3
