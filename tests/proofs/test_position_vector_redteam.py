"""Red team, session 11, on the position vector (container format version 6): an operator or outsider against the
chunk's equality proof, the padding nodes' vectors, the matched book and the streaming audit's parsing of the new
chunk-record blob. Each test names the exact reason every verifier gives; the attacks that held document the
guarantee.

Defects found and fixed (the two audits disagreed on the reason): the streaming audit (``audit_file``) named a later
chunk's fault (a chunk listed out of order, a leaf id hash repeated) instead of an earlier chunk's failing position
vector, which the in-memory audit names (it checks chunk by chunk); and it named a failing chunk of a file that is
also malformed elsewhere (a later chunk, an upper node), which the in-memory decoder refuses as a whole.
"""

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import SYSTEM, attested, honest_epoch, published, second_epoch
from tests.proofs.test_position_vector import _forged_chunk, _with_chunk
from zkclear.bundle.format import (
    decode_audit_data,
    encode_audit_data,
    encode_chunk_record,
    encode_node_entry,
    write_file,
)
from zkclear.crypto.field import R
from zkclear.crypto.generators import pedersen_generators
from zkclear.crypto.group import G1Point
from zkclear.crypto.pedersen import commit
from zkclear.errors import EncodingError, VerificationError, ZkclearError
from zkclear.executor import SerialExecutor
from zkclear.proofs.position_vector import (
    PositionVectorProof,
    position_generators,
    prove_position_vector,
    verify_position_vector,
)
from zkclear.tree.sum_tree import TreeNode, combine_level, sum_points
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.audit_on_disk import open_audit_file
from zkclear.verifier.audit_stream import audit_file
from zkclear.verifier.published import EpochFiles, PublishedEpoch
from zkclear.verifier.receipt import crowd_audit, verify_receipt


def _reason(call) -> str:
    """The reason a verifier gives ("OK" when it accepts; the exception's class for a malformed input)."""
    try:
        call()
    except VerificationError as exc:
        return exc.reason
    except ZkclearError as exc:
        return type(exc).__name__
    return "OK"


def _audits(epoch, audit, bundle=None) -> list[str]:
    """Reasons of the in-memory audit, the streaming audit (one chunk per task and eight), and the crowd audit of
    every chunk (in memory and from the file)."""
    base = published(epoch, bundle)
    out = [_reason(lambda: audit_epoch(base, audit, chunk_system=SYSTEM, executor=SerialExecutor()))]
    with tempfile.TemporaryDirectory() as folder:
        files = EpochFiles(Path(folder), base.bundle.header.epoch_id)
        write_file(files.audit, encode_audit_data(audit, SYSTEM))
        on_disk = PublishedEpoch(base.bundle, base.public, base.inputs, files)
        for group in (1, 8):
            out.append(_reason(lambda group=group: audit_file(on_disk, chunk_system=SYSTEM, executor=SerialExecutor(),
                                                              group_chunks=group)))
        out.append(_reason(lambda: crowd_audit(base, audit, len(audit.chunks), chunk_system=SYSTEM)))
        out.append(_reason(lambda: crowd_audit(on_disk, open_audit_file(on_disk, chunk_system=SYSTEM),
                                               len(audit.chunks), chunk_system=SYSTEM)))
    return out


def _receipt_of(epoch, position):
    return next(r for r in epoch.artifacts.receipts.values() if r.chunk.position == position)


def _chunk_sums(epoch, chunk):
    return sum_points([SYSTEM.position_commitments(a) for a in chunk.accounts], epoch.bundle.header.instrument_count)


# -- the defect: the streaming audit named a later chunk's fault ---------------------------------------------------


