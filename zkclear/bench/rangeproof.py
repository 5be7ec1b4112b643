"""``zkclear bench rangeproof``: Bulletproofs range proofs at n = 64, in seconds and PEM.

PEM is one py-ecc ``optimized_bls12_381`` G1 scalar multiplication by a random 255-bit scalar,
timed in the same run, so figures compare across machines. On a shared machine the load drifts
during a run, so PEM is re-measured beside every row and each row is expressed in its own PEM
(``pem_seconds`` is the median over the run). Measured: prove and verify for
m = 1, 8, 64, 256 aggregated 64-bit values (``--quick``: m = 1, 8, 64), and batch verification
of 64 single-value proofs against verifying them one by one. Generators are derived (and
cached) before timing; their one-off cost is reported separately.

Bulletproofs++ rows (provers/bulletproofs_pp: the collateral parts and node proofs): for m = 1 and 8
the same values and blindings are proven and verified by both systems, interleaved call by call so that both
see the same load, and the ``bpp_vs_bp_*`` ratios are BP++ over Bulletproofs from those interleaved timings.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable

from provers.bulletproofs import RangeStatement, batch_verify, prove_range, verify_range
from provers.bulletproofs.generators import vector_generators
from provers.bulletproofs.parameters import padded_count
from provers.bulletproofs_pp.range_proof import generators as bpp_generators
from provers.bulletproofs_pp.range_proof import prove_range_pp, verify_range_pp
from zkclear.crypto.field import R, fr_random
from zkclear.crypto.group import BACKEND

N_BITS = 64
BATCH_SIZE = 64


def _measure_pem_fallback(samples: int = 20) -> float:
    from py_ecc.optimized_bls12_381 import G1, multiply

    times = []
    for _ in range(samples):
        k = secrets.randbelow(R - 1) + 1
        start = time.perf_counter()
        multiply(G1, k)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _pem_seconds() -> float:
    try:
        from zkclear.bench.common import measure_pem
    except ImportError:  # the shared helper is not there yet: same definition, timed here
        return _measure_pem_fallback()
    return float(measure_pem())


class _PemClock:
    """PEM measured beside each row: the mean of the samples taken just before and just after."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def around(self, action: Callable[[], dict[str, float]]) -> tuple[dict[str, float], float]:
        before = _pem_seconds()
        result = action()
        after = _pem_seconds()
        self.samples += [before, after]
        return result, (before + after) / 2

    def median(self) -> float:
        return statistics.median(self.samples)


