"""Streamed examples replayed paced, with the upstream nowhere: both paths, HTTP/1.1 and 2."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from recorder.cli import main

pytestmark = pytest.mark.mitmproxy_api

SSE = [(0, b'data: {"token": "Hel"}\n\n'), (200, b'data: {"token": "lo"}\n\n'),
       (400, b'data: {"token": "{{$queryParams \'who\'}}"}\n\n'), (650, b"data: [DONE]\n\n")]
NDJSON = [(0, b'{"row": 1}\n'), (150, b'{"row": 2}\n'), (300, b'{"row": 3}\n'),
          (450, b'{"row": 4}\n')]
DEAD = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_streams(tmp_path_factory.mktemp("streams") / "data")


def make_streams(data: Path) -> Path:
    """The collection `live`: /sse (--sse, with a template), /ndjson (the admin API's
    document), /plain (not streamed)."""
    events = data.parent / "events.txt"
    events.write_text("".join(f"{at} {part.decode().rstrip()}\n" for at, part in SSE))
    assert main(["--data-dir", str(data), "example", "add", "--collection", "live", "GET",
                 "/sse", "--sse", str(events)]) == 0
    assert main(["--data-dir", str(data), "example", "add", "--collection", "live", "GET",
                 "/plain", "--body", "whole"]) == 0
    from recorder.promote.examples import add_example_document
    from recorder.store.collection_store import CollectionStore
    add_example_document(CollectionStore(data), "live", {
        "request": {"method": "GET", "url": "/ndjson"},
        "response": {"status": 200, "headers": ["Content-Type: application/x-ndjson"],
                     "stream": {"parts": [{"offset": at, "data": part.decode()}
                                          for at, part in NDJSON]}}})
    return data


def read_stream(url: str, raw: bytes) -> tuple[bytes, list[tuple[float, bytes]], bool]:
    """The head, each chunk's data with when it came (s after the head), and whether
    the stream ended with its last chunk (else the connection closed mid-body)."""
    host, port = re.match(r"http://([^:]+):(\d+)", url).groups()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        start, parts = time.monotonic(), []
        if b"chunked" not in head:  # a whole body
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(buffer) < length:
                buffer += sock.recv(65536)
            return head, [(0.0, buffer)], True
        while True:
            while not re.match(rb"[0-9a-f]+\r\n", buffer) or len(buffer) < _chunk_end(buffer):
                more = sock.recv(65536)
                if not more:
                    return head, parts, False
                buffer += more
            size_line, _, rest = buffer.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                return head, parts, True
            parts.append((time.monotonic() - start, rest[:size]))
            buffer = rest[size + 2:]


def _chunk_end(buffer: bytes) -> int:
    size_line = buffer.split(b"\r\n", 1)[0]
    return len(size_line) + 2 + int(size_line, 16) + 2


def ask(path: str, extra: bytes = b"") -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path.encode(), extra)


@pytest.fixture(params=["fast", "mitmproxy"])
def mock(request, data, start_proxy):
    extra = ("--set", "mockrec_fast_replay=false") if request.param == "mitmproxy" else ()
    return start_proxy("live", "--upstream", DEAD, *extra, data_dir=data, command="replay")


@pytest.mark.parametrize("path, pieces", [("/sse?who=Ada", SSE), ("/ndjson", NDJSON)])
def test_parts_come_back_byte_for_byte_at_their_offsets(mock, path, pieces):
    read_stream(mock.url, ask("/plain"))  # not streamed
    head, parts, ended = read_stream(mock.url, ask(path))
    assert ended and head.startswith(b"HTTP/1.1 200 OK") and b"Transfer-Encoding: chunked" in head
    body = b"".join(part for _, part in parts)
    assert body == b"".join(part for _, part in pieces).replace(b"{{$queryParams 'who'}}",
                                                                 b"Ada")
    assert len(parts) == len(pieces)
    for (at, _), (offset, _) in zip(parts, pieces, strict=True):
        assert abs(at - offset / 1000) < 0.05, [round(a, 3) for a, _ in parts]


def test_stream_speed_zero_sends_everything_at_once(data, start_proxy):
    proxy = start_proxy("live", "--upstream", DEAD, "--stream-speed", "0", data_dir=data,
                        command="replay")
    started = time.monotonic()
    _, parts, ended = read_stream(proxy.url, ask("/sse?who=x"))
    assert ended and len(parts) >= 1 and time.monotonic() - started < 0.3
    fast = start_proxy("live", "--upstream", DEAD, "--stream-speed", "2", data_dir=data,
                       command="replay")
    _, parts, _ = read_stream(fast.url, ask("/ndjson"))
    assert abs(parts[-1][0] - 0.225) < 0.05


def test_cut_ends_the_stream_after_n_parts_and_the_call_log_keeps_it_as_served(mock, cli):
    shown = cli("calls", "--json", data_dir=mock.data_dir)  # the module's proxies share it
    seen = {c["id"] for c in json.loads(shown.stdout)} if shown.exit_code == 0 else set()
    head, parts, ended = read_stream(mock.url, ask("/sse", b"x-mock-response-fault: cut:2\r\n"))
    assert not ended and [part for _, part in parts] == [SSE[0][1], SSE[1][1]]
    deadline = time.monotonic() + 5
    while True:
        shown = cli("calls", "--json", data_dir=mock.data_dir)
        calls = [c for c in (json.loads(shown.stdout) if shown.exit_code == 0 else [])
                 if c["fault"] == "cut:2" and c["id"] not in seen]
        if calls or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    detail = json.loads(cli("calls", "show", str(calls[0]["id"]), "--json",
                            data_dir=mock.data_dir).stdout)
    stream = detail["response"]["stream"]
    assert stream["cut"] is True and [e["data"] for e in stream["events"]] == [
        SSE[0][1].decode(), SSE[1][1].decode()]
    assert detail["notes"]["fault"] == "cut:2"


def new_call(cli, data_dir: Path, seen: set, fault: str | None = None) -> dict:
    """The first call of the log that is not in `seen`, in detail (the writer may take
    a moment)."""
    deadline = time.monotonic() + 5
    while True:
        shown = cli("calls", "--json", data_dir=data_dir)
        calls = [c for c in (json.loads(shown.stdout) if shown.exit_code == 0 else [])
                 if c["id"] not in seen and c["fault"] == fault]
        if calls or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert calls, "no new call in the call log"
    return json.loads(cli("calls", "show", str(calls[0]["id"]), "--json",
                          data_dir=data_dir).stdout)


def hang_up_after_the_first_event(url: str, tls: bool = False) -> None:
    """Ask for /sse (inside a forward proxy's CONNECT tunnel over TLS with `tls`), then
    hang up once the first event came; the others were due at 200, 400 and 650 ms."""
    import ssl
    host, port = re.match(r"http://([^:]+):(\d+)", url).groups()
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        sock = raw
        if tls:
            raw.sendall(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n")
            assert raw.recv(65536).startswith(b"HTTP/1.1 200")
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.set_alpn_protocols(["http/1.1"])
            sock = context.wrap_socket(raw, server_hostname="api.test")
        sock.sendall(ask("/sse?who=gone"))
        got = b""
        while SSE[0][1] not in got:
            got += sock.recv(65536)
        sock.close()  # a TLS socket is not the raw one `with` closes
    time.sleep(0.9)


def test_a_client_that_hangs_up_mid_stream_is_logged_as_cut_with_what_was_sent(mock, cli):
    shown = cli("calls", "--json", data_dir=mock.data_dir)  # the module's proxies share it
    seen = {c["id"] for c in json.loads(shown.stdout)} if shown.exit_code == 0 else set()
    hang_up_after_the_first_event(mock.url)
    stream = new_call(cli, mock.data_dir, seen)["response"]["stream"]
    events = [e["data"] for e in stream["events"]]
    assert stream["cut"] is True, events
    assert events[0] == SSE[0][1].decode() and SSE[3][1].decode() not in events


def test_inside_tls_a_client_that_hangs_up_mid_stream_is_logged_as_cut(data, start_proxy,
                                                                          cli):
    """Inside TLS the fast layer sends each part itself (through the TLS layer)."""
    proxy = start_proxy("live", "--forward", data_dir=data, command="replay")
    shown = cli("calls", "--json", data_dir=proxy.data_dir)
    seen = {c["id"] for c in json.loads(shown.stdout)} if shown.exit_code == 0 else set()
    hang_up_after_the_first_event(proxy.url, tls=True)
    stream = new_call(cli, proxy.data_dir, seen)["response"]["stream"]
    events = [e["data"] for e in stream["events"]]
    assert stream["cut"] is True, events
    assert events[0] == SSE[0][1].decode() and SSE[3][1].decode() not in events


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_http2_gets_data_frames_at_their_offsets(data, start_proxy, confdir):
    proxy = start_proxy("live", "--forward", data_dir=data, command="replay")
    command = ["curl", "-sS", "-N", "--http2", "-x", proxy.url, "--cacert",
               str(confdir / "mitmproxy-ca-cert.pem"), "https://api.test/sse?who=h2"]
    subprocess.run(command, capture_output=True, timeout=10)  # the proxy's first stream
    curl = subprocess.Popen(command, stdout=subprocess.PIPE)
    got, start = [], None
    while line := curl.stdout.readline():
        if line.startswith(b"data: "):
            start = start or time.monotonic()
            got.append((time.monotonic() - start, line))
    assert curl.wait(timeout=10) == 0
    assert [line for _, line in got][-1] == b"data: [DONE]\n"
    for (at, _), (offset, _) in zip(got, SSE, strict=True):
        assert abs(at - offset / 1000) < 0.05, got
