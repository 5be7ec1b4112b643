"""Shared benchmark helpers: the PEM unit and timing that survives a busy machine.

PEM ("py-ecc equivalent multiplication") = the median time of one
``py_ecc.optimized_bls12_381.multiply(G1, k)`` for random 255-bit k, measured in the same run.
Figures are reported in PEM so they compare across machines. On a shared machine the load
changes during a run, so :func:`time_in_pem` measures PEM right before and right after each
timed call and reports the median of the per-call ratios.
"""

from __future__ import annotations

import os
import platform
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def measure_pem(samples: int = 7, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median seconds of one py-ecc G1 scalar multiplication by a random 255-bit scalar.

    ``clock`` is wall time by default; benchmarks that report CPU time pass ``time.process_time`` so that
    the ratio is CPU over CPU (on a loaded machine wall-clock PEM includes the time spent waiting)."""
    from py_ecc.optimized_bls12_381 import G1, multiply

    timings = []
    for _ in range(samples):
        scalar = secrets.randbits(255) | 1 << 254
        started = clock()
        multiply(G1, scalar)
        timings.append(clock() - started)
    return statistics.median(timings)


@dataclass(frozen=True, slots=True)
class PemTiming:
    """One benchmarked operation: median seconds per call and median of (seconds / PEM)."""

    seconds: float
    pem: float


def time_in_pem(
    operation: Callable[[], object], *, repeats: int = 5, per_call: int = 1, pem_samples: int = 5
) -> PemTiming:
    """Time ``operation`` ``repeats`` times, each between two PEM measurements.

    ``per_call`` is how many operations one call performs (the figures are per operation).
    The reported ratio is the median over repeats of time / mean(PEM before, PEM after).
    """
    seconds, ratios = [], []
    for _ in range(repeats):
        pem_before = measure_pem(pem_samples)
        started = time.perf_counter()
        operation()
        elapsed = (time.perf_counter() - started) / per_call
        pem_after = measure_pem(pem_samples)
        seconds.append(elapsed)
        ratios.append(elapsed / ((pem_before + pem_after) / 2))
    return PemTiming(statistics.median(seconds), statistics.median(ratios))


def machine_summary() -> str:
    """One line naming the CPU, core count and Python, for benchmark reports."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def format_pem(ratio: float) -> str:
    """A PEM ratio as a human reads it: '1/123 PEM' below one, else '1.23 PEM'."""
    return f"1/{1 / ratio:.0f} PEM" if 0 < ratio < 1 else f"{ratio:.2f} PEM"


STAND_IN_CONFIG = "# stand-in epochs: no clearing configuration"
BENCH_VENUE = "zkclear bench venue"


def bench_reserves(total: int = (1 << 63) - 1):
    """``(key, book)``: ``total`` of the stand-in settlement asset (USD, 6 decimals) at one Ethereum test key's
    address as USDC, at the demo block (benchmarks attest with ``key``)."""
    from zkclear.chains import ReserveEntry, key_from_secret
    from zkclear.chains.tokens import REGISTERED_TOKENS
    from zkclear.proofs.reserves import VenueAsset, build_reserve_book
    from zkclear.synthetic import DEMO_BLOCKS

    key = key_from_secret("ethereum", bytes([0x42]) * 32)
    entry = ReserveEntry("ethereum", "USD", key.address.text, total, *DEMO_BLOCKS["ethereum"])
    usdc, _ = REGISTERED_TOKENS[("ethereum", "USDC")]  # the venue's USD is held as USDC
    return key, build_reserve_book(BENCH_VENUE, (VenueAsset("USD", 6),), (entry,),
                                   tokens={("ethereum", "USD"): (usdc, None)})


def stand_in_config(assets: tuple[tuple[str, int], ...] = ()) -> str:
    """The stand-in configuration text: nothing but the venue's assets ``(id, decimals)``, settlement first, as
    ``[[asset]]`` tables (the reserves' conversion reads them); the bare stand-in (settlement USD, 6) when empty."""
    if not assets:
        return STAND_IN_CONFIG
    tables = [f'[[asset]]\nid = "{asset}"\ndecimals = {decimals}\n' + ("settlement = true\n" if k == 0 else "")
              for k, (asset, decimals) in enumerate(assets)]
    return "\n".join(tables)


def stand_in_public_inputs(epoch: int = 1, config: str = STAND_IN_CONFIG):
    """A well-formed public-inputs document for epochs whose public data is not derived from a clearing
    configuration (benchmarks and tests of the tree with stand-in statements): only its binding in the header (and
    the assets in ``config``, which the reserves are converted with) is exercised."""
    from zkclear.verifier.public_inputs import FORMAT, PublicInputs

    return PublicInputs({
        "format": FORMAT, "epoch": epoch, "label": f"epoch-{epoch}", "position_bits": 32,
        "config": config,
        "previous": {"epoch": epoch - 1, "instruments": [], "price_history": [], "dynamic_parameters": []},
        "inputs": {"marks": [], "oracle_quotes": [], "funding_rates": [], "implied_vols": [], "margin_overrides": []},
        "derived": {"marks": [], "fractions": [], "implied_vols": [], "option_values": [], "scan_ranges": [],
                    "oracle_decisions": [], "paused_instruments": [], "assets": []},
    })


def stand_in_published(bundle, public):
    """``bundle`` and ``public`` as a verifier reads them (with :func:`stand_in_public_inputs`)."""
    from pathlib import Path

    from zkclear.verifier.published import EpochFiles, PublishedEpoch

    epoch = bundle.header.epoch_id
    assets = tuple((a.asset_id, a.decimals) for a in bundle.reserves.assets) if len(bundle.reserves.assets) > 1 else ()
    return PublishedEpoch(bundle, public, stand_in_public_inputs(epoch, stand_in_config(assets)),
                          EpochFiles(Path("."), epoch))
