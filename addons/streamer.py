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
import itertools
import logging
import secrets
from typing import NamedTuple

from mitmproxy import http

from recorder.serve.pacing import Paced

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


class Streamer:
    def __init__(self) -> None:
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.staged: dict[bytes, Staged] = {}
        self._names = itertools.count()
        self._secret = secrets.token_hex(8)

    async def start(self) -> None:
        if self.server is None:
            loop = asyncio.get_running_loop()
            self.server = await loop.create_server(lambda: _Player(self), "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def route(self, flow: http.HTTPFlow, head: bytes, paced: Paced, due: float) -> None:
        """Stage the answer and send `flow` here for it (mitmproxy connects lazily)."""
        token = b"%s-%d" % (self._secret.encode(), next(self._names))
        steps = paced.chunked() if flow.request.method != "HEAD" else []
        self.staged[token] = Staged(head, steps, paced.cut, due)
        data = flow.request.data
        flow.metadata[ROUTED] = (data.scheme, data.host, data.port, data.path)
        data.scheme, data.host, data.port, data.path = b"http", "127.0.0.1", self.port, \
            PREFIX + token

    @staticmethod
    def restore(flow: http.HTTPFlow) -> bool:
        """Point a routed request back at what the client asked for; False if not routed."""
        routed = flow.metadata.pop(ROUTED, None)
        if routed is None:
            return False
        data = flow.request.data
        data.scheme, data.host, data.port, data.path = routed
        return True


class _Player(asyncio.Protocol):
    """One connection from mitmproxy: requests in, staged answers out on timers."""

    def __init__(self, streamer: Streamer) -> None:
        self.streamer = streamer
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.playing = self.cut = False
        self.head_due: float | None = None
        self.steps: collections.deque[tuple[float, bytes]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

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
            self._play(staged)

    def _play(self, staged: Staged) -> None:
        """The head at its moment, then each step at its own, in order: one timer at a
        time, each writing what is due."""
        loop = asyncio.get_running_loop()
        start = max(staged.due, loop.time())
        self.playing = True
        self.steps = collections.deque([(start, staged.head),
                                        *((start + at, data) for at, data in staged.steps)])
        self.cut, self.head_due = staged.cut, start
        self.timer = loop.call_at(start, self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        steps = self.steps
        if self.head_due is not None:  # a head that goes late takes its parts along
            late, self.head_due = loop.time() - self.head_due, None
            if late > 0.001:
                steps = self.steps = collections.deque((at + late, data) for at, data in steps)
        while steps and steps[0][0] <= loop.time():
            data = steps.popleft()[1]
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)
        if steps:
            self.timer = loop.call_at(steps[0][0], self._tick)
            return
        self.timer, self.playing = None, False
        if self.cut:  # mid-body: mitmproxy sees the upstream hang up, as the client will
            if self.transport is not None:
                self.transport.close()
        else:
            self._next()


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
