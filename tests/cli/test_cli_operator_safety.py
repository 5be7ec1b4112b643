"""Operator safety through the real ``zkclear`` entry point (issue 12, items 3 and 6): a deployment whose ledger
went missing is refused, a folder run twice is a no-op that says so, a folder fed out of order is caught,
spreadsheet exports (byte-order mark, trailing blank lines) are read, a missing ``vols.csv`` / ``funding.csv``
is named, and ``zkclear status`` shows the head, the committed / proven / attested epochs and the funds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.clearing.options_helpers import CONFIG as OPTIONS_CONFIG
from tests.clearing.options_helpers import PUT, csv, epoch_files, write_files
from tests.clearing.test_oracle_epochs import CONFIG as ORACLE_CONFIG
from tests.clearing.test_oracle_epochs import oracle_epoch
from tests.cli.test_cli_end_to_end import zkclear as run_cli
from zkclear.chains import ReserveEntry, key_from_secret
from zkclear.chains.tokens import REGISTERED_TOKENS
from zkclear.operator import LEDGER_FILE, Deployment
from zkclear.proofs.reserves import venue_assets
from zkclear.proving_settings import ProvingSettings
from zkclear.synthetic import DEMO_BLOCKS
from zkclear.tree.placement import TreeConfig

PERP = "BTC-PERP"
CONFIG = """\
liquidation_penalty_ppm = 10000

