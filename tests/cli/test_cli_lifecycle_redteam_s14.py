"""Red team session 14: what spans several epochs of a deployment.

An epoch in which the oracle guard paused an instrument's liquidations, leaving an account that carried it below
maintenance, was committed by ``epoch run``; ``epoch prove`` then refused it (no statement proves an account below
maintenance) and, since epochs are proven in order, refused every later epoch too ("epoch 2 has not been proven:
prove epochs in order") — the deployment's proofs stopped for good while its ledger moved on. ``epoch run`` now
refuses such an epoch before anything is committed.

Market (USDC settlement): ``BTC-PERP`` and ``ETH-PERP``, 10 units per lot per tick, IM 10 %, MM 5 %, a guard of two
sources. Epoch 1: ``carrier`` deposits 40,000 and buys one BTC lot at 30,000 and one ETH lot at 2,000 from
``dealer``. Epoch 2: BTC falls to 27,000 (two sources), ETH is quoted by one source only (fallback: its liquidations
paused). ``carrier`` loses 30,000: equity 10,000 against a maintenance of 15,000 + 1,000, exempt from liquidation
because it carried the paused ETH lot in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.clearing.options_helpers import csv, write_files
from tests.cli.cli_helpers import zkclear, zkclear_status
from zkclear.chains import key_from_secret, write_key
from zkclear.clearing.io import parse_config
from zkclear.cli import _oracle_summary, _print_audit
from zkclear.operator import Deployment
from zkclear.synthetic import reserves_csv

TOML = """genesis_timestamp = 1767225600
epoch_seconds = 86400
liquidators = ["LIQ"]

[[asset]]
id = "USDC"
decimals = 6
settlement = true

[[instrument]]
id = "BTC-PERP"
kind = "perpetual"
tick_size = 1
lot_size = 1
contract_multiplier = 10
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000

[[instrument]]
id = "ETH-PERP"
kind = "perpetual"
tick_size = 1
lot_size = 1
contract_multiplier = 10
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000

