"""`mockrec drift` against a real local API that changes between recording and checking.

The API is recorded through the real `mockrec record` proxy and promoted; then it moves
to its second version (an id becomes a string, a field goes, one comes, an endpoint
answers 500, a price changes) and drift is asked what went stale.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
import pytest
from conftest import QuietHTTPServer, RunningProxy, wait_for_entries

from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore

TOKEN = "Bearer s3cret-t0ken"


def answers(version: int) -> dict[str, tuple[int, object]]:
    """What the API answers to each GET, in its first and second versions."""
    v2 = version == 2
    return {
        "/users/1": (200, {"id": "1" if v2 else 1, "name": "Ann"}),      # number -> string
        "/users/2": (200, {"id": 2, "name": "Bob"} if v2
                     else {"id": 2, "name": "Bob", "email": "bob@example.test"}),  # removed
        "/orders": (200, [{"id": 1, "total": 3.5, "currency": "EUR"}] if v2
                    else [{"id": 1, "total": 3.5}]),                      # added
        "/health": (500, {"error": "db down"}) if v2 else (200, {"ok": True}),  # 500
        "/price": (200, {"price": 12 if v2 else 10}),                     # a value
        "/me": (200, {"user": "ann"}),                                    # needs the token
    }


def chat_events(version: int, tools: bool = False) -> list[bytes]:
    """An LLM-style answer: other words in the second version; with `tools`, the second
    version's events also carry a field the first had not."""
    words = ["Hello", " there"] if version == 1 else ["Good", " day", " to", " you"]
    events = []
    for n, word in enumerate(words):
        data: dict = {"id": n, "delta": {"content": word}}
        if tools and version == 2:
            data["delta"]["tool_calls"] = []
        events.append(b"data: " + json.dumps(data).encode() + b"\n\n")
    return [*events, b"data: [DONE]\n\n"]


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        server: ApiServer = self.server.owner  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        server.seen.append(f"{self.command} {path}")
        if path == "/me" and self.headers.get("Authorization") != TOKEN:
            return self.send(401, {"error": "who are you?"})
        if path.startswith("/chat"):
            return self.stream(chat_events(server.version, tools=path == "/chat-tools"))
        status, body = answers(server.version).get(path, (404, {"error": "no such path"}))
        self.send(status, body)

    def do_POST(self) -> None:  # noqa: N802
        server: ApiServer = self.server.owner  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server.seen.append(f"POST {urlsplit(self.path).path}")
        self.send(201, {"id": 99, "status": "created"})

    def stream(self, events: list[bytes]) -> None:
        """Server-sent events, chunked, one event at a time as an LLM API sends them."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            time.sleep(0.02)
        self.wfile.write(b"0\r\n\r\n")

    def send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ApiServer:
    def __init__(self) -> None:
        self.version = 1
        self.seen: list[str] = []
        self.server = QuietHTTPServer(("127.0.0.1", 0), Api)
        self.server.owner = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def recorded_api(confdir, tmp_path_factory):
    """The API's first version recorded through `mockrec record` and promoted into
    collection `api` (examples 1-7); then the API moves to its second version."""
    api = ApiServer()
    data_dir = tmp_path_factory.mktemp("drift") / "data"
    proxy = RunningProxy(data_dir, ["--upstream", api.url], confdir)
    with httpx.Client(base_url=proxy.url) as client:
        for path in ("/users/1", "/users/2", "/orders", "/health", "/price"):
            assert client.get(path).status_code == 200
        assert client.get("/me", headers={"Authorization": TOKEN}).status_code == 200
        assert client.post("/orders", json={"total": 1}).status_code == 201
        wait_for_entries(proxy.store, 7)
    proxy.stop()
    from recorder.cli import main

    assert main(["--data-dir", str(data_dir), "promote", "1-7", "--collection", "api"]) == 0
    yield api, data_dir
    api.close()


@pytest.fixture
def api(recorded_api, tmp_path):
    """The API in its second version, and a fresh copy of the recorded data dir."""
    server, source = recorded_api
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    server.version, server.seen[:] = 2, []
    return server, data_dir


def by_request(rows: list[dict]) -> dict[str, dict]:
    return {row["request"]: row for row in rows}


def test_drift_finds_what_changed_and_sends_only_safe_requests(api, cli):
    server, data_dir = api
    result = cli("drift", "api", "--json", data_dir=data_dir)
    assert result.exit_code == 1, result
    rows = by_request(result.json)
    assert set(rows) == {"GET /users/1", "GET /users/2", "GET /orders", "GET /health",
                         "GET /price", "GET /me", "POST /orders"}
    change = lambda request: [(c["path"], c["kind"], c["was"], c["now"])  # noqa: E731
                              for c in rows[request]["changes"]]
    assert rows["GET /users/1"]["result"] == "drifted"
    assert change("GET /users/1") == [("$.id", "type", "number", "string")]
    assert change("GET /users/2") == [("$.email", "removed", "string", None)]
    assert change("GET /orders") == [("$[].currency", "added", None, "string")]
    assert change("GET /health") == [("status", "status", 200, 500),
                                     ("$.ok", "removed", "boolean", None),
                                     ("$.error", "added", None, "string")]
    assert rows["GET /price"]["result"] == "ok" and rows["GET /price"]["changes"] == []
    assert rows["POST /orders"] == {**rows["POST /orders"], "result": "skipped",
                                    "reason": "POST is not sent without --methods all"}
    assert rows["GET /me"]["result"] == "skipped"
    assert "the Authorization header needs a value: --header 'Authorization: ...'" in \
        rows["GET /me"]["reason"]
    # Nothing unsafe, nothing with a placeholder, was sent; nothing was recorded.
    assert sorted(server.seen) == ["GET /health", "GET /orders", "GET /price", "GET /users/1",
                                   "GET /users/2"]
    assert HistoryStore(data_dir).count() == 7


def test_lines_summary_values_header_and_post(api, cli):
    server, data_dir = api
    result = cli("drift", "api", "--values", "--header", f"Authorization: {TOKEN}",
                 "--methods", "all", data_dir=data_dir)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.endswith("GET /price (200 OK): drifted: $.price 10 -> 12")
               for line in lines), lines
    assert any(line.endswith("GET /me (200 OK): ok") for line in lines), lines
    assert any("POST /orders (201 Created): ok" in line for line in lines), lines
    assert any("GET /users/1 (200 OK): drifted: $.id number -> string" in line
               for line in lines), lines
    assert lines[-1] == ("7 examples checked in api: 2 ok, 5 drifted, 0 skipped, 0 failed")
    assert "GET /me" in server.seen and "POST /orders" in server.seen


def test_ids_narrow_and_a_clean_check_exits_0(api, cli):
    _, data_dir = api
    result = cli("drift", "api", "--ids", "5", "6", data_dir=data_dir)  # /price, /me
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1] == \
        "2 examples checked in api: 1 ok, 0 drifted, 1 skipped, 0 failed"


def test_junit_has_one_failure_per_drifted_example(api, cli, tmp_path):
    _, data_dir = api
    report = tmp_path / "drift.xml"
    assert cli("drift", "api", "--junit", report, data_dir=data_dir).exit_code == 1
    suite = ElementTree.parse(report).getroot()
    cases = suite.findall("testcase")
    assert len(cases) == 7 and suite.get("tests") == "7"
    failures = {case.get("name"): case.find("failure") for case in cases
                if case.find("failure") is not None}
    assert sorted(name.split(" ", 1)[1] for name in failures) == [
        "GET /health (200 OK)", "GET /orders (200 OK)", "GET /users/1 (200 OK)",
        "GET /users/2 (200 OK)"]
    assert suite.get("failures") == "4" and suite.get("skipped") == "2"
    assert "$.id number -> string" in failures[next(n for n in failures if "/users/1" in n)].text
    assert len([c for c in cases if c.find("skipped") is not None]) == 2


def test_a_dead_api_is_failed_not_drifted(api, cli):
    _, data_dir = api
    result = cli("drift", "api", "--upstream", "http://127.0.0.1:9", "--ids", "1",
                 "--timeout", "5", "--json", data_dir=data_dir)
    assert result.exit_code == 1
    [row] = result.json
    assert row["result"] == "failed" and row["reason"], row


def test_update_then_a_clean_drift_and_replay_serves_the_new_answer(api, cli, start_proxy):
    server, data_dir = api
    refused = cli("drift", "api", "--update", data_dir=data_dir)  # not a terminal, no --yes
    assert refused.exit_code == 2 and "nothing was written" in refused.stderr
    before = CollectionStore(data_dir).load("api")
    result = cli("drift", "api", "--update", "--yes", data_dir=data_dir)
    assert result.exit_code == 1  # it found drift; it also wrote the answers
    assert "will update example 1 (GET /users/1, 200 OK): $.id number -> string" in \
        result.stderr
    after = CollectionStore(data_dir).load("api")
    assert [(e.id, e.name, e.sequence, e.fault) for e in after.examples] == \
        [(e.id, e.name, e.sequence, e.fault) for e in before.examples]
    again = cli("drift", "api", data_dir=data_dir)
    assert again.exit_code == 0, again
    proxy = start_proxy("--collection", "api", data_dir=data_dir, command="replay")
    try:
        server.version = 1  # replay must not ask it
        with httpx.Client(base_url=proxy.url) as client:
            assert client.get("/users/1").json() == {"id": "1", "name": "Ann"}
            health = client.get("/health")
            assert health.status_code == 500 and health.json() == {"error": "db down"}
    finally:
        proxy.stop()


def test_from_history_sends_nothing(api, cli):
    server, data_dir = api
    # What the API answers now, recorded by drift itself.
    recorded = cli("drift", "api", "--record", "--ids", "1", data_dir=data_dir)
    assert recorded.exit_code == 1 and HistoryStore(data_dir).count() == 8
    server.seen[:] = []
    result = cli("drift", "api", "--from-history", "--json", data_dir=data_dir)
    assert server.seen == []
    rows = by_request(result.json)
    assert rows["GET /users/1"]["result"] == "drifted"
    assert rows["GET /users/1"]["reason"] == "history entry 8"
    assert rows["GET /users/2"]["result"] == "ok"  # its newest entry is the recorded one
    assert rows["POST /orders"]["result"] == "ok"  # nothing is sent: every method counts
    later = cli("drift", "api", "--from-history", "--since", "2999-01-01", "--json",
                data_dir=data_dir)
    assert later.exit_code == 0 and {r["reason"] for r in later.json} == {
        "no history entry of this request"}


UI_BANNER = re.compile(r"mockrec ui on (http://[^/\s]+)/\?token=(\S+)")


def test_the_ui_checks_a_collection_against_the_api(api, tmp_path):
    """The collection page's "Check against the API" shows the same report."""
    server, data_dir = api
    log = tmp_path / "ui.log"
    ui = subprocess.Popen([sys.executable, "-m", "recorder", "--data-dir", str(data_dir), "ui",
                           "--port", "0"], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (found := UI_BANNER.search(log.read_text(errors="replace"))):
            assert ui.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        base, token = found.groups()
        with httpx.Client(base_url=base, timeout=30) as c:  # the token as a browser keeps it
            assert c.get(f"/?token={token}", follow_redirects=True).status_code == 200
            page = c.get("/collections/api").text
            assert 'action="/collections/api/drift"' in page
            assert "Check against the API" in page
            assert c.post("/collections/api/drift", data={}).status_code == 403  # no token
            report = c.post("/collections/api/drift", data={"_token": token})
            assert report.status_code == 200
            html = report.text
            assert "7 examples checked in api: 1 ok, 4 drifted, 2 skipped, 0 failed" in html
            rows = dict(re.findall(r'<tr data-example="(\d+)" class="drift-(\w+)">', html))
            assert sorted(rows.values()) == ["drifted"] * 4 + ["ok"] + ["skipped"] * 2
            assert "$.id number -&gt; string" in html
            assert "POST is not sent without --methods all" in html
            assert "POST /orders" not in server.seen
            bad = c.post("/collections/api/drift", data={"_token": token, "upstream": "ftp://x"})
            assert bad.status_code == 400 and "is not an http:// or https:// URL" in bad.text
    finally:
        ui.terminate()
        ui.wait(timeout=10)


def test_the_pytest_plugin_returns_the_report(api, mockrec, confdir):
    server, data_dir = api
    mock = mockrec("api", data_dir=data_dir, confdir=confdir)
    report = mock.drift(server.url, headers={"Authorization": TOKEN})
    assert not report.clean
    assert sorted(r.example.id for r in report.drifted) == [1, 2, 3, 4]
    assert report.text().splitlines()[-1] == \
        "7 examples checked in api: 2 ok, 4 drifted, 1 skipped, 0 failed"
    assert "GET /me" in server.seen and "POST /orders" not in server.seen
    # The mock itself still serves what was recorded.
    assert httpx.get(mock.url + "/users/1").json() == {"id": 1, "name": "Ann"}


def test_update_asks_on_a_terminal_and_shows_a_progress_bar(api, cli):
    _, data_dir = api
    path = CollectionStore(data_dir).path("api")
    before = path.read_bytes()
    refused = cli("drift", "api", "--update", data_dir=data_dir, input="n\n", tty=True)
    assert refused.exit_code == 1 and "aborted" in refused.stderr
    assert "will update example 2 (GET /users/2, 200 OK): $.email removed (was string)" in \
        refused.stderr
    assert "Write the live answers into 4 examples?" in refused.stderr
    assert "asking the API" in refused.stderr  # rich's bar, on the terminal's stderr
    assert path.read_bytes() == before
    done = cli("drift", "api", "--update", data_dir=data_dir, input="y\n", tty=True)
    assert "updated 4 examples in api: 1-4" in done.stderr, done
    assert cli("drift", "api", data_dir=data_dir).exit_code == 0


def test_tls_is_checked_and_each_request_has_a_deadline(tls_upstream, upstream, cli, tmp_path):
    from conftest import TEXT

    data_dir = tmp_path / "data"
    text = tmp_path / "text"
    text.write_bytes(TEXT)
    for url in (f"{tls_upstream.url}/gzip", f"{upstream.url}/slow?s=3"):
        assert cli("example", "add", "GET", url, "--collection", "live", "--header",
                   "Content-Type: text/plain", "--body", f"@{text}",
                   data_dir=data_dir).exit_code == 0
    checked = cli("drift", "live", "--json", "--timeout", "1", data_dir=data_dir)
    assert checked.exit_code == 1
    tls, slow = checked.json
    assert tls["result"] == "failed" and "CERTIFICATE_VERIFY_FAILED" in tls["reason"], tls
    assert slow["result"] == "failed" and slow["reason"] == "no answer within 1 s", slow
    insecure = cli("drift", "live", "--insecure", "--ids", "1", "--json", data_dir=data_dir)
    assert insecure.json[0]["result"] == "ok", insecure.json  # gzip's body compared decoded


def test_an_environment_fills_the_secret(api, cli):
    server, data_dir = api
    assert cli("env", "set", "staging", f"Authorization={TOKEN}", data_dir=data_dir) \
        .exit_code == 0
    result = cli("drift", "api", "--env", "staging", "--ids", "6", "--json", data_dir=data_dir)
    assert result.exit_code == 0 and result.json[0]["result"] == "ok", result
    assert server.seen == ["GET /me"]


def test_a_stream_is_compared_by_the_shape_of_its_events(api, cli, tmp_path):
    server, data_dir = api
    for path in ("/chat", "/chat-tools"):
        recorded = tmp_path / "events"
        recorded.write_bytes(b"".join(chat_events(1, tools=path == "/chat-tools")))
        assert cli("example", "add", "GET", server.url + path, "--collection", "chat",
                   "--header", "Content-Type: text/event-stream", "--body", f"@{recorded}",
                   data_dir=data_dir).exit_code == 0
    result = cli("drift", "chat", "--json", data_dir=data_dir)
    chat, tools = result.json
    assert chat["result"] == "ok", chat  # other words, the same events
    assert tools["result"] == "drifted" and tools["changes"] == [
        {"path": "events[].delta.tool_calls", "kind": "added", "was": None, "now": "array"}]
    assert result.exit_code == 1
    # --update keeps the live answer a stream: its events at the moments they came
    assert cli("drift", "chat", "--update", "--yes", data_dir=data_dir).exit_code == 1
    _, example = CollectionStore(data_dir).load("chat").find_example(tools["id"])
    events = chat_events(2, tools=True)
    assert example.response.body == b"".join(events)
    stream = example.response.stream
    assert stream is not None and not stream.cut and len(stream.parts) > 1
    assert [offset for offset, _ in stream.parts] == sorted(o for o, _ in stream.parts)
    assert stream.parts[-1][0] >= 40  # five events 20 ms apart
    assert cli("drift", "chat", data_dir=data_dir).exit_code == 0
