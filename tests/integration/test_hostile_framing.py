"""Malformed HTTP framing, to every kind of proxy (issue 26): a prompt 400 of mockrec's
own, nothing forwarded upstream, nothing stored as an upstream error."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from conftest import QuietHTTPServer, Upstream, wait_for_entries

from recorder.cli import main
from recorder.store.history import HistoryStore

PATHS = {"fast": (), "usual": ("--set", "mockrec_fast_replay=false")}

MALFORMED = {
    "CL+TE": b"POST /echo HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE+TE": b"POST /echo HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n"
             b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    "CL,CL": b"POST /echo HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\n"
             b"Content-Length: 6\r\n\r\nhello!",
    "xff-in-a-name": b"GET /echo HTTP/1.1\r\nHost: api.test\r\nX-\xff: 1\r\n\r\n",
    "HTTP/9.9": b"GET /echo HTTP/9.9\r\nHost: api.test\r\n\r\n",
}


class CountingUpstream:
    """The conftest upstream, counting the requests that reach it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Counting(Upstream):
            def parse_request(self) -> bool:
                ok = super().parse_request()
                seen.append(self.requestline)
                return ok

        self.server = QuietHTTPServer(("127.0.0.1", 0), Counting)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def counting_upstream():
    upstream = CountingUpstream()
    yield upstream
    upstream.close()


@pytest.fixture
def data(tmp_path, monkeypatch, capsys):
    d = tmp_path / "data"
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(d))
    assert main(["example", "add", "--collection", "c", "GET", "/known", "--body", "ok"]) == 0
    capsys.readouterr()
    return d


def exchange(url: str, data: bytes, timeout: float = 10) -> tuple[bytes, float]:
    """Send raw bytes, read until the proxy closes (or `timeout`); the answer and how long
    it took."""
    parts = urlsplit(url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def status_of(answer: bytes) -> int | None:
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else None


PROXIES = {
    "record": ("record",),
    "spy-fast": ("proxy", "--mode", "spy", "--collection", "c", *PATHS["fast"]),
    "spy-usual": ("proxy", "--mode", "spy", "--collection", "c", *PATHS["usual"]),
    "replay-on-miss-record-fast": ("proxy", "--mode", "replay", "--on-miss", "record",
                                   "--collection", "c", *PATHS["fast"]),
}


@pytest.mark.parametrize("kind", PROXIES)
def test_malformed_framing_is_a_400_never_forwarded_nor_stored(data, start_proxy,
                                                               counting_upstream, kind):
    command, *args = PROXIES[kind]
    proxy = start_proxy("--upstream", counting_upstream.url, *args, data_dir=data,
                        command=command)
    for name, raw in MALFORMED.items():
        answer, took = exchange(proxy.url, raw)
        assert status_of(answer) == 400, (name, answer[:400])
        assert b"upstreamError" not in answer and b"://:0" not in answer, (name, answer)
        assert took < 5, (name, took)
    assert counting_upstream.seen == []
    # a good request still goes through, and is the only thing stored
    answer, _ = exchange(proxy.url, b"GET /echo?good=1 HTTP/1.1\r\nHost: api.test\r\n"
                                    b"Connection: close\r\n\r\n")
    assert status_of(answer) == 200 and counting_upstream.seen == ["GET /echo?good=1 HTTP/1.1"]
    stored = wait_for_entries(HistoryStore(data), 2, timeout=2)
    assert [e.request.path_and_query for e in stored] == ["/echo?good=1"], [
        (e.request.url, e.error) for e in stored]
