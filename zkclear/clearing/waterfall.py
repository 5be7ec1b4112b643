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
score first, ties by account id; exact rationals (``fractions.Fraction``) decide the order (float64 scores only
narrow down, with a safe margin, which accounts a deleveraging needs to compare). The clearing house's
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


def adl_ranking(book: Book, column: int, side: int, exclude: int, lots_needed: int | None = None) -> list[int]:
    """Rows holding a position of sign ``-side`` in ``column``, highest ADL score first, ties by account
    id; the backstop last. With ``lots_needed``, only the first rows of that order that hold that many lots
    between them (all of them when they hold fewer): see :func:`_covering_candidates`."""
    held = book.positions[:, column]
    rows = np.flatnonzero(held * side < 0)
    rows = rows[(rows != exclude) & (rows != book.insurance_row) & (rows != book.fee_row)]
    if rows.size == 0:
        return []
    per_lot = np.array(book.value_per_lot, dtype=np.int64)
    notional = (np.abs(book.positions[rows]) * per_lot).sum(axis=1)
    equity = book.equities()[rows]  # equity (cash plus premium-style option value plus collateral)
    deposits = book.net_deposits[rows]
    if lots_needed is not None:
        keep = _covering_candidates(rows, np.abs(held[rows]), equity, deposits, notional, book.backstop_row,
                                    lots_needed)
        rows, equity, deposits, notional = rows[keep], equity[keep], deposits[keep], notional[keep]
    # One rational per distinct (equity, net deposits, notional): accounts alike tie on the same object, which the
    # sort compares by identity (a crowd of identical accounts is what the float prefilter cannot thin out).
    scores: dict[tuple[int, int, int], Fraction] = {}
    keyed = []
    for row, inputs in zip(rows.tolist(), zip(equity.tolist(), deposits.tolist(), notional.tolist(), strict=True),
                           strict=True):
        score = scores.get(inputs)
        if score is None:
            score = scores[inputs] = -adl_score(*inputs)
        keyed.append((row == book.backstop_row, score, row))
    keyed.sort()
    ranked = [row for _, _, row in keyed]
    if lots_needed is None:
        return ranked
    sizes = dict(zip(rows.tolist(), np.abs(held[rows]).tolist(), strict=True))
    covered = 0
    for k, row in enumerate(ranked):
        covered += sizes[row]
        if covered >= lots_needed:
            return ranked[:k + 1]
    return ranked


#: relative error allowed for a float64 ADL score (a handful of roundings of 2^-53 each, with a wide margin)
_SCORE_MARGIN = 1e-12


def _covering_candidates(rows: np.ndarray, sizes: np.ndarray, equity: np.ndarray, deposits: np.ndarray,
                         notional: np.ndarray, backstop: int, lots_needed: int) -> np.ndarray:
    """A mask of ``rows`` holding every row of the exact ranking's shortest prefix that covers ``lots_needed``
    lots: the backstop, and every user whose float64 score is at least the score ``T`` at which the float order
    covers them, less ``_SCORE_MARGIN · |T|``. Exact where the float order errs: a float score is within a relative
    ``10^-15`` of the exact one and has its sign, so every row the exact order puts before a row of the float
    prefix scores at least ``T − 4 · 10^-15 · |T|`` in floats (red team s16: the exact rationals of every
    opposite-side holder, computed for every bankruptcy, cost 0.14 s per ADL with 20,000 holders)."""
    if max(int(np.abs(equity).max()), int(np.abs(deposits).max())) < 2**62:  # |E − D| < 2^63: exact in int64
        numerator = np.minimum(equity - deposits, equity).astype(np.float64)
    else:  # equity with collateral can pass 2^62: the difference in Python ints
        numerator = np.array([float(min(e - d, e)) for e, d in zip(equity.tolist(), deposits.tolist(), strict=True)])
    denominator = np.maximum(np.maximum(equity, deposits), 1)
    profit_share = numerator / denominator.astype(np.float64)
    leverage = notional.astype(np.float64) / np.maximum(equity, 1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        losing = np.where(leverage != 0, profit_share / leverage, profit_share)
    score = np.where(numerator > 0, profit_share * leverage, losing)
    user = rows != backstop
    order = np.flatnonzero(user)[np.argsort(-score[user], kind="stable")]
    reached = np.searchsorted(np.cumsum(sizes[order]), lots_needed)
    if reached >= order.size:
        return np.ones(rows.size, dtype=bool)
    threshold = score[order[reached]]
    return (score >= threshold - _SCORE_MARGIN * abs(threshold)) | ~user


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
        for counterparty in adl_ranking(book, column, side, row, remaining):
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
    """Leave ``residue`` of ``row`` to the current liquidation round's socialized loss, which
    :func:`socialize_round` allocates at the round's end (``row`` stays at ``-residue`` equity until then)."""
    if residue:
        book.unsocialized.append((row, residue))


def socialize_round(book: Book) -> None:
    """Pay the round's residues (:func:`socialize`) at once, each bankrupt account receiving exactly its residue:
    the insurance fund first, as far as it goes (it is empty when a residue arises, but a later candidate of the
    round can pay it a penalty), then the rest in one allocation pro rata to the positive equity of every account
    but the insurance fund and the round's bankrupt accounts (the fee account and the backstop take part like users:
    their cash is the clearing house's own capital), with :func:`allocate_pro_rata` in id order; one
    :class:`SocializedLoss` record. Because balances sum to deposits minus withdrawals, the others' positive equity
    covers what the fund does not; :class:`ClearingError` otherwise (an insolvent book)."""
    residues, book.unsocialized = book.unsocialized, []
    total = sum(amount for _, amount in residues)
    if total == 0:
        return
    fund = book.insurance_row
    insurance_paid = max(0, min(total, book.equity(fund)))
    rest = total - insurance_paid
    charges: list[tuple[int, int]] = []
    if rest:
        equities = book.equities()
        eligible = equities > 0
        eligible[[fund, *(row for row, _ in residues)]] = False
        rows = np.flatnonzero(eligible)
        weights = equities[rows].tolist()
        if sum(weights) < rest:
            raise ClearingError(f"clearing house insolvent: residue {rest} exceeds all positive equity left")
        charges = [(payer, amount) for payer, amount in zip(rows.tolist(), allocate_pro_rata(rest, weights),
                                                            strict=True) if amount]
    book.pay_many([(fund, insurance_paid)] * bool(insurance_paid) + charges, residues)
    book.socialized.append(SocializedLoss(tuple((book.accounts[row], amount) for row, amount in residues),
                                          insurance_paid,
                                          tuple((book.accounts[row], amount) for row, amount in charges)))
