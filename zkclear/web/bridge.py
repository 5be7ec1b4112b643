"""The verification page's adapter: today's receipt check, as named checks a participant can read.

The page (zkclear/web/static/) runs this module in a Web Worker on Pyodide, and tests run it on CPython; it needs
nothing but the standard library and zkclear's own pure modules. It wraps :func:`zkclear.tree.inclusion.verify_receipt`
and the bundle-only part of the auditor's checks (reserve attestations and the solvency proof); the verifier core of
issue 16 will take their place behind the same result shape::

    {"ok": bool,
     "checks": [{"name": str, "ok": true | false | null, "detail": str}, ...],   # null: not run
     "account": {...} | null,   # the participant's own values, only when their receipt opened
     "epoch": {...} | null}     # the epoch's public identifiers (root, epoch hash, header digest)

Check names, in order: ``epoch`` (the files decode and belong together; the epoch hash matches the one the venue
posted, when given), ``identity`` (the receipt is the entered account's, and its leaf carries that account's salted
id hash), ``values`` (the receipt's values open the leaf's commitments and equal the expected ones, when given),
``path`` (the sums and hashes from the chunk up reach the published root), ``siblings`` (every node beside the path
is proven non-negative), ``own chunk`` (the collateralization proof of the account's chunk: every account in it has
equity >= 0 and >= its maintenance requirement) and ``root statements`` (the reserve attestations and the solvency
proof of the public bundle). A check after a failed one is not run (``ok`` null) except where the failure says
nothing about it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from circuits.account_statement import account_statement
from circuits.public_data import listing_positions
from zkclear.bundle.format import KIND_RECEIPT, _open_container, decode_public_bundle, decode_receipt
from zkclear.errors import EncodingError, InputError, VerificationError, ZkclearError
from zkclear.operator import CHUNK_SYSTEM, decode_public_data
from zkclear.proofs.attestations import verify_attestations
from zkclear.proofs.header import ChainLink, check_chain
from zkclear.proofs.solvency import solvency_statement
from zkclear.proofs.statements import verify_named
from zkclear.tree.inclusion import verify_receipt
from zkclear.web.generators import preload

CHECK_NAMES = ("epoch", "identity", "values", "path", "siblings", "own chunk", "root statements")

Progress = Callable[[str, float], None]
"""Told (stage, fraction done in [0, 1]) as the check advances (the page's progress bar)."""

# verify_receipt's failure reasons -> the check that failed and what to tell the participant
_REASONS = {
    "receipt-epoch-mismatch": ("epoch", "this receipt is for another epoch than these public files"),
    "public-data-mismatch": ("epoch", "the public risk data is not the one the epoch header binds"),
    "receipt-malformed": ("epoch", "the receipt's path does not fit this epoch's tree"),
    "leaf-mismatch": ("identity", "the leaf at your receipt's index does not carry your account's salted id hash"),
    "opening-mismatch": ("values", "the values in your receipt do not open the commitments in the tree"),
    "path-root-mismatch": ("path", "the sums and hashes from your chunk up do not reach the published root"),
    "chunk-collateral-proof": ("own chunk", "the collateralization proof of your chunk does not verify"),
    "sibling-range-proof": ("siblings", "the range proof of a node beside your path does not verify"),
}


def preload_generators(data: bytes) -> int:
    """Load the page's precomputed generator file (checked against its pinned digest; see
    :mod:`zkclear.web.generators`); returns how many generators per vector it held."""
    return preload(data)


def receipt_epoch(receipt: bytes) -> int:
    """The epoch a receipt file is for (so the page fetches that epoch's public files); EncodingError if the
    bytes are not a receipt."""
    return _open_container(receipt, KIND_RECEIPT).u64("epoch id")


def check_receipt(
    bundle: bytes,
    public: bytes,
    receipt: bytes,
    account_id: str,
    *,
    expected_cash: int | None = None,
    expected_positions: Mapping[str, int] | None = None,
    posted_hash: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Check one receipt against its epoch's public bundle and public risk data (file contents).

    ``expected_positions`` maps instrument ids to lots; instruments it does not name are expected flat.
    ``posted_hash`` is the epoch hash (or header digest) the venue posted, in hex. Never raises for bad
    input: every problem is a failed check with a plain-words detail.
    """
    tell = progress or (lambda stage, fraction: None)
    checks = {name: {"name": name, "ok": None, "detail": "not checked"} for name in CHECK_NAMES}
    result: dict[str, Any] = {"ok": False, "checks": list(checks.values()), "account": None, "epoch": None}

    def fail(name: str, detail: str) -> dict[str, Any]:
        checks[name].update(ok=False, detail=detail)
        return result

    def passed(name: str, detail: str) -> None:
        checks[name].update(ok=True, detail=detail)

    tell("reading the files", 0.02)
    try:
        published = decode_public_bundle(bundle)
    except EncodingError as exc:
        return fail("epoch", f"the epoch's public bundle file is not valid: {exc}")
    try:
        risk = decode_public_data(public, path="public risk data")
    except EncodingError as exc:
        return fail("epoch", str(exc))
    header = published.header
    result["epoch"] = {
        "epoch": header.epoch_id,
        "root": published.root.digest.hex(),
        "epoch_hash": published.epoch_hash().hex(),
        "header_digest": header.digest().hex(),
        "instruments": list(risk.instrument_ids),
    }
    try:
        opened = decode_receipt(receipt, risk, CHUNK_SYSTEM, chunk_size=header.tree.chunk_size)
    except EncodingError as exc:
        return fail("epoch", f"your receipt file is not valid for this epoch: {exc}")
    posted = (posted_hash or "").strip().lower().removeprefix("0x")
    if posted and posted not in (result["epoch"]["epoch_hash"], result["epoch"]["header_digest"]):
        return fail("epoch", f"the epoch hash the venue posted ({posted[:16]}...) is not this epoch's "
                             f"({result['epoch']['epoch_hash'][:16]}...): these are not the files it published")

    if opened.epoch_id != header.epoch_id or opened.header_digest != header.digest():
        return fail("epoch", f"your receipt is for epoch {opened.epoch_id}, not for the epoch of these public files "
                             f"({header.epoch_id})" if opened.epoch_id != header.epoch_id else
                             "your receipt is for another publication of this epoch than these public files")
    if CHUNK_SYSTEM.public_digest(risk) != header.public_data_digest:
        return fail("epoch", "the public risk data is not the one the epoch header binds")
    passed("epoch", _epoch_detail(header.epoch_id, posted))
    if opened.account_id != account_id:
        # Checked before anything else about the account: a receipt is only worth something to its owner.
        return fail("identity", "this receipt was issued for a different account id than the one you entered")

    try:
        positions = None if expected_positions is None else listing_positions(risk, expected_positions)
    except InputError as exc:
        passed("identity", f"the receipt is account {account_id}'s")
        return fail("values", str(exc))

    tell("checking your receipt's proofs", 0.1)
    try:
        check = verify_receipt(published, opened, risk, chunk_system=CHUNK_SYSTEM, expected_cash=expected_cash,
                               expected_positions=positions)
        failure = None
    except VerificationError as exc:
        failure = exc
    order = ("identity", "values", "path", "own chunk", "siblings")
    failed = _failed_check(failure, opened, risk, expected_cash, positions) if failure else None
    if failed is not None and failed[0] not in order:  # e.g. a receipt whose path has the wrong length
        return fail(*failed)
    for name in order:
        if failed is not None and name == failed[0]:
            fail(*failed)
            break
        passed(name, _pass_detail(name, header, opened))
    if failed is not None:
        return result

    result["account"] = _account(check, opened, risk, account_id)
    tell("checking the epoch's root statements", 0.9)
    try:
        _check_root_statements(published)
    except VerificationError as exc:
        return fail("root statements", _root_failure(exc))
    passed("root statements", f"{len(published.reserves.entries)} reserve address(es) signed this epoch's root "
                              f"and the solvency proof verified: the attested reserves "
                              f"({header.reserves_total}) cover the total of every account's liability")
    result["ok"] = True
    tell("done", 1.0)
    return result


def check_chain_of(bundles: Mapping[int, bytes]) -> list[dict[str, Any]]:
    """For each epoch whose predecessor is among ``bundles`` (epoch id -> bundle file), whether it carries that
    epoch's root and epoch hash: [{"epoch", "ok", "detail"}] (history across receipts)."""
    decoded = {}
    for epoch, data in bundles.items():
        try:
            decoded[epoch] = decode_public_bundle(data)
        except EncodingError as exc:
            return [{"epoch": epoch, "ok": False, "detail": f"bundle not valid: {exc}"}]
    links = []
    for epoch in sorted(decoded):
        previous = decoded.get(epoch - 1)
        if previous is None:
            continue
        try:
            check_chain(ChainLink(epoch - 1, previous.root.digest, previous.epoch_hash()), decoded[epoch].header)
            links.append({"epoch": epoch, "ok": True, "detail": f"epoch {epoch} follows epoch {epoch - 1}"})
        except VerificationError:
            links.append({"epoch": epoch, "ok": False,
                          "detail": f"epoch {epoch} does not carry epoch {epoch - 1}'s root and epoch hash"})
    return links


def check_receipt_json(request: str, files: Mapping[str, bytes], progress: Progress | None = None) -> str:
    """:func:`check_receipt` with its options as JSON (``account_id``, ``expected_cash``, ``expected_positions``,
    ``posted_hash``) and the files as {"bundle", "public", "receipt"}: what the page's worker calls."""
    try:
        options = json.loads(request)
        cash = options.get("expected_cash")
        result = check_receipt(
            files["bundle"], files["public"], files["receipt"], str(options["account_id"]),
            expected_cash=None if cash in (None, "") else int(cash),
            expected_positions=options.get("expected_positions"),
            posted_hash=options.get("posted_hash"),
            progress=progress,
        )
    except (ValueError, TypeError, KeyError) as exc:
        result = {"ok": False, "checks": [{"name": "epoch", "ok": False, "detail": f"bad request: {exc}"}],
                  "account": None, "epoch": None}
    except ZkclearError as exc:  # anything zkclear refuses that the mapping above did not name
        result = {"ok": False, "checks": [{"name": "epoch", "ok": False, "detail": str(exc)}],
                  "account": None, "epoch": None}
    return json.dumps(result)


def _epoch_detail(epoch: int, posted: str) -> str:
    also = ", and its epoch hash is the one the venue posted" if posted else ""
    return f"the public files are epoch {epoch}'s and your receipt is for this epoch{also}"


def _pass_detail(name: str, header: Any, receipt: Any) -> str:
    height, c = header.tree.height, header.tree.chunk_bits
    return {
        "identity": f"the receipt is account {receipt.account_id}'s, and leaf {receipt.leaf_index} carries its "
                    "salted id hash",
        "values": "your balance and positions open the commitments in your leaf",
        "path": f"the sums and hashes of {height - c} levels above your chunk reach the published root",
        "own chunk": f"all {header.tree.chunk_size} accounts of your chunk (yours included) are proven to have "
                     "equity >= 0 and >= their maintenance requirement",
        "siblings": f"each of the {height - c} nodes beside your path is proven to hold a non-negative sum",
    }[name]


def _failed_check(failure: VerificationError, receipt: Any, risk: Any, expected_cash: int | None,
                  expected_positions: tuple[int, ...] | None) -> tuple[str, str]:
    if failure.reason == "account-values-mismatch":
        cash, positions = CHUNK_SYSTEM.opening_values(receipt.opening)
        differences = []
        if expected_cash is not None and cash != expected_cash:
            differences.append(f"balance {cash} (you expected {expected_cash})")
        if expected_positions is not None:
            for instrument, held, wanted in zip(risk.instrument_ids, positions, expected_positions, strict=True):
                if held != wanted:
                    differences.append(f"{instrument} {held} lots (you expected {wanted})")
        return "values", "your receipt says " + "; ".join(differences)
    name, detail = _REASONS.get(failure.reason, ("identity", f"check failed: {failure}"))
    if failure.reason == "sibling-range-proof" and failure.index is not None:
        detail += f" (level {failure.index})"
    return name, detail


def _account(check: Any, receipt: Any, risk: Any, account_id: str) -> dict[str, Any]:
    opening = receipt.opening
    statement = account_statement(risk, opening.margin_mode)
    values = opening.values
    equity = statement.equity.evaluate(values)
    maintenance = next(c for c in statement.statement.constraints if c.name == "maintenance")
    excess = maintenance.form.evaluate(values)  # equity - requirement (- portfolio charges)
    return {
        "account_id": account_id,
        "epoch": check.epoch_id,
        "leaf_index": check.leaf_index,
        "margin_mode": opening.margin_mode,
        "cash": check.cash,
        "positions": dict(zip(risk.instrument_ids, check.positions, strict=True)),
        "equity": equity,
        "requirement": equity - excess,
        "excess": excess,
        "liability": check.liability,
    }


def _check_root_statements(bundle: Any) -> None:
    header = bundle.header
    if bundle.reserves.digest() != header.reserves_digest or bundle.reserves.total != header.reserves_total:
        raise VerificationError("reserves-mismatch")
    verify_attestations(bundle.reserves, bundle.attestations, bundle.attestation_message())
    statement = solvency_statement(bundle.solvency_proof, header.reserves_total, bundle.root.commitment,
                                   header.context(b"solvency"))
    verify_named([("solvency-proof", 0, statement)])


def _root_failure(exc: VerificationError) -> str:
    return {
        "reserves-mismatch": "the reserves list is not the one the epoch header binds",
        "reserve-attestation": "a reserve address did not sign this epoch's root",
        "solvency-proof": "the solvency proof does not verify: the reserves are not shown to cover the liabilities",
    }.get(exc.reason, f"check failed: {exc}")
