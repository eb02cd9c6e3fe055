"""Sequences and faults through the real proxy, with real clients.

A small stateful upstream (a cart: GET shows it, POST changes it) is recorded through
`mockrec record`, promoted, and replayed with the upstream stopped: the client must
see what it saw live, in order. Faults are checked as a client meets them, on the fast
path and on mitmproxy's path (`--set mockrec_fast_replay=false`).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from conftest import QuietHTTPServer, RunningProxy, wait_for_entries

from recorder.cli import main
from recorder.models import Example, ExampleRequest, ExampleResponse, Request
from recorder.serve.faults import GARBAGE
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore, call_log_root

DEAD = "http://127.0.0.1:9"
PATHS = {"fast": (), "mitmproxy": ("--set", "mockrec_fast_replay=false")}


class Cart(BaseHTTPRequestHandler):
    """GET /cart shows the cart; POST /cart/items adds the JSON body's item."""

    protocol_version = "HTTP/1.1"
    items: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(200, {"items": self.items, "count": len(self.items)})

    def do_POST(self) -> None:
        item = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["item"]
        self.items.append(item)
        self._send(201, {"added": item, "count": len(self.items)})


SESSION = [("GET", "/cart", None), ("POST", "/cart/items", b'{"item": "apple"}'),
           ("GET", "/cart", None), ("POST", "/cart/items", b'{"item": "apple"}'),
           ("GET", "/cart", None)]


def play(url: str, session=SESSION) -> list[tuple[int, bytes]]:
    with httpx.Client(base_url=url) as client:
        return [(r.status_code, r.content) for r in
                (client.request(method, path, content=body) for method, path, body in session)]


@pytest.fixture(scope="module")
def recorded(confdir, tmp_path_factory):
    """The cart session recorded live and promoted into `cart`; the upstream is gone."""
    Cart.items = []
    server = QuietHTTPServer(("127.0.0.1", 0), Cart)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    data = tmp_path_factory.mktemp("cart") / "data"
    proxy = RunningProxy(data, ["--upstream", f"http://127.0.0.1:{server.server_port}"],
                         confdir)
    live = play(proxy.url)
    assert wait_for_entries(proxy.store, len(SESSION))
    proxy.stop()
    server.shutdown()
    server.server_close()  # replay must do without it
    assert main(["--data-dir", str(data), "promote", "1-5", "--collection", "cart"]) == 0
    return data, live


def replay(start_proxy, data: Path, *args: str):
    return start_proxy("cart", *args, data_dir=data, command="replay")


def test_promote_made_the_repeats_sequences_in_history_order(recorded):
    data, live = recorded
    c = CollectionStore(data).load("cart")
    by_name = {r.name: r for r in c.requests}
    assert [(e.source_entry, e.sequence) for e in by_name["GET /cart"].examples] == [
        (1, 1), (3, 2), (5, 3)]
    assert [(e.source_entry, e.sequence) for e in by_name["POST /cart/items"].examples] == [
        (2, 1), (4, 2)]
    assert [json.loads(body)["count"] for _, body in live] == [0, 1, 1, 2, 2]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("end, after", [
    ("last", (200, b"apple-apple")), ("cycle", (200, b"empty")), ("404", (404, None))])
def test_the_session_replays_in_order_with_the_upstream_stopped(recorded, start_proxy, end,
                                                                after, path):
    data, live = recorded
    proxy = replay(start_proxy, data, "--sequence-end", end, *PATHS[path])
    assert play(proxy.url) == live
    (status, body), = play(proxy.url, [("GET", "/cart", None)])
    expected = {b"apple-apple": live[4][1], b"empty": live[0][1], None: None}[after[1]]
    assert status == after[0]
    if expected is not None:
        assert body == expected
    else:
        error = json.loads(body)["error"]
        assert error["name"] == "mockRequestNotFoundError" and "mockrec reset" in error["message"]
    # `mockrec reset` rewinds every sequence: the session replays again
    port = int(proxy.url.rsplit(":", 1)[1])
    assert main(["--data-dir", str(data), "reset", "--port", str(port)]) == 0
    assert play(proxy.url) == live


