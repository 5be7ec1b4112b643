"""The insurance fund, published (``publish_insurance_fund``; docs/protocol.md "The insurance fund, published").

Before session 16 nothing public showed the insurance fund: an operator could empty it (operator actions are private
inputs) before a crash and leave the deficit to ADL or a socialized loss, and no auditor could see it. A deployment
that sets ``publish_insurance_fund = true`` publishes the fund's receipt with every epoch, and ``zkclear audit``
requires it and verifies it as a participant's receipt is verified."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear
from tests.cli.conftest import VENUE, holders
from zkclear.clearing.config import INSURANCE_FUND
from zkclear.errors import VerificationError
from zkclear.operator import Deployment
from zkclear.proofs.recompute import check_inputs_chain
from zkclear.synthetic import reserves_csv
from zkclear.verifier.insurance_fund import INSURANCE_FUND_ACCOUNT, publishes_insurance_fund
from zkclear.verifier.public_inputs import PublicInputs
from zkclear.verifier.published import open_published

PROVE_OUTPUTS: dict[int, str] = {}  # epoch -> what `zkclear epoch prove` printed for it (published_fund)


@pytest.fixture(scope="module")
def published_fund(venue, tmp_path_factory):
    """Two epochs of the CLI tests' market, proven by a deployment that publishes its insurance fund."""
    root = tmp_path_factory.mktemp("fund")
    config = root / "zkclear.toml"
    config.write_text("publish_insurance_fund = true\n" + Path(venue["config"]).read_text())
    deployment = root / "venue"
    zkclear("init", deployment, "--config", config, "--height", 10, "--executor", "serial", "--venue", VENUE)
    for number in (1, 2):
        zkclear("epoch", "run", venue["epochs"][number - 1], "-d", deployment)
        with Deployment(deployment).ledger() as ledger:
            liabilities = int(ledger.state(number).cash.sum())
        reserves = root / f"reserves-{number}.csv"
        reserves.write_text(reserves_csv(holders(), {"USDC": liabilities + 1}))
        PROVE_OUTPUTS[number] = zkclear("epoch", "prove", "-d", deployment, "--epoch", number, "--reserves",
                                        reserves, *(arg for key in venue["keys"] for arg in ("--sign-with", key)))
    return Deployment(deployment)


def _copy(deployment: Deployment, tmp_path: Path) -> list[Path]:
    """Copies of the two published epoch folders, to alter."""
    return [Path(shutil.copytree(deployment.epoch_dir(n), tmp_path / str(n))) for n in (1, 2)]


def test_the_fund_the_audit_prints_is_the_one_the_ledger_holds(published_fund):
    deployment = published_fund
    epochs = [deployment.epoch_dir(n) for n in (1, 2)]
    reports = json.loads(zkclear("audit", *epochs, "--json"))
    with deployment.ledger() as ledger:
        for report, number in zip(reports, (1, 2), strict=True):
            state = ledger.state(number)
            held = int(state.cash[state.accounts.index(INSURANCE_FUND)])
            assert report["insurance_fund"]["cash"] == held > 0, report
    assert reports[0]["insurance_fund"]["key_fingerprint"] == reports[1]["insurance_fund"]["key_fingerprint"]
    out = zkclear("audit", *epochs)
    assert out.count("  insurance fund: cash ") == 2 and "published receipt verified" in out, out
    # red team s16: the key binds the fund across the epochs of one audit only; the text names it, to compare
    assert out.count(f"account key {reports[0]['insurance_fund']['key_fingerprint']}, the same in every epoch") == 2
    # the file is the fund's receipt, byte for byte
    for number in (1, 2):
        published = deployment.epoch_dir(number) / f"epoch-{number}.insurance-fund.rcpt"
        assert published.read_bytes() == deployment.receipt_path(number, INSURANCE_FUND).read_bytes()


def test_a_deployment_that_does_not_publish_its_fund_writes_no_file_and_the_audit_shows_none(proven):
    deployment = proven["deployment"]
    assert not list(deployment.epoch_dir(1).glob("*.insurance-fund.rcpt"))
    report = json.loads(zkclear("audit", deployment.epoch_dir(1), "--json"))
    assert report["ok"] and report["insurance_fund"] is None


