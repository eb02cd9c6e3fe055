"""Upstream failures answered as JSON: 502 when refused or reset, 504 after a timeout.

mitmproxy answers a failed upstream with an HTML page and never gives up on a
silent upstream. Two small reaches into its internals change that; they are
kept here, in one place, and tests/test_upstream.py fails if a mitmproxy
release moves them:
- the HTTP/1 error page builder is wrapped, so the page becomes our JSON body;
- a timed-out upstream connection is closed, so mitmproxy reports the failure.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from dataclasses import dataclass

from mitmproxy import ctx, exceptions, http
from mitmproxy.net.http import http1
from mitmproxy.net.http.validate import validate_headers
from mitmproxy.proxy import commands
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import RequestProtocolError, ResponseProtocolError

from addons import metadata
from recorder.settings import ProxySettings


@dataclass
class ErrorAnswer:
    status: int
    upstream: str
    cause: str

    def body(self) -> bytes:
        name = "upstreamTimeoutError" if self.status == 504 else "upstreamError"
        return json.dumps({"error": {
            "name": name,
            "message": f"mockrec could not get a response from {self.upstream}: {self.cause}",
            "upstream": self.upstream,
            "cause": self.cause,
        }}).encode()


# Hooks run in the task that then writes the error page, so a context variable
# carries the flow's details from our `error` hook to the page builder.
_answer: contextvars.ContextVar[ErrorAnswer | None] = contextvars.ContextVar(
    "mockrec_error_answer", default=None)
_mitmproxy_error_response = _http1.make_error_response


def _closing_json(status: int, body: bytes) -> bytes:
    """A JSON error as bytes, closing the connection; its length Title-Case like the
    others (mitmproxy's Response.make would add a lower-case one)."""
    return http1.assemble_response(http.Response.make(status, body, {
        "Content-Type": "application/json", "Connection": "close",
        "Content-Length": str(len(body))}))


def _error_response(status_code: int, message: str = "") -> bytes:
    answer = _answer.get()
    if status_code == 413:  # over mockrec_body_limit (mitmproxy's body_size_limit)
        return _closing_json(413, json.dumps({"error": {
            "name": "payloadTooLargeError",
            "message": f"The request body is over this mock's limit of "
                       f"{ctx.options.body_size_limit} bytes (mockrec_body_limit).",
        }}, indent=2).encode())
    if status_code == 400:  # a request mitmproxy cannot read or refuses (client_fault)
        _answer.set(None)
        return _closing_json(400, json.dumps({"error": {
            "name": "badRequestError",
            "message": f"mockrec cannot take this request: {message}",
        }}, indent=2).encode())
    if status_code not in (502, 504) and answer is None:
        return _mitmproxy_error_response(status_code, message)
    _answer.set(None)
    answer = answer or ErrorAnswer(status_code, "the upstream", message)
    return _closing_json(answer.status, answer.body())


def install_error_answers() -> None:
    """mockrec's JSON instead of mitmproxy's HTML error pages (HTTP/1), and an answer
    where mitmproxy's HTTP/1 server would close without one (`_read_body`, `_send`)."""
    _http1.make_error_response = _error_response
    _http1.Http1Server.read_body = _read_body
    _http1.Http1Server.send = _send


def uninstall_error_answers() -> None:
    _http1.make_error_response = _mitmproxy_error_response
    _http1.Http1Server.read_body = _mitmproxy_read_body
    _http1.Http1Server.send = _mitmproxy_send


_mitmproxy_read_body = _http1.Http1Server.read_body
_mitmproxy_send = _http1.Http1Server.send


def _read_body(self: _http1.Http1Server, event):
    """mitmproxy's request body reader, with a 400 before it closes the connection on a
    body it cannot read (a bad chunk size, a chunk shorter than it said), and on chunk
    trailers, which it does not take (it raised, and the client got nothing)."""
    reader = _mitmproxy_read_body(self, event)
    try:
        command = next(reader)
        while True:
            if (isinstance(command, commands.CloseConnection) and command.connection is self.conn
                    and not getattr(self, "mockrec_refused", False)):
                self.mockrec_refused = True  # once: the close is said again at its EOF
                yield commands.SendData(self.conn, _error_response(
                    400, "the chunked request body cannot be read"))
            command = reader.send((yield command))
    except StopIteration:
        return
    except NotImplementedError:  # HTTP/1 request trailers
        self.state = self.done  # nothing more is read from this connection
        yield commands.SendData(self.conn, _error_response(
            400, "request trailers (fields after the last chunk) are not supported"))
        yield commands.CloseConnection(self.conn)
        yield ReceiveHttp(RequestProtocolError(self.stream_id, "request trailers"))


def _send(self: _http1.Http1Server, event):
    """mitmproxy's HTTP/1 answer writer, which takes a `100 Continue` it sent for the
    answer already begun, and so closes without the error that follows (a body over the
    limit after curl's `Expect: 100-continue`): an interim answer is not the answer."""
    if (isinstance(event, ResponseProtocolError) and self.response is not None
            and self.response.status_code < 200):
        self.response = None
    yield from _mitmproxy_send(self, event)


KNOWN_VERSIONS = frozenset({"HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3"})


def answering_h2c(disable_h2c: type) -> type:
    """mitmproxy's DisableH2C (its class, given), answering HTTP/2 with prior knowledge
    (`PRI * HTTP/2.0`, which it kills without a word) with a 505 that says what to use."""

    class AnsweringH2C(disable_h2c):
        def process_flow(self, f: http.HTTPFlow) -> None:
            req = f.request
            if (req.method, req.path, req.http_version) != ("PRI", "*", "HTTP/2.0"):
                return super().process_flow(f)
            f.metadata[metadata.REPLAYED] = True  # made up here: never recorded
            f.metadata[metadata.CLIENT_ERROR] = "HTTP/2 with prior knowledge"
            f.response = http.Response.make(505, json.dumps({"error": {
                "name": "httpVersionNotSupportedError",
                "message": "HTTP/2 without TLS (prior knowledge) is not spoken here: use "
                           "HTTP/1.1, or HTTPS, where HTTP/2 is offered (ALPN)",
            }}, indent=2).encode(), {"Content-Type": "application/json", "Connection": "close"})
            return None

    return AnsweringH2C


def client_fault(flow: http.HTTPFlow) -> str | None:
    """Why mitmproxy refused the client's request itself, before anything went upstream
    (Content-Length with Transfer-Encoding, two of them, a body length it cannot read),
    or None: then the failure was the upstream's."""
    try:
        if getattr(ctx.options, "validate_inbound_headers", True):
            validate_headers(flow.request)
        http1.expected_http_body_size(flow.request)
    except ValueError as e:
        return str(e)
    return None


def upstream_name(flow: http.HTTPFlow) -> str:
    req = flow.request
    return f"{req.scheme}://{req.host}:{req.port}"


def limit_bodies(opts, limit: int, answers: bool) -> None:
    """mockrec_body_limit through mitmproxy's own limits, which hold memory flat: where
    examples answer, a request is read whole to be matched, so a bigger one is
    refused (413, `body_size_limit`); where everything is forwarded, a bigger body is
    streamed through unread (`stream_large_bodies`) and recorded as truncated."""
    if not limit:
        return  # mitmproxy's own options decide
    wanted = ({"body_size_limit": str(limit), "stream_large_bodies": None} if answers else
              {"body_size_limit": None, "stream_large_bodies": str(limit)})
    changed = {k: v for k, v in wanted.items() if getattr(opts, k) != v}
    if changed:
        opts.update(**changed)


class UpstreamErrors:
    name = "mockrec_upstream"

    def __init__(self) -> None:
        # Flows waiting for response headers, by id, with their deadline. One
        # sweeper task checks them, cheaper than a timer per request.
        self._waiting: dict[str, tuple[float, http.HTTPFlow]] = {}
        self._sweeper: asyncio.Task | None = None

    def load(self, loader) -> None:
        ProxySettings.declare(loader, "upstream_timeout")

    def running(self) -> None:
        install_error_answers()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def done(self) -> None:
        uninstall_error_answers()
        if self._sweeper:
            self._sweeper.cancel()

    def configure(self, updated: set[str]) -> None:
        if ("upstream_timeout" in ProxySettings.changed(updated)
                and ctx.options.mockrec_upstream_timeout < 0):
            raise exceptions.OptionsError("mockrec_upstream_timeout must be 0 or more ms")
        # Connect upstream when a request needs it: with mitmdump's default (eager), a
        # dead upstream fails the client's connection before there is a request to
        # answer, so the client gets an empty reply and nothing can be recorded.
        if ctx.options.connection_strategy != "lazy":
            ctx.options.connection_strategy = "lazy"

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        if flow.request.http_version not in KNOWN_VERSIONS:
            # mitmproxy would pass `GET / HTTP/9.9` on as it came: never upstream, and
            # not traffic to record (made up here, so marked replayed).
            flow.metadata[metadata.CLIENT_ERROR] = f"unknown {flow.request.http_version}"
            flow.metadata[metadata.REPLAYED] = True
            flow.response = http.Response.make(400, json.dumps({"error": {
                "name": "badRequestError",
                "message": f"mockrec cannot take this request: {flow.request.http_version!r} "
                           "is not a version of HTTP it speaks (HTTP/1.0, HTTP/1.1, HTTP/2)",
            }}, indent=2).encode(), {"Content-Type": "application/json", "Connection": "close"})
            return
        timeout_ms = ctx.options.mockrec_upstream_timeout
        if not timeout_ms or flow.metadata.get(metadata.REPLAYED):  # replay's streamer
            return
        self._waiting[flow.id] = (time.monotonic() + timeout_ms / 1000, flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._cancel(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        self._cancel(flow)  # answered by an addon: no response headers hook came

    def error(self, flow: http.HTTPFlow) -> None:
        self._cancel(flow)
        if flow.response or flow.error is None:
            return
        if fault := client_fault(flow):
            # mitmproxy answers it 400 (our JSON, _error_response); nothing was forwarded,
            # so nothing is recorded as an upstream error either.
            flow.metadata[metadata.CLIENT_ERROR] = fault
            return
        if flow.metadata.get(metadata.TIMED_OUT):
            flow.error.msg = (f"upstream timed out after "
                              f"{ctx.options.mockrec_upstream_timeout} ms")
            _answer.set(ErrorAnswer(504, upstream_name(flow), flow.error.msg))
        else:
            _answer.set(ErrorAnswer(502, upstream_name(flow), flow.error.msg))

    def _cancel(self, flow: http.HTTPFlow) -> None:
        self._waiting.pop(flow.id, None)

    async def _sweep(self) -> None:
        while True:
            timeout_ms = ctx.options.mockrec_upstream_timeout or 1000
            await asyncio.sleep(min(max(timeout_ms / 5000, 0.02), 0.25))
            now = time.monotonic()
            expired = [flow for deadline, flow in self._waiting.values() if deadline <= now]
            for flow in expired:
                del self._waiting[flow.id]
                self._time_out(flow)

    def _time_out(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        handler = ctx.master.addons.get("proxyserver").connections.get(flow.client_conn.id)
        io = handler.transports.get(flow.server_conn) if handler else None
        if io is None or io.writer is None:
            return  # still connecting: the OS connect timeout applies
        flow.metadata[metadata.TIMED_OUT] = True
        io.writer.close()
