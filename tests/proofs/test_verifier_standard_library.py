"""The verifier path needs nothing but the standard library and zkclear's own pure engine.

A participant's browser (Pyodide) has no numpy, galois, numba, py-ecc, coincurve or gmpy2, and py-ecc must stay off
the path anyway: it raises the recursion limit to 100,000 at import, after which a deeply nested JSON input crashes
the interpreter's C stack instead of raising RecursionError. A subprocess blocks those packages with a
``sys.meta_path`` finder, decodes a small epoch's published files and runs a full receipt check
(:func:`zkclear.tree.inclusion.verify_receipt`) and a full audit (:func:`zkclear.proofs.auditor.audit_epoch`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.proofs.epoch_fixtures import SYSTEM, honest_epoch
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

from tests.proofs.epoch_fixtures import PUBLIC, SYSTEM
from zkclear.bundle.format import decode_audit_data, decode_public_bundle, decode_receipt, read_file
from zkclear.errors import VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.auditor import audit_epoch
from zkclear.tree.inclusion import verify_receipt

folder = Path(sys.argv[1])
bundle = decode_public_bundle(read_file(folder / "epoch.bundle"))
audit = decode_audit_data(read_file(folder / "epoch.audit"), bundle.header, PUBLIC, SYSTEM)
receipt = decode_receipt(read_file(folder / "own.rcpt"), PUBLIC, SYSTEM, chunk_size=bundle.header.tree.chunk_size)
check = verify_receipt(bundle, receipt, PUBLIC, chunk_system=SYSTEM, expected_cash=int(sys.argv[3]))
report = audit_epoch(bundle, audit, PUBLIC, chunk_system=SYSTEM, executor=SerialExecutor())
try:
    verify_receipt(bundle, receipt, PUBLIC, chunk_system=SYSTEM, expected_cash=int(sys.argv[3]) + 1)
    wrong_cash = "accepted"
except VerificationError as exc:
    wrong_cash = exc.reason
print(json.dumps({
    "receipt": [check.epoch_id, check.leaf_index, check.cash, list(check.positions)],
    "audit": [report.epoch_id, report.chunks, report.reserves_total],
    "wrong_cash": wrong_cash,
    "attempted": sorted(set(attempted)),
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
    "recursion_limit": [limit_before, sys.getrecursionlimit()],
}))
"""


def test_receipt_check_and_full_audit_run_with_numpy_galois_py_ecc_coincurve_gmpy2_blocked(tmp_path):
    epoch = honest_epoch()
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
    assert outcome["receipt"] == [1, epoch.artifacts.receipts["trader-1"].leaf_index, own.witness.cash,
                                  list(own.witness.positions)]
    assert outcome["audit"] == [1, len(epoch.artifacts.audit.chunks), epoch.bundle.reserves.total]
    assert outcome["wrong_cash"] == "account-values-mismatch"
    assert outcome["loaded"] == [], outcome
    # the accelerators were asked for and missed (the fallbacks ran), and nothing raised the recursion limit
    assert {"numpy", "gmpy2"} <= set(outcome["attempted"])
    assert outcome["recursion_limit"][0] == outcome["recursion_limit"][1] < 100_000
