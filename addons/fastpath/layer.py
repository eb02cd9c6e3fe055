"""Replay's fast path: HTTP/1 requests answered inside the connection's layer.

mitmproxy runs every request through its HTTP layers and three rounds of addon
events (requestheaders, request, response), each a task offered to every addon:
most of a request's CPU, spent on addons with nothing to say. When no addon
but mockrec's own listens (`mockrec replay`/`proxy` without --verbose and
without `--set`s for other mitmproxy addons; option `mockrec_fast_replay`), the
replay addon picks this layer, through mitmproxy's `next_layer` event, for each
HTTP/1 client connection of a reverse proxy, and of a forward proxy for plain-HTTP
requests, and for the decrypted HTTP/1 stream inside TLS (a reverse proxy's TLS
listener; a forward proxy's CONNECT tunnel after the handshake, where mitmproxy
offers the layer inside its TLS layer; after the handshake the layer drives the
TLS itself, direct.py; HTTP/2's streams are answered by h2.py). It reads each
request (wire.py: mitmproxy's rules, for the plain cases only), answers it with
the same `Replay.answer` (matching, templates, CORS, key, quota), and sends the
answer and logs the call as the response event would.

A forward proxy's CONNECT is established here too, as mitmproxy's HTTP layer
would (the same 200, the server's address, then the next_layer event for what
the tunnel carries: TLS, and this layer again inside it), so that neither that
layer nor its stream stands between the client and the tunnel for every request
after it; unless an addon listens to a CONNECT's events, the server is to be
connected at once, or the client sent more behind the CONNECT.

Everything else goes to mitmproxy's HTTP layer, which the layer holds from the
start and hands the connection to, unread bytes included: another mode (record,
spy, passthrough, or --on-miss forward), chunked or big request bodies,
`Expect`, `Upgrade`, `*` targets, origin-form requests to a forward proxy and
absolute-form ones to a reverse proxy, mitm.it, malformed heads. From
then on the connection is mitmproxy's as usual.

Delays are honest under a burst, which takes two things here:
- A delay counts from the request's arrival, not from when the busy event loop
  got to it: `StampingSelector` (the loop's selector in `mockrec`) asks the
  kernel when the data arrived.
- Hundreds of answers due at the same moment go out together: the `Outbox`
  writes each one at its time straight to the client's transport, rather than
  through a wakeup task and an event each.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Iterator
from typing import Protocol

from mitmproxy import addonmanager, ctx, http
from mitmproxy.connection import ConnectionState
from mitmproxy.net.http import http1, url
from mitmproxy.net.http.validate import validate_headers
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers.http import HttpLayer, HTTPMode
from mitmproxy.proxy.layers.tls import ClientTLSLayer, TLSLayer
from mitmproxy.proxy.mode_specs import RegularMode, ReverseMode
from mitmproxy.utils import human
from mitmproxy.utils.strutils import always_bytes

from addons import faults
from addons.fastpath import websocket, wire
from addons.fastpath.direct import DirectTLS
from addons.fastpath.h2 import FastH2Layer
from addons.fastpath.outbox import Pending, outbox
from addons.fastpath.selector import arrival_time
from addons.streamer import Streamed
from addons.websockets import Play
from recorder.modes import Mode
from recorder.serve.faults import GARBAGE, slow_pieces
from recorder.serve.pacing import LAST_CHUNK, chunk
from recorder.serve.responder import Responder

MAX_HEAD = 64 * 1024  # longer heads go to mitmproxy, which answers them properly
MAX_BODY = 1024 * 1024  # bigger bodies too: mitmproxy streams and limits them
HAND_OFF = object()
log = logging.getLogger(__name__)
_warned = False


CONNECT_HOOKS = ("requestheaders", "http_connect", "http_connected", "http_connect_error")


def _connect_listened() -> bool:
    """Does any addon listen to a CONNECT's events? (None does in a proxy that takes
    the fast path, but one may be loaded into it later.)"""
    return any(callable(getattr(addon, hook, None)) for addon in
               addonmanager.traverse(ctx.master.addons.chain) for hook in CONNECT_HOOKS)


def wants(nextlayer: layer.NextLayer) -> bool:
    """Is this connection one the fast path serves: an HTTP/1 client of a reverse or
    forward proxy, for which mitmproxy chose its HTTP layer? Cleartext, or the
    decrypted stream inside TLS (a reverse proxy's TLS listener, or a forward proxy's
    CONNECT tunnel: mitmproxy offers the layer inside the TLS layer again). An h2
    client too: its streams are answered by h2.py."""
    chosen, client = nextlayer.layer, nextlayer.context.client
    if _over_tls(chosen) is not None:  # a reverse proxy's TLS listener: ALPN comes later
        return isinstance(client.proxy_mode, ReverseMode)
    if not isinstance(chosen, HttpLayer) or client.alpn not in (None, b"", b"http/1.1", b"h2"):
        return False
    if chosen.mode is HTTPMode.transparent:  # a reverse proxy, or inside a CONNECT tunnel
        return isinstance(client.proxy_mode, (ReverseMode, RegularMode))
    return (chosen.mode is HTTPMode.regular and not client.tls
            and isinstance(client.proxy_mode, RegularMode))


def _over_tls(chosen: layer.Layer | None) -> ClientTLSLayer | None:
    """The TLS layer over mitmproxy's HTTP layer in a stack chosen at once, as for a
    reverse proxy's TLS listener (its TLS layers, then its HTTP layer, with no
    next_layer event between them); None for any other choice."""
    while isinstance(chosen, TLSLayer):  # a ServerTLSLayer, then the ClientTLSLayer
        child = chosen.child_layer
        if isinstance(chosen, ClientTLSLayer) and isinstance(child, HttpLayer):
            return chosen if child.mode is HTTPMode.transparent else None
        chosen = child
    return None


def fast_layer(nextlayer: layer.NextLayer, replay: Answerer) -> layer.Layer:
    """What `nextlayer` is to be (for a connection `wants` took): the fast layer, over
    mitmproxy's HTTP layer, which it hands what it does not take to."""
    tls = _over_tls(nextlayer.layer)
    if tls is None:
        return FastReplayLayer(nextlayer.context, replay, nextlayer.layer)
    http_layer = tls.child_layer
    tls.child_layer = FastReplayLayer(http_layer.context, replay, http_layer)
    return nextlayer.layer


