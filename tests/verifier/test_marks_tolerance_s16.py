"""Red team session 16: the auditor's marks tolerance has a ticks term besides the relative one.

With basis points alone one tolerance had to fit a perpetual at 60,000 ticks and an option at 2 or 3 (an option's
mark is Black-76 rounded up to a whole tick: an auditor's 2.4 is written 2 or 3, 2,500 bps or more apart). An auditor
who raised ``--tolerance-bps`` far enough for the options let the operator mark the perpetual 20 % off.
"""

from __future__ import annotations

import pytest

from zkclear.errors import VerificationError
from zkclear.verifier.marks import compare_marks

OWN = {"BTC-PERP": 60_000, "BTC-C-90000": 2}
PUBLISHED = {"BTC-PERP": 72_000, "BTC-C-90000": 3}  # the perpetual 20 % up; the option rounded up honestly


def test_with_basis_points_alone_a_tolerance_wide_enough_for_an_option_passes_a_perpetual_20_percent_off():
    with pytest.raises(VerificationError):  # a tight tolerance flags the honest option first
        compare_marks({"BTC-PERP": 60_000, "BTC-C-90000": 3}, OWN, 50, epoch=4)
    assert compare_marks(PUBLISHED, OWN, 5_000, epoch=4) == 2  # the one that lets the option pass hides the perpetual


def test_a_ticks_term_lets_the_option_pass_and_catches_the_perpetual():
    assert compare_marks({"BTC-PERP": 60_020, "BTC-C-90000": 3}, OWN, 50, epoch=4, tolerance_ticks=1) == 2
    with pytest.raises(VerificationError) as failure:
        compare_marks(PUBLISHED, OWN, 50, epoch=4, tolerance_ticks=1)
    assert failure.value.reason == "marks-beyond-tolerance"
    assert ("BTC-PERP is marked at 72000 ticks, your price is 60000 ticks: 2000.0 bps (12000 ticks) apart, more than "
            "the tolerance of 50 bps + 1 ticks") in failure.value.detail


def test_the_bound_is_inclusive_and_a_price_of_0_takes_only_the_ticks_term():
    assert compare_marks({"X": 10_051}, {"X": 10_000}, 50, epoch=1, tolerance_ticks=1) == 1  # 50 bps + 1 tick
    with pytest.raises(VerificationError):
        compare_marks({"X": 10_052}, {"X": 10_000}, 50, epoch=1, tolerance_ticks=1)
    assert compare_marks({"O": 1}, {"O": 0}, 10_000, epoch=1, tolerance_ticks=1) == 1
    with pytest.raises(VerificationError) as failure:
        compare_marks({"O": 2}, {"O": 0}, 10_000, epoch=1, tolerance_ticks=1)
    assert "O is marked at 2 ticks, your price is 0 ticks: 2 ticks apart" in failure.value.detail


def test_a_volatility_lowered_to_1_ppm_leaves_the_marks_and_lowers_the_sellers_margin_only_vols_catch_it():
    """A call struck far out of the money is marked at the one-tick floor from 1 ppm to 40 % of volatility: the
    auditor's marks pass at any tolerance, and the worst scenario loss of a short call (with the short-option minimum
    charge, its sellers' portfolio margin) drops from 602,968 table units a lot to 0. The auditor's own implied
    volatility catches it."""
    from tests.clearing.options_helpers import CALL, PERP, PUT
    from tests.clearing.options_helpers import CONFIG as OPTIONS_CONFIG
    from zkclear.clearing.inputs import EpochInputs, Fills, ImpliedVol, MarkPrice
    from zkclear.clearing.io import parse_config
    from zkclear.clearing.state import EpochState
    from zkclear.proofs.recompute import public_inputs_of_epoch, recompute
    from zkclear.verifier.marks import compare_vols

    toml = OPTIONS_CONFIG.replace("strike = 33000\nexpiry_epoch = 3", "strike = 45000\nexpiry_epoch = 30")
    genesis = EpochState.genesis(parse_config(toml, path="venue.toml"))

    def published(call_vol: int):
        inputs = EpochInputs(epoch=1, fills=Fills.empty(), marks=(MarkPrice(PERP, 30_000, 0),),
                             implied_vols=(ImpliedVol(CALL, call_vol), ImpliedVol(PUT, 400_000)))
        result = recompute(public_inputs_of_epoch(toml, genesis, inputs, position_bits=32))
        table = result.risk.scenario_table
        worst_for_a_seller = max(table.value_changes[table.instrument_ids.index(CALL)])
        return result.derived, worst_for_a_seller

    honest, honest_loss = published(400_000)
    forged, forged_loss = published(1)
    assert dict(forged["marks"]) == dict(honest["marks"]) and dict(forged["marks"])[CALL] == 1
    assert honest_loss > 500_000 and forged_loss == 0
    assert compare_marks(dict(forged["marks"]), dict(honest["marks"]), 0, epoch=1) == 3
    own_vols = dict(honest["implied_vols"])
    assert compare_vols(dict(honest["implied_vols"]), own_vols, 0, epoch=1) == 2
    with pytest.raises(VerificationError) as failure:
        compare_vols(dict(forged["implied_vols"]), own_vols, 500, epoch=1)
    assert failure.value.reason == "vols-beyond-tolerance"
    assert f"{CALL} is valued at an implied volatility of 1 ppm, yours is 400000 ppm" in failure.value.detail
