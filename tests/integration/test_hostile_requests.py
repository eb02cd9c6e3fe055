"""Hostile requests to a running proxy (issue 12): the right status, never a 500 of ours,
keys never on a command line or in the call log, bounded bodies, bounded memory."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import wait_for_entries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder.cli import main
from recorder.store.history import HistoryStore

KEY = "mrk_s3cret-key-0123456789"
PATHS = {"fast": (), "usual": ("--set", "mockrec_fast_replay=false")}
TEMPLATE_BODY = ('{"id": "{{$headers \'X-Id\'}}", "q": "{{$queryParams \'q\'}}", '
                 '"b": "{{$body \'a\' \'none\'}}", "s": "{{$pathSegments \'0\'}}", '
                 '"g": "{{$guid}}"}')


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def exchange(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes (the request says Connection: close), read until the proxy closes."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
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
    return b"".join(chunks)


def request(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]] = (),
            body: bytes = b"") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: api.test", b"Connection: close",
             b"Content-Length: " + str(len(body)).encode()]
    lines += [k + b": " + v for k, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


@pytest.fixture
def data(tmp_path, monkeypatch, capsys):
    d = tmp_path / "data"
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(d))
    for args in (["GET", "/echo", "--body", TEMPLATE_BODY],
                 ["POST", "/echo", "--body", TEMPLATE_BODY],
                 ["POST", "/deep", "--body", '{"ok": true}'],
                 ["GET", "/users/{{userId}}", "--body", '{"id": "{{userId}}"}']):
        assert main(["example", "add", "--collection", "c", *args]) == 0
    (tmp_path / "key").write_text(KEY + "\n")
    capsys.readouterr()
    return d


def no_trace_of_ours(proxy) -> None:
    assert proxy.process.poll() is None, proxy.log.read_text()
    text = proxy.log.read_text(errors="replace")
    assert "Traceback" not in text and "mockServerError" not in text, text[-3000:]


@pytest.mark.parametrize("path", PATHS)
def test_a_raw_byte_in_an_echoed_header_is_echoed(data, start_proxy, path):
    proxy = start_proxy("c", *PATHS[path], data_dir=data, command="replay")
    answer = exchange(proxy.url, request(b"GET", b"/echo?q=%FF", [(b"X-Id", b"a\xffb")]))
    assert status_of(answer) == 200, answer[:300]
    assert b'"id": "a\xffb"' in answer  # the bytes the client sent, back as sent
    no_trace_of_ours(proxy)


@pytest.mark.parametrize("path", PATHS)
def test_a_raw_byte_in_the_api_key_is_a_401(data, start_proxy, tmp_path, path):
    proxy = start_proxy("c", "--api-key-file", str(tmp_path / "key"), *PATHS[path],
                        data_dir=data, command="replay")
    for key in (b"\xff", b"mrk_\xff\xfe", KEY.encode() + b"\xff"):
        answer = exchange(proxy.url, request(b"GET", b"/echo", [(b"x-api-key", key)]))
        assert status_of(answer) == 401 and b"authenticationError" in answer
    answer = exchange(proxy.url, request(b"GET", b"/echo", [(b"x-api-key", KEY.encode())]))
    assert status_of(answer) == 200
    no_trace_of_ours(proxy)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("match_body", [False, True])
def test_a_deeply_nested_json_body_is_answered(data, start_proxy, path, match_body):
    proxy = start_proxy("c", *PATHS[path], *(["--match-body"] if match_body else []),
                        data_dir=data, command="replay")
    deep = b"[" * 200_000 + b"]" * 200_000  # 400 KB
    for target in (b"/deep", b"/echo"):
        answer = exchange(proxy.url, request(b"POST", target,
                                             [(b"Content-Type", b"application/json")], deep))
        assert status_of(answer) == (404 if match_body else 200), answer[:500]
    no_trace_of_ours(proxy)


# -- fuzzing: both paths, templates, a private key, body matching ------------------------

TOKEN = st.binary(min_size=1, max_size=12)
NAMED = st.sampled_from([b"X-Id", b"x-api-key", b"Content-Type", b"Origin",
                         b"Access-Control-Request-Method", b"Access-Control-Request-Headers",
                         b"x-mock-response-code", b"x-mock-response-id",
                         b"x-mock-response-name", b"x-mock-response-delay",
                         b"x-mock-match-request-body", b"x-mock-match-request-headers",
                         b"Cookie", b"Authorization"])
HEADER_NAME = st.one_of(NAMED, NAMED, NAMED, TOKEN)
HOSTILE = st.sampled_from([b"\xff", b"a\xffb", b"\xc3(", b"\xed\xa0\x80", b"\x00", b"\x7f",
                           b"%ff", b"{{$guid}}", b"' '", b"-1", b"99999999999999999999"])
USEFUL = st.sampled_from([KEY.encode(), b"application/json",
                          b"application/x-www-form-urlencoded", b"true", b"GET", b"200",
                          b"1", b"2", b"0", b"x-id"])
HEADER_VALUE = st.one_of(HOSTILE, HOSTILE, USEFUL, st.binary(max_size=40))
# Framing headers would make the proxy wait for bytes that never come.
FRAMING = {b"content-length", b"transfer-encoding", b"expect", b"connection", b"upgrade"}
KNOWN = st.sampled_from([(b"GET", b"/echo"), (b"POST", b"/echo"), (b"POST", b"/deep"),
                         (b"GET", b"/users/7"), (b"GET", b"/echo?q=1&q=%ff"),
                         (b"OPTIONS", b"/echo"), (b"HEAD", b"/echo")])
ANY = st.tuples(st.one_of(st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE"]), TOKEN),
                st.binary(max_size=40).map(lambda b: b"/" + b))
# Mostly requests that reach an example (so templates, keys and body matching run on
# hostile bytes), some with any method and target at all.
REQUESTS = st.tuples(
    st.one_of(KNOWN, KNOWN, KNOWN, ANY),
    st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=6).map(
        lambda hs: [(k, v) for k, v in hs if k.strip().lower() not in FRAMING]),
    st.one_of(st.binary(max_size=200), st.sampled_from(
        [b'{"a": 1}', b'{"a": "\\ud800"}', b"[" * 5000 + b"]" * 5000, b"a=1&a=\xff",
         b'{"a": {"b": [1, 2]}}', b'{"a": "\xff"}'])),
)


@pytest.mark.parametrize("path", PATHS)
def test_fuzzed_requests_never_get_a_500(data, start_proxy, tmp_path, path):
    proxies = [
        start_proxy("c", *PATHS[path], data_dir=data, command="replay"),
        start_proxy("c", "--api-key-file", str(tmp_path / "key"), "--match-body",
                    "--match-headers", "x-id", *PATHS[path], data_dir=data, command="replay"),
    ]
    seen: dict[int | None, int] = {}

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(REQUESTS, st.integers(0, len(proxies) - 1))
    def check(parts, which):
        (method, target), headers, body = parts
        answer = exchange(proxies[which].url, request(method, target, headers, body), 5)
        status = status_of(answer)
        seen[status] = seen.get(status, 0) + 1
        assert status != 500 and b"mockServerError" not in answer, answer[:500]

    check()
    for proxy in proxies:
        no_trace_of_ours(proxy)
    assert {200, 401, 404} <= set(seen), seen  # the fuzzing reached the examples


# -- keys -------------------------------------------------------------------------------

def command_lines(pid: int) -> list[bytes]:
    """The command lines of a process and all its descendants, as `ps` shows them."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            found.append(Path(f"/proc/{current}/cmdline").read_bytes())
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return found


