"""The collateral assets' part of an epoch (docs/clearing.md, "Collateral assets"): deposits, withdrawals checked
against the initial requirement after haircut, the refusal of an epoch whose balances the statements could not
prove, and the conservation of every asset to the unit.

Net deposits (the ADL ranking's capital at stake) count a collateral deposit at the haircut value it adds at the
epoch's price, and a collateral withdrawal at the haircut value it removes, so a trader who posts BTC is not
ranked as if the BTC were profit; these contributions saturate at ``±(2^62 − 1)`` (a ranking input, never money:
prices moving between a deposit and a withdrawal could otherwise walk it out of int64 over many epochs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkclear.clearing.assets import AssetRisk
from zkclear.clearing.book import Book
from zkclear.clearing.config import ClearingConfig
from zkclear.clearing.inputs import DEPOSIT, ResolvedInputs, Transfer
from zkclear.clearing.money import exact_sum, saturated
from zkclear.clearing.provable import MAX_TOTAL_LIABILITIES, Breach
from zkclear.clearing.refusals import latest_fill_column, refusal
from zkclear.errors import ClearingError, InputError

_UNPROVABLE = "the epoch's collateralization statements could not be proven (docs/clearing.md, " \
              "\"Provable by construction\")"


def expand_balances(balances: np.ndarray, resolved: ResolvedInputs, assets: int) -> np.ndarray:
    """The previous state's balances (accounts x assets) on this epoch's rows (new accounts hold nothing)."""
    expanded = np.zeros((len(resolved.accounts), assets), dtype=np.int64)
    expanded[resolved.previous_rows] = balances
    return expanded


def credit_deposits(balances: np.ndarray, resolved: ResolvedInputs) -> list[int]:
    """Credit the epoch's collateral deposits (validated: every balance stays within its bound and cap);
    returns the units deposited per asset."""
    deposited = [0] * balances.shape[1]
    for row, asset, amount, _record in resolved.asset_deposits:
        balances[row, asset] += amount
        deposited[asset] += amount
    return deposited


def count_deposits_in_net_deposits(net_deposits: np.ndarray, before: np.ndarray, after: np.ndarray,
                                   assets: Sequence[AssetRisk]) -> None:
    """``net_deposits[a] += Σ_k h_k(after) − h_k(before)`` for every account that deposited collateral, saturated
    (module docstring). The balances are within the collateral bounds, so every term is below ``2^62``."""
    for row in np.flatnonzero(np.any(after != before, axis=1)).tolist():
        added = sum(asset.haircut_value(int(after[row, k])) - asset.haircut_value(int(before[row, k]))
                    for k, asset in enumerate(assets))
        net_deposits[row] = saturated(int(net_deposits[row]) + added)


def collateral_refusal(row: int | None, asset: int, message: str, resolved: ResolvedInputs,
                       config: ClearingConfig) -> InputError:
    """The :class:`InputError` refusing an epoch whose collateral breaks a statement bound: blamed on the
    account's last deposit of the asset this epoch (field ``amount``), else on the record the price
    instrument's mark came from (field ``mark_price``)."""
    if row is not None:
        account = resolved.accounts[row]
        deposits = [record for r, k, _, record in resolved.asset_deposits if r == row and k == asset]
        if deposits:
            record = deposits[-1]
            return InputError(f"account {account!r}: {message}; {_UNPROVABLE}", path=record.path,
                              line=record.line or None, field="amount")
        message = f"account {account!r}: {message}"
    spec = config.assets[asset] if asset < len(config.assets) else config.assets[-1]
    path, line = resolved.mark_sources[config.asset_column(spec)]
    return InputError(f"at this mark of {spec.price_instrument!r}, {message}; {_UNPROVABLE}", path=path,
                      line=line or None, field="mark_price")


