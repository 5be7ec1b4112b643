"""``zkclear bench verifier``: the participant's check as a browser runs it, on the standard library alone.

A demo-market-shaped epoch is proven first (the demo market's 5 instruments, options and portfolio margin included,
chunks of 16, tree height 32: a receipt check costs the same as one of ``zkclear demo``'s). Then, each in a child
process on the pure engine, three configurations:

- ``installed``: as installed (gmpy2 and numpy accelerate the pure engine);
- ``no_gmpy2``: gmpy2 blocked (plain ints; numpy kept);
- ``stdlib``: numpy, galois, numba, py-ecc, coincurve and gmpy2 blocked, as on Pyodide.

Figures per configuration (``CONFIG/NAME``): ``mul_pem`` (one variable-base scalar multiplication),
``msm_1024_per_point_pem``, ``hash_to_curve_pem`` (one generator), ``decode_point_pem`` (48-byte decoding with the
subgroup check), ``generators_file_seconds`` (deriving the 2 × COUNT generators of the page's file,
:data:`zkclear.web.generators.COUNT`), ``receipt_check_seconds`` and ``receipt_check_pem`` (what ``zkclear verify
FOLDER --receipt R --account ID`` runs, through :func:`zkclear.web.bridge.verify` — the page's entry point — with
the generators preloaded as the page does: reading the publication folder and the receipt, then every check of
:func:`zkclear.verifier.receipt.verify_receipt`; median of 3). PEM is one py-ecc G1 multiplication, measured by
the parent around each child.
Where Chromium, npm and Playwright are installed: ``browser/boot_seconds`` (Pyodide, the verifier zip and the
generators file loaded in the page's worker) and ``browser/receipt_check_seconds`` (the same receipt, timed inside
the worker; first and median of 3).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from zkclear.bench.common import machine_summary, measure_pem

CONFIGURATIONS = {
    "installed": (),
    "no_gmpy2": ("gmpy2",),
    "stdlib": ("numpy", "galois", "numba", "py_ecc", "coincurve", "gmpy2", "py_arkworks_bls12381"),
}
ACCOUNT = "trader-0002"

_CHILD = r"""
import importlib.abc, json, statistics, sys, time
BLOCKED = set(filter(None, sys.argv[1].split(",")))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Blocker())
from pathlib import Path
from zkclear.crypto.field import R
from zkclear.crypto.generators import GENERATOR_DST, generator_message
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.hash_to_curve import hash_to_curve
from zkclear.web import bridge, generators

def timed(fn, repeat=3):
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return statistics.median(out)

g = G1Point.generator()
points = [g * (7 ** i % R) for i in range(1, 1025)]
scalars = [(i * 0x9E3779B97F4A7C15 + 12345) ** 3 % R for i in range(1024)]
encoded = [p.to_bytes() for p in points[:64]]
figures = {
    "mul_seconds": timed(lambda: [g * s for s in scalars[:16]]) / 16,
    "msm_1024_per_point_seconds": timed(lambda: msm(points, scalars)) / 1024,
    "hash_to_curve_seconds": timed(lambda: [hash_to_curve(generator_message(b"bench", i), GENERATOR_DST)
                                            for i in range(32)]) / 32,
    "decode_point_seconds": timed(lambda: [G1Point.from_bytes(e) for e in encoded]) / 64,
}
figures["generators_file_seconds"] = figures["hash_to_curve_seconds"] * 2 * generators.COUNT
folder = Path(sys.argv[2])
bridge.preload_generators((folder / "generators").read_bytes())
request = [bridge.EpochRequest(folder / "epoch", folder / "receipt.rcpt")]
results = []
def check():
    results.append(bridge.verify(sys.argv[3], request))
