"""Red team session 15, multi-asset collateral through the CLI: what a participant is shown of their balances, and
reserves.csv refusals of a multi-asset deployment."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.clearing.collateral_helpers import CONFIG_TOML
from tests.cli.cli_helpers import zkclear
from tests.proofs.epoch_fixtures import MULTI_PUBLIC, SYSTEM, multi_asset_epoch, published
from zkclear.chains import key_from_secret
from zkclear.cli import _print_participant_view
from zkclear.synthetic import DEMO_BLOCKS
from zkclear.verifier.participant import account_view, whole_units
from zkclear.verifier.receipt import verify_receipt


@pytest.mark.parametrize("amount, decimals, text", [
    (6_796_710, 8, "0.06796710"), (987_294_605, 6, "987.294605"), (-2_000_000_000, 6, "-2000.000000"),
    (0, 9, "0.000000000"), (5, 0, "5"), (-7, 2, "-0.07"), (10**30 + 1, 18, "1000000000000.000000000000000001"),
])
def test_whole_units_are_exact(amount, decimals, text):
    assert whole_units(amount, decimals) == text


def test_attack_decimals_inflated_over_the_units_kept_are_visible_to_the_participant_in_whole_units(capsys):
    """An operator that publishes an asset's decimals above the unit it keeps balances in (BTC at 10 decimals while
    it records deposits in sat) multiplies every reserve of that asset by 100 when the chain's balance is converted
    (`reserves.convert`) — 1 BTC of reserves covers 100 BTC of deposits — and every check passes: the decimals are
    the published configuration's, the reserves are converted with them, and each participant sees the balance they
    expect in "smallest units" (100000000 for their 1 BTC). Before the fix `zkclear verify` (and `--json`, and the
    page) showed only smallest units, so only an auditor reasoning about units could notice. Now every balance and
    liability is also shown in whole units at the venue's decimals: the participant reads 0.0100000000 BTC for
    their bitcoin and sees the venue's claim."""
    epoch = multi_asset_epoch()
    account = epoch.accounts[3]
    check = verify_receipt(published(epoch, public=MULTI_PUBLIC), epoch.artifacts.receipts[account.account_id],
                           account.account_id, chunk_system=SYSTEM)
    # the equity-only test epoch's public data names no instruments; the view lists positions by name
    named = SimpleNamespace(instrument_ids=("A", "B", "C"))
    view = account_view(check, dataclasses.replace(published(epoch, public=MULTI_PUBLIC), public=named))
    assert view["decimals"] == {"USD": 6, "BTC": 8}
    _print_participant_view(view, "pinned")
    out = capsys.readouterr().out
    cash, btc, owed = account.witness.cash, account.witness.balances[0], view["liabilities"]["USD"]
    assert f"cash             {cash} (smallest units: {whole_units(cash, 6)} USD at the venue's 6 decimals" in out
    assert f"liabilities      USD {owed} = {whole_units(owed, 6)}, BTC {btc} = " \
           f"{whole_units(btc, 8)} (what the venue" in out, out
    assert "decimals         USD 6, BTC 8 (the venue's unit of each asset" in out, out


# -- reserves.csv of a multi-asset deployment ---------------------------------------------------------------------

@pytest.fixture
def btc_venue(tmp_path) -> Path:
    """A USDC-settled deployment with BTC collateral and a venue name, epoch 1 cleared (alice posts 2 BTC)."""
    config = tmp_path / "venue.toml"
    config.write_text(CONFIG_TOML)
    deployment = tmp_path / "venue"
    zkclear("init", deployment, "--config", config, "--height", 8, "--executor", "serial", "--venue", "V")
    epoch_1 = tmp_path / "epoch-1"
    epoch_1.mkdir()
    (epoch_1 / "accounts.csv").write_text("account,margin_mode\nalice,standard\n")
    (epoch_1 / "transfers.csv").write_text("transfer_id,kind,account,amount,asset\nt-1,deposit,alice,200000000,BTC\n"
                                           "t-2,deposit,alice,5000000,USDC\n")
    (epoch_1 / "fills.csv").write_text("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n")
    (epoch_1 / "prices.csv").write_text("instrument,mark_price,funding_rate_ppm\nBTC-PERP,60000,0\n")
    zkclear("epoch", "run", epoch_1, "-d", deployment)
    return deployment


def _fingerprint(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("btc_balances, line", [((2**64,), 3), ((2**63, 2**63), 4)])
def test_reserves_of_an_asset_past_2_to_the_64_are_refused_by_the_line_that_takes_them_there(
        btc_venue, tmp_path, btc_balances, line):
    """Before: one line naming only the file ("the reserves of BTC total ... above 2^64 - 1"), neither the line nor
    the field — the only refusal of reserves.csv that named no line."""
    rows = ["chain,asset,address,balance,block_height,block_hash", _row("ethereum", "USDC", 0xa1, 10**7)]
    rows += [_row("bitcoin", "BTC", 0xb0 + k, balance) for k, balance in enumerate(btc_balances)]
    reserves = tmp_path / "reserves.csv"
    reserves.write_text("\n".join(rows) + "\n")
    before = _fingerprint(btc_venue)
    out = zkclear("epoch", "prove", "-d", btc_venue, "--reserves", reserves, expect=1)
    assert out.count("\n") == 1 and out.startswith("error: ") and "Traceback" not in out, out
    assert f"reserves.csv:{line}: field 'balance': " in out and "BTC" in out and "2^64 - 1" in out, out
    assert _fingerprint(btc_venue) == before


def _row(chain: str, asset: str, secret: int, balance: int) -> str:
    height, block_hash = DEMO_BLOCKS[chain]
    address = key_from_secret(chain, bytes([secret]) * 32).address.text
    return f"{chain},{asset},{address},{balance},{height},{block_hash}"


def test_show_prints_what_one_whole_unit_of_each_collateral_asset_is_worth_at_the_epochs_price(btc_venue, tmp_path):
    """The auditor's side of the decimals attack above: the decimals, `unit_value` and price are each published, but
    whether they agree (one whole BTC worth one BTC's price) was left to arithmetic by hand. `zkclear show` now prints
    the value of one whole unit of each collateral asset at the epoch's price, in whole settlement units: with BTC at
    10 decimals and a sat's `unit_value` it would read 6000000.000000 USDC a bitcoin."""
    rows = ["chain,asset,address,balance,block_height,block_hash", _row("ethereum", "USDC", 0xa1, 10**7),
            _row("bitcoin", "BTC", 0xb0, 2 * 10**8)]
    reserves = tmp_path / "reserves.csv"
    reserves.write_text("\n".join(rows) + "\n")
    zkclear("epoch", "prove", "-d", btc_venue, "--reserves", reserves)
    epoch = btc_venue / "epochs" / "1"
    summary = json.loads(zkclear("show", epoch, "--json"))
    assert summary["whole_unit_values"] == {"BTC": "60000.000000"}  # 10^8 sat x 60,000 x 1/100 units, 6 decimals
    text = zkclear("show", epoch)
    assert "1 BTC = 60000.000000 USDC at this epoch's price" in text, text
