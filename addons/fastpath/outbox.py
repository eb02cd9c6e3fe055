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
from typing import Protocol

from mitmproxy import http

log = logging.getLogger(__name__)


class Owner(Protocol):
    """The connection an answer waits on (layer.py's `FastReplayLayer`)."""

    waiting: Pending | None  # its answer waiting out its delay

    def sent(self, flow: http.HTTPFlow) -> None:
        """The answer went out: log the call."""


class Pending:
    """An answer waiting out its delay."""

    __slots__ = ("flow", "data", "close", "due", "sent", "finished", "owner", "__weakref__")

    def __init__(self, owner: Owner, flow: http.HTTPFlow, data: bytes, close: bool,
                 due: float) -> None:
        self.owner, self.flow, self.data, self.close, self.due = owner, flow, data, close, due
        self.sent = self.finished = False
        waiting.add(self)

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