def test_picking_an_example_directly_does_not_move_a_sequence(recorded, start_proxy):
    data, live = recorded
    proxy = replay(start_proxy, data)
    third = CollectionStore(data).load("cart").requests[0].examples[2]
    with httpx.Client(base_url=proxy.url) as client:
        assert client.get("/cart", headers={"x-mock-response-id": str(third.id)}).content == (
            live[4][1])
        assert client.get("/cart", headers={"x-mock-response-code": "200"}).status_code == 200
        assert client.get("/cart").content == live[0][1]  # still the first position


def steps_collection(data: Path, count: int) -> None:
    store = CollectionStore(data)
    with store.editing("steps", create=True) as c:
        ids = store.new_example_ids(c, count)
        c.requests.append(Request(1, "GET /step", "GET", "/step", examples=[
            Example(example_id, f"step {n}", ExampleRequest("GET", "/step"),
                    ExampleResponse(200, "OK", [("Content-Type", "text/plain")],
                                    f"step {n}".encode()), sequence=n)
            for n, example_id in enumerate(ids, 1)]))


@pytest.mark.parametrize("path", PATHS)
def test_fifty_clients_at_once_each_get_their_own_position(tmp_path, start_proxy, path):
    data = tmp_path / "data"
    steps_collection(data, 50)
    proxy = start_proxy("steps", "--upstream", DEAD, "--sequence-end", "404", *PATHS[path],
                        data_dir=data, command="replay")
    barrier = threading.Barrier(50)

    def one(_: int) -> str:
        with httpx.Client(base_url=proxy.url, timeout=30) as client:
            barrier.wait()
            r = client.get("/step")
            assert r.status_code == 200
            return r.text

    with ThreadPoolExecutor(50) as pool:
        served = list(pool.map(one, range(50)))
    assert sorted(served) == sorted(f"step {n}" for n in range(1, 51))  # each exactly once
    assert httpx.get(proxy.url + "/step").status_code == 404  # and no 51st
    store = HistoryStore(data, "calls/steps")
    deadline = time.monotonic() + 10
    while store.count() < 51 and time.monotonic() < deadline:
        time.sleep(0.05)
    calls = list(store.entries(newest_first=False))
    positions = sorted(c.notes["example"]["sequence"] for c in calls if c.notes["example"])
    assert positions == list(range(1, 51))  # the call log says which position each got


# -- faults -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("faults") / "data"
    body = "x" * 400
    for args in (["GET", "/item", "--body", body], ["GET", "/quick", "--body", "quick"],
                 ["GET", "/broken", "--body", "never", "--fault", "garbage"]):
        assert main(["--data-dir", str(data), "example", "add", "--collection", "f",
                     *args]) == 0
    return data


def address(url: str) -> tuple[str, int]:
    host, port = re.match(r"http://([^:]+):(\d+)", url).groups()
    return host, int(port)


