"""Red team, session 13: what a participant relies on — ``zkclear verify`` and the verification page (its bridge on
CPython, and the page itself in Chromium where the JavaScript side decides what is shown).

Found and fixed here:

- the public risk data's validation and digest are cached by value, and Python counts ``False == 0``: a risk data
  file with ``false`` for a ``0`` was refused on its own but accepted, as the file the header binds, once the
  honest file had been read in the same process — which the page's worker is, for every check of a session
  (a file the CLI refused, the page accepted);
- the page showed the participant neither their collateral balances nor their liabilities per asset (the CLI
  prints both): the threat model's "else only the owner reading the values shown" did not hold in the browser;
  and its caption presented the public inputs' marks for comparison without saying they are not the ones checked;
- the page's crowd audit decoded the whole audit file, where ``zkclear verify --crowd-audit`` reads only the chunks
  it draws: a malformed point in a chunk nobody drew failed the page and not the CLI;
- the page read a receipt of any size whole before calling it no receipt (the CLI refuses it by its size);
- the page showed a balance, equity or requirement above 2^53 rounded to the nearest JavaScript number.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear_status
from zkclear.errors import EncodingError
from zkclear.verifier.participant import whole_units
from zkclear.verifier.published import decode_risk_data
from zkclear.web.bridge import EpochRequest, verify

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "trader-0002"


def _with_false_for_zero(web_deployment, tmp_path: Path) -> Path:
    """A copy of epoch 2's folder whose risk data spells BTC-PERP's value per lot (0) ``false``."""
    folder = tmp_path / "2"
    shutil.copytree(web_deployment.folder(2), folder)
    path = folder / "epoch-2.public.json"
    text = path.read_text(encoding="ascii")
    assert '["BTC-PERP",0,' in text
    path.write_text(text.replace('["BTC-PERP",0,', '["BTC-PERP",false,', 1), encoding="ascii")
    return folder


def test_a_risk_data_file_with_false_for_zero_is_refused_even_after_the_honest_file_was_read(web_deployment,
                                                                                               tmp_path):
    """Before: the second check passed (``ok``), its risk data taken for the one the header binds."""
    receipt = web_deployment.receipt_path(2, ACCOUNT)
    honest = verify(ACCOUNT, [EpochRequest(web_deployment.folder(2), receipt)])
    assert honest["ok"] is True
    folder = _with_false_for_zero(web_deployment, tmp_path)
    result = verify(ACCOUNT, [EpochRequest(folder, receipt)])  # the same process: the page's worker
    assert result["ok"] is False and result["epochs"] == []
    assert result["error"] == f"{folder / 'epoch-2.public.json'}: not a public risk data file (true or false where a " \
                              "number is expected)"
    with pytest.raises(EncodingError, match="true or false where a number is expected"):
        decode_risk_data((folder / "epoch-2.public.json").read_bytes())
    # zkclear verify says the same (one line, exit 1), as it did in a fresh process before the fix
    code, output = zkclear_status("verify", folder, "--receipt", receipt, "--account", ACCOUNT)
    assert code == 1 and "true or false where a number is expected" in output, output


def test_the_honest_risk_data_still_decodes(web_deployment):
    for epoch in (1, 2):
        path = web_deployment.folder(epoch) / f"epoch-{epoch}.public.json"
        assert decode_risk_data(path.read_bytes()).label == f"epoch-{epoch}"


# -- the page in Chromium: what it shows of a collateral account --------------------------------------------------

COLLATERAL_HOLDER = "trader-0000"  # posts BTC in this market (seed 12)


@pytest.fixture(scope="module")
def collateral_deployment(tmp_path_factory):
    """One epoch of the demo's collateral market (USDC-settled, BTC and ETH collateral), proven and attested by the
    demo's custodians (the API ``zkclear init``, ``epoch run`` and ``epoch prove`` call)."""
    from zkclear.chains import parse_reserves_csv
    from zkclear.demo import custodians, demo_reserves_csv
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import MarketSpec, generate_market
    from zkclear.tree.placement import TreeConfig

    root = tmp_path_factory.mktemp("collateral")
    config, epoch_inputs = generate_market(root / "market", MarketSpec(accounts=8, epochs=1, fills_per_epoch=40,
                                                                       seed=12, collateral=True))
    settings = ProvingSettings(tree=TreeConfig(height=10, chunk_bits=4), executor="serial", venue="Collateral Venue")
    Deployment.init(root / "venue", config.read_text(encoding="utf-8"), settings)
    deployment = Deployment(root / "venue")
    keys, holders = custodians()
    deployment.run_epoch(epoch_inputs[0], 1)
    deployment.prove(1, parse_reserves_csv(demo_reserves_csv(deployment, 1, holders)), reserve_keys=keys)
    return deployment