def wait_for_calls(data, mock: str, count: int, timeout: float = 10.0) -> list:
    log = HistoryStore(data, f"calls/{mock}")
    deadline = time.monotonic() + timeout
    while log.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(log.entries(with_bodies=True, newest_first=False))


@pytest.mark.parametrize("how", ["file", "env"])
def test_a_key_is_never_on_a_command_line_nor_in_the_call_log(data, start_proxy, tmp_path,
                                                              monkeypatch, capsys, how):
    if how == "file":
        proxy = start_proxy("c", "--api-key-file", str(tmp_path / "key"), data_dir=data,
                            command="replay")
    else:
        monkeypatch.setenv("MOCKREC_API_KEY", KEY)
        proxy = start_proxy("c", data_dir=data, command="replay")
    good = request(b"GET", b"/echo?api_key=qs-secret-1", [(b"x-api-key", KEY.encode()),
                                                       (b"Authorization", b"Bearer tok-42")])
    assert status_of(exchange(proxy.url, good)) == 200
    bad = request(b"GET", b"/echo", [(b"x-api-key", b"a-wrong-guess-123")])
    assert status_of(exchange(proxy.url, bad)) == 401
    lines = command_lines(proxy.process.pid)
    assert len(lines) >= 2  # the proxy and its call log writer
    assert not any(KEY.encode() in line for line in lines)
    calls = wait_for_calls(data, "c", 2)
    assert len(calls) == 2
    stored = b"".join(p.read_bytes() for p in (data / "calls").rglob("*") if p.is_file())
    assert KEY.encode() not in stored and b"a-wrong-guess-123" not in stored
    keys = [v for c in calls for k, v in c.request.headers if k.lower() == "x-api-key"]
    assert keys[0].startswith("[redacted sha256:") and keys[0] != keys[1]
    # A key sent the other ways (a bearer token, ?api_key=) is kept the same way (issue 26)
    assert b"tok-42" not in stored and b"qs-secret-1" not in stored
    assert dict(calls[0].request.headers)["Authorization"].startswith(
        "Bearer [redacted sha256:")
    assert "api_key=[redacted%20sha256:" in calls[0].request.url
    for args in (["calls", "c"], ["calls", "show", str(calls[0].id)],
                 ["calls", "show", str(calls[0].id), "--json"]):
        assert main(args) == 0
        out = capsys.readouterr().out
        assert KEY not in out and "a-wrong-guess" not in out
        assert "tok-42" not in out and "qs-secret-1" not in out
    # nor in the calls the admin API shows
    shown = exchange(proxy.url, request(b"GET", b"http://mockrec.admin/__mockrec/calls",
                                        [(b"x-api-key", KEY.encode())]))
    assert status_of(shown) == 200 and b"sha256" in shown
    assert b"tok-42" not in shown and b"qs-secret-1" not in shown


