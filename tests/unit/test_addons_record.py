"""The record and upstream addons called hook by hook, as mitmproxy would."""

from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions, http
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.test import taddons, tflow

from addons import metadata, upstream
from addons.record import Record, entry_from_flow, tap_stream
from addons.upstream import UpstreamErrors
from recorder.store.history import HistoryStore

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


def test_entry_from_flow_keeps_bytes_and_header_order():
    flow = tflow.tflow(resp=True)
    flow.request.headers = http.Headers([(b"X-B", b"1"), (b"x-a", b"\xff"), (b"X-B", b"2")])
    flow.request.raw_content = b"\x00\x01"
    flow.response.raw_content = b"\x1f\x8b gzip bytes stay encoded"
    flow.response.headers["Content-Encoding"] = "gzip"
    entry = entry_from_flow(flow)
    assert entry.request.headers[0] == ("X-B", "1")
    assert entry.request.headers[2] == ("X-B", "2")
    assert entry.request.headers[1][1].encode("utf-8", "surrogateescape") == b"\xff"
    assert entry.request.body == b"\x00\x01"
    assert entry.response.body == b"\x1f\x8b gzip bytes stay encoded"
    assert entry.timings.duration_ms is not None
    assert entry.error is None


def test_record_addon_can_be_paused(tmp_path):
    addon = Record()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mockrec_data_dir=str(tmp_path), mockrec_record=False)
        addon.response(tflow.tflow(resp=True))
        addon.done()
    assert HistoryStore(tmp_path).count() == 0


def test_record_addon_refuses_a_damaged_store(tmp_path):
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "segment-00000000.json").write_text("{broken")
    addon = Record()
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match="move it"):
        tctx.configure(addon, mockrec_data_dir=str(tmp_path))


def test_upstream_error_hook_prepares_the_json_answer():
    addon = UpstreamErrors()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mockrec_upstream_timeout=1000)
        flow = tflow.tflow(err=True)
        addon.error(flow)
        raw = upstream._error_response(502, "ignored")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502")
    assert b"application/json" in head
    error = json.loads(body)["error"]
    assert error["upstream"] == "http://address:22"
    assert error["cause"] == flow.error.msg


def test_timed_out_flows_answer_504():
    addon = UpstreamErrors()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mockrec_upstream_timeout=250)
        flow = tflow.tflow(err=True)
        flow.metadata[metadata.TIMED_OUT] = True
        addon.error(flow)
        assert flow.error.msg == "upstream timed out after 250 ms"
        head = upstream._error_response(502, "Server disconnected").split(b"\r\n")[0]
    assert head.startswith(b"HTTP/1.1 504 ")


def test_a_request_mitmproxy_refuses_is_our_json_400_and_other_errors_keep_its_page():
    head, _, body = upstream._error_response(400, "bad request line").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"application/json" in head
    assert json.loads(body)["error"]["name"] == "badRequestError"
    assert b"text/html" in upstream._error_response(408, "request timeout")


def test_a_malformed_request_is_the_clients_fault_not_an_upstream_error():
    addon = UpstreamErrors()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, mockrec_upstream_timeout=1000)
        flow = tflow.tflow(err=True)
        flow.request.headers["Content-Length"] = "5"
        flow.request.headers["Transfer-Encoding"] = "chunked"
        addon.error(flow)
        assert "content-length" in flow.metadata[metadata.CLIENT_ERROR].lower()
        assert upstream._answer.get() is None  # no 502 prepared
        unknown = tflow.tflow()
        unknown.request.http_version = "HTTP/9.9"
        addon.request(unknown)
        assert unknown.response.status_code == 400 and unknown.metadata[metadata.REPLAYED]


def test_negative_timeout_is_refused():
    addon = UpstreamErrors()
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError):
        tctx.configure(addon, mockrec_upstream_timeout=-1)


def test_the_mitmproxy_internals_we_reach_into_are_there():
    """If a mitmproxy release moves these, upstream.py needs a look."""
    assert callable(_http1.make_error_response)
    from mitmproxy.addons.proxyserver import Proxyserver
    from mitmproxy.proxy.server import ConnectionHandler

    assert hasattr(Proxyserver(), "connections")
    assert "transports" in ConnectionHandler.__init__.__code__.co_names


@pytest.mark.parametrize("mode, noted", [
    ("reverse:http://localhost:3000", "http://localhost:3000"),
    ("reverse:https://api.example.com", "https://api.example.com"),
    ("reverse:https://[::1]:8443", "https://[::1]:8443"),
    ("regular", None),
])
def test_an_entry_notes_the_reverse_upstream_it_came_through(mode, noted):
    from mitmproxy.proxy.mode_specs import ProxyMode

    from addons.record import capture

    flow = tflow.tflow(resp=True)
    flow.client_conn.proxy_mode = ProxyMode.parse(mode)
    assert capture(flow, "record").to_entry().notes.get("reverse") == noted


@pytest.mark.parametrize("status, method, streamed", [
    (200, "GET", True), (204, "GET", False), (304, "GET", False), (101, "GET", False),
    (200, "HEAD", False)])
def test_an_answer_without_a_length_streams_only_if_it_may_have_a_body(status, method,
                                                                        streamed):
    flow = tflow.tflow(resp=True)
    flow.request.method = method
    flow.response.status_code = status
    del flow.response.headers["content-length"]
    assert (tap_stream(flow) is not None) is streamed
