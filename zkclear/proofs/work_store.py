"""Finished proving work on disk, so that an interrupted epoch close resumes instead of starting over.

``epoch prove`` writes each finished unit of work (a chunk's collateralization proof with its commitments and
openings, a subtree of the upper tree, the range proof of one group of nodes) to
``DEPLOYMENT/private/N/work/`` the moment it arrives, one file per unit. A re-run after a crash (``kill -9``
at any moment, a power cut, a lost worker) reads back what is there, checks it, and proves only the rest.

File names are **content addresses**: ``KIND-HEX.work`` with ``HEX = SHA256(DOMAIN || scope || kind ||
parts)``, where ``scope`` binds the epoch header digest (hence the previous epoch, the public data, the public
inputs, the reserves and the tree shape) and a fingerprint of the operator secret, and ``parts`` the unit's own
inputs (a chunk's accounts and their values, a subtree's chunk roots). A changed epoch therefore never finds
stale work: its units have other names. The folder is private (it holds openings) and is removed once the
epoch's files are all written.

Each file is::

    magic  8 bytes  b"ZKWORK\\x00\\x01"
    kind   u8 length || ASCII kind
    key    32 bytes (the content address)
    length u64be    body length
    body
    check  32 bytes SHA-256 of everything before it

Files are written by the coordinating process only, atomically (a new temporary file, never written through a link,
then a rename; no fsync: a file cut short by a power failure fails its checksum and is proven again). A file that
does not check is deleted and its unit redone (so is anything there that is not a regular file: a directory, a
named pipe or a link to a device is removed unread, and a file whose size is not the one its head announces is
removed without being read whole); nothing in it is trusted before the caller has also verified its proofs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import struct
from pathlib import Path

from zkclear.files import naming_write_errors, new_file

WORK_MAGIC = b"ZKWORK\x00\x01"
DOMAIN_WORK_KEY = b"zkclear/work-key/v1"
_SUFFIX = ".work"


def length_prefixed(*parts: bytes) -> bytes:
    """``u32be(len) || part`` for each part: an unambiguous concatenation for hashing."""
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


class WorkStore:
    """One epoch's work folder. ``scope`` (bytes) is folded into every key (see the module docstring)."""

    def __init__(self, folder: Path, scope: bytes) -> None:
        self.folder = Path(folder)
        self._scope = hashlib.sha256(DOMAIN_WORK_KEY + length_prefixed(scope)).digest()

    def key(self, kind: str, *parts: bytes) -> bytes:
        """The content address of a unit of kind ``kind`` with inputs ``parts``."""
        return hashlib.sha256(DOMAIN_WORK_KEY + self._scope + length_prefixed(kind.encode("ascii"), *parts)).digest()

    def path(self, kind: str, key: bytes) -> Path:
        return self.folder / f"{kind}-{key.hex()}{_SUFFIX}"

    def _head(self, kind: str, key: bytes, length: int) -> bytes:
        tag = kind.encode("ascii")
        return WORK_MAGIC + bytes([len(tag)]) + tag + key + struct.pack(">Q", length)

    def save(self, kind: str, key: bytes, body: bytes) -> Path:
        """Write one unit atomically; returns its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(kind, key)
        data = self._head(kind, key, len(body)) + body
        tmp = target.with_name(target.name + ".tmp")
        # a temporary file a kill left is replaced, whatever it is: a directory there failed every re-run, and a
        # link there was written through (the unit's openings landed where it pointed, and stayed)
        self._remove(tmp)
        with naming_write_errors(target), open(new_file(tmp, 0o600), "wb") as handle:
            handle.write(data)
            handle.write(hashlib.sha256(data).digest())
        os.replace(tmp, target)
        return target

    def load(self, kind: str, key: bytes) -> bytes | None:
        """The body of the unit, or None when it is absent or does not check (then it is deleted)."""
        path = self.path(kind, key)
        head = self._head(kind, key, 0)[:-8]
        body_start = len(head) + 8
        try:
            status = os.stat(path)
            if not stat.S_ISREG(status.st_mode):  # a directory, named pipe or device: never read it
                self._remove(path)
                return None
            with open(path, "rb") as handle:
                data = handle.read(body_start)
                # read on only when the file's size is the one its head announces: a huge (sparse) file was read
                # whole first, and failed every re-run with MemoryError until removed by hand
                if (data.startswith(head) and len(data) == body_start
                        and struct.unpack(">Q", data[len(head):])[0] == status.st_size - body_start - 32):
                    data += handle.read()
        except OSError:  # absent (the usual case), unreadable, or a dangling link
            return None
        except MemoryError:  # its head announces more than fits in memory: not a unit this process wrote
            data = b""
        if (len(data) < body_start + 32 or not data.startswith(head)
                or struct.unpack(">Q", data[len(head):body_start])[0] != len(data) - body_start - 32
                or hashlib.sha256(data[:-32]).digest() != data[-32:]):
            path.unlink(missing_ok=True)
            return None
        return data[body_start:-32]

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def discard(self, kind: str, key: bytes) -> None:
        """Remove a unit (its proofs did not verify)."""
        self.path(kind, key).unlink(missing_ok=True)

    def count(self, kind: str) -> int:
        """How many units of ``kind`` are on disk (for progress messages)."""
        if not self.folder.is_dir():
            return 0
        return sum(1 for _ in self.folder.glob(f"{kind}-*{_SUFFIX}"))

    def clear(self) -> None:
        """Remove the whole folder (the epoch's files are all written); a link to a folder elsewhere loses its
        units, then is removed (rmtree refuses a link: every unit, openings included, stayed where it pointed)."""
        if self.folder.is_symlink():
            for path in self.folder.glob(f"*{_SUFFIX}*"):
                self._remove(path)
            self.folder.unlink()
            return
        shutil.rmtree(self.folder, ignore_errors=True)