@pytest.mark.parametrize("path", PATHS)
def test_spy_never_forwards_nor_records_the_private_mocks_own_key(data, start_proxy, tmp_path,
                                                                  upstream, path):
    proxy = start_proxy("--mode", "spy", "--collection", "c", "--upstream", upstream.url,
                        "--api-key-file", str(tmp_path / "key"), *PATHS[path],
                        data_dir=data, command="proxy")
    miss = request(b"GET", b"/spied?page=1", [(b"x-api-key", KEY.encode()),
                                             (b"X-Trace", b"t-1")])
    answer = exchange(proxy.url, miss)
    assert status_of(answer) == 200 and b'"/spied"' in answer, answer[:300]  # forwarded
    assert b"t-1" in answer and KEY.encode() not in answer  # the upstream never saw it
    (entry,) = wait_for_entries(HistoryStore(data), 1)
    assert entry.request.path == "/spied"
    stored = b"".join(p.read_bytes() for p in (data / "history").rglob("*") if p.is_file())
    assert b"t-1" in stored and KEY.encode() not in stored
    no_trace_of_ours(proxy)


def test_redact_calls_stores_promotes_placeholders(data, start_proxy, capsys):
    assert main(["mock", "create", "m", "--collection", "c", "--redact-calls"]) == 0
    proxy = start_proxy("m", data_dir=data, command="replay")
    good = request(b"GET", b"/echo?api_key=qs-secret-1&page=2",
                   [(b"Authorization", b"Bearer tok-42"), (b"Cookie", b"sid=abc123")])
    assert status_of(exchange(proxy.url, good)) == 200
    (call,) = wait_for_calls(data, "m", 1)
    assert call.request.url.endswith("/echo?api_key={{REDACTED}}&page=2")
    assert ("Authorization", "Bearer {{REDACTED}}") in call.request.headers
    assert ("Cookie", "sid={{REDACTED}}") in call.request.headers