[[instrument]]
id = "BTC-PERP"
kind = "perpetual"
tick_size = 1
lot_size = 1
contract_multiplier = 10
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
"""
FILLS = "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee"
PRICES = "instrument,mark_price,funding_rate_ppm"

#: The venue's USD is held as USDC on Ethereum and Solana (proving.toml [[reserves.token]], registered contracts).
USD_AS_USDC = tuple((chain, "USD", REGISTERED_TOKENS[(chain, "USDC")][0], None) for chain in ("ethereum", "solana"))


def oracle_files(epoch: int, funding: int = 0, opens: bool = True) -> dict[str, str]:
    """Three sources quoting 30,000 ticks at epoch ``epoch``'s close (the oracle deployment of
    ``tests/clearing/test_oracle_epochs.py``); account A opened in epoch 1."""
    files = oracle_epoch(epoch, [("a", 30_000, 5), ("b", 30_000, 10), ("c", 30_000, 1)],
                         accounts=("A,standard",) if epoch == 1 and opens else ())
    files["funding.csv"] = csv("instrument,funding_rate_ppm", f"{PERP},{funding}")
    return files


def zkclear(capsys, *args: object, expect: int = 0) -> str:
    return run_cli(*args, expect=expect, capsys=capsys)


def _deployment(tmp_path: Path, capsys, config: str = CONFIG) -> Path:
    (tmp_path / "zkclear.toml").write_text(config, encoding="utf-8")
    root = tmp_path / "venue"
    zkclear(capsys, "init", root, "--config", tmp_path / "zkclear.toml", "--height", 8, "--chunk-bits", 2,
            "--executor", "serial")
    return root


def _first_epoch(directory: Path) -> Path:
    return write_files(directory, {
        "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard"),
        "transfers.csv": csv("transfer_id,kind,account,amount", "t-1,deposit,A,1000000", "t-2,deposit,B,1000000",
                             "t-3,deposit,CH:insurance,5000"),
        "fills.csv": csv(FILLS, f"f1,A,B,{PERP},2,1000,0,0"),
        "prices.csv": csv(PRICES, f"{PERP},1000,0")})


def test_a_deployment_whose_ledger_is_missing_is_refused_not_recreated(tmp_path, capsys) -> None:
    root = _deployment(tmp_path, capsys)
    zkclear(capsys, "epoch", "run", _first_epoch(tmp_path / "e1"), "-d", root)
    (root / LEDGER_FILE).unlink()
    for args in (("epoch", "run", tmp_path / "e1", "-d", root), ("status", "-d", root)):
        out = zkclear(capsys, *args, expect=1)
        assert out.startswith(f"error: {root / LEDGER_FILE} is missing") and "restore it from a backup" in out
        assert "Traceback" not in out
    assert not (root / LEDGER_FILE).exists()


def test_a_deployment_whose_ledger_was_truncated_to_nothing_is_refused_not_restarted(tmp_path, capsys) -> None:
    """Red team: a failed restore or a full disk leaves ``ledger.sqlite`` empty (0 bytes). SQLite reads that as an
    empty database, so `epoch run` initialised it at genesis and committed epoch 1 again — the silent restart that
    a missing ledger is refused for. Every command refuses it, and the file is left as it was."""
    root = _deployment(tmp_path, capsys)
    zkclear(capsys, "epoch", "run", _first_epoch(tmp_path / "e1"), "-d", root)
    (root / LEDGER_FILE).write_bytes(b"")
    (tmp_path / "reserves.csv").write_text("chain,asset,address,balance,block_height,block_hash\n")
    for args in (("epoch", "run", tmp_path / "e1", "-d", root), ("status", "-d", root),
                 ("epoch", "prove", "-d", root, "--reserves", tmp_path / "reserves.csv")):
        out = zkclear(capsys, *args, expect=1)
        assert out.startswith(f"error: {root / LEDGER_FILE} holds no ledger") and "restore it from a backup" in out
    assert (root / LEDGER_FILE).read_bytes() == b""
    assert sorted(p.name for p in root.iterdir()) == sorted(["ledger.sqlite", "operator.secret", "proving.toml",
                                                             "zkclear.toml"])


@pytest.mark.parametrize("leftover", ["epochs/1/epoch-1.bundle", "private/1/receipts.index", "operator.secret"])
def test_init_over_an_earlier_deployments_files_is_refused_before_anything_is_written(tmp_path, capsys,
                                                                                       leftover) -> None:
    """Red team: the operator deletes an old deployment's ledger and configuration and runs `init` in the same
    directory. Its epochs/ passed for the new ledger's: after `epoch run`, `status` said epoch 1 was proven and
    attested and showed the old header hash to post; a stale operator.secret stopped `init` halfway (the
    configuration written, no ledger). Refused up front, nothing written."""
    (tmp_path / "zkclear.toml").write_text(CONFIG, encoding="utf-8")
    root = tmp_path / "venue"
    (root / leftover).parent.mkdir(parents=True, exist_ok=True)
    (root / leftover).write_text("from an earlier deployment\n")
    out = zkclear(capsys, "init", root, "--config", tmp_path / "zkclear.toml", "--height", 8, expect=1)
    assert "of an earlier deployment" in out and leftover.split("/")[0] in out and out.count("\n") == 1
    assert sorted(p.name for p in root.iterdir()) == [leftover.split("/")[0]]


def test_a_transfers_only_folder_run_twice_credits_once_and_says_so(tmp_path, capsys) -> None:
    """Issue 12: the second run credited the same deposit again."""
    root = _deployment(tmp_path, capsys)
    zkclear(capsys, "epoch", "run", _first_epoch(tmp_path / "e1"), "-d", root)
    topup = write_files(tmp_path / "e2", {"transfers.csv": csv("transfer_id,kind,account,amount",
                                                               "t-9,deposit,A,500"),
                                          "fills.csv": csv(FILLS), "prices.csv": csv(PRICES, f"{PERP},1000,0")})
    assert "epoch 2 committed" in zkclear(capsys, "epoch", "run", topup, "-d", root)
    again = zkclear(capsys, "epoch", "run", topup, "-d", root)
    assert "these input files were already committed as epoch 2" in again and "nothing to do" in again
    named = zkclear(capsys, "epoch", "run", topup, "-d", root, "--epoch", 3, expect=1)
    assert "field 'transfer_id': transfer id 't-9' was already committed in epoch 2" in named
    with Deployment(root).ledger() as ledger:
        assert ledger.head()[0] == 2
        assert ledger.state().cash_of("A") == 1_000_000 + 500


def test_spreadsheet_exports_with_a_byte_order_mark_and_trailing_blank_lines_are_read(tmp_path, capsys) -> None:
    bom = "\ufeff"
    root = _deployment(tmp_path, capsys, bom + CONFIG + "\n\n")
    folder = _first_epoch(tmp_path / "e1")
    for name in ("accounts.csv", "transfers.csv", "fills.csv", "prices.csv"):
        path = folder / name
        path.write_text(bom + path.read_text(encoding="utf-8").replace("\n", "\r\n") + "\r\n\r\n",
                        encoding="utf-8")
    assert "epoch 1 committed: 5 accounts, 1 fills" in zkclear(capsys, "epoch", "run", folder, "-d", root)
    (root / "proving.toml").write_text(bom + (root / "proving.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert "ledger head: epoch 1" in zkclear(capsys, "status", "-d", root)
    middle = write_files(tmp_path / "e2", {"fills.csv": csv(FILLS, f"f2,A,B,{PERP},1,1000,0,0", "",
                                                            f"f3,A,B,{PERP},1,1000,0,0"),
                                           "prices.csv": csv(PRICES, f"{PERP},1000,0")})
    out = zkclear(capsys, "epoch", "run", middle, "-d", root, expect=1)
    assert f"error: {middle / 'fills.csv'}:3: blank line before this record" in out


def test_a_missing_vols_file_is_named(tmp_path, capsys) -> None:
    root = _deployment(tmp_path, capsys, OPTIONS_CONFIG)
    files = epoch_files(30_000, {}, accounts=("A,standard",))
    folder = write_files(tmp_path / "e1", files)
    out = zkclear(capsys, "epoch", "run", folder, "-d", root, expect=1)
    assert out.strip() == (f"error: {folder / 'vols.csv'}: missing file: vols.csv is required while options are "
                           f"live (no implied volatility for {PUT!r})")


def test_a_missing_funding_file_is_named(tmp_path, capsys) -> None:
    root = _deployment(tmp_path, capsys, ORACLE_CONFIG)
    files = oracle_files(1)
    del files["funding.csv"]
    folder = write_files(tmp_path / "e1", files)
    out = zkclear(capsys, "epoch", "run", folder, "-d", root, expect=1)
    assert out.strip() == (f"error: {folder / 'funding.csv'}: missing file: funding.csv is required with oracle.csv "
                           f"(the funding rate of {PERP!r})")


def test_an_oracle_folder_fed_out_of_order_is_caught(tmp_path, capsys) -> None:
    """Epoch 3's quotes fed as epoch 2: not one is timestamped near epoch 2's close."""
    root = _deployment(tmp_path, capsys, ORACLE_CONFIG)
    zkclear(capsys, "epoch", "run", write_files(tmp_path / "e1", oracle_files(1)), "-d", root)
    third = write_files(tmp_path / "e3", oracle_files(3))
    out = zkclear(capsys, "epoch", "run", third, "-d", root, expect=1)
    assert f"error: {third / 'oracle.csv'}:2: field 'timestamp': no quote is timestamped at epoch 2's close" in out
    assert "around epoch 3's close: is this folder epoch 3's?" in out
    first_again = write_files(tmp_path / "e1-again", oracle_files(1, funding=7, opens=False))
    out = zkclear(capsys, "epoch", "run", first_again, "-d", root, expect=1)
    assert "before it, around epoch 1's close" in out
    assert "epoch 2 committed" in zkclear(capsys, "epoch", "run", write_files(tmp_path / "e2", oracle_files(2)),
                                          "-d", root)


def test_a_folder_of_an_earlier_epoch_trading_an_expired_future_says_so(tmp_path, capsys) -> None:
    dated = CONFIG + ('\n[[instrument]]\nid = "BTC-DEC"\nkind = "dated_future"\nexpiry_epoch = 1\ntick_size = 1\n'
                      "lot_size = 1\ncontract_multiplier = 10\ninitial_margin_ppm = 100000\n"
                      "maintenance_margin_ppm = 50000\n")
    root = _deployment(tmp_path, capsys, dated)
    first = _first_epoch(tmp_path / "e1")
    (first / "prices.csv").write_text(csv(PRICES, f"{PERP},1000,0", "BTC-DEC,1000,"), encoding="utf-8")
    zkclear(capsys, "epoch", "run", first, "-d", root)
    old = write_files(tmp_path / "e1-copy", {"fills.csv": csv(FILLS, "f9,A,B,BTC-DEC,1,1000,0,0"),
                                             "prices.csv": csv(PRICES, f"{PERP},1000,0", "BTC-DEC,1000,")})
    out = zkclear(capsys, "epoch", "run", old, "-d", root, expect=1)
    assert (f"error: {old / 'fills.csv'}:2: field 'instrument': instrument 'BTC-DEC' has expired (in epoch 1; "
            "this is epoch 2: a folder of an earlier epoch?)") in out


KEYS = (key_from_secret("ethereum", bytes.fromhex("a1" * 32)), key_from_secret("solana", bytes.fromhex("b2" * 32)))


def _two_epochs(tmp_path: Path, capsys) -> Path:
    """A deployment (perpetuals) with epochs 1 and 2 committed."""
    root = tmp_path / "venue"
    Deployment.init(root, CONFIG, ProvingSettings(tree=TreeConfig(height=8, chunk_bits=2), executor="serial",
                                                  venue="Status Test Venue", tokens=USD_AS_USDC))
    zkclear(capsys, "epoch", "run", _first_epoch(tmp_path / "e1"), "-d", root)
    zkclear(capsys, "epoch", "run", write_files(tmp_path / "e2", {
        "fills.csv": csv(FILLS), "prices.csv": csv(PRICES, f"{PERP},1010,0")}), "-d", root)
    return root


def test_status_shows_the_head_the_committed_proven_and_attested_epochs_and_the_funds(tmp_path, capsys) -> None:
    root = _two_epochs(tmp_path, capsys)
    deployment = Deployment(root)
    settlement = venue_assets(CONFIG)[0].asset_id
    reserves = [ReserveEntry(k.chain, settlement, k.address.text, 10**7, *DEMO_BLOCKS[k.chain]) for k in KEYS]
    deployment.prove(1, reserves, reserve_keys=[KEYS[0]])
    out = zkclear(capsys, "status", "-d", root)
    assert "ledger head: epoch 2 (" in out and ", 5 accounts" in out
    assert "committed: 1-2" in out and "proven:    1\n" in out and "attested:  none" in out
    assert "epoch 1: 1 of 2 reserve entries signed" in out
    with deployment.ledger() as ledger:
        fund = ledger.state().cash_of("CH:insurance")
    assert f" CH:insurance: {fund}\n" in out and "CH:backstop: 0" in out
    with deployment.ledger() as ledger:  # perpetuals only: a liability is a positive cash balance
        owed = sum(max(int(cash), 0) for cash in ledger.state().cash.tolist())
    assert f"liabilities of epoch 2 (smallest units; reserves must cover each): {settlement} {owed}\n" in out
    deployment.attest(1, KEYS[1])
    data = zkclear(capsys, "status", "-d", root, "--json")
    assert '"attested": true' in data and '"head_epoch": 2' in data
    assert json.loads(data)["liabilities"] == {settlement: owed}
    (deployment.epoch_dir(1) / "epoch-1.bundle").write_bytes(b"not a bundle")
    out = zkclear(capsys, "status", "-d", root)
    assert "epoch 1: bundle does not decode" in out and "Traceback" not in out


def test_status_never_holds_the_head_state(tmp_path, capsys, monkeypatch) -> None:
    """`status` read the whole head state into memory (every account decoded; gigabytes at 10^7 accounts): it now
    reads the count, the clearing house's accounts and the liabilities from the stored state a block at a time,
    and reports what the whole state gives."""
    from zkclear.clearing.ledger import Ledger

    root = _two_epochs(tmp_path, capsys)
    with Deployment(root).ledger() as ledger:
        state = ledger.state()
    expected = zkclear(capsys, "status", "-d", root, "--json")

    def refuse(*_args, **_kwargs):
        raise AssertionError("status decoded the whole state")

    monkeypatch.setattr(Ledger, "state", refuse)
    report = json.loads(zkclear(capsys, "status", "-d", root, "--json"))
    assert report == json.loads(expected)
    assert report["accounts"] == len(state.accounts)
    for account in ("CH:insurance", "CH:fees", "CH:backstop"):
        positions = {i: q for i, q in zip(state.instruments, state.positions[state.row(account)].tolist(),
                                          strict=True) if q}
        assert report["funds"][account] == {"cash": state.cash_of(account), "positions": positions}
    settlement = venue_assets(CONFIG)[0].asset_id  # perpetuals only: a liability is a positive cash balance
    assert report["liabilities"] == {settlement: sum(max(int(cash), 0) for cash in state.cash.tolist())}
    with Deployment(root).ledger() as ledger:
        zero = (0, (0,) * len(state.instruments))
        assert ledger.named_accounts(0, ["CH:insurance", "nobody"]) == {"CH:insurance": zero}


def reserves_entries(path: Path):
    from zkclear.chains import load_reserves

    return load_reserves(path)


def test_proving_a_proven_epoch_again_keeps_its_attestations_and_refuses_other_reserves(tmp_path, capsys) -> None:
    from zkclear.synthetic import reserves_csv

    root = tmp_path / "venue"
    Deployment.init(root, CONFIG, ProvingSettings(tree=TreeConfig(height=8, chunk_bits=2), executor="serial",
                                                  venue="Status Test Venue", tokens=USD_AS_USDC))
    zkclear(capsys, "epoch", "run", _first_epoch(tmp_path / "e1"), "-d", root)
    settlement = venue_assets(CONFIG)[0].asset_id
    holders = [(k.chain, settlement, k.address.text) for k in KEYS]
    reserves = tmp_path / "reserves.csv"
    reserves.write_text(reserves_csv(holders, {settlement: 2 * 10**7}))
    deployment = Deployment(root)
    deployment.prove(1, reserves_entries(reserves), reserve_keys=[KEYS[0]])
    deployment.attest(1, KEYS[1])  # the second custodian signed later
    attested = deployment.bundle_path(1).read_bytes()
    out = zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", reserves, "--executor", "serial")
    assert "reserves: 2 of 2 entries signed" in out  # a re-run (after a crash, by mistake) loses no signature
    assert deployment.bundle_path(1).read_bytes() == attested
    other = tmp_path / "other.csv"
    other.write_text(reserves_csv(holders, {settlement: 3 * 10**7}))
    out = zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", other, "--executor", "serial", expect=1)
    assert out.splitlines()[-1].startswith("error: epoch 1 is already proven (header hash ")
    assert "with other reserves" in out and "Traceback" not in out
    assert deployment.bundle_path(1).read_bytes() == attested


@pytest.fixture(scope="module")
def proven_once(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny deployment with epoch 1 proven and attested by both custodians (copy it before changing it)."""
    from zkclear.synthetic import reserves_csv

    tmp_path = tmp_path_factory.mktemp("proven-once")
    root = tmp_path / "venue"
    Deployment.init(root, CONFIG, ProvingSettings(tree=TreeConfig(height=5, chunk_bits=2), executor="serial",
                                                  venue="Status Test Venue", tokens=USD_AS_USDC, position_bits=8))
    Deployment(root).run_epoch(_first_epoch(tmp_path / "e1"))
    settlement = venue_assets(CONFIG)[0].asset_id
    reserves = tmp_path / "reserves.csv"
    reserves.write_text(reserves_csv([(k.chain, settlement, k.address.text) for k in KEYS], {settlement: 2 * 10**7}))
    Deployment(root).prove(1, reserves_entries(reserves), reserve_keys=KEYS)
    return root, reserves