def _median_time(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _prove_and_verify(m: int, quick: bool) -> dict[str, float]:
    """Seconds to prove and verify m aggregated 64-bit values, generator derivation excluded."""
    start = time.perf_counter()
    vector_generators(N_BITS * padded_count(m))
    generators_s = time.perf_counter() - start
    values = [secrets.randbelow(1 << N_BITS) for _ in range(m)]
    blindings = [fr_random() for _ in range(m)]
    context = f"bench/rangeproof/m={m}".encode()
    proved: list = []
    repeats = 3 if m == 1 else (2 if m <= 8 and not quick else 1)
    prove_s = _median_time(lambda: proved.append(prove_range(values, blindings, N_BITS, context)), repeats)
    proof, commitments = proved[-1]
    verify_s = _median_time(lambda: verify_range(proof, commitments, N_BITS, context), max(repeats, 3))
    return {
        f"generators_m{m}_seconds": generators_s,
        f"prove_m{m}_seconds": prove_s,
        f"verify_m{m}_seconds": verify_s,
        f"proof_bytes_m{m}": float(len(proof.to_bytes())),
    }


def _batch_of_singles() -> dict[str, float]:
    """Seconds to verify 64 single-value 64-bit proofs one by one and as one batch."""
    statements = []
    for index in range(BATCH_SIZE):
        context = f"bench/rangeproof/batch/{index}".encode()
        proof, commitments = prove_range([secrets.randbelow(1 << N_BITS)], [fr_random()], N_BITS, context)
        statements.append(RangeStatement(proof, commitments, N_BITS, context))
    one_by_one = []
    batched = []
    for _ in range(2):  # interleaved, so both see the same load
        start = time.perf_counter()
        for s in statements:
            verify_range(s.proof, s.commitments, s.n_bits, s.context)
        one_by_one.append(time.perf_counter() - start)
        start = time.perf_counter()
        batch_verify(statements)
        batched.append(time.perf_counter() - start)
    return {"verify_64_one_by_one_seconds": min(one_by_one), "batch_verify_64_seconds": min(batched)}


def _interleaved(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each action, the actions run in turn ``repeats`` times (same load for all)."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(samples) for name, samples in times.items()}


def _bulletproofs_pp_against_bulletproofs(m: int, quick: bool) -> dict[str, float]:
    """Seconds to prove and verify m 64-bit values with Bulletproofs++ and with Bulletproofs, interleaved."""
    vector_generators(N_BITS * padded_count(m))
    bpp_generators(padded_count(m))
    values = [secrets.randbelow(1 << N_BITS) for _ in range(m)]
    blindings = [fr_random() for _ in range(m)]
    context = f"bench/rangeproof/bpp/m={m}".encode()
    proved: dict[str, tuple] = {}
    repeats = (3 if quick else 5) if m == 1 else (1 if quick else 3)
    prove = _interleaved({
        "bp": lambda: proved.__setitem__("bp", prove_range(values, blindings, N_BITS, context)),
        "bpp": lambda: proved.__setitem__("bpp", prove_range_pp(values, blindings, context)),
    }, repeats)
    (bp_proof, commitments), (bpp_proof, bpp_commitments) = proved["bp"], proved["bpp"]
    assert bpp_commitments == commitments  # the same statement for both systems
    verify = _interleaved({
        "bp": lambda: verify_range(bp_proof, commitments, N_BITS, context),
        "bpp": lambda: verify_range_pp(bpp_proof, commitments, context),
    }, max(repeats, 3))
    bp_bytes, bpp_bytes = len(bp_proof.to_bytes()), len(bpp_proof.to_bytes())
    return {
        f"bpp_prove_m{m}_seconds": prove["bpp"],
        f"bpp_verify_m{m}_seconds": verify["bpp"],
        f"bpp_proof_bytes_m{m}": float(bpp_bytes),
        f"bpp_bp_prove_m{m}_seconds": prove["bp"],
        f"bpp_bp_verify_m{m}_seconds": verify["bp"],
        f"bpp_vs_bp_prove_ratio_m{m}": prove["bpp"] / prove["bp"],
        f"bpp_vs_bp_verify_ratio_m{m}": verify["bpp"] / verify["bp"],
        f"bpp_vs_bp_bytes_ratio_m{m}": bpp_bytes / bp_bytes,
    }


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    """Run the suite; print human lines through ``echo`` and return metric -> number."""
    clock = _PemClock()
    metrics: dict[str, float] = {}
    echo(f"backend: {BACKEND.name}; PEM = one py-ecc G1 scalar multiplication, re-measured per row")
    sizes = (1, 8, 64) if quick else (1, 8, 64, 256)
    echo(f"{'m':>5} {'PEM ms':>7} {'prove s':>9} {'prove PEM':>10} {'PEM/value':>10} {'verify s':>9} "
         f"{'verify PEM':>11} {'PEM/value':>10} {'bytes':>7}")
    for m in sizes:
        figures, pem = clock.around(lambda m=m: _prove_and_verify(m, quick))
        metrics |= figures
        metrics[f"pem_seconds_m{m}"] = pem
        prove_s, verify_s = figures[f"prove_m{m}_seconds"], figures[f"verify_m{m}_seconds"]
        for key in (f"prove_m{m}", f"verify_m{m}"):
            metrics[f"{key}_pem"] = figures[f"{key}_seconds"] / pem
            metrics[f"{key}_pem_per_value"] = figures[f"{key}_seconds"] / pem / m
        echo(f"{m:>5} {pem * 1e3:>7.2f} {prove_s:>9.3f} {prove_s / pem:>10.1f} {prove_s / pem / m:>10.2f} "
             f"{verify_s:>9.4f} {verify_s / pem:>11.2f} {verify_s / pem / m:>10.3f} "
             f"{int(figures[f'proof_bytes_m{m}']):>7}")

    echo("Bulletproofs++ (collateral parts and node proofs) against Bulletproofs, same values, "
         "interleaved:")
    echo(f"{'m':>5} {'PEM ms':>7} {'prove s':>9} {'PEM/value':>10} {'x BP':>6} {'verify s':>9} {'PEM/value':>10} "
         f"{'x BP':>6} {'bytes':>7} {'x BP':>6}")
    for m in (1, 8):
        figures, pem = clock.around(lambda m=m: _bulletproofs_pp_against_bulletproofs(m, quick))
        metrics |= figures
        metrics[f"bpp_pem_seconds_m{m}"] = pem
        for key in (f"bpp_prove_m{m}", f"bpp_verify_m{m}"):
            metrics[f"{key}_pem"] = figures[f"{key}_seconds"] / pem
            metrics[f"{key}_pem_per_value"] = figures[f"{key}_seconds"] / pem / m
        prove_s, verify_s = figures[f"bpp_prove_m{m}_seconds"], figures[f"bpp_verify_m{m}_seconds"]
        echo(f"{m:>5} {pem * 1e3:>7.2f} {prove_s:>9.3f} {prove_s / pem / m:>10.2f} "
             f"{figures[f'bpp_vs_bp_prove_ratio_m{m}']:>6.2f} {verify_s:>9.4f} {verify_s / pem / m:>10.3f} "
             f"{figures[f'bpp_vs_bp_verify_ratio_m{m}']:>6.2f} {int(figures[f'bpp_proof_bytes_m{m}']):>7} "
             f"{figures[f'bpp_vs_bp_bytes_ratio_m{m}']:>6.2f}")

    figures, pem = clock.around(_batch_of_singles)
    batch_s, one_by_one = figures["batch_verify_64_seconds"], figures["verify_64_one_by_one_seconds"]
    metrics |= figures
    metrics |= {
        "pem_seconds_batch": pem,
        "batch_verify_64_pem": batch_s / pem,
        "batch_verify_64_pem_per_proof": batch_s / pem / BATCH_SIZE,
        "batch_verify_64_vs_single_ratio": batch_s / one_by_one,
        "pem_seconds": clock.median(),
    }
    echo(f"batch of {BATCH_SIZE} single 64-bit proofs: {batch_s:.3f} s ({batch_s / pem:.1f} PEM, "
         f"{batch_s / pem / BATCH_SIZE:.2f} PEM/proof) vs one by one {one_by_one:.3f} s: "
         f"ratio {batch_s / one_by_one:.3f}")
    echo(f"PEM over the run: median {clock.median() * 1e3:.2f} ms, "
         f"range {min(clock.samples) * 1e3:.2f}-{max(clock.samples) * 1e3:.2f} ms")
    return metrics
