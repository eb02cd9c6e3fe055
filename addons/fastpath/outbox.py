"""Delayed answers, written at their moment: `Pending` (one answer waiting out its
delay) and the `Outbox` (one timer per loop for every answer due, so hundreds due at
once go out together rather than through a wakeup task and an event each).
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
import time
import weakref
from collections.abc import Iterable
from typing import Protocol

from mitmproxy import http
from mitmproxy.flow import Error

from recorder.streams import Tap

log = logging.getLogger(__name__)


class Owner(Protocol):
    """The connection an answer waits on (layer.py's `FastReplayLayer`)."""

    waiting: Pending | None  # its answer waiting out its delay

    def sent(self, flow: http.HTTPFlow) -> None:
        """The answer went out: log the call."""


# A stream's steps after its head: (due, bytes as sent, the part; b"": the end).
Steps = Iterable[tuple[float, bytes, bytes]]


class Pending:
    """An answer waiting out its delay; a streamed one (`steps`) goes in steps: the
    head, then each part at its own moment (`sent` once the last is out)."""

    __slots__ = ("flow", "data", "close", "due", "sent", "finished", "owner", "steps",
                 "part", "tap", "boxed", "__weakref__")

    def __init__(self, owner: Owner, flow: http.HTTPFlow, data: bytes, close: bool,
                 due: float, steps: Steps = ()) -> None:
        self.owner, self.flow, self.data, self.close, self.due = owner, flow, data, close, due
        self.sent = self.finished = False
        self.steps = collections.deque(steps)
        self.part: bytes | None = None  # what `data` carries of the stream (None: the head)
        self.tap: Tap | None = None  # a stream as served, for the call log
        self.boxed = False  # the outbox writes it
        waiting.add(self)

    def take(self) -> bytes:
        """The answer's next bytes, as they go out now."""
        response = self.flow.response
        data, part = self.data, self.part
        if part is None:  # the head (or the whole answer)
            response.timestamp_start = time.time()
            if self.steps:
                response.stream = self.tap = Tap()
                # A head that goes late (a busy loop) takes its parts along: each keeps
                # its offset after the head, as recorded.
                if (late := time.monotonic() - self.due) > 0.001:
                    self.steps = collections.deque((due + late, data, piece)
                                                   for due, data, piece in self.steps)
        elif self.tap is not None:
            self.tap(part)  # b"": the stream ended as it should
        if self.steps:
            self.due, self.data, self.part = self.steps.popleft()
        else:
            self.sent = True
            response.timestamp_end = time.time()
        return data

    def take_due(self) -> bytes:
        """Every step due now (the head, and a part at offset 0; the last part and the
        end; all of a stream at --stream-speed 0), as one write."""
        data = self.take()
        if self.sent or self.due > time.monotonic():
            return data
        pieces = [data]
        while not self.sent and self.due <= time.monotonic():
            pieces.append(self.take())
        return b"".join(pieces)

    def write(self, transport: asyncio.BaseTransport) -> None:
        if self.hung_up(transport):
            return
        data = self.take_due()
        if not transport.is_closing():
            transport.write(data)  # type: ignore[attr-defined]

    def hung_up(self, transport: asyncio.BaseTransport | None) -> bool:
        """A stream whose client hung up (its transport closed on a failed write) ends
        here, cut: the call log keeps what was sent, as mitmproxy's path does."""
        if self.part is None or transport is None or not transport.is_closing():
            return False
        self.steps.clear()
        self.sent = True
        self.flow.response.timestamp_end = time.time()
        self.flow.error = Error("Client disconnected.")
        return True

    def finish(self) -> None:
        """After the answer went out: the call log, and the layer is free again."""
        if not self.finished:
            self.finished = True
            waiting.discard(self)
            self.owner.sent(self.flow)
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
        pending.boxed = True
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
                        pending.write(transport)
                        if pending.sent:
                            written.append(pending)
                        else:  # a stream: its next part, at its moment
                            heapq.heappush(queue, (pending.due, next(self.order), pending,
                                                   transport))
                if not written:
                    break
                written.popleft().finish()
        except Exception:  # one answer's trouble must not hold up the others
            log.exception("mockrec: sending a delayed answer failed")
            self.loop.call_soon(self._fire)
            return
        if queue:
            self.timer = self.loop.call_at(queue[0][0], self._fire)


# Answers waiting out their delay (a stopping proxy lets them go out first).
waiting: weakref.WeakSet[Pending] = weakref.WeakSet()

_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Outbox] = (
    weakref.WeakKeyDictionary())


def outbox() -> Outbox:
    loop = asyncio.get_running_loop()
    box = _outboxes.get(loop)
    if box is None:
        box = _outboxes[loop] = Outbox(loop)
    return box
