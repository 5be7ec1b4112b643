"""Known answers: the bytes of Bulletproofs++ proofs and of a collateral batch proof (version 4) for fixed
witnesses and a deterministic nonce source.

The digests were recorded when these proofs entered the product (issue 14). A change of any byte means the
prover, the transcript or the encoding changed: that is a format change (a new encoding, collateral proof or
header version and a note in docs/format.md), never a silent one. Both engines must produce the same bytes.
"""

from __future__ import annotations

import hashlib

import pytest

from circuits import AccountWitness
from circuits.examples import linear_perpetuals
from provers.bulletproofs import CommitmentForm
from provers.bulletproofs_pp import (
    BppRangeProof,
    prove_bound_range_pp,
    prove_range_pp,
    verify_bound_range_pp,
    verify_range_pp,
)
from provers.collateral import CollateralBatchProof, prove_collateral_batch, verify_collateral_batch
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource

SOURCE = BlindingSource.deterministic(b"k" * 32)
BLINDINGS = [11, 12, 13]

#: n_bits -> (bytes, SHA-256 of the unbound proof, SHA-256 of the bound proof) for values (2^n − 1, 0, 5).
RECORDED = {
    8: (643, "57a166894e5e2a744151d5b9b7565171773025d9bcd56b4b08dc10caa39b6391",
        "294de26f982d74a866f71fc5c826a491891e5b2d4d2a7349009d1f1dae7965d7"),
    16: (675, "f730c3967f55731561f22ecbd485e29e43951bd857632d6afb6aaa79ee15d97d",
         "d483d66a4195393304cc839331f047a8d1a30301bdf3ae1deeeb7632779e33bb"),
    32: (707, "151d7056b9065ba79ba4b79db098eca18682577b102415287f6079b6ad158942",
         "e54751bf13aa94587ae855b05b3c473850bfdaec321759c7d161290bb16053b8"),
    64: (771, "5b99bf5c7db5cb19c7e845949fce17dbe9d1def8dab7d03dde769fdc6c6f00f7",
         "4dba3757e5d89c4bdc4f42af78d9fc45092cdc1c0d2d292854d1a462d69fb355"),
}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("n_bits", sorted(RECORDED))
def test_range_proofs_have_their_recorded_bytes_and_verify(n_bits: int) -> None:
    size, unbound_digest, bound_digest = RECORDED[n_bits]
    values = [(1 << n_bits) - 1, 0, 5]
    proof, commitments = prove_range_pp(values, BLINDINGS, b"kat", n_bits=n_bits,
                                        rng=SOURCE.nonces(b"kat", n_bits))
    bound = prove_bound_range_pp(values, BLINDINGS, n_bits, b"kat", rng=SOURCE.nonces(b"kat-bound", n_bits))
    encoded, bound_encoded = proof.to_bytes(), bound.to_bytes()
    assert (len(encoded), _digest(encoded), _digest(bound_encoded)) == (size, unbound_digest, bound_digest)
    decoded = BppRangeProof.from_bytes(encoded, m=3, n_bits=n_bits)
    verify_range_pp(decoded, commitments, b"kat", n_bits=n_bits)
    forms = [CommitmentForm((commit(v, g),), (1,)) for v, g in zip(values, BLINDINGS, strict=True)]
    verify_bound_range_pp(BppRangeProof.from_bytes(bound_encoded, m=3, n_bits=n_bits), forms, n_bits, b"kat")


def test_a_collateral_batch_proof_has_its_recorded_bytes_and_verifies() -> None:
    public = linear_perpetuals(2)
    witnesses = [AccountWitness(10**9, (3, -2)), AccountWitness(5 * 10**8, (0, 1))]
    proof, commitments, _ = prove_collateral_batch(witnesses, public, b"kat", SOURCE)
    encoded = proof.to_bytes()
    assert encoded[:5] == b"ZKCB\x04"
    assert proof.layout == ((32, 8), (64, 4))
    assert (len(encoded), _digest(encoded)) == (
        1571, "af740dd30a00ce34e3f88734e686a0c0f138005ad656ac82f15feb823a1d0ff2")
    verify_collateral_batch(CollateralBatchProof.from_bytes(encoded), commitments, public, b"kat")
