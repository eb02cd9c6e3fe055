"""Replay's fast path: HTTP/1 requests answered inside the connection's layer.

mitmproxy runs every request through its HTTP layers and three rounds of addon
events (requestheaders, request, response), each a task offered to every addon:
most of a request's CPU, spent on addons with nothing to say. When no addon
but mockrec's own listens (`mockrec replay`/`proxy` without --verbose and
without `--set`s for other mitmproxy addons; option `mockrec_fast_replay`), the
replay addon picks this layer, through mitmproxy's `next_layer` event, for each
cleartext HTTP/1 client connection of a reverse proxy, and of a forward proxy
for plain-HTTP requests (HTTPS goes through CONNECT and TLS, which stay
mitmproxy's). It parses each request with mitmproxy's own HTTP/1 reader, answers
it with the same `Replay.answer` (matching, templates, CORS, key, quota), and
sends the answer and logs the call as the response event would.

Everything else goes to mitmproxy's HTTP layer, which the layer holds from the
start and hands the connection to, unread bytes included: another mode (record,
spy, passthrough, or --on-miss forward), chunked or big request bodies,
`Expect`, `Upgrade`, CONNECT, `*` targets, origin-form requests to a forward
proxy and absolute-form ones to a reverse proxy, mitm.it, HTTP/2, malformed
heads. From then on the connection is mitmproxy's as usual.

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
import contextlib
import heapq
import itertools
import logging
import platform
import select
import selectors
import socket
import struct
import sys
import time
import weakref

from mitmproxy import ctx, http
from mitmproxy.net.http import http1, url
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers.http import HttpLayer, HTTPMode
from mitmproxy.proxy.mode_specs import RegularMode, ReverseMode

MAX_HEAD = 64 * 1024  # longer heads go to mitmproxy, which answers them properly
MAX_BODY = 1024 * 1024  # bigger bodies too: mitmproxy streams and limits them
HAND_OFF = object()
log = logging.getLogger(__name__)
_warned = False


# SO_TIMESTAMPNS: the kernel notes when each packet arrived. Python names neither it
# nor its message type; 35 is both on Linux's common 64-bit architectures.
SO_TIMESTAMPNS = 35 if sys.platform == "linux" and platform.machine() in (
    "x86_64", "aarch64", "arm64", "ppc64le", "s390x", "riscv64") else None
TIMESPEC = struct.Struct("@ll")


class StampingSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """The platform's selector, also telling when data reached each TCP socket.

    A busy event loop polls its sockets only between rounds of callbacks, and
    accepts new connections only then too: under a burst, what a round handles
    last arrived long before the round's poll. So beside the loop's own
    (level-triggered) poll this keeps an edge-triggered epoll of the connected
    TCP sockets it reads from, which reports only sockets that received data since
    the last look, and asks the kernel, without reading, when their oldest unread
    data arrived (SO_TIMESTAMPNS, set on the listening socket and inherited). It
    looks after each poll of the loop and before each request the layer takes up.
    Where the kernel cannot tell, arrival is when the loop's poll returned.
    """

    def __init__(self) -> None:
        super().__init__()
        self.watching = False  # on while the fast path serves: `watch`
        self.ready_at = 0.0  # when this loop iteration's poll returned
        self.arrivals: dict[tuple, float] = {}  # peer address -> first data unclaimed
        self._edges = select.epoll() if hasattr(select, "epoll") else None
        self._watched: dict[int, tuple[socket.socket, tuple]] = {}  # fd -> socket, peer

    def register(self, fileobj, events, data=None):
        key = super().register(fileobj, events, data)
        self._unwatch(key.fd)  # a new socket may have an old one's number
        self._watch(key.fd, events)
        return key

    def modify(self, fileobj, events, data=None):
        key = super().modify(fileobj, events, data)
        self._watch(key.fd, events)
        return key

    def unregister(self, fileobj):
        key = super().unregister(fileobj)
        self._unwatch(key.fd)
        return key

    def close(self) -> None:
        for fd in list(self._watched):
            self._unwatch(fd)
        if self._edges is not None:
            self._edges.close()
            self._edges = None
        super().close()

    def select(self, timeout=None):
        ready = super().select(timeout)
        self.ready_at = time.time()
        self.look()
        return ready

    def watch(self, on: bool) -> None:
        """Watch the sockets registered from now on, and those registered already."""
        if on and not self.watching:
            self.watching = True
            for key in list(self.get_map().values()):
                self._watch(key.fd, key.events)
        self.watching = on

    def look(self) -> None:
        """Note when data arrived on the sockets that received some since the last look."""
        if not self._watched or self._edges is None:
            return
        got = self._edges.poll(0)
        if not got:
            return
        now = time.time()
        arrivals = self.arrivals
        for fd, _ in got:
            watched = self._watched.get(fd)
            if watched is None or watched[1] in arrivals:
                continue
            sock, peer = watched
            arrivals[peer] = kernel_arrival(sock) or now

    def arrival(self, peer: tuple) -> float:
        """When the data now being handled for `peer` arrived."""
        self.look()
        return self.arrivals.pop(peer, None) or self.ready_at

    def _watch(self, fd: int, events: int) -> None:
        if not events & selectors.EVENT_READ:
            self._unwatch(fd)
            return
        if not self.watching or fd in self._watched or self._edges is None:
            return
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            return  # not a socket: a pipe, the loop's self-pipe, ...
        try:
            peer = sock.getpeername() if sock.type == socket.SOCK_STREAM else None
        except OSError:
            peer = None  # a listening socket: its connections inherit the stamps
            if SO_TIMESTAMPNS is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if peer is None:
            sock.detach()
            return
        try:
            self._edges.register(fd, select.EPOLLIN | select.EPOLLET)
        except OSError:
            sock.detach()
            return
        self._watched[fd] = (sock, peer)

    def _unwatch(self, fd: int) -> None:
        watched = self._watched.pop(fd, None)
        if watched is not None:
            sock, peer = watched
            self.arrivals.pop(peer, None)
            with contextlib.suppress(OSError, ValueError):
                self._edges.unregister(fd)  # type: ignore[union-attr]
            sock.detach()  # the socket is asyncio's to close


def kernel_arrival(sock: socket.socket) -> float | None:
    """When the oldest unread data on `sock` arrived, by the kernel; None if it cannot say."""
    if SO_TIMESTAMPNS is None:
        return None
    try:
        _, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(TIMESPEC.size),
                                          socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        return None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            if seconds:
                return seconds + nanoseconds / 1e9
    return None


_clock: tuple[asyncio.AbstractEventLoop, StampingSelector] | None = None


def stamping_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose selector tells when data arrived (asyncio.Runner's loop_factory)."""
    global _clock
    selector = StampingSelector()
    loop = asyncio.SelectorEventLoop(selector)
    _clock = (loop, selector)
    return loop


