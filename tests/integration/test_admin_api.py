"""The admin API (/__mockrec/) of a real proxy, through real clients: on the mock URL on
both replay paths, through the forward proxy over HTTP and HTTPS, and hostile input."""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest
from conftest import UpstreamServer, wait_for_entries

from recorder.cli import main
from recorder.proxy import remote
from recorder.store.history import HistoryStore

FAST = []
SLOW = ["--set", "mockrec_fast_replay=false"]
AS_JSON = {"Content-Type": "application/json"}


@pytest.fixture
def shop(tmp_path) -> Path:
    data = tmp_path / "data"
    for args in (["GET", "/users/{{id}}", "--body", '{"id": "{{id}}"}'],
                 ["POST", "/orders", "--status", "201", "--body", '{"order": 7}'],
                 ["GET", "/health", "--body", "ok"]):
        assert main(["--data-dir", str(data), "example", "add", "--collection", "shop",
                     *args]) == 0
    return data


def wait_for_calls(data: Path, count: int, timeout: float = 10.0) -> list:
    log = HistoryStore(data, "calls/shop")
    deadline = time.monotonic() + timeout
    while log.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(log.entries(newest_first=False))


@pytest.mark.parametrize("path_args", [FAST, SLOW], ids=["fast-path", "mitmproxy-path"])
def test_admin_api_on_the_mock_url(shop, start_proxy, path_args):
    upstream = UpstreamServer()  # for spy mode; replay never asks it
    proxy = start_proxy("shop", "--upstream", upstream.url, *path_args, data_dir=shop,
                        command="replay")
    admin = proxy.url + "/__mockrec/"
    try:
        with httpx.Client(base_url=proxy.url) as c:
            status = c.get("/__mockrec/status").json()
            assert status == {"mode": "replay", "mock": None, "collection": "shop", "tag": None,
                              "env": None,
                              "examples": 3, "calls": 0,
                              "port": int(proxy.url.rsplit(":", 1)[1])}
            assert c.get("/users/1").json() == {"id": "1"}
            assert c.post("/orders", json={"sku": "a1"}, headers={"X-Trace": "t1"}
                          ).status_code == 201
            assert c.get("/nothing/here?x=1").status_code == 404

            calls = c.get(admin + "calls").json()
            assert [(x["method"], x["path"], x["status"]) for x in calls] == [
                ("GET", "/users/1", 200), ("POST", "/orders", 201),
                ("GET", "/nothing/here?x=1", 404)]
            assert [x["id"] for x in calls] == [1, 2, 3]
            assert calls[0]["matched"] == "200 OK" and calls[2]["example"] is None
            assert len(c.get(admin + "calls?method=get").json()) == 2
            assert [x["path"] for x in c.get(admin + "calls?path=/users/*").json()] == [
                "/users/1"]
            assert [x["status"] for x in c.get(admin + "calls?status=4xx").json()] == [404]
            assert [x["status"] for x in c.get(admin + "calls?matched=false").json()] == [404]
            assert [x["id"] for x in c.get(admin + "calls?limit=2").json()] == [2, 3]
            assert c.get(admin + "calls?method=&path=&status=&matched=&limit=").json() == calls

            def count(**query):
                r = c.post(admin + "calls/count", json=query)
                assert r.status_code == 200, r.text
                return r.json()

            assert count(method="POST", path="/orders", body_contains="a1",
                         headers={"x-trace": "t1"}) == {"count": 1}
            assert count(method="GET", path="/users/*", status=200, matched=True)["count"] == 1
            # zero: the calls that were made, closest first, with what differed
            miss = count(method="POST", path="/users/1")
            assert miss["count"] == 0 and miss["total"] == 3
            closest = miss["calls"][0]
            assert (closest["path"], closest["differs"]) == (
                "/users/1", ["method is GET, not POST"])
            assert "path /orders does not fit /users/1" in miss["calls"][1]["differs"]
            explained = count(method="GET", path="/users/1", explain=True)
            assert explained["count"] == 1 and explained["calls"][0]["differs"] == []
            assert count(method="POST", path="/orders", headers={"x-trace": "nope"})[
                "calls"][0]["differs"] == ["header x-trace is 't1', not 'nope'"]

            # add an example: served on the next request; delete it: gone
            added = c.post(admin + "examples", json={
                "request": {"method": "GET", "url": "/coupons/{{code}}"},
                "response": {"status": 200, "body": {"text": '{"code": "{{code}}"}'},
                             "headers": ["X-Made: by-admin"]}})
            assert added.status_code == 201, added.text
            new_id = added.json()["id"]
            r = c.get("/coupons/SAVE10")
            assert r.json() == {"code": "SAVE10"} and r.headers["x-made"] == "by-admin"
            assert r.headers["content-type"] == "application/json"
            assert c.get(admin + "status").json()["examples"] == 4
            shown = json.loads(_run(shop, "example", "show", str(new_id)))
            assert shown["request"]["url"] == "/coupons/{{code}}"
            assert c.delete(admin + f"examples/{new_id}", headers=AS_JSON).json() == {
                "deleted": new_id, "collection": "shop"}
            assert c.get("/coupons/SAVE10").status_code == 404
            assert c.delete(admin + f"examples/{new_id}", headers=AS_JSON).status_code == 404

            # mode, as `mockrec mode` does
            assert c.put(admin + "mode", json={"mode": "spy"}).json()["mode"] == "spy"
            assert c.get("/echo?spied=1").json()["query"] == "spied=1"  # forwarded
            assert c.get(admin + "status").json()["mode"] == "spy"
            assert c.put(admin + "mode", json={"mode": "replay"}).status_code == 200
            assert c.get("/echo?spied=2").status_code == 404

            made = c.get(admin + "status").json()["calls"]
            assert made == 7  # 3, coupons twice, the spied one, the last 404
            assert c.delete(admin + "calls", headers=AS_JSON).json() == {"forgotten": made}
            assert c.get(admin + "calls").json() == []
            assert c.post(admin + "calls/count", json={}).json()["count"] == 0
        # the call log on disk keeps them all, and has no admin request
        logged = wait_for_calls(shop, made)
        assert len(logged) == made
        assert not [e for e in logged if "__mockrec" in e.request.url]
        # spy recorded the one it forwarded, and no admin request
        recorded = wait_for_entries(HistoryStore(shop), 1)
        assert [e.request.path for e in recorded] == ["/echo"]
    finally:
        upstream.close()


