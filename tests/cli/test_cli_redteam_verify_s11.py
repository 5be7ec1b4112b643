"""Red team, session 11, through the real CLI: what a participant's `zkclear verify` (with a crowd audit) and an
auditor's `zkclear audit` do with published folders an adversary changed (or an operating system decorated).
Each test asserts the exit status and the check's name; exit 3 (an internal error) would be a defect."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli.cli_helpers import zkclear, zkclear_status
from zkclear.bundle.format import encode_audit_data
from zkclear.bundle.model import AuditData
from zkclear.verifier.published import CHUNK_SYSTEM, open_published


def _trader(deployment, epoch: int):
    return next(a for a in deployment.accounts(epoch) if a.account_id.startswith("trader-"))


def _folder_copy(deployment, epoch: int, tmp_path: Path) -> Path:
    target = tmp_path / str(epoch)
    shutil.copytree(deployment.epoch_dir(epoch), target)
    return target


def _with_node_above_the_root(deployment, epoch: int, tmp_path: Path, position: tuple[int, int]) -> tuple[Path, int]:
    """A copy of the epoch's folder whose audit file also publishes the root at ``position`` (levels counted from
    the tree's height, which is returned with the folder)."""
    folder = _folder_copy(deployment, epoch, tmp_path)
    published = open_published(folder)
    audit = published.audit_data()
    height = published.bundle.header.tree.height
    nodes = {**audit.upper_nodes, (height + position[0], position[1]): published.bundle.root}
    published.files.audit.write_bytes(encode_audit_data(
        AuditData(audit.header_digest, audit.chunks, nodes, audit.node_proofs, audit.padding), CHUNK_SYSTEM))
    return folder, height


def test_crowd_audit_of_an_audit_file_with_a_node_above_the_root_fails_by_name_not_exit_3(proven, tmp_path):
    """Before: `zkclear verify --crowd-audit 1` exited 3 ("internal error: KeyError") on an audit file that
    publishes one more node, above the root — anyone serving or mirroring the file could do it."""
    deployment = proven["deployment"]
    folder, height = _with_node_above_the_root(deployment, 3, tmp_path, (1, 0))
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
    folder, height = _with_node_above_the_root(deployment, 2, tmp_path, (3, 7))
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


def test_audit_of_a_folder_whose_inputs_were_altered_after_publication_names_the_binding(proven, tmp_path, capsys):
    """Before: a derived mark changed in a copy of `epoch-2.inputs.json` made `zkclear audit` say
    `public-inputs-mismatch` — that the venue proved with other data — when the file is simply not the one the header
    binds (`public-data-mismatch`, as `verify` says)."""
    deployment = proven["deployment"]
    folder = _folder_copy(deployment, 2, tmp_path)
    path = folder / "epoch-2.inputs.json"
    document = json.loads(path.read_text())
    document["derived"]["marks"][0][1] += 1  # [instrument, ticks]
    path.write_bytes(json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    out = zkclear("audit", folder, "--json", expect=2, capsys=capsys)
    assert json.loads(out)["reason"] == "public-data-mismatch"


def _bundle_with_reserves(folder: Path, change) -> None:
    from dataclasses import replace

    from zkclear.bundle.format import decode_public_bundle, encode_public_bundle

    path = next(folder.glob("epoch-*.bundle"))
    bundle = decode_public_bundle(path.read_bytes())
    path.write_bytes(encode_public_bundle(replace(bundle, reserves=change(bundle.reserves))))


def test_show_refuses_a_reserves_list_the_header_does_not_bind(proven, tmp_path, capsys):
    """Before: `zkclear show` printed a reserve balance multiplied by 1,000 beside the genuine header hash (exit 0),
    and an extra asset in the list made it exit 3 (ValueError)."""
    from dataclasses import replace

    from zkclear.proofs.reserves import VenueAsset

    deployment = proven["deployment"]
    inflated = _folder_copy(deployment, 3, tmp_path / "inflated")
    _bundle_with_reserves(inflated, lambda book: replace(book, entries=(
        replace(book.entries[0], balance=book.entries[0].balance * 1000), *book.entries[1:])))
    for args in ((), ("--json",)):
        code, output = zkclear_status("show", inflated, *args)
        assert code == 2 and "reserves-mismatch" in output and "Traceback" not in output
    extra = _folder_copy(deployment, 3, tmp_path / "extra")
    _bundle_with_reserves(extra, lambda book: replace(book, assets=(*book.assets, VenueAsset("XTRA", 6))))
    code, output = zkclear_status("show", extra)
    assert code == 2 and "reserves-mismatch" in output and "Traceback" not in output
    assert zkclear_status("show", deployment.epoch_dir(3))[0] == 0

