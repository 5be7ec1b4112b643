"""The verifier core needs nothing but the standard library and zkclear's own pure engine.

A participant's browser (Pyodide) has no numpy, galois, numba, py-ecc, coincurve or gmpy2, and py-ecc must stay off
the path anyway: it raises the recursion limit to 100,000 at import, after which a deeply nested JSON input crashes
the interpreter's C stack instead of raising RecursionError. Subprocesses block those packages with a
``sys.meta_path`` finder and

- import every module of the ``zkclear.verifier`` package (the dependency rule, for the whole package: a module
  added later that pulls one of them in fails here), and
- decode a small epoch's published files and run a full receipt check
  (:func:`zkclear.verifier.receipt.verify_receipt`), a refused one, and a full audit
  (:func:`zkclear.verifier.audit.audit_epoch`) on the fixtures of tests/proofs/epoch_fixtures.py.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import zkclear.verifier
from tests.proofs.epoch_fixtures import SYSTEM, multi_asset_epoch
from zkclear.bundle.format import encode_audit_data, encode_public_bundle, encode_receipt, write_file

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("numpy", "galois", "numba", "py_ecc", "coincurve", "gmpy2", "py_arkworks_bls12381")

BLOCKER = """
import importlib.abc, json, sys

BLOCKED = set(sys.argv[1].split(","))
attempted = []


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            attempted.append(name)
            raise ImportError(f"{name} is blocked: the verifier path must not need it")
        return None


sys.meta_path.insert(0, Blocker())
limit_before = sys.getrecursionlimit()


def blocked_loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
"""

IMPORT_ALL = BLOCKER + """
import importlib
for name in sys.argv[2].split(","):
    importlib.import_module(name)
print(json.dumps({"loaded": blocked_loaded(), "attempted": sorted(set(attempted)),
                  "recursion_limit": [limit_before, sys.getrecursionlimit()]}))
"""

CHECK_AND_AUDIT = BLOCKER + """
from pathlib import Path

from tests.proofs.epoch_fixtures import MULTI_PUBLIC, SYSTEM, published
from zkclear.bundle.format import decode_audit_data, decode_public_bundle, decode_receipt, read_file
from zkclear.errors import VerificationError
from zkclear.executor import SerialExecutor
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.receipt import Expected, verify_receipt

folder, account, cash = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
bundle = decode_public_bundle(read_file(folder / "epoch.bundle"))
header = bundle.header
epoch = published(None, bundle, MULTI_PUBLIC)
audit = decode_audit_data(read_file(folder / "epoch.audit"), header, MULTI_PUBLIC, SYSTEM)
receipt = decode_receipt(read_file(folder / "own.rcpt"), MULTI_PUBLIC, SYSTEM, chunk_size=header.tree.chunk_size,
                         asset_count=header.asset_count)
check = verify_receipt(epoch, receipt, account, expected=Expected(cash=cash, header_hash=bundle.epoch_hash()),
                       chunk_system=SYSTEM)
report = audit_epoch(epoch, audit, chunk_system=SYSTEM, executor=SerialExecutor())
refused = {}
for name, who, expected in (("wrong cash", account, Expected(cash=cash + 1)),
                            ("another account", "trader-0", Expected())):
    try:
        verify_receipt(epoch, receipt, who, expected=expected, chunk_system=SYSTEM)
        refused[name] = "accepted"
    except VerificationError as exc:
        refused[name] = exc.reason
print(json.dumps({
    "receipt": [check.epoch_id, check.account_id, check.leaf_index, check.cash, list(check.positions),
                list(check.liabilities), list(check.passed)],
    "audit": [report.epoch_id, report.chunks, [[r.asset_id, r.total, [list(c) for c in r.by_chain]]
                                              for r in report.reserves]],
    "chains": sorted({a.chain for a in bundle.attestations}),
    "refused": refused,
    "attempted": sorted(set(attempted)),
    "loaded": blocked_loaded(),
    "recursion_limit": [limit_before, sys.getrecursionlimit()],
}))
"""


def _run_blocked(script: str, *args: str) -> dict:
    env = {**os.environ, "ZKCLEAR_BACKEND": "auto", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script, ",".join(BLOCKED), *args],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_every_module_of_the_verifier_package_imports_with_the_accelerators_blocked():
    modules = sorted(info.name for info in pkgutil.walk_packages(zkclear.verifier.__path__, "zkclear.verifier."))
    assert {"zkclear.verifier.receipt", "zkclear.verifier.audit", "zkclear.verifier.participant"} <= set(modules)
    outcome = _run_blocked(IMPORT_ALL, ",".join(["zkclear.verifier", *modules]))
    assert outcome["loaded"] == [], outcome
    # the optional accelerators were tried and refused, and importing succeeded without them; nothing on the
    # path raised the recursion limit (py-ecc would)
    assert {"numpy", "gmpy2"} <= set(outcome["attempted"])
    assert outcome["recursion_limit"][0] == outcome["recursion_limit"][1] < 100_000


def test_receipt_check_and_full_audit_run_with_numpy_galois_py_ecc_coincurve_gmpy2_blocked(tmp_path):
    """On an epoch with a collateral asset whose reserves sit on Bitcoin, Ethereum and Solana: every chain's
    attestation is checked by zkclear.chains' pure-Python primitives (coincurve blocked)."""
    epoch = multi_asset_epoch()
    own = next(a for a in epoch.accounts if a.account_id == "trader-1")
    receipt = epoch.artifacts.receipts["trader-1"]
    write_file(tmp_path / "epoch.bundle", encode_public_bundle(epoch.bundle))
    write_file(tmp_path / "epoch.audit", encode_audit_data(epoch.artifacts.audit, SYSTEM))
    write_file(tmp_path / "own.rcpt", encode_receipt(receipt, SYSTEM))
    outcome = _run_blocked(CHECK_AND_AUDIT, str(tmp_path), "trader-1", str(own.witness.cash))
    equity = own.witness.cash + sum(v * q for v, q in zip((0, 7, 3), own.witness.positions, strict=True))
    assert outcome["receipt"] == [1, "trader-1", receipt.leaf_index, own.witness.cash, list(own.witness.positions),
                                  [equity, *own.witness.balances],
                                  ["header", "identity", "values", "path", "root statements", "proofs"]]
    book = epoch.bundle.reserves
    assert outcome["audit"] == [1, len(epoch.artifacts.audit.chunks),
                                [[asset, total, [list(c) for c in book.by_chain()[asset].items()]]
                                 for asset, total in zip(book.asset_ids, book.asset_totals(), strict=True)]]
    assert outcome["chains"] == ["bitcoin", "ethereum", "solana"]
    assert outcome["refused"] == {"wrong cash": "account-values-mismatch", "another account": "receipt-owner"}
    assert outcome["loaded"] == [], outcome
    # the accelerators were asked for and missed (the fallbacks ran), and nothing raised the recursion limit
    assert {"numpy", "gmpy2"} <= set(outcome["attempted"])
    assert outcome["recursion_limit"][0] == outcome["recursion_limit"][1] < 100_000
