"""`mockrec record` end to end: real mitmproxy, real local upstream, real clients."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import brotli
import httpx
import pytest
from conftest import LATIN1, PNG, TEXT, big_body, wait_for_entries

from recorder.store.history import HistoryStore

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


def raw_exchange(proxy_url: str, request: bytes) -> tuple[bytes, bytes]:
    """Send bytes exactly as written; return (head, body) of the answer (read to close)."""
    host, port = proxy_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


def header_pairs(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [tuple(part.strip() for part in line.split(":", 1)) for line in lines]


@pytest.fixture
def reverse(start_proxy, upstream):
    return start_proxy("--upstream", upstream.url)


def only_entry(proxy, count: int = 1):
    entries = wait_for_entries(proxy.store, count)
    assert len(entries) == count
    return entries[-1]


# -- fidelity: each row round-trips byte-exact ---------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("/png", PNG),
    ("/latin1", LATIN1),
    ("/gzip", gzip.compress(TEXT, mtime=0)),  # no timestamp: the same test id everywhere
    ("/br", brotli.compress(TEXT)),
    ("/deflate", zlib.compress(TEXT)),
], ids=["png", "latin1", "gzip", "br", "deflate"])
def test_response_bodies_are_stored_as_the_client_got_them(reverse, path, expected):
    with httpx.Client(base_url=reverse.url) as client, client.stream("GET", path) as r:
        got = b"".join(r.iter_raw())
    entry = only_entry(reverse)
    if path in ("/gzip", "/deflate"):  # compressors differ by timestamp: compare decoded
        assert zlib.decompress(got, 47) == TEXT
    elif path == "/br":
        assert brotli.decompress(got) == TEXT
    else:
        assert got == expected
    assert entry.response.body == got
    assert entry.response.status == 200


def test_json_body_and_repeated_query_keys(reverse):
    url = "/api/items?tag=a&tag=b&empty=&flag&name=%C3%BCnic%C3%B6de&q=caf%C3%A9"
    r = httpx.get(reverse.url + url)
    entry = only_entry(reverse)
    assert entry.request.path_and_query == url
    assert entry.response.body == r.content
    assert json.loads(entry.response.body)["query"] == url.split("?", 1)[1]


def test_empty_204_and_head(reverse):
    r = httpx.get(reverse.url + "/empty")
    h = httpx.head(reverse.url + "/png")
    assert (r.status_code, r.content, h.status_code, h.content) == (204, b"", 200, b"")
    first, second = wait_for_entries(reverse.store, 2)
    assert (first.response.status, first.response.body) == (204, b"")
    assert (second.request.method, second.response.body) == ("HEAD", b"")
    assert ("Content-Length", str(len(PNG))) in second.response.headers


def test_twenty_megabyte_body(reverse):
    big = big_body()
    r = httpx.get(reverse.url + "/big", timeout=60)
    assert r.content == big
    entry = only_entry(reverse)
    assert entry.response.body_size == len(big)
    assert entry.response.body == big
    upload = httpx.post(reverse.url + "/echo", content=big, timeout=60)
    assert upload.json()["body_size"] == len(big)
    assert wait_for_entries(reverse.store, 2)[-1].request.body == big


def test_two_set_cookie_headers(reverse):
    httpx.get(reverse.url + "/cookies")
    cookies = [v for k, v in only_entry(reverse).response.headers if k == "Set-Cookie"]
    assert cookies == ["a=1; Path=/", "b=2; HttpOnly"]


def test_header_case_order_and_repeats_both_ways(reverse):
    head, _ = raw_exchange(reverse.url, (
        b"GET /headers HTTP/1.1\r\nHost: example\r\nX-Second: 2\r\nx-lower: l\r\n"
        b"X-Second: again\r\nACCEPT: */*\r\nConnection: close\r\n\r\n"))
    entry = only_entry(reverse)
    assert entry.request.headers[1:] == [("X-Second", "2"), ("x-lower", "l"),
                                         ("X-Second", "again"), ("ACCEPT", "*/*"),
                                         ("Connection", "close")]
    assert entry.response.headers == header_pairs(head)
    names = [k for k, _ in entry.response.headers]
    assert names.index("X-Zeta") < names.index("x-MiXeD-Case") < names.index("X-Alpha")


@pytest.mark.parametrize("kind", ["json", "urlencoded", "multipart"])
def test_request_bodies(reverse, kind):
    body = {
        "json": {"json": {"name": "Zoë", "tags": [1, 2]}},
        "urlencoded": {"data": {"a": "1", "b": "x y&z"}},
        "multipart": {"files": {"file": ("a.bin", bytes(range(256)))},
                      "data": {"field": "value"}},
    }[kind]
    request = httpx.Request("POST", reverse.url + "/echo", **body)
    sent = request.read()
    with httpx.Client() as client:
        r = client.send(request)
    entry = only_entry(reverse)
    assert entry.request.body == sent
    assert r.json()["body_size"] == len(sent)
    assert entry.request.method == "POST"


# -- modes ---------------------------------------------------------------------------

def test_forward_proxy_http(start_proxy, upstream):
    proxy = start_proxy()
    with httpx.Client(proxy=proxy.url) as client:
        r = client.get(upstream.url + "/echo?via=forward")
    entry = only_entry(proxy)
    assert r.status_code == 200
    assert entry.request.url == upstream.url + "/echo?via=forward"
    assert entry.response.body == r.content


def test_forward_proxy_https_with_mitmproxy_ca(start_proxy, tls_upstream, confdir):
    proxy = start_proxy("--set", "ssl_insecure=true")
    trust = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
    with httpx.Client(proxy=proxy.url, verify=trust) as client:
        r = client.get(tls_upstream.url + "/png")
    entry = only_entry(proxy)
    assert r.content == PNG
    assert entry.request.url == tls_upstream.url + "/png"
    assert entry.response.body == PNG


def test_reverse_proxy_to_tls_upstream(start_proxy, tls_upstream):
    proxy = start_proxy("--upstream", tls_upstream.url, "--set", "ssl_insecure=true")
    r = httpx.post(proxy.url + "/echo", json={"secure": True})
    entry = only_entry(proxy)
    assert entry.request.url.startswith("https://127.0.0.1:")
    assert entry.response.body == r.content


# -- upstream failures -----------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_upstream_gives_json_502_and_an_entry(start_proxy):
    port = closed_port()
    proxy = start_proxy("--upstream", f"http://127.0.0.1:{port}")
    r = httpx.get(proxy.url + "/anything")
    assert r.status_code == 502
    error = r.json()["error"]
    assert f"127.0.0.1:{port}" in error["upstream"]
    assert "refused" in error["cause"].lower() or "connect" in error["cause"].lower()
    entry = only_entry(proxy)
    assert entry.response is None
    assert entry.error == error["cause"]


def test_reset_upstream_gives_json_502(reverse, upstream):
    r = httpx.get(reverse.url + "/reset")
    assert r.status_code == 502
    assert r.json()["error"]["upstream"] == upstream.url
    entry = only_entry(reverse)
    assert entry.response is None and entry.error


@pytest.mark.wall_clock
def test_silent_upstream_gives_json_504(start_proxy, upstream):
    proxy = start_proxy("--upstream", upstream.url, "--set", "mockrec_upstream_timeout=400")
    started = time.monotonic()
    r = httpx.get(proxy.url + "/slow?s=5", timeout=10)
    assert r.status_code == 504
    assert time.monotonic() - started < 3
    assert r.json()["error"]["name"] == "upstreamTimeoutError"
    entry = only_entry(proxy)
    assert entry.error == "upstream timed out after 400 ms"
    # the proxy keeps serving after a timeout
    assert httpx.get(proxy.url + "/echo").status_code == 200


# -- reliability -------------------------------------------------------------------------

def test_fifty_clients_twenty_requests_each_make_exactly_1000_entries(reverse):
    failures: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with httpx.Client(base_url=reverse.url) as c:
                for i in range(20):
                    assert c.get(f"/echo?client={n}&i={i}").status_code == 200
        except BaseException as e:  # a thread's failure must fail the test, not vanish
            failures.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    entries = wait_for_entries(reverse.store, 1000, timeout=10)
    assert len(entries) == 1000
    assert sorted(e.id for e in entries) == list(range(1, 1001))
    queries = {e.request.url.split("?", 1)[1] for e in entries}
    assert len(queries) == 1000


@pytest.mark.wall_clock
def test_entries_are_on_disk_within_a_second(reverse):
    httpx.get(reverse.url + "/echo?fresh=1")
    done = time.monotonic()
    entries = wait_for_entries(reverse.store, 1, timeout=1.0)
    assert len(entries) == 1
    assert time.monotonic() - done < 1.0


def test_sigterm_flushes_everything(reverse):
    with httpx.Client(base_url=reverse.url) as client:
        for i in range(30):
            client.get(f"/echo?i={i}")
    assert reverse.stop(signal.SIGTERM) == 0
    assert reverse.store.count() == 30


def test_sigint_flushes_everything(reverse):
    httpx.get(reverse.url + "/echo?last=1")
    assert reverse.stop(signal.SIGINT) == 0
    assert reverse.store.count() == 1


@pytest.mark.wall_clock
@pytest.mark.slow
def test_kill_9_under_load_loses_nothing_older_than_a_second(reverse):
    finished: list[tuple[float, str]] = []
    stop = threading.Event()

    def load(n: int) -> None:
        with httpx.Client(base_url=reverse.url) as c:
            i = 0
            while not stop.is_set():
                try:
                    c.get(f"/echo?load={n}-{i}")
                except httpx.HTTPError:
                    return
                finished.append((time.monotonic(), f"load={n}-{i}"))
                i += 1

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.5)
    killed_at = time.monotonic()
    reverse.process.kill()
    reverse.process.wait()
    stop.set()
    for t in threads:
        t.join()
    # Every file loads, and nothing finished more than a second before the kill is lost.
    for path in reverse.store.root.glob("*.json"):
        json.loads(path.read_text())
    stored = {e.request.url.split("?", 1)[1] for e in reverse.store.entries()}
    old = {query for when, query in finished if when < killed_at - 1.0}
    assert len(old) > 20
    assert old <= stored


def test_corrupt_history_stops_record_with_one_line_and_keeps_the_file(tmp_path, upstream):
    data = tmp_path / "data"
    store = HistoryStore(data)
    from recorder.models import HistoryEntry, HttpRequest, Timings
    store.append([HistoryEntry(request=HttpRequest("GET", "http://x/"), timings=Timings(1.0))])
    segment = next(store.root.glob("segment-*.json"))
    segment.write_bytes(b'{"entries": {"1": {"request"')
    result = subprocess.run(
        [sys.executable, "-m", "recorder", "--data-dir", str(data), "record", "--port", "0",
         "--upstream", upstream.url], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(segment) in lines[0] and "move it aside" in lines[0]
    assert segment.read_bytes() == b'{"entries": {"1": {"request"'


def test_data_dir_is_private(reverse):
    httpx.get(reverse.url + "/echo")
    only_entry(reverse)
    assert reverse.data_dir.stat().st_mode & 0o777 == 0o700
    for path in reverse.data_dir.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode in (0o700, 0o600), (path, oct(mode))


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "recorder", "--data-dir", str(tmp_path), "record",
             "--port", str(port)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    # the holder is named: here the test itself
    assert result.stderr.strip().startswith(
        f"mockrec: error: port {port} on 127.0.0.1 is already in use by process {os.getpid()} (")
    assert result.stderr.strip().endswith("): stop it or pick another port with --port")
    assert result.stderr.count("\n") == 1


def test_record_addon_runs_inside_plain_mitmdump(tmp_path, upstream, confdir):
    script = Path(__file__).resolve().parents[2] / "addons" / "record.py"
    data = tmp_path / "data"
    log = tmp_path / "mitmdump.log"
    mitmdump = Path(sys.executable).with_name("mitmdump")
    process = subprocess.Popen(
        [str(mitmdump), "-s", str(script), "--mode", f"reverse:{upstream.url}",
         "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={confdir}",
         "--set", f"mockrec_data_dir={data}", "--set", "connection_strategy=lazy"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not (match := re.search(r"listening at (?:http://)?[^:\s]+:(\d+)", log.read_text())):
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()
            time.sleep(0.05)
        r = httpx.get(f"http://127.0.0.1:{match.group(1)}/echo?from=mitmdump")
        assert r.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    (entry,) = HistoryStore(data).entries(with_bodies=True)
    assert entry.request.url.endswith("/echo?from=mitmdump")
    assert entry.response.body == r.content


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_through_the_forward_proxy_over_https(start_proxy, tls_upstream, confdir):
    proxy = start_proxy("--set", "ssl_insecure=true")
    result = subprocess.run(
        ["curl", "-sS", "-x", proxy.url, "--cacert", str(confdir / "mitmproxy-ca-cert.pem"),
         "-H", "X-Client: curl", f"{tls_upstream.url}/echo?via=curl"],
        capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    entry = only_entry(proxy)
    assert entry.request.http_version == "HTTP/2.0"  # curl and mitmproxy agree on h2
    assert ("x-client", "curl") in entry.request.headers  # HTTP/2 names are lower case
    assert entry.response.body == result.stdout


# -- secrets (issue 12) --------------------------------------------------------------

SECRET_HEADERS = {"Authorization": "Bearer tok-42", "Cookie": "sid=abc123",
                  "X-Api-Key": "k-999999"}


def test_history_keeps_secrets_by_default_and_redacts_with_redact(start_proxy, upstream):
    plain = start_proxy("--upstream", upstream.url)
    httpx.get(f"{plain.url}/cookies?api_key=qs-secret&page=2", headers=SECRET_HEADERS)
    kept = only_entry(plain)
    assert kept.request.url.endswith("?api_key=qs-secret&page=2")  # byte-exact by default
    assert ("Authorization", "Bearer tok-42") in kept.request.headers
    redacting = start_proxy("--upstream", upstream.url, "--redact")
    httpx.get(f"{redacting.url}/cookies?api_key=qs-secret&page=2", headers=SECRET_HEADERS)
    entry = only_entry(redacting)
    assert entry.request.url.endswith("?api_key={{REDACTED}}&page=2")
    headers = dict(entry.request.headers)
    assert headers["Authorization"] == "Bearer {{REDACTED}}"
    assert headers["Cookie"] == "sid={{REDACTED}}" and headers["X-Api-Key"] == "{{REDACTED}}"
    assert [v for k, v in entry.response.headers if k == "Set-Cookie"] == [
        "a={{REDACTED}}; Path=/", "b={{REDACTED}}; HttpOnly"]
    # an upstream that echoes the request (httpbin's /anything) echoes its secrets: the
    # stored entry's body has promote's placeholders there too (issue 26)
    echoed = httpx.get(f"{redacting.url}/echo?api_key=qs-secret", headers=SECRET_HEADERS)
    assert b"tok-42" in echoed.content and b"qs-secret" in echoed.content  # as sent
    entries = wait_for_entries(redacting.store, 2)
    assert b"Bearer {{REDACTED}}" in entries[1].response.body
    stored = b"".join(p.read_bytes() for p in redacting.data_dir.rglob("*") if p.is_file())
    for secret in (b"tok-42", b"abc123", b"k-999999", b"qs-secret"):
        assert secret not in stored
