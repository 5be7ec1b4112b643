"""Collateralization batch proofs: honest accounts verify, every attack is rejected."""

import dataclasses
import random

import pytest

import provers.collateral as collateral
from circuits import AccountWitness, account_statement
from circuits.constraint_system import Constraint
from circuits.examples import collateralized_account, linear_perpetuals, options_portfolio, tiered_perpetuals
from provers.bulletproofs_pp import range_proof as bpp
from provers.collateral import (
    AccountCommitments,
    AccountOpening,
    CollateralBatchProof,
    batch_context,
    collateral_statements,
    max_equity_bits,
    proof_layout,
    prove_collateral,
    prove_collateral_batch,
    verify_collateral,
    verify_collateral_batch,
)
from zkclear.crypto.field import R
from zkclear.crypto.group import G1Point
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, ProvingError, VerificationError
from zkclear.executor import SerialExecutor

CONTEXT = b"epoch-7/chunk-3"
SECRET = BlindingSource.deterministic(b"s" * 32)

LINEAR = linear_perpetuals(2)
TIERED = tiered_perpetuals(2, tiers=3)
OPTIONS = options_portfolio(1, 2)


def _account(public, mode="standard", seed=1, **kwargs):
    return collateralized_account(public, random.Random(seed), mode=mode, held=2, max_lots=500, **kwargs)


@pytest.fixture(scope="module")
def mixed_batch():
    """A standard and a portfolio account and a padding account in one batch under OPTIONS."""
    witnesses = [_account(OPTIONS, "standard", 1), _account(OPTIONS, "portfolio", 2),
                 AccountWitness(0, (0, 0, 0), collateral.DEFAULT_MARGIN_MODE),
                 AccountWitness(0, (0, 0, 0), "portfolio")]
    proof, commitments, openings = prove_collateral_batch(witnesses, OPTIONS, CONTEXT, SECRET)
    return witnesses, proof, commitments, openings


@pytest.mark.parametrize("public, mode", [(LINEAR, "standard"), (TIERED, "standard"), (OPTIONS, "portfolio")])
def test_honest_accounts_verify_under_each_margin_model(public, mode):
    witnesses = [_account(public, mode, seed) for seed in (3, 4)]
    proof, commitments, openings = prove_collateral_batch(witnesses, public, CONTEXT, BlindingSource.random())
    verify_collateral_batch(proof, commitments, public, CONTEXT)
    for witness, opening, account in zip(witnesses, openings, commitments, strict=True):
        assert opening.matches(account)
        value, blinding = opening.equity_opening(public)
        assert account.equity(public) == commit(value, blinding)
        assert 0 <= value < 2 ** max_equity_bits(public)
        assert opening.cash == witness.cash and opening.positions == witness.positions


def test_mixed_modes_and_padding_verify_and_round_trip_through_bytes(mixed_batch):
    _, proof, commitments, openings = mixed_batch
    verify_collateral_batch(proof, commitments, OPTIONS, CONTEXT)
    decoded = CollateralBatchProof.from_bytes(proof.to_bytes(), public=OPTIONS, m=len(commitments))
    decoded_commitments = [AccountCommitments.from_bytes(c.to_bytes()) for c in commitments]
    verify_collateral_batch(decoded, decoded_commitments, OPTIONS, CONTEXT)
    assert [AccountOpening.from_bytes(o.to_bytes()) for o in openings] == openings
    assert openings[2].equity_opening(OPTIONS)[0] == openings[3].equity_opening(OPTIONS)[0] == 0


def test_undercollateralized_account_is_refused_by_the_prover():
    honest = _account(LINEAR, seed=5)
    exactly_covered = _account(LINEAR, seed=5, excess=0)
    short_of_cash = dataclasses.replace(exactly_covered, cash=exactly_covered.cash - 1)
    prove_collateral_batch([exactly_covered], LINEAR, CONTEXT, SECRET)  # the boundary itself proves
    with pytest.raises(ProvingError, match=r"account 1 .*undercollateralized"):
        prove_collateral_batch([honest, short_of_cash], LINEAR, CONTEXT, SECRET)
    with pytest.raises(ProvingError, match="negative equity"):
        prove_collateral_batch([AccountWitness(-1, (0, 0))], LINEAR, CONTEXT, SECRET)