def raw(url: str, fault: str | None = None, path: str = "/item") -> bytes:
    """Send one request on a new socket and read until the proxy closes it."""
    head = f"GET {path} HTTP/1.1\r\nHost: x\r\n"
    if fault:
        head += f"x-mock-response-fault: {fault}\r\n"
    with socket.create_connection(address(url), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
        return got


@pytest.mark.parametrize("path", PATHS)
def test_each_fault_as_a_client_meets_it(faulty, start_proxy, path):
    proxy = start_proxy("f", "--upstream", DEAD, *PATHS[path], "--set", f"mockrec_mock=f-{path}",
                        data_dir=faulty, command="replay")
    # reset: the kernel's RST, seen as such by a raw socket and by httpx
    with pytest.raises(ConnectionResetError):
        raw(proxy.url, "reset")
    with pytest.raises(httpx.ReadError):  # httpx's name for ECONNRESET while reading
        httpx.get(proxy.url + "/item", headers={"x-mock-response-fault": "reset"})
    # close: not a byte, then the end of the stream
    assert raw(proxy.url, "close") == b""
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(proxy.url + "/item", headers={"x-mock-response-fault": "close"})
    # garbage: bytes that are not HTTP, a protocol error in the client
    assert raw(proxy.url, "garbage") == GARBAGE
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(proxy.url + "/item", headers={"x-mock-response-fault": "garbage"})
    with pytest.raises(httpx.RemoteProtocolError):  # the example's own fault
        httpx.get(proxy.url + "/broken")
    # empty: the status and headers, no body
    r = httpx.get(proxy.url + "/item", headers={"x-mock-response-fault": "empty"})
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "0"
    # an unknown fault is the client's mistake
    bad = httpx.get(proxy.url + "/item", headers={"x-mock-response-fault": "boom"})
    assert bad.status_code == 400 and "slow-body:MS" in bad.json()["error"]["message"]
    # the proxy is fine after all that
    assert httpx.get(proxy.url + "/quick").text == "quick"
    store = HistoryStore(faulty, f"calls/f-{path}")
    deadline = time.monotonic() + 10
    while store.count() < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    calls = list(store.entries(newest_first=False))
    assert [c.notes.get("fault") for c in calls] == [
        "reset", "reset", "close", "close", "garbage", "garbage", "garbage", "empty", None,
        None]
    assert calls[0].response is None and calls[0].error == "mockrec fault: reset"
    assert calls[7].response.status == 200 and calls[7].error is None


@pytest.mark.wall_clock
@pytest.mark.parametrize("path", PATHS)
def test_a_slow_body_takes_its_time_and_holds_up_nobody_else(faulty, start_proxy, path):
    proxy = start_proxy("f", "--upstream", DEAD, *PATHS[path], data_dir=faulty,
                        command="replay")
    httpx.get(proxy.url + "/quick")  # warm up
    arrivals: list[tuple[float, int]] = []

    def slow() -> bytes:
        with socket.create_connection(address(proxy.url), timeout=10) as sock:
            sock.sendall(b"GET /item HTTP/1.1\r\nHost: x\r\n"
                         b"x-mock-response-fault: slow-body:1000\r\n\r\n")
            got = b""
            while chunk := sock.recv(65536):
                arrivals.append((time.monotonic(), len(chunk)))
                got += chunk
            return got

    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(slow)
        time.sleep(0.2)
        quick_started = time.monotonic()
        assert httpx.get(proxy.url + "/quick").text == "quick"
        quick = time.monotonic() - quick_started
        answer = pending.result()
    took = arrivals[-1][0] - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in head
    assert body == b"x" * 400
    assert 0.95 <= took < 3  # the body took its second
    assert len(arrivals) >= 5  # in pieces
    assert arrivals[0][0] - started < 0.5  # the head came at once
    assert quick < 0.5  # another connection was answered meanwhile
    r = httpx.get(proxy.url + "/item", headers={"x-mock-response-fault": "slow-body:500"})
    assert r.status_code == 200 and r.text == "x" * 400  # a real client reads it whole
    # mockrec's own 404, spoilt the same way, keeps its CORS headers for a page to read it.
    missing = httpx.get(proxy.url + "/nothing/here", headers={
        "x-mock-response-fault": "slow-body:100", "Origin": "http://app.test"})
    assert missing.status_code == 404 and missing.json()["error"]["name"]
    assert missing.headers["access-control-allow-origin"] == "http://app.test"
    assert missing.headers.get_list("vary") == ["Origin"]


def test_a_share_of_answers_fails_and_a_seed_repeats_which(faulty, start_proxy):
    def pattern() -> list[bool]:
        proxy = start_proxy("f", "--upstream", DEAD, "--fault", "reset", "--fault-rate", "30",
                            "--seed", "7", data_dir=faulty, command="replay")
        failed = []
        for _ in range(30):
            try:
                failed.append(httpx.get(proxy.url + "/quick").text != "quick")
            except httpx.TransportError:
                failed.append(True)
        proxy.stop()
        return failed

    first = pattern()
    assert 3 <= sum(first) <= 18  # about 30 %
    assert pattern() == first  # the same seed, the same requests fail


def test_a_fault_leaves_the_sequence_where_it_was(recorded, start_proxy):
    data, live = recorded
    proxy = replay(start_proxy, data)
    with pytest.raises(httpx.TransportError):
        httpx.get(proxy.url + "/cart", headers={"x-mock-response-fault": "reset"})
    assert play(proxy.url) == live  # the retry got the answer that was due


# -- docs/sequences-and-faults.md, as written ---------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sequences-and-faults.md"
SHOWN_UPSTREAM, SHOWN_PROXY = "http://127.0.0.1:5000", "localhost:8080"


def docs_blocks() -> list[list[str]]:
    """The page's shell blocks (indented code), continuation lines joined."""
    blocks: list[list[str]] = []
    lines = DOCS.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("    ") and (i == 0 or not lines[i - 1].startswith("    ")):
            blocks.append([])
        if line.startswith("    ") and blocks:
            text = line[4:]
            if blocks[-1] and blocks[-1][-1].endswith("\\"):
                blocks[-1][-1] = blocks[-1][-1][:-1] + text.strip()
            else:
                blocks[-1].append(text)
    return [b for b in blocks if b and b[0].startswith("mockrec ")]


def said(line: str) -> tuple[str, str]:
    """A shell line and what its comment says it prints."""
    command, _, comment = line.partition("  # ")
    return command.strip(), comment.strip()


def json_prefix(text: str):
    return json.JSONDecoder().raw_decode(text)[0]


def settled(store: HistoryStore, quiet: float = 1.0, timeout: float = 20.0) -> None:
    """Wait until the call log's writer has stored what it was given: its count holds
    still for `quiet` seconds (a loaded machine delays the writer process)."""
    deadline = time.monotonic() + timeout
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = store.count()
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


def test_the_pages_cart_walkthrough_runs_as_written(confdir, tmp_path, cli):
    """Every command the page shows, with its upstream and port replaced by this test's:
    curl's answers, promote's and `collection show`'s output, the seeded faults and what
    `mockrec calls` says of them."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("needs curl")
    Cart.items = []
    server = QuietHTTPServer(("127.0.0.1", 0), Cart)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{server.server_port}"
    data = tmp_path / "data"
    running: list[RunningProxy] = []
    expected: list[str] = []  # the comment lines after a command: its output
    last_output = ""

    def check_output() -> None:
        if not expected:
            return
        want = [e.replace(SHOWN_UPSTREAM, upstream) for e in expected]
        if want[0].startswith("ID  ..."):  # `calls`: columns elided with "..."
            got = last_output.splitlines()
            for want_line, got_line in zip(want, got, strict=False):
                for piece in want_line.split("..."):
                    assert " ".join(piece.split()) in " ".join(got_line.split()), last_output
        elif want[0].startswith("cart:"):  # `collection show`: the whole output
            assert last_output.splitlines() == want, (want, last_output)
        else:
            for line in want:
                assert line in last_output, (line, last_output)
        expected.clear()

    for block in docs_blocks():
        for line in block:
            if line.startswith("#"):
                expected.append(line[2:] if line.startswith("# ") else line[1:])
                continue
            check_output()
            command, comment = said(line)
            address = running[-1].url.removeprefix("http://") if running else ""
            if command.startswith("mockrec ") and command.endswith(" &"):
                words = shlex.split(command[:-2])[1:]
                words = [upstream if w == SHOWN_UPSTREAM else w for w in words]
                if "--port" in words:  # RunningProxy picks the port
                    at = words.index("--port")
                    del words[at:at + 2]
                for proxy in running:
                    proxy.stop()
                if words[0] == "replay":
                    server.shutdown()  # "with the cart server stopped"
                running.append(RunningProxy(data, words[1:], confdir, words[0]))
            elif command == "kill %1":
                assert running[-1].stop(signal.SIGINT) == 0
                wait_for_entries(HistoryStore(data), 3)
            elif command.startswith("mockrec "):
                if command.startswith("mockrec calls "):  # the log is written by a child
                    settled(HistoryStore(data, call_log_root(shlex.split(command)[2])))
                result = cli(*shlex.split(command)[1:], data_dir=data)
                assert result.exit_code == 0, (command, result.stderr)
                last_output = result.stdout
            else:  # curl, or a shell loop of curls
                done = subprocess.run(["bash", "-c", command.replace(SHOWN_PROXY, address)],
                                      capture_output=True, text=True, timeout=60)
                last_output = done.stdout
                if comment.startswith("{"):
                    assert json.loads(done.stdout) == json_prefix(comment), (line, done)
        check_output()
    for proxy in running:
        proxy.stop()
    server.server_close()