def test_a_failing_vector_before_a_duplicate_id_is_named_alike_by_every_audit():
    """Chunk 0's vector is forged, chunk 1 repeats chunk 0's first id hash: the in-memory audit meets chunk 0 first
    (chunk-position-vector); the streaming audit named the duplicate (duplicate-leaf) before the fix."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    bad = _forged_chunk(epoch, audit.chunks[0])
    second = audit.chunks[1]
    doubled = replace(second, id_hashes=(bad.id_hashes[0], *second.id_hashes[1:]))
    tampered = _with_chunk(_with_chunk(audit, 0, bad), 1, doubled)
    assert _audits(epoch, tampered)[:3] == ["chunk-position-vector"] * 3


def test_a_failing_vector_before_a_chunk_out_of_order_is_named_alike_by_every_audit():
    """Chunk 0's vector is forged, chunk 1 sits at chunk 0's position: chunk-position-vector from both audits (the
    streaming audit raised audit-structure for chunk 1 as it read it, before chunk 0's result was looked at)."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    bad = _forged_chunk(epoch, audit.chunks[0])
    tampered = _with_chunk(_with_chunk(audit, 0, bad), 1, replace(audit.chunks[1], position=audit.chunks[0].position))
    assert _audits(epoch, tampered)[:3] == ["chunk-position-vector"] * 3


def test_a_duplicate_id_before_a_failing_vector_and_an_order_fault_alone_keep_their_reasons():
    """The order of checks is kept the other way round: a duplicate within chunk 0 comes before chunk 0's vector;
    a chunk out of order before a duplicate in that same chunk; an order fault alone."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    bad = _forged_chunk(epoch, audit.chunks[0])
    twice = replace(bad, id_hashes=(bad.id_hashes[0], bad.id_hashes[0], *bad.id_hashes[2:]))
    assert _audits(epoch, _with_chunk(audit, 0, twice))[:3] == ["duplicate-leaf"] * 3
    second = audit.chunks[1]
    moved = replace(second, position=0, id_hashes=(audit.chunks[0].id_hashes[0], *second.id_hashes[1:]))
    assert _audits(epoch, _with_chunk(audit, 1, moved))[:3] == ["audit-structure"] * 3
    assert _audits(epoch, _with_chunk(audit, 1, replace(second, position=0)))[:3] == ["audit-structure"] * 3


def _malformed(epoch, audit, target: bytes) -> bytes:
    """The audit file of ``audit`` with the first occurrence of ``target`` overwritten by 0xff bytes (not a point:
    x ≥ p), the checksum recomputed."""
    import hashlib

    data = encode_audit_data(audit, SYSTEM)
    at = data.index(target)
    body = (data[:at] + b"\xff" * 48 + data[at + 48:])[:-32]
    return body + hashlib.sha256(body).digest()


def _file_reasons(epoch, data: bytes) -> list[str]:
    """The in-memory decoder then audit, and the streaming audit (one chunk per task and eight), of these bytes."""
    base = published(epoch)
    out = [_reason(lambda: audit_epoch(base, decode_audit_data(data, base.bundle.header, base.public, SYSTEM),
                                       chunk_system=SYSTEM, executor=SerialExecutor()))]
    with tempfile.TemporaryDirectory() as folder:
        files = EpochFiles(Path(folder), base.bundle.header.epoch_id)
        Path(files.audit).write_bytes(data)
        on_disk = PublishedEpoch(base.bundle, base.public, base.inputs, files)
        for group in (1, 8):
            out.append(_reason(lambda group=group: audit_file(on_disk, chunk_system=SYSTEM, executor=SerialExecutor(),
                                                              group_chunks=group)))
    return out


@pytest.mark.parametrize("where", ["later-chunk", "upper-node", "after-order-fault", "count-policy"])
def test_a_failing_vector_with_malformed_bytes_elsewhere_is_malformed_input_for_both_audits(where):
    """Chunk 0's vector is forged and the file is also malformed elsewhere (an account commitment of chunk 1, an
    upper node far from chunk 0, or chunk 1 listed out of order and malformed; or a chunk count the policy does not
    make, with a malformed chunk): the in-memory decoder refuses the file before any check (EncodingError, exit 1);
    the streaming audit named chunk 0's chunk-position-vector, or chunk-count-policy (exit 2), before the fix."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    tampered = _with_chunk(audit, 0, _forged_chunk(epoch, audit.chunks[0]))
    if where == "upper-node":
        target = encode_node_entry((7, 1), audit.upper_nodes[(7, 1)])[9:]
    elif where == "count-policy":  # three chunks (the policy makes powers of two), one of them malformed
        extra = replace(audit.chunks[1], position=audit.chunks[1].position + 1)
        tampered = replace(tampered, chunks=(*tampered.chunks, extra))
        target = SYSTEM.encode_commitments(audit.chunks[1].accounts[0])
    else:
        if where == "after-order-fault":
            tampered = _with_chunk(tampered, 1, replace(audit.chunks[1], position=audit.chunks[0].position))
        target = SYSTEM.encode_commitments(audit.chunks[1].accounts[0])
    assert _file_reasons(epoch, _malformed(epoch, tampered, target)) == ["EncodingError"] * 3


