"""Red team round 4: an epoch's public inputs must continue the previous epoch's (``check_inputs_chain``). Each
epoch's inputs recompute consistently on their own, so without this check an operator could prove an epoch under
a configuration, prices, funding indices or a price history (hence dynamic margins) of its choosing. And the
published price history is refused before any volatility is estimated from it unless the engine could have kept it."""

from __future__ import annotations

import copy
import itertools

import pytest

from tests.clearing.clearing_helpers import deposit, epoch_inputs, fill
from tests.clearing.collateral_helpers import CONFIG_TOML, PERP
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.io import parse_config
from zkclear.clearing.state import EpochState
from zkclear.errors import VerificationError
from zkclear.proofs.recompute import check_inputs_chain, public_inputs_of_epoch, recompute, state_after
from zkclear.verifier.public_inputs import PublicInputs

#: dynamic margins on, so that the price history and the dynamic parameters are carried over too
TOML = CONFIG_TOML.replace("liquidation_buffer_ppm = 100000",
                           'liquidation_buffer_ppm = 100000\ndynamic_margin = "ewma"\ndynamic_window = 3')


@pytest.fixture(scope="module")
def chain() -> list[PublicInputs]:
    """The public inputs of three honest epochs (marks moving, funding paid)."""
    config = parse_config(TOML, path="venue.toml")
    state = EpochState.genesis(config)
    epochs = [epoch_inputs(1, {PERP: (60_000, 100)}, fills=[fill("f1", "alice", "bob", 40, 60_000)],
                           transfers=[deposit("alice", 10**12), deposit("bob", 10**12)], opens=["alice", "bob"]),
              epoch_inputs(2, {PERP: (61_000, -200)}), epoch_inputs(3, {PERP: (59_500, 300)})]
    published = []
    for inputs in epochs:
        published.append(public_inputs_of_epoch(TOML, state, inputs, position_bits=32))
        state, _ = apply_epoch(state, inputs, config)
    return published


def _forged(inputs: PublicInputs, change) -> PublicInputs:
    document = copy.deepcopy(inputs.document)
    change(document)
    return PublicInputs(document)


def test_the_honest_chain_continues_from_genesis(chain):
    check_inputs_chain(None, chain[0])
    for before, after in itertools.pairwise(chain):
        check_inputs_chain(before, after)
        assert state_after(before) == after.document["previous"]
    assert chain[2].document["previous"]["price_history"] == [["BTC-PERP", [60_000, 61_000]]]
    check_inputs_chain(chain[0], chain[2])  # not consecutive: the headers' chain check names the gap


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d["previous"]["instruments"][0].__setitem__(1, 70_000), "previous.instruments[0][1]"),
    (lambda d: d["previous"]["instruments"][0].__setitem__(2, 0), "previous.instruments[0][2]"),
    (lambda d: d["previous"]["price_history"][0][1].__setitem__(0, 61_000), "previous.price_history[0][1][0]"),
    (lambda d: d["previous"]["dynamic_parameters"][0].__setitem__(5, 1_000), "previous.dynamic_parameters[0][5]"),
])
def test_a_forged_previous_state_breaks_the_chain(chain, change, where):
    with pytest.raises(VerificationError) as caught:
        check_inputs_chain(chain[1], _forged(chain[2], change))
    assert caught.value.reason == "epoch-chain-broken" and where in caught.value.detail
    assert "epoch 3's public inputs do not start from the state epoch 2's public inputs leave" in caught.value.detail


@pytest.mark.parametrize(("key", "value"), [
    ("config", TOML.replace("maintenance_margin_ppm = 50000", "maintenance_margin_ppm = 1000")),
    ("position_bits", 16),
])
def test_another_configuration_breaks_the_chain(chain, key, value):
    with pytest.raises(VerificationError) as caught:
        check_inputs_chain(chain[1], _forged(chain[2], lambda d: d.__setitem__(key, value)))
    assert caught.value.reason == "epoch-chain-broken" and "another configuration than epoch 2's" in caught.value.detail
    # the same configuration written differently (a comment, another order of keys) is the same configuration
    check_inputs_chain(chain[1], _forged(chain[2], lambda d: d.__setitem__("config", "# edited\n" + d["config"])))


def test_a_first_epoch_starts_from_the_genesis_state(chain):
    forged = _forged(chain[0], lambda d: d["previous"]["instruments"][0].__setitem__(1, 60_000))
    with pytest.raises(VerificationError) as caught:
        check_inputs_chain(None, forged)
    assert caught.value.reason == "epoch-chain-broken" and "the genesis state" in caught.value.detail
    check_inputs_chain(None, chain[1])  # a later epoch alone: its previous state is checked only with its predecessor


@pytest.mark.parametrize(("change", "what"), [
    (lambda d: d["previous"]["price_history"][0][1].append(60_500), "the longest 3 prices"),
    (lambda d: d["previous"]["price_history"].append(["ZZZ", [1, 2]]), "2 groups"),
    (lambda d: d["previous"]["price_history"].insert(0, d["previous"]["price_history"][0]), "2 groups"),
    (lambda d: d.__setitem__("config", d["config"].replace('dynamic_margin = "ewma"\n', "")), "groups none"),
])
def test_a_price_history_the_engine_never_keeps_is_refused_before_any_estimation(chain, change, what):
    """Red team round 4: recompute fitted GARCH on every published group before comparing anything (6 s per group
    of 65,536 prices; a 64 MiB inputs file held 340 of them: over half an hour of an auditor's time). The history
    may hold only the configuration's groups, in order, one price per closed epoch at most."""
    with pytest.raises(VerificationError) as caught:
        recompute(_forged(chain[2], change))
    assert caught.value.reason == "public-inputs-invalid" and what in caught.value.detail
    assert "is not one the configuration keeps after epoch 2" in caught.value.detail


@pytest.mark.parametrize("price", [-(1 << 63), (1 << 64) - 1])
def test_a_previous_price_the_engine_never_holds_is_refused_not_a_crash(chain, price):
    """Red team round 4: a previous settlement price of -2^63 passed the recomputation, and the engine's next close
    (``state_after``, the chain check) ended in an OverflowError (exit 3 at the command line)."""
    forged = _forged(chain[1], lambda d: d["previous"]["instruments"][0].__setitem__(1, price))
    for check in (recompute, state_after):
        with pytest.raises(VerificationError) as caught:
            check(forged)
        assert caught.value.reason == "public-inputs-invalid" and "settlement prices in [0," in caught.value.detail
