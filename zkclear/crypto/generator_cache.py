"""A disk cache of the hash-to-curve generator vectors, checked against pinned digests.

Deriving a generator by hash-to-curve costs about 0.3 ms in Python, so a range proof over 2^14 values
spent seconds on its generators in every fresh process. The vectors are constants, so they are cached
on disk in *blocks* of :data:`BLOCK_SIZE` consecutive generators of one label, and a block is used only
if the SHA-256 of its file equals the digest pinned in :mod:`zkclear.crypto.generator_digests` (computed
once from the hash-to-curve derivation, and re-checked against it by the tests). A missing, truncated or
altered file is ignored (and overwritten with a fresh derivation when possible), and anything but a regular file
of a block's size is not even read: the cache can make a process faster, never make it use a different point
(nor hang it, nor run it out of memory).

File ``<cache>/<label hex>-<block>.g1blk`` (docs/format.md, "Generator cache block")::

    "ZKGB" || u8(version = 1) || u16(len(label)) || label || u32(block) || u32(count = BLOCK_SIZE)
    || count × (x || y)        # affine coordinates, 48-byte big-endian each

The cache directory is ``$ZKCLEAR_CACHE_DIR``, else ``$XDG_CACHE_HOME/zkclear``, else ``~/.cache/zkclear``;
``ZKCLEAR_CACHE_DIR=off`` disables it. Only the standard library is used (the verifier imports this).
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import tempfile
from pathlib import Path

from zkclear.crypto.generator_digests import PINNED_BLOCK_DIGESTS

#: Generators per cache block.
BLOCK_SIZE = 1024
_MAGIC = b"ZKGB"
_VERSION = 1
_COORDINATE_BYTES = 48

Affine = tuple[int, int]


def cache_directory() -> Path | None:
    """Where blocks are kept, or None when caching is off."""
    configured = os.environ.get("ZKCLEAR_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "none") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zkclear"


def encode_block(label: bytes, block: int, points: list[Affine]) -> bytes:
    """The canonical file content of one block (see the module docstring)."""
    header = _MAGIC + struct.pack(">BH", _VERSION, len(label)) + label + struct.pack(">II", block, len(points))
    body = b"".join(x.to_bytes(_COORDINATE_BYTES, "big") + y.to_bytes(_COORDINATE_BYTES, "big")
                    for x, y in points)
    return header + body


def block_digest(label: bytes, block: int, points: list[Affine]) -> str:
    """SHA-256 (hex) of the block's file content: what :data:`PINNED_BLOCK_DIGESTS` pins."""
    return hashlib.sha256(encode_block(label, block, points)).hexdigest()


def pinned_digest(label: bytes, block: int) -> str | None:
    digests = PINNED_BLOCK_DIGESTS.get(bytes(label), ())
    return digests[block] if 0 <= block < len(digests) else None


def _path(directory: Path, label: bytes, block: int) -> Path:
    return directory / f"{bytes(label).hex()}-{block}.g1blk"


def load_block(label: bytes, block: int) -> list[Affine] | None:
    """The affine coordinates of block ``block`` of ``label`` from the cache, or None (no cache, no file,
    no pinned digest, or a file whose digest is not the pinned one)."""
    expected = pinned_digest(label, block)
    directory = cache_directory()
    if expected is None or directory is None:
        return None
    header = len(_MAGIC) + 3 + len(label) + 8
    path = _path(directory, label, block)
    try:
        # only a regular file of a block's size is read: a named pipe there hung every command that proves or
        # verifies, a link to /dev/zero or a huge file ran it out of memory (MemoryError, no file named)
        status = path.stat()
        if not stat.S_ISREG(status.st_mode) or status.st_size != header + BLOCK_SIZE * 2 * _COORDINATE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != expected:
        return None
    points = []
    for offset in range(header, len(data), 2 * _COORDINATE_BYTES):
        x = int.from_bytes(data[offset:offset + _COORDINATE_BYTES], "big")
        y = int.from_bytes(data[offset + _COORDINATE_BYTES:offset + 2 * _COORDINATE_BYTES], "big")
        points.append((x, y))
    return points


def store_block(label: bytes, block: int, points: list[Affine]) -> bool:
    """Write a freshly derived block when its digest is pinned and matches; False when nothing was written
    (no pinned digest, caching off, an unwritable directory). Atomic: a reader never sees half a file."""
    expected = pinned_digest(label, block)
    directory = cache_directory()
    if expected is None or directory is None or len(points) != BLOCK_SIZE:
        return False
    data = encode_block(label, block, points)
    if hashlib.sha256(data).hexdigest() != expected:
        return False  # never cache what disagrees with the pinned digest (the tests pin the derivation)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".block-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, _path(directory, label, block))
    except OSError:
        return False
    return True
