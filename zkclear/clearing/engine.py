"""The epoch state transition: ``apply_epoch(state, inputs, config) -> (new_state, report)``, a pure function.

Order of one epoch (docs/clearing.md "An epoch, step by step"):

 1. validate every input record (nothing is applied if one is bad; the price band and every bound included);
    an epoch given as oracle quotes is marked by the deployment's oracle guard, engine-marked options by
    Black-76 on their underlying's mark;
 2. open accounts; credit deposits (collateral deposits too, refused if the statements could not prove the
    balances at this epoch's prices: ``provable.py``);
 3. variation margin of the start-of-epoch positions from the previous settlement price to the mark (not on
    premium-style options: ``option_settlement = "premium"``);
 4. funding of perpetuals on the start-of-epoch positions (clamped rate; rounding residue to the fee account);
 5. novation of the fills into legs, netting into positions, each leg settled against the mark (a
    premium-style option leg against 0: the buyer pays the premium); fees;
 6. final settlement of dated futures whose expiry epoch this is (positions closed at the mark); expiring
    premium-style options pay ``q * intrinsic * multiplier`` in cash first;
 7. the statements' bounds of the marks and the netted positions (``provable.py``: refused on the input
    record that breaks one), then the liquidation pass and the waterfall (insurance fund, ADL or socialized
    loss); an account holding collateral assets first converts them into the settlement asset
    (``conversion.py``; never at a paused or clamped mark) and has positions closed only if still below
    maintenance; portfolio-margin accounts are held to the epoch's scenario-table requirement; accounts that
    carried into the epoch, and still hold, a position in an instrument (or collateral priced by one) whose
    oracle paused liquidations are left alone this epoch (exposure opened this epoch exempts nothing);
    liquidated lots go only where they stay provable;
 8. withdrawals, each honoured only if equity after it covers the initial requirement (a collateral asset
    counts at its haircut value; with collateral assets, a settlement withdrawal may not exceed the settlement
    balance, and a collateral one the asset's balance) and, in an epoch with a paused or clamped price, only for
    accounts not exposed to it (``_stale_price``); then the operator's
    fund withdrawals (``operator_actions.csv``), recorded in the report; the final state checked against the
    statements' bounds;
 9. invariants: matched book, conservation of money and of every collateral asset to the unit, settlement
    flows sum to zero, no negative collateral balance, every account at or above maintenance (except the paused
    ones) — a failure raises :class:`ClearingError` (a bug, never an input problem);
10. dynamic margin (when configured): the next epoch's parameters from the price history, kept in the state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple, dataclass, replace

import numpy as np

from zkclear.clearing.assets import AssetRisk
from zkclear.clearing.book import AdlEvent, BackstopTopUp, Book, ConversionEvent, LiquidationEvent, SocializedLoss
from zkclear.clearing.collateral import (
    check_collateral_invariants,
    collateral_refusal,
    count_deposits_in_net_deposits,
    credit_deposits,
    expand_balances,
    settlement_liabilities_refusal,
    withdraw_collateral,
)
from zkclear.clearing.config import BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND, ClearingConfig
from zkclear.clearing.funding import (
    FundingApplied,
    clamp_rate,
    funding_payments,
    variation_margin,
)
from zkclear.clearing.inputs import (
    EpochInputs,
    ResolvedInputs,
    check_fill_prices_and_fees,
    fill_rows,
    validate_inputs,
)
from zkclear.clearing.instruments import OPTION_KIND_NAME
from zkclear.clearing.liquidation import liquidation_pass
from zkclear.clearing.margin import (
    InstrumentRisk,
    MarginLevel,
    RiskModels,
    RiskParameters,
    account_requirement,
    margin_requirements,
    notional_excess,
    requirement_excess,
)
from zkclear.clearing.money import (
    MAX_AMOUNT,
    PPM,
    checked_add,
    exact_sum,
    position_value_excess,
    require_sum_fits_int64,
    saturated,
)
from zkclear.clearing.novation import Legs, net_batches, novate
from zkclear.clearing.options import build_scenario_table
from zkclear.clearing.provable import (
    MAX_PUBLIC_INTEGER,
    Breach,
    StatementBounds,
    collateral_breaches,
    public_collateral_breaches,
)
from zkclear.clearing.refusals import fee_refusal, latest_fill_column, refusal
from zkclear.clearing.state import EpochState, frozen_array
from zkclear.errors import ClearingError, ConfigurationError, InputError
from zkclear.risk.dynamic_params import DynamicRiskConfig, VolatilityMethod, compute_risk_parameters
from zkclear.risk.scenarios import ScenarioTable


@dataclass(frozen=True, slots=True)
class WithdrawalOutcome:
    """A withdrawal request and what happened to it; ``reason`` explains a rejection."""

    transfer_id: str
    account: str
    amount: int
    accepted: bool
    reason: str = ""
    asset: str = ""  #: a collateral asset's id (empty: the settlement asset)

    def to_canonical(self) -> list:
        """``[id, account, amount, accepted, reason]``, and the asset when it is a collateral asset (reports
        without collateral keep their bytes)."""
        return [self.transfer_id, self.account, self.amount, self.accepted, self.reason,
                *([self.asset] if self.asset else [])]


@dataclass(frozen=True, slots=True)
class OperatorActionOutcome:
    """An operator action (``operator_actions.csv``) as recorded in the epoch report: a withdrawal from the
    insurance fund or the fee account, with its reason; ``rejection`` says why it was not carried out."""

    action_id: str
    action: str
    account: str
    amount: int
    reason: str
    accepted: bool
    rejection: str = ""


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
    oracle_decisions: tuple[dict, ...] = ()
    paused_instruments: tuple[str, ...] = ()
    paused_accounts: tuple[str, ...] = ()
    #: dynamic margin: the parameters computed at this close, effective next epoch (as in the state)
    dynamic_parameters: tuple[tuple, ...] = ()
    #: withdrawals from the clearing house's funds the operator ordered this epoch, and their outcome
    operator_actions: tuple[OperatorActionOutcome, ...] = ()
    #: collateral converted into the settlement asset at liquidation (issue 13)
    conversions: tuple[ConversionEvent, ...] = ()

    def to_canonical(self) -> dict:
        """Plain JSON-able form (ints, strings, lists) in a fixed order; hashed by the ledger."""
        extra: dict = {}
        if self.oracle_decisions:  # only for epochs marked by the oracle guard (older reports unchanged)
            extra["oracle_decisions"] = list(self.oracle_decisions)
            extra["paused_instruments"] = list(self.paused_instruments)
            extra["paused_accounts"] = list(self.paused_accounts)
        if self.dynamic_parameters:
            extra["dynamic_parameters"] = [list(p) for p in self.dynamic_parameters]
        if self.operator_actions:  # issue 12: only when the operator acted (other reports unchanged)
            extra["operator_actions"] = [list(astuple(a)) for a in self.operator_actions]
        if self.conversions:  # issue 13: only when collateral was converted
            extra["conversions"] = [list(astuple(c)) for c in self.conversions]
        return extra | {
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
            "withdrawals": [w.to_canonical() for w in self.withdrawals],
            "risk": _risk_canonical(self.risk),
        }


def _risk_canonical(params: RiskParameters) -> dict:
    extra: dict = {}
    # Keys below appear only when used, so the reports (and hashes) of deployments without options or
    # portfolio margin are unchanged.
    options = [[r.instrument_id, r.underlying, r.underlying_price, r.option_type, r.strike, r.implied_vol_ppm,
                r.expiry_timestamp] for r in params.instruments if r.is_engine_option]
    if options:
        extra["options"] = options
        extra["valuation_timestamp"] = params.valuation_timestamp
    if params.dynamic_scan_ranges_ppm:
        extra["dynamic_scan_ranges_ppm"] = [list(p) for p in params.dynamic_scan_ranges_ppm]
    if params.scenario_table is not None:
        extra["scenario_table_sha256"] = params.scenario_table.digest().hex()
        extra["portfolio_initial_to_maintenance_ppm"] = params.portfolio_initial_to_maintenance_ppm
    if params.assets:  # issue 13: only with collateral assets
        extra["assets"] = [[a.asset_id, a.price_instrument, a.price_ticks, a.unit_value_num, a.unit_value_den,
                            [[t.upper_bound, t.ratio_ppm] for t in a.haircut_tiers], a.cap, a.conversion_penalty_ppm]
                           for a in params.assets]
    return extra | {
        "epoch": params.epoch,
        "liquidation_penalty_ppm": params.liquidation_penalty_ppm,
        "liquidation_buffer_ppm": params.liquidation_buffer_ppm,
        "instruments": [[r.instrument_id, r.kind, r.mark_price, r.contract_multiplier, r.initial_margin_ppm,
                         r.maintenance_margin_ppm, r.margin_model,
                         [list(astuple(t)) for t in r.initial_tiers],
                         [list(astuple(t)) for t in r.maintenance_tiers]] for r in params.instruments],
    }


def risk_parameters(config: ClearingConfig, epoch: int, prices: tuple[int, ...],
                    fractions: tuple[tuple[int, int], ...] | None = None,
                    implied_vols_ppm: tuple[int, ...] | None = None,
                    dynamic_scan_ranges_ppm: tuple[tuple[str, int], ...] = ()) -> RiskParameters:
    """The public risk parameters of ``epoch`` at ``prices`` (ticks, configuration order), with the epoch's
    effective ``(initial, maintenance)`` fractions (default: the configured ones), the engine-marked options'
    data (forward = the underlying's price, ``implied_vols_ppm`` per instrument, 0 where none) and, when the
    deployment has portfolio margin, the epoch's scenario table (:func:`scenario_table`)."""
    if fractions is None:
        fractions = tuple((s.initial_margin_ppm, s.maintenance_margin_ppm) for s in config.instruments)
    if implied_vols_ppm is None:
        implied_vols_ppm = (0,) * len(config.instruments)
    price_of = dict(zip(config.instrument_ids, prices, strict=True))
    instruments = []
    for spec, price, (initial, maintenance), vol in zip(config.instruments, prices, fractions,
                                                        implied_vols_ppm, strict=True):
        option = {}
        if spec.engine_marked_option:
            option = {"underlying_price": price_of[spec.underlying or ""], "option_type": spec.option_type,
                      "strike": spec.strike, "implied_vol_ppm": vol,
                      "expiry_timestamp": config.valuation_timestamp(spec.expiry_epoch or 0)}
        instruments.append(InstrumentRisk(
            instrument_id=spec.instrument_id, kind=spec.kind, mark_price=price,
            contract_multiplier=spec.contract_multiplier, initial_margin_ppm=initial,
            maintenance_margin_ppm=maintenance, margin_model=spec.margin_model,
            initial_tiers=spec.initial_tiers, maintenance_tiers=spec.maintenance_tiers,
            underlying=config.scenario_underlying(spec), **option))
    has_options = any(spec.kind == OPTION_KIND_NAME for spec in config.instruments)
    params = RiskParameters(
        epoch=epoch, instruments=tuple(instruments),
        liquidation_penalty_ppm=config.liquidation_penalty_ppm,
        liquidation_buffer_ppm=config.liquidation_buffer_ppm,
        valuation_timestamp=config.valuation_timestamp(epoch) if has_options else 0,
        dynamic_scan_ranges_ppm=dynamic_scan_ranges_ppm,
        assets=tuple(AssetRisk.of(asset, prices[config.asset_column(asset)]) for asset in config.assets))
    if config.portfolio_margin is not None:
        params = replace(params, scenario_table=scenario_table(config, params),
                         portfolio_initial_to_maintenance_ppm=config.portfolio_margin.initial_to_maintenance_ppm)
    return params


def option_equity_values(config: ClearingConfig, risk: RiskParameters) -> dict[str, int]:
    """Per-lot value that an account's equity counts outside cash, by instrument id: ``mark_price *
    contract_multiplier`` (settlement units) of every option of a premium-style deployment, from the epoch's
    public risk data (``report.risk``); empty for a futures-style deployment (an option's value is already in
    cash). Equity is ``cash + sum_j v_j * q_j``, exactly what the engine uses, so for the ZK public data::

        PublicRiskData.from_epoch(report.risk, config.risk_models, scenario_table=report.risk.scenario_table,
                                  equity_values=option_equity_values(config, report.risk))
    """
    if not config.premium_style:
        return {}
    return {r.instrument_id: r.value_per_lot for r in risk.instruments if r.kind == OPTION_KIND_NAME}


def scenario_table(config: ClearingConfig, risk: RiskParameters) -> ScenarioTable:
    """The epoch's portfolio-margin scenario table (``zkclear.risk.scenarios.ScenarioTable``) from the
    deployment's grid and the epoch's public risk data (``report.risk``): columns in instrument order,
    ``mark_values`` all 0 (futures-style options have their value in cash; premium-style ones give theirs
    through :func:`option_equity_values`). Deterministic: equal to ``report.risk.scenario_table``. For the ZK
    public data::

        PublicRiskData.from_epoch(report.risk, config.risk_models, scenario_table=table,
                                  equity_values=option_equity_values(config, report.risk))

    ``ConfigurationError`` if the deployment has no portfolio margin."""
    if config.portfolio_margin is None:
        raise ConfigurationError("the deployment has no portfolio_margin: no scenario table")
    portfolio = config.portfolio_margin
    grid = portfolio.grid()
    if risk.dynamic_scan_ranges_ppm:  # the dynamic scan range widens a group's grid, never narrows it
        scans = dict(risk.dynamic_scan_ranges_ppm)
        grid = {group: replace(grid, scan_range_ppm=max(portfolio.scan_range_ppm, scans.get(group, 0)))
                for group in config.underlying_groups()}
    return build_scenario_table(risk, grid, portfolio.short_option_minimum_ppm)


def epoch_risk_parameters(state: EpochState, resolved: ResolvedInputs, config: ClearingConfig) -> RiskParameters:
    """The public risk parameters of the epoch that ``resolved`` (validated inputs) applies to ``state``: the
    epoch's marks (an expired instrument keeps its final settlement price), the effective fractions (margin
    overrides, then the dynamic parameters computed at the previous close) and the options' volatilities.

    It depends only on the public parts of ``state`` and of the inputs (no account, fill or transfer), so an
    auditor recomputes it from the published epoch inputs (``zkclear.proofs.recompute``)."""
    prices = tuple(previous if mark is None else mark
                   for mark, previous in zip(resolved.marks, state.settlement_prices, strict=True))
    fractions, scans = _dynamic_fractions(config, state, resolved.margin_fractions)
    return risk_parameters(config, resolved.epoch, prices, fractions, resolved.implied_vols_ppm, scans)


def _legs(resolved: ResolvedInputs, state: EpochState, config: ClearingConfig, index: dict[str, int],
          traded_paused: np.ndarray | None = None) -> Iterator[Legs]:
    """The legs of each batch of the epoch's fills, after checking the batch's prices and fees; given
    ``traded_paused``, the rows of both sides of a fill on a paused instrument are set in it."""
    columns = {instrument: column for column, instrument in enumerate(state.instruments)}
    paused = np.array(resolved.withheld_columns, dtype=np.int64)
    for batch in resolved.fills.batches():
        buyer_rows, seller_rows, fill_columns = fill_rows(batch, index, columns)
        check_fill_prices_and_fees(batch, fill_columns, resolved, state, config)
        if traded_paused is not None:
            on_paused = np.isin(fill_columns, paused)
            traded_paused[buyer_rows[on_paused]] = True
            traded_paused[seller_rows[on_paused]] = True
        yield novate(buyer_rows, seller_rows, fill_columns, batch.size, batch.price, batch.buyer_fee,
                     batch.seller_fee)


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
    index = resolved.index
    fee_row, insurance_row = index[FEE_ACCOUNT], index[INSURANCE_FUND]

    cash, start_positions, net_deposits = _expand(state, resolved)
    # Novation and netting, batch by batch (each batch's prices and fees checked against the marks first); each
    # leg is settled against the mark. A premium-style option leg is settled against 0 instead of the mark:
    # the buyer pays price * size * multiplier to the seller (``q * (0 - p) * multiplier``).
    marks = resolved.marks
    premium = frozenset(config.premium_columns())
    mark_values = tuple(mark or 0 for mark in marks)  # no legs or funding where there is no mark
    settle_marks = tuple(0 if column in premium else mark for column, mark in enumerate(mark_values))
    # Accounts exposed to a paused or clamped price this epoch (docs/clearing.md "Withdrawals while a price is paused
    # or clamped"): their withdrawals wait, so that value computed at a price nobody vouches for does not leave.
    stale_exposure = np.zeros(len(accounts), dtype=bool) if resolved.withheld_columns else None
    netting = net_batches(_legs(resolved, state, config, index, stale_exposure), start_positions, settle_marks,
                          multipliers)
    if netting.exact:  # the legs' flows summed past int64: an account beyond the bound is refused on its fill
        for values, what in ((netting.trade_cash, "trade settlement"), (netting.fees, "fees")):
            _refuse_amounts_beyond_the_bound(values, what, resolved, start_positions, state.instruments, config)
        netting = netting.as_int64()
    positions = netting.positions
    if stale_exposure is not None:
        withheld_columns = list(resolved.withheld_columns)
        stale_exposure |= np.any(start_positions[:, withheld_columns] != 0, axis=1)
        stale_exposure |= np.any(positions[:, withheld_columns] != 0, axis=1)
    # validated: every balance and net deposit stays within the amount bound
    np.add.at(cash, resolved.deposit_rows, resolved.deposit_amounts)
    np.add.at(net_deposits, resolved.deposit_rows, resolved.deposit_amounts)
    deposited = exact_sum(resolved.deposit_amounts)
    # The epoch's public risk data (marks, fractions, the assets' prices and haircut lines): public inputs only.
    params = epoch_risk_parameters(state, resolved, config)
    # Collateral deposits, refused (on the deposit or the price's mark) if the statements could not prove them.
    balances = expand_balances(state.asset_balances, resolved, len(config.assets))
    held_before = balances.copy()
    asset_deposited = credit_deposits(balances, resolved)
    _refuse_unprovable_collateral(params, balances, resolved, config)
    count_deposits_in_net_deposits(net_deposits, held_before, balances, params.assets)
    withheld_assets = [k for k, asset in enumerate(config.assets)
                       if config.asset_column(asset) in resolved.withheld_columns]
    if stale_exposure is not None and withheld_assets:
        stale_exposure |= np.any((held_before[:, withheld_assets] != 0) | (balances[:, withheld_assets] != 0), axis=1)

    # Variation margin and funding on the positions held over the epoch, valued at the new mark.
    # Premium-style options carry no variation margin: their value is counted in equity, not in cash.
    vm, funding, applied_rates = carried_flows(start_positions, state, resolved, config)
    funding_report = []
    funding_indices = list(state.funding_indices)
    for column, kind in enumerate(kinds):
        if kind.pays_funding and marks[column] is not None:
            delta = applied_rates[column] * marks[column] * multipliers[column]
            funding_indices[column] += delta
            if abs(funding_indices[column]) > MAX_PUBLIC_INTEGER:  # the next epoch's public inputs carry it
                path, line = resolved.mark_sources[column]
                raise InputError(f"the funding index of {state.instruments[column]!r} would reach "
                                 f"{funding_indices[column]}, beyond ±(2^64 − 1): the next epoch's public inputs "
                                 "could not be encoded nor the epoch proven (docs/clearing.md, \"Provable by "
                                 "construction\")", path=path, line=line or None, field="funding_rate_ppm")
            funding_report.append(FundingApplied(state.instruments[column],
                                                 resolved.funding_rates_ppm[column],
                                                 applied_rates[column], delta, funding_indices[column]))
    funding_residue = -exact_sum(funding)
    if funding_residue < 0:
        raise ClearingError("funding payments exceed receipts")  # impossible with floor rounding; a bug

    # Trade settlement against the mark and fees, from the netting above.
    fees_total = exact_sum(netting.fees)

    settlement = checked_add(netting.trade_cash, vm, "settlement")
    settlement = checked_add(settlement, funding, "settlement")
    settlement = checked_add(settlement, -netting.fees, "settlement")
    fee_account_flow = int(settlement[fee_row]) + fees_total + funding_residue  # Python int: cannot wrap
    if abs(fee_account_flow) > MAX_AMOUNT or abs(int(cash[fee_row]) + fee_account_flow) > MAX_AMOUNT:
        raise _fee_account_refusal(resolved, int(cash[fee_row]), fee_account_flow - fees_total, applied_rates)
    settlement[fee_row] = fee_account_flow
    for column in premium:  # cash settlement of expiring premium-style options at their intrinsic value
        spec = config.instruments[column]
        if spec.expiry_epoch == epoch and marks[column] is not None:
            per_lot = marks[column] * multipliers[column]
            # The notional bound is checked after expiry closes these positions: bound the payoff here, before
            # the int64 product is formed (many fills of the epoch can net to a payoff beyond it).
            beyond = np.flatnonzero(np.abs(positions[:, column]) > MAX_AMOUNT // max(per_lot, 1))
            if beyond.size:
                raise refusal(Breach(int(beyond[0]), column, "the payoff at expiry exceeds the amount bound "
                                     "2**62 - 1"), resolved, start_positions, state.instruments,
                              config.statement_limits.max_position)
            payoff = positions[:, column] * per_lot
            settlement = checked_add(settlement, payoff, "settlement")
    _refuse_amounts_beyond_the_bound(settlement, "settlement", resolved, start_positions, state.instruments, config)
    cash = checked_add(cash, settlement, "cash")
    _refuse_amounts_beyond_the_bound(cash, "cash balance", resolved, start_positions, state.instruments, config)

    # Final settlement of expiring instruments: already marked to the settlement price above; close out.
    expired = list(state.expired)
    expired_now = []
    for column, spec in enumerate(config.instruments):
        if kinds[column].expires and spec.expiry_epoch == epoch:
            positions[:, column] = 0
            expired[column] = True
            expired_now.append(spec.instrument_id)

    prices = tuple(instrument.mark_price for instrument in params.instruments)
    modes = resolved.margin_modes
    # Provable by construction: the public data and every position must fit the statements' bounds.
    bounds = StatementBounds(params, config.risk_models, config.statement_limits,
                             tuple(risk.value_per_lot if column in premium else 0
                                   for column, risk in enumerate(params.instruments)))

    def refuse(breach: Breach) -> InputError:
        return refusal(breach, resolved, start_positions, state.instruments,
                       config.statement_limits.max_position)

    breach = _first_breach_before_liquidation(bounds, positions, params, resolved, state.instruments,
                                              config.risk_models)
    if breach is not None:
        raise refuse(breach)
    paused_rows = _paused_exempt_rows(resolved.paused_columns, config, start_positions, positions, held_before,
                                      balances)
    book = Book(accounts=accounts, cash=cash, positions=positions, net_deposits=net_deposits, params=params,
                config=config, margin_modes=modes, paused_rows=frozenset(paused_rows), bounds=bounds,
                balances=balances, withheld_assets=frozenset(withheld_assets),
                previous_prices=tuple(state.settlement_prices))
    liquidation_pass(book)

    withdrawn = 0
    asset_withdrawn = [0] * len(config.assets)
    outcomes = []
    for transfer_id, row, amount, asset in resolved.withdrawals:
        equity = book.equity(row)
        initial = account_requirement(positions[row].tolist(), params, config.risk_models,
                                      MarginLevel.INITIAL, modes[row])
        stale = "" if stale_exposure is None else _stale_price(row, stale_exposure, positions, resolved, config)
        if stale:
            outcomes.append(WithdrawalOutcome(transfer_id, accounts[row], amount, False, stale,
                                              config.asset_ids[asset] if asset >= 0 else ""))
        elif asset >= 0:  # a collateral asset, against the initial requirement after its haircut
            reason = withdraw_collateral(book, row, asset, amount, initial, net_deposits)
            asset_withdrawn[asset] += 0 if reason else amount
            outcomes.append(WithdrawalOutcome(transfer_id, accounts[row], amount, not reason, reason,
                                              config.asset_ids[asset]))
        elif config.assets and amount > cash[row]:  # collateral backs margin; it does not fund a withdrawal
            outcomes.append(WithdrawalOutcome(
                transfer_id, accounts[row], amount, False,
                f"the settlement balance {int(cash[row])} is less than the amount (collateral is withdrawn in "
                "its own asset)"))
        elif equity - amount >= initial:
            cash[row] -= amount
            net_deposits[row] = saturated(int(net_deposits[row]) - amount)  # profit taken out, epoch after epoch
            withdrawn += amount
            outcomes.append(WithdrawalOutcome(transfer_id, accounts[row], amount, True))
        else:
            outcomes.append(WithdrawalOutcome(
                transfer_id, accounts[row], amount, False,
                f"equity after withdrawal {equity - amount} would be below the initial requirement "
                f"{initial}"))
    # Operator actions on the clearing house's own money, after the pass (the fund paid what it had to).
    actions = []
    for action, row in resolved.fund_withdrawals:
        balance = int(cash[row])
        accepted = action.amount <= balance
        if accepted:
            cash[row] -= action.amount
            net_deposits[row] = saturated(int(net_deposits[row]) - action.amount)
            withdrawn += action.amount
        actions.append(OperatorActionOutcome(
            action.action_id, action.action, action.account, action.amount, action.reason, accepted,
            "" if accepted else f"the account holds {balance} after the liquidation pass"))

    total_deposited = state.total_deposited + deposited
    total_withdrawn = state.total_withdrawn + withdrawn
    # Without portfolio margin every account is standard: skip the per-row mode scan (a million rows).
    modes_if_any = modes if params.scenario_table is not None else None
    breaches = bounds.breaches(positions, modes_if_any)
    if breaches:
        raise refuse(breaches[0])
    _refuse_unprovable_collateral(params, balances, resolved, config)
    unprovable = settlement_liabilities_refusal(cash, positions, book.equity_values, inputs.transfers, resolved, config,
                                                start_positions, state.instruments)
    if unprovable is not None:
        raise unprovable
    asset_totals = tuple((d + deposited_now, w + withdrawn_now, c + converted_now) for (d, w, c), deposited_now,
                         withdrawn_now, converted_now in zip(state.asset_totals, asset_deposited, asset_withdrawn,
                                                             book.converted, strict=True))
    total_converted = state.total_converted + book.converted_proceeds
    check_invariants(cash, positions, params, config, settlement,
                     total_deposited - total_withdrawn + total_converted, (fee_row, insurance_row), modes_if_any,
                     book.paused_rows, book.equity_values, book.collateral if book.has_collateral else None)
    check_collateral_invariants(balances, asset_totals, config.asset_ids, (fee_row, insurance_row, index[BACKSTOP]))
    paused_below = ()
    if paused_rows:
        maintenance = margin_requirements(positions, params, config.risk_models, MarginLevel.MAINTENANCE,
                                          modes_if_any)
        paused_below = tuple(accounts[row] for row in paused_rows if book.equity(row) < maintenance[row])

    new_state = EpochState(
        epoch=epoch, instruments=state.instruments, settlement_prices=prices,
        funding_indices=tuple(funding_indices), expired=tuple(expired), accounts=accounts,
        margin_modes=resolved.margin_modes, cash=frozen_array(cash), positions=frozen_array(positions),
        net_deposits=frozen_array(net_deposits), total_deposited=total_deposited,
        total_withdrawn=total_withdrawn, asset_ids=config.asset_ids, asset_balances=frozen_array(balances),
        asset_totals=asset_totals, total_converted=total_converted)
    fallback = {state.instruments.index(d["instrument_id"]) for d in resolved.oracle_decisions
                if d["status"] == "fallback"}
    if config.max_fallback_epochs is not None:
        new_state = replace(new_state, oracle_fallbacks=tuple(
            count + 1 if column in fallback else 0 for column, count in enumerate(state.fallbacks_running)))
    if config.dynamic_margin != "off":
        # a fallback mark is the last good price again, not an observation of the market (red team session 14)
        new_state = _close_dynamic(config, new_state, state, fallback)
    report = EpochReport(
        epoch=epoch, accounts=accounts, settlement=frozen_array(settlement), fees_collected=fees_total,
        funding=tuple(funding_report), funding_residue=funding_residue,
        expired_instruments=tuple(expired_now),
        liquidations=tuple(book.liquidations), adl=tuple(book.adl), socialized=tuple(book.socialized),
        backstop_topups=tuple(book.topups), withdrawals=tuple(outcomes), risk=params,
        operator_actions=tuple(actions), conversions=tuple(book.conversions),
        oracle_decisions=resolved.oracle_decisions,
        paused_instruments=tuple(config.instruments[c].instrument_id for c in resolved.paused_columns),
        paused_accounts=paused_below, dynamic_parameters=new_state.dynamic_parameters)
    return new_state, report


def _paused_exempt_rows(paused: tuple[int, ...], config: ClearingConfig, start_positions: np.ndarray,
                        positions: np.ndarray, held_before: np.ndarray, balances: np.ndarray) -> list[int]:
    """The rows the liquidation pass leaves alone this epoch, in row order: accounts that carried into the epoch,
    and still hold on the same side, a position in an instrument whose liquidations the oracle guard paused
    (``paused``: its columns), or a balance of a collateral asset priced by one — and that took on no new exposure
    in the epoch: on every instrument, paused or not, the position is no larger than at the start and not on the
    other side. ``start_positions`` / ``held_before`` are the positions and balances before the epoch's fills and
    deposits, ``positions`` / ``balances`` after them (and after expiry). Exposure opened this epoch never buys
    immunity, nor does exposure carried in shield exposure opened beside it (docs/clearing.md "Paused
    liquidations")."""
    if not paused:
        return []
    columns = list(paused)
    # A liquidation at a price nobody vouches for could close out a solvent account, so exposure the account
    # already had is not closed this epoch; exposure it took on at that price is closed like any other.
    # A position flipped in the epoch (long in, short out) is new exposure too: the side must be the same.
    carried = np.any(np.sign(start_positions[:, columns]) * np.sign(positions[:, columns]) > 0, axis=1)
    # Collateral priced by a paused instrument: its conversion would use that price.
    assets = [k for k, asset in enumerate(config.assets) if config.asset_column(asset) in paused]
    if assets:
        carried |= np.any((held_before[:, assets] != 0) & (balances[:, assets] != 0), axis=1)
    # Only reducing risk keeps the exemption: a position grown or flipped anywhere is exposure opened this epoch,
    # and one carried lot must not shield it (else an account holding a lot of an instrument whose oracle may
    # pause could trade anything, unliquidated, for the epoch).
    reduced_only = np.all((np.abs(positions) <= np.abs(start_positions))
                          & (np.sign(start_positions) * np.sign(positions) >= 0), axis=1)
    return np.flatnonzero(carried & reduced_only).tolist()


def _fee_account_refusal(resolved: ResolvedInputs, balance: int, other_flows: int,
                         applied_rates: tuple[int, ...]) -> InputError | ClearingError:
    """The refusal of an epoch whose fees (and funding residue, ``other_flows`` with the fee account's own
    settlement) would take the fee account past the amount bound: the fee that crosses it, else — a fee account
    already at the bound — the funding rate whose floor-rounding residue would (session 15)."""
    found = fee_refusal(resolved, MAX_AMOUNT - balance - other_flows, FEE_ACCOUNT)
    if found is not None:
        return found
    paying = [column for column, rate in enumerate(applied_rates) if rate]
    if not paying:
        return ClearingError("fees of the epoch exceed the amount bound 2**62 - 1")
    path, line = resolved.mark_sources[paying[0]]
    return InputError(f"the funding residue (rounding, paid to {FEE_ACCOUNT!r}) would take {FEE_ACCOUNT!r} past the "
                      "amount bound 2**62 - 1: withdraw from it first (operator_actions.csv)", path=path,
                      line=line or None, field="funding_rate_ppm")


def _refuse_amounts_beyond_the_bound(values: np.ndarray, what: str, resolved: ResolvedInputs,
                                     start_positions: np.ndarray, instruments: tuple[str, ...],
                                     config: ClearingConfig) -> None:
    """An :class:`InputError` on the record that takes an account's settlement or cash balance beyond the amount bound:
    its last fill of the epoch, else the mark of its largest carried position (its variation margin). Red team
    session 15: a deposit near the bound plus one fill's gain at the mark stopped the epoch with a ClearingError that
    named no record."""
    beyond = np.flatnonzero(np.abs(values) > MAX_AMOUNT)
    if not beyond.size:
        return
    row = int(beyond[0])
    column = latest_fill_column(resolved, instruments, row)
    if column is None:
        column = int(np.argmax(np.abs(start_positions[row])))
    raise refusal(Breach(row, column, f"its {what} would exceed the amount bound 2**62 - 1"), resolved,
                  start_positions, instruments, config.statement_limits.max_position)


def carried_flows(start_positions: np.ndarray, state: EpochState, resolved: ResolvedInputs,
                  config: ClearingConfig) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Steps 3 and 4 of the epoch: per row of ``start_positions`` (the positions carried into the epoch, one column
    per instrument), the variation margin from ``state``'s settlement prices to the epoch's marks (none on
    premium-style options, nor on expired instruments) and the funding at the clamped rates; and the clamped rates.
    InputError on a mark that would value carried positions beyond the amount bound (nothing is computed then).

    The engine's cash flows themselves: ``zkclear verify --history`` recomputes a participant's from their
    verified positions and the epoch's public inputs (``zkclear.proofs.recompute.carried_cash_flows``)."""
    kinds = tuple(config.kinds.get(spec.kind) for spec in config.instruments)
    multipliers = tuple(spec.contract_multiplier for spec in config.instruments)
    premium = frozenset(config.premium_columns())
    mark_values = tuple(mark or 0 for mark in resolved.marks)
    vm_marks = tuple(None if column in premium else mark for column, mark in enumerate(resolved.marks))
    _refuse_position_values_beyond_the_bound(start_positions, state, resolved, vm_marks, mark_values, multipliers)
    vm = variation_margin(start_positions, state.settlement_prices, vm_marks, multipliers, kinds)
    applied_rates = tuple(clamp_rate(rate, config.funding_clamp_ppm) for rate in resolved.funding_rates_ppm)
    return vm, funding_payments(start_positions, mark_values, multipliers, applied_rates), applied_rates


def _refuse_position_values_beyond_the_bound(start_positions: np.ndarray, state: EpochState,
                                             resolved: ResolvedInputs, vm_marks: tuple[int | None, ...],
                                             mark_values: tuple[int, ...], multipliers: tuple[int, ...]) -> None:
    """An :class:`InputError` on the mark that would value an account's carried positions beyond the amount bound
    (variation margin at the larger of the previous price and the mark, funding at the mark): the mark of the
    largest term among the instruments whose price rose, else of the largest term."""
    for prices in ([max(p, m or 0) for p, m in zip(state.settlement_prices, vm_marks, strict=True)],
                   list(mark_values)):
        found = position_value_excess(start_positions, [p * m for p, m in zip(prices, multipliers, strict=True)])
        if found is None:
            continue
        row, column = found
        risen = [c for c in range(len(prices)) if start_positions[row, c] and prices[c] > state.settlement_prices[c]]
        if risen and column not in risen:
            column = max(risen, key=lambda c: abs(int(start_positions[row, c])) * prices[c] * multipliers[c])
        path, line = resolved.mark_sources[column]
        raise InputError(f"at this mark of {state.instruments[column]!r}, the positions account "
                         f"{resolved.accounts[row]!r} carries into the epoch would be worth more than the amount bound "
                         "2**62 - 1; the epoch's collateralization statements "
                         "could not be proven (docs/clearing.md, \"Provable by construction\")",
                         path=path, line=line or None, field="mark_price")


def _stale_price(row: int, exposure: np.ndarray, positions: np.ndarray, resolved: ResolvedInputs,
                 config: ClearingConfig) -> str:
    """Why account ``row`` may not withdraw this epoch ("" if it may): it is exposed to a paused or clamped price —
    it held, traded or, after the liquidation pass, holds an instrument whose liquidations the guard paused or whose
    mark its circuit breaker clamped, or holds a collateral asset priced by one (``exposure`` has the first three per
    row, ``positions`` the positions after the pass)."""
    columns = list(resolved.withheld_columns)
    if not (exposure[row] or np.any(positions[row, columns] != 0)):
        return ""
    names = ", ".join(config.instruments[column].instrument_id for column in columns)
    kind = "paused" if set(columns) <= set(resolved.paused_columns) else "paused or clamped"
    return (f"the account is exposed to a {kind} price ({names}): withdrawals wait for an epoch with a good mark "
            "(equity at a price nobody vouches for does not leave the venue)")


def _refuse_unprovable_collateral(params: RiskParameters, balances: np.ndarray, resolved: ResolvedInputs,
                                  config: ClearingConfig) -> None:
    """The collateral bounds of the statements (``provable.py``): the assets' public lines at this epoch's prices,
    then every account's balances; an :class:`InputError` naming the deposit or the mark otherwise."""
    if not params.assets:
        return
    public = public_collateral_breaches(params.assets)
    if public:
        raise collateral_refusal(None, *public[0], resolved, config)
    found = collateral_breaches(params.assets, balances)
    if found:
        raise collateral_refusal(*found[0], resolved, config)


def _first_breach_before_liquidation(bounds: StatementBounds, positions: np.ndarray, params: RiskParameters,
                                     resolved: ResolvedInputs, instruments: tuple[str, ...],
                                     models: RiskModels) -> Breach | None:
    """What the marks or the netted fills break before any liquidation: a public-data bound, a position
    beyond the statements' bound, an account's notional or maintenance requirement beyond the amount bound
    (``provable.py``; a short option's requirement is not bounded by its notional: red team session 15)."""
    if bounds.public_breaches:
        return bounds.public_breaches[0]
    beyond = np.flatnonzero(np.abs(positions) > bounds.limits.max_position)
    if beyond.size:
        row, column = divmod(int(beyond[0]), positions.shape[1])
        found = bounds.account_breach(positions[row].tolist(), resolved.margin_modes[row])
        return Breach(row, found.column if found else column, found.message if found else "")
    excess = notional_excess(positions, params)
    if excess is not None:
        column = latest_fill_column(resolved, instruments, excess[0])
        return Breach(excess[0], excess[1] if column is None else column,
                      "the notional of the account's positions exceeds the amount bound 2**62 - 1")
    excess = requirement_excess(positions, params, models,
                                resolved.margin_modes if params.scenario_table is not None else None)
    if excess is not None:
        column = latest_fill_column(resolved, instruments, excess[0])
        return Breach(excess[0], excess[1] if column is None else column,
                      "the maintenance requirement of the account's positions exceeds the amount bound 2**62 - 1 "
                      "(no equity covers it)")
    return None


def _dynamic_fractions(config: ClearingConfig, state: EpochState, fractions: tuple[tuple[int, int], ...]
                       ) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[str, int], ...]]:
    """This epoch's fractions with the dynamic parameters computed at the previous close: for every linear-
    model, non-option instrument ``maintenance = min(PPM, max(current, dynamic))`` and ``initial =
    min(PPM, max(current, dynamic initial, maintenance))`` (as ``zkclear.clearing.risk_bridge.with_dynamic_margins``);
    and the groups' dynamic scan ranges."""
    if config.dynamic_margin == "off" or not state.dynamic_parameters:
        return fractions, ()
    by_group = {p[0]: p for p in state.dynamic_parameters}
    result = []
    for spec, (initial, maintenance) in zip(config.instruments, fractions, strict=True):
        dynamic = by_group.get(config.scenario_underlying(spec))
        if dynamic is not None and spec.margin_model == "linear" and spec.kind != OPTION_KIND_NAME:
            maintenance = min(PPM, max(maintenance, dynamic[5]))
            initial = min(PPM, max(initial, dynamic[6], maintenance))
        result.append((initial, maintenance))
    return tuple(result), tuple((p[0], p[7]) for p in state.dynamic_parameters)