# -- attacks on the equality proof that held ----------------------------------------------------------------------


def test_two_chunks_offsetting_each_others_vectors_are_each_refused():
    """Chunk 0 claims one lot more of instrument 1, chunk 1 one lot less: V_root is unchanged (the book still looks
    matched with the same β) but neither proof verifies against its chunk's own sums."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    header = epoch.bundle.header
    tampered = audit
    for number, delta in ((0, 1), (1, -1)):
        chunk = audit.chunks[number]
        honest = PositionVectorProof.from_bytes(chunk.positions_proof, header.instrument_count)
        shifted = honest.vector + position_generators(header.instrument_count)[1] * (delta % R)
        tampered = _with_chunk(tampered, number, replace(chunk, positions_proof=replace(honest, vector=shifted)
                                                         .to_bytes()))
    assert _audits(epoch, tampered) == ["chunk-position-vector"] * 5
    receipt = _receipt_of(epoch, audit.chunks[1].position)
    assert _reason(lambda: verify_receipt(published(epoch), replace(receipt, chunk=tampered.chunks[1]),
                                          receipt.account_id, chunk_system=SYSTEM)) == "chunk-position-vector"


def test_a_proof_made_with_the_wrong_number_of_instruments_or_sums_in_another_order_is_refused():
    """A prover that proves over the first n−1 sums only (the last instrument left out of V), or over the sums in
    another order: the verifier recomputes all n sums, in listing order."""
    epoch = honest_epoch()
    header = epoch.bundle.header
    chunk = epoch.artifacts.audit.chunks[0]
    sums = _chunk_sums(epoch, chunk)
    context = header.context(b"collateral-chunk", chunk.position)
    n = header.instrument_count
    fewer = prove_position_vector(context, sums[:-1], [0] * (n - 1), [0] * (n - 1), 3, iter(range(1, 99)).__next__)
    assert _reason(lambda: verify_receipt(
        published(epoch), replace(_receipt_of(epoch, chunk.position), chunk=replace(
            chunk, positions_proof=fewer.to_bytes())), _receipt_of(epoch, chunk.position).account_id,
        chunk_system=SYSTEM)) == "chunk-position-vector"
    reordered = prove_position_vector(context, sums[::-1], [0] * n, [0] * n, 3, iter(range(1, 99)).__next__)
    assert not verify_position_vector(context, sums, reordered)
    assert _audits(epoch, _with_chunk(epoch.artifacts.audit, 0, replace(chunk, positions_proof=reordered.to_bytes()))
                   ) == ["chunk-position-vector"] * 5


def test_identity_points_in_the_proof_do_not_make_it_verify():
    """V, A or B the point at infinity (a valid encoding), all responses zero: refused for a chunk whose sums are
    not all the identity; the all-zero proof verifies only for sums that are all the identity, i.e. commitments to
    zero positions with zero blindings, which is then a true statement."""
    epoch = honest_epoch()
    chunk = epoch.artifacts.audit.chunks[0]
    header = epoch.bundle.header
    n = header.instrument_count
    context = header.context(b"collateral-chunk", chunk.position)
    sums = _chunk_sums(epoch, chunk)
    honest = PositionVectorProof.from_bytes(chunk.positions_proof, n)
    zero = G1Point.identity()
    assert verify_position_vector(context, sums, honest)
    for forged in (replace(honest, vector=zero), replace(honest, a=zero), replace(honest, b=zero),
                   PositionVectorProof(zero, zero, zero, 0, 0, (0,) * n)):
        assert PositionVectorProof.from_bytes(forged.to_bytes(), n) == forged  # the decoder takes the identity
        assert not verify_position_vector(context, sums, forged)
    assert verify_position_vector(context, [zero] * n, PositionVectorProof(zero, zero, zero, 0, 0, (0,) * n))
    assert _audits(epoch, _with_chunk(epoch.artifacts.audit, 0, replace(
        chunk, positions_proof=PositionVectorProof(zero, zero, zero, 0, 0, (0,) * n).to_bytes()))
                   ) == ["chunk-position-vector"] * 5


def test_a_padding_like_vector_for_a_chunk_that_holds_positions_is_refused():
    """V = ρ·H (what a padding node carries: "this chunk is flat") with a proof for the zero vector."""
    epoch = honest_epoch()
    chunk = epoch.artifacts.audit.chunks[1]
    header = epoch.bundle.header
    n = header.instrument_count
    context = header.context(b"collateral-chunk", chunk.position)
    flat = prove_position_vector(context, _chunk_sums(epoch, chunk), [0] * n, [0] * n, 12345,
                                 iter(range(7, 99)).__next__)
    assert flat.vector == commit(0, 12345)
    assert _audits(epoch, _with_chunk(epoch.artifacts.audit, 1, replace(chunk, positions_proof=flat.to_bytes()))
                   ) == ["chunk-position-vector"] * 5


def test_a_chunks_vector_and_proof_moved_to_the_next_epoch_are_refused():
    """Epoch 2's chunk 0 given epoch 1's chunk 0 vector and proof; and epoch 1's proof checked in epoch 2's context
    for the same position and the same sums: the context binds the header (epoch id, previous root)."""
    first, second = honest_epoch(), second_epoch()
    old = first.artifacts.audit.chunks[0]
    proof = PositionVectorProof.from_bytes(old.positions_proof, first.bundle.header.instrument_count)
    sums = _chunk_sums(first, old)
    assert verify_position_vector(first.bundle.header.context(b"collateral-chunk", old.position), sums, proof)
    assert not verify_position_vector(second.bundle.header.context(b"collateral-chunk", old.position), sums, proof)
    chunk = second.artifacts.audit.chunks[0]
    moved = replace(chunk, positions_proof=first.artifacts.audit.chunks[0].positions_proof)
    tampered = _with_chunk(second.artifacts.audit, 0, moved)
    base = published(second)
    assert _reason(lambda: audit_epoch(base, tampered, chunk_system=SYSTEM, executor=SerialExecutor(),
                                       previous=first.bundle.chain_link())) == "chunk-position-vector"
    assert _reason(lambda: crowd_audit(base, tampered, 2, chunk_system=SYSTEM)) == "chunk-position-vector"


# -- padding nodes and the matched book ---------------------------------------------------------------------------


def _rebuild(epoch, changed: dict):
    """The audit data and (re-attested) bundle with the upper nodes in ``changed`` replaced and every ancestor
    recomputed (sums and digests): a consistent tree whose root is the bundle's new root."""
    audit = epoch.artifacts.audit
    nodes = dict(audit.upper_nodes)
    nodes.update(changed)
    height = epoch.bundle.header.tree.height
    dirty = set(changed)
    for level in range(min(pos[0] for pos in changed) + 1, height + 1):
        for index in sorted({i >> 1 for lv, i in dirty if lv == level - 1}):
            nodes[(level, index)] = combine_level(level, [(nodes[(level - 1, 2 * index)],
                                                           nodes[(level - 1, 2 * index + 1)])])[0]
            dirty.add((level, index))
    root = nodes[(height, 0)]
    bundle = attested(replace(epoch.bundle, root=root, attestations=()))
    return replace(audit, upper_nodes=nodes), bundle


