"""What the verification page loads besides itself: Pyodide (vendored, pinned) and zkclear's pure modules.

- **Pyodide** is the npm package ``pyodide`` at the exact version pinned in ``package.json`` and
  ``package-lock.json`` beside this module (the lock file holds the tarball's SHA-512, which ``npm ci`` checks).
  :func:`ensure_pyodide` runs ``npm ci`` once into a cache directory (``$ZKCLEAR_WEB_CACHE``, else
  ``$XDG_CACHE_HOME/zkclear/web``, else ``~/.cache/zkclear/web``); nothing of it is committed. ``python -m
  zkclear.web.assets`` does that step alone (``.ci/run`` and the README's browser-test setup call it);
  ``zkclear serve`` does it on first use. The files the page loads are checked against :data:`PYODIDE_SHA256` each
  time the server starts.
- **The verifier zip**: every ``.py`` file of the installed ``zkclear``, ``circuits`` and ``provers`` packages,
  zipped deterministically (sorted names, fixed timestamps) by :func:`verifier_zip` when the server starts, so
  the browser runs exactly the code installed beside it and the zip's SHA-256 is reproducible. A zip rather than a
  wheel: Pyodide unpacks it onto ``sys.path`` with no package installer (micropip would be one more download).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from zkclear.errors import ConfigurationError

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
#: The files of the npm package the page loads (loadPyodide fetches these and nothing else).
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
#: Their SHA-256 as the pinned version's npm tarball holds them (the tarball's SHA-512 is the lock file's, which
#: ``npm ci`` checks once): checked whenever the server starts, so a cached file altered or cut short since is fetched
#: again, never served (red team session 16: the cache was trusted on its package.json's version). A change of the
#: pinned version changes them, deliberately.
PYODIDE_SHA256 = {
    "pyodide.mjs": "1bb8cc14f9405aaa7cd4e00c12edd0a8539de9cc026618d6ee5a9663f367dc70",
    "pyodide.asm.mjs": "22514b8be6980e28a02c8b1d6387ce8dfe666fc4edf8d547cff5dce29ff4d972",
    "pyodide.asm.wasm": "e14d49ceca9b4a0e274ea918f3a898de2d3880b6e5573a6cfe1a2267ecc70329",
    "python_stdlib.zip": "2bd3394a145bfbbe5bbc9d9d6ab9136abbb986c6fef6c142b3a2962227aa5c28",
    "pyodide-lock.json": "5dc2fc119108bc148c7457dc86e7675b5c87e1cafd420b9c34c1eaef7b36c010",
}
#: The packages whose sources the page runs.
VERIFIER_PACKAGES = ("zkclear", "circuits", "provers")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def pinned_pyodide_version() -> str:
    """The exact Pyodide version ``package.json`` pins."""
    manifest = json.loads((HERE / "package.json").read_text(encoding="utf-8"))
    return manifest["dependencies"]["pyodide"]


def cache_root() -> Path:
    """Where vendored Pyodide lives (see the module docstring)."""
    if os.environ.get("ZKCLEAR_WEB_CACHE"):
        return Path(os.environ["ZKCLEAR_WEB_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "zkclear" / "web"


def pyodide_dir(root: Path | None = None) -> Path:
    """The directory holding the pinned Pyodide's files (present or not)."""
    return (root or cache_root()) / f"pyodide-{pinned_pyodide_version()}" / "node_modules" / "pyodide"


def pyodide_ready(root: Path | None = None) -> bool:
    """Whether the pinned Pyodide is vendored, every file the page loads with its pinned SHA-256."""
    folder = pyodide_dir(root)
    try:
        version = json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"]
        return version == pinned_pyodide_version() and all(
            _sha256(folder / name) == PYODIDE_SHA256[name] for name in PYODIDE_FILES)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def ensure_pyodide(root: Path | None = None, *, echo=None) -> Path:
    """Vendor the pinned Pyodide with ``npm ci`` unless it is there; returns its directory.

    ConfigurationError (one line naming what to install or fix) when npm is missing or fails.
    """
    folder = pyodide_dir(root)
    if pyodide_ready(root):
        return folder
    project = folder.parent.parent
    project.mkdir(parents=True, exist_ok=True)
    with _exclusive(project / ".lock"):  # two servers starting at once run npm ci once
        if not pyodide_ready(root):
            _npm_ci(project, root, echo)
    return folder


@contextmanager
def _exclusive(path: Path):
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (one server at a time)
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm_ci(project: Path, root: Path | None, echo) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError("the verification page needs Pyodide from the npm registry, and npm is not "
                                 "installed: apt-get install -y nodejs npm")
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(HERE / name, project / name)
    if echo is not None:
        echo(f"fetching Pyodide {pinned_pyodide_version()} with npm ci into {project} (once)")
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                            cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigurationError(f"npm ci in {project} failed ({last}); the npm registry must be reachable")
    if not pyodide_ready(root):
        raise ConfigurationError(f"npm ci in {project} gave Pyodide files whose SHA-256 is not the pinned one "
                                 "(zkclear.web.assets.PYODIDE_SHA256): refusing to serve them")


@dataclass(frozen=True, slots=True)
class VerifierZip:
    """The zipped sources and their SHA-256 (hex), which the page shows."""

    data: bytes
    sha256: str
    files: int


def verifier_zip() -> VerifierZip:
    """Every ``.py`` file of the installed verifier packages in one deterministic zip."""
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for package in VERIFIER_PACKAGES:
            module = sys.modules.get(package) or __import__(package)
            base = Path(module.__file__).resolve().parent
            for path in sorted(base.rglob("*.py")):
                if "__pycache__" in path.parts:
                    continue
                info = zipfile.ZipInfo(f"{package}/{path.relative_to(base).as_posix()}", _ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
                count += 1
    data = buffer.getvalue()
    return VerifierZip(data, hashlib.sha256(data).hexdigest(), count)


def main() -> None:
    """``python -m zkclear.web.assets``: vendor the pinned Pyodide now (a build step for CI and setup)."""
    try:
        folder = ensure_pyodide(echo=print)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"Pyodide {pinned_pyodide_version()} ready in {folder}")


if __name__ == "__main__":
    main()
