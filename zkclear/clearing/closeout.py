"""The smallest partial close-out that restores an account's liquidation target (docs/clearing.md, "Liquidation").

**Unit.** A close-out is a *fraction* ``f`` (ppm, ``1 … PPM``) of every position: ``c_i(f) = sign(q_i) ·
ceil(|q_i| · f / PPM)`` lots of each instrument. One fraction for the whole account (rather than a choice of
lots per instrument) keeps the account's shape: a hedged package — a spread, a straddle, an option against its
future — stays hedged as it shrinks, which per-instrument choices would break (and portfolio margin would then
charge more, not less). It also gives a total order, so "the smallest close-out" is one well-defined answer.

**Target.** With equity ``E`` and ``penalty(f) = min(ceil(Σ_i |c_i(f)| · v_i · penalty_ppm / PPM), E)`` (``v_i``
the value of a lot at the mark), the close-out ``f`` *restores* the account when

    E − penalty(f) ≥ target(f) = ceil(MM(q − c(f)) · (PPM + buffer_ppm) / PPM).

``f = PPM`` always restores (``MM(0) = 0`` and the penalty is capped at ``E``). Restoring is **not** monotone in
``f``: the penalty grows with every lot closed, the requirement falls, and when an instrument's maintenance
fraction is below ``penalty · (1 + buffer)`` closing more of it makes things worse (issue 12: 1 lot at 5 % and
500 lots at 0.5 %; closing 1 lot of each restores, closing half does not). So no bisection.

**Search.** Branch and bound over ``[1, PPM]``, left half first, with two facts that hold by construction
(no monotonicity of the target test is assumed):

1. ``penalty(f)`` is non-decreasing in ``f`` (each ``|c_i(f)|`` is, ``v_i ≥ 0``, ``ceil`` and ``min(·, E)`` are
   monotone), so on an interval ``[a, b]`` the penalty is at least ``penalty(a)``;
2. for ``f ∈ [a, b]`` every remaining position ``q_i − c_i(f)`` lies between ``q_i − c_i(a)`` and
   ``q_i − c_i(b)`` (same sign as ``q_i``), so the requirement's lower bound over that box is at most
   ``MM(q − c(f))``: for standard accounts each instrument's requirement is a maximum of linear forms in
   ``|q|`` (``RiskModel.forms``, which the models' requirements equal exactly), whose minimum over an
   interval is at an end; for portfolio accounts every scenario loss is linear in the positions (minimum at
   an end of each coordinate) and the per-position charges are too.

An interval with ``E − penalty(a) < target(lower bound)`` holds no restoring ``f`` and is skipped; an interval
on which the close-out vector is constant is decided by one exact test (the engine's own requirement,
:meth:`Book.requirement`). The first interval found, scanning left to right, holds the smallest ``f``. The cost
is a few dozen bound evaluations for ordinary accounts; the worst case is bounded by the number of distinct
close-out vectors (``≤ min(PPM, Σ|q_i|)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zkclear.clearing.book import Book
from zkclear.clearing.margin import PORTFOLIO_MODE, MarginLevel
from zkclear.clearing.money import PPM, ceil_div


def closing_lots(lots: Sequence[int], fraction_ppm: int) -> list[int]:
    """``sign(q) · ceil(|q| · f / PPM)`` lots of every position ``q`` (signed like the position)."""
    return [(1 if q > 0 else -1) * ceil_div(abs(q) * fraction_ppm, PPM) if q else 0 for q in lots]


def liquidation_target(book: Book, maintenance: int) -> int:
    """``ceil(MM · (PPM + buffer_ppm) / PPM)``: the equity a partial liquidation must leave."""
    return ceil_div(maintenance * (PPM + book.config.liquidation_buffer_ppm), PPM)


def liquidation_penalty(book: Book, closing: Sequence[int], equity: int, penalty_ppm: int) -> int:
    """``min(ceil(closed notional · penalty_ppm / PPM), E)``, never negative."""
    closed_notional = sum(abs(c) * v for c, v in zip(closing, book.value_per_lot, strict=True))
    return max(0, min(ceil_div(closed_notional * penalty_ppm, PPM), equity))


class _CloseOut:
    """One account's close-out search, with its per-instrument data gathered once (the bound is evaluated a
    few dozen times per liquidation, so it works on plain ints)."""

    def __init__(self, book: Book, row: int, lots: Sequence[int], equity: int, penalty_ppm: int) -> None:
        self.book, self.row, self.lots = book, row, list(lots)
        self.equity, self.penalty_ppm = equity, penalty_ppm
        self.buffer_ppm = book.config.liquidation_buffer_ppm
        #: the held columns: (column, |q|, value per lot)
        self.held = [(j, abs(q), book.value_per_lot[j]) for j, q in enumerate(self.lots) if q]
        self.portfolio = book.mode(row) == PORTFOLIO_MODE
        self._closed: dict[int, list[int]] = {}
        if not self.portfolio:
            models = book.config.risk_models
            self.forms = []
            for j, _, _ in self.held:
                risk = book.params.instruments[j]
                forms = models.get(risk.margin_model).forms(risk, MarginLevel.MAINTENANCE)
                self.forms.append([(f.coefficient(self.lots[j]), f.constant, f.denominator) for f in forms])

    def closing(self, fraction_ppm: int) -> list[int]:
        return closing_lots(self.lots, fraction_ppm)

    def closed(self, fraction_ppm: int) -> list[int]:
        """``ceil(|q| · f / PPM)`` per held column (remembered: neighbouring intervals share ends)."""
        closed = self._closed.get(fraction_ppm)
        if closed is None:
            closed = self._closed[fraction_ppm] = [-((-size * fraction_ppm) // PPM) for _, size, _ in self.held]
        return closed

    def penalty(self, closed: list[int]) -> int:
        notional = sum(c * v for c, (_, _, v) in zip(closed, self.held, strict=True))
        return max(0, min(-((-notional * self.penalty_ppm) // PPM), self.equity))

    def _portfolio_bound(self, near: list[int], far: list[int]) -> int:
        table = self.book.params.scenario_table
        ends = []
        for (j, size, _), closed_low, closed_high in zip(self.held, near, far, strict=True):
            sign = 1 if self.lots[j] > 0 else -1
            ends.append((j, sign * (size - closed_high), sign * (size - closed_low)))
        worst_total = 0
        for _, columns in table.groups:
            worst = 0
            for s in columns:
                # loss_s = −Σ q_j·E[j][s] is linear in each q_j: its minimum over the box is at an end.
                loss = -sum(max(low * table.value_changes[j][s], high * table.value_changes[j][s])
                            for j, low, high in ends)
                worst = max(worst, loss)
            worst_total += worst
        charges = sum(min(table.position_charges[j].charge(low), table.position_charges[j].charge(high))
                      for j, low, high in ends)
        return ceil_div(worst_total, table.scale) + charges

    def target(self, requirement: int) -> int:
        return -((-requirement * (PPM + self.buffer_ppm)) // PPM)

    def may_restore(self, low: int, high: int) -> bool:
        """False only if no fraction in ``[low, high]`` restores (facts 1 and 2 of the module docstring)."""
        near = self.closed(low)
        far = near if high == low else self.closed(high)
        if self.portfolio:
            return self.equity - self.penalty(near) >= self.target(self._portfolio_bound(near, far))
        # Standard accounts, inlined (the hot loop of a liquidation): penalty at ``low``, requirement bound
        # from the remaining lots at both ends.
        notional = bound = 0
        for (_, size, value), forms, closed_low, closed_high in zip(self.held, self.forms, near, far,
                                                                    strict=True):
            notional += closed_low * value
            best = 0
            for coefficient, constant, denominator in forms:
                remaining = size - (closed_high if coefficient >= 0 else closed_low)
                line = -((constant - coefficient * remaining) // denominator)
                if line > best:
                    best = line
            bound += best
        penalty = max(0, min(-((-notional * self.penalty_ppm) // PPM), self.equity))
        return self.equity - penalty >= self.target(bound)

    def restores(self, fraction_ppm: int) -> bool:
        """The exact test, with the engine's own requirement of the account."""
        closing = self.closing(fraction_ppm)
        after = [q - c for q, c in zip(self.lots, closing, strict=True)]
        penalty = liquidation_penalty(self.book, closing, self.equity, self.penalty_ppm)
        return self.equity - penalty >= liquidation_target(self.book, self.book.requirement(self.row, after))


