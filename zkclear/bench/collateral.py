"""``zkclear bench collateral``: core-seconds per account to prove and verify collateralization batches.

Profiles (circuits/examples.py): 8 perpetuals on linear margin, 8 perpetuals on a 4-tier table,
4 perpetuals + 4 options on portfolio margin (27 scenarios), the linear profile with 16-bit
positions (the bit-count lever), and the multi-asset profile (the 8 linear perpetuals plus 4 collateral
assets on 3 haircut tiers each, issue 13); batch sizes 1, 16, 64 (quick: 1, 2).

Multi-asset figures (``multi_asset/...``): the cost the collateral assets add per asset per account
(multi-asset profile minus the linear one, over 4 assets, same batch), and what they add to the tree: one node
range proof aggregated over the settlement asset and the 4 assets (m = 5) against the single-asset one
(m = 1), prove and verify time and bytes per node.
Times are CPU seconds of this (single-threaded) process (``time.process_time``), so they are
core-seconds whatever else runs on the machine. Phases:

- ``assign``: witness values and the exact integer check of every constraint;
- ``commit``: the Pedersen commitments of every variable (cash, positions, witnesses);
- ``range``: the aggregated range proofs of every form (their own commitments included);
- ``derive``: the verifier's homomorphic derivation of every form commitment (plus hashing);
- ``batch_verify``: one batch verification of all range proofs of the batch.

Headline metrics (issue 6): ``prove_core_seconds_per_account`` and ``verify_core_seconds_per_account``
for the 8-perp linear profile at batch 64 on the pure engine, and ``pem_seconds``. Every figure is
reported per backend (``pure/...``, ``arkworks/...``); each backend runs in its own subprocess.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

PROFILE_NAMES = ("linear-8-perps", "tiered-8-perps", "options-4-perps-4-options",
                 "linear-8-perps-16-bit-positions", "multi-asset-8-perps-4-assets")
HEADLINE = ("linear-8-perps", 64)
#: (the multi-asset profile, its single-asset baseline, the number of collateral assets it adds)
MULTI_ASSET = ("multi-asset-8-perps-4-assets", "linear-8-perps", 4)


def _pem_seconds() -> float:
    try:
        from zkclear.bench.common import measure_pem

        return float(measure_pem())
    except ImportError:
        import secrets

        from py_ecc.optimized_bls12_381 import G1, multiply

        samples = []
        for _ in range(5):
            scalar = secrets.randbits(255) | (1 << 254)
            start = time.perf_counter()
            multiply(G1, scalar)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)


def measure(profile: str, batch: int, seed: int = 1) -> dict[str, float]:
    """Prove and verify one batch of ``batch`` accounts of ``profile``; CPU seconds per phase."""
    from circuits.account_statement import account_statement
    from circuits.examples import PROFILE_MODES, PROFILES, collateralized_account
    from provers import collateral
    from provers.bulletproofs import batch_verify
    from provers.bulletproofs.generators import vector_generators
    from zkclear.crypto.pedersen import commit_many
    from zkclear.crypto.randomness import BlindingSource

    public = PROFILES[profile]()
    mode = PROFILE_MODES[profile]
    public.check_budget()
    rng = random.Random(seed)
    witnesses = [collateralized_account(public, rng, mode=mode, held=4, max_lots=10_000)
                 for _ in range(batch)]
    context = f"bench/{profile}/{batch}".encode()
    blindings = BlindingSource.deterministic(b"bench-collateral-secret-0123456789")
    clock = time.process_time

    # One-time, per-process setup kept out of the per-account figures: the hash-to-curve generator
    # vectors for the largest part of this batch, and the fixed-base tables of G and H.
    start = clock()
    largest = max(width * m for width, m in collateral.proof_layout(public, [mode] * batch))
    vector_generators(largest)
    commit_many([0], [0])
    generators_s = clock() - start

    start = clock()
    rows = [collateral.assign_account(i, w, public) for i, w in enumerate(witnesses)]
    blinds = [collateral.derive_blindings(blindings, context, public, i, mode) for i in range(batch)]
    assign_s = clock() - start

    start = clock()
    for values, gammas in zip(rows, blinds, strict=True):
        commit_many(values, gammas)
    commit_s = clock() - start

    start = clock()
    proof, commitments = collateral.prove_rows(public, context, [mode] * batch, rows, blinds)
    prove_rows_s = clock() - start

    start = clock()
    statements = collateral.collateral_statements(proof, commitments, public, context)
    derive_s = clock() - start
    start = clock()
    batch_verify(statements)
    batch_verify_s = clock() - start

    statement = account_statement(public, mode).statement
    proof_bytes = len(proof.to_bytes())
    return {
        "accounts": batch,
        "generators_s": generators_s,
        "range_bits_per_account": statement.range_bits,
        "forms_per_account": len(statement.range_constraints),
        "commitments_per_account": len(statement.variables),
        "proof_parts": len(proof.parts),
        "proof_bytes_per_account": proof_bytes / batch,
        "assign_s": assign_s / batch,
        "commit_s": commit_s / batch,
        "range_s": (prove_rows_s - commit_s) / batch,
        "prove_s": (assign_s + prove_rows_s) / batch,
        "derive_s": derive_s / batch,
        "batch_verify_s": batch_verify_s / batch,
        "verify_s": (derive_s + batch_verify_s) / batch,
    }


def measure_all(profiles: tuple[str, ...], batches: tuple[int, ...]) -> dict[str, dict[str, float]]:
    """``measure`` for every (profile, batch) in this process's backend, keyed ``"profile/batchN"``."""
    return {f"{profile}/batch{batch}": measure(profile, batch) for profile in profiles for batch in batches}


