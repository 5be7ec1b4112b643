"""The streaming audit (read from the file, verified in parallel) passes what the in-memory audit passes and
rejects every tampering with the same reason: the tree, the proofs, and (on a multi-asset epoch whose reserves sit
on three chains) every node's per-asset liabilities, the reserves and their attestations."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace

import pytest

import zkclear.proofs.epoch_prover as epoch_prover
from tests.proofs.epoch_fixtures import (
    BITCOIN_KEY,
    MULTI_PUBLIC,
    PUBLIC,
    SMALL,
    SYSTEM,
    honest_epoch,
    make_epoch,
    multi_asset_accounts,
    multi_asset_epoch,
    public_inputs,
    reserves,
    second_epoch,
)
from zkclear.bundle.format import decode_audit_data, encode_audit_data, encode_node_entry, write_file
from zkclear.chains import Attestation, key_from_secret, render_attestation_text, sign_message
from zkclear.chains.keys import sign_attestation_text
from zkclear.crypto.pedersen import commit
from zkclear.errors import EncodingError, VerificationError
from zkclear.executor import ProcessExecutor, SerialExecutor
from zkclear.tree.placement import TreeConfig
from zkclear.tree.sum_tree import TreeNode
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.audit_stream import audit_file
from zkclear.verifier.published import EpochFiles, PublishedEpoch


def _published(tmp_path, bundle, audit, public=PUBLIC) -> PublishedEpoch:
    files = EpochFiles(tmp_path, bundle.header.epoch_id)
    write_file(files.audit, encode_audit_data(audit, SYSTEM))
    return PublishedEpoch(bundle, public, public_inputs(bundle.header.epoch_id, bundle.reserves), files)


def _reasons(tmp_path, bundle, audit, public=PUBLIC, **kwargs) -> tuple[str, str]:
    published = _published(tmp_path, bundle, audit, public)
    with pytest.raises(VerificationError) as in_memory:
        audit_epoch(published, audit, chunk_system=SYSTEM, executor=SerialExecutor(), **kwargs)
    with pytest.raises(VerificationError) as streamed:
        audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=1, **kwargs)
    return in_memory.value.reason, streamed.value.reason


def _check_cases(tmp_path, cases: dict, bundle, public=PUBLIC) -> dict[str, str]:
    """Each case (an audit, or a (bundle, audit) pair) through both audits; returns the reasons by case name."""
    found = {}
    for name, case in cases.items():
        case_bundle, case_audit = case if isinstance(case, tuple) else (bundle, case)
        in_memory, streamed = _reasons(tmp_path, case_bundle, case_audit, public)
        assert streamed == in_memory, name
        found[name] = streamed
    return found


def test_an_honest_epoch_passes_serially_and_on_worker_processes(tmp_path):
    epoch = make_epoch(TreeConfig(height=7, chunk_bits=2, chunk_padding="none"), count=14)
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit)
    expected = audit_epoch(published, epoch.artifacts.audit, chunk_system=SYSTEM, executor=SerialExecutor())
    steps: list[tuple[str, int, int]] = []
    with ProcessExecutor(workers=2) as run:
        report = audit_file(published, chunk_system=SYSTEM, executor=run, group_chunks=3,
                            progress=lambda step, done, total: steps.append((step, done, total)))
    assert (report.chunks, report.leaves, report.upper_nodes, report.reserves, report.header_hash) == (
        expected.chunks, expected.leaves, expected.upper_nodes, expected.reserves, expected.header_hash)
    finished = {step: (done, total) for step, done, total in steps}
    assert finished["chunks (collateralization proofs)"] == (report.chunks, report.chunks)
    assert finished["node range proofs"][0] == finished["node range proofs"][1] > 0


def test_tamperings_get_the_in_memory_audits_reason(tmp_path):
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    c = SMALL.chunk_bits
    cases = {}
    pos = next(p for p in sorted(audit.upper_nodes) if p[0] == c + 2 and p not in audit.padding)
    node = audit.upper_nodes[pos]
    cases["sum"] = replace(audit, upper_nodes={**audit.upper_nodes,
                                               pos: TreeNode.of(node.liabilities[0] - commit(500, 0), node.digest,
                                                                node.positions)})
    cases["hash"] = replace(audit, upper_nodes={**audit.upper_nodes, pos: replace(node, digest=bytes(32))})
    chunk = audit.chunks[0]
    swapped = replace(chunk, id_hashes=(chunk.id_hashes[1], chunk.id_hashes[0], *chunk.id_hashes[2:]))
    cases["swap"] = replace(audit, chunks=(swapped, *audit.chunks[1:]))
    doubled = replace(chunk, id_hashes=(chunk.id_hashes[0], chunk.id_hashes[0], *chunk.id_hashes[2:]))
    cases["duplicate"] = replace(audit, chunks=(doubled, *audit.chunks[1:]))
    padding = dict(audit.padding)
    padding.pop(next(iter(padding)))
    cases["missing padding"] = replace(audit, padding=padding)
    first_pad = next(iter(sorted(audit.padding)))
    blindings, position_blindings = audit.padding[first_pad]
    cases["nonzero padding"] = replace(audit, padding={**audit.padding,
                                                       first_pad: (blindings, (position_blindings[0] + 1,
                                                                               *position_blindings[1:]))})
    cases["policy"] = replace(audit, chunks=audit.chunks[:1] * 3)
    # the same chunks in another order: a second encoding of one audit (both audits accepted it before)
    cases["reordered chunks"] = replace(audit, chunks=(audit.chunks[1], audit.chunks[0], *audit.chunks[2:]))
    other = second_epoch().artifacts.audit
    proofs = dict(other.node_proofs)
    node_pos = next(p for p in sorted(proofs) if p in audit.node_proofs)
    proofs[node_pos] = audit.node_proofs[node_pos]
    cases["replayed node proof"] = (second_epoch().bundle, replace(other, node_proofs=proofs))
    bad_proof = bytearray(chunk.proof)
    bad_proof[-40] ^= 1
    cases["chunk proof"] = replace(audit, chunks=(replace(chunk, proof=bytes(bad_proof)), *audit.chunks[1:]))
    extra = dict(audit.upper_nodes)
    extra[(SMALL.height - 1, 5)] = audit.upper_nodes[pos]
    cases["extra node"] = replace(audit, upper_nodes=extra)
    cases["other epoch"] = (second_epoch().bundle, audit)
    cases["missing attestation"] = (bundle.with_attestations(bundle.attestations[1:]), audit)
    found = _check_cases(tmp_path, cases, bundle)
    assert found["sum"] == "node-sum-mismatch" and found["missing attestation"] == "attestation-missing"
    assert found["reordered chunks"] == "audit-structure"


def test_a_multi_asset_epoch_passes_with_the_in_memory_audits_reserves(tmp_path):
    epoch = multi_asset_epoch()
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit, MULTI_PUBLIC)
    expected = audit_epoch(published, epoch.artifacts.audit, chunk_system=SYSTEM, executor=SerialExecutor())
    report = audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=2)
    assert [r.asset_id for r in report.reserves] == ["USD", "BTC"]
    assert (report.reserves, report.upper_nodes, report.header_hash) == (
        expected.reserves, expected.upper_nodes, expected.header_hash)


def _replace_attestation(bundle, chain: str, make) -> object:
    """``bundle`` with its attestation on ``chain`` replaced by ``make(genuine)``."""
    attestations = list(bundle.attestations)
    index = next(i for i, a in enumerate(attestations) if a.chain == chain)
    attestations[index] = make(attestations[index])
    return bundle.with_attestations(tuple(attestations))


def _flip_signature_byte(genuine: Attestation) -> Attestation:
    raw = bytearray(base64.b64decode(genuine.signature))
    raw[40] ^= 0x01
    return replace(genuine, signature=base64.b64encode(bytes(raw)).decode())


def test_multi_asset_tamperings_get_the_in_memory_audits_reason(tmp_path, monkeypatch):
    epoch = multi_asset_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    c = SMALL.chunk_bits
    cases: dict = {}
    pos = next(p for p in sorted(audit.upper_nodes) if p[0] == c + 2 and p not in audit.padding)
    node = audit.upper_nodes[pos]
    usd, btc = node.liabilities
    cases["btc sum"] = replace(audit, upper_nodes={**audit.upper_nodes, pos: TreeNode.of(
        [usd, btc - commit(500, 0)], node.digest, node.positions)})
    first_pad = next(iter(sorted(audit.padding)))
    (usd_blinding, btc_blinding), position_blindings = audit.padding[first_pad]
    cases["btc padding"] = replace(audit, padding={**audit.padding,
                                                   first_pad: ((usd_blinding, btc_blinding + 1), position_blindings)})
    cases["forged bitcoin signature"] = (_replace_attestation(bundle, "bitcoin", _flip_signature_byte), audit)
    replayed = next(a for a in second_epoch().bundle.attestations if a.chain == "ethereum")
    cases["replayed epoch"] = (_replace_attestation(bundle, "ethereum", lambda _: replayed), audit)
    entry = next(e for e in bundle.reserves.entries if e.chain == "bitcoin")
    elsewhere = replace(bundle.attestation_context(), venue="Another Venue")
    cases["another venue"] = (_replace_attestation(
        bundle, "bitcoin", lambda _: sign_attestation_text(BITCOIN_KEY, render_attestation_text(elsewhere, entry))),
        audit)
    impostor = key_from_secret("solana", bytes([0x5A]) * 32)
    cases["wrong signer"] = (_replace_attestation(bundle, "solana", lambda genuine: Attestation(
        genuine.chain, genuine.address, genuine.text,
        sign_message(impostor.secret, impostor.address, genuine.text.encode("ascii")))), audit)
    other_balance = replace(entry, balance=entry.balance + 1)
    cases["balance"] = (_replace_attestation(bundle, "bitcoin", lambda _: sign_attestation_text(
        BITCOIN_KEY, render_attestation_text(bundle.attestation_context(), other_balance))), audit)
    cases["duplicate signature"] = (bundle.with_attestations((*bundle.attestations, bundle.attestations[0])), audit)
    found = _check_cases(tmp_path, cases, bundle, MULTI_PUBLIC)
    assert found["btc sum"] == "node-sum-mismatch" and found["btc padding"] == "padding-node-nonzero"
    assert found["another venue"] == "attestation-wrong-venue" and found["balance"] == "attestation-balance-mismatch"
    assert found["duplicate signature"] == "attestation-duplicate"
    # the risk data of a single-asset listing against a two-asset header
    assert _check_cases(tmp_path, {"asset count": audit}, bundle, PUBLIC) == {"asset count": "public-data-mismatch"}

    # the header counts 1,000 of the USD reserves for BTC (the listed reserves contradict it)
    owed = sum(a.witness.balances[0] for a in multi_asset_accounts())
    book = reserves((2_000_000, 2_000_000), collateral=(("BTC", 8, owed - 1_000),))
    totals = book.asset_totals()
    monkeypatch.setattr(type(book), "asset_totals", lambda self: (totals[0] - 1_000, totals[1] + 1_000))
    moved = make_epoch(public=MULTI_PUBLIC, account_list=multi_asset_accounts(), reserve_book=book,
                       secret=b"asset-counted-for-another-012345")
    monkeypatch.undo()
    # a padding node whose BTC liability commits to -5 (its USD one honest): its aggregated node proof fails
    real_commit = epoch_prover.commit
    calls = iter(range(1 << 30))
    per_node = 2 + 1  # its two liabilities and its position vector
    monkeypatch.setattr(epoch_prover, "commit", lambda value, blinding: real_commit(
        value - (5 if next(calls) % per_node == 1 else 0), blinding))
    negative = make_epoch(public=MULTI_PUBLIC, account_list=multi_asset_accounts(), reserve_book=bundle.reserves,
                          secret=b"negative-btc-padding-0123456789a")
    monkeypatch.undo()
    found = _check_cases(tmp_path, {"reserves": (moved.bundle, moved.artifacts.audit),
                                    "negative btc": (negative.bundle, negative.artifacts.audit)}, bundle, MULTI_PUBLIC)
    assert found["reserves"] == "reserves-mismatch"
    assert found["negative btc"] in ("padding-node-nonzero", "node-range-proof")


def test_a_truncated_or_corrupted_audit_file_is_an_encoding_error(tmp_path):
    epoch = honest_epoch()
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit)
    data = published.files.audit.read_bytes()
    published.files.audit.write_bytes(data[:-1])
    with pytest.raises(EncodingError, match="length mismatch"):
        audit_file(published, chunk_system=SYSTEM)
    published.files.audit.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    with pytest.raises(EncodingError, match="checksum"):
        audit_file(published, chunk_system=SYSTEM)


def test_an_audit_file_that_is_a_named_pipe_is_refused_not_waited_on(tmp_path):
    """Attack: a hostile publication folder (a tarball extracts named pipes) whose audit file is a FIFO: the
    streaming audit opened it and blocked forever; it is refused as malformed input."""
    import os

    epoch = honest_epoch()
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit)
    published.files.audit.unlink()
    os.mkfifo(published.files.audit)
    with pytest.raises(EncodingError, match="not a regular file"):
        audit_file(published, chunk_system=SYSTEM)


def _with_malformed_node(data: bytes, entry: bytes) -> bytes:
    """The audit file ``data`` with ``entry``'s first liability replaced by bytes that are no point (re-checksummed:
    a venue publishing it, not a corrupted download)."""
    assert data.count(entry) == 1
    data = data.replace(entry, entry[:9] + b"\xff" * 48 + entry[57:])
    return data[:-32] + hashlib.sha256(data[:-32]).digest()


def test_a_malformed_point_in_an_upper_node_is_an_encoding_error_in_both_audits(tmp_path):
    # the streaming audit compared chunk roots and the root as bytes and read a parent's decoding error as
    # "nodes carry different numbers of liabilities": exit 2 with a wrong reason where the in-memory audit says
    # the file is malformed (exit 1)
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    c, height = SMALL.chunk_bits, SMALL.height
    chunk_root_at = next(p for p in sorted(audit.upper_nodes) if p[0] == c and p not in audit.padding)
    parent_at = next(p for p in sorted(audit.upper_nodes) if c < p[0] < height and p not in audit.padding)
    padding_at = next(iter(sorted(audit.padding)))
    published = _published(tmp_path, bundle, audit)
    data = published.files.audit.read_bytes()
    for pos in (chunk_root_at, parent_at, padding_at, (height, 0)):
        tampered = _with_malformed_node(data, encode_node_entry(pos, audit.upper_nodes[pos]))
        with pytest.raises(EncodingError, match="upper nodes"):
            decode_audit_data(tampered, bundle.header, PUBLIC, SYSTEM)
        published.files.audit.write_bytes(tampered)
        named = f"upper node at level {pos[0]}, index {pos[1]}: "
        with pytest.raises(EncodingError, match=named):
            audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=2)
        with ProcessExecutor(workers=2) as run, pytest.raises(EncodingError, match=named):
            audit_file(published, chunk_system=SYSTEM, executor=run, group_chunks=2)


def test_a_malformed_chunk_proof_in_a_group_of_chunks_gets_the_in_memory_reason(tmp_path):
    # a chunk whose collateralization proof does not decode ended its group early: the group's later chunks gave
    # no root, and the audit failed on "a node ... on no populated path" (audit-structure) instead
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    chunk = audit.chunks[0]
    for proof in (b"", chunk.proof[:10], b"\xff" * len(chunk.proof)):
        tampered = replace(audit, chunks=(replace(chunk, proof=proof), *audit.chunks[1:]))
        published = _published(tmp_path, bundle, tampered)
        with pytest.raises(VerificationError) as in_memory:
            audit_epoch(published, tampered, chunk_system=SYSTEM, executor=SerialExecutor())
        assert in_memory.value.reason == "chunk-collateral-proof"
        with pytest.raises(VerificationError) as streamed:
            audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=2)
        assert (streamed.value.reason, str(streamed.value)) == (in_memory.value.reason, str(in_memory.value))
    with ProcessExecutor(workers=2) as run, pytest.raises(VerificationError) as streamed:
        audit_file(published, chunk_system=SYSTEM, executor=run, group_chunks=2)
    assert (streamed.value.reason, str(streamed.value)) == (in_memory.value.reason, str(in_memory.value))


def test_an_undecodable_chunk_proof_is_reported_before_an_earlier_chunk_proof_that_fails(tmp_path):
    # the in-memory audit decodes every proof before verifying any: the streaming one must name the same chunk
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    first, second = audit.chunks[:2]
    flipped = bytearray(first.proof)
    flipped[-40] ^= 1
    tampered = replace(audit, chunks=(replace(first, proof=bytes(flipped)), replace(second, proof=b""),
                                      *audit.chunks[2:]))
    published = _published(tmp_path, bundle, tampered)
    with pytest.raises(VerificationError) as in_memory:
        audit_epoch(published, tampered, chunk_system=SYSTEM, executor=SerialExecutor())
    assert "malformed" in str(in_memory.value)
    for group_chunks in (1, 2):
        with pytest.raises(VerificationError) as streamed:
            audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=group_chunks)
        assert str(streamed.value) == str(in_memory.value)


def test_a_malformed_point_in_a_node_on_no_populated_path_is_an_encoding_error_in_both_audits(tmp_path):
    # the streaming audit failed on audit-structure (exit 2) without looking at the node: the in-memory decoder
    # rejects the file as malformed (exit 1)
    epoch = honest_epoch()
    audit, bundle = epoch.artifacts.audit, epoch.bundle
    below_root = next(p for p in sorted(audit.upper_nodes) if p[0] == SMALL.height - 1)
    for pos, like in (((SMALL.height, 1), (SMALL.height, 0)), ((SMALL.chunk_bits - 1, 0), below_root),
                      ((SMALL.height - 1, 6), below_root)):
        extra = replace(audit, upper_nodes={**audit.upper_nodes, pos: audit.upper_nodes[like]},
                        node_proofs={**audit.node_proofs, **({pos: audit.node_proofs[max(audit.node_proofs)]}
                                                             if pos[0] < SMALL.height else {})})
        published = _published(tmp_path, bundle, extra)
        tampered = _with_malformed_node(published.files.audit.read_bytes(),
                                        encode_node_entry(pos, audit.upper_nodes[like]))
        with pytest.raises(EncodingError, match="upper nodes"):
            decode_audit_data(tampered, bundle.header, PUBLIC, SYSTEM)
        published.files.audit.write_bytes(tampered)
        with pytest.raises(EncodingError, match=f"upper node at level {pos[0]}, index {pos[1]}: "):
            audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=2)


def test_the_streaming_audit_reads_the_file_it_opened_when_another_is_renamed_over_it(tmp_path, monkeypatch):
    """Red team round 5: every pass of the streaming audit opened the path again, so a file renamed over the audit
    file between two passes was read from then on (a named pipe put there blocked the audit forever). The file is
    now opened once (a named pipe in its place is never opened): the audit finishes on the file it checked the
    checksum of."""
    import os

    from zkclear.verifier import audit_stream

    epoch = honest_epoch()
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit)
    real = audit_stream.walk_sections

    def then_swapped(*args, **kwargs):
        found = real(*args, **kwargs)
        (tmp_path / "other").write_bytes(b"not the audit file")
        os.replace(tmp_path / "other", published.files.audit)
        return found

    monkeypatch.setattr(audit_stream, "walk_sections", then_swapped)
    report = audit_file(published, chunk_system=SYSTEM)
    assert report.chunks == len(epoch.artifacts.audit.chunks)


def _bad_and_honest(epoch) -> tuple[bytes, bytes]:
    """An audit file whose chunk 1 carries chunk 0's collateralization proof (fails the audit) and the honest file,
    of the same length: two versions a shared folder could serve in turn, in place."""
    audit = epoch.artifacts.audit
    bad_chunks = list(audit.chunks)
    bad_chunks[1] = replace(bad_chunks[1], proof=audit.chunks[0].proof)
    bad = encode_audit_data(replace(audit, chunks=tuple(bad_chunks)), SYSTEM)
    honest = encode_audit_data(audit, SYSTEM)
    assert len(bad) == len(honest) and bad != honest
    return bad, honest


@pytest.mark.parametrize("before", ["walk_sections", "_check_duplicates", "_check_tree", "_check_node_proofs"])
def test_a_file_changed_in_place_during_the_audit_is_refused_not_audited_as_two_versions(tmp_path, monkeypatch,
                                                                                          before):
    """A full audit read its file in several passes and hashed only the first: a file that failed (chunk 1's proof)
    when its checksum was checked, then rewritten in place with the honest bytes (a shared or mirrored folder), had
    its later passes read the honest version and the audit passed. Every pass now reads whole blocks that hash to
    what the checksum pass hashed, so a change between any two passes is refused (exit 1: the file changed)."""
    from zkclear.verifier import audit_stream

    epoch = honest_epoch()
    bad, honest = _bad_and_honest(epoch)
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit)
    published.files.audit.write_bytes(bad)
    with pytest.raises(VerificationError, match="chunk-collateral-proof"):
        audit_file(published, chunk_system=SYSTEM)
    real = getattr(audit_stream, before)

    def after_a_change(*args, **kwargs):
        published.files.audit.write_bytes(honest)  # in place: the same file, the same length
        return real(*args, **kwargs)

    monkeypatch.setattr(audit_stream, before, after_a_change)
    published.files.audit.write_bytes(bad)
    with pytest.raises(EncodingError, match=r"epoch-1\.audit: bytes 0\.\.\d+ changed since the file's checksum "
                                            r"was checked \(the file was modified while it was being audited\)$"):
        audit_file(published, chunk_system=SYSTEM)
    # the other way round: checked honest, then rewritten bad, is refused the same way (not blamed on the venue)
    published.files.audit.write_bytes(honest)

    def bad_after(*args, **kwargs):
        published.files.audit.write_bytes(bad)
        return real(*args, **kwargs)

    monkeypatch.setattr(audit_stream, before, bad_after)
    with pytest.raises(EncodingError, match="changed since the file's checksum was checked"):
        audit_file(published, chunk_system=SYSTEM)


def test_the_checked_reads_serve_a_file_of_several_blocks(tmp_path, monkeypatch):
    """Blocks smaller than the file: passes that cross block boundaries and go back to earlier blocks read the
    same bytes (the audit passes), and a change of one byte in the last block is refused."""
    from zkclear.verifier import audit_stream, pinned_file

    monkeypatch.setattr(pinned_file, "CHECKED_BLOCK", 1000)
    epoch = honest_epoch()
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit)
    data = published.files.audit.read_bytes()
    assert len(data) > 8 * 1000
    assert audit_file(published, chunk_system=SYSTEM).chunks == len(epoch.artifacts.audit.chunks)
    real = audit_stream.walk_sections
    at = len(data) - 33  # the body's last byte, in the file's last block
    first = at // 1000 * 1000
    last = min(first + 999, len(data) - 1)

    def end_changed(*args, **kwargs):
        published.files.audit.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])
        return real(*args, **kwargs)

    monkeypatch.setattr(audit_stream, "walk_sections", end_changed)
    with pytest.raises(EncodingError, match=rf"bytes {first}\.\.{last} changed since"):
        audit_file(published, chunk_system=SYSTEM)
