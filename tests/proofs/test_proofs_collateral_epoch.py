"""An epoch closed with the production chunk system (issue 6's collateralization proofs)."""

import random
from dataclasses import replace
from functools import cache

import pytest

from circuits.examples import linear_perpetuals, required_cash
from circuits.public_data import AccountWitness
from tests.proofs.epoch_fixtures import attested, reserves
from zkclear.bundle.format import decode_audit_data, decode_receipt, encode_audit_data, encode_receipt
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import ProvingError, VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.auditor import audit_epoch
from zkclear.proofs.chunks import CollateralChunks
from zkclear.proofs.epoch_prover import AccountInput, prove_epoch
from zkclear.tree.inclusion import verify_receipt
from zkclear.tree.placement import TreeConfig

SYSTEM = CollateralChunks()
CONFIG = TreeConfig(height=10, chunk_bits=2)


@cache
def _public():
    return linear_perpetuals(2)


def _accounts(under_collateralized: bool = False) -> list[AccountInput]:
    public = _public()
    rng = random.Random(7)
    out = []
    for i in range(3):
        long = (rng.randint(1, 40), -rng.randint(1, 40))
        for k, positions in enumerate((long, tuple(-q for q in long))):
            cash = required_cash(public, positions) + 1_000 * i
            if under_collateralized and i == 2 and k == 1:
                cash -= 5_000  # one unit short of its maintenance requirement, and more
            out.append(AccountInput(f"member-{i}-{k}", AccountWitness(cash, positions)))
    return out


def _prove(account_list):
    return prove_epoch(
        account_list,
        _public(),
        reserves((10**13, 10**13)),
        epoch_id=1,
        previous=None,
        config=CONFIG,
        blindings=BlindingSource.deterministic(b"collateral-epoch-secret-0123456"),
        chunk_system=SYSTEM,
        executor=SerialExecutor(),
    )


@cache
def _epoch():
    artifacts = _prove(_accounts())
    return artifacts, attested(artifacts.bundle)


def test_collateralized_epoch_verifies_for_participants_and_auditor_after_a_disk_round_trip():
    artifacts, bundle = _epoch()
    public = _public()
    audit = decode_audit_data(encode_audit_data(artifacts.audit, SYSTEM), bundle.header, public, SYSTEM)
    report = audit_epoch(bundle, audit, public, chunk_system=SYSTEM, executor=SerialExecutor())
    assert report.total_liabilities == sum(a.witness.cash for a in _accounts())  # perpetuals: v_j = 0
    for account in _accounts():
        data = encode_receipt(artifacts.receipts[account.account_id], SYSTEM)
        receipt = decode_receipt(data, public, SYSTEM, chunk_size=CONFIG.chunk_size)
        check = verify_receipt(
            bundle,
            receipt,
            public,
            chunk_system=SYSTEM,
            expected_cash=account.witness.cash,
            expected_positions=account.witness.positions,
        )
        assert check.liability == account.witness.cash


def test_under_collateralized_account_is_refused_at_close():
    with pytest.raises(ProvingError):
        _prove(_accounts(under_collateralized=True))


def test_chunk_proof_of_another_chunk_is_named():
    artifacts, bundle = _epoch()
    receipt = next(iter(artifacts.receipts.values()))
    other = next(c for c in artifacts.audit.chunks if c.position != receipt.chunk.position)
    forged = replace(receipt, chunk=replace(receipt.chunk, proof=other.proof))
    with pytest.raises(VerificationError) as caught:
        verify_receipt(bundle, forged, _public(), chunk_system=SYSTEM)
    assert caught.value.reason == "chunk-collateral-proof"