@contextlib.contextmanager
def _page_over(chromium, epochs: Path, tmp_path_factory):
    """The page of ``zkclear serve EPOCHS`` in a fresh context of ``chromium`` (every request recorded)."""
    from tests.web.test_browser import RecordedPage

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "zkclear.cli", "serve", str(epochs), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    try:
        found = None
        while found is None:
            found = re.search(r"at (http://127\.0\.0\.1:\d+)/", lines.get(timeout=300))
        page = RecordedPage(chromium, found.group(1), tmp_path_factory.mktemp("user"))
        try:
            yield page
        finally:
            page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def collateral_page(chromium, collateral_deployment, tmp_path_factory):
    with _page_over(chromium, collateral_deployment.root / "epochs", tmp_path_factory) as page:
        yield page


def _account_rows(page, epoch: int) -> dict[str, str]:
    """The page's account table of ``epoch``: label -> value."""
    text = page.inner_text(f'article.result[data-epoch="{epoch}"] table.account')
    return {cells[0]: cells[1] for cells in (row.split("\t") for row in text.splitlines())}


def test_the_page_shows_the_collateral_balances_and_liabilities_zkclear_verify_prints(collateral_page,
                                                                                       collateral_deployment):
    """Before: the page's account table had the settlement balance, positions and equity, but no BTC or ETH
    balance and no liability per asset, so a balance committed below the one owed went unseen in the browser."""
    receipt = collateral_deployment.receipt_path(1, COLLATERAL_HOLDER)
    expected = verify(COLLATERAL_HOLDER, [EpochRequest(collateral_deployment.root / "epochs" / "1", receipt)])
    assert expected["ok"] is True
    account = expected["epochs"][0]["account"]
    btc = account["collateral"]["BTC"]
    assert btc["balance"] > 0 and btc["haircut_value"] > 0  # the account holds BTC
    collateral_page.check(COLLATERAL_HOLDER, [receipt])
    page = collateral_page.page
    assert page.get_attribute("body", "data-ok") == "true", page.inner_text("body")
    rows = _account_rows(page, 1)
    decimals = account["decimals"]  # whole units too since red team session 15
    assert rows["BTC balance"] == (f"{btc['balance']} (smallest units: {whole_units(btc['balance'], decimals['BTC'])} "
                                   f"BTC; haircut value {btc['haircut_value']}, what it counts for in equity)")
    assert rows["ETH balance"].startswith(f"{account['collateral']['ETH']['balance']} (smallest units")
    owed = ", ".join(f"{asset} {amount} = {whole_units(amount, decimals[asset])}"
                     for asset, amount in account["liabilities"].items())
    assert rows["Liabilities"] == f"{owed} (what the venue counts as owed to you, per asset)"
    assert rows["Decimals"].startswith(", ".join(f"{asset} {places}" for asset, places in decimals.items()))
    assert rows["Equity"] == str(account["equity"])
    # the marks shown come from the public inputs, which the page does not check against the proofs' risk data
    caption = page.inner_text('article.result[data-epoch="1"] p.note:has-text("marks")')
    assert "not checked here against the risk data the proofs use" in caption
    collateral_page.assert_nothing_left_the_origin()


def test_the_pages_crowd_audit_reads_the_audit_file_in_pieces_in_pyodide(collateral_page, collateral_deployment):
    """The crowd audit's reader (a file held open, read with os.pread) works on the page's in-memory file system."""
    page = collateral_page.page
    page.fill("#crowd-audit", "1")
    try:
        collateral_page.check(COLLATERAL_HOLDER, [collateral_deployment.receipt_path(1, COLLATERAL_HOLDER)])
    finally:
        page.fill("#crowd-audit", "0")
    assert page.inner_text("#error") == ""
    assert page.get_attribute("#crowd-result", "class") == "pass", page.inner_text("#crowd-result")
    assert page.inner_text("#crowd-result").startswith("✓ chunks [0] of epoch 1, picked at random here")
    assert page.get_attribute("body", "data-ok") == "true"


