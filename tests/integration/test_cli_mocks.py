"""Issue 5 through the real proxy: mocks, environments, templates, tags, call log, quotas."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest

from recorder.errors import ExitStatus
from recorder.models import HistoryEntry, HttpRequest, Timings
from recorder.store.history import HistoryStore


def wait_for_calls(data, mock: str, count: int, timeout: float = 10.0) -> None:
    """The call log is written off the request path: poll, do not guess a delay."""
    log = HistoryStore(data, f"calls/{mock}")
    deadline = time.monotonic() + timeout
    while log.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)



@pytest.fixture
def data(tmp_path, monkeypatch, cli):
    d = tmp_path / "data"
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(d))
    for args in (
        ["GET", "/users/{{userId}}", "--body",
         '{"id": "{{userId}}", "guid": "{{$guid}}", "env": "{{stage}}", "at": "{{$timestamp}}"}'],
        ["POST", "/users", "--status", "201", "--body",
         """{"name": "{{$body 'user.name' 'anon'}}", "page": "{{$queryParams 'page'}}",
          "agent": "{{$headers 'X-Agent'}}", "first": "{{$pathSegments '0'}}",
          "keep": "{{notAVariable}}"}"""],
        ["GET", "/version", "--body", '{"version": 1}'],
    ):
        assert cli("example", "add", "--collection", "users", *args).exit_code == 0
    assert cli("env", "set", "dev", "stage=dev").exit_code == 0
    return d


def test_templates_fill_per_request(data, cli, start_proxy):
    cli("mock", "create", "m", "--collection", "users", "--env", "dev")
    proxy = start_proxy("m", data_dir=data, command="replay")
    with httpx.Client(base_url=proxy.url) as client:
        first, second = client.get("/users/42").json(), client.get("/users/42").json()
        assert first["id"] == "42" and first["env"] == "dev"
        assert first["guid"] != second["guid"] and uuid.UUID(first["guid"])
        assert abs(int(first["at"]) - time.time()) < 60
        posted = client.post("/users?page=3", json={"user": {"name": "Ada"}},
                             headers={"X-Agent": "tests"})
        assert posted.status_code == 201
        assert posted.json() == {"name": "Ada", "page": "3", "agent": "tests", "first": "users",
                                 "keep": "{{notAVariable}}"}
        assert client.post("/users", json={}).json()["name"] == "anon"


def test_binary_bodies_are_never_touched(data, cli, start_proxy, tmp_path):
    raw = b"\xff\xd8{{$guid}}\x00"
    (tmp_path / "blob").write_bytes(raw)
    cli("example", "add", "--collection", "users", "GET", "/blob", "--body",
        f"@{tmp_path / 'blob'}", "-H", "Content-Type: image/jpeg")
    proxy = start_proxy("users", data_dir=data, command="replay")
    assert httpx.get(proxy.url + "/blob").content == raw


def test_a_mock_on_a_tag_keeps_serving_that_state(data, cli, start_proxy):
    cli("collection", "tag", "users", "v1")
    cli("mock", "create", "frozen", "--collection", "users", "--tag", "v1")
    # the collection changes after the tag
    path = data / "collections" / "users.json"
    path.write_text(path.read_text().replace('{\\"version\\": 1}', '{\\"version\\": 2}'))
    live = start_proxy("users", data_dir=data, command="replay")
    frozen = start_proxy("frozen", data_dir=data, command="replay")
    assert httpx.get(live.url + "/version").json() == {"version": 2}
    assert httpx.get(frozen.url + "/version").json() == {"version": 1}


def test_private_mock_key_is_shown_once_and_stored_hashed(data, cli, start_proxy):
    code, out, _ = cli("mock", "create", "secret", "--collection", "users", "--private")
    key = re.search(r"API key \(shown only now, stored hashed\): (\S+)", out).group(1)
    assert key not in (data / "mocks" / "secret.json").read_text()
    _, shown, _ = cli("mock", "show", "secret", "--json")
    assert json.loads(shown)["private"] is True and key not in shown
    proxy = start_proxy("secret", data_dir=data, command="replay")
    refused = httpx.get(proxy.url + "/version")
    assert refused.status_code == 401
    assert refused.json()["error"]["name"] == "authenticationError"
    assert httpx.get(proxy.url + "/version", headers={"x-api-key": key}).status_code == 200


def test_two_mocks_on_two_ports_at_once(data, cli, start_proxy):
    cli("env", "set", "prod", "stage=prod")
    cli("mock", "create", "dev-mock", "--collection", "users", "--env", "dev")
    cli("mock", "create", "prod-mock", "--collection", "users", "--env", "prod")
    a = start_proxy("dev-mock", data_dir=data, command="replay")
    b = start_proxy("prod-mock", data_dir=data, command="replay")
    assert a.url != b.url
    assert httpx.get(a.url + "/users/1").json()["env"] == "dev"
    assert httpx.get(b.url + "/users/1").json()["env"] == "prod"
    wait_for_calls(data, "dev-mock", 1)
    _, out, _ = cli("calls", "dev-mock", "--json")
    assert [c["path"] for c in json.loads(out)] == ["/users/1"]


def test_call_log_search_show_clear(data, cli, start_proxy):
    cli("mock", "create", "m", "--collection", "users", "--delay", "50")
    proxy = start_proxy("m", data_dir=data, command="replay")
    with httpx.Client(base_url=proxy.url) as client:
        client.post("/users", json={"user": {"name": "needle-in-the-body"}})
        client.get("/users/7")
        client.get("/missing")
    wait_for_calls(data, "m", 3)
    _, out, _ = cli("calls", "--json")
    calls = json.loads(out)
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("GET", "/missing", 404), ("GET", "/users/7", 200), ("POST", "/users", 201)]
    assert calls[0]["matched"].startswith("No matching requests: no example matches GET "
                                          "/missing")
    assert calls[0]["outcome"]["kind"] == "not_found"
    assert calls[1]["example"]["name"] == "200 OK" and calls[1]["delay_ms"] == 50
    _, out, _ = cli("calls", "m", "--search", "needle-in-the", "--json")
    assert [c["path"] for c in json.loads(out)] == ["/users"]
    _, out, _ = cli("calls", "show", str(calls[2]["id"]))
    assert "needle-in-the-body" in out and '"name": "needle-in-the-body"' in out
    _, table, _ = cli("calls")
    assert "No matching requests" in table and "50 ms" in table
    assert cli("calls", "clear").stdout.strip() == "deleted 3 calls"


@pytest.mark.wall_clock
def test_calls_follow_prints_a_new_call_within_a_second(data, cli, start_proxy):
    proxy = start_proxy("users", data_dir=data, command="replay")
    httpx.get(proxy.url + "/version")
    wait_for_calls(data, "users", 1)
    follower = subprocess.Popen(
        [sys.executable, "-m", "recorder", "--data-dir", str(data), "calls", "--follow",
         "--json", "--limit", "1"], stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout],
                     daemon=True).start()
    try:
        # The backlog's newest call says the follower has read the log: no fixed wait,
        # and no hang if it never comes.
        assert json.loads(lines.get(timeout=60))["path"] == "/version"
        sent = time.monotonic()
        httpx.get(proxy.url + "/users/99")
        line = lines.get(timeout=30)
        assert time.monotonic() - sent < 1.0
        assert json.loads(line)["path"] == "/users/99"
    finally:
        follower.kill()
        follower.wait()


def test_quota_and_rate_limit(data, cli, start_proxy):
    quota = start_proxy("users", "--max-calls", "2", data_dir=data, command="replay")
    codes = [httpx.get(quota.url + "/version").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert httpx.get(quota.url + "/version").json()["error"]["name"] == "usageLimitError"
    rated = start_proxy("users", "--rate-limit", "2/min", data_dir=data, command="replay")
    answers = [httpx.get(rated.url + "/version") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["name"] == "rateLimitError"
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60


def test_mock_and_env_commands(data, cli):
    code, out, _ = cli("mock", "create", "m", "--collection", "users", "--port", "9123",
                       "--delay", "3g", "--save-url-to", "dev")
    assert code == 0 and "http://127.0.0.1:9123" in out
    _, out, _ = cli("env", "show", "dev", "--json")
    assert json.loads(out) == {"stage": "dev", "mockUrl": "http://127.0.0.1:9123"}
    assert cli("mock", "update", "m", "--delay", "2g", "--rate-limit", "10/min").exit_code == 0
    _, out, _ = cli("mock", "list", "--json")
    (row,) = json.loads(out)
    assert (row["delay"], row["rate_limit"], row["url"]) == ("2g", 10, "http://127.0.0.1:9123")
    for args, message in ((["mock", "create", "m", "--collection", "users"], "already exists"),
                          (["mock", "create", "x", "--collection", "nope"], "no collection"),
                          (["mock", "create", "x", "--collection", "users", "--delay", "soon"],
                           "not off, 2g, 3g"),
                          (["mock", "create", "x", "--collection", "users", "--env", "qa"],
                           "no env 'qa'"),
                          (["env", "set", "dev", "novalue"], "not KEY=VALUE"),
                          (["calls", "nobody"], "no calls logged")):
        code, _, err = cli(*args)
        assert code != 0 and message in err, (args, err)
    assert cli("mock", "delete", "m").exit_code == 0
    assert cli("env", "delete", "dev").exit_code == 0


def test_call_log_retention_is_bounded(tmp_path, monkeypatch):
    from recorder.store import history

    monkeypatch.setattr(history.documents, "SEGMENT_SIZE", 10)
    log = HistoryStore(tmp_path, "calls/m", keep=25)
    for i in range(100):
        log.append([HistoryEntry(HttpRequest("GET", f"http://x/{i}"), Timings(float(i)))])
    kept = [e.id for e in log.entries()]
    assert 25 <= len(kept) <= 35 and kept[0] == 100


def test_calls_of_several_mocks_one_id_space(data, cli, start_proxy):
    cli("mock", "create", "a", "--collection", "users")
    cli("mock", "create", "b", "--collection", "users")
    a = start_proxy("a", data_dir=data, command="replay")
    b = start_proxy("b", data_dir=data, command="replay")
    httpx.get(a.url + "/users/1")
    wait_for_calls(data, "a", 1)
    httpx.get(b.url + "/version")
    wait_for_calls(data, "b", 1)
    httpx.get(a.url + "/nothing")
    wait_for_calls(data, "a", 2)
    listed = cli("calls", "--json")
    assert listed.exit_code == 0, listed
    calls = listed.json
    assert [(c["mock"], c["path"]) for c in calls] == [
        ("a", "/nothing"), ("b", "/version"), ("a", "/users/1")]
    assert len({c["id"] for c in calls}) == 3  # unique across mocks
    table = cli("calls").stdout
    assert "MOCK" in table.splitlines()[0] and "/version" in table
    shown = cli("calls", "show", calls[1]["id"])  # the README's form, with two mocks
    assert shown.exit_code == 0 and "GET /version" in shown.stdout, shown
    assert "b" in cli("calls", "b", "show", calls[1]["id"]).stdout
    assert cli("calls", "a", "show", calls[1]["id"]).exit_code == ExitStatus.NOT_FOUND
    assert [c["path"] for c in cli("calls", "b", "--json").json] == ["/version"]
    assert [c["path"] for c in cli("calls", "--mock", "a", "--json").json] == [
        "/nothing", "/users/1"]
    cleared = cli("calls", "clear")
    assert (cleared.exit_code, cleared.stdout) == (0, "deleted 3 calls (a 2, b 1)\n")
    assert cli("calls", "--json").json == []


def test_calls_follow_is_one_table_oldest_first(data, cli, start_proxy):
    proxy = start_proxy("users", data_dir=data, command="replay")
    for path in ("/users/1", "/version", "/missing/path/that/is/long"):
        httpx.get(proxy.url + path)
    wait_for_calls(data, "users", 3)
    follower = subprocess.Popen(
        [sys.executable, "-m", "recorder", "--data-dir", str(data), "calls", "--follow"],
        stdout=subprocess.PIPE, text=True)
    try:
        lines = [follower.stdout.readline() for _ in range(4)]  # header and the backlog
        httpx.get(proxy.url + "/users/22222222222", headers={"x-mock-response-delay": "5"})
        lines.append(follower.stdout.readline())
    finally:
        follower.kill()
        follower.wait()
    header, *rows = [line.rstrip("\n") for line in lines]
    paths = [row[header.index("PATH"):] for row in rows]
    assert paths == ["/users/1", "/version", "/missing/path/that/is/long", "/users/22222222222"]
    ids = [int(row[:header.index("ID") + 2]) for row in rows]
    assert ids == sorted(ids)  # oldest first, the new one last
    for row in rows:  # every column starts where its header does
        for column in ("TIME", "METHOD", "STATUS", "EXAMPLE", "PATH"):
            at = header.index(column)
            assert row[at - 2:at] == "  " and row[at] != " ", (column, row)
    assert rows[3][header.index("DELAY"):].startswith("5 ms")


def test_a_bad_delay_header_is_noted_in_the_call_log(data, cli, start_proxy):
    proxy = start_proxy("users", data_dir=data, command="replay")
    for value in ("abc", "0", "999999", "20"):
        answer = httpx.get(proxy.url + "/version", headers={"x-mock-response-delay": value})
        assert answer.status_code == 200  # ignored, as Postman does: the answer comes
    wait_for_calls(data, "users", 4)
    calls = list(reversed(cli("calls", "--json").json))
    assert [c["warnings"] for c in calls] == [
        ["x-mock-response-delay 'abc' ignored: not a number of ms from 1 to 180000"],
        ["x-mock-response-delay '0' ignored: not a number of ms from 1 to 180000"],
        ["x-mock-response-delay '999999' ignored: not a number of ms from 1 to 180000"],
        []]
    assert calls[3]["delay_ms"] == 20
    shown = cli("calls", "show", calls[0]["id"]).stdout
    assert "! x-mock-response-delay 'abc' ignored" in shown
