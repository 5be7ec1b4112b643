"""A deployment with an ``[oracle]`` guard is marked through it in every epoch (red team session 13: a price file
set the marks past the guard — its sources, staleness, outlier and circuit-breaker rules — and the audit
recomputed the epoch from that file as given, so half-price marks passed)."""

from __future__ import annotations

import copy

import pytest

from tests.clearing.collateral_helpers import CONFIG_TOML, PERP
from tests.clearing.options_helpers import csv, write_files
from tests.cli.cli_helpers import zkclear, zkclear_status
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import EpochInputs, Fills, FundingRate, MarkPrice, OracleQuote
from zkclear.clearing.io import parse_config
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError, VerificationError
from zkclear.proofs.recompute import public_inputs_of_epoch, recompute
from zkclear.verifier.public_inputs import PublicInputs

ORACLE_TOML = ("genesis_timestamp = 1767225600\nepoch_seconds = 86400\n" + CONFIG_TOML
               + "\n[oracle]\nmax_staleness_seconds = 600\nmin_sources = 2\ncircuit_breaker_ppm = 200000\n")
MESSAGE = "the deployment marks through its [oracle] guard: give the epoch's quotes in oracle.csv, not mark prices"


def _quoted(config, epoch: int, price: int) -> EpochInputs:
    now = config.valuation_timestamp(epoch)
    return EpochInputs(epoch=epoch, fills=Fills.empty(), marks=(), funding_rates=(FundingRate(PERP, 0),),
                       oracle_quotes=(OracleQuote(PERP, "a", price, now), OracleQuote(PERP, "b", price + 10, now)))


def test_mark_prices_on_an_oracle_deployment_are_refused_on_the_first_mark():
    config = parse_config(ORACLE_TOML, path="venue.toml")
    state, _ = apply_epoch(EpochState.genesis(config), _quoted(config, 1, 60_000), config)
    marked = EpochInputs(epoch=2, fills=Fills.empty(), marks=(MarkPrice(PERP, 30_000, 0, "e2/prices.csv", 2),))
    with pytest.raises(InputError) as refused:
        apply_epoch(state, marked, config)
    assert str(refused.value).startswith(f"e2/prices.csv:2: field 'instrument': {MESSAGE}")
    # the guard itself clamps the same move (the breaker: at most 20 % from the last good price)
    previous = state.settlement_prices[0]  # the median of epoch 1's two quotes
    state, report = apply_epoch(state, _quoted(config, 2, 30_000), config)
    assert report.oracle_decisions[0]["breaker_triggered"] is True
    assert state.settlement_prices[0] == previous - previous // 5 == 48_004


def test_an_epoch_published_with_mark_prices_on_an_oracle_deployment_does_not_recompute():
    """What an operator publishes for the audit: the public inputs of an oracle deployment whose epoch carries a
    price file (half the market) instead of quotes. Before, ``recompute`` accepted them and derived the half-price
    risk data the proofs were then sound about."""
    config = parse_config(ORACLE_TOML, path="venue.toml")
    honest = public_inputs_of_epoch(ORACLE_TOML, EpochState.genesis(config), _quoted(config, 1, 60_000),
                                    position_bits=32)
    forged = copy.deepcopy(honest.document)
    forged["inputs"].update(marks=[[PERP, 30_000, 0]], oracle_quotes=[], funding_rates=[])
    with pytest.raises(VerificationError) as refused:
        recompute(PublicInputs(forged))
    assert refused.value.reason == "public-inputs-invalid"
    assert MESSAGE in refused.value.detail


def test_epoch_run_refuses_a_price_file_on_an_oracle_deployment_in_one_line(tmp_path):
    config = write_files(tmp_path / "cfg", {"zkclear.toml": ORACLE_TOML}) / "zkclear.toml"
    zkclear("init", tmp_path / "venue", "--config", config, "--height", 6, "--executor", "serial")
    epoch = write_files(tmp_path / "epoch-1", {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"{PERP},60000,0"),
        "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee"),
        "accounts.csv": csv("account,margin_mode", "A,standard")})
    code, output = zkclear_status("epoch", "run", epoch, "-d", tmp_path / "venue")
    assert code == 1, output
    assert output.count("\n") == 1 and output.startswith(f"error: {epoch}/prices.csv:2: field 'instrument': {MESSAGE}")
    assert "ledger head: epoch 0 " in zkclear("status", "-d", tmp_path / "venue")


def test_an_oracle_outage_clears_at_the_last_good_prices_with_liquidations_paused():
    """With the price file refused, an epoch in which no source quoted anything must still clear: through the guard,
    whose fallback keeps the last good price and pauses liquidations (the funding rates still apply)."""
    config = parse_config(ORACLE_TOML, path="venue.toml")
    state, _ = apply_epoch(EpochState.genesis(config), _quoted(config, 1, 60_000), config)
    outage = EpochInputs(epoch=2, fills=Fills.empty(), marks=(), funding_rates=(FundingRate(PERP, 100),))
    after, report = apply_epoch(state, outage, config)
    assert after.settlement_prices == state.settlement_prices
    assert report.paused_instruments == (PERP,) and report.oracle_decisions[0]["status"] != "ok"
    assert report.funding[0].applied_rate_ppm == 100
    # the auditor recomputes the same marks and decisions from the published inputs
    published = public_inputs_of_epoch(ORACLE_TOML, state, outage, position_bits=32)
    assert recompute(published).derived == published.derived
    assert published.derived["oracle_decisions"] == list(report.oracle_decisions)


def test_epoch_run_clears_an_outage_given_as_an_oracle_file_without_quotes(tmp_path):
    config = write_files(tmp_path / "cfg", {"zkclear.toml": ORACLE_TOML}) / "zkclear.toml"
    zkclear("init", tmp_path / "venue", "--config", config, "--height", 6, "--executor", "serial")
    now = parse_config(ORACLE_TOML, path="venue.toml").valuation_timestamp
    fills = csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee")
    first = write_files(tmp_path / "epoch-1", {
        "oracle.csv": csv("instrument,source,price,timestamp", f"{PERP},a,60000,{now(1)}", f"{PERP},b,60010,{now(1)}"),
        "funding.csv": csv("instrument,funding_rate_ppm", f"{PERP},0"), "fills.csv": fills})
    zkclear("epoch", "run", first, "-d", tmp_path / "venue")
    outage = write_files(tmp_path / "epoch-2", {
        "oracle.csv": csv("instrument,source,price,timestamp"),
        "funding.csv": csv("instrument,funding_rate_ppm", f"{PERP},0"), "fills.csv": fills})
    output = zkclear("epoch", "run", outage, "-d", tmp_path / "venue")
    assert "epoch 2" in output
    assert "ledger head: epoch 2 " in zkclear("status", "-d", tmp_path / "venue")
