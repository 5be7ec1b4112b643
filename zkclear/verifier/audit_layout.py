"""Where every list and piece of an audit file is, found in one strict pass that decodes no point (docs/format.md,
"Audit data"), and readers of its chunks and fixed-size entries one at a time: what the streaming audit and the crowd
audit walk instead of decoding the whole file."""

from __future__ import annotations

import hashlib
import struct
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zkclear.bundle.format import decode_node, node_size, padding_size
from zkclear.crypto.field import scalar_from_bytes
from zkclear.errors import EncodingError, ZkclearError
from zkclear.tree.sum_tree import POSITION_POINTS, Position, TreeNode
from zkclear.verifier.pinned_file import Cursor, PinnedFile


def node_entry_size(assets: int) -> int:
    """Bytes of one entry of the upper-node list: the position, then the node."""
    return 9 + node_size(assets)


def padding_entry_size(assets: int) -> int:
    """Bytes of one entry of the padding list: the position, then the blindings."""
    return 9 + padding_size(assets)


def decode_named_node(data: bytes, assets: int, level: int, index: int) -> TreeNode:
    """decode_node, its EncodingError naming the upper node (level and index) it is about."""
    try:
        return decode_node(data, assets)
    except EncodingError as exc:
        raise EncodingError(f"upper node at level {level}, index {index}: {exc}") from None



@dataclass
class Sections:
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
class Spans:
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
class Layout:
    """What the crowd audit keeps of its file after the one pass that also computes the checksum: where each chunk
    record starts (one more offset: where the last one ends), its position and the SHA-256 of its bytes; the offset,
    size and SHA-256 of every upper node's and node proof's item; the padding entries' blindings. A piece read later
    is refused unless it hashes to what was checked (red team round 5: the file on a shared folder can change
    between the checksum and the reads)."""

    offsets: array = field(default_factory=lambda: array("Q"))
    positions: array = field(default_factory=lambda: array("Q"))
    digests: bytearray = field(default_factory=bytearray)  # 32 bytes a chunk
    nodes: Spans = field(default_factory=lambda: Spans())
    proofs: Spans = field(default_factory=lambda: Spans())
    padding: dict[Position, bytes] = field(default_factory=dict)


def walk_sections(path: Path | PinnedFile, start: int, end: int, chunk_size: int, assets: int,
              index: Layout | None = None, cursor: Cursor | None = None) -> Sections:
    """Walk the body once (no decoding of points) to find where each list starts (and, given ``index``, where each
    piece is and its digest); strict like the decoder. ``cursor``: the one to walk with (its digests then see every
    byte of the body)."""
    cursor = cursor or Cursor(path, start, end)
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

        def item(what: str, key: Position, size: int, into: Spans | None) -> None:
            if into is None:
                cursor.skip(size, what)
            else:
                at = cursor.offset
                cursor.digests.append(hashlib.sha256())
                cursor.skip(size, what)  # in blocks: a proof of gigabytes is hashed, never held
                into.add(key, at, size, cursor.digests.pop().digest())

        nodes, nodes_at = positioned(cursor, "upper nodes", entry, lambda what, key: item(
            what, key, entry - 9, None if index is None else index.nodes))

        def proof(what: str, key: Position) -> None:
            item(what, key, struct.unpack(">I", cursor.take(4, f"{what} length"))[0],
                 None if index is None else index.proofs)

        proofs, proofs_at = positioned(cursor, "node proofs", 13, proof)
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

        padding, padding_at = positioned(cursor, "padding", pad_entry, blindings)
        if cursor.offset != end:
            raise EncodingError(f"audit data: {end - cursor.offset} unexpected trailing bytes")
        return Sections(digest, chunks, chunks_at, nodes, nodes_at, proofs, proofs_at, padding, padding_at, end)
    finally:
        cursor.close()


def positioned(cursor: Cursor, what: str, item_size: int,
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


def read_chunks(path: Path | PinnedFile, sections: Sections) -> Iterator[tuple[int, bytes, list[bytes]]]:
    """(position, record bytes, id hashes) of every chunk, one at a time."""
    cursor = Cursor(path, sections.chunks_at, sections.end)
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


def read_entries(path: Path | PinnedFile, start: int, count: int, end: int, size: int
                 ) -> Iterator[tuple[int, int, bytes]]:
    """(level, index, rest) of fixed-size entries."""
    cursor = Cursor(path, start, end)
    try:
        for _ in range(count):
            data = cursor.take(size, "entry")
            level, index = struct.unpack(">BQ", data[:9])
            yield level, index, data[9:]
    finally:
        cursor.close()


def level_blocks(path: Path | PinnedFile, sections: Sections, size: int) -> dict[int, tuple[int, int]]:
    """level -> (offset of its first entry, entries) in the upper-node list (entries of ``size`` bytes)."""
    blocks: dict[int, tuple[int, int]] = {}
    for i, (level, _, _) in enumerate(read_entries(path, sections.nodes_at, sections.nodes, sections.end, size)):
        if level not in blocks:
            blocks[level] = (sections.nodes_at + i * size, 0)
        offset, n = blocks[level]
        blocks[level] = (offset, n + 1)
    return blocks


def padding_blocks(path: Path | PinnedFile, sections: Sections, size: int) -> dict[int, tuple[int, int]]:
    blocks: dict[int, tuple[int, int]] = {}
    for i, (level, _, _) in enumerate(read_entries(path, sections.padding_at, sections.padding, sections.end, size)):
        offset, n = blocks.get(level, (sections.padding_at + i * size, 0))
        blocks[level] = (offset, n + 1)
    return blocks

