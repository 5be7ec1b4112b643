"""The page's adapter (zkclear.web.bridge) on CPython: it reports what ``zkclear verify`` reports — the core's
named checks, its reason codes and sentences, the participant's values, the history and its CSV — for real
receipts, a tampered one, another account's, wrong expectations, another epoch's receipt, a pinned key and junk."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear_status
from zkclear.errors import EncodingError
from zkclear.verifier import participant, receipt, root, statements
from zkclear.verifier.participant import CASH_CHANGE_COLUMNS
from zkclear.verifier.published import open_published
from zkclear.verifier.reasons import REASONS
from zkclear.web import generators
from zkclear.web.assets import cache_root
from zkclear.web.bridge import CHECK_OF, CHECKS, EpochRequest, receipt_epoch, verify, verify_json

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "trader-0002"
OTHER = "trader-0005"


def _request(web_deployment, epoch=2, account=ACCOUNT, receipt_path=None, **expected) -> EpochRequest:
    path = receipt_path or web_deployment.receipt_path(epoch, account)
    return EpochRequest(web_deployment.folder(epoch), path, **expected)


def _verify(web_deployment, *requests, account=ACCOUNT, **options):
    return verify(account, list(requests) or [_request(web_deployment)], **options)


def _statuses(entry) -> dict[str, bool | None]:
    return {check["name"]: check["ok"] for check in entry["checks"]}


def _failed(entry) -> dict:
    return next(check for check in entry["checks"] if check["ok"] is False)


def test_a_real_receipt_passes_the_cores_named_checks_and_reports_the_account(web_deployment):
    stages = []
    result = _verify(web_deployment, progress=lambda stage, fraction: stages.append(fraction))
    assert result["ok"] is True and result["error"] is None
    [entry] = result["epochs"]
    assert [c["name"] for c in entry["checks"]] == list(CHECKS) == [
        "header", "identity", "values", "path", "root statements", "proofs"]
    assert all(c["ok"] is True and c["reason"] is None for c in entry["checks"])
    assert stages[-1] == 1.0 and stages == sorted(stages)
    account = entry["account"]
    with web_deployment.deployment.ledger() as ledger:
        state = ledger.state(2)
    row = state.accounts.index(ACCOUNT)
    assert account["cash"] == int(state.cash[row])
    assert list(account["positions"].values()) == [int(q) for q in state.positions[row]]
    assert account["distance_to_maintenance"] == account["equity"] - account["maintenance_requirement"] >= 0
    inputs = json.loads((web_deployment.folder(2) / "epoch-2.inputs.json").read_bytes())
    assert account["marks"] == dict(inputs["derived"]["marks"])
    assert account["venue"] == "Web Test Venue"  # shown by the page: whose epoch this is


def test_the_page_reports_what_zkclear_verify_reports_for_a_history(web_deployment, tmp_path):
    """The same receipts through the CLI and through the bridge: the same values, the same CSV."""
    receipts = [web_deployment.receipt_path(epoch, ACCOUNT) for epoch in (1, 2)]
    csv_path = tmp_path / "history.csv"
    code, output = zkclear_status("verify", web_deployment.folder(1), web_deployment.folder(2),
                                  "--receipt", receipts[0], "--receipt", receipts[1], "--account", ACCOUNT,
                                  "--history-csv", csv_path, "--json")
    assert code == 0, output
    cli = json.loads(output.splitlines()[-1])
    result = _verify(web_deployment, *(_request(web_deployment, epoch) for epoch in (2, 1)))  # any order
    assert result["ok"] is True
    assert [entry["epoch"] for entry in result["epochs"]] == [1, 2]
    for entry, view in zip(result["epochs"], cli["epochs"], strict=True):
        page = entry["account"]
        assert {key: page[key] for key in view if key not in ("positions", "checks")} == {
            key: value for key, value in view.items() if key not in ("positions", "checks")}
        assert {i: q for i, q in page["positions"].items() if q} == view["positions"]
        assert [c["name"] for c in entry["checks"]] == view["checks"]
    history = result["history"]
    # the CLI's, but for its last columns: the change of cash explained by the clearing engine (not in the page)
    cli_csv = csv_path.read_text(encoding="utf-8").splitlines()
    assert cli_csv[0].endswith(",".join(("", *CASH_CHANGE_COLUMNS)))
    assert history["csv"].splitlines() == [line.rsplit(",", len(CASH_CHANGE_COLUMNS))[0] for line in cli_csv]
    assert [row["epoch"] for row in history["rows"]] == [1, 2]
    assert history["links"] == [{"epoch": 2, "ok": True, "detail": "epoch 2 follows epoch 1: its header names "
                                                                   "epoch 1's header hash and root"}]
    assert history["key_fingerprint"] == cli["epochs"][0]["account_key_fingerprint"]


def test_expected_values_are_compared_by_the_core_and_a_difference_is_named(web_deployment):
    account = _verify(web_deployment)["epochs"][0]["account"]
    held = tuple(f"{i}={q}" for i, q in account["positions"].items() if q)
    good = _verify(web_deployment, _request(web_deployment, cash=account["cash"], positions=held,
                                            margin_mode=account["margin_mode"]))
    assert good["ok"] is True
    assert "equal the balance, positions, margin mode you expect" in good["epochs"][0]["checks"][2]["detail"]
    wrong = _verify(web_deployment, _request(web_deployment, cash=account["cash"] + 5))
    entry = wrong["epochs"][0]
    assert wrong["ok"] is False and entry["account"] is None
    assert _statuses(entry) == {"header": True, "identity": True, "values": False, "path": None,
                                "root statements": None, "proofs": None}
    assert _failed(entry)["reason"] == "account-values-mismatch"
    assert _failed(entry)["detail"] == f"cash: you expect {account['cash'] + 5}, the venue committed {account['cash']}"
    instrument, lots = held[0].split("=")
    moved = _verify(web_deployment, _request(web_deployment, positions=(f"{instrument}={int(lots) + 1}",)))
    assert _failed(moved["epochs"][0])["detail"] == (f"position in {instrument}: you expect {int(lots) + 1} lots, "
                                                     f"the venue committed {lots}")
    unknown = _verify(web_deployment, _request(web_deployment, positions=("DOGE-PERP=1",)))
    assert unknown["ok"] is False and unknown["epochs"] == []
    assert "field 'positions': unknown instrument 'DOGE-PERP'" in unknown["error"]
    # the collateral balances the page now takes (this venue settles in one asset: there is none to expect)
    request = {"account_id": ACCOUNT, "epochs": [{"folder": str(web_deployment.folder(2)), "balances": ["BTC=1"],
                                                  "receipt": str(web_deployment.receipt_path(2, ACCOUNT))}]}
    answer = json.loads(verify_json(json.dumps(request)))
    assert answer["ok"] is False
    assert "field 'balances': unknown collateral asset 'BTC' (listed: none)" in answer["error"]


def test_another_accounts_receipt_fails_identity_with_receipt_owner(web_deployment):
    result = _verify(web_deployment, _request(web_deployment, account=OTHER))
    entry = result["epochs"][0]
    assert result["ok"] is False
    assert _statuses(entry) == {"header": True, "identity": False, "values": None, "path": None,
                                "root statements": None, "proofs": None}
    assert _failed(entry)["reason"] == "receipt-owner"
    assert _failed(entry)["detail"] == f"this receipt is for account {OTHER!r}, not for you ({ACCOUNT!r})"
    assert entry["account"] is None and result["history"] is None  # nothing of the other account is shown


def test_a_tampered_balance_fails_values_with_opening_mismatch(web_deployment, tmp_path):
    forged = web_deployment.tampered_receipt(2, ACCOUNT, tmp_path / "forged.rcpt")
    entry = _verify(web_deployment, _request(web_deployment, receipt_path=forged))["epochs"][0]
    assert _statuses(entry)["identity"] is True and _statuses(entry)["values"] is False
    assert _failed(entry)["reason"] == "opening-mismatch"
    assert "do not open the commitments" in _failed(entry)["detail"]
    assert entry["receipt"] == "forged.rcpt"


def test_a_path_of_the_wrong_length_fails_identity_with_receipt_malformed(web_deployment, tmp_path):
    original = web_deployment.receipt(2, ACCOUNT)
    short = web_deployment.forged(2, ACCOUNT, tmp_path / "short.rcpt",
                                  upper_siblings=original.upper_siblings[:-1],
                                  group_proofs=original.group_proofs[:-1],
                                  group_extras=original.group_extras[:-1])
    entry = _verify(web_deployment, _request(web_deployment, receipt_path=short))["epochs"][0]
    assert _statuses(entry)["header"] is True and _failed(entry)["reason"] == "receipt-malformed"


def test_the_posted_header_hash_is_checked(web_deployment):
    header_hash = _verify(web_deployment)["epochs"][0]["account"]["header_hash"]
    posted = _verify(web_deployment, _request(web_deployment, header_hash=header_hash.upper()))
    assert posted["ok"] is True and "the one the venue posted" in posted["epochs"][0]["checks"][0]["detail"]
    wrong = _verify(web_deployment, _request(web_deployment, header_hash="ab" * 32))
    assert _statuses(wrong["epochs"][0])["header"] is False
    assert _failed(wrong["epochs"][0])["reason"] == "header-mismatch"
    malformed = _verify(web_deployment, _request(web_deployment, header_hash="0x1234"))
    assert "field 'header hash': a header hash is 64 hexadecimal digits" in malformed["error"]


def test_a_receipt_of_another_epoch_fails_identity(web_deployment):
    older = web_deployment.receipt_path(1, ACCOUNT)
    entry = _verify(web_deployment, _request(web_deployment, receipt_path=older))["epochs"][0]
    assert _failed(entry)["name"] == "identity" and _failed(entry)["reason"] == "receipt-epoch-mismatch"


def test_the_participant_file_and_a_pinned_key(web_deployment, tmp_path):
    own_file = web_deployment.participant_path(ACCOUNT)
    result = _verify(web_deployment, participant_file=own_file)
    assert result["ok"] is True and "(the one you pinned)" in result["epochs"][0]["checks"][1]["detail"]
    mismatch = _verify(web_deployment, participant_file=web_deployment.participant_path(OTHER))
    assert mismatch["ok"] is False and "differs from your participant file's" in mismatch["error"]
    other_key = web_deployment.receipt(2, OTHER).account_key.hex()
    pinned = _verify(web_deployment, account_key=other_key)
    assert _failed(pinned["epochs"][0])["reason"] == "account-key-mismatch"
    assert _statuses(pinned["epochs"][0])["header"] is None  # verify_history compares the pinned key first
    both = _verify(web_deployment, participant_file=own_file, account_key=other_key)
    assert both["ok"] is False and "account key you entered differs" in both["error"]
    assert "field 'account key'" in _verify(web_deployment, account_key="00")["error"]
    (tmp_path / "bad.toml").write_text('account = "trader-0002"\nsecret = 1\n')
    assert "bad.toml: field 'secret': unknown key" in _verify(web_deployment, participant_file=tmp_path / "bad.toml")[
        "error"]


def test_in_a_history_a_changed_key_fails_the_later_epoch_and_stops_there(web_deployment, tmp_path):
    """Epoch 2's receipt is another account's renamed to this one: the key differs from epoch 1's
    (account-key-changed), raised by verify_history before epoch 2's own checks."""
    other = web_deployment.receipt(2, OTHER)
    renamed = web_deployment.forged(2, OTHER, tmp_path / "renamed.rcpt", account_id=ACCOUNT)
    assert other.account_key != web_deployment.receipt(1, ACCOUNT).account_key
    result = _verify(web_deployment, _request(web_deployment, 1), _request(web_deployment, 2, receipt_path=renamed))
    first, second = result["epochs"]
    assert result["ok"] is False and result["history"] is None
    assert first["ok"] is True and set(_statuses(first).values()) == {True}
    # verify_history stops epoch 2 before its own checks: the header is not shown as passed
    assert _statuses(second) == {"header": None, "identity": False, "values": None, "path": None,
                                 "root statements": None, "proofs": None}
    assert _failed(second)["reason"] == "account-key-changed"


