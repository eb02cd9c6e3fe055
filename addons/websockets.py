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

import asyncio
from dataclasses import dataclass

from mitmproxy import http

from addons import faults, metadata
from recorder.conversation import Conversation
from recorder.serve.config import ServeConfig
from recorder.serve.faults import Fault
from recorder.serve.responder import Decision
from recorder.serve.websocket import TOKEN_HEADER, Booking, PlayServer, PlaySettings

# Where the upgrade request was going, put back once the 101 came (the call log's URL).
_TARGET = "mockrec_websocket_target"


def is_upgrade(flow: http.HTTPFlow) -> bool:
    return upgrades(flow.request.headers)


def upgrades(headers: http.Headers) -> bool:
    """Do a request's header fields ask for a WebSocket?"""
    return (headers.get("upgrade", "").lower() == "websocket"
            and "upgrade" in headers.get("connection", "").lower())


@dataclass
class Play:
    """A decision to play `conversation` for this upgrade, answered with these header
    fields, after `delay` seconds; `cut_after`: the fault cut:N."""

    conversation: Conversation
    headers: list[tuple[str, str]]
    delay: float = 0.0
    cut_after: int | None = None


def play_for(flow: http.HTTPFlow, decision: Decision, delay: float) -> Play | None:
    """The decision as a conversation to play, when its example has one and the request
    is a WebSocket upgrade; None for the rest (a fault other than cut spoils the 101 as
    it spoils any answer)."""
    example, answer, fault = decision.example, decision.answer, decision.fault
    if example is None or answer is None or example.response.conversation is None \
            or not is_upgrade(flow) or (fault is not None and fault.kind != "cut"):
        return None
    headers = [(k.decode("latin-1"), v.decode("utf-8", "surrogateescape"))
               for k, v in answer.headers]
    return Play(example.response.conversation, headers, max(0.0, delay), _cut(fault))


def _cut(fault: Fault | None) -> int | None:
    return fault.ms if fault is not None and fault.kind == "cut" else None


def client_message_time(flow: http.HTTPFlow, index: int) -> float | None:
    """When mitmproxy got the client's message `index` of this conversation."""
    sent = [m for m in flow.websocket.messages if m.from_client] if flow.websocket else []
    return sent[index].timestamp if index < len(sent) else None


async def hang_up(flow: http.HTTPFlow, served: int, patience: float = 2.0) -> None:
    """Cut the client's connection, with no close frame (the client sees 1006, as when
    a server dies), once mitmproxy has passed on the `served` server messages: each is
    in the flow, its hook is done (mitmproxy relays a message as its hook ends), and
    nothing waits in the transport's buffer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while loop.time() < deadline:
        handler = faults.connection_handler(flow.client_conn)
        transport = faults.client_transport(flow.client_conn)
        if handler is None or transport is None:
            return  # gone already
        ws = flow.websocket
        if (ws is not None and sum(not m.from_client for m in ws.messages) >= served
                and not getattr(handler, "hook_tasks", ())  # (mitmproxy 12 keeps none)
                and not transport.get_write_buffer_size()):
            break
        await asyncio.sleep(0.001)
    for _ in range(3):  # the last message's hook task, which relays it, runs first
        await asyncio.sleep(0)
    transport = faults.client_transport(flow.client_conn)
    if transport is not None:
        transport.abort()


class Conversations:
    def __init__(self) -> None:
        self.server = PlayServer()

    async def play(self, flow: http.HTTPFlow, play: Play, config: ServeConfig) -> None:
        """Point the upgrade request at the PlayServer, with its booking's token, once
        its delay is over (other requests go on meanwhile)."""
        if play.delay:
            await asyncio.sleep(play.delay)
        port = await self.server.start()
        settings = PlaySettings(speed=config.stream_speed, match_body=config.match.match_body,
                                cut_after=play.cut_after)
        token = self.server.book(Booking(play.conversation, settings, play.headers,
                                         lambda played: None,
                                         lambda served: hang_up(flow, served),
                                         lambda index: client_message_time(flow, index)))
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
