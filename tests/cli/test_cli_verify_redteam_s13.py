"""Red team, session 13: ``zkclear verify`` and the verification page's bridge (CPython) side by side, on receipts and
publication folders an operator changed. Each artefact must get the same answer from both — passed, refused as bad
input (exit 1 / the page's error line), or failed by the same named check (exit 2 / the page's failed check) — save
the one documented difference (the page does not recompute the public risk data from the public inputs).

What held (these cases; and a random corpus of re-sealed byte flips in receipts, bundles, audit files and the JSON
files, run by hand in the session, gave no difference either): another account's receipt, renamed or not; a receipt
re-keyed (the operator's own leaf for the same id under another key: caught only with the key pinned); another
epoch's receipt, public data, public inputs or audit file; a chunk moved; siblings swapped; a larger balance in
the opening; a truncated receipt.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear_status
from tests.web.deployment import build
from zkclear.web.bridge import EpochRequest, verify

ACCOUNT = "trader-0002"
OTHER = "trader-0005"


@pytest.fixture(scope="module")
def web_deployment(tmp_path_factory):
    """The page's test deployment (tests/web/deployment.py: two epochs, 8 traders)."""
    return build(tmp_path_factory.mktemp("web-deployment"))


def _cli(folder: Path, receipt: Path, *extra: object) -> tuple[str, str | None]:
    code, output = zkclear_status("verify", folder, "--receipt", receipt, "--account", ACCOUNT, *extra, "--json")
    if code == 0:
        return "passed", None
    assert code in (1, 2), output  # never an internal error
    answer = json.loads(output.strip().splitlines()[0])
    return ("failed", answer["reason"]) if code == 2 else ("bad input", None)


def _page(folder: Path, receipt: Path, **options) -> tuple[str, str | None]:
    result = verify(ACCOUNT, [EpochRequest(folder, receipt)], **options)
    if result["error"]:
        return "bad input", None
    if result["ok"]:
        return "passed", None
    failed = [check["reason"] for entry in result["epochs"] for check in entry["checks"] if check["ok"] is False]
    if result["crowd_audit"] and not result["crowd_audit"]["ok"]:
        failed.append(result["crowd_audit"]["reason"])
    return "failed", failed[0]


def _folder(web_deployment, tmp_path: Path, epoch: int = 2) -> Path:
    target = tmp_path / "folder" / str(epoch)
    shutil.copytree(web_deployment.folder(epoch), target)
    return target


def _other_epochs_file(web_deployment, tmp_path: Path, suffix: str) -> Path:
    folder = _folder(web_deployment, tmp_path)
    shutil.copyfile(web_deployment.folder(1) / f"epoch-1.{suffix}", folder / f"epoch-2.{suffix}")
    return folder


def _forged(web_deployment, tmp_path: Path, change) -> Path:
    receipt = web_deployment.receipt(2, ACCOUNT)
    return web_deployment.forged(2, ACCOUNT, tmp_path / "forged.rcpt", **change(receipt, web_deployment))


