"""Red team, session 15 (options and portfolio margin) through the CLI: what is refused is one line naming file,
line and field, exit 1, no traceback, and nothing is created or committed."""

from __future__ import annotations

import pytest

from tests.clearing.options_helpers import CONFIG, csv, write_files
from tests.clearing.test_options_redteam_s15 import FORWARD, LOTS, _config_text
from tests.cli.cli_helpers import zkclear, zkclear_status
from zkclear.errors import InputError


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


def test_an_auditor_can_price_an_option_expiring_out_of_the_money_at_0(tmp_path):
    """The final mark of an option expiring out of the money is 0; the marks file refused a 0 price, so an auditor
    could not check that an option was settled at 0 (nor catch one settled at 0 while in the money on its own
    mark). A 0 price passes only a 0 mark, at any tolerance; the failure names both prices."""
    from zkclear.errors import VerificationError
    from zkclear.verifier.marks import compare_marks, parse_marks_csv

    own = parse_marks_csv("epoch,instrument,price\n3,BTC-C-33000,0\n3,BTC-PERP,27500\n", path="my-prices.csv")
    assert own == {3: {"BTC-C-33000": 0, "BTC-PERP": 27500}}
    assert compare_marks({"BTC-C-33000": 0, "BTC-PERP": 27500}, own[3], 0, epoch=3) == 2
    with pytest.raises(VerificationError) as failure:
        compare_marks({"BTC-C-33000": 1, "BTC-PERP": 27500}, own[3], 10_000, epoch=3)
    assert failure.value.reason == "marks-beyond-tolerance"
    assert "BTC-C-33000 is marked at 1 ticks, your price is 0 ticks" in str(failure.value)
    with pytest.raises(InputError) as error:
        parse_marks_csv("instrument,price\nBTC-C-33000,-1\n", path="my-prices.csv")
    assert (error.value.line, error.value.field) == (2, "price")
