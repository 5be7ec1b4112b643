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

:func:`open_audit_file` serves the crowd audit from the same file: the checksum and layout in one bounded pass, then
only the chunks, nodes and proofs the audit asks for are read and decoded.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

from provers.bulletproofs import batch_verify
from zkclear.bundle.format import (
    KIND_AUDIT,
    container_body_length,
    decode_chunk_record,
    decode_node,
    node_size,
    padding_size,
)
from zkclear.bundle.model import AuditData
from zkclear.crypto.field import scalar_from_bytes
from zkclear.errors import EncodingError, InputError, VerificationError, ZkclearError
from zkclear.executor import Executor, SerialExecutor
from zkclear.files import check_regular_file
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.header import ChainLink, EpochHeader
from zkclear.tree.node_groups import band_bottom, band_levels, band_tops
from zkclear.tree.receipts import ChunkRecord
from zkclear.tree.sum_tree import POSITION_POINTS, PaddingOpening, Position, TreeNode, combine_level
from zkclear.verifier.audit import AuditReport, asset_reserves, check_bindings, first_nonzero_padding
from zkclear.verifier.published import CHUNK_SYSTEM, PublishedEpoch
from zkclear.verifier.root import solvency_named
from zkclear.verifier.statements import BATCH, chunk_root, chunk_statements, node_group_statement, verify_named

Progress = Callable[[str, int, int], None]
_PREFIX = struct.Struct(">8s4sHQ")
#: Chunks per verification task (one batch verification, one MSM, per group).
GROUP_CHUNKS = 8
#: Parents (or padding nodes) per tree-check task.
TREE_BATCH = 256
#: The full audit's checksum pass records the SHA-256 of every block of this many bytes of the file; each later pass
#: reads whole blocks and refuses one that hashes otherwise (32 bytes of digest per 256 KiB: 1.25 MB for 10 GB).
CHECKED_BLOCK = 1 << 18

Failure = tuple[str, int | None, str | None]


class _Cursor:
    """Reads a file from an offset, failing like the in-memory decoder on truncation. Given ``digest``, every byte
    read or skipped is hashed into it (skips are read then), so a walk can also compute the container's checksum;
    given ``handle``, it reads that open file (not closed by close()) instead of opening ``path``. ``digests`` may
    grow and shrink during the walk (a piece's digest is pushed at its start, popped at its end)."""

    def __init__(self, path: Path | _PinnedFile, offset: int, end: int, *, handle: Any = None,
                 digest: Any = None) -> None:
        self._own = handle is None
        if handle is not None:
            self._file: BinaryIO = handle
        elif isinstance(path, _PinnedFile):
            self._file = path.reader()
        else:
            self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._file.seek(offset)
        self.offset, self.end = offset, end
        self.digests: list[Any] = [] if digest is None else [digest]

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.offset + size > self.end:
            raise EncodingError(f"truncated: {what} needs {size} bytes at offset {self.offset}, "
                                f"{self.end - self.offset} left")
        data = self._file.read(size)
        if len(data) != size:  # the file is shorter than when its length was read: it changed under us
            raise EncodingError(f"truncated: {what} needs {size} bytes at offset {self.offset}, the file ends "
                                f"after {len(data)} (it changed while being read)")
        for digest in self.digests:
            digest.update(data)
        self.offset += size
        return data

    def u64(self, what: str) -> int:
        return struct.unpack(">Q", self.take(8, what))[0]

    def count(self, what: str, item_size: int) -> int:
        n = self.u64(what)
        if n * item_size > self.end - self.offset:
            raise EncodingError(f"truncated: {what} says {n} items, more than the file holds")
        return n

    def skip(self, size: int, what: str) -> None:
        if self.offset + size > self.end:
            raise EncodingError(f"truncated: {what} needs {size} bytes at offset {self.offset}")
        if self.digests:
            while size:
                size -= len(self.take(min(size, 1 << 20), what))
            return
        self._file.seek(size, 1)
        self.offset += size

    def close(self) -> None:
        if self._own:
            self._file.close()


