"""``zkclear bench tree``: what the sum tree adds to an epoch close, receipt checks, the audit.

Figures (docs/performance.md, "Tree and solvency"):

- ``tree_build_seconds_per_account`` (at 2^16 accounts, height 32, default chunk size; 2^14 too):
  placement, leaf hashing, the sparse sum tree with its padding nodes. Leaf commitments are inputs
  (the collateral prover makes them), so they are mocked by cheap distinct points.
- ``receipt_generate_core_seconds``: per account, everything the tree adds at close beyond the
  collateralization proofs: tree build + one Bulletproofs++ proof per group of nodes at levels c..H-1
  (``zkclear.tree.node_groups``) + matched book + solvency + receipt assembly and encoding. Group proofs are
  timed on a sample per shape (values, width) and multiplied by the exact group count of the built tree.
- ``receipt_verify_seconds``: one participant's full check (own chunk's batch proof included) on a
  real epoch at height 32 (the path length does not depend on the number of accounts).
- ``audit_seconds_per_account``: the full audit of a real epoch, per account; and an estimate at
  2^16 from per-statement batch-verification costs and the 2^16 tree's node count.
- the hiding trade-off: node-group proofs per account for sparse/dense placement and chunk padding policies.
- ``pem_seconds``: one py-ecc G1 scalar multiplication, the unit the other figures can be read in.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

from zkclear.bench.common import measure_pem
from zkclear.tree.placement import TreeConfig, place_accounts
from zkclear.tree.sum_tree import TreeNode, build_sum_tree, make_leaf, padding_digest

SECRET = b"bench-operator-secret-0123456789"


def count_upper_nodes(config: TreeConfig, chunk_positions: list[int] | tuple[int, ...]) -> dict[int, int]:
    """Nodes at each level c..H-1 (populated and padding) that carry a node range proof."""
    counts: dict[int, int] = {}
    current = set(chunk_positions)
    for level in range(config.chunk_bits, config.height):
        with_siblings = current | {i ^ 1 for i in current}
        counts[level] = len(with_siblings)
        current = {i >> 1 for i in with_siblings}
    return counts


def upper_positions(config: TreeConfig, chunk_positions: list[int] | tuple[int, ...]) -> list[tuple[int, int]]:
    """The positions of the nodes at levels c..H-1 (populated and padding): the ones range-proven in groups."""
    positions = []
    current = set(chunk_positions)
    for level in range(config.chunk_bits, config.height):
        with_siblings = current | {i ^ 1 for i in current}
        positions += [(level, i) for i in with_siblings]
        current = {i >> 1 for i in with_siblings}
    return positions


def _group_shapes(config: TreeConfig, chunk_positions: list[int] | tuple[int, ...],
                  equity_bits: int) -> dict[tuple[int, int], int]:
    """(padded values, width) -> number of node-group proofs of that shape (one asset)."""
    from provers.bulletproofs.parameters import padded_count
    from zkclear.tree.node_groups import band_levels, group_bits, group_positions

    shapes: dict[tuple[int, int], int] = {}
    groups = group_positions(upper_positions(config, chunk_positions), config.chunk_bits, config.height,
                             band_levels(1))
    for (top, _), members in groups.items():
        shape = (padded_count(len(members)), group_bits(top, equity_bits))
        shapes[shape] = shapes.get(shape, 0) + 1
    return shapes


def _mock_tree(n_accounts: int, config: TreeConfig) -> tuple[Any, float, int]:
    """Build the tree over mocked leaves; returns (tree, seconds, padding nodes)."""
    from zkclear.crypto.field import scalar_to_bytes
    from zkclear.crypto.pedersen import commit
    from zkclear.crypto.randomness import BlindingSource
    from zkclear.tree.identity import account_id_hash

    blindings = BlindingSource.deterministic(SECRET)
    ids = [f"account-{i}" for i in range(n_accounts)]
    step = commit(3, 5)
    point = commit(1000, 77)
    started = time.perf_counter()
    placement = place_accounts(ids, config, scalar_to_bytes(blindings.scalar("placement", 0)))
    chunk_leaves = []
    for slots in placement.chunk_slots:
        leaves = []
        for account in slots:
            point = point + step  # mocked liability commitment (an input of the tree)
            name = ids[account] if account is not None else "padding"
            leaves.append(make_leaf(account_id_hash(name, b"salt-0123456789abcdef"), point, b"account"))
        chunk_leaves.append(leaves)

    def padding_source(level: int, index: int) -> tuple[TreeNode, Any]:
        blinding = blindings.scalar("pad", level, index)
        position_blinding = blindings.scalar("pad-positions", level, index)
        seed = scalar_to_bytes(blindings.scalar("pad-digest", level, index))
        node = TreeNode.of(commit(0, blinding), padding_digest(seed), [commit(0, position_blinding)])
        return node, ((blinding,), (position_blinding,))

    position_sums = [[step] for _ in chunk_leaves]  # one mocked instrument
    tree = build_sum_tree(config, placement.chunk_positions, chunk_leaves, position_sums, padding_source)
    return tree, time.perf_counter() - started, len(tree.padding)


def _group_proof_seconds(shapes: list[tuple[int, int]], samples: int) -> dict[tuple[int, int], float]:
    """Seconds per Bulletproofs++ group proof of each (values, width) shape, on a sample."""
    from provers.bulletproofs_pp import prove_range_pp

    out = {}
    for m, width in shapes:
        started = time.perf_counter()
        for i in range(samples):
            prove_range_pp([12345 + i + k for k in range(m)], [987654321 + i + k for k in range(m)],
                           b"bench-node-%d" % i, n_bits=width)
        out[(m, width)] = (time.perf_counter() - started) / samples
    return out


def _group_verify_seconds(m: int, width: int, samples: int) -> float:
    """Seconds per group statement of ``m`` values in a batch verification of ``samples`` of them."""
    from provers.bulletproofs import batch_verify
    from provers.bulletproofs_pp import BppRangeStatement, prove_range_pp

    statements = []
    for i in range(samples):
        context = b"bench-verify-%d" % i
        proof, commitments = prove_range_pp([777 + i + k for k in range(m)], [31337 + i + k for k in range(m)],
                                            context, n_bits=width)
        statements.append(BppRangeStatement(proof, tuple(commitments), width, context))
    started = time.perf_counter()
    batch_verify(statements)
    return (time.perf_counter() - started) / samples


def _collateral_setup(n_accounts: int, profile: str) -> tuple[Any, Any, list[Any], str] | None:
    """Issue 6's collateral system on an example profile with a matched book (accounts in opposite
    pairs), or None when it is not importable."""
    try:
        from circuits.examples import PROFILE_MODES, PROFILES, collateralized_account, required_cash
        from circuits.public_data import AccountWitness
        from zkclear.proofs.chunks import CollateralChunks
    except ImportError:
        return None
    from zkclear.proofs.epoch_prover import AccountInput

    public = PROFILES[profile]()
    mode = PROFILE_MODES[profile]
    rng = random.Random(2026)
    accounts = []
    for i in range(n_accounts // 2):
        first = collateralized_account(public, rng, mode=mode)
        opposite = tuple(-q for q in first.positions)
        second = AccountWitness(
            required_cash(public, opposite, mode) + rng.randint(0, 1_000_000), opposite, mode
        )
        accounts += [AccountInput(f"acct-{i}-a", first), AccountInput(f"acct-{i}-b", second)]
    return CollateralChunks(), public, accounts, f"collateral ({profile})"


def _chunk_system_and_accounts(n_accounts: int, profile: str) -> tuple[Any, Any, list[Any], str]:
    """The production collateral system when it is importable, else the equity-only stand-in."""
    from zkclear.proofs.chunks import EquityOnlyChunks, PlainAccount, PlainPublicData
    from zkclear.proofs.epoch_prover import AccountInput

    setup = _collateral_setup(n_accounts, profile)
    if setup is not None:
        return setup
    public = PlainPublicData(value_per_lot=(0, 7, 3), equity_bits=32)
    accounts = []
    for i in range(n_accounts - 1):
        accounts.append(
            AccountInput(f"acct-{i}", PlainAccount(50_000 + i, (i % 5 - 2, 2 - i % 5, 1 - 2 * (i % 2))))
        )
    totals = [sum(a.witness.positions[j] for a in accounts) for j in range(3)]
    accounts.append(AccountInput("acct-last", PlainAccount(900_000, tuple(-t for t in totals))))
    return EquityOnlyChunks(), public, accounts, "equity-only stand-in"


def _real_epoch(
    n_accounts: int, profile: str, config: TreeConfig, echo: Callable[[str], None]
) -> dict[str, Any]:
    """Close a real epoch at height 32, verify one receipt, audit it; return the figures and artifacts."""
    from zkclear.bench.common import bench_reserves, stand_in_public_inputs, stand_in_published
    from zkclear.bundle.format import encode_receipt
    from zkclear.chains import attest_reserves
    from zkclear.crypto.randomness import BlindingSource
    from zkclear.executor import SerialExecutor
    from zkclear.proofs.epoch_prover import prove_epoch
    from zkclear.verifier.audit import audit_epoch
    from zkclear.verifier.receipt import verify_receipt

    system, public, accounts, system_name = _chunk_system_and_accounts(n_accounts, profile)
    key, reserves = bench_reserves()
    started = time.perf_counter()
    artifacts = prove_epoch(
        accounts,
        public,
        reserves,
        epoch_id=1,
        previous=None,
        config=config,
        blindings=BlindingSource.deterministic(SECRET),
        chunk_system=system,
        executor=SerialExecutor(),
        public_inputs_digest=stand_in_public_inputs(1).digest(),
    )
    close = time.perf_counter() - started
    bundle = artifacts.bundle.with_attestations(
        attest_reserves(key, artifacts.bundle.attestation_context(), reserves.entries)
    )
    timings = artifacts.timings
    echo(
        f"real epoch: {len(accounts)} accounts, {system_name}: close {close:.1f} s "
        f"(chunk proofs {timings['chunk_proofs']:.1f} s, tree {timings['tree_build']:.2f} s, "
        f"node proofs {timings['node_proofs']:.1f} s for {len(artifacts.audit.node_proofs)} groups of nodes)"
    )
    receipt = next(iter(artifacts.receipts.values()))
    rounds = 3
    started = time.perf_counter()
    for _ in range(rounds):
        verify_receipt(stand_in_published(bundle, public), receipt, receipt.account_id, chunk_system=system)
    verify_seconds = (time.perf_counter() - started) / rounds
    encoded = encode_receipt(receipt, system)
    echo(
        f"  receipt verification (own chunk of {config.chunk_size}, {config.upper_height} siblings, their group "
        f"proofs): {verify_seconds:.3f} s; receipt {len(encoded)} bytes"
    )
    started = time.perf_counter()
    audit_epoch(stand_in_published(bundle, public), artifacts.audit, chunk_system=system,
                executor=SerialExecutor())
    audit_seconds = time.perf_counter() - started
    echo(
        f"  audit of the whole epoch: {audit_seconds:.2f} s = "
        f"{audit_seconds / len(accounts) * 1e3:.1f} ms/account"
    )
    started = time.perf_counter()
    sample = list(artifacts.receipts.values())[:16]
    for r in sample:
        encode_receipt(r, system)
    return {
        "artifacts": artifacts,
        "verify": verify_seconds,
        "audit_per_account": audit_seconds / len(accounts),
        "encode_each": (time.perf_counter() - started) / len(sample),
        "collateral_per_account": timings["chunk_proofs"] / len(accounts),
    }


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    default = TreeConfig()
    equity_bits = 32
    pem = measure_pem()
    metrics["pem_seconds"] = pem
    echo(f"PEM (py-ecc G1 scalar mult): {pem * 1e3:.1f} ms; cores: {os.cpu_count()}")
    echo(f"tree: height {default.height}, chunk 2^{default.chunk_bits}, padding {default.chunk_padding}")

    # -- real epochs at height 32: receipt verification and audit --------------------------------
    real = _real_epoch(16 if quick else 64, "linear-8-perps", default, echo)
    metrics["receipt_verify_seconds"] = real["verify"]
    metrics["audit_seconds_per_account"] = real["audit_per_account"]
    metrics["collateral_core_seconds_per_account"] = real["collateral_per_account"]
    if not quick:
        options = _real_epoch(16, "options-4-perps-4-options", default, echo)
        metrics["receipt_verify_seconds_options_portfolio"] = options["verify"]
    timings = real["artifacts"].timings

    # -- tree build at scale, with mocked leaves ---------------------------------------------------
    sizes = [1 << 10] if quick else [1 << 14, 1 << 16]
    trees = [(n_accounts, *_mock_tree(n_accounts, default)) for n_accounts in sizes]
    shapes = sorted({shape for _, tree, _, _ in trees
                     for shape in _group_shapes(default, tree.chunk_positions, equity_bits)})
    node_cost = _group_proof_seconds(shapes, 2 if quick else 8)
    verify_cost = _group_verify_seconds(8, 64, 8 if quick else 32)
    echo("node-group proof (values, width): " + ", ".join(f"({m}, {w}) {node_cost[(m, w)] * 1e3:.1f} ms"
                                                          for m, w in shapes)
         + f"; batch verification {verify_cost * 1e3:.2f} ms per 8-value 64-bit group")
    for n_accounts, tree, build_seconds, padding_nodes in trees:
        groups = _group_shapes(default, tree.chunk_positions, equity_bits)
        node_seconds = sum(node_cost[shape] * n for shape, n in groups.items())
        nodes = len(upper_positions(default, tree.chunk_positions))
        encode_each = real["encode_each"]  # receipt assembly + encoding, timed on the real epoch
        root_statements = timings["root_statements"]
        total = build_seconds + node_seconds + root_statements + encode_each * n_accounts
        tag = f"{n_accounts.bit_length() - 1}"
        metrics[f"tree_build_seconds_per_account_2e{tag}"] = build_seconds / n_accounts
        metrics[f"receipt_generate_core_seconds_2e{tag}"] = total / n_accounts
        audit_estimate = (sum(groups.values()) * verify_cost + build_seconds) / n_accounts
        metrics[f"audit_tree_seconds_per_account_2e{tag}"] = audit_estimate
        echo(
            f"2^{tag} accounts: {len(tree.chunk_positions)} chunks, {nodes} upper nodes in "
            f"{sum(groups.values())} group proofs ({padding_nodes} padding nodes); tree build {build_seconds:.1f} s = "
            f"{build_seconds / n_accounts * 1e3:.2f} ms/account; tree adds at close "
            f"{total / n_accounts:.3f} core-s/account (node proofs {node_seconds:.0f} core-s, estimated from "
            f"the sample); audit of the tree part ~{audit_estimate * 1e3:.1f} ms/account"
        )
    last = f"2e{sizes[-1].bit_length() - 1}"
    metrics["tree_build_seconds_per_account"] = metrics[f"tree_build_seconds_per_account_{last}"]
    metrics["receipt_generate_core_seconds"] = metrics[f"receipt_generate_core_seconds_{last}"]

    # -- the cost of hiding the account count ------------------------------------------------------
    # a count that is not a power of two, so that chunk padding has something to hide
    n_accounts = sizes[-1] * 7 // 10
    echo(
        f"hiding trade-off at {n_accounts} accounts, height 32 (per account: node proofs, their core-s; "
        f"padding accounts, their collateral core-s at {real['collateral_per_account']:.2f} s each):"
    )
    ids = [f"a{i}" for i in range(n_accounts)]
    collateral_each = real["collateral_per_account"]
    for chunk_bits in (4, 5, 6):
        for key, label, config in (
            ("sparse_pow2", "sparse, pow2 chunks", TreeConfig(chunk_bits=chunk_bits)),
            (
                "sparse_mult64",
                "sparse, multiple of 64",
                TreeConfig(chunk_bits=chunk_bits, chunk_padding="multiple", chunk_padding_param=64),
            ),
            ("sparse_exact", "sparse, exact chunks", TreeConfig(chunk_bits=chunk_bits, chunk_padding="none")),
            (
                "dense_exact",
                "dense, exact chunks",
                TreeConfig(chunk_bits=chunk_bits, chunk_padding="none", sparse=False),
            ),
        ):
            placement = place_accounts(ids, config, b"k" * 32)
            groups = _group_shapes(config, placement.chunk_positions, equity_bits)
            proofs = sum(groups.values())
            missing = sorted(set(groups) - set(node_cost))
            node_cost |= _group_proof_seconds(missing, 2 if quick else 8)
            seconds = sum(node_cost[shape] * n for shape, n in groups.items()) / n_accounts
            padding = (len(placement.chunk_positions) << chunk_bits) / n_accounts - 1
            metrics[f"node_proofs_per_account_c{chunk_bits}_{key}"] = proofs / n_accounts
            metrics[f"padding_accounts_per_account_c{chunk_bits}_{key}"] = padding
            echo(
                f"  c={chunk_bits} {label:22s}: {len(placement.chunk_positions):6d} chunks, "
                f"{proofs / n_accounts:.3f} proofs ({seconds:.4f} core-s), "
                f"{padding:.3f} padding accounts ({padding * collateral_each:.3f} core-s)"
            )

    # (reserve attestations across chains: zkclear bench chains)
    # the same figures in PEM, which compare across machines and loads
    for name in (
        "receipt_verify_seconds",
        "receipt_generate_core_seconds",
        "tree_build_seconds_per_account",
        "audit_seconds_per_account",
    ):
        metrics[name.replace("_seconds", "_pem")] = metrics[name] / pem
    echo(
        f"in PEM: receipt verification {metrics['receipt_verify_pem']:.0f}; per account: tree adds "
        f"{metrics['receipt_generate_core_pem']:.1f}, audit {metrics['audit_pem_per_account']:.1f}"
    )
    return metrics
