"""The liquidation pass: every account with equity below its maintenance requirement is brought back.

Per account, in account-id order with the backstop last (docs/clearing.md "Liquidation"), with ``E`` its equity and
``MM`` its maintenance requirement:

- an account holding collateral assets first converts them into the settlement asset
  (:mod:`zkclear.clearing.conversion`); if that lifts it to maintenance, no position is closed;

- ``0 <= E < MM``: close the smallest fraction ``f`` (ppm) of every position — ``ceil(|q| * f / PPM)`` lots
  each — such that ``E - penalty >= ceil(MM_after * (PPM + buffer) / PPM)``, where ``penalty =
  min(ceil(closed_notional * penalty_ppm / PPM), E)`` goes to the insurance fund, at most what it holds short of
  the amount bound (found by
  :func:`~zkclear.clearing.closeout.smallest_closing`, which assumes no monotonicity). ``f = PPM`` (full
  close-out) always qualifies. The closed lots move at the mark price to the first opted-in liquidator (id order) whose
  equity still covers its *initial* requirement with them, else to the backstop account (one the oracle guard
  exempts only while its equity and the fund's cover its maintenance with them — the fund then paying it what it
  lacks of it — or they do not raise it), else
  against opposite-side accounts at the mark.
- ``E < 0`` (bankrupt): the insurance fund pays up to the deficit ``-E``. If it covers it, the positions
  move at the mark to a liquidator / the backstop. Otherwise the residue goes to ADL (positions closed against
  opposite-side accounts at the bankruptcy price, the counterparties paying per lot at most its value at the mark
  or, for a long lot, its fall in the epoch, if more; the rest socialized) or to socialized loss (then the
  positions move at the mark), per deployment.
- the backstop itself: first the insurance fund tops it up towards ``MM * (PPM + buffer) / PPM``; if that is
  not enough it is deleveraged against opposite-side accounts (at the mark, or at the bankruptcy price for a
  residue). At the start of every round (so also when the pass ends), backstop cash above that target returns to
  the insurance fund. A backstop
  exempt for a paused instrument (docs/clearing.md "Paused liquidations") is topped up all the same; only its
  deleveraging waits.

A residue left to socialized loss (a bankrupt's, the backstop's, or the part of an ADL residue above the cap) is
not paid at once: the round collects them, and when its last candidate is done their sum is paid once — by the
insurance fund as far as a later candidate's penalty refilled it, the rest allocated over the positive equity of
every account but the insurance fund and the round's bankrupt accounts
(:func:`~zkclear.clearing.waterfall.socialize_round`; one record per round, so a crash with many bankrupt accounts
costs bankrupts + payers, not their product). The pass repeats until no account is below maintenance (ADL and
socialized losses can push others below), so on return every account satisfies ``E >= MM``.
"""

from __future__ import annotations

import numpy as np

from zkclear.clearing.book import BackstopTopUp, Book, LiquidationEvent
from zkclear.clearing.closeout import liquidation_penalty, liquidation_target, smallest_closing
from zkclear.clearing.config import DeficitResolution
from zkclear.clearing.conversion import convert_collateral
from zkclear.clearing.margin import MarginLevel, margin_requirements
from zkclear.clearing.money import MAX_AMOUNT
from zkclear.clearing.waterfall import deleverage, socialize, socialize_round
from zkclear.errors import ClearingError

MAX_ROUNDS = 10_000


def _hand_over(book: Book, row: int, closing: list[int]) -> str:
    """Move ``closing`` (lots of ``row``) at the mark to the first opted-in liquidator (id order, not ``row``)
    whose equity covers its initial requirement with them and whose account stays within the statements'
    bounds, else to the backstop if it stays within them, else close them against opposite-side accounts in
    ADL rank order at the mark (ADL only reduces positions, so it stays within the bounds, but for a portfolio
    account's scenario bounds, which the end-of-epoch check enforces: docs/clearing.md). Returns
    the receiver's id, or ``"ADL"``."""
    for liquidator in book.liquidator_rows:
        if liquidator == row:
            continue
        after = [q + c for q, c in zip(book.position_row(liquidator), closing, strict=True)]
        if (book.equity(liquidator) >= book.requirement(liquidator, after, MarginLevel.INITIAL)
                and book.within_bounds(liquidator, after)):
            book.move_lots(row, liquidator, closing)
            return book.accounts[liquidator]
    backstop = book.backstop_row
    after = [q + c for q, c in zip(book.position_row(backstop), closing, strict=True)]
    if book.within_bounds(backstop, after) and _backstop_may_take(book, after):
        raised = backstop in book.paused_rows and (book.requirement(backstop, after)
                                                   > book.requirement(backstop, book.position_row(backstop)))
        book.move_lots(row, backstop, closing)
        if raised:
            # commit the fund's part of the cover the take counted on, before a later candidate of the round or the
            # round's socialized loss spends it (red team s16: the exempt backstop ended below maintenance)
            _top_up_backstop(book, book.requirement(backstop, after), to_maintenance=True)
        return book.accounts[backstop]
    deleverage(book, row, closing, 0)
    return "ADL"


