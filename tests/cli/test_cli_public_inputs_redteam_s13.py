"""Red team session 13, through the CLI: epochs proven by a dishonest operator (with the operator's own API, in copies
of the CLI tests' deployment: 8 traders, 3 epochs, premium-style options, oracle marks) whose proofs are sound about
public inputs the published configuration does not imply. Each was accepted by ``zkclear audit`` and a participant's
``zkclear verify`` before the fix the test names."""

from __future__ import annotations

import json

import pytest

import zkclear.proofs.recompute as recompute_module
from tests.cli.cli_helpers import zkclear
from tests.cli.test_cli_trust import _copy, _json_failure, _prove_with, _trader
from zkclear.operator import Deployment
from zkclear.proofs.recompute import recompute
from zkclear.verifier.public_inputs import PublicInputs
from zkclear.verifier.published import open_published

PUT = "BTC-P-54000"  # expires in epoch 13


def _prove_forged(proven, tmp_path, epoch: int, change, *, unchecked: bool = False) -> Deployment:
    """A copy of the deployment whose ``epoch`` is proven and published with its public inputs changed by ``change``
    and everything derived from them recomputed consistently; ``unchecked``: with the recomputation's check of the
    previous state removed (a dishonest operator's own tool)."""
    deployment = _copy(proven, tmp_path)
    document = json.loads(deployment.public_inputs(epoch).to_bytes())
    change(document)
    with pytest.MonkeyPatch.context() as patch:
        if unchecked:
            patch.setattr(recompute_module, "_check_previous_shape", lambda config, state: None)
        document["derived"] = recompute(PublicInputs(document)).derived
        forged = PublicInputs(document)
        _prove_with(deployment, proven, epoch, recompute(forged).public_data, forged)
    return deployment


def _verify(deployment: Deployment, epochs: list[int], expect: int) -> str:
    account = _trader(deployment, epochs[-1]).account_id
    receipts = [arg for epoch in epochs for arg in ("--receipt", deployment.receipt_path(epoch, account))]
    return zkclear("verify", *(deployment.epoch_dir(epoch) for epoch in epochs), *receipts, "--account", account,
                   expect=expect)


def test_a_live_option_published_as_expired_and_worth_nothing_is_refused_alone(proven, tmp_path):
    """The operator publishes epoch 3's previous state with the put (expiry epoch 13) expired at a settlement price of
    0: it then takes no volatility and no Black-76 mark, and is valued and margined at 0 instead of 14,747 ticks a
    lot. Recomputed consistently, so before the fix epoch 3 audited alone and a participant's one receipt passed;
    only an audit of epochs 2 and 3 together (the chain) caught it."""
    def change(document: dict) -> None:
        for row in document["previous"]["instruments"]:
            if row[0] == PUT:
                row[1], row[3] = 0, True
        document["inputs"]["implied_vols"] = [v for v in document["inputs"]["implied_vols"] if v[0] != PUT]

    deployment = _prove_forged(proven, tmp_path, 3, change, unchecked=True)
    published = open_published(deployment.epoch_dir(3))
    assert published.inputs.marks()[PUT] == 0 and proven["deployment"].public_inputs(3).marks()[PUT] > 10_000
    assert published.public.value_per_lot[published.public.instrument_ids.index(PUT)] == 0
    failure = _json_failure(zkclear("audit", deployment.epoch_dir(3), "--json", expect=2))
    assert failure["reason"] == "public-inputs-invalid"
    assert f"{PUT} expired after epoch 2; its configuration makes it live (expiry epoch 13)" in failure["detail"]
    out = _verify(deployment, [3], expect=2)
    assert "[public-inputs-invalid]" in out and PUT in out


def test_a_configuration_changed_behind_a_gap_is_refused_by_audit_and_verify(proven, tmp_path):
    """The operator proves epoch 3 under maintenance fractions 50 times lower; the audit of epochs 2 and 3 refused it
    (tests/cli/test_cli_trust.py), but before the fix epochs 1 and 3 given together (a participant who kept the
    receipts of the first and the latest epoch) were compared on nothing: both passed."""
    def change(document: dict) -> None:
        document["config"] = document["config"].replace("maintenance_margin_ppm = 50000",
                                                        "maintenance_margin_ppm = 1000")

    deployment = _prove_forged(proven, tmp_path, 3, change)
    failure = _json_failure(zkclear("audit", deployment.epoch_dir(3), deployment.epoch_dir(1), "--json", expect=2))
    assert failure["reason"] == "epoch-chain-broken" and failure["epoch"] == 3
    assert "epoch 3's public inputs carry another configuration than epoch 1's" in failure["detail"]
    out = _verify(deployment, [1, 3], expect=2)
    assert "[epoch-chain-broken]" in out and "another configuration than epoch 1's" in out
    # the honest epochs across the same gap still pass, and say the link between them was not checked
    honest = proven["deployment"]
    assert "a new chain starts at epoch 3" in zkclear("audit", honest.epoch_dir(1), honest.epoch_dir(3))
    assert "not consecutive" in _verify(honest, [1, 3], expect=0)


def test_show_prints_no_marks_the_published_inputs_do_not_give(proven, tmp_path):
    """``zkclear show`` printed the derived marks as the operator wrote them (bound by the header, never recomputed):
    a mark one tick off was shown as the epoch's. Now it is the audit's recomputation or a failure by name."""
    deployment = _copy(proven, tmp_path)
    inputs = deployment.public_inputs(3)
    document = json.loads(inputs.to_bytes())
    document["derived"]["marks"][0][1] += 1
    _prove_with(deployment, proven, 3, deployment.public_data(3, inputs), PublicInputs(document))
    failure = _json_failure(zkclear("show", deployment.epoch_dir(3), "--json", expect=2))
    assert failure["reason"] == "public-inputs-mismatch" and "derived.marks[0][1]" in failure["detail"]
    honest = json.loads(zkclear("show", proven["deployment"].epoch_dir(3), "--json"))
    assert honest["marks"] == proven["deployment"].public_inputs(3).marks()