def test_a_crowd_audit_checks_random_chunks_of_the_latest_epoch(web_deployment, tmp_path):
    chunks = len(open_published(web_deployment.folder(2)).audit_data().chunks)
    result = _verify(web_deployment, crowd_audit_chunks=2)
    assert result["ok"] is True
    audit = result["crowd_audit"]
    assert audit["ok"] is True and "picked at random here" in audit["detail"]
    assert len(audit["chunks"]) == min(2, chunks) and set(audit["chunks"]) <= set(range(chunks))
    folder = tmp_path / "2"  # the publication folder without its audit data
    folder.mkdir()
    for name in ("epoch-2.bundle", "epoch-2.public.json", "epoch-2.inputs.json"):
        (folder / name).write_bytes((web_deployment.folder(2) / name).read_bytes())
    missing = verify(ACCOUNT, [EpochRequest(folder, web_deployment.receipt_path(2, ACCOUNT))], crowd_audit_chunks=1)
    assert missing["ok"] is False and missing["epochs"][0]["ok"] is True
    assert missing["crowd_audit"]["ok"] is False and "epoch-2.audit" in missing["crowd_audit"]["detail"]


def test_junk_files_and_requests_are_one_line_and_never_raise(web_deployment, tmp_path):
    folder = tmp_path / "2"
    folder.mkdir()
    for name in ("epoch-2.public.json", "epoch-2.inputs.json"):
        (folder / name).write_bytes((web_deployment.folder(2) / name).read_bytes())
    (folder / "epoch-2.bundle").write_bytes(b"junk")
    result = verify(ACCOUNT, [EpochRequest(folder, web_deployment.receipt_path(2, ACCOUNT))])
    assert result["ok"] is False and result["error"].startswith(f"{folder / 'epoch-2.bundle'}: ")
    (folder / "epoch-2.bundle").write_bytes((web_deployment.folder(2) / "epoch-2.bundle").read_bytes())
    (folder / "epoch-2.inputs.json").unlink()
    missing = verify(ACCOUNT, [EpochRequest(folder, web_deployment.receipt_path(2, ACCOUNT))])
    assert "epoch-2.inputs.json" in missing["error"] and "not found" in missing["error"]
    truncated = tmp_path / "truncated.rcpt"
    truncated.write_bytes(web_deployment.receipt_path(2, ACCOUNT).read_bytes()[:-1])
    assert "truncated.rcpt" in _verify(web_deployment, _request(web_deployment, receipt_path=truncated))["error"]
    assert "account id" in verify("", [_request(web_deployment)])["error"]
    for request in ("{not json", "[]", json.dumps({"account_id": ACCOUNT, "epochs": [{"folder": "x"}]}),
                    json.dumps({"account_id": ACCOUNT, "epochs": [{"folder": "x", "receipt": "y", "cash": "1e3"}]})):
        answer = json.loads(verify_json(request))
        assert answer["ok"] is False and answer["error"].startswith("bad request")


