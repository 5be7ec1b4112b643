"""Red team session 14: an oracle outage does not feed the dynamic-margin estimator (docs/clearing.md "Dynamic
margin").

A fallback mark is the last good price repeated. Appended to the price history, every epoch of a claimed outage
was a zero return: EWMA's variance shrank by λ = 0.94 an epoch, and with it the dynamic margins (down to the
configured ones) — a lever for an operator that publishes too few quotes. The history now skips an epoch whose
group price is a fallback, and the chain of public inputs (which recomputes it with the engine) agrees.
"""

from __future__ import annotations

import itertools

from tests.clearing.collateral_helpers import PERP
from tests.cli.test_cli_oracle_bypass import ORACLE_TOML
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, Fills, FundingRate, OracleQuote
from zkclear.clearing.io import parse_config
from zkclear.clearing.state import EpochState
from zkclear.proofs.recompute import check_inputs_chain, public_inputs_of_epoch

TOML = ORACLE_TOML.replace("epoch_seconds = 86400\n", 'epoch_seconds = 86400\ndynamic_margin = "ewma"\n'
                                                       "dynamic_window = 40\n")
QUOTED = 22  # 21 returns of ±5 %: past the estimator's 20, so EWMA sets the margins
OUTAGE = 5


def _epoch(config, epoch: int, price: int | None) -> EpochInputs:
    """Quoted by two sources at ``price`` (None: an outage, no quote)."""
    now = config.valuation_timestamp(epoch)
    quotes = () if price is None else (OracleQuote(PERP, "a", price, now), OracleQuote(PERP, "b", price, now))
    return EpochInputs(epoch=epoch, fills=Fills.empty(), marks=(), funding_rates=(FundingRate(PERP, 0),),
                       oracle_quotes=quotes)


def test_an_outage_adds_nothing_to_the_price_history_and_leaves_the_dynamic_margins_where_they_were():
    config = parse_config(TOML, path="venue.toml")
    assert config.dynamic_margin == "ewma"
    state = EpochState.genesis(config)
    prices = [60_000 if epoch % 2 else 63_000 for epoch in range(1, QUOTED + 1)]
    published = []
    for epoch, price in enumerate([*prices, *[None] * OUTAGE], start=1):
        inputs = _epoch(config, epoch, price)
        published.append(public_inputs_of_epoch(TOML, state, inputs, position_bits=32))
        state, report = apply_epoch(state, inputs, config)
        if epoch == QUOTED:
            quoted = state
        if price is None:
            assert report.oracle_decisions[0]["status"] == "fallback"
    assert state.price_history == quoted.price_history == ((PERP, tuple(prices)),)
    # the same parameters, effective OUTAGE epochs later (before: the volatility shrank by sqrt(0.94) an epoch, and
    # the maintenance fraction with it)
    (group, effective, method, *values), = quoted.dynamic_parameters
    assert method == "ewma" and values[2] > 50_000  # above the configured maintenance fraction: it binds
    assert state.dynamic_parameters == ((group, effective + OUTAGE, method, *values),)
    # the auditor's chain recomputes the same history from the published inputs alone
    for before, after in itertools.pairwise(published):
        check_inputs_chain(before, after)
