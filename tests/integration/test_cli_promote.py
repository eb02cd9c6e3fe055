"""Issue 3's acceptance, through the real proxy and the real CLI."""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import datetime

import httpx
import pytest
from conftest import PNG, TEXT, RunningProxy, wait_for_entries

from recorder.errors import ExitStatus
from recorder.promote.entries import REDACTED
from recorder.store.collection_store import CollectionStore


@pytest.fixture(scope="module")
def recording(upstream, confdir, tmp_path_factory):
    """30 varied exchanges: ids 1-20 before `since`, 21-30 after it."""
    proxy = RunningProxy(tmp_path_factory.mktemp("recording") / "data",
                         ["--upstream", upstream.url], confdir)
    auth = {"Authorization": "Bearer s3cret-token", "Cookie": "sid=abc"}
    with httpx.Client(base_url=proxy.url) as c:
        for i in range(1, 6):
            c.get(f"/users/{i}", headers=auth)                      # 1-5
        c.get("/png")                                               # 6
        c.get("/gzip")                                              # 7
        c.get("/cookies")                                           # 8
        c.get("/echo?api_key=k-123&page=2")                         # 9
        for i in range(10, 16):
            c.post("/echo", json={"n": i})                          # 10-15
        c.get("/empty")                                             # 16
        c.get("/latin1")                                            # 17
        c.head("/png")                                              # 18
        c.get("/headers")                                           # 19
        c.put("/echo", content=b"\x00\xff raw")                     # 20
        wait_for_entries(proxy.store, 20)
        time.sleep(1.1)
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        time.sleep(1.1)
        for i in range(21, 31):
            c.get(f"/orders/{i}")                                   # 21-30
    proxy.stop()
    assert proxy.store.count() == 30
    return proxy.data_dir, since


@pytest.fixture
def recorded(recording, tmp_path, monkeypatch):
    """A fresh copy of the recording for each test."""
    source, since = recording
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(data_dir))
    return data_dir, since


def test_promote_by_ids_range_and_date(recorded, cli):
    data_dir, since = recorded
    code, out, _ = cli("promote", "1", "2", "3", "--collection", "api")
    assert code == 0 and "created collection api" in out
    assert "redacted 3 Authorization headers, 3 Cookie headers" in out
    code, out, _ = cli("promote", "4-20", "--collection", "api", "--json")
    result = json.loads(out)
    assert code == 0 and not result["created"]
    assert [e["entry"] for e in result["examples"]] == list(range(4, 21))
    code, out, _ = cli("promote", "--since", since, "--collection", "orders",
                       "--infer-templates")
    assert code == 0 and "inferred template /orders/{{orderId}}" in out

    store = CollectionStore(data_dir)
    api = store.load("api")
    by_name = {r.name: r for r in api.requests}
    assert len(by_name["GET /users/1"].examples) == 1
    assert len(by_name["POST /echo"].examples) == 6  # grouped
    assert [e.name for e in by_name["POST /echo"].examples][:2] == ["200 OK", "200 OK (2)"]
    user = by_name["GET /users/1"].examples[0]
    assert ("Authorization", f"Bearer {REDACTED}") in user.request.headers
    assert ("Cookie", f"sid={REDACTED}") in user.request.headers
    png = by_name["GET /png"].examples[0]
    assert png.response.body == PNG
    gz = by_name["GET /gzip"].examples[0]
    assert gz.response.body == TEXT
    assert not any(k.lower() in ("content-encoding", "date", "content-length")
                   for k, _ in gz.response.headers)
    cookies = [v for k, v in by_name["GET /cookies"].examples[0].response.headers
               if k == "Set-Cookie"]
    assert cookies == [f"a={REDACTED}; Path=/", f"b={REDACTED}; HttpOnly"]
    echo_get = by_name["GET /echo"].examples[0]
    assert echo_get.request.url.endswith(f"/echo?api_key={REDACTED}&page=2")
    put = by_name["PUT /echo"].examples[0]
    assert put.request.body == b"\x00\xff raw"

    orders = store.load("orders")
    assert [r.name for r in orders.requests] == ["GET /orders/{{orderId}}"]
    assert [e.source_entry for e in orders.examples] == list(range(21, 31))

    # The file is for people and git: indented, stable key order, "Name: value" headers.
    text = store.path("api").read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
    assert '"Authorization: Bearer {{REDACTED}}"' in text


