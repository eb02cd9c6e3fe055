"""WebSockets through a recording proxy, and replayed from the history with the server gone.

A real local WebSocket server (the `websockets` library) plays a small chat: it greets,
answers each message after 100 ms, sends a binary frame when asked, and closes with 4000
on "bye". Real clients (`websockets`) talk to it directly and through mockrec.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import ssl
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)
websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from tests.conftest import server_tls, wait_for_entries  # noqa: E402


async def chat(ws) -> None:
    await ws.send("welcome")
    async for message in ws:
        await asyncio.sleep(0.1)
        if message == "bye":
            await ws.close(4000, "done")
            return
        if message == "binary":
            await ws.send(b"\x00\x01\x02")
            continue
        await ws.send(json.dumps({"echo": json.loads(message) if message.startswith("{")
                                  else message}))


class ChatServer:
    """The chat on 127.0.0.1, in a thread with its own event loop; `ssl` for wss."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def main() -> None:
            self.server = await serve(chat, "127.0.0.1", 0, ssl=context)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            await self.server.serve_forever()

        self.thread = threading.Thread(target=self.loop.run_until_complete,
                                       args=(main(),), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.thread.join(10)


@pytest.fixture
def chat_server():
    server = ChatServer()
    yield server
    server.stop()


def talk(url: str, *, proxy: str | None = None, ssl_context=None,
         script=('{"text": "hi"}', "binary", "bye")) -> dict:
    """The client's side: what it got, when (and when it sent), how the socket closed."""

    async def run() -> dict:
        events: list[tuple[float, str, object]] = []

        async def receive(ws) -> None:
            message = await ws.recv()
            events.append((time.monotonic() - start, "recv", message))

        async with connect(url, proxy=proxy, ssl=ssl_context, ping_interval=None,
                           open_timeout=10) as ws:
            start = time.monotonic()  # the 101 is in
            handshake = sorted((k.lower(), v) for k, v in ws.response.headers.raw_items()
                               if k.lower() != "sec-websocket-accept")
            await receive(ws)
            for message in script:
                await ws.send(message)
                events.append((time.monotonic() - start, "send", message))
                try:
                    await receive(ws)
                except ConnectionClosed:
                    break
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return {"messages": [m for _, kind, m in events if kind == "recv"],
                    "gaps": gaps(events), "close": (ws.close_code, ws.close_reason),
                    "101": (ws.response.status_code, handshake)}

    return asyncio.run(run())


def gaps(events: list[tuple[float, str, object]]) -> list[float]:
    """Each received message's wait after what the client saw or did just before it."""
    out, before = [], 0.0
    for at, kind, _ in events:
        if kind == "recv":
            out.append(at - before)
        before = at
    return out


EXPECTED = ["welcome", '{"echo": {"text": "hi"}}', b"\x00\x01\x02"]


def test_a_conversation_through_the_recording_proxy_is_as_direct_and_is_stored(
        start_proxy, chat_server):
    direct = talk(f"ws://127.0.0.1:{chat_server.port}/chat")
    proxy = start_proxy("--upstream", f"http://127.0.0.1:{chat_server.port}")
    through = talk(proxy.url.replace("http://", "ws://") + "/chat")
    assert direct["messages"] == through["messages"] == EXPECTED
    assert direct["close"] == through["close"] == (4000, "done")
    [entry] = wait_for_entries(proxy.store, 1)
    assert entry.response.status == 101
    conversation = entry.notes["websocket"]
    assert [(m["from"], m["type"]) for m in conversation["messages"]] == [
        ("server", "text"), ("client", "text"), ("server", "text"), ("client", "text"),
        ("server", "binary"), ("client", "text")]
    offsets = [m["offset"] for m in conversation["messages"]]
    assert offsets == sorted(offsets) and offsets[2] - offsets[1] >= 90
    assert conversation["close"] == {"code": 4000, "reason": "done", "by": "server"}
    assert conversation["cut"] is False


@pytest.fixture
def tls_chat_server(tmp_path):
    server = ChatServer(server_tls(tmp_path))
    yield server
    server.stop()


def test_wss_through_the_forward_proxy_with_its_ca(start_proxy, tls_chat_server, confdir):
    proxy = start_proxy("--set", "ssl_insecure=true")
    trust = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
    through = talk(f"wss://127.0.0.1:{tls_chat_server.port}/chat", proxy=proxy.url,
                   ssl_context=trust)
    assert through["messages"] == EXPECTED and through["close"] == (4000, "done")
    [entry] = wait_for_entries(proxy.store, 1)
    assert entry.request.url == f"https://127.0.0.1:{tls_chat_server.port}/chat"
    assert len(entry.notes["websocket"]["messages"]) == 6


def test_ws_through_the_forward_proxy(start_proxy, chat_server):
    proxy = start_proxy()
    through = talk(f"ws://127.0.0.1:{chat_server.port}/chat", proxy=proxy.url)
    assert through["messages"] == EXPECTED
    [entry] = wait_for_entries(proxy.store, 1)
    assert entry.notes["websocket"]["close"]["code"] == 4000


def test_stopping_the_proxy_mid_conversation_stores_it_as_cut(start_proxy, chat_server):
    proxy = start_proxy("--upstream", f"http://127.0.0.1:{chat_server.port}",
                        "--grace", "0.2")

    async def half() -> None:
        async with connect(proxy.url.replace("http://", "ws://") + "/chat",
                           ping_interval=None) as ws:
            assert await ws.recv() == "welcome"
            await ws.send("still here")
            assert json.loads(await ws.recv()) == {"echo": "still here"}
            assert proxy.stop() == 0
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)

    asyncio.run(half())
    [entry] = wait_for_entries(proxy.store, 1)
    conversation = entry.notes["websocket"]
    assert conversation["cut"] is True and conversation["close"] is None
    assert [m.get("data") for m in conversation["messages"]] == [
        "welcome", "still here", '{"echo": "still here"}']


