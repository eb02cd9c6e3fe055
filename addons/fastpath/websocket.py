"""WebSocket upgrades on the fast path: a replayed conversation played on the client's
own connection.

On mitmproxy's path (addons/websockets.py) an upgrade is pointed at a PlayServer on
127.0.0.1 over a second connection, and mitmproxy's WebSocket layer relays every frame
between the two, with a hook task for each: most of a conversation's CPU. Here the
fast layer (layer.py) reads a plain upgrade request (`upgrade_head`: GET, origin form,
HTTP/1.1, no body, cleartext, read and checked by mitmproxy's own reader; to a
reverse proxy, or to a forward proxy's mock URL), asks the
replay addon for its answer as for any request, and when that is a conversation to
play, answers it with `FastPlayer`: wsproto writes the 101 (the same `accept` as the
PlayServer's: the recorded fields, subprotocol, permessage-deflate) and the same
player (recorder/serve/websocket.py's `Player`: waiting for the client's messages,
--match-body, --stream-speed, the recorded close, cut:N) writes each frame straight
to the client's transport. The call log gets the conversation as mitmproxy's path
logs it (`websocket_end`). Anything else (TLS, a forward proxy's absolute form, a
body) is mitmproxy's, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from mitmproxy import http
from mitmproxy.net.http import http1, url
from mitmproxy.net.http.validate import validate_headers
from mitmproxy.websocket import WebSocketData, WebSocketMessage
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request
from wsproto.frame_protocol import Opcode

from addons import metadata
from addons.fastpath import wire
from addons.websockets import Play, upgrades
from recorder.serve.config import ServeConfig
from recorder.serve.websocket import Booking, Played, Player, PlaySettings, accept

log = logging.getLogger(__name__)
_players: set[asyncio.Task] = set()  # running, so that none is collected mid-way


def upgrade_head(lines: list[bytes], forward: bool) -> wire.Head | None:
    """`lines` (a request head split at CRLF) as a plain WebSocket upgrade: GET in
    origin form, HTTP/1.1, no body, no Expect, read by mitmproxy's own reader and
    header checks; None for anything else (mitmproxy's path takes it). To a forward
    proxy (`forward`: the mock URL, the proxy itself), its Host names the destination
    (url_host, url_port), as mitmproxy's HTTP layer reads it."""
    try:
        request = http1.read_request_head(lines)
        validate_headers(request)
        size = http1.expected_http_body_size(request)
    except ValueError:
        return None
    data = request.data
    if (data.method != b"GET" or data.http_version != b"HTTP/1.1" or size != 0
            or not data.path.startswith(b"/") or data.authority or "expect" in request.headers
            or not upgrades(request.headers)):
        return None
    fields = list(data.headers.fields)
    hosts = [i for i, (name, _) in enumerate(fields) if name.lower() == b"host"]
    if len(hosts) > 1:
        return None
    url_host, url_port = "", 0
    if forward:
        try:
            url_host, port = url.parse_authority(request.host_header or "", check=True)
        except ValueError:
            return None
        url_port = port or 80
    return wire.Head(data.method, data.path, data.http_version, fields, 0,
                     hosts[0] if hosts else -1, False, url_host, url_port)


def settings(play: Play, config: ServeConfig) -> PlaySettings:
    """How `play` is played: as on mitmproxy's path (addons/websockets.py)."""
    return PlaySettings(speed=config.stream_speed, match_body=config.match.match_body,
                        cut_after=play.cut_after)


class FastPlayer(Player):
    """The player on the client's connection: frames written to its transport, the
    client's bytes fed in by the fast layer (`feed`; b"": it hung up)."""

    def __init__(self, transport: asyncio.WriteTransport, head: bytes) -> None:
        super().__init__(WSConnection(ConnectionType.SERVER))
        self.transport = transport
        # The client's bytes, each with when they arrived (time.time(): the kernel's
        # stamp, selector.py); when each of its messages arrived, for the gap after it.
        self.incoming: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self.came = time.time()
        self.arrivals: list[float] = []
        self.ws.receive_data(head)
        requests = [event for event in self.ws.events() if isinstance(event, Request)]
        self.request = requests[0] if requests else None

    def feed(self, data: bytes, arrived: float) -> None:
        self.incoming.put_nowait((data, arrived))

    async def _recv(self) -> bytes:
        data, self.came = await self.incoming.get()
        return data

    async def _received(self, data: bytes, text: bool) -> None:
        self.arrivals.append(self.came)
        await super()._received(data, text)

    def arrived(self, index: int) -> float | None:
        """When the client's message `index` arrived: a busy loop may get to it late,
        and the gap after it counts from its arrival."""
        return self.arrivals[index] if index < len(self.arrivals) else None

    def _write(self, data: bytes) -> None:
        if self.transport.is_closing():
            raise ConnectionResetError("the client hung up")
        self.transport.write(data)

    async def _drain(self) -> None:
        pass  # small frames; the transport buffers, as mitmproxy's writer does

    def _abort(self) -> None:
        self.transport.abort()


def start(player: FastPlayer, flow: http.HTTPFlow, play: Play, config: ServeConfig,
          logged) -> None:
    """Plays `play` on `player`'s connection, in a task of its own; `logged(flow)` logs
    the call once the conversation ended (the replay addon's websocket_end)."""
    flow.metadata[metadata.REPLAYED] = True  # never recorded as traffic
    task = asyncio.get_running_loop().create_task(_run(player, flow, play, config, logged))
    _players.add(task)
    task.add_done_callback(_players.discard)


async def _run(player: FastPlayer, flow: http.HTTPFlow, play: Play, config: ServeConfig,
               logged) -> None:
    opened = time.time()
    try:
        if play.delay:
            await asyncio.sleep(play.delay)
        assert player.request is not None
        head = player.ws.send(accept(player.request, play.headers))
        flow.response = _response(head)
        opened = flow.response.timestamp_start = flow.response.timestamp_end = time.time()
        player._write(head)
        await player.play(Booking(play.conversation, settings(play, config), play.headers,
                                  lambda played: None, arrived=player.arrived))
    except (ConnectionError, RuntimeError):
        pass
    except Exception:  # a bug of ours: the client must not wait for ever
        log.exception("mockrec: replaying a WebSocket on the fast path failed")
    finally:
        if not player.played.cut:
            player.transport.close()
        if flow.response is not None:
            flow.websocket = _websocket(player.played, opened)
        with contextlib.suppress(Exception):
            logged(flow)


def _response(head: bytes) -> http.Response:
    """The 101 wsproto wrote, as the flow's response (the call log's)."""
    lines = head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    return http1.read_response_head(lines)


def _websocket(played: Played, opened: float) -> WebSocketData:
    """What the player served and received, as mitmproxy's WebSocket layer would have
    it in the flow (message times: the 101's plus each message's offset)."""
    data = WebSocketData()
    data.messages = [WebSocketMessage(Opcode.TEXT if m.text else Opcode.BINARY,
                                      m.from_client, m.data, opened + m.offset / 1000)
                     for m in played.messages]
    if played.cut:  # the client's connection died (mitmproxy: closed by the client)
        data.close_code, data.closed_by_client = 1006, True
    elif played.close is not None:
        data.close_code, data.close_reason = played.close.code, played.close.reason
        data.closed_by_client = played.close.by_client
    return data
