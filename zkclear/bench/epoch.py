"""``zkclear bench epoch``: what a venue pays to close an epoch, per account, on each engine.

A whole epoch close is :func:`zkclear.proofs.epoch_prover.prove_epoch` (clearing excluded): placement,
every account's commitments and collateralization proof (chunks), the sum tree, its node proofs, the
root statements (matched book, solvency) and every receipt. It runs in one process with the serial
executor, so the process CPU time (``time.process_time``) is the core-seconds the close costs; it is
split by stage and divided by the number of accounts. Then one participant's receipt check (the worst
of a standard and a portfolio account, from the receipt's bytes: decoding included) and the full audit are
timed. The audit is timed as ``zkclear audit`` runs it, from the published audit file (decoding and every G1
check of its points included: ``audit_core_seconds_per_account``); before session 15 the bench audited the
prover's decoded objects, which skipped both (``audit_decoded_core_seconds_per_account``, about half as much).

Profiles:

- ``linear-8``: 8 perpetuals on linear margin, every account on standard margin, 4 positions each;
- ``demo``: the demo market's mix (``zkclear demo``'s synthetic market after its first epoch: BTC and
  ETH perpetuals, a dated future, a call and a put, a quarter of the traders on portfolio margin);
- ``options-heavy``: a perpetual and an options chain of 40 strikes (a call and a put at each, 81
  instruments, 27 scenarios), half the accounts on portfolio margin.

Each engine runs in its own subprocess (``ZKCLEAR_BACKEND=pure`` / ``arkworks``); PEM (one py-ecc G1
scalar multiplication) is measured in that subprocess before and after each profile. JSON names:
``epoch_core_seconds_per_account_<profile>_<engine>``, ``receipt_verify_seconds_<profile>_<engine>``,
``audit_core_seconds_per_account_<profile>_<engine>``, ``audit_decoded_core_seconds_per_account_<profile>_<engine>``,
``stage_<stage>_core_seconds_per_account_<profile>_<engine>``,
``pem_seconds_<profile>_<engine>`` and ``accounts_<profile>``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

PROFILES = ("linear-8", "demo", "options-heavy")
ENGINES = ("pure", "arkworks")
#: Accounts per profile (full, quick). The node proofs per account barely depend on the count at these
#: sizes (≈ 2·(H − c − log2 chunks) per chunk of 16), so small epochs give the per-account figure.
SIZES = {"linear-8": (128, 32), "demo": (205, 25), "options-heavy": (32, 8)}
STAGES = ("placement", "chunk_proofs", "tree_build", "node_proofs", "root_statements", "receipts")
SECRET = b"bench-epoch-operator-secret-0123"


def _pairs(public: Any, count: int, modes: tuple[str, str], rng: random.Random, held: int) -> list[Any]:
    """``count`` collateralized accounts in opposite pairs (so the book is matched)."""
    from circuits.examples import collateralized_account, required_cash
    from circuits.public_data import AccountWitness
    from zkclear.proofs.epoch_prover import AccountInput

    accounts = []
    for i in range(count // 2):
        first = collateralized_account(public, rng, mode=modes[0], held=held, max_lots=10_000)
        opposite = tuple(-q for q in first.positions)
        second = AccountWitness(required_cash(public, opposite, modes[1]) + rng.randint(0, 1_000_000), opposite,
                                modes[1])
        accounts += [AccountInput(f"acct-{i}-a", first), AccountInput(f"acct-{i}-b", second)]
    if count % 2:
        flat = tuple(0 for _ in public.instruments)
        accounts.append(AccountInput("acct-flat", AccountWitness(rng.randint(0, 1_000_000), flat, modes[0])))
    return accounts


def _demo_market(count: int, workdir: Path) -> tuple[Any, list[Any]]:
    """The demo's synthetic market cleared for one epoch: (public data, accounts)."""
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import LIQUIDATORS, MarketSpec, generate_market

    traders = max(4, count - len(LIQUIDATORS) - 3)  # + the liquidators and the clearing house's 3 accounts
    spec = MarketSpec(accounts=traders, epochs=2, crash_epoch=2, fills_per_epoch=max(50, 2 * traders))
    config_path, inputs = generate_market(workdir / "market", spec)
    deployment = Deployment.init(workdir / "venue", config_path.read_text(encoding="utf-8"), ProvingSettings())
    deployment.run_epoch(inputs[0], 1)
    return deployment.public_data(1), deployment.accounts(1)


