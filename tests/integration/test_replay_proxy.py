"""Replay end to end: record from a real upstream, promote, kill the upstream, replay."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time

import httpx
import pytest
from conftest import PNG, TEXT, RunningProxy, UpstreamServer, wait_for_entries

from recorder.cli import main
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore, call_log_root

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)

REQUESTS = [
    ("GET", "/users/1", None), ("GET", "/users/2", None), ("GET", "/png", None),
    ("GET", "/gzip", None), ("GET", "/cookies", None), ("GET", "/latin1", None),
    ("GET", "/headers", None), ("GET", "/empty", None),
    ("POST", "/echo", b'{"n": 1}'), ("GET", "/echo?page=2&sort=name", None),
    ("DELETE", "/users/1", None), ("PUT", "/items/a1b2c3", b"\x00\xff binary"),
]


@pytest.fixture(scope="module")
def promoted(confdir, tmp_path_factory):
    """Record REQUESTS from an upstream, promote them all into `api`, then kill the upstream."""
    upstream = UpstreamServer()
    data = tmp_path_factory.mktemp("replay") / "data"
    proxy = RunningProxy(data, ["--upstream", upstream.url], confdir)
    answers = []
    with httpx.Client(base_url=proxy.url) as client:
        for method, path, body in REQUESTS:
            r = client.request(method, path, content=body)
            answers.append(r)
    wait_for_entries(proxy.store, len(REQUESTS))
    proxy.stop()
    assert main(["--data-dir", str(data), "promote", f"1-{len(REQUESTS)}", "--collection",
                 "api", "--keep-secrets"]) == 0
    upstream.close()  # replay must not need it
    return data, answers, upstream.url


@pytest.fixture
def replaying(promoted, start_proxy, tmp_path):
    def start(*args: str) -> RunningProxy:
        data = tmp_path / "data"
        if not data.exists():
            shutil.copytree(promoted[0], data)
        return start_proxy("api", *args, data_dir=data, command="replay")
    return start


def test_every_example_is_served_byte_exact_with_the_upstream_dead(promoted, replaying):
    _, answers, dead_upstream = promoted
    with pytest.raises(httpx.ConnectError):
        httpx.get(dead_upstream + "/users/1")
    proxy = replaying()
    with httpx.Client(base_url=proxy.url) as client:
        for (method, path, body), recorded in zip(REQUESTS, answers, strict=True):
            r = client.request(method, path, content=body)
            assert r.status_code == recorded.status_code, path
            assert r.content == recorded.content, path  # gzip arrives decoded either way
            assert r.headers.get("content-type") == recorded.headers.get("content-type")
            assert r.headers["access-control-allow-origin"] == "*"
    png = httpx.get(proxy.url + "/png")
    assert png.content == PNG and png.headers["content-length"] == str(len(PNG))
    gz = httpx.get(proxy.url + "/gzip")
    assert gz.content == TEXT and "content-encoding" not in gz.headers
    cookies = httpx.get(proxy.url + "/cookies").headers.get_list("set-cookie")
    assert cookies == ["a=1; Path=/", "b=2; HttpOnly"]
    # nothing replayed is recorded
    assert HistoryStore(proxy.data_dir).count() == len(REQUESTS)


def test_pick_examples_by_header(promoted, replaying):
    data = promoted[0]
    store = CollectionStore(data)
    with store.editing("api") as c:  # a second, failing example for GET /users/1
        request = next(r for r in c.requests if r.name == "GET /users/1")
        first = request.examples[0]
        (new_id,) = store.new_example_ids(c, 1)
        request.examples.append(type(first)(new_id, "server down", first.request,
                                            type(first.response)(500, "Oops", [], b"down")))
    proxy = replaying()
    with httpx.Client(base_url=proxy.url) as client:
        assert client.get("/users/1").status_code == 200
        assert client.get("/users/1", headers={"x-mock-response-code": "500"}).content == b"down"
        named = client.get("/anything", headers={"x-mock-response-name": "server down"})
        assert named.status_code == 500
        by_id = client.get("/whatever", headers={"x-mock-response-id": str(first.id)})
        assert by_id.status_code == 200 and by_id.json()["path"] == "/users/1"
        unknown = client.get("/users/1", headers={"x-mock-response-id": "9999"})
        assert unknown.status_code == 404


def test_mistyped_path_gets_404_with_details(replaying):
    proxy = replaying()
    r = httpx.get(proxy.url + "/userz/1/profile")
    assert r.status_code == 404
    error = r.json()["error"]
    assert error["name"] == "mockRequestNotFoundError"
    assert error["header"] == "No matching requests"
    assert 1 <= len(error["details"]) <= 3
    assert error["details"][0]["step"] == "path"
    assert "GET /userz/1/profile" in error["message"]


@pytest.mark.wall_clock
def test_delays(replaying):
    proxy = replaying("--delay", "3g")
    started = time.monotonic()
    httpx.get(proxy.url + "/users/1")
    assert 0.1 <= time.monotonic() - started < 0.6
    started = time.monotonic()
    httpx.get(proxy.url + "/users/1", headers={"x-mock-response-delay": "400"})
    assert time.monotonic() - started >= 0.4


@pytest.mark.wall_clock
def test_delays_do_not_block_each_other(replaying):
    proxy = replaying("--delay", "300")

    async def burst() -> float:
        async with httpx.AsyncClient(base_url=proxy.url,
                                     limits=httpx.Limits(max_connections=50)) as client:
            started = time.monotonic()
            results = await asyncio.gather(*(client.get("/users/1") for _ in range(50)))
            assert all(r.status_code == 200 for r in results)
            return time.monotonic() - started

    assert asyncio.run(burst()) < 1.5  # 50 x 300 ms one after another would be 15 s


def test_cors_preflight_and_no_cors(replaying):
    proxy = replaying()
    r = httpx.options(proxy.url + "/users/1", headers={
        "Origin": "http://app.test", "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "x-token"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-methods"] == "DELETE"
    assert r.headers["access-control-allow-headers"] == "x-token"
    assert r.headers["access-control-allow-origin"] == "http://app.test"


def test_no_cors_flag(replaying):
    proxy = replaying("--no-cors")
    assert "access-control-allow-origin" not in httpx.get(proxy.url + "/users/1").headers
    preflight = httpx.options(proxy.url + "/users/1",
                              headers={"Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 404


def test_private_mock(replaying):
    proxy = replaying("--api-key", "s3cret")
    r = httpx.get(proxy.url + "/users/1")
    assert r.status_code == 401 and r.json()["error"]["name"] == "authenticationError"
    assert httpx.get(proxy.url + "/users/1", headers={"x-api-key": "wrong"}).status_code == 401
    assert httpx.get(proxy.url + "/users/1", headers={"x-api-key": "s3cret"}).status_code == 200


def test_hot_reload_of_a_hand_edit(promoted, replaying):
    proxy = replaying()
    assert httpx.get(proxy.url + "/users/2").json()["path"] == "/users/2"
    path = CollectionStore(proxy.data_dir).path("api")
    doc = json.loads(path.read_text())
    for example in doc["examples"].values():
        if example["originalRequest"]["url"].endswith("/users/2"):
            example["response"]["body"] = {"text": '{"edited": "by hand"}'}
    path.write_text(json.dumps(doc, indent=2))
    assert httpx.get(proxy.url + "/users/2").json() == {"edited": "by hand"}
    # The files are looked at once a round of the proxy's event loop: an edit made
    # just before a request, on a connection kept open, is its answer all the same.
    with httpx.Client(base_url=proxy.url) as client:
        for n in range(1, 6):
            for example in doc["examples"].values():
                if example["originalRequest"]["url"].endswith("/users/2"):
                    example["response"]["body"] = {"text": json.dumps({"edit": "x" * n})}
            path.write_text(json.dumps(doc, indent=2))
            assert client.get("/users/2").json() == {"edit": "x" * n}


def test_forward_mode_https_with_no_upstream_at_all(promoted, replaying, confdir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(promoted[0], data)
    assert main(["--data-dir", str(data), "example", "add", "--collection", "offline",
                 "GET", "https://api.invalid/v1/me", "--body", '{"me": true}']) == 0
    proxy = RunningProxy(data, ["offline"], confdir, command="replay")
    try:
        trust = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
        with httpx.Client(proxy=proxy.url, verify=trust) as client:
            r = client.get("https://api.invalid/v1/me")
        assert r.status_code == 200 and r.json() == {"me": True}
    finally:
        proxy.stop()


def test_switching_modes_on_a_running_proxy(promoted, start_proxy, tmp_path, capsys):
    upstream = UpstreamServer()
    data = tmp_path / "data"
    shutil.copytree(promoted[0], data)
    try:
        proxy = start_proxy("--mode", "record", "--collection", "api", "--upstream",
                            upstream.url, data_dir=data, command="proxy")
        with httpx.Client(base_url=proxy.url) as client:
            assert client.get("/echo?live=1").json()["query"] == "live=1"
            assert main(["--data-dir", str(data), "mode", "replay"]) == 0
            assert "proxy now in replay mode, serving api" in capsys.readouterr().out
            # same connection, next request: served from the example
            assert client.get("/echo?page=2&sort=name").json()["query"] == "page=2&sort=name"
            assert client.get("/not-recorded").status_code == 404
            assert main(["--data-dir", str(data), "mode", "spy"]) == 0
            # a query that differs only lowers the score: this is still the example
            assert client.get("/echo?spied=1").json()["query"] == "page=2&sort=name"
            assert client.get("/spy-only?spied=1").json()["query"] == "spied=1"  # forwarded
            assert main(["--data-dir", str(data), "mode", "passthrough"]) == 0
            assert client.get("/echo?pass=1").json()["query"] == "pass=1"
        wait_for_entries(HistoryStore(data), len(REQUESTS) + 2)
        urls = [e.request.url for e in HistoryStore(data).entries(newest_first=False)]
        assert urls[-2:] == [upstream.url + "/echo?live=1", upstream.url + "/spy-only?spied=1"]
        assert [e.mode for e in HistoryStore(data).entries()][:2] == ["spy", "record"]
        code = main(["--data-dir", str(data), "mode", "sideways"])
        assert code != 0
    finally:
        upstream.close()


def test_mode_without_a_running_proxy(tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "mode", "replay"])
    _, err = capsys.readouterr()
    assert code != 0 and "no running mockrec proxy" in err
    # control sockets left behind by killed proxies refuse connections: not "several"
    (tmp_path / "run").mkdir()
    for port in (1234, 5678):
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(str(tmp_path / "run" / f"{port}.sock"))
    code = main(["--data-dir", str(tmp_path), "mode", "replay"])
    _, err = capsys.readouterr()
    assert code != 0 and "no running mockrec proxy" in err
    assert not list((tmp_path / "run").iterdir())


@pytest.mark.parametrize("args, message", [
    (["replay", "nope"], "no collection 'nope'"),
    (["replay", "api", "--delay", "fast"], "delay 'fast' is not off, 2g, 3g"),
    (["replay", "api", "--profile", "5g"], "profile '5g' is unknown"),
    (["replay", "api", "--delay", "999999"], "from 0 to 180000"),
    (["replay"], "name the mock or collection to serve"),
])
def test_bad_replay_options_are_one_line(promoted, args, message):
    result = subprocess.run([sys.executable, "-m", "recorder", "--data-dir", str(promoted[0]),
                             *args, "--port", "0"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_replay_addon_inside_plain_mitmdump(promoted, confdir, tmp_path):
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "addons" / "replay.py"
    log = tmp_path / "mitmdump.log"
    mitmdump = Path(sys.executable).with_name("mitmdump")
    process = subprocess.Popen(
        [str(mitmdump), "-s", str(script), "--listen-host", "127.0.0.1", "-p", "0",
         "--set", f"confdir={confdir}", "--set", f"mockrec_data_dir={promoted[0]}",
         "--set", "mockrec_collection=api"], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        import re
        deadline = time.monotonic() + 20
        while not (m := re.search(r"listening at (?:http://)?[^:\s]+:(\d+)", log.read_text())):
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()
            time.sleep(0.05)
        with httpx.Client(proxy=f"http://127.0.0.1:{m.group(1)}") as client:
            r = client.get(promoted[2] + "/users/1")
        assert r.status_code == 200 and r.json()["path"] == "/users/1"
    finally:
        process.terminate()
        process.wait(timeout=30)


def raw_answer(port: int, request: bytes) -> bytes:
    # A local answer takes milliseconds; a short timeout keeps a failure's shrinking short.
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(request)  # no half-close: mitmproxy takes that for a client gone
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


# Origin-form to a forward proxy takes mitmproxy's path; the other two the fast path.
@pytest.mark.parametrize("kind, target", [("forward", b"/"), ("forward", b"http://api.test/"),
                                          ("reverse", b"/")])
def test_random_requests_always_get_an_http_answer(promoted, replaying, kind, target):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    proxy = replaying(*(["--upstream", "http://127.0.0.1:9"] if kind == "reverse"
                        else ["--forward"]))
    port = int(proxy.url.rsplit(":", 1)[1])
    token = st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                  exclude_characters=' :/?#'), min_size=1, max_size=12)
    path_bytes = st.binary(min_size=0, max_size=40).map(
        lambda b: b.replace(b" ", b"%20").replace(b"\r", b"").replace(b"\n", b""))

    @settings(max_examples=1000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(method=st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH",
                                             "OPTIONS", "HEAD"]), token),
           path=path_bytes, header=token, body=st.binary(max_size=200))
    def check(method, path, header, body):
        request = (method.encode() + b" " + target + path + b" HTTP/1.1\r\nHost: x\r\n"
                   + b"X-" + header.encode() + b": v\r\nContent-Length: "
                   + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        answer = raw_answer(port, request)
        assert answer.startswith(b"HTTP/1.1 "), answer[:80]

    check()
    if kind == "reverse":
        assert httpx.get(proxy.url + "/users/1").status_code == 200
    else:  # the examples name the host they were recorded from
        with httpx.Client(proxy=proxy.url) as client:
            assert client.get(promoted[2] + "/users/1").status_code == 200


@pytest.mark.parametrize("on_miss, recorded", [("forward", 0), ("record", 1)])
def test_on_miss_forward_and_record(promoted, start_proxy, tmp_path, on_miss, recorded):
    upstream = UpstreamServer()
    data = tmp_path / "data"
    shutil.copytree(promoted[0], data)
    try:
        proxy = start_proxy("api", "--upstream", upstream.url, "--on-miss", on_miss,
                            data_dir=data, command="replay")
        assert httpx.get(proxy.url + "/users/1").json()["path"] == "/users/1"  # example
        live = httpx.get(proxy.url + "/only-upstream-has-this?x=1")
        assert live.json()["query"] == "x=1"
        if recorded:
            wait_for_entries(HistoryStore(data), len(REQUESTS) + recorded)
        else:
            time.sleep(0.6)  # what would have been recorded is on disk by now
        assert HistoryStore(data).count() == len(REQUESTS) + recorded
    finally:
        upstream.close()


# The fast path serves pure replay; --on-miss forward (a request that goes upstream)
# and mockrec_fast_replay=false take mitmproxy's path.
@pytest.mark.parametrize("path", [[], ["--on-miss", "forward"],
                                  ["--set", "mockrec_fast_replay=false", "--on-miss", "forward"]],
                         ids=["fast", "mitmproxy-forwarding", "mitmproxy"])
def test_the_call_log_keeps_the_host_and_url_the_client_sent(promoted, start_proxy, tmp_path,
                                                             cli, path):
    """Issue 28 item 5: a reverse proxy's call is logged with the client's Host and URL,
    not the upstream's (mitmproxy rewrites Host before any hook); what goes upstream
    still carries the upstream's Host."""
    upstream = UpstreamServer()
    data = tmp_path / "data"
    shutil.copytree(promoted[0], data, ignore=shutil.ignore_patterns("calls"))  # ours only
    try:
        proxy = start_proxy("api", "--upstream", upstream.url, *path, data_dir=data,
                            command="replay")
        port = int(proxy.url.rsplit(":", 1)[1])
        head = b"HTTP/1.1\r\nHost: shop.example:8443\r\nConnection: close\r\n\r\n"
        assert raw_answer(port, b"GET /users/1 " + head).startswith(b"HTTP/1.1 200")
        missed = raw_answer(port, b"GET /only-upstream-has-this?x=1 " + head)
        if "forward" in path:
            sent = dict(json.loads(missed.partition(b"\r\n\r\n")[2])["headers"])
            assert sent["Host"] == upstream.url.removeprefix("http://")
        calls = wait_for_entries(HistoryStore(data, call_log_root("api")), 2, timeout=20)
    finally:
        upstream.close()
    assert len(calls) == 2, [(c.request.method, c.request.url, c.notes) for c in calls]
    for call in calls:
        assert call.request.url.startswith("http://shop.example:8443/"), call.request.url
        assert ("Host", "shop.example:8443") in call.request.headers
    shown = cli("calls", "show", str(calls[0].id), data_dir=data).stdout
    assert "http://shop.example:8443/users/1" in shown and upstream.url not in shown, shown


