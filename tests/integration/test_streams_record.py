"""Streams through a recording proxy: passed on part by part, stored with their timing."""

from __future__ import annotations

import shutil
import signal
import statistics
import subprocess
import time

import httpx
import pytest
from conftest import wait_for_entries
from mitmproxy import http
from mitmproxy.test import taddons, tflow

from addons.record import Record
from recorder.store.history import HistoryStore
from recorder.streams import Tap

SSE = b'data: {"a": 1}\n\ndata: {"a": 2}\n\ndata: [DONE]\n\n'


def timed_parts(client: httpx.Client, url: str, stop_after: int = 0):
    """(arrival time, bytes) of each part as the client reads it; `stop_after`: hang up
    after that many parts."""
    parts = []
    with client.stream("GET", url) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            parts.append((time.monotonic(), chunk))
            if stop_after and len(parts) >= stop_after:
                break
    return parts


def lags(parts, sent: list[float]) -> list[float]:
    """How long after the upstream sent each part the client had it (one part a read:
    the parts are 300 ms apart). About 1 ms on an idle machine; the bounds below leave
    room for a loaded one (the suite runs in parallel on 2 cores) and still fail a proxy
    that holds the parts back (the last would be 1.2 s late)."""
    assert len(parts) == len(sent), (len(parts), len(sent))
    return [got - out for (got, _), out in zip(parts, sent, strict=True)]


@pytest.fixture
def reverse(start_proxy, stream_upstream):
    return start_proxy("--upstream", stream_upstream.url)


@pytest.mark.parametrize("path", ["/sse", "/ndjson", "/chunks"])
def test_each_part_reaches_the_client_as_it_arrives(reverse, stream_upstream, path):
    query = f"{path}?n=5&gap=300&via=proxy"
    with httpx.Client(base_url=reverse.url, timeout=10) as client:
        parts = timed_parts(client, query)
    late = lags(parts, stream_upstream.sent[query])
    assert statistics.median(late) < 0.050 and max(late) < 0.150, late
    (entry,) = wait_for_entries(reverse.store, 1)
    body = b"".join(chunk for _, chunk in parts)
    assert entry.response.body == body
    stream = entry.response.stream
    assert [size for _, size in stream.parts] == [len(chunk) for _, chunk in parts]
    gaps = [b - a for (a, _), (b, _) in zip(stream.parts, stream.parts[1:], strict=False)]
    assert all(250 <= gap <= 400 for gap in gaps), gaps
    assert stream.cut is False and entry.error is None


def test_first_event_within_50_ms_of_direct(reverse, stream_upstream):
    def first_event(base: str, tag: str) -> float:
        query = f"/sse?n=2&gap=300&first={tag}"
        with httpx.Client(base_url=base, timeout=10) as client:
            asked = time.monotonic()
            (got, _), = timed_parts(client, query, stop_after=1)
        return got - asked

    httpx.get(reverse.url + "/sse?n=1&gap=0&warm=1")  # the proxy's first connection
    direct = min(first_event(stream_upstream.url, f"d{i}") for i in range(3))
    proxied = min(first_event(reverse.url, f"p{i}") for i in range(3))
    assert proxied - direct < 0.050, (direct, proxied)


def test_an_endless_feed_flows_and_is_stored_when_the_client_hangs_up(reverse):
    with httpx.Client(base_url=reverse.url, timeout=10) as client:
        parts = timed_parts(client, "/feed?gap=50", stop_after=6)
    assert len(parts) == 6
    (entry,) = wait_for_entries(reverse.store, 1)
    assert entry.response.stream.cut is True
    assert entry.response.body.startswith(b"".join(chunk for _, chunk in parts))
    assert len(entry.response.stream.parts) >= 6


def test_stopping_the_proxy_mid_stream_stores_the_entry_as_cut(start_proxy, stream_upstream):
    proxy = start_proxy("--upstream", stream_upstream.url, "--grace", "0.3")
    with httpx.Client(base_url=proxy.url, timeout=10) as client, \
            client.stream("GET", "/feed?gap=50&stop=1") as r:
        got = b""
        for chunk in r.iter_raw():
            got += chunk
            if got.count(b"\n\n") >= 3:
                break
        assert proxy.stop(signal.SIGTERM) == 0
    (entry,) = wait_for_entries(proxy.store, 1)
    assert entry.response.stream.cut is True
    assert entry.response.body.startswith(got)
    assert entry.error


