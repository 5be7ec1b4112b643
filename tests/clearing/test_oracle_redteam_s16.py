"""Red team session 16: the oracle guard and the public inputs it feeds.

- The guard's fallback is bounded when the deployment says so (below); quotes name configured sources when it lists
  them; a crash the circuit breaker clamps enters the dynamic-margin history at the market's prices.

An operator that publishes fewer quotes than ``min_sources`` marks an instrument at its last good price, pauses its
liquidations and holds back its exposed accounts' withdrawals — before, for as many epochs as it liked, also through
the instrument's expiry (its final settlement price). ``[oracle] max_fallback_epochs = N`` bounds the run: the
(N+1)th fallback in a row is refused by the engine, so by the recomputation of the public inputs too, which carry the
running count (format v3) and chain it from epoch to epoch.
"""

from __future__ import annotations

import copy

import pytest

from tests.clearing.collateral_helpers import PERP
from tests.cli.test_cli_oracle_bypass import ORACLE_TOML
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, Fills, FundingRate, OracleQuote
from zkclear.clearing.io import parse_config
from zkclear.clearing.ledger import config_canonical_bytes
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError, VerificationError
from zkclear.proofs.recompute import check_inputs_chain, public_inputs_of_epoch, recompute
from zkclear.verifier.public_inputs import FORMAT, FORMAT_V3, PublicInputs, decode_public_inputs

BOUND = 2
BOUNDED_TOML = ORACLE_TOML + f"max_fallback_epochs = {BOUND}\n"


def _epoch(config, epoch: int, price: int | None) -> EpochInputs:
    """Quoted by two sources at ``price`` (None: an outage, no quote)."""
    now = config.valuation_timestamp(epoch)
    quotes = () if price is None else (OracleQuote(PERP, "a", price, now), OracleQuote(PERP, "b", price, now))
    return EpochInputs(epoch=epoch, fills=Fills.empty(), marks=(), funding_rates=(FundingRate(PERP, 0),),
                       oracle_quotes=quotes)


def _run(toml: str, prices: list[int | None]) -> tuple[EpochState, list[PublicInputs]]:
    """Clear ``prices`` (one per epoch from epoch 1) and publish each epoch's public inputs."""
    config = parse_config(toml, path="venue.toml")
    state, published = EpochState.genesis(config), []
    for epoch, price in enumerate(prices, start=1):
        inputs = _epoch(config, epoch, price)
        published.append(public_inputs_of_epoch(toml, state, inputs, position_bits=32))
        state, _ = apply_epoch(state, inputs, config)
    return state, published


def test_a_fallback_beyond_the_configured_bound_is_refused_and_a_quoted_epoch_restarts_the_count():
    config = parse_config(BOUNDED_TOML, path="venue.toml")
    state, _ = _run(BOUNDED_TOML, [60_000, None, None])
    assert state.oracle_fallbacks == (BOUND,)
    assert b'"oracle_fallbacks":[2]' in state.canonical_bytes()
    assert EpochState.from_canonical_bytes(state.canonical_bytes()) == state
    with pytest.raises(InputError) as refused:
        apply_epoch(state, _epoch(config, 4, None), config)
    message = str(refused.value)
    assert f"{PERP} would be marked at its last good price (60000 ticks) 3 epochs running" in message
    assert "oracle.max_fallback_epochs" in message and "field 'price'" in message
    after, report = apply_epoch(state, _epoch(config, 4, 61_000), config)
    assert report.oracle_decisions[0]["status"] == "ok"
    assert after.oracle_fallbacks == () and b"oracle_fallbacks" not in after.canonical_bytes()


def test_the_auditor_recomputes_the_bound_and_chains_the_running_count():
    state, published = _run(BOUNDED_TOML, [60_000, None, None])
    assert all(inputs.document["format"] == FORMAT_V3 for inputs in published)
    assert published[2].document["previous"]["oracle_fallbacks"] == [[PERP, 1]]
    for before, after in zip([None, *published], published, strict=False):
        recompute(decode_public_inputs(after.to_bytes()))
        check_inputs_chain(before, after)
    # the operator's epoch 4 claims the outage once more: the recomputation refuses it as the engine does
    config = parse_config(BOUNDED_TOML, path="venue.toml")
    honest_next = public_inputs_of_epoch(BOUNDED_TOML, state, _epoch(config, 4, 61_000), position_bits=32)
    assert honest_next.document["previous"]["oracle_fallbacks"] == [[PERP, BOUND]]
    outage = copy.deepcopy(honest_next.document)
    outage["inputs"]["oracle_quotes"] = []
    with pytest.raises(VerificationError) as refused:
        recompute(PublicInputs(outage))
    assert refused.value.reason == "public-inputs-invalid" and "oracle.max_fallback_epochs" in refused.value.detail
    # ... and restarting the count in the previous state it publishes breaks the chain with epoch 3
    reset = copy.deepcopy(outage)
    reset["previous"]["oracle_fallbacks"] = []
    recompute(PublicInputs(reset))  # alone it recomputes: an epoch checked alone takes its previous state as given
    with pytest.raises(VerificationError) as broken:
        check_inputs_chain(published[2], PublicInputs(reset))
    assert broken.value.reason == "epoch-chain-broken" and "oracle_fallbacks" in broken.value.detail