def _published(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted((root / "epochs").rglob("*")) if path.is_file()}


def test_proving_a_proven_epoch_again_after_its_settings_changed_is_refused(proven_once, tmp_path, capsys) -> None:
    """Attack: re-run `epoch prove` on a proven epoch after editing proving.toml (another tree): it used to
    publish the epoch again under a new header hash (dropping the custodians' signatures, breaking the posted
    hash and the next epoch's link); it is refused before any proving, naming what changed."""
    from zkclear.operator import PROVING_FILE

    root = tmp_path / "venue"
    shutil.copytree(proven_once[0], root)
    published = _published(root)
    settings = root / PROVING_FILE
    settings.write_text(settings.read_text().replace("height = 5", "height = 6", 1))
    out = zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", proven_once[1], expect=1)
    assert out.splitlines()[-1].startswith("error: epoch 1 is already proven (header hash ")
    assert "another header (tree changed since" in out and "Traceback" not in out
    assert _published(root) == published


def test_proving_a_proven_epoch_again_with_another_operator_secret_is_refused(proven_once, tmp_path, capsys) -> None:
    """Attack: the operator secret replaced (a restore from the wrong backup) gives the same header but another
    tree: the re-run is refused before it writes anything (it used to publish another root)."""
    from zkclear.operator import SECRET_FILE

    root = tmp_path / "venue"
    shutil.copytree(proven_once[0], root)
    published = _published(root)
    (root / SECRET_FILE).write_text("ab" * 32)
    out = zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", proven_once[1], expect=1)
    assert out.splitlines()[-1].startswith("error: epoch 1 is already proven (header hash ")
    assert "another root" in out and "Traceback" not in out
    assert _published(root) == published
    assert not (root / "private" / "1" / "work").exists()


