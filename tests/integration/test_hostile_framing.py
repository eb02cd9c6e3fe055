"""Malformed HTTP framing, to every kind of proxy (issue 26): a prompt 400 of mockrec's
own, nothing forwarded upstream, nothing stored as an upstream error."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from conftest import QuietHTTPServer, Upstream, wait_for_entries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    wait_for_entries(HistoryStore(data), 1, timeout=15)  # the writer may be slow under load
    stored = wait_for_entries(HistoryStore(data), 2, timeout=1)  # and nothing after it
    assert [e.request.path_and_query for e in stored] == ["/echo?good=1"], [
        (e.request.url, e.error) for e in stored]


# -- limits on the fast path, and requests that got no answer at all ---------------------

def replay(start_proxy, data, path, *args):
    """A replay proxy on a mock URL (a reverse proxy: the fast path's usual case; it never
    asks the upstream, which is not there)."""
    return start_proxy("c", "--upstream", "http://127.0.0.1:9", *PATHS[path], *args,
                       data_dir=data, command="replay")


@pytest.mark.parametrize("path", PATHS)
def test_body_limit_is_honoured_on_both_paths(data, start_proxy, path):
    proxy = replay(start_proxy, data, path, "--body-limit", "10")
    small, _ = exchange(proxy.url, b"POST /known HTTP/1.1\r\nHost: api.test\r\n"
                                   b"Content-Length: 5\r\nConnection: close\r\n\r\nhello")
    assert status_of(small) in (404, 405, 200), small[:300]  # under the limit: served
    big, _ = exchange(proxy.url, b"POST /known HTTP/1.1\r\nHost: api.test\r\nContent-Length: "
                                 b"100\r\nConnection: close\r\n\r\n" + b"x" * 100)
    assert status_of(big) == 413 and b"payloadTooLargeError" in big, big[:300]


def send_expecting(url: str, head: bytes, body: bytes) -> bytes:
    """As curl does: the head with Expect: 100-continue, the body once 100 came (or
    after a second), then whatever comes back until the proxy closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(1)
        answer = b""
        with contextlib.suppress(TimeoutError):
            answer = sock.recv(65536)
        sock.settimeout(10)
        if not answer.startswith(b"HTTP/1.1 4"):
            with contextlib.suppress(OSError):
                sock.sendall(body)
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                return answer + b"<reset>"
            if not chunk:
                return answer
            answer += chunk


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_an_oversized_upload_with_expect_100_continue_gets_a_413(data, start_proxy, path,
                                                                 framing):
    proxy = replay(start_proxy, data, path, "--body-limit", "1000")
    payload = b"x" * 20_000
    if framing == "chunked":
        head = (b"POST /known HTTP/1.1\r\nHost: api.test\r\nExpect: 100-continue\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        body = b"".join(b"%x\r\n%s\r\n" % (1000, payload[i:i + 1000])
                        for i in range(0, len(payload), 1000)) + b"0\r\n\r\n"
    else:
        head = (b"POST /known HTTP/1.1\r\nHost: api.test\r\nExpect: 100-continue\r\n"
                b"Content-Length: %d\r\n\r\n" % len(payload))
        body = payload
    answer = send_expecting(proxy.url, head, body)
    final = answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert final.startswith(b"HTTP/1.1 413 ") and b"payloadTooLargeError" in final, answer[:500]


