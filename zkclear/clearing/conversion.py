"""Conversion of collateral at liquidation: the first step for an account below maintenance that holds
collateral assets (docs/clearing.md, "Collateral assets" — "Liquidation with collateral").

Converting ``x`` smallest units of an asset credits the proceeds ``G(x)`` less the penalty ``P`` (``AssetRisk.
conversion``) and removes ``h(b) − h(b − x)`` of haircut value, so the account's equity after it is

    E(x) = E + (G(x) − P(G(x))) − (h(b) − h(b − x)).

Per unit of value converted this gains ``(1 − penalty) − ratio`` of the tier the unit is in: converting helps
where the haircut is larger than the penalty and hurts where it is smaller. Collateral is converted from the top
of its value down (the lowest ratios, concavity), so ``E(x)`` rises while the units converted lie above the
*threshold* ``T`` — the upper bound of the last tier whose ratio is at least ``1 − penalty`` (0 when there is
none) — and falls below it.

For an account with equity ``E < MM`` (its maintenance requirement) and target ``⌈MM · (1 + buffer)⌉``:

1. its assets in :func:`~zkclear.clearing.assets.order_for_conversion` order (the largest haircut first); for
   each, while the account is below its target: the amount ``x ≤ x_max`` (the units whose value lies above
   ``T``) found by bisection on ``[0, x_max]`` with ``E(x) ≥ target`` and ``E(x − 1) < target`` — the
   smallest restoring amount up to the rounding of a unit (``E`` is non-decreasing there up to it); ``x_max``
   when no amount restores (unless rounding would leave the account no better off);
2. if its equity is still negative (bankrupt), all of its remaining collateral, in the same order: a bankrupt
   account keeps no collateral against a settlement debt the insurance fund is about to cover.

The liquidation pass then closes positions only if the account is still below maintenance.

An asset whose price instrument's mark is withheld this epoch (the oracle guard paused it, or the circuit breaker
clamped it away from the market's median) is not converted in either step: a conversion is a sale by the clearing
house at the mark, and no one buys at a mark that is not the market's — converting at it would credit the account
money the sale never brings in (red team session 15: BTC bought at the market and deposited while its mark was a
fallback at twice the market price restored an account with the gap). The asset waits for a mark that is the
market's; the account is liquidated through its positions meanwhile.
"""

from __future__ import annotations

from zkclear.clearing.assets import AssetRisk, order_for_conversion
from zkclear.clearing.book import Book
from zkclear.clearing.closeout import liquidation_target
from zkclear.clearing.money import PPM


def gainful_units(risk: AssetRisk, balance: int) -> int:
    """``x_max``: the units of ``balance`` whose value lies above the threshold ``T`` (module docstring), the
    only ones whose conversion raises the account's equity."""
    threshold = 0
    for tier in risk.haircut_tiers:
        if tier.ratio_ppm < PPM - risk.conversion_penalty_ppm:
            break
        if tier.upper_bound == 0:
            return 0  # every tier counts more than its conversion would bring in
        threshold = tier.upper_bound
    return max(0, balance - risk.units_for_value(threshold))


def _restoring_amount(book: Book, row: int, asset: int, target: int) -> int:
    """How much of asset ``asset`` to convert (module docstring, step 1); 0 for none."""
    risk = book.assets[asset]
    balance = int(book.balances[row, asset])
    ceiling = gainful_units(risk, balance)
    if not ceiling:
        return 0
    equity, held = book.equity(row), risk.haircut_value(balance)

    def equity_after(amount: int) -> int:
        proceeds, penalty = risk.conversion(amount)
        return equity + proceeds - penalty - held + risk.haircut_value(balance - amount)

    best = equity_after(ceiling)
    if best <= equity:
        return 0
    if best < target:
        return ceiling
    low, high = 0, ceiling  # equity_after(low) < target <= equity_after(high)
    while high - low > 1:
        middle = (low + high) // 2
        if equity_after(middle) >= target:
            high = middle
        else:
            low = middle
    return high


def convert_collateral(book: Book, row: int, maintenance: int) -> None:
    """Convert account ``row``'s collateral toward its liquidation target (module docstring), recording each
    conversion in ``book.conversions``."""
    target = liquidation_target(book, maintenance)
    for asset in _convertible(book, row):
        if book.equity(row) >= target:
            return
        amount = _restoring_amount(book, row, asset, target)
        if amount:
            book.convert(row, asset, amount)
    if book.equity(row) < 0:
        for asset in _convertible(book, row):
            book.convert(row, asset, int(book.balances[row, asset]))


def _convertible(book: Book, row: int) -> list[int]:
    """The assets account ``row`` holds, in conversion order, but those whose mark is withheld this epoch."""
    return [asset for asset in order_for_conversion(book.assets, book.balances[row].tolist())
            if asset not in book.withheld_assets]
