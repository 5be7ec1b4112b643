"""The chunks' position vectors checked together (session 15, ``verify_position_vectors``: one MSM, random 128-bit
weights): honest checks pass, any one false check fails wherever it sits, errors that would cancel under fixed
weights do not, and the audit still names the first failing chunk."""

from dataclasses import replace

import pytest

from tests.proofs.epoch_fixtures import SYSTEM, honest_epoch, published
from tests.proofs.test_position_vector import _forged_chunk, _proof, _with_chunk
from zkclear.crypto.field import R
from zkclear.crypto.generators import pedersen_generators
from zkclear.errors import VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.position_vector import PositionVectorCheck, verify_position_vector, verify_position_vectors
from zkclear.verifier.audit import audit_epoch


def _checks():
    """Three honest checks over different totals and contexts."""
    out = []
    for k, totals in enumerate(((5, -3, 0, 7, 1), (0, 0, 0, 0, 0), (-9, 4, 2, 1 << 40, 6))):
        context = b"chunk %d" % k
        sums, proof = _proof(totals, context)
        out.append(PositionVectorCheck(context, tuple(sums), proof))
    return out


def test_honest_checks_pass_together_and_no_checks_pass():
    checks = _checks()
    assert all(verify_position_vector(c.context, c.sums, c.proof) for c in checks)
    assert verify_position_vectors(checks)
    assert verify_position_vectors(checks[:1])
    assert verify_position_vectors([])


@pytest.mark.parametrize("where", [0, 1, 2])
@pytest.mark.parametrize("tamper", ["z", "u", "w", "vector", "context", "sums"])
def test_one_false_check_fails_the_batch_wherever_it_sits(where, tamper):
    checks = _checks()
    check = checks[where]
    proof = check.proof
    h = pedersen_generators()[1]
    if tamper == "z":
        bad = replace(check, proof=replace(proof, z=((proof.z[0] + 1) % R, *proof.z[1:])))
    elif tamper == "u":
        bad = replace(check, proof=replace(proof, u=(proof.u + 1) % R))
    elif tamper == "w":
        bad = replace(check, proof=replace(proof, w=(proof.w + 1) % R))
    elif tamper == "vector":
        bad = replace(check, proof=replace(proof, vector=proof.vector + h))
    elif tamper == "context":
        bad = replace(check, context=check.context + b"!")
    else:
        bad = replace(check, sums=(check.sums[0] + h, *check.sums[1:]))
    assert not verify_position_vector(bad.context, bad.sums, bad.proof)
    checks[where] = bad
    assert not verify_position_vectors(checks)


def test_errors_that_cancel_under_equal_weights_fail():
    """u + 1 in one proof and u − 1 in another add up to nothing with weights 1, 1: the weights are random."""
    checks = _checks()
    first, second = checks[0], checks[1]
    checks[0] = replace(first, proof=replace(first.proof, u=(first.proof.u + 1) % R))
    checks[1] = replace(second, proof=replace(second.proof, u=(second.proof.u - 1) % R))
    assert not verify_position_vectors(checks)


def test_a_proof_for_another_number_of_instruments_fails():
    checks = _checks()
    short = checks[1]
    checks[1] = replace(short, proof=replace(short.proof, z=short.proof.z[:-1]))
    assert not verify_position_vectors(checks)
    checks = _checks()
    checks[2] = replace(checks[2], sums=checks[2].sums[:-1])
    assert not verify_position_vectors(checks)


def test_the_audit_names_the_chunk_whose_vector_fails_when_an_earlier_one_passes():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    assert len(audit.chunks) > 1
    last = len(audit.chunks) - 1
    tampered = _with_chunk(audit, last, _forged_chunk(epoch, audit.chunks[last]))
    with pytest.raises(VerificationError) as caught:
        audit_epoch(published(epoch), tampered, chunk_system=SYSTEM, executor=SerialExecutor())
    assert caught.value.reason == "chunk-position-vector"
    assert caught.value.index == audit.chunks[last].position