def test_a_second_prove_while_one_runs_is_refused_in_one_line(proven_once, tmp_path, capsys) -> None:
    """Two `epoch prove` runs of one deployment raced for its work folder (the second failed mid-way with 'the work
    store lost ...'); now the second is refused at once, and a prove runs again as soon as the first has ended."""
    from zkclear.locks import prove_lock
    from zkclear.operator import LEDGER_FILE

    root = tmp_path / "venue"
    shutil.copytree(proven_once[0], root)
    published = _published(root)
    with prove_lock(root / LEDGER_FILE):  # what a running prove holds
        out = zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", proven_once[1], expect=1)
    assert out.splitlines()[-1].startswith("error: ") and "another `epoch prove` is running" in out
    assert out.count("error") == 1 and "Traceback" not in out and _published(root) == published
    assert not (root / "private" / "scratch").exists() or not any((root / "private" / "scratch").iterdir())
    zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", proven_once[1])
    assert _published(root) == published


def test_a_damaged_bundle_is_named_by_prove_and_attest(proven_once, tmp_path, capsys) -> None:
    """Damaged disk: a proven epoch's bundle cut short. `epoch prove` (re-run) and `epoch attest` said only
    "length mismatch: ..." without naming the file; the one line now names it (exit 1, nothing written)."""
    root = tmp_path / "venue"
    shutil.copytree(proven_once[0], root)
    bundle = Deployment(root).bundle_path(1)
    damaged = bundle.read_bytes()[:1000]
    bundle.write_bytes(damaged)
    for args in (("epoch", "prove", "-d", root, "--reserves", proven_once[1]),
                 ("epoch", "attest", "-d", root, "--epoch", 1, "--address", KEYS[0].address.text, "--signature", "x")):
        out = zkclear(capsys, *args, expect=1)
        assert out.splitlines()[-1].startswith(f"error: {bundle}: length mismatch"), out
        assert "Traceback" not in out
    assert bundle.read_bytes() == damaged