def test_receipt_epoch_reads_only_a_receipt(web_deployment):
    assert receipt_epoch(web_deployment.receipt_path(1, ACCOUNT).read_bytes()) == 1
    with pytest.raises(EncodingError):
        receipt_epoch((web_deployment.folder(1) / "epoch-1.bundle").read_bytes())


def _raised_reasons(module) -> set[str]:
    """Every reason code a module raises literally (VerificationError("...") or _fail("..."))."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("VerificationError", "_fail")
            and node.args and isinstance(node.args[0], ast.Constant)}


def test_every_reason_a_receipt_check_can_end_with_belongs_to_one_named_check():
    from zkclear.chains import verification
    from zkclear.proofs import chunks, header, reserves

    raised = set().union(*(_raised_reasons(m) for m in (receipt, participant, root, statements, header,
                                                        reserves, verification)))
    raised |= {"account-shape"}  # CollateralChunks.check_shape (zkclear.proofs.chunks) raises it
    assert "account-shape" in _raised_reasons(chunks)
    crowd_audit_only = {"audit-epoch-mismatch", "chunk-root-mismatch", "audit-structure", "node-range-proof",
                        "padding-node-nonzero", "node-hash-mismatch"}
    assert raised - crowd_audit_only <= set(CHECK_OF), raised - crowd_audit_only - set(CHECK_OF)
    assert set(CHECK_OF.values()) == set(CHECKS)
    assert set(CHECK_OF) <= set(REASONS)


CHILD = """
import importlib.abc, json, sys
BLOCKED = {"numpy", "galois", "numba", "py_ecc", "coincurve", "gmpy2", "py_arkworks_bls12381", "click"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Blocker())
from pathlib import Path
from zkclear.crypto import generators
from zkclear.web.bridge import preload_generators, verify_json
preload_generators(Path(sys.argv[4]).read_bytes())
generators.pedersen_generators()  # H: one derivation, cached
def derive(*args):
    raise AssertionError("a generator beyond the page's file was derived")
