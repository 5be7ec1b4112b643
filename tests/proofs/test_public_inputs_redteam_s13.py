"""Red team session 13: the recomputation of an epoch's public inputs, tried as an operator that wants an epoch
checked alone (a participant's one receipt, an auditor's one folder) or epochs with a gap between them to pass with
inputs the published configuration does not imply. Each test fails on the code before the fix it names."""

from __future__ import annotations

import copy

import pytest

from tests.clearing.clearing_helpers import DATED, deposit, epoch_inputs, fill
from tests.clearing.collateral_helpers import CONFIG_TOML, PERP
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, Fills, FundingRate, OracleQuote
from zkclear.clearing.io import parse_config
from zkclear.clearing.state import EpochState
from zkclear.errors import VerificationError
from zkclear.proofs.recompute import (
    check_inputs_chain,
    check_public_inputs,
    first_difference,
    public_inputs_of_epoch,
    recompute,
)
from zkclear.verifier.public_inputs import PublicInputs

#: dynamic margins on, and a dated future expiring in epoch 2 (settled on its mark then, expired from epoch 3 on)
TOML = CONFIG_TOML.replace(
    "liquidation_buffer_ppm = 100000",
    'liquidation_buffer_ppm = 100000\ndynamic_margin = "ewma"\ndynamic_window = 3') + f"""
[[instrument]]
id = "{DATED}"
kind = "dated_future"
tick_size = 1
lot_size = 1
contract_multiplier = 1000
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
expiry_epoch = 2
"""


def _publish(toml: str, epochs) -> list[PublicInputs]:
    config = parse_config(toml, path="venue.toml")
    state, published = EpochState.genesis(config), []
    for inputs in epochs:
        published.append(public_inputs_of_epoch(toml, state, inputs, position_bits=32))
        state, _ = apply_epoch(state, inputs, config)
    return published


@pytest.fixture(scope="module")
def chain() -> list[PublicInputs]:
    """Three honest epochs: the dated future is live in 1 and 2 (its final settlement), expired in 3."""
    return _publish(TOML, [
        epoch_inputs(1, {PERP: (60_000, 100), DATED: 60_500},
                     fills=[fill("f1", "alice", "bob", 40, 60_000), fill("f2", "bob", "alice", 3, 60_500, DATED)],
                     transfers=[deposit("alice", 10**12), deposit("bob", 10**12)], opens=["alice", "bob"]),
        epoch_inputs(2, {PERP: (61_000, -200), DATED: 61_200}),
        epoch_inputs(3, {PERP: (59_500, 300)})])


def _forged(inputs: PublicInputs, change) -> PublicInputs:
    document = copy.deepcopy(inputs.document)
    change(document)
    return PublicInputs(document)


def _set_expired(name: str, expired: bool, price: int | None = None):
    def change(document: dict) -> None:
        for row in document["previous"]["instruments"]:
            if row[0] == name:
                row[3] = expired
                row[1] = row[1] if price is None else price
        if expired:  # an expired instrument takes no mark
            document["inputs"]["marks"] = [m for m in document["inputs"]["marks"] if m[0] != name]
    return change


def test_the_honest_chain_recomputes_with_the_expiry_carried(chain):
    for inputs in chain:
        recompute(inputs)
    assert [row[3] for row in chain[2].document["previous"]["instruments"]] == [False, True]
    assert chain[1].document["previous"]["dynamic_parameters"] != []


def test_a_live_future_published_as_expired_is_refused_in_an_epoch_checked_alone(chain):
    """Before: epoch 2 checked alone (no epoch 1 beside it: a participant's one receipt) recomputed with the dated
    future expired a epoch early, so it needed no mark and was valued and margined at a previous settlement price of
    the operator's choosing (here 1 tick instead of about 60,000); only the chain check with epoch 1 caught it."""
    forged = _forged(chain[1], _set_expired(DATED, True, price=1))
    with pytest.raises(VerificationError) as caught:
        recompute(forged)
    assert caught.value.reason == "public-inputs-invalid"
    assert f"{DATED} expired after epoch 1; its configuration makes it live (expiry epoch 2)" in caught.value.detail


def test_an_expired_future_published_as_live_is_refused_by_the_expiry_rule(chain):
    forged = _forged(chain[2], _set_expired(DATED, False))
    forged.document["inputs"]["marks"].append([DATED, 61_000, None])
    with pytest.raises(VerificationError) as caught:
        recompute(forged)
    assert caught.value.reason == "public-inputs-invalid"
    assert f"{DATED} live after epoch 2; its configuration makes it expired" in caught.value.detail