figures["receipt_check_seconds"] = timed(check)
assert all(r["ok"] for r in results), results[-1]
figures["loaded_blocked"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps(figures))
"""


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    """Build the epoch, measure every configuration and the browser; return metric -> number."""
    from zkclear.web import generators

    echo(f"machine: {machine_summary()}, load average {os.getloadavg()[0]:.1f}")
    metrics: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="zkclear-bench-verifier-") as scratch:
        root = Path(scratch)
        echo("proving a demo-market epoch (5 instruments, chunks of 16, height 32)...")
        epochs_dir, receipt = _demo_epoch(root)
        inputs = _child_inputs(epochs_dir, receipt, root / "inputs")
        for name, blocked in CONFIGURATIONS.items():
            pem_before = measure_pem(7)
            figures = _child(blocked, inputs)
            pem = (pem_before + measure_pem(7)) / 2
            if figures.pop("loaded_blocked"):
                raise RuntimeError(f"{name}: a blocked package was imported")
            for key, seconds in figures.items():
                metrics[f"{name}/{key}"] = seconds
                if key != "generators_file_seconds":
                    metrics[f"{name}/{key.replace('_seconds', '_pem')}"] = seconds / pem
            metrics[f"{name}/pem_seconds"] = pem
            echo(f"{name:9s}: PEM {pem * 1e3:.1f} ms; mul {figures['mul_seconds'] / pem:.3f} PEM, "
                 f"MSM 2^10 1/{pem / figures['msm_1024_per_point_seconds']:.0f} PEM per point, "
                 f"hash-to-curve {figures['hash_to_curve_seconds'] / pem:.3f} PEM, "
                 f"decode {figures['decode_point_seconds'] / pem:.3f} PEM; 2x{generators.COUNT} generators "
                 f"{figures['generators_file_seconds']:.1f} s; receipt check {figures['receipt_check_seconds']:.2f} s "
                 f"({figures['receipt_check_seconds'] / pem:.0f} PEM)")
        metrics.update(_browser(epochs_dir, receipt, 1 if quick else 3, echo))
    return metrics


def _demo_epoch(root: Path) -> tuple[Path, Path]:
    from zkclear.chains import key_from_secret, parse_reserves_csv
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import MarketSpec, generate_market, reserves_csv
    from zkclear.tree.placement import TreeConfig

    config, epoch_inputs = generate_market(root / "market", MarketSpec(accounts=8, epochs=1, fills_per_epoch=40,
                                                                       seed=12))
    settings = ProvingSettings(tree=TreeConfig(height=32, chunk_bits=4), executor="serial",
                               venue="zkclear bench venue")
    deployment = Deployment.init(root / "venue", config.read_text(encoding="utf-8"), settings)
    deployment.run_epoch(epoch_inputs[0], 1)
    with deployment.ledger() as ledger:
        liabilities = int(ledger.state(1).cash.sum())
    keys = (key_from_secret("ethereum", bytes([0xA1]) * 32), key_from_secret("solana", bytes([0xB2]) * 32))
    holders = [(k.chain, "USDC", k.address.text) for k in keys]
    reserves = parse_reserves_csv(reserves_csv(holders, {"USDC": liabilities + 1}))
    files, _ = deployment.prove(1, reserves, reserve_keys=keys)
    return root / "venue" / "epochs", files.receipts[ACCOUNT]


def _child_inputs(epochs_dir: Path, receipt: Path, folder: Path) -> Path:
    from zkclear.web import generators
    from zkclear.web.assets import cache_root

    (folder / "epoch").mkdir(parents=True)
    for name in ("epoch-1.bundle", "epoch-1.public.json", "epoch-1.inputs.json"):
        (folder / "epoch" / name).write_bytes((epochs_dir / "1" / name).read_bytes())
    (folder / "receipt.rcpt").write_bytes(receipt.read_bytes())
    (folder / "generators").write_bytes(generators.ensure_file(cache_root()))
    return folder


def _child(blocked: tuple[str, ...], inputs: Path) -> dict:
    env = {**os.environ, "ZKCLEAR_BACKEND": "pure"}
    result = subprocess.run([sys.executable, "-c", _CHILD, ",".join(blocked), str(inputs), ACCOUNT],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"child failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def _browser(epochs_dir: Path, receipt: Path, repeats: int, echo: Callable[[str], None]) -> dict[str, float]:
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        echo("browser: skipped (pip install playwright)")
        return {}
    if not chromium.exists():
        echo("browser: skipped (apt-get install -y chromium)")
        return {}
    from zkclear.web.server import build_site, make_server

    server = make_server(build_site(epochs_dir, echo=echo), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    checks = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=flags, headless=True)
            page = browser.new_page()
            page.goto(origin + "/")
            page.fill("#account-id", ACCOUNT)
            page.set_input_files("#receipts", [str(receipt)])
            for _ in range(repeats):
                page.click("#check")
                page.wait_for_selector('body[data-state="running"]', state="attached", timeout=60_000)
                page.wait_for_selector('body[data-state="done"]', state="attached", timeout=600_000)
                if page.get_attribute('article.result[data-epoch="1"]', "data-ok") != "true":
                    raise RuntimeError("browser: the receipt did not verify: " + page.inner_text("#results"))
                checks.append(float(page.get_attribute("body", "data-check-seconds")))
                echo(f"  browser check {len(checks)}: {checks[-1]:.3f} s")
            boot = float(page.get_attribute("body", "data-boot-seconds"))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    echo(f"browser  : Pyodide + verifier + generators loaded in {boot:.1f} s; receipt check {checks[0]:.2f} s "
         f"(first), {statistics.median(checks):.2f} s (median of {len(checks)}), inside the worker")
    return {"browser/boot_seconds": boot, "browser/receipt_check_first_seconds": checks[0],
            "browser/receipt_check_seconds": statistics.median(checks)}
