"""Why a participant's cash changed: ``zkclear verify --history`` explains the change between consecutive verified
epochs by the variation margin and the funding of the positions carried in (the clearing engine's own rules on the
verified positions and the public inputs) and the rest (docs/protocol.md, "Participant verification").

The figures are checked against the ledger: the states' settlement prices and funding indices (formula by hand), and
the engine's own report of the epoch replayed without its fills (its settlement is then variation margin plus
funding, to the unit)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import numpy as np
import pytest

from tests.cli.cli_helpers import zkclear
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import Fills
from zkclear.errors import VerificationError
from zkclear.proofs.recompute import carried_cash_flows
from zkclear.verifier.participant import CASH_CHANGE_COLUMNS, HistoryRow, history_csv

PPM = 1_000_000


def _ledger_view(deployment):
    """Per epoch 0..3 the ledger's state, and per epoch 1..3 the engine's report of it replayed without fills."""
    with deployment.ledger() as ledger:
        states = [ledger.state(n) for n in range(4)]
        unfilled = {n: apply_epoch(states[n - 1], replace(ledger.inputs(n), fills=Fills.empty()), deployment.config)[1]
                    for n in (2, 3)}
    return states, unfilled


def _expected(states, unfilled, config, account: str, epoch: int) -> tuple[int, int, int]:
    """Variation margin, funding and the rest of account's cash change into ``epoch``, from the ledger alone."""
    before, after = states[epoch - 1], states[epoch]
    row = before.accounts.index(account)
    premium = set(config.premium_columns())
    vm = funding = 0
    for column, spec in enumerate(config.instruments):
        q = int(before.positions[row, column])
        if column in premium or before.expired[column]:
            continue
        # linear kinds: q * (mark - previous settlement) * multiplier; the mark is the new settlement price
        vm += q * (after.settlement_prices[column] - before.settlement_prices[column]) * spec.contract_multiplier
        delta = after.funding_indices[column] - before.funding_indices[column]
        funding += (-q * delta) // PPM  # floor: against the account
    report = unfilled[epoch]
    assert int(report.settlement[report.accounts.index(account)]) == vm + funding  # the engine's own figure
    cash = int(after.cash[after.accounts.index(account)]) - int(before.cash[row])
    return vm, funding, cash - vm - funding


def _args(deployment, account: str, epochs) -> list:
    args = ["verify", *(deployment.epoch_dir(n) for n in epochs)]
    for n in epochs:
        args += ["--receipt", deployment.receipt_path(n, account)]
    return [*args, "--account", account]


def _carriers(states, config) -> list[str]:
    """Traders that carry a perpetual and the dated future out of epoch 1 or 2 (funding and a future's variation
    margin both at work)."""
    columns = {spec.instrument_id: k for k, spec in enumerate(config.instruments)}
    perpetuals = [k for k, spec in enumerate(config.instruments) if spec.kind == "perpetual"]
    future = columns["BTC-FUT"]
    found = []
    for account in states[2].accounts:
        rows = [(state, state.accounts.index(account)) for state in states[1:3] if account in state.accounts]
        if account.startswith("trader-") and any(
                state.positions[row, future] and np.any(state.positions[row, perpetuals]) for state, row in rows):
            found.append(account)
    return found


def test_the_cash_change_is_the_engines_variation_margin_and_funding_to_the_unit(proven, tmp_path):
    deployment = proven["deployment"]
    config = deployment.config
    states, unfilled = _ledger_view(deployment)
    carriers = _carriers(states, config)
    assert len(carriers) >= 2, carriers
    any_funding = False
    out = zkclear(*_args(deployment, carriers[0], (1, 2, 3)), "--history")
    for account in carriers[:2]:
        csv_path = tmp_path / f"{account}.csv"
        document = json.loads(zkclear(*_args(deployment, account, (1, 2, 3)), "--history-csv", csv_path,
                                      "--json").splitlines()[-1])
        changes = {c["epoch"]: (c["variation_margin"], c["funding"], c["other"]) for c in document["cash_changes"]}
        rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
        assert rows[0][CASH_CHANGE_COLUMNS[0]] == ""  # nothing before epoch 1 is given
        for epoch in (2, 3):
            expected = _expected(states, unfilled, config, account, epoch)
            assert changes[epoch] == expected, (account, epoch)
            assert tuple(int(rows[epoch - 1][name]) for name in CASH_CHANGE_COLUMNS) == expected
            if account == carriers[0]:  # the text output says the same
                history_line = next(line.split() for line in out.splitlines() if line.split()[:1] == [str(epoch)])
                assert [int(v) for v in history_line[-3:]] == list(expected)
            any_funding |= expected[1] != 0
        assert set(changes) == {2, 3}
    assert any_funding  # the market's perpetuals paid funding on these positions


def test_no_explanation_across_a_gap(proven, tmp_path):
    deployment = proven["deployment"]
    states, _unfilled = _ledger_view(deployment)
    account = _carriers(states, deployment.config)[0]
    csv_path = tmp_path / "gap.csv"
    out = zkclear(*_args(deployment, account, (1, 3)), "--history", "--history-csv", csv_path)
    history = [line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["3"])]
    assert [line[-3:] for line in history] == [["-", "-", "-"]] * 2
    assert "not consecutive" in out
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert [[row[name] for name in CASH_CHANGE_COLUMNS] for row in rows] == [["", "", ""]] * 2
    document = json.loads(zkclear(*_args(deployment, account, (1, 3)), "--json").splitlines()[-1])
    assert document["cash_changes"] == []
    # epochs 2 and 3 alone: 3 is explained from 2's receipt
    document = json.loads(zkclear(*_args(deployment, account, (2, 3)), "--json").splitlines()[-1])
    assert [c["epoch"] for c in document["cash_changes"]] == [3]


@pytest.mark.parametrize("positions", [
    "missing",                                                 # an instrument left out
    "extra",                                                   # an instrument the configuration does not list
    "text",                                                    # a number that is not an integer
    "huge",                                                    # beyond the amount bound
    "bound",                                                   # within it, but worth more than it at the marks
])
def test_positions_the_engine_would_refuse_are_a_verification_error_not_a_crash(proven, positions):
    deployment = proven["deployment"]
    inputs = deployment.public_inputs(2)
    names = deployment.config.instrument_ids
    flat = dict.fromkeys(names, 0)
    built = {"missing": {names[0]: 1}, "extra": flat | {"XRP-PERP": 0}, "text": flat | {names[0]: "1"},
             "huge": flat | {names[0]: 2**63}, "bound": flat | {"BTC-PERP": 2**61}}[positions]
    with pytest.raises(VerificationError) as raised:
        carried_cash_flows(inputs, built)
    assert raised.value.reason == "public-inputs-invalid"
    assert carried_cash_flows(inputs, flat) == (0, 0)  # nothing carried, nothing paid


def test_the_pages_csv_keeps_its_columns():
    """The browser page has no clearing engine: its CSV (the core's default) has no cash-change columns."""
    row = HistoryRow(2, "ab" * 32, "standard", 5, (1,), 5, 0)
    assert history_csv([row], ["BTC-PERP"]).splitlines()[0].endswith("distance_to_maintenance")
    assert history_csv([row], ["BTC-PERP"], cash_change=True).splitlines()[1].endswith(",5,,,")