CHUNKED = b"POST /known HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("path", PATHS)
def test_bad_chunks_and_http2_prior_knowledge_get_a_prompt_answer(data, start_proxy, path):
    proxy = replay(start_proxy, data, path)
    for name, raw, expected in [
            ("bad chunk size", CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n", {400}),
            ("chunk too short", CHUNKED + b"5\r\nhel\r\n0\r\n\r\n", {400}),
            # trailers are HTTP, which mitmproxy does not take: answered, or refused
            ("trailers", CHUNKED + b"5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n",
             {400, 404, 405, 200}),
    ]:
        answer, took = exchange(proxy.url, raw, timeout=5)
        assert status_of(answer) in expected, (name, answer[:300])
        assert answer.count(b"HTTP/1.1 ") == 1, (name, answer)  # one answer, no more
        assert took < 2, (name, took)
    # HTTP/2 with prior knowledge (no TLS, no Upgrade): answered in HTTP/2, or refused
    # with a GOAWAY frame or an HTTP/1 400 or 505; never a silent close
    # (an HTTP/2 server then keeps the connection open for requests: read the first bytes)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    parts = urlsplit(proxy.url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(preface)
        answer = sock.recv(65536)
    took = time.monotonic() - started
    goaway_or_settings = len(answer) >= 9 and answer[3] in (0x04, 0x07)
    assert status_of(answer) in (400, 505) or goaway_or_settings, answer[:300]
    assert took < 5


@pytest.mark.parametrize("path", PATHS)
def test_a_404_echoes_a_bounded_part_of_a_huge_path(data, start_proxy, path):
    proxy = replay(start_proxy, data, path)
    target = b"/" + b"a" * (1024 * 1024)
    answer, _ = exchange(proxy.url, b"GET " + target + b" HTTP/1.1\r\nHost: api.test\r\n"
                                                        b"Connection: close\r\n\r\n", timeout=30)
    assert status_of(answer) in (404, 414, 431), answer[:300]
    assert len(answer) < 64 * 1024, len(answer)


# -- fuzzing: the admin API on both replay paths, framing to record and spy ---------------

JSON_LEAF = st.one_of(
    st.sampled_from([b"1e999", b"-1e999", b"NaN", b"Infinity", b"1" + b"0" * 5000, b"-1",
                     b"0", b"1.5", b"true", b"null", b'"spy"', b'"../../x"', b'"\\ud800"',
                     b'"a\\r\\nSet-Cookie: x=1"', b'"200"', b'"2xx"', b"[]", b"{}"]),
    st.integers(-2**70, 2**70).map(lambda n: str(n).encode()))


def nested(depth: int, leaf: bytes) -> bytes:
    return b"[" * depth + leaf + b"]" * depth


JSON_VALUE = st.one_of(JSON_LEAF, JSON_LEAF,
                       st.tuples(st.sampled_from([2, 100, 1000, 5000, 100_000]), JSON_LEAF)
                       .map(lambda t: nested(*t)))
FIELDS = st.sampled_from([b"limit", b"status", b"matched", b"method", b"path", b"explain",
                          b"headers", b"body_contains", b"mode", b"collection", b"request",
                          b"response", b"name"])
ADMIN_BODY = st.one_of(
    JSON_VALUE,
    st.dictionaries(FIELDS, JSON_VALUE, max_size=4).map(
        lambda d: b"{" + b", ".join(b'"' + k + b'": ' + v for k, v in d.items()) + b"}"),
    st.builds(lambda status, headers: b'{"request": {"method": "GET", "url": "/f"}, '
              b'"response": {"status": ' + status + b', "headers": ' + headers + b"}}",
              JSON_LEAF, JSON_VALUE),
    st.binary(max_size=60))
ADMIN_TARGET = st.sampled_from([(b"POST", b"calls/count"), (b"PUT", b"mode"),
                                (b"POST", b"examples"), (b"POST", b"reset"),
                                (b"DELETE", b"calls"), (b"DELETE", b"examples/1"),
                                (b"GET", b"calls?limit=1e999"), (b"GET", b"status")])
KINDS = st.sampled_from([b"application/json", b"application/json", b"text/plain", b""])


def raw_request(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]],
                body: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    lines = [method + b" " + target + b" " + version, b"Host: api.test", b"Connection: close",
             *(k + b": " + v for k, v in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.mark.parametrize("path", PATHS)
def test_fuzzed_admin_requests_get_a_4xx_or_2xx_never_a_500(data, start_proxy, path):
    proxy = replay(start_proxy, data, path)
    seen: dict[int | None, int] = {}

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(ADMIN_TARGET, KINDS, ADMIN_BODY)
    def check(target, kind, body):
        method, where = target
        headers = [(b"Content-Length", str(len(body)).encode())]
        if kind:
            headers.append((b"Content-Type", kind))
        target = b"/__mockrec/" + where
        answer, _ = exchange(proxy.url, raw_request(method, target, headers,
                                                    body), timeout=10)
        status = status_of(answer)
        seen[status] = seen.get(status, 0) + 1
        assert status is not None and status < 500, answer[:500]
        assert b"mockServerError" not in answer and b'"path": "/__mockrec' not in answer

    check()
    assert proxy.process.poll() is None
    assert "Traceback" not in proxy.log.read_text(errors="replace")
    assert {400, 415} <= set(seen), seen  # the fuzzing reached the checks


FRAMING_HEADER = st.sampled_from([
    (b"Content-Length", b"0"), (b"Content-Length", b"3"), (b"Content-Length", b"-1"),
    (b"Content-Length", b"3, 3"), (b"Content-Length", b"0x3"), (b"Content-Length", b" 3"),
    (b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"identity"),
    (b"Transfer-Encoding", b"gzip, chunked"), (b"Transfer-Encoding", b"chunked, gzip"),
    (b"Transfer-Encoding", b"xchunked"), (b"X-\xff", b"1"), (b"X Y", b"1"),
    (b"Expect", b"nothing-known"), (b"Host", b"other.test")])
FRAMING_BODY = st.sampled_from([b"", b"abc", b"3\r\nabc\r\n0\r\n\r\n", b"zz\r\n\r\n",
                                b"0\r\n\r\n"])
VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9.9", b"HTTP/1.2",
                            b"HTTP/2.0", b"http/1.1"])


@pytest.mark.parametrize("kind", ["record", "spy-fast", "spy-usual"])
def test_fuzzed_framing_to_record_and_spy_is_never_forwarded_as_an_upstream_error(
        data, start_proxy, counting_upstream, kind):
    command, *args = PROXIES[kind]
    proxy = start_proxy("--upstream", counting_upstream.url, *args, data_dir=data,
                        command=command)
    seen: dict[int | None, int] = {}

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(FRAMING_HEADER, min_size=1, max_size=3), FRAMING_BODY, VERSIONS)
    def check(headers, body, version):
        answer, _ = exchange(proxy.url, raw_request(b"POST", b"/echo", headers, body, version),
                             timeout=4)
        status = status_of(answer)
        seen[status] = seen.get(status, 0) + 1
        assert b"://:0" not in answer and b"mockServerError" not in answer, answer[:500]
        assert status != 500, answer[:500]

    check()
    stored = wait_for_entries(HistoryStore(data), 1000, timeout=1)
    assert not [e for e in stored if "://:0" in e.request.url or not e.request.host], [
        (e.request.url, e.error) for e in stored]
    assert proxy.process.poll() is None
    assert "Traceback" not in proxy.log.read_text(errors="replace")
    assert 400 in seen and len(seen) > 1, seen  # refused some, let others through
