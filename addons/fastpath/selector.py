"""When data reached each client socket, by the kernel: delays count from then.

A busy event loop polls its sockets only between rounds of callbacks: under a burst,
what a round handles last arrived long before. `StampingSelector`, the selector of the
loop `mockrec` runs (`stamping_event_loop`), notes each socket's arrival time
(SO_TIMESTAMPNS) so that replay's delays are honest under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import select
import selectors
import socket
import struct
import sys
import time

log = logging.getLogger(__name__)


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
        self.polls = 0  # how many polls returned
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
        self.polls += 1
        self.look()
        return ready

    def watch(self, on: bool) -> None:
        """Watch the sockets registered from now on, and those registered already; or
        (off) none: each watched socket costs two system calls a request."""
        if on and not self.watching:
            self.watching = True
            for key in list(self.get_map().values()):
                self._watch(key.fd, key.events)
        elif not on and self.watching:
            for fd in list(self._watched):
                self._unwatch(fd)
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


def _running_selector() -> StampingSelector | None:
    """The selector of mockrec's loop, when the caller runs in that loop."""
    if _clock is not None:
        try:
            if asyncio.get_running_loop() is _clock[0]:
                return _clock[1]
        except RuntimeError:
            pass
    return None


def poll_round() -> int | None:
    """A number that changes with each poll of mockrec's event loop; None when not
    running in it. Whatever happened before a request was sent happened before the
    poll that returned the request: a file looked at once a round is as up to date,
    for each request of the round, as one looked at for each."""
    selector = _running_selector()
    return selector.polls if selector is not None else None


def arrival_time(peer: tuple | None) -> float:
    """When the data being handled from `peer` arrived (now, without mockrec's loop)."""
    if peer is not None and (selector := _running_selector()) is not None:
        return selector.arrival(peer)
    return time.time()