def stamp_arrivals(on: bool) -> None:
    """Note when data arrives on the loop's sockets (with mockrec's loop), or stop."""
    if _clock is not None:
        _clock[1].watch(on)


def arrival_time(peer: tuple | None) -> float:
    """When the data being handled from `peer` arrived (now, without mockrec's loop)."""
    if _clock is not None and peer is not None:
        try:
            if asyncio.get_running_loop() is _clock[0]:
                return _clock[1].arrival(peer)
        except RuntimeError:
            pass
    return time.time()


def wants(nextlayer: layer.NextLayer) -> bool:
    """Is this connection one the fast path serves: a cleartext client of a reverse
    or forward proxy, for which mitmproxy chose its HTTP layer?"""
    chosen, client = nextlayer.layer, nextlayer.context.client
    if not isinstance(chosen, HttpLayer) or client.tls:
        return False
    if chosen.mode is HTTPMode.transparent:
        return isinstance(client.proxy_mode, ReverseMode)
    return chosen.mode is HTTPMode.regular and isinstance(client.proxy_mode, RegularMode)


class Pending:
    """An answer waiting out its delay."""

    __slots__ = ("flow", "data", "close", "due", "sent", "finished", "owner")

    def __init__(self, owner: FastReplayLayer, flow: http.HTTPFlow, data: bytes, close: bool,
                 due: float) -> None:
        self.owner, self.flow, self.data, self.close, self.due = owner, flow, data, close, due
        self.sent = self.finished = False

    def take(self) -> bytes:
        """The answer's bytes, as they go out now."""
        self.sent = True
        response = self.flow.response
        response.timestamp_start = response.timestamp_end = time.time()
        return self.data

    def write(self, transport: asyncio.BaseTransport) -> None:
        data = self.take()
        if not transport.is_closing():
            transport.write(data)  # type: ignore[attr-defined]

    def finish(self) -> None:
        """After the answer went out: the call log, and the layer is free again."""
        if not self.finished:
            self.finished = True
            self.owner.replay.response(self.flow)
            if self.owner.waiting is self:
                self.owner.waiting = None


