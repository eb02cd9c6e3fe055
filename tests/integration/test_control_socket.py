"""Both ends of `mockrec mode` and `mockrec reset`: recorder/proxy/remote.py (the client)
and addons/control_socket.py (the proxy's end), over a real Unix socket that these tests
listen on."""

from __future__ import annotations

import asyncio
import json

import pytest
from mitmproxy.test import taddons

from addons.control_socket import ControlSocket
from addons.replay import Replay
from recorder.errors import MockrecError
from recorder.proxy import remote

pytestmark = pytest.mark.mitmproxy_api


def test_the_control_socket_rewinds(tmp_path):
    calls = []
    replay = Replay()
    replay.reset = lambda: calls.append("reset")  # what the socket must reach

    async def scenario():
        control = ControlSocket(replay.admin)
        path = remote.socket_path(tmp_path, 8125)
        path.parent.mkdir()
        server = await asyncio.start_unix_server(control._serve, path=str(path))
        async with server:
            return await asyncio.to_thread(remote.send, tmp_path, 8125, {"reset": True})

    with taddons.context(replay):
        reply = asyncio.run(scenario())
    assert reply["ok"] and reply["reset"] and calls == ["reset"]


def test_a_request_and_its_answer_cross_the_socket(tmp_path):
    async def serve_once(path):
        async def handle(reader, writer):
            request = json.loads(await reader.readline())
            reply = {"ok": True, "mode": request["set"]["mockrec_mode"], "collection": ""}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
            writer.close()
        server = await asyncio.start_unix_server(handle, path=str(path))
        async with server:
            answer = await asyncio.to_thread(remote.send, tmp_path, None,
                                             {"set": {"mockrec_mode": "replay"}})
        return answer

    remote.run_dir(tmp_path).mkdir()
    path = remote.socket_path(tmp_path, 8123)
    assert asyncio.run(serve_once(path))["mode"] == "replay"


def test_an_error_from_the_proxy_is_one_line(tmp_path):
    async def refuse(path):
        async def handle(reader, writer):
            await reader.readline()
            writer.write(b'{"ok": false, "error": "no collection \'x\'"}\n')
            await writer.drain()
            writer.close()
        server = await asyncio.start_unix_server(handle, path=str(path))
        async with server:
            await asyncio.to_thread(remote.send, tmp_path, 8124, {"set": {}})

    remote.run_dir(tmp_path).mkdir()
    with pytest.raises(MockrecError, match="no collection 'x'"):
        asyncio.run(refuse(remote.socket_path(tmp_path, 8124)))
