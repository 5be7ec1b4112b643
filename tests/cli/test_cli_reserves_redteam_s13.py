"""Red team (session 13) of the custodians' CLI paths (``epoch attest``, ``keys sign``): an option that asks for
less than the command would sign is refused in one line, exit status 1, nothing signed or written.

Each test pinned a defect before its fix (named in its docstring)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.cli_helpers import zkclear
from tests.cli.conftest import KEYS
from zkclear.bundle.format import decode_public_bundle, encode_public_bundle, read_file, write_file
from zkclear.operator import Deployment


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
