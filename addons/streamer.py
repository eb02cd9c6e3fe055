"""Streamed answers on mitmproxy's path: a local server that plays them, paced.

mitmproxy takes an answer an addon makes only whole; what it passes on part by part
is an upstream's response (`flow.response.stream`). So replay stages a streamed answer
here (its head and its paced parts: recorder/serve/pacing.py) and points the request at
this server on 127.0.0.1; mitmproxy then streams the answer to the client through its
own layers: chunks on HTTP/1.1, DATA frames on HTTP/2, inside TLS or not. The server
writes each part on a timer (`loop.call_at`), never sleeping; a connection serves one
request after another (keep-alive), as mitmproxy reuses it.

The request is pointed back at what the client asked for once the head has come
(`restore`), so the call log keeps the request as the client sent it.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
import secrets
from typing import NamedTuple

from mitmproxy import http
from mitmproxy.net.http import http1

from addons import metadata
from addons.answers import mark_answered
from recorder.serve.pacing import Paced
from recorder.streams import Tap

log = logging.getLogger(__name__)

ROUTED = "mockrec_streamed"  # flow.metadata: the request's own target, while routed here
PREFIX = b"/__mockrec_stream/"


class Streamed(NamedTuple):
    """Replay's streamed answer: the response (its head as sent; its body the parts
    joined), the parts paced, and the delay before the head (seconds)."""

    response: http.Response
    paced: Paced
    seconds: float


class Staged(NamedTuple):
    head: bytes  # status line and headers, as sent
    steps: list[tuple[float, bytes]]  # seconds after the head, bytes (chunks)
    cut: bool  # end mid-body (the `cut:N` fault): close rather than finish
    due: float  # loop time the head goes at (the delay counted from the arrival)
    release: Release  # when mitmproxy passed the head on to the client


class Release:
    """The moment mitmproxy passes a routed answer's head on to the client (its
    `responseheaders`): the parts' offsets count from it. Counted from when the player
    wrote the head instead, a head that mitmproxy holds up (a busy loop) would have its
    parts, already on their way, reach the client early, all at once."""

    __slots__ = ("at", "player")

    def __init__(self) -> None:
        self.at: float | None = None
        self.player: _Player | None = None  # waiting for it, to play the parts

    def __call__(self) -> None:
        self.at = asyncio.get_running_loop().time()
        if self.player is not None:
            self.player.released(self.at)


class Streamer:
    def __init__(self) -> None:
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.staged: dict[bytes, Staged] = {}
        self._names = itertools.count()
        self._secret = secrets.token_hex(8)
        self.wheel: Wheel | None = None

    async def start(self) -> None:
        if self.server is None:
            loop = asyncio.get_running_loop()
            self.wheel = Wheel(loop)
            self.server = await loop.create_server(lambda: _Player(self), "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def play(self, flow: http.HTTPFlow, streamed: Streamed) -> None:
        """Answer `flow` with `streamed` on mitmproxy's path: staged here, then passed on
        by mitmproxy part by part (chunks, or DATA frames on HTTP/2)."""
        if self.port == 0:  # not running (a unit test's addon): whole, at once
            mark_answered(flow, streamed.response)
            return
        flow.metadata[metadata.REPLAYED] = True
        due = asyncio.get_running_loop().time() + streamed.seconds
        self.route(flow, http1.assemble_response_head(streamed.response), streamed.paced, due)

    @classmethod
    def responseheaders(cls, flow: http.HTTPFlow) -> None:
        """A streamed answer's head, back from here: the request points at what the
        client asked for again, and the body goes on part by part (the call log keeps
        it: a `Tap`)."""
        if cls.restore(flow):
            flow.response.stream = Tap()

    @classmethod
    def cut_short(cls, flow: http.HTTPFlow) -> bool:
        """On an error: was `flow` a stream cut on the way (`cut:N`, or a client that hung
        up)? It is logged as served, with the request as the client sent it."""
        cls.restore(flow)
        return flow.response is not None and isinstance(flow.response.stream, Tap)

    def route(self, flow: http.HTTPFlow, head: bytes, paced: Paced, due: float) -> None:
        """Stage the answer and send `flow` here for it (mitmproxy connects lazily)."""
        token = b"%s-%d" % (self._secret.encode(), next(self._names))
        steps = paced.chunked() if flow.request.method != "HEAD" else []
        release = Release()
        self.staged[token] = Staged(head, steps, paced.cut, due, release)
        data = flow.request.data
        flow.metadata[ROUTED] = (data.scheme, data.host, data.port, data.path, release)
        data.scheme, data.host, data.port, data.path = b"http", "127.0.0.1", self.port, \
            PREFIX + token

    @staticmethod
    def restore(flow: http.HTTPFlow) -> bool:
        """Point a routed request back at what the client asked for, and let its parts
        go (their offsets count from now); False if not routed."""
        routed = flow.metadata.pop(ROUTED, None)
        if routed is None:
            return False
        data = flow.request.data
        data.scheme, data.host, data.port, data.path, release = routed
        release()
        return True


class Wheel:
    """One timer for every player: the parts of 200 streams due at the same moment go
    out in one pass, rather than through a timer handle each."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: list[tuple[float, int, _Player]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.order = itertools.count()

    def add(self, when: float, player: _Player) -> None:
        heapq.heappush(self.queue, (when, next(self.order), player))
        if self.timer is None or when < self.timer.when():
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self.timer = None
        queue = self.queue
        while queue and queue[0][0] <= self.loop.time():
            player = heapq.heappop(queue)[2]
            try:
                player.tick()
            except Exception:  # one stream's trouble must not hold up the others
                log.exception("mockrec: playing a streamed answer failed")
        if queue:
            self.timer = self.loop.call_at(queue[0][0], self._fire)


