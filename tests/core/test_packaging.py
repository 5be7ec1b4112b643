"""The distribution ships zkclear, circuits and provers whole, the same way from any install.

``pyproject.toml`` lists the packages with ``[tool.setuptools.packages.find] include = ["zkclear*",
"circuits*", "provers*"]``; a wheel contains exactly what that finds. A folder of modules without an
``__init__.py`` would be silently left out of a wheel while still importing from the repository root,
so this pins both: the discovery result and that every source folder is a package.
"""

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_package_discovery_finds_every_source_folder():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(find_packages(where=str(ROOT), include=include))
    source_folders = {
        ".".join(path.relative_to(ROOT).parts)
        for top in ("zkclear", "circuits", "provers")
        for path in [ROOT / top, *(ROOT / top).rglob("*")]
        if path.is_dir() and path.name != "__pycache__" and any(path.glob("*.py"))
    }
    assert {"zkclear", "circuits", "provers", "provers.bulletproofs", "zkclear.crypto"} <= found
    assert source_folders == found


def test_console_script_points_at_the_cli():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["scripts"]["zkclear"] == "zkclear.cli:run"
    from zkclear.cli import main, run

    assert callable(main) and callable(run)