def _run(data: Path, *args: str) -> str:
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "recorder", "--data-dir", str(data), *args],
                          capture_output=True, text=True, check=True).stdout


def test_admin_requests_are_not_quota_calls_and_reset_rewinds(shop, start_proxy):
    proxy = start_proxy("shop", "--max-calls", "2", data_dir=shop, command="replay")
    with httpx.Client(base_url=proxy.url) as c:
        for _ in range(5):
            assert c.get("/__mockrec/status").status_code == 200
        assert [c.get("/health").status_code for _ in range(3)] == [200, 200, 429]
        assert c.post("/__mockrec/reset", json=None).status_code == 415  # no Content-Type
        assert c.post("/__mockrec/reset", headers={"Content-Type": "application/json"}
                      ).json() == {"reset": ["sequences", "quotas"]}
        assert c.get("/health").status_code == 200


def test_admin_in_record_mode_is_not_recorded(shop, start_proxy):
    upstream = UpstreamServer()
    try:
        proxy = start_proxy("--mode", "record", "--upstream", upstream.url, data_dir=shop,
                            command="proxy")
        with httpx.Client(base_url=proxy.url) as c:
            assert c.get("/echo?live=1").status_code == 200
            assert c.get("/__mockrec/status").json()["mode"] == "record"
            # record mode forwards everything; the admin API still counts what went by
            assert c.post("/__mockrec/calls/count",
                          json={"method": "GET", "path": "/echo"}).json() == {"count": 1}
        recorded = wait_for_entries(HistoryStore(shop), 2, timeout=2)
        assert [e.request.path_and_query for e in recorded] == ["/echo?live=1"]
    finally:
        upstream.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_admin_through_the_forward_proxy(shop, start_proxy, confdir, scheme):
    proxy = start_proxy("shop", data_dir=shop, command="replay")  # no upstream: forward
    ca = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
    with httpx.Client(proxy=proxy.url, verify=ca) as c:
        assert c.get(f"{scheme}://api.shop.test/users/5").json() == {"id": "5"}
        status = c.get(f"{scheme}://mockrec.admin/__mockrec/status")
        assert status.status_code == 200 and status.json()["calls"] == 1
        calls = c.get(f"{scheme}://mockrec.admin/__mockrec/calls").json()
        assert [x["path"] for x in calls] == ["/users/5"]
        # another host's /__mockrec/ path is that host's: a miss, not the admin API
        other = c.get(f"{scheme}://api.shop.test/__mockrec/status")
        assert other.status_code == 404
        assert other.json()["error"]["name"] == "mockRequestNotFoundError"


