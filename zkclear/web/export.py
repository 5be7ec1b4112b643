"""``zkclear serve DIR --export OUT``: the verification page and the published epochs as a static tree, for a venue
to host on its own web server instead of every participant running ``zkclear serve``.

``OUT`` holds exactly what the server answers, file for file (docs/format.md, "The verification page as static
files"): ``index.html``, ``static/``, ``pyodide/`` (the pinned files only), ``verifier/`` (the zip of the installed
sources and the generators file), and ``epochs/`` with its ``index.json`` and the public files it lists —
never a receipt, a participant file or anything under a ``private`` folder (the same rules as the server: the
files are the ones :meth:`Site.epoch_index` lists, each a regular file inside DIR). ``OUT/_headers`` lists the
security headers every response must carry (Content-Security-Policy and the rest of
:data:`~zkclear.web.server.SECURITY_HEADERS`) in the ``_headers`` format several static hosts read; other servers
need the same headers configured. The page fetches absolute paths (``/static/…``, ``/epochs/…``), so the tree is
served at the root of its own origin (``https://verify.venue.example/``), which also keeps it apart from the
venue's other pages.

The tree is written to a temporary folder beside ``OUT`` and renamed into place: ``OUT`` is either complete or
absent, and an existing ``OUT`` is never overwritten.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from zkclear.errors import InputError
from zkclear.web import generators
from zkclear.web.assets import PYODIDE_FILES, STATIC_DIR
from zkclear.web.server import EPOCH_FILE_KINDS, SECURITY_HEADERS, VERIFIER_ZIP_NAME, Site, served_file

HEADERS_FILE = "_headers"


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote."""

    out: Path
    epochs: tuple[int, ...]
    files: int


def check_export_target(out: Path) -> Path:
    """``out`` as an absolute path, or InputError if it exists (an export never overwrites) or its parent does not."""
    out = Path(out).absolute()
    if out.exists() or out.is_symlink():
        raise InputError("already exists (an export never overwrites: remove it or choose another folder)",
                         path=str(out), field="--export")
    if not out.parent.is_dir():
        raise InputError("its parent folder does not exist", path=str(out), field="--export")
    return out


def headers_file() -> bytes:
    """``_headers``: every path gets the server's security headers."""
    lines = ["/*", *(f"  {name}: {value}" for name, value in SECURITY_HEADERS.items())]
    return ("\n".join(lines) + "\n").encode("ascii")


def export_site(site: Site, out: Path) -> ExportSummary:
    """Write ``site`` as a static tree at ``out`` (see the module docstring)."""
    out = check_export_target(out)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        files = _write_tree(site, partial)
        os.rename(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return ExportSummary(out, tuple(int(entry["epoch"]) for entry in site.epoch_index()), files)


def _write_tree(site: Site, root: Path) -> int:
    written = 0

    def put(relative: str, data: bytes | Path) -> None:
        nonlocal written
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            shutil.copyfile(data, target)
        else:
            target.write_bytes(data)
        written += 1

    put("index.html", _required(STATIC_DIR / "index.html", STATIC_DIR))
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file():
            put(f"static/{path.name}", _required(path, STATIC_DIR))
    for name in PYODIDE_FILES:
        put(f"pyodide/{name}", _required(site.pyodide / name, site.pyodide))
    put(f"verifier/{VERIFIER_ZIP_NAME}", site.verifier.data)
    put(f"verifier/{generators.FILE_NAME}", site.generators)
    index = site.epoch_index()
    put("epochs/index.json", site.index_json())
    for entry in index:
        _refuse_unlisted(site, entry)
        for kind in ("bundle", "public", "inputs", "audit"):
            if kind in entry:
                relative = str(entry[kind])
                put(f"epochs/{relative}", _required(site.epochs / relative, site.epochs))
    put(HEADERS_FILE, headers_file())
    return written


def _refuse_unlisted(site: Site, entry: dict[str, object]) -> None:
    """InputError naming an epoch's public file that is there but is not a regular file (a named pipe, a folder, a
    dangling link): the index leaves it out, and the export would publish the epoch without it, silently."""
    folder = (site.epochs / str(entry["bundle"])).parent
    for kind, suffix in EPOCH_FILE_KINDS:
        path = folder / f"epoch-{entry['epoch']}.{suffix}"
        if kind not in entry and os.path.lexists(path):
            raise InputError("not a regular file (the export would leave this public file of the epoch out)",
                             path=str(path))


def _required(path: Path, root: Path) -> Path:
    found = served_file(path, root)
    if found is None:
        raise InputError("missing, not a regular file, or outside its folder", path=str(path))
    return found