def _backstop_may_take(book: Book, after: list[int]) -> bool:
    """Whether the backstop may hold ``after``: always, unless the oracle guard exempts it this epoch (it carried a
    paused instrument in). An exempt backstop is not deleveraged until a good mark, so it takes lots only while its
    equity and what the insurance fund holds cover its maintenance requirement with them (:func:`_hand_over` then has
    the fund pay it what it lacks of that requirement), or when they do not raise that requirement; else a proving
    deployment could commit nothing while the outage lasts (docs/clearing.md "Paused liquidations")."""
    row = book.backstop_row
    if row not in book.paused_rows:
        return True
    requirement = book.requirement(row, after)
    return (requirement <= book.equity(row) + book.equity(book.insurance_row)
            or requirement <= book.requirement(row, book.position_row(row)))


def _deleverage_at_bankruptcy(book: Book, row: int, lots: list[int], residue: int) -> None:
    """Close every position of the bankrupt ``row`` by ADL at the bankruptcy price, the counterparties paying per
    lot they take at most its value at the mark — for a long lot, what it lost this epoch if more: the bankruptcy
    price stays within ``[0, max(2M, S)]`` — with the residue split over instruments pro rata to those caps; the
    rest of ``residue`` is socialized (docs/clearing.md "Liquidation": a loss made elsewhere is not charged to the
    holders of whatever lot the account kept)."""
    caps = [abs(q) * (max(value, fall) if q > 0 else value)
            for q, value, fall in zip(lots, book.value_per_lot, book.fall_per_lot, strict=True)]
    carried = min(residue, sum(caps))
    deleverage(book, row, lots, carried, caps)
    socialize(book, row, residue - carried)


def _liquidate_user(book: Book, row: int, maintenance: int) -> None:
    config = book.config
    if book.has_collateral and book.balances[row].any():
        convert_collateral(book, row, maintenance)
        if book.equity(row) >= maintenance:
            return
    equity = book.equity(row)
    lots = book.position_row(row)
    name = book.accounts[row]
    if equity >= 0:
        if not any(lots):
            raise ClearingError(f"risk model charges margin on the flat account {name!r}")
        closing = smallest_closing(book, row, lots, equity, config.liquidation_penalty_ppm)
        penalty = liquidation_penalty(book, closing, equity, config.liquidation_penalty_ppm)
        # a fund at the amount bound takes what fits (a smaller penalty only helps the closing restore)
        penalty = min(penalty, MAX_AMOUNT - int(book.cash[book.insurance_row]))
        book.pay(row, book.insurance_row, penalty)
        receiver = _hand_over(book, row, closing)
        action = "full" if closing == lots else "partial"
        book.liquidations.append(LiquidationEvent(name, action, equity, maintenance, tuple(closing),
                                                  receiver, penalty=penalty))
        return
    deficit = -equity
    covered = min(deficit, book.equity(book.insurance_row))
    book.pay(book.insurance_row, row, covered)
    residue = deficit - covered
    has_positions = any(lots)
    if residue and config.deficit_resolution is DeficitResolution.ADL and has_positions:
        _deleverage_at_bankruptcy(book, row, lots, residue)
        receiver, resolution = "ADL", "adl"
    else:
        resolution = "socialized_loss" if residue else ""
        socialize(book, row, residue)
        receiver = _hand_over(book, row, lots) if has_positions else ""
    book.liquidations.append(LiquidationEvent(name, "bankrupt", equity, maintenance, tuple(lots), receiver,
                                              deficit=deficit, insurance_paid=covered, residue=residue,
                                              resolution=resolution))