def _shift(node: TreeNode, point: G1Point) -> TreeNode:
    return TreeNode.of(node.liabilities, node.digest, [node.positions[0] + point])


def test_two_padding_vectors_offsetting_each_other_keep_the_book_matched_but_fail_the_zero_check():
    """+G_0 in one padding node's vector, −G_0 in another's: V_root is unchanged, so β still opens it and every
    participant accepts (the book is indeed matched); but neither node commits to zero, and the auditor's random
    weights (not a plain sum) catch it: padding-node-nonzero from every audit."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    pads = sorted(audit.padding)
    first, last = pads[0], pads[-1]
    g0 = position_generators(epoch.bundle.header.instrument_count)[0]
    tampered, bundle = _rebuild(epoch, {first: _shift(audit.upper_nodes[first], g0),
                                        last: _shift(audit.upper_nodes[last], -g0)})
    assert bundle.root.positions == epoch.bundle.root.positions and bundle.root.digest != epoch.bundle.root.digest
    assert _audits(epoch, tampered, bundle) == ["padding-node-nonzero"] * 5


def test_a_padding_vector_that_offsets_nothing_breaks_the_matched_book_for_everyone():
    """One padding node's vector moved by G_0 with the tree rebuilt above it: the root no longer opens to zero with
    β — the participant and every audit name matched-book (checked before the tree)."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    pad = sorted(audit.padding)[0]
    g0 = position_generators(epoch.bundle.header.instrument_count)[0]
    tampered, bundle = _rebuild(epoch, {pad: _shift(audit.upper_nodes[pad], g0)})
    assert _audits(epoch, tampered, bundle)[:3] == ["matched-book"] * 3
    # the receipt whose path holds this padding node as a sibling, its sibling replaced
    level, index = pad
    receipt = next(r for r in epoch.artifacts.receipts.values() if (r.leaf_index >> level) ^ 1 == index)
    siblings = list(receipt.upper_siblings)
    siblings[level - epoch.bundle.header.tree.chunk_bits] = tampered.upper_nodes[pad]
    assert _reason(lambda: verify_receipt(published(epoch, bundle), replace(receipt, upper_siblings=tuple(siblings)),
                                          receipt.account_id, chunk_system=SYSTEM)) == "matched-book"