def measure_node_proofs(assets: int, samples: int = 8, n_bits: int = 64) -> dict[str, float]:
    """Core-seconds and bytes of one tree node range proof (Bulletproofs++, as the epoch prover makes them) over the
    settlement asset alone (m = 1) and aggregated over it and ``assets`` collateral assets (m = 1 + assets), proving
    and verifying ``samples`` of each, one by one and in one batch (per proof)."""
    import secrets

    from provers.bulletproofs import batch_verify
    from provers.bulletproofs_pp import BppRangeStatement, prove_range_pp
    from provers.bulletproofs_pp.range_proof import generators
    from zkclear.crypto.randomness import BlindingSource

    clock = time.process_time
    generators(1 << assets.bit_length(), n_bits)  # the largest aggregation, before the clock
    figures: dict[str, float] = {}
    for m in (1, 1 + assets):
        proofs = []
        start = clock()
        for k in range(samples):
            values = [secrets.randbits(n_bits - 2) for _ in range(m)]
            blinds = [secrets.randbits(250) for _ in range(m)]
            context = f"bench/node/{m}/{k}".encode()
            proof, commitments = prove_range_pp(values, blinds, context, n_bits=n_bits,
                                                rng=BlindingSource.deterministic(b"bench-node-secret").nonces(context))
            proofs.append(BppRangeStatement(proof, tuple(commitments), n_bits, context))
        prove_s = (clock() - start) / samples
        start = clock()
        for statement in proofs:
            batch_verify([statement])
        verify_s = (clock() - start) / samples
        start = clock()
        batch_verify(proofs)  # as a participant verifies the siblings of their path: one batch
        figures[f"node_m{m}_batch_verify_s"] = (clock() - start) / samples
        figures[f"node_m{m}_prove_s"] = prove_s
        figures[f"node_m{m}_verify_s"] = verify_s
        figures[f"node_m{m}_bytes"] = len(proofs[0].proof.to_bytes())
    return figures


def multi_asset_metrics(rows: dict[str, dict[str, float]], node: dict[str, float], batch: int,
                        echo: Callable[[str], None]) -> dict[str, float]:
    """The added cost per collateral asset per account and per tree node (see the module docstring)."""
    profile, baseline, assets = MULTI_ASSET
    multi, base = rows.get(f"{profile}/batch{batch}"), rows.get(f"{baseline}/batch{batch}")
    metrics: dict[str, float] = {}
    if multi is not None and base is not None:
        columns = {"prove_s": "prove_s", "verify_s": "verify_s", "range_bits": "range_bits_per_account",
                   "commitments": "commitments_per_account", "proof_bytes": "proof_bytes_per_account"}
        for name, column in columns.items():
            metrics[f"multi_asset/added_{name}_per_asset_per_account"] = (multi[column] - base[column]) / assets
        echo(f"multi-asset (batch {batch}): each collateral asset adds "
             f"{metrics['multi_asset/added_prove_s_per_asset_per_account']:.3f} core-s to prove and "
             f"{metrics['multi_asset/added_verify_s_per_asset_per_account']:.3f} core-s to verify per account "
             f"({metrics['multi_asset/added_range_bits_per_asset_per_account']:.0f} range bits, "
             f"{metrics['multi_asset/added_commitments_per_asset_per_account']:.1f} commitments)")
    one, many = 1, 1 + assets
    for name, value in node.items():
        metrics[f"multi_asset/{name}"] = value
    for phase in ("prove_s", "verify_s", "batch_verify_s", "bytes"):
        metrics[f"multi_asset/node_added_{phase}_per_asset"] = (node[f"node_m{many}_{phase}"]
                                                                 - node[f"node_m{one}_{phase}"]) / assets
    echo(f"tree node range proof: m=1 prove {node['node_m1_prove_s']:.3f} s, verify {node['node_m1_verify_s']:.3f} s, "
         f"{node['node_m1_bytes']:.0f} B; m={many} prove {node[f'node_m{many}_prove_s']:.3f} s, verify "
         f"{node[f'node_m{many}_verify_s']:.3f} s, {node[f'node_m{many}_bytes']:.0f} B")
    return metrics