def smallest_closing(book: Book, row: int, lots: list[int], equity: int, penalty_ppm: int) -> list[int]:
    """The close-out of the smallest fraction that restores the account's target (module docstring); the
    whole position when only the full close-out does."""
    account = _CloseOut(book, row, lots, equity, penalty_ppm)
    found = first_fraction(account.closed, account.restores, account.may_restore)
    return account.closing(found if found is not None else PPM)


def first_fraction(closed_at: Callable[[int], list[int]], restores: Callable[[int], bool],
                   may_restore: Callable[[int, int], bool]) -> int | None:
    """The smallest ``f`` in ``[1, PPM]`` with ``restores(f)``, or None.

    ``may_restore(a, b)`` must be True whenever some ``f`` in ``[a, b]`` restores (it may be True when none
    does): intervals where it is False are skipped. An interval on which ``closed_at`` (the close-out) is
    constant is decided by one call of ``restores``."""
    stack = [(1, PPM)]
    while stack:
        low, high = stack.pop()
        if not may_restore(low, high):
            continue
        if closed_at(low) == closed_at(high):  # one close-out on the whole interval: one exact test
            if restores(low):
                return low
            continue
        middle = (low + high) // 2
        stack.append((middle + 1, high))
        stack.append((low, middle))
    return None
