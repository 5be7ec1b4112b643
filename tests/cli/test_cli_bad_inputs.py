"""Bad input files through the CLI: each is refused with one line naming file, line and field, and the
ledger (and every other file of the deployment) is left exactly as it was."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear
from zkclear.synthetic import MarketSpec, generate_market

SPEC = MarketSpec(accounts=6, epochs=2, fills_per_epoch=20, seed=3)


def _market(tmp_path_factory, spec: MarketSpec) -> dict:
    root = tmp_path_factory.mktemp("market")
    config, epochs = generate_market(root / "market", spec)
    return {"root": root, "config": config, "epochs": epochs}


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> dict:
    """Options, portfolio margin, oracle-sourced marks (oracle.csv, funding.csv, vols.csv)."""
    return _market(tmp_path_factory, SPEC)


@pytest.fixture(scope="module")
def plain_market(tmp_path_factory) -> dict:
    """Perpetuals and a dated future with marks given directly (prices.json)."""
    return _market(tmp_path_factory, MarketSpec(accounts=6, epochs=2, fills_per_epoch=20, seed=3, options=False))


def _deploy(market: dict, directory: Path, capsys) -> Path:
    zkclear("init", directory, "--config", market["config"], "--height", 8, "--executor", "serial", capsys=capsys)
    zkclear("epoch", "run", market["epochs"][0], "-d", directory, capsys=capsys)
    return directory


@pytest.fixture
def deployment(market, tmp_path, capsys) -> Path:
    """A fresh options deployment with epoch 1 committed."""
    return _deploy(market, tmp_path / "venue", capsys)


@pytest.fixture
def plain_deployment(plain_market, tmp_path, capsys) -> Path:
    """A fresh deployment without options or oracle, epoch 1 committed."""
    return _deploy(plain_market, tmp_path / "plain", capsys)


def _fingerprint(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _epoch_copy(market, tmp_path: Path) -> Path:
    target = tmp_path / "epoch-2"
    shutil.copytree(market["epochs"][1], target)
    return target


def _replace_line(path: Path, number: int, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = new
    path.write_text("\n".join(lines) + "\n")


def _refused(deployment: Path, inputs: Path, capsys, *expected: str) -> str:
    before = _fingerprint(deployment)
    out = zkclear("epoch", "run", inputs, "-d", deployment, expect=1, capsys=capsys)
    assert out.count("\n") == 1 and out.startswith("error: "), out
    for fragment in expected:
        assert fragment in out, out
    assert _fingerprint(deployment) == before, "a refused epoch changed the deployment"
    return out


def test_fills_price_off_tick_or_negative_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    fills = inputs / "fills.csv"
    row = fills.read_text().splitlines()[3].split(",")
    row[5] = "-" + row[5]
    _replace_line(fills, 4, ",".join(row))
    _refused(deployment, inputs, capsys, "fills.csv:4:", "field 'price'")


def test_fills_duplicate_id_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    fills = inputs / "fills.csv"
    lines = fills.read_text().splitlines()
    _replace_line(fills, 3, lines[1])
    _refused(deployment, inputs, capsys, "fills.csv:3:", "fill_id")


def test_fills_unknown_account_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    fills = inputs / "fills.csv"
    row = fills.read_text().splitlines()[1].split(",")
    row[1] = "mallory"
    _replace_line(fills, 2, ",".join(row))
    _refused(deployment, inputs, capsys, "fills.csv:2:", "buyer")


def test_fills_already_committed_in_an_earlier_epoch_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    first_epoch_fill = (market["epochs"][0] / "fills.csv").read_text().splitlines()[1]
    _replace_line(inputs / "fills.csv", 2, first_epoch_fill)
    _refused(deployment, inputs, capsys, "fills.csv:2:", "fill_id")


def test_prices_csv_missing_instrument_is_refused(plain_deployment, plain_market, tmp_path, capsys):
    inputs = _epoch_copy(plain_market, tmp_path)
    (inputs / "prices.json").unlink()
    (inputs / "prices.csv").write_text("instrument,mark_price,funding_rate_ppm\nBTC-PERP,60000,10\n")
    _refused(plain_deployment, inputs, capsys, "prices.csv")


def test_prices_csv_bad_integer_is_refused(plain_deployment, plain_market, tmp_path, capsys):
    inputs = _epoch_copy(plain_market, tmp_path)
    (inputs / "prices.json").unlink()
    (inputs / "prices.csv").write_text("instrument,mark_price,funding_rate_ppm\nBTC-PERP,60000.5,10\n"
                                       "ETH-PERP,3000,0\nBTC-FUT,60500,\n")
    _refused(plain_deployment, inputs, capsys, "prices.csv:2:", "field 'mark_price'")


def test_prices_json_float_is_refused(plain_deployment, plain_market, tmp_path, capsys):
    inputs = _epoch_copy(plain_market, tmp_path)
    path = inputs / "prices.json"
    path.write_text(path.read_text().replace('"mark_price": ', '"mark_price": 0.5e', 1))
    _refused(plain_deployment, inputs, capsys, "prices.json:", "mark_price")


def test_minus_zero_in_prices_csv_is_refused_not_read_as_zero(plain_deployment, plain_market, tmp_path, capsys):
    inputs = _epoch_copy(plain_market, tmp_path)
    (inputs / "prices.json").unlink()
    (inputs / "prices.csv").write_text("instrument,mark_price,funding_rate_ppm\nBTC-PERP,60000,10\n"
                                       "ETH-PERP,3000,-0\nBTC-FUT,60500,\n")
    _refused(plain_deployment, inputs, capsys, "prices.csv:3:", "field 'funding_rate_ppm'", "'-0'")


def test_minus_zero_in_prices_json_is_refused_not_read_as_zero(plain_deployment, plain_market, tmp_path, capsys):
    inputs = _epoch_copy(plain_market, tmp_path)
    path = inputs / "prices.json"
    text = path.read_text()
    rate = text.split('"funding_rate_ppm": ')[1].split("\n")[0]
    path.write_text(text.replace(f'"funding_rate_ppm": {rate}', '"funding_rate_ppm": -0', 1))
    _refused(plain_deployment, inputs, capsys, "prices.json:", "field 'marks[0].funding_rate_ppm'", "'-0'")


@pytest.mark.parametrize("spelling", ["-0", "+5", "007", " 5"])
def test_non_canonical_integers_in_operator_csv_files_are_refused(deployment, market, tmp_path, capsys, spelling):
    inputs = _epoch_copy(market, tmp_path)
    funding = inputs / "funding.csv"
    _replace_line(funding, 2, funding.read_text().splitlines()[1].split(",")[0] + "," + spelling)
    _refused(deployment, inputs, capsys, "funding.csv:2:", "field 'funding_rate_ppm'", repr(spelling))
    inputs = _epoch_copy(market, tmp_path / "transfers")
    (inputs / "transfers.csv").write_text(f"transfer_id,kind,account,amount\nt-x,deposit,trader-0001,{spelling}\n")
    _refused(deployment, inputs, capsys, "transfers.csv:2:", "field 'amount'", repr(spelling))
    inputs = _epoch_copy(market, tmp_path / "fills")
    fills = inputs / "fills.csv"
    row = fills.read_text().splitlines()[1].split(",")
    row[6] = spelling
    _replace_line(fills, 2, ",".join(row))
    _refused(deployment, inputs, capsys, "fills.csv:2:", "field 'buyer_fee'", repr(spelling))


def test_prices_json_duplicate_key_is_refused(plain_deployment, plain_market, tmp_path, capsys):
    """A record giving its mark twice ("mark_price": 1, "mark_price": 60000) was read as its last value; another
    JSON reader takes the first: the file is ambiguous and refused."""
    inputs = _epoch_copy(plain_market, tmp_path)
    path = inputs / "prices.json"
    path.write_text(path.read_text().replace('"mark_price": ', '"mark_price": 1, "mark_price": ', 1))
    _refused(plain_deployment, inputs, capsys, "prices.json:", "field 'marks[0].mark_price': duplicate key")


def test_both_price_files_are_refused(plain_deployment, plain_market, tmp_path, capsys):
    inputs = _epoch_copy(plain_market, tmp_path)
    (inputs / "prices.csv").write_text("instrument,mark_price,funding_rate_ppm\n")
    _refused(plain_deployment, inputs, capsys, "exactly one of")


def test_oracle_quote_off_tick_or_negative_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    oracle = inputs / "oracle.csv"
    row = oracle.read_text().splitlines()[1].split(",")
    row[2] = "-" + row[2]
    _replace_line(oracle, 2, ",".join(row))
    _refused(deployment, inputs, capsys, "oracle.csv:2:", "field 'price'")


def test_oracle_marks_for_an_option_are_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    oracle = inputs / "oracle.csv"
    oracle.write_text(oracle.read_text() + "BTC-C-60000,venue-a,2000,1767398400\n")
    _refused(deployment, inputs, capsys, "oracle.csv:", "instrument")


def test_vols_missing_for_a_live_option_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    vols = inputs / "vols.csv"
    vols.write_text("\n".join(vols.read_text().splitlines()[:2]) + "\n")
    _refused(deployment, inputs, capsys, "vols.csv")


def test_vols_not_an_integer_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    vols = inputs / "vols.csv"
    _replace_line(vols, 2, vols.read_text().splitlines()[1].split(",")[0] + ",0.6")
    _refused(deployment, inputs, capsys, "vols.csv:2:", "field 'implied_vol_ppm'")


def test_funding_rate_out_of_range_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    funding = inputs / "funding.csv"
    _replace_line(funding, 2, funding.read_text().splitlines()[1].split(",")[0] + ",2000000")
    _refused(deployment, inputs, capsys, "funding.csv:2:", "field 'funding_rate_ppm'")


def test_transfers_bad_kind_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    (inputs / "transfers.csv").write_text("transfer_id,kind,account,amount\nt-x,gift,trader-0001,5\n")
    _refused(deployment, inputs, capsys, "transfers.csv:2:", "field 'kind'")


def test_transfers_non_positive_amount_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    (inputs / "transfers.csv").write_text("transfer_id,kind,account,amount\nt-x,deposit,trader-0001,0\n")
    _refused(deployment, inputs, capsys, "transfers.csv:2:", "field 'amount'")


def test_accounts_reopening_an_account_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    (inputs / "accounts.csv").write_text("account,margin_mode\ntrader-0001,standard\n")
    _refused(deployment, inputs, capsys, "accounts.csv:2:", "account")


def test_accounts_system_prefix_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    (inputs / "accounts.csv").write_text("account,margin_mode\nCH:mine,standard\n")
    _refused(deployment, inputs, capsys, "accounts.csv:2:", "account")


def test_accounts_unknown_margin_mode_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    (inputs / "accounts.csv").write_text("account,margin_mode\nnewcomer,yolo\n")
    _refused(deployment, inputs, capsys, "accounts.csv:2:", "margin_mode")


def test_margins_below_configuration_or_malformed_is_refused(deployment, market, tmp_path, capsys):
    inputs = _epoch_copy(market, tmp_path)
    (inputs / "margins.csv").write_text("instrument,initial_margin_ppm,maintenance_margin_ppm\nBTC-PERP,x,50000\n")
    _refused(deployment, inputs, capsys, "margins.csv:2:", "initial_margin_ppm")


def test_config_toml_wrong_type_is_refused_and_nothing_is_created(market, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(market["config"].read_text().replace("tick_size = 1", "tick_size = 1.0", 1))
    out = zkclear("init", tmp_path / "venue", "--config", bad, expect=1, capsys=capsys)
    assert "bad.toml" in out and "tick_size" in out and out.count("\n") == 1
    assert not (tmp_path / "venue" / "zkclear.toml").exists()
    assert not (tmp_path / "venue" / "ledger.sqlite").exists()


def test_config_toml_unknown_key_is_refused(market, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("leverage_everything = true\n" + market["config"].read_text())
    out = zkclear("init", tmp_path / "venue", "--config", bad, expect=1, capsys=capsys)
    assert "bad.toml:1:" in out and "leverage_everything" in out


def test_proving_toml_unknown_key_is_refused(deployment, market, capsys):
    path = deployment / "proving.toml"
    assert path.read_text().rstrip().splitlines()[-1].startswith("executor")  # [proving] is the last table
    path.write_text(path.read_text() + "turbo = true\n")
    out = zkclear("epoch", "run", market["epochs"][1], "-d", deployment, expect=1, capsys=capsys)
    assert "proving.toml" in out and "turbo" in out


_RESERVES_HEADER = "chain,asset,address,balance,block_height,block_hash\n"
_ETH_BLOCK = "19000000,0x" + "ab" * 32


def test_reserves_csv_bad_balance_is_refused_before_proving(deployment, tmp_path, capsys):
    reserves = tmp_path / "reserves.csv"
    reserves.write_text(_RESERVES_HEADER + "ethereum,USDC,0x" + "ab" * 20 + ",-5," + _ETH_BLOCK + "\n")
    before = _fingerprint(deployment)
    out = zkclear("epoch", "prove", "-d", deployment, "--reserves", reserves, expect=1, capsys=capsys)
    assert "reserves.csv:2:" in out and "field 'balance'" in out
    assert _fingerprint(deployment) == before


def test_key_file_that_is_not_a_key_is_refused(deployment, tmp_path, capsys):
    reserves = tmp_path / "reserves.csv"
    reserves.write_text(_RESERVES_HEADER + "ethereum,USDC,0x" + "ab" * 20 + ",5," + _ETH_BLOCK + "\n")
    key = tmp_path / "custody.key"
    key.write_text("not hex at all")
    key.chmod(0o600)
    out = zkclear("epoch", "prove", "-d", deployment, "--reserves", reserves, "--sign-with", key, expect=1,
                  capsys=capsys)
    assert "custody.key:1:" in out and "not a zkclear test key file" in out


def test_epoch_run_in_small_batches_commits_what_one_batch_commits(plain_market, tmp_path, capsys):
    """`--batch-fills` bounds the fills held at once; the committed epochs, and what the CLI says, do not change."""
    outputs, ledgers = [], []
    for batch in ("2", "32768"):
        directory = tmp_path / f"venue-{batch}"
        zkclear("init", directory, "--config", plain_market["config"], "--height", 8, capsys=capsys)
        outputs.append([zkclear("epoch", "run", epoch, "-d", directory, "--batch-fills", batch, capsys=capsys)
                        for epoch in plain_market["epochs"]])
        ledgers.append(zkclear("status", "-d", directory, capsys=capsys))
    assert outputs[0] == outputs[1] and " fills, " in outputs[0][0]
    assert ledgers[0] == ledgers[1]


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_a_batch_of_fills_that_is_not_a_positive_integer_is_refused_by_the_option(deployment, market, value, capsys):
    out = zkclear("epoch", "run", market["epochs"][1], "-d", deployment, "--batch-fills", value, expect=1,
                  capsys=capsys)
    assert "--batch-fills" in out


def test_a_batch_of_fills_too_large_and_a_fills_pipe_are_one_line(deployment, market, tmp_path, capsys):
    before = _fingerprint(deployment)
    out = zkclear("epoch", "run", market["epochs"][1], "-d", deployment, "--batch-fills", str(2**24 + 1), expect=1,
                  capsys=capsys)
    assert out.startswith(f"error: Invalid value for '--batch-fills': {2**24 + 1} is above the maximum 16777216 ")
    assert out.count("\n") == 1
    inputs = _epoch_copy(market, tmp_path)
    (inputs / "fills.csv").unlink()
    import os

    os.mkfifo(inputs / "fills.csv")  # reading it would block: refused before anything is read
    out = zkclear("epoch", "run", inputs, "-d", deployment, expect=1, capsys=capsys)
    assert out.strip() == f"error: {inputs}/fills.csv: not a regular file"
    assert _fingerprint(deployment) == before


def test_what_a_killed_epoch_run_left_in_its_scratch_folder_is_cleared_by_the_next(deployment, market, capsys):
    """A run keeps its working files in private/scratch/run-PID: a dead process's folder is removed by the next
    run, a live one's (another run in progress) is left alone."""
    import os
    import subprocess

    ended = subprocess.Popen(["true"])
    ended.wait()  # reaped: its pid names no live process
    scratch = deployment / "private" / "scratch"
    dead = scratch / f"run-{ended.pid}"
    (dead / "commit").mkdir(parents=True)
    (dead / "fills.csv").write_text("half a copy")
    live = scratch / f"run-{os.getppid()}"
    live.mkdir()
    zkclear("epoch", "run", market["epochs"][1], "-d", deployment, capsys=capsys)
    assert not dead.exists() and live.exists()
    live.rmdir()
    zkclear("epoch", "run", market["epochs"][1], "-d", deployment, capsys=capsys)  # a no-op that says so
    assert not scratch.exists()


