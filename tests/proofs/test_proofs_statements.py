"""Header binding and chaining, matched book and solvency as standalone statements."""

from dataclasses import replace

import pytest

from provers.bulletproofs import verify_range
from zkclear.crypto.pedersen import commit
from zkclear.errors import EncodingError, ProvingError, VerificationError
from zkclear.proofs.header import FIRST_EPOCH, GENESIS, ChainLink, EpochHeader, check_chain, check_first
from zkclear.proofs.matched_book import matched_book_blinding, require_matched
from zkclear.proofs.solvency import prove_solvency, solvency_statement
from zkclear.tree.placement import TreeConfig

HEADER = EpochHeader(
    5, GENESIS, GENESIS, b"p" * 32, b"i" * 32, b"r" * 32, (10_000,), 2, 32, TreeConfig(height=12, chunk_bits=3)
)


def test_header_round_trips_and_rejects_bad_bytes():
    assert EpochHeader.from_bytes(HEADER.to_bytes()) == HEADER
    with pytest.raises(EncodingError):
        EpochHeader.from_bytes(HEADER.to_bytes()[:-1])
    bad_version = b"\x00\x09" + HEADER.to_bytes()[2:]
    with pytest.raises(EncodingError):
        EpochHeader.from_bytes(bad_version)
    second_wave = b"\x00\x02" + HEADER.to_bytes()[2:]
    with pytest.raises(EncodingError, match="version 2"):
        EpochHeader.from_bytes(second_wave)
    multi = replace(HEADER, reserve_totals=(10_000, 3 * 10**8, 0))
    assert EpochHeader.from_bytes(multi.to_bytes()) == multi and multi.asset_count == 3
    assert len(multi.to_bytes()) == len(HEADER.to_bytes()) + 16
    for totals in ((), (1 << 64,), (0,) * 34):
        with pytest.raises(EncodingError, match="reserve totals"):
            replace(HEADER, reserve_totals=totals)
    with pytest.raises(EncodingError):  # the asset count says more totals than the bytes hold
        EpochHeader.from_bytes(multi.to_bytes()[:-8])


def test_every_header_field_changes_the_digest_and_the_contexts():
    changed = [
        replace(HEADER, epoch_id=6),
        replace(HEADER, previous_root=b"x" * 32),
        replace(HEADER, public_inputs_digest=b"x" * 32),
        replace(HEADER, reserve_totals=(9_999,)),
        replace(HEADER, reserve_totals=(10_000, 0)),
        replace(HEADER, tree=TreeConfig(height=12, chunk_bits=2)),
    ]
    digests = {h.digest() for h in changed} | {HEADER.digest()}
    assert len(digests) == len(changed) + 1
    assert HEADER.context(b"tree-node", 3, 1) != HEADER.context(b"tree-node", 3, 2)
    assert HEADER.context(b"solvency").startswith(HEADER.digest())


def test_chain_checks_epoch_id_previous_root_and_hash():
    link = ChainLink(4, b"a" * 32, b"b" * 32)
    following = replace(HEADER, previous_root=b"a" * 32, previous_epoch_hash=b"b" * 32)
    check_chain(link, following)
    for broken in (
        replace(following, epoch_id=7),
        replace(following, previous_root=b"c" * 32),
        replace(following, previous_epoch_hash=GENESIS),
    ):
        with pytest.raises(VerificationError, match="epoch-chain-broken"):
            check_chain(link, broken)
    check_chain(None, HEADER)
    with pytest.raises(VerificationError):
        check_chain(None, following)


def test_epoch_1_is_a_genesis_header_and_a_later_first_epoch_is_not_checked_alone():
    genesis = replace(HEADER, epoch_id=FIRST_EPOCH)
    named = replace(genesis, previous_root=b"a" * 32, previous_epoch_hash=b"b" * 32)
    check_first(genesis)
    check_first(replace(named, epoch_id=FIRST_EPOCH + 1))  # its predecessor is not given: nothing to compare
    for header in (named, replace(genesis, previous_root=b"a" * 32), replace(genesis, previous_epoch_hash=b"b" * 32)):
        with pytest.raises(VerificationError, match="epoch-chain-broken"):
            check_first(header)
        with pytest.raises(VerificationError, match="epoch-chain-broken"):  # even after an "epoch 0" it names
            check_chain(ChainLink(FIRST_EPOCH - 1, header.previous_root, header.previous_epoch_hash), header)


def test_the_matched_book_blinding_opens_a_matched_sum_of_position_vectors_to_zero():
    from zkclear.crypto.pedersen import commit_vector
    from zkclear.proofs.position_vector import position_generators

    gens = position_generators(2)
    chunks = [((3, -1), 11), ((-5, 4), 13), ((2, -3), 15)]
    padding = [17, 19]
    beta = matched_book_blinding([rho for _, rho in chunks], padding)
    total = commit(0, 0) * 0
    for totals, rho in chunks:
        total = total + commit_vector(totals, rho, gens)
    for rho in padding:
        total = total + commit_vector((0, 0), rho, gens)
    assert total == commit(0, beta)
    unmatched = total + commit_vector((1, 0), 0, gens)  # one lot too many in the first instrument
    assert unmatched != commit(0, beta)
    with pytest.raises(ProvingError, match="not matched"):
        require_matched([totals for totals, _ in chunks[:2]], 2)


def test_solvency_proof_hides_the_total_and_fails_for_other_reserves():
    total, blinding = 7_000, 424242
    root = commit(total, blinding)
    proof = prove_solvency((10_000,), (total,), (blinding,), b"ctx")
    statement = solvency_statement(proof, (10_000,), (root,), b"ctx")
    verify_range(statement.proof, statement.commitments, statement.n_bits, statement.context)
    lower = solvency_statement(proof, (9_000,), (root,), b"ctx")
    with pytest.raises(VerificationError):
        verify_range(lower.proof, lower.commitments, lower.n_bits, lower.context)
    with pytest.raises(ProvingError):
        prove_solvency((6_999,), (total,), (blinding,), b"ctx")


def test_solvency_is_proven_per_asset_and_reserves_of_one_asset_cannot_cover_another():
    owed, blindings = (7_000, 250_000_000), (424242, 515151)
    roots = tuple(commit(v, b) for v, b in zip(owed, blindings, strict=True))
    reserves = (10_000, 300_000_000)
    proof = prove_solvency(reserves, owed, blindings, b"ctx", asset_ids=("USD", "BTC"))
    statement = solvency_statement(proof, reserves, roots, b"ctx")
    verify_range(statement.proof, statement.commitments, statement.n_bits, statement.context)
    # the same total reserves, moved from BTC to USD: BTC's liabilities are no longer covered
    moved = solvency_statement(proof, (10_000 + 100_000_000, 200_000_000), roots, b"ctx")
    with pytest.raises(VerificationError):
        verify_range(moved.proof, moved.commitments, moved.n_bits, moved.context)
    with pytest.raises(ProvingError, match="reserves of BTC"):
        prove_solvency((10_000 + 100_000_000, 200_000_000), owed, blindings, b"ctx", asset_ids=("USD", "BTC"))