def test_a_neighbours_proof_does_not_verify_for_another_account():
    honest = _account(LINEAR, seed=6)
    proof, commitments, _ = prove_collateral_batch([honest], LINEAR, CONTEXT, SECRET)
    # The undercollateralized neighbour commits to its own (bad) values and reuses the honest proof.
    bad = AccountWitness(0, (400, -300))
    statement = account_statement(LINEAR, "standard")
    values = statement.assign(bad)
    points = [commit(v, 17 + k) for k, v in enumerate(values)]
    forged = AccountCommitments(points[0], tuple(points[1:3]), tuple(points[3:]), "standard")
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, [forged], LINEAR, CONTEXT)
    # Nor does the honest proof survive a swap of the cash commitment for another value.
    altered = dataclasses.replace(commitments[0], cash=commitments[0].cash + G1Point.generator())
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, [altered], LINEAR, CONTEXT)


def test_swapping_accounts_within_a_batch_fails(mixed_batch):
    _, proof, commitments, _ = mixed_batch
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, [commitments[1], commitments[0], *commitments[2:]], OPTIONS, CONTEXT)
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, commitments, OPTIONS, CONTEXT + b"!")


def _changed_public(kind):
    first, second = OPTIONS.instruments[0], OPTIONS.instruments[1]
    if kind == "price":
        changed = dataclasses.replace(second, value_per_lot=second.value_per_lot + 1)
        return dataclasses.replace(OPTIONS, instruments=(first, changed, *OPTIONS.instruments[2:]))
    if kind == "margin parameter":
        line = first.margin_lines[0]
        bumped = dataclasses.replace(line, long_per_lot=line.long_per_lot + 1)
        changed = dataclasses.replace(first, margin_lines=(bumped,))
        return dataclasses.replace(OPTIONS, instruments=(changed, *OPTIONS.instruments[1:]))
    if kind == "charge":
        changed = dataclasses.replace(second, short_charge=second.short_charge + 1)
        return dataclasses.replace(OPTIONS, instruments=(first, changed, *OPTIONS.instruments[2:]))
    table = OPTIONS.scenario_margin
    rows = [list(row) for row in table.value_changes]
    rows[1][5] += 1
    changed_table = dataclasses.replace(table, value_changes=tuple(tuple(row) for row in rows))
    return dataclasses.replace(OPTIONS, scenario_margin=changed_table)


@pytest.mark.parametrize("kind", ["price", "margin parameter", "charge", "scenario entry"])
def test_changing_any_public_input_makes_verification_fail(mixed_batch, kind):
    _, proof, commitments, _ = mixed_batch
    changed = _changed_public(kind)
    assert changed.digest() != OPTIONS.digest()
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, commitments, changed, CONTEXT)


def _malicious_prover(monkeypatch):
    """Skip the prover's checks and prove wrapped residues with the raw Bulletproofs++ prover."""
    def unchecked_assign(index, witness, public):
        return account_statement(public, witness.margin_mode).assign(witness)

    def wrapped_prove_bound_range(values, blindings, n_bits, context, rng=None):
        residues = [v % R for v in values]
        transcript = bpp.bound_range_proof_transcript(len(values), context, n_bits)
        return bpp._prove(residues, blindings, transcript, bpp.fr_random, check_witness=False, n_bits=n_bits)

    monkeypatch.setattr(collateral, "assign_account", unchecked_assign)
    monkeypatch.setattr(collateral, "prove_bound_range_pp", wrapped_prove_bound_range)


