"""An audit file held open from its checksum to its last read, every byte served from blocks that hash to what the
checksum pass hashed (docs/protocol.md, "Audit"; red team round 5): a file renamed over it, a named pipe put in its
place, or its bytes changed in place between two passes never make the audit check two versions of it."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
from pathlib import Path
from typing import Any, BinaryIO

from zkclear.bundle.format import KIND_AUDIT, container_body_length
from zkclear.errors import EncodingError, InputError, ZkclearError

#: magic, kind, version, body length: what precedes a container's body
CONTAINER_PREFIX = struct.Struct(">8s4sHQ")
#: The full audit's checksum pass records the SHA-256 of every block of this many bytes of the file; each later pass
#: reads whole blocks and refuses one that hashes otherwise (32 bytes of digest per 256 KiB: 1.25 MB for 10 GB).
CHECKED_BLOCK = 1 << 18


class Cursor:
    """Reads a file from an offset, failing like the in-memory decoder on truncation. Given ``digest``, every byte
    read or skipped is hashed into it (skips are read then), so a walk can also compute the container's checksum;
    given ``handle``, it reads that open file (not closed by close()) instead of opening ``path``. ``digests`` may
    grow and shrink during the walk (a piece's digest is pushed at its start, popped at its end)."""

    def __init__(self, path: Path | PinnedFile, offset: int, end: int, *, handle: Any = None,
                 digest: Any = None) -> None:
        self._own = handle is None
        if handle is not None:
            self._file: BinaryIO = handle
        elif isinstance(path, PinnedFile):
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


def check_container(file: PinnedFile) -> tuple[int, int]:
    """(body offset, body end) after checking magic, kind, version, length and the checksum, reading the file in
    blocks of ``CHECKED_BLOCK`` bytes; every block's SHA-256 is kept, and every later read of ``file`` is served
    from whole blocks that hash to the same (:meth:`PinnedFile.hold_to`): what the audit checks is the version
    of the file the checksum covered."""
    with file.reader() as handle:
        head = handle.read(CONTAINER_PREFIX.size)
        end = CONTAINER_PREFIX.size + container_body_length(head, KIND_AUDIT, file.size)
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
    return CONTAINER_PREFIX.size, end



def _named_error(error: type[ZkclearError], message: str, path: Path) -> ZkclearError:
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
    :meth:`PinnedFile.piece` unless it hashes to the digest its checksum pass recorded (the last block read is
    kept, so a sequential pass hashes each block once)."""

    def __init__(self, fd: int, file: PinnedFile, blocks: bytes) -> None:
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


class PinnedFile:
    """An audit file held open from its checksum to the last read (a file renamed over it, a named pipe put in its
    place, changes nothing for the reads; ``error``: what to raise when it is no regular file); ``piece`` reads a
    piece and refuses bytes other than the ones the checksum covered (the crowd audit's reads)."""

    def __init__(self, path: Path, error: type[ZkclearError] = InputError) -> None:
        self.path = path
        self._fd: int | None = None
        try:  # non-blocking: opening a named pipe put in the file's place must not wait for a writer
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise _named_error(error, f"cannot open: {exc.strerror or exc}", path) from None
        status = os.fstat(self._fd)
        if not stat.S_ISREG(status.st_mode):  # a named pipe would block the audit forever, a device never end
            os.close(self._fd)
            self._fd = None  # closed: not again by __del__ (the number may be another file's by then)
            raise _named_error(error, "not a regular file", path)
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