def _top_up_backstop(book: Book, maintenance: int, to_maintenance: bool = False) -> int:
    """The insurance fund tops the backstop up towards its liquidation target — towards ``maintenance`` itself with
    ``to_maintenance`` — as far as the fund goes; returns the amount paid."""
    row = book.backstop_row
    target = maintenance if to_maintenance else liquidation_target(book, maintenance)
    top_up = max(0, min(target - book.equity(row), book.equity(book.insurance_row)))
    if top_up:
        book.pay(book.insurance_row, row, top_up)
        book.topups.append(BackstopTopUp(top_up))
    return top_up


def _restore_backstop(book: Book, maintenance: int) -> None:
    row = book.backstop_row
    equity_before = book.equity(row)
    top_up = _top_up_backstop(book, maintenance)
    equity = book.equity(row)
    if equity >= maintenance:
        return
    lots = book.position_row(row)
    if equity >= 0:
        if not any(lots):
            raise ClearingError("risk model charges margin on the flat backstop account")
        closing = smallest_closing(book, row, lots, equity, 0)
        deleverage(book, row, closing, 0)
        book.liquidations.append(LiquidationEvent(book.accounts[row], "backstop_deleverage", equity_before,
                                                  maintenance, tuple(closing), "ADL"))
        return
    residue = -equity
    if book.config.deficit_resolution is DeficitResolution.ADL and any(lots):
        _deleverage_at_bankruptcy(book, row, lots, residue)
        resolution = "adl"
    else:  # socialized loss, or nothing left to deleverage against (e.g. a loss on an expired future)
        socialize(book, row, residue)
        deleverage(book, row, lots, 0)
        resolution = "socialized_loss"
    book.liquidations.append(LiquidationEvent(book.accounts[row], "bankrupt", equity_before, maintenance,
                                              tuple(lots), "ADL", deficit=-equity_before,
                                              insurance_paid=top_up,
                                              residue=residue, resolution=resolution))


def _return_backstop_surplus(book: Book) -> None:
    """Backstop cash above its target goes back to the insurance fund: the fund is the one capital pool (as much as
    it holds short of the amount bound; the backstop keeps the rest)."""
    row = book.backstop_row
    surplus = book.equity(row) - liquidation_target(book, book.requirement(row, book.position_row(row)))
    surplus = min(surplus, MAX_AMOUNT - int(book.cash[book.insurance_row]))
    if surplus > 0:
        book.pay(row, book.insurance_row, surplus)
        book.topups.append(BackstopTopUp(-surplus))


def liquidation_pass(book: Book) -> None:
    """Liquidate until every account has ``equity >= maintenance requirement`` (module docstring).

    Raises :class:`ClearingError` if the waterfall cannot restore the book (insolvency) or does not settle.
    """
    system_rows = np.array([book.insurance_row, book.fee_row])
    backstop = book.backstop_row
    for _ in range(MAX_ROUNDS):
        # the house's capital above the backstop's target is the fund's before any deficit of the round is covered
        # (red team s16: a deposit to the backstop sat there while users paid a residue socialized in its epoch)
        _return_backstop_surplus(book)
        maintenance = margin_requirements(book.positions, book.params, book.config.risk_models,
                                          MarginLevel.MAINTENANCE,
                                          book.margin_modes if book.params.scenario_table is not None else None)
        below = book.equities() < maintenance
        below[system_rows] = False
        # exempt from deleveraging at a paused price, not from the fund's top-up (the house's own money)
        exempt_backstop_below = backstop in book.paused_rows and bool(below[backstop])
        if book.paused_rows:
            below[list(book.paused_rows)] = False
        # The users first, in id order, then the backstop: the insurance fund covers a user's deficit before it
        # tops up the house's own backstop margin, whatever the users' ids (red team s12: a bankrupt whose id
        # sorted after "CH:backstop" was left to ADL, the traders paying what the fund had spent on the top-up).
        candidates = sorted(np.flatnonzero(below).tolist(), key=lambda row: row == backstop)
        for row in candidates:
            requirement = book.requirement(row, book.position_row(row))
            if book.equity(row) >= requirement:
                continue  # an earlier liquidation in this round already changed this account
            if row == backstop:
                _restore_backstop(book, requirement)
            else:
                _liquidate_user(book, row, requirement)
        socialize_round(book)  # before the exempt backstop's top-up: it tops up what its share left
        if exempt_backstop_below:
            _top_up_backstop(book, book.requirement(backstop, book.position_row(backstop)))
        if not candidates:
            return
    raise ClearingError("the liquidation pass did not settle")