def _close_dynamic(config: ClearingConfig, state: EpochState, previous: EpochState,
                   fallback: set[int] = frozenset()) -> EpochState:
    """Append this epoch's group prices to the history (keeping ``dynamic_window``) and compute the next
    epoch's parameters (``zkclear.risk.dynamic_params.compute_risk_parameters``, default settings with the
    configured method). A group's price is the mark of its first instrument live this epoch; none when that mark is
    the oracle guard's fallback (``fallback``: columns): the last good price repeated is no observation, and an
    outage claimed for epochs on end fed the estimator zero returns, lowering the dynamic margins."""
    history = dict(previous.price_history)
    for group in config.underlying_groups():
        column = config.price_source(group, previous.expired)
        if column is None or column in fallback:
            continue
        prices = (*history.get(group, ()), state.settlement_prices[column])
        history[group] = prices[-config.dynamic_window:]
    ordered = tuple((group, history[group]) for group in sorted(history))
    records = dynamic_parameter_records(config, ordered, state.epoch + 1)
    return replace(state, price_history=ordered, dynamic_parameters=records)


def dynamic_parameter_records(config: ClearingConfig, price_history: tuple[tuple[str, tuple[int, ...]], ...],
                              effective_epoch: int) -> tuple[tuple, ...]:
    """The dynamic parameters computed at a close from the groups' price history (oldest first), as the
    state stores them: ``(underlying, effective epoch, method, observations, volatility, maintenance,
    initial, scan range)``, ppm. Public inputs only: an auditor recomputes them from the published history."""

    parameters = compute_risk_parameters(
        {group: list(prices) for group, prices in price_history},
        DynamicRiskConfig(method=VolatilityMethod(config.dynamic_margin)), effective_epoch=effective_epoch)
    return tuple((p.underlying, p.effective_epoch, p.method, p.observations, p.volatility_ppm,
                  p.maintenance_ppm, p.initial_ppm, p.scan_range_ppm) for p in parameters.parameters)