def test_on_miss_forward_with_the_upstream_down_is_a_json_502(replaying):
    proxy = replaying("--upstream", "http://127.0.0.1:9", "--on-miss", "forward")
    r = httpx.get(proxy.url + "/never-recorded")
    assert r.status_code == 502 and r.json()["error"]["name"] == "upstreamError"


@pytest.mark.wall_clock
def test_profile_delays_by_body_size(replaying):
    proxy = replaying("--profile", "gprs")  # 500 ms +- 100, 50 kbit/s
    started = time.monotonic()
    assert httpx.get(proxy.url + "/png").status_code == 200
    assert time.monotonic() - started >= 0.4


def test_a_pure_replay_proxy_brings_in_recording_when_switched(promoted, start_proxy,
                                                                tmp_path):
    upstream = UpstreamServer()
    data = tmp_path / "data"
    shutil.copytree(promoted[0], data)
    try:
        proxy = start_proxy("api", "--upstream", upstream.url, data_dir=data, command="replay")
        with httpx.Client(base_url=proxy.url) as client:
            assert client.get("/spy-only").status_code == 404  # replay: no forwarding
            assert main(["--data-dir", str(data), "mode", "spy"]) == 0
            assert client.get("/spy-only?x=1").json()["query"] == "x=1"  # forwarded
            assert client.get("/users/1").json()["path"] == "/users/1"  # still an example
        wait_for_entries(HistoryStore(data), len(REQUESTS) + 1)
        newest = next(HistoryStore(data).entries())
        assert newest.request.url == upstream.url + "/spy-only?x=1" and newest.mode == "spy"
    finally:
        upstream.close()