def test_history_lists_and_shows_the_conversation(start_proxy, chat_server, cli):
    proxy = start_proxy("--upstream", f"http://127.0.0.1:{chat_server.port}")
    talk(proxy.url.replace("http://", "ws://") + "/chat")
    [entry] = wait_for_entries(proxy.store, 1)
    listed = cli("history", "list", data_dir=proxy.data_dir)
    assert listed.exit_code == 0
    assert "101" in listed.stdout and "6 msgs" in listed.stdout
    shown = cli("history", "show", str(entry.id), data_dir=proxy.data_dir)
    lines = shown.stdout.splitlines()
    assert any(line.endswith("< text  welcome") for line in lines)
    assert any(line.endswith('> text  {"text": "hi"}') for line in lines)
    assert any("< binary  <3 bytes binary>" in line for line in lines)
    assert "closed by the server: 4000 done" in shown.stdout
    as_json = cli("history", "show", str(entry.id), "--json", data_dir=proxy.data_dir).json
    assert as_json["notes"]["websocket"]["close"]["code"] == 4000


# -- replay: the recorded conversation, with the server gone ----------------------------

@pytest.fixture
def recorded_chat(start_proxy, chat_server, cli):
    """A chat recorded through a reverse proxy, promoted into `chat`; the server then
    stopped. Gives the data dir and what the client saw while recording."""
    proxy = start_proxy("--upstream", f"http://127.0.0.1:{chat_server.port}")
    seen = talk(proxy.url.replace("http://", "ws://") + "/chat")
    wait_for_entries(proxy.store, 1)
    assert proxy.stop() == 0
    assert cli("promote", "1", "--collection", "chat", data_dir=proxy.data_dir).exit_code == 0
    chat_server.stop()
    return proxy.data_dir, seen


def test_replayed_offline_the_client_gets_the_same_conversation_in_time(
        start_proxy, recorded_chat, cli):
    data, recorded = recorded_chat
    replay = start_proxy("chat", data_dir=data, command="replay")
    replayed = talk(replay.url.replace("http://", "ws://") + "/chat")
    assert replayed["messages"] == recorded["messages"] == EXPECTED
    assert replayed["close"] == (4000, "done")
    for was, now in zip(recorded["gaps"], replayed["gaps"], strict=True):
        assert abs(now - was) <= 0.05, (recorded["gaps"], replayed["gaps"])
    # the call log keeps what was served and received, as the client sent it
    assert replay.stop() == 0
    [call] = cli("calls", "chat", "--json", data_dir=data).json
    assert (call["status"], call["path"], call["outcome"]) == (101, "/chat", {"kind": "example"})
    shown = cli("calls", "chat", "show", str(call["id"]), data_dir=data).stdout
    assert "< text  welcome" in shown and '> text  {"text": "hi"}' in shown
    assert "closed by the server: 4000 done" in shown
    assert "x-mockrec-conversation" not in shown.lower()  # mockrec's own booking token


def test_a_message_the_recording_does_not_expect_gets_1008_under_match_body(
        start_proxy, recorded_chat):
    data, _ = recorded_chat
    replay = start_proxy("chat", "--match-body", data_dir=data, command="replay")
    got = talk(replay.url.replace("http://", "ws://") + "/chat",
               script=('{"text": "something else"}',))
    assert got["messages"] == ["welcome"]
    assert got["close"][0] == 1008 and 'expected {"text": "hi"}' in got["close"][1]
    # JSON is compared as parsed: other spacing is the same message
    same = talk(replay.url.replace("http://", "ws://") + "/chat",
                script=('{ "text" :  "hi" }', "binary", "bye"))
    assert same["messages"] == EXPECTED and same["close"] == (4000, "done")


def test_stream_speed_zero_and_a_cut_fault(start_proxy, recorded_chat, cli):
    data, _ = recorded_chat
    fast = start_proxy("chat", "--stream-speed", "0", data_dir=data, command="replay")
    replayed = talk(fast.url.replace("http://", "ws://") + "/chat")
    assert replayed["messages"] == EXPECTED
    assert all(gap < 0.05 for gap in replayed["gaps"]), replayed["gaps"]
    [example] = cli("example", "list", "--collection", "chat", "--json", data_dir=data).json
    assert cli("example", "edit", str(example["id"]), "--collection", "chat",
               "--fault", "cut:2", data_dir=data).exit_code == 0
    cut = start_proxy("chat", data_dir=data, command="replay")
    got = talk(cut.url.replace("http://", "ws://") + "/chat")
    assert got["messages"] == EXPECTED[:2]
    # not the recorded close, nor any close frame: the connection dies (1006 to the
    # client, as when a server dies), whatever mitmproxy would relay of the player's
    assert got["close"][0] == 1006, got["close"]