class Outbox:
    """Writes delayed answers at their moment, straight to the client's transport.

    A burst brings hundreds of answers due within a millisecond or two. Woken one
    by one through mitmproxy (a task and an event each, ~0.1 ms), the last would
    leave tens of milliseconds late; here one timer writes every answer that is
    due, and the bookkeeping after (the call log) waits until none is.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: list[tuple[float, int, Pending, asyncio.BaseTransport]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.order = itertools.count()
        self.written: collections.deque[Pending] = collections.deque()

    def add(self, pending: Pending, transport: asyncio.BaseTransport) -> None:
        heapq.heappush(self.queue, (pending.due, next(self.order), pending, transport))
        if self.timer is None or pending.due < self.timer.when():
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(pending.due, self._fire)

    def _fire(self) -> None:
        self.timer = None
        queue, written = self.queue, self.written
        try:
            while True:
                now = self.loop.time()
                while queue and queue[0][0] <= now:
                    _, _, pending, transport = heapq.heappop(queue)
                    if not pending.sent:  # else the layer sent it itself
                        written.append(pending)
                        pending.write(transport)
                if not written:
                    break
                written.popleft().finish()
        except Exception:  # one answer's trouble must not hold up the others
            log.exception("mockrec: sending a delayed answer failed")
            self.loop.call_soon(self._fire)
            return
        if queue:
            self.timer = self.loop.call_at(queue[0][0], self._fire)


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Outbox] = (
    weakref.WeakKeyDictionary())


def outbox() -> Outbox:
    loop = asyncio.get_running_loop()
    box = _outboxes.get(loop)
    if box is None:
        box = _outboxes[loop] = Outbox(loop)
    return box


class FastReplayLayer(layer.Layer):
    """Serves a client connection's requests from the examples, one at a time
    (HTTP/1 answers in order), until one needs mitmproxy's HTTP layer."""

    def __init__(self, context, replay, fallback: layer.Layer) -> None:
        super().__init__(context)
        context.layers.remove(self)  # the stack reads as mitmproxy's own
        self.replay = replay
        self.fallback = fallback
        self.buffer = bytearray()
        self.arrived = 0.0  # when the buffer's first byte arrived
        self.waiting: Pending | None = None  # an answer waiting out its delay
        self.wakeup: commands.RequestWakeup | None = None  # asked for, to go on after it
        self.client_closed = False
        self.done = False
        self.handed_off = False
        self.forward = isinstance(context.client.proxy_mode, RegularMode)
        self._transport: asyncio.BaseTransport | None | bool = False  # False: not looked up

    def handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if self.handed_off:
            yield from self.fallback.handle_event(event)
            return
        if self.done:
            return
        try:
            yield from self._handle(event)
        except Exception:  # a bug of ours: the client must not wait for ever
            log.exception("mockrec: replay's fast path failed; closing the connection")
            yield from self._close()

    def _handle(self, event: events.Event) -> layer.CommandGenerator[None]:
        client = self.context.client
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
                    if not pending.sent:
                        yield commands.SendData(client, pending.take())
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
            parsed = self._parse()
            if parsed is None:
                if self.client_closed:
                    yield from self._hand_off()  # mitmproxy says what is wrong with it
                return
            if parsed is HAND_OFF:
                yield from self._hand_off()
                return
            flow, size = parsed
            later = replay.answer(flow)
            if later is None and flow.response is None:
                yield from self._hand_off()  # not ours after all: the request is still unread
                return
            del self.buffer[:size]
            if self.buffer:
                self.arrived = time.time()  # pipelined: here by now, at the latest
            if later is not None:
                replay.settle(flow, later[0])
            response = flow.response
            assert response is not None
            data = (http1.assemble_response_head(response) if flow.request.method == "HEAD"
                    else http1.assemble_response(response))
            close = (self.client_closed and not self.buffer
                     or http1.connection_close(flow.request.http_version, flow.request.headers)
                     or http1.connection_close(response.http_version, response.headers)
                     or http1.expected_http_body_size(flow.request, response) == -1)
            if later is None:
                yield commands.SendData(self.context.client, data)
                replay.response(flow)
                if close:
                    yield from self._close()
                continue
            seconds = later[1]
            pending = self.waiting = Pending(self, flow, data, close, time.monotonic() + seconds)
            transport = self.transport()
            if transport is None or close or self.buffer:
                yield from self._act_after(pending)  # mitmproxy sends it
            else:
                outbox().add(pending, transport)

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

    def _parse(self) -> tuple[http.HTTPFlow, int] | object | None:
        """The next request and how many bytes it took; None: not all here yet;
        HAND_OFF: one for mitmproxy's HTTP layer."""
        buffer = self.buffer
        start = 0
        while buffer.startswith(b"\r\n", start):  # RFC 9112 2.2: ignore empty lines first
            start += 2
        end = buffer.find(b"\r\n\r\n", start)
        if end < 0:
            return HAND_OFF if len(buffer) > MAX_HEAD or b"\n\n" in buffer else None
        try:
            request = http1.read_request_head(bytes(buffer[start:end]).split(b"\r\n"))
            size = http1.expected_http_body_size(request)
        except ValueError:
            return HAND_OFF
        headers = request.headers
        if (size is None or size < 0 or size > MAX_BODY or request.method == "CONNECT"
                or "expect" in headers or "upgrade" in headers
                or "transfer-encoding" in headers or not request.path.startswith("/")):
            return HAND_OFF
        server = self.context.server
        opts = ctx.options
        if self.forward:
            # A forward proxy's plain-HTTP request names its URL (absolute form);
            # mitm.it is mitmproxy's certificate page.
            if (request.scheme != "http" or not request.authority
                    or opts.onboarding and request.host == opts.onboarding_host):
                return HAND_OFF
        elif request.authority:
            return HAND_OFF
        body_start = end + 4
        if len(buffer) < body_start + size:
            return None
        request.data.content = bytes(buffer[body_start:body_start + size])
        request.timestamp_start = self.arrived
        request.timestamp_end = time.time()
        # As mitmproxy's HTTP layer does with a request, for each kind of proxy.
        if self.forward:
            request.authority = ""
        else:
            scheme = "https" if server.tls else "http"
            request.data.host, request.data.port = server.address
            request.scheme = scheme
            if not opts.keep_host_header:
                request.host_header = url.hostport(scheme, *server.address)
        flow = http.HTTPFlow(self.context.client, server)
        flow.request = request
        flow.live = True
        return flow, body_start + size

    def _close(self) -> layer.CommandGenerator[None]:
        if self.done:
            return
        self.done = True
        self.buffer.clear()
        yield commands.CloseConnection(self.context.client)

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