generators.hash_to_curve = derive
result = json.loads(verify_json(json.dumps({"account_id": sys.argv[3], "epochs": [
    {"folder": sys.argv[1], "receipt": sys.argv[2]}]})))
print(json.dumps({"ok": result["ok"], "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
"""


def test_the_bridge_runs_on_the_standard_library_alone_with_the_pages_generators(web_deployment):
    """As in the page: no accelerator, no click, and the pinned generators file covers a demo-market receipt
    (nothing is derived beyond it: that is what keeps the check in the browser within its time)."""
    env = {**os.environ, "ZKCLEAR_BACKEND": "auto", "PYTHONPATH": str(ROOT)}
    generators_file = cache_root() / generators.FILE_NAME
    generators_file.parent.mkdir(parents=True, exist_ok=True)
    generators.ensure_file(cache_root())
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(web_deployment.folder(2)), str(web_deployment.receipt_path(2, ACCOUNT)),
         ACCOUNT, str(generators_file)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"ok": True, "loaded": []}


def test_a_hand_made_request_with_an_infinite_count_or_a_non_text_account_is_a_bad_request(web_deployment):
    """verify_json never raises: JSON's Infinity as the crowd-audit count (int() overflows) and an account id that is
    not text (null was checked as the account 'None') are named bad requests."""
    epochs = [{"folder": str(web_deployment.folder(2)), "receipt": str(web_deployment.receipt_path(2, ACCOUNT))}]
    for count in ("Infinity", "-Infinity"):
        request = json.dumps({"account_id": ACCOUNT, "crowd_audit": 0, "epochs": epochs}).replace(
            '"crowd_audit": 0', f'"crowd_audit": {count}')
        answer = json.loads(verify_json(request))
        assert answer["ok"] is False and answer["error"].startswith("bad request") and answer["epochs"] == []
    for account in (None, [ACCOUNT], 7):
        answer = json.loads(verify_json(json.dumps({"account_id": account, "epochs": epochs})))
        assert answer["ok"] is False and answer["error"] == "bad request: the account id must be text"


def test_a_balance_or_position_in_a_second_spelling_is_a_named_bad_input_not_compared(web_deployment):
    """The page's balance and positions took `-0` and leading zeros (`007` compared equal to 7), where the operator's
    files and `zkclear verify` take one spelling per integer: now each is refused naming the field; the canonical
    spelling (spaces around it are the text box's) is still compared."""
    account = _verify(web_deployment)["epochs"][0]["account"]
    cash = account["cash"]
    assert cash > 0
    epochs = [{"folder": str(web_deployment.folder(2)), "receipt": str(web_deployment.receipt_path(2, ACCOUNT))}]
    for spelling in (f"0{cash}", f"+{cash}", "-0", f"{cash:_}" if cash >= 1000 else f"{cash}.0", f"{cash}\n5"):
        request = json.dumps({"account_id": ACCOUNT, "epochs": [{**epochs[0], "cash": spelling}]})
        answer = json.loads(verify_json(request))
        assert answer["ok"] is False and answer["epochs"] == []
        assert answer["error"].startswith("bad request: the balance (a whole number of settlement units) must be "
                                          "a plain decimal integer"), spelling
    good = json.loads(verify_json(json.dumps({"account_id": ACCOUNT, "epochs": [{**epochs[0], "cash": f" {cash} "}]})))
    assert good["ok"] is True
    held = [(i, q) for i, q in account["positions"].items() if q]
    flat = next(i for i, q in account["positions"].items() if not q)
    instrument, lots = held[0]
    padded = f"-0{-lots}" if lots < 0 else f"0{lots}"
    exact = {**dict(held), flat: 0}
    assert _verify(web_deployment, _request(web_deployment, positions=tuple(f"{i}={q}" for i, q in exact.items())))[
        "ok"] is True
    for name, spelling in ((instrument, padded), (flat, "-0"), (flat, "00"), (instrument, f" {lots}")):
        items = tuple(f"{i}={spelling if i == name else q}" for i, q in exact.items())  # else exact: it passed
        refused = _verify(web_deployment, _request(web_deployment, positions=items))
        assert refused["ok"] is False and refused["epochs"] == []
        assert f"field 'positions': the lots of {name} must be a plain decimal integer" in refused["error"], items


def test_a_request_nested_deeply_or_naming_a_path_the_file_system_refuses_is_one_line_not_an_exception(
        web_deployment):
    """verify_json never raises (red team round 6): a request of 2,000 nested arrays raised RecursionError out of
    json.loads, and a folder name longer than the file system allows raised OSError out of the epoch lookup."""
    nested = "[" * 2000 + "]" * 2000
    answer = json.loads(verify_json(nested))
    assert answer["ok"] is False and answer["error"].startswith("bad request") and "nested" in answer["error"]
    long_folder = str(web_deployment.folder(2) / ("x" * 5000))
    request = {"account_id": ACCOUNT, "epochs": [{"folder": long_folder,
                                                  "receipt": str(web_deployment.receipt_path(2, ACCOUNT))}]}
    answer = json.loads(verify_json(json.dumps(request)))
    assert answer["ok"] is False and "too long" in answer["error"]
