"""Replay as real clients meet it: hosts through the forward proxy, the README's loop,
HEAD (HTTP/2 too), CORS with credentials in a real headless Chromium, what the call
log says, quotas, mode switches, mockUrl and a collection made while recording."""

from __future__ import annotations

import datetime
import json
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from conftest import QuietHTTPServer, RunningProxy, UpstreamServer, wait_for_entries

from recorder.cli import main
from recorder.store.history import HistoryStore
from recorder.store.mocks import EnvironmentStore

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)

README = Path(__file__).resolve().parents[2] / "README.md"
DEAD = "http://127.0.0.1:9"


def cli(data: Path, *args: str) -> int:
    return main(["--data-dir", str(data), *args])


def calls(data: Path, mock: str, count: int, timeout: float = 5.0) -> list[dict]:
    """The call log as `mockrec calls --json` gives it, oldest first, once `count` are in."""
    store = HistoryStore(data, f"calls/{mock}")
    deadline = time.monotonic() + timeout
    while store.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    from recorder.views import call_summary
    return [call_summary(e) for e in store.entries(newest_first=False)]


@pytest.fixture
def upstreams():
    servers = [UpstreamServer() for _ in range(3)]
    yield servers
    for server in servers:
        server.close()


# -- hosts ------------------------------------------------------------------------------

def test_two_hosts_with_one_path_each_get_their_own_example(start_proxy, upstreams, tmp_path):
    a, b, c = upstreams
    data = tmp_path / "data"
    recording = start_proxy(data_dir=data)  # a forward proxy
    with httpx.Client(proxy=recording.url) as client:
        recorded = {s.url: client.get(s.url + "/echo?same=path").json() for s in (a, b)}
    assert recorded[a.url] != recorded[b.url]  # each echoes its own Host
    wait_for_entries(recording.store, 2)
    recording.stop()
    assert cli(data, "promote", "1-2", "--collection", "apis") == 0

    replay = start_proxy("apis", data_dir=data, command="replay")
    assert "forward proxy" in replay.log.read_text()  # recorded forward: no upstream to serve
    with httpx.Client(proxy=replay.url) as client:
        for server in (a, b):
            assert client.get(server.url + "/echo?same=path").json() == recorded[server.url]
        third = client.get(c.url + "/echo?same=path")
        assert third.status_code == 404
        assert f"on 127.0.0.1:{c.port}" in third.json()["error"]["message"]
        assert third.json()["error"]["details"][0]["step"] == "host"
        assert cli(data, "mode", "spy") == 0
        live = client.get(c.url + "/echo?same=path")
        assert live.status_code == 200 and f"127.0.0.1:{c.port}" in json.dumps(live.json())
        assert client.get(a.url + "/echo?same=path").json() == recorded[a.url]  # still ours
    entries = wait_for_entries(HistoryStore(data), 3)
    assert len(entries) == 3 and entries[-1].request.url == c.url + "/echo?same=path"
    assert entries[-1].mode == "spy"


# -- the README's loop, word for word --------------------------------------------------------

def readme_loop() -> list[list[str]]:
    text = README.read_text()
    section = text.split("## The whole loop", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("    mockrec ")]
    assert "\n".join(lines) in (README.parent / "docs" / "index.md").read_text()  # the same
    commands = [line.split("#", 1)[0].split() for line in lines]
    assert [c[1] for c in commands] == ["record", "history", "promote", "replay", "mode"]
    return [c[1:] for c in commands]


