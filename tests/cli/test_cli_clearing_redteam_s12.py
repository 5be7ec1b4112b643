"""Red team, session 12 (clearing engine) through ``zkclear epoch run``: what the engine refuses is one line and
exit 1 whatever the batch of fills, and leaves the ledger as it was."""

from __future__ import annotations

import pytest

from tests.clearing.options_helpers import csv, write_files
from tests.clearing.test_clearing_redteam_s12 import FILLS_HEADER, PREMIUM_WIDE
from tests.cli.cli_helpers import zkclear, zkclear_status

INTRINSIC = 2**24 + 1


def _wrapping_epoch(root):
    total = -(-(2**64) // INTRINSIC)
    sizes = [total // 5] * 4 + [total - 4 * (total // 5)]
    return write_files(root, {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"P,{200_000_000 + INTRINSIC},0"),
        "fills.csv": csv(FILLS_HEADER, *(f"f{k},A,B,C,{size},1,0,0" for k, size in enumerate(sizes))),
        "vols.csv": csv("instrument,implied_vol_ppm", "C,500000"),
        "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard"),
        "transfers.csv": csv("transfer_id,kind,account,amount", "d1,deposit,A,1000000000",
                             "d2,deposit,B,1000000000")})


@pytest.mark.parametrize("batch", ["1", "2", "32768"])
def test_a_premium_payoff_beyond_the_amount_bound_is_refused_in_every_batch_size(tmp_path, batch):
    """tests/clearing/test_clearing_redteam_s12.py's wrapping payoff (the int64 product wrapped to 16,711,681 and
    the epoch committed before the fix): refused on a fill of A in C, exit 1, one line, for every batch of fills;
    nothing is committed."""
    config = write_files(tmp_path / "cfg", {"zkclear.toml": PREMIUM_WIDE}) / "zkclear.toml"
    zkclear("init", tmp_path / "venue", "--config", config, "--height", 6, "--executor", "serial")
    epoch = _wrapping_epoch(tmp_path / "epoch-1")
    code, output = zkclear_status("epoch", "run", epoch, "-d", tmp_path / "venue", "--batch-fills", batch)
    assert code == 1, output
    assert output.count("\n") == 1 and output.startswith("error: ")
    assert "fills.csv:2: field 'size': account 'A' in 'C': the payoff at expiry exceeds the amount bound" in output
    status = zkclear("status", "-d", tmp_path / "venue")
    assert "ledger head: epoch 0 " in status and "committed: none" in status