def test_wss_replayed_through_the_forward_proxy_with_its_ca(
        start_proxy, tls_chat_server, confdir, cli):
    recorder = start_proxy("--set", "ssl_insecure=true")
    trust = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
    url = f"wss://127.0.0.1:{tls_chat_server.port}/chat"
    recorded = talk(url, proxy=recorder.url, ssl_context=trust)
    wait_for_entries(recorder.store, 1)
    assert recorder.stop() == 0
    assert cli("promote", "1", "--collection", "tls", data_dir=recorder.data_dir).exit_code == 0
    tls_chat_server.stop()
    replay = start_proxy("tls", data_dir=recorder.data_dir, command="replay")
    replayed = talk(url, proxy=replay.url, ssl_context=trust)
    assert replayed["messages"] == recorded["messages"] == EXPECTED
    assert replayed["close"] == (4000, "done")
    for was, now in zip(recorded["gaps"], replayed["gaps"], strict=True):
        assert abs(now - was) <= 0.05, (recorded["gaps"], replayed["gaps"])


# -- the fast path against mitmproxy's path ---------------------------------------------

def call_shown(cli, data, cut: bool) -> list[str]:
    """The conversation's call log as `calls show` prints it, the client's port and the
    handshake's key aside; `cut`: the client's messages after the last served aside
    (sent as the cut came: whether the proxy got them first is a race)."""
    [call] = cli("calls", "chat", "--json", data_dir=data).json
    text = cli("calls", "chat", "show", str(call["id"]), data_dir=data).stdout
    lines = [line.split("ms ", 1)[-1] for line in text.splitlines()
             if "client 127.0.0.1:" not in line and "sec-websocket-key" not in line.lower()
             and "sec-websocket-accept" not in line.lower()]
    if cut:
        last = max(i for i, line in enumerate(lines) if line.lstrip().startswith("< "))
        lines = lines[:last + 1] + [line for line in lines[last + 1:]
                                    if not line.lstrip().startswith("> ")]
    return lines


def listening(pid: int) -> int:
    """How many TCP sockets the process listens on (Linux's /proc): mitmproxy's path
    starts a PlayServer on the first conversation, the fast path none."""
    inodes = set()
    for fd in os.scandir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(fd.path)
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            count += fields[3] == "0A" and fields[9] in inodes  # 0A: LISTEN
    return count


@pytest.mark.parametrize("case", ["plain", "match-body", "cut"])
def test_the_fast_path_plays_a_conversation_as_mitmproxys_path_does(
        start_proxy, recorded_chat, cli, case):
    """The same conversation replayed on the fast path (the default) and on mitmproxy's
    path (--set mockrec_fast_replay=false): the same 101, messages, close and call log."""
    data, _ = recorded_chat
    args, script = ["chat"], ('{"text": "hi"}', "binary", "bye")
    if case == "match-body":
        args, script = ["chat", "--match-body"], ('{"text": "something else"}',)
    if case == "cut":
        [example] = cli("example", "list", "--collection", "chat", "--json", data_dir=data).json
        assert cli("example", "edit", str(example["id"]), "--collection", "chat",
                   "--fault", "cut:2", data_dir=data).exit_code == 0
    got, logged, listens = {}, {}, {}
    for path, extra in (("fast", []), ("mitmproxy", ["--set", "mockrec_fast_replay=false"])):
        replay = start_proxy(*args, *extra, data_dir=data, command="replay")
        got[path] = talk(replay.url.replace("http://", "ws://") + "/chat", script=script)
        listens[path] = listening(replay.process.pid)
        assert replay.stop() == 0
        address = replay.url.split("://")[1]  # the client's Host: each proxy's own
        logged[path] = [line.replace(address, "PROXY")
                        for line in call_shown(cli, data, cut=case == "cut")]
        assert cli("calls", "chat", "clear", data_dir=data).exit_code == 0
    assert listens["mitmproxy"] == listens["fast"] + 1  # the fast path took it
    fast, slow = got["fast"], got["mitmproxy"]
    assert fast["101"] == slow["101"], (fast, slow)
    assert fast["messages"] == slow["messages"], (fast, slow)
    assert fast["close"] == slow["close"], (fast, slow)
    assert fast["close"][0] == {"plain": 4000, "match-body": 1008, "cut": 1006}[case]
    assert logged["fast"] == logged["mitmproxy"], "\n".join(
        difflib.unified_diff(logged["mitmproxy"], logged["fast"], lineterm=""))
    for was, now in zip(slow["gaps"], fast["gaps"], strict=True):
        assert abs(now - was) <= 0.05, (slow["gaps"], fast["gaps"])