CASES = {
    "another account's receipt": (lambda d, t: (d.folder(2), d.receipt_path(2, OTHER)), ("failed", "receipt-owner")),
    "another account's receipt renamed": (
        lambda d, t: (d.folder(2), d.forged(2, OTHER, t / "renamed.rcpt", account_id=ACCOUNT)),
        ("failed", "leaf-mismatch")),
    "the receipt under another key": (
        lambda d, t: (d.folder(2), _forged(d, t, lambda r, _: {"account_key": bytes(32)})),
        ("failed", "leaf-mismatch")),
    "last epoch's receipt": (lambda d, t: (d.folder(2), d.receipt_path(1, ACCOUNT)),
                             ("failed", "receipt-epoch-mismatch")),
    "last epoch's risk data": (lambda d, t: (_other_epochs_file(d, t, "public.json"), d.receipt_path(2, ACCOUNT)),
                               ("failed", "public-data-mismatch")),
    "last epoch's public inputs": (lambda d, t: (_other_epochs_file(d, t, "inputs.json"), d.receipt_path(2, ACCOUNT)),
                                   ("failed", "public-data-mismatch")),
    "last epoch's bundle": (lambda d, t: (_other_epochs_file(d, t, "bundle"), d.receipt_path(2, ACCOUNT)),
                            ("bad input", None)),  # named for epoch 2, holds epoch 1
    "a larger balance in the opening": (
        lambda d, t: (d.folder(2), _forged(d, t, lambda r, _: {"opening": replace(r.opening,
                                                                                   cash=r.opening.cash + 1)})),
        ("failed", "opening-mismatch")),
    "the chunk moved": (
        lambda d, t: (d.folder(2), _forged(d, t, lambda r, _: {"chunk": replace(r.chunk, position=r.chunk.position ^ 1),
                                                              "leaf_index": r.leaf_index ^ (1 << 4)})),
        ("failed", "chunk-position-vector")),
    "two siblings swapped": (
        lambda d, t: (d.folder(2), _forged(d, t, lambda r, _: {"upper_siblings": (
            r.upper_siblings[1], r.upper_siblings[0], *r.upper_siblings[2:])})),
        ("failed", "path-root-mismatch")),
    "last epoch's chunk": (
        lambda d, t: (d.folder(2), _forged(d, t, lambda r, dep: {"chunk": dep.receipt(1, ACCOUNT).chunk,
                                                                "leaf_index": dep.receipt(1, ACCOUNT).leaf_index})),
        ("failed", "leaf-mismatch")),
    "a truncated receipt": (
        lambda d, t: (d.folder(2), _truncated(d.receipt_path(2, ACCOUNT), t)), ("bad input", None)),
}


def _truncated(path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "short.rcpt"
    out.write_bytes(path.read_bytes()[:-100])
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_cli_and_the_page_give_the_same_answer(web_deployment, tmp_path, case):
    make, expected = CASES[case]
    folder, receipt = make(web_deployment, tmp_path)
    assert _cli(folder, receipt) == expected
    assert _page(folder, receipt) == expected


def test_a_re_keyed_receipt_is_caught_by_both_when_the_key_is_pinned(web_deployment, tmp_path):
    """The operator's own leaf for the participant's id under another key passes an unpinned check (it is a leaf
    of that id in the tree); the participant file's key refuses it, on both."""
    receipt = _forged(web_deployment, tmp_path, lambda r, _: {"account_key": bytes(range(32))})
    participant = web_deployment.participant_path(ACCOUNT)
    assert _cli(web_deployment.folder(2), receipt, "--participant", participant) == ("failed",
                                                                                    "account-key-mismatch")
    result = verify(ACCOUNT, [EpochRequest(web_deployment.folder(2), receipt)], participant_file=participant)
    assert [c["reason"] for c in result["epochs"][0]["checks"] if c["ok"] is False] == ["account-key-mismatch"]


def test_last_epochs_audit_file_fails_the_crowd_audit_on_both(web_deployment, tmp_path):
    folder = _other_epochs_file(web_deployment, tmp_path, "audit")
    receipt = web_deployment.receipt_path(2, ACCOUNT)
    assert _cli(folder, receipt, "--crowd-audit", 1) == ("failed", "audit-epoch-mismatch")
    assert _page(folder, receipt, crowd_audit_chunks=1) == ("failed", "audit-epoch-mismatch")


def test_the_account_key_line_says_what_was_checked_of_the_key(web_deployment):
    """Before: ``(the same every epoch)`` after the fingerprint of a single receipt's unpinned key, which nothing had
    compared with anything."""
    receipt = web_deployment.receipt_path(2, ACCOUNT)
    code, alone = zkclear_status("verify", web_deployment.folder(2), "--receipt", receipt, "--account", ACCOUNT)
    assert code == 0, alone
    assert "(the same every epoch)" not in alone
    assert "(not pinned: --participant or --account-key checks that it is the key you were given)" in alone
    code, pinned = zkclear_status("verify", web_deployment.folder(2), "--receipt", receipt, "--participant",
                                  web_deployment.participant_path(ACCOUNT))
    assert code == 0 and "(the one you pinned)" in pinned, pinned
    code, history = zkclear_status("verify", web_deployment.folder(1), web_deployment.folder(2), "--receipt",
                                   web_deployment.receipt_path(1, ACCOUNT), "--receipt", receipt, "--account", ACCOUNT)
    assert code == 0 and history.count("(the same in every receipt given)") == 2, history
