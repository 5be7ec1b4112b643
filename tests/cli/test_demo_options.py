"""``zkclear demo``'s options: every combination runs to the end or is refused with one line (exit 1)
before anything is written; the small combinations are walked end to end through the CLI."""

from __future__ import annotations

import pytest

from tests.cli.cli_helpers import zkclear, zkclear_as_the_quick_start
from zkclear.demo import FULL, QUICK, market_spec


@pytest.mark.parametrize(("options", "message"), [
    (("--accounts", 1), "--accounts must be in [2,"),
    (("--accounts", 0), "--accounts must be in [2,"),
    (("--accounts", -3), "--accounts must be in [2,"),
    (("--accounts", 5001), "--accounts must be in [2,"),
    (("--epochs", 0), "--epochs must be in [1,"),
    (("--epochs", 13), "--epochs must be in [1,"),
    (("--height", 4), "--height 4: chunk_bits must be in [1, height), got 4 (the demo's chunks of 16 accounts need "
                      "--height 5 or more)"),
    (("--height", 1), "--height 1: tree height must be in [2, 64]"),
    (("--height", 65), "--height 65: tree height must be in [2, 64]"),
    (("--height", 5, "--accounts", 40), "--height 5: 4 chunks do not fit"),
    (("--accounts", "many"), "Invalid value for '--accounts': must be a plain decimal integer"),
    (("--accounts", "030"), "Invalid value for '--accounts': must be a plain decimal integer"),
    (("--height", "+8"), "Invalid value for '--height': must be a plain decimal integer"),
    (("--executor", "cluster"), "'cluster' is not one of"),
])
def test_bad_options_are_refused_with_one_line_before_anything_is_written(tmp_path, capsys, options, message):
    out = zkclear("demo", "--out", tmp_path / "demo", *options, expect=1,
                  capsys=capsys)
    assert message in out
    assert "Traceback" not in out
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("shape", [QUICK, FULL])
def test_the_quick_and_the_full_market_show_every_mechanism(tmp_path, shape):
    """Clearing only (the proofs are walked below and in test_cli_end_to_end): the crash liquidates,
    exhausts the insurance fund (ADL), converts BTC and ETH collateral at liquidation (the quick market: both
    assets), options are held and the oracle drops an outlier."""
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import generate_market

    spec = market_spec(*shape)
    config, inputs = generate_market(tmp_path / "market", spec)
    deployment = Deployment.init(tmp_path / "venue", config.read_text(encoding="utf-8"), ProvingSettings())
    reports = [deployment.run_epoch(directory, number).report for number, directory in enumerate(inputs, start=1)]
    crash = reports[spec.crash_epoch - 1]
    assert len(crash.liquidations) > 0 and len(crash.adl) > 0
    converted = {event.asset for event in crash.conversions}
    assert converted == {"BTC", "ETH"} if shape == QUICK else converted
    accounts_before = deployment.accounts(spec.crash_epoch - 1)
    assert any(any(a.witness.balances) for a in accounts_before)  # collateral was posted
    assert any(d["dropped"] for report in reports for d in report.oracle_decisions)
    accounts = deployment.accounts(shape[1])
    assert any(any(a.witness.positions[3:]) for a in accounts)  # a call or a put is held
    if shape == QUICK:
        assert len(accounts) <= 32  # two chunks of 16: no padding chunk to prove


@pytest.mark.slow
@pytest.mark.parametrize(("accounts", "epochs", "height", "executor"),
                         [(2, 1, 5, "serial"), (10, 1, 16, "serial"), (6, 3, 8, "process")])
def test_small_combinations_run_to_the_end(tmp_path, accounts, epochs, height, executor):
    """Run as the quick start runs it (a fresh process, the native engine when installed). The last one on the
    default executor, the process pool the demo keeps from one epoch's prove to the next (its forked workers once
    kept the first prove's lock: the second epoch was refused), over three epochs that must chain."""
    out = zkclear_as_the_quick_start("demo", "--out", tmp_path / "demo", "--accounts", accounts, "--epochs", epochs,
                                     "--height", height, "--executor", executor)
    assert f"{accounts} traders" in out
    # the input files it names are the ones it wrote (it named prices.json, which an oracle market never has)
    written = sorted({path.name for path in (tmp_path / "demo" / "market").glob("epoch-*/*")})
    assert f"(zkclear.toml; epoch-N/: {', '.join(written)})" in out and "oracle.csv" in written
    assert "collateral proofs (chunks): 1/1" in out  # progress while proving
    assert "== 4. participant" in out and "OK: leaf" in out and f"epoch {epochs}: OK" in out
    assert "rejected as expected: solvency-proof" in out
    assert "Traceback" not in out
    if epochs == 1:
        assert "no crash" in out and "one bit of its solvency proof flipped" in out
    else:
        assert f"35% crash in epoch {epochs}" in out and "(a replay)" in out and "the epochs chain" in out
