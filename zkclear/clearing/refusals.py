"""Which input record an epoch is refused on when its result would break a statement bound.

A :class:`~zkclear.clearing.provable.Breach` names an account and an instrument (or only an instrument, for
the public data). The record to blame, in this order:

1. a position beyond the position bound: the fill after which the account's running position in the
   instrument (from its start-of-epoch position, in input order) last went from within the bound to beyond it;
2. another bound of an account: the account's last fill in the instrument this epoch;
3. otherwise (or for the public data): the record the instrument's mark came from (``prices.csv`` /
   ``prices.json`` / the oracle's records; for an engine-marked option, its ``vols.csv`` row).

The error says what would break and that the epoch could not be proven, so the operator can correct or
remove that record; nothing has been applied.
"""

from __future__ import annotations

import numpy as np

from zkclear.clearing.inputs import Fills, ResolvedInputs
from zkclear.clearing.provable import Breach
from zkclear.errors import InputError

_UNPROVABLE = "the epoch's collateralization statements could not be proven (docs/clearing.md, " \
              "\"Provable by construction\")"


def refusal(breach: Breach, resolved: ResolvedInputs, fills: Fills, start_positions: np.ndarray,
            instruments: tuple[str, ...], max_position: int) -> InputError:
    """The :class:`InputError` that refuses the epoch for ``breach`` (module docstring)."""
    instrument = instruments[breach.column]
    if breach.row is not None:
        account = resolved.accounts[breach.row]
        mask = (resolved.fill_columns == breach.column) & (
            (resolved.buyer_rows == breach.row) | (resolved.seller_rows == breach.row))
        involved = np.flatnonzero(mask).tolist()
        if involved:
            k = _crossing_fill(involved, breach.row, int(start_positions[breach.row, breach.column]), resolved,
                               max_position)
            return InputError(f"account {account!r} in {instrument!r}: {breach.message}; {_UNPROVABLE}",
                              path=fills.path, line=fills.line(k), field="size")
        what = f"account {account!r} in {instrument!r}: {breach.message}"
    else:
        what = f"instrument {instrument!r}: {breach.message}"
    path, line = resolved.mark_sources[breach.column]
    return InputError(f"at this mark, {what}; {_UNPROVABLE}", path=path, line=line or None, field="mark_price")


def latest_fill_column(resolved: ResolvedInputs, row: int) -> int | None:
    """The instrument of account ``row``'s last fill this epoch (None without fills): a bound over the whole
    account (its total notional) is refused on the fill that completed it."""
    involved = np.flatnonzero((resolved.buyer_rows == row) | (resolved.seller_rows == row))
    return int(resolved.fill_columns[involved[-1]]) if involved.size else None


def _crossing_fill(involved: list[int], row: int, start: int, resolved: ResolvedInputs, limit: int) -> int:
    """The last fill of ``involved`` after which the running position went from ``|q| <= limit`` to beyond;
    the last fill when it never did (a bound other than the position's)."""
    position, crossing = start, involved[-1]
    for k in involved:
        signed = int(resolved.size[k]) if int(resolved.buyer_rows[k]) == row else -int(resolved.size[k])
        if int(resolved.seller_rows[k]) == row and int(resolved.buyer_rows[k]) == row:
            signed = 0  # a self-trade nets to nothing
        before, position = position, position + signed
        if abs(before) <= limit < abs(position):
            crossing = k
    return crossing