[oracle]
max_staleness_seconds = 600
min_sources = 2
"""
NOW = parse_config(TOML, path="venue.toml").valuation_timestamp
FILLS = "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee"


def _epoch(folder: Path, number: int, quotes: dict[str, tuple[int, str]], **files: str) -> Path:
    """An epoch folder marked by ``quotes``: instrument -> (price, the sources quoting it)."""
    rows = [f"{instrument},{source},{price},{NOW(number)}"
            for instrument, (price, sources) in quotes.items() for source in sources]
    return write_files(folder / f"epoch-{number}", {
        "oracle.csv": csv("instrument,source,price,timestamp", *rows),
        "funding.csv": csv("instrument,funding_rate_ppm", "BTC-PERP,0", "ETH-PERP,0"),
        "fills.csv": files.pop("fills", csv(FILLS)), **files})


def _venue(tmp_path: Path) -> Path:
    config = write_files(tmp_path / "cfg", {"zkclear.toml": TOML}) / "zkclear.toml"
    venue = tmp_path / "venue"
    zkclear("init", venue, "--config", config, "--height", 4, "--chunk-bits", 3, "--executor", "serial",
            "--venue", "V")
    zkclear("epoch", "run", _epoch(tmp_path, 1, {"BTC-PERP": (30_000, "ab"), "ETH-PERP": (2_000, "ab")},
                                   fills=csv(FILLS, "f1,carrier,dealer,BTC-PERP,1,30000,0,0",
                                             "f2,carrier,dealer,ETH-PERP,1,2000,0,0"),
                                   **{"accounts.csv": csv("account,margin_mode", "carrier,standard",
                                                          "dealer,standard", "LIQ,standard"),
                                      "transfers.csv": csv("transfer_id,kind,account,amount",
                                                           "t1,deposit,carrier,40000", "t2,deposit,dealer,1000000000",
                                                           "t3,deposit,LIQ,1000000000")}), "-d", venue)
    return venue


def test_epoch_run_refuses_an_epoch_whose_paused_account_ends_below_maintenance(tmp_path):
    venue = _venue(tmp_path)
    paused = _epoch(tmp_path, 2, {"BTC-PERP": (27_000, "ab"), "ETH-PERP": (2_000, "a")})
    code, output = zkclear_status("epoch", "run", paused, "-d", venue)
    assert code == 1, output
    assert output.count("\n") == 1, output
    # named by the paused instrument's (only) quote: line 4 of oracle.csv (after the header and BTC's two)
    assert output.startswith(f"error: {paused}/oracle.csv:4: field 'instrument': account 'carrier' carried exposure "
                             "to ETH-PERP, whose liquidations the oracle guard paused"), output
    assert "nothing was committed" in output
    assert "ledger head: epoch 1 " in zkclear("status", "-d", venue)
    # with the instrument quoted by enough sources the same epoch clears: carrier is liquidated as usual
    quoted = _epoch(tmp_path / "again", 2, {"BTC-PERP": (27_000, "ab"), "ETH-PERP": (2_000, "ab")})
    output = zkclear("epoch", "run", quoted, "-d", venue)
    assert "epoch 2 committed" in output and "liquidations 1," in output


KEY = key_from_secret("ethereum", bytes.fromhex("a1" * 32))


def _reserves(venue: Path, folder: Path, number: int, extra: int = 1) -> Path:
    with Deployment(venue).ledger() as ledger:
        liabilities = int(ledger.state(number).cash.sum())
    path = folder / f"reserves-{number}-{extra}.csv"
    path.write_text(reserves_csv([(KEY.chain, "USDC", KEY.address.text)], {"USDC": liabilities + extra}))
    return path


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    """Epochs 1-3 proven; ETH-PERP quoted by one source in epochs 2 and 3 (a fallback; BTC does not move, so
    nobody is below maintenance)."""
    folder = tmp_path_factory.mktemp("outage")
    key_file = folder / "custodian.key"
    write_key(key_file, KEY)
    venue = _venue(folder)
    for number in (2, 3):
        zkclear("epoch", "run", _epoch(folder, number, {"BTC-PERP": (30_000, "ab"), "ETH-PERP": (2_000, "a")}),
                "-d", venue)
    for number in (1, 2, 3):
        zkclear("epoch", "prove", "-d", venue, "--epoch", number, "--reserves", _reserves(venue, folder, number),
                "--sign-with", key_file)
    return folder, venue, key_file


def test_the_audit_reports_an_oracle_outage_and_how_many_epochs_it_has_lasted(outage, capsys):
    """An outage (too few sources) marks an instrument at its last good price with its liquidations and its exposed
    accounts' withdrawals paused, and nothing bounds how long it lasts: every epoch's audit passed and said nothing of
    it. The audit now names each fallback and, over consecutive epochs given, how many epochs it has run."""
    _, venue, _ = outage
    epochs = [venue / "epochs" / str(number) for number in (1, 2, 3)]
    reports = json.loads(zkclear("audit", *epochs, "--json"))
    assert [r["oracle"]["fallback"] for r in reports] == [{}, {"ETH-PERP": 1}, {"ETH-PERP": 2}]
    assert [r["oracle"]["paused"] for r in reports] == [[], ["ETH-PERP"], ["ETH-PERP"]]
    assert [r["oracle"]["breaker"] for r in reports] == [[], [], []]
    _print_audit(reports[2], 0)
    output = capsys.readouterr().out
    assert ("oracle fallback: ETH-PERP is marked at its last good price (too few sources quoted it, 2 epochs running "
            "among those audited)") in output and "BTC-PERP is marked" not in output
    # a gap starts the count again (the audit passes no running count after one): epoch 3 alone shows one epoch
    derived = Deployment(venue).public_inputs(3).derived
    assert _oracle_summary(derived, {})[0]["fallback"] == {"ETH-PERP": 1}


def test_an_epoch_whose_bundle_was_lost_is_proven_again_only_as_the_next_epoch_names_it(outage, tmp_path):
    """Epoch 2's bundle lost after epoch 3 was proven on it: ``epoch prove --epoch 2`` with other reserves wrote a new
    epoch 2 (another header hash), and the published chain broke at epoch 3 (``audit``: epoch-chain-broken). It is
    now refused, nothing written; with the reserves it was proven with, the same bundle is written again."""
    folder, original, key_file = outage
    venue = tmp_path / "venue"
    shutil.copytree(original, venue)
    bundle = venue / "epochs" / "2" / "epoch-2.bundle"
    published = bundle.read_bytes()
    bundle.unlink()
    code, output = zkclear_status("epoch", "prove", "-d", venue, "--epoch", 2, "--reserves",
                                  _reserves(venue, tmp_path, 2, extra=5), "--sign-with", key_file)
    assert code == 1, output
    assert "error: epoch 3 is proven on epoch 2 of header hash" in output and "nothing was written" in output
    assert not bundle.exists()
    zkclear("epoch", "prove", "-d", venue, "--epoch", 2, "--reserves", _reserves(venue, folder, 2), "--sign-with",
            key_file)
    assert bundle.read_bytes() == published
