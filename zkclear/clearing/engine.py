"""The epoch state transition: ``apply_epoch(state, inputs, config) -> (new_state, report)``, a pure function.

Order of one epoch (docs/clearing.md "An epoch, step by step"):

 1. validate every input record (nothing is applied if one is bad);
 2. open accounts; credit deposits;
 3. variation margin of the start-of-epoch positions from the previous settlement price to the mark;
 4. funding of perpetuals on the start-of-epoch positions (clamped rate; rounding residue to the fee account);
 5. novation of the fills into legs, netting into positions, each leg settled against the mark; fees;
 6. final settlement of dated futures whose expiry epoch this is (positions closed at the mark);
 7. liquidation pass and the waterfall (insurance fund, ADL or socialized loss);
 8. withdrawals, each honoured only if equity after it covers the initial requirement;
 9. invariants: matched book, conservation of money, settlement flows sum to zero, every account at or above
    maintenance — a failure raises :class:`ClearingError` (a bug, never an input problem).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np

from zkclear.clearing.book import AdlEvent, BackstopTopUp, Book, LiquidationEvent, SocializedLoss
from zkclear.clearing.config import FEE_ACCOUNT, INSURANCE_FUND, ClearingConfig
from zkclear.clearing.funding import (
    FundingApplied,
    clamp_rate,
    funding_payments,
    require_position_values_bounded,
    variation_margin,
)
from zkclear.clearing.inputs import EpochInputs, ResolvedInputs, validate_inputs
from zkclear.clearing.liquidation import liquidation_pass
from zkclear.clearing.margin import (
    InstrumentRisk,
    MarginLevel,
    RiskParameters,
    account_requirement,
    margin_requirements,
)
from zkclear.clearing.money import (
    MAX_AMOUNT,
    checked_add,
    exact_sum,
    require_sum_fits_int64,
    require_within_amount,
)
from zkclear.clearing.novation import net, novate
from zkclear.clearing.state import EpochState, frozen_array
from zkclear.errors import ClearingError


@dataclass(frozen=True, slots=True)
class WithdrawalOutcome:
    """A withdrawal request and what happened to it; ``reason`` explains a rejection."""

    transfer_id: str
    account: str
    amount: int
    accepted: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class EpochReport:
    """What an epoch did. ``settlement[a]`` is account ``a``'s net settlement obligation of the epoch (trade
    settlement + variation margin + funding - fees; the fee account receives the fees and the funding rounding
    residue), aligned with the new state's ``accounts``; it sums to zero."""

    epoch: int
    accounts: tuple[str, ...]
    settlement: np.ndarray
    fees_collected: int
    funding: tuple[FundingApplied, ...]
    funding_residue: int
    expired_instruments: tuple[str, ...]
    liquidations: tuple[LiquidationEvent, ...]
    adl: tuple[AdlEvent, ...]
    socialized: tuple[SocializedLoss, ...]
    backstop_topups: tuple[BackstopTopUp, ...]
    withdrawals: tuple[WithdrawalOutcome, ...]
    risk: RiskParameters

    def to_canonical(self) -> dict:
        """Plain JSON-able form (ints, strings, lists) in a fixed order; hashed by the ledger."""
        return {
            "epoch": self.epoch,
            "settlement": self.settlement.tolist(),
            "fees_collected": self.fees_collected,
            "funding": [list(astuple(f)) for f in self.funding],
            "funding_residue": self.funding_residue,
            "expired_instruments": list(self.expired_instruments),
            "liquidations": [list(astuple(e)) for e in self.liquidations],
            "adl": [list(astuple(e)) for e in self.adl],
            "socialized": [list(astuple(e)) for e in self.socialized],
            "backstop_topups": [e.amount for e in self.backstop_topups],
            "withdrawals": [list(astuple(w)) for w in self.withdrawals],
            "risk": _risk_canonical(self.risk),
        }


def _risk_canonical(params: RiskParameters) -> dict:
    return {
        "epoch": params.epoch,
        "liquidation_penalty_ppm": params.liquidation_penalty_ppm,
        "liquidation_buffer_ppm": params.liquidation_buffer_ppm,
        "instruments": [[r.instrument_id, r.kind, r.mark_price, r.contract_multiplier, r.initial_margin_ppm,
                         r.maintenance_margin_ppm, r.margin_model,
                         [list(astuple(t)) for t in r.initial_tiers],
                         [list(astuple(t)) for t in r.maintenance_tiers]] for r in params.instruments],
    }