def test_custodians_attesting_at_the_same_time_each_keep_their_signature(proven_once, tmp_path, monkeypatch) -> None:
    """Attack (race): two custodians run `epoch attest` at once. Each read the bundle, added its signature and
    wrote it back, so the later write dropped the earlier signature while both commands reported success; the
    read-modify-write now holds the deployment's lock, and both signatures land."""
    import threading
    import time

    import zkclear.operator as operator_module
    from zkclear.bundle.format import encode_public_bundle, write_file

    root = tmp_path / "venue"
    shutil.copytree(proven_once[0], root)
    deployment = Deployment(root)
    unsigned = deployment._published_bundle(1).with_attestations(())
    write_file(deployment.bundle_path(1), encode_public_bundle(unsigned))

    def slow_write(path, data) -> None:  # widen the window between the read and the write
        time.sleep(0.4)
        write_file(path, data)

    monkeypatch.setattr(operator_module, "write_file", slow_write)
    errors: list[BaseException] = []

    def attest(key) -> None:
        try:
            Deployment(root).attest(1, key)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=attest, args=(key,)) for key in KEYS]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    signed = {attestation.address for attestation in deployment._published_bundle(1).attestations}
    assert signed == {key.address.text for key in KEYS}


def test_an_unreachable_dask_scheduler_is_one_line(tmp_path, capsys) -> None:
    root = tmp_path / "venue"
    Deployment.init(root, CONFIG, ProvingSettings(tree=TreeConfig(height=8, chunk_bits=2), venue="Status Test Venue",
                                                  tokens=USD_AS_USDC))
    zkclear(capsys, "epoch", "run", _first_epoch(tmp_path / "e1"), "-d", root)
    reserves = tmp_path / "reserves.csv"
    reserves.write_text("chain,asset,address,balance,block_height,block_hash\n"
                        + ",".join((KEYS[0].chain, venue_assets(CONFIG)[0].asset_id, KEYS[0].address.text, "10000000",
                                    *map(str, DEMO_BLOCKS[KEYS[0].chain]))) + "\n")
    out = zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", reserves, "--scheduler", "notanaddress",
                  expect=1)
    # since session 15 an address that is not HOST:PORT is refused before anything is read (tests/scale/
    # test_dask_redteam_s15.py covers refused connections and ports that are not a scheduler's)
    assert out.startswith("error: --scheduler: the Dask scheduler address 'notanaddress' is not HOST:PORT")
    assert out.count("\n") == 1


