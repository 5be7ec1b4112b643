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
