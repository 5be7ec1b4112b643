"""Oracle guards: one mark price per instrument per epoch from several sources, every decision recorded.

Rule, per instrument, at epoch close time ``now`` (all prices integer ticks, times unix seconds):

1. A quote is dropped if its price is not a positive integer (``invalid``), if its source already
   quoted (``duplicate``: the first quote of a source counts), if it is from the future by more than
   ``max_future_seconds`` (``future``), or if ``now - timestamp > max_staleness_seconds`` (``stale``).
2. ``m0`` = median of the remaining (fresh) quotes. A quote with ``|p - m0| * 1e6 > max_deviation_ppm * m0``
   is dropped (``deviation``). The median of an even count is the floor of the mean of the two middle
   values (integer, deterministic).
3. If fewer than ``min_sources`` quotes remain: **fallback** — the mark is the last good price,
   the instrument is flagged, and liquidations on it are paused for the epoch (a liquidation at a
   price nobody can vouch for could wrongly close out a solvent account; the margin check itself
   still runs at the last good price). With no last good price at all the epoch cannot be marked:
   ClearingError. (How many epochs in a row a fallback may last is the clearing engine's to bound:
   ``oracle.max_fallback_epochs`` in the deployment, ``zkclear.clearing.inputs``.)
4. Otherwise the candidate is the median ``m`` of the remaining quotes. **Circuit breaker**: if a
   previous mark ``P`` exists and ``|m - P| * 1e6 > circuit_breaker_ppm * P``, the mark is clamped to
   ``P ± max(1, floor(P * circuit_breaker_ppm / 1e6))`` (never beyond the bound; at least one tick, else a
   mark of a few ticks, where one tick is beyond the breaker, could never move again), flagged; liquidations are
   paused only if ``pause_liquidations_on_breaker`` (default off: a real crash must still be
   liquidated, and the clamp only delays the move by an epoch). Not for a final settlement price (an
   expiring instrument in its expiry epoch), which has no next epoch: it is the median.
5. The mark becomes the next epoch's last good price unless it was a fallback (which carries the
   old last good price forward unchanged).

Every decision is an :class:`OracleDecision` (frozen; ``to_record``/``from_record`` for the ledger,
canonical ``encode``/``digest``), so an auditor can replay why each mark is what it is.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zkclear.errors import ClearingError, ConfigurationError
from zkclear.risk.rounding import PPM

DECISION_ENCODING_TAG = "zkclear/oracle-decision/v1"


class DropReason(enum.StrEnum):
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    FUTURE = "future"
    STALE = "stale"
    DEVIATION = "deviation"


class MarkStatus(enum.StrEnum):
    OK = "ok"
    BREAKER = "breaker"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class SourceQuote:
    """One source's price for one instrument."""

    source: str
    price_ticks: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class DroppedQuote:
    """A quote that did not count, and why (``detail``: age in seconds, or deviation in ppm)."""

    source: str
    price_ticks: int
    timestamp: int
    reason: DropReason
    detail: int


@dataclass(frozen=True, slots=True)
class OracleConfig:
    """Bounds of the guard (integers)."""

    max_staleness_seconds: int = 60
    max_future_seconds: int = 5
    max_deviation_ppm: int = 20_000
    min_sources: int = 2
    circuit_breaker_ppm: int = 250_000
    pause_liquidations_on_breaker: bool = False

    def __post_init__(self) -> None:
        if self.max_staleness_seconds < 0 or self.max_future_seconds < 0:
            raise ConfigurationError("staleness bounds are non-negative")
        if self.max_deviation_ppm < 0 or self.min_sources < 1:
            raise ConfigurationError("need max_deviation_ppm >= 0 and min_sources >= 1")
        if not 0 < self.circuit_breaker_ppm < PPM:
            raise ConfigurationError("circuit_breaker_ppm must be in (0, 1e6)")


