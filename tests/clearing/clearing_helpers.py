"""Shared builders for the clearing tests (plain functions, imported by the test modules)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from zkclear.clearing.config import SYSTEM_ACCOUNTS, ClearingConfig
from zkclear.clearing.engine import EpochReport, apply_epoch
from zkclear.clearing.inputs import AccountOpen, EpochInputs, Fill, Fills, MarkPrice, Transfer
from zkclear.clearing.instruments import InstrumentSpec
from zkclear.clearing.margin import MarginLevel, margin_requirements
from zkclear.clearing.state import EpochState

PERP = "BTC-PERP"
DATED = "BTC-DEC"


def perp_spec(**changes: object) -> InstrumentSpec:
    """Perpetual: 1 price unit per tick, 1 quantity unit per lot, 10 settlement units per lot per tick,
    IM 10 %, MM 5 %, linear."""
    spec = InstrumentSpec(PERP, "perpetual", tick_size=1, lot_size=1, contract_multiplier=10,
                          initial_margin_ppm=100_000, maintenance_margin_ppm=50_000)
    return dataclasses.replace(spec, **changes)


def dated_spec(expiry_epoch: int = 2) -> InstrumentSpec:
    return InstrumentSpec(DATED, "dated_future", tick_size=1, lot_size=1, contract_multiplier=10,
                          initial_margin_ppm=100_000, maintenance_margin_ppm=50_000,
                          expiry_epoch=expiry_epoch)


def config(*specs: InstrumentSpec, **options: object) -> ClearingConfig:
    return ClearingConfig(instruments=specs or (perp_spec(),), **options)


def deposit(account: str, amount: int, transfer_id: str | None = None) -> Transfer:
    return Transfer(transfer_id or f"dep-{account}-{amount}", "deposit", account, amount)


def withdraw(account: str, amount: int, transfer_id: str | None = None) -> Transfer:
    return Transfer(transfer_id or f"wd-{account}-{amount}", "withdrawal", account, amount)


def fill(fill_id: str, buyer: str, seller: str, size: int, price: int, instrument: str = PERP,
         buyer_fee: int = 0, seller_fee: int = 0) -> Fill:
    return Fill(fill_id, buyer, seller, instrument, size, price, buyer_fee, seller_fee)


def epoch_inputs(epoch: int, marks: dict[str, int | tuple[int, int | None]], fills: list[Fill] = (),
                 transfers: list[Transfer] = (), opens: list[str] = ()) -> EpochInputs:
    """``marks``: instrument -> mark (funding 0 for perpetuals) or (mark, funding rate or None)."""
    mark_records = []
    for instrument, value in marks.items():
        mark, rate = value if isinstance(value, tuple) else (value, 0 if instrument != DATED else None)
        mark_records.append(MarkPrice(instrument, mark, rate))
    return EpochInputs(epoch=epoch, fills=Fills.from_records(list(fills)), marks=tuple(mark_records),
                       transfers=tuple(transfers), opens=tuple(AccountOpen(a) for a in opens))


def run(cfg: ClearingConfig, *epochs: EpochInputs, state: EpochState | None = None
        ) -> tuple[EpochState, list[EpochReport]]:
    state = state or EpochState.genesis(cfg)
    reports = []
    for inputs in epochs:
        state, report = apply_epoch(state, inputs, cfg)
        assert_invariants(state, report, cfg)
        reports.append(report)
    return state, reports


def tier_sum_haircut(asset: object, balance: int) -> int:
    """The haircut value of a collateral balance computed independently of the engine's lines: the tier sum
    ``⌊Σ_t ratio_t · (min(V, upper_t) − lower_t)⁺ / PPM⌋`` of the value rounded down first, ``V = ⌊b · p · num /
    den⌋`` (the statements' figure)."""
    value = Fraction(balance * asset.price_ticks * asset.unit_value_num // asset.unit_value_den)
    total, lower = Fraction(0), 0
    for tier in asset.haircut_tiers:
        top = value if tier.upper_bound == 0 else min(value, tier.upper_bound)
        total += tier.ratio_ppm * max(top - lower, 0)
        lower = tier.upper_bound
    return int(total // 1_000_000)


def assert_invariants(state: EpochState, report: EpochReport, cfg: ClearingConfig) -> None:
    """The engine's invariants, re-checked from outside with plain Python ints."""
    positions = state.positions.tolist()
    for column in range(len(state.instruments)):
        assert sum(row[column] for row in positions) == 0, "book not matched"
    assert sum(state.cash.tolist()) == state.total_deposited - state.total_withdrawn + state.total_converted, \
        "money not conserved"
    assert sum(report.settlement.tolist()) == 0, "settlement flows do not sum to zero"
    for account in SYSTEM_ACCOUNTS:
        assert state.cash_of(account) >= 0
        assert not any(state.asset_balances[state.row(account)].tolist()), "the clearing house holds collateral"
    balances = state.asset_balances.tolist()
    for k, (deposited, withdrawn, converted) in enumerate(state.asset_totals):
        assert all(row[k] >= 0 for row in balances), "a negative collateral balance"
        assert sum(row[k] for row in balances) == deposited - withdrawn - converted, "collateral not conserved"
    maintenance = margin_requirements(state.positions, report.risk, cfg.risk_models, MarginLevel.MAINTENANCE,
                                      state.margin_modes)
    equity = [cash + sum(tier_sum_haircut(asset, row[k]) for k, asset in enumerate(report.risk.assets))
              for cash, row in zip(state.cash.tolist(), balances, strict=True)]
    below = [state.accounts[r] for r, (e, m) in enumerate(zip(equity, maintenance.tolist(), strict=True)) if e < m]
    below = [account for account in below if account not in report.paused_accounts]
    assert not below, f"accounts below maintenance: {below}"