def risk_parameters(config: ClearingConfig, epoch: int, prices: tuple[int, ...],
                    fractions: tuple[tuple[int, int], ...] | None = None) -> RiskParameters:
    """The public risk parameters of ``epoch`` at ``prices`` (ticks, configuration order), with the epoch's
    effective ``(initial, maintenance)`` fractions (default: the configured ones)."""
    if fractions is None:
        fractions = tuple((s.initial_margin_ppm, s.maintenance_margin_ppm) for s in config.instruments)
    return RiskParameters(
        epoch=epoch,
        instruments=tuple(InstrumentRisk(
            instrument_id=spec.instrument_id, kind=spec.kind, mark_price=price,
            contract_multiplier=spec.contract_multiplier, initial_margin_ppm=initial,
            maintenance_margin_ppm=maintenance, margin_model=spec.margin_model,
            initial_tiers=spec.initial_tiers, maintenance_tiers=spec.maintenance_tiers)
            for spec, price, (initial, maintenance)
            in zip(config.instruments, prices, fractions, strict=True)),
        liquidation_penalty_ppm=config.liquidation_penalty_ppm,
        liquidation_buffer_ppm=config.liquidation_buffer_ppm)


def _expand(state: EpochState, resolved: ResolvedInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    count = len(resolved.accounts)
    cash = np.zeros(count, dtype=np.int64)
    positions = np.zeros((count, len(state.instruments)), dtype=np.int64)
    net_deposits = np.zeros(count, dtype=np.int64)
    cash[resolved.previous_rows] = state.cash
    positions[resolved.previous_rows] = state.positions
    net_deposits[resolved.previous_rows] = state.net_deposits
    return cash, positions, net_deposits


def apply_epoch(state: EpochState, inputs: EpochInputs,
                config: ClearingConfig) -> tuple[EpochState, EpochReport]:
    """Apply one epoch. Pure: ``state`` and ``inputs`` are not modified; equal arguments give equal results.

    Raises :class:`~zkclear.errors.InputError` for a bad input record (nothing applied) and
    :class:`ClearingError` if a bound or an invariant would break.
    """
    resolved = validate_inputs(state, inputs, config)
    epoch = resolved.epoch
    kinds = tuple(config.kinds.get(spec.kind) for spec in config.instruments)
    multipliers = tuple(spec.contract_multiplier for spec in config.instruments)
    accounts = resolved.accounts
    index = {account: row for row, account in enumerate(accounts)}
    fee_row, insurance_row = index[FEE_ACCOUNT], index[INSURANCE_FUND]

    cash, start_positions, net_deposits = _expand(state, resolved)
    deposited = 0
    for row, amount in resolved.deposits:
        cash[row] += amount  # validated: stays within the amount bound
        net_deposits[row] += amount
        deposited += amount

    # Variation margin and funding on the positions held over the epoch, valued at the new mark.
    marks = resolved.marks
    vm = variation_margin(start_positions, state.settlement_prices, marks, multipliers, kinds)
    mark_values = tuple(mark or 0 for mark in marks)  # no legs or funding where there is no mark
    require_position_values_bounded(start_positions, list(mark_values), multipliers, "funding")
    applied_rates = tuple(clamp_rate(rate, config.funding_clamp_ppm) for rate in resolved.funding_rates_ppm)
    funding = funding_payments(start_positions, mark_values, multipliers, applied_rates)
    funding_report = []
    funding_indices = list(state.funding_indices)
    for column, kind in enumerate(kinds):
        if kind.pays_funding and marks[column] is not None:
            delta = applied_rates[column] * marks[column] * multipliers[column]
            funding_indices[column] += delta
            funding_report.append(FundingApplied(state.instruments[column],
                                                 resolved.funding_rates_ppm[column],
                                                 applied_rates[column], delta, funding_indices[column]))
    funding_residue = -exact_sum(funding)
    if funding_residue < 0:
        raise ClearingError("funding payments exceed receipts")  # impossible with floor rounding; a bug

    # Novation, netting, trade settlement against the mark, fees.
    legs = novate(resolved.buyer_rows, resolved.seller_rows, resolved.fill_columns, resolved.size,
                  resolved.price, resolved.buyer_fee, resolved.seller_fee)
    netting = net(legs, start_positions, mark_values, multipliers)
    positions = netting.positions
    fees_total = exact_sum(netting.fees)

    settlement = checked_add(netting.trade_cash, vm, "settlement")
    settlement = checked_add(settlement, funding, "settlement")
    settlement = checked_add(settlement, -netting.fees, "settlement")
    fee_account_flow = int(settlement[fee_row]) + fees_total + funding_residue  # Python int: cannot wrap
    if abs(fee_account_flow) > MAX_AMOUNT:
        raise ClearingError("fees of the epoch exceed the amount bound 2**62 - 1")
    settlement[fee_row] = fee_account_flow
    require_within_amount(settlement, "settlement")
    cash = checked_add(cash, settlement, "cash")
    require_within_amount(cash, "cash")

    # Final settlement of expiring instruments: already marked to the settlement price above; close out.
    expired = list(state.expired)
    expired_now = []
    for column, spec in enumerate(config.instruments):
        if kinds[column].expires and spec.expiry_epoch == epoch:
            positions[:, column] = 0
            expired[column] = True
            expired_now.append(spec.instrument_id)

    # Expired instruments keep their final settlement price as their public price.
    prices = tuple(previous if mark is None else mark
                   for mark, previous in zip(marks, state.settlement_prices, strict=True))
    params = risk_parameters(config, epoch, prices, resolved.margin_fractions)
    book = Book(accounts=accounts, cash=cash, positions=positions, net_deposits=net_deposits, params=params,
                config=config)
    liquidation_pass(book)

    withdrawn = 0
    outcomes = []
    for transfer_id, row, amount in resolved.withdrawals:
        equity = int(cash[row])
        initial = account_requirement(positions[row].tolist(), params, config.risk_models,
                                      MarginLevel.INITIAL)
        if equity - amount >= initial:
            cash[row] -= amount
            net_deposits[row] -= amount
            withdrawn += amount
            outcomes.append(WithdrawalOutcome(transfer_id, accounts[row], amount, True))
        else:
            outcomes.append(WithdrawalOutcome(
                transfer_id, accounts[row], amount, False,
                f"equity after withdrawal {equity - amount} would be below the initial requirement "
                f"{initial}"))

    total_deposited = state.total_deposited + deposited
    total_withdrawn = state.total_withdrawn + withdrawn
    check_invariants(cash, positions, params, config, settlement, total_deposited - total_withdrawn,
                     (fee_row, insurance_row))

    new_state = EpochState(
        epoch=epoch, instruments=state.instruments, settlement_prices=prices,
        funding_indices=tuple(funding_indices), expired=tuple(expired), accounts=accounts,
        margin_modes=resolved.margin_modes, cash=frozen_array(cash), positions=frozen_array(positions),
        net_deposits=frozen_array(net_deposits), total_deposited=total_deposited,
        total_withdrawn=total_withdrawn)
    report = EpochReport(
        epoch=epoch, accounts=accounts, settlement=frozen_array(settlement), fees_collected=fees_total,
        funding=tuple(funding_report), funding_residue=funding_residue,
        expired_instruments=tuple(expired_now),
        liquidations=tuple(book.liquidations), adl=tuple(book.adl), socialized=tuple(book.socialized),
        backstop_topups=tuple(book.topups), withdrawals=tuple(outcomes), risk=params)
    return new_state, report


def check_invariants(cash: np.ndarray, positions: np.ndarray, params: RiskParameters, config: ClearingConfig,
                     settlement: np.ndarray, net_deposited: int, cash_only_rows: tuple[int, ...]) -> None:
    """Raise :class:`ClearingError` unless: every instrument's positions sum to zero; ``sum(cash)`` equals all
    deposits minus all withdrawals; the epoch's settlement flows sum to zero; the clearing house's cash-only
    accounts hold no positions and no negative cash; every account's equity covers its maintenance
    requirement."""
    require_sum_fits_int64(positions.reshape(-1), "open interest")
    open_interest = positions.sum(axis=0)
    if np.any(open_interest != 0):
        column = int(np.flatnonzero(open_interest)[0])
        instrument = params.instruments[column].instrument_id
        raise ClearingError(f"book not matched: positions in {instrument!r} sum to "
                            f"{int(open_interest[column])}")
    if exact_sum(cash) != net_deposited:
        raise ClearingError(f"conservation broken: sum of balances {exact_sum(cash)} != net deposits "
                            f"{net_deposited}")
    if exact_sum(settlement) != 0:
        raise ClearingError("settlement flows do not sum to zero")
    for row in cash_only_rows:
        if cash[row] < 0 or np.any(positions[row]):
            raise ClearingError("a clearing-house cash account is negative or holds positions")
    maintenance = margin_requirements(positions, params, config.risk_models, MarginLevel.MAINTENANCE)
    if np.any(cash < maintenance):
        row = int(np.flatnonzero(cash < maintenance)[0])
        raise ClearingError(f"account row {row} left below maintenance after the liquidation pass")
