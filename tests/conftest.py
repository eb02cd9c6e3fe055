"""Shared fixtures: a real local upstream (HTTP and HTTPS) and a real `mockrec record`."""

from __future__ import annotations

import collections
import contextlib
import datetime
import fcntl
import functools
import gzip
import io
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import brotli
import pytest

from recorder.store.history import HistoryStore

# Real public collections, OpenAPI documents and a HAR file (fixtures/SOURCES.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes([x * 16 % 256, 0, 255 - x]) * 16 for x in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = tiny_png()
TEXT = ("The quick brown fox jumps over the lazy dog. " * 40).encode()
LATIN1 = "Grüße aus Köln, ça va très bien".encode("latin-1")


@functools.cache
def big_body() -> bytes:
    """20 MB of random bytes (/big), made the first time a test asks, not at import."""
    return os.urandom(20 * 1024 * 1024)


class Upstream(BaseHTTPRequestHandler):
    """Answers by path; /echo reflects the request so tests can compare bytes."""

    protocol_version = "HTTP/1.1"
    server_version = "upstream-test"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]],
              *, length: bool = True) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        url = urlsplit(self.path)
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        path = url.path
        if path.startswith("/slow"):
            time.sleep(float(dict(parse_qsl(url.query)).get("s", "3")))
        if path == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if path == "/png":
            return self._send(200, PNG, [("Content-Type", "image/png")])
        if path == "/empty":
            return self._send(204, b"", [], length=False)
        if path == "/gzip":
            return self._send(200, gzip.compress(TEXT), [("Content-Encoding", "gzip"),
                                                         ("Content-Type", "text/plain")])
        if path == "/br":
            return self._send(200, brotli.compress(TEXT), [("Content-Encoding", "br"),
                                                           ("Content-Type", "text/plain")])
        if path == "/deflate":
            return self._send(200, zlib.compress(TEXT), [("Content-Encoding", "deflate"),
                                                         ("Content-Type", "text/plain")])
        if path == "/latin1":
            return self._send(200, LATIN1, [("Content-Type", "text/plain; charset=iso-8859-1")])
        if path == "/big":
            return self._send(200, big_body(), [("Content-Type", "application/octet-stream")])
        if path == "/cookies":
            return self._send(200, b"ok", [("Set-Cookie", "a=1; Path=/"),
                                           ("Set-Cookie", "b=2; HttpOnly")])
        if path == "/headers":
            return self._send(200, b"{}", [("X-Zeta", "1"), ("x-MiXeD-Case", "Yes"),
                                           ("X-Alpha", "2"), ("X-Zeta", "3"),
                                           ("Content-Type", "application/json")])
        echo = json.dumps({
            "method": self.command, "path": url.path, "query": url.query,
            "headers": [list(h) for h in self.headers.items()],
            "body_size": len(body),
        }).encode()
        return self._send(200, echo, [("Content-Type", "application/json")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _route


class QuietHTTPServer(ThreadingHTTPServer):
    """A test server that never prints: a client that hangs up (the proxy cutting an
    exchange on purpose) would otherwise put a traceback on whichever test's stderr
    is being captured at that moment."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


class UpstreamServer:
    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self.server = QuietHTTPServer(("127.0.0.1", 0), Upstream)
        if tls_context:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls_context else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer()
    yield server
    server.close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "upstream.pem", directory / "upstream.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(directory: Path) -> ssl.SSLContext:
    """A TLS server context with a self-signed certificate written into `directory`."""
    cert, key = self_signed(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(scope="session")
def tls_upstream(tmp_path_factory) -> Iterator[UpstreamServer]:
    context = server_tls(tmp_path_factory.mktemp("tls"))
    server = UpstreamServer(context)
    yield server
    server.close()


def pytest_configure(config: pytest.Config) -> None:
    """Before any worker of `pytest -n` starts: a few integration tests start a proxy
    without a confdir of their own, so mitmproxy makes its CA in ~/.mitmproxy on first
    use; two workers doing that at once could each read the other's half-written file.
    Made here, once, by the process that starts the workers."""
    if hasattr(config, "workerinput"):
        return
    home = Path.home() / ".mitmproxy"
    if not (home / "mitmproxy-ca.pem").exists():
        from mitmproxy import certs

        certs.CertStore.from_store(home, "mitmproxy", 2048)


# -- wall-clock tests run alone under `pytest -n` ------------------------------------------

def _run_lock() -> Path | None:
    """One lock file for all the workers of this run (xdist names the run)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return Path(tempfile.gettempdir()) / f"mockrec-tests-{run}.lock" if run else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test marked wall_clock (it measures a delay or a deadline) takes the run's lock
    alone; every other test shares it. So under `pytest -n` no other worker's test eats
    the cores while one measures time, and the rest still run side by side."""
    path = _run_lock()
    if path is None:
        yield
        return
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if item.get_closest_marker("wall_clock")
                    else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# -- the unit tests' one rule: they start no process and listen on no socket ---------------

class StartsAProcessOrServer(AssertionError):
    pass


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise StartsAProcessOrServer(
            f"a unit test {what}: move it (or the half of its file that does) to "
            "tests/integration/")
    return refuse


# subprocess.Popen is behind subprocess.run, click.edit, the history writer process and
# mockrec(...); socket.listen behind every server, asyncio's included.
_UNIT_GUARDED = [
    (subprocess, "Popen", "starts a subprocess"),
    (os, "fork", "forks a process"),
    (os, "posix_spawn", "spawns a process"),
    (os, "posix_spawnp", "spawns a process"),
    (socket.socket, "listen", "listens on a socket"),
]
UNIT = Path(__file__).resolve().parent / "unit"


@contextlib.contextmanager
def _unit_guard(item: pytest.Item) -> Iterator[None]:
    if UNIT not in item.path.parents:
        yield
        return
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in _UNIT_GUARDED
             if hasattr(owner, name)]
    for owner, name, what in _UNIT_GUARDED:
        if hasattr(owner, name):
            setattr(owner, name, _refuse(what))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


# Hooks rather than an autouse fixture: a session fixture (the `upstream` server) that a
# unit test asks for is set up before any function fixture, and must fail the same way.
# Teardown is left free: a session fixture that an integration test made may be torn
# down after whichever test a worker of `pytest -n` runs last.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    with _unit_guard(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with _unit_guard(item):
        yield


BANNER = re.compile(r"mockrec \w+ on (http://[^ ]+)")


class RunningProxy:
    """`mockrec record` in a subprocess, listening on a port the OS picked."""

    def __init__(self, data_dir: Path, args: list[str], confdir: Path, command: str = "record"):
        self.data_dir = data_dir
        self.log = data_dir.parent / f"{data_dir.name}-{command}.log"
        env = {**os.environ, "MOCKREC_DATA_DIR": str(data_dir)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recorder", command, "--port", "0",
             "--set", f"confdir={confdir}", *args],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=env)
        # Ready when it says so: the deadline only bounds a proxy that never does (a
        # loaded machine can take tens of seconds to import mitmproxy).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            match = BANNER.search(self.log.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"mockrec {command} did not start:\n{self.log.read_text()}")

    @property
    def store(self) -> HistoryStore:
        return HistoryStore(self.data_dir)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def confdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mitmproxy-conf")


@pytest.fixture
def start_proxy(tmp_path, confdir):
    started: list[RunningProxy] = []

    def start(*args: str, data_dir: Path | None = None, command: str = "record") -> RunningProxy:
        proxy = RunningProxy(data_dir or tmp_path / f"data{len(started)}", list(args), confdir,
                             command)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        if proxy.process.poll() is None:
            proxy.process.kill()
            proxy.process.wait()


def wait_for_entries(store: HistoryStore, count: int, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        entries = list(store.entries(newest_first=False, with_bodies=True))
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


# -- a streaming upstream: SSE, NDJSON, chunks without a type, a feed that never ends ----

STREAMS = {  # path -> (content type, event maker)
    "/sse": ("text/event-stream", lambda i: b'data: {"i": %d, "token": "t%d"}\n\n' % (i, i)),
    "/ndjson": ("application/x-ndjson", lambda i: b'{"i": %d}\n' % i),
    "/chunks": ("application/octet-stream", lambda i: bytes([i]) * 7),
}


class StreamingUpstream(BaseHTTPRequestHandler):
    """`/sse`, `/ndjson`, `/chunks` send `n` parts `gap` ms apart, chunked (`?n=5&gap=300`);
    `/feed` sends an SSE event every `gap` ms until the client hangs up. Each part's send
    time (time.monotonic) goes into the server's `sent[path]` list."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        n, gap = int(query.get("n", "5")), float(query.get("gap", "300")) / 1000
        kind, make = STREAMS.get(url.path, STREAMS["/sse"])
        endless = url.path == "/feed"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        sent = self.server.sent.setdefault(url.path + "?" + url.query, [])
        i = 0
        try:
            while endless or i < n:
                if i:
                    time.sleep(gap)
                part = make(i)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                sent.append(time.monotonic())
                i += 1
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    do_POST = do_GET


class StreamingServer(UpstreamServer):
    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        self.server = QuietHTTPServer(("127.0.0.1", 0), StreamingUpstream)
        if tls_context:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.server.sent = {}
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls_context else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def sent(self) -> dict[str, list[float]]:
        return self.server.sent


@pytest.fixture(scope="session")
def stream_upstream() -> Iterator[StreamingServer]:
    server = StreamingServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls_stream_upstream(tmp_path_factory) -> Iterator[StreamingServer]:
    context = server_tls(tmp_path_factory.mktemp("tls-streams"))
    server = StreamingServer(context)
    yield server
    server.close()


# -- the command line, in-process (after httpie's `http()` test helper) ------------------

class _Output(io.TextIOWrapper):
    """A stdout/stderr that keeps the bytes written, as a terminal or as a pipe."""

    def __init__(self, tty: bool):
        super().__init__(io.BytesIO(), encoding="utf-8", errors="surrogateescape",
                         write_through=True)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def value(self) -> bytes:
        self.flush()
        return self.buffer.getvalue()


class _Input(io.StringIO):
    def __init__(self, text: str, tty: bool):
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@dataclass
class CLIResult:
    """What `mockrec ARGS` did: its exit code and its output, as bytes and as text."""

    exit_code: int
    stdout_bytes: bytes
    stderr: str
    args: list[str]

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def json(self):
        return json.loads(self.stdout)

    def __iter__(self):  # code, out, err = cli(...)
        return iter((self.exit_code, self.stdout, self.stderr))

    def __repr__(self) -> str:
        return (f"<mockrec {' '.join(self.args)}: exit {self.exit_code}, "
                f"stdout {self.stdout[:300]!r}, stderr {self.stderr[:300]!r}>")


def run_cli(*args: str, data_dir: Path | None = None, input: str = "", tty: bool = False,
            stdout_tty: bool = False) -> CLIResult:
    """Run `recorder.cli.main` in this process with its own stdin, stdout and stderr.

    data_dir: passed as `--data-dir`; input: what stdin holds; tty: stdin (and stderr)
    are a terminal; stdout_tty: stdout is a terminal (else a pipe, as `> file`).
    """
    from recorder.cli import main

    argv = [*(["--data-dir", str(data_dir)] if data_dir is not None else []), *map(str, args)]
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = _Output(stdout_tty), _Output(tty)
    sys.stdin, sys.stdout, sys.stderr = _Input(input, tty), out, err
    try:
        code = main(argv)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return CLIResult(code, out.value(), err.value().decode("utf-8", "replace"), argv)


@pytest.fixture
def cli():
    """`cli("history", "list", "--json").json`: the command line, in-process."""
    return run_cli


# -- big import files (tests of the import limits and of a full disk) ---------------------

def big_postman(items: int, body: str = "{}") -> dict:
    """A Postman collection of `items` requests (the import-limit tests)."""
    return {"info": {"name": "big"}, "item": [
        {"name": f"r{i}", "request": {"method": "GET", "url": f"/r/{i}"},
         "response": [{"name": "ok", "code": 200, "body": body}]} for i in range(items)]}


def big_har(entries: int, big_at: int | None = None, size: int = 300_000) -> dict:
    """A HAR file of `entries` 5 KB answers, one of `size` bytes at `big_at`."""
    def entry(i: int) -> dict:
        text = "x" * (size if i == big_at else 5000)  # bodies over 4 KB go to files
        return {"startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
                "request": {"method": "GET", "url": f"http://api.test/{i}",
                            "httpVersion": "HTTP/1.1", "headers": [], "queryString": [],
                            "cookies": [], "headersSize": -1, "bodySize": 0},
                "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                             "headers": [], "cookies": [], "redirectURL": "",
                             "headersSize": -1, "bodySize": len(text),
                             "content": {"size": len(text), "mimeType": "text/plain",
                                         "text": text}},
                "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}
    return {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
                    "entries": [entry(i) for i in range(entries)]}}


@contextlib.contextmanager
def calls_made(*functions: str) -> Iterator[collections.Counter]:
    """Count the calls of the Python functions named `functions` (a nested function's
    too) in this thread while the block runs: the work a bound promises counted, where a
    stopwatch would measure the machine's load as well."""
    counts: collections.Counter = collections.Counter()
    wanted = set(functions)

    def profile(frame, event, arg) -> None:
        if event == "call" and frame.f_code.co_name in wanted:
            counts[frame.f_code.co_name] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield counts
    finally:
        sys.setprofile(previous)