def test_keep_secrets_and_names(recorded, cli):
    code, out, _ = cli("promote", "1", "--collection", "raw", "--keep-secrets",
                       "--request", "Get Ada", "--name", "happy path")
    assert code == 0 and "redacted" not in out
    _, out, _ = cli("collection", "show", "raw", "--json")
    detail = json.loads(out)
    assert detail["requests"][0]["name"] == "Get Ada"
    assert detail["requests"][0]["examples"][0]["name"] == "happy path"
    _, out, _ = cli("example", "show", str(detail["requests"][0]["examples"][0]["id"]))
    assert "Authorization: Bearer s3cret-token" in out


def test_without_collection_one_is_created_and_named(recorded, cli):
    code, out, _ = cli("promote", "6")
    assert code == 0
    name = out.split()[2]
    assert name.startswith("promoted-")
    _, out, _ = cli("collection", "list", "--json")
    assert [c["name"] for c in json.loads(out)] == [name]


@pytest.mark.parametrize("args, status, message", [
    (["promote", "99"], ExitStatus.NOT_FOUND, "history entry 99 does not exist"),
    (["promote", "40-50"], ExitStatus.NOT_FOUND, "no history entry in 40-50"),
    (["promote", "9-3"], ExitStatus.USAGE, "empty range"),
    (["promote", "--method", "DELETE"], ExitStatus.ERROR, "no history entry matches"),
    (["promote"], ExitStatus.ERROR, "name the entries to promote"),
    (["promote", "1", "--collection", "../etc"], ExitStatus.USAGE, "file name"),
    (["promote", "1", "--template", "users/x"], ExitStatus.USAGE, "must be a path"),
])
def test_bad_promotes_write_nothing(recorded, cli, args, status, message):
    data_dir, _ = recorded
    code, _, err = cli(*args)
    assert code == status and message in err and err.count("\n") == 1
    assert not list(data_dir.glob("collections/*.json"))


EDITOR = """
import json, sys
path = sys.argv[1]
doc = json.load(open(path))
doc["name"] = "edited by hand"
doc["response"]["status"] = 202
doc["response"]["body"] = {"text": "{\\"edited\\": true}"}
open(path, "w").write(json.dumps(doc, indent=2))
"""


def test_example_edit_round_trips(recorded, cli, tmp_path, monkeypatch):
    cli("promote", "1-3", "--collection", "api")
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    code, out, _ = cli("example", "edit", "2")
    assert (code, out.strip()) == (0, "saved example 2 (edited by hand) in api")
    _, out, _ = cli("example", "show", "2", "--json")
    doc = json.loads(out)
    assert doc["name"] == "edited by hand"
    assert doc["response"]["status"] == 202
    assert doc["response"]["body"] == {"text": '{"edited": true}'}
    assert doc["originalRequest"]["url"].endswith("/users/2")
    # an editor that changes nothing changes nothing
    monkeypatch.setenv("EDITOR", "true")
    assert cli("example", "edit", "2").stdout.strip() == "example 2 is unchanged"


@pytest.mark.parametrize("edit, message", [
    ("open(p, 'w').write('{not json')", "not valid JSON (line 1"),
    ("d = json.load(open(p)); d['response']['status'] = 1000; json.dump(d, open(p, 'w'))",
     "not an HTTP status"),
    ("d = json.load(open(p)); del d['response']; json.dump(d, open(p, 'w'))",
     "missing field 'response'"),
])
def test_bad_edits_keep_the_example(recorded, cli, tmp_path, monkeypatch, edit, message):
    cli("promote", "1", "--collection", "api")
    store = CollectionStore(recorded[0])
    before = store.path("api").read_bytes()
    script = tmp_path / "editor.py"
    script.write_text(f"import json, sys\np = sys.argv[1]\n{edit}\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    code, _, err = cli("example", "edit", "1")
    assert code == ExitStatus.ERROR and message in err and "unchanged" in err
    assert store.path("api").read_bytes() == before


def test_rename_delete_add_and_tag(recorded, cli):
    cli("promote", "1-2", "--collection", "api")
    assert cli("example", "rename", "1", "first").exit_code == 0
    code, out, _ = cli("example", "add", "--collection", "api", "post", "/users",
                       "--status", "201", "-H", "Location: /users/9", "--body", '{"id": 9}')
    assert code == 0 and "added example 3 (201 Created)" in out
    assert cli("collection", "tag", "api", "v1").exit_code == 0
    assert cli("example", "delete", "2").exit_code == 0
    _, out, _ = cli("example", "list", "--json")
    assert [(e["id"], e["name"], e["status"]) for e in json.loads(out)] == [
        (1, "first", 200), (3, "201 Created", 201)]
    _, out, _ = cli("collection", "show", "api", "--tag", "v1", "--json")
    assert len(json.loads(out)["requests"]) == 3
    code, _, err = cli("example", "show", "2")
    assert code == ExitStatus.NOT_FOUND and "no example 2" in err