class _Player(asyncio.Protocol):
    """One connection from mitmproxy: requests in, staged answers out on the wheel."""

    def __init__(self, streamer: Streamer) -> None:
        self.streamer = streamer
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.playing = self.cut = False
        self.staged: Staged | None = None  # its head not yet written
        self.parts: list[tuple[float, bytes]] = []  # its steps, once the head is written
        self.steps: collections.deque[tuple[float, bytes]] = collections.deque()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None  # the wheel drops it at its next step

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def _next(self) -> None:
        if self.playing:
            return
        request = _take_request(self.buffer)
        if request is None:
            return
        staged = self.streamer.staged.pop(request, None)
        if staged is None and self.transport is not None:
            self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            return self._next()
        if staged is not None:
            self.playing, self.staged, self.cut = True, staged, staged.cut
            self._at(max(staged.due, self.streamer.wheel.loop.time()))

    def _at(self, when: float) -> None:
        assert self.streamer.wheel is not None
        self.streamer.wheel.add(when, self)

    def tick(self) -> None:
        """The head at its moment; then, once mitmproxy passed it on, each part at its
        own, writing all that is due."""
        if self.transport is None or self.transport.is_closing():
            return  # mitmproxy hung up: nothing more to play
        staged = self.staged
        if staged is not None:
            self.staged, self.parts = None, staged.steps
            self.transport.write(staged.head)
            if staged.release.at is None:
                staged.release.player = self  # the parts wait for it
            else:
                self.released(staged.release.at)
            return
        steps, now = self.steps, self.streamer.wheel.loop.time()
        due = []  # all that is due in one write: behind time, mitmproxy reads it at once
        while steps and steps[0][0] <= now:
            due.append(steps.popleft()[1])
        if due:
            self.transport.write(b"".join(due))
        if steps:
            return self._at(steps[0][0])
        self.playing = False
        if self.cut:  # mid-body: mitmproxy sees the upstream hang up, as the client will
            self.transport.close()
        else:
            self._next()

    def released(self, at: float) -> None:
        self.steps = collections.deque((at + offset, data) for offset, data in self.parts)
        self._at(self.steps[0][0] if self.steps else at)


def _take_request(buffer: bytearray) -> bytes | None:
    """The token of the first whole request in `buffer`, taken out of it (head and
    body); None until one is whole. A target that is not a staged one gets b""."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).split(b"\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in
              (line.partition(b":") for line in head[1:])}
    size = _body_size(buffer, end + 4, fields)
    if size is None:
        return None
    del buffer[:end + 4 + size]
    target = head[0].split(b" ")[1] if head[0].count(b" ") >= 2 else b""
    return target[len(PREFIX):] if target.startswith(PREFIX) else b""


def _body_size(buffer: bytearray, start: int, fields: dict[bytes, bytes]) -> int | None:
    """How many bytes of `buffer` after `start` the request's body takes; None until
    they are all there."""
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        at = start
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(bytes(buffer[at:line_end]).split(b";")[0] or b"0", 16)
            at = line_end + 2 + size + 2
            if size == 0:
                trailer = buffer.find(b"\r\n", line_end + 2)
                return None if trailer < 0 else trailer + 2 - start
            if at > len(buffer):
                return None
    length = int(fields.get(b"content-length", b"0") or b"0")
    return length if len(buffer) - start >= length else None
