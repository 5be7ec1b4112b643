"""The streaming audit (read from the file, verified in parallel) passes what the in-memory audit passes and
rejects every tampering with the same reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.proofs.epoch_fixtures import (
    PUBLIC,
    SMALL,
    SYSTEM,
    honest_epoch,
    make_epoch,
    public_inputs,
    second_epoch,
)
from zkclear.bundle.format import encode_audit_data, write_file
from zkclear.crypto.pedersen import commit
from zkclear.errors import EncodingError, VerificationError
from zkclear.executor import ProcessExecutor, SerialExecutor
from zkclear.tree.placement import TreeConfig
from zkclear.tree.sum_tree import TreeNode
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.audit_stream import audit_file
from zkclear.verifier.published import EpochFiles, PublishedEpoch


def _published(tmp_path, bundle, audit) -> PublishedEpoch:
    files = EpochFiles(tmp_path, bundle.header.epoch_id)
    write_file(files.audit, encode_audit_data(audit, SYSTEM))
    return PublishedEpoch(bundle, PUBLIC, public_inputs(bundle.header.epoch_id), files)


def _reasons(tmp_path, bundle, audit, **kwargs) -> tuple[str, str]:
    published = _published(tmp_path, bundle, audit)
    with pytest.raises(VerificationError) as in_memory:
        audit_epoch(published, audit, chunk_system=SYSTEM, executor=SerialExecutor(), **kwargs)
    with pytest.raises(VerificationError) as streamed:
        audit_file(published, chunk_system=SYSTEM, executor=SerialExecutor(), group_chunks=1, **kwargs)
    return in_memory.value.reason, streamed.value.reason


def test_an_honest_epoch_passes_serially_and_on_worker_processes(tmp_path):
    epoch = make_epoch(TreeConfig(height=7, chunk_bits=2, chunk_padding="none"), count=14)
    published = _published(tmp_path, epoch.bundle, epoch.artifacts.audit)
    expected = audit_epoch(published, epoch.artifacts.audit, chunk_system=SYSTEM, executor=SerialExecutor())
    steps: list[tuple[str, int, int]] = []
    with ProcessExecutor(workers=2) as run:
        report = audit_file(published, chunk_system=SYSTEM, executor=run, group_chunks=3,
                            progress=lambda step, done, total: steps.append((step, done, total)))
    assert (report.chunks, report.leaves, report.upper_nodes, report.reserves_total, report.header_hash) == (
        expected.chunks, expected.leaves, expected.upper_nodes, expected.reserves_total, expected.header_hash)
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
                                               pos: TreeNode.of(node.commitment - commit(500, 0), node.digest,
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
    blinding, position_blindings = audit.padding[first_pad]
    cases["nonzero padding"] = replace(audit, padding={**audit.padding,
                                                       first_pad: (blinding, (position_blindings[0] + 1,
                                                                              *position_blindings[1:]))})
    cases["policy"] = replace(audit, chunks=audit.chunks[:1] * 3)
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
    for name, case in cases.items():
        case_bundle, case_audit = case if isinstance(case, tuple) else (bundle, case)
        in_memory, streamed = _reasons(tmp_path, case_bundle, case_audit)
        assert streamed == in_memory, name


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
