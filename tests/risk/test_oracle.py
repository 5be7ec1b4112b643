"""Oracle guards: median, stale source, outlier, too few sources (fallback + pause), circuit breaker."""

import pytest

from zkclear.errors import ClearingError
from zkclear.risk.oracle import (
    DropReason,
    MarkStatus,
    OracleConfig,
    OracleDecision,
    SourceQuote,
    decide_epoch_marks,
    decide_mark,
    integer_median,
)

NOW = 1_700_000_000
CONFIG = OracleConfig(
    max_staleness_seconds=60, max_deviation_ppm=20_000, min_sources=2, circuit_breaker_ppm=250_000
)


def quotes(*items):
    return [SourceQuote(source, price, NOW - age) for source, price, age in items]


def first_decision(price=50_000):
    return decide_mark(
        "BTC-PERP",
        quotes(("a", price, 0), ("b", price, 0), ("c", price, 0)),
        now=NOW,
        epoch=1,
        previous=None,
        config=CONFIG,
    )


def test_mark_is_the_median_of_agreeing_sources():
    decision = decide_mark(
        "BTC-PERP",
        quotes(("a", 50_010, 1), ("b", 49_990, 2), ("c", 50_000, 3)),
        now=NOW,
        epoch=2,
        previous=first_decision(),
        config=CONFIG,
    )
    assert decision.status is MarkStatus.OK and decision.mark_price_ticks == 50_000
    assert decision.used_sources == ("a", "b", "c") and decision.dropped == ()
    assert not decision.liquidations_paused and decision.last_good_price_ticks == 50_000


def test_even_count_median_is_the_floor_of_the_middle_mean():
    assert integer_median([1, 4]) == 2 and integer_median([5, 1, 3]) == 3 and integer_median([-3, 0]) == -2


def test_stale_source_is_dropped_and_reported():
    decision = decide_mark(
        "BTC-PERP",
        quotes(("a", 50_000, 5), ("b", 50_100, 10), ("c", 48_000, 61)),
        now=NOW,
        epoch=2,
        previous=first_decision(),
        config=CONFIG,
    )
    assert decision.used_sources == ("a", "b") and decision.mark_price_ticks == 50_050
    (dropped,) = decision.dropped
    assert dropped.source == "c" and dropped.reason is DropReason.STALE and dropped.detail == 61


def test_outlier_is_dropped_with_its_deviation():
    decision = decide_mark(
        "BTC-PERP",
        quotes(("a", 50_000, 0), ("b", 50_200, 0), ("c", 60_000, 0)),
        now=NOW,
        epoch=2,
        previous=first_decision(),
        config=CONFIG,
    )
    assert decision.mark_price_ticks == 50_100 and decision.used_sources == ("a", "b")
    (dropped,) = decision.dropped
    assert dropped.reason is DropReason.DEVIATION and dropped.detail == 195_219  # (60000-50200)/50200 in ppm


def test_future_duplicate_and_invalid_quotes_are_dropped():
    decision = decide_mark(
        "BTC-PERP",
        [
            SourceQuote("a", 50_000, NOW),
            SourceQuote("a", 10, NOW),
            SourceQuote("b", 50_000, NOW + 30),
            SourceQuote("c", -5, NOW),
            SourceQuote("d", 50_002, NOW),
        ],
        now=NOW,
        epoch=2,
        previous=first_decision(),
        config=CONFIG,
    )
    assert [(d.source, d.reason) for d in decision.dropped] == [
        ("a", DropReason.DUPLICATE),
        ("b", DropReason.FUTURE),
        ("c", DropReason.INVALID),
    ]
    assert decision.mark_price_ticks == 50_001


def test_too_few_sources_falls_back_to_last_good_price_and_pauses_liquidations():
    previous = first_decision(50_000)
    decision = decide_mark(
        "BTC-PERP",
        quotes(("a", 30_000, 0), ("b", 50_000, 500)),
        now=NOW,
        epoch=2,
        previous=previous,
        config=CONFIG,
    )
    assert decision.status is MarkStatus.FALLBACK
    assert decision.mark_price_ticks == 50_000 and decision.median_price_ticks is None
    assert decision.liquidations_paused and decision.used_sources == ("a",)
    # The fallback carries the last good price forward; the next good epoch is compared with it.
    later = decide_mark(
        "BTC-PERP",
        quotes(("a", 51_000, 0), ("b", 51_000, 0)),
        now=NOW,
        epoch=3,
        previous=decision,
        config=CONFIG,
    )
    assert (
        later.status is MarkStatus.OK and later.mark_price_ticks == 51_000 and not later.liquidations_paused
    )


def test_no_sources_and_no_history_cannot_be_marked():
    with pytest.raises(ClearingError):
        decide_mark("BTC-PERP", [], now=NOW, epoch=1, previous=None, config=CONFIG)


def test_circuit_breaker_clamps_the_epoch_move():
    previous = first_decision(50_000)
    crash = quotes(("a", 30_000, 0), ("b", 30_100, 0), ("c", 29_900, 0))
    decision = decide_mark("BTC-PERP", crash, now=NOW, epoch=2, previous=previous, config=CONFIG)
    assert decision.status is MarkStatus.BREAKER and decision.breaker_triggered
    assert decision.median_price_ticks == 30_000 and decision.mark_price_ticks == 37_500  # -25% exactly
    assert not decision.liquidations_paused  # default: a real crash is still liquidated
    # Next epoch the same prices are within 25% of the clamped mark: the mark catches up.
    follow = decide_mark("BTC-PERP", crash, now=NOW + 60, epoch=3, previous=decision, config=CONFIG)
    assert follow.status is MarkStatus.OK and follow.mark_price_ticks == 30_000
    pausing = OracleConfig(pause_liquidations_on_breaker=True)
    assert decide_mark(
        "BTC-PERP", crash, now=NOW, epoch=2, previous=previous, config=pausing
    ).liquidations_paused


def test_breaker_bound_is_inclusive_and_applies_upwards():
    previous = first_decision(40_000)
    at_bound = decide_mark(
        "X", quotes(("a", 50_000, 0), ("b", 50_000, 0)), now=NOW, epoch=2, previous=previous, config=CONFIG
    )
    assert at_bound.status is MarkStatus.OK and at_bound.mark_price_ticks == 50_000
    beyond = decide_mark(
        "X", quotes(("a", 50_001, 0), ("b", 50_001, 0)), now=NOW, epoch=2, previous=previous, config=CONFIG
    )
    assert beyond.status is MarkStatus.BREAKER and beyond.mark_price_ticks == 50_000


def test_epoch_decisions_are_recorded_and_round_trip():
    previous = {"BTC-PERP": first_decision(50_000), "ETH-PERP": first_decision(3_000)}
    epoch = decide_epoch_marks(
        {"BTC-PERP": quotes(("a", 50_000, 0), ("b", 50_010, 0))},
        now=NOW,
        epoch=2,
        previous=previous,
        config=CONFIG,
    )
    assert epoch.marks == {"BTC-PERP": 50_005, "ETH-PERP": 3_000}
    assert epoch.liquidation_paused == frozenset({"ETH-PERP"}) and epoch.flagged == frozenset({"ETH-PERP"})
    for decision in epoch.decisions:
        assert OracleDecision.from_record(decision.to_record()) == decision
    assert len(epoch.digest()) == 32 and epoch.encode().count(b"zkclear/oracle-decision/v1") == 2
