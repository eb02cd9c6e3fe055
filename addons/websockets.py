"""Replay's WebSocket side on mitmproxy's path: a matched upgrade request plays its
example's conversation (recorder/serve/websocket.py) with no upstream and no network.

mitmproxy's WebSocket layer relays between a client and a server connection, so the
conversation gets a server of its own: a PlayServer on 127.0.0.1, started
on the first WebSocket example that answers. The upgrade request is pointed there with
a token naming its booking; mitmproxy's layers then carry the 101 and every frame to the
client as they carry a real API's (ws and wss, reverse and forward, ping and pong,
fragments, close codes), and the call log takes the conversation from the flow, as the
record addon does, once it ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from mitmproxy import http

from addons import metadata
from recorder.conversation import Conversation
from recorder.serve.websocket import Booking, PlayServer, PlaySettings, TOKEN_HEADER

# Where the upgrade request was going, put back once the 101 came (the call log's URL).
_TARGET = "mockrec_websocket_target"


def is_upgrade(flow: http.HTTPFlow) -> bool:
    headers = flow.request.headers
    return (headers.get("upgrade", "").lower() == "websocket"
            and "upgrade" in headers.get("connection", "").lower())


@dataclass
class Play:
    """A decision to play `conversation` for this upgrade, answered with these header
    fields, after `delay` seconds."""

    conversation: Conversation
    headers: list[tuple[str, str]]
    settings: PlaySettings
    delay: float = 0.0


class Conversations:
    def __init__(self) -> None:
        self.server = PlayServer()

    async def play(self, flow: http.HTTPFlow, play: Play) -> None:
        """Point the upgrade request at the PlayServer, with its booking's token."""
        port = await self.server.start()
        token = self.server.book(Booking(play.conversation, play.settings, play.headers,
                                         lambda played: None))
        req = flow.request
        flow.metadata[_TARGET] = (req.data.scheme, req.data.host, req.data.port)
        flow.metadata[metadata.REPLAYED] = True  # never recorded as traffic
        req.headers[TOKEN_HEADER] = token
        # .data: the Host header and the authority stay as the client sent them.
        req.data.scheme, req.data.host, req.data.port = b"http", "127.0.0.1", port

    @staticmethod
    def settle(flow: http.HTTPFlow) -> None:
        """The 101 came from the PlayServer: the request is the client's again."""
        target = flow.metadata.pop(_TARGET, None)
        if target is not None:
            req = flow.request
            req.data.scheme, req.data.host, req.data.port = target
            req.headers.pop(TOKEN_HEADER, None)

    async def close(self) -> None:
        await self.server.close()