@dataclass(frozen=True, slots=True)
class OracleDecision:
    """The recorded decision for one instrument in one epoch.

    Guarantees: ``mark_price_ticks > 0``; ``status == FALLBACK`` iff ``liquidations_paused`` was
    forced by too few sources; ``used_sources`` and ``dropped`` together list every quote given.
    """

    instrument_id: str
    epoch: int
    decided_at: int
    status: MarkStatus
    mark_price_ticks: int
    median_price_ticks: int | None
    previous_mark_ticks: int | None
    last_good_price_ticks: int
    used_sources: tuple[str, ...]
    dropped: tuple[DroppedQuote, ...]
    breaker_triggered: bool
    liquidations_paused: bool

    def to_record(self) -> dict:
        """A JSON-able dict (what the engine persists with the epoch)."""
        return {
            "instrument_id": self.instrument_id,
            "epoch": self.epoch,
            "decided_at": self.decided_at,
            "status": str(self.status),
            "mark_price_ticks": self.mark_price_ticks,
            "median_price_ticks": self.median_price_ticks,
            "previous_mark_ticks": self.previous_mark_ticks,
            "last_good_price_ticks": self.last_good_price_ticks,
            "used_sources": list(self.used_sources),
            "dropped": [
                [d.source, d.price_ticks, d.timestamp, str(d.reason), d.detail] for d in self.dropped
            ],
            "breaker_triggered": self.breaker_triggered,
            "liquidations_paused": self.liquidations_paused,
        }

    @classmethod
    def from_record(cls, record: Mapping) -> OracleDecision:
        return cls(
            instrument_id=record["instrument_id"],
            epoch=record["epoch"],
            decided_at=record["decided_at"],
            status=MarkStatus(record["status"]),
            mark_price_ticks=record["mark_price_ticks"],
            median_price_ticks=record["median_price_ticks"],
            previous_mark_ticks=record["previous_mark_ticks"],
            last_good_price_ticks=record["last_good_price_ticks"],
            used_sources=tuple(record["used_sources"]),
            dropped=tuple(DroppedQuote(s, p, t, DropReason(r), d) for s, p, t, r, d in record["dropped"]),
            breaker_triggered=record["breaker_triggered"],
            liquidations_paused=record["liquidations_paused"],
        )

    def encode(self) -> bytes:
        """Canonical bytes: compact JSON, sorted keys, of ``[tag, to_record()]``."""
        return json.dumps(
            [DECISION_ENCODING_TAG, self.to_record()],
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=True,
        ).encode("ascii")

    def digest(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()


def integer_median(values: Sequence[int]) -> int:
    """Median of integers; for an even count, floor of the mean of the two middle values."""
    if not values:
        raise ClearingError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def decide_mark(
    instrument_id: str,
    quotes: Sequence[SourceQuote],
    *,
    now: int,
    epoch: int,
    previous: OracleDecision | None,
    config: OracleConfig,
    circuit_breaker: bool = True,
) -> OracleDecision:
    """Apply the guard (module docstring) to one instrument; bad quotes are recorded, never raised.
    ``circuit_breaker=False`` for a final settlement price (an instrument's expiry epoch): the clamp only delays
    a move by an epoch, and a contract settled at the clamped price has no next epoch to catch up in."""
    dropped: list[DroppedQuote] = []
    seen: set[str] = set()
    fresh: list[SourceQuote] = []
    for quote in quotes:
        if type(quote.price_ticks) is not int or quote.price_ticks <= 0 or type(quote.timestamp) is not int:
            dropped.append(
                DroppedQuote(
                    quote.source,
                    quote.price_ticks if type(quote.price_ticks) is int else 0,
                    quote.timestamp if type(quote.timestamp) is int else 0,
                    DropReason.INVALID,
                    0,
                )
            )
            continue
        age = now - quote.timestamp
        if quote.source in seen:
            dropped.append(
                DroppedQuote(quote.source, quote.price_ticks, quote.timestamp, DropReason.DUPLICATE, age)
            )
            continue
        seen.add(quote.source)
        if -age > config.max_future_seconds:
            dropped.append(
                DroppedQuote(quote.source, quote.price_ticks, quote.timestamp, DropReason.FUTURE, age)
            )
        elif age > config.max_staleness_seconds:
            dropped.append(
                DroppedQuote(quote.source, quote.price_ticks, quote.timestamp, DropReason.STALE, age)
            )
        else:
            fresh.append(quote)

    accepted: list[SourceQuote] = []
    if fresh:
        first_median = integer_median([quote.price_ticks for quote in fresh])
        for quote in fresh:
            deviation_scaled = abs(quote.price_ticks - first_median) * PPM
            if deviation_scaled > config.max_deviation_ppm * first_median:
                dropped.append(
                    DroppedQuote(
                        quote.source,
                        quote.price_ticks,
                        quote.timestamp,
                        DropReason.DEVIATION,
                        deviation_scaled // first_median,
                    )
                )
            else:
                accepted.append(quote)

    previous_mark = previous.mark_price_ticks if previous is not None else None
    common = dict(
        instrument_id=instrument_id,
        epoch=epoch,
        decided_at=now,
        previous_mark_ticks=previous_mark,
        used_sources=tuple(quote.source for quote in accepted),
        dropped=tuple(dropped),
    )
    if len(accepted) < config.min_sources:
        if previous is None:
            raise ClearingError(
                f"{instrument_id}: {len(accepted)} usable oracle sources (< {config.min_sources})"
                " and no last good price to fall back on"
            )
        return OracleDecision(
            status=MarkStatus.FALLBACK,
            mark_price_ticks=previous.last_good_price_ticks,
            median_price_ticks=None,
            last_good_price_ticks=previous.last_good_price_ticks,
            breaker_triggered=False,
            liquidations_paused=True,
            **common,
        )

    median = integer_median([quote.price_ticks for quote in accepted])
    mark, status, breaker = median, MarkStatus.OK, False
    if (
        circuit_breaker
        and previous_mark is not None
        and abs(median - previous_mark) * PPM > config.circuit_breaker_ppm * previous_mark
    ):
        bound = max(1, previous_mark * config.circuit_breaker_ppm // PPM)  # one tick at least: never frozen
        mark = previous_mark + bound if median > previous_mark else max(previous_mark - bound, 1)
        status, breaker = MarkStatus.BREAKER, True
    return OracleDecision(
        status=status,
        mark_price_ticks=mark,
        median_price_ticks=median,
        last_good_price_ticks=mark,
        breaker_triggered=breaker,
        liquidations_paused=breaker and config.pause_liquidations_on_breaker,
        **common,
    )


@dataclass(frozen=True, slots=True)
class OracleEpochDecisions:
    """All instruments' decisions of one epoch, sorted by instrument id."""

    epoch: int
    decisions: tuple[OracleDecision, ...]

    @property
    def marks(self) -> dict[str, int]:
        return {decision.instrument_id: decision.mark_price_ticks for decision in self.decisions}

    @property
    def liquidation_paused(self) -> frozenset[str]:
        """Instruments on which the engine must not liquidate this epoch."""
        return frozenset(d.instrument_id for d in self.decisions if d.liquidations_paused)

    @property
    def flagged(self) -> frozenset[str]:
        """Instruments whose mark is not a plain median (fallback or breaker)."""
        return frozenset(d.instrument_id for d in self.decisions if d.status is not MarkStatus.OK)

    def encode(self) -> bytes:
        return b"[" + b",".join(decision.encode() for decision in self.decisions) + b"]"

    def digest(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()


def decide_epoch_marks(
    quotes: Mapping[str, Sequence[SourceQuote]],
    *,
    now: int,
    epoch: int,
    previous: Mapping[str, OracleDecision],
    config: OracleConfig,
) -> OracleEpochDecisions:
    """Decide every instrument in ``quotes`` or ``previous`` (no quotes at all: falls back)."""
    return OracleEpochDecisions(
        epoch,
        tuple(
            decide_mark(
                instrument_id,
                quotes.get(instrument_id, ()),
                now=now,
                epoch=epoch,
                previous=previous.get(instrument_id),
                config=config,
            )
            for instrument_id in sorted(set(quotes) | set(previous))
        ),
    )
