"""``zkclear serve``'s server: only public epoch files and the page's own assets, strict paths, security headers."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import tracemalloc
from pathlib import Path

import pytest

from zkclear.web.assets import PYODIDE_FILES, VerifierZip
from zkclear.web.server import CONTENT_SECURITY_POLICY, Handler, Site, make_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server over a deployment-like tree: two published epochs, with receipts and a ``private`` folder
    (holding files named like public ones) inside the served folder, and the deployment's own files above it."""
    root = tmp_path_factory.mktemp("site")
    epochs = root / "venue" / "epochs"
    for epoch in (1, 2):
        folder = epochs / str(epoch)
        (folder / "receipts").mkdir(parents=True)
        (folder / f"epoch-{epoch}.bundle").write_bytes(b"bundle %d" % epoch)
        (folder / f"epoch-{epoch}.public.json").write_bytes(b"[]")
        (folder / f"epoch-{epoch}.inputs.json").write_bytes(b"{}")
        (folder / f"epoch-{epoch}.audit").write_bytes(b"audit")
        (folder / "receipts" / "abc.rcpt").write_bytes(b"private receipt")
        (folder / "receipts.index").write_text("{}")
    (epochs / "private").mkdir()
    for name in ("epoch-3.bundle", "epoch-3.public.json", "epoch-3.inputs.json"):
        (epochs / "private" / name).write_bytes(b"private copy")
    (root / "venue" / "operator.secret").write_text("secret")
    (root / "venue" / "private" / "1" / "receipts").mkdir(parents=True)
    (root / "outside.bundle").write_bytes(b"outside")
    os.symlink(root / "outside.bundle", epochs / "1" / "epoch-9.bundle")  # a link out of DIR
    pyodide = root / "pyodide"
    pyodide.mkdir()
    for name in PYODIDE_FILES:
        (pyodide / name).write_bytes(b"\0asm" if name.endswith(".wasm") else b"x")
    (pyodide / "package.json").write_text("{}")
    site = Site(epochs, pyodide, VerifierZip(b"PK zip", "00" * 32, 1), b"generators")
    server = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def site_over(epochs: Path, files: dict[str, bytes]) -> Site:
    """A :class:`Site` serving ``epochs``, where ``files`` (path under it: bytes) are written, with stand-ins for
    Pyodide's files (in a folder beside it), the verifier zip and the generators file."""
    for relative, data in files.items():
        (epochs / relative).parent.mkdir(parents=True, exist_ok=True)
        (epochs / relative).write_bytes(data)
    pyodide = epochs.parent / "pyodide"
    pyodide.mkdir()
    for name in PYODIDE_FILES:
        (pyodide / name).write_bytes(b"\0asm" if name.endswith(".wasm") else b"x")
    return Site(epochs, pyodide, VerifierZip(b"PK zip", "00" * 32, 1), b"generators")