def test_a_root_vector_replaced_by_the_identity_with_a_zero_beta_is_refused():
    """The bundle's root vector replaced by 𝒪 and β by 0 (𝒪 = 0·H passes the matched-book equation): the root's
    vector is the sum of its children's, which every verifier recomputes — the participant's path, the audits'
    rebuilt tree and the crowd audit's published root."""
    epoch = honest_epoch()
    root = epoch.bundle.root
    bundle = attested(replace(epoch.bundle, root=TreeNode.of(root.liabilities, root.digest, [G1Point.identity()]),
                              matched_book=(0,), attestations=()))
    assert bundle.epoch_hash() == epoch.bundle.epoch_hash()  # the posted header hash binds V through the children
    receipt = next(iter(epoch.artifacts.receipts.values()))
    assert _reason(lambda: verify_receipt(published(epoch, bundle), receipt, receipt.account_id,
                                          chunk_system=SYSTEM)) == "path-root-mismatch"
    assert _audits(epoch, epoch.artifacts.audit, bundle) == ["root-mismatch", "root-mismatch", "root-mismatch",
                                                             "audit-structure", "audit-structure"]


def test_a_beta_off_by_one_or_a_matched_book_of_two_scalars_is_refused():
    epoch = honest_epoch()
    beta = epoch.bundle.matched_book[0]
    receipt = next(iter(epoch.artifacts.receipts.values()))
    for book in (((beta + 1) % R,), (beta, 0), ()):
        bundle = replace(epoch.bundle, matched_book=book)
        assert _reason(lambda bundle=bundle: verify_receipt(published(epoch, bundle), receipt, receipt.account_id,
                                                            chunk_system=SYSTEM)) == "matched-book"
        assert _reason(lambda bundle=bundle: audit_epoch(published(epoch, bundle), epoch.artifacts.audit,
                                                         chunk_system=SYSTEM, executor=SerialExecutor())
                       ) == "matched-book"


