"""The public inputs of a multi-asset epoch (issue 13, item 3): format v2 carries the assets' prices and haircut
lines in ``derived``, recomputed by the auditor from the configuration and the marks; v1 files still read."""

from __future__ import annotations

import copy
import json

import pytest

from tests.clearing.clearing_helpers import deposit, epoch_inputs, fill
from tests.clearing.collateral_helpers import BTC, CONFIG_TOML, PERP, deposit_asset
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.io import parse_config
from zkclear.clearing.state import EpochState
from zkclear.errors import EncodingError, VerificationError
from zkclear.proofs.recompute import check_public_inputs, public_inputs_of_epoch, recompute
from zkclear.verifier.public_inputs import FORMAT, FORMAT_V1, PublicInputs, decode_public_inputs


def _inputs(config_text: str = CONFIG_TOML, price: int = 50_000) -> tuple[PublicInputs, object]:
    config = parse_config(config_text, path="venue.toml")
    first = epoch_inputs(1, {PERP: 60_000}, fills=[fill("f1", "alice", "bob", 40_000, 60_000)],
                         transfers=[deposit_asset("alice", 10 * BTC, "BTC"), deposit("bob", 10**14),
                                    deposit("CH:insurance", 10**12)], opens=["alice", "bob"])
    state, _ = apply_epoch(EpochState.genesis(config), first, config)
    second = epoch_inputs(2, {PERP: price})
    _, report = apply_epoch(state, second, config)
    return public_inputs_of_epoch(config_text, state, second, position_bits=32), report


def test_the_derived_section_carries_the_assets_price_and_haircut_lines():
    inputs, report = _inputs()
    assert inputs.document["format"] == FORMAT == "zkclear/public-inputs/v2"
    (btc,) = report.risk.assets
    assert inputs.derived["assets"] == [["BTC", 50_000, [list(line) for line in btc.haircut_lines],
                                         btc.haircut_denominator, 0]]
    # The lines are in the value (the price enters through it): the tiers' (ratio, constant) over 10^6 / 50,000.
    assert inputs.assets() == {"BTC": (50_000, ((20, 0), (19, 100_000_000_000), (16, 3_100_000_000_000)), 20, 0)}
    decoded = decode_public_inputs(inputs.to_bytes())
    assert decoded == inputs
    # The auditor recomputes it from the configuration and the marks: the engine's own risk data.
    result = check_public_inputs(decoded, recompute(decoded).public_data, epoch=2)
    assert result.risk.assets == report.risk.assets


def test_a_forged_haircut_line_is_caught_by_the_recomputation():
    inputs, _ = _inputs()
    document = copy.deepcopy(inputs.document)
    document["derived"]["assets"][0][2][0] = [21, 0]  # claim BTC's first tier counts 105 %
    forged = PublicInputs(document)
    with pytest.raises(VerificationError) as caught:
        check_public_inputs(forged, recompute(forged).public_data, epoch=2)
    assert caught.value.reason == "public-inputs-mismatch"
    assert "derived.assets[0][2][0][0]: published 21, recomputed 20" in str(caught.value)


def test_a_single_asset_deployment_has_an_empty_asset_list_and_v1_files_still_read():
    single = CONFIG_TOML.split("[[asset]]\nid = \"BTC\"")[0] + "[[instrument]]" + CONFIG_TOML.split("[[instrument]]")[1]
    config = parse_config(single, path="venue.toml")
    state, _ = apply_epoch(EpochState.genesis(config), epoch_inputs(1, {PERP: 60_000}), config)
    inputs = public_inputs_of_epoch(single, state, epoch_inputs(2, {PERP: 61_000}), position_bits=32)
    assert inputs.derived["assets"] == []
    # The same inputs as written before issue 13 (format v1, no derived.assets) decode and recompute as v1.
    document = copy.deepcopy(inputs.document)
    document["format"] = FORMAT_V1
    del document["derived"]["assets"]
    old = PublicInputs(document)
    decoded = decode_public_inputs(old.to_bytes())
    assert recompute(decoded).derived == decoded.derived
    check_public_inputs(decoded, recompute(decoded).public_data, epoch=2)


@pytest.mark.parametrize("change", ["v1 with assets", "v2 without assets", "unknown format"])
def test_the_decoder_is_strict_about_the_format(change):
    inputs, _ = _inputs()
    document = copy.deepcopy(inputs.document)
    if change == "v1 with assets":
        document["format"] = FORMAT_V1
    elif change == "v2 without assets":
        del document["derived"]["assets"]
    else:
        document["format"] = "zkclear/public-inputs/v9"
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(EncodingError):
        decode_public_inputs(data)
