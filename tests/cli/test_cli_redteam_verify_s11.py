"""Red team, session 11, through the real CLI: what a participant's `zkclear verify` (with a crowd audit) and an
auditor's `zkclear audit` do with published folders an adversary changed (or an operating system decorated).
Each test asserts the exit status and the check's name; exit 3 (an internal error) would be a defect."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli.cli_helpers import zkclear
from zkclear.bundle.format import encode_audit_data
from zkclear.bundle.model import AuditData
from zkclear.verifier.published import CHUNK_SYSTEM, open_published


def _trader(deployment, epoch: int):
    return next(a for a in deployment.accounts(epoch) if a.account_id.startswith("trader-"))


def _folder_copy(deployment, epoch: int, tmp_path: Path) -> Path:
    target = tmp_path / str(epoch)
    shutil.copytree(deployment.epoch_dir(epoch), target)
    return target


def test_crowd_audit_of_an_audit_file_with_a_node_above_the_root_fails_by_name_not_exit_3(proven, tmp_path):
    """Before: `zkclear verify --crowd-audit 1` exited 3 ("internal error: KeyError") on an audit file that
    publishes one more node, above the root — anyone serving or mirroring the file could do it."""
    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 3, tmp_path)
    published = open_published(folder)
    audit = published.audit_data()
    height = published.bundle.header.tree.height
    nodes = {**audit.upper_nodes, (height + 1, 0): published.bundle.root}
    published.files.audit.write_bytes(encode_audit_data(
        AuditData(audit.header_digest, audit.chunks, nodes, audit.node_proofs, audit.padding), CHUNK_SYSTEM))
    account = _trader(deployment, 3)
    args = ["verify", folder, "--receipt", deployment.receipt_path(3, account.account_id),
            "--participant", deployment.participant_path(account.account_id), "--crowd-audit", 1]
    out = zkclear(*args, expect=2)
    assert f"FAILED [audit-structure]: the audit data publishes a node at level {height + 1}, index 0, which is " \
           f"outside the tree" in out
    failure = json.loads(zkclear(*args, "--json", expect=2).strip().splitlines()[-1])
    assert (failure["ok"], failure["reason"]) == (False, "audit-structure")
    # the full audit named it before the fix too
    assert "FAILED [audit-structure]" in zkclear("audit", folder, expect=2)


def test_a_real_process_never_prints_a_traceback_for_the_node_above_the_root(proven, tmp_path):
    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 2, tmp_path)
    published = open_published(folder)
    audit = published.audit_data()
    height = published.bundle.header.tree.height
    nodes = {**audit.upper_nodes, (height + 3, 7): published.bundle.root}
    published.files.audit.write_bytes(encode_audit_data(
        AuditData(audit.header_digest, audit.chunks, nodes, audit.node_proofs, audit.padding), CHUNK_SYSTEM))
    account = _trader(deployment, 2)
    result = subprocess.run(
        [sys.executable, "-m", "zkclear.cli", "verify", str(folder), "--receipt",
         str(deployment.receipt_path(2, account.account_id)), "--account", account.account_id, "--crowd-audit", "2"],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr + result.stdout
    assert f"FAILED [audit-structure]: the audit data publishes a node at level {height + 3}, index 7" in (
        result.stdout + result.stderr)


def test_an_honest_folder_with_macos_appledouble_files_beside_it_verifies_and_audits(proven, tmp_path):
    """macOS writes "._NAME" metadata beside every file it copies to a FAT, exFAT or network volume: before, the
    folder held "2 bundles" and verify and audit refused it (exit 1)."""
    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 1, tmp_path)
    for name in [p.name for p in folder.iterdir()]:
        (folder / f"._{name}").write_bytes(b"\x00\x05\x16\x07" + bytes(78))
    account = _trader(deployment, 1)
    out = zkclear("verify", folder, "--receipt", deployment.receipt_path(1, account.account_id),
                  "--participant", deployment.participant_path(account.account_id), "--crowd-audit", 1)
    assert f"OK: account {account.account_id} is in epoch 1's tree" in out
    assert "epoch 1: OK" in zkclear("audit", folder)


def test_a_folder_with_two_visible_bundles_is_still_refused_as_bad_input(proven, tmp_path):
    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 1, tmp_path)
    shutil.copy(deployment.epoch_dir(2) / "epoch-2.bundle", folder / "epoch-2.bundle")
    out = zkclear("audit", folder, expect=1)
    assert "expected exactly one epoch-N.bundle, found 2" in out and out.count("\n") == 1


def test_the_pages_crowd_audit_names_the_node_above_the_root_instead_of_raising(proven, tmp_path):
    """The verification page's worker calls zkclear.web.bridge.verify: before, the crowd audit's KeyError escaped it
    (the bridge catches the core's errors only), so the page showed no result at all."""
    from zkclear.web.bridge import EpochRequest, verify

    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 3, tmp_path)
    published = open_published(folder)
    audit = published.audit_data()
    height = published.bundle.header.tree.height
    nodes = {**audit.upper_nodes, (height + 1, 1): published.bundle.root}
    published.files.audit.write_bytes(encode_audit_data(
        AuditData(audit.header_digest, audit.chunks, nodes, audit.node_proofs, audit.padding), CHUNK_SYSTEM))
    account = _trader(deployment, 3)
    result = verify(account.account_id, [EpochRequest(folder, deployment.receipt_path(3, account.account_id))],
                    participant_file=deployment.participant_path(account.account_id), crowd_audit_chunks=1)
    assert result["ok"] is False and result["error"] is None
    assert result["epochs"][0]["ok"] is True
    assert result["crowd_audit"]["reason"] == "audit-structure"
    assert result["crowd_audit"]["detail"].startswith(
        f"the audit data publishes a node at level {height + 1}, index 1, which is outside the tree")