def settlement_liabilities_refusal(cash: np.ndarray, positions: np.ndarray, equity_values: Sequence[int],
                                   transfers: Sequence[Transfer], resolved: ResolvedInputs, config: ClearingConfig,
                                   start_positions: np.ndarray, instruments: tuple[str, ...]) -> InputError | None:
    """The :class:`InputError` refusing an epoch whose settlement-asset liabilities would total past ``2^64 − 1``, or
    None. With collateral assets an account's settlement liability is ``max(cash + Σ_j v_j·q_j, 0)`` (a debt secured
    by collateral counts 0: docs/protocol.md, "Liabilities per asset"), so the tree sums the balances *plus* the
    debts, which the deposit check (the balances' sum within ``2^64 − 1``) does not bound; past it no tree node or
    solvency proof holds them (red team session 14). Blamed on the epoch's last settlement deposit (field
    ``amount``), else on the largest debtor's last fill (field ``size``) or the mark of its largest position."""
    if not config.assets:
        return None
    owed = cash + positions @ np.array(equity_values, dtype=np.int64) if any(equity_values) else cash
    total = exact_sum(np.maximum(owed, 0))
    if total <= MAX_TOTAL_LIABILITIES:
        return None
    net = exact_sum(owed)
    message = (f"the settlement liabilities of all accounts would total {total}, past 2^64 − 1 (the balances net to "
               f"{net}; the {total - net} owed by accounts in debt against their collateral is not netted)")
    last = None  # the epoch's last settlement deposit (the transfers are read in order, a block at a time)
    for transfer in transfers:
        if transfer.kind == DEPOSIT and transfer.asset in ("", config.settlement_asset):
            last = transfer
    if last is not None:
        return InputError(f"{message}; {_UNPROVABLE}", path=last.path, line=last.line or None, field="amount")
    debtor = int(np.argmin(owed))
    column = latest_fill_column(resolved, instruments, debtor)
    if column is None:
        column = int(np.argmax(np.abs(positions[debtor]))) if positions.shape[1] else 0
    return refusal(Breach(debtor, column, message), resolved, start_positions, instruments,
                   config.statement_limits.max_position)


def withdraw_collateral(book: Book, row: int, asset: int, amount: int, initial: int,
                        net_deposits: np.ndarray) -> str:
    """Honour a withdrawal of ``amount`` units of collateral ``asset`` when the account holds them and its
    equity after losing their haircut value still covers ``initial``; returns the reason of a refusal ("" when
    honoured, and then applied to the book and to ``net_deposits``)."""
    risk = book.assets[asset]
    balance = int(book.balances[row, asset])
    if amount > balance:
        return f"the account holds {balance} {risk.asset_id}, less than the amount"
    removed = risk.haircut_value(balance) - risk.haircut_value(balance - amount)
    equity = book.equity(row)
    if equity - removed < initial:
        return (f"equity after withdrawal {equity - removed} (the {risk.asset_id} counted {removed}) would be below "
                f"the initial requirement {initial}")
    book.balances[row, asset] = balance - amount
    book.collateral[row] -= removed
    net_deposits[row] = saturated(int(net_deposits[row]) - removed)
    return ""


def check_collateral_invariants(balances: np.ndarray, totals: Sequence[tuple[int, int, int]], asset_ids: Sequence[str],
                                cash_only_rows: Sequence[int]) -> None:
    """:class:`ClearingError` unless every balance is non-negative, the clearing house's own accounts hold no
    collateral, and every asset is conserved to the unit: ``Σ balances = deposited − withdrawn − converted``."""
    if balances.size and int(balances.min()) < 0:
        raise ClearingError("a collateral balance is negative")
    if balances.size and np.any(balances[list(cash_only_rows)]):
        raise ClearingError("a clearing-house account holds collateral")
    for k, (deposited, withdrawn, converted) in enumerate(totals):
        held = exact_sum(balances[:, k])
        if held != deposited - withdrawn - converted:
            raise ClearingError(f"conservation of {asset_ids[k]} broken: balances {held} != deposited {deposited} - "
                                f"withdrawn {withdrawn} - converted {converted}")