def test_dynamic_parameters_without_a_price_history_are_recomputed_too(chain):
    """Before: the published dynamic parameters were compared with the recomputation only when the price history
    was not empty, so an empty history carried any parameters (the engine's of an empty history: none)."""
    parameters = chain[1].document["previous"]["dynamic_parameters"]

    def change(document: dict) -> None:
        document["previous"]["price_history"] = []
        document["previous"]["dynamic_parameters"] = [[*parameters[0][:5], 900_000, 950_000, parameters[0][7]]]

    with pytest.raises(VerificationError) as caught:
        recompute(_forged(chain[1], change))
    assert caught.value.reason == "dynamic-parameters-mismatch" and "recomputed []" in caught.value.detail


def test_dynamic_parameters_with_dynamic_margin_off_are_refused(chain):
    toml = TOML.replace('dynamic_margin = "ewma"\ndynamic_window = 3\n', "")
    parameters = chain[1].document["previous"]["dynamic_parameters"]
    off = _publish(toml, [epoch_inputs(1, {PERP: (60_000, 100), DATED: 60_500}),
                          epoch_inputs(2, {PERP: (61_000, -200), DATED: 61_200})])[1]
    recompute(off)
    forged = _forged(off, lambda d: d["previous"].__setitem__("dynamic_parameters", parameters))
    with pytest.raises(VerificationError) as caught:
        recompute(forged)
    assert caught.value.reason == "public-inputs-invalid" and "dynamic margin off" in caught.value.detail


def test_another_configuration_across_a_gap_breaks_the_chain(chain):
    """Before: epochs 1 and 3 given together (2 left out) were not compared at all, though the configuration is
    fixed at init: epoch 3 could be proven under maintenance fractions 50 times lower."""
    lowered = _forged(chain[2], lambda d: d.__setitem__("config", d["config"].replace(
        "maintenance_margin_ppm = 50000", "maintenance_margin_ppm = 1000")))
    with pytest.raises(VerificationError) as caught:
        check_inputs_chain(chain[0], lowered)
    assert caught.value.reason == "epoch-chain-broken"
    assert "epoch 3's public inputs carry another configuration than epoch 1's" in caught.value.detail
    check_inputs_chain(chain[0], chain[2])  # the honest epochs across the gap: the same configuration
    # the state is compared with the epoch before only: across a gap, a previous state is not the earlier epoch's
    check_inputs_chain(chain[0], _forged(chain[2], lambda d: d["previous"]["instruments"][0].__setitem__(1, 1)))


def test_derived_values_of_another_json_type_or_with_a_key_left_out_are_a_difference():
    """Before: ``0 == False`` and an absent key read as null, so a derived oracle decision published with 0 for
    false, or without a key whose value is null, compared equal to the recomputation."""
    assert first_difference([{"paused": 0}], [{"paused": False}], "derived") == (
        "derived[0].paused: published 0, recomputed False")
    assert first_difference({"a": 1}, {"a": 1, "b": None}, "d") == "d.b: not published"
    assert first_difference({"a": 1, "b": None}, {"a": 1}, "d") == "d.b: published, not recomputed"
    assert first_difference([[1, True, "x", None]], [[1, True, "x", None]]) is None


def test_a_derived_oracle_decision_of_another_json_type_is_a_mismatch():
    """The same through the auditor's check, on an oracle-marked epoch: ``breaker_triggered`` published as 0."""
    toml = ("genesis_timestamp = 1767225600\nepoch_seconds = 86400\n" + CONFIG_TOML
            + "\n[oracle]\nmax_staleness_seconds = 600\nmin_sources = 2\n")
    config = parse_config(toml, path="venue.toml")
    now = config.valuation_timestamp(1)
    inputs = EpochInputs(epoch=1, fills=Fills.empty(), marks=(), funding_rates=(FundingRate(PERP, 0),),
                         oracle_quotes=(OracleQuote(PERP, "a", 60_000, now), OracleQuote(PERP, "b", 60_010, now)))
    honest = public_inputs_of_epoch(toml, EpochState.genesis(config), inputs, position_bits=32)
    public_data = check_public_inputs(honest, recompute(honest).public_data, epoch=1).public_data
    assert honest.derived["oracle_decisions"][0]["breaker_triggered"] is False
    forged = copy.deepcopy(honest.document)
    forged["derived"]["oracle_decisions"][0]["breaker_triggered"] = 0
    with pytest.raises(VerificationError) as caught:
        check_public_inputs(PublicInputs(forged), public_data, epoch=1)
    assert caught.value.reason == "public-inputs-mismatch"
    assert "derived.oracle_decisions[0].breaker_triggered: published 0, recomputed False" in caught.value.detail