def _many_fills(market, tmp_path: Path, count: int, repeat_at: int | None = None) -> Path:
    """Epoch 2 with ``count`` fills of long ids (each pair of fills trades a lot back: positions stay flat), so that
    the fill-id check holds megabytes; ``repeat_at``: that fill repeats the first one's id."""
    inputs = _epoch_copy(market, tmp_path)
    header, first = (inputs / "fills.csv").read_text().splitlines()[:2]
    _, buyer, seller, instrument, size, price, _, _ = first.split(",")
    rows = [header]
    for k in range(count):
        fill_id = "f-" + f"{0 if k == repeat_at else k:062d}"
        a, b = (buyer, seller) if k % 2 == 0 else (seller, buyer)
        rows.append(f"{fill_id},{a},{b},{instrument},{size},{price},0,0")
    (inputs / "fills.csv").write_text("\n".join(rows) + "\n")
    return inputs


def test_a_fill_id_check_across_batches_keeps_its_database_in_the_private_scratch_folder(plain_deployment,
                                                                                          plain_market, tmp_path,
                                                                                          capsys):
    """The check that fill ids are distinct across batches opened an anonymous SQLite database, which SQLite puts
    in /var/tmp once it outgrows its cache: the ids of a venue's fills outside its private folder, left behind if
    the run is killed. It is now a database in the run's private scratch folder, removed when the run ends, also
    when the epoch is refused (and by the next run after a kill -9, as every scratch file)."""
    from tests.spill_watch import opened_paths

    scratch = plain_deployment / "private" / "scratch"
    inputs = _many_fills(plain_market, tmp_path / "many", 30_000)
    out, opened = opened_paths(lambda: zkclear("epoch", "run", inputs, "-d", plain_deployment, "--batch-fills",
                                               "7000", capsys=capsys))
    assert "30000 fills" in out
    ours = str(tmp_path.parent)  # the test's own folders (the deployment, the inputs) are under /tmp too
    outside = {p for p in opened if p.startswith(("/tmp/", "/var/tmp/")) and not p.startswith(ours)}
    assert outside == set() and not any("etilqs_" in p for p in opened)
    assert any(p.startswith(f"{scratch}/run-") and "/distinct-fill_id-" in p and p.endswith(".sqlite") for p in opened)
    assert not scratch.exists()
    refused = _many_fills(plain_market, tmp_path / "repeated", 30_000, repeat_at=20_000)
    out, opened = opened_paths(lambda: zkclear("epoch", "run", refused, "-d", plain_deployment, "--epoch", 3,
                                               "--batch-fills", "7000", expect=1, capsys=capsys))
    assert f"fills.csv:{20_002}: field 'fill_id': duplicate fill id" in out
    assert not any(p.startswith(("/tmp/", "/var/tmp/")) and not p.startswith(ours) for p in opened)
    assert not scratch.exists()


