"""The verification page in a real browser: Debian's Chromium, headless, driven by Playwright.

``zkclear serve`` (the real command, in a subprocess) serves a test deployment's publication folders; the page
verifies a participant's receipts of two epochs with their participant file (OK, with their history, whose CSV
must be the one ``zkclear verify --history-csv`` writes without its cash-change columns), a tampered receipt and
another account's (each rejected by the verifier core's named check and reason code: ``values``/
``opening-mismatch``, ``identity``/``receipt-owner``), and every request the page and its worker make is recorded:
none may leave the page's origin. The first test saves the screenshot the README shows (docs/browser-verify.png).

Playwright rather than selenium: it reports the Web Worker's requests (Pyodide, the verifier) beside the page's
and can refuse any request to another origin, with no chromedriver to match to the browser.
"""

from __future__ import annotations

import csv
import io
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from tests.cli.cli_helpers import zkclear_status
from zkclear.verifier.participant import CASH_CHANGE_COLUMNS

CHROMIUM = Path(os.environ.get("ZKCLEAR_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
if not CHROMIUM.exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM}; `apt-get install -y chromium` (as root) enables the "
                "browser tests", allow_module_level=True)
if shutil.which("npm") is None:
    pytest.skip("npm is not installed (the page's Pyodide is fetched with it); `apt-get install -y nodejs npm` "
                "enables the browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="`pip install -e '.[test]'` installs Playwright")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "browser-verify.png"
ACCOUNT = "trader-0002"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHECK_TIMEOUT_MS = 600_000
CHECKS = ["header", "identity", "values", "path", "root statements", "proofs"]  # zkclear.verifier.receipt.CHECKS


@pytest.fixture(scope="module")
def origin(web_deployment):
    """``zkclear serve EPOCHS --port 0`` running; yields its http://127.0.0.1:PORT origin."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "zkclear.cli", "serve", str(web_deployment.epochs_dir),
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()  # request log
    try:
        found = None
        while found is None:
            try:
                line = lines.get(timeout=300)  # the first start fetches Pyodide and derives the generators
            except queue.Empty:
                pytest.fail("zkclear serve did not say where it listens within 300 s")
            found = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        yield found.group(1)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield launched
        launched.close()


class RecordedPage:
    """A fresh browser context on the page; every request the page or its worker makes is recorded, and any
    request to another origin is refused (and recorded as such)."""

    def __init__(self, browser, origin: str, user_data: Path) -> None:
        self.origin = origin
        self.requests: list[str] = []
        self.refused: list[str] = []
        self.context = browser.new_context(viewport={"width": 900, "height": 1000}, accept_downloads=True)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.goto(origin + "/")

    def _route(self, route) -> None:
        if route.request.url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def check(self, account: str, receipts: list[Path], participant: Path | None = None) -> None:
        page = self.page
        page.fill("#account-id", account)
        page.set_input_files("#receipts", [str(path) for path in receipts])
        if participant is not None:
            page.set_input_files("#participant-file", str(participant))
        page.click("#check")
        # CSP forbids eval, so wait on a selector rather than a JavaScript predicate
        page.wait_for_selector('body[data-state="done"]', state="attached", timeout=CHECK_TIMEOUT_MS)

    def statuses(self, epoch: int) -> dict[str, str]:
        items = self.page.query_selector_all(f'article.result[data-epoch="{epoch}"] li[data-check]')
        return {item.get_attribute("data-check"): item.get_attribute("class") for item in items}

    def failure(self, epoch: int) -> tuple[str, str, str]:
        """(check, reason code, text) of the failed check the page shows for ``epoch``."""
        item = self.page.query_selector(f'article.result[data-epoch="{epoch}"] li.fail')
        return item.get_attribute("data-check"), item.get_attribute("data-reason"), item.inner_text()

    def assert_nothing_left_the_origin(self) -> None:
        assert self.refused == []
        outside = [url for url in self.requests if not url.startswith(self.origin + "/")]
        assert outside == [], outside
        # the worker's requests are seen too, so the assertion above covers them
        assert self.origin + "/pyodide/pyodide.asm.wasm" in self.requests
        assert self.origin + "/verifier/zkclear-verifier.zip" in self.requests
        assert any(url.endswith(".inputs.json") for url in self.requests)  # the public inputs were fetched too

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def recorded(browser, origin, tmp_path):
    page = RecordedPage(browser, origin, tmp_path)
    yield page
    page.close()


def test_real_receipts_verify_in_the_browser_with_history_and_csv(recorded, web_deployment, tmp_path):
    receipts = [web_deployment.receipt_path(epoch, ACCOUNT) for epoch in (1, 2)]
    assert "not sent anywhere" in recorded.page.inner_text("#privacy")
    recorded.check(ACCOUNT, receipts, participant=web_deployment.participant_path(ACCOUNT))
    page = recorded.page
    assert page.inner_text("#error") == ""
    assert page.get_attribute("body", "data-ok") == "true"
    for epoch in (1, 2):
        assert page.get_attribute(f'article.result[data-epoch="{epoch}"]', "data-ok") == "true"
        statuses = recorded.statuses(epoch)
        assert list(statuses) == CHECKS and set(statuses.values()) == {"pass"}
    latest = page.inner_text('article.result[data-epoch="2"]')
    assert "(the one you pinned)" in latest and "matched book" in latest and "Distance to maintenance" in latest
    assert "The epoch's marks" in latest and "BTC-PERP" in latest
    assert page.inner_text("#chain").splitlines()[0].startswith("✓ epoch 2 follows epoch 1")
    assert page.is_visible("#chart-money polyline")
    # the exported CSV is the one `zkclear verify --history-csv` writes for the same receipts
    cli_csv = tmp_path / "cli.csv"
    code, output = zkclear_status("verify", web_deployment.folder(1), web_deployment.folder(2), "--receipt",
                                  receipts[0], "--receipt", receipts[1], "--account", ACCOUNT, "--history-csv",
                                  cli_csv)
    assert code == 0, output
    with page.expect_download() as download:
        page.click("#export-csv")
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.splitlines() == [line.rsplit(",", len(CASH_CHANGE_COLUMNS))[0]  # the CLI's own: the change
                                     for line in cli_csv.read_text(encoding="utf-8").splitlines()]  # of cash explained
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(int(row["distance_to_maintenance"]) >= 0 for row in rows)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    # the screenshot: the latest epoch's checks and the chart of the account over time
    page.query_selector("h1").scroll_into_view_if_needed()  # bounding boxes are viewport-relative
    top = page.query_selector('article.result[data-epoch="2"]').bounding_box()
    bottom = page.query_selector("#chart-money").bounding_box()
    page.screenshot(path=str(SCREENSHOT), full_page=True, clip={
        "x": 0, "y": top["y"] - 8, "width": 900, "height": bottom["y"] + bottom["height"] - top["y"] + 16})
    print(f"\nworker: Python loaded in {page.get_attribute('body', 'data-boot-seconds')} s, "
          f"two receipts checked in {page.get_attribute('body', 'data-check-seconds')} s")
    recorded.assert_nothing_left_the_origin()


def test_a_tampered_receipt_is_rejected_by_the_values_check(recorded, web_deployment, tmp_path):
    forged = web_deployment.tampered_receipt(2, ACCOUNT, tmp_path / "forged.rcpt")
    recorded.check(ACCOUNT, [forged])
    page = recorded.page
    assert page.get_attribute('article.result[data-epoch="2"]', "data-ok") == "false"
    statuses = recorded.statuses(2)
    assert statuses == {"header": "pass", "identity": "pass", "values": "fail", "path": "skip",
                        "root statements": "skip", "proofs": "skip"}
    check, reason, text = recorded.failure(2)
    assert (check, reason) == ("values", "opening-mismatch")
    assert "do not open the commitments" in text and "[opening-mismatch]" in text
    assert "FAILED" in page.inner_text('article.result[data-epoch="2"] h2')
    assert not page.is_visible("#history")
    recorded.assert_nothing_left_the_origin()


def test_another_accounts_receipt_is_rejected_by_the_identity_check(recorded, web_deployment):
    recorded.check(ACCOUNT, [web_deployment.receipt_path(2, "trader-0005")])
    statuses = recorded.statuses(2)
    assert statuses["header"] == "pass" and statuses["identity"] == "fail" and statuses["values"] == "skip"
    check, reason, text = recorded.failure(2)
    assert (check, reason) == ("identity", "receipt-owner")
    assert "this receipt is for account 'trader-0005', not for you ('trader-0002')" in text
    assert not recorded.page.is_visible("#history")
    assert recorded.page.query_selector('article.result[data-epoch="2"] table') is None  # none of its values
    recorded.assert_nothing_left_the_origin()


@pytest.fixture(scope="module")
def exported_origin(web_deployment, tmp_path_factory):
    """``zkclear serve EPOCHS --export OUT``, then OUT served the way a static host serves it: plain files, with the
    headers its ``_headers`` file lists (Python's own static file server; yields its origin)."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    out = tmp_path_factory.mktemp("export") / "site"
    code, output = zkclear_status("serve", web_deployment.epochs_dir, "--export", out)
    assert code == 0, output
    lines = (out / "_headers").read_text().splitlines()
    assert lines[0] == "/*"
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]

    class StaticHost(SimpleHTTPRequestHandler):
        extensions_map: ClassVar[dict[str, str]] = {
            **SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm", ".mjs": "text/javascript",
            ".js": "text/javascript"}

        def end_headers(self) -> None:
            for name, value in headers:
                self.send_header(name, value)
            super().end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(StaticHost, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_exported_static_tree_verifies_a_receipt_in_the_browser(browser, exported_origin, web_deployment,
                                                                     tmp_path):
    recorded = RecordedPage(browser, exported_origin, tmp_path)
    try:
        recorded.check(ACCOUNT, [web_deployment.receipt_path(2, ACCOUNT)])
        assert recorded.page.inner_text("#error") == ""
        assert recorded.page.get_attribute("body", "data-ok") == "true"
        assert set(recorded.statuses(2).values()) == {"pass"}
        recorded.assert_nothing_left_the_origin()
    finally:
        recorded.close()
