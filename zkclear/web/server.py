"""``zkclear serve``: the verification page and the published epochs, on localhost, with nothing else.

Routes (GET and HEAD only; anything else is 404 or 405; a request target that is not a path, such as
``http://host/PATH``, is 400):

- ``/`` — the page (``static/index.html``); ``/static/NAME`` — its scripts and styles;
- ``/pyodide/NAME`` — the vendored Pyodide files (:data:`zkclear.web.assets.PYODIDE_FILES` only);
- ``/verifier/zkclear-verifier.zip`` — zkclear's pure-Python sources (:func:`zkclear.web.assets.verifier_zip`),
  and ``/verifier/zkclear-generators-v2-8192.bin`` — the precomputed generators (:mod:`zkclear.web.generators`);
- ``/epochs/index.json`` — the epochs found in DIR, and ``/epochs/PATH`` — a public file under DIR (at most one
  folder deep): ``epoch-N.bundle``, ``epoch-N.public.json``, ``epoch-N.inputs.json`` or ``epoch-N.audit``.
  Receipts, participant files, keys, ledgers and every other file are never served, even when they sit in DIR,
  and nothing under a folder named ``private`` is (a deployment's ``private/`` holds the receipts; DIR must not
  be, or be inside, a deployment's ``private/`` nor be the deployment itself: serve its ``epochs/``). Receipts
  are private: the participant picks theirs from their own disk, and it never leaves the browser.

Paths are resolved and must stay inside their root (no ``..``, no symlink out, no encoded separators). Files of
DIR are sent in blocks (never held whole in memory), a silent connection is closed after ``REQUEST_TIMEOUT``
seconds, and every response (http.server's own errors for malformed requests too) carries a
Content-Security-Policy that lets the page load scripts, WebAssembly and data from this origin only
(``'wasm-unsafe-eval'`` is what Pyodide's WebAssembly needs), ``nosniff``, ``no-referrer`` and same-origin isolation
headers; a request whose Host header (exactly one) is not the address the server is bound to is refused (a guard
against DNS rebinding; bound to every interface, any IP address literal of the server's port is accepted, never a
host name).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zkclear.errors import ConfigurationError, InputError
from zkclear.web import generators
from zkclear.web.assets import PYODIDE_FILES, STATIC_DIR, VerifierZip, cache_root, ensure_pyodide, verifier_zip

#: The only files of DIR that are served: what a venue publishes for everyone.
PUBLIC_FILE = re.compile(r"^epoch-(\d{1,19})\.(bundle|public\.json|inputs\.json|audit)$")
#: The public files an epoch may have beside its bundle, as (key in the epoch index, name after ``epoch-N.``).
EPOCH_FILE_KINDS = (("public", "public.json"), ("inputs", "inputs.json"), ("audit", "audit"))
#: No folder of this name is ever looked into (a deployment's receipts and participant files live there).
PRIVATE_FOLDER = "private"
#: What marks a deployment directory (zkclear.operator.SECRET_FILE; not imported: it pulls the clearing engine).
DEPLOYMENT_MARKER = "operator.secret"
VERIFIER_ZIP_NAME = "zkclear-verifier.zip"
#: Addresses that bind every interface: the Host guard then accepts any IP address literal (see _is_address_literal).
WILDCARD_ADDRESSES = ("0.0.0.0", "::")
#: What a log line escapes: C0 and C1 control characters and DEL as ``\\xNN``, and the backslash itself.
_LOG_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))} | {ord("\\"): "\\\\"}
#: Bytes read and sent at a time when serving a file.
FILE_BLOCK = 1 << 20
#: Seconds a client may take to send its request or read a block of the answer.
REQUEST_TIMEOUT = 30
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".bin": "application/octet-stream",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".bundle": "application/octet-stream",
    ".audit": "application/octet-stream",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
    "style-src 'self'; img-src 'self' data: blob:; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Site:
    """What one server serves: the published epochs' folder, vendored Pyodide, the verifier zip and the
    precomputed generators."""

    epochs: Path
    pyodide: Path
    verifier: VerifierZip
    generators: bytes

    def epoch_index(self) -> list[dict[str, object]]:
        """Every epoch with a public bundle under ``epochs`` (at most one folder deep), in epoch order."""
        found: dict[int, dict[str, object]] = {}
        for path in sorted([*self.epochs.glob("epoch-*.bundle"), *self.epochs.glob("*/epoch-*.bundle")]):
            match = PUBLIC_FILE.match(path.name)
            folder = path.parent.relative_to(self.epochs)
            if match is None or not _inside(path, self.epochs) or PRIVATE_FOLDER in folder.parts \
                    or _in_private(path, self.epochs):
                continue
            epoch = int(match.group(1))
            prefix = "" if folder == Path(".") else folder.as_posix() + "/"
            if not _is_utf8(prefix):  # a folder name that is not UTF-8: no request can name it, so never listed
                continue
            entry = {"epoch": epoch, "bundle": f"{prefix}epoch-{epoch}.bundle"}
            for kind, suffix in EPOCH_FILE_KINDS:
                name = f"epoch-{epoch}.{suffix}"
                if (path.parent / name).is_file() and not _in_private(path.parent / name, self.epochs):
                    entry[kind] = prefix + name
            found.setdefault(epoch, entry)
        return [found[epoch] for epoch in sorted(found)]

    def index_json(self) -> bytes:
        """``/epochs/index.json``: the epoch index the page reads (docs/format.md)."""
        return json.dumps({"epochs": self.epoch_index()}, indent=1).encode("utf-8")


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python before 3.13)
        return False


def _is_utf8(name: str) -> bool:
    """Whether a file name decoded by the file system is UTF-8 (not, it holds lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _in_private(path: Path, root: Path) -> bool:
    """Whether ``path``, symlinks resolved, lies in a folder named ``private`` under ``root`` (a symlinked folder or
    file of DIR pointing into DIR's ``private/``: the request's own path does not show it); True when it cannot be
    resolved."""
    try:
        inside = path.resolve().relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):
        return True
    return PRIVATE_FOLDER in inside.parts[:-1]


