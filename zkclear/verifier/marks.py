"""An auditor's own prices against the epoch's published marks (``zkclear audit --marks FILE``).

The marks file is CSV with the header ``instrument,price`` (or ``epoch,instrument,price`` to cover several
epochs), prices in the instrument's ticks, plain ASCII decimal integers. Each listed instrument's published mark
must lie within ``tolerance_bps`` basis points of the auditor's price plus ``tolerance_ticks`` ticks; the first one
that does not fails with [marks-beyond-tolerance], naming the instrument, both prices and the distance. A price of 0
is an option's final mark when it expires out of the money: only a mark within ``tolerance_ticks`` of it (0 by
default: only 0) passes (red team session 15: the auditor could not state it, so an option settled at 0 while in the
money could not be caught on its own mark).

The ticks term (red team session 16): a relative tolerance alone cannot serve marks of a few ticks and marks of tens
of thousands at once — an option worth 2.4 ticks is marked 3 (whole ticks, rounded up), 2,500 bps from the
auditor's 2 — so an auditor who had to raise ``tolerance_bps`` for the options let a perpetual's mark 20 % off pass.

Implied volatilities (``zkclear audit --vols FILE``, red team session 16) are read the same way, with the column
``implied_vol_ppm`` (at least 1), and compared with the epoch's published ones within ``tolerance_bps``
[vols-beyond-tolerance]. A mark cannot stand for them: a far out-of-the-money option is marked at the one-tick floor
at any volatility from 1 ppm to 40 %, while its worst scenario loss — which sets its sellers' portfolio margin — goes
from 0 to 602,968 in the scenario table's units (a lot, scale 100).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from zkclear.errors import InputError, VerificationError
from zkclear.files import MAX_DOCUMENT_BYTES, decode_text, read_file
from zkclear.integers import RULE, parse_canonical_int

BPS = 10_000


def _whole(text: str, *, minimum: int) -> int | None:
    """The value of a canonical integer of at most 19 digits that is at least ``minimum`` (None otherwise)."""
    try:
        value = parse_canonical_int(text, max_digits=19)
    except ValueError:
        return None
    return value if value >= minimum else None


PRICE, VOLATILITY = "price", "implied_vol_ppm"
_MINIMUM = {PRICE: 0, VOLATILITY: 1}
_RULE = {PRICE: "a number of ticks, 0 or more", VOLATILITY: "a volatility in ppm, 1 or more"}


def parse_marks_csv(text: str, *, path: str, lines: dict[tuple[int | None, str], int] | None = None,
                    column: str = PRICE) -> dict[int | None, dict[str, int]]:
    """``{epoch or None: {instrument: value}}`` from a marks file (``column`` "price") or an implied volatilities file
    (``column`` "implied_vol_ppm"); InputError naming file, line and field. ``lines``, when given, receives the line
    of each value (``(epoch or None, instrument) -> line``), to name it later."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        rows = list(reader)
    except csv.Error as exc:  # e.g. a field above csv's size limit
        raise InputError(f"malformed CSV: {exc}", path=path, line=reader.line_num) from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(f"empty file: expected the header row 'instrument,{column}'", path=path, line=1)
    header = [cell.strip() for cell in rows[0]]
    if header not in (["instrument", column], ["epoch", "instrument", column]):
        raise InputError(f"expected the header row 'instrument,{column}' or 'epoch,instrument,{column}'", path=path,
                         line=1)
    with_epoch = header[0] == "epoch"
    marks: dict[int | None, dict[str, int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"expected {len(header)} fields, got {len(row)}", path=path, line=line)
        cells = [cell.strip() for cell in row]
        epoch = None
        if with_epoch:
            epoch = _whole(cells[0], minimum=0)
            if epoch is None:
                raise InputError(f"must be an epoch number ({RULE}), got {cells[0]!r:.40}", path=path, line=line,
                                 field="epoch")
        instrument, price = cells[-2], cells[-1]
        if not instrument or not instrument.isascii():
            raise InputError("must be an instrument id", path=path, line=line, field="instrument")
        ticks = _whole(price, minimum=_MINIMUM[column])
        if ticks is None:
            raise InputError(f"must be {_RULE[column]} ({RULE}), got {price!r:.40}", path=path, line=line,
                             field=column)
        epoch_marks = marks.setdefault(epoch, {})
        if instrument in epoch_marks:
            raise InputError(f"second price for {instrument!r}", path=path, line=line, field="instrument")
        epoch_marks[instrument] = ticks
        if lines is not None:
            lines[(epoch, instrument)] = line
    return marks


def load_marks(path: Path, lines: dict[tuple[int | None, str], int] | None = None,
               column: str = PRICE) -> dict[int | None, dict[str, int]]:
    """The marks (or implied volatilities) file at ``path`` (:func:`parse_marks_csv`); a byte that is not UTF-8 is
    named by its line."""
    text = decode_text(read_file(path, limit=MAX_DOCUMENT_BYTES), str(path))
    return parse_marks_csv(text, path=str(path), lines=lines, column=column)


def compare_marks(published: Mapping[str, int], own: Mapping[str, int], tolerance_bps: int, *, epoch: int,
                  tolerance_ticks: int = 0) -> int:
    """Check every instrument the auditor priced: each mark within ``tolerance_bps`` of the auditor's price plus
    ``tolerance_ticks`` ticks; returns how many were compared."""
    for instrument, price in own.items():
        if instrument not in published:
            raise InputError(f"instrument {instrument!r} is not listed in epoch {epoch}", field="instrument")
        mark = published[instrument]
        distance = abs(mark - price) * BPS
        if distance > tolerance_bps * price + tolerance_ticks * BPS:
            apart = (f"{distance / price:.1f} bps ({abs(mark - price)} ticks) apart" if price
                     else f"{abs(mark - price)} ticks apart")
            ticks = f" + {tolerance_ticks} ticks" if tolerance_ticks else ""
            raise VerificationError(
                "marks-beyond-tolerance",
                detail=f"epoch {epoch}: {instrument} is marked at {mark} ticks, your price is {price} ticks: "
                       f"{apart}, more than the tolerance of {tolerance_bps} bps{ticks}")
    return len(own)


def compare_vols(published: Mapping[str, int], own: Mapping[str, int], tolerance_bps: int, *, epoch: int) -> int:
    """Check every option the auditor gave an implied volatility: each published one within ``tolerance_bps`` of
    the auditor's [vols-beyond-tolerance]; returns how many were compared."""
    for instrument, volatility in own.items():
        if instrument not in published:
            raise InputError(f"instrument {instrument!r} is not a live engine-marked option in epoch {epoch}",
                             field="instrument")
        distance = abs(published[instrument] - volatility) * BPS
        if distance > tolerance_bps * volatility:
            raise VerificationError(
                "vols-beyond-tolerance",
                detail=f"epoch {epoch}: {instrument} is valued at an implied volatility of {published[instrument]} "
                       f"ppm, yours is {volatility} ppm: {distance / volatility:.1f} bps apart, more than the "
                       f"tolerance of {tolerance_bps} bps")
    return len(own)
