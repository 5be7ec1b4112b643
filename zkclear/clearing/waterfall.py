"""The default waterfall: insurance fund, then auto-deleveraging (ADL) or socialized loss.

Exact integer allocation everywhere (:func:`allocate_pro_rata`, largest remainder, ties by order), so a
residue is covered to the unit and the same inputs always produce the same payments.

ADL rank (BitMEX's shape, profit on the capital at stake instead of on the entry value, which the engine does
not keep), for each opposite-side account ``k`` with equity ``E_k``, net deposits ``D_k`` (deposits minus
withdrawals, possibly ``<= 0``) and total notional ``N_k``::

    profit_share_k = min(E_k - D_k, E_k) / max(E_k, D_k, 1)      in [-1, 1] when E_k >= 0
    leverage_k     = N_k / max(E_k, 1)
    score_k        = profit_share_k * leverage_k  if profit_share_k > 0  else  profit_share_k / leverage_k

``profit_share`` is the share of the capital at stake (the larger of equity and net deposits) that is profit or
loss: ``1 - D/E`` for a winner, ``(E - D) / D`` for a loser, and exactly 1 — "all of the equity is profit" — for an
account whose net deposits are zero or negative (it withdrew its deposit, or more). It is continuous in ``D``
and bounded, so such an account ranks like the most profitable trader at its leverage, not ahead of everyone
(the earlier ``(E - D) / max(D, 1)`` made it ``E - D`` settlement units, first whatever its leverage). Highest
score first, ties by account id; exact rationals (``fractions.Fraction``), no floats. The clearing house's
backstop ranks after every user: its positions come from liquidations the clearing house is working off and its
equity is the insurance fund's capital, not a trader's profit.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from zkclear.clearing.book import AdlEvent, Book, SocializedLoss
from zkclear.errors import ClearingError


def allocate_pro_rata(total: int, weights: list[int]) -> list[int]:
    """Split ``total >= 0`` into integer parts proportional to ``weights >= 0`` (sum > 0), summing exactly to
    ``total``: each part is ``floor(total * w / W)`` and the leftover units go one each to the largest
    fractional remainders, earlier entries first on ties."""
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ClearingError("pro-rata allocation over zero weight")
    parts = [total * w // weight_sum for w in weights]
    leftover = total - sum(parts)
    if leftover:
        order = sorted(range(len(weights)), key=lambda k: (-((total * weights[k]) % weight_sum), k))
        for k in order[:leftover]:
            parts[k] += 1
    return parts


def adl_score(equity: int, net_deposits: int, notional: int) -> Fraction:
    """The ADL ranking score of one account (higher is deleveraged first); see the module docstring."""
    profit_share = Fraction(min(equity - net_deposits, equity), max(equity, net_deposits, 1))
    leverage = Fraction(notional, max(equity, 1))
    if profit_share > 0:
        return profit_share * leverage
    return profit_share / leverage if leverage else profit_share


def adl_ranking(book: Book, column: int, side: int, exclude: int) -> list[int]:
    """Rows holding a position of sign ``-side`` in ``column``, highest ADL score first, ties by account
    id; the backstop last."""
    held = book.positions[:, column]
    rows = np.flatnonzero(held * side < 0)
    rows = rows[(rows != exclude) & (rows != book.insurance_row) & (rows != book.fee_row)]
    if rows.size == 0:
        return []
    per_lot = np.array(book.value_per_lot, dtype=np.int64)
    notional = (np.abs(book.positions[rows]) * per_lot).sum(axis=1).tolist()
    cash = book.equities()[rows].tolist()  # equity (cash plus premium-style option value)
    deposits = book.net_deposits[rows].tolist()
    keyed = [(row == book.backstop_row, -adl_score(cash[k], deposits[k], notional[k]), int(row))
             for k, row in enumerate(rows.tolist())]
    keyed.sort()
    return [row for _, _, row in keyed]


def deleverage(book: Book, row: int, closing: list[int], residue: int, weights: list[int] | None = None) -> None:
    """Close ``closing`` lots (per instrument, signed like the position of ``row``) against opposite-side
    accounts in ADL rank order, at the bankruptcy price: besides the lots, the counterparties pay ``row``
    exactly ``residue`` in total (split over instruments pro rata to ``weights``, per instrument — the closed
    notional when None — then over counterparties pro rata to lots taken). ``residue = 0`` closes at the mark."""
    columns = [c for c, lots in enumerate(closing) if lots]
    if not columns:
        if residue:
            raise ClearingError("deleverage with a residue but nothing to close")
        return
    if weights is None:
        weights = [abs(lots) * value for lots, value in zip(closing, book.value_per_lot, strict=True)]
    shares = allocate_pro_rata(residue, [weights[c] for c in columns])
    for column, share in zip(columns, shares, strict=True):
        side = 1 if closing[column] > 0 else -1
        remaining = abs(closing[column])
        takes: list[tuple[int, int]] = []
        for counterparty in adl_ranking(book, column, side, row):
            lots = min(abs(int(book.positions[counterparty, column])), remaining)
            takes.append((counterparty, lots))
            remaining -= lots
            if remaining == 0:
                break
        if remaining:
            raise ClearingError("the book is not matched: no opposite side left to deleverage")
        payments = allocate_pro_rata(share, [lots for _, lots in takes])
        instrument = book.params.instruments[column].instrument_id
        for (counterparty, lots), payment in zip(takes, payments, strict=True):
            moved = [0] * len(closing)
            moved[column] = side * lots
            book.move_lots(row, counterparty, moved)
            book.pay(counterparty, row, payment)
            book.adl.append(AdlEvent(book.accounts[row], book.accounts[counterparty], instrument, lots,
                                     payment))


def socialize(book: Book, row: int, residue: int) -> None:
    """Cover ``residue`` for ``row`` from every other account with positive equity, pro rata to that equity.

    The fee account and the backstop take part like users (their cash is the clearing house's own capital);
    the insurance fund is already empty when this runs. Because balances sum to deposits minus withdrawals,
    the others' positive equity always covers the residue; :class:`ClearingError` otherwise (an insolvent
    book)."""
    if residue == 0:
        return
    excluded = {row, book.insurance_row}
    equities = book.equities()
    rows = [r for r in np.flatnonzero(equities > 0).tolist() if r not in excluded]
    weights = equities[rows].tolist() if rows else []
    if sum(weights) < residue:
        raise ClearingError(f"clearing house insolvent: residue {residue} exceeds all positive equity left")
    for payer, amount in zip(rows, allocate_pro_rata(residue, weights), strict=True):
        if amount:
            book.pay(payer, row, amount)
            book.socialized.append(SocializedLoss(book.accounts[row], book.accounts[payer], amount))