def _public_file(path: Path, root: Path) -> Path | None:
    """:func:`served_file` for a file of DIR; None also when it resolves into a ``private`` folder."""
    found = served_file(path, root)
    return None if found is None or _in_private(found, root) else found


def _safe_relative(path: str) -> str | None:
    """The decoded relative path if it names a plain file path (no traversal, no odd characters), else None."""
    if "%2f" in path.lower() or "%5c" in path.lower():  # an encoded separator: paths are spelled plainly
        return None
    decoded = unquote(path)
    if not decoded or "\\" in decoded or "\x00" in decoded or decoded.startswith("/"):
        return None
    parts = decoded.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return decoded


class Handler(BaseHTTPRequestHandler):
    """Serves a :class:`Site` (set on the server as ``site``); see the module docstring."""

    server_version = "zkclear-serve"
    sys_version = ""
    #: Seconds a connection may stay silent (http.server's default is forever: each idle connection held a thread).
    timeout = REQUEST_TIMEOUT

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _refuse_method(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", "text/plain; charset=utf-8",
                   extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def log_message(self, format: str, *args: object) -> None:  # one line per request, on stderr
        # the request line is the client's: control characters escaped (http.server's own log_message does so; a
        # raw escape sequence would drive the operator's terminal, a carriage return forge a log line)
        sys.stderr.write(f"{self.address_string()} {(format % args).translate(_LOG_ESCAPES)}\n")

    def _respond(self, *, head: bool) -> None:
        # origin-form only ("/path?query"): an absolute-form target ("http://evil.example/receipt") names
        # another site, which urlsplit quietly dropped (http.server itself folds a leading "//" into "/")
        if not self.path.startswith("/"):
            self._send(HTTPStatus.BAD_REQUEST, b"bad request: the target must be a path\n",
                       "text/plain; charset=utf-8", head=head)
            return
        if not self._host_allowed():
            self._send(HTTPStatus.MISDIRECTED_REQUEST, b"unexpected Host header\n", "text/plain; charset=utf-8",
                       head=head)
            return
        route = urlsplit(self.path).path
        body, mime = self._lookup(route)
        if isinstance(body, Path):
            if self._send_file(body, mime, head=head):
                return
            body = None
        if body is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head=head)
            return
        self._send(HTTPStatus.OK, body, mime, head=head)

    def _host_allowed(self) -> bool:
        host, port = self.server.server_address[:2]
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            return False
        if host in WILDCARD_ADDRESSES:
            return _is_address_literal(hosts[0], port)
        allowed = {f"{host}:{port}", f"localhost:{port}"} if host in ("127.0.0.1", "::1") else {f"{host}:{port}"}
        if host == "::1":
            allowed.add(f"[::1]:{port}")
        return hosts[0] in allowed

    def parse_request(self) -> bool:
        """http.server's parsing, and no HTTP/0.9: it answers a request of that version (``GET /path`` without a
        version, or ``HTTP/0.9``) with the bare body, no status line and no header — none of the security headers
        either. Such a request gets a 505 (as HTTP/1.0, with the headers)."""
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, URI too long, too many headers, unknown method) as plain
        text with the security headers, like every other response (its default is an HTML page without them)."""
        if getattr(self, "request_version", "") == "HTTP/0.9":  # else no status line and no header is sent
            self.request_version = "HTTP/1.0"
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        status = HTTPStatus(code)
        self._send(status, f"{status.phrase.lower()}\n".encode(), "text/plain; charset=utf-8",
                   head=self.command == "HEAD" or code < 200 or code in (204, 304),
                   extra={"Connection": "close"})

    def _lookup(self, route: str) -> tuple[bytes | Path | None, str]:
        site: Site = self.server.site  # type: ignore[attr-defined]
        if route in ("/", "/index.html"):
            return _read(STATIC_DIR / "index.html", STATIC_DIR), MIME_TYPES[".html"]
        if route == f"/verifier/{VERIFIER_ZIP_NAME}":
            return site.verifier.data, MIME_TYPES[".zip"]
        if route == f"/verifier/{generators.FILE_NAME}":
            return site.generators, MIME_TYPES[".bin"]
        if route == "/epochs/index.json":
            return site.index_json(), MIME_TYPES[".json"]
        for prefix, root in (("/static/", STATIC_DIR), ("/pyodide/", site.pyodide), ("/epochs/", site.epochs)):
            if not route.startswith(prefix):
                continue
            relative = _safe_relative(route[len(prefix):])
            if relative is None:
                return None, ""
            name = relative.rsplit("/", 1)[-1]
            if prefix == "/pyodide/" and relative not in PYODIDE_FILES:
                return None, ""
            if prefix == "/epochs/" and (PUBLIC_FILE.match(name) is None or relative.count("/") > 1
                                         or PRIVATE_FOLDER in relative.split("/")):
                return None, ""
            suffix = ".json" if name.endswith(".json") else Path(name).suffix
            if suffix not in MIME_TYPES:
                return None, ""
            found = _public_file(root / relative, root) if prefix == "/epochs/" else served_file(root / relative, root)
            return found, MIME_TYPES[suffix]
        return None, ""

    def _send(self, status: HTTPStatus, body: bytes, mime: str, *, head: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self._send_headers(status, len(body), mime, extra)
        if not head:
            self.wfile.write(body)

    def _send_headers(self, status: HTTPStatus, length: int, mime: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(length))
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_file(self, path: Path, mime: str, *, head: bool) -> bool:
        """Send a file in blocks (an epoch's audit file can be gigabytes, and any web page can make the browser
        ask for it: never held in memory whole); False if it cannot be opened."""
        try:
            handle = open(path, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            return False
        with handle:
            left = os.fstat(handle.fileno()).st_size
            self._send_headers(HTTPStatus.OK, left, mime)
            try:
                while left and not head:
                    block = handle.read(min(left, FILE_BLOCK))
                    if not block:  # the file shrank while being sent: the client sees a short body
                        break
                    self.wfile.write(block)
                    left -= len(block)
            except (ConnectionError, OSError):
                self.close_connection = True
        return True


def _read(path: Path, root: Path) -> bytes | None:
    """The file's bytes if it is a regular file inside ``root`` (symlinks resolved), else None."""
    found = served_file(path, root)
    try:
        return None if found is None else found.read_bytes()
    except OSError:
        return None


