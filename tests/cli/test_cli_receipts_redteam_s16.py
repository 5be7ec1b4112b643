"""Red team session 16, through the real CLI: two versions of one epoch (a venue's fork: the same header, another
root) given to ``zkclear audit`` or ``zkclear verify`` are named a fork, with both header hashes — not a duplicate."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from tests.cli.cli_helpers import zkclear
from zkclear.bundle.format import decode_public_bundle, encode_public_bundle
from zkclear.verifier.published import open_published


def _other_version(deployment, epoch: int, tmp_path: Path) -> Path:
    """A copy of the epoch's folder whose bundle carries another root under the same header (a fork's bundle; its
    proofs are not the point: the versions are compared before anything is checked)."""
    folder = tmp_path / f"fork-{epoch}"
    shutil.copytree(deployment.epoch_dir(epoch), folder)
    path = folder / f"epoch-{epoch}.bundle"
    bundle = decode_public_bundle(path.read_bytes())
    other = open_published(deployment.epoch_dir(epoch - 1)).bundle.root
    path.write_bytes(encode_public_bundle(replace(bundle, root=other)))
    return folder


def test_audit_and_verify_name_two_versions_of_one_epoch_a_fork(proven, tmp_path, capsys):
    deployment = proven["deployment"]
    fork = _other_version(deployment, 2, tmp_path)
    hashes = [open_published(folder).bundle.epoch_hash().hex() for folder in (deployment.epoch_dir(2), fork)]
    assert hashes[0] != hashes[1]
    report = json.loads(zkclear("audit", deployment.epoch_dir(2), fork, "--json", expect=2, capsys=capsys))
    assert report["reason"] == "epoch-forked" and all(h in report["detail"] for h in hashes)
    account = next(a for a in deployment.accounts(2) if a.account_id.startswith("trader-")).account_id
    receipt = deployment.receipt_path(2, account)
    out = zkclear("verify", fork, deployment.epoch_dir(2), "--receipt", receipt, "--receipt", receipt,
                  "--account", account, expect=2, capsys=capsys)
    assert "[epoch-forked]" in out and all(h in out for h in hashes)
    # the same folder twice is still a duplicate
    report = json.loads(zkclear("audit", fork, fork, "--json", expect=2, capsys=capsys))
    assert report["reason"] == "history-duplicate"


def test_the_page_shows_the_fork_on_the_later_copy_of_the_epoch(proven, tmp_path):
    from zkclear.web.bridge import EpochRequest, verify

    deployment = proven["deployment"]
    fork = _other_version(deployment, 2, tmp_path)
    account = next(a for a in deployment.accounts(2) if a.account_id.startswith("trader-")).account_id
    receipts = {n: deployment.receipt_path(n, account) for n in (1, 2)}
    result = verify(account, [EpochRequest(deployment.epoch_dir(2), receipts[2]), EpochRequest(fork, receipts[2]),
                              EpochRequest(deployment.epoch_dir(1), receipts[1])])
    assert not result["ok"] and [entry["epoch"] for entry in result["epochs"]] == [1, 2, 2]
    first, honest, forked = result["epochs"]
    assert first["ok"] is None and honest["ok"] is None  # nothing was checked: the fork is found first
    assert forked["ok"] is False
    failed = [check for check in forked["checks"] if check["ok"] is False]
    assert [(check["name"], check["reason"]) for check in failed] == [("header", "epoch-forked")]


def test_a_participant_file_naming_another_account_is_caught_only_by_the_id_typed_or_read(proven, capsys):
    """A stated limit (docs/protocol.md, threat model, "drop account B"): the participant file is the operator's
    word like the receipt. One naming A, sent to B with A's receipt, passes ``verify --participant`` alone — the
    output names A, which B must read — and fails as soon as B types their own id."""
    deployment = proven["deployment"]
    a, b = [x.account_id for x in deployment.accounts(3) if x.account_id.startswith("trader-")][:2]
    receipt, file_of_a = deployment.receipt_path(3, a), deployment.participant_path(a)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--participant", file_of_a, capsys=capsys)
    assert out.startswith(f"OK: account {a} ")
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--participant", file_of_a, "--account", b,
                  expect=1, capsys=capsys)
    assert "--account" in out
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--account", b, expect=2, capsys=capsys)
    assert "[receipt-owner]" in out
