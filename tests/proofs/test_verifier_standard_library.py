"""The verifier path needs nothing but the standard library and zkclear's own pure engine.

A participant's browser (Pyodide) has no numpy, galois, numba, py-ecc, coincurve or gmpy2, and py-ecc must stay off
the path anyway: it raises the recursion limit to 100,000 at import, after which a deeply nested JSON input crashes
the interpreter's C stack instead of raising RecursionError. A subprocess blocks those packages with a
``sys.meta_path`` finder, decodes a small epoch's published files and runs a full receipt check
(:func:`zkclear.verifier.receipt.verify_receipt`) and a full audit (:func:`zkclear.verifier.audit.audit_epoch`) —
on an epoch with a collateral asset whose reserves sit on Bitcoin, Ethereum and Solana, so every chain's
attestation is checked by zkclear.chains' pure-Python primitives (coincurve blocked).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.proofs.epoch_fixtures import SYSTEM, multi_asset_epoch
from zkclear.bundle.format import encode_audit_data, encode_public_bundle, encode_receipt, write_file

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("numpy", "galois", "numba", "py_ecc", "coincurve", "gmpy2", "py_arkworks_bls12381")

CHILD = """
import importlib.abc, json, sys

BLOCKED = set(sys.argv[2].split(","))
attempted = []


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            attempted.append(name)
            raise ImportError(f"{name} is blocked: the verifier path must not need it")
        return None


sys.meta_path.insert(0, Blocker())
limit_before = sys.getrecursionlimit()

from pathlib import Path

from tests.proofs.epoch_fixtures import MULTI_PUBLIC, SYSTEM, published
from zkclear.bundle.format import decode_audit_data, decode_public_bundle, decode_receipt, read_file
from zkclear.errors import VerificationError
from zkclear.executor import SerialExecutor
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.receipt import Expected, verify_receipt

folder = Path(sys.argv[1])
bundle = decode_public_bundle(read_file(folder / "epoch.bundle"))
header = bundle.header
audit = decode_audit_data(read_file(folder / "epoch.audit"), header, MULTI_PUBLIC, SYSTEM)
receipt = decode_receipt(read_file(folder / "own.rcpt"), MULTI_PUBLIC, SYSTEM, chunk_size=header.tree.chunk_size,
                         instrument_count=header.instrument_count, asset_count=header.asset_count)
epoch = published(None, bundle, MULTI_PUBLIC)
check = verify_receipt(epoch, receipt, "trader-1", chunk_system=SYSTEM, expected=Expected(cash=int(sys.argv[3])))
report = audit_epoch(epoch, audit, chunk_system=SYSTEM, executor=SerialExecutor())
try:
    verify_receipt(epoch, receipt, "trader-1", chunk_system=SYSTEM, expected=Expected(cash=int(sys.argv[3]) + 1))
    wrong_cash = "accepted"
except VerificationError as exc:
    wrong_cash = exc.reason
print(json.dumps({
    "receipt": [check.epoch_id, check.leaf_index, check.cash, list(check.positions), list(check.liabilities)],
    "audit": [report.epoch_id, report.chunks, [[r.asset_id, r.total, [list(c) for c in r.by_chain]]
                                              for r in report.reserves]],
    "chains": sorted({a.chain for a in bundle.attestations}),
    "wrong_cash": wrong_cash,
    "attempted": sorted(set(attempted)),
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
    "recursion_limit": [limit_before, sys.getrecursionlimit()],
}))
"""


def test_receipt_check_and_full_audit_run_with_numpy_galois_py_ecc_coincurve_gmpy2_blocked(tmp_path):
    epoch = multi_asset_epoch()
    own = next(a for a in epoch.accounts if a.account_id == "trader-1")
    write_file(tmp_path / "epoch.bundle", encode_public_bundle(epoch.bundle))
    write_file(tmp_path / "epoch.audit", encode_audit_data(epoch.artifacts.audit, SYSTEM))
    write_file(tmp_path / "own.rcpt", encode_receipt(epoch.artifacts.receipts["trader-1"], SYSTEM))
    env = {**os.environ, "ZKCLEAR_BACKEND": "auto", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), ",".join(BLOCKED), str(own.witness.cash)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout)
    equity = own.witness.cash + sum(v * q for v, q in zip((0, 7, 3), own.witness.positions, strict=True))
    assert outcome["receipt"] == [1, epoch.artifacts.receipts["trader-1"].leaf_index, own.witness.cash,
                                  list(own.witness.positions), [equity, *own.witness.balances]]
    book = epoch.bundle.reserves
    assert outcome["audit"] == [1, len(epoch.artifacts.audit.chunks),
                                [[asset, total, [list(c) for c in book.by_chain()[asset].items()]]
                                 for asset, total in zip(book.asset_ids, book.asset_totals(), strict=True)]]
    assert outcome["chains"] == ["bitcoin", "ethereum", "solana"]
    assert outcome["wrong_cash"] == "account-values-mismatch"
    assert outcome["loaded"] == [], outcome
    # the accelerators were asked for and missed (the fallbacks ran), and nothing raised the recursion limit
    assert {"numpy", "gmpy2"} <= set(outcome["attempted"])
    assert outcome["recursion_limit"][0] == outcome["recursion_limit"][1] < 100_000
