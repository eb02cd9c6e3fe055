"""Postman collections in and out, with the real public collections in tests/fixtures."""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from conftest import FIXTURES

from recorder.cli import main
from recorder.interop import postman
from recorder.match.matcher import Incoming, Matcher, resolve
from recorder.models import Collection, Example, ExampleRequest, ExampleResponse, Request
from recorder.store.collection_store import CollectionStore

FILES = {
    "adyen": "postman-adyen-CheckoutService-v72.postman_collection.json",
    "echo": "postman-echo-v2.0.0.postman_collection.json",
    "petstore": "postman-petstoreGeneratedCollection.postman_collection.json",
}
COUNTS = {"adyen": (59, 51), "echo": (23, 11), "petstore": (4, 7)}


def ids_from(start: int = 1):
    counter = iter(range(start, 100_000))
    return lambda n: [next(counter) for _ in range(n)]


@pytest.mark.parametrize("key", FILES)
def test_real_collections_import_with_every_example(key):
    doc = postman.load(FIXTURES / FILES[key])
    c, summary = postman.to_collection(doc, key, ids_from())
    assert (summary.requests, summary.examples) == COUNTS[key]
    assert len({e.id for e in c.examples}) == COUNTS[key][1]


def test_what_the_import_keeps():
    adyen, _ = postman.to_collection(postman.load(FIXTURES / FILES["adyen"]), "a", ids_from())
    assert adyen.variables["baseUrl"] == "https://checkout-test.adyen.com/v72"
    donations = [r for r in adyen.requests if r.url == "{{baseUrl}}/donations"]
    assert [200, 422] in [sorted(e.response.status for e in r.examples) for r in donations]
    assert all(r.folder.count(" / ") == 1 for r in adyen.requests)  # two folders deep
    assert any(r.url == "{{baseUrl}}/payments/:paymentPspReference/captures"
               for r in adyen.requests)

    echo, summary = postman.to_collection(postman.load(FIXTURES / FILES["echo"]), "e",
                                          ids_from())
    gzipped = [e for e in echo.examples if e.response.status == 200][0]
    names = {k.lower() for k, _ in gzipped.response.headers}
    assert "content-encoding" not in names and "content-length" not in names
    assert summary.ignored["event"] == 23
    assert any(e.response.body == b"Unauthorized" for e in echo.examples)

    pets, _ = postman.to_collection(postman.load(FIXTURES / FILES["petstore"]), "p", ids_from())
    created = next(e for e in pets.examples if e.response.status == 201)
    assert created.response.body == b"" and ("Content-Type", "text/plain") in \
        created.response.headers
    listing = next(e for e in pets.examples if e.response.status == 200
                   and "/pets?" in e.request.url)
    assert "variable=Hola Mundo,Hola Mundo" in listing.request.url  # no `raw`: built


