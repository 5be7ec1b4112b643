"""Red team, session 16: the verification page against a hostile operator's files — what it shows, and whether it
ends. The page's JavaScript (zkclear/web/static/app.js) runs in Chromium against a stand-in worker that answers with
what the bridge (zkclear.web.bridge) returned for a real receipt, edited as the operator's files would make it: no
Pyodide is loaded, so each test takes about a second.

Found and fixed here:

- the page took the first key of the core's ``decimals`` for the settlement asset, and JavaScript lists an object's
  integer-like keys first: with a collateral asset named ``1000`` (a valid asset id) the participant's balance was
  shown at that asset's decimals and in its name; the core now names the settlement asset (``settlement_asset``);
- the history table was the core's CSV split at its commas, its columns picked by name: a position in an instrument
  the venue named ``header_hash`` was left out, and one named ``equity`` stood beside the equity under the same
  title; the table is now built from the core's rows, the instruments titled as lots;
- a worker that could not load (its script, Pyodide's) posted nothing and the page showed "running" for ever;
- the page read a public file of any size the site sent, to the end (the CLI refuses a bundle above 1 GiB and a JSON
  file above 64 MiB before reading it): a server announcing, or sending, more froze the tab;
- in a browser whose JSON.parse gives no number's source text (Chromium before 114, Firefox before 135), a figure
  above 2^53 was shown rounded, which the session 13 fix was to prevent: it is now refused (node 20 is such a
  JavaScript, and runs the page's parser here);
- with one receipt and no key pinned, the page showed "✓ your account key … is the same in your receipt" where
  ``zkclear verify`` says the key is not pinned (nothing of it was checked);
- the page fetched a public file at its path in the epoch list as it stands: a folder named with ``#``, ``?`` or
  ``%`` (which ``zkclear serve`` lists) was cut short at that character or decoded into another folder's name.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest

from zkclear.errors import ConfigurationError
from zkclear.verifier.participant import HistoryRow, history_csv
from zkclear.web import assets
from zkclear.web.assets import STATIC_DIR
from zkclear.web.bridge import EpochRequest, verify
from zkclear.web.server import SECURITY_HEADERS

ACCOUNT = "trader-0002"
EPOCH = 2
WAIT_MS = 20_000
#: Answers "epoch-of" with the epoch, "verify" with the result the test serves at /stub/result.json.
STUB_WORKER = f"""
self.onmessage = async (event) => {{
  const message = event.data;
  if (message.type === "epoch-of") {{
    self.postMessage({{ type: "epoch-of", id: message.id, epoch: {EPOCH} }});
    return;
  }}
  const result = await (await fetch("/stub/result.json")).json();
  self.postMessage({{ type: "result", id: message.id, result, seconds: 0, bootSeconds: 0, verifierDigest: "stub" }});
}};
""".encode()
HUGE = 1 << 31  # announced by the hostile bundle; what it sends at most before the test gives up
SENT_AT_MOST = 64 << 20


class Site(BaseHTTPRequestHandler):
    """The page's own files, the stand-in worker, the result it answers with and the epoch's public files (``huge``:
    the bundle announces 2 GiB and sends zeros until the page stops reading)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        files = {"/": STATIC_DIR / "index.html", "/static/app.js": STATIC_DIR / "app.js",
                 "/static/style.css": STATIC_DIR / "style.css"}
        folder = state["folder"]
        index = {"epochs": [{"epoch": EPOCH, **{kind: f"{folder}/epoch-{EPOCH}.{suffix}" for kind, suffix in (
            ("bundle", "bundle"), ("public", "public.json"), ("inputs", "inputs.json"))}}]}
        route = unquote(urlsplit(self.path).path)  # as zkclear serve reads it
        if route.startswith("/epochs/") and route != "/epochs/index.json":
            state["fetched"].append(route)
        if self.path in files:
            self._send(files[self.path].read_bytes(), "text/html" if self.path == "/" else "text/javascript")
        elif self.path == "/static/worker.js":
            if state["worker"] is None:
                self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)
            else:
                self._send(state["worker"], "text/javascript")
        elif self.path == "/stub/result.json":
            self._send(json.dumps(state["result"]).encode(), "application/json")
        elif self.path == "/epochs/index.json":
            self._send(json.dumps(index).encode(), "application/json")
        elif route == f"/epochs/{folder}/epoch-{EPOCH}.bundle" and state["huge"]:
            self._stream_zeros(state)
        elif route.startswith(f"/epochs/{folder}/"):
            self._send(b"public file", "application/octet-stream")
        else:
            self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)

    def _send(self, body: bytes, mime: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream_zeros(self, state: dict) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        block = bytes(1 << 16)
        try:
            while state["sent"] < SENT_AT_MOST:
                self.wfile.write(block)
                state["sent"] += len(block)
        except OSError:  # the page hung up
            pass
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    server.daemon_threads = True
    server.state = {}  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def honest_result(web_deployment):
    """What the bridge returns for trader-0002's receipt of epoch 2 (every check passed)."""
    receipt = web_deployment.receipt_path(EPOCH, ACCOUNT)
    result = verify(ACCOUNT, [EpochRequest(web_deployment.folder(EPOCH), receipt)])
    assert result["ok"] is True
    return result


@pytest.fixture
def page_of(chromium, site, tmp_path):
    """``page_of(result=..., worker=..., huge=...)``: the page served with that, its check run for a stand-in receipt;
    returns the page once the check is done (or WAIT_MS have passed: the test then fails)."""
    contexts = []

    def run(result=None, *, worker=STUB_WORKER, huge=False, folder=str(EPOCH)):
        site.state.update(result=result, worker=worker, huge=huge, sent=0, folder=folder, fetched=[])
        context = chromium.new_context(viewport={"width": 900, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{site.server_address[1]}/")
        page.wait_for_selector("#origin-epochs:not(:empty)", timeout=WAIT_MS)
        receipt = tmp_path / "mine.rcpt"
        receipt.write_bytes(b"a receipt")
        page.fill("#account-id", ACCOUNT)
        page.set_input_files("#receipts", str(receipt))
        page.click("#check")
        page.wait_for_selector('body[data-state="done"]', state="attached", timeout=WAIT_MS)
        return page

    yield run
    for context in contexts:
        context.close()


def _account_rows(page) -> dict[str, str]:
    text = page.inner_text(f'article.result[data-epoch="{EPOCH}"] table.account')
    return {cells[0]: cells[1] for cells in (row.split("\t") for row in text.splitlines())}


def test_the_bridge_names_the_settlement_asset(honest_result, web_deployment):
    account = honest_result["epochs"][0]["account"]
    assert account["settlement_asset"] == "USDC" == next(iter(account["decimals"]))


def test_the_header_check_says_the_risk_data_is_not_recomputed_in_the_browser(honest_result):
    """The one check of zkclear verify the page does not run, said where the participant reads that the header
    passed (before: only in the page's list of limits at its foot, under a verdict 'your account checks out')."""
    [header] = [check for check in honest_result["epochs"][0]["checks"] if check["name"] == "header"]
    assert header["ok"] is True
    assert "not recomputed in the browser: zkclear verify does it, and refuses the epoch otherwise" in header["detail"]


def test_the_balance_is_shown_in_the_settlement_asset_when_a_collateral_asset_id_is_integer_like(page_of,
                                                                                                 honest_result):
    """Before: the balance row read 'smallest units: 95830782408 1000' (the collateral asset's 0 decimals and name)
    for a USDC balance at 6 decimals."""
    result = copy.deepcopy(honest_result)
    account = result["epochs"][0]["account"]
    cash = account["cash"]
    assert cash > 10**6 and account["decimals"] == {"USDC": 6}
    # a venue whose collateral asset is named "1000" (zkclear.verifier.published.ASSET_ID allows it), at 0 decimals
    account["decimals"] = {"USDC": 6, "1000": 0}
    account["collateral"] = {"1000": {"balance": 5, "haircut_value": 4}}
    account["liabilities"] = {"USDC": cash, "1000": 5}
    page = page_of(result)
    assert page.inner_text("#error") == ""
    rows = _account_rows(page)
    assert rows["Balance"] == f"{cash} (smallest units: {cash // 10**6}.{cash % 10**6:06d} USDC)"
    assert rows["1000 balance"].startswith("5 (smallest units: 5 1000;")
    assert rows["Liabilities"].startswith(f"USDC {cash} = {cash // 10**6}.{cash % 10**6:06d}, 1000 5 = 5")


def test_the_history_table_shows_every_held_instrument_under_its_own_title(page_of, honest_result):
    """Before: the table was the CSV's columns picked by name; a position in an instrument named ``header_hash`` was
    not shown, and one named ``equity`` was titled as the equity. Check details and the venue from the operator's
    files are text, never markup."""
    result = copy.deepcopy(honest_result)
    history = result["history"]
    [row] = history["rows"]
    held = [i for i in history["instruments"] if row["positions"][i]]
    assert len(held) >= 2, row["positions"]
    renamed = {held[0]: "header_hash", held[1]: "equity"}  # valid instrument ids (INSTRUMENT_ID)
    history["instruments"] = [renamed.get(i, i) for i in history["instruments"]]
    row["positions"] = {renamed.get(i, i): lots for i, lots in row["positions"].items()}
    history["csv"] = history_csv([HistoryRow(  # the CSV as the core writes it for these names
        row["epoch"], row["header_hash"], row["margin_mode"], row["cash"],
        tuple(row["positions"][i] for i in history["instruments"]), row["equity"], row["requirement"])],
        history["instruments"])
    markup = '<img src="x" id="injected">'
    result["epochs"][0]["checks"][0]["detail"] = markup
    result["epochs"][0]["account"]["venue"] = markup
    page = page_of(result)
    assert page.inner_text("#error") == ""
    table = page.inner_text("#history-table").splitlines()
    titles, values = table[0].split("\t"), table[1].split("\t")
    shown = dict(zip(titles, values, strict=True))
    assert shown["header_hash (lots)"] == str(row["positions"]["header_hash"])
    assert shown["equity (lots)"] == str(row["positions"]["equity"])
    assert shown["equity"] == str(row["equity"]) and shown["cash"] == str(row["cash"])
    assert page.query_selector("#injected") is None and page.query_selector("img") is None
    assert markup in page.inner_text(f'article.result[data-epoch="{EPOCH}"]')


def test_one_receipt_with_no_key_pinned_is_not_shown_as_a_checked_key(page_of, honest_result):
    """Before: '✓ your account key (fingerprint …) is the same in your receipt', where zkclear verify says the key is
    not pinned (one receipt checks nothing of it: the operator may have rotated it)."""
    assert honest_result["history"]["key_pinned"] is False and len(honest_result["history"]["rows"]) == 1
    fingerprint = honest_result["history"]["key_fingerprint"]
    page = page_of(honest_result)
    key = page.query_selector("#chain li:last-child")
    assert key.get_attribute("class") == "skip"
    assert key.inner_text() == (f"– your account key (fingerprint {fingerprint}) is not pinned: your participant "
                                "file or account key checks that it is the one you were given")
    pinned = copy.deepcopy(honest_result)
    pinned["history"]["key_pinned"] = True
    key = page_of(pinned).query_selector("#chain li:last-child")
    assert key.get_attribute("class") == "pass"
    assert key.inner_text() == f"✓ your account key (fingerprint {fingerprint}) is the one you pinned"


def test_the_bridge_says_whether_the_key_was_pinned(web_deployment):
    receipt = web_deployment.receipt_path(EPOCH, ACCOUNT)
    result = verify(ACCOUNT, [EpochRequest(web_deployment.folder(EPOCH), receipt)],
                    participant_file=web_deployment.participant_path(ACCOUNT))
    assert result["ok"] is True and result["history"]["key_pinned"] is True


def test_a_worker_that_cannot_load_is_an_error_not_a_page_running_for_ever(page_of):
    """Before: the page waited for the worker's answer for ever (the wait below timed out)."""
    page = page_of(worker=None)
    error = page.inner_text("#error")
    assert error.startswith("the verifier stopped (") and error.endswith("): reload the page")
    assert page.get_attribute("body", "data-ok") is None
    page.click("#check")  # the next check fails at once too
    page.wait_for_selector('body[data-state="done"]', state="attached", timeout=WAIT_MS)
    assert page.inner_text("#error") == error


def test_public_files_in_a_folder_named_with_url_characters_are_fetched_from_that_folder(page_of, honest_result,
                                                                                       site):
    """Before: the page asked for ``/epochs/2`` (the rest read as a fragment): not found."""
    folder = "v#1?%32"
    page = page_of(honest_result, folder=folder)
    assert page.inner_text("#error") == ""
    assert page.get_attribute("body", "data-ok") == "true"
    assert site.state["fetched"] == [f"/epochs/{folder}/epoch-{EPOCH}.{suffix}"
                                     for suffix in ("bundle", "public.json", "inputs.json")]


def test_a_bundle_larger_than_the_cores_limit_is_refused_by_its_size_before_it_is_read(page_of, honest_result, site):
    """Before: the page read on whatever the site announced (this one stops after 64 MiB, and the page then said
    'Failed to fetch'); a server that never stops sending froze the tab."""
    page = page_of(honest_result, huge=True)
    assert page.inner_text("#error") == (f"/epochs/{EPOCH}/epoch-{EPOCH}.bundle: larger than the 1073741824-byte "
                                         "limit of an epoch bundle")
    assert site.state["sent"] < SENT_AT_MOST
    assert page.query_selector("article.result") is None


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed (`apt-get install -y nodejs npm` also enables the "
                                         "browser tests)")
def test_a_figure_above_2_to_the_53_is_shown_exactly_or_refused_never_rounded():
    """Before, in a JavaScript without JSON.parse's source text: [9007199254740992, 5] — the balance rounded."""
    script = f"""
import {{ parseExact }} from {json.dumps((STATIC_DIR / "exact.js").as_uri())};
const sourceText = JSON.parse("1", (key, value, context) => context !== undefined);
let shown;
try {{
  shown = parseExact('{{"cash": 9007199254740993, "lots": -5}}');
}} catch (error) {{
  shown = String(error.message);
}}
console.log(JSON.stringify({{ sourceText, shown }}));
"""
    run = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    if answer["sourceText"]:
        assert answer["shown"] == {"cash": "9007199254740993", "lots": -5}
    else:
        assert answer["shown"].startswith("this browser cannot show a figure above 2^53 exactly")


# -- the Pyodide it loads --------------------------------------------------------------------------------------------

def _fake_npm(tmp_path) -> str:
    """An ``npm`` whose ``ci`` installs the pinned version's package.json and altered files."""
    npm = tmp_path / "npm"
    version = assets.pinned_pyodide_version()
    npm.write_text("#!/bin/sh\nmkdir -p node_modules/pyodide && cd node_modules/pyodide && "
                   f"echo '{{\"version\": \"{version}\"}}' > package.json && "
                   + " && ".join(f"echo altered > {name}" for name in assets.PYODIDE_FILES) + "\n")
    npm.chmod(0o755)
    return str(npm)


def test_a_cached_pyodide_file_altered_since_npm_ci_is_never_served(tmp_path, monkeypatch):
    """Before: a cache whose package.json named the pinned version and held the five files was ready, whatever
    their bytes, and served as is."""
    monkeypatch.setattr(assets.shutil, "which", lambda name: _fake_npm(tmp_path))
    subprocess.run([_fake_npm(tmp_path), "ci"], cwd=tmp_path, check=True)
    folder = tmp_path / "node_modules" / "pyodide"
    assert (folder / "pyodide.asm.wasm").read_text() == "altered\n"
    monkeypatch.setattr(assets, "pyodide_dir", lambda root=None: folder)
    assert not assets.pyodide_ready(tmp_path)
    with pytest.raises(ConfigurationError, match=r"gave Pyodide files whose SHA-256 is not the pinned one"):
        assets.ensure_pyodide(tmp_path)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (`apt-get install -y nodejs npm` "
                                                        "enables the page's tests)")
def test_the_pinned_digests_are_those_of_the_files_npm_ci_installs():
    folder = assets.ensure_pyodide()  # npm ci once if the cache lacks them (the browser tests need them too)
    assert sorted(assets.PYODIDE_SHA256) == sorted(assets.PYODIDE_FILES)
    assert assets.pyodide_ready()
    assert all(hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
               for name, digest in assets.PYODIDE_SHA256.items())