def test_the_body_limit_bounds_what_is_kept_not_what_passes(start_proxy, stream_upstream):
    proxy = start_proxy("--mode", "record", "--upstream", stream_upstream.url,
                        "--body-limit", "100", command="proxy")
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        body = b"".join(c for _, c in timed_parts(client, "/ndjson?n=40&gap=5&limit=1"))
    assert body.count(b"\n") == 40
    (entry,) = wait_for_entries(proxy.store, 1)
    assert entry.response.body == body[:100]
    assert entry.response.stream.size == 100
    assert entry.notes["truncated"] == {"response": len(body)}


def test_passthrough_and_spy_stream_too(start_proxy, stream_upstream):
    for mode in ("passthrough", "spy"):
        proxy = start_proxy("--mode", mode, "--upstream", stream_upstream.url,
                            command="proxy")
        query = f"/sse?n=3&gap=300&mode={mode}"
        with httpx.Client(base_url=proxy.url, timeout=10) as client:
            timed_parts(client, f"/sse?n=1&gap=0&warm={mode}")  # the proxy's first connection
            parts = timed_parts(client, query)
        late = lags(parts, stream_upstream.sent[query])
        assert max(late) < 0.150, (mode, late)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_forward_https_over_http2(start_proxy, tls_stream_upstream, confdir):
    proxy = start_proxy("--set", "ssl_insecure=true")
    query = "/sse?n=4&gap=300&h2=1"
    curl = subprocess.Popen(
        ["curl", "-sS", "-N", "--http2", "-x", proxy.url, "--cacert",
         str(confdir / "mitmproxy-ca-cert.pem"), tls_stream_upstream.url + query],
        stdout=subprocess.PIPE)
    parts = []
    while line := curl.stdout.readline():  # an SSE event is a line and a blank one
        if line != b"\n":
            parts.append((time.monotonic(), line + curl.stdout.readline()))
    assert curl.wait(timeout=10) == 0
    late = lags(parts, tls_stream_upstream.sent[query])
    assert statistics.median(late) < 0.050 and max(late) < 0.150, late
    (entry,) = wait_for_entries(proxy.store, 1)
    assert entry.request.http_version == "HTTP/2.0"  # curl and mitmproxy agree on h2
    assert entry.response.body == b"".join(c for _, c in parts)
    assert len(entry.response.stream.parts) == 4


def test_a_response_with_a_length_keeps_todays_path(start_proxy, upstream):
    proxy = start_proxy("--upstream", upstream.url)
    r = httpx.get(proxy.url + "/echo?plain=1")
    (entry,) = wait_for_entries(proxy.store, 1)
    assert entry.response.body == r.content
    assert entry.response.stream is None


# -- the record addon's hooks, as mitmproxy calls them (its writer is a process) ------

def _streaming_flow(content_type: str = "text/event-stream") -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.response.headers = http.Headers(content_type=content_type,
                                         transfer_encoding="chunked")
    flow.response.content = None
    return flow


def test_record_taps_streams_and_stores_them_with_their_parts(tmp_path):
    addon = Record()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mockrec_data_dir=str(tmp_path))
        flow = _streaming_flow()
        addon.responseheaders(flow)
        assert isinstance(flow.response.stream, Tap)
        for part in (SSE[:16], SSE[16:32], SSE[32:], b""):
            assert flow.response.stream(part) == part
        addon.response(flow)
        cut = _streaming_flow("application/x-ndjson")
        addon.responseheaders(cut)
        cut.response.stream(b'{"a": 1}\n')
        cut.error = tflow.terr("Client disconnected.")
        addon.error(cut)
        plain = tflow.tflow(resp=True)
        addon.responseheaders(plain)
        assert plain.response.stream is False  # a body with a length: read whole
        addon.done()
    done, hung_up = HistoryStore(tmp_path).entries(newest_first=False, with_bodies=True)
    assert done.response.body == SSE
    assert [size for _, size in done.response.stream.parts] == [16, 16, len(SSE) - 32]
    assert done.response.stream.cut is False
    assert hung_up.response.body == b'{"a": 1}\n' and hung_up.response.stream.cut is True
    assert hung_up.error == "Client disconnected."
