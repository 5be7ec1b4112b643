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


#: One perpetual at 4,294,967,296 settlement units per lot per tick.
LARGE_LOT = """\
[[instrument]]
id = "P"
kind = "perpetual"
tick_size = 1
lot_size = 1
contract_multiplier = 4294967296
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
"""


@pytest.mark.parametrize(("fills", "named"), [
    (("f1,A,B,P,1,2000,0,0", "f2,A,B,P,1099511627776,1000,0,0"),
     "fills.csv:2: field 'price': price 2000 ticks is outside the price band [900, 1100] of 'P'"),
    (("f1,A,A,P,1,1000,0,0", "f2,A,Z,P,1,1000,0,0"),
     "fills.csv:2: field 'seller': self-trade by 'A' is not allowed in this deployment"),
    # (held: the ledger writes the canonical inputs, reading every batch, before it validates one, so a record
    # that does not parse is named before an earlier one that parses but is refused, for every batch size)
    (("f1,A,Z,P,1,1000,0,0", "f2,A,B,P,1,1000,0,0", "f3,A,B,P,x,1000,0,0"),
     "fills.csv:4: field 'size': must be a plain decimal integer"),
    (("f1,A,Z,P,1,1000,0,0", "f2,A,B,P,1,1000,0,0", "f3,A,B,P,1,1000,0"),
     "fills.csv:4: expected 8 fields, got 7"),
    (("f1,A,B,P,1,1000,0,x", "f2,A,B,P,1,1000,0,0", "f3,A, B,P,1,1000,0,0"),
     "fills.csv:2: field 'seller_fee': must be a plain decimal integer"),
])
def test_the_record_an_epoch_is_refused_on_does_not_depend_on_the_batch_of_fills(tmp_path, fills, named):
    """Two bad fills of different kinds: the first breaks the price band (or is a self-trade, names an unknown
    account, has a fee that is not a number), a later one the value bound (names an unknown account, has a size
    that is not a number or a field missing, an account id with a space). Before the fix each batch was parsed,
    then checked, one kind after the other, so one batch of all of them named a later fill (the value bound, the
    account, the parse of the whole batch come first) and batches of one fill named the first. Now every batch
    size names the first bad fill in input order."""
    config = write_files(tmp_path / "cfg", {"zkclear.toml": LARGE_LOT}) / "zkclear.toml"
    epoch = write_files(tmp_path / "epoch-1", {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", "P,1000,0"),
        "fills.csv": csv(FILLS_HEADER, *fills),
        "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard")})
    outputs = set()
    for batch in ("1", "2", "32768"):
        venue = tmp_path / f"venue-{batch}"
        zkclear("init", venue, "--config", config, "--height", 6, "--executor", "serial")
        code, output = zkclear_status("epoch", "run", epoch, "-d", venue, "--batch-fills", batch)
        assert code == 1 and named in output, output
        outputs.add(output.replace(str(venue), "VENUE"))
    assert len(outputs) == 1