def test_private_mock_wants_its_key_for_the_admin_api(shop, start_proxy):
    proxy = start_proxy("shop", "--api-key", "s3cret", data_dir=shop, command="replay")
    before = (shop / "collections" / "shop.json").read_bytes()
    with httpx.Client(base_url=proxy.url + "/__mockrec/") as c:
        for r in (c.get("status"), c.get("status", headers={"x-api-key": "wrong"}),
                  c.post("examples", headers={"x-api-key": "wrong"}, json={
                      "request": {"method": "GET", "url": "/x"}, "response": {"status": 200}}),
                  c.get("nowhere"), c.delete("calls")):
            assert r.status_code == 401
            assert r.json()["error"]["name"] == "authenticationError"
        assert c.get("status", headers={"x-api-key": "s3cret"}).status_code == 200
    assert (shop / "collections" / "shop.json").read_bytes() == before


def test_hostile_admin_input_gets_4xx_and_changes_nothing(shop, start_proxy):
    proxy = start_proxy("shop", data_dir=shop, command="replay")
    collection = shop / "collections" / "shop.json"
    with httpx.Client(base_url=proxy.url + "/__mockrec/") as c:
        assert httpx.get(proxy.url + "/health").status_code == 200
        before = (collection.read_bytes(), c.get("status").json(), c.get("calls").json())
        as_json = {"Content-Type": "application/json"}
        cases = [
            (c.post("calls/count", content=b"{not json", headers=as_json), 400),
            (c.post("calls/count", content=b"[1, 2]", headers=as_json), 400),
            (c.post("calls/count", json={"metod": "GET"}), 400),
            (c.post("calls/count", json={"status": "two hundred"}), 400),
            (c.post("calls/count", json={"headers": ["x"]}), 400),
            (c.post("calls/count", json={"method": "GET"},
                    headers={"Content-Type": "text/plain"}), 415),
            (c.post("calls/count", content=b"{" + b" " * (9 * 1024 * 1024) + b"}",
                    headers=as_json), 413),
            (c.get("calls?limit=-1"), 400),
            (c.get("calls?limit=many"), 400),
            (c.get("calls?method=GET&method=POST"), 400),
            (c.get("calls?colour=red"), 400),
            (c.get("nope"), 404),
            (raw(proxy.url, "/__mockrec/../status"), 404),
            (raw(proxy.url, "/__mockrec/examples/1/%2e%2e/status"), 404),
            (c.post("status"), 405),
            (c.put("mode", json={"mode": "sideways"}), 400),
            (c.put("mode", json={"mode": "spy", "colour": "red"}), 400),
            (c.put("mode", json="spy"), 400),
            (c.post("examples", json={"request": {"method": "GET", "url": "/x"}}), 400),
            (c.post("examples", json={"request": {"method": "GET", "url": "/x"},
                                      "response": {"status": 1000}}), 400),
            (c.post("examples", json={"request": {"method": "G ET", "url": "/x"},
                                      "response": {"status": 200}}), 400),
            (c.post("examples", json={"request": {"method": "GET", "url": "/x"},
                                      "response": {"status": 200,
                                                   "body": {"base64": "%%%"}}}), 400),
            (c.post("examples", json={"request": {"method": "GET", "url": "/x"},
                                      "response": {"status": 200, "headers": ["no colon"]}}),
             400),
            (c.post("examples", json={"request": {"method": "GET", "url": "/x"},
                                      "response": {"status": 200, "body": "@/etc/passwd"}}),
             None),  # a body is text, never a file to read: checked below
            (c.delete("examples/999999", headers=as_json), 404),
            (c.delete("examples/abc"), 404),
        ]
        for n, (answer, expected) in enumerate(cases):
            if expected is None:
                continue
            assert answer.status_code == expected, (n, answer.text)
            error = answer.json()["error"]
            assert set(error) == {"name", "message"} and error["message"], n
        assert cases[14][0].headers["allow"] == "GET"
        assert cases[14][0].json()["error"]["name"] == "methodNotAllowedError"
        # the one valid example took "@/etc/passwd" as its body's text
        planted = cases[-3][0]
        assert planted.status_code == 201
        assert httpx.get(proxy.url + "/x").text == "@/etc/passwd"
        assert c.delete(f"examples/{planted.json()['id']}", headers=AS_JSON).status_code == 200
        after = (collection.read_bytes(), c.get("status").json(), c.get("calls").json())
    # apart from the GET /x made to check it (one call more), nothing changed
    assert json.loads(after[0]) == json.loads(before[0])
    assert after[1] == {**before[1], "calls": before[1]["calls"] + 1}
    assert after[2][:1] == before[2] and after[2][1]["path"] == "/x"