# -- the page's crowd audit: the chunks it draws, as zkclear verify reads them ------------------------------------


@pytest.fixture(scope="module")
def two_chunks(tmp_path_factory):
    """One epoch of 20 traders (two chunks of 16), proven and attested as tests/web/deployment.py does."""
    return _proven_usdc_venue(tmp_path_factory.mktemp("two-chunks"), accounts=20, venue="Two Chunks")


def _proven_usdc_venue(root: Path, *, accounts: int, venue: str, extra_transfer: str = ""):
    """A deployment of one epoch of a synthetic market of ``accounts`` traders (``extra_transfer``: a line appended to
    its transfers.csv), proven with USDC reserves that cover it, attested by tests/web/deployment.py's keys."""
    from tests.web.deployment import KEYS
    from zkclear.chains import parse_reserves_csv
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import MarketSpec, generate_market, reserves_csv
    from zkclear.tree.placement import TreeConfig

    config, epoch_inputs = generate_market(root / "market", MarketSpec(accounts=accounts, epochs=1,
                                                                       fills_per_epoch=40, seed=12))
    if extra_transfer:
        with (Path(epoch_inputs[0]) / "transfers.csv").open("a", encoding="utf-8") as handle:
            handle.write(extra_transfer + "\n")
    settings = ProvingSettings(tree=TreeConfig(height=10, chunk_bits=4), executor="serial", venue=venue)
    Deployment.init(root / "venue", config.read_text(encoding="utf-8"), settings)
    deployment = Deployment(root / "venue")
    deployment.run_epoch(epoch_inputs[0], 1)
    with deployment.ledger() as ledger:
        owed = int(ledger.state(1).cash.sum())
    holders = [(key.chain, "USDC", key.address.text) for key in KEYS]
    deployment.prove(1, parse_reserves_csv(reserves_csv(holders, {"USDC": owed + 1})), reserve_keys=KEYS)
    return deployment


class _FirstChunks:
    """A chunk chooser that draws the first ones (the crowd audit's OS randomness, made predictable)."""

    def sample(self, population, k):
        return list(population)[:k]


def _bad_point_in_the_second_chunk(deployment, tmp_path: Path) -> Path:
    """A copy of epoch 1's folder whose audit file (checksum re-sealed) holds a malformed point in chunk 1's first
    account, and nowhere else."""
    import hashlib

    from zkclear.verifier.published import CHUNK_SYSTEM, open_published

    folder = tmp_path / "1"
    shutil.copytree(deployment.root / "epochs" / "1", folder)
    published = open_published(folder)
    audit_path = published.files.audit
    honest = audit_path.read_bytes()
    chunks = published.audit_data().chunks
    assert len(chunks) == 2
    start = honest.find(CHUNK_SYSTEM.encode_commitments(chunks[1].accounts[0]))
    assert start > 0
    for offset in range(start + 16, start + 64):
        data = bytearray(honest)
        data[offset] ^= 0x01
        body = bytes(data[:-32])
        audit_path.write_bytes(body + hashlib.sha256(body).digest())
        try:
            published.audit_data()
        except EncodingError as exc:
            assert "chunk[1]" in str(exc) or "chunk 1" in str(exc), exc
            return folder
    raise AssertionError("no flip made a malformed point")


