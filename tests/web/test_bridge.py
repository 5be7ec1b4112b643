"""The page's adapter (zkclear.web.bridge) on CPython: each named check passes on a real receipt and fails by name,
in plain words, on a tampered one, another account's, wrong expectations, another epoch's files and junk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zkclear.bundle.format import read_file
from zkclear.errors import EncodingError
from zkclear.operator import Deployment
from zkclear.web.bridge import CHECK_NAMES, check_chain_of, check_receipt, check_receipt_json, receipt_epoch

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "trader-0002"


def _check(web_deployment, epoch=2, account=ACCOUNT, receipt=None, **options):
    files = web_deployment.files(epoch)
    data = receipt if receipt is not None else read_file(web_deployment.receipt_path(epoch, account))
    return check_receipt(files["bundle"], files["public"], data, account, **options)


def _status(result):
    return {check["name"]: check["ok"] for check in result["checks"]}


def _detail(result, name):
    return next(check["detail"] for check in result["checks"] if check["name"] == name)


def test_a_real_receipt_passes_every_named_check_and_reports_the_account(web_deployment):
    stages = []
    result = _check(web_deployment, progress=lambda stage, fraction: stages.append(fraction))
    assert result["ok"] is True
    assert [c["name"] for c in result["checks"]] == list(CHECK_NAMES)
    assert all(c["ok"] is True for c in result["checks"])
    assert stages[-1] == 1.0 and stages == sorted(stages)
    account = result["account"]
    with Deployment(web_deployment.root / "venue").ledger() as ledger:
        state = ledger.state(2)
    row = state.accounts.index(ACCOUNT)
    assert account["cash"] == int(state.cash[row])
    assert list(account["positions"].values()) == [int(q) for q in state.positions[row]]
    assert account["requirement"] == account["equity"] - account["excess"] and account["excess"] >= 0
    assert result["epoch"]["epoch"] == 2 and len(result["epoch"]["epoch_hash"]) == 64


def test_expected_values_are_compared_and_a_difference_is_named(web_deployment):
    account = _check(web_deployment)["account"]
    held = {k: v for k, v in account["positions"].items() if v}
    assert _check(web_deployment, expected_cash=account["cash"], expected_positions=held)["ok"] is True
    wrong = _check(web_deployment, expected_cash=account["cash"] + 5)
    assert _status(wrong)["values"] is False and _status(wrong)["path"] is None
    assert f"balance {account['cash']} (you expected {account['cash'] + 5})" in _detail(wrong, "values")
    instrument, lots = next(iter(held.items()))
    moved = _check(web_deployment, expected_positions={**held, instrument: lots + 1})
    assert f"{instrument} {lots} lots (you expected {lots + 1})" in _detail(moved, "values")
    unknown = _check(web_deployment, expected_positions={"DOGE-PERP": 1})
    assert _status(unknown)["values"] is False and "DOGE-PERP" in _detail(unknown, "values")


def test_another_accounts_receipt_fails_identity(web_deployment):
    other = read_file(web_deployment.receipt_path(2, "trader-0005"))
    result = _check(web_deployment, receipt=other)
    assert result["ok"] is False
    assert _status(result) == {"epoch": True, "identity": False, "values": None, "path": None, "siblings": None,
                               "own chunk": None, "root statements": None}
    assert result["account"] is None  # nothing of the other account is shown


def test_a_tampered_balance_fails_values(web_deployment, tmp_path):
    forged = web_deployment.tampered_receipt(2, ACCOUNT, tmp_path / "forged.rcpt").read_bytes()
    result = _check(web_deployment, receipt=forged)
    assert _status(result)["identity"] is True and _status(result)["values"] is False
    assert "do not open the commitments" in _detail(result, "values")


def test_a_path_of_the_wrong_length_fails_epoch_and_nothing_after_it_passes(web_deployment, tmp_path):
    short = web_deployment.shortened_receipt(2, ACCOUNT, tmp_path / "short.rcpt").read_bytes()
    result = _check(web_deployment, receipt=short)
    assert _status(result) == {"epoch": False, "identity": None, "values": None, "path": None, "siblings": None,
                               "own chunk": None, "root statements": None}
    assert "does not fit this epoch's tree" in _detail(result, "epoch")


def test_the_posted_epoch_hash_is_checked(web_deployment):
    epoch_hash = _check(web_deployment)["epoch"]["epoch_hash"]
    posted = _check(web_deployment, posted_hash="0x" + epoch_hash.upper())
    assert posted["ok"] is True and "the venue posted" in _detail(posted, "epoch")
    wrong = _check(web_deployment, posted_hash="ab" * 32)
    assert _status(wrong)["epoch"] is False and "not the files it published" in _detail(wrong, "epoch")


def test_a_receipt_of_another_epoch_fails_epoch(web_deployment):
    older = read_file(web_deployment.receipt_path(1, ACCOUNT))
    result = _check(web_deployment, receipt=older)
    assert _status(result)["epoch"] is False and "epoch 1" in _detail(result, "epoch")


def test_junk_files_fail_with_a_reason_and_never_raise(web_deployment):
    files = web_deployment.files(2)
    receipt = read_file(web_deployment.receipt_path(2, ACCOUNT))
    for bundle, public, data, words in ((b"junk", files["public"], receipt, "public bundle"),
                                        (files["bundle"], b"{}", receipt, "public risk data"),
                                        (files["bundle"], files["public"], receipt[:-1], "receipt")):
        result = check_receipt(bundle, public, data, ACCOUNT)
        assert result["ok"] is False and _status(result)["epoch"] is False
        assert words in _detail(result, "epoch")
    answer = json.loads(check_receipt_json("{not json", {}))
    assert answer["ok"] is False and "bad request" in answer["checks"][0]["detail"]


def test_receipt_epoch_and_the_chain_of_bundles(web_deployment):
    assert receipt_epoch(read_file(web_deployment.receipt_path(1, ACCOUNT))) == 1
    with pytest.raises(EncodingError):
        receipt_epoch(web_deployment.files(1)["bundle"])
    first, second = web_deployment.files(1)["bundle"], web_deployment.files(2)["bundle"]
    assert check_chain_of({1: first, 2: second}) == [{"epoch": 2, "ok": True, "detail": "epoch 2 follows epoch 1"}]
    assert check_chain_of({1: second, 2: second})[0]["ok"] is False


CHILD = """
import importlib.abc, json, sys
BLOCKED = {"numpy", "galois", "numba", "py_ecc", "coincurve", "gmpy2", "py_arkworks_bls12381", "click"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Blocker())
from pathlib import Path
from zkclear.web.bridge import check_receipt
bundle, public, receipt = (Path(p).read_bytes() for p in sys.argv[1:4])
result = check_receipt(bundle, public, receipt, sys.argv[4])
print(json.dumps({"ok": result["ok"], "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
"""


def test_the_bridge_runs_on_the_standard_library_alone(web_deployment):
    folder = web_deployment.epochs_dir / "2"
    env = {**os.environ, "ZKCLEAR_BACKEND": "auto", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder / "epoch-2.bundle"), str(folder / "epoch-2.public.json"),
         str(web_deployment.receipt_path(2, ACCOUNT)), ACCOUNT],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"ok": True, "loaded": []}