def raw(url: str, target: str) -> httpx.Response:
    """A GET of `target` as written (httpx would tidy the path's dot segments away)."""
    address = url.removeprefix("http://")
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
                re.search(rb"(?i)content-length: *(\d+)", data).group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return httpx.Response(int(head.split(b" ")[1]), content=body)


def test_control_socket_runs_the_same_admin_operations(shop, start_proxy):
    proxy = start_proxy("shop", data_dir=shop, command="replay")
    port = int(proxy.url.rsplit(":", 1)[1])
    httpx.get(proxy.url + "/health")
    reply = remote.send(shop, port, {"admin": {"method": "POST", "path": "calls/count",
                                               "body": {"path": "/health"}}})
    assert reply == {"ok": True, "status": 200, "body": {"count": 1}}
    assert remote.send(shop, port, {"set": {"mockrec_mode": "spy"}})["mode"] == "spy"
    assert httpx.get(proxy.url + "/__mockrec/status").json()["mode"] == "spy"
    with pytest.raises(Exception, match="only mockrec_"):
        remote.send(shop, port, {"set": {"mode": "regular"}})


# -- hostile input, round two (issue 26) ---------------------------------------------------

DEEP = b"[" * 5000 + b"]" * 5000
# mode arguments of `mockrec proxy`, each on both replay paths
MODES = {
    "replay-404-fast": ("--mode", "replay", "--on-miss", "404"),
    "replay-404-usual": ("--mode", "replay", "--on-miss", "404", *SLOW),
    "spy-fast": ("--mode", "spy"),
    "spy-usual": ("--mode", "spy", *SLOW),
    "record": ("--mode", "record"),
}
STATE_CHANGING = [("POST", "calls/count"), ("PUT", "mode"), ("POST", "examples"),
                  ("POST", "reset"), ("DELETE", "calls")]


@pytest.mark.parametrize("mode", MODES)
def test_deeply_nested_json_to_the_admin_api_is_a_400_never_upstream_nor_recorded(
        shop, start_proxy, mode):
    upstream = UpstreamServer()  # echoes: a 200 naming /__mockrec/ would mean it got there
    try:
        proxy = start_proxy("--collection", "shop", "--upstream", upstream.url, *MODES[mode],
                            data_dir=shop, command="proxy")
        as_json = {"Content-Type": "application/json"}
        with httpx.Client(base_url=proxy.url + "/__mockrec/", timeout=10) as c:
            for method, path in STATE_CHANGING:
                r = c.request(method, path, content=DEEP, headers=as_json)
                assert r.status_code == 400, (method, path, r.text[:300])
                assert r.json()["error"]["name"] == "badRequestError"
            assert c.get("status").json()["mode"] == mode.split("-")[0]
        httpx.get(proxy.url + "/echo?after=1")  # forwarded in record and spy, 404 in replay
    finally:
        upstream.close()
    recorded = wait_for_entries(HistoryStore(shop), 1, timeout=2)
    assert [e.request.path for e in recorded] == (
        [] if mode.startswith("replay") else ["/echo"])
    assert "Traceback" not in proxy.log.read_text(errors="replace")


