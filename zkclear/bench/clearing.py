"""``zkclear bench clearing``: one clearing epoch end to end, in memory.

Full run: 100,000 accounts x 8 instruments (6 perpetuals, 2 dated futures) and 1,000,000 fills in the timed
epoch; ``--quick``: 10,000 accounts and 100,000 fills. Epoch 1 (untimed) opens the accounts, funds them and
gives every account a position; epoch 2 (timed) validates and applies the fills, moves every mark by up to +-3
% (so some accounts are liquidated), charges funding, runs margin, liquidation and the invariant checks.

Metrics: ``epoch_seconds`` (validation + ``apply_epoch``), ``fills_per_second``, ``accounts_per_second``, and,
outside the target, ``serialize_hash_seconds`` (canonical inputs + state + report JSON and the epoch hash) and
``ledger_commit_seconds`` (``Ledger.commit`` of the same epoch: load the previous state, apply, serialize,
hash, insert in one SQLite transaction, with ``synchronous=OFF`` so no disk sync).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zkclear.clearing.config import INSURANCE_FUND, ClearingConfig
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import AccountOpen, EpochInputs, Fills, MarkPrice, Transfer
from zkclear.clearing.instruments import InstrumentSpec, MarginTier
from zkclear.clearing.ledger import Ledger, epoch_hash
from zkclear.clearing.state import EpochState, canonical_json

INSTRUMENTS = 8
SEED = 20261125


def bench_config() -> ClearingConfig:
    """6 perpetuals (half linear, half tiered) and 2 dated futures expiring later."""
    specs = []
    for k in range(INSTRUMENTS):
        dated = k >= 6
        tiered = k % 2 == 1
        tiers: dict = {}
        if tiered:
            tiers = {"maintenance_tiers": (MarginTier(10**10, 50_000, 0), MarginTier(10**11, 100_000,
                                                                                     500_000_000)),
                     "initial_tiers": (MarginTier(10**10, 100_000, 0), MarginTier(10**11, 200_000, 10**9))}
        specs.append(InstrumentSpec(
            instrument_id=f"{'FUT' if dated else 'PERP'}-{k}", kind="dated_future" if dated else "perpetual",
            tick_size=1, lot_size=1, contract_multiplier=100, initial_margin_ppm=100_000,
            maintenance_margin_ppm=50_000, margin_model="tiered" if tiered else "linear",
            expiry_epoch=1000 if dated else None, **tiers))
    return ClearingConfig(instruments=tuple(specs), liquidators=("acct0000000",))


def _fills(rng: np.random.Generator, count: int, accounts: list[str], marks: np.ndarray,
           prefix: str) -> Fills:
    buyer = rng.integers(0, len(accounts), count)
    seller = (buyer + rng.integers(1, len(accounts), count)) % len(accounts)  # never a self-trade
    column = rng.integers(0, INSTRUMENTS, count)
    price = marks[column] + rng.integers(-50, 51, count)
    size = rng.integers(1, 20, count)
    names = np.array(accounts, dtype=object)
    instruments = [f"{'FUT' if k >= 6 else 'PERP'}-{k}" for k in range(INSTRUMENTS)]
    return Fills(
        fill_id=tuple(f"{prefix}{k}" for k in range(count)), buyer=tuple(names[buyer].tolist()),
        seller=tuple(names[seller].tolist()), instrument=tuple(instruments[c] for c in column.tolist()),
        size=size.astype(np.int64), price=price.astype(np.int64), buyer_fee=(size * 3).astype(np.int64),
        seller_fee=(size * 2).astype(np.int64))


def _marks(config: ClearingConfig, prices: np.ndarray) -> tuple[MarkPrice, ...]:
    return tuple(MarkPrice(spec.instrument_id, int(p), 50 if spec.kind == "perpetual" else None)
                 for spec, p in zip(config.instruments, prices.tolist(), strict=True))


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    accounts_count, fills_count = (10_000, 100_000) if quick else (100_000, 1_000_000)
    rng = np.random.default_rng(SEED)
    config = bench_config()
    accounts = [f"acct{k:07d}" for k in range(accounts_count)]
    marks = np.full(INSTRUMENTS, 100_000, dtype=np.int64)
    echo(f"setting up {accounts_count:,} accounts x {INSTRUMENTS} instruments ...")
    # Mostly well funded, about one account in fifty thinly (these get liquidated in the timed epoch).
    deposits = rng.integers(1_000, 10_000, accounts_count) * 10**6
    thin = rng.random(accounts_count) < 0.02
    deposits[thin] = rng.integers(30, 200, int(thin.sum())) * 10**6
    setup = EpochInputs(
        epoch=1, fills=_fills(rng, accounts_count * 2, accounts, marks, "s"), marks=_marks(config, marks),
        transfers=(*(Transfer(f"d{k}", "deposit", a, int(d))
                     for k, (a, d) in enumerate(zip(accounts, deposits.tolist(), strict=True))),
                   Transfer("fund", "deposit", INSURANCE_FUND, 10**15)),
        opens=tuple(AccountOpen(a) for a in accounts))
    state, _ = apply_epoch(EpochState.genesis(config), setup, config)

    new_marks = marks + (marks * rng.integers(-30, 31, INSTRUMENTS)) // 1000
    inputs = EpochInputs(epoch=2, fills=_fills(rng, fills_count, accounts, new_marks, "f"),
                         marks=_marks(config, new_marks))
    echo(f"timing one epoch: {fills_count:,} fills ...")
    start = time.perf_counter()
    new_state, report = apply_epoch(state, inputs, config)
    epoch_seconds = time.perf_counter() - start

    start = time.perf_counter()
    state_bytes = new_state.canonical_bytes()
    report_bytes = canonical_json(report.to_canonical())
    epoch_hash(b"\0" * 32, 2, inputs.canonical_bytes(), state_bytes, report_bytes)
    serialize_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as directory, Ledger(Path(directory) / "bench.sqlite", config,
                                                             durable=False) as ledger:
        ledger.commit(setup, scratch=Path(directory))
        start = time.perf_counter()
        ledger.commit(inputs, scratch=Path(directory))
        ledger_seconds = time.perf_counter() - start

    echo(f"epoch: {epoch_seconds:.2f} s ({fills_count / epoch_seconds:,.0f} fills/s, "
         f"{accounts_count / epoch_seconds:,.0f} accounts/s); liquidations: {len(report.liquidations)}")
    echo(f"canonical serialization + epoch hash: {serialize_seconds:.2f} s")
    echo(f"ledger commit (load, apply, serialize, hash, SQLite insert; no fsync): {ledger_seconds:.2f} s")
    return {"epoch_seconds": epoch_seconds, "fills_per_second": fills_count / epoch_seconds,
            "accounts_per_second": accounts_count / epoch_seconds,
            "serialize_hash_seconds": serialize_seconds, "ledger_commit_seconds": ledger_seconds,
            "fills": float(fills_count), "accounts": float(accounts_count),
            "liquidations": float(len(report.liquidations))}