def served_file(path: Path, root: Path) -> Path | None:
    """The resolved path if it is a regular file inside ``root`` (symlinks resolved), else None (also when the path
    cannot even be looked at: a name too long for the file system, say)."""
    try:
        if not _inside(path, root) or not path.is_file():
            return None
        return path.resolve()
    except OSError:
        return None


def build_site(directory: Path, *, echo=None) -> Site:
    """What ``zkclear serve`` serves for ``directory``: vendors Pyodide and derives the generators file first if
    needed (see zkclear.web.assets and zkclear.web.generators)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("not a directory", path=str(directory))
    _refuse_private(directory.resolve())
    return Site(directory.resolve(), ensure_pyodide(echo=echo), verifier_zip(), generators.ensure_file(cache_root()))


def _refuse_private(directory: Path) -> None:
    """InputError if ``directory`` is a deployment or sits in a deployment's private folder."""
    if (directory / DEPLOYMENT_MARKER).exists():
        raise InputError("this is a deployment directory (it holds operator.secret): serve its epochs/ folder",
                         path=str(directory))
    for folder in (directory, *directory.parents):
        if folder.name == PRIVATE_FOLDER and (folder.parent / DEPLOYMENT_MARKER).exists():
            raise InputError("this is inside a deployment's private folder (receipts, participant files): serve "
                             "the deployment's epochs/ folder", path=str(directory))


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _check_host(host: str) -> None:
    """ConfigurationError for an empty ``--host``: the socket layer reads it as every interface (0.0.0.0), so an
    unset variable in ``--host "$HOST"`` would serve the LAN without a word; every interface is asked for by name."""
    if not host.strip():
        raise ConfigurationError("--host is empty: give the address to listen on (127.0.0.1 for this machine only; "
                                 "0.0.0.0 or :: for every interface)")


