"""Multi-asset collateral through the CLI (issue 13): every new field of zkclear.toml and transfers.csv refused
with one line naming file, line and field, nothing created or changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.clearing.collateral_helpers import CONFIG_TOML
from tests.cli.cli_helpers import zkclear


def _fingerprint(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("old, new, line, field", [
    ('id = "BTC"', 'id = "B-T-C"', 10, "asset[1].id"),
    ("decimals = 8", 'decimals = "8"', 11, "asset[1].decimals"),
    ('price_instrument = "BTC-PERP"', 'price_instrument = "NOPE"', 12, "asset[1].price_instrument"),
    ("unit_value = [1, 100]", "unit_value = [1]", 13, "asset[1].unit_value"),
    ("[0, 800_000]]", "[5, 800_000]]", 14, "asset[1].haircut[2]"),
    ("cap = 0", "cap = true", 15, "asset[1].cap"),
    ("conversion_penalty_ppm = 10_000", "conversion_penalty_ppm = -1", 16, "asset[1].conversion_penalty_ppm"),
    ("settlement = true", "settlement = true\nhaircut = []", 8, "asset[0].haircut"),
])
def test_init_refuses_a_bad_asset_field_and_creates_nothing(tmp_path, capsys, old, new, line, field):
    bad = tmp_path / "venue.toml"
    assert old in CONFIG_TOML
    bad.write_text(CONFIG_TOML.replace(old, new, 1))
    out = zkclear("init", tmp_path / "venue", "--config", bad, expect=1, capsys=capsys)
    assert out.count("\n") == 1 and out.startswith("error: "), out
    assert f"venue.toml:{line}: field '{field}'" in out, out
    assert not (tmp_path / "venue" / "zkclear.toml").exists()
    assert not (tmp_path / "venue" / "ledger.sqlite").exists()


def test_init_accepts_the_assets_and_says_so(tmp_path, capsys):
    good = tmp_path / "venue.toml"
    good.write_text(CONFIG_TOML)
    out = zkclear("init", tmp_path / "venue", "--config", good, "--height", 8, "--executor", "serial",
                  capsys=capsys)
    assert "created deployment" in out
    assert (tmp_path / "venue" / "ledger.sqlite").exists()
