"""The smallest partial close-out (issue 12, item 1): the fraction of every position, found without assuming
that the target test is monotone in it.

The oracle here is independent of the search: it enumerates every distinct close-out vector below the one
chosen (they change only at ``f = floor(k · PPM / |q|) + 1``) and evaluates the documented target with the
engine's own requirement function.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.clearing.clearing_helpers import config, deposit, epoch_inputs, fill, run
from zkclear.clearing.book import Book
from zkclear.clearing.closeout import closing_lots, smallest_closing
from zkclear.clearing.config import SYSTEM_ACCOUNTS, PortfolioMarginConfig
from zkclear.clearing.engine import risk_parameters
from zkclear.clearing.instruments import InstrumentSpec, MarginTier
from zkclear.clearing.margin import MarginLevel, account_requirement
from zkclear.clearing.money import PPM, ceil_div

A, B = "A-PERP", "B-PERP"


def _spec(instrument: str, maintenance_ppm: int, **changes: object) -> InstrumentSpec:
    fields = {"instrument_id": instrument, "kind": "perpetual", "tick_size": 1, "lot_size": 1,
              "contract_multiplier": 10, "initial_margin_ppm": min(PPM, 2 * maintenance_ppm),
              "maintenance_margin_ppm": maintenance_ppm} | changes
    return InstrumentSpec(**fields)


def test_issue_case_closes_one_lot_of_each_instead_of_everything() -> None:
    """1 lot of A (MM 5 %, 100,000 per lot) and 500 lots of B (MM 0.5 %, 1,000 per lot): MM = 5,000 + 2,500 =
    7,500 against equity 4,871. Closing 1 lot of each (f <= 2,000 ppm) costs a penalty of 1 % of 101,000 =
    1,010 and leaves 3,861 >= ceil(1.1 * 2,495) = 2,745. Closing half does not restore (penalty 3,500 leaves
    1,371 < ceil(1.1 * 1,250) = 1,375), so a bisection over f wanders off to the full close-out, which took
    the whole equity as penalty before this fix."""
    cfg = config(_spec(A, 50_000), _spec(B, 5_000))
    state, (report,) = run(cfg, epoch_inputs(
        1, {A: 10_000, B: 100}, opens=["X", "Y"],
        transfers=[deposit("X", 4_871), deposit("Y", 10**9)],
        fills=[fill("f1", "X", "Y", 1, 10_000, A), fill("f2", "X", "Y", 500, 100, B)]))
    (event,) = [e for e in report.liquidations if e.account == "X"]
    assert (event.action, event.equity_before, event.maintenance_before) == ("partial", 4_871, 7_500)
    assert event.closed_lots == (1, 1)
    assert event.penalty == 1_010
    assert state.cash_of("X") == 3_861
    assert (state.position_of("X", A), state.position_of("X", B)) == (0, 499)
    assert state.cash_of("X") >= ceil_div(ceil_div(499 * 1_000 * 5_000, PPM) * 1_100_000, PPM)


# ---------------------------------------------------------------------------------------------
# Property: no smaller close-out restores the target.

def _book(cfg, prices, positions, equity, mode="standard") -> tuple[Book, int]:
    accounts = tuple(sorted((*SYSTEM_ACCOUNTS, "X", "Y")))
    row = accounts.index("X")
    cash = np.zeros(len(accounts), dtype=np.int64)
    matrix = np.zeros((len(accounts), len(prices)), dtype=np.int64)
    matrix[row] = positions
    matrix[accounts.index("Y")] = [-q for q in positions]
    cash[row] = equity
    modes = tuple(mode if a == "X" else "standard" for a in accounts)
    params = risk_parameters(cfg, 1, tuple(prices))
    return Book(accounts=accounts, cash=cash, positions=matrix, net_deposits=np.zeros(len(accounts),
                                                                                          dtype=np.int64),
                params=params, config=cfg, margin_modes=modes), row


def _restores(book: Book, row: int, lots: list[int], equity: int, penalty_ppm: int, closing: list[int]) -> bool:
    """The documented target, computed directly (docs/clearing.md "Liquidation")."""
    notional = sum(abs(c) * risk.mark_price * risk.contract_multiplier
                   for c, risk in zip(closing, book.params.instruments, strict=True))
    penalty = max(0, min(ceil_div(notional * penalty_ppm, PPM), equity))
    after = [q - c for q, c in zip(lots, closing, strict=True)]
    maintenance = account_requirement(after, book.params, book.config.risk_models, MarginLevel.MAINTENANCE,
                                      book.mode(row))
    return equity - penalty >= ceil_div(maintenance * (PPM + book.config.liquidation_buffer_ppm), PPM)


def _breakpoints(lots: list[int], below: int) -> list[int]:
    """Every f < ``below`` at which some ``ceil(|q| f / PPM)`` changes (plus 1): the distinct close-outs."""
    points = {1} if below > 1 else set()
    for q in lots:
        for k in range(1, abs(q)):
            f = k * PPM // abs(q) + 1
            if f < below:
                points.add(f)
    return sorted(points)


def _check_minimal(book: Book, row: int, lots: list[int], equity: int, penalty_ppm: int) -> None:
    closing = smallest_closing(book, row, lots, equity, penalty_ppm)
    assert _restores(book, row, lots, equity, penalty_ppm, closing)
    fraction = next(f for f in [*_breakpoints(lots, PPM + 1), PPM] if closing_lots(lots, f) == closing)
    for f in _breakpoints(lots, fraction):
        assert not _restores(book, row, lots, equity, penalty_ppm, closing_lots(lots, f)), (f, fraction)


positions = st.integers(-300, 300)


@settings(max_examples=150, deadline=None)
@given(maintenance=st.lists(st.integers(1_000, 200_000), min_size=1, max_size=3),
       prices=st.lists(st.integers(1, 50_000), min_size=3, max_size=3),
       lots=st.lists(positions, min_size=3, max_size=3),
       equity_share=st.integers(0, PPM - 1), penalty=st.integers(0, 60_000), buffer=st.integers(0, 300_000),
       tiered=st.booleans())
def test_no_smaller_fraction_restores_the_target_standard(maintenance, prices, lots, equity_share, penalty,
                                                          buffer, tiered) -> None:
    specs = [_spec(f"I{k}", m) for k, m in enumerate(maintenance)]
    if tiered:  # a convex tier table on the first instrument (continuity: deduction = 10^6 * 50,000 / 1e6)
        specs[0] = _spec("I0", 50_000, margin_model="tiered",
                         maintenance_tiers=(MarginTier(10**6, 50_000, 0), MarginTier(10**9, 100_000, 50_000)),
                         initial_tiers=(MarginTier(10**9, 100_000, 0),))
    cfg = config(*specs, liquidation_penalty_ppm=penalty, liquidation_buffer_ppm=buffer)
    count = len(specs)
    lots = lots[:count]
    if not any(lots):
        lots[0] = 7
    book, row = _book(cfg, prices[:count], lots, 0)
    maintenance_now = book.requirement(row, lots)
    equity = maintenance_now * equity_share // PPM
    book.cash[row] = equity
    _check_minimal(book, row, lots, equity, penalty)


GROUP = "BTC"


def _portfolio_config(penalty: int, buffer: int):
    perp = _spec("BTC-PERP", 50_000, underlying=GROUP)
    future = _spec("BTC-FUT", 20_000, kind="dated_future", expiry_epoch=9, underlying=GROUP)
    other = _spec("ETH-PERP", 3_000, underlying="ETH")
    return config(perp, future, other, liquidation_penalty_ppm=penalty, liquidation_buffer_ppm=buffer,
                  portfolio_margin=PortfolioMarginConfig())


@settings(max_examples=80, deadline=None)
@given(lots=st.lists(positions, min_size=3, max_size=3), spread=st.integers(-500, 500),
       equity_share=st.integers(0, PPM - 1), penalty=st.integers(0, 60_000), buffer=st.integers(0, 300_000))
def test_no_smaller_fraction_restores_the_target_portfolio(lots, spread, equity_share, penalty, buffer) -> None:
    """Portfolio accounts: a future against the perpetual of the same group is a hedge whose rounding makes
    the requirement non-monotone in the fraction; the search must still find the smallest one."""
    cfg = _portfolio_config(penalty, buffer)
    if not any(lots):
        lots[0] = 11
    book, row = _book(cfg, [30_000, 30_000 + spread, 2_000], lots, 0, mode="portfolio")
    maintenance_now = book.requirement(row, lots)
    if maintenance_now == 0:
        return  # nothing to liquidate (a perfect hedge)
    equity = maintenance_now * equity_share // PPM
    book.cash[row] = equity
    _check_minimal(book, row, lots, equity, penalty)