def request(server, path: str, *, method: str = "GET", host: str | None = None):
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path, skip_host=True)
    connection.putheader("Host", host or f"127.0.0.1:{port}")
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def test_the_page_and_its_assets_are_served_with_their_mime_types(served):
    status, headers, body = request(served, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"Check your account" in body
    for path, mime in (("/static/app.js", "text/javascript"), ("/static/worker.js", "text/javascript"),
                       ("/static/style.css", "text/css"), ("/pyodide/pyodide.asm.wasm", "application/wasm"),
                       ("/pyodide/pyodide.mjs", "text/javascript"), ("/pyodide/pyodide-lock.json", "application/json"),
                       ("/verifier/zkclear-verifier.zip", "application/zip"),
                       ("/verifier/zkclear-generators-v2-8192.bin", "application/octet-stream")):
        status, headers, _ = request(served, path)
        assert status == 200, path
        assert headers["Content-Type"].startswith(mime), path


def test_every_response_carries_the_security_headers(served):
    for path in ("/", "/epochs/index.json", "/nothing-here"):
        _, headers, _ = request(served, path)
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert "http" not in CONTENT_SECURITY_POLICY  # no third-party origin anywhere


def test_the_epoch_index_lists_public_files_only(served):
    status, _, body = request(served, "/epochs/index.json")
    assert status == 200
    assert json.loads(body) == {"epochs": [
        {"epoch": epoch, "bundle": f"{epoch}/epoch-{epoch}.bundle", "public": f"{epoch}/epoch-{epoch}.public.json",
         "inputs": f"{epoch}/epoch-{epoch}.inputs.json", "audit": f"{epoch}/epoch-{epoch}.audit"}
        for epoch in (1, 2)]}  # nothing from the private folder
    assert request(served, "/epochs/2/epoch-2.bundle")[2] == b"bundle 2"
    status, headers, body = request(served, "/epochs/2/epoch-2.inputs.json")
    assert status == 200 and headers["Content-Type"] == "application/json" and body == b"{}"


@pytest.mark.parametrize("path", [
    "/epochs/1/receipts/abc.rcpt",           # receipts are private
    "/epochs/1/receipts.index",
    "/epochs/private/epoch-3.bundle",        # nothing under a private folder, whatever its name
    "/epochs/private/epoch-3.inputs.json",
    "/epochs/%70rivate/epoch-3.public.json",
    "/epochs/../operator.secret",            # traversal, plain and encoded
    "/epochs/1/..%2f..%2foperator.secret",
    "/epochs/%2e%2e/operator.secret",
    "/epochs/1%2fepoch-1.bundle%00",
    "/epochs/1\\epoch-1.bundle",
    "/epochs/1/epoch-9.bundle",              # a symlink out of DIR
    "/static/../../bridge.py",
    "/static/%2e%2e/bridge.py",
    "/pyodide/package.json",                 # only the files the page loads
    "/pyodide/../pyodide/pyodide.mjs",
    "//etc/passwd",
    "/epochs/a/b/epoch-1.bundle",
    "/epochs/1%2Fepoch-1.bundle", "/epochs/1%2fepoch-1.public.json", "/epochs/1%5Cepoch-1.bundle",
])
def test_private_files_and_traversal_attempts_are_not_found(served, path):
    status, _, body = request(served, path)
    assert status == 404, path
    assert b"secret" not in body and b"private" not in body


def test_only_get_and_head_are_allowed(served):
    status, headers, _ = request(served, "/", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = request(served, "/static/app.js", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_a_foreign_host_header_is_refused(served):
    # DNS rebinding: a page of another site whose name resolves to 127.0.0.1 must not read the epochs
    status, _, _ = request(served, "/epochs/index.json", host=f"attacker.example:{served.server_address[1]}")
    assert status == 421
    assert request(served, "/", host=f"localhost:{served.server_address[1]}")[0] == 200


def raw_request(server, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is (no client-side checks) and parse the response."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as connection:
        connection.sendall(data)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def test_a_second_host_header_naming_another_site_is_refused(served):
    port = served.server_address[1]
    status, _, body = raw_request(served, (f"GET /epochs/index.json HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
                                           "Host: attacker.example\r\n\r\n").encode())
    assert status == 421 and b"epochs" not in body


def test_a_request_target_that_is_not_a_path_is_refused(served):
    # "GET http://evil.example/epochs/index.json" was answered as if it named this server's /epochs/index.json
    port = served.server_address[1]
    for target in (f"http://127.0.0.1:{port}/epochs/index.json", "http://evil.example/epochs/index.json",
                   "HTTP://evil.example/epochs/index.json", "epochs/index.json", "*"):
        status, headers, body = raw_request(
            served, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        assert status == 400, target
        assert b"epochs" not in body and headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    # a network-path is not another site either (http.server folds its leading "//" into "/": not found)
    assert raw_request(served, f"GET //evil.example/epochs/index.json HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                       .encode())[0] == 404
    assert request(served, "/epochs/index.json?x=1")[0] == 200  # origin-form with a query is still served


def test_a_path_with_a_name_too_long_for_the_file_system_is_not_found(served):
    # os.stat raised ENAMETOOLONG: the request died with a traceback on stderr and no response at all
    for path in ("/epochs/" + "a" * 300 + "/epoch-1.bundle", "/static/" + "a" * 300 + ".js"):
        status, headers, _ = request(served, path)
        assert status == 404 and headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_malformed_requests_get_plain_text_errors_with_the_security_headers(served):
    # http.server's own error page was HTML without the Content-Security-Policy or nosniff headers
    port = served.server_address[1]
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    for data, expected in ((b"FOO / HTTP/1.0\r\n" + host + b"\r\n", 501),
                           (b"GET /" + b"a" * 70000 + b" HTTP/1.0\r\n\r\n", 414),
                           (b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(120)) + b"\r\n", 431)):
        status, headers, body = raw_request(served, data)
        assert status == expected
        assert headers["Content-Type"] == "text/plain; charset=utf-8" and b"<" not in body
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_taken_port_is_one_line_and_exit_status_1(served, tmp_path, monkeypatch, capsys):
    from zkclear.cli import main
    from zkclear.web import server as server_module

    monkeypatch.setattr(server_module, "build_site", lambda directory, echo=None: served.site)
    monkeypatch.setattr("sys.argv", ["zkclear", "serve", str(tmp_path), "--port", str(served.server_address[1])])
    with pytest.raises(SystemExit) as exit_status:
        main()
    assert exit_status.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot listen on 127.0.0.1:") and len(err.strip().splitlines()) == 1


def test_a_deployment_or_its_private_folder_is_refused(tmp_path):
    from zkclear.errors import InputError
    from zkclear.operator import PRIVATE_DIR, SECRET_FILE
    from zkclear.web.server import DEPLOYMENT_MARKER, PRIVATE_FOLDER, build_site

    assert (DEPLOYMENT_MARKER, PRIVATE_FOLDER) == (SECRET_FILE, PRIVATE_DIR)
    venue = tmp_path / "venue"
    (venue / "private" / "2" / "receipts").mkdir(parents=True)
    (venue / SECRET_FILE).write_text("secret")
    for folder, words in ((venue, "serve its epochs/ folder"), (venue / "private", "private folder"),
                          (venue / "private" / "2", "private folder")):
        with pytest.raises(InputError, match=words):
            build_site(folder)


def test_a_large_epoch_file_is_sent_in_blocks_not_read_whole(served, monkeypatch):
    # any web page can make the browser request http://127.0.0.1:PORT/epochs/.../epoch-N.audit (it cannot read the
    # answer, but the server did the work): each request read the whole audit file (gigabytes at scale) into memory
    folder = served.site.epochs / "2"
    big = folder / "epoch-2.audit"
    original = big.read_bytes()
    size = 48 << 20
    with open(big, "r+b") as handle:
        handle.truncate(size)
    try:
        tracemalloc.start()
        status, headers, _ = request(served, "/epochs/2/epoch-2.audit", method="HEAD")
        assert status == 200 and int(headers["Content-Length"]) == size
        status, headers, body = request(served, "/epochs/2/epoch-2.audit")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert status == 200 and len(body) == size and body.startswith(original)
        assert peak < size + (8 << 20)  # the body the client holds, plus blocks: not a second copy of the file
    finally:
        tracemalloc.stop()
        big.write_bytes(original)


def test_a_connection_that_never_finishes_its_request_is_closed(served, monkeypatch):
    # http.server waits forever by default: connections that send half a request held a thread each, for good
    assert Handler.timeout is not None and 0 < Handler.timeout <= 60
    monkeypatch.setattr(Handler, "timeout", 0.5)  # the same mechanism, shortened for the test
    with socket.create_connection(("127.0.0.1", served.server_address[1]), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\n")
        assert connection.recv(1024) == b""  # closed by the server, long before the client's 10 s


def test_serve_on_the_ipv6_loopback_answers_its_own_host_names_only(served):
    # --host ::1 could not even bind (the server socket was IPv4 only), though the Host check names [::1]
    server = make_server(served.site, "::1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        for host, expected in ((f"[::1]:{port}", 200), (f"localhost:{port}", 200), (f"attacker.example:{port}", 421)):
            connection = http.client.HTTPConnection("::1", port, timeout=10)
            connection.putrequest("GET", "/epochs/index.json", skip_host=True)
            connection.putheader("Host", host)
            connection.endheaders()
            assert connection.getresponse().status == expected, host
            connection.close()
    finally:
        server.shutdown()
        server.server_close()


def test_serve_on_every_interface_answers_address_literals_but_not_host_names(served):
    # --host 0.0.0.0 answered 421 to every request (the guard expected "Host: 0.0.0.0:PORT", which no browser sends)
    server = make_server(served.site, "0.0.0.0", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        cases = ((f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200), (f"10.1.2.3:{port}", 200),
                 (f"[::1]:{port}", 200), (f"attacker.example:{port}", 421), (f"127.0.0.1:{port + 1}", 421),
                 ("127.0.0.1", 421), (f"::1:{port}", 421), (f"[127.0.0.1]:{port}", 421),
                 (f"[fe80::1%25eth0]:{port}", 421), (f"1.2.3.4.example:{port}", 421))
        for host, expected in cases:
            assert request(server, "/epochs/index.json", host=host)[0] == expected, host
    finally:
        server.shutdown()
        server.server_close()


# -- zkclear serve DIR --export OUT: the same files as a static tree ------------------------------------------------


def test_the_export_holds_exactly_what_the_server_answers_and_nothing_private(served, tmp_path):
    from zkclear.web.export import HEADERS_FILE, export_site

    out = tmp_path / "site"
    summary = export_site(served.site, out)
    assert summary.epochs == (1, 2)
    exported = {path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()}
    assert HEADERS_FILE in exported
    for relative in sorted(exported - {HEADERS_FILE}):
        route = "/" if relative == "index.html" else "/" + relative
        status, _, body = request(served, route)
        assert status == 200 and body == (out / relative).read_bytes(), relative
    epoch_files = {name for name in exported if name.startswith("epochs/")}
    assert epoch_files == {"epochs/index.json", *(f"epochs/{e}/epoch-{e}.{kind}" for e in (1, 2)
                                                   for kind in ("bundle", "public.json", "inputs.json", "audit"))}
    assert not any(name.endswith(".rcpt") or "private" in name or "receipts" in name or "epoch-9" in name
                   for name in exported)
    headers = (out / HEADERS_FILE).read_text()
    assert headers.startswith("/*\n") and f"Content-Security-Policy: {CONTENT_SECURITY_POLICY}" in headers
    assert not list(tmp_path.glob(".site.partial-*"))


def test_an_export_never_overwrites_and_leaves_nothing_when_it_fails(served, tmp_path):
    import dataclasses

    from zkclear.errors import InputError
    from zkclear.web.export import export_site

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        export_site(served.site, existing)
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    broken = dataclasses.replace(served.site, pyodide=tmp_path / "no-pyodide")
    with pytest.raises(InputError, match="pyodide"):
        export_site(broken, tmp_path / "site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


@pytest.mark.parametrize("shape", ["pipe", "folder", "dangling link"])
def test_serve_export_refuses_an_audit_file_that_is_not_a_regular_file(served, tmp_path, monkeypatch, shape):
    # the epoch index left such an audit file out and the export published the epoch without it, silently
    import dataclasses

    from tests.cli.cli_helpers import zkclear_status
    from zkclear.web import server as server_module

    epochs = tmp_path / "epochs"
    (epochs / "1").mkdir(parents=True)
    (epochs / "1" / "epoch-1.bundle").write_bytes(b"bundle 1")
    audit = epochs / "1" / "epoch-1.audit"
    {"pipe": os.mkfifo, "folder": os.mkdir, "dangling link": lambda p: p.symlink_to(tmp_path / "gone")}[shape](audit)
    site = dataclasses.replace(served.site, epochs=epochs)
    monkeypatch.setattr(server_module, "build_site", lambda directory, echo=None: site)
    code, output = zkclear_status("serve", epochs, "--export", tmp_path / "out")
    assert code == 1 and output == f"error: {audit}: not a regular file (the export would leave this public file of " \
                                   "the epoch out)\n", output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))


def test_serve_export_refuses_an_existing_folder_before_fetching_anything(served, tmp_path):
    from tests.cli.cli_helpers import zkclear_status

    code, output = zkclear_status("serve", served.site.epochs, "--export", tmp_path)
    assert code == 1 and "already exists" in output and output.count("\n") == 1
