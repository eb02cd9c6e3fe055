"""What a newcomer meets around running proxies, through the real proxy: `mode` without a
mode, busy ports, the summary when `record` stops, `record.py` under plain mitmdump, the
lines `mockrec cert` prints (run as printed, by Python and Node clients), and
`--listen-host 0.0.0.0`."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import wait_for_entries

from recorder.errors import ExitStatus
from recorder.store.history import HistoryStore

ROOT = Path(__file__).resolve().parents[2]


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_mode_without_a_mode_prints_each_running_proxy(tmp_path, cli, start_proxy, upstream):
    data = tmp_path / "data"
    cli("example", "add", "--collection", "api", "GET", "/x", data_dir=data)
    one = start_proxy("api", data_dir=data, command="replay")
    two = start_proxy("--mode", "spy", "--collection", "api", "--upstream", upstream.url,
                      data_dir=data, command="proxy")
    result = cli("mode", data_dir=data)
    assert result.exit_code == 0, result
    assert sorted(result.stdout.splitlines()) == sorted([
        f"port {port_of(one.url)}: replay mode, serving api",
        f"port {port_of(two.url)}: spy mode, serving api"])
    only = cli("mode", "--port", port_of(two.url), data_dir=data)
    assert only.stdout == f"port {port_of(two.url)}: spy mode, serving api\n"
    one.stop()
    two.stop()
    none = cli("mode", data_dir=data)
    assert none.exit_code == ExitStatus.NOT_FOUND and "no running mockrec proxy" in none.stderr


def test_a_busy_port_names_who_holds_it(tmp_path, cli, start_proxy):
    data = tmp_path / "data"
    cli("example", "add", "--collection", "api", "GET", "/x", data_dir=data)
    cli("mock", "create", "first", "--collection", "api", data_dir=data)
    cli("mock", "create", "second", "--collection", "api", data_dir=data)
    running = start_proxy("first", data_dir=data, command="replay")
    port = port_of(running.url)
    cli("mock", "update", "second", "--port", port, data_dir=data)
    result = cli("replay", "second", data_dir=data)
    assert result.exit_code == ExitStatus.ERROR and result.stderr.count("\n") == 1
    assert (f"port {port} on 127.0.0.1 is already in use by mockrec in replay mode serving "
            "mock first (pid ") in result.stderr, result
    with socket.socket() as other:  # a process of our own, not a mockrec proxy
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]
        result = cli("replay", "second", "--port", busy, data_dir=data)
    assert f"already in use by process {os.getpid()} (" in result.stderr, result
    # Its command line (this test's process: pytest, or an xdist worker under -n).
    own = Path("/proc/self/cmdline").read_bytes().split(b"\0")[0].decode()
    assert own in result.stderr


def test_record_says_what_it_recorded_when_it_stops(start_proxy, upstream):
    proxy = start_proxy("--upstream", upstream.url)
    with httpx.Client(base_url=proxy.url) as client:
        for path in ("/users/1", "/png", "/reset"):
            client.get(path)
    wait_for_entries(proxy.store, 3)
    assert proxy.stop(signal.SIGINT) == 0
    lines = proxy.log.read_text().splitlines()
    assert lines[-1] == ("recorded 3 exchanges (ids 1-3); 1 upstream error (see `mockrec "
                         "history list --status error`)")
    again = start_proxy("--upstream", upstream.url, data_dir=proxy.data_dir)
    httpx.get(again.url + "/users/2")
    wait_for_entries(again.store, 4)
    again.stop()
    assert again.log.read_text().splitlines()[-1] == "recorded 1 exchange (id 4); no errors"
    idle = start_proxy("--upstream", upstream.url)
    idle.stop()
    assert idle.log.read_text().splitlines()[-1] == "recorded nothing"


def mitmdump(tmp_path: Path, confdir: Path, *args: str) -> tuple[subprocess.Popen, str, Path]:
    tmp_path.mkdir(exist_ok=True)
    data = tmp_path / "data"
    log = tmp_path / "mitmdump.log"
    binary = Path(sys.executable).parent / "mitmdump"
    process = subprocess.Popen(
        [str(binary), "-s", str(ROOT / "addons" / "record.py"), "--listen-host", "127.0.0.1",
         "-p", "0", "--set", f"confdir={confdir}", "--set", f"mockrec_data_dir={data}", *args],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening at 127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if found:
            return process, f"http://127.0.0.1:{found.group(1)}", data
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"mitmdump did not start:\n{log.read_text()}")


@pytest.mark.skipif(not (Path(sys.executable).parent / "mitmdump").exists(),
                    reason="mitmdump is not beside this Python")
def test_record_py_under_mitmdump_answers_a_dead_upstream_with_json(tmp_path, confdir,
                                                                     upstream):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed again: nothing listens there
    process, url, data = mitmdump(tmp_path, confdir, "--mode", f"reverse:http://127.0.0.1:{dead}")
    try:
        answer = httpx.get(url + "/users/1")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answer.status_code == 502
    assert answer.json()["error"]["name"] == "upstreamError"
    (entry,) = HistoryStore(data).entries()
    assert entry.response is None and "connect call failed" in entry.error.lower()
    assert entry.request.url == f"http://127.0.0.1:{dead}/users/1"
    # and the timeout: a 504 and its entry
    process, url, data = mitmdump(tmp_path / "slow", confdir, "--mode",
                                  f"reverse:{upstream.url}", "--set",
                                  "mockrec_upstream_timeout=300")
    try:
        answer = httpx.get(url + "/slow?s=2", timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answer.status_code == 504
    assert answer.json()["error"]["name"] == "upstreamTimeoutError"
    (entry,) = HistoryStore(data).entries()
    assert "timed out after 300 ms" in entry.error


def cert_lines(cli, confdir: Path, port: int) -> str:
    result = cli("cert", "--confdir", confdir, "--port", port)
    assert result.exit_code == 0
    return result.stdout


def assignments(line: str, program: str) -> dict[str, str]:
    """The `NAME=value` words before `program` in a printed command line."""
    found = {}
    for word in shlex.split(line):
        if word == program:
            break
        name, sep, value = word.partition("=")
        if sep and name.isupper():
            found[name] = value
    return found


def client_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("no_proxy", "http_proxy", "https_proxy", "all_proxy",
                                "ssl_cert_file", "requests_ca_bundle", "node_extra_ca_certs")}
    return {**env, **extra}


PYTHON_CLIENTS = {
    "urllib": "import urllib.request, sys; print(urllib.request.urlopen(sys.argv[1]).read()"
              ".decode())",
    "httpx": "import httpx, sys; print(httpx.get(sys.argv[1]).text)",
    "requests": "import requests, sys; print(requests.get(sys.argv[1]).text)",
}


@pytest.fixture
def forward(start_proxy):
    """A forward proxy that intercepts HTTPS (the test upstream's certificate is its own)."""
    return start_proxy("--set", "ssl_insecure=true")


@pytest.mark.parametrize("client", PYTHON_CLIENTS)
def test_cert_lines_work_for_python_clients(cli, confdir, forward, tls_upstream, client):
    if client == "requests":
        pytest.importorskip("requests")
    text = cert_lines(cli, confdir, port_of(forward.url))
    label = "Python requests" if client == "requests" else "Python httpx, urllib"
    (line,) = [line for line in text.splitlines() if line.strip().startswith(label)]
    env = assignments(line, "python")
    assert env["HTTPS_PROXY"] == forward.url
    target = tls_upstream.url + f"/echo?client={client}"
    done = subprocess.run([sys.executable, "-c", PYTHON_CLIENTS[client], target],
                          env=client_env(**env), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["query"] == f"client={client}"
    entries = wait_for_entries(forward.store, 1)
    assert [e.request.url for e in entries] == [target]  # it went through the proxy
    # and without the printed CA variable the same client refuses mitmproxy's certificate
    bare = {k: v for k, v in env.items() if k == "HTTPS_PROXY"}
    refused = subprocess.run([sys.executable, "-c", PYTHON_CLIENTS[client], target],
                             env=client_env(**bare), capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr


NODE_HTTPS_THROUGH_CONNECT = """
const http = require('http'), https = require('https');
const [proxyHost, proxyPort] = process.argv[1].replace('http://', '').split(':');
const target = new URL(process.argv[2]);
const tunnel = http.request({host: proxyHost, port: proxyPort, method: 'CONNECT',
                             path: `${target.hostname}:${target.port}`});
tunnel.on('connect', (res, socket) => {
  https.get({host: target.hostname, port: target.port, path: target.pathname + target.search,
             socket, agent: false}, (answer) => {
    let body = '';
    answer.on('data', (chunk) => body += chunk);
    answer.on('end', () => { console.log(body); process.exit(0); });
  }).on('error', (e) => { console.error(e.code || e.message); process.exit(1); });
});
tunnel.on('error', (e) => { console.error(e.message); process.exit(1); });
tunnel.end();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_cert_lines_work_for_node(cli, confdir, forward, tls_upstream):
    text = cert_lines(cli, confdir, port_of(forward.url))
    (line,) = [line for line in text.splitlines() if line.strip().startswith("Node.js")]
    env = assignments(line, "node")
    assert set(env) == {"NODE_EXTRA_CA_CERTS"}
    assert f"NODE_USE_ENV_PROXY=1 HTTPS_PROXY={forward.url}" in text  # newer Node's fetch
    assert f"new ProxyAgent('{forward.url}')" in text  # Node 20's fetch
    target = tls_upstream.url + "/echo?client=node"
    done = subprocess.run(["node", "-e", NODE_HTTPS_THROUGH_CONNECT, forward.url, target],
                          env=client_env(**env), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["query"] == "client=node"
    assert [e.request.url for e in wait_for_entries(forward.store, 1)] == [target]
    refused = subprocess.run(["node", "-e", NODE_HTTPS_THROUGH_CONNECT, forward.url, target],
                             env=client_env(), capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and any(code in refused.stderr for code in (
        "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY")), refused.stderr


def test_listen_on_every_address_names_usable_ones(start_proxy, upstream):
    proxy = start_proxy("--upstream", upstream.url, "--listen-host", "0.0.0.0")
    banner = proxy.log.read_text()
    assert proxy.url.startswith("http://127.0.0.1:")
    assert f"point your client at {proxy.url}" in banner
    assert "http://0.0.0.0" not in banner
    assert "listening on every address (0.0.0.0): from this machine " in banner
    assert httpx.get(proxy.url + "/echo").status_code == 200


def test_the_banner_and_status_name_the_mock_and_its_tag(tmp_path, cli, start_proxy):
    """A tagged mock's banner names the mock and the tag; a mock URL with no upstream
    (the pytest fixture's, forwarding to a port nothing listens on) says so rather than
    "reverse proxy to http://127.0.0.1:9"; the admin API's status names the mock."""
    data = tmp_path / "data"
    cli("example", "add", "--collection", "shop", "GET", "/x", data_dir=data)
    assert cli("collection", "tag", "shop", "v1", data_dir=data).exit_code == 0
    created = cli("mock", "create", "shop-v1", "--collection", "shop", "--tag", "v1",
                  "--port", "0", data_dir=data)
    assert "http://127.0.0.1:0" not in created.stdout
    assert "a free port picked each time it starts" in created.stdout
    assert "(port picked at start)" in cli("mock", "list", data_dir=data).stdout
    assert cli("mock", "show", "shop-v1", "--json", data_dir=data).json["url"] is None
    proxy = start_proxy("shop-v1", "--upstream", "http://127.0.0.1:9", data_dir=data,
                        command="replay")
    banner = proxy.log.read_text()
    assert "serving mock shop-v1, collection shop at tag v1" in banner, banner
    assert "(reverse proxy, no upstream: a miss forwarded gets a 502; point your client at" \
        in banner and "http://127.0.0.1:9" not in banner, banner
    status = httpx.get(proxy.url + "/__mockrec/status").json()
    assert (status["mock"], status["collection"], status["tag"]) == ("shop-v1", "shop", "v1")
    # the admin API's unknown-criteria message names every field it takes
    count = httpx.post(proxy.url + "/__mockrec/calls/count", json={"nope": 1})
    assert count.status_code == 400
    assert "use method, path, status, matched, body_contains, headers, explain, limit" in \
        count.json()["error"]["message"]
    calls = httpx.get(proxy.url + "/__mockrec/calls?nope=1")
    assert calls.status_code == 400 and "headers, limit" in calls.json()["error"]["message"]
    proxy.stop()