def test_the_readmes_whole_loop(upstreams, confdir, tmp_path, capsys, monkeypatch):
    upstream = upstreams[0]
    data = tmp_path / "data"
    record, history, promote, replay, mode = readme_loop()
    today = datetime.date.today().isoformat()

    def words(command: list[str]) -> list[str]:
        """The README's words, with this test's upstream and date."""
        out = [upstream.url if w == "https://api.example.com" else w for w in command]
        return [today if re.fullmatch(r"\d{4}-\d{2}-\d{2}", w) else w for w in out]

    recording = RunningProxy(data, words(record[1:]), confdir, record[0])
    with httpx.Client(base_url=recording.url) as client:  # "use your app"
        app = {path: client.get(path).content for path in ("/users/1", "/users/2", "/echo?a=1")}
    wait_for_entries(recording.store, 3)
    assert recording.stop(signal.SIGINT) == 0  # "then Ctrl-C"
    assert cli(data, *words(history)) == 0
    assert cli(data, *words(promote)) == 0
    assert "baseUrl = " + upstream.url in capsys.readouterr().out
    assert cli(data, *words(promote)) == 0  # again: nothing new
    assert "skipped 3 entries already standing as examples" in capsys.readouterr().out

    serving = RunningProxy(data, words(replay[1:]), confdir, replay[0])
    try:
        assert f"reverse proxy to {upstream.url} (the baseUrl of shop" in serving.log.read_text()
        with httpx.Client(base_url=serving.url) as client:
            r = client.get("/users/1")
            assert r.status_code == 200 and r.content == app["/users/1"]
            assert client.get("/users/77").status_code == 200  # --infer-templates
            assert client.get("/never/recorded").status_code == 404  # replay: a miss is a 404
            assert cli(data, *words(mode)) == 0
            assert capsys.readouterr().out.strip() == "proxy now in spy mode, serving shop"
            miss = client.get("/never/recorded?x=2")  # forwarded to the upstream
            assert miss.status_code == 200
            assert miss.json()["path"] == "/never/recorded" and miss.json()["query"] == "x=2"
            assert client.get("/users/1").content == app["/users/1"]  # still the example
        entries = wait_for_entries(HistoryStore(data), 4)
        assert len(entries) == 4
        assert entries[-1].request.url == upstream.url + "/never/recorded?x=2"
        assert entries[-1].mode == "spy" and entries[-1].response.status == 200
        log = serving.log.read_text()
        assert "Traceback" not in log and "AddonManagerError" not in log, log
    finally:
        serving.stop()

    # the README's step by step, on what the loop left: every command it shows runs
    steps = README.read_text().split("## The loop, step by step", 1)[1].split("\n## ", 1)[0]
    shown = [line for line in steps.splitlines() if line.startswith("    mockrec ")]
    assert len(shown) >= 5
    capsys.readouterr()
    for line in shown:
        words = shlex.split(line.split(" #", 1)[0])[1:]
        with monkeypatch.context() as m:
            m.setenv("EDITOR", "true")  # `example edit`: saved unchanged
            m.delenv("VISUAL", raising=False)
            assert cli(data, *words) == 0, line
    out = capsys.readouterr().out
    assert "/users/{{userId}}" in out and "/users/1" in out, out


# -- HEAD ---------------------------------------------------------------------------------------

def test_head_gets_the_head_of_get_over_http1_and_http2(start_proxy, confdir, tmp_path):
    data = tmp_path / "data"
    body = '{"me": true, "padding": "' + "x" * 100 + '"}'
    assert cli(data, "example", "add", "--collection", "h", "GET", "https://api.invalid/v1/me",
               "--body", body, "-H", "X-Kind: me") == 0
    proxy = start_proxy("h", data_dir=data, command="replay")
    ca = confdir / "mitmproxy-ca-cert.pem"
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(ca))) as c:
        got, head = c.get("https://api.invalid/v1/me"), c.head("https://api.invalid/v1/me")
    assert head.status_code == got.status_code == 200 and head.http_version == "HTTP/1.1"
    assert head.headers["content-length"] == str(len(body.encode())) and head.content == b""
    assert head.headers["x-kind"] == "me"
    if shutil.which("curl"):  # HTTP/2 (httpx would speak it to the proxy itself)
        result = subprocess.run(
            ["curl", "-sS", "--head", "--http2", "-x", proxy.url, "--cacert", str(ca),
             "https://api.invalid/v1/me"], capture_output=True, timeout=30)
        assert result.returncode == 0, result.stderr
        answer = result.stdout.split(b"\r\n\r\n", 1)[1]  # after the CONNECT's answer
        assert answer.startswith(b"HTTP/2 200")
        assert f"content-length: {len(body.encode())}".encode() in answer
        assert b"x-kind: me" in answer
    with socket.create_connection(re.match(r"http://(.+):(\d+)", proxy.url).groups()) as sock:
        sock.sendall(b"HEAD http://api.invalid/v1/me HTTP/1.1\r\nHost: api.invalid\r\n\r\n"
                     b"GET http://api.invalid/v1/nothing HTTP/1.1\r\nHost: api.invalid\r\n\r\n")
        sock.settimeout(5)
        got = b""
        while got.count(b"HTTP/1.1 ") < 2 or not got.endswith(b"}"):
            got += sock.recv(65536)
    # the HEAD's answer has no body: the next answer follows its head at once
    assert re.match(rb"HTTP/1.1 200 OK\r\n.*?\r\n\r\nHTTP/1.1 404 ", got, re.S)


