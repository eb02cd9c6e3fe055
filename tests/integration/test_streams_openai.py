"""The example users look for: a streaming chat completion made with the `openai` SDK,
recorded through mockrec, promoted, and replayed offline with its pacing.

The SDK's base_url points at the proxy, whose upstream is a local fake of the vendor
that streams as the vendor does: `data: {chat.completion.chunk}` events, then
`data: [DONE]`. No real vendor is involved."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import QuietHTTPServer, UpstreamServer, wait_for_entries

openai = pytest.importorskip("openai")

TOKENS = ["Hel", "lo", ",", " wor", "ld", "!"]
GAP = 0.2


class FakeVendor(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert asked["stream"] is True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, token in enumerate([*TOKENS, None]):
            if i:
                time.sleep(GAP)
            if token is None:
                event = b"data: [DONE]\n\n"
            else:
                chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                         "created": 1765000000, "model": asked["model"],
                         "choices": [{"index": 0, "delta": {"content": token},
                                      "finish_reason": None}]}
                event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class Vendor(UpstreamServer):
    def __init__(self) -> None:
        import threading
        self.server = QuietHTTPServer(("127.0.0.1", 0), FakeVendor)
        self.port = self.server.server_address[1]
        self.scheme, self.url = "http", f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


def chat(base_url: str) -> list[tuple[float, str]]:
    """The tokens as the SDK hands them over, with when (seconds after the call)."""
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test-not-a-real-key",
                           max_retries=0, timeout=10)
    start = time.monotonic()
    got = []
    stream = client.chat.completions.create(
        model="gpt-4o-mini", stream=True,
        messages=[{"role": "user", "content": "Say hello"}])
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            got.append((time.monotonic() - start, chunk.choices[0].delta.content))
    return got


def gaps(timed: list[tuple[float, str]]) -> list[float]:
    return [b - a for (a, _), (b, _) in zip(timed, timed[1:], strict=False)]


def test_record_promote_and_replay_a_streaming_chat_completion(start_proxy, tmp_path, cli):
    vendor = Vendor()
    data = tmp_path / "data"
    recording = start_proxy("--upstream", vendor.url, data_dir=data)
    chat(recording.url)  # the proxy's first request: its connection to the vendor
    live = chat(recording.url)
    assert [token for _, token in live] == TOKENS
    assert all(abs(gap - GAP) < 0.05 for gap in gaps(live)), gaps(live)  # passed through live
    _, entry = wait_for_entries(recording.store, 2)
    assert entry.response.stream is not None and not entry.response.stream.cut
    recording.stop()
    vendor.close()  # offline from here on

    code, out, err = cli("promote", "2", "--collection", "chat", data_dir=data)
    assert code == 0, err
    replaying = start_proxy("chat", data_dir=data, command="replay")
    chat(replaying.url)
    replayed = chat(replaying.url)
    assert [token for _, token in replayed] == TOKENS
    for recorded, again in zip(gaps(live), gaps(replayed), strict=True):
        assert abs(again - recorded) < 0.05, (gaps(live), gaps(replayed))