def _check_container(file: _PinnedFile) -> tuple[int, int]:
    """(body offset, body end) after checking magic, kind, version, length and the checksum, reading the file in
    blocks of ``CHECKED_BLOCK`` bytes; every block's SHA-256 is kept, and every later read of ``file`` is served
    from whole blocks that hash to the same (:meth:`_PinnedFile.hold_to`): what the audit checks is the version
    of the file the checksum covered."""
    with file.reader() as handle:
        head = handle.read(_PREFIX.size)
        end = _PREFIX.size + container_body_length(head, KIND_AUDIT, file.size)
        handle.seek(0)
        checksum = hashlib.sha256()
        blocks = bytearray()
        trailer = b""
        for start in range(0, file.size, CHECKED_BLOCK):
            size = min(CHECKED_BLOCK, file.size - start)
            block = handle.read(size)
            if len(block) != size:
                raise EncodingError(f"truncated: the file ends after {start + len(block)} bytes, not {file.size} "
                                    "(it changed while being read)")
            blocks.extend(hashlib.sha256(block).digest())
            checksum.update(block[:max(0, end - start)])
            trailer = (trailer + block[-32:])[-32:]
        if checksum.digest() != trailer:
            raise EncodingError("checksum mismatch: the file is corrupted")
    file.hold_to(bytes(blocks))
    return _PREFIX.size, end


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


def node_entry_size(assets: int) -> int:
    """Bytes of one entry of the upper-node list: the position, then the node."""
    return 9 + node_size(assets)


def padding_entry_size(assets: int) -> int:
    """Bytes of one entry of the padding list: the position, then the blindings."""
    return 9 + padding_size(assets)