def setup(profile: str, count: int, workdir: Path) -> tuple[Any, list[Any]]:
    """(public data, accounts) of ``profile`` with about ``count`` accounts (``linear-8-positions-16``: the
    linear profile on a deployment whose positions fit 16 bits, a lever measured by :func:`run_levers`)."""
    from circuits.examples import linear_perpetuals, options_portfolio
    from circuits.public_data import PORTFOLIO, STANDARD

    rng = random.Random(2026)
    if profile in ("linear-8", "linear-8-positions-16"):
        public = linear_perpetuals(8, position_bits=16 if profile.endswith("16") else 32)
        return public, _pairs(public, count, (STANDARD, STANDARD), rng, held=4)
    if profile == "options-heavy":
        public = options_portfolio(1, 80, label="options-chain-40-strikes")
        return public, _pairs(public, count, (PORTFOLIO, STANDARD), rng, held=6)
    if profile == "demo":
        return _demo_market(count, workdir)
    raise ValueError(f"unknown profile {profile!r}")


def _reserves(accounts: list[Any], public: Any) -> Any:
    from zkclear.bench.common import bench_reserves

    total = sum(max(0, a.witness.cash) for a in accounts)
    total += sum(abs(q) * v for a in accounts for q, v in zip(a.witness.positions, public.value_per_lot,
                                                               strict=True))
    return bench_reserves(total + total // 20 + 1)


def _warm_generators(public: Any, config: Any) -> None:
    from provers.bulletproofs.generators import vector_generators
    from provers.collateral import proof_layout
    from zkclear.crypto.pedersen import commit_many

    largest = 64
    for mode in public.margin_modes:
        for width, m in proof_layout(public, [mode] * config.chunk_size):
            largest = max(largest, width * (1 << (m - 1).bit_length()))
    vector_generators(largest)
    commit_many([0], [0])


def measure(profile: str, count: int, chunk_bits: int | None = None) -> dict[str, float]:
    """Close one epoch of ``profile`` in this process (its engine); core-seconds per stage and more. Without
    ``chunk_bits``, the chunk size ``zkclear init`` gives a deployment of that listing."""
    from zkclear.bench.common import measure_pem, stand_in_public_inputs, stand_in_published
    from zkclear.bundle.format import decode_receipt, encode_audit_data, encode_receipt
    from zkclear.chains import attest_reserves
    from zkclear.crypto.randomness import BlindingSource
    from zkclear.executor import SerialExecutor
    from zkclear.proofs.chunks import CollateralChunks
    from zkclear.proofs.epoch_prover import prove_epoch
    from zkclear.tree.placement import TreeConfig, default_chunk_bits
    from zkclear.verifier.audit import audit_epoch
    from zkclear.verifier.audit_stream import audit_file
    from zkclear.verifier.published import EpochFiles
    from zkclear.verifier.receipt import verify_receipt

    pem_before = measure_pem(15, time.process_time)
    with tempfile.TemporaryDirectory(prefix="zkclear-bench-epoch-") as tmp:
        public, accounts = setup(profile, count, Path(tmp))
    key, reserves = _reserves(accounts, public)
    system = CollateralChunks()
    config = TreeConfig(chunk_bits=chunk_bits if chunk_bits is not None
                        else default_chunk_bits(system.instrument_count(public)))
    clock = time.process_time
    # One-time, per-process setup kept out of the per-account figures (reported on its own): the
    # generator vectors of the largest range proof a chunk can need, and the Pedersen tables.
    started = clock()
    _warm_generators(public, config)
    generators = clock() - started
    started = clock()
    artifacts = prove_epoch(accounts, public, reserves, epoch_id=1, previous=None, config=config,
                            blindings=BlindingSource.deterministic(SECRET), chunk_system=system,
                            executor=SerialExecutor(), stage_clock=clock,
                            public_inputs_digest=stand_in_public_inputs(1).digest())
    close = clock() - started
    n = len(accounts)
    bundle = artifacts.bundle.with_attestations(
        attest_reserves(key, artifacts.bundle.attestation_context(), reserves.entries))
    published = stand_in_published(bundle, public)
    out: dict[str, float] = {"accounts": n, "epoch_core_seconds_per_account": close / n,
                             "generators_seconds": generators,
                             "node_proofs": len(artifacts.audit.node_proofs),
                             "chunks": len(artifacts.audit.chunks)}
    for stage in STAGES:
        out[f"stage_{stage}"] = artifacts.timings.get(stage, 0.0) / n
    # The participant's check: the worst of one standard and one portfolio account (warm generators; CPU
    # seconds, which is what it takes on a machine with nothing else running), from the receipt's bytes as a
    # participant holds them: decoding (every point of the chunk checked in G1) is part of the check.
    by_mode: dict[str, str] = {}
    for account in accounts:
        by_mode.setdefault(account.witness.margin_mode, account.account_id)
    worst = 0.0
    header = bundle.header
    for account_id in by_mode.values():
        data = encode_receipt(artifacts.receipts[account_id], system)
        started = clock()
        receipt = decode_receipt(data, public, system, chunk_size=header.tree.chunk_size,
                                 asset_count=header.asset_count)
        verify_receipt(published, receipt, account_id, chunk_system=system)
        worst = max(worst, clock() - started)
    out["receipt_verify_seconds"] = worst
    # The audit as `zkclear audit` runs it: from the published audit file (decoding it, every point checked in G1,
    # included); and, for comparison with the figures before session 15, from the prover's decoded objects.
    with tempfile.TemporaryDirectory(prefix="zkclear-bench-audit-") as folder:
        files = EpochFiles(Path(folder), header.epoch_id)
        files.audit.write_bytes(encode_audit_data(artifacts.audit, system))
        started = clock()
        audit_file(replace(published, files=files), chunk_system=system, executor=SerialExecutor())
        out["audit_core_seconds_per_account"] = (clock() - started) / n
    started = clock()
    audit_epoch(published, artifacts.audit, chunk_system=system, executor=SerialExecutor())
    out["audit_decoded_core_seconds_per_account"] = (clock() - started) / n
    pem_after = measure_pem(15, time.process_time)
    out["pem_seconds"] = statistics.mean((pem_before, pem_after))
    out["epoch_pem_per_account"] = out["epoch_core_seconds_per_account"] / out["pem_seconds"]
    return out


def measure_all(profiles: tuple[str, ...], quick: bool) -> dict[str, dict[str, float]]:
    """:func:`measure` for every profile in this process's engine."""
    return {profile: measure(profile, SIZES[profile][1 if quick else 0]) for profile in profiles}


def _in_engine(engine: str, profiles: tuple[str, ...], quick: bool) -> dict[str, dict[str, float]] | str:
    env = dict(os.environ, ZKCLEAR_BACKEND=engine)
    code = ("import json; from zkclear.bench.epoch import measure_all; "
            f"print(json.dumps(measure_all({profiles!r}, {quick!r})))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr.strip() or "no output").splitlines()
        return lines[-1]
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(quick: bool, echo: Callable[[str], None], *, profiles: tuple[str, ...] = PROFILES,
        engines: tuple[str, ...] = ENGINES) -> dict[str, float]:
    """Every profile on every engine (each engine in its own subprocess); metric name -> number."""
    from zkclear.bench.common import machine_summary

    metrics: dict[str, float] = {}
    echo(f"machine: {machine_summary()}; load average {os.getloadavg()[0]:.1f}")
    echo(f"{'profile':14} {'engine':9} {'accts':>5} {'core-s/acct':>11} {'PEM/acct':>9} "
         + " ".join(f"{s[:10]:>10}" for s in STAGES) + f" {'receipt s':>9} {'audit/acct':>10} {'PEM ms':>6}")
    for engine in engines:
        rows = _in_engine(engine, profiles, quick)
        if isinstance(rows, str):
            echo(f"engine {engine}: not available ({rows})")
            continue
        for profile, row in rows.items():
            tag = f"{profile}_{engine}"
            metrics[f"epoch_core_seconds_per_account_{tag}"] = row["epoch_core_seconds_per_account"]
            metrics[f"epoch_pem_per_account_{tag}"] = row["epoch_pem_per_account"]
            metrics[f"receipt_verify_seconds_{tag}"] = row["receipt_verify_seconds"]
            metrics[f"audit_core_seconds_per_account_{tag}"] = row["audit_core_seconds_per_account"]
            metrics[f"audit_decoded_core_seconds_per_account_{tag}"] = row["audit_decoded_core_seconds_per_account"]
            metrics[f"pem_seconds_{tag}"] = row["pem_seconds"]
            metrics[f"node_proofs_{tag}"] = row["node_proofs"]
            metrics[f"generators_seconds_{tag}"] = row["generators_seconds"]
            metrics[f"accounts_{profile}"] = row["accounts"]
            for stage in STAGES:
                metrics[f"stage_{stage}_core_seconds_per_account_{tag}"] = row[f"stage_{stage}"]
            echo(f"{profile:14} {engine:9} {row['accounts']:>5.0f} {row['epoch_core_seconds_per_account']:>11.3f} "
                 f"{row['epoch_pem_per_account']:>9.1f} "
                 + " ".join(f"{row[f'stage_{s}']:>10.4f}" for s in STAGES)
                 + f" {row['receipt_verify_seconds']:>9.3f} {row['audit_core_seconds_per_account']:>10.4f}"
                 f" {row['pem_seconds'] * 1e3:>6.2f}")
    metrics["load_average"] = os.getloadavg()[0]
    return metrics


#: Variants measured by :func:`run_levers`: (label, profile, accounts, chunk bits).
LEVERS = (
    ("linear-8, chunks of 16 (default)", "linear-8", 128, 4),
    ("linear-8, chunks of 32", "linear-8", 128, 5),
    ("linear-8, chunks of 64", "linear-8", 128, 6),
    ("linear-8, 16-bit positions", "linear-8-positions-16", 128, 4),
    ("linear-8, 16-bit positions, chunks of 64", "linear-8-positions-16", 128, 6),
    ("demo, chunks of 16 (default)", "demo", 128, 4),
    ("demo, chunks of 32", "demo", 128, 5),
    ("options-heavy, chunks of 16", "options-heavy", 32, 4),
    ("options-heavy, chunks of 8", "options-heavy", 32, 3),
    ("options-heavy, chunks of 4 (default for 81 instruments)", "options-heavy", 32, 2),
)


def run_levers(echo: Callable[[str], None] = print, engine: str = "arkworks") -> dict[str, dict[str, float]]:
    """The tree-shape and bit-width levers on one engine (docs/performance.md, "Epoch close"):
    ``python -c "from zkclear.bench.epoch import run_levers; run_levers()"``."""
    env = dict(os.environ, ZKCLEAR_BACKEND=engine)
    results = {}
    for label, profile, count, chunk_bits in LEVERS:
        code = ("import json; from zkclear.bench.epoch import measure; "
                f"print(json.dumps(measure({profile!r}, {count}, {chunk_bits})))")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        results[label] = row
        echo(f"{label:36} {engine:9} {row['accounts']:>4.0f} accts  {row['epoch_core_seconds_per_account']:.3f} "
             f"core-s/acct (chunks {row['stage_chunk_proofs']:.3f}, nodes {row['stage_node_proofs']:.3f}; "
             f"{row['node_proofs']:.0f} node-group proofs)  receipt {row['receipt_verify_seconds']:.3f} s  "
             f"audit {row['audit_core_seconds_per_account']:.4f}  PEM {row['pem_seconds'] * 1e3:.2f} ms")
    return results
