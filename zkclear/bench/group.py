"""``zkclear bench group``: the G1 engines (pure, and arkworks when installed) in PEM units.

Metrics (pure engine unprefixed, native engine prefixed ``arkworks_``):

- ``pem_seconds``: one py-ecc scalar multiplication (the unit; see :mod:`zkclear.bench.common`).
- ``add_seconds``, ``double_seconds``, ``mul_seconds`` and their ``*_speedup_vs_py_ecc``.
- ``mul_pem``: one variable-base scalar multiplication by a random 255-bit scalar, in PEM.
- ``pedersen_commit_pem``: one v·G + r·H (64-bit v, 255-bit r) from fixed-base tables, as
  :func:`zkclear.crypto.group.fixed_base_msm` computes it; ``pedersen_commit_two_muls_pem``
  the same as two table products plus an addition; ``pedersen_commit_batched_pem`` per
  commitment when 256 are made together (:func:`zkclear.crypto.group.fixed_base_msm_many`).
- ``subgroup_check_pem``: the G1 membership test run on every decoded point.
- ``msm_2_K_per_point_pem`` (and ``msm_2_K_seconds``): an MSM of 2^K random points and
  scalars, per point, for K up to 14 (12 with ``--quick``).
- ``import_and_field_seconds``: ``import zkclear`` plus building galois GF(R), in a fresh process.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable

from zkclear.bench.common import PemTiming, format_pem, machine_summary, measure_pem, time_in_pem
from zkclear.crypto.backend import GroupBackend
from zkclear.crypto.field import R
from zkclear.crypto.pure_g1 import PureBackend

Echo = Callable[[str], None]
_IMPORT_AND_FIELD = (
    "import time; t = time.perf_counter(); import zkclear, zkclear.crypto.group; "
    "from zkclear.crypto.field import fr_field; fr_field(); print(time.perf_counter() - t)"
)


def run(quick: bool, echo: Echo) -> dict[str, float]:
    """Benchmark every installed G1 engine; returns metric name -> number."""
    echo(f"machine: {machine_summary()}")
    pem = measure_pem(15)
    metrics: dict[str, float] = {"pem_seconds": pem}
    echo(f"PEM (py-ecc G1 multiply, 255-bit scalar): {pem * 1e3:.2f} ms")
    metrics.update(_py_ecc_reference(echo))
    for prefix, backend in _installed_backends():
        echo(f"--- backend {backend.name}")
        figures = _bench_backend(backend, quick, metrics, echo)
        metrics.update({prefix + name: value for name, value in figures.items()})
    metrics["import_and_field_seconds"] = _import_and_field_seconds()
    echo(f"import zkclear + fr_field(): {metrics['import_and_field_seconds']:.2f} s (fresh process)")
    return metrics


def _installed_backends() -> list[tuple[str, GroupBackend]]:
    backends: list[tuple[str, GroupBackend]] = [("", PureBackend())]
    try:
        from zkclear.crypto.arkworks_g1 import ArkworksBackend
    except ImportError:
        return backends
    return [*backends, ("arkworks_", ArkworksBackend())]


def _py_ecc_reference(echo: Echo) -> dict[str, float]:
    from py_ecc.optimized_bls12_381 import G1, add, double, multiply

    a, b = multiply(G1, 5), multiply(G1, 7)
    count = 2000
    add_timing = time_in_pem(lambda: [add(a, b) for _ in range(count)], repeats=3, per_call=count)
    double_timing = time_in_pem(lambda: [double(a) for _ in range(count)], repeats=3, per_call=count)
    echo(f"py-ecc add {add_timing.seconds * 1e6:.1f} µs, double {double_timing.seconds * 1e6:.1f} µs")
    return {"py_ecc_add_seconds": add_timing.seconds, "py_ecc_double_seconds": double_timing.seconds}


def _bench_backend(
    backend: GroupBackend, quick: bool, reference: dict[str, float], echo: Echo
) -> dict[str, float]:
    metrics: dict[str, float] = {}
    g = backend.generator()
    a, b = backend.mul(g, secrets.randbelow(R)), backend.mul(g, secrets.randbelow(R))
    count = 2000
    add_timing = time_in_pem(lambda: [backend.add(a, b) for _ in range(count)], repeats=3, per_call=count)
    double_timing = time_in_pem(lambda: [backend.double(a) for _ in range(count)], repeats=3, per_call=count)
    scalars = [secrets.randbits(255) % R for _ in range(20)]
    mul_timing = time_in_pem(lambda: [backend.mul(a, k) for k in scalars], repeats=3, per_call=len(scalars))
    metrics.update(
        add_seconds=add_timing.seconds,
        add_speedup_vs_py_ecc=reference["py_ecc_add_seconds"] / add_timing.seconds,
        double_seconds=double_timing.seconds,
        double_speedup_vs_py_ecc=reference["py_ecc_double_seconds"] / double_timing.seconds,
        mul_seconds=mul_timing.seconds,
        mul_pem=mul_timing.pem,
        mul_speedup_vs_py_ecc=1 / mul_timing.pem,
    )
    echo(
        f"add {add_timing.seconds * 1e6:.2f} µs ({metrics['add_speedup_vs_py_ecc']:.1f}x py-ecc), "
        f"double {double_timing.seconds * 1e6:.2f} µs ({metrics['double_speedup_vs_py_ecc']:.1f}x), "
        f"mul {mul_timing.seconds * 1e6:.0f} µs ({format_pem(mul_timing.pem)})"
    )
    metrics.update(_bench_commitments(backend, echo))
    subgroup = time_in_pem(lambda: [backend.in_subgroup(a) for _ in range(20)], repeats=3, per_call=20)
    metrics["subgroup_check_pem"] = subgroup.pem
    echo(f"subgroup check {subgroup.seconds * 1e6:.0f} µs ({format_pem(subgroup.pem)})")
    metrics.update(_bench_msm(backend, quick, echo))
    return metrics


def _bench_commitments(backend: GroupBackend, echo: Echo) -> dict[str, float]:
    g = backend.generator()
    h = backend.mul(g, secrets.randbelow(R))  # any second point: the cost does not depend on which
    started = time.perf_counter()
    tables = [backend.fixed_base_table(g), backend.fixed_base_table(h)]
    table_seconds = time.perf_counter() - started
    rows = [(secrets.randbits(64), secrets.randbelow(R)) for _ in range(256)]
    one_sum = time_in_pem(
        lambda: [backend.fixed_base_sums(tables, [row]) for row in rows], per_call=len(rows)
    )
    two_muls = time_in_pem(
        lambda: [backend.add(tables[0].mul(v), tables[1].mul(r)) for v, r in rows], per_call=len(rows)
    )
    batched = time_in_pem(lambda: backend.fixed_base_sums(tables, rows), per_call=len(rows))
    echo(
        f"Pedersen commit (64-bit v, 255-bit r): {one_sum.seconds * 1e6:.0f} µs ({format_pem(one_sum.pem)}); "
        f"as two table products {format_pem(two_muls.pem)}; batched x{len(rows)} {format_pem(batched.pem)} "
        f"each; tables for G and H built in {table_seconds * 1e3:.0f} ms"
    )
    return {
        "pedersen_commit_pem": one_sum.pem,
        "pedersen_commit_seconds": one_sum.seconds,
        "pedersen_commit_two_muls_pem": two_muls.pem,
        "pedersen_commit_batched_pem": batched.pem,
        "fixed_base_tables_seconds": table_seconds,
    }


def _bench_msm(backend: GroupBackend, quick: bool, echo: Echo) -> dict[str, float]:
    largest = 12 if quick else 14
    points = _random_points(backend, 1 << largest)
    metrics: dict[str, float] = {}
    for log_size in range(8, largest + 1, 2):
        size = 1 << log_size
        subset = points[:size]
        scalars = [secrets.randbelow(R) for _ in range(size)]
        repeats = 3 if log_size == largest else 5
        timing: PemTiming = time_in_pem(
            lambda s=subset, k=scalars: backend.msm(s, k), repeats=repeats, per_call=size
        )
        metrics[f"msm_2_{log_size}_per_point_pem"] = timing.pem
        metrics[f"msm_2_{log_size}_seconds"] = timing.seconds * size
        echo(f"MSM 2^{log_size}: {timing.seconds * size:.3f} s, {timing.seconds * 1e6:.1f} µs/point "
             f"({format_pem(timing.pem)} per point)")
    return metrics


def _random_points(backend: GroupBackend, count: int) -> list:
    """count independent random points of G1 (made with the pure engine's fixed-base table)."""
    pure = PureBackend()
    table = pure.fixed_base_table(pure.generator())
    rows = [[secrets.randbelow(R)] for _ in range(count)]
    affine = pure.batch_to_affine(pure.fixed_base_sums([table], rows))
    return [backend.from_affine(xy) for xy in affine]


def _import_and_field_seconds() -> float:
    command = [sys.executable, "-c", _IMPORT_AND_FIELD]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout)