def _decode_named(data: bytes, assets: int, level: int, index: int) -> TreeNode:
    """decode_node, its EncodingError naming the upper node (level and index) it is about."""
    try:
        return decode_node(data, assets)
    except EncodingError as exc:
        raise EncodingError(f"upper node at level {level}, index {index}: {exc}") from None


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
            nodes = [_decode_named(data, assets, level, at) for data, level, at in (
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
                node = _decode_named(node_bytes, assets, batch.level, index)
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
            nodes = [((at, i), _decode_named(node, assets, at, i).liabilities) for at, i, node in members]
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
        return _audit(published, _PinnedFile(path, EncodingError), chunk_system, previous,
                      executor or SerialExecutor(), progress, max(1, group_chunks), window)
    except EncodingError as exc:
        named = str(exc) if str(exc).startswith(f"{path}: ") else f"{path}: {exc}"  # a changed piece names the file
        raise EncodingError(named) from None


@dataclass
class _Sections:
    header_digest: bytes
    chunks: int
    chunks_at: int
    nodes: int
    nodes_at: int
    proofs: int
    proofs_at: int
    padding: int
    padding_at: int
    end: int


@dataclass(frozen=True, slots=True)
class _Spans:
    """Where each item of a list of ``position || item`` entries is (offset, size, SHA-256), by position, in flat
    arrays (53 bytes an entry, not a dictionary entry of some hundreds: red team round 5, a file of empty 13-byte
    node proofs took many times its size in memory). Positions arrive strictly increasing (the decoder's rule,
    checked by :func:`_positioned`), so a position is found by bisection."""

    levels: array = field(default_factory=lambda: array("B"))
    indices: array = field(default_factory=lambda: array("Q"))
    offsets: array = field(default_factory=lambda: array("Q"))
    sizes: array = field(default_factory=lambda: array("I"))
    digests: bytearray = field(default_factory=bytearray)

    def add(self, position: Position, offset: int, size: int, digest: bytes) -> None:
        self.levels.append(position[0])
        self.indices.append(position[1])
        self.offsets.append(offset)
        self.sizes.append(size)
        self.digests.extend(digest)

    def __len__(self) -> int:
        return len(self.levels)

    def __getitem__(self, k: int) -> Position:
        return self.levels[k], self.indices[k]

    def find(self, position: object) -> int | None:
        """The entry number of ``position`` (None: not listed)."""
        if not (isinstance(position, tuple) and len(position) == 2):
            return None
        k = bisect_left(self, position)
        return k if k < len(self) and self[k] == position else None

    def span(self, k: int) -> tuple[int, int, bytes]:
        return self.offsets[k], self.sizes[k], bytes(self.digests[32 * k:32 * k + 32])


@dataclass(frozen=True, slots=True)
class _Layout:
    """What the crowd audit keeps of its file after the one pass that also computes the checksum: where each chunk
    record starts (one more offset: where the last one ends), its position and the SHA-256 of its bytes; the offset,
    size and SHA-256 of every upper node's and node proof's item; the padding entries' blindings. A piece read later
    is refused unless it hashes to what was checked (red team round 5: the file on a shared folder can change
    between the checksum and the reads)."""

    offsets: array = field(default_factory=lambda: array("Q"))
    positions: array = field(default_factory=lambda: array("Q"))
    digests: bytearray = field(default_factory=bytearray)  # 32 bytes a chunk
    nodes: _Spans = field(default_factory=lambda: _Spans())
    proofs: _Spans = field(default_factory=lambda: _Spans())
    padding: dict[Position, bytes] = field(default_factory=dict)


def _sections(path: Path | _PinnedFile, start: int, end: int, chunk_size: int, assets: int,
              index: _Layout | None = None, cursor: _Cursor | None = None) -> _Sections:
    """Walk the body once (no decoding of points) to find where each list starts (and, given ``index``, where each
    piece is and its digest); strict like the decoder. ``cursor``: the one to walk with (its digests then see every
    byte of the body)."""
    cursor = cursor or _Cursor(path, start, end)
    try:
        digest = cursor.take(32, "header digest")
        chunks = cursor.count("chunk count", 8 + 2 + 4)
        chunks_at = cursor.offset
        for i in range(chunks):
            if index is not None:
                index.offsets.append(cursor.offset)
                cursor.digests.append(hashlib.sha256())
                index.positions.append(struct.unpack(">Q", cursor.take(8, f"chunk[{i}] position"))[0])
            else:
                cursor.skip(8, f"chunk[{i}] position")
            slots = struct.unpack(">H", cursor.take(2, f"chunk[{i}] slots"))[0]
            if slots != chunk_size:
                raise EncodingError(f"chunk[{i}]: {slots} slots, the header says {chunk_size}")
            for s in range(slots):
                cursor.skip(32, f"chunk[{i}] slot {s} id hash")
                length = struct.unpack(">I", cursor.take(4, f"chunk[{i}] slot {s} account length"))[0]
                cursor.skip(length, f"chunk[{i}] slot {s} account")
            length = struct.unpack(">I", cursor.take(4, f"chunk[{i}] proof length"))[0]
            cursor.skip(length, f"chunk[{i}] proof")
            length = struct.unpack(">I", cursor.take(4, f"chunk[{i}] position vector proof length"))[0]
            cursor.skip(length, f"chunk[{i}] position vector proof")
            if index is not None:
                index.digests.extend(cursor.digests.pop().digest())
        if index is not None:
            index.offsets.append(cursor.offset)
        entry = node_entry_size(assets)

        def item(what: str, key: Position, size: int, into: _Spans | None) -> None:
            if into is None:
                cursor.skip(size, what)
            else:
                at = cursor.offset
                cursor.digests.append(hashlib.sha256())
                cursor.skip(size, what)  # in blocks: a proof of gigabytes is hashed, never held
                into.add(key, at, size, cursor.digests.pop().digest())

        nodes, nodes_at = _positioned(cursor, "upper nodes", entry, lambda what, key: item(
            what, key, entry - 9, None if index is None else index.nodes))

        def proof(what: str, key: Position) -> None:
            item(what, key, struct.unpack(">I", cursor.take(4, f"{what} length"))[0],
                 None if index is None else index.proofs)

        proofs, proofs_at = _positioned(cursor, "node proofs", 13, proof)
        pad_entry = padding_entry_size(assets)

        def blindings(what: str, key: Position) -> None:
            entry_bytes = cursor.take(pad_entry - 9, what)
            if index is not None:
                index.padding[key] = entry_bytes
            for j in range(assets + POSITION_POINTS):
                try:
                    scalar_from_bytes(entry_bytes[32 * j:32 * j + 32])
                except ZkclearError as exc:
                    raise EncodingError(f"{what}: {exc}") from None

        padding, padding_at = _positioned(cursor, "padding", pad_entry, blindings)
        if cursor.offset != end:
            raise EncodingError(f"audit data: {end - cursor.offset} unexpected trailing bytes")
        return _Sections(digest, chunks, chunks_at, nodes, nodes_at, proofs, proofs_at, padding, padding_at, end)
    finally:
        cursor.close()


def _positioned(cursor: _Cursor, what: str, item_size: int,
                rest: Callable[[str, Position], None]) -> tuple[int, int]:
    """(count, offset of the first entry) of a list of ``position || item`` entries (a u64 count first), positions
    strictly increasing like the decoder demands; ``rest(name, position)`` reads one entry's item after its
    position."""
    n = cursor.count(what, item_size)
    at = cursor.offset
    last = None
    for i in range(n):
        key = struct.unpack(">BQ", cursor.take(9, f"{what}[{i}] position"))
        if last is not None and key <= last:
            raise EncodingError(f"{what}[{i}]: positions must be strictly increasing")
        last = key
        rest(f"{what}[{i}]", key)
    return n, at


def _read_chunks(path: Path | _PinnedFile, sections: _Sections) -> Iterator[tuple[int, bytes, list[bytes]]]:
    """(position, record bytes, id hashes) of every chunk, one at a time."""
    cursor = _Cursor(path, sections.chunks_at, sections.end)
    try:
        for _ in range(sections.chunks):
            head = cursor.take(10, "chunk")
            slots = struct.unpack(">H", head[8:])[0]
            parts, ids = [head], []
            for _ in range(slots):
                id_hash = cursor.take(32, "id hash")
                length = cursor.take(4, "account length")
                parts += [id_hash, length, cursor.take(struct.unpack(">I", length)[0], "account")]
                ids.append(id_hash)
            length = cursor.take(4, "proof length")
            parts += [length, cursor.take(struct.unpack(">I", length)[0], "proof")]
            length = cursor.take(4, "position vector proof length")
            parts += [length, cursor.take(struct.unpack(">I", length)[0], "position vector proof")]
            yield struct.unpack(">Q", head[:8])[0], b"".join(parts), ids
    finally:
        cursor.close()


def _entries(path: Path | _PinnedFile, start: int, count: int, end: int, size: int) -> Iterator[tuple[int, int, bytes]]:
    """(level, index, rest) of fixed-size entries."""
    cursor = _Cursor(path, start, end)
    try:
        for _ in range(count):
            data = cursor.take(size, "entry")
            level, index = struct.unpack(">BQ", data[:9])
            yield level, index, data[9:]
    finally:
        cursor.close()


def _audit(published: PublishedEpoch, path: _PinnedFile, system: ChunkProofSystem, previous: ChainLink | None,
           run: Executor, progress: Progress | None, group_chunks: int, window: int | None) -> AuditReport:
    import time

    bundle = published.bundle
    header = bundle.header
    config = header.tree
    timings: dict[str, float] = {}
    started = time.perf_counter()
    start, end = _check_container(path)
    sections = _sections(path, start, end, config.chunk_size, header.asset_count)
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
            for number, (_, record, _) in enumerate(_read_chunks(path, sections)):
                try:
                    decode_chunk_record(record, system, published.public, config.chunk_size)
                except EncodingError as bad:
                    raise EncodingError(f"chunk[{number}]: {bad}") from None
        assets = header.asset_count
        _decode_all(_entries(path, sections.nodes_at, sections.nodes, sections.end, node_entry_size(assets)), assets)
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


def _chunks_and_tree(published: PublishedEpoch, path: _PinnedFile, sections: _Sections, system: ChunkProofSystem,
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
        for number, (position, record, ids) in enumerate(_read_chunks(path, sections)):
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


def _check_duplicates(path: Path | _PinnedFile, sections: _Sections, prefixes: array, last: int) -> None:
    """duplicate-leaf: two leaves with the same id hash, the second one in chunk ``last`` or before (8-byte prefixes
    sorted; equal prefixes re-checked in full)."""
    order = sorted(prefixes)
    clashes = {a for a, b in pairwise(order) if a == b}
    if not clashes:
        return
    seen: dict[bytes, int] = {}
    for number, (_, _, ids) in enumerate(_read_chunks(path, sections)):
        if number > last:
            return
        for id_hash in ids:
            if int.from_bytes(id_hash[:8], "big") in clashes:
                if id_hash in seen:
                    _fail("duplicate-leaf", f"two leaves carry the same id hash {id_hash.hex()[:16]}... "
                                            f"(chunk {number})", number)
                seen[id_hash] = number


def _level_blocks(path: Path | _PinnedFile, sections: _Sections, size: int) -> dict[int, tuple[int, int]]:
    """level -> (offset of its first entry, entries) in the upper-node list (entries of ``size`` bytes)."""
    blocks: dict[int, tuple[int, int]] = {}
    for i, (level, _, _) in enumerate(_entries(path, sections.nodes_at, sections.nodes, sections.end, size)):
        if level not in blocks:
            blocks[level] = (sections.nodes_at + i * size, 0)
        offset, n = blocks[level]
        blocks[level] = (offset, n + 1)
    return blocks


def _padding_blocks(path: Path | _PinnedFile, sections: _Sections, size: int) -> dict[int, tuple[int, int]]:
    blocks: dict[int, tuple[int, int]] = {}
    for i, (level, _, _) in enumerate(_entries(path, sections.padding_at, sections.padding, sections.end, size)):
        offset, n = blocks.get(level, (sections.padding_at + i * size, 0))
        blocks[level] = (offset, n + 1)
    return blocks


def _check_tree(path: Path | _PinnedFile, sections: _Sections, bundle: Any, roots: dict[int, bytes], run: Executor,
                window: int | None, progress: Progress | None) -> None:
    """The upper tree, level by level (the checks of ``rebuild_upper_tree``)."""
    header = bundle.header
    config = header.tree
    c, height, assets = config.chunk_bits, config.height, header.asset_count
    node_entry = node_entry_size(assets)
    pad_entry = padding_entry_size(assets)
    blocks = _level_blocks(path, sections, node_entry)
    pad_blocks = _padding_blocks(path, sections, pad_entry)
    for level in set(blocks) | set(pad_blocks):
        if not c <= level <= height or (level == height and level in pad_blocks):
            offset, n = blocks.get(level, (0, 0))
            _decode_all(_entries(path, offset, n, sections.end, node_entry), assets)
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
        published = {index: rest for _, index, rest in _entries(path, offset, n, sections.end, node_entry)}
        pad_offset, pad_n = pad_blocks.get(level, (0, 0))
        padding = {index: rest for _, index, rest in _entries(path, pad_offset, pad_n, sections.end, pad_entry)}
        if level == c:
            for position in populated:
                if published.get(position) != roots[position]:
                    if position in published:  # malformed bytes are bad input (exit 1), as in the in-memory audit
                        _decode_named(published[position], assets, level, position)
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
        above = {index: rest for _, index, rest in _entries(path, offset_up, n_up, sections.end, node_entry)}
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
    top = {index: rest for _, index, rest in _entries(path, offset, n, sections.end, node_entry)}
    root = top.get(0)
    expected_root = bundle.root.encoded + bundle.root.digest + (bundle.root.positions_encoded or b"")
    if root is not None and root != expected_root:
        _decode_named(root, assets, height, 0)
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
        _decode_named(node, assets, level, index)


def _batches(items: list[int], size: int = TREE_BATCH) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _check_node_proofs(path: Path | _PinnedFile, sections: _Sections, header: EpochHeader, run: Executor,
                       window: int | None, progress: Progress | None) -> Failure | None:
    """One proof per group of nodes below the root (``zkclear.tree.node_groups``), in anchor order; the groups are
    gathered band by band with one cursor per level of the band, batch-verified ``BATCH`` groups at a time. Returns
    the first proof that does not decode, else the first that does not verify (the in-memory audit's order)."""
    node_entry = node_entry_size(header.asset_count)
    c, height = header.tree.chunk_bits, header.tree.height
    levels = band_levels(header.asset_count)
    blocks = _level_blocks(path, sections, node_entry)
    mismatch = "the node range proofs published are not exactly one per group of nodes below the root"

    def groups(proofs: _Cursor) -> Iterator[tuple[int, int, tuple[tuple[int, int, bytes], ...], bytes]]:
        taken = 0
        for top in band_tops(c, height, levels):
            low = band_bottom(top, c, height, levels)
            cursors = [_Peek(_entries(path, *blocks.get(level, (0, 0)), sections.end, node_entry))
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
        proofs = _Cursor(path, sections.proofs_at, sections.end)
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


def _named(error: type[ZkclearError], message: str, path: Path) -> ZkclearError:
    return InputError(message, path=str(path)) if error is InputError else error(message)


class _PositionedReads(io.RawIOBase):
    """Raw reads of an open file descriptor at a position of this object's own (``os.pread``), so that readers of
    one file never move each other; does not close the descriptor."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd, self._at = fd, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._at = offset if whence == 0 else self._at + offset if whence == 1 else os.fstat(self._fd).st_size + offset
        return self._at

    def tell(self) -> int:
        return self._at

    def readinto(self, buffer: Any) -> int:
        data = os.pread(self._fd, len(buffer), self._at)
        buffer[:len(data)] = data
        self._at += len(data)
        return len(data)


class _CheckedReads(_PositionedReads):
    """Reads of a held file served from whole blocks of ``CHECKED_BLOCK`` bytes, each refused by
    :meth:`_PinnedFile.piece` unless it hashes to the digest its checksum pass recorded (the last block read is
    kept, so a sequential pass hashes each block once)."""

    def __init__(self, fd: int, file: _PinnedFile, blocks: bytes) -> None:
        super().__init__(fd)
        self._file, self._blocks = file, blocks
        self._number, self._block = -1, memoryview(b"")

    def readinto(self, buffer: Any) -> int:
        if self._at >= self._file.size:
            return 0
        number = self._at // CHECKED_BLOCK
        if number != self._number:
            start = number * CHECKED_BLOCK
            size = min(CHECKED_BLOCK, self._file.size - start)
            digest = self._blocks[32 * number:32 * number + 32]
            self._block = memoryview(self._file.piece(start, size, digest, f"bytes {start}..{start + size - 1}"))
            self._number = number
        offset = self._at - number * CHECKED_BLOCK
        data = self._block[offset:offset + len(buffer)]
        buffer[:len(data)] = data
        self._at += len(data)
        return len(data)


class _PinnedFile:
    """An audit file held open from its checksum to the last read (a file renamed over it, a named pipe put in its
    place, changes nothing for the reads; ``error``: what to raise when it is no regular file); ``piece`` reads a
    piece and refuses bytes other than the ones the checksum covered (the crowd audit's reads)."""

    def __init__(self, path: Path, error: type[ZkclearError] = InputError) -> None:
        self.path = path
        self._fd: int | None = None
        try:  # non-blocking: opening a named pipe put in the file's place must not wait for a writer
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise _named(error, f"cannot open: {exc.strerror or exc}", path) from None
        status = os.fstat(self._fd)
        if not stat.S_ISREG(status.st_mode):  # a named pipe would block the audit forever, a device never end
            os.close(self._fd)
            self._fd = None  # closed: not again by __del__ (the number may be another file's by then)
            raise _named(error, "not a regular file", path)
        self.size = status.st_size
        self._blocks: bytes | None = None

    def hold_to(self, blocks: bytes) -> None:
        """From now on, :meth:`reader` serves only bytes of blocks whose SHA-256 are ``blocks`` (32 bytes each, one
        per ``CHECKED_BLOCK`` bytes of the file): the full audit's later passes read the version its checksum pass
        hashed, or stop (EncodingError)."""
        self._blocks = blocks

    def reader(self) -> io.BufferedReader:
        """A buffered reader of the held file with a position of its own (several may be read in turn); closing it
        leaves the file open."""
        raw = _PositionedReads(self._fd) if self._blocks is None else _CheckedReads(self._fd, self, self._blocks)
        return io.BufferedReader(raw, 1 << 20)

    def piece(self, start: int, size: int, digest: bytes, what: str) -> bytes:
        data = os.pread(self._fd, size, start)
        if len(data) != size or hashlib.sha256(data).digest() != digest:
            raise EncodingError(f"{self.path}: {what} changed since the file's checksum was checked (the file was "
                                f"modified while it was being audited)")
        return data

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class _ChunksOnDisk(Sequence[ChunkRecord]):
    """The audit file's chunks, each read and decoded only when asked for."""

    def __init__(self, file: _PinnedFile, layout: _Layout, system: ChunkProofSystem, public: Any,
                 chunk_size: int) -> None:
        self._file, self._layout, self._system, self._public, self._size = file, layout, system, public, chunk_size

    def __len__(self) -> int:
        return len(self._layout.positions)

    def __getitem__(self, number: int) -> ChunkRecord:  # type: ignore[override]  (no slices: one chunk at a time)
        if not 0 <= number < len(self):
            raise IndexError(number)
        start, stop = self._layout.offsets[number], self._layout.offsets[number + 1]
        digest = bytes(self._layout.digests[32 * number:32 * number + 32])
        data = self._file.piece(start, stop - start, digest, f"chunk[{number}]")
        try:
            return decode_chunk_record(data, self._system, self._public, self._size)
        except EncodingError as exc:
            raise EncodingError(f"{self._file.path}: chunk[{number}]: {exc}") from None


class _EntriesOnDisk(Mapping[Position, Any]):
    """A list of ``position || item`` entries of the audit file by position, each item read and decoded only when
    asked for (membership and iteration need no reading)."""

    def __init__(self, file: _PinnedFile, spans: _Spans, decode: Callable[[Position, bytes], Any]) -> None:
        self._file, self._spans, self._decode = file, spans, decode

    def __getitem__(self, position: Position) -> Any:
        k = self._spans.find(position)
        if k is None:
            raise KeyError(position)
        start, size, digest = self._spans.span(k)
        data = self._file.piece(start, size, digest, f"the entry at {position}")
        try:
            return self._decode(position, data)
        except EncodingError as exc:
            raise EncodingError(f"{self._file.path}: {exc}") from None

    def __contains__(self, position: object) -> bool:
        return self._spans.find(position) is not None

    def __iter__(self) -> Iterator[Position]:
        return (self._spans[k] for k in range(len(self._spans)))

    def __len__(self) -> int:
        return len(self._spans)


@dataclass(frozen=True, slots=True)
class AuditOnDisk(AuditData):
    """An audit file as :class:`AuditData` whose chunks, upper nodes and node proofs stay on disk until asked for:
    what a crowd audit reads of a file of gigabytes is its index and the few chunks and paths it samples."""

    positions: Sequence[int] = ()

    def chunk_positions(self) -> Sequence[int]:
        return self.positions


def open_audit_file(published: PublishedEpoch, *, chunk_system: ChunkProofSystem = CHUNK_SYSTEM) -> AuditOnDisk:
    """``published``'s audit file, its checksum and layout checked in one bounded pass over the file held open
    (strict like the decoder on everything but the points and proofs of chunks and nodes, which are decoded when
    read, and refused then unless they are the bytes the checksum covered); the padding openings are decoded now.
    EncodingError naming the file when it is malformed or changes while read, InputError when it is missing or not
    a regular file."""
    path = published.files.audit
    header = published.bundle.header
    assets = header.asset_count
    if not path.exists():
        raise InputError("file not found", path=str(path))
    check_regular_file(path)  # a named pipe or a device is refused before a byte is read
    file = _PinnedFile(path)  # and again on what was opened
    try:
        with file.reader() as walk:
            head = walk.read(_PREFIX.size)
            length = container_body_length(head, KIND_AUDIT, file.size)
            layout = _Layout()
            checksum = hashlib.sha256(head)
            cursor = _Cursor(path, _PREFIX.size, _PREFIX.size + length, handle=walk, digest=checksum)
            sections = _sections(path, _PREFIX.size, _PREFIX.size + length, header.tree.chunk_size, assets,
                                 layout, cursor)
            if checksum.digest() != walk.read(32):
                raise EncodingError("checksum mismatch: the file is corrupted")
    except EncodingError as exc:
        raise EncodingError(f"{path}: {exc}") from None
    return AuditOnDisk(
        sections.header_digest, _ChunksOnDisk(file, layout, chunk_system, published.public, header.tree.chunk_size),
        _EntriesOnDisk(file, layout.nodes, lambda position, data: _decode_named(data, assets, *position)),
        _EntriesOnDisk(file, layout.proofs, lambda position, data: data),
        {position: _padding_opening(blindings, assets) for position, blindings in layout.padding.items()},
        positions=layout.positions)


def _padding_opening(blindings: bytes, assets: int) -> PaddingOpening:
    """A padding entry's blindings (already checked to be scalars by :func:`_sections`): A liability blindings,
    then the position vector's."""
    scalars = tuple(scalar_from_bytes(blindings[k:k + 32]) for k in range(0, len(blindings), 32))
    return scalars[:assets], scalars[assets:]