def test_a_padding_node_with_the_vectors_blinding_moved_to_a_liability_is_refused():
    """The padding opening's scalars swapped between the liability and the vector: the batched check compares each
    commitment with its own blinding."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    pos = sorted(audit.padding)[0]
    (liability,), (vector,) = audit.padding[pos]
    swapped = replace(audit, padding={**audit.padding, pos: ((vector,), (liability,))})
    assert _audits(epoch, swapped) == ["padding-node-nonzero"] * 5


# -- the chunk record's new blob in the files --------------------------------------------------------------------


def _audit_bytes_with_blob_length(epoch, number: int, length: int) -> bytes:
    """The audit file with chunk ``number``'s position-vector blob length field set to ``length`` (checksum
    recomputed: a well-formed container whose body lies)."""
    import hashlib

    audit = epoch.artifacts.audit
    data = bytearray(encode_audit_data(audit, SYSTEM))
    record = encode_chunk_record(audit.chunks[number], SYSTEM)
    at = bytes(data).index(record) + len(record) - len(audit.chunks[number].positions_proof) - 4
    data[at:at + 4] = length.to_bytes(4, "big")
    body = bytes(data[:-32])
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("change", [1, -1, 1 << 20, (1 << 32) - 1])
def test_a_lying_position_vector_blob_length_is_malformed_input_for_every_reader(change):
    """The blob's length field eats into the next chunk, leaves bytes behind, or claims more than the file holds:
    the in-memory decoder, the streaming audit and the crowd audit's reader all refuse the file as malformed
    (EncodingError, exit 1), never a crash."""
    epoch = honest_epoch()
    size = len(epoch.artifacts.audit.chunks[0].positions_proof)
    length = change if change > 1 << 16 else size + change
    data = _audit_bytes_with_blob_length(epoch, 0, length)
    base = published(epoch)
    with pytest.raises(EncodingError):
        decode_audit_data(data, base.bundle.header, base.public, SYSTEM)
    with tempfile.TemporaryDirectory() as folder:
        files = EpochFiles(Path(folder), base.bundle.header.epoch_id)
        Path(files.audit).write_bytes(data)
        on_disk = PublishedEpoch(base.bundle, base.public, base.inputs, files)
        with pytest.raises(EncodingError):
            audit_file(on_disk, chunk_system=SYSTEM, executor=SerialExecutor())
        with pytest.raises(EncodingError):
            open_audit_file(on_disk, chunk_system=SYSTEM)


def test_an_honest_file_with_the_blob_length_rewritten_to_itself_still_passes():
    """Control for the test above: the same surgery with the true length gives the honest file, which every audit
    accepts."""
    epoch = honest_epoch()
    size = len(epoch.artifacts.audit.chunks[1].positions_proof)
    assert _audit_bytes_with_blob_length(epoch, 1, size) == encode_audit_data(epoch.artifacts.audit, SYSTEM)
    assert _audits(epoch, epoch.artifacts.audit) == ["OK"] * 5


def test_the_blinding_base_is_not_a_position_generator():
    """H (the Pedersen blinding base) and G are distinct from every G_j, so V = ρ·H cannot commit to a position."""
    g, h = pedersen_generators()
    gens = position_generators(16)
    assert len(set(gens) | {g, h}) == 18


# -- the bundle's β and the browser's generators file -------------------------------------------------------------


def _rechecksummed(data: bytes) -> bytes:
    import hashlib

    body = data[:-32]
    return body + hashlib.sha256(body).digest()


def test_a_beta_at_or_above_r_or_a_count_other_than_one_does_not_decode():
    """β + r (the same residue, not canonical), β = r, and a matched-book count of 0 or 2 in the bundle's bytes:
    refused by the decoder (EncodingError), so no verifier sees a second encoding of the same β."""
    import struct

    from zkclear.bundle.format import decode_public_bundle, encode_public_bundle
    from zkclear.crypto.field import scalar_to_bytes

    epoch = honest_epoch()
    data = encode_public_bundle(epoch.bundle)
    assert decode_public_bundle(data) == epoch.bundle
    beta = epoch.bundle.matched_book[0]
    at = data.index(struct.pack(">I", 1) + scalar_to_bytes(beta)) + 4
    candidates = [R.to_bytes(32, "big")]
    if beta + R < 1 << 256:
        candidates.append((beta + R).to_bytes(32, "big"))
    for value in candidates:
        with pytest.raises(EncodingError, match=r"non-canonical scalar|matched_book"):
            decode_public_bundle(_rechecksummed(data[:at] + value + data[at + 32:]))
    for count in (0, 2, (1 << 32) - 1):  # the count says how many β follow: refused before any is read
        forged = data[:at - 4] + struct.pack(">I", count) + data[at:]
        with pytest.raises(EncodingError, match=r"matched_book: .* blindings, the position vector has exactly one"):
            decode_public_bundle(_rechecksummed(forged))


def test_a_generators_file_other_than_the_pinned_one_is_refused_by_the_page():
    """The page preloads position generators only from the file whose SHA-256 is pinned: another file under the
    new name (points of the attacker's choosing, which would let it know relations among the G_j) is refused."""
    import struct

    from zkclear.web.generators import decode, preload

    g = pedersen_generators()[0]
    point = g.affine()[0].to_bytes(48, "big") + g.affine()[1].to_bytes(48, "big")
    forged = b"ZKGENS02" + struct.pack(">I", 1) + point + point + struct.pack(">I", 2) + point * 2
    for data in (forged, b"", b"ZKGENS02"):
        with pytest.raises(EncodingError, match="not the pinned one"):
            decode(data)
        with pytest.raises(EncodingError, match="not the pinned one"):
            preload(data)
    assert position_generators(2)[0] != g  # nothing was installed