def test_the_fill_id_database_of_a_killed_epoch_run_is_removed_by_the_next_run(plain_deployment, plain_market,
                                                                                tmp_path, capsys):
    import os
    import signal
    import subprocess
    import sys
    import time

    scratch = plain_deployment / "private" / "scratch"
    inputs = _many_fills(plain_market, tmp_path / "many", 30_000)
    run = subprocess.Popen([sys.executable, "-m", "zkclear.cli", "epoch", "run", inputs, "-d", plain_deployment,
                            "--batch-fills", "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (left := list(scratch.rglob("distinct-fill_id-*.sqlite"))) and time.monotonic() < deadline:
            assert run.poll() is None, "the run ended before its fill-id database was seen"
            time.sleep(0.005)
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.wait()
    assert left and all(path.exists() for path in left)  # what kill -9 leaves behind: in the private folder
    out = zkclear("epoch", "run", inputs, "-d", plain_deployment, "--batch-fills", "7000", capsys=capsys)
    assert "30000 fills" in out and not scratch.exists()


def test_a_damaged_stored_state_refuses_the_prove_in_one_line_and_leaves_no_file(market, tmp_path, capsys):
    """`epoch prove` reads the accounts from the ledger in one pass into a private scratch copy: a row that is not
    canonical (JSON true for an integer) is one LedgerError line, and the refused prove leaves no file."""
    import sqlite3

    from zkclear.clearing.state import EpochState

    deployment = tmp_path / "venue"
    zkclear("init", deployment, "--config", market["config"], "--height", 8, "--executor", "serial",
            "--venue", "Acme Clearing", capsys=capsys)
    zkclear("epoch", "run", market["epochs"][0], "-d", deployment, capsys=capsys)
    with sqlite3.connect(deployment / "ledger.sqlite") as db:
        stored = db.execute("SELECT state FROM epochs WHERE epoch = 1").fetchone()[0]
        state = EpochState.from_canonical_bytes(stored)
        row = f'["{state.accounts[1]}","{state.margin_modes[1]}",{int(state.cash[1])},'.encode()
        assert row in stored
        damaged = stored.replace(row, row[:row.rindex(b",", 0, -1) + 1] + b"true,")
        # the outputs hash recomputed over the damaged state, so that the row's own check is the one that refuses
        # (a plain edit is refused before any row is read: tests/cli/test_cli_ledger_redteam_s13.py)
        report = bytes(db.execute("SELECT report FROM epochs WHERE epoch = 1").fetchone()[0])
        outputs = hashlib.sha256(b"zkclear/ledger/outputs/v1" + len(damaged).to_bytes(8, "big") + damaged
                                 + len(report).to_bytes(8, "big") + report).digest()
        db.execute("UPDATE epochs SET state = ?, outputs_hash = ? WHERE epoch = 1", (damaged, outputs))
    db.close()
    reserves = tmp_path / "reserves.csv"
    reserves.write_text(_RESERVES_HEADER + "ethereum,USDC,0x" + "ab" * 20 + ",5," + _ETH_BLOCK + "\n")
    before = _fingerprint(deployment)
    out = zkclear("epoch", "prove", "-d", deployment, "--reserves", reserves, expect=1, capsys=capsys)
    assert out.strip().splitlines()[-1] == "error: stored state: account row 1 does not decode"
    assert "Traceback" not in out
    assert _fingerprint(deployment) == before
    assert not (deployment / "private").exists()


def _run_subprocess(*args: object, **limits: int):
    """``zkclear ARGS`` in a child process with a deadline (a read that blocks fails the test instead of hanging
    it), optionally under an address-space limit (``memory`` bytes)."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        if "memory" in limits:
            resource.setrlimit(resource.RLIMIT_AS, (limits["memory"], limits["memory"]))

    return subprocess.run([sys.executable, "-m", "zkclear.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False, preexec_fn=limit)


def test_an_input_file_that_is_a_pipe_or_a_device_is_refused_without_reading_it(deployment, market, plain_deployment,
                                                                               plain_market, tmp_path):
    """Only fills.csv was checked: a named pipe given as accounts.csv, oracle.csv, vols.csv, ... blocked `epoch run`
    forever, and /dev/zero was read until memory ran out (22 GB here). Every input file must be a regular file."""
    import os

    options = _epoch_copy(market, tmp_path / "options-inputs")
    cases = [(deployment, options, name) for name in ("accounts.csv", "transfers.csv", "oracle.csv", "funding.csv",
                                                      "vols.csv")]
    cases.append((plain_deployment, _epoch_copy(plain_market, tmp_path / "plain-inputs"), "prices.json"))
    for venue, inputs, name in cases:
        before = _fingerprint(venue)
        target = inputs / name
        original = target.read_bytes() if target.exists() else None
        for make in (os.mkfifo, lambda path: path.symlink_to("/dev/zero")):
            target.unlink(missing_ok=True)
            make(target)
            result = _run_subprocess("epoch", "run", inputs, "-d", venue, memory=3 << 30)
            assert result.returncode == 1 and result.stderr == f"error: {target}: not a regular file\n", \
                (name, result.stderr)
            assert _fingerprint(venue) == before
        target.unlink()
        if original is not None:
            target.write_bytes(original)
    config = tmp_path / "zkclear.toml"
    os.mkfifo(config)
    result = _run_subprocess("init", tmp_path / "new", "--config", config)
    assert result.returncode == 1 and result.stderr == f"error: {config}: not a regular file\n", result.stderr
    assert not (tmp_path / "new").exists()


def test_an_endless_line_is_refused_by_its_length_not_read_whole(deployment, market, tmp_path):
    """A line of gigabytes (a sparse file: no disk) was read whole before the CSV reader's field limit refused it:
    memory grew with the line (2.1 GB for a 1 GB line), and past the memory available the error named no file. A
    line is now read at most 1 MiB at a time."""
    inputs = _epoch_copy(market, tmp_path)
    before = _fingerprint(deployment)
    path = inputs / "accounts.csv"
    with open(path, "wb") as handle:
        handle.write(b"account,margin_mode\n")
        handle.truncate(8 << 30)
    result = _run_subprocess("epoch", "run", inputs, "-d", deployment, memory=3 << 30)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"error: {path}:2: a line longer than {1 << 20} characters\n"
    assert _fingerprint(deployment) == before


def test_look_alike_ids_of_other_alphabets_are_refused(deployment, market, tmp_path, capsys):
    """A fill id, transfer id or oracle source could be any printable Unicode: a second fill whose id differs from
    an earlier one by a look-alike letter of another alphabet passed the check that a fill id is new, and an oracle
    source 'venue-a' spelled with a Cyrillic a counted as one more source in the median (the same name to anyone
    reading the public inputs). Ids are now printable ASCII, like account and instrument ids."""
    inputs = _epoch_copy(market, tmp_path)
    fills = inputs / "fills.csv"
    lines = fills.read_text().splitlines()
    duplicate = lines[1].split(",")
    duplicate[0] = duplicate[0].replace("f", "\u0192", 1)  # a look-alike of the first fill's id
    _replace_line(fills, 3, ",".join(duplicate))
    _refused(deployment, inputs, capsys, "fills.csv:3:", "field 'fill_id'", "(ASCII only)")
    inputs = _epoch_copy(market, tmp_path / "oracle")
    oracle = inputs / "oracle.csv"
    row = oracle.read_text().splitlines()[1].split(",")
    row[1] = row[1].replace("a", "\u0430")
    _replace_line(oracle, 2, ",".join(row))
    _refused(deployment, inputs, capsys, "oracle.csv:2:", "field 'source'", "(ASCII only)")


def test_a_participant_or_proving_file_nested_too_deeply_is_named(deployment, market, tmp_path, capsys):
    """tomllib recurses once per nested array: a participant file (4 KB are enough) or a proving.toml of nested
    arrays ended in 'error: input too large or too deeply nested (RecursionError)', naming no file."""
    import sys

    participant = tmp_path / "participant.toml"
    participant.write_text("account = " + "[" * 2000 + "]" * 2000 + "\n")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default (py_ecc raises it at import, and 2000 levels then parse)
    try:
        out = zkclear("verify", tmp_path, "--receipt", tmp_path / "r.rcpt", "--participant", participant, expect=1,
                      capsys=capsys)
    finally:
        sys.setrecursionlimit(limit)
    assert out == f"error: {participant}: not valid TOML: nested too deeply\n"
    before = _fingerprint(deployment)
    proving = deployment / "proving.toml"
    proving.write_text(proving.read_text() + "deep = " + "[" * 100000 + "]" * 100000 + "\n")
    out = zkclear("epoch", "run", market["epochs"][1], "-d", deployment, expect=1, capsys=capsys)
    assert out == f"error: {proving}: not valid TOML: nested too deeply\n"
    proving.write_bytes(b"")
    del before["proving.toml"]
    after = _fingerprint(deployment)
    del after["proving.toml"]
    assert after == before