def check_invariants(cash: np.ndarray, positions: np.ndarray, params: RiskParameters, config: ClearingConfig,
                     settlement: np.ndarray, net_deposited: int, cash_only_rows: tuple[int, ...],
                     margin_modes: tuple[str, ...] | None = None,
                     exempt_rows: frozenset[int] = frozenset(),
                     equity_values: tuple[int, ...] = (), collateral: np.ndarray | None = None) -> None:
    """Raise :class:`ClearingError` unless: every instrument's positions sum to zero; ``sum(cash)`` equals all
    deposits minus all withdrawals; the epoch's settlement flows sum to zero; the clearing house's cash-only
    accounts hold no positions and no negative cash; every account's equity covers its maintenance
    requirement, except the ``exempt_rows`` (accounts whose liquidation the oracle guard paused). Equity is
    ``cash + positions @ equity_values`` (premium-style option values; cash alone when empty or all 0) plus
    ``collateral`` (each account's haircut value of its collateral assets, when given). ``net_deposited`` is
    the settlement asset's deposits minus withdrawals plus the proceeds of conversions."""
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
    maintenance = margin_requirements(positions, params, config.risk_models, MarginLevel.MAINTENANCE,
                                      margin_modes)
    equity = cash
    if any(equity_values):
        equity = cash + positions @ np.array(equity_values, dtype=np.int64)
    if collateral is not None:
        equity = checked_add(equity, collateral, "equity")
    below = equity < maintenance
    if exempt_rows:
        below[list(exempt_rows)] = False
    if np.any(below):
        row = int(np.flatnonzero(below)[0])
        raise ClearingError(f"account row {row} left below maintenance after the liquidation pass")
