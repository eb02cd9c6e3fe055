"""The WebSocket player (recorder/serve/websocket.py) alone on 127.0.0.1, with a real
client (`websockets`): what the proxy tells it changes when it plays."""

from __future__ import annotations

import asyncio
import time

import pytest

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402

from recorder.conversation import from_doc  # noqa: E402
from recorder.serve.websocket import TOKEN_HEADER, Booking, PlayServer, PlaySettings  # noqa: E402


@pytest.mark.wall_clock
def test_a_gap_after_a_client_message_counts_from_when_the_proxy_got_it():
    """Relayed to the player through a busy proxy, the client's message comes late; the
    gap after it counts from when the proxy got it (here 200 ms before), not from when
    it reached the player: the server's answer is due 300 ms after it, so 100 ms after
    it reached the player."""
    conversation = from_doc({"messages": [
        {"from": "client", "data": "go", "offset": 0},
        {"from": "server", "data": "tick", "offset": 300}], "close": None})

    async def run() -> float:
        server = PlayServer()
        port = await server.start()
        token = server.book(Booking(conversation, PlaySettings(), [], lambda played: None,
                                    arrived=lambda index: time.time() - 0.2))
        try:
            async with connect(f"ws://127.0.0.1:{port}/", ping_interval=None,
                               additional_headers={TOKEN_HEADER: token}) as ws:
                await ws.send("go")
                sent = time.monotonic()
                assert await asyncio.wait_for(ws.recv(), 5) == "tick"
                return time.monotonic() - sent
        finally:
            await server.close()

    waited = asyncio.run(run())
    assert 0.05 < waited < 0.22, waited