class Answerer(Protocol):
    """What the layer needs from the replay addon (addons/replay.py's `Replay`): the one
    seam between the two paths, so that both give the same answers."""

    mode: Mode
    on_miss: str
    responder: Responder  # its config: how a WebSocket conversation is played

    def answer(self, flow: http.HTTPFlow
               ) -> tuple[http.Response, float] | faults.Faulted | Streamed | None:
        """Answer now (flow.response), or with what after how many seconds, or with a
        fault (the layer carries it out); None: the request is not mockrec's to answer
        (hand it to mitmproxy)."""

    def settle(self, flow: http.HTTPFlow, response: http.Response) -> None:
        """A delayed answer is due: make it the flow's response."""

    def response(self, flow: http.HTTPFlow) -> None:
        """The answer went out: log the call (as mitmproxy's response event would)."""

    def fault_done(self, flow: http.HTTPFlow) -> None:
        """A fault was carried out: log the call."""

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        """A replayed WebSocket conversation ended: log the call."""


class FastReplayLayer(layer.Layer):
    """Serves a client connection's requests from the examples, one at a time
    (HTTP/1 answers in order), until one needs mitmproxy's HTTP layer."""

    def __init__(self, context, replay: Answerer, fallback: layer.Layer) -> None:
        super().__init__(context)
        context.layers.remove(self)  # the stack reads as mitmproxy's own
        self.replay = replay
        self.fallback = fallback
        self.buffer = bytearray()
        self.arrived = 0.0  # when the buffer's first byte arrived
        self.waiting: Pending | None = None  # an answer waiting out its delay
        # A fault being carried out: its flow and what to send when (monotonic time;
        # empty bytes: nothing), after which the connection ends.
        self.faulting: tuple[http.HTTPFlow, faults.Faulted,
                             collections.deque[tuple[float, bytes]]] | None = None
        self.wakeup: commands.RequestWakeup | None = None  # asked for, to go on after it
        self.client_closed = False
        self.done = False
        self.handed_off = False
        # A forward proxy's CONNECT tunnel, once established: the layers inside it.
        self.tunnel: layer.Layer | None = None
        # Inside TLS: the connection's TLS, driven here between requests (direct.py);
        # what it left for the layers to carry out; the wakeups asked for that.
        self.direct: DirectTLS | None | bool = None  # False: not to be had
        self.resumed: Iterator[commands.Command] | None = None
        self.kicks: set[commands.RequestWakeup] = set()
        self.h2: FastH2Layer | None = None  # an HTTP/2 client's layer (h2.py)
        self.websocket: websocket.FastPlayer | None = None  # a replayed conversation's
        # Absolute-form requests (a forward proxy's plain HTTP), or origin-form ones to
        # the connection's server (a reverse proxy; inside a forward proxy's tunnel).
        self.forward = getattr(fallback, "mode", None) is HTTPMode.regular
        self.reverse = isinstance(context.client.proxy_mode, ReverseMode)
        self._transport: asyncio.BaseTransport | None | bool = False  # False: not looked up
        self._host_field: bytes | None = None  # a reverse proxy's Host, made on first use
        # Read once a connection: each option read costs a deep copy of its value.
        opts = context.options
        self.keep_host_header = opts.keep_host_header
        # A body over --body-limit (mitmproxy's body_size_limit) is mitmproxy's to refuse
        # with its 413, as on its own path.
        limit = human.parse_size(opts.body_size_limit)
        self.max_body = MAX_BODY if limit is None else min(MAX_BODY, limit)
        # mitm.it, where a forward proxy's clients get the CA certificate (its addon is
        # loaded for forward proxies only).
        self.onboarding_host = (opts.onboarding_host if "onboarding" in opts
                                and opts.onboarding else None)

    def handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if self.direct:
            self.direct.off()  # the connection's end, through mitmproxy's reader
            if self.resumed is not None:  # what direct TLS left to the layers, first
                rest, self.resumed = self.resumed, None
                yield from rest
            if type(event) is events.Wakeup and event.command in self.kicks:
                self.kicks.discard(event.command)
                event = None  # only asked for to carry the rest out
        if self.tunnel is not None:
            yield from self.tunnel.handle_event(event)
            return
        if self.handed_off:
            if event is not None:
                yield from self.fallback.handle_event(event)
            if self.h2 is not None and self.context.client.tls:
                self._go_direct()
            return
        if self.done:
            return
        try:
            if event is not None:
                yield from self._handle(event)
            if self.context.client.tls and not self.done:
                self._go_direct()
        except Exception:  # a bug of ours: the client must not wait for ever
            log.exception("mockrec: replay's fast path failed; closing the connection")
            yield from self._close()

    def _go_direct(self) -> None:
        """Inside TLS, with nothing waiting: drive the TLS here (direct.py)."""
        client = self.context.client
        if self.h2 is not None:  # HTTP/2's own layer: whatever it waits for, on timers
            ready = bool(client.state & ConnectionState.CAN_READ)
        else:
            ready = (self.waiting is None and self.faulting is None and self.wakeup is None
                     and not self.handed_off and not self.client_closed
                     and self.tunnel is None and client.alpn in (None, b"", b"http/1.1"))
        if ready:
            if self.direct is None:
                self.direct = DirectTLS.find(self) or False
            if self.direct:
                self.direct.on()

    def direct_steps(self, plaintext: bytes) -> layer.CommandGenerator[None]:
        """What the layer does with `plaintext` that direct TLS decrypted."""
        if self.h2 is not None:
            if plaintext:
                yield from self.h2.handle_event(events.DataReceived(self.context.client,
                                                                    plaintext))
            return
        if plaintext:
            if not self.buffer:
                self.arrived = arrival_time(self.context.client.peername)
            self.buffer += plaintext
        yield from self._serve()

    def resume(self, rest: Iterator[commands.Command]) -> commands.RequestWakeup:
        """Direct TLS hands the connection back: `rest` goes through the layers on the
        Wakeup of the command returned (or on whichever event comes first)."""
        self.resumed = rest
        kick = commands.RequestWakeup(0)
        self.kicks.add(kick)
        return kick

    def _handle(self, event: events.Event) -> layer.CommandGenerator[None]:
        client = self.context.client
        if self.websocket is not None:  # the conversation's player has the connection
            if isinstance(event, events.DataReceived) and event.connection is client:
                self.websocket.feed(event.data, arrival_time(client.peername))
            elif isinstance(event, events.ConnectionClosed) and event.connection is client:
                self.websocket.feed(b"", time.time())
                yield from self._close()
            return
        if isinstance(event, events.Start):
            if client.alpn == b"h2" and self.replay.mode.fast_path(self.replay.on_miss):
                yield from self._h2(prior_knowledge=False)
            elif client.alpn not in (None, b"", b"http/1.1"):
                yield from self._hand_off()
            return
        if self.faulting is not None:  # the connection ends with the fault
            if isinstance(event, events.Wakeup) and event.command is self.wakeup:
                self.wakeup = None
                yield from self._fault_steps()
            return
        if isinstance(event, events.DataReceived) and event.connection is client:
            arrived = arrival_time(client.peername)
            if not self.buffer:
                self.arrived = arrived
            self.buffer += event.data
            if self.waiting is None:
                yield from self._serve()
            else:
                yield from self._act_after(self.waiting)  # pipelined: next once this is out
        elif isinstance(event, events.Wakeup):
            if event.command is self.wakeup:
                self.wakeup = None
                pending = self.waiting
                if pending is not None and pending.due > time.monotonic():
                    yield from self._act_after(pending)  # woken for one before it
                    return
                if pending is not None:
                    if pending.steps and pending.boxed:
                        yield from self._act_after(pending)  # the outbox plays the stream
                        return
                    if not pending.hung_up(self.transport()):
                        yield commands.SendData(client, pending.take_due())
                    if not pending.sent:  # a stream's next part
                        yield from self._act_after(pending)
                        return
                    pending.finish()
                    if pending.close:
                        yield from self._close()
                yield from self._serve()
                if self.client_closed and self.waiting is None:
                    yield from self._close()
        elif isinstance(event, events.ConnectionClosed) and event.connection is client:
            self.client_closed = True
            if self.waiting is None:
                yield from self._serve()
                if self.waiting is None:
                    yield from self._close()
            else:
                yield from self._act_after(self.waiting)

    _handle_event = handle_event

    def sent(self, flow: http.HTTPFlow) -> None:
        """A delayed answer went out (outbox.py): log the call."""
        self.replay.response(flow)

    def _act_after(self, pending: Pending) -> layer.CommandGenerator[None]:
        """Have the layer woken once `pending` is due, to go on after it."""
        if self.wakeup is None:
            self.wakeup = commands.RequestWakeup(max(0.0, pending.due - time.monotonic()))
            yield self.wakeup

    def _serve(self) -> layer.CommandGenerator[None]:
        """Answer what the buffer holds, until a delay, a partial request or a hand-off."""
        replay = self.replay
        while self.buffer and self.waiting is None and not self.done:
            if not replay.mode.fast_path(replay.on_miss):
                yield from self._hand_off()
                return
            if self.buffer.startswith(b"PRI * HTTP/2.0"):
                yield from self._h2(prior_knowledge=True)  # h2c with prior knowledge
                return
            parsed = self._parse()
            if parsed is None:
                if self.client_closed:
                    yield from self._hand_off()  # mitmproxy says what is wrong with it
                return
            if parsed is HAND_OFF:
                yield from self._hand_off()
                return
            if type(parsed) is http.Request:  # CONNECT
                yield from self._open_tunnel(parsed)
                return
            flow, size, request_close = parsed
            later = replay.answer(flow)
            if later is None and flow.response is None:
                yield from self._hand_off()  # not ours after all: the request is still unread
                return
            if type(later) is Play:
                self._play(flow, later, size)
                return
            del self.buffer[:size]
            if self.buffer:
                self.arrived = time.time()  # pipelined: here by now, at the latest
            if type(later) is faults.Faulted:
                yield from self._fault(flow, later)
                return
            if type(later) is Streamed:
                yield from self._stream(flow, later, request_close)
                continue
            if later is not None:
                replay.settle(flow, later[0])
            response = flow.response
            assert response is not None
            data, response_close = wire.answer_bytes(flow.request, response)
            close = self.client_closed and not self.buffer or request_close or response_close
            if later is None:
                yield commands.SendData(self.context.client, data)
                replay.response(flow)
                if close:
                    yield from self._close()
                continue
            seconds = later[1]
            pending = self.waiting = Pending(self, flow, data, close, time.monotonic() + seconds)
            # Inside TLS the answer goes through the TLS layer, which encrypts it.
            transport = None if self.context.client.tls else self.transport()
            if transport is None or close or self.buffer:
                yield from self._act_after(pending)  # mitmproxy sends it
            else:
                outbox().add(pending, transport)

    def _stream(self, flow: http.HTTPFlow, streamed: Streamed,
                request_close: bool) -> layer.CommandGenerator[None]:
        """A streamed answer: the head after its delay, then each part at its moment,
        chunked (recorder/serve/pacing.py), on the outbox's timers."""
        self.replay.settle(flow, streamed.response)
        response = streamed.response
        start = time.monotonic() + streamed.seconds
        steps = [(start + at, chunk(part), part) for at, part in streamed.paced.parts if part]
        if not streamed.paced.cut:
            steps.append((steps[-1][0] if steps else start, LAST_CHUNK, b""))
        close = (streamed.paced.cut or self.client_closed and not self.buffer or request_close
                 or http1.connection_close(response.http_version, response.headers))
        pending = self.waiting = Pending(self, flow, http1.assemble_response_head(response),
                                         close, start, steps)
        transport = None if self.context.client.tls else self.transport()
        if transport is None or close or self.buffer:
            yield from self._act_after(pending)  # the layer sends each step
        else:
            outbox().add(pending, transport)

    def _play(self, flow: http.HTTPFlow, play: Play, size: int) -> None:
        """A WebSocket conversation to replay (websocket.py): its player takes the
        connection, with whatever the client sent after the upgrade."""
        transport = self.transport()
        assert transport is not None  # (upgrade heads are read only where it is)
        self.websocket = websocket.FastPlayer(transport, bytes(self.buffer[:size]))
        if len(self.buffer) > size:
            self.websocket.feed(bytes(self.buffer[size:]), self.arrived)
        self.buffer.clear()
        websocket.start(self.websocket, flow, play, self.replay.responder.config,
                        self.replay.websocket_end)

    def _fault(self, flow: http.HTTPFlow, faulted: faults.Faulted
               ) -> layer.CommandGenerator[None]:
        """Carry a fault out with the layer's own commands, in timed steps."""
        fault, response = faulted.fault, faulted.response
        start = time.monotonic() + faulted.seconds
        steps: collections.deque[tuple[float, bytes]] = collections.deque()
        if fault.kind == "garbage":
            steps.append((start, GARBAGE))
        elif fault.kind == "slow-body":
            body = b"" if flow.request.method == "HEAD" else response.raw_content or b""
            steps.append((start, faults.slow_head(response)))
            steps.extend((start + at, piece) for at, piece in slow_pieces(body, fault.ms))
        else:
            steps.append((start, b""))
        self.buffer.clear()  # what came after it is never answered
        self.faulting = (flow, faulted, steps)
        yield from self._fault_steps()

    def _fault_steps(self) -> layer.CommandGenerator[None]:
        assert self.faulting is not None
        flow, faulted, steps = self.faulting
        client = self.context.client
        while steps and steps[0][0] <= time.monotonic():
            data = steps.popleft()[1]
            if data:
                if faulted.fault.kind == "slow-body" and flow.response is None:
                    flow.response = faulted.response  # the head goes now
                    flow.response.timestamp_start = time.time()
                yield commands.SendData(client, data)
        if steps:
            self.wakeup = commands.RequestWakeup(max(0.0, steps[0][0] - time.monotonic()))
            yield self.wakeup
            return
        if flow.response is not None:
            flow.response.timestamp_end = time.time()
        if faulted.fault.kind == "reset" and not faults.reset(self.transport()):
            faults.warn_once("reset", "cannot reach the connection's socket: a reset fault "
                                      "closes the connection instead")
        self.faulting = None
        self.replay.fault_done(flow)
        yield from self._close()

    def transport(self) -> asyncio.BaseTransport | None:
        """The client's asyncio transport, for the outbox; None if it cannot be had."""
        if self._transport is False:
            try:
                proxyserver = ctx.master.addons.get("proxyserver")
                handler = proxyserver.connections[self.context.client.id]
                writer = handler.transports[self.context.client].writer
                self._transport = writer.transport
            except (AttributeError, KeyError, TypeError):
                self._transport = None
                global _warned
                if not _warned and ctx.master.addons.get("proxyserver") is not None:
                    _warned = True
                    log.warning("mockrec: this mitmproxy does not show its connections' "
                                "transports; delayed answers go out one by one through it")
        return self._transport  # type: ignore[return-value]

    def _parse(self) -> tuple[http.HTTPFlow, int, bool] | object | None:
        """The next request, how many bytes it took and whether the client asks to
        close after it; None: not all here yet; HAND_OFF: one for mitmproxy's HTTP layer."""
        buffer = self.buffer
        start = 0
        while buffer.startswith(b"\r\n", start):  # RFC 9112 2.2: ignore empty lines first
            start += 2
        end = buffer.find(b"\r\n\r\n", start)
        if end < 0:
            return HAND_OFF if len(buffer) > MAX_HEAD or b"\n\n" in buffer else None
        lines = bytes(buffer[start:end]).split(b"\r\n")
        body_start = end + 4
        if self.forward and lines[0].startswith(b"CONNECT "):
            return self._connect_request(lines, body_start)
        head = wire.read_head(lines, absolute=self.forward)
        if head is None and not self.context.client.tls and self.transport() is not None:
            head = websocket.upgrade_head(lines, self.forward)  # a WebSocket's, if plain
        if head is None or head.body_size > self.max_body:
            return HAND_OFF
        size = head.body_size
        if len(buffer) < body_start + size:
            return None
        server = self.context.server
        fields = head.fields
        if self.forward:
            # A forward proxy's plain-HTTP request names its URL (absolute form);
            # mitm.it is mitmproxy's certificate page.
            if self.onboarding_host is not None and head.url_host == self.onboarding_host:
                return HAND_OFF
            host, port, scheme = head.url_host, head.url_port, b"http"
        else:  # origin form: a reverse proxy, or inside a tunnel
            host, port = server.address
            scheme = b"https" if server.tls else b"http"
            if self.reverse and not self.keep_host_header:
                # As mitmproxy's HTTP layer does for a reverse proxy.
                if self._host_field is None:
                    self._host_field = always_bytes(url.hostport(scheme, host, port))
                if head.host >= 0:
                    fields[head.host] = (fields[head.host][0], self._host_field)
                else:
                    fields.append((b"Host", self._host_field))
        request = http.Request(
            host, port, head.method, scheme, b"", head.path, head.http_version,
            http.Headers(fields), bytes(buffer[body_start:body_start + size]), None,
            self.arrived, time.time())
        flow = http.HTTPFlow(self.context.client, server)
        flow.request = request
        flow.live = True
        return flow, body_start + size, head.close

    def _connect_request(self, lines: list[bytes], body_start: int) -> http.Request | object:
        """A forward proxy's CONNECT this layer can establish itself, or HAND_OFF: one
        with anything after its head, a server to connect to at once, or an addon
        that listens to its events (those are mitmproxy's HTTP layer's to give)."""
        try:
            request = http1.read_request_head(lines)
            if self.context.options.validate_inbound_headers:
                validate_headers(request)
            size = http1.expected_http_body_size(request)
        except ValueError:
            return HAND_OFF
        if (request.method != "CONNECT" or size != 0 or len(self.buffer) != body_start
                or self.context.client.tls
                or self.context.options.connection_strategy != "lazy"
                or _connect_listened()):
            return HAND_OFF
        return request

    def _open_tunnel(self, request: http.Request) -> layer.CommandGenerator[None]:
        """Establish a CONNECT tunnel as mitmproxy's HTTP layer does (the same 200, the
        same layers inside it, chosen by the next_layer event: TLS, then this layer
        again), without that layer and its stream between the tunnel and the client:
        they cost a quarter of each HTTPS request inside it."""
        self.buffer.clear()
        self.context.server.address = (request.host, request.port)
        now = time.time()
        established = http.Response(request.data.http_version, 200, b"Connection established",
                                    http.Headers(), b"", None, now, now)
        self.tunnel = layer.NextLayer(self.context.fork())
        yield from self.tunnel.handle_event(events.Start())
        yield commands.SendData(self.context.client, http1.assemble_response_head(established))

    def _close(self) -> layer.CommandGenerator[None]:
        if self.done:
            return
        self.done = True
        self.buffer.clear()
        yield commands.CloseConnection(self.context.client)

    def _h2(self, prior_knowledge: bool) -> layer.CommandGenerator[None]:
        """An HTTP/2 client: mitmproxy's HTTP layer, whose streams are answered here."""
        self.h2 = FastH2Layer(self.fallback, self.replay,
                              (self.max_body, self.onboarding_host), prior_knowledge)
        self.fallback = self.h2
        yield from self._hand_off()

    def _hand_off(self) -> layer.CommandGenerator[None]:
        """mitmproxy's HTTP layer takes the connection over, unread bytes first."""
        self.handed_off = True
        yield from self.fallback.handle_event(events.Start())
        if self.buffer:
            data, self.buffer = bytes(self.buffer), bytearray()
            yield from self.fallback.handle_event(
                events.DataReceived(self.context.client, data))
        if self.client_closed:
            yield from self.fallback.handle_event(events.ConnectionClosed(self.context.client))
