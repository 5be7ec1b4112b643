"""Red team: Bulletproofs++ as the collateral prover (proof version 4) and in mixed batches.

An adversarial operator or outsider against the integration, not the primitive: the shared multi-scalar
multiplication of mixed batches (check_terms sums g and h vectors over their own lengths), the collateral proof
v4 bytes (part counts, widths, versions), the binding of each part's bound transcript by ``part_context`` (no V
is absorbed: every input the forms depend on must be hashed), parts moved between parts, batches and contexts,
and wrap-around mod r by a malicious prover that emits the proof (``range_proof._prove`` unchecked, with digits
that have the right sum but are not digits) so that the verifier is what must reject it.
"""

from __future__ import annotations

import dataclasses
import random
import struct

import pytest

import provers.collateral as collateral
from circuits import AccountWitness, account_statement
from circuits.examples import collateralized_account, linear_perpetuals, options_portfolio
from provers.bulletproofs import (
    BoundRangeStatement,
    CommitmentForm,
    RangeStatement,
    batch_verify,
    prove_bound_range,
    prove_range,
)
from provers.bulletproofs.range_proof import check_terms
from provers.bulletproofs_pp import (
    BppBoundRangeStatement,
    BppRangeProof,
    BppRangeStatement,
    prove_bound_range_pp,
    prove_range_pp,
)
from provers.bulletproofs_pp import range_proof as bpp
from provers.collateral import (
    CollateralBatchProof,
    ProofPart,
    batch_context,
    collateral_statements,
    part_context,
    prove_collateral,
    prove_collateral_batch,
    verify_collateral,
    verify_collateral_batch,
)
from tests.provers.bpp_malicious import lying_digits
from zkclear.crypto.field import R, fr_random
from zkclear.crypto.group import G1Point
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, VerificationError
from zkclear.proofs.chunks import CollateralChunks

CONTEXT = b"redteam/epoch-9/chunk-1"
SECRET = BlindingSource.deterministic(b"r" * 32)
LINEAR = linear_perpetuals(2)
OPTIONS = options_portfolio(1, 2)


def _account(public, mode: str = "standard", seed: int = 1) -> AccountWitness:
    return collateralized_account(public, random.Random(seed), mode=mode, held=2, max_lots=500)


@pytest.fixture(scope="module")
def batch():
    proof, commitments, _ = prove_collateral_batch([_account(LINEAR, seed=1)], LINEAR, CONTEXT, SECRET)
    return proof, commitments


def _part_bytes(n_bits: int, m: int, body: bytes) -> bytes:
    return struct.pack(">BII", n_bits, m, len(body)) + body


def _proof_bytes(parts: list[bytes], version: int = 4) -> bytes:
    return b"ZKCB" + struct.pack(">BH", version, len(parts)) + b"".join(parts) + struct.pack(">I", 0)


# --- malicious digits: the right sum, not digits ------------------------------------------------------------


def _malicious_collateral_prover(monkeypatch, digits=lying_digits):
    """The operator skips the account checks and emits Bulletproofs++ parts for whatever the forms are."""
    monkeypatch.setattr(collateral, "assign_account",
                        lambda index, witness, public: account_statement(public, witness.margin_mode).assign(witness))
    if digits is not None:
        monkeypatch.setattr(bpp, "_digits", digits)

    def unchecked(values, blindings, n_bits, context, rng=None):
        transcript = bpp.bound_range_proof_transcript(len(values), context, n_bits)
        return bpp._prove([v % R for v in values], blindings, transcript, fr_random, check_witness=False,
                          n_bits=n_bits)

    monkeypatch.setattr(collateral, "prove_bound_range_pp", unchecked)


def test_the_malicious_collateral_prover_is_a_prover_on_honest_accounts(monkeypatch):
    # control: the lying harness on collateralized accounts emits proofs that verify
    _malicious_collateral_prover(monkeypatch)
    proof, commitments, _ = prove_collateral_batch([_account(LINEAR, seed=2), _account(LINEAR, seed=3)], LINEAR,
                                                   CONTEXT, SECRET)
    verify_collateral_batch(proof, commitments, LINEAR, CONTEXT)


