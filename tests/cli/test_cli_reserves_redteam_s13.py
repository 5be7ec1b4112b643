"""Red team (session 13) of the custodians' CLI paths (``epoch attest``, ``keys sign``): an option that asks for
less than the command would sign is refused in one line, exit status 1, nothing signed or written.

Each test pinned a defect before its fix (named in its docstring)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.cli_helpers import zkclear
from tests.cli.conftest import KEYS, VENUE, holders
from zkclear.bundle.format import decode_public_bundle, encode_public_bundle, read_file, write_file
from zkclear.operator import Deployment
from zkclear.synthetic import reserves_csv


def _unattested_copy(proven, tmp_path: Path) -> Deployment:
    """A copy of the CLI tests' deployment whose epoch 1 has no attestation yet (custodians have not signed)."""
    target = tmp_path / "copy"
    shutil.copytree(proven["dir"], target)
    deployment = Deployment(target)
    path = deployment.bundle_path(1)
    write_file(path, encode_public_bundle(decode_public_bundle(read_file(path)).with_attestations(())))
    return deployment


def test_epoch_attest_with_a_key_refuses_chain_and_asset_instead_of_signing_everything(proven, tmp_path, capsys):
    """Defect (fixed): ``epoch attest --key K --chain C`` (or ``--asset A``) ignored the option and signed every
    listed entry the key controls, on every chain and for every asset: a custodian who asked to sign one entry put
    its signature on others (here: ``--chain solana`` with the Ethereum custodian's key signed its Ethereum entry)."""
    deployment = _unattested_copy(proven, tmp_path)
    bundle_before = read_file(deployment.bundle_path(1))
    key = proven["dir"].parent / "custodian-0.key"
    for option, value in (("--chain", "solana"), ("--asset", "BTC")):
        out = zkclear("epoch", "attest", "-d", deployment.root, "--epoch", 1, "--key", key, option, value, expect=1,
                      capsys=capsys)
        assert out.startswith(f"error: field '{option}': ") and out.count("\n") == 1, out
        assert read_file(deployment.bundle_path(1)) == bundle_before  # nothing signed
    out = zkclear("epoch", "attest", "-d", deployment.root, "--epoch", 1, "--key", key, capsys=capsys)
    assert f"attested epoch 1 for {KEYS[0].address.text} (ethereum) (1 of 2 reserve entries signed)" in out


def test_keys_sign_refuses_bip322_for_a_key_that_has_no_p2wpkh_address(proven, tmp_path, capsys):
    """Defect (fixed): ``keys sign --bip322`` with an Ethereum or Solana key printed an EIP-191 or Ed25519 signature
    as if the flag had been honoured (a P2PKH key was already refused)."""
    text = tmp_path / "text.txt"
    for number, key in enumerate(KEYS):
        text.write_text(zkclear("show", proven["dir"] / "epochs" / "1", "--attestation-text", key.address.text,
                                capsys=capsys))
        key_file = proven["dir"].parent / f"custodian-{number}.key"
        out = zkclear("keys", "sign", key_file, "--text-file", text, "--bip322", expect=1, capsys=capsys)
        assert out.startswith(f"error: {text}: BIP-322 simple signatures are for P2WPKH addresses, not "
                              f"{key.address.text}") and out.count("\n") == 1, out
        assert zkclear("keys", "sign", key_file, "--text-file", text, capsys=capsys).strip()  # without: signed


def _two_epochs(venue, tmp_path: Path, capsys) -> tuple[Path, list[Path]]:
    """A fresh deployment of the CLI tests' market with epochs 1 and 2 cleared, epoch 1 proven and attested at the
    demo blocks; returns the folder and each epoch's honest reserves.csv."""
    deployment = tmp_path / "venue"
    zkclear("init", deployment, "--config", venue["config"], "--height", 10, "--executor", "serial", "--venue", VENUE,
            capsys=capsys)
    paths = []
    for number, epoch_dir in enumerate(venue["epochs"][:2], start=1):
        zkclear("epoch", "run", epoch_dir, "-d", deployment, capsys=capsys)
        with Deployment(deployment).ledger() as ledger:
            liabilities = int(ledger.state(number).cash.sum())
        path = tmp_path / f"reserves-{number}.csv"
        path.write_text(reserves_csv(holders(), {"USDC": liabilities + 1}))
        paths.append(path)
    zkclear("epoch", "prove", "-d", deployment, "--epoch", 1, "--reserves", paths[0],
            *(arg for key in venue["keys"] for arg in ("--sign-with", key)), capsys=capsys)
    return deployment, paths


def test_a_reserves_snapshot_older_than_the_previous_epochs_is_refused_by_line_and_by_every_verifier(
        venue, tmp_path, capsys, monkeypatch):
    """Defect (fixed): epoch 2's reserves could be read at a block *before* epoch 1's (last month's balances, since
    moved out), every row true at its block and every signature genuine, and `audit` of both epochs and `verify` of
    both receipts said OK. Now the operator's `epoch prove` refuses the line, and a dishonest operator's epoch is
    `reserves-mismatch` for the auditor and the participant (the same block again still passes)."""
    deployment, paths = _two_epochs(venue, tmp_path, capsys)
    stale = tmp_path / "stale.csv"
    stale.write_text(paths[1].read_text().replace(",19000000,", ",18999999,"))
    out = zkclear("epoch", "prove", "-d", deployment, "--epoch", 2, "--reserves", stale, expect=1, capsys=capsys)
    assert out.startswith(f"error: {stale}:2: field 'block_height': ethereum is read at block 18999999, before the "
                          "block epoch 1's reserves were read at (19000000, ") and out.count("\n") == 1, out
    assert not Deployment(deployment).is_proven(2)

    # A dishonest operator's own tool proves and attests it anyway.
    monkeypatch.setattr(Deployment, "require_blocks_advance", lambda *args, **kwargs: None)
    zkclear("epoch", "prove", "-d", deployment, "--epoch", 2, "--reserves", stale,
            *(arg for key in venue["keys"] for arg in ("--sign-with", key)), capsys=capsys)
    epochs = [Deployment(deployment).epoch_dir(n) for n in (1, 2)]
    assert "epoch 2: OK" in zkclear("audit", epochs[1], capsys=capsys)  # alone, nothing to compare with
    out = zkclear("audit", *epochs, expect=2, capsys=capsys)
    assert "FAILED [reserves-mismatch]" in out and "18999999" in out and "epoch 1 at block 19000000" in out
    assert "older than the previous epoch's" in out
    account = "trader-0000"
    receipts = [str(Deployment(deployment).receipt_path(n, account)) for n in (1, 2)]
    participant = Deployment(deployment).participant_path(account)
    out = zkclear("verify", *epochs, "--receipt", receipts[0], "--receipt", receipts[1], "--participant",
                  participant, expect=2, capsys=capsys)
    assert "FAILED [reserves-mismatch]" in out and "18999999" in out
