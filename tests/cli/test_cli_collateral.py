"""Multi-asset collateral through the CLI (issue 13): every new field of zkclear.toml and transfers.csv refused
with one line naming file, line and field, nothing created or changed."""

from __future__ import annotations

import hashlib
import json
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
    ("settlement = true", 'settlement = "yes"', 7, "asset[0].settlement"),
    ('decimals = 6\nsettlement = true', 'decimals = 6\nsettlement = true\nturbo = 1', 8, "asset[0].turbo"),
])
def test_init_refuses_a_bad_asset_field_and_creates_nothing(tmp_path, capsys, old, new, line, field):
    bad = tmp_path / "venue.toml"
    assert old in CONFIG_TOML
    bad.write_text(CONFIG_TOML.replace(old, new, 1))
    out = zkclear("init", tmp_path / "venue", "--config", bad, expect=1, capsys=capsys)
    assert out.count("\n") == 1 and out.startswith("error: "), out
    assert f"venue.toml:{line}: field '{field}'" in out, out
    assert not (tmp_path / "venue").exists()  # not even the directory: nothing was written


def test_init_accepts_the_assets_and_says_so(tmp_path, capsys):
    good = tmp_path / "venue.toml"
    good.write_text(CONFIG_TOML)
    out = zkclear("init", tmp_path / "venue", "--config", good, "--height", 8, "--executor", "serial",
                  capsys=capsys)
    assert "created deployment" in out
    assert (tmp_path / "venue" / "ledger.sqlite").exists()


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


FILLS = "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
PRICES = "instrument,mark_price,funding_rate_ppm\nBTC-PERP,{price},0\n"


@pytest.fixture
def multi_asset(tmp_path, capsys) -> Path:
    """A USDC-settled deployment with BTC collateral (cap 5 BTC); epoch 1: alice posts 2 BTC and buys 40 BTC of
    perpetual from bob."""
    config = tmp_path / "venue.toml"
    config.write_text(CONFIG_TOML.replace("cap = 0", "cap = 500_000_000"))
    deployment = tmp_path / "venue"
    zkclear("init", deployment, "--config", config, "--height", 8, "--executor", "serial", capsys=capsys)
    epoch_1 = _write(tmp_path / "epoch-1", {
        "accounts.csv": "account,margin_mode\nalice,standard\nbob,standard\n",
        "transfers.csv": "transfer_id,kind,account,amount,asset\nt-1,deposit,alice,200000000,BTC\n"
                         "t-2,deposit,bob,10000000000000,\nt-3,deposit,CH:insurance,1000000000000,USDC\n",
        "fills.csv": FILLS + "f-1,alice,bob,BTC-PERP,1000,60000,0,0\n",
        "prices.csv": PRICES.format(price=60_000)})
    out = zkclear("epoch", "run", epoch_1, "-d", deployment, capsys=capsys)
    assert "epoch 1 committed" in out
    return deployment


@pytest.mark.parametrize("transfers, line, field, fragment", [
    ("transfer_id,kind,account,amount,asset\nt-9,deposit,alice,1,DOGE\n", 2, "asset", "unknown asset 'DOGE'"),
    ("transfer_id,kind,account,amount,asset\nt-9,deposit,CH:insurance,1,BTC\n", 2, "asset",
     "holds only the settlement asset"),
    ("transfer_id,kind,account,amount,asset\nt-8,deposit,bob,1,\nt-9,deposit,alice,300000001,BTC\n", 3, "amount",
     "above the asset's cap 500000000"),
    ("transfer_id,kind,account,amount,asset\nt-9,deposit,alice,-5,BTC\n", 2, "amount", "must be positive"),
    ("transfer_id,kind,account,amount,coin\nt-9,deposit,alice,5,BTC\n", 1, None, "header must be"),
    ("transfer_id,kind,account,amount,asset\nt-9,deposit,alice,5\n", 2, None, "expected 5 fields"),
    ("transfer_id,kind,account,amount,asset\nt-9,withdrawal,CH:fees,5,BTC\n", 2, "account", "operator actions"),
])
def test_a_bad_collateral_transfer_is_refused_and_the_ledger_is_unchanged(multi_asset, tmp_path, capsys, transfers,
                                                                          line, field, fragment):
    epoch_2 = _write(tmp_path / "epoch-2", {"fills.csv": FILLS, "prices.csv": PRICES.format(price=60_000),
                                            "transfers.csv": transfers})
    before = _fingerprint(multi_asset)
    out = zkclear("epoch", "run", epoch_2, "-d", multi_asset, expect=1, capsys=capsys)
    assert out.count("\n") == 1 and out.startswith("error: "), out
    where = f"transfers.csv:{line}: " + (f"field '{field}': " if field else "")
    assert where in out and fragment in out, out
    assert _fingerprint(multi_asset) == before


def test_a_crash_through_the_cli_reports_the_conversion(multi_asset, tmp_path, capsys):
    # alice: 2 BTC against a long of 1 BTC bought at 60,000. At 19,000 her BTC counts 38,000 USDC (first tier)
    # against a loss of 41,000: bankrupt, so all of it is converted (38,000 less the 1 % penalty) before the fund
    # covers the rest.
    epoch_2 = _write(tmp_path / "epoch-2", {"fills.csv": FILLS, "prices.csv": PRICES.format(price=19_000)})
    out = zkclear("epoch", "run", epoch_2, "-d", multi_asset, capsys=capsys)
    assert "converted 200000000 BTC of alice at 19000: 37620000000 credited, penalty 380000000" in out, out


def test_the_liabilities_summed_from_the_state_in_memory_are_the_scratch_copys(multi_asset, capsys):
    """`zkclear status` sums the state it has read (writing nothing); `epoch prove` reads a scratch copy: with a
    collateral asset (a BTC balance per account) both give each asset's liabilities alike."""
    from zkclear.operator import Deployment

    deployment = Deployment(multi_asset)
    with deployment.ledger() as ledger:
        state = ledger.state(1)
    held = deployment.liabilities(1, state)
    assert held == deployment.liabilities(1) and held["BTC"] == 200_000_000
    data = json.loads(zkclear("status", "-d", multi_asset, "--json", capsys=capsys))
    assert data["liabilities"] == held
