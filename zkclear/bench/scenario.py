"""``zkclear bench scenario``: portfolio (scenario) margin of 100,000 accounts.

Book: 2 underlyings (BTC at 60,000 ticks, ETH at 3,000 ticks), each with 1 perpetual, 2 dated futures and
44 options (2 expiries x 11 strikes x call/put): 94 instruments. Default grid per underlying (9 moves
-16%..+16% x 3 vol shifts + 2 extremes at 35%): 58 scenario columns. Every account holds 6 random
instruments with 1..500 lots either side. ``--quick``: 10,000 accounts.

Timed: building the public integer table (Black-76 for every option x scenario, integerised), the batch
requirement of all accounts on each exact path (float64 BLAS when the bound check allows it, int64, and
exact Python ints on a sample), and the per-account reference on a sample. The batch result is checked
equal to the reference on that sample.

Metrics: ``table_build_seconds``, ``instruments``, ``scenarios``, ``accounts``, ``batch_float64_seconds``,
``batch_int64_seconds``, ``accounts_per_second`` (auto path), ``reference_seconds_per_account``,
``object_seconds_per_account``, ``product_bound_bits`` (log2 of the bound that decides the path),
``matches_reference`` (1.0 when equal); with cupy and a CUDA device, ``gpu_seconds`` (transfers
included), ``gpu_device_seconds`` and ``gpu_matches``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from zkclear.risk.options import OptionSpec, OptionType
from zkclear.risk.portfolio_margin import (
    batch_path,
    int64_product_bound,
    portfolio_margin,
    portfolio_margin_batch,
)
from zkclear.risk.scenarios import (
    LinearRiskInput,
    OptionRiskInput,
    ScenarioGrid,
    ScenarioTable,
    build_scenario_table,
)

SEED = 20261125
NOW = 1_764_000_000
UNDERLYINGS = (("BTC", 60_000, 1_000, 550_000), ("ETH", 3_000, 10_000, 700_000))  # name, price, mult, vol
HOLDINGS_PER_ACCOUNT = 6
SAMPLE = 1_000


def bench_instruments() -> list:
    instruments: list = []
    for name, price, multiplier, vol in UNDERLYINGS:
        instruments.append(LinearRiskInput(f"{name}-PERP", name, price, multiplier))
        for months in (1, 3):
            instruments.append(
                LinearRiskInput(f"{name}-FUT-{months}M", name, price + price * months // 100, multiplier)
            )
        for days in (7, 30):
            expiry = NOW + days * 86_400
            for step in range(-5, 6):
                strike = price + price * step // 20
                for option_type in OptionType:
                    spec = OptionSpec(
                        f"{name}-{days}D-{strike}-{option_type.value[0].upper()}",
                        name,
                        option_type,
                        strike,
                        expiry,
                        multiplier,
                    )
                    instruments.append(OptionRiskInput(spec, price, vol + 20_000 * abs(step), NOW))
    return instruments


def random_positions(rng: np.random.Generator, accounts: int, instruments: int) -> np.ndarray:
    positions = np.zeros((accounts, instruments), dtype=np.int64)
    rows = np.repeat(np.arange(accounts), HOLDINGS_PER_ACCOUNT)
    columns = rng.integers(0, instruments, size=rows.size)
    sizes = rng.integers(1, 501, size=rows.size) * rng.choice([-1, 1], size=rows.size)
    np.add.at(positions, (rows, columns), sizes)
    return positions


def _gpu_batch_seconds(
    table: ScenarioTable, positions: np.ndarray, expected: np.ndarray
) -> tuple[float, float, bool] | None:
    """(seconds with transfers, seconds on device, equal to ``expected``) on a CUDA GPU via cupy, if present.

    Optional: cupy is not a dependency; the same exactness bound as the float64 path applies (2^53).
    """
    try:
        import cupy  # type: ignore[import-not-found]

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # no cupy, no driver, no device: the figure is simply not reported
        return None
    table_device = cupy.asarray(table.as_int64().astype(np.float64))
    groups = [(columns[0], columns[-1] + 1) for _, columns in table.groups]
    longs = cupy.asarray(np.array([c.long_per_lot for c in table.position_charges], dtype=np.int64))
    shorts = cupy.asarray(np.array([c.short_per_lot for c in table.position_charges], dtype=np.int64))

    def on_device(q):
        # Only the product runs in float64 (exact under the bound); the rest in int64, as on the CPU.
        losses = -(q @ table_device).astype(cupy.int64)
        worst = sum(cupy.maximum(losses[:, start:stop].max(axis=1), 0) for start, stop in groups)
        lots = q.astype(cupy.int64)
        long_lots = cupy.maximum(lots, 0)
        charges = (long_lots * longs).sum(axis=1) + ((long_lots - lots) * shorts).sum(axis=1)
        return -((-worst) // table.scale) + charges

    on_device(cupy.asarray(positions[:10].astype(np.float64)))  # warm-up (kernels, cuBLAS handle)
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    q = cupy.asarray(positions.astype(np.float64))
    cupy.cuda.Device().synchronize()
    device_start = time.perf_counter()
    result = on_device(q)
    cupy.cuda.Device().synchronize()
    device_seconds = time.perf_counter() - device_start
    host = cupy.asnumpy(result)
    return time.perf_counter() - start, device_seconds, bool(np.array_equal(host, expected))


def _best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    """Run the suite; see the module docstring for what is measured."""
    accounts = 10_000 if quick else 100_000
    rng = np.random.default_rng(SEED)
    instruments = bench_instruments()

    start = time.perf_counter()
    table = build_scenario_table(instruments, ScenarioGrid())
    table_seconds = time.perf_counter() - start
    echo(
        f"table: {len(table.instrument_ids)} instruments x {len(table.scenarios)} scenarios, "
        f"built in {table_seconds:.3f} s (digest {table.digest().hex()[:16]}...)"
    )

    positions = random_positions(rng, accounts, len(instruments))
    path = batch_path(table, positions)
    bound = int64_product_bound(table, max(abs(int(positions.max())), abs(int(positions.min()))))
    echo(
        f"positions: {accounts:,} accounts, |q| <= {int(np.abs(positions).max())}, "
        f"product bound 2^{math.log2(bound):.1f} -> auto path {path}"
    )

    float_seconds, float_result = _best_of(
        3, lambda: portfolio_margin_batch(table, positions, path="float64")
    )
    int_seconds, int_result = _best_of(
        1 if not quick else 3, lambda: portfolio_margin_batch(table, positions, path="int64")
    )
    sample = positions[:SAMPLE]
    object_seconds, object_result = _best_of(1, lambda: portfolio_margin_batch(table, sample, path="object"))
    reference_seconds, reference = _best_of(
        1, lambda: [portfolio_margin(table, [int(x) for x in row]).maintenance_margin for row in sample]
    )
    matches = np.array_equal(float_result, int_result) and [
        int(x) for x in float_result[:SAMPLE]
    ] == reference == [int(x) for x in object_result]
    auto_seconds = float_seconds if path == "float64" else int_seconds
    gpu = _gpu_batch_seconds(table, positions, float_result) if path == "float64" else None
    echo(
        f"batch float64 (BLAS, exact under the bound): {float_seconds:.3f} s "
        f"({accounts / float_seconds:,.0f} accounts/s)"
    )
    echo(
        f"batch int64:                                 {int_seconds:.3f} s "
        f"({accounts / int_seconds:,.0f} accounts/s)"
    )
    echo(
        f"exact Python ints (object arrays), {SAMPLE} accounts: "
        f"{object_seconds / SAMPLE * 1e6:.1f} us/account"
    )
    echo(
        f"per-account reference, {SAMPLE} accounts: "
        f"{reference_seconds / SAMPLE * 1e6:.1f} us/account"
    )
    echo(f"batch == reference on the sample: {matches}")
    extra: dict[str, float] = {}
    if gpu is not None:
        echo(f"GPU (cupy, float64 under the same bound): {gpu[0]:.4f} s with transfers, {gpu[1]:.4f} s on "
             f"device, equal to the CPU result: {gpu[2]}")
        extra = {"gpu_seconds": gpu[0], "gpu_device_seconds": gpu[1], "gpu_matches": 1.0 if gpu[2] else 0.0}
    return {
        "accounts": float(accounts),
        "instruments": float(len(table.instrument_ids)),
        "scenarios": float(len(table.scenarios)),
        "table_build_seconds": table_seconds,
        "batch_float64_seconds": float_seconds,
        "batch_int64_seconds": int_seconds,
        "accounts_per_second": accounts / auto_seconds,
        "object_seconds_per_account": object_seconds / SAMPLE,
        "reference_seconds_per_account": reference_seconds / SAMPLE,
        "product_bound_bits": math.log2(bound),
        "matches_reference": 1.0 if matches else 0.0,
        **extra,
    }
