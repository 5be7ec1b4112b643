"""Red team session 14: what the engine accepted that no epoch's public inputs could carry.

Every epoch publishes ``epoch-N.inputs.json`` (its configuration verbatim, the previous state's price history, the
oracle's quotes), which a verifier reads as lists of at most 2^16 items and texts of at most 2^20 characters
(``zkclear.verifier.public_inputs``); the operator's ``epoch prove`` encodes it the same way. An epoch beyond those
bounds was committed and then could never be proven — nor, epochs being proven in order, any epoch after it:

- an ``oracle.csv`` of more than 2^16 quotes (a feed exported every second: each source many times);
- a ``dynamic_window`` above 2^16 (it went to 100,000): a time bomb, every epoch after the 65,537th unpublishable
  (45 days of one-minute epochs); and, with many underlying groups, a history past the file's 64 MiB;
- a configuration of more than 2^20 characters, which made every epoch unpublishable.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.cli.test_cli_oracle_bypass import ORACLE_TOML, _quoted
from zkclear.clearing.config import MAX_DYNAMIC_WINDOW, MAX_PRICE_HISTORY
from zkclear.clearing.engine import apply_epoch, dynamic_parameter_records
from zkclear.clearing.inputs import MAX_ORACLE_QUOTES, EpochInputs, Fills, FundingRate, MarkPrice, OracleQuote
from zkclear.clearing.io import MAX_CONFIG_CHARACTERS, parse_config
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError
from zkclear.proofs.recompute import public_inputs_of_epoch
from zkclear.verifier.public_inputs import MAX_ITEMS, MAX_TEXT, decode_public_inputs

PERP = "BTC-PERP"


def _instrument(instrument: str) -> str:
    return (f'[[instrument]]\nid = "{instrument}"\nkind = "perpetual"\ntick_size = 1\nlot_size = 1\n'
            "contract_multiplier = 10\ninitial_margin_ppm = 100000\nmaintenance_margin_ppm = 50000\n")


def _dynamic(window: int, instruments: int = 1) -> str:
    return (f'dynamic_margin = "ewma"\ndynamic_window = {window}\n'
            + "".join(_instrument(PERP if k == 0 else f"I{k}") for k in range(instruments)))


def test_the_bounds_are_the_verifiers():
    assert MAX_ORACLE_QUOTES == MAX_ITEMS and MAX_DYNAMIC_WINDOW == MAX_ITEMS and MAX_CONFIG_CHARACTERS == MAX_TEXT


def _quotes(epoch: int, config, count: int) -> EpochInputs:
    now = config.valuation_timestamp(epoch)
    return EpochInputs(epoch=epoch, fills=Fills.empty(), marks=(), funding_rates=(FundingRate(PERP, 0),),
                       oracle_quotes=tuple(OracleQuote(PERP, f"s{k}", 60_000 + k % 7, now, "e2/oracle.csv", k + 2)
                                           for k in range(count)))


def test_an_oracle_file_of_more_quotes_than_the_public_inputs_hold_is_refused_on_the_first_beyond():
    config = parse_config(ORACLE_TOML, path="venue.toml")
    state, _ = apply_epoch(EpochState.genesis(config), _quoted(config, 1, 60_000), config)
    with pytest.raises(InputError) as refused:
        apply_epoch(state, _quotes(2, config, MAX_ORACLE_QUOTES + 1), config)
    assert str(refused.value).startswith(f"e2/oracle.csv:{MAX_ORACLE_QUOTES + 2}: field 'instrument': more than "
                                         f"{MAX_ORACLE_QUOTES} quotes")
    # the most an epoch may hold clears, and its public inputs are published and read back
    full = _quotes(2, config, MAX_ORACLE_QUOTES)
    apply_epoch(state, full, config)
    published = public_inputs_of_epoch(ORACLE_TOML, state, full, position_bits=32)
    assert len(decode_public_inputs(published.to_bytes(), what="inputs").document["inputs"]["oracle_quotes"]) \
        == MAX_ORACLE_QUOTES


def test_a_dynamic_window_the_public_inputs_cannot_hold_is_refused_at_configuration():
    with pytest.raises(InputError) as refused:
        parse_config(_dynamic(MAX_DYNAMIC_WINDOW + 1), path="venue.toml")
    assert str(refused.value) == (f"venue.toml:2: field 'dynamic_window': dynamic_window must be an integer in "
                                  f"[2, {MAX_DYNAMIC_WINDOW}], got {MAX_DYNAMIC_WINDOW + 1}")
    groups = MAX_PRICE_HISTORY // MAX_DYNAMIC_WINDOW + 1  # 33 groups of a full window: past the history's budget
    with pytest.raises(InputError) as refused:
        parse_config(_dynamic(MAX_DYNAMIC_WINDOW, groups), path="venue.toml")
    assert f"field 'dynamic_window': dynamic_window must be at most {MAX_PRICE_HISTORY // groups}" in str(refused.value)
    parse_config(_dynamic(MAX_PRICE_HISTORY // groups, groups), path="venue.toml")


def test_the_longest_price_history_a_window_keeps_is_published_and_read_back():
    """The state the engine keeps after MAX_DYNAMIC_WINDOW epochs or more: a full window. Before, a window of
    100,000 let the history grow past what the public inputs hold, and that epoch and every later one could not be
    published."""
    text = _dynamic(MAX_DYNAMIC_WINDOW)
    config = parse_config(text, path="venue.toml")
    epoch = MAX_DYNAMIC_WINDOW + 5  # closed epochs; the window keeps the last MAX_DYNAMIC_WINDOW marks
    history = ((PERP, tuple(30_000 + k % 50 for k in range(MAX_DYNAMIC_WINDOW))),)
    state = dataclasses.replace(EpochState.genesis(config), epoch=epoch, settlement_prices=(30_000,),
                                price_history=history,
                                dynamic_parameters=dynamic_parameter_records(config, history, epoch + 1))
    inputs = EpochInputs(epoch=epoch + 1, fills=Fills.empty(), marks=(MarkPrice(PERP, 30_010, 0),))
    after, _ = apply_epoch(state, inputs, config)
    assert len(after.price_history[0][1]) == MAX_DYNAMIC_WINDOW
    published = public_inputs_of_epoch(text, state, inputs, position_bits=32)
    decoded = decode_public_inputs(published.to_bytes(), what="inputs").document
    assert len(decoded["previous"]["price_history"][0][1]) == MAX_DYNAMIC_WINDOW


def test_a_configuration_longer_than_the_public_inputs_hold_is_refused():
    text = ORACLE_TOML + "#" + "x" * MAX_CONFIG_CHARACTERS + "\n"
    with pytest.raises(InputError) as refused:
        parse_config(text, path="venue.toml")
    assert str(refused.value).startswith(f"venue.toml: {len(text)} characters, more than {MAX_CONFIG_CHARACTERS}")
    shorter = ORACLE_TOML + "#" * (MAX_CONFIG_CHARACTERS - len(ORACLE_TOML))  # the longest: published and read back
    config = parse_config(shorter, path="venue.toml")
    published = public_inputs_of_epoch(shorter, EpochState.genesis(config), _quoted(config, 1, 60_000),
                                       position_bits=32)
    assert decode_public_inputs(published.to_bytes(), what="inputs").document["config"] == shorter
