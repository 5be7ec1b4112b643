"""Hostile files against the verifiers (issue 11, "verifiers never crash"): structure-aware mutations of a real
epoch's bundle, audit data, receipt, risk data and public inputs — valid container lengths and checksums,
wrong shapes, nested JSON, zero-length vectors, missing files — run through `zkclear verify` and
`zkclear audit`. Whatever the mutation: exit status 1 (unreadable) or 2 (a check failed), one line, never a
traceback (exit 3) and never OK for a file that differs from the original.

In-process runs (hypothesis, modest example counts) cover the decoders and checks; a few subprocess runs
cover what only a process can show (a signal from a C-stack overflow)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.cli_helpers import zkclear_status
from zkclear.bundle.format import _PREFIX, _container

FILES = ("bundle", "audit", "public.json", "inputs.json", "receipt")
FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _copy_epoch(proven, tmp_path: Path) -> tuple[Path, Path, str]:
    deployment = proven["deployment"]
    account = next(a for a in deployment.accounts(3) if a.account_id.startswith("trader-") and any(a.witness.positions))
    folder = tmp_path / "epoch"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(deployment.epoch_dir(3), folder)
    receipt = tmp_path / "my.rcpt"
    shutil.copy(deployment.receipt_path(3, account.account_id), receipt)
    return folder, receipt, account.account_id


def _path(folder: Path, receipt: Path, name: str) -> Path:
    return receipt if name == "receipt" else folder / f"epoch-3.{name}"


def _mutate_container(data: bytes, position: int, value: int, cut: int) -> bytes:
    """Change the body behind a valid header and checksum (only parsing can tell)."""
    kind = data[8:12]
    body = bytearray(data[_PREFIX.size:-32])
    if cut:
        start = position % max(1, len(body))
        del body[start:start + cut]
    else:
        body[position % len(body)] ^= value or 1
    return _container(kind, bytes(body))


def _deep(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def _mutate_json(data: bytes, choice: int, value: int) -> bytes:
    document = json.loads(data)
    if choice == 0:  # nested far beyond any real file
        return json.dumps(_deep(40 + value % 200)).encode()
    if choice == 1:  # an empty document of the right type
        return json.dumps([] if isinstance(document, list) else {}).encode()
    if choice == 2:  # a number changed somewhere
        text = data.decode()
        digits = [i for i, ch in enumerate(text) if ch.isdigit()]
        i = digits[value % len(digits)]
        return (text[:i] + str((int(text[i]) + 1 + value % 8) % 10) + text[i + 1:]).encode()
    if choice == 3:  # a float, a bool, a string where an integer was
        text = data.decode()
        digits = [i for i, ch in enumerate(text) if ch.isdigit()]
        i = digits[value % len(digits)]
        return (text[:i] + ("1.5", "true", '"7"', "-0", "NaN")[value % 5] + text[i + 1:]).encode()
    if choice == 4:  # a zero-length vector or a dropped key
        if isinstance(document, dict):
            key = sorted(document)[value % len(document)]
            document.pop(key)
        else:
            document[value % len(document)] = []
        return json.dumps(document, separators=(",", ":")).encode()
    return data + b" " * (1 + value % 3)  # trailing bytes (not canonical)


def _run(folder: Path, receipt: Path, account: str, command: str) -> tuple[int, str]:
    if command == "verify":
        return zkclear_status("verify", folder, "--receipt", receipt, "--account", account)
    return zkclear_status("audit", folder)


def _assert_rejected(code: int, out: str, changed: bool) -> None:
    assert code in ((1, 2) if changed else (0,)), out
    assert "Traceback" not in out and "internal error" not in out, out
    if code:
        assert out.strip().count("\n") == 0, out


@FUZZ
@given(name=st.sampled_from(("bundle", "audit", "receipt")), command=st.sampled_from(("verify", "audit")),
       position=st.integers(0, 1 << 20), value=st.integers(0, 255), cut=st.sampled_from((0, 0, 1, 7, 48)))
def test_binary_files_mutated_behind_valid_checksums_are_never_accepted(proven, tmp_path, name, command, position,
                                                                       value, cut):
    folder, receipt, account = _copy_epoch(proven, tmp_path)
    path = _path(folder, receipt, name)
    original = path.read_bytes()
    mutated = _mutate_container(original, position, value, cut)
    path.write_bytes(mutated)
    code, out = _run(folder, receipt, account, command)
    # verify reads the bundle, the public files and the receipt (the audit data only to crowd-audit);
    # audit reads everything but the receipt
    used = (name != "audit") if command == "verify" else (name != "receipt")
    _assert_rejected(code, out, used and mutated != original)


@FUZZ
@given(name=st.sampled_from(("public.json", "inputs.json")), command=st.sampled_from(("verify", "audit")),
       choice=st.integers(0, 5), value=st.integers(0, 1 << 16))
def test_json_files_mutated_in_shape_and_value_are_never_accepted(proven, tmp_path, name, command, choice, value):
    folder, receipt, account = _copy_epoch(proven, tmp_path)
    path = _path(folder, receipt, name)
    original = path.read_bytes()
    mutated = _mutate_json(original, choice, value)
    path.write_bytes(mutated)
    code, out = _run(folder, receipt, account, command)
    _assert_rejected(code, out, mutated != original)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(FILES), command=st.sampled_from(("verify", "audit")))
def test_a_missing_file_is_named(proven, tmp_path, name, command):
    folder, receipt, account = _copy_epoch(proven, tmp_path)
    path = _path(folder, receipt, name)
    path.unlink()
    code, out = _run(folder, receipt, account, command)
    if (name, command) in (("receipt", "audit"), ("audit", "verify")):  # a file that command does not read
        assert code == 0, out
        return
    named = path.name in out or (name == "bundle" and "epoch-N.bundle" in out)
    assert code == 1 and named and "Traceback" not in out and out.strip().count("\n") == 0, out


def test_hostile_files_in_a_real_process_never_end_in_a_signal(proven, tmp_path):
    """Deep nesting, a truncated container and random bytes, each in a fresh process (a C-stack overflow or
    any other signal shows here as a negative return code)."""
    cases = {
        "public.json": b"[" * 300_000 + b"]" * 300_000,
        "inputs.json": b'{"a":' * 100_000 + b"0" + b"}" * 100_000,
        "bundle": b"ZKCLEAR\x00PUBL\x00\x02" + b"\xff" * 8,
        "audit": bytes(range(256)) * 40,
    }
    for name, data in cases.items():
        folder, receipt, account = _copy_epoch(proven, tmp_path)
        _path(folder, receipt, name).write_bytes(data)
        for command in (["audit", str(folder)],
                        ["verify", str(folder), "--receipt", str(receipt), "--account", account, "--crowd-audit", "1"]):
            result = subprocess.run([sys.executable, "-m", "zkclear.cli", *command], capture_output=True,
                                    text=True, timeout=300)
            assert result.returncode == 1, (name, command, result.returncode, result.stderr)
            assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