def test_the_prove_names_the_fund_receipt_among_the_files_to_publish(published_fund, proven):
    """docs16: `epoch prove` listed the folder's files to publish as "bundle, public data, public inputs, audit data"
    also when it held the insurance fund's receipt (which the audit requires)."""
    assert sorted(PROVE_OUTPUTS) == [1, 2]
    for number, out in PROVE_OUTPUTS.items():
        folder = published_fund.epoch_dir(number)
        assert f"publish the folder {folder}/ (bundle, public data, public inputs, audit data, the insurance " \
               "fund's receipt)" in out, out
    proves = [out for out in proven["outputs"] if "publish the folder" in out]
    assert proves and all("audit data)\n" in out and "insurance fund's receipt" not in out for out in proves)


def test_a_withheld_fund_receipt_fails_the_audit(published_fund, tmp_path):
    epochs = _copy(published_fund, tmp_path)
    (epochs[1] / "epoch-2.insurance-fund.rcpt").unlink()
    out = zkclear("audit", *epochs, expect=2)
    assert "epoch 1: OK" in out and "FAILED [insurance-fund-unpublished]" in out, out


def test_another_accounts_receipt_in_place_of_the_fund_fails_the_audit(published_fund, tmp_path):
    """The operator shows a richer account's leaf as its fund: its leaf carries another id."""
    epochs = _copy(published_fund, tmp_path)
    other = published_fund.receipt_path(2, "trader-0000").read_bytes()
    (epochs[1] / "epoch-2.insurance-fund.rcpt").write_bytes(other)
    out = zkclear("audit", *epochs, expect=2)
    assert "epoch 1: OK" in out and ("FAILED [receipt-owner]" in out or "FAILED [leaf-mismatch]" in out), out


def test_an_earlier_epochs_fund_receipt_fails_the_audit(published_fund, tmp_path):
    """A replay: epoch 1's fund (before a withdrawal, say) shown as epoch 2's."""
    epochs = _copy(published_fund, tmp_path)
    shutil.copyfile(epochs[0] / "epoch-1.insurance-fund.rcpt", epochs[1] / "epoch-2.insurance-fund.rcpt")
    out = zkclear("audit", epochs[1], expect=2)
    assert "FAILED [" in out and "epoch 2: OK" not in out, out


def test_a_tampered_fund_receipt_is_refused(published_fund, tmp_path):
    epochs = _copy(published_fund, tmp_path)
    path = epochs[1] / "epoch-2.insurance-fund.rcpt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    out = zkclear("audit", *epochs, expect=1)
    last = out.rstrip("\n").split("\n")[-1]  # after epoch 1's report, one line naming the file
    assert "epoch 1: OK" in out and last.startswith("error: ") and "epoch-2.insurance-fund.rcpt: " in last, out


def test_the_verifier_names_the_engines_insurance_fund_account():
    assert INSURANCE_FUND_ACCOUNT == INSURANCE_FUND


def test_the_setting_is_a_boolean(tmp_path, venue):
    config = tmp_path / "zkclear.toml"
    config.write_text("publish_insurance_fund = 1\n" + Path(venue["config"]).read_text())
    out = zkclear("init", tmp_path / "venue", "--config", config, expect=1)
    assert out.startswith(f"error: {config}:1: field 'publish_insurance_fund': must be bool"), out


def test_a_later_epoch_that_drops_the_setting_breaks_the_chain(published_fund):
    """Red team s16: an operator that stops publishing its fund (epoch 2's published configuration without the key,
    so no file is required) is caught by an audit given an earlier epoch too; an epoch audited alone is judged by its
    own configuration (docs/protocol.md, "The insurance fund, published")."""
    first, second = (open_published(published_fund.epoch_dir(n)).inputs for n in (1, 2))
    config = second.config_text.replace("publish_insurance_fund = true\n", "", 1)
    assert config != second.config_text and not publishes_insurance_fund(config)
    dropped = PublicInputs({**second.document, "config": config})
    with pytest.raises(VerificationError) as caught:
        check_inputs_chain(first, dropped)
    assert caught.value.reason == "epoch-chain-broken", caught.value