def test_status_writes_nothing_in_the_deployment(tmp_path, capsys) -> None:
    """`zkclear status` copied the accounts into private/scratch/ (a folder made and removed) to sum the
    liabilities; it now sums the state it has already read: nothing under private/ is opened, no file of the
    deployment is made or changed, and the sums are the scratch copy's. What remains is SQLite's: a reader of a
    ledger in WAL mode opens ledger.sqlite-wal and -shm beside it (removed when it closes; the folder's own time
    changes with them)."""
    from tests.spill_watch import opened_paths

    root = _two_epochs(tmp_path, capsys)

    def tree() -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}

    before = tree()
    data, opened = opened_paths(lambda: zkclear(capsys, "status", "-d", root, "--json"))
    assert tree() == before
    assert not [p for p in opened if p.startswith(f"{root}/private")]
    assert not [p for p in opened if p.startswith(("/tmp/", "/var/tmp/")) and not p.startswith(str(tmp_path))]
    with Deployment(root).ledger() as ledger:  # the sums of the whole state
        assert json.loads(data)["liabilities"] == Deployment(root).liabilities(2, ledger.state(2))


def test_status_still_reports_when_the_liabilities_cannot_be_computed(tmp_path, capsys, monkeypatch) -> None:
    from zkclear.errors import ProvingError
    from zkclear.status import deployment_status

    root = tmp_path / "venue"
    Deployment.init(root, CONFIG, ProvingSettings(tree=TreeConfig(height=8, chunk_bits=2), executor="serial",
                                                  venue="Status Test Venue", tokens=USD_AS_USDC))
    zkclear(capsys, "epoch", "run", _first_epoch(tmp_path / "e1"), "-d", root)

    def refuse(self, epoch, state=None):
        raise ProvingError(f"epoch {epoch}'s public data cannot be recomputed")

    monkeypatch.setattr(Deployment, "liabilities", refuse)
    report = deployment_status(Deployment(root))
    lines = "\n".join(report.lines())
    assert "ledger head: epoch 1 (" in lines and "committed: 1" in lines
    assert "liabilities of epoch 1: not computed (epoch 1's public data cannot be recomputed)" in lines
    assert report.to_json()["liabilities"] == {} and report.to_json()["liabilities_problem"]


