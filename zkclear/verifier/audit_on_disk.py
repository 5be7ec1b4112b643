"""The crowd audit's view of an audit file (docs/protocol.md, "Crowd audit"): its checksum and layout checked in one
bounded pass, then only the chunks, upper nodes and node proofs the audit samples are read, each refused unless it is
the bytes the checksum covered."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zkclear.bundle.format import KIND_AUDIT, container_body_length, decode_chunk_record
from zkclear.bundle.model import AuditData
from zkclear.crypto.field import scalar_from_bytes
from zkclear.errors import EncodingError, InputError
from zkclear.files import check_regular_file
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.tree.receipts import ChunkRecord
from zkclear.tree.sum_tree import PaddingOpening, Position
from zkclear.verifier.audit_layout import Layout, Spans, decode_named_node, walk_sections
from zkclear.verifier.pinned_file import CONTAINER_PREFIX, Cursor, PinnedFile
from zkclear.verifier.published import CHUNK_SYSTEM, PublishedEpoch


class _ChunksOnDisk(Sequence[ChunkRecord]):
    """The audit file's chunks, each read and decoded only when asked for."""

    def __init__(self, file: PinnedFile, layout: Layout, system: ChunkProofSystem, public: Any,
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

    def __init__(self, file: PinnedFile, spans: Spans, decode: Callable[[Position, bytes], Any]) -> None:
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
    file = PinnedFile(path)  # and again on what was opened
    try:
        with file.reader() as walk:
            head = walk.read(CONTAINER_PREFIX.size)
            length = container_body_length(head, KIND_AUDIT, file.size)
            layout = Layout()
            checksum = hashlib.sha256(head)
            body = CONTAINER_PREFIX.size
            cursor = Cursor(path, body, body + length, handle=walk, digest=checksum)
            sections = walk_sections(path, body, body + length, header.tree.chunk_size, assets, layout, cursor)
            if checksum.digest() != walk.read(32):
                raise EncodingError("checksum mismatch: the file is corrupted")
    except EncodingError as exc:
        raise EncodingError(f"{path}: {exc}") from None
    return AuditOnDisk(
        sections.header_digest, _ChunksOnDisk(file, layout, chunk_system, published.public, header.tree.chunk_size),
        _EntriesOnDisk(file, layout.nodes, lambda position, data: decode_named_node(data, assets, *position)),
        _EntriesOnDisk(file, layout.proofs, lambda position, data: data),
        {position: _padding_opening(blindings, assets) for position, blindings in layout.padding.items()},
        positions=layout.positions)


def _padding_opening(blindings: bytes, assets: int) -> PaddingOpening:
    """A padding entry's blindings (already checked to be scalars by
    :func:`~zkclear.verifier.audit_layout.walk_sections`): A liability blindings, then the position vector's."""
    scalars = tuple(scalar_from_bytes(blindings[k:k + 32]) for k in range(0, len(blindings), 32))
    return scalars[:assets], scalars[assets:]