@pytest.mark.parametrize("witness", [
    AccountWitness(1_000, (400, -300)),          # maintenance form is negative: r − x as a field element
    AccountWitness(R - 1_000, (0, 0)),           # "negative" cash as a field element
    AccountWitness(10**12, ((R + 1) // 2, 0)),   # a position of 1/2 mod r
], ids=["negative-maintenance", "negative-cash", "half-position"])
def test_wrap_around_attacks_do_not_verify(monkeypatch, witness):
    _malicious_prover(monkeypatch)
    proof, commitments, _ = prove_collateral_batch([witness], LINEAR, CONTEXT, SECRET)
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, commitments, LINEAR, CONTEXT)


def test_proofs_of_different_accounts_have_identical_size_and_structure():
    encoded = []
    for seed, cash_excess in ((8, 10), (9, 10**9)):
        account = _account(TIERED, seed=seed, excess=cash_excess)
        proof, commitments, openings = prove_collateral_batch([account], TIERED, CONTEXT, SECRET)
        encoded.append((proof.layout, len(proof.to_bytes()), len(commitments[0].to_bytes()),
                        len(openings[0].to_bytes())))
    assert encoded[0] == encoded[1]
    assert encoded[0][0] == proof_layout(TIERED, ["standard"])


def test_wrong_layout_or_shape_is_rejected(mixed_batch):
    _, proof, commitments, _ = mixed_batch
    with pytest.raises(VerificationError, match="layout"):
        truncated = dataclasses.replace(proof, parts=proof.parts[:-1])
        verify_collateral_batch(truncated, commitments, OPTIONS, CONTEXT)
    short = dataclasses.replace(commitments[0], positions=commitments[0].positions[:-1])
    with pytest.raises(VerificationError, match="shape"):
        verify_collateral_batch(proof, [short, *commitments[1:]], OPTIONS, CONTEXT)
    with pytest.raises(VerificationError, match="margin mode"):
        verify_collateral_batch(proof, [dataclasses.replace(commitments[1], margin_mode="portfolio")], LINEAR,
                                CONTEXT)


def test_malformed_bytes_are_encoding_errors(mixed_batch):
    _, proof, commitments, openings = mixed_batch
    data = proof.to_bytes()
    for bad in (data[:-1], data + b"\x00", b"ZKCX" + data[4:], data[:20]):
        with pytest.raises(EncodingError):
            CollateralBatchProof.from_bytes(bad)
    with pytest.raises(EncodingError):
        AccountCommitments.from_bytes(commitments[0].to_bytes()[:-1])
    with pytest.raises(EncodingError):
        AccountOpening.from_bytes(openings[0].to_bytes() + b"\x00")


def test_deterministic_blindings_reproduce_commitments():
    witness = _account(LINEAR, seed=10)
    _, first, _ = prove_collateral_batch([witness], LINEAR, CONTEXT, SECRET)
    _, again, _ = prove_collateral_batch([witness], LINEAR, CONTEXT, SECRET)
    _, other, _ = prove_collateral_batch([witness], LINEAR, CONTEXT + b"x", SECRET)
    assert first[0].to_bytes() == again[0].to_bytes()
    assert first[0].cash != other[0].cash


def test_many_batches_verify_together_and_one_bad_batch_fails_them():
    witnesses = [_account(LINEAR, seed=s) for s in (11, 12, 13)]
    batches = prove_collateral(witnesses, LINEAR, CONTEXT, SECRET, batch_size=2, executor=SerialExecutor())
    assert [len(b.commitments) for b in batches] == [2, 1]
    pairs = [(b.proof, b.commitments) for b in batches]
    verify_collateral(pairs, LINEAR, CONTEXT)
    second = batches[1]
    statements = collateral_statements(second.proof, second.commitments, LINEAR, batch_context(CONTEXT, 1))
    assert all(s.n_bits in (32, 64) for s in statements)
    with pytest.raises(VerificationError):
        verify_collateral(list(reversed(pairs)), LINEAR, CONTEXT)


def test_zero_constraints_are_proven_and_checked(monkeypatch):
    # The shipped statements have no zero constraint; a statement with one still proves and verifies.
    base = account_statement(LINEAR, "standard")
    flat = Constraint("flat in position 0", base.positions[0].lc(), None)
    extended = dataclasses.replace(base, statement=dataclasses.replace(
        base.statement, constraints=(*base.statement.constraints, flat)))
    monkeypatch.setattr(collateral, "account_statement", lambda public, mode: extended)
    proof, commitments, _ = prove_collateral_batch([AccountWitness(10**9, (0, 3))], LINEAR, CONTEXT, SECRET)
    assert len(proof.zero_proofs) == 1
    verify_collateral_batch(proof, commitments, LINEAR, CONTEXT)
    with pytest.raises(ProvingError, match="zero constraint"):
        prove_collateral_batch([AccountWitness(10**9, (1, 3))], LINEAR, CONTEXT, SECRET)
    moved = dataclasses.replace(commitments[0], positions=(commitments[0].positions[0] + G1Point.generator(),
                                                           commitments[0].positions[1]))
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, [moved], LINEAR, CONTEXT)


def test_process_executor_proves_the_same_commitments_as_serial_proving():
    from zkclear.executor import get_executor

    witnesses = [_account(LINEAR, seed=s) for s in (14, 15)]
    parallel = prove_collateral(witnesses, LINEAR, CONTEXT, SECRET, batch_size=1,
                                executor=get_executor("process", workers=2))
    serial = prove_collateral(witnesses, LINEAR, CONTEXT, SECRET, batch_size=1)
    assert [b.commitments[0].to_bytes() for b in parallel] == [b.commitments[0].to_bytes() for b in serial]
    verify_collateral([(b.proof, b.commitments) for b in parallel], LINEAR, CONTEXT)
