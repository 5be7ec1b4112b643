"""The verification page's adapter: ``zkclear verify``, run by the page's Web Worker on Pyodide.

The worker writes what the participant chose and what the page fetched into its in-memory file system, in the layout
of a publication folder (``/epochs/N/epoch-N.bundle``, ``epoch-N.public.json``, ``epoch-N.inputs.json`` and, for a
crowd audit, ``epoch-N.audit``; the receipts and the participant file beside them), and calls :func:`verify_json`.
From there on it is the CLI's path, call for call: :func:`~zkclear.verifier.published.open_published` and
``PublishedEpoch.receipt`` read the files, :func:`~zkclear.verifier.participant.load_participant_file` and the same
parsers read the participant's entries, :func:`~zkclear.verifier.participant.verify_history` checks every receipt
(:func:`~zkclear.verifier.receipt.verify_receipt`), the chain and the account key,
:func:`~zkclear.verifier.receipt.crowd_audit` the optional random chunks of the audit file as
:func:`~zkclear.verifier.audit_on_disk.open_audit_file` reads it (its layout, then only the chunks drawn), and
:func:`~zkclear.verifier.participant.history_rows` / :func:`~zkclear.verifier.participant.history_csv` make the
history. One step of ``zkclear verify`` is not run here: recomputing the public risk data from the public inputs and
checking the inputs chain (:mod:`zkclear.proofs.recompute`), which need the clearing engine and numpy (not on the
page's Pyodide); the page says so to the participant. This module verifies nothing itself: it turns the page's form
into the core's inputs, and the core's result or failure into the page's named checks. Tests run it on CPython, with
numpy, gmpy2 & co. blocked as on Pyodide.

Named checks, per epoch: the core's own (:data:`zkclear.verifier.receipt.CHECKS`) — ``header``, ``identity``,
``values``, ``path``, ``root statements``, ``proofs`` — and, when asked, ``crowd audit`` for the latest epoch.
A failure is the core's VerificationError: its ``reason`` code decides which check failed (:data:`CHECK_OF`,
each code belonging to the one step of the core that raises it; in a history, ``epoch-chain-broken``,
``history-duplicate`` and ``epoch-forked`` belong to the later epoch's header, ``account-key-changed`` and a pinned
key's ``account-key-mismatch`` to its identity) and its ``detail`` is shown as it is. Checks before the failed one
passed — except after a history failure (:data:`HISTORY_REASONS`), which ``verify_history`` raises before the
epoch's own checks: those were not run — and the ones after it were not run (``ok`` null), nor were the epochs
after it (the core stops at the first failure, as ``zkclear verify`` does).
Result (JSON)::

    {"ok": bool, "account": str,
     "error": str | null,              # bad input (a file that does not decode, a malformed entry): one line
     "epochs": [{"epoch", "receipt", "ok": bool | null,
                 "checks": [{"name", "ok": bool | null, "detail", "reason": str | null}, ...],
                 "account": {...} | null}, ...],           # the participant's own values, once verified
     "history": {"instruments", "rows", "csv", "links", "key_fingerprint", "key_pinned"} | null,  # every epoch passed
     "crowd_audit": {"ok", "chunks", "detail", "reason"} | null}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from zkclear.bundle.format import receipt_epoch
from zkclear.errors import InputError, VerificationError, ZkclearError
from zkclear.integers import parse_canonical_int
from zkclear.jsonsafe import load_json
from zkclear.verifier.audit_on_disk import open_audit_file
from zkclear.verifier.participant import (
    Participant,
    account_view,
    check_account_id,
    history_csv,
    history_rows,
    load_participant_file,
    parse_account_key,
    parse_expected_balances,
    parse_expected_positions,
    parse_header_hash,
    verify_history,
)
from zkclear.verifier.published import PublishedEpoch, open_published
from zkclear.verifier.reasons import REASONS, explain
from zkclear.verifier.receipt import CHECKS, Expected, ReceiptCheck, crowd_audit
from zkclear.web.generators import preload

__all__ = ["CHECKS", "CHECK_OF", "EpochRequest", "preload_generators", "receipt_epoch", "verify", "verify_json"]

CROWD_AUDIT = "crowd audit"
MARGIN_MODES = ("standard", "portfolio")

#: Which of the core's named checks raises each reason code a participant's check can end with (the core's
#: docstrings: zkclear/verifier/receipt.py, participant.py; docs/protocol.md, "Participant verification").
CHECK_OF: dict[str, str] = {
    "header-mismatch": "header",
    "public-data-mismatch": "header",
    "epoch-chain-broken": "header",          # verify_history: this epoch's header does not name the previous one
    "history-duplicate": "header",
    "epoch-forked": "header",                # verify_history: two versions of one epoch (red team s16)
    "receipt-owner": "identity",
    "account-key-mismatch": "identity",
    "account-key-changed": "identity",       # verify_history: the key differs from the earlier receipts'
    "receipt-epoch-mismatch": "identity",
    "receipt-malformed": "identity",
    "leaf-mismatch": "identity",
    "account-shape": "values",
    "opening-mismatch": "values",
    "account-values-mismatch": "values",
    "chunk-size-mismatch": "path",
    "chunk-position-vector": "path",
    "path-root-mismatch": "path",
    "matched-book": "root statements",
    "reserves-mismatch": "root statements",
    "chunk-collateral-proof": "proofs",
    "sibling-range-proof": "proofs",
    "solvency-proof": "proofs",
}
# Every reserve-list and attestation reason (zkclear.proofs.reserves, zkclear.chains) belongs to the root statements.
CHECK_OF.update({reason: "root statements" for reason in REASONS
                 if reason.startswith(("attestation-", "reserves-")) and reason not in CHECK_OF})

#: Reasons verify_history raises before the epoch's own checks run (the checks before the failed one were then
#: not run either).
HISTORY_REASONS = frozenset({"epoch-chain-broken", "history-duplicate", "epoch-forked", "account-key-changed",
                             "account-key-mismatch"})

#: Reasons verify_history raises before checking any epoch (an epoch given twice, or two versions of it); their
#: ``index`` is the epoch, and the failure is shown on its later copy.
REPEATED_EPOCH = frozenset({"history-duplicate", "epoch-forked"})

Progress = Callable[[str, float], None]
"""Told (stage, fraction done in [0, 1]) as the check advances (the page's progress bar)."""


@dataclass(frozen=True, slots=True)
class EpochRequest:
    """One epoch to check: its publication folder, the participant's receipt for it, and what they expect
    there (None: not checked) — ``zkclear verify FOLDER --receipt R [--cash] [--position]... [--balance]...
    [--margin-mode] [--expect-header]`` for that folder."""

    folder: Path
    receipt: Path
    cash: int | None = None
    positions: tuple[str, ...] | None = None  # INSTRUMENT=LOTS items; instruments not named are expected flat
    margin_mode: str | None = None
    header_hash: str | None = None
    balances: tuple[str, ...] | None = None  # ASSET=UNITS items (collateral assets); assets not named: expected empty


def preload_generators(data: bytes) -> int:
    """Load the page's precomputed generator file (checked against its pinned digest; see
    :mod:`zkclear.web.generators`); returns how many generators per vector it held."""
    return preload(data)


def verify(account_id: str, epochs: Sequence[EpochRequest], *, participant_file: Path | None = None,
           account_key: str | None = None, crowd_audit_chunks: int = 0,
           progress: Progress | None = None) -> dict[str, Any]:
    """Check the participant's receipts of ``epochs`` as ``zkclear verify`` does; the result of the module
    docstring. Never raises for bad input: a file or an entry the core refuses is the result's ``error``."""
    tell = progress or (lambda stage, fraction: None)
    result: dict[str, Any] = {"ok": False, "account": account_id, "error": None, "epochs": [], "history": None,
                              "crowd_audit": None}
    try:
        participant = _participant(account_id, participant_file, account_key)
        if not epochs:
            raise ValueError("choose at least one receipt")
        if crowd_audit_chunks < 0:
            raise ValueError("the number of chunks to crowd-audit cannot be negative")
        steps = 2 * len(epochs) + (1 if crowd_audit_chunks else 0)
        pairs, expectations = [], []
        for number, request in enumerate(epochs):
            tell(f"reading epoch files and receipt {number + 1} of {len(epochs)}", number / steps)
            published = open_published(request.folder)
            pairs.append((published, published.receipt(request.receipt)))
            expectations.append(_expected(request, published))
    except (ZkclearError, ValueError, OSError) as exc:  # OSError: a path the file system refuses (too long)
        result["error"] = str(exc)
        return result

    order = sorted(range(len(pairs)), key=lambda i: pairs[i][0].epoch)  # verify_history's order
    entries = [_entry(pairs[i][0].epoch, epochs[i].receipt.name) for i in order]
    result["epochs"] = entries
    done: list[ReceiptCheck] = []

    def verified(check: ReceiptCheck) -> None:
        _passed(entries[len(done)], pairs[order[len(done)]][0], participant, check, expectations[order[len(done)]],
                done)
        done.append(check)
        if len(done) < len(order):
            tell(f"checking epoch {entries[len(done)]['epoch']}'s receipt", (len(epochs) + len(done)) / steps)

    tell(f"checking epoch {entries[0]['epoch']}'s receipt", len(epochs) / steps)
    try:
        checks = verify_history(pairs, participant, expectations, on_verified=verified)
    except VerificationError as exc:
        failed = len(done)
        if exc.reason in REPEATED_EPOCH:  # raised before any epoch is checked: it is the later copy's
            failed = max(k for k, entry in enumerate(entries) if entry["epoch"] == exc.index)
        _failed(entries[failed], exc)
        for entry in entries[failed + 1 :]:
            entry["checks"] = [_check(name, None, "not checked: an earlier epoch failed") for name in CHECKS]
        return result

    by_epoch = {published.epoch: published for published, _ in pairs}
    latest = by_epoch[checks[-1].epoch_id]
    instruments = latest.public.instrument_ids
    rows = history_rows(checks)
    result["history"] = {
        "instruments": list(instruments),
        "rows": [{"epoch": row.epoch, "header_hash": row.header_hash, "margin_mode": row.margin_mode,
                  "cash": row.cash, "positions": dict(zip(instruments, row.positions, strict=True)),
                  "equity": row.equity, "requirement": row.requirement,
                  "distance_to_maintenance": row.distance_to_maintenance} for row in rows],
        "csv": history_csv(rows, instruments),
        "links": _links([check.epoch_id for check in checks]),
        "key_fingerprint": checks[0].key_fingerprint,
        "key_pinned": participant.account_key is not None,  # else one receipt says nothing of the key (as the CLI)
    }
    result["ok"] = True
    if crowd_audit_chunks:
        tell(f"crowd audit: {crowd_audit_chunks} random chunk(s) of epoch {latest.epoch}", (steps - 1) / steps)
        result["crowd_audit"] = _crowd_audit(latest, crowd_audit_chunks)
        result["ok"] = result["crowd_audit"]["ok"]
    tell("done", 1.0)
    return result


def verify_json(request: str, progress: Progress | None = None) -> str:
    """:func:`verify` with its arguments as JSON — what the page's worker calls::

        {"account_id": str, "participant_file": path | null, "account_key": hex | null, "crowd_audit": int,
         "epochs": [{"folder", "receipt", "cash", "positions": [str] | null, "margin_mode", "header_hash",
                     "balances": [str] | null}]}

    ``cash`` is a decimal string or integer (or null). The request is read as every JSON file a verifier did not
    write (:func:`zkclear.jsonsafe.load_json`: integers only, nesting bounded), so no request raises."""
    try:
        if not isinstance(request, str):
            raise TypeError("the request must be JSON text")
        options = load_json(request.encode("utf-8", "surrogatepass"), what="the request")
        epochs = [EpochRequest(Path(item["folder"]), Path(item["receipt"]), _cash(item.get("cash")),
                               None if item.get("positions") is None else tuple(str(p) for p in item["positions"]),
                               item.get("margin_mode") or None, item.get("header_hash") or None,
                               None if item.get("balances") is None else tuple(str(b) for b in item["balances"]))
                  for item in options["epochs"]]
        if not isinstance(options["account_id"], str):
            raise TypeError("the account id must be text")
        result = verify(options["account_id"], epochs,
                        participant_file=Path(options["participant_file"]) if options.get("participant_file")
                        else None,
                        account_key=options.get("account_key") or None,
                        crowd_audit_chunks=int(options.get("crowd_audit") or 0), progress=progress)
    except (ZkclearError, ValueError, TypeError, KeyError, OverflowError) as exc:  # load_json: EncodingError
        result = {"ok": False, "account": None, "error": f"bad request: {exc}", "epochs": [], "history": None,
                  "crowd_audit": None}
    return json.dumps(result)


def _cash(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:  # the page's text box: spaces around the number are the box's, not the number's
        return parse_canonical_int(str(value).strip(), max_digits=40)
    except ValueError as exc:
        raise ValueError(f"the balance (a whole number of settlement units) {exc}") from None


def _participant(account_id: str, participant_file: Path | None, account_key: str | None) -> Participant:
    """Who checks, as ``zkclear verify --account ID [--participant F] [--account-key K]`` reads it."""
    participant = Participant(check_account_id(account_id, field="account id"))
    if participant_file is not None:
        from_file = load_participant_file(participant_file)
        if from_file.account_id != participant.account_id:
            raise InputError(f"the account id you entered ({account_id!r}) differs from your participant file's "
                             f"({from_file.account_id!r})", field="account id")
        participant = from_file
    if account_key:
        key = parse_account_key(account_key, field="account key")
        if participant.account_key not in (None, key):
            raise InputError("the account key you entered differs from your participant file's", field="account key")
        participant = Participant(participant.account_id, key)
    return participant


def _expected(request: EpochRequest, published: PublishedEpoch) -> Expected:
    if request.margin_mode is not None and request.margin_mode not in MARGIN_MODES:
        raise ValueError(f"the margin mode is one of {', '.join(MARGIN_MODES)}, got {request.margin_mode!r:.40}")
    positions = balances = None
    if request.positions:
        positions = parse_expected_positions(request.positions, published.public.instrument_ids, field="positions")
    if request.balances:
        balances = parse_expected_balances(request.balances, published.public.asset_ids, field="balances")
    header = None if request.header_hash is None else parse_header_hash(request.header_hash,
                                                                        field="header hash")
    return Expected(cash=request.cash, positions=positions, margin_mode=request.margin_mode, header_hash=header,
                    balances=balances)


def _check(name: str, ok: bool | None, detail: str, reason: str | None = None) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail, "reason": reason}


def _entry(epoch: int, receipt_name: str) -> dict[str, Any]:
    return {"epoch": epoch, "receipt": receipt_name, "ok": None, "account": None,
            "checks": [_check(name, None, "not checked") for name in CHECKS]}


def _failed(entry: dict[str, Any], exc: VerificationError) -> None:
    """The core's failure, on the check that raised it; the checks before it passed (unless the history check
    stopped the epoch before its own checks), the ones after it were not run."""
    position = CHECKS.index(CHECK_OF.get(exc.reason, "proofs"))
    stopped_first = exc.reason in HISTORY_REASONS
    entry["ok"] = False
    entry["checks"] = [
        (_check(name, None, "not checked: the history check stopped this epoch first") if stopped_first
         else _check(name, True, "passed")) if k < position
        else _check(name, False, exc.detail or explain(exc.reason, exc.index), exc.reason) if k == position
        else _check(name, None, "not checked: an earlier check failed")
        for k, name in enumerate(CHECKS)]


def _passed(entry: dict[str, Any], published: PublishedEpoch, participant: Participant, check: ReceiptCheck,
            expected: Expected, earlier: Sequence[ReceiptCheck]) -> None:
    """Plain words for each check the core passed (what it established, with this epoch's figures)."""
    header = published.bundle.header
    tree = header.tree
    levels = tree.height - tree.chunk_bits
    follows = bool(earlier) and earlier[-1].epoch_id == check.epoch_id - 1
    expected_values = [what for what, given in (("balance", expected.cash), ("positions", expected.positions),
                                               ("collateral balances", expected.balances),
                                               ("margin mode", expected.margin_mode)) if given is not None]
    words = {
        "header": f"the header hash is {check.header_hash}"
                  + (", the one the venue posted" if expected.header_hash is not None
                     else " (compare it with the one the venue posted)")
                  + "; the risk data and the public inputs are the ones it binds (that those inputs give this risk "
                    "data is not recomputed in the browser: zkclear verify does it, and refuses the epoch otherwise)"
                  + (f"; it names epoch {check.epoch_id - 1}'s header hash and root" if follows else ""),
        "identity": f"the receipt is for your account {check.account_id!r} in epoch {check.epoch_id}, with account "
                    f"key {check.key_fingerprint}"
                    + (" (the one you pinned)" if participant.account_key is not None
                       else f" (the same as in epoch {earlier[0].epoch_id})" if earlier else "")
                    + f"; leaf {check.leaf_index} carries your id hashed with that key for this epoch",
        "values": f"your balance, positions and margin mode open the commitments of leaf {check.leaf_index}"
                  + (f" and equal the {', '.join(expected_values)} you expect" if expected_values else ""),
        "path": f"your chunk's position vector commits to its {tree.chunk_size} accounts' positions, and its leaves "
                f"and the {levels} nodes beside your path sum and hash to the published root",
        "root statements": f"the positions of all accounts sum to zero in each of the {header.instrument_count} "
                           f"instruments (a matched book), and the {len(published.bundle.reserves.entries)} "
                           f"reserve address(es) signed this epoch",
        "proofs": f"in one batch: your chunk's collateralization proof (all {tree.chunk_size} accounts, yours "
                  f"included, have equity >= 0 and >= their maintenance requirement), the range proofs of the "
                  f"{levels} nodes beside your path (none hides a negative sum) and the solvency proof (the "
                  f"attested reserves of each asset, {', '.join(map(str, header.reserve_totals))}, cover its hidden "
                  "liabilities)",
    }
    entry["ok"] = True
    entry["checks"] = [_check(name, True, words[name]) for name in check.passed]
    entry["account"] = account_view(check, published, zero_positions=True)


def _links(epochs: Sequence[int]) -> list[dict[str, Any]]:
    """What verify_history established between the epochs given: consecutive ones chain; a gap is not checked."""
    links = []
    for before, after in pairwise(epochs):
        if after == before + 1:
            links.append({"epoch": after, "ok": True,
                          "detail": f"epoch {after} follows epoch {before}: its header names epoch {before}'s "
                                    "header hash and root"})
        else:
            links.append({"epoch": after, "ok": None,
                          "detail": f"epoch {after} does not follow epoch {before} directly: the epochs between "
                                    "them were not given, so that link is not checked"})
    return links


def _crowd_audit(latest: PublishedEpoch, chunks: int) -> dict[str, Any]:
    try:  # the audit file as zkclear verify reads it: its layout, then only the chunks and nodes drawn
        audit = open_audit_file(latest)
        picked = crowd_audit(latest, audit, chunks)
    except VerificationError as exc:
        return {"ok": False, "chunks": [], "detail": exc.detail or explain(exc.reason, exc.index),
                "reason": exc.reason}
    except ZkclearError as exc:  # the audit data is missing or does not decode
        return {"ok": False, "chunks": [], "detail": str(exc), "reason": None}
    return {"ok": True, "chunks": picked, "reason": None,
            "detail": f"chunks {picked} of epoch {latest.epoch}, picked at random here from its {len(audit.chunks)} "
                      "chunks: each chunk's leaves, its "
                      "path of published nodes to the root, its collateralization proof and the path's range "
                      "proofs verify"}

