"""The matched book: for every instrument, the positions of all accounts sum to zero.

Statement (docs/protocol.md, "Matched book"): for each instrument j, over every leaf of the tree
(real and padding accounts), ``Σ_i C_{q_j,i} = β_j·H``, i.e. the sum of the position commitments is
a commitment to 0. The operator publishes only the blinding sums β_j; the auditor recomputes the
left side from the leaf commitments. A hidden or omitted position (a defaulted account left out)
makes the sum non-zero, and the check fails unless the operator can find a discrete-log relation
between G and H.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.crypto.field import R
from zkclear.crypto.group import G1Point
from zkclear.crypto.pedersen import commit
from zkclear.errors import ProvingError, VerificationError


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


def position_sums(position_commitments: Sequence[Sequence[G1Point]], instrument_count: int) -> list[G1Point]:
    """Σ_i C_{q_j,i} for each instrument j."""
    sums = [G1Point.identity()] * instrument_count
    for index, account in enumerate(position_commitments):
        if len(account) != instrument_count:
            raise VerificationError("matched-book", index=index)
        sums = [total + c for total, c in zip(sums, account, strict=True)]
    return sums


def verify_matched_book(position_commitments: Sequence[Sequence[G1Point]], betas: Sequence[int]) -> None:
    """Raise VerificationError("matched-book", index=j) unless every instrument's sum opens to 0 with β_j."""
    sums = position_sums(position_commitments, len(betas))
    for j, (total, beta) in enumerate(zip(sums, betas, strict=True)):
        if total != commit(0, beta):
            raise VerificationError("matched-book", index=j)
