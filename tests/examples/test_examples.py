"""The example scripts run as a user runs them (a subprocess with the project's Python)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(*args: object, expect: int = 0, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                            check=False, timeout=600, env=None if env is None else {**os.environ, **env})
    assert result.returncode == expect, result.stdout + result.stderr
    return result.stdout


def test_market_generator_writes_a_configuration_and_epoch_inputs(tmp_path):
    out = run(EXAMPLES / "market_generator.py", tmp_path, "--accounts", 20, "--epochs", 3)
    assert (tmp_path / "zkclear.toml").exists()
    assert [p.name for p in sorted(tmp_path.glob("epoch-*"))] == ["epoch-1", "epoch-2", "epoch-3"]
    assert "fills" in out
    assert "[[asset]]" not in (tmp_path / "zkclear.toml").read_text()


def test_market_generator_with_collateral_assets(tmp_path):
    run(EXAMPLES / "market_generator.py", tmp_path, "--accounts", 10, "--epochs", 2, "--collateral")
    config = (tmp_path / "zkclear.toml").read_text()
    assert config.count("[[asset]]") == 3 and 'id = "BTC"' in config and 'id = "ETH"' in config
    transfers = (tmp_path / "epoch-1" / "transfers.csv").read_text().splitlines()
    assert transfers[0].endswith(",asset") and any(line.endswith(",BTC") for line in transfers[1:])


def test_crash_day_runs_the_whole_waterfall_and_keeps_the_invariants():
    out = run(EXAMPLES / "crash_day.py", "--accounts", 150)
    crash = next(line for line in out.splitlines() if line.startswith("epoch 3"))
    assert "insurance fund 0" in crash and "ADL 0" not in crash
    assert out.count("conservation OK") == 3 and out.count("book matched") == 3


def test_crash_day_with_socialized_loss():
    out = run(EXAMPLES / "crash_day.py", "--accounts", 150, "--socialized")
    crash = next(line for line in out.splitlines() if line.startswith("epoch 3"))
    assert "socialized 0" not in crash and "ADL 0" in crash


def test_auditor_and_participant_scripts_on_a_demo_epoch(tmp_path):
    # the demo as the quick start runs it (the native engine when installed); the scripts below on the suite's engine
    run("-m", "zkclear.cli", "demo", "--out", tmp_path / "demo", "--accounts", 6, "--epochs", 2, "--height", 8,
        "--executor", "serial", env={"ZKCLEAR_BACKEND": "auto"})
    epochs = tmp_path / "demo" / "venue" / "epochs"
    out = run(EXAMPLES / "auditor.py", epochs / "1", epochs / "2")
    assert out.count(" OK ") == 2
    private = tmp_path / "demo" / "venue" / "private"
    index = json.loads((private / "2" / "receipts.index").read_text())
    receipt = private / "2" / "receipts" / index["trader-0001"]
    out = run(EXAMPLES / "participant.py", epochs / "2", receipt, "--account", "trader-0001", "--crowd-audit", 1)
    assert "account trader-0001 is at leaf" in out and "crowd audit" in out
    btc_receipt = private / "2" / "receipts" / index["trader-0000"]
    out = run(EXAMPLES / "participant.py", epochs / "2", btc_receipt, "--account", "trader-0000")
    assert "BTC: balance" in out and "haircut value" in out  # the demo's first trader posted BTC collateral
    # zkclear verify --balance: the collateral balance the participant expects (red team round 6: only cash,
    # positions and margin mode could be expected, so a BTC balance committed below the one owed passed a script)
    btc = int(out.split("BTC: balance ")[1].split()[0])
    assert btc > 0
    verify = ("-m", "zkclear.cli", "verify", epochs / "2", "--receipt", btc_receipt, "--account", "trader-0000")
    run(*verify, "--balance", f"BTC={btc}", "--balance", "ETH=0")
    refused = subprocess.run([sys.executable, *map(str, verify), "--balance", f"BTC={btc - 1}"], capture_output=True,
                             text=True, cwd=ROOT, check=False, timeout=600)
    assert refused.returncode == 2 and refused.stderr == (f"FAILED [account-values-mismatch]: BTC balance: you "
                                                          f"expect {btc - 1} (smallest units), the venue committed "
                                                          f"{btc}\n"), refused.stdout + refused.stderr
    out = run(EXAMPLES / "participant.py", epochs / "1", receipt, "--account", "trader-0001", expect=2)
    assert "FAILED [receipt-epoch-mismatch]" in out
    out = run(EXAMPLES / "participant.py", epochs / "2", receipt, "--account", "trader-0002", expect=2)
    assert "FAILED [receipt-owner]" in out


def _one_line_error(*args: object) -> str:
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                            check=False, timeout=120)
    assert result.returncode == 1 and result.stdout == "", result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_bad_arguments_and_missing_files_end_in_one_line_not_a_traceback(tmp_path):
    """What a participant mistypes: a folder or receipt that is not there, a negative or fractional number; and the
    generators' counts that cannot make a market (an empty sequence's IndexError before)."""
    missing = tmp_path / "nothing-here"
    assert "nothing-here" in _one_line_error(EXAMPLES / "participant.py", missing, tmp_path / "r.rcpt",
                                             "--account", "alice")
    assert "--crowd-audit" in _one_line_error(EXAMPLES / "participant.py", missing, tmp_path / "r.rcpt",
                                              "--account", "alice", "--crowd-audit", "-1")
    assert "--cash" in _one_line_error(EXAMPLES / "participant.py", missing, tmp_path / "r.rcpt",
                                       "--account", "alice", "--cash", "1.5")
    assert "the following arguments are required" in _one_line_error(EXAMPLES / "participant.py")
    assert "nothing-here" in _one_line_error(EXAMPLES / "auditor.py", missing)
    assert "--accounts" in _one_line_error(EXAMPLES / "market_generator.py", tmp_path / "m", "--accounts", "0")
    assert "--epochs" in _one_line_error(EXAMPLES / "market_generator.py", tmp_path / "m", "--epochs", "-1")
    (tmp_path / "used" / "epoch-1").mkdir(parents=True)  # an earlier market's folder: never written over
    assert "used is not empty" in _one_line_error(EXAMPLES / "market_generator.py", tmp_path / "used")
    (tmp_path / "a-file").write_text("")
    assert "a-file" in _one_line_error(EXAMPLES / "market_generator.py", tmp_path / "a-file", "--accounts", "2",
                                       "--epochs", "1")
    assert "--accounts" in _one_line_error(EXAMPLES / "crash_day.py", "--accounts", "1")