@pytest.mark.parametrize("witness", [
    AccountWitness(1_000, (400, -300)),                 # maintenance = 1000 − 3·10^8 < 0: r − x, exact digit sum
    AccountWitness(-1, (0, 0)),                         # equity −1 (64-bit part)
    AccountWitness(10**16, (1 << 32, 0)),               # long[0] = short-free 2^32: digit 16 in a 32-bit part
    AccountWitness(10**16, (-(1 << 32), 0)),            # short[0] = 2^32 (long 0, position −2^32)
    AccountWitness(1 << 64, (0, 0)),                    # equity exactly 2^64: digit 16 in a 64-bit part
    AccountWitness(10**9, ((R + 1) // 2, 0)),           # half a lot mod r
], ids=["negative-maintenance", "negative-equity", "long-2^32", "short-2^32", "equity-2^64", "half-lot"])
def test_wrapped_collateral_forms_with_exact_digit_sums_are_rejected(monkeypatch, witness):
    _malicious_collateral_prover(monkeypatch)
    proof, commitments, _ = prove_collateral_batch([_account(LINEAR, seed=4), witness], LINEAR, CONTEXT, SECRET)
    data = proof.to_bytes()  # well formed: only verification can refuse it
    decoded = CollateralBatchProof.from_bytes(data)
    with pytest.raises(VerificationError):
        verify_collateral_batch(decoded, commitments, LINEAR, CONTEXT)
    statements = collateral_statements(decoded, commitments, LINEAR, CONTEXT)
    with pytest.raises(VerificationError) as caught:
        batch_verify(statements, identify_failure=True)
    # the failing part is one that holds a form of the lying account (account 1)
    layout = collateral._layout(LINEAR, ("standard", "standard"))
    assert any(account == 1 for account, _ in layout[caught.value.index][1])


# --- collateral proof v4 bytes --------------------------------------------------------------------------------


def test_a_part_of_more_than_64_forms_or_of_none_is_an_encoding_error(batch):
    proof, _ = batch
    body = proof.parts[0].proof.to_bytes()
    for m in (0, 65, 128, 1 << 31):
        with pytest.raises(EncodingError):
            CollateralBatchProof.from_bytes(_proof_bytes([_part_bytes(32, m, body)]))


def test_a_part_relabelled_with_another_width_or_count_is_rejected(batch):
    proof, commitments = batch
    first = proof.parts[0]  # (32, 4)
    body = first.proof.to_bytes()
    rest = [_part_bytes(p.n_bits, p.m, p.proof.to_bytes()) for p in proof.parts[1:]]
    for n_bits, m in ((8, 4), (16, 4), (64, 4), (32, 2), (32, 8), (7, 4), (0, 4)):
        with pytest.raises(EncodingError):  # the n_bits byte and the shape of the body disagree
            CollateralBatchProof.from_bytes(_proof_bytes([_part_bytes(n_bits, m, body), *rest]))
    # the same 4 values proven honestly at 8, 16 and 64 bits: decodes, but the layout says 32
    values = [1, 2, 3, 4]
    for n_bits in (8, 16, 64):
        other = prove_range_pp(values, [5, 6, 7, 8], b"x", n_bits=n_bits)[0]
        swapped = dataclasses.replace(proof, parts=(ProofPart(n_bits, 4, other), *proof.parts[1:]))
        decoded = CollateralBatchProof.from_bytes(swapped.to_bytes())
        with pytest.raises(VerificationError, match="layout"):
            verify_collateral_batch(decoded, commitments, LINEAR, CONTEXT)
    # a part object whose label says 32 but whose proof is for 16 bits (never produced by the decoder)
    sixteen = prove_range_pp(values, [5, 6, 7, 8], b"x", n_bits=16)[0]
    mislabelled = dataclasses.replace(proof, parts=(ProofPart(32, 4, sixteen), *proof.parts[1:]))
    with pytest.raises(VerificationError):
        verify_collateral_batch(mislabelled, commitments, LINEAR, CONTEXT)


def test_a_version_3_proof_labelled_4_and_a_version_4_proof_labelled_3_are_refused(batch):
    proof, _ = batch
    data = proof.to_bytes()
    with pytest.raises(EncodingError, match="version"):
        CollateralBatchProof.from_bytes(data[:4] + b"\x03" + data[5:])
    # a version 3 part (aggregated Bulletproofs bound proof) in a version 4 container
    bp = prove_bound_range(list(range(4)), [1, 2, 3, 4], 32, b"ctx")
    bp_body = bp.to_bytes()
    rest = [_part_bytes(p.n_bits, p.m, p.proof.to_bytes()) for p in proof.parts[1:]]
    with pytest.raises(EncodingError):
        CollateralBatchProof.from_bytes(_proof_bytes([_part_bytes(32, 4, bp_body), *rest]))


def test_truncated_extended_and_reordered_part_bytes_are_encoding_errors(batch):
    proof, _ = batch
    parts = [_part_bytes(p.n_bits, p.m, p.proof.to_bytes()) for p in proof.parts]
    body = proof.parts[0].proof.to_bytes()
    for bad_body in (body[:-1], body + b"\x00", body[:3] + body[4:] + b"\x00"):
        with pytest.raises(EncodingError):
            CollateralBatchProof.from_bytes(_proof_bytes([_part_bytes(32, 4, bad_body), parts[1]]))
    with pytest.raises(EncodingError):  # the 64-bit part first: its body is not a 32-bit, m = 4 proof
        CollateralBatchProof.from_bytes(_proof_bytes([_part_bytes(32, 4, proof.parts[1].proof.to_bytes()),
                                                      parts[0]]))


def test_chunk_system_turns_any_bytes_into_our_statements_or_a_verification_error(batch):
    """The only path from bytes to a batch-verified object: the decoder, then statement classes of ours (never an
    object that merely has a ``verification_terms`` method)."""
    proof, commitments = batch
    system = CollateralChunks()
    statements = system.statements(proof.to_bytes(), commitments, LINEAR, CONTEXT)
    assert statements and all(type(s) is BppBoundRangeStatement for s in statements)
    assert all(type(s.proof) is BppRangeProof for s in statements)
    for junk in (b"", b"ZKCB", proof.to_bytes()[:-3], b"\x00" * 200):
        with pytest.raises(VerificationError):
            system.statements(junk, commitments, LINEAR, CONTEXT)


# --- binding of the parts (no V in the transcript) -------------------------------------------------------------


def test_part_context_changes_with_each_input_it_must_bind(batch):
    _, commitments = batch
    digest = collateral._commitments_digest(commitments)
    base = part_context(CONTEXT, LINEAR, digest, 32, 0, 2)
    changed = [
        part_context(CONTEXT + b"!", LINEAR, digest, 32, 0, 2),
        part_context(CONTEXT, OPTIONS, digest, 32, 0, 2),
        part_context(CONTEXT, LINEAR, bytes(32), 32, 0, 2),
        part_context(CONTEXT, LINEAR, digest, 64, 0, 2),
        part_context(CONTEXT, LINEAR, digest, 32, 1, 2),
        part_context(CONTEXT, LINEAR, digest, 32, 0, 3),
        # the length prefix: moving a byte from the context into ... cannot collide
        part_context(CONTEXT[:-1], LINEAR, digest, 32, 0, 2),
    ]
    assert len({base, *changed}) == len(changed) + 1
    # the commitments digest covers every point and the margin mode of every account
    moved = dataclasses.replace(commitments[0], witnesses=(commitments[0].witnesses[0] + G1Point.generator(),
                                                           *commitments[0].witnesses[1:]))
    assert collateral._commitments_digest([moved]) != digest
    portfolio = dataclasses.replace(commitments[0], margin_mode="portfolio")
    assert collateral._commitments_digest([portfolio]) != digest
    assert collateral._commitments_digest([commitments[0], commitments[0]]) != digest


def test_a_padding_accounts_margin_mode_switched_after_proving_is_rejected():
    # standard and portfolio accounts of OPTIONS have different forms; an operator that relabels a zero account
    # (keeping its points) changes the forms after the challenges: the commitments digest binds the mode
    witnesses = [_account(OPTIONS, "standard", 1), AccountWitness(0, (0, 0, 0), "portfolio")]
    proof, commitments, _ = prove_collateral_batch(witnesses, OPTIONS, CONTEXT, SECRET)
    verify_collateral_batch(proof, commitments, OPTIONS, CONTEXT)
    switched = [commitments[0], dataclasses.replace(commitments[1], margin_mode="standard")]
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, switched, OPTIONS, CONTEXT)


def test_two_parts_of_the_same_shape_swapped_within_a_batch_are_rejected(monkeypatch):
    # parts of at most 64 bits: one account's four 32-bit forms are two (32, 2) parts, its two 64-bit forms two
    # (64, 1) parts — each pair has the same shape, only the part index in the context tells them apart
    monkeypatch.setattr(collateral, "MAX_PROOF_BITS", 64)
    collateral._layout.cache_clear()
    try:
        proof, commitments, _ = prove_collateral_batch([_account(LINEAR, seed=5)], LINEAR, CONTEXT, SECRET)
        assert proof.layout == ((32, 2), (32, 2), (64, 1), (64, 1))
        verify_collateral_batch(proof, commitments, LINEAR, CONTEXT)
        p = proof.parts
        for order in ((1, 0, 2, 3), (0, 1, 3, 2), (0, 0, 2, 3), (0, 1, 2, 2)):
            forged = dataclasses.replace(proof, parts=tuple(p[i] for i in order))
            with pytest.raises(VerificationError):
                verify_collateral_batch(forged, commitments, LINEAR, CONTEXT)
    finally:
        monkeypatch.undo()
        collateral._layout.cache_clear()


def test_a_part_copied_from_another_batch_or_context_is_rejected():
    # two batches of one epoch with the same layout: batch 1's first part replaced by batch 0's
    witnesses = [_account(LINEAR, seed=s) for s in (6, 7)]
    batches = prove_collateral(witnesses, LINEAR, CONTEXT, SECRET, batch_size=1)
    pairs = [(b.proof, b.commitments) for b in batches]
    verify_collateral(pairs, LINEAR, CONTEXT)
    assert batches[0].proof.layout == batches[1].proof.layout
    copied = dataclasses.replace(batches[1].proof, parts=(batches[0].proof.parts[0], *batches[1].proof.parts[1:]))
    with pytest.raises(VerificationError):
        verify_collateral([pairs[0], (copied, batches[1].commitments)], LINEAR, CONTEXT)
    # the same batch proof under another epoch's context, or as batch 1
    with pytest.raises(VerificationError):
        verify_collateral_batch(batches[0].proof, batches[0].commitments, LINEAR, batch_context(CONTEXT + b"x", 0))
    with pytest.raises(VerificationError):
        verify_collateral_batch(batches[0].proof, batches[0].commitments, LINEAR, batch_context(CONTEXT, 1))


def test_an_honest_part_proof_about_other_openings_of_the_same_shape_is_rejected(batch):
    # the operator proves the right shape (4 values of 32 bits) in the right context but for openings that are
    # not the forms (e.g. clamped values): bound statements compute V from the forms, never from the proof
    proof, commitments = batch
    digest = collateral._commitments_digest(commitments)
    ctx = part_context(CONTEXT, LINEAR, digest, 32, 0, len(proof.parts))
    other = prove_bound_range_pp([0, 0, 0, 0], [1, 2, 3, 4], 32, ctx)
    forged = dataclasses.replace(proof, parts=(ProofPart(32, 4, other), *proof.parts[1:]))
    with pytest.raises(VerificationError):
        verify_collateral_batch(forged, commitments, LINEAR, CONTEXT)


# --- mixed batches and the shared MSM ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes():
    """Statements whose g and h vectors have every relation: BP 64-bit m=2 (g = h = 128), BP++ 8-bit m=1 (g 2,
    h 31), BP++ 64-bit m=4 (g 64, h 31), BP++ 16-bit m=3 (g 16, h 31) and a BP bound 8-bit one (g = h = 8)."""
    bp, bp_commitments = prove_range([5, 6], [7, 8], 64, b"bp")
    out = [RangeStatement(bp, tuple(bp_commitments), 64, b"bp")]
    for n_bits, m in ((8, 1), (64, 4), (16, 3)):
        values = [(1 << n_bits) - 1 - k for k in range(m)]
        proof, points = prove_range_pp(values, [11 + k for k in range(m)], b"pp", n_bits=n_bits)
        out.append(BppRangeStatement(proof, tuple(points), n_bits, b"pp"))
    x = commit(9, 10)
    bound = prove_bound_range([10], [10], 8, b"bound")
    out.append(BoundRangeStatement(bound, (CommitmentForm((x,), (1,), 1),), 8, b"bound"))
    return out


def test_statement_shapes_cover_h_longer_than_g_and_g_longer_than_h(shapes):
    terms = [s.verification_terms(1, fr_random) for s in shapes]
    sizes = [(len(t.g_scalars), len(t.h_scalars)) for t in terms]
    assert sizes == [(128, 128), (2, 31), (64, 31), (16, 31), (8, 8)]
    batch_verify(shapes)
    for statement in shapes:
        batch_verify([statement])


def test_the_tail_of_a_long_h_vector_is_checked_alone_and_in_a_batch(shapes):
    # an h scalar far past the end of the statement's g vector (an 8-bit BP++ proof: g of length 2, h of 31)
    # must reach its own H_i: dropping or moving it breaks the equation, alone and next to a longer BP statement
    statement = shapes[1]
    for change in ("drop", "shift", "move to g"):
        terms = statement.verification_terms(fr_random() or 1, fr_random)
        last = max(i for i, s in enumerate(terms.h_scalars) if s)  # the unused slots of an honest proof are 0
        assert last >= 8 > len(terms.g_scalars)
        tail = terms.h_scalars[last]
        if change == "drop":
            del terms.h_scalars[last:]
        elif change == "shift":
            terms.h_scalars.insert(0, 0)
            terms.h_scalars.pop()
        else:
            terms.h_scalars[last] = 0
            terms.g_scalars.extend([0] * (last - len(terms.g_scalars)) + [tail])
        others = [s.verification_terms(fr_random() or 1, fr_random) for s in (shapes[0], shapes[2])]
        assert not check_terms([terms])
        assert not check_terms([*others, terms])
        assert check_terms(others)


def test_false_statements_cannot_cancel_each_other_in_one_batch(shapes):
    # the same BP++ proof for V + G and for V − G (its errors are ±G times the V factor): independent weights
    honest = shapes[3]
    up = dataclasses.replace(honest, commitments=(honest.commitments[0] + G1Point.generator(),
                                                  *honest.commitments[1:]))
    down = dataclasses.replace(honest, commitments=(honest.commitments[0] - G1Point.generator(),
                                                    *honest.commitments[1:]))
    for batch_ in ([up, down], [up, down, *shapes], [up, up], [down, honest, up]):
        with pytest.raises(VerificationError):
            batch_verify(batch_)
    # bound forms with constants +1 and −1 around an honest one
    x = commit(3, 4)
    ctx = b"cancel"
    proof = prove_bound_range_pp([3], [4], 8, ctx)
    plus = BppBoundRangeStatement(proof, (CommitmentForm((x,), (1,), 1),), 8, ctx)
    minus = BppBoundRangeStatement(proof, (CommitmentForm((x,), (1,), -1),), 8, ctx)
    batch_verify([BppBoundRangeStatement(proof, (CommitmentForm((x,), (1,), 0),), 8, ctx)])
    with pytest.raises(VerificationError):
        batch_verify([plus, minus])


def test_a_statement_with_empty_vectors_cannot_be_built_from_a_proof(shapes):
    # zero-length g/h vectors would come from m = 0: refused by the statement before any term is produced
    pp = shapes[1]
    for m_zero in (BppRangeStatement(pp.proof, (), 8, b"pp"),
                   BppBoundRangeStatement(pp.proof, (), 8, b"pp")):
        with pytest.raises(VerificationError) as caught:
            batch_verify([shapes[0], m_zero])
        assert caught.value.index == 1
    # more than 64 values
    many = BppRangeStatement(pp.proof, (pp.commitments[0],) * 65, 8, b"pp")
    with pytest.raises(VerificationError):
        batch_verify([many])


def test_an_ordinary_proof_of_the_true_form_values_in_the_part_context_is_not_a_part_proof(batch):
    # the operator holds the openings: an ordinary (V-absorbing) Bulletproofs++ proof of the part's true values in the
    # part's own context has the right shape and bytes, but the other transcript label
    proof, commitments = batch
    _, same, openings = prove_collateral_batch([_account(LINEAR, seed=1)], LINEAR, CONTEXT, SECRET)
    assert same == commitments  # deterministic blindings: the fixture's batch, with its openings
    layout = collateral._layout(LINEAR, ("standard",))
    statement = account_statement(LINEAR, "standard").statement
    values = openings[0].values
    blinds = openings[0].blindings
    width, entries = layout[0]
    forms = [statement.constraints[k].form for _, k in entries]
    form_values = [f.evaluate(values) for f in forms]
    form_blinds = [collateral._form_blinding(f, blinds) for f in forms]
    ctx = part_context(CONTEXT, LINEAR, collateral._commitments_digest(commitments), width, 0, len(layout))
    ordinary, points = prove_range_pp(form_values, form_blinds, ctx, n_bits=width)
    assert list(points) == [collateral._combine(f, commitments[0].variables) for f in forms]
    forged = dataclasses.replace(proof, parts=(ProofPart(width, len(entries), ordinary), *proof.parts[1:]))
    decoded = CollateralBatchProof.from_bytes(forged.to_bytes())
    with pytest.raises(VerificationError):
        verify_collateral_batch(decoded, commitments, LINEAR, CONTEXT)
    # and the honest part proof of this batch is not a node-style (ordinary) proof of those commitments
    with pytest.raises(VerificationError):
        batch_verify([BppRangeStatement(proof.parts[0].proof, tuple(points), width, ctx)])
    bound = prove_bound_range_pp(form_values, form_blinds, width, ctx)
    verify_collateral_batch(dataclasses.replace(proof, parts=(ProofPart(width, len(entries), bound),
                                                              *proof.parts[1:])), commitments, LINEAR, CONTEXT)


def test_a_chunk_proof_of_the_wrong_shape_is_refused_before_any_range_proof_is_decoded(monkeypatch):
    # Red-team finding (low): a proof of many junk parts was decoded point by point before its layout was
    # compared. With the expected layout the part headers are checked first.
    witnesses = [_account(LINEAR, seed=1), _account(LINEAR, seed=2)]
    proof, commitments, _ = prove_collateral_batch(witnesses, LINEAR, CONTEXT, SECRET)
    encoded = proof.to_bytes()
    count, offset, headers = struct.unpack(">H", encoded[5:7])[0], 7, []
    for _ in range(count):
        (length,) = struct.unpack(">I", encoded[offset + 5:offset + 9])
        headers.append((encoded[offset:offset + 9], encoded[offset + 9:offset + 9 + length]))
        offset += 9 + length
    zeros = encoded[offset:]
    junk_part = headers[0][0] + headers[0][1]
    many = encoded[:5] + struct.pack(">H", 5_000) + junk_part * 5_000 + zeros
    decoded = []
    original = collateral.BppRangeProof.from_bytes

    def counting(data, **kwargs):
        decoded.append(len(data))
        return original(data, **kwargs)

    monkeypatch.setattr(collateral.BppRangeProof, "from_bytes", staticmethod(counting))
    with pytest.raises(VerificationError):
        CollateralChunks().statements(many, commitments, LINEAR, CONTEXT)
    assert decoded == []
    swapped = encoded[:7] + headers[1][0][:1] + headers[0][0][1:] + encoded[16:]
    with pytest.raises(VerificationError):
        CollateralChunks().statements(swapped, commitments, LINEAR, CONTEXT)
    assert decoded == []
    # the honest proof still decodes every part and verifies
    statements = CollateralChunks().statements(encoded, commitments, LINEAR, CONTEXT)
    assert len(decoded) == count
    batch_verify(statements)
