"""Replaying a WebSocket conversation (recorder/conversation.py) from a server of its own.

The replay addon points a matching upgrade request at `PlayServer` on 127.0.0.1, so that
mitmproxy's own WebSocket layer carries the conversation to the client (ws and wss,
reverse and forward) while the API is offline. Each server message is sent at its
recorded gap after the message that preceded it; a client message that the recording
expects next is waited for; with `match_body` it must equal the recorded one (JSON
compared as parsed), else the socket closes with 1008 and a reason that says what was
expected. Then the socket closes as the recording did. Timers only (`asyncio.sleep`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from recorder.conversation import Close, Conversation, WsMessage, same_message

# The close code of a message the recording does not expect (RFC 6455: policy violation).
POLICY_VIOLATION = 1008
# The request header the replay addon names a conversation by, on its way to PlayServer.
TOKEN_HEADER = "x-mockrec-conversation"
# What a close reason may hold (a close frame's payload is at most 125 bytes).
_MAX_REASON = 120


@dataclass
class PlaySettings:
    """How one conversation is played: `speed` divides the gaps (0: all at once),
    `match_body` checks the client's messages, `cut_after` (fault cut:N) ends the
    socket without a close after that many server messages."""

    speed: float = 1.0
    match_body: bool = False
    cut_after: int | None = None


@dataclass
class Played:
    """What a replayed conversation served and received, for the call log."""

    messages: list[WsMessage] = field(default_factory=list)
    close: Close | None = None
    cut: bool = False

    def conversation(self) -> Conversation:
        return Conversation(self.messages, self.close, self.cut)


def _reason(text: str) -> str:
    """A close reason that fits a close frame (cut on a character boundary)."""
    raw = text.encode("utf-8")[:_MAX_REASON]
    return raw.decode("utf-8", "ignore")


@dataclass
class Booking:
    """A conversation waiting for its upgrade request to arrive at PlayServer."""

    conversation: Conversation
    settings: PlaySettings
    # The recorded 101's header fields, to answer with (the handshake's own aside).
    headers: list[tuple[str, str]]
    done: Callable[[Played], None]
    # A cut (cut:N, or a recording that was cut): ends the client's side without a
    # close, once it got the `served` server messages; the player hangs up after it.
    hang_up: Callable[[int], Awaitable[None]] | None = None
    # When the proxy got the client's message N (time.time()), if it can say.
    arrived: Callable[[int], float | None] | None = None


class PlayServer:
    """A WebSocket server on 127.0.0.1 that plays the conversations replay books."""

    def __init__(self) -> None:
        self._server: asyncio.AbstractServer | None = None
        self._booked: dict[str, Booking] = {}
        self._sessions: set[asyncio.Task] = set()
        self.port = 0

    async def start(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def book(self, booking: Booking) -> str:
        """The token the upgrade request carries in TOKEN_HEADER."""
        token = secrets.token_hex(16)
        self._booked[token] = booking
        return token

    def cancel(self, token: str) -> None:
        self._booked.pop(token, None)

    async def close(self) -> None:
        for task in list(self._sessions):
            task.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await Session(reader, writer, self._booked).run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._sessions.discard(task)
            writer.close()


# The 101's own fields: wsproto writes them for the handshake it accepts.
_HANDSHAKE_FIELDS = {"upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol",
                     "sec-websocket-extensions", "content-length", "transfer-encoding"}


class Player:
    """One replayed WebSocket, its handshake accepted: the conversation, then the close.
    How bytes come and go is the subclass's (`_recv`, `_write`, `_drain`, `_abort`):
    PlayServer's `Session` over its own connection, or the fast path's on the client's
    connection (addons/fastpath/websocket.py)."""

    def __init__(self, ws) -> None:
        self.ws = ws  # a wsproto WSConnection (server side)
        # The client's messages, each with when it came (loop time); None: it closed.
        self.inbox: asyncio.Queue[tuple[WsMessage, float] | None] = asyncio.Queue()
        self.played = Played()
        self.booking: Booking | None = None
        self.received = 0  # client messages so far
        self.client_closed = asyncio.Event()
        self.start = 0.0

    async def _recv(self) -> bytes:
        """The client's next bytes; b"": it hung up."""
        raise NotImplementedError

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    async def _drain(self) -> None:
        raise NotImplementedError

    def _abort(self) -> None:
        raise NotImplementedError

    async def play(self, booking: Booking) -> None:
        """Plays `booking`'s conversation (the 101 is out), then closes as recorded."""
        self.booking = booking
        self.start = asyncio.get_running_loop().time()
        reading = asyncio.get_running_loop().create_task(self._read())
        try:
            if await self._play(booking.conversation, booking.settings):
                await self._close_as_recorded(booking.conversation)
        finally:
            reading.cancel()
            booking.done(self.played)


    async def _send(self, event) -> None:
        self._write(self.ws.send(event))
        await self._drain()

    def _now_ms(self) -> float:
        return (asyncio.get_running_loop().time() - self.start) * 1000

    async def _play(self, conversation: Conversation, settings: PlaySettings) -> bool:
        """Plays the messages; False when the socket ended before the close."""
        from wsproto.events import BytesMessage, TextMessage

        loop = asyncio.get_running_loop()
        anchor, previous, served, waited = loop.time(), 0.0, 0, 0
        for message in conversation.messages:
            gap = (message.offset - previous) / 1000 / settings.speed if settings.speed else 0
            previous = message.offset
            if message.from_client:
                got = await self.inbox.get()
                if got is None:
                    return False
                anchor = self._arrival(got[1], waited)
                waited += 1
                continue
            anchor += max(0.0, gap)
            if (wait := anchor - loop.time()) > 0:
                await asyncio.sleep(wait)
            if self.client_closed.is_set():
                return False
            event = TextMessage(message.data.decode("utf-8", "replace")) if message.text \
                else BytesMessage(message.data)
            await self._send(event)
            self.played.messages.append(WsMessage(False, message.data, message.text,
                                                  self._now_ms()))
            served += 1
            if settings.cut_after is not None and served >= settings.cut_after:
                await self._cut(served)
                return False
        if settings.cut_after == 0:
            await self._cut(served)
            return False
        return True

    async def _cut(self, served: int) -> None:
        """Ends the socket without a close, as a connection that died: the client's side
        first (else mitmproxy would pass the player's hang-up on as a close frame),
        then the player's."""
        self.played.cut = True
        if self.booking is not None and self.booking.hang_up is not None:
            await self.booking.hang_up(served)
        self._abort()

    def _arrival(self, here: float, index: int) -> float:
        """When the client's message `index` came (loop time), the gap after it counting
        from then: when the proxy got it, if the booking can say (relayed here, it took
        a few turns of a busy loop), else when it came here."""
        arrived = self.booking.arrived if self.booking is not None else None
        wall = arrived(index) if arrived is not None else None
        if wall is None:
            return here
        return min(here, asyncio.get_running_loop().time() - max(0.0, time.time() - wall))

    async def _close_as_recorded(self, conversation: Conversation) -> None:

        close = conversation.close
        if close is None:
            if conversation.cut:  # the recording was cut: so is the replay
                await self._cut(sum(not m.from_client for m in self.played.messages))
            else:  # written by hand without a close: open until the client closes
                await self.client_closed.wait()
            return
        if close.by_client:
            await self.client_closed.wait()
            return
        await self._close(close.code or 1000, close.reason)

    async def _close(self, code: int, reason: str) -> None:
        from wsproto.connection import ConnectionState
        from wsproto.events import CloseConnection

        if self.ws.state is ConnectionState.OPEN:
            self.played.close = Close(code, reason, by_client=False)
            await self._send(CloseConnection(code=code, reason=_reason(reason)))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.client_closed.wait(), 5)

    async def _read(self) -> None:
        """Client frames: messages to the inbox (checked under match_body), pings
        answered, the close answered."""
        from wsproto.events import CloseConnection, Message, Ping

        parts: list[bytes] = []
        try:
            while not self.client_closed.is_set():
                data = await self._recv()
                self.ws.receive_data(data or None)
                for event in self.ws.events():
                    if isinstance(event, Message):
                        chunk = event.data
                        parts.append(chunk.encode() if isinstance(chunk, str) else chunk)
                        if event.message_finished:
                            await self._received(b"".join(parts), isinstance(chunk, str))
                            parts = []
                    elif isinstance(event, Ping):
                        await self._send(event.response())
                    elif isinstance(event, CloseConnection):
                        await self._client_close(event)
                if not data:
                    break
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.client_closed.set()
            self.inbox.put_nowait(None)

    async def _client_close(self, event) -> None:
        from wsproto.connection import ConnectionState

        if self.played.close is None:
            self.played.close = Close(event.code, event.reason or "", by_client=True)
        if self.ws.state is ConnectionState.REMOTE_CLOSING:
            await self._send(event.response())
        self.client_closed.set()

    async def _received(self, data: bytes, text: bool) -> None:
        self.played.messages.append(WsMessage(True, data, text, self._now_ms()))
        assert self.booking is not None
        expected = [m for m in self.booking.conversation.messages if m.from_client]
        index, self.received = self.received, self.received + 1
        if self.booking.settings.match_body:
            if index >= len(expected):
                await self._close(POLICY_VIOLATION, "expected no more messages from the client")
                return
            if not same_message(data, expected[index].data):
                await self._close(POLICY_VIOLATION,
                                  f"expected {expected[index].shown}")
                return
        self.inbox.put_nowait((WsMessage(True, data, text), asyncio.get_running_loop().time()))


