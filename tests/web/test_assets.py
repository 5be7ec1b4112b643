"""What the page loads besides itself: the Pyodide pin, the verifier zip, and what a wheel ships."""

from __future__ import annotations

import fnmatch
import io
import json
import tomllib
import zipfile
from pathlib import Path

import pytest

from zkclear.errors import ConfigurationError
from zkclear.web import assets

ROOT = Path(__file__).resolve().parents[2]


def test_pyodide_is_pinned_exactly_in_package_json_and_the_lock_file():
    version = assets.pinned_pyodide_version()
    assert all(part.isdigit() for part in version.split("."))  # an exact version, no range
    lock = json.loads((assets.HERE / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"]["pyodide"] == version
    assert lock["packages"]["node_modules/pyodide"]["version"] == version
    assert lock["packages"]["node_modules/pyodide"]["integrity"].startswith("sha512-")


def test_the_verifier_zip_is_deterministic_and_holds_the_bridge_and_the_crypto_core():
    first, second = assets.verifier_zip(), assets.verifier_zip()
    assert first.data == second.data and first.sha256 == second.sha256
    names = zipfile.ZipFile(io.BytesIO(first.data)).namelist()
    assert {"zkclear/web/bridge.py", "zkclear/crypto/pure_g1.py", "zkclear/crypto/pure_msm.py",
            "provers/bulletproofs/batch.py", "circuits/public_data.py"} <= set(names)
    assert all(name.endswith(".py") and "__pycache__" not in name for name in names)
    assert len(names) == first.files


def test_a_missing_npm_is_one_line_naming_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)
    assert not assets.pyodide_ready(tmp_path)
    with pytest.raises(ConfigurationError, match="apt-get install -y nodejs npm"):
        assets.ensure_pyodide(tmp_path)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ZKCLEAR_WEB_CACHE", str(tmp_path / "cache"))
    assert assets.cache_root() == tmp_path / "cache"
    monkeypatch.delenv("ZKCLEAR_WEB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.cache_root() == tmp_path / "xdg" / "zkclear" / "web"


def test_a_wheel_ships_the_page_and_the_npm_pin():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["zkclear.web"]
    shipped = [path.relative_to(assets.HERE).as_posix() for path in assets.HERE.rglob("*")
               if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts]
    assert {"static/index.html", "static/app.js", "static/worker.js", "package-lock.json"} <= set(shipped)
    for name in shipped:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def test_the_worker_fetches_the_generators_file_the_server_serves():
    from zkclear.web import generators

    worker = (assets.STATIC_DIR / "worker.js").read_text(encoding="utf-8")
    assert f'"/verifier/{generators.FILE_NAME}"' in worker
