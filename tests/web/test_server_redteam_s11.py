"""Red team, session 11: ``zkclear serve``'s server over a real socket.

- A symlinked folder (or file) of DIR pointing into DIR's own ``private/`` folder served its files and listed them
  in the epoch index: the rule "nothing under a folder named private is served" was checked on the request's path
  only, never on the file it resolves to.
- An HTTP/0.9 request (``GET /path`` without a version, or ``HTTP/0.9``) was answered by http.server with the bare
  body: no status line and none of the security headers (Content-Security-Policy, nosniff, ...), the page
  included."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.web.test_server import site_over
from zkclear.errors import InputError
from zkclear.web.assets import VerifierZip
from zkclear.web.export import export_site
from zkclear.web.server import CONTENT_SECURITY_POLICY, Site, make_server


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    epochs = tmp_path_factory.mktemp("site") / "epochs"
    site = site_over(epochs, {"1/epoch-1.bundle": b"public bundle 1", **{
        f"private/{name}": b"PRIVATE " + name.encode() for name in ("epoch-3.bundle", "epoch-3.public.json",
                                                                     "epoch-1.audit")}})
    os.symlink(epochs / "private", epochs / "pub")  # a folder of DIR that is DIR's private folder
    os.symlink(epochs / "private" / "epoch-1.audit", epochs / "1" / "epoch-1.audit")  # a file linked into it
    return site


@pytest.fixture(scope="module")
def served(site):
    server = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def get(server, path: str) -> tuple[int, dict[str, str], bytes]:
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def raw(server, request: bytes) -> bytes:
    """The server's whole answer to ``request`` sent as is on a socket."""
    with socket.create_connection(server.server_address[:2], timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while block := connection.recv(1 << 16):
            answer += block
    return answer


@pytest.mark.parametrize("path", ["/epochs/pub/epoch-3.bundle", "/epochs/pub/epoch-3.public.json",
                                  "/epochs/1/epoch-1.audit", "/epochs/pub/epoch-1.audit"])
def test_a_symlink_into_the_private_folder_is_not_served(served, path):
    status, _headers, body = get(served, path)
    assert status == 404 and b"PRIVATE" not in body


def test_a_symlink_into_the_private_folder_is_not_listed(served):
    status, _headers, body = get(served, "/epochs/index.json")
    assert status == 200
    assert json.loads(body) == {"epochs": [{"epoch": 1, "bundle": "1/epoch-1.bundle"}]}
    assert get(served, "/epochs/1/epoch-1.bundle")[2] == b"public bundle 1"  # the public file still is


def test_the_export_refuses_a_public_name_linked_into_the_private_folder_and_writes_nothing(site, tmp_path):
    """The export takes its files from the epoch index: the linked epoch-1.audit is left out of it, which the
    export refuses (it would publish the epoch without it) before writing anything; pub/ is never listed."""
    with pytest.raises(InputError, match=r"epoch-1\.audit"):
        export_site(site, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("request_line", [b"GET /\r\n", b"GET /epochs/1/epoch-1.bundle\r\n",
                                          b"GET / HTTP/0.9\r\n", b"GET /epochs/index.json HTTP/0.9\r\n"])
def test_an_http_0_9_request_gets_a_status_line_and_the_security_headers_not_a_bare_body(served, request_line):
    port = served.server_address[1]
    answer = raw(served, request_line + b"Host: 127.0.0.1:%d\r\n\r\n" % port)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 505 "), answer[:200]
    assert f"Content-Security-Policy: {CONTENT_SECURITY_POLICY}".encode() in head
    assert b"X-Content-Type-Options: nosniff" in head
    assert body == b"http version not supported\n"


def test_a_malformed_http_0_9_request_is_answered_with_the_headers_too(served):
    answer = raw(served, b"POST /\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 400 ") and b"Content-Security-Policy: " in answer


def test_http_1_0_and_1_1_requests_are_still_served(served):
    port = served.server_address[1]
    for version in (b"HTTP/1.0", b"HTTP/1.1"):
        answer = raw(served, b"GET /epochs/1/epoch-1.bundle %s\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                     % (version, port))
        assert answer.startswith(b"HTTP/1.0 200 ") and answer.endswith(b"\r\n\r\npublic bundle 1"), answer[:200]


@pytest.mark.parametrize("host", ["", "  "])
def test_serve_with_an_empty_host_is_refused_not_bound_to_every_interface(tmp_path, host):
    """The socket layer reads an empty address as 0.0.0.0: `zkclear serve DIR --host "$HOST"` with HOST unset
    served every interface (the LAN) without a word. Refused in one line before anything is fetched or bound."""
    (tmp_path / "epochs").mkdir()
    result = subprocess.run([sys.executable, "-m", "zkclear.cli", "serve", str(tmp_path / "epochs"), "--port", "0",
                             "--host", host], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: --host is empty"), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_the_request_log_escapes_control_characters_from_the_client(served, monkeypatch):
    """Handler.log_message wrote the client's request line as sent (http.server's own escapes it): an escape
    sequence drove the terminal of the operator running `zkclear serve`, a carriage return forged a log line."""
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    port = served.server_address[1]
    raw(served, b"GET /\x1b[2J\x1b[31mforged HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
    raw(served, b"GET /a\rforged HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
    text = log.getvalue()
    assert "\x1b" not in text and "\r" not in text, repr(text)
    assert '"GET /\\x1b[2J\\x1b[31mforged HTTP/1.0" 404' in text, text
    assert "GET /a\\x0dforged" in text, text
    assert all(line.startswith("127.0.0.1 ") for line in text.splitlines()), text


def test_a_folder_whose_name_is_not_utf8_is_not_listed(tmp_path):
    """Its index entry held a lone surrogate ("x\\udcff/epoch-7.bundle"): no request can name that folder, so
    the page was told of an epoch it could never fetch."""
    epochs = tmp_path / "epochs"
    (epochs / "1").mkdir(parents=True)
    (epochs / "1" / "epoch-1.bundle").write_bytes(b"b")
    os.mkdir(os.fsencode(epochs) + b"/x\xff")
    with open(os.fsencode(epochs) + b"/x\xff/epoch-7.bundle", "wb") as handle:
        handle.write(b"b")
    site = Site(epochs, tmp_path, VerifierZip(b"PK", "00" * 32, 1), b"g")
    assert json.loads(site.index_json()) == {"epochs": [{"epoch": 1, "bundle": "1/epoch-1.bundle"}]}
