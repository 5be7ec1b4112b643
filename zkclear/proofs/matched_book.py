"""The matched book: for every instrument, the positions of all accounts sum to zero.

Statement (docs/protocol.md, "Matched book"): the root's position vector V (the sum of every chunk's position
vector and every padding node's, bound by the root digest; each chunk's proven to commit to its accounts' net
positions) is ``β·H``, i.e. a commitment to the zero vector. The operator publishes only the blinding sum β; the
check is :func:`zkclear.verifier.root.check_matched_book`, run by every participant and the auditor. A hidden or
omitted position (a defaulted account left out) makes some instrument's sum non-zero, and the check fails unless
the operator can find a discrete-log relation among G_1..G_n and H.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zkclear.crypto.field import R
from zkclear.errors import ProvingError


def matched_book_blinding(vector_blindings: Iterable[int], padding_blindings: Iterable[int]) -> int:
    """β = Σ chunk position-vector blindings + Σ padding-node position-vector blindings (mod r)."""
    beta = 0
    for blinding in (*vector_blindings, *padding_blindings):
        beta = (beta + blinding) % R
    return beta


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
