"""Red team, session 15 (options and portfolio margin) through the CLI: what is refused is one line naming file,
line and field, exit 1, no traceback, and nothing is created or committed."""

from __future__ import annotations

from tests.clearing.options_helpers import CONFIG, csv, write_files
from tests.clearing.test_options_redteam_s15 import FORWARD, LOTS, _config_text
from tests.cli.cli_helpers import zkclear, zkclear_status


def test_init_refuses_a_scenario_scale_beyond_2_32_naming_its_line(tmp_path):
    text = CONFIG.replace("portfolio_margin = true", "[portfolio_margin]\nscale = 4294967297")
    config = write_files(tmp_path / "cfg", {"zkclear.toml": text}) / "zkclear.toml"
    code, output = zkclear_status("init", tmp_path / "venue", "--config", config, "--height", 6,
                                  "--executor", "serial")
    assert code == 1, output
    assert output.count("\n") == 1 and "Traceback" not in output
    assert "zkclear.toml:5: field 'portfolio_margin.scale': portfolio_margin.scale must be in [1, 2^32]" in output
    assert not (tmp_path / "venue").exists()


def test_epoch_run_refuses_short_options_whose_requirement_passes_the_bound_and_commits_nothing(tmp_path):
    """Three deep out-of-the-money short calls of 2^62 − 2^38 each (tests/clearing/test_options_redteam_s15.py):
    the epoch committed with the requirement wrapped negative before the fix."""
    config = write_files(tmp_path / "cfg", {"zkclear.toml": _config_text(3)}) / "zkclear.toml"
    zkclear("init", tmp_path / "venue", "--config", config, "--height", 6, "--executor", "serial")
    epoch = write_files(tmp_path / "epoch-1", {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"X-PERP,{FORWARD},0"),
        "vols.csv": csv("instrument,implied_vol_ppm", "C1,1", "C2,1", "C3,1"),
        "accounts.csv": csv("account,margin_mode", "S,standard", "L,standard"),
        "transfers.csv": csv("transfer_id,kind,account,amount", f"d1,deposit,L,{3 * LOTS}"),
        "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee",
                         *(f"f{k},L,S,C{k},{LOTS},1,0,0" for k in (1, 2, 3)))})
    code, output = zkclear_status("epoch", "run", epoch, "-d", tmp_path / "venue")
    assert code == 1, output
    assert output.count("\n") == 1 and output.startswith("error: ") and "Traceback" not in output
    assert ("fills.csv:4: field 'size': account 'S' in 'C3': the maintenance requirement of the account's "
            "positions exceeds the amount bound 2**62 - 1") in output
    status = zkclear("status", "-d", tmp_path / "venue")
    assert "ledger head: epoch 0 " in status and "committed: none" in status