def test_the_pages_crowd_audit_reads_only_the_chunks_it_draws_as_zkclear_verify_does(two_chunks, tmp_path,
                                                                                      monkeypatch):
    """Before: the page decoded the whole audit file — every chunk's points, in time and memory that grow with the
    venue, where ``zkclear verify --crowd-audit`` reads the drawn chunks only — so a malformed point in a chunk
    nobody drew failed the page's crowd audit while the CLI passed it (the documented "the full audit's to
    find")."""
    from zkclear.verifier import receipt as receipt_module

    folder = _bad_point_in_the_second_chunk(two_chunks, tmp_path)
    monkeypatch.setattr(receipt_module.secrets, "SystemRandom", _FirstChunks)
    trader = "trader-0003"
    receipt = two_chunks.receipt_path(1, trader)
    code, output = zkclear_status("verify", folder, "--receipt", receipt, "--account", trader, "--crowd-audit", 1)
    assert code == 0 and "crowd audit: chunks [0] of epoch 1 verified too (drawn from its 2 chunks)" in output, output
    result = verify(trader, [EpochRequest(folder, receipt)], crowd_audit_chunks=1)
    assert result["ok"] is True, result["crowd_audit"]
    assert result["crowd_audit"]["chunks"] == [0]
    assert result["crowd_audit"]["detail"].startswith("chunks [0] of epoch 1, picked at random here from its 2 chunks")
    # drawing the bad chunk too, both refuse the file (exit 1 / the crowd audit's line naming it)
    code, output = zkclear_status("verify", folder, "--receipt", receipt, "--account", trader, "--crowd-audit", 2)
    assert code == 1 and "chunk[1]" in output, output
    result = verify(trader, [EpochRequest(folder, receipt)], crowd_audit_chunks=2)
    assert result["ok"] is False and result["crowd_audit"]["ok"] is False
    assert "chunk[1]" in result["crowd_audit"]["detail"] and str(folder) in result["crowd_audit"]["detail"]


def test_the_page_refuses_a_receipt_larger_than_the_cores_limit_before_reading_it(collateral_page,
                                                                                  collateral_deployment, tmp_path):
    """Before: the page read a receipt of any size whole — into the tab, a copy for the worker, Pyodide's file system
    and Python's memory — and only then called it no receipt; ``zkclear verify`` refuses it by its size."""
    from zkclear.verifier.published import MAX_RECEIPT_BYTES

    big = tmp_path / "big.rcpt"
    with big.open("wb") as handle:  # sparse: no disk is used
        handle.truncate(MAX_RECEIPT_BYTES + 1)
    collateral_page.check(COLLATERAL_HOLDER, [big])
    assert collateral_page.page.inner_text("#error") == (
        f"big.rcpt: {MAX_RECEIPT_BYTES + 1} bytes is larger than the {MAX_RECEIPT_BYTES}-byte limit of a receipt")
    code, output = zkclear_status("verify", collateral_deployment.root / "epochs" / "1", "--receipt", big,
                                  "--account", COLLATERAL_HOLDER)
    assert code == 1 and f"bytes is larger than the {MAX_RECEIPT_BYTES}-byte limit" in output, output


# -- the page's figures above 2^53 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_balance(tmp_path_factory):
    """One epoch of the page's test market in which trader-0001 also deposits 10^16 units (10 billion USDC)."""
    return _proven_usdc_venue(tmp_path_factory.mktemp("large-balance"), accounts=8, venue="Large Venue",
                              extra_transfer="t-large,deposit,trader-0001,10000000000000000")


def test_the_page_shows_a_balance_above_2_to_the_53_exactly(chromium, large_balance, tmp_path_factory):
    """Before: the worker parsed the verifier's JSON into JavaScript numbers, so a balance, equity or requirement
    above 2^53 (9 billion USDC in 6-decimal units) was shown rounded — a value the venue never committed."""
    receipt = large_balance.receipt_path(1, "trader-0001")
    expected = verify("trader-0001", [EpochRequest(large_balance.root / "epochs" / "1", receipt)])
    account = expected["epochs"][0]["account"]
    assert account["cash"] > 2**53 and account["cash"] % 2 == 1  # odd: no JavaScript number holds it
    with _page_over(chromium, large_balance.root / "epochs", tmp_path_factory) as recorded:
        recorded.check("trader-0001", [receipt])
        page = recorded.page
        assert page.get_attribute("body", "data-ok") == "true", page.inner_text("#error")
        rows = _account_rows(page, 1)
        assert rows["Balance"] == f"{account['cash']} (smallest units: {whole_units(account['cash'], 6)} USDC)"
        assert rows["Equity"] == str(account["equity"])
        assert rows["Distance to maintenance"] == str(account["distance_to_maintenance"])