def sample() -> Collection:
    c = Collection("s", variables={"baseUrl": "http://api.test"})
    c.requests = [
        Request(1, "Get user", "GET", "{{baseUrl}}/users/:id", folder="Users / Read", examples=[
            Example(1, "ok", ExampleRequest("GET", "{{baseUrl}}/users/7?full=1",
                                            [("Accept", "application/json")]),
                    ExampleResponse(200, "OK", [("Content-Type", "application/json"),
                                                ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
                                    b'{"id": 7}'), sequence=1),
            Example(2, "binary", ExampleRequest("GET", "{{baseUrl}}/users/8"),
                    ExampleResponse(200, "OK", [("Content-Type", "image/png")],
                                    bytes(range(256))), sequence=2)]),
        Request(2, "Create", "POST", "http://api.test/users", examples=[
            Example(3, "made", ExampleRequest("POST", "http://api.test/users",
                                              [("Content-Type", "application/json")],
                                              b'{"name": "Ada"}'),
                    ExampleResponse(201, "Created", [], b""), fault="slow-body:250")]),
    ]
    return c


def modelled(c: Collection) -> Collection:
    """`c` without what its Postman file kept for export (recorder/interop/kept.py)."""
    c = copy.deepcopy(c)
    c.postman = {}
    for r in c.requests:
        r.postman = None
        for e in r.examples:
            e.postman = None
    return c


def test_export_then_import_is_lossless_for_what_mockrec_models():
    original = sample()
    exported = postman.from_collection(original)
    assert exported["info"]["schema"].endswith("v2.1.0/collection.json")
    back, _ = postman.to_collection(json.loads(json.dumps(exported)), "s", ids_from())
    assert modelled(back) == original
    # positions and faults travel in fields Postman ignores
    first = exported["item"][0]["item"][0]["item"][0]["response"]
    assert [e["_mockrec_sequence"] for e in first] == [1, 2]
    assert exported["item"][1]["response"][0]["_mockrec_fault"] == "slow-body:250"


@pytest.mark.parametrize("field, value, message", [
    ("_mockrec_sequence", 0, "not a position"), ("_mockrec_sequence", "2", "not a position"),
    ("_mockrec_fault", "boom", "not a fault")])
def test_a_bad_position_or_fault_is_refused_with_its_place(field, value, message):
    exported = postman.from_collection(sample())
    exported["item"][1]["response"][0][field] = value
    with pytest.raises(postman.PostmanError, match=rf"item\[1\]\.response\[0\]\.{field}.*"
                                                    + message):
        postman.to_collection(exported, "s", ids_from())


@pytest.mark.parametrize("key", FILES)
def test_real_collections_survive_export_and_import(key):
    first, _ = postman.to_collection(postman.load(FIXTURES / FILES[key]), key, ids_from())
    again, _ = postman.to_collection(postman.from_collection(first), key, ids_from())
    assert again == first


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON (line 1"),
    (b'{"info": {}}', "not a Postman collection"),
    (b'{"info": {}, "item": [{"name": "x", "request": 5}]}', "item[0].request: expected dict"),
    (b'{"info": {}, "item": [{"name": "x", "request": {"url": "/a"}, "response": '
     b'[{"code": "two hundred"}]}]}', "item[0].response[0].code"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"info": {}, "item": [{"name": "x", "request": {"url": "/a"}, "response": [{"body": "'
     + b"x" * (100 * 2**20) + b'"}]}]}', "item[0].response[0].body: 100 MB is over the 64 MB"),
    ((FIXTURES / FILES["adyen"]).read_bytes()[:150_000], "not valid JSON"),  # truncated
    # odd encodings (issue 26): a lone surrogate no output can print, a file not in UTF-8
    (b'{"info": {"name": "a\\ud800b"}, "item": []}', "info.name: a lone surrogate"),
    (b'{"info": {}, "item": [{"name": "x", "request": {"url": "/a"}, "response": [{"name": '
     b'"ok \\udcff", "code": 200}]}]}', "item[0].response[0].name: a lone surrogate"),
    (b'{"info": {}, "item": [{"name": "\\ud83d\\ude00 fine", "request": {"url": '
     b'"/\\ude00"}}]}', "item[0].request.url: a lone surrogate"),
    ('{"info": {"name": "Café"}, "item": []}'.encode("latin-1"),
     "not UTF-8 (byte 0xe9 at offset 22)"),
    # a line break in a header would be a second header in every answer (issue 26)
    (b'{"info": {}, "item": [{"name": "x", "request": {"url": "/a"}, "response": [{"code": '
     b'200, "header": [{"key": "X-A", "value": "1\\r\\nSet-Cookie: sid=evil"}]}]}]}',
     "item[0].response[0].header[0]: header X-A's value has a line break"),
    (b'{"info": {}, "item": [{"name": "x", "request": {"url": "/a"}, "response": [{"code": '
     b'200, "originalRequest": {"url": "/a", "header": [{"key": "X-A\\nSet-Cookie", '
     b'"value": "1"}]}}]}]}',
     "item[0].response[0].originalRequest.header[0]: header name 'X-A\\nSet-Cookie' has "
     "a line break"),
])
def test_hostile_files_are_refused_with_the_place_and_nothing_is_written(
        tmp_path, capsys, monkeypatch, content, message):
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code = main(["import", "postman", str(bad)])
    err = capsys.readouterr().err
    assert code != 0 and message in err and str(bad) in err and err.count("\n") == 1
    assert not list((tmp_path / "data").glob("collections/*.json"))


def test_cli_import_export_round_trip(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    assert main(["import", "postman", str(FIXTURES / FILES["petstore"])]) == 0
    out = capsys.readouterr().out
    assert "as collection Swagger-Petstore: 4 requests, 7 examples" in out
    assert main(["import", "postman", str(FIXTURES / FILES["petstore"])]) != 0  # exists
    capsys.readouterr()
    target = tmp_path / "out.json"
    assert main(["export", "postman", "Swagger-Petstore", "-o", str(target)]) == 0
    assert main(["import", "postman", str(target), "--collection", "again"]) == 0
    store = CollectionStore(tmp_path / "data")
    first, again = store.load("Swagger-Petstore"), store.load("again")
    assert [(r.name, r.url, [e.response.body for e in r.examples]) for r in first.requests] == \
        [(r.name, r.url, [e.response.body for e in r.examples]) for r in again.requests]


# -- Postman fidelity with the real collections: request in, example chosen out --------------

def imported(key: str, start: int = 1) -> Collection:
    return postman.to_collection(postman.load(FIXTURES / FILES[key]), key, ids_from(start))[0]


def choose(matcher: Matcher, method: str, target: str, headers=(), body=b"") -> Example | None:
    outcome = matcher.match(Incoming.from_target(method, target, list(headers), body))
    return outcome.match.example if outcome.match else None


ADYEN_ENV = {"YOUR_MERCHANT_ACCOUNT": "TestMerchant", "X-API-Key": "test_key"}


def postman_sends(example: Example, variables: dict[str, str]) -> bytes:
    """The body Postman sends for an example: variables resolved, `{{$guid}}` generated."""
    text = example.request.body.decode().replace("{{$guid}}", str(uuid.uuid4()))
    return resolve(text, variables).encode()


def adyen_payments(collection: Collection) -> list[Example]:
    return [e for e in collection.examples
            if e.request.method == "POST" and e.request.url == "{{baseUrl}}/payments"]


def test_adyen_payments_are_found_by_their_request_bodies():
    """Adyen's collection saves its bodies with `{{$guid}}` and `{{YOUR_MERCHANT_ACCOUNT}}`;
    imported with an environment setting its variables, each POST /payments example is
    found by the body a Postman user sends for it."""
    adyen = imported("adyen")
    matcher = Matcher(adyen, ADYEN_ENV)
    payments = adyen_payments(adyen)
    assert len(payments) == 10
    assert all(e.request.language == "json" for e in payments)
    found = [choose(matcher, "POST", "/v72/payments",
                    [("Content-Type", "application/json"), ("x-mock-match-request-body", "true")],
                    postman_sends(e, {**adyen.variables, **ADYEN_ENV})) for e in payments]
    assert sum(f is not None and f.id == e.id for f, e in zip(found, payments, strict=True)) >= 9
    # another merchant account is not any of them
    other = postman_sends(payments[0], {**adyen.variables, "YOUR_MERCHANT_ACCOUNT": "Other"})
    assert choose(matcher, "POST", "/v72/payments",
                  [("Content-Type", "application/json"), ("x-mock-match-request-body", "true")],
                  other) is None


PETS_500 = "fa7b67e0-1762-4ba7-a41d-709755ec9f0a"
PETS_201 = "48049d1c-026c-402d-8a96-bc60c7555336"


@pytest.mark.parametrize("headers, chosen", [
    ([("x-mock-response-id", PETS_500)], PETS_500),  # the id in the Postman file
    ([("x-mock-response-id", f"8812345-{PETS_500}")], PETS_500),  # its UID form
    ([("x-mock-response-id", "4")], PETS_500),  # mockrec's id of it
    ([("x-mock-response-code", "201"), ("x-mock-response-id", PETS_500)], None),
    ([("x-mock-response-id", "d714dc3e-4759-4e5b-88e3-c0a65cb1769b")], None),  # a GET one
    ([], PETS_201),  # 201 and 500 tie, no 200: the first by Postman's id
    ([("x-mock-response-name", "unexpected error")], PETS_500),
])
def test_petstore_example_ids(headers, chosen):
    pets = imported("petstore")
    assert {e.postman_id for e in pets.examples} >= {PETS_201, PETS_500}
    assert next(e.id for e in pets.examples if e.postman_id == PETS_500) == 4
    picked = choose(Matcher(pets), "POST", "/v1/pets", headers)
    assert (picked.postman_id if picked else None) == chosen


def test_ties_follow_postmans_ids_not_the_files_order():
    doc = postman.load(FIXTURES / FILES["petstore"])
    create = next(item for item in doc["item"][0]["item"] if item["name"] == "Create a pet")
    create["response"].reverse()  # the 500 now comes first, and gets the lower mockrec id
    pets, _ = postman.to_collection(doc, "p", ids_from())
    errors = [e for e in pets.examples if e.postman_id == PETS_500]
    created = [e for e in pets.examples if e.postman_id == PETS_201]
    assert errors[0].id < created[0].id
    assert choose(Matcher(pets), "POST", "/v1/pets").postman_id == PETS_201


@pytest.mark.parametrize("headers, status", [
    ([], 200),  # 200 and 401 tie: the 200
    ([("x-mock-response-code", "401")], 401),
    ([("x-mock-response-name", "401")], 401),
    ([("x-mock-response-code", "401"), ("x-mock-response-name", "200")], None),
    ([("x-mock-response-code", "404")], None),
])
def test_postman_echo_basic_auth(headers, status):
    picked = choose(Matcher(imported("echo")), "GET", "/basic-auth", headers)
    assert (picked.response.status if picked else None) == status


def exported_examples(doc: dict) -> list[dict]:
    def walk(items: list[dict]):
        for item in items:
            yield from walk(item["item"]) if "item" in item else item["response"]
    return list(walk(doc["item"]))


def test_postman_ids_and_body_languages_are_exported_back():
    ids = [r.get("id") for r in exported_examples(postman.from_collection(imported("petstore")))]
    assert PETS_500 in ids and PETS_201 in ids and None not in ids
    payment = next(r for r in exported_examples(postman.from_collection(imported("adyen")))
                   if r["originalRequest"]["url"]["raw"] == "{{baseUrl}}/payments")
    assert payment["originalRequest"]["body"]["options"] == {"raw": {"language": "json"}}
    # promoted examples have no Postman id, and export invents none
    assert all("id" not in r for r in exported_examples(postman.from_collection(sample())))


GRAPHQL_DOC = {
    "info": {"name": "gql", "schema": postman.SCHEMA_21},
    "item": [{"name": "User", "request": {"method": "POST", "url": "{{baseUrl}}/graphql"},
              "response": [{
                  "id": "5b2e0f3a-user", "name": "user", "code": 200, "status": "OK",
                  "body": '{"data": {"user": {"name": "Ada"}}}',
                  "originalRequest": {
                      "method": "POST", "url": "{{baseUrl}}/graphql",
                      "header": [],
                      "body": {"mode": "graphql", "graphql": {
                          "query": "query User($id: ID!) {\n  user(id: $id) { name }\n}",
                          "variables": '{\n  "id": {{userId}}\n}'}}}}]}],
}


def test_graphql_bodies_are_kept_matched_and_exported_as_graphql():
    c, _ = postman.to_collection(json.loads(json.dumps(GRAPHQL_DOC)), "gql", ids_from())
    example = c.examples[0]
    assert example.request.language == "graphql" and example.postman_id == "5b2e0f3a-user"
    assert json.loads(example.request.body.replace(b"{{userId}}", b"7")) == {
        "query": "query User($id: ID!) {\n  user(id: $id) { name }\n}", "variables": {"id": 7}}
    matcher = Matcher(c)
    sent = json.dumps({"query": "query User($id: ID!) { user(id: $id) { name } }",
                       "variables": {"id": 42}, "operationName": "User"}).encode()
    body_on = [("Content-Type", "application/json"), ("x-mock-match-request-body", "true")]
    assert choose(matcher, "POST", "/graphql", body_on, sent) is example
    assert choose(matcher, "POST", "/graphql", body_on, b'{"query": "{ me { id } }"}') is None
    exported = postman.from_collection(c)
    original = exported["item"][0]["response"][0]["originalRequest"]
    assert original["body"] == {"mode": "graphql", "graphql": GRAPHQL_DOC["item"][0][
        "response"][0]["originalRequest"]["body"]["graphql"]}
    again, _ = postman.to_collection(json.loads(json.dumps(exported)), "gql", ids_from())
    assert again == c


def test_ids_and_languages_survive_the_collection_file(tmp_path):
    store = CollectionStore(tmp_path)
    with store.editing("gql", create=True) as c:
        loaded, _ = postman.to_collection(json.loads(json.dumps(GRAPHQL_DOC)), "gql",
                                          lambda n: store.new_example_ids(c, n))
        c.requests, c.variables = loaded.requests, loaded.variables
    back = store.load("gql")
    assert back.examples == loaded.examples
    assert back.examples[0].postman_id == "5b2e0f3a-user"
    assert back.examples[0].request.language == "graphql"


def test_a_stream_travels_in_mockrec_stream_with_the_whole_body_as_the_body():
    from recorder.streams import Stream

    original = sample()
    body, stream = Stream.of_pieces([(0, b"data: 1\n\n"), (300, b"data: 2\n\n")])
    original.requests[1].examples[0].response = ExampleResponse(
        200, "OK", [("Content-Type", "text/event-stream")], body, stream=stream)
    exported = json.loads(json.dumps(postman.from_collection(original)))
    shown = exported["item"][1]["response"][0]
    assert shown["body"] == "data: 1\n\ndata: 2\n\n"
    assert shown["_mockrec_stream"]["parts"][1] == {"offset": 300, "data": "data: 2\n\n"}
    back, _ = postman.to_collection(exported, "s", ids_from())
    assert modelled(back) == original
    shown["body"] = "edited in Postman"  # the edit wins, answered whole
    edited, _ = postman.to_collection(exported, "s", ids_from())
    assert edited.requests[1].examples[0].response.stream is None
    shown["_mockrec_stream"] = {"parts": [{"offset": 3}]}
    with pytest.raises(postman.PostmanError, match=r"response\[0\]\._mockrec_stream: "):
        postman.to_collection(exported, "s", ids_from())