def test_the_call_log_keeps_max_body_bytes(data, start_proxy):
    proxy = start_proxy("c", "--max-body", "1k", data_dir=data, command="replay")
    body = b'{"a": "' + b"x" * 5000 + b'"}'
    answer = exchange(proxy.url, request(b"POST", b"/echo",
                                         [(b"Content-Type", b"application/json")], body))
    assert status_of(answer) == 200 and b"x" * 5000 in answer  # the answer is whole
    (call,) = wait_for_calls(data, "c", 1)
    assert call.request.body == body[:1024]
    assert call.notes["truncated"]["request"] == len(body)
    assert call.notes["truncated"]["response"] > 1024


# -- big bodies ---------------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def send_chunked(url: str, target: bytes, total: int, peak: list[int], pid: int) -> bytes:
    """POST `total` bytes in 64 KB chunks; notes the proxy's RSS as it goes."""
    chunk = os.urandom(65536)
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    with socket.create_connection(address(url), timeout=30) as sock:
        sock.sendall(b"POST " + target + b" HTTP/1.1\r\nHost: api.test\r\n"
                     b"Content-Type: application/octet-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        answer = bytearray()
        done = threading.Event()

        def read() -> None:
            while True:
                try:
                    got = sock.recv(65536)
                except OSError:
                    break
                if not got:
                    break
                answer.extend(got)
            done.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        sent = 0
        try:
            while sent < total and not done.is_set():
                sock.sendall(framed)
                sent += len(chunk)
                if sent % (4 * 2**20) == 0:
                    peak.append(rss_kb(pid))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the proxy answered and closed: it need not read the rest
        done.wait(30)
    return bytes(answer)


@pytest.mark.parametrize("path", PATHS)
def test_a_huge_chunked_upload_to_replay_is_a_413_in_flat_memory(data, start_proxy, path):
    proxy = start_proxy("c", "--body-limit", "8m", *PATHS[path], data_dir=data,
                        command="replay")
    assert status_of(exchange(proxy.url, request(b"GET", b"/echo"))) == 200
    before = rss_kb(proxy.process.pid)
    peak = [before]
    answer = send_chunked(proxy.url, b"/echo", 64 * 2**20, peak, proxy.process.pid)
    peak.append(rss_kb(proxy.process.pid))
    assert status_of(answer) == 413, answer[:300]
    assert b"payloadTooLargeError" in answer
    assert max(peak) - before < 32 * 1024, (before, peak)  # KB: far below the 64 MB sent
    assert status_of(exchange(proxy.url, request(b"GET", b"/echo"))) == 200  # still serving
    no_trace_of_ours(proxy)


def test_a_huge_upload_is_streamed_through_record_and_marked_truncated(start_proxy, upstream,
                                                                        tmp_path):
    proxy = start_proxy("--upstream", upstream.url, "--set", "mockrec_body_limit=8388608")
    size = 64 * 2**20
    before = rss_kb(proxy.process.pid)
    peak = [before]
    head = (b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
    chunk = os.urandom(2**20)
    with socket.create_connection(address(proxy.url), timeout=60) as sock:
        sock.sendall(head)
        for i in range(size // len(chunk)):
            sock.sendall(chunk)
            if i % 4 == 0:
                peak.append(rss_kb(proxy.process.pid))
        answer = b""
        while got := sock.recv(65536):
            answer += got
    assert status_of(answer) == 200
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["body_size"] == size  # passed whole
    assert max(peak) - before < 32 * 1024, (before, peak)
    (entry,) = wait_for_entries(proxy.store, 1)
    assert entry.notes["truncated"] == {"request": size}
    assert entry.request.body == b"" and entry.response.status == 200


def test_the_pytest_plugin_passes_a_key_in_the_environment(data, tmp_path, confdir):
    from recorder.pytest_plugin import MockrecProxy, ProxySpec

    proxy = MockrecProxy(ProxySpec("c", data, "replay", None, {"api_key": KEY}, confdir),
                         tmp_path)
    try:
        assert not any(KEY.encode() in line for line in command_lines(proxy.pid))
        assert status_of(exchange(proxy.url, request(b"GET", b"/echo"))) == 401
        answer = exchange(proxy.url, request(b"GET", b"/echo", [(b"x-api-key", KEY.encode())]))
        assert status_of(answer) == 200
    finally:
        proxy.stop()
