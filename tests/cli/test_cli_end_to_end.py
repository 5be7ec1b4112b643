"""The CLI end to end in a temporary directory: init → epochs → prove → verify → audit, as a user runs it.

One small market (8 traders, 3 epochs with the crash in epoch 3, tree height 10, chunks of 16) is built once
per module; each test then drives the real ``zkclear`` entry point (``zkclear.cli.main``) in-process.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace

import pytest

from zkclear.bundle.format import decode_public_bundle, encode_public_bundle
from zkclear.cli import main
from zkclear.operator import Deployment
from zkclear.proofs.attestations import address_of, public_key_of
from zkclear.synthetic import MarketSpec, generate_market, reserves_csv

SPEC = MarketSpec(accounts=8, epochs=3, fills_per_epoch=40, seed=12)
KEYS = (bytes.fromhex("a1" * 32), bytes.fromhex("b2" * 32))


def zkclear(*args: object, expect: int = 0, capsys=None) -> str:
    """Run ``zkclear ARGS`` through the console entry point; return stdout (+stderr); check the exit status."""
    argv = ["zkclear", *map(str, args)]
    old = sys.argv
    sys.argv = argv
    try:
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert code == expect, f"zkclear {' '.join(argv[1:])} exited {code}, expected {expect}:\n{output}"
    return output


@pytest.fixture(scope="module")
def venue(tmp_path_factory):
    """A deployment with all epochs cleared and proven, built with the API the CLI wraps."""
    root = tmp_path_factory.mktemp("venue")
    config, epoch_dirs = generate_market(root / "market", SPEC)
    key_files = []
    for i, key in enumerate(KEYS):
        path = root / f"custodian-{i}.key"
        path.write_text(key.hex())
        key_files.append(path)
    return {"root": root, "config": config, "epochs": epoch_dirs, "keys": key_files}


@pytest.fixture(scope="module")
def proven(venue, tmp_path_factory):
    """``zkclear init`` + ``epoch run`` + ``epoch prove`` for every epoch, through the CLI."""
    root = venue["root"]
    deployment_dir = root / "deployment"
    outputs = []

    class _Capsys:  # module-scoped fixtures cannot use capsys; capture by redirecting streams
        def __init__(self) -> None:
            import io
            self.out, self.err = io.StringIO(), io.StringIO()

        def readouterr(self):
            out, err = self.out.getvalue(), self.err.getvalue()
            self.out.seek(0), self.out.truncate(), self.err.seek(0), self.err.truncate()
            return type("Captured", (), {"out": out, "err": err})()

    cap = _Capsys()
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = cap.out, cap.err
    try:
        outputs.append(zkclear("init", deployment_dir, "--config", venue["config"], "--height", 10,
                               "--executor", "serial", capsys=cap))
        for number, epoch_dir in enumerate(venue["epochs"], start=1):
            outputs.append(zkclear("epoch", "run", epoch_dir, "-d", deployment_dir, capsys=cap))
            deployment = Deployment(deployment_dir)
            with deployment.ledger() as ledger:
                liabilities = int(ledger.state(number).cash.sum())
            addresses = [address_of(public_key_of(k)) for k in KEYS]
            reserves = root / f"reserves-{number}.csv"
            reserves.write_text(reserves_csv(addresses, liabilities + 1))
            args = ["epoch", "prove", "-d", deployment_dir, "--reserves", reserves, "--sign-with", venue["keys"][0]]
            outputs.append(zkclear(*args, capsys=cap))
            outputs.append(zkclear("epoch", "attest", "-d", deployment_dir, "--epoch", number,
                                   "--key", venue["keys"][1], capsys=cap))
    finally:
        sys.stdout, sys.stderr = old_out, old_err
    return {"dir": deployment_dir, "outputs": outputs, "deployment": Deployment(deployment_dir)}


def test_init_run_prove_print_what_happened(proven):
    text = "\n".join(proven["outputs"])
    assert "created deployment" in text
    for number in (1, 2, 3):
        assert f"epoch {number} committed" in text
        assert f"epoch {number} proven" in text
        assert f"attested epoch {number}" in text
    assert "2 of 2 addresses signed" in text
    assert "node range proofs (groups): " in text  # progress lines: stderr is not a terminal here
    crash = proven["deployment"].report(3)
    assert "liquidations" in text and len(crash.liquidations) > 0


def test_rerunning_a_committed_epoch_is_a_no_op_that_says_so(proven, venue, capsys):
    out = zkclear("epoch", "run", venue["epochs"][0], "-d", proven["dir"], "--epoch", 1, capsys=capsys)
    assert "already committed" in out
    assert proven["deployment"].head() == 3


def test_participant_verifies_their_receipt_with_expected_values(proven, capsys):
    deployment = proven["deployment"]
    account = next(a for a in deployment.accounts(3) if a.account_id.startswith("trader-") and any(a.witness.positions))
    receipt = deployment.receipt_path(3, account.account_id)
    expected = [f"{i}={q}" for i, q in zip(deployment.config.instrument_ids, account.witness.positions, strict=True)]
    args = ["verify", deployment.epoch_dir(3), "--receipt", receipt, "--cash", account.witness.cash]
    for item in expected:
        args += ["--position", item]
    out = zkclear(*args, "--crowd-audit", 1, "--json", capsys=capsys)
    result = json.loads(out)
    assert result["ok"] is True and result["cash"] == account.witness.cash
    assert result["epoch"] == 3 and len(result["crowd_audited_chunks"]) == 1


def test_participant_is_told_when_their_values_differ(proven, capsys):
    deployment = proven["deployment"]
    account = next(a for a in deployment.accounts(3) if a.account_id.startswith("trader-"))
    receipt = deployment.receipt_path(3, account.account_id)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", receipt, "--cash", account.witness.cash + 1,
                  "--json", expect=2, capsys=capsys)
    assert json.loads(out) == {"ok": False, "reason": "account-values-mismatch",
                               "detail": "account-values-mismatch"}


def test_receipt_of_another_epoch_is_rejected(proven, capsys):
    deployment = proven["deployment"]
    account = next(a for a in deployment.accounts(3) if a.account_id.startswith("trader-"))
    old_receipt = deployment.receipt_path(2, account.account_id)
    out = zkclear("verify", deployment.epoch_dir(3), "--receipt", old_receipt, expect=2, capsys=capsys)
    assert "receipt-epoch-mismatch" in out


def test_auditor_checks_every_epoch_and_the_chain(proven, capsys):
    deployment = proven["deployment"]
    dirs = [deployment.epoch_dir(n) for n in (1, 2, 3)]
    out = zkclear("audit", *dirs, "--json", capsys=capsys)
    reports = json.loads(out)
    assert [r["epoch"] for r in reports] == [1, 2, 3] and all(r["ok"] for r in reports)
    with deployment.ledger() as ledger:
        assert reports[2]["total_liabilities"] == int(ledger.state(3).cash.sum())
    out = zkclear("audit", *dirs, capsys=capsys)
    assert "chain of 3 epochs verified" in out


def test_audit_out_of_order_breaks_the_chain(proven, capsys):
    deployment = proven["deployment"]
    out = zkclear("audit", deployment.epoch_dir(1), deployment.epoch_dir(3), "--json", expect=2, capsys=capsys)
    assert json.loads(out)["reason"] == "epoch-chain-broken"


def test_audit_fails_on_a_tampered_bundle(proven, tmp_path, capsys):
    source = proven["deployment"].epoch_dir(2)
    target = tmp_path / "tampered"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("receipts"))
    path = target / "epoch-2.bundle"
    bundle = decode_public_bundle(path.read_bytes())
    betas = list(bundle.matched_book)
    betas[0] = (betas[0] + 1) % (1 << 255)
    path.write_bytes(encode_public_bundle(replace(bundle, matched_book=tuple(betas))))
    out = zkclear("audit", target, "--json", expect=2, capsys=capsys)
    assert json.loads(out)["reason"] == "matched-book"


def test_audit_fails_on_a_corrupted_file_with_one_line(proven, tmp_path, capsys):
    source = proven["deployment"].epoch_dir(2)
    target = tmp_path / "corrupt"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("receipts"))
    path = target / "epoch-2.audit"
    path.write_bytes(path.read_bytes()[:-7])
    out = zkclear("audit", target, expect=1, capsys=capsys)
    assert out.startswith("error: ") and out.count("\n") == 1


def test_show_prints_the_public_summary(proven, capsys):
    out = zkclear("show", proven["deployment"].epoch_dir(3), "--json", capsys=capsys)
    summary = json.loads(out)
    assert summary["epoch"] == 3
    assert summary["instruments"] == ["BTC-PERP", "ETH-PERP", "BTC-FUT", "BTC-C-60000", "BTC-P-54000"]
    # Perpetuals and futures settle into cash (v = 0); the market's options are premium-style, so their
    # value per lot (mark × multiplier) counts in equity and is public.
    assert summary["values_per_lot"][:3] == [0, 0, 0] and all(v > 0 for v in summary["values_per_lot"][3:])
    assert summary["attestations"] == 2 and summary["tree_height"] == 10


def test_reproving_an_epoch_gives_identical_files(proven, tmp_path):
    deployment = proven["deployment"]
    directory = deployment.epoch_dir(2)
    before = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}
    reserves = proven["dir"].parent / "reserves-2.csv"
    from zkclear.proofs.attestations import ReserveSet

    deployment.prove(2, ReserveSet.load(reserves), reserve_keys=[bytes.fromhex(k.read_text()) for k in
                                                                 sorted(proven["dir"].parent.glob("custodian-*.key"))])
    after = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}
    assert after == before


def test_every_command_has_help_with_an_example(capsys):
    for command in (["init"], ["epoch", "run"], ["epoch", "prove"], ["epoch", "attest"], ["verify"], ["audit"],
                    ["show"], ["demo"], ["bench"]):
        out = zkclear(*command, "--help", capsys=capsys)
        assert "Example: zkclear" in out, command


def test_demo_entry_point_runs_end_to_end(tmp_path, capsys):
    out = zkclear("demo", "--out", tmp_path / "demo", "--accounts", 6, "--epochs", 3, "--height", 8,
                  "--executor", "serial", capsys=capsys)
    assert "== 4. participant" in out and "OK: leaf" in out
    assert "epoch 3: OK" in out
    assert "rejected as expected: solvency-proof" in out


def test_demo_refuses_to_overwrite_a_foreign_directory(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    out = zkclear("demo", "--out", tmp_path, expect=1, capsys=capsys)
    assert "not a zkclear demo directory" in out
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_missing_deployment_is_a_clear_error(tmp_path, capsys):
    out = zkclear("epoch", "run", tmp_path, "-d", tmp_path / "nowhere", expect=1, capsys=capsys)
    assert "is not a zkclear deployment" in out


def test_an_undercollateralized_account_is_refused_by_name_before_proving():
    from circuits.examples import linear_perpetuals, required_cash
    from circuits.public_data import AccountWitness
    from zkclear.errors import ProvingError
    from zkclear.operator import check_collateralized
    from zkclear.proofs.epoch_prover import AccountInput

    public = linear_perpetuals(2)
    positions = (10, -4)
    needed = required_cash(public, positions)
    healthy = AccountInput("alice", AccountWitness(needed, positions))
    short = AccountInput("bob", AccountWitness(needed - 1, positions))
    check_collateralized([healthy], public)
    with pytest.raises(ProvingError, match=r"account bob \(standard margin\) is undercollateralized: .* 1 below"):
        check_collateralized([healthy, short], public)