class Session(Player):
    """PlayServer's side of one replayed WebSocket: the handshake, then the player."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 booked: dict[str, Booking]) -> None:
        from wsproto import ConnectionType, WSConnection

        super().__init__(WSConnection(ConnectionType.SERVER))
        self.reader, self.writer, self.booked = reader, writer, booked

    async def _recv(self) -> bytes:
        return await self.reader.read(65536)

    def _write(self, data: bytes) -> None:
        self.writer.write(data)

    async def _drain(self) -> None:
        await self.writer.drain()

    def _abort(self) -> None:
        self.writer.transport.abort()

    async def run(self) -> None:
        request = await self._handshake()
        if request is None:
            return
        token = _header(request.extra_headers, TOKEN_HEADER)
        booking = self.booked.pop(token, None) if token else None
        if booking is None:
            from wsproto.events import RejectConnection
            await self._send(RejectConnection(status_code=404))
            return
        await self._send(accept(request, booking.headers))
        await self.play(booking)

    async def _handshake(self):
        from wsproto.events import Request

        while True:
            data = await self._recv()
            if not data:
                return None
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, Request):
                    return event


def _header(fields, name: str) -> str | None:
    wanted = name.encode()
    for key, value in fields:
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def accept(request, recorded: list[tuple[str, str]]):
    """Accepts the handshake as the recording answered it: its subprotocol (when the
    client offers it), permessage-deflate (when recorded), its other header fields."""
    from wsproto.events import AcceptConnection
    from wsproto.extensions import PerMessageDeflate

    lower = {k.lower(): v for k, v in recorded}
    subprotocol = lower.get("sec-websocket-protocol")
    extensions = [PerMessageDeflate()] \
        if "permessage-deflate" in lower.get("sec-websocket-extensions", "") else []
    extra = [(k.encode(), v.encode("utf-8", "surrogateescape")) for k, v in recorded
             if k.lower() not in _HANDSHAKE_FIELDS]
    return AcceptConnection(
        subprotocol=subprotocol if subprotocol in request.subprotocols else None,
        extensions=extensions, extra_headers=extra)
