"""The full audit of an epoch read straight from its audit file, chunk by chunk and level by level, with the
proofs verified in parallel through an executor (docs/protocol.md, "Audit"; docs/performance.md, "Scale-out").

The checks and reason codes are :func:`zkclear.verifier.audit.audit_epoch`'s, in the same order (chunks are checked
in parallel, so the failure of the lowest-numbered chunk is reported, and a file that is malformed anywhere in its
chunks or upper nodes is an EncodingError whichever check failed first, as the in-memory decoder refuses it before
the audit: red team s11); what differs is how the file is held:

- the container's checksum is computed over the file in blocks of ``CHECKED_BLOCK`` bytes, before anything is
  decoded, and each block's SHA-256 is kept: every later pass reads whole blocks and refuses one that hashes
  otherwise, so every byte the audit relies on is of the version the checksum covered (a file changed in place
  during the audit is an EncodingError naming the bytes, never checked as two versions);
- chunks are read one at a time and sent to the workers in groups of ``group_chunks``: a worker decodes the
  group, recomputes each chunk's root and batch-verifies the whole group's collateralization proofs in **one**
  multi-scalar multiplication (a failing group is re-checked chunk by chunk to name the chunk);
- the coordinator keeps, per chunk, its position, its root (one encoded node) and an 8-byte prefix of every id
  hash (for the duplicate check); it then walks the upper tree one level at a time with file cursors, checking the
  structure (which nodes must exist, which must be padding) on indices only, and sends the sums and hashes of
  every parent, the zero-commitment of every padding node and every node range proof (in groups of
  ``statements.BATCH``) to the workers.

How the file is read is in :mod:`zkclear.verifier.pinned_file` (held open, checked block by block) and
:mod:`zkclear.verifier.audit_layout` (where each piece is); :mod:`zkclear.verifier.audit_on_disk` serves the crowd
audit from the same file, reading only the chunks, nodes and proofs it samples.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from provers.bulletproofs import batch_verify
from zkclear.bundle.format import decode_chunk_record
from zkclear.crypto.field import scalar_from_bytes
from zkclear.errors import EncodingError, VerificationError
from zkclear.executor import Executor, SerialExecutor
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.header import ChainLink, EpochHeader
from zkclear.tree.node_groups import band_bottom, band_levels, band_tops
from zkclear.tree.sum_tree import POSITION_POINTS, TreeNode, combine_level
from zkclear.verifier.audit import AuditReport, asset_reserves, check_bindings, first_nonzero_padding
from zkclear.verifier.audit_layout import (
    Sections,
    decode_named_node,
    level_blocks,
    node_entry_size,
    padding_blocks,
    padding_entry_size,
    read_chunks,
    read_entries,
    walk_sections,
)
from zkclear.verifier.pinned_file import Cursor, PinnedFile, check_container
from zkclear.verifier.published import CHUNK_SYSTEM, PublishedEpoch
from zkclear.verifier.root import solvency_named
from zkclear.verifier.statements import BATCH, chunk_root, chunk_statements, node_group_statement, verify_named

Progress = Callable[[str, int, int], None]
#: Chunks per verification task (one batch verification, one MSM, per group).
GROUP_CHUNKS = 8
#: Parents (or padding nodes) per tree-check task.
TREE_BATCH = 256

Failure = tuple[str, int | None, str | None]


# --------------------------------------------------------------------------------------------- worker tasks


@dataclass(frozen=True, slots=True)
class ChunkGroup:
    system: ChunkProofSystem
    public: Any
    header: EpochHeader
    records: tuple[tuple[int, bytes], ...]   # (chunk number, record bytes)


def check_chunk_group(group: ChunkGroup) -> tuple[list[bytes], Failure | None, Failure | None]:
    """Roots (encoded) of the group's chunks; a structural failure (decoding, shape) that stops the audit at
    once; and the first chunk whose collateralization proof fails (reported after the tree checks)."""
    from zkclear.bundle.format import encode_node

    roots, statements, owners = [], [], []
    size = group.header.tree.chunk_size
    malformed: tuple[int, Failure] | None = None   # the first chunk whose proof does not even decode (detail set)
    for number, record in group.records:
        try:
            chunk = decode_chunk_record(record, group.system, group.public, size)
        except EncodingError as exc:
            return roots, ("encoding", number, f"chunk[{number}]: {exc}"), None
        try:
            roots.append(encode_node(chunk_root(group.system, group.header, chunk, group.public)))
            found = chunk_statements(group.system, group.header, chunk, group.public)
        except VerificationError as exc:
            if exc.reason != "chunk-collateral-proof":  # a later chunk that does not decode is reported first
                return roots, _undecodable_after(group, number) or (exc.reason, exc.index, exc.detail), None
            # reported after the tree checks, like a proof that does not verify: the group's other chunks still
            # give their roots (returning here left them out, and the tree check then failed on the wrong reason)
            if malformed is None:
                malformed = (number, (exc.reason, exc.index, exc.detail))
            continue
        statements.extend(found)
        owners.extend([number] * len(found))
    if malformed is not None:  # the in-memory audit meets an undecodable proof before it verifies any
        return roots, None, malformed[1]
    failing = _first_failing_chunk(group, statements, owners)
    return roots, None, None if failing is None else ("chunk-collateral-proof", failing, None)


def _undecodable_after(group: ChunkGroup, failed: int) -> Failure | None:
    """The first chunk of the group after chunk ``failed`` that does not decode (the in-memory decoder refuses the
    whole file for it, before any check)."""
    for number, record in group.records:
        if number > failed:
            try:
                decode_chunk_record(record, group.system, group.public, group.header.tree.chunk_size)
            except EncodingError as exc:
                return ("encoding", number, f"chunk[{number}]: {exc}")
    return None


def _first_failing_chunk(group: ChunkGroup, statements: list, owners: list[int]) -> int | None:
    """The first chunk of the group whose statements fail (one batch verification when all pass)."""
    if not statements:
        return None
    try:
        batch_verify(statements)
        return None
    except VerificationError:
        pass
    for number, _ in group.records:
        mine = [s for s, owner in zip(statements, owners, strict=True) if owner == number]
        if not mine:
            continue
        try:
            batch_verify(mine)
        except VerificationError:
            return number
    return owners[0]


@dataclass(frozen=True, slots=True)
class ParentBatch:
    level: int                                   # the parents' level
    assets: int
    items: tuple[tuple[int, bytes, bytes, bytes], ...]   # (parent index, left, right, parent) encodings


def check_parents(batch: ParentBatch) -> Failure | None:
    """The first parent that is not the sum (node-sum-mismatch) or hash (node-hash-mismatch) of its children."""
    assets = batch.assets
    for index, left, right, parent in batch.items:
        try:
            below = batch.level - 1
            nodes = [decode_named_node(data, assets, level, at) for data, level, at in (
                (left, below, 2 * index), (right, below, 2 * index + 1), (parent, batch.level, index))]
        except EncodingError as exc:  # a malformed node is bad input, as in the in-memory decoder, not a failed check
            return ("encoding", batch.level, str(exc))
        published = nodes[2]
        try:
            built = combine_level(batch.level, [(nodes[0], nodes[1])])[0]
        except ValueError:
            return ("audit-structure", batch.level, f"nodes at level {batch.level - 1} carry different numbers of "
                                                    "liabilities or position vectors")
        if published.encoded != built.encoded or published.positions_encoded != built.positions_encoded:
            return ("node-sum-mismatch", batch.level,
                    f"the node at level {batch.level}, index {index} is not the sum of its children")
        if published.digest != built.digest:
            return ("node-hash-mismatch", batch.level,
                    f"the node at level {batch.level}, index {index} does not hash its children")
    return None


@dataclass(frozen=True, slots=True)
class PaddingBatch:
    level: int
    assets: int
    items: tuple[tuple[int, bytes, bytes], ...]   # (index, node encoding, padding entry without its position)


def check_padding(batch: PaddingBatch) -> Failure | None:
    """The batch's padding nodes commit to zero (batched, :func:`first_nonzero_padding`); a node that does not
    decode fails as bad input once the nodes before it passed, as in a node-by-node walk."""
    assets = batch.assets
    undecodable: list[EncodingError] = []

    def decoded() -> Iterator[tuple[int, TreeNode, list[int], list[int]]]:
        for index, node_bytes, entry in batch.items:
            try:
                node = decode_named_node(node_bytes, assets, batch.level, index)
            except EncodingError as exc:
                undecodable.append(exc)
                return
            scalars = [scalar_from_bytes(entry[32 * k:32 * k + 32]) for k in range(assets + POSITION_POINTS)]
            yield index, node, scalars[:assets], scalars[assets:]

    failed = first_nonzero_padding(decoded())
    if failed is not None:
        return ("padding-node-nonzero", batch.level,
                f"the padding node at level {batch.level}, index {failed} does not commit to zero")
    if undecodable:
        return ("encoding", batch.level, str(undecodable[0]))
    return None


@dataclass(frozen=True, slots=True)
class NodeProofBatch:
    header: EpochHeader
    #: (anchor level, anchor index, members as (level, index, node encoding), proof) per group
    items: tuple[tuple[int, int, tuple[tuple[int, int, bytes], ...], bytes], ...]


def check_node_proofs(batch: NodeProofBatch) -> Failure | None:
    named = []
    assets = batch.header.asset_count
    for level, index, members, proof in batch.items:
        try:
            nodes = [((at, i), decode_named_node(node, assets, at, i).liabilities) for at, i, node in members]
        except EncodingError as exc:
            return ("encoding", level, str(exc))
        try:
            named.append(("node-range-proof", level,
                          node_group_statement(batch.header, (level, index), nodes, proof, "node-range-proof")))
        except VerificationError as exc:
            return (exc.reason, exc.index, exc.detail)
    try:
        verify_named(named, batch=len(named) or 1)
    except VerificationError as exc:
        return (exc.reason, exc.index, None)  # decoded, did not verify: ranked after any proof that does not decode
    return None


# --------------------------------------------------------------------------------------------- the audit


def _raise(failure: Failure | None) -> None:
    if failure is None:
        return
    reason, index, detail = failure
    if reason == "encoding":
        raise EncodingError(detail or "malformed")
    if reason in ("chunk-collateral-proof", "node-range-proof") and detail is None:
        from zkclear.verifier.statements import _FAILURES

        detail = _FAILURES[reason].format(reason=reason, index=index)
    raise VerificationError(reason, index=index, detail=detail)


def _fail(reason: str, detail: str, index: int | None = None) -> None:
    raise VerificationError(reason, index=index, detail=detail)


def _first(results: Iterator[tuple[int, Failure | None]]) -> Failure | None:
    """The failure of the lowest-numbered batch (the order the in-memory audit would meet it in)."""
    found: dict[int, Failure] = {}
    for index, failure in results:
        if failure is not None:
            found[index] = failure
    return found[min(found)] if found else None


def audit_file(published: PublishedEpoch, *, chunk_system: ChunkProofSystem = CHUNK_SYSTEM,
               previous: ChainLink | None = None, executor: Executor | None = None,
               progress: Progress | None = None, group_chunks: int = GROUP_CHUNKS,
               window: int | None = None) -> AuditReport:
    """Audit the epoch from its audit file (``published.files.audit``): every check of ``audit_epoch``; returns
    the report or raises VerificationError (EncodingError for a malformed file)."""
    path = published.files.audit
    try:  # every pass reads the file opened here (red team round 5: a file or a named pipe renamed over it between
        # two passes was read, or blocked the audit forever), in blocks hashing to what the checksum pass hashed
        return _audit(published, PinnedFile(path, EncodingError), chunk_system, previous,
                      executor or SerialExecutor(), progress, max(1, group_chunks), window)
    except EncodingError as exc:
        named = str(exc) if str(exc).startswith(f"{path}: ") else f"{path}: {exc}"  # a changed piece names the file
        raise EncodingError(named) from None




def _audit(published: PublishedEpoch, path: PinnedFile, system: ChunkProofSystem, previous: ChainLink | None,
           run: Executor, progress: Progress | None, group_chunks: int, window: int | None) -> AuditReport:
    import time

    bundle = published.bundle
    header = bundle.header
    config = header.tree
    timings: dict[str, float] = {}
    started = time.perf_counter()
    start, end = check_container(path)
    sections = walk_sections(path, start, end, config.chunk_size, header.asset_count)
    check_bindings(published, sections.header_digest, system, previous)
    timings["bindings"] = time.perf_counter() - started

    started = time.perf_counter()
    try:
        proof_failure = _chunks_and_tree(published, path, sections, system, run, progress, group_chunks, window)
    except VerificationError as exc:
        # the in-memory decoder refuses a file with a malformed chunk or upper node before any check: so does this
        # audit, whatever check failed first (red team s11: a failing chunk was named instead); the chunks were all
        # decoded unless their count failed
        if exc.reason == "chunk-count-policy":
            for number, (_, record, _) in enumerate(read_chunks(path, sections)):
                try:
                    decode_chunk_record(record, system, published.public, config.chunk_size)
                except EncodingError as bad:
                    raise EncodingError(f"chunk[{number}]: {bad}") from None
        assets = header.asset_count
        nodes = read_entries(path, sections.nodes_at, sections.nodes, sections.end, node_entry_size(assets))
        _decode_all(nodes, assets)
        raise
    timings["tree"] = time.perf_counter() - started

    started = time.perf_counter()
    node_failure = _check_node_proofs(path, sections, header, run, window, progress)
    # the in-memory audit decodes every proof (the nodes', then the chunks') before it verifies any (in that order):
    # a chunk proof that does not decode is named before a node proof that decodes and fails (red team s12: the node
    # proof was named)
    failures = [failure for failure in (node_failure, proof_failure) if failure is not None]
    if failures:
        _raise(min(failures, key=lambda failure: failure[2] is None))
    verify_named([solvency_named(bundle)])
    timings["proofs"] = time.perf_counter() - started
    return AuditReport(header.epoch_id, bundle.epoch_hash().hex(), sections.chunks,
                       sections.chunks * config.chunk_size, sections.nodes, asset_reserves(bundle), timings)


def _chunks_and_tree(published: PublishedEpoch, path: PinnedFile, sections: Sections, system: ChunkProofSystem,
                     run: Executor, progress: Progress | None, group_chunks: int, window: int | None
                     ) -> Failure | None:
    """The chunk count, every chunk (position, id hashes, leaves and position vector) and the upper tree; returns
    the first collateralization proof that failed (reported after the node proofs, as in the in-memory audit)."""
    bundle, public = published.bundle, published.public
    header = bundle.header
    config = header.tree
    if not config.allows_chunk_count(sections.chunks):
        _fail("chunk-count-policy", f"{sections.chunks} chunks is not a count the padding policy "
                                    f"{config.chunk_padding!r} produces")
    positions: list[int] = []
    prefixes = array("Q", bytes(8 * sections.chunks * config.chunk_size))
    proof_failure: Failure | None = None
    roots: dict[int, bytes] = {}

    # chunk number -> the failure that stops the audit there; the lowest number is reported, as the in-memory audit,
    # which checks chunk by chunk (position order, then duplicate id hashes, then the chunk itself), meets it first
    # (red team s11: a chunk out of order or a duplicate id after a chunk whose position vector fails was named
    # instead of that chunk's chunk-position-vector); a chunk that does not decode is reported before any of them,
    # as the in-memory decoder refuses the file before the audit starts
    structural: dict[int, Failure] = {}
    out_of_order: dict[int, Failure] = {}  # the first chunk listed out of order (checked before the chunk itself)

    def groups() -> Iterator[ChunkGroup]:
        batch: list[tuple[int, bytes]] = []
        for number, (position, record, ids) in enumerate(read_chunks(path, sections)):
            if ((position <= (positions[-1] if positions else -1) or not 0 <= position < 1 << config.upper_height)
                    and not out_of_order):
                # the chunks before it may fail first, any chunk may not decode: all are still read
                out_of_order[number] = ("audit-structure", number,
                                        f"chunk {number} sits at position {position}, which is taken, out of order "
                                        "(chunks are listed in increasing position order) or outside the tree")
            positions.append(position)
            for slot, id_hash in enumerate(ids):
                prefixes[number * config.chunk_size + slot] = int.from_bytes(id_hash[:8], "big")
            batch.append((number, record))
            if len(batch) == group_chunks:
                yield ChunkGroup(system, public, header, tuple(batch))
                batch = []
        if batch:
            yield ChunkGroup(system, public, header, tuple(batch))

    step = "chunks (collateralization proofs)"
    if progress is not None:
        progress(step, 0, sections.chunks)
    done = 0
    proof_failures: dict[int, Failure] = {}
    for index, (group_roots, failure, proof_fail) in run.stream(check_chunk_group, groups(), window=window):
        first_number = index * group_chunks
        for offset, root in enumerate(group_roots):
            roots[positions[first_number + offset]] = root
        if failure is not None:  # the chunks before the failing one gave their roots
            structural[first_number + len(group_roots)] = failure
        if proof_fail is not None:
            proof_failures[index] = proof_fail
        done += len(group_roots) if failure is None else 0
        if progress is not None:
            progress(step, min(done, sections.chunks), sections.chunks)
    undecodable = [number for number, failure in structural.items() if failure[0] == "encoding"]
    if undecodable:
        _raise(structural[min(undecodable)])
    structural.update(out_of_order)
    # a duplicate id hash in chunk d is met before a failure of chunk d itself or of a later chunk, after chunk d's
    # position
    first = min(structural, default=sections.chunks)
    _check_duplicates(path, sections, prefixes, first - 1 if first in out_of_order else first)
    if structural:
        _raise(structural[min(structural)])
    if proof_failures:  # an undecodable proof (its detail set) first, as in the in-memory audit; then in order
        proof_failure = min(proof_failures.items(), key=lambda item: (item[1][2] is None, item[0]))[1]
    _check_tree(path, sections, bundle, roots, run, window, progress)
    return proof_failure


def _check_duplicates(path: Path | PinnedFile, sections: Sections, prefixes: array, last: int) -> None:
    """duplicate-leaf: two leaves with the same id hash, the second one in chunk ``last`` or before (8-byte prefixes
    sorted; equal prefixes re-checked in full)."""
    order = sorted(prefixes)
    clashes = {a for a, b in pairwise(order) if a == b}
    if not clashes:
        return
    seen: dict[bytes, int] = {}
    for number, (_, _, ids) in enumerate(read_chunks(path, sections)):
        if number > last:
            return
        for id_hash in ids:
            if int.from_bytes(id_hash[:8], "big") in clashes:
                if id_hash in seen:
                    _fail("duplicate-leaf", f"two leaves carry the same id hash {id_hash.hex()[:16]}... "
                                            f"(chunk {number})", number)
                seen[id_hash] = number


def _check_tree(path: Path | PinnedFile, sections: Sections, bundle: Any, roots: dict[int, bytes], run: Executor,
                window: int | None, progress: Progress | None) -> None:
    """The upper tree, level by level (the checks of ``rebuild_upper_tree``)."""
    header = bundle.header
    config = header.tree
    c, height, assets = config.chunk_bits, config.height, header.asset_count
    node_entry = node_entry_size(assets)
    pad_entry = padding_entry_size(assets)
    blocks = level_blocks(path, sections, node_entry)
    pad_blocks = padding_blocks(path, sections, pad_entry)
    for level in set(blocks) | set(pad_blocks):
        if not c <= level <= height or (level == height and level in pad_blocks):
            offset, n = blocks.get(level, (0, 0))
            _decode_all(read_entries(path, offset, n, sections.end, node_entry), assets)
            _fail("audit-structure", f"the audit data publishes a node at level {level} that is on no populated "
                                     "path")
    populated = sorted(roots)
    step = "upper tree (levels)"
    if progress is not None:
        progress(step, 0, height - c)
    for level in range(c, height):
        populated_set = set(populated)
        expected = sorted(populated_set | {index ^ 1 for index in populated})
        padding_expected = [index for index in expected if index not in populated_set]
        offset, n = blocks.get(level, (0, 0))
        published = {index: rest for _, index, rest in read_entries(path, offset, n, sections.end, node_entry)}
        pad_offset, pad_n = pad_blocks.get(level, (0, 0))
        padding = {index: rest for _, index, rest in read_entries(path, pad_offset, pad_n, sections.end, pad_entry)}
        if level == c:
            for position in populated:
                if published.get(position) != roots[position]:
                    if position in published:  # malformed bytes are bad input (exit 1), as in the in-memory audit
                        decode_named_node(published[position], assets, level, position)
                    _fail("chunk-root-mismatch", f"the chunk at position {position}: its leaves do not give its "
                                                 "published root", position)
        for index in padding_expected:
            if index not in padding or index not in published:
                _fail("padding-node-missing", f"the node at level {level}, index {index} is needed on a populated "
                                              "path but is neither built from chunks nor published as padding",
                      level)
        batches = [PaddingBatch(level, assets, tuple((i, published[i], padding[i]) for i in chunk))
                   for chunk in _batches(padding_expected)]
        _raise(_first(run.stream(check_padding, iter(batches), window=window)))
        parents = sorted({index >> 1 for index in populated})
        offset_up, n_up = blocks.get(level + 1, (0, 0))
        above = {index: rest for _, index, rest in read_entries(path, offset_up, n_up, sections.end, node_entry)}
        for parent in parents:
            if parent not in above:
                _fail("audit-structure", f"the node at level {level + 1}, index {parent} is not published", level + 1)
        parent_batches = [ParentBatch(level + 1, assets,
                                      tuple((p, published[2 * p], published[2 * p + 1], above[p]) for p in chunk))
                          for chunk in _batches(parents)]
        _raise(_first(run.stream(check_parents, iter(parent_batches), window=window)))
        extra = (set(published) - set(expected)) | (set(padding) - set(padding_expected))
        if extra:
            _decode_all(((level, i, published[i]) for i in sorted(extra) if i in published), assets)
            _fail("audit-structure", f"the audit data publishes a node at level {level}, index {min(extra)} that is "
                                     "on no populated path")
        populated = parents
        if progress is not None:
            progress(step, level - c + 1, height - c)
    offset, n = blocks.get(height, (0, 0))
    top = {index: rest for _, index, rest in read_entries(path, offset, n, sections.end, node_entry)}
    root = top.get(0)
    expected_root = bundle.root.encoded + bundle.root.digest + (bundle.root.positions_encoded or b"")
    if root is not None and root != expected_root:
        decode_named_node(root, assets, height, 0)
    if root is None or root != expected_root:
        _fail("root-mismatch", "the tree rebuilt from the audit data does not give the bundle's root")
    if set(top) != {0}:
        _decode_all(((height, i, node) for i, node in sorted(top.items())), assets)
        _fail("audit-structure", f"the audit data publishes a node at level {height}, index {max(top)} that is on no "
                                 "populated path")


def _decode_all(entries: Iterator[tuple[int, int, bytes]], assets: int) -> None:
    """Before failing on nodes that should not be there: a malformed one is bad input (EncodingError), as in the
    in-memory audit, whose decoder meets it first."""
    for level, index, node in entries:
        decode_named_node(node, assets, level, index)


def _batches(items: list[int], size: int = TREE_BATCH) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _check_node_proofs(path: Path | PinnedFile, sections: Sections, header: EpochHeader, run: Executor,
                       window: int | None, progress: Progress | None) -> Failure | None:
    """One proof per group of nodes below the root (``zkclear.tree.node_groups``), in anchor order; the groups are
    gathered band by band with one cursor per level of the band, batch-verified ``BATCH`` groups at a time. Returns
    the first proof that does not decode, else the first that does not verify (the in-memory audit's order)."""
    node_entry = node_entry_size(header.asset_count)
    c, height = header.tree.chunk_bits, header.tree.height
    levels = band_levels(header.asset_count)
    blocks = level_blocks(path, sections, node_entry)
    mismatch = "the node range proofs published are not exactly one per group of nodes below the root"

    def groups(proofs: Cursor) -> Iterator[tuple[int, int, tuple[tuple[int, int, bytes], ...], bytes]]:
        taken = 0
        for top in band_tops(c, height, levels):
            low = band_bottom(top, c, height, levels)
            cursors = [_Peek(read_entries(path, *blocks.get(level, (0, 0)), sections.end, node_entry))
                       for level in range(low, top)]
            while True:
                heads = [(cursor.head[1] >> (top - cursor.head[0])) for cursor in cursors if cursor.head is not None]
                if not heads:
                    break
                anchor = (top, min(heads))
                if taken == sections.proofs:
                    _fail("audit-structure", mismatch)
                key = struct.unpack(">BQ", proofs.take(9, "node proof position"))
                proof = proofs.take(struct.unpack(">I", proofs.take(4, "node proof length"))[0], "node proof")
                taken += 1
                if key != anchor:
                    _fail("audit-structure", mismatch)
                members = []
                for cursor in cursors:
                    while cursor.head is not None and cursor.head[1] >> (top - cursor.head[0]) == anchor[1]:
                        members.append(cursor.pop())
                yield (*anchor, tuple(members), proof)
        if taken != sections.proofs:
            _fail("audit-structure", mismatch)

    def batches() -> Iterator[NodeProofBatch]:
        proofs = Cursor(path, sections.proofs_at, sections.end)
        try:
            batch = []
            for group in groups(proofs):
                batch.append(group)
                if len(batch) == BATCH:
                    yield NodeProofBatch(header, tuple(batch))
                    batch = []
            if batch:
                yield NodeProofBatch(header, tuple(batch))
        finally:
            proofs.close()

    step = "node range proofs"
    total = -(-sections.proofs // BATCH)
    if progress is not None:
        progress(step, 0, total)
    found: dict[int, Failure] = {}
    for done, (index, failure) in enumerate(run.stream(check_node_proofs, batches(), window=window), start=1):
        if failure is not None:
            found[index] = failure
        if progress is not None:
            progress(step, done, total)
    if not found:
        return None
    return min(found.items(), key=lambda item: (item[1][2] is None, item[0]))[1]


class _Peek:
    """An iterator of ``(level, index, rest)`` entries with its next entry in view (``head``, None at the end)."""

    def __init__(self, entries: Iterator[tuple[int, int, bytes]]) -> None:
        self._entries = entries
        self.head = next(entries, None)

    def pop(self) -> tuple[int, int, bytes]:
        entry = self.head
        if entry is None:
            raise EncodingError("upper nodes: read past the end of a level")
        self.head = next(self._entries, None)
        return entry


# --------------------------------------------------------------------------------------------- crowd audit