@pytest.mark.parametrize("rows", [[[PERP, BOUND + 1]], [[PERP, 0]], [["ETH-PERP", 1]], [[PERP, 1], [PERP, 1]]])
def test_a_running_count_the_engine_would_not_keep_is_refused(rows):
    state, _ = _run(BOUNDED_TOML, [60_000, None, None, 61_000])
    config = parse_config(BOUNDED_TOML, path="venue.toml")
    document = copy.deepcopy(public_inputs_of_epoch(BOUNDED_TOML, state, _epoch(config, 5, 61_000),
                                                    position_bits=32).document)
    document["previous"]["oracle_fallbacks"] = rows
    with pytest.raises(VerificationError) as refused:
        recompute(PublicInputs(document))
    assert refused.value.reason == "public-inputs-invalid" and "oracle fallbacks" in refused.value.detail


def test_a_bounded_deployment_published_in_the_format_without_the_count_is_refused():
    """A v2 file has no running count: its epoch would restart it at 0 and fall back again for ever."""
    _, published = _run(BOUNDED_TOML, [60_000, None])
    document = copy.deepcopy(published[1].document)
    document["format"] = FORMAT
    del document["previous"]["oracle_fallbacks"]
    with pytest.raises(VerificationError) as refused:
        recompute(PublicInputs(document))
    assert refused.value.reason == "public-inputs-invalid" and FORMAT_V3 in refused.value.detail


def test_without_a_bound_the_configuration_state_and_public_inputs_keep_their_bytes():
    config = parse_config(ORACLE_TOML, path="venue.toml")
    assert config.max_fallback_epochs is None
    assert b"max_fallback_epochs" not in config_canonical_bytes(config)  # existing genesis hashes unchanged
    state, published = _run(ORACLE_TOML, [60_000, None, None, None])
    assert state.oracle_fallbacks == () and b"oracle_fallbacks" not in state.canonical_bytes()
    assert {inputs.document["format"] for inputs in published} == {FORMAT}
    assert "oracle_fallbacks" not in published[-1].document["previous"]


@pytest.mark.parametrize("value", ["-1", "true"])
def test_a_bad_bound_is_refused_by_file_line_and_field(value):
    with pytest.raises(InputError) as refused:
        parse_config(ORACLE_TOML + f"max_fallback_epochs = {value}\n", path="venue.toml")
    line = (ORACLE_TOML.count("\n") + 1)
    assert str(refused.value).startswith(f"venue.toml:{line}: field 'oracle.max_fallback_epochs'")


SOURCES_TOML = ORACLE_TOML + 'sources = ["exchange-a", "exchange-b", "exchange-c"]\n'


def _quotes(config, epoch: int, *quotes: tuple[str, int]) -> EpochInputs:
    now = config.valuation_timestamp(epoch)
    return EpochInputs(epoch=epoch, fills=Fills.empty(), marks=(), funding_rates=(FundingRate(PERP, 0),),
                       oracle_quotes=tuple(OracleQuote(PERP, source, price, now, "oracle.csv", line)
                                           for line, (source, price) in enumerate(quotes, start=2)))


def test_quotes_from_sources_the_configuration_does_not_name_are_refused():
    """Attack: two sources of the operator's own naming at 50,000 outvote the real one at 60,000 — the guard drops
    the real quote as the outlier and marks 50,000. With ``oracle.sources`` every quote names a configured feed."""
    config = parse_config(SOURCES_TOML, path="venue.toml")
    assert config.oracle.sources == ("exchange-a", "exchange-b", "exchange-c")
    state, _ = apply_epoch(EpochState.genesis(config),
                           _quotes(config, 1, ("exchange-a", 60_000), ("exchange-b", 60_000)), config)
    forged = _quotes(config, 2, ("exchange-a", 60_000), ("mine-1", 50_000), ("mine-2", 50_000))
    with pytest.raises(InputError) as refused:
        apply_epoch(state, forged, config)
    assert str(refused.value).startswith("oracle.csv:3: field 'source': source 'mine-1' is not one of the "
                                         "deployment's oracle sources (exchange-a, exchange-b, exchange-c")
    document = copy.deepcopy(public_inputs_of_epoch(SOURCES_TOML, state, _quotes(config, 2, ("exchange-a", 60_000)),
                                                    position_bits=32).document)
    document["inputs"]["oracle_quotes"] = [[PERP, source, price, config.valuation_timestamp(2)]
                                           for source, price in (("exchange-a", 60_000), ("mine-1", 50_000),
                                                                 ("mine-2", 50_000))]
    with pytest.raises(VerificationError) as invalid:
        recompute(PublicInputs(document))
    assert invalid.value.reason == "public-inputs-invalid" and "'mine-1'" in invalid.value.detail
    # without the key any name counts, as before: the same quotes mark 50,000
    open_config = parse_config(ORACLE_TOML, path="venue.toml")
    _, report = apply_epoch(state, forged, open_config)
    assert report.oracle_decisions[0]["mark_price_ticks"] == 50_000
    assert b'"sources"' not in config_canonical_bytes(open_config)
    assert b'"sources":["exchange-a","exchange-b","exchange-c"]' in config_canonical_bytes(config)


@pytest.mark.parametrize("value", ['["exchange-a"]', '["exchange-a", "exchange-a"]', '["bad name"]', '"exchange-a"'])
def test_bad_oracle_sources_are_refused_by_file_line_and_field(value):
    with pytest.raises(InputError) as refused:
        parse_config(ORACLE_TOML + f"sources = {value}\n", path="venue.toml")
    assert str(refused.value).startswith(f"venue.toml:{ORACLE_TOML.count(chr(10)) + 1}: field 'oracle.sources'")
