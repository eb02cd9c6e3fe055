"""HTTP/2 on the fast path: mitmproxy's HTTP layer, whose streams are answered here.

An h2 client (ALPN h2 on a reverse proxy's TLS listener or inside a forward
proxy's CONNECT tunnel; or h2c with prior knowledge, the preface in cleartext)
gets mitmproxy's own HTTP layer and HTTP/2 connection (the `h2` library: frames,
flow control, HPACK, the same bytes), with one difference: each stream is a
`FastStream` rather than mitmproxy's `HttpStream`, which fires the requestheaders,
request and response events for it. A FastStream takes the request as mitmproxy
parsed it, sets what mitmproxy's stream sets for a reverse proxy or a tunnel
(host, port, scheme, the Host it sends upstream), asks `Replay.answer` and sends
the answer as mitmproxy's stream would send an addon's, then logs the call.

A stream it does not take becomes mitmproxy's `HttpStream` with what came so far:
a CONNECT (websockets over h2), `Expect`, trailers, a body over the limit, a
malformed request, another mode; or an answer that is not immediate (a delay, a
fault, a stream), which mitmproxy's stream carries out as it always does, with the
answer `Replay.answer` gave (`metadata.DECIDED`: it is not asked twice).
"""

from __future__ import annotations

import time

from mitmproxy import http
from mitmproxy.net.http import url
from mitmproxy.proxy import events, layer
from mitmproxy.proxy.layers.http import DropStream, HttpLayer, HTTPMode, HttpStream, SendHttp
from mitmproxy.proxy.layers.http._events import (
    RequestData,
    RequestEndOfMessage,
    RequestHeaders,
    ResponseData,
    ResponseEndOfMessage,
    ResponseHeaders,
    ResponseTrailers,
)
from mitmproxy.proxy.layers.http._http2 import Http2Server
from mitmproxy.proxy.mode_specs import ReverseMode

from addons import metadata

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def prior_knowledge(nextlayer: layer.NextLayer) -> None:
    """mitmproxy's own path: an HTTP layer chosen for a client that opened with the
    HTTP/2 preface in cleartext (h2c with prior knowledge) gets mitmproxy's HTTP/2
    connection rather than its HTTP/1 one, which closed the connection without a word.
    (HttpLayer keeps a client connection set before its start.)"""
    chosen = nextlayer.layer
    if (isinstance(chosen, HttpLayer) and not nextlayer.context.client.tls
            and nextlayer.data_client().startswith(H2_PREFACE[:14])):
        chosen.connections.setdefault(nextlayer.context.client,
                                      Http2Server(chosen.context.fork()))


class FastH2Layer(HttpLayer):
    """mitmproxy's HTTP layer for an h2 client, each of whose streams a FastStream takes."""

    def __init__(self, fallback: HttpLayer, replay, limits: tuple[int, str | None],
                 prior_knowledge: bool):
        context = fallback.context
        super().__init__(context, fallback.mode)
        context.layers.remove(self)  # the stack reads as mitmproxy's own
        self.replay = replay
        self.max_body, self.onboarding_host = limits  # mitm.it is mitmproxy's
        self.reverse = (isinstance(context.client.proxy_mode, ReverseMode)
                        and not context.options.keep_host_header)
        if prior_knowledge:  # h2c: no ALPN says h2, the preface does (HttpLayer keeps it)
            self.connections[context.client] = Http2Server(context.fork())

    def make_stream(self, stream_id: int) -> layer.CommandGenerator[None]:
        stream = self.streams[stream_id] = FastStream(self, stream_id)  # type: ignore[assignment]
        yield from self.event_to_child(stream, events.Start())  # type: ignore[arg-type]


class FastStream:
    """One h2 stream: answered here, or handed to mitmproxy's HttpStream."""

    __slots__ = ("owner", "stream_id", "came", "body", "inner", "done")

    def __init__(self, owner: FastH2Layer, stream_id: int) -> None:
        self.owner, self.stream_id = owner, stream_id
        self.came: list[events.Event] = []  # for mitmproxy's stream, should it take over
        self.body = bytearray()
        self.inner: HttpStream | None = None
        self.done = False

    def handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if self.inner is not None:
            yield from self.inner.handle_event(event)
            return
        if self.done or type(event) is events.Start:
            return
        self.came.append(event)
        kind = type(event)
        if kind is RequestHeaders:
            if not self._takes(event):  # type: ignore[arg-type]
                yield from self._hand_over()
        elif kind is RequestData:
            self.body += event.data  # type: ignore[attr-defined]
            if len(self.body) > self.owner.max_body:
                yield from self._hand_over()
        elif kind is RequestEndOfMessage:
            yield from self._answer()
        else:  # trailers, a protocol error, anything else: mitmproxy's to handle
            yield from self._hand_over()

    def _takes(self, event: RequestHeaders) -> bool:
        owner, request = self.owner, event.request
        replay = owner.replay
        return (request.method != "CONNECT" and "expect" not in request.headers
                and replay.mode.fast_path(replay.on_miss) and not event.replay_flow
                and (owner.mode is HTTPMode.transparent  # else: a forward proxy's h2c
                     or bool(request.host) and request.host != owner.onboarding_host))

    def _answer(self) -> layer.CommandGenerator[None]:
        owner = self.owner
        context = owner.context
        headers = self.came[0]
        request = headers.request  # type: ignore[attr-defined]
        server = context.server
        if owner.mode is HTTPMode.transparent:  # a reverse proxy, a tunnel: as HttpStream
            request.data.host, request.data.port = server.address
            request.scheme = "https" if server.tls else "http"
        if owner.reverse:
            request.host_header = url.hostport(request.scheme, *server.address)
        request.timestamp_end = time.time()
        request.data.content = bytes(self.body)
        flow = http.HTTPFlow(context.client, server)
        flow.request = request
        flow.live = True
        later = owner.replay.answer(flow)
        response = flow.response
        if later is None and response is None:
            yield from self._hand_over()  # not ours after all: mitmproxy asks again
            return
        if later is not None:  # not now: mitmproxy's stream carries it out
            flow.metadata[metadata.DECIDED] = later
            end_stream = headers.end_stream  # type: ignore[attr-defined]
            self.came[0] = RequestHeaders(self.stream_id, request, end_stream, replay_flow=flow)
            yield from self._hand_over()
            return
        self.done = True
        response.timestamp_start = response.timestamp_end = time.time()
        client, stream_id = context.client, self.stream_id
        content = response.raw_content
        yield SendHttp(ResponseHeaders(stream_id, response, not (
            content or response.trailers)), client)
        if content:
            yield SendHttp(ResponseData(stream_id, content), client)
        if response.trailers:
            yield SendHttp(ResponseTrailers(stream_id, response.trailers), client)
        flow.live = False
        yield DropStream(stream_id)
        yield SendHttp(ResponseEndOfMessage(stream_id), client)
        owner.replay.response(flow)

    def _hand_over(self) -> layer.CommandGenerator[None]:
        """mitmproxy's HttpStream takes this stream, with what came so far."""
        self.inner = HttpStream(self.owner.context.fork(), self.stream_id)
        yield from self.inner.handle_event(events.Start())
        came, self.came = self.came, []
        for event in came:
            yield from self.inner.handle_event(event)

