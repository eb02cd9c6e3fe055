"""Replay's fast path (addons/fastpath/) through the real proxy, and its parts.

`mockrec replay` answers cleartext HTTP/1 requests inside the connection's layer
when no other addon listens; `--set mockrec_fast_replay=false` keeps them on
mitmproxy's usual path. Both must answer alike, byte for byte, and everything
the fast path does not take must still be answered as before.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, UpstreamServer, wait_for_entries
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layer import NextLayer
from mitmproxy.proxy.layers.http import HttpLayer, HTTPMode
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

from addons import metadata
from addons.engine import ProxyConfig, build_master
from addons.fastpath import layer as fastreplay
from addons.fastpath import outbox
from addons.fastpath import selector as stamping
from addons.fastpath.layer import FastReplayLayer
from addons.replay import Replay
from recorder.cli import main
from recorder.match.matcher import resolve
from recorder.serve.faults import GARBAGE
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)

EXAMPLES = [
    ("GET", "/users/{{userId}}", ["--body", '{"id": "{{userId}}"}',
                                  "-H", "Content-Type: application/json"]),
    ("GET", "/a", ["--body", "first", "-H", "X-Order: 1", "-H", "x-order: 2"]),
    ("GET", "/b", ["--body", "second"]),
    ("POST", "/upload", ["--status", "201", "--body", "stored"]),
    ("GET", "/teapot", ["--status", "418", "--body", ""]),
    ("OPTIONS", "/options-example", ["--body", "own options"]),
    ("HEAD", "/a", ["--body", "first"]),
    # a sequence: both paths step through it alike
    ("GET", "/seq", ["--body", "one", "--sequence", "1"]),
    ("GET", "/seq", ["--body", "two", "--sequence", "2"]),
    ("GET", "/seq", ["--body", "three", "--sequence", "3", "--status", "202"]),
    ("GET", "/garbled", ["--body", "never", "--fault", "garbage"]),
    ("GET", "http://api.test/hosted", ["--body", "api's"]),
    ("GET", "http://other.test:8080/hosted", ["--body", "other's"]),
    ("GET", "/cors", ["--body", "own", "-H", "Access-Control-Allow-Origin: https://own.test"]),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("fast") / "data"
    for method, path, extra in EXAMPLES:
        assert main(["--data-dir", str(data), "example", "add", "--collection", "api",
                     method, path, *extra]) == 0
    return data


def address(url: str) -> tuple[str, int]:
    host, port = re.match(r"http://([^:]+):(\d+)", url).groups()
    return host, int(port)


def read_answers(sock: socket.socket, count: int, head_only: bool = False) -> bytes:
    """Read `count` whole HTTP/1 answers (1xx ones not counted) and return their bytes."""
    got, start = b"", 0
    while count:
        while (end := got.find(b"\r\n\r\n", start)) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                return got
            got += chunk
        head = got[start:end]
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        size = 0 if head_only or not length else int(length.group(1))
        while len(got) < end + 4 + size:
            chunk = sock.recv(65536)
            if not chunk:
                return got
            got += chunk
        start = end + 4 + size
        if not head.startswith(b"HTTP/1.1 1"):
            count -= 1
    return got


def exchange(url: str, raw: bytes, answers: int = 1) -> bytes:
    """Send `raw` on a new connection and read `answers` answers."""
    with socket.create_connection(address(url), timeout=5) as sock:
        sock.sendall(raw)
        return read_answers(sock, answers, head_only=raw.startswith(b"HEAD"))


RAW_REQUESTS = [
    b"GET /users/7 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",  # pipelined
    b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /teapot HTTP/1.0\r\nHost: x\r\n\r\n",
    b"GET /teapot HTTP/1.0\r\n\r\n",  # mitmproxy wants a Host: 400
    b"GET /missing/thing HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS /b HTTP/1.1\r\nHost: x\r\nOrigin: http://app.test\r\n"
    b"Access-Control-Request-Method: PUT\r\n\r\n",
    b"OPTIONS /options-example HTTP/1.1\r\nHost: x\r\nAccess-Control-Request-Method: GET\r\n\r\n",
    b"GET /b HTTP/1.1\r\nHost: x\r\nx-mock-response-code: 200\r\n\r\n",
    b"GET //[a/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",  # a path, though urlsplit sees a host
    b"GET /seq HTTP/1.1\r\nHost: x\r\n\r\nGET /seq HTTP/1.1\r\nHost: x\r\n\r\n"
    b"GET /seq HTTP/1.1\r\nHost: x\r\n\r\nGET /seq HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /seq HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: empty\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: slow-body:200\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: close\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: garbage\r\n\r\n"
    b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",  # never answered: the fault ends the connection
    b"GET /garbled HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /missing HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: slow-body:50\r\n\r\n",
]
# What issue 13 added: HEAD as GET, CORS with credentials, hosts.
HEAD_CORS_HOSTS = [
    b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n",  # no HEAD example: GET's head
    b"HEAD /users/5 HTTP/1.1\r\nHost: x\r\nOrigin: http://app.test\r\n\r\n",
    b"GET /b HTTP/1.1\r\nHost: x\r\nOrigin: http://app.test:3000\r\n\r\n",  # credentials
    b"GET /cors HTTP/1.1\r\nHost: x\r\nOrigin: http://app.test\r\n\r\n",  # its own
    b"GET /nothing HTTP/1.1\r\nHost: x\r\nOrigin: http://app.test\r\n\r\n",
    b"OPTIONS /b HTTP/1.1\r\nHost: x\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
    b"GET /hosted HTTP/1.1\r\nHost: x\r\n\r\n",  # reverse: any host; forward: api.test's
]
RAW_REQUESTS += HEAD_CORS_HOSTS
# Through the forward proxy only: the host decides.
FORWARD_ONLY = [
    b"GET http://other.test:8080/hosted HTTP/1.1\r\nHost: other.test:8080\r\n\r\n",
    b"GET http://other.test/hosted HTTP/1.1\r\nHost: other.test\r\n\r\n",  # not its port
    b"GET http://third.test/hosted HTTP/1.1\r\nHost: third.test\r\n\r\n",  # nobody's
    b"GET http://third.test/b HTTP/1.1\r\nHost: third.test\r\n\r\n",  # any host's
    b"HEAD http://other.test:8080/hosted HTTP/1.1\r\nHost: other.test:8080\r\n\r\n",
]


DEAD = "http://127.0.0.1:9"  # replay never needs its upstream
ADYEN = "postman-adyen-CheckoutService-v72.postman_collection.json"


def mock(start_proxy, data: Path, *args: str):
    """`mockrec replay api` as a reverse proxy (the mock URL)."""
    return start_proxy("api", "--upstream", DEAD, *args, data_dir=data, command="replay")


@pytest.mark.parametrize("kind", ["reverse", "forward"])
def test_the_fast_path_answers_byte_for_byte_as_mitmproxys_path(data, start_proxy, kind):
    upstream = ["--upstream", DEAD] if kind == "reverse" else []
    fast = start_proxy("api", *upstream, data_dir=data, command="replay")
    usual = start_proxy("api", *upstream, "--set", "mockrec_fast_replay=false", data_dir=data,
                        command="replay")
    requests = RAW_REQUESTS if kind == "reverse" else [
        re.sub(rb"(?m)^([A-Z]+) /", rb"\1 http://api.test/", raw) for raw in RAW_REQUESTS
    ] + FORWARD_ONLY
    seen = []
    for raw in requests:
        answers = raw.count(b" HTTP/1.")
        ours, theirs = exchange(fast.url, raw, answers), exchange(usual.url, raw, answers)
        assert ours == theirs, raw
        seen.append(ours)
        if b"fault" not in raw and b"garbled" not in raw:
            assert ours.startswith(b"HTTP/1.1 ") and ours.count(b"HTTP/1.1 ") == answers, raw
    pipelined = exchange(fast.url, requests[1], 2)
    assert pipelined.index(b"first") < pipelined.index(b"second")
    assert b"X-Order: 1\r\nx-order: 2\r\n" in pipelined  # case, order and repeats kept
    assert exchange(fast.url, requests[4]).startswith(b"HTTP/1.1 418 I'm a Teapot")
    head = exchange(fast.url, requests[2])
    assert b"Content-Length: 5\r\n" in head and head.endswith(b"\r\n\r\n")
    # the sequence went one, two, three, then three again (--sequence-end last)
    assert [b.rsplit(b"\r\n\r\n", 1)[-1] for b in seen[11].split(b"HTTP/1.1 ")[1:]] == [
        b"one", b"two", b"three", b"three"]
    assert seen[12].startswith(b"HTTP/1.1 202 ") and seen[12].endswith(b"Content-Length: 0\r\n\r\n")
    assert b"Connection: close\r\n" in seen[13] and seen[13].endswith(b"first")
    assert seen[14] == b""  # close
    assert seen[15] == seen[16] == GARBAGE  # and the request after it is never answered

    def ours(raw: bytes) -> bytes:  # as this kind of proxy is asked
        return exchange(fast.url, requests[RAW_REQUESTS.index(raw)])

    as_get = ours(HEAD_CORS_HOSTS[0])  # HEAD /b: GET's status, headers and length
    assert as_get.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 6\r\n" in as_get
    assert as_get.endswith(b"\r\n\r\n")
    credentials = ours(HEAD_CORS_HOSTS[2])
    assert (b"Access-Control-Allow-Origin: http://app.test:3000\r\n"
            b"Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n") in credentials
    own = ours(HEAD_CORS_HOSTS[3])
    assert own.count(b"Access-Control-") == 1 and b"https://own.test" in own
    missing = ours(HEAD_CORS_HOSTS[4])
    assert missing.startswith(b"HTTP/1.1 404") and b"Allow-Credentials: true" in missing
    hosted = ours(HEAD_CORS_HOSTS[6])
    assert hosted.endswith(b"api's")
    if kind == "forward":
        other, wrong_port, third, any_host, other_head = (exchange(fast.url, raw)
                                                          for raw in FORWARD_ONLY)
        assert other.endswith(b"other's") and any_host.endswith(b"second")
        assert wrong_port.startswith(b"HTTP/1.1 404") and third.startswith(b"HTTP/1.1 404")
        assert b"on third.test" in third
        assert other_head.startswith(b"HTTP/1.1 200") and b"Content-Length: 7\r\n" in other_head


def tls_exchange(url: str, raw: bytes, answers: int = 1, connect: bool = False) -> bytes:
    """`exchange` over TLS (HTTP/1.1 by ALPN): straight to a reverse proxy's listener,
    or through a forward proxy's CONNECT tunnel to api.test:443."""
    import ssl
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    with socket.create_connection(address(url), timeout=5) as sock:
        if connect:
            sock.sendall(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n")
            assert read_answers(sock, 1, head_only=True).startswith(b"HTTP/1.1 200")
        with context.wrap_socket(sock, server_hostname="api.test") as tls:
            tls.sendall(raw)
            return read_answers(tls, answers, head_only=raw.startswith(b"HEAD"))


@pytest.mark.wall_clock
@pytest.mark.parametrize("kind", ["reverse", "forward"])
def test_over_tls_the_fast_path_answers_byte_for_byte_as_mitmproxys_path(data, start_proxy,
                                                                         kind):
    upstream = ["--upstream", DEAD] if kind == "reverse" else []
    fast = start_proxy("api", *upstream, data_dir=data, command="replay")
    usual = start_proxy("api", *upstream, "--set", "mockrec_fast_replay=false", data_dir=data,
                        command="replay")
    connect = kind == "forward"
    # Faults are left out here: inside TLS mitmproxy's path sends a slow-body answer
    # whole after its time (addons/faults.py), where the fast layer's own commands go
    # through the TLS layer piece by piece; the cleartext test compares them.
    for raw in (r for r in RAW_REQUESTS if b"fault" not in r and b"garbled" not in r):
        answers = raw.count(b" HTTP/1.")
        ours = tls_exchange(fast.url, raw, answers, connect)
        theirs = tls_exchange(usual.url, raw, answers, connect)
        assert ours == theirs, raw
        assert ours.startswith(b"HTTP/1.1 ") and ours.count(b"HTTP/1.1 ") == answers, raw
    pipelined = tls_exchange(fast.url, RAW_REQUESTS[1], 2, connect)
    assert pipelined.index(b"first") < pipelined.index(b"second")
    if connect:  # the tunnel's own 200, which the fast layer sends itself
        for version in (b"HTTP/1.1", b"HTTP/1.0"):
            asked = b"CONNECT api.test:443 " + version + b"\r\nHost: api.test:443\r\n\r\n"
            replies = []
            for proxy in (fast, usual):
                with socket.create_connection(address(proxy.url), timeout=5) as sock:
                    sock.sendall(asked)
                    replies.append(read_answers(sock, 1, head_only=True))
            assert replies[0] == replies[1] == version + b" 200 Connection established\r\n\r\n"
    # Delayed answers inside TLS go out through the TLS layer, encrypted. The two are
    # pipelined: each waits its 50 ms from its arrival, and when the proxy reads the
    # second (with the first, or once the first is answered) is TLS's business, so
    # only the first's whole delay is certain.
    slow = start_proxy("api", *upstream, "--delay", "50", data_dir=data, command="replay")
    started = time.monotonic()
    assert tls_exchange(slow.url, RAW_REQUESTS[1], 2, connect).count(b"HTTP/1.1 200") == 2
    assert time.monotonic() - started >= 0.05


def tls_conversation(url: str, raws: list[bytes], connect: bool = False) -> list[bytes]:
    """Each of `raws` sent on one TLS connection once the answer before it is in: after
    its first request the fast layer drives the connection's TLS itself (direct.py)."""
    import ssl
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    answers = []
    with socket.create_connection(address(url), timeout=5) as sock:
        if connect:
            sock.sendall(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n")
            assert read_answers(sock, 1, head_only=True).startswith(b"HTTP/1.1 200")
        with context.wrap_socket(sock, server_hostname="api.test") as tls:
            for raw in raws:
                tls.sendall(raw)
                answers.append(read_answers(tls, raw.count(b" HTTP/1."),
                                            head_only=raw.startswith(b"HEAD")))
            tls.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answers.append(read_answers(tls, 2))  # the proxy closes after it: EOF ends it
    return answers


# One TLS connection's requests, one after the other: the fast layer's own TLS, a delay
# and a hand-off in the middle (each gives the connection back to the layers for a
# while), mitmproxy's path after the chunked one.
TLS_CONVERSATION = [RAW_REQUESTS[0], RAW_REQUESTS[1], RAW_REQUESTS[2], RAW_REQUESTS[3],
                    RAW_REQUESTS[6], RAW_REQUESTS[7], RAW_REQUESTS[9], RAW_REQUESTS[11],
                    b"GET /b HTTP/1.1\r\nHost: x\r\nx-mock-response-delay: 30\r\n\r\n",
                    HEAD_CORS_HOSTS[1], RAW_REQUESTS[0]]
HANDED_OFF = [b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n0\r\n\r\n", RAW_REQUESTS[1]]


@pytest.mark.parametrize("kind", ["reverse", "forward"])
def test_a_tls_connection_the_fast_layer_drives_answers_as_mitmproxys_path(data, start_proxy,
                                                                           kind):
    upstream = ["--upstream", DEAD] if kind == "reverse" else []
    connect = kind == "forward"
    answers = {}
    for name, extra in (("fast", []), ("usual", ["--set", "mockrec_fast_replay=false"])):
        proxy = start_proxy("api", *upstream, "--set", f"mockrec_mock=tls-{kind}-{name}",
                            *extra, data_dir=data, command="replay")
        answers[name] = (tls_conversation(proxy.url, TLS_CONVERSATION, connect),
                         tls_conversation(proxy.url, TLS_CONVERSATION[:2] + HANDED_OFF
                                          + TLS_CONVERSATION[:2], connect))
        store = HistoryStore(data, f"calls/tls-{kind}-{name}")
        count = sum(raw.count(b" HTTP/1.") for raw in TLS_CONVERSATION + HANDED_OFF
                    + TLS_CONVERSATION[:2] * 2) + 2  # each conversation's closing GET
        answers[name] += (wait_for_entries(store, count),)
    ours, theirs = answers["fast"], answers["usual"]
    assert ours[0] == theirs[0] and ours[1] == theirs[1]
    assert [answer[:12] for answer in ours[0][:3]] == [b"HTTP/1.1 200"] * 3
    assert ours[0][-1].endswith(b"first")  # and then the proxy closed (read to EOF)
    assert ours[1][2].startswith(b"HTTP/1.1 201") and ours[1][3].endswith(b"second")
    assert len(ours[2]) == len(theirs[2]) == count
    for mine, usual in zip(ours[2], theirs[2], strict=True):
        assert (mine.request, mine.response, mine.notes.get("example")) == (
            usual.request, usual.response, usual.notes.get("example"))


# HTTP/2 requests (method, path, headers, body): answered by the fast layer's streams, or
# (a delay, a fault, Expect) by mitmproxy's stream with the answer replay gave.
H2_REQUESTS = [
    ("GET", "/users/7", {}, None), ("GET", "/a", {}, None), ("HEAD", "/a", {}, None),
    ("POST", "/upload", {}, b"hello"), ("GET", "/missing/thing", {}, None),
    ("OPTIONS", "/b", {"Origin": "http://app.test", "Access-Control-Request-Method": "PUT"},
     None),
    ("GET", "/b", {"x-mock-response-code": "200"}, None),
    ("GET", "/seq", {}, None), ("GET", "/seq", {}, None), ("GET", "/seq", {}, None),
    ("GET", "/b", {"x-mock-response-delay": "30"}, None),
    ("GET", "/a", {"x-mock-response-fault": "slow-body:50"}, None),
    ("POST", "/upload", {"Expect": "100-continue"}, b"hello"),
    ("GET", "/users/5", {"Origin": "http://app.test:3000"}, None),
]


def h2_answers(url: str, forward: bool) -> list[bytes]:
    """H2_REQUESTS with curl over HTTP/2 (ALPN h2): to a reverse proxy's TLS listener, or
    through a forward proxy's CONNECT to https://api.test; each answer's head and body."""
    base = "https://api.test" if forward else url.replace("http://", "https://")
    answers = []
    for method, path, headers, body in H2_REQUESTS:
        command = ["curl", "-sk", "--http2", "-D", "-", "-X", method, base + path]
        command += ["-x", url] if forward else []
        command += ["-I"] if method == "HEAD" else []
        command += [part for name, value in headers.items() for part in ("-H", f"{name}: {value}")]
        command += ["--data-binary", body.decode()] if body else []
        done = subprocess.run(command, capture_output=True, timeout=30)
        assert done.returncode == 0, (command, done)
        answer = done.stdout.split(b"HTTP/2 ", 1)[1]  # after a CONNECT's own 200
        assert b"HTTP/1.1 " not in answer, (command, done.stdout)
        answers.append(answer)
    return answers


@pytest.mark.parametrize("kind", ["reverse", "forward"])
def test_http2_on_the_fast_path_answers_as_mitmproxys_path(data, start_proxy, kind):
    upstream = ["--upstream", DEAD] if kind == "reverse" else []
    got = {}
    for name, extra in (("fast", []), ("usual", ["--set", "mockrec_fast_replay=false"])):
        proxy = start_proxy("api", *upstream, "--set", f"mockrec_mock=h2-{kind}-{name}",
                            *extra, data_dir=data, command="replay")
        answers = h2_answers(proxy.url, kind == "forward")
        entries = wait_for_entries(HistoryStore(data, f"calls/h2-{kind}-{name}"),
                                   len(H2_REQUESTS))
        got[name] = answers, entries, proxy.url.split("://")[1]
    (ours, our_log, our_address), (theirs, their_log, their_address) = got["fast"], got["usual"]
    assert ours == theirs
    assert [answer[:3] for answer in ours[:5]] == [b"200", b"200", b"200", b"201", b"404"]
    assert ours[7].endswith(b"one") and ours[10].endswith(b"second")
    assert ours[11].endswith(b"first")
    assert len(our_log) == len(their_log) == len(H2_REQUESTS)
    for mine, usual in zip(our_log, their_log, strict=True):
        # the client's URL (its :authority, each proxy's own address when reverse)
        assert mine.request.url.replace(our_address, "proxy") == usual.request.url.replace(
            their_address, "proxy")
        usual.request.url = mine.request.url
        assert mine.request == usual.request and mine.response == usual.response
        assert mine.notes.get("example") == usual.notes.get("example")
        assert mine.notes.get("delay_ms") == usual.notes.get("delay_ms")


def test_h2c_with_prior_knowledge_gets_an_answer(data, start_proxy):
    """The HTTP/2 preface in cleartext (no TLS, no ALPN): answered over HTTP/2, where
    mitmproxy's HTTP/1 layer closed the connection without a word; on mitmproxy's path
    too (its HTTP/2 connection)."""
    for upstream in (["--upstream", DEAD], [],
                     ["--upstream", DEAD, "--set", "mockrec_fast_replay=false"]):
        proxy = mock(start_proxy, data, *upstream)
        for path, expected in (("/users/3", b'{"id": "3"}\n2 200'), ("/nothing", b"\n2 404")):
            done = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-w",
                                   "\n%{http_version} %{http_code}", proxy.url + path],
                                  capture_output=True, timeout=30)
            assert done.stdout.endswith(expected), done
        if not shutil.which("h2load"):
            continue
        # h2load (nghttp2) sends several requests on the connection, 2 at a time
        loaded = subprocess.run(["h2load", "-n20", "-c1", "-m2", proxy.url + "/users/1"],
                                capture_output=True, text=True, timeout=30)
        assert "20 succeeded, 0 failed" in loaded.stdout, loaded.stdout


@pytest.mark.wall_clock
def test_pipelined_requests_each_wait_their_delay_from_arrival(data, start_proxy):
    proxy = mock(start_proxy, data, "--delay", "200")
    started = time.monotonic()
    answer = exchange(proxy.url, RAW_REQUESTS[1], 2)
    took = time.monotonic() - started
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.index(b"first") < answer.index(b"second")
    assert "transports" not in proxy.log.read_text()  # the outbox reached the connection
    # both arrived together: the second is due when the first is, not 200 ms later
    assert 0.2 <= took < 0.38


def test_closing_and_half_closing_clients(data, start_proxy):
    proxy = mock(start_proxy, data, "--delay", "150")
    for raw in (b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /a HTTP/1.0\r\nHost: x\r\n\r\n", b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection(address(proxy.url), timeout=5) as sock:
            sock.sendall(raw)
            if b"Connection" not in raw and b"1.0" not in raw:
                time.sleep(0.05)  # the answer is waiting out its delay
                sock.shutdown(socket.SHUT_WR)  # the client has no more to say
            got = b""
            while chunk := sock.recv(65536):  # the proxy closes after the answer
                got += chunk
        assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"first"), raw


def test_a_client_gone_before_its_delay_is_over_harms_nobody(data, start_proxy):
    proxy = mock(start_proxy, data, "--delay", "200", "--set", "mockrec_mock=gone")
    for _ in range(20):
        sock = socket.create_connection(address(proxy.url))
        sock.sendall(b"GET /users/9 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.close()
    time.sleep(0.3)
    r = httpx.get(proxy.url + "/users/10")
    assert r.status_code == 200 and r.json() == {"id": "10"}
    assert proxy.process.poll() is None
    store = HistoryStore(data, "calls/gone")
    deadline = time.monotonic() + 5
    while store.count() < 21 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.count() == 21


def test_what_the_fast_path_leaves_to_mitmproxy_is_still_answered(data, start_proxy):
    proxy = mock(start_proxy, data)
    chunked = exchange(proxy.url, b"POST /upload HTTP/1.1\r\nHost: x\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 201 Created") and chunked.endswith(b"stored")
    expect = exchange(proxy.url, b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                 b"Expect: 100-continue\r\n\r\nhello")
    assert expect.startswith(b"HTTP/1.1 100 Continue") and expect.endswith(b"stored")
    big = httpx.post(proxy.url + "/upload", content=os.urandom(3 * 1024 * 1024))
    assert big.status_code == 201 and big.content == b"stored"
    assert exchange(proxy.url, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
    # after a hand-off the connection stays with mitmproxy, and still replays
    both = exchange(proxy.url, b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                               b"chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 2)
    assert both.count(b"HTTP/1.1 ") == 2 and both.endswith(b"second")


def test_switching_modes_on_a_connection_the_fast_path_served(data, start_proxy, capsys):
    upstream = UpstreamServer()
    try:
        proxy = start_proxy("api", "--upstream", upstream.url, data_dir=data, command="replay")
        with httpx.Client(base_url=proxy.url) as client:
            assert client.get("/a").content == b"first"
            assert client.get("/live").status_code == 404
            assert main(["--data-dir", str(data), "mode", "spy"]) == 0
            capsys.readouterr()
            assert client.get("/live?x=1").json()["query"] == "x=1"  # same connection, upstream
            assert client.get("/a").content == b"first"
            assert main(["--data-dir", str(data), "mode", "replay"]) == 0
            assert client.get("/live").status_code == 404
            assert client.get("/b").content == b"second"
    finally:
        upstream.close()


def test_switching_modes_inside_a_tunnel_the_fast_layer_established(data, start_proxy,
                                                                   tls_upstream, capsys):
    """The tunnel the fast layer opened itself goes upstream like mitmproxy's own once
    the mode forwards (the server's address is the CONNECT's)."""
    proxy = start_proxy("api", "--set", "ssl_insecure=true", data_dir=data, command="replay")
    target = tls_upstream.url  # https://127.0.0.1:PORT
    with httpx.Client(proxy=proxy.url, verify=False) as client:
        assert client.get(target + "/b").content == b"second"  # an example for any host
        assert main(["--data-dir", str(data), "mode", "spy"]) == 0
        capsys.readouterr()
        upstream = client.get(target + "/live?x=1")  # the same tunnel, upstream
        assert upstream.status_code == 200 and upstream.json()["query"] == "x=1"
        assert main(["--data-dir", str(data), "mode", "replay"]) == 0
        assert client.get(target + "/b").content == b"second"


def test_mitmproxy_options_bring_mitmproxys_addons_and_its_usual_path(data, start_proxy):
    proxy = mock(start_proxy, data, "--set", "modify_headers=/~s/X-Modified/yes")
    r = httpx.get(proxy.url + "/a")
    assert r.content == b"first" and r.headers["x-modified"] == "yes"


def test_which_addons_a_mockrec_master_has(tmp_path):
    async def build(**kwargs) -> tuple[set[str], bool]:
        master = build_master(ProxyConfig(data_dir=tmp_path, mode="replay", **kwargs))
        try:
            names = {type(a).__name__ for a in master.addons.chain}
            return names, master.options.mockrec_fast_replay
        finally:
            master._termlog_addon.uninstall()

    names, fast = asyncio.run(build())
    assert {"Proxyserver", "NextLayer", "TlsConfig", "Replay", "ErrorCheck"} <= names
    assert not names & {"ModifyHeaders", "MapLocal", "Save", "ServerPlayback", "Dumper"}
    assert fast
    names, fast = asyncio.run(build(settings=["map_local=|~q|/x|/tmp"]))
    assert {"MapLocal", "ModifyHeaders", "Save"} <= names and not fast
    names, fast = asyncio.run(build(verbose=True))
    assert "Dumper" in names and not fast
    _, fast = asyncio.run(build(settings=["mockrec_delay=3g", "ssl_insecure=true"]))
    assert fast  # mockrec's and mitmproxy's core options need no other addon
    # mitm.it (the CA certificate page) for a forward proxy's clients only; a reverse
    # proxy gets it when a --set asks for its options or for more listeners
    assert "Onboarding" in names
    reverse = {"upstream": "http://127.0.0.1:9"}
    names, _ = asyncio.run(build(**reverse))
    assert "Onboarding" not in names and "Proxyserver" in names
    for settings in (["onboarding_host=certs.test"], ["mode=regular@0"]):
        names, _ = asyncio.run(build(settings=settings, **reverse))
        assert "Onboarding" in names, settings


@pytest.fixture
def selector():
    sel = stamping.StampingSelector()
    sel.watch(True)
    yield sel
    sel.close()


def test_the_kernel_says_when_data_arrived_however_late_the_loop_looks(selector):
    listener = socket.create_server(("127.0.0.1", 0))
    selector.register(listener, select.POLLIN)  # sets the listener's timestamping
    if stamping.SO_TIMESTAMPNS is not None:
        # The kernel switches timestamping on shortly after the first socket asks for
        # it (a deferred switch); a proxy asks at start, long before its first request.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.create_connection(listener.getsockname()) as probe:
                probe.sendall(b"x")
                accepted, _ = listener.accept()
                with accepted:
                    accepted.settimeout(1)
                    accepted.recv(1, socket.MSG_PEEK)
                    if stamping.kernel_arrival(accepted):
                        break
    client = socket.create_connection(listener.getsockname())
    sent = time.time()
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    time.sleep(0.08)  # a busy loop: accepted and polled only now
    server, peer = listener.accept()
    selector.register(server, select.POLLIN)
    selector.select(0)
    stamp = selector.arrival(peer)
    if stamping.SO_TIMESTAMPNS is None:  # elsewhere: when the loop looked
        assert stamp >= sent + 0.08
    else:
        assert sent - 0.002 <= stamp <= sent + 0.01
    assert selector.arrival(peer) == selector.ready_at  # claimed once
    client.sendall(b"more")
    sent = time.time()
    time.sleep(0.05)
    assert selector.arrival(peer) <= sent + (0.01 if stamping.SO_TIMESTAMPNS else 1)
    assert server.recv(100)  # the peek left the data for its reader
    selector.unregister(server)
    assert server.fileno() >= 0  # still asyncio's (here: ours) to close
    for sock in (client, server, listener):
        sock.close()


def test_the_selector_ignores_what_is_not_a_connected_socket(selector):
    read_end, write_end = os.pipe()
    try:
        selector.register(read_end, select.POLLIN)
        os.write(write_end, b"x")
        assert [key.fd for key, _ in selector.select(0)] == [read_end]
        assert selector.arrivals == {}
        selector.unregister(read_end)
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.fixture
def layer_for(data):
    """A FastReplayLayer on a made-up reverse-proxy connection, driven event by event."""
    replay = Replay()
    with taddons.context(Proxyserver(), replay) as tctx:
        tctx.configure(replay, mockrec_data_dir=str(data), mockrec_collection="api",
                       mockrec_call_log=0, mockrec_fast_replay=True)

        def make(**options) -> tuple[FastReplayLayer, Context]:
            if options:
                tctx.configure(replay, **options)
            client = tflow.tclient_conn()
            client.proxy_mode = ProxyMode.parse(f"reverse:{DEAD}")
            context = Context(client, tctx.options)
            context.server = tflow.tserver_conn()
            context.server.address = ("127.0.0.1", 9)
            fallback = HttpLayer(context, HTTPMode.transparent)
            layer = FastReplayLayer(context, replay, fallback)
            assert list(layer.handle_event(events.Start())) == []
            return layer, context

        yield make


def test_the_layer_answers_each_request_in_order(layer_for):
    layer, context = layer_for()
    sent = list(layer.handle_event(events.DataReceived(context.client, RAW_REQUESTS[1][:20])))
    assert sent == []  # not all of the first request yet
    sent = list(layer.handle_event(events.DataReceived(context.client, RAW_REQUESTS[1][20:])))
    assert [type(c) for c in sent] == [commands.SendData, commands.SendData]
    assert sent[0].data.endswith(b"first") and sent[1].data.endswith(b"second")
    assert all(c.connection is context.client for c in sent)
    closed = list(layer.handle_event(events.ConnectionClosed(context.client)))
    assert [type(c) for c in closed] == [commands.CloseConnection]


def test_arrivals_are_stamped_only_while_a_delay_can_be_asked_for(layer_for, monkeypatch):
    """Stamping costs two system calls a request: on with --delay or --profile, or
    from the first request that asks for a delay in its header."""
    loop = stamping.stamping_event_loop()
    try:
        sel = loop._selector
        layer, context = layer_for()
        assert not sel.watching
        layer_for(mockrec_delay="100")
        assert sel.watching
        layer_for(mockrec_delay="0")
        assert not sel.watching
        layer_for(mockrec_profile="3g")
        assert sel.watching
        layer, context = layer_for(mockrec_profile="")
        assert not sel.watching
        asked = RAW_REQUESTS[0].replace(b"\r\n\r\n", b"\r\nx-mock-response-delay: 1\r\n\r\n", 1)
        assert asked != RAW_REQUESTS[0]
        list(layer.handle_event(events.DataReceived(context.client, asked)))
        assert sel.watching  # for the requests after this one
    finally:
        loop.close()
        monkeypatch.setattr(stamping, "_clock", None)


def test_the_layer_waits_out_a_delay_without_blocking(layer_for):
    layer, context = layer_for(mockrec_delay="3g")
    asked = list(layer.handle_event(events.DataReceived(context.client, RAW_REQUESTS[0])))
    assert [type(c) for c in asked] == [commands.RequestWakeup]  # no transport here: mitmproxy's
    assert 0.05 < asked[0].delay <= 0.1
    # the next request waits for the first answer; then both go, in order
    more = list(layer.handle_event(events.DataReceived(context.client, RAW_REQUESTS[2])))
    assert more == []
    time.sleep(0.12)
    sent = list(layer.handle_event(events.Wakeup(asked[0])))
    # the HEAD came in with the first: its delay, counted from then, is over too
    assert [type(c) for c in sent] == [commands.SendData, commands.SendData]
    assert sent[0].data.endswith(b'{"id": "7"}')
    assert sent[1].data.startswith(b"HTTP/1.1 200 OK") and sent[1].data.endswith(b"\r\n\r\n")


def test_the_layer_hands_over_to_mitmproxy_with_the_unread_bytes(layer_for):
    layer, context = layer_for()
    chunked = (b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n")
    got = list(layer.handle_event(events.DataReceived(context.client, chunked)))
    assert layer.handed_off
    hooks = [c for c in got if isinstance(c, commands.StartHook)]
    assert hooks and hooks[0].name == "requestheaders"
    assert hooks[0].args()[0].request.path == "/upload"


def test_the_layer_carries_a_fault_out_with_its_own_commands(layer_for):
    layer, context = layer_for()
    got = list(layer.handle_event(events.DataReceived(
        context.client, b"GET /a HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: garbage\r\n\r\n"
                        b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")))
    assert [type(c) for c in got] == [commands.SendData, commands.CloseConnection]
    assert got[0].data == GARBAGE  # and /b is never answered
    layer, context = layer_for()
    got = list(layer.handle_event(events.DataReceived(
        context.client, b"GET /a HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: slow-body:100"
                        b"\r\n\r\n")))
    assert [type(c) for c in got] == [commands.SendData, commands.RequestWakeup]
    assert got[0].data.startswith(b"HTTP/1.1 200 OK") and got[0].data.endswith(b"\r\n\r\n")
    assert 0.04 < got[1].delay <= 0.05  # a piece every 50 ms, without blocking anything
    pieces, wakeup = [], got[1]
    while wakeup is not None:
        time.sleep(wakeup.delay)
        more = list(layer.handle_event(events.Wakeup(wakeup)))
        pieces += [c.data for c in more if isinstance(c, commands.SendData)]
        wakeup = next((c for c in more if isinstance(c, commands.RequestWakeup)), None)
    assert pieces == [b"fir", b"st"] and isinstance(more[-1], commands.CloseConnection)


def test_another_mode_takes_the_connection_to_mitmproxy(layer_for):
    layer, context = layer_for(mockrec_mode="spy")
    got = list(layer.handle_event(events.DataReceived(context.client, RAW_REQUESTS[0])))
    assert layer.handed_off and not any(isinstance(c, commands.SendData) for c in got)


def test_the_outbox_writes_every_due_answer_at_once(layer_for):
    async def scenario() -> list[bytes]:
        received: list[bytes] = []
        done = asyncio.Event()

        async def client_side(reader, writer):
            while len(b"".join(received)) < 6:
                received.append(await reader.read(100))
            done.set()

        server = await asyncio.start_server(client_side, "127.0.0.1", 0)
        _, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        layer, _ = layer_for()
        box = outbox.outbox()
        due = time.monotonic() + 0.05
        flows = []
        for n, data in enumerate((b"one", b"two")):
            flow = tflow.tflow(resp=True)
            flows.append(outbox.Pending(layer, flow, data, False, due + n * 0.001))
            box.add(flows[-1], writer.transport)
        await asyncio.wait_for(done.wait(), 2)
        assert all(p.sent and p.finished for p in flows)
        writer.close()
        server.close()
        return received

    assert b"".join(asyncio.run(scenario())) == b"onetwo"


@pytest.mark.parametrize("mode, http_mode, tls, chosen", [
    (f"reverse:{DEAD}", HTTPMode.transparent, False, True),
    ("regular", HTTPMode.regular, False, True),
    (f"reverse:{DEAD}", HTTPMode.transparent, True, True),  # a TLS listener
    ("regular", HTTPMode.transparent, True, True),  # inside a CONNECT tunnel, decrypted
    ("regular", HTTPMode.transparent, False, True),  # a cleartext CONNECT tunnel
    ("regular", HTTPMode.transparent, b"h2", True),  # HTTP/2 too: its streams (h2.py)
    ("regular", HTTPMode.regular, True, False),  # not a forward proxy's own request
    ("upstream:http://127.0.0.1:9", HTTPMode.upstream, False, False),
])
def test_which_connections_the_replay_addon_gives_the_fast_path(data, mode, http_mode, tls,
                                                                chosen):
    replay = Replay()
    with taddons.context(Proxyserver(), replay) as tctx:
        tctx.configure(replay, mockrec_data_dir=str(data), mockrec_collection="api",
                       mockrec_call_log=0, mockrec_fast_replay=True)
        client = tflow.tclient_conn()
        client.proxy_mode = ProxyMode.parse(mode)
        client.tls = bool(tls)
        client.alpn = tls if isinstance(tls, bytes) else (b"http/1.1" if tls else None)
        nextlayer = NextLayer(Context(client, tctx.options))
        nextlayer.layer = HttpLayer(nextlayer.context, http_mode)
        replay.next_layer(nextlayer)
        assert isinstance(nextlayer.layer, FastReplayLayer) is chosen
        tctx.configure(replay, mockrec_fast_replay=False)  # e.g. mitmdump -s addons/replay.py
        nextlayer.layer = HttpLayer(nextlayer.context, http_mode)
        replay.next_layer(nextlayer)
        assert isinstance(nextlayer.layer, HttpLayer)


def test_a_reverse_proxys_tls_listener_gets_the_fast_layer_under_its_tls_layer(data):
    """There mitmproxy chooses TLS and HTTP layers at once, with no next_layer event
    between them (they took mitmproxy's path before)."""
    from mitmproxy.proxy.layers.tls import ClientTLSLayer
    replay = Replay()
    with taddons.context(Proxyserver(), replay) as tctx:
        tctx.configure(replay, mockrec_data_dir=str(data), mockrec_collection="api",
                       mockrec_call_log=0, mockrec_fast_replay=True)
        for mode, taken in ((f"reverse:{DEAD}", True), ("regular", False)):
            client = tflow.tclient_conn()
            client.proxy_mode = ProxyMode.parse(mode)
            nextlayer = NextLayer(Context(client, tctx.options))
            nextlayer.context.layers.append(nextlayer)  # as mitmproxy's stack has it
            tls = nextlayer.layer = ClientTLSLayer(nextlayer.context)
            tls.child_layer = HttpLayer(nextlayer.context, HTTPMode.transparent)
            replay.next_layer(nextlayer)
            assert nextlayer.layer is tls
            assert isinstance(tls.child_layer, FastReplayLayer) is taken


def test_random_requests_get_the_same_bytes_from_both_paths(data, start_proxy):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    fast = mock(start_proxy, data)
    usual = mock(start_proxy, data, "--set", "mockrec_fast_replay=false")
    token = st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                  exclude_characters=' :/?#'), min_size=1, max_size=10)
    path = st.lists(st.sampled_from(["users", "a", "b", "upload", "teapot", "7", "x%20y", "",
                                     "options-example", "{{id}}", "é", "seq", "garbled",
                                     "hosted", "cors"]),
                    max_size=3).map(
        lambda parts: "/" + "/".join(parts))
    query = st.sampled_from(["", "?a=1", "?a=1&a=2", "?=", "?x"])
    header = st.sampled_from([b"", b"x-mock-response-code: 201\r\n", b"Origin: http://o\r\n",
                              b"Access-Control-Request-Method: GET\r\n",
                              b"x-mock-match-request-body: true\r\n",
                              b"x-mock-response-name: 200 OK\r\n", b"Connection: close\r\n",
                              b"x-mock-response-fault: empty\r\n",
                              b"x-mock-response-fault: garbage\r\n",
                              b"x-mock-response-fault: close\r\n"])

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(method=st.one_of(st.sampled_from(["GET", "POST", "OPTIONS", "HEAD", "PUT"]), token),
           path=path, query=query, headers=st.lists(header, max_size=3),
           body=st.binary(max_size=50))
    def check(method, path, query, headers, body):
        request = (f"{method} {path}{query} HTTP/1.1\r\nHost: x\r\n".encode()
                   + b"".join(headers) + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        ours, theirs = exchange(fast.url, request), exchange(usual.url, request)
        assert ours == theirs
        assert ours.startswith(b"HTTP/1.1 ") or b"fault" in request or b"garbled" in request

    check()


def test_a_head_request_never_gets_a_body_on_either_path(data, start_proxy):
    for proxy in (mock(start_proxy, data), mock(start_proxy, data, "--api-key", "k"),
                  mock(start_proxy, data, "--set", "mockrec_fast_replay=false")):
        with socket.create_connection(address(proxy.url), timeout=5) as sock:
            for _ in range(2):  # the 404 (or 401) carries no body to be misread as an answer
                sock.sendall(b"HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n")
                head = read_answers(sock, 1, head_only=True)
                assert re.match(rb"HTTP/1.1 40[14] ", head) and head.endswith(b"\r\n\r\n")
                assert int(re.search(rb"(?i)content-length: (\d+)", head).group(1)) > 0
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\n\r\n")
            assert read_answers(sock, 1).startswith(b"HTTP/1.1 200 OK")


def test_the_call_log_tells_the_same_of_both_paths(data, start_proxy):
    requests = [b"GET /users/3?x=1 HTTP/1.1\r\nHost: x\r\nX-Trace: t\r\n\r\n",
                b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
                b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /seq HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /seq HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /garbled HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /b HTTP/1.1\r\nHost: x\r\nx-mock-response-fault: slow-body:100\r\n\r\n"]
    logs = {}
    for name, extra in (("fast", ()), ("usual", ("--set", "mockrec_fast_replay=false"))):
        proxy = mock(start_proxy, data, "--delay", "60", "--set", f"mockrec_mock=log-{name}",
                     *extra)
        for raw in requests:
            exchange(proxy.url, raw)
        store = HistoryStore(data, f"calls/log-{name}")
        deadline = time.monotonic() + 5
        while store.count() < len(requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        logs[name] = list(store.entries(newest_first=False, with_bodies=True))
    assert len(logs["fast"]) == len(logs["usual"]) == len(requests)
    for ours, theirs in zip(logs["fast"], logs["usual"], strict=True):
        assert ours.request == theirs.request
        assert ours.response == theirs.response
        assert (ours.mode, ours.upstream, ours.error) == (theirs.mode, theirs.upstream,
                                                          theirs.error)
        assert {**ours.notes, "mock": ""} == {**theirs.notes, "mock": ""}
    example, stored, missing, first, second, garbled, slow = logs["fast"]
    assert example.notes["delay_ms"] == 60 and example.notes["example"]["id"] == 1
    assert example.request.url == "http://x/users/3?x=1"  # as the client sent it
    assert example.timings.duration_ms >= 59
    assert stored.request.body == b"hi" and stored.response.status == 201
    assert missing.response.status == 404 and missing.notes["example"] is None
    assert [first.notes["example"]["sequence"], second.notes["example"]["sequence"]] == [1, 2]
    assert garbled.notes["fault"] == "garbage" and garbled.response is None
    assert garbled.error == "mockrec fault: garbage" and garbled.notes["example"]["name"]
    assert slow.notes["fault"] == "slow-body:100" and slow.response.body == b"second"
    assert slow.timings.duration_ms >= 150  # its delay, then the body's time


def test_the_poll_round_changes_with_each_poll_of_mockrecs_loop_only(monkeypatch):
    async def rounds() -> list[int | None]:
        seen = [stamping.poll_round()]
        await asyncio.sleep(0)
        seen.append(stamping.poll_round())
        return seen

    loop = stamping.stamping_event_loop()
    try:
        first, second = loop.run_until_complete(rounds())
        assert first is not None and second is not None and second > first
    finally:
        loop.close()
    assert asyncio.run(rounds()) == [None, None]  # another loop: looked at every time
    assert stamping.poll_round() is None
    monkeypatch.setattr(stamping, "_clock", None)


def test_watching_from_a_later_switch_takes_in_the_sockets_already_there():
    selector = stamping.StampingSelector()  # e.g. a proxy started in record mode
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, peer = listener.accept()
    try:
        selector.register(listener, select.POLLIN)
        selector.register(server, select.POLLIN)
        client.sendall(b"early")
        time.sleep(0.02)
        selector.select(0)
        assert selector.arrivals == {}  # not watching yet
        selector.watch(True)  # switched to replay
        if stamping.SO_TIMESTAMPNS is not None:
            assert listener.getsockopt(socket.SOL_SOCKET, stamping.SO_TIMESTAMPNS) == 1
        client.sendall(b"later")
        time.sleep(0.02)
        selector.select(0)
        assert peer in selector.arrivals
        # Off again (no delay can be asked for): no socket costs a look any more.
        selector.watch(False)
        assert selector.arrivals == {} and selector._watched == {}
        client.sendall(b"again")
        time.sleep(0.02)
        selector.select(0)
        assert selector.arrivals == {}
        assert server.recv(100) == b"earlylateragain"  # every socket still asyncio's
    finally:
        selector.close()
        for sock in (client, server, listener):
            sock.close()


def test_a_failure_of_ours_is_a_500_that_says_so(data, monkeypatch, caplog):
    replay = Replay()
    with taddons.context(Proxyserver(), replay) as tctx:
        tctx.configure(replay, mockrec_data_dir=str(data), mockrec_collection="api",
                       mockrec_call_log=0)

        def broken(*args, **kwargs):
            raise RuntimeError("the matcher broke")

        monkeypatch.setattr(replay.responder.matcher, "match", broken)
        flow = tflow.tflow()
        assert replay.answer(flow) is None
        assert flow.response.status_code == 500
        assert flow.response.json()["error"]["name"] == "mockServerError"
        assert "the matcher broke" in flow.response.json()["error"]["message"]
        assert "cannot answer" in caplog.text
        assert flow.metadata[metadata.OUTCOME] == {  # what the call log says
            "kind": "fault", "reason": "RuntimeError: the matcher broke"}


class ListensToConnect:
    def http_connect(self, flow) -> None:
        pass


class EagerOptions:
    """The proxy's options, but for connection_strategy "eager"."""

    def __init__(self, opts) -> None:
        self._opts = opts

    def __getattr__(self, name: str):
        return "eager" if name == "connection_strategy" else getattr(self._opts, name)

    def __contains__(self, name: str) -> bool:
        return name in self._opts


@pytest.mark.parametrize("case", ["plain", "bytes-after", "eager", "listened", "http/1.0"])
def test_a_forward_proxys_connect_is_established_by_the_layer_unless_mitmproxy_must(
        data, case):
    """CONNECT: the same 200 as mitmproxy's HTTP layer sends, and the next_layer event
    asked inside the tunnel, without that layer in between; mitmproxy's HTTP layer
    takes it when an addon listens to its events, the server is to be connected at
    once, or the client sent more after it (a byte-for-byte comparison of answers
    through both kinds of tunnel: test_the_fast_path_answers_byte_for_byte_over_tls)."""
    replay = Replay()
    addons = [Proxyserver(), replay] + ([ListensToConnect()] if case == "listened" else [])
    with taddons.context(*addons) as tctx:
        tctx.configure(replay, mockrec_data_dir=str(data), mockrec_collection="api",
                       mockrec_call_log=0, mockrec_fast_replay=True)
        client = tflow.tclient_conn()
        client.proxy_mode = ProxyMode.parse("regular")
        client.tls = False
        opts = tctx.options
        if case == "eager":  # replay makes it lazy; a proxy embedding mockrec might not
            opts = EagerOptions(opts)
        context = Context(client, opts)
        context.server = tflow.tserver_conn()
        context.server.address = None
        layer = FastReplayLayer(context, replay, HttpLayer(context, HTTPMode.regular))
        assert list(layer.handle_event(events.Start())) == []
        version = b"HTTP/1.0" if case == "http/1.0" else b"HTTP/1.1"
        raw = b"CONNECT api.test:443 " + version + b"\r\nHost: api.test:443\r\n\r\n"
        if case == "bytes-after":
            raw += b"\x16\x03\x01"  # a TLS ClientHello's first bytes, sent without waiting
        got = list(layer.handle_event(events.DataReceived(context.client, raw)))
        if case in ("plain", "http/1.0"):
            assert layer.tunnel is not None and not layer.handed_off
            sent = [c for c in got if isinstance(c, commands.SendData)]
            assert [c.data for c in sent] == [version + b" 200 Connection established\r\n\r\n"]
            assert context.server.address == ("api.test", 443)
            # What follows goes to the layers inside the tunnel: the next_layer event.
            hello = b"\x16\x03\x01\x00\x05hello"
            asked = list(layer.handle_event(events.DataReceived(context.client, hello)))
            assert any(type(c).__name__ == "NextLayerHook" for c in asked)
        else:
            assert layer.tunnel is None and layer.handed_off


def test_a_failure_in_the_layer_closes_the_connection_rather_than_hang_it(layer_for,
                                                                        monkeypatch, caplog):
    layer, context = layer_for()

    def broken(request, response):
        raise ValueError("cannot assemble")

    monkeypatch.setattr(fastreplay.wire, "answer_bytes", broken)
    got = list(layer.handle_event(events.DataReceived(context.client, RAW_REQUESTS[0])))
    assert [type(c) for c in got] == [commands.CloseConnection]
    assert "fast path failed" in caplog.text
    assert list(layer.handle_event(events.DataReceived(context.client, RAW_REQUESTS[0]))) == []


# -- Postman fidelity: the rules hold alike on the fast path and on mitmproxy's ---------------

def _example(postman_id: str, name: str, code: int, method: str, url: str, body: str = "",
             request_body: dict | None = None, headers: list | None = None,
             request_headers: list | None = None) -> dict:
    return {"id": postman_id, "name": name, "code": code, "status": "",
            "header": headers or [], "body": body,
            "originalRequest": {"method": method, "url": url, "header": request_headers or [],
                                **({"body": request_body} if request_body else {})}}


def _item(name: str, method: str, url: str, *examples: dict) -> dict:
    return {"name": name, "request": {"method": method, "url": url}, "response": list(examples)}


JSON_ROW = [{"key": "Content-Type", "value": "application/json"}]
FIDELITY = {
    "info": {"name": "fidelity",
             "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
    "variable": [{"key": "host", "value": "http://collection.test"}],
    "item": [
        _item("Team", "GET", "{{baseUrl}}/teams/{{teamId}}", _example(
            "c1-team", "team", 200, "GET", "{{baseUrl}}/teams/{{teamId}}",
            '{"team": "{{teamId}}"}', headers=[
                *JSON_ROW, {"key": "Location", "value": "{{host}}/teams/{{teamId}}"}])),
        _item("User", "GET", "{{baseUrl}}/users/{{id}}", _example(
            "c2-user", "user", 200, "GET", "{{baseUrl}}/users/{{id}}",
            '{"id": {{id}}, "lat": {{$randomLatitude}}, "job": "{{$randomJobTitle}}", '
            '"q": "{{$queryParams \'q\'}}"}', headers=[
                *JSON_ROW, {"key": "X-Request-Id", "value": "{{$guid}}"},
                {"key": "Location", "value": "{{host}}/users/{{id}}"}])),
        _item("Create order", "POST", "{{baseUrl}}/orders",
              _example("b2-created", "created", 201, "POST", "{{baseUrl}}/orders",
                       '{"order": "created"}', {"mode": "raw", "raw": '{\n  "item": "book",\n'
                       '  "qty": 2\n}', "options": {"raw": {"language": "json"}}},
                       request_headers=[{"key": "X-Tenant", "value": "acme"}]),
              _example("b1-conflict", "conflict", 409, "POST", "{{baseUrl}}/orders",
                       '{"order": "conflict"}', {"mode": "raw", "raw": '{"item": "pen"}',
                                                 "options": {"raw": {"language": "json"}}},
                       request_headers=[{"key": "X-Tenant", "value": "acme"}])),
        _item("Pets", "POST", "{{baseUrl}}/pets",
              _example("fa7b67e0", "error", 500, "POST", "{{baseUrl}}/pets", "error"),
              _example("48049d1c", "created", 201, "POST", "{{baseUrl}}/pets", "created")),
        _item("GraphQL", "POST", "{{baseUrl}}/graphql", _example(
            "d1-gql", "user", 200, "POST", "{{baseUrl}}/graphql", '{"data": {"user": "Ada"}}',
            {"mode": "graphql", "graphql": {"query": "query User($id: ID!) {\n  user(id: $id)"
                                                     " { name }\n}",
                                            "variables": '{"id": {{userId}}}'}})),
        _item("Echo", "POST", "{{baseUrl}}/echo", _example(
            "e1-echo", "echo", 200, "POST", "{{baseUrl}}/echo",
            "raw={{$body}} dotted={{$body 'a\\.a'}} nested={{$body 'a.a' 'none'}}")),
    ],
}
def http1(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: x", *headers]
    if method != "GET":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


FIDELITY_REQUESTS = [
    # JSON saved by Postman (language json, no Content-Type row), other whitespace
    (http1("POST", "/orders", "X-Tenant: acme", body=b'{"qty":2,  "item":"book"}'),
     b"201", b'{"order": "created"}'),
    # --match-body is on: another body is no example's...
    (http1("POST", "/orders", "X-Tenant: acme", body=b'{"item": "x"}'),
     b"404", b"mockRequestNotFoundError"),
    # ...unless the request turns body matching off: both fit, neither is a 200, so
    # Postman's id order decides (b1-conflict before b2-created)
    (http1("POST", "/orders", "X-Tenant: acme", "x-mock-match-request-body: false",
           body=b'{"item": "x"}'), b"409", b'{"order": "conflict"}'),
    # --match-headers x-tenant; the request's list replaces it
    (http1("POST", "/orders", "X-Tenant: other", body=b'{"item": "pen"}'),
     b"404", b"mockRequestNotFoundError"),
    (http1("POST", "/orders", "X-Tenant: other", "x-mock-match-request-headers: accept",
           body=b'{"item": "pen"}'), b"409", b'{"order": "conflict"}'),
    # Postman's example ids, and its UID form; the status filters first
    (http1("POST", "/orders", "x-mock-response-id: 12345678-b1-conflict"),
     b"409", b'{"order": "conflict"}'),
    (http1("POST", "/orders", "x-mock-response-code: 201", "x-mock-response-id: b1-conflict"),
     b"404", b"mockRequestNotFoundError"),
    # a tie with no 200: Postman's id order (48049d1c before fa7b67e0), not the file's
    (http1("POST", "/pets"), b"201", b"created"),
    # a wildcard forgives a trailing slash; variables (the environment's first) in headers
    (http1("GET", "/teams/7/"), b"200", b'{"team": "7"}'),
    # GraphQL: the query whitespace aside, variables any value for {{userId}}
    (http1("POST", "/graphql", "Content-Type: application/json", body=json.dumps({
        "query": "query User($id: ID!) { user(id: $id) { name } }", "variables": {"id": 5},
        "operationName": "User"}).encode()), b"200", b'{"data": {"user": "Ada"}}'),
    # {{$body}} is the body as sent; 'a\.a' is the key a.a. Postman's docs: with body
    # matching on, a contextual answer needs `x-mock-match-request-body: false`
    (http1("POST", "/echo", body=b'{"a.a": 1, "a": {"a": "n"}}'),
     b"404", b"mockRequestNotFoundError"),
    (http1("POST", "/echo", "x-mock-match-request-body: false",
           body=b'{"a.a": 1, "a": {"a": "n"}}'),
     b"200", b'raw={"a.a": 1, "a": {"a": "n"}} dotted=1 nested=n'),
]


@pytest.fixture(scope="module")
def fidelity(data, tmp_path_factory) -> Path:
    """The Postman collection above, and Adyen's, imported beside the `api` collection."""
    work = tmp_path_factory.mktemp("fidelity")
    (work / "fidelity.json").write_text(json.dumps(FIDELITY))
    for command in (["import", "postman", str(work / "fidelity.json")],
                    ["import", "postman", str(FIXTURES / ADYEN), "--collection", "adyen"],
                    ["env", "set", "fid", "host=http://env.test"],
                    ["env", "set", "adyen", "YOUR_MERCHANT_ACCOUNT=TestMerchant"]):
        assert main(["--data-dir", str(data), *command]) == 0
    return data


def both_paths(start_proxy, data: Path, collection: str, *args: str):
    return [start_proxy(collection, "--upstream", DEAD, *args, *extra, data_dir=data,
                        command="replay")
            for extra in ((), ("--set", "mockrec_fast_replay=false"))]


def test_postman_rules_hold_alike_on_both_paths(fidelity, start_proxy):
    fast, usual = both_paths(start_proxy, fidelity, "fidelity", "--env", "fid", "--match-body",
                             "--match-headers", "x-tenant")
    for raw, status, body in FIDELITY_REQUESTS:
        ours, theirs = exchange(fast.url, raw), exchange(usual.url, raw)
        assert ours == theirs, raw
        head, _, got = ours.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 " + status), (raw, head)
        assert body in got, (raw, got)
    team = exchange(fast.url, http1("GET", "/teams/7/"))
    assert b"\r\nLocation: http://env.test/teams/7\r\n" in team  # the environment wins
    # dynamic values: Postman's types, filled on both paths (values differ, so not bytes)
    for proxy in (fast, usual):
        answers = [httpx.get(proxy.url + "/users/5/?q=hi%22there") for _ in range(2)]
        for r in answers:
            assert r.status_code == 200 and r.headers["location"] == "http://env.test/users/5"
            doc = r.json()  # valid JSON: numbers bare, text in quotes and escaped
            assert doc["id"] == 5 and isinstance(doc["lat"], float) and -90 <= doc["lat"] <= 90
            assert isinstance(doc["job"], str) and doc["job"] and doc["q"] == 'hi"there'
            assert re.fullmatch(r"[0-9a-f-]{36}", r.headers["x-request-id"])
        assert answers[0].headers["x-request-id"] != answers[1].headers["x-request-id"]


def test_adyens_payments_are_found_by_their_bodies_on_both_paths(fidelity, start_proxy):
    """Acceptance: Adyen's collection imported with an environment setting its variables;
    each POST /payments example answers the body a Postman user sends for it."""
    collection = CollectionStore(fidelity).load("adyen")
    payments = [e for e in collection.examples
                if e.request.method == "POST" and e.request.url == "{{baseUrl}}/payments"]
    assert len(payments) == 10
    variables = {**collection.variables, "YOUR_MERCHANT_ACCOUNT": "TestMerchant"}
    for proxy in both_paths(start_proxy, fidelity, "adyen", "--env", "adyen"):
        found = 0
        with httpx.Client(base_url=proxy.url) as client:
            for example in payments:
                body = resolve(example.request.body.decode().replace(
                    "{{$guid}}", str(uuid.uuid4())), variables)
                r = client.post("/v72/payments", content=body, headers={
                    "Content-Type": "application/json", "x-mock-match-request-body": "true"})
                found += r.status_code == 200 and r.content == example.response.body
        assert found >= 9, proxy


def test_a_forward_proxy_serves_the_ca_certificate_page(data, start_proxy):
    proxy = start_proxy("api", data_dir=data, command="replay")
    with httpx.Client(proxy=proxy.url) as client:
        page = client.get("http://mitm.it/")
        cert = client.get("http://mitm.it/cert/pem")
    assert page.status_code == 200 and "mitmproxy" in page.text
    assert cert.status_code == 200 and b"BEGIN CERTIFICATE" in cert.content


def test_streamed_answers_are_the_same_bytes_from_both_paths(tmp_path, start_proxy):
    """Streams (tests/integration/test_streams_replay.py): the head, each chunk's bytes,
    and how the stream ended (its last chunk, or cut) are the same on both paths."""
    from test_streams_replay import ask, make_streams, read_stream

    data = make_streams(tmp_path / "streams")
    fast = start_proxy("live", "--upstream", DEAD, data_dir=data, command="replay")
    usual = start_proxy("live", "--upstream", DEAD, "--set", "mockrec_fast_replay=false",
                        data_dir=data, command="replay")
    for raw in (ask("/sse?who=Bo"), ask("/ndjson"), ask("/sse", b"Origin: http://app.test\r\n"),
                ask("/plain", b"x-mock-response-fault: cut:0\r\n")):
        ours, theirs = read_stream(fast.url, raw), read_stream(usual.url, raw)
        assert (ours[0], [p for _, p in ours[1]], ours[2]) == (
            theirs[0], [p for _, p in theirs[1]], theirs[2]), raw
