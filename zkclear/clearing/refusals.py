"""Which input record an epoch is refused on when its result would break a statement bound.

A :class:`~zkclear.clearing.provable.Breach` names an account and an instrument (or only an instrument, for
the public data). The record to blame, in this order:

1. a position beyond the position bound: the fill after which the account's running position in the
   instrument (from its start-of-epoch position, in input order) last went from within the bound to beyond it;
2. another bound of an account: the account's last fill in the instrument this epoch;
3. otherwise (or for the public data): the record the instrument's mark came from (``prices.csv`` /
   ``prices.json`` / the oracle's records, field ``mark_price``; for a live engine-marked option, its ``vols.csv``
   row, field ``implied_vol_ppm``).

The error says what would break and that the epoch could not be proven, so the operator can correct or
remove that record; nothing has been applied.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from zkclear.clearing.inputs import Fills, ResolvedInputs, fill_rows
from zkclear.clearing.provable import Breach
from zkclear.errors import InputError

_UNPROVABLE = "the epoch's collateralization statements could not be proven (docs/clearing.md, " \
              "\"Provable by construction\")"


def refusal(breach: Breach, resolved: ResolvedInputs, start_positions: np.ndarray,
            instruments: tuple[str, ...], max_position: int) -> InputError:
    """The :class:`InputError` that refuses the epoch for ``breach`` (module docstring). Reads the fills
    once more, batch by batch (only on this path: an epoch that is refused)."""
    instrument = instruments[breach.column]
    if breach.row is not None:
        account = resolved.accounts[breach.row]
        line = _crossing_line(resolved, instruments, breach.row, breach.column,
                              int(start_positions[breach.row, breach.column]), max_position)
        if line is not None:
            return InputError(f"account {account!r} in {instrument!r}: {breach.message}; {_UNPROVABLE}",
                              path=resolved.fills.path, line=line, field="size")
        what = f"account {account!r} in {instrument!r}: {breach.message}"
    else:
        what = f"instrument {instrument!r}: {breach.message}"
    path, line = resolved.mark_sources[breach.column]
    # a live engine-marked option's mark comes from its vols.csv row, whose field is the volatility (red team s15)
    field = "implied_vol_ppm" if resolved.implied_vols_ppm[breach.column] else "mark_price"
    return InputError(f"at this mark, {what}; {_UNPROVABLE}", path=path, line=line or None, field=field)


def fee_refusal(resolved: ResolvedInputs, room: int, fee_account: str) -> InputError | None:
    """The :class:`InputError` on the fee (in input order: a fill's buyer fee, then its seller fee) after which the
    epoch's fees pass ``room``, what the fee account can take within the amount bound (session 15: many fees at a
    100 % cap stopped the epoch with a ClearingError that named no record); None if they never do."""
    collected = 0
    for batch in resolved.fills.batches():
        for k in np.flatnonzero((batch.buyer_fee > 0) | (batch.seller_fee > 0)).tolist():
            for field in ("buyer_fee", "seller_fee"):
                collected += int(getattr(batch, field)[k])
                if collected > room:
                    return InputError(f"the epoch's fees would take {fee_account!r} past the amount bound "
                                      "2**62 - 1", path=resolved.fills.path, line=batch.line(k), field=field)
    return None


def latest_fill_column(resolved: ResolvedInputs, instruments: tuple[str, ...], row: int) -> int | None:
    """The instrument of account ``row``'s last fill this epoch (None without fills): a bound over the whole
    account (its total notional) is refused on the fill that completed it."""
    latest = None
    for _, buyer_rows, seller_rows, fill_columns in _resolved_batches(resolved, instruments):
        involved = np.flatnonzero((buyer_rows == row) | (seller_rows == row))
        if involved.size:
            latest = int(fill_columns[involved[-1]])
    return latest


def _resolved_batches(resolved: ResolvedInputs, instruments: tuple[str, ...]
                      ) -> Iterator[tuple[Fills, np.ndarray, np.ndarray, np.ndarray]]:
    index = {account: row for row, account in enumerate(resolved.accounts)}
    columns = {instrument: column for column, instrument in enumerate(instruments)}
    for batch in resolved.fills.batches():
        yield (batch, *fill_rows(batch, index, columns))


def _crossing_line(resolved: ResolvedInputs, instruments: tuple[str, ...], row: int, column: int, start: int,
                   limit: int) -> int | None:
    """The line of the last fill of account ``row`` in instrument ``column`` after which its running position
    went from ``|q| <= limit`` to beyond; of its last fill there when it never did (a bound other than the
    position's); None when it has no fill there."""
    position, crossing, last = start, None, None
    for batch, buyer_rows, seller_rows, fill_columns in _resolved_batches(resolved, instruments):
        for k in np.flatnonzero((fill_columns == column) & ((buyer_rows == row) | (seller_rows == row))).tolist():
            signed = int(batch.size[k]) if int(buyer_rows[k]) == row else -int(batch.size[k])
            if int(seller_rows[k]) == row and int(buyer_rows[k]) == row:
                signed = 0  # a self-trade nets to nothing
            before, position = position, position + signed
            last = batch.line(k)
            if abs(before) <= limit < abs(position):
                crossing = last
    return crossing if crossing is not None else last
