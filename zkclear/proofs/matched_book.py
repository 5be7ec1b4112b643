"""The matched book: for every instrument, the positions of all accounts sum to zero.

Statement (docs/protocol.md, "Matched book"): for each instrument j, the root's position sum P_j (the
sum of every position commitment in the tree, padding included, bound by the root digest) is ``β_j·H``,
i.e. a commitment to 0. The operator publishes only the blinding sums β_j; the check is
:func:`zkclear.verifier.root.check_matched_book`, run by every participant and the auditor. A hidden
or omitted position (a defaulted account left out) makes the sum non-zero, and the check fails unless
the operator can find a discrete-log relation between G and H.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.crypto.field import R
from zkclear.errors import ProvingError


def matched_book_blindings(
    positions: Sequence[Sequence[int]], blindings: Sequence[Sequence[int]], instrument_count: int
) -> tuple[int, ...]:
    """β_j for every instrument; ProvingError if some instrument's positions do not sum to zero."""
    totals = [0] * instrument_count
    betas = [0] * instrument_count
    for account_positions, account_blindings in zip(positions, blindings, strict=True):
        if len(account_positions) != instrument_count or len(account_blindings) != instrument_count:
            raise ProvingError("every account needs one position per instrument")
        for j in range(instrument_count):
            totals[j] += account_positions[j]
            betas[j] = (betas[j] + account_blindings[j]) % R
    for j, total in enumerate(totals):
        if total != 0:
            raise ProvingError(f"instrument {j}: positions sum to {total}, the book is not matched")
    return tuple(betas)


def require_matched(positions: Sequence[Sequence[int]], instrument_count: int) -> None:
    """ProvingError unless, for every instrument, the positions of all accounts sum to zero."""
    totals = [0] * instrument_count
    for account_positions in positions:
        if len(account_positions) != instrument_count:
            raise ProvingError("every account needs one position per instrument")
        for j, quantity in enumerate(account_positions):
            totals[j] += quantity
    for j, total in enumerate(totals):
        if total != 0:
            raise ProvingError(f"instrument {j}: positions sum to {total}, the book is not matched")
