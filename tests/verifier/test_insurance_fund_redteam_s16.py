"""Red team session 16 (the insurance fund, published): an operator that wants the audit to show a larger fund than
the reserves back, on small equity-only epochs (tests/proofs/epoch_fixtures.py) proven with a fund leaf of its
choosing."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import PUBLIC, SMALL, SYSTEM, accounts, attested, reserves
from zkclear.bench.common import STAND_IN_CONFIG, stand_in_public_inputs
from zkclear.bundle.format import encode_receipt
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import InputError, VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.chunks import PlainAccount
from zkclear.proofs.epoch_prover import AccountInput, prove_epoch
from zkclear.tree.identity import key_fingerprint
from zkclear.verifier.insurance_fund import INSURANCE_FUND_ACCOUNT, check_insurance_fund
from zkclear.verifier.published import EpochFiles, PublishedEpoch

#: the stand-in configuration of a venue that publishes its fund (the key first: after a table it would be the table's)
CONFIG = "publish_insurance_fund = true\n" + STAND_IN_CONFIG
FUND_CASH = 100_000
#: lots of instrument 1 (7 per lot) the fund is short in the fabricated leaf: its equity is 30,000 below its cash
SHORT_LOTS = 10_000


@cache
def _epoch(fund_positions: tuple[int, ...], secret: bytes = b"fund-red-team-secret-0123456789ab"):
    """Epoch 1 with a leaf ``CH:insurance`` of cash ``FUND_CASH`` and ``fund_positions`` (a counterparty takes the
    other side, so the book stays matched), proven with operator secret ``secret`` (which the fund's account key
    derives from): the receipts and the attested bundle."""
    account_list = [*accounts(), AccountInput(INSURANCE_FUND_ACCOUNT, PlainAccount(FUND_CASH, fund_positions))]
    account_list.append(AccountInput("trader-cp", PlainAccount(10_000, tuple(-q for q in fund_positions))))
    inputs = stand_in_public_inputs(1, CONFIG)
    artifacts = prove_epoch(account_list, PUBLIC, reserves(), epoch_id=1, previous=None, config=SMALL,
                            blindings=BlindingSource.deterministic(secret),
                            chunk_system=SYSTEM, executor=SerialExecutor(), public_inputs_digest=inputs.digest())
    return artifacts.receipts, attested(artifacts.bundle), inputs


def _published(fund_positions: tuple[int, ...], folder: Path, *secret: bytes) -> PublishedEpoch:
    """The epoch as an auditor downloads it into ``folder``, the fund's receipt published beside it."""
    receipts, bundle, inputs = _epoch(fund_positions, *secret)
    folder.mkdir(exist_ok=True)
    files = EpochFiles(folder, 1)
    files.insurance_fund.write_bytes(encode_receipt(receipts[INSURANCE_FUND_ACCOUNT], SYSTEM))
    return PublishedEpoch(bundle, PUBLIC, inputs, files)


def test_a_fund_that_holds_only_cash_is_reported(tmp_path):
    fund = check_insurance_fund(_published((0, 0, 0), tmp_path), chunk_system=SYSTEM)
    assert fund is not None and fund.check.cash == fund.check.liability == FUND_CASH
    assert not any(fund.check.positions) and key_fingerprint(fund.account_key) == fund.check.key_fingerprint


def test_the_funds_key_is_compared_whole_not_by_its_64_bit_fingerprint(tmp_path, monkeypatch):
    """The audit compared the fund's key across epochs by its fingerprint, 16 hex digits: 64 bits, within reach of
    a second preimage for an operator that wants to show another leaf as its fund in a later epoch. Modelled here by
    a fingerprint that collides for every key; the keys themselves differ (two operator secrets)."""
    first = check_insurance_fund(_published((0, 0, 0), tmp_path / "a"), chunk_system=SYSTEM)
    monkeypatch.setattr("zkclear.verifier.receipt.key_fingerprint", lambda key: "0123456789abcdef")
    other = _published((0, 0, 0), tmp_path / "b", b"another-operator-secret-01234567")
    with pytest.raises(VerificationError) as caught:
        check_insurance_fund(other, first.account_key, chunk_system=SYSTEM)
    assert caught.value.reason == "account-key-changed", caught.value


def test_a_fund_leaf_with_a_position_is_refused(tmp_path):
    """The audit printed the fund's cash (100,000) while its leaf, short 10,000 lots worth 70,000, counts 30,000 in
    the liabilities the reserves cover: a fund shown 3.3 times larger than what backs it. The engine never lets the
    fund trade (nor hold collateral), so such a leaf is not the engine's fund."""
    published = _published((0, -SHORT_LOTS, 0), tmp_path)
    with pytest.raises(VerificationError) as caught:
        check_insurance_fund(published, chunk_system=SYSTEM)
    assert caught.value.reason == "insurance-fund-holdings", caught.value
    assert f"-{SHORT_LOTS} lots of instrument-1" in str(caught.value), caught.value


@pytest.mark.parametrize("kind", ["directory", "fifo", "dangling symlink"])
def test_something_else_in_place_of_the_fund_receipt_is_named(tmp_path, kind):
    """A folder, a named pipe or a dangling link where the file should be: one line naming it (exit 1, as for every
    published file), not ``insurance-fund-unpublished`` saying it is not there."""
    published = _published((0, 0, 0), tmp_path)
    path = published.files.insurance_fund
    path.unlink()
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        import os

        os.mkfifo(path)
    else:
        path.symlink_to(tmp_path / "nowhere.rcpt")
    with pytest.raises(InputError) as caught:
        check_insurance_fund(published, chunk_system=SYSTEM)
    assert str(path) in str(caught.value), caught.value


def test_a_missing_fund_receipt_is_unpublished(tmp_path):
    published = _published((0, 0, 0), tmp_path)
    published.files.insurance_fund.unlink()
    with pytest.raises(VerificationError) as caught:
        check_insurance_fund(published, chunk_system=SYSTEM)
    assert caught.value.reason == "insurance-fund-unpublished"