# -- CORS, quotas, the call log ------------------------------------------------------------------

def test_cors_with_credentials_quotas_and_what_the_call_log_says(start_proxy, upstreams,
                                                               tmp_path):
    data = tmp_path / "data"
    assert cli(data, "example", "add", "--collection", "c", "GET", "/json",
               "--body", '{"ok": 1}') == 0
    assert cli(data, "example", "add", "--collection", "c", "GET", "/own",
               "-H", "Access-Control-Allow-Origin: https://only.test", "--body", "own") == 0
    proxy = start_proxy("c", "--upstream", DEAD, "--api-key", "k", "--max-calls", "3",
                        data_dir=data, command="replay")
    origin = {"Origin": "http://app.test:3000"}
    key = {"x-api-key": "k"}
    with httpx.Client(base_url=proxy.url) as client:
        preflight = client.options("/json", headers={
            **origin, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-custom"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://app.test:3000"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["access-control-allow-headers"] == "x-custom"
        assert client.get("/json", headers=origin).status_code == 401  # no key: not a call
        ok = client.get("/json", headers={**origin, **key})
        assert ok.status_code == 200 and ok.json() == {"ok": 1}
        assert ok.headers["access-control-allow-origin"] == "http://app.test:3000"
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "Origin" in ok.headers.get_list("vary")
        plain = client.get("/json", headers=key)
        assert plain.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in plain.headers
        assert plain.headers.get_list("vary") == ["Origin"]  # it depends on Origin all the same
        own = client.get("/own", headers={**origin, **key})
        assert own.headers.get_list("access-control-allow-origin") == ["https://only.test"]
        assert "access-control-allow-credentials" not in own.headers
        limited = client.get("/json", headers={**origin, **key})  # the fourth call
        assert limited.status_code == 429 and limited.json()["error"]["name"] == "usageLimitError"
        assert limited.reason_phrase == "Too Many Requests"  # was empty: `HTTP/1.1 429 `
        assert limited.headers["access-control-allow-origin"] == "http://app.test:3000"
    logged = calls(data, "c", 6)
    assert [c["matched"] for c in logged] == [
        "CORS preflight", "401 authenticationError: missing or wrong x-api-key", "200 OK",
        "200 OK", "200 OK", "429 usageLimitError"]
    assert [c["outcome"]["kind"] for c in logged] == [
        "preflight", "unauthorized", "example", "example", "example", "quota"]


def test_the_call_log_of_misses_and_forwarded_calls(start_proxy, upstreams, tmp_path):
    upstream = upstreams[0]
    data = tmp_path / "data"
    assert cli(data, "example", "add", "--collection", "c", "GET", "/json", "--body", "{}") == 0
    for args, path, status in (
            (["--upstream", upstream.url, "--on-miss", "record"], "/json", 200),
            (["--upstream", upstream.url, "--on-miss", "record"], "/live?x=1", 200),
            (["--upstream", DEAD, "--on-miss", "forward"], "/down", 502),
            (["--upstream", DEAD], "/nothing", 404)):
        proxy = start_proxy("c", *args, data_dir=data, command="replay")
        assert httpx.get(proxy.url + path).status_code == status
        proxy.stop()
    logged = calls(data, "c", 4)
    assert [c["matched"] for c in logged[:2]] == ["200 OK",
                                                  "forwarded: the upstream answered 200"]
    assert logged[1]["outcome"] == {"kind": "forwarded", "status": 200, "error": None,
                                    "reason": "no example matches GET /live"}
    assert logged[2]["matched"].startswith("forwarded: the upstream failed (")
    assert logged[3]["matched"] == "No matching requests: no example matches GET /nothing"
    assert logged[3]["status"] == 404


# -- mode switches, a collection made while recording, mockUrl -----------------------------------

def test_a_switch_prints_only_the_switch(start_proxy, upstreams, tmp_path, capsys):
    data = tmp_path / "data"
    assert cli(data, "example", "add", "--collection", "c", "GET", "/json", "--body", "{}") == 0
    proxy = start_proxy("c", "--upstream", upstreams[0].url, data_dir=data, command="replay")
    capsys.readouterr()
    for mode in ("record", "spy", "replay", "passthrough"):
        assert cli(data, "mode", mode) == 0
        assert capsys.readouterr().out == f"proxy now in {mode} mode, serving c\n"
        assert httpx.get(proxy.url + "/echo").status_code == (404 if mode == "replay" else 200)
    time.sleep(0.2)  # anything the switches would print is out by now
    log = proxy.log.read_text()
    assert "Traceback" not in log and "AddonManagerError" not in log, log
    assert len(log.splitlines()) == 2, log  # the banner only


def test_recording_into_a_collection_that_does_not_exist_yet(start_proxy, upstreams, tmp_path,
                                                             capsys):
    upstream = upstreams[0]
    data = tmp_path / "data"
    proxy = start_proxy("--mode", "record", "--upstream", upstream.url, "--collection", "shop",
                        data_dir=data, command="proxy")
    assert "serving collection shop (it does not exist yet)" in proxy.log.read_text()
    with httpx.Client(base_url=proxy.url) as client:
        first = client.get("/users/1")
        assert cli(data, "mode", "replay") != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no collection 'shop'" in err
        assert "the proxy stays in record mode" in err
        assert client.get("/users/2").json()["path"] == "/users/2"  # still recording
        wait_for_entries(HistoryStore(data), 2)
        assert cli(data, "promote", "1", "--collection", "shop") == 0
        assert cli(data, "mode", "replay") == 0
        assert capsys.readouterr().out.endswith("proxy now in replay mode, serving shop\n")
        upstream.close()  # replay needs it no more
        again = client.get("/users/1")
        assert again.status_code == 200 and again.content == first.content
        assert client.get("/users/2").status_code == 200  # ID-like segments
    assert "Traceback" not in proxy.log.read_text()


def test_mock_url_is_saved_once_the_port_is_known(start_proxy, tmp_path, capsys):
    data = tmp_path / "data"
    assert cli(data, "example", "add", "--collection", "c", "GET", "/json", "--body", "{}") == 0
    assert cli(data, "mock", "create", "m", "--collection", "c", "--port", "0",
               "--save-url-to", "dev") == 0
    assert "when the mock starts" in capsys.readouterr().out
    environments = EnvironmentStore(data)
    assert "dev" not in environments.names()  # no http://127.0.0.1:0
    proxy = start_proxy("m", data_dir=data, command="replay")
    deadline = time.monotonic() + 5
    while "dev" not in environments.names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert environments.get("dev") == {"mockUrl": proxy.url}
    proxy.stop()
    assert cli(data, "mock", "update", "m", "--port", "8099") == 0
    assert environments.get("dev") == {"mockUrl": "http://127.0.0.1:8099"}
    assert cli(data, "mock", "update", "m", "--save-url-to", "stage") == 0
    assert environments.get("stage") == {"mockUrl": "http://127.0.0.1:8099"}
    assert "saved mockUrl=http://127.0.0.1:8099 in environment stage" in capsys.readouterr().out


# -- a real browser --------------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), "/usr/bin/chromedriver"


class Page(BaseHTTPRequestHandler):
    """The app: one page on its own origin."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<!doctype html><title>app</title><p>app</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


FETCHES = """
const [mock, done] = arguments;
(async () => {
  const out = {};
  const got = await fetch(mock + '/json', {credentials: 'include',
                                           headers: {'X-Custom': 'from-the-page'}});
  out.get = {status: got.status, body: await got.json()};
  const put = await fetch(mock + '/items/7', {method: 'PUT', credentials: 'include',
      headers: {'Content-Type': 'application/json', 'X-Custom': 'yes'},
      body: JSON.stringify({name: 'seven'})});
  out.put = {status: put.status, body: await put.json()};
  const head = await fetch(mock + '/json', {method: 'HEAD', credentials: 'include'});
  out.head = {status: head.status, length: head.headers.get('content-length')};
  const missing = await fetch(mock + '/nothing', {credentials: 'include'});
  out.missing = {status: missing.status, body: await missing.json()};
  // recorded from an API answering `*` with credentials allowed (httpbin): reflected
  const recorded = await fetch(mock + '/recorded', {credentials: 'include'});
  out.recorded = {status: recorded.status, body: await recorded.json()};
  // an example naming another origin keeps it: the browser refuses, as with the API
  out.specific = await fetch(mock + '/specific', {credentials: 'include'})
    .then(r => 'read', e => 'refused');
  return out;
})().then(done, e => done({error: String(e)}));
"""


@pytest.mark.skipif(CHROMIUM is None or not Path(CHROMEDRIVER).exists(),
                    reason="needs Debian's chromium and chromium-driver "
                           "(apt-get install chromium chromium-driver)")
def test_a_browser_page_fetches_the_mock_with_credentials(start_proxy, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    data = tmp_path / "data"
    assert cli(data, "example", "add", "--collection", "web", "GET", "/json",
               "--body", '{"hello": "browser"}') == 0
    assert cli(data, "example", "add", "--collection", "web", "PUT", "/items/{{id}}",
               "--body", '{"stored": "{{id}}", "name": "{{$body \'name\'}}"}') == 0
    assert cli(data, "example", "add", "--collection", "web", "GET", "/recorded",
               "-H", "Access-Control-Allow-Origin: *",
               "-H", "Access-Control-Allow-Credentials: true", "--body", '{"from": "api"}') == 0
    assert cli(data, "example", "add", "--collection", "web", "GET", "/specific",
               "-H", "Access-Control-Allow-Origin: https://elsewhere.test",
               "-H", "Access-Control-Allow-Credentials: true", "--body", "{}") == 0
    mock = start_proxy("web", "--upstream", DEAD, data_dir=data, command="replay")
    app = QuietHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_script_timeout(30)
        driver.get(f"http://127.0.0.1:{app.server_address[1]}/")  # one origin ...
        result = driver.execute_async_script(FETCHES, mock.url)  # ... fetches another
    finally:
        driver.quit()
        app.shutdown()
    assert result == {
        "get": {"status": 200, "body": {"hello": "browser"}},
        "put": {"status": 200, "body": {"stored": "7", "name": "seven"}},
        "head": {"status": 200, "length": str(len(b'{"hello": "browser"}'))},
        "missing": {"status": 404, "body": result["missing"]["body"]},
        "recorded": {"status": 200, "body": {"from": "api"}},
        "specific": "refused",
    }, result
    assert result["missing"]["body"]["error"]["name"] == "mockRequestNotFoundError"
    logged = calls(data, "web", 6)
    kinds = [(c["method"], c["outcome"]["kind"]) for c in logged]
    assert ("OPTIONS", "preflight") in kinds and ("PUT", "example") in kinds
