"""Imported HAR files, OpenAPI documents and Postman collections, served back by a real
`mockrec replay`: every example comes back for its own request. And an OpenAPI `$ref` to
a real local server is never fetched."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections import Counter
from urllib.parse import urlencode

import httpx
import pytest
from conftest import FIXTURES

from recorder.cli import main
from recorder.match.matcher import example_path_and_query, resolve
from recorder.models import Example
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore

HAR = FIXTURES / "har-mitmproxy-firefox.har"
OAI = FIXTURES / "openapi-oai-api-with-examples.yaml"
ADYEN = FIXTURES / "openapi-adyen-CheckoutService-v72.yaml"
FILES = {
    "adyen": "postman-adyen-CheckoutService-v72.postman_collection.json",
    "echo": "postman-echo-v2.0.0.postman_collection.json",
    "petstore": "postman-petstoreGeneratedCollection.postman_collection.json",
}


def test_a_browser_har_imports_promotes_and_replays(tmp_path, capsys, start_proxy):
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "import", "har", str(HAR)]) == 0
    assert "imported 14 entries" in capsys.readouterr().out
    entries = list(HistoryStore(data).entries(newest_first=False, with_bodies=True))
    assert [e.request.method for e in entries] == ["GET"] * 14
    assert sorted({e.response.status for e in entries}) == [200, 304]
    har = json.loads(HAR.read_text())["log"]["entries"]
    favicon = next(h for h in har if h["request"]["url"].endswith("favicon.ico"))
    icon = base64.b64decode(favicon["response"]["content"]["text"])
    assert next(e for e in entries if e.request.url.endswith("favicon.ico")).response.body == icon

    assert main(["--data-dir", str(data), "promote", "1-14", "--collection", "site"]) == 0
    proxy = start_proxy("site", "--upstream", "http://127.0.0.1:9", data_dir=data,
                        command="replay")
    assert httpx.get(proxy.url + "/favicon.ico").content == icon
    stats = httpx.get(proxy.url + "/snapshots.js")
    assert stats.status_code == 200 and stats.content


@pytest.mark.parametrize("doc", [OAI, ADYEN], ids=["oai", "adyen"])
def test_every_example_comes_back_for_its_own_request(doc, tmp_path, start_proxy):
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "import", "openapi", str(doc), "--collection",
                 "api"]) == 0
    c = CollectionStore(data).load("api")
    proxy = start_proxy("api", "--upstream", "http://127.0.0.1:9", data_dir=data,
                        command="replay")

    def target(example) -> str:
        path, _ = example_path_and_query(resolve(example.request.url, c.variables))
        return path.replace(":", "x-")  # any value fits a :param wildcard

    shared = Counter((e.request.method, target(e), e.response.status) for e in c.examples)
    with httpx.Client(base_url=proxy.url) as client:
        for e in c.examples:
            ask = {"x-mock-response-code": str(e.response.status)}
            if shared[(e.request.method, target(e), e.response.status)] > 1:
                ask = {"x-mock-response-id": str(e.id)}
            r = client.request(e.request.method, target(e), content=e.request.body,
                               headers={**dict(e.request.headers), **ask})
            assert r.status_code == e.response.status, (e.name, target(e))
            if b"{{" not in e.response.body:
                assert r.content == e.response.body, (e.name, target(e))


def _own_request(example: Example, variables: dict[str, str]) -> tuple[str, dict, bytes]:
    """The request a Postman user sends for the example: its variables filled in."""
    path, query = example_path_and_query(resolve(example.request.url, variables))
    target = path + ("?" + urlencode(query, safe="{}$:,<>%") if query else "")
    body = resolve(example.request.body.decode(), variables).encode()
    return target, dict(example.request.headers), body


@pytest.mark.parametrize("key", FILES)
def test_every_imported_example_comes_back_for_its_own_request(key, tmp_path, start_proxy):
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "import", "postman", str(FIXTURES / FILES[key]),
                 "--collection", key]) == 0
    collection = CollectionStore(data).load(key)
    proxy = start_proxy(key, "--upstream", "http://127.0.0.1:9", data_dir=data,
                        command="replay")
    # Examples that share method, path, query, body and status can only be told apart by
    # name or id (Postman's rule too); the others must come back from the request alone.
    shared = Counter((e.request.method, _own_request(e, collection.variables)[0],
                      e.request.body, e.response.status) for e in collection.examples)
    with httpx.Client(base_url=proxy.url) as client:
        for example in collection.examples:
            target, headers, body = _own_request(example, collection.variables)
            ask = {"x-mock-response-code": str(example.response.status)}
            if shared[(example.request.method, target, body, example.response.status)] > 1:
                ask = {"x-mock-response-id": str(example.id)}
            r = client.request(example.request.method, target, content=body,
                               headers={**{k: v for k, v in headers.items()
                                           if k.lower() not in ("content-length", "host")},
                                        **ask})
            assert r.status_code == example.response.status, (example.name, target)
            if b"{{" not in example.response.body:  # templates are filled per request
                assert r.content == example.response.body, (example.name, target)


def spec_with_example(ref: str) -> str:
    return ("openapi: 3.0.0\ninfo: {title: t}\npaths:\n  /a:\n    get:\n      responses:\n"
            "        '200':\n          description: ok\n          content:\n"
            "            application/json:\n"
            f"              example: {{$ref: '{ref}'}}\n")


@pytest.fixture
def refs_world(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    return tmp_path, spec_dir


def import_spec(capsys, spec, *extra) -> tuple[int, str]:
    code = main(["import", "openapi", str(spec), "--collection", "t", *extra])
    out, err = capsys.readouterr()
    return code, out + err


def test_network_refs_are_never_fetched(refs_world, capsys):
    home, spec_dir = refs_world
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"leaked": true}')

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = spec_dir / "api.yaml"
        spec.write_text(spec_with_example(f"http://127.0.0.1:{server.server_port}/x.json"))
        for extra in ((), ("--allow-refs", str(spec_dir)), ("--allow-refs", "/")):
            code, text = import_spec(capsys, spec, *extra)
            assert code != 0 and text.count("\n") == 1, text
        assert hits == []
    finally:
        server.shutdown()