@pytest.mark.parametrize("path_args", [FAST, SLOW], ids=["fast-path", "mitmproxy-path"])
def test_admin_numbers_and_types_out_of_range_are_400s(shop, start_proxy, path_args):
    proxy = start_proxy("shop", *path_args, data_dir=shop, command="replay")
    as_json = {"Content-Type": "application/json"}
    with httpx.Client(base_url=proxy.url + "/__mockrec/") as c:
        for body in (b'{"limit": 1e999}', b'{"limit": -1e999}', b'{"limit": NaN}',
                     b'{"limit": Infinity}', b'{"limit": 1.5}', b'{"limit": "9" }',
                     b'{"limit": true}', b'{"limit": [1]}', b'{"limit": {}}',
                     b'{"status": 1e999}', b'{"status": 10000000000000000000000}',
                     b'{"matched": 1e999}', b'{"matched": 100000000000000000000000000}',
                     b'{"explain": 1}', b'{"method": 1}', b'{"path": [1]}',
                     b'{"body_contains": {}}', b'{"headers": {"a": 1}}',
                     b'{"headers": {"a": 1e999}}', b'{"limit": 1' + b"0" * 5000 + b"}"):
            r = c.post("calls/count", content=body, headers=as_json)
            assert r.status_code == 400, (body[:60], r.text[:300])
        for body in (b'{"mode": 1e999}', b'{"mode": ["spy"]}', b'{"mode": {"a": 1}}',
                     b'{"mode": "spy", "collection": 1e999}',
                     b'{"mode": "spy", "collection": ["shop"]}'):
            r = c.put("mode", content=body, headers=as_json)
            assert r.status_code == 400, (body[:60], r.text[:300])
        for response in ('{"status": 1e999}', '{"status": 2e2}', '{"status": "200"}',
                         '{"status": 200, "delay": 1e999}', '{"status": 200, "body": 1e999}',
                         '{"status": 200, "headers": [1e999]}',
                         '{"status": 200, "headers": {"a": 1e999}}',
                         '{"status": 200, "headers": {"a": ["b"]}}'):
            r = c.post("examples", headers=as_json, content=(
                '{"request": {"method": "GET", "url": "/x"}, "response": ' + response + "}"))
            assert r.status_code == 400, (response, r.text[:300])
        for query in ("limit=1e999", "limit=" + "9" * 5000, "limit=nan", "limit=inf"):
            assert c.get("calls?" + query).status_code == 400, query
        assert c.get("status").json()["examples"] == 3
    assert "Traceback" not in proxy.log.read_text(errors="replace")


@pytest.mark.parametrize("path_args", [FAST, SLOW], ids=["fast-path", "mitmproxy-path"])
def test_every_state_changing_admin_request_wants_json_even_empty(shop, start_proxy,
                                                                   path_args):
    proxy = start_proxy("shop", "--max-calls", "1", *path_args, data_dir=shop,
                        command="replay")
    with httpx.Client(base_url=proxy.url + "/__mockrec/") as c:
        assert httpx.get(proxy.url + "/health").status_code == 200
        assert httpx.get(proxy.url + "/health").status_code == 429
        for kind in (None, "text/plain", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x", "application/jsonx"):
            headers = {"Content-Type": kind} if kind else {}
            for method, path in STATE_CHANGING:
                r = c.request(method, path, headers=headers)
                assert r.status_code == 415, (kind, method, path, r.text)
                assert r.json()["error"]["name"] == "unsupportedMediaTypeError"
        # nothing was reset, forgotten, switched or added
        assert httpx.get(proxy.url + "/health").status_code == 429
        status = c.get("status").json()
        assert (status["mode"], status["examples"], status["calls"]) == ("replay", 3, 3)
        # with the JSON content type, an empty body is fine where no field is needed
        json_kind = {"Content-Type": "application/json"}
        assert c.post("reset", headers=json_kind).status_code == 200
        assert c.delete("calls", headers=json_kind).status_code == 200
        assert c.post("calls/count", headers=json_kind).json()["count"] == 0
        assert httpx.get(proxy.url + "/health").status_code == 200
        # reading stays a plain GET
        assert c.get("calls").status_code == 200


@pytest.mark.parametrize("path_args", [FAST, SLOW], ids=["fast-path", "mitmproxy-path"])
def test_put_mode_refuses_a_collection_name_that_is_not_a_name(shop, start_proxy, path_args):
    proxy = start_proxy("shop", *path_args, data_dir=shop, command="replay")
    with httpx.Client(base_url=proxy.url + "/__mockrec/") as c:
        for name in ("../../x", "/etc/passwd", "a/b", "..", ".hidden", "", "x" * 300,
                     "sh\x00op", "shop\n"):
            r = c.put("mode", json={"mode": "spy", "collection": name})
            assert r.status_code == 400, (name, r.text)
            assert r.json()["error"]["name"] == "badRequestError"
        assert c.get("status").json()["mode"] == "replay"
        assert c.get("status").json()["collection"] == "shop"
    assert not (shop.parent / "x.json").exists()