def _in_backend(backend: str, profiles: tuple[str, ...],
                batches: tuple[int, ...]) -> dict[str, dict[str, float]] | None:
    """:func:`measure_all` in a subprocess with ``ZKCLEAR_BACKEND=backend``; None if that backend fails."""
    env = dict(os.environ, ZKCLEAR_BACKEND=backend)
    code = ("import json; from zkclear.bench.collateral import measure_all; "
            f"print(json.dumps(measure_all({profiles!r}, {batches!r})))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def _node_proofs_in_backend(backend: str, assets: int, samples: int) -> dict[str, float] | None:
    """:func:`measure_node_proofs` in a subprocess with ``ZKCLEAR_BACKEND=backend``; None if it fails."""
    env = dict(os.environ, ZKCLEAR_BACKEND=backend)
    code = ("import json; from zkclear.bench.collateral import measure_node_proofs; "
            f"print(json.dumps(measure_node_proofs({assets!r}, {samples!r})))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def _table(backend: str, rows: dict[str, dict[str, float]], echo: Callable[[str], None]) -> None:
    echo(f"backend {backend}: core-seconds per account (process CPU time)")
    echo(f"{'profile':32} {'batch':>5} {'bits':>5} {'commit':>8} {'range':>8} {'prove':>8} "
         f"{'derive':>8} {'bverify':>8} {'verify':>8} {'bytes':>7}")
    for key, row in rows.items():
        profile, batch = key.split("/batch")
        echo(f"{profile:32} {batch:>5} {row['range_bits_per_account']:>5} {row['commit_s']:>8.3f} "
             f"{row['range_s']:>8.3f} {row['prove_s']:>8.3f} {row['derive_s']:>8.3f} "
             f"{row['batch_verify_s']:>8.3f} {row['verify_s']:>8.3f} "
             f"{row['proof_bytes_per_account']:>7.0f}")


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    """Run the suite on the pure engine (the target) and the native one; return metric -> number.

    Each backend runs in its own subprocess (the backend is fixed at import). Quick mode: batches
    1 and 2, the first three profiles on the pure engine and the linear one on the native backend.
    """
    batches = (1, 2) if quick else (1, 16, 64)
    metrics: dict[str, float] = {"pem_seconds": _pem_seconds()}
    echo(f"PEM (py-ecc G1 scalar multiplication): {metrics['pem_seconds'] * 1e3:.1f} ms")
    headline = f"{HEADLINE[0]}/batch{HEADLINE[1] if not quick else batches[-1]}"
    quick_pure = (*PROFILE_NAMES[:3], MULTI_ASSET[0])
    for backend, profiles in (("pure", quick_pure if quick else PROFILE_NAMES),
                              ("arkworks", PROFILE_NAMES[:1] if quick else PROFILE_NAMES)):
        rows = _in_backend(backend, profiles, batches)
        if rows is None:
            echo(f"backend {backend}: not available, skipped")
            continue
        _table(backend, rows, echo)
        for key, row in rows.items():
            for name, value in row.items():
                metrics[f"{backend}/{key}/{name}"] = value
    pure_rows: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if key.startswith("pure/"):
            row, name = key[len("pure/"):].rsplit("/", 1)
            pure_rows.setdefault(row, {})[name] = value
    node = _node_proofs_in_backend("pure", MULTI_ASSET[2], 2 if quick else 8)
    if node is not None:
        metrics.update(multi_asset_metrics(pure_rows, node, batches[-1] if quick else 16, echo))
    if f"pure/{headline}/prove_s" in metrics:
        metrics["prove_core_seconds_per_account"] = metrics[f"pure/{headline}/prove_s"]
        metrics["verify_core_seconds_per_account"] = metrics[f"pure/{headline}/verify_s"]
        echo(f"headline (pure engine, {headline}): prove {metrics['prove_core_seconds_per_account']:.3f} "
             f"core-s/account, verify {metrics['verify_core_seconds_per_account']:.3f} core-s/account")
    return metrics