def test_status_before_any_epoch(tmp_path, capsys) -> None:
    out = zkclear(capsys, "status", "-d", _deployment(tmp_path, capsys))
    assert "ledger head: epoch 0" in out and "no epoch committed yet" in out and "committed: none" in out



def test_a_feed_that_stalled_before_the_close_is_left_to_the_guard(tmp_path, capsys) -> None:
    """Quotes five minutes old at epoch 2's close are stale, not another epoch's: the guard falls back to the
    last good price and pauses liquidations, as documented, instead of a refusal."""
    root = _deployment(tmp_path, capsys, ORACLE_CONFIG)
    zkclear(capsys, "epoch", "run", write_files(tmp_path / "e1", oracle_files(1)), "-d", root)
    stalled = oracle_epoch(2, [("a", 30_000, 300), ("b", 30_000, 310)])
    out = zkclear(capsys, "epoch", "run", write_files(tmp_path / "e2", stalled), "-d", root)
    assert "epoch 2 committed" in out and "liquidations paused on ['BTC-PERP']" in out


def _pid(_item: int) -> int:
    import os

    return os.getpid()


def test_worker_processes_forked_under_a_prove_do_not_keep_its_lock(tmp_path) -> None:
    """`zkclear demo` stopped at its second epoch ("another `epoch prove` is running on this deployment"): the
    process pool, created during the first prove and kept for the next, forks its workers while the prove lock is
    held, and a forked child shares the lock's open file, so the lock outlived the prove. A child now closes the
    lock descriptors it inherits: the lock ends with the block that took it, however many workers were forked."""
    from zkclear.executor import ProcessExecutor
    from zkclear.locks import deployment_lock, prove_lock

    ledger = tmp_path / LEDGER_FILE
    ledger.write_bytes(b"")
    run = ProcessExecutor(workers=2)
    try:
        with prove_lock(ledger), deployment_lock(tmp_path):
            workers = set(run.map(_pid, range(8)))  # the pool forks its workers here and keeps them
        assert workers  # still alive: the pool is kept for the next call
        with prove_lock(ledger):  # refused before: the workers held the first lock
            pass
        with deployment_lock(tmp_path):  # waited forever before
            pass
        pool = run._pool
        # the same pool, still serving (it may start its second worker only now: processes start on demand)
        assert set(run.map(_pid, range(8))) <= set(pool._processes) and run._pool is pool
        assert workers <= set(pool._processes)  # the workers of the first call are still its workers
    finally:
        run.close()


