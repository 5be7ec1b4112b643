"""Collateralization proofs with collateral assets: honest accounts verify; a negative BTC balance and a haircut
value above its tier line are refused by the prover and, forged, rejected by the verifier (issue 13)."""

import random

import pytest

import provers.collateral as collateral
from circuits import AccountWitness, account_statement
from circuits.examples import collateralized_account, linear_perpetuals, required_cash, with_collateral_assets
from provers.bulletproofs_pp import range_proof as bpp
from provers.collateral import (
    AccountCommitments,
    AccountOpening,
    CollateralBatchProof,
    prove_collateral_batch,
    verify_collateral_batch,
)
from zkclear.crypto.field import R
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, ProvingError, VerificationError

CONTEXT = b"epoch-9/chunk-1"
SECRET = BlindingSource.deterministic(b"collateral-assets-secret-0123456")
PUBLIC = with_collateral_assets(linear_perpetuals(2), 2)  # BTC and ETH


def _account(seed: int) -> AccountWitness:
    return collateralized_account(PUBLIC, random.Random(seed), held=2, max_lots=300, max_collateral=10**9)


def test_honest_accounts_with_collateral_verify_and_their_liabilities_open():
    witnesses = [_account(1), _account(2), AccountWitness(0, (0, 0), "standard", (0, 0))]
    proof, commitments, openings = prove_collateral_batch(witnesses, PUBLIC, CONTEXT, SECRET)
    verify_collateral_batch(proof, commitments, PUBLIC, CONTEXT)
    for witness, account, opening in zip(witnesses, commitments, openings, strict=True):
        assert len(account.balances) == 2 and opening.balances == witness.balances
        liabilities = account.liabilities(PUBLIC)
        values = opening.liability_openings(PUBLIC)
        assert [v for v, _ in values] == [max(witness.cash, 0), *witness.balances]
        assert all(c == commit(v, b) for c, (v, b) in zip(liabilities, values, strict=True))
        assert AccountCommitments.from_bytes(account.to_bytes()) == account
        assert AccountOpening.from_bytes(opening.to_bytes()) == opening
    decoded = CollateralBatchProof.from_bytes(proof.to_bytes())
    verify_collateral_batch(decoded, commitments, PUBLIC, CONTEXT)


def test_a_commitment_to_another_balance_does_not_verify():
    proof, commitments, _ = prove_collateral_batch([_account(3)], PUBLIC, CONTEXT, SECRET)
    account = commitments[0]
    moved = AccountCommitments(account.cash, account.positions, account.witnesses, account.margin_mode,
                               (account.balances[0] + commit(10**8, 0), account.balances[1]))
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, [moved], PUBLIC, CONTEXT)


def test_account_encodings_of_the_first_wave_are_refused():
    _, commitments, openings = prove_collateral_batch([_account(4)], PUBLIC, CONTEXT, SECRET)
    old = bytes([1]) + commitments[0].to_bytes()[1:]
    with pytest.raises(EncodingError, match="version 1"):
        AccountCommitments.from_bytes(old)
    with pytest.raises(EncodingError, match="version 1"):
        AccountOpening.from_bytes(bytes([1]) + openings[0].to_bytes()[1:])


def test_the_shape_must_carry_one_balance_per_asset():
    proof, commitments, _ = prove_collateral_batch([_account(5)], PUBLIC, CONTEXT, SECRET)
    account = commitments[0]
    short = AccountCommitments(account.cash, account.positions, account.witnesses, account.margin_mode,
                               account.balances[:1])
    with pytest.raises(VerificationError, match="shape"):
        verify_collateral_batch(proof, [short], PUBLIC, CONTEXT)


def _malicious_prover(monkeypatch, tamper=None):
    """Skip the prover's checks (``tamper`` may change the assigned values) and prove wrapped residues with the
    raw Bulletproofs++ prover, as an operator who wants a false statement to verify would."""
    def unchecked_assign(index, witness, public):
        values = list(account_statement(public, witness.margin_mode).assign(witness))
        if tamper is not None:
            tamper(values, account_statement(public, witness.margin_mode).statement.variables)
        return tuple(values)

    def wrapped_prove_bound_range(values, blindings, n_bits, context, rng=None):
        residues = [v % R for v in values]
        transcript = bpp.bound_range_proof_transcript(len(values), context, n_bits)
        return bpp._prove(residues, blindings, transcript, bpp.fr_random, check_witness=False, n_bits=n_bits)

    monkeypatch.setattr(collateral, "assign_account", unchecked_assign)
    monkeypatch.setattr(collateral, "prove_bound_range_pp", wrapped_prove_bound_range)


def test_attack_a_negative_btc_balance_is_refused_by_the_prover_and_rejected_by_the_verifier(monkeypatch):
    # The account owes one BTC: counted as a negative liability it would lower the BTC total the reserves must cover.
    witness = AccountWitness(required_cash(PUBLIC, (0, 0), balances=(0, 0)) + 10**12, (0, 0), "standard",
                             (-10**8, 0))
    with pytest.raises(ProvingError, match="negative BTC balance -100000000"):
        prove_collateral_batch([witness], PUBLIC, CONTEXT, SECRET)
    _malicious_prover(monkeypatch)
    proof, commitments, _ = prove_collateral_batch([witness], PUBLIC, CONTEXT, SECRET)
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, commitments, PUBLIC, CONTEXT)


def test_attack_a_haircut_value_above_the_tier_line_is_rejected(monkeypatch):
    balances = (10 * 10**8, 0)  # 10 BTC: 600,000 USD of value, where the 95 % line binds
    positions = (200, -150)
    witness = AccountWitness(required_cash(PUBLIC, positions, balances=balances), positions, "standard", balances)
    honest = account_statement(PUBLIC, "standard").assign(witness)
    assert account_statement(PUBLIC, "standard").statement.violations(honest) == []

    def inflate(values, names):  # claim 100 USD more collateral credit than the tier line gives
        values[names.index("haircut[0]")] += 100_000_000

    shortfall = AccountWitness(witness.cash - 100_000_000, positions, "standard", balances)
    with pytest.raises(ProvingError, match="undercollateralized"):
        prove_collateral_batch([shortfall], PUBLIC, CONTEXT, SECRET)
    _malicious_prover(monkeypatch, inflate)
    proof, commitments, _ = prove_collateral_batch([shortfall], PUBLIC, CONTEXT, SECRET)
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, commitments, PUBLIC, CONTEXT)