def make_server(site: Site, host: str = "127.0.0.1", port: int = 8737) -> ThreadingHTTPServer:
    """A server for ``site`` bound to (host, port), not yet running (port 0: any free port; an IPv6 address such as
    ``::1`` binds an IPv6 socket)."""
    _check_host(host)
    try:
        server = (_IPv6Server if ":" in host else ThreadingHTTPServer)((host, port), Handler)
    except OSError as exc:  # port taken, address not local, no permission: one line, exit 1
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    server.site = site  # type: ignore[attr-defined]
    server.daemon_threads = True
    return server


def _is_address_literal(host_header: str, port: int) -> bool:
    """Whether a Host header is ``ADDRESS:PORT`` with an IP address literal (``[...]`` for IPv6) or ``localhost``, and
    this server's port. A server bound to every interface is reached at whichever of its addresses the client picked;
    a DNS-rebinding page can only send its own host *name*, never an address literal, so accepting literals keeps
    the guard."""
    name, separator, port_text = host_header.rpartition(":")
    if not separator or port_text != str(port):
        return False
    if name == "localhost":
        return True
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
        versions = (6,)
    else:
        versions = (4,)
    try:
        return ipaddress.ip_address(name).version in versions and "%" not in name
    except ValueError:
        return False


def serve(directory: Path, host: str, port: int, echo) -> None:
    """Run the server until interrupted, printing where it listens and what it serves."""
    _check_host(host)  # before Pyodide is fetched
    site = build_site(directory, echo=echo)
    server = make_server(site, host, port)
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    epochs = [entry["epoch"] for entry in site.epoch_index()]
    echo(f"serving the verification page at http://{shown}:{bound_port}/")
    echo(f"  epochs {epochs or 'none'} from {site.epochs} (public files only: receipts are never served)")
    echo(f"  verifier: {VERIFIER_ZIP_NAME} ({site.verifier.files} files, sha256 {site.verifier.sha256})")
    echo("  press Ctrl-C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