def test_a_ledger_from_another_history_is_not_proven_as_the_continuation(proven_once, tmp_path, capsys) -> None:
    """Attack / accident: `ledger.sqlite` replaced by one with another history (a restored backup of another
    deployment with the same configuration) after epoch 1 was proven. Proving epoch 2 from it used to publish
    epoch 2 as the continuation of the published epoch 1 — the receipts of the two epochs disagreeing with no
    explanation. The prove now compares the ledger's epoch hashes with the ones recorded when epochs were proven."""
    root = tmp_path / "venue"
    shutil.copytree(proven_once[0], root)
    second = write_files(tmp_path / "e2", {"fills.csv": csv(FILLS), "prices.csv": csv(PRICES, f"{PERP},1010,0")})
    zkclear(capsys, "epoch", "run", second, "-d", root)
    other = tmp_path / "other"  # the same configuration and settings, another first epoch
    Deployment.init(other, CONFIG, ProvingSettings(tree=TreeConfig(height=5, chunk_bits=2), executor="serial",
                                                   venue="Status Test Venue", tokens=USD_AS_USDC, position_bits=8))
    another_first = _first_epoch(tmp_path / "e1-other")
    (another_first / "fills.csv").write_text(csv(FILLS, f"f1,A,B,{PERP},3,1000,0,0"))  # another trade
    zkclear(capsys, "epoch", "run", another_first, "-d", other)
    zkclear(capsys, "epoch", "run", second, "-d", other)
    published = _published(root)
    good_ledger = (root / LEDGER_FILE).read_bytes()
    shutil.copy(other / LEDGER_FILE, root / LEDGER_FILE)
    for epoch in (2, 1):  # the next epoch, and proving the proven one again
        out = zkclear(capsys, "epoch", "prove", "-d", root, "--epoch", epoch, "--reserves", proven_once[1], expect=1)
        assert out.splitlines()[-1].startswith("error: ") and out.count("error") == 1 and "Traceback" not in out
        assert "its history up to epoch 1 is not the one epoch 1 was proven from" in out
        assert _published(root) == published and not (root / "private" / "2" / "work").exists()
    (root / LEDGER_FILE).write_bytes(good_ledger)  # the right ledger back: epoch 2 proves and records its hash
    zkclear(capsys, "epoch", "prove", "-d", root, "--reserves", proven_once[1])
    recorded = (root / "private" / "2" / "ledger-epoch-hash").read_text()
    assert recorded == Deployment(root).ledger_epoch_hash(2).hex() + "\n"


def _listing_of(count_extra: int) -> str:
    """The demo market's configuration (5 instruments) with ``count_extra`` more BTC perpetuals."""
    from zkclear.synthetic import MarketSpec, config_toml

    return config_toml(MarketSpec()) + "".join(
        f'\n[[instrument]]\nid = "BTC-PERP-{i}"\nkind = "perpetual"\ntick_size = 1\nlot_size = 1\n'
        'contract_multiplier = 1000\ninitial_margin_ppm = 100000\nmaintenance_margin_ppm = 50000\n'
        'margin_model = "linear"\nunderlying = "BTC"\n' for i in range(count_extra))


def test_init_chooses_chunks_of_4_for_a_long_listing_unless_told(tmp_path, capsys):
    """A participant's receipt check decodes its whole chunk, which grows with the listing: more than 16 instruments
    get chunks of 4 by default (docs/performance.md, "One position vector per node"); --chunk-bits still decides."""
    for extra, expected in ((11, 16), (12, 4)):  # 16 and 17 instruments
        config = tmp_path / f"listing-{extra}.toml"
        config.write_text(_listing_of(extra), encoding="utf-8")
        out = zkclear(capsys, "init", tmp_path / f"venue-{extra}", "--config", config, "--height", 10)
        assert f"{5 + extra} instruments" in out and f"chunks of {expected}" in out
        assert Deployment(tmp_path / f"venue-{extra}").proving.tree.chunk_size == expected
    config = tmp_path / "listing-12.toml"
    out = zkclear(capsys, "init", tmp_path / "told", "--config", config, "--height", 10, "--chunk-bits", 3)
    assert "chunks of 8" in out and Deployment(tmp_path / "told").proving.tree.chunk_size == 8
