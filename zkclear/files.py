"""Reading a file a user names (standard library only): a regular file, bounded in size, every error one
InputError naming it. A named pipe would block the read, a device such as /dev/zero would be read until memory
runs out, and a sparse file of many gigabytes costs no disk: each is refused before a byte is read. And the
temporary file an atomic write starts from (:func:`new_file`), and a folder only its owner can enter
(:func:`private_folder`)."""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from zkclear.errors import InputError

#: The largest text input a command reads whole (a reserves list, a marks file, a listing of 512 instruments).
MAX_DOCUMENT_BYTES = 64 << 20


def check_regular_file(path: str | Path, name: str | None = None, *, limit: int | None = None) -> None:
    """InputError naming ``name`` (default ``path``) when ``path`` exists but is not a regular file or is larger
    than ``limit`` bytes; a missing file or a directory is left to the open, which names it."""
    try:
        status = os.stat(path)
    except OSError:
        return
    if stat.S_ISDIR(status.st_mode):
        return
    if not stat.S_ISREG(status.st_mode):
        raise InputError("not a regular file", path=name or str(path))
    if limit is not None and status.st_size > limit:
        raise InputError(f"{status.st_size} bytes is larger than the {limit}-byte limit", path=name or str(path))


def read_file(path: str | Path, *, limit: int | None = None) -> bytes:
    """The bytes of ``path``; InputError naming the file when it is missing, unreadable, a directory, not a
    regular file or larger than ``limit`` bytes."""
    try:
        check_regular_file(path, limit=limit)
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=str(path)) from None
    except MemoryError:
        raise InputError("too large to read into memory", path=str(path)) from None
    if limit is not None and len(data) > limit:  # grew since
        raise InputError(f"more than the {limit}-byte limit", path=str(path))
    return data


def decode_text(data: bytes, name: str) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped); InputError naming ``name`` and the line of the
    first byte that is not UTF-8."""
    mark = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[mark:].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = mark + exc.start  # a position in the file, byte-order mark included
        raise InputError(f"not UTF-8 (byte {at + 1} of the file is {data[at]:#04x})", path=name,
                         line=data.count(b"\n", 0, at) + 1) from None


def read_text(path: str | Path, name: str | None = None, *, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """The UTF-8 text of a document a user names (a configuration, a settings file), read whole: InputError naming
    ``name`` (default ``path``) when it is missing, unreadable, not a regular file, larger than ``limit`` bytes or
    not UTF-8 (with the line of the first bad byte)."""
    name = name or str(path)
    check_regular_file(path, name, limit=limit)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", path=name) from None
    if len(data) > limit:  # grew since it was checked
        raise InputError(f"more than the {limit}-byte limit", path=name)
    return decode_text(data, name)


def line_of_bad_utf8(path: str | Path, *, block: int = 1 << 20) -> tuple[int, int] | None:
    """``(line, byte)`` (both from 1) of the first byte of ``path`` that is not UTF-8, read in blocks (a file read
    as text failed to decode: this names where); None when it decodes (or cannot be read)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1  # bytes before ``data``, and the line at its start
    try:
        with open(path, "rb") as handle:
            while True:
                data = handle.read(block)
                held = len(decoder.getstate()[0])  # the start of a character the last block ended in
                try:
                    decoder.decode(data, final=not data)
                except UnicodeDecodeError as exc:
                    position = offset - held + exc.start  # held bytes are >= 0x80: never a line feed
                    return lines + data.count(b"\n", 0, max(0, position - offset)), position + 1
                if not data:
                    return None
                lines += data.count(b"\n")
                offset += len(data)
    except OSError:
        return None


def new_file(path: str | Path, mode: int = 0o666) -> int:
    """A descriptor of ``path`` opened for writing as a new file (the temporary file of an atomic write): whatever a
    kill left there is removed first (a directory is not: the open names it), and a link there is never followed —
    the data went where a planted link pointed (a private file into a public folder, or over another file)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)


def private_folder(path: str | Path) -> Path:
    """``path`` as a folder that only its owner can enter (mode 0700): made so when missing (its missing parents
    with the default mode), and closed to group and others when it exists, belongs to this user and is open to them
    (a deployment's ``private/`` made before red team session 14, or with a lax umask). What lies inside — receipts,
    the auditor-only total, scratch copies of the accounts — is then out of other local users' reach whatever the
    files' own modes."""
    folder = Path(path)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:  # something else stands there: say what is wrong with it
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from None
    close_to_others(folder)
    return folder


def require_no_link(folder: Path, *, under: Path) -> None:
    """InputError naming the first symbolic link among ``folder`` and its parents below ``under`` (a private
    folder, which may itself be a link): what is written there would land where the link points, outside it."""
    current = Path(under)
    for part in Path(folder).relative_to(under).parts:
        current = current / part
        if current.is_symlink():
            raise InputError("a symbolic link inside the private folder: what zkclear writes there is private and "
                             "would land where the link points; remove it (to keep the private files on another "
                             "disk, link the private folder itself)", path=str(current))


def close_to_others(path: str | Path) -> None:
    """Take every permission of group and others away from ``path`` (a file or folder) if it belongs to this user;
    nothing when it is missing, another user's, or cannot be changed (a read-only mount)."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.getuid (not POSIX)
        status = os.stat(path)
        if status.st_mode & 0o077 and status.st_uid == os.getuid():
            os.chmod(path, stat.S_IMODE(status.st_mode) & 0o700)


@contextlib.contextmanager
def naming_write_errors(path: str | Path) -> Iterator[None]:
    """Re-raise an :class:`OSError` of the block that names no file (a write or an fsync on a full disk: ``No space
    left on device``, an I/O error) as the same error naming ``path``, so that the one line of the refusal says which
    file could not be written. An error that names its file already is left as it is."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
