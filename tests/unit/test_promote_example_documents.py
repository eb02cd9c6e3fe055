"""An example given as a document (the admin API's POST /__mockrec/examples): `example
add`'s defaults, validation that changes nothing, delete."""

from __future__ import annotations

import pytest

from recorder.promote.examples import add_example_document, delete_example, example_document
from recorder.store.collection_store import CollectionStore


@pytest.fixture
def store(tmp_path) -> CollectionStore:
    store = CollectionStore(tmp_path)
    store.create("shop")
    return store


def test_the_least_document_gets_example_adds_defaults(store):
    example = add_example_document(store, "shop", {
        "request": {"method": "post", "url": "orders"}, "response": {"status": 201,
                                                                      "body": '{"ok": 1}'}})
    owner, request, saved = store.find_example(example.id)
    assert (request.name, request.method, request.url) == ("POST /orders", "POST", "/orders")
    assert (saved.name, saved.response.reason) == ("201 Created", "Created")
    assert saved.response.headers == [("Content-Type", "application/json")]
    assert saved.response.body == b'{"ok": 1}'


def test_the_full_document_round_trips(store):
    first = add_example_document(store, "shop", {
        "request": {"method": "GET", "url": "/img"}, "response": {"status": 200}})
    _, request, example = store.find_example(first.id)
    shown = example_document(example, request)
    shown["response"]["body"] = {"base64": "AAEC/w=="}
    shown["response"]["headers"] = ["Content-Type: image/png", "X-A: 1"]
    shown["originalRequest"]["headers"] = ["Accept: image/png"]
    shown["name"] = "tiny"
    second = add_example_document(store, "shop", shown)
    _, request2, copy = store.find_example(second.id)
    assert request2 is not None and request2.url == "/img"  # same request, a second example
    assert copy.id != first.id and copy.name == "tiny"
    assert copy.response.body == b"\x00\x01\x02\xff"
    assert copy.response.headers == [("Content-Type", "image/png"), ("X-A", "1")]
    assert copy.request.headers == [("Accept", "image/png")]
    assert len(store.load("shop").requests) == 1


@pytest.mark.parametrize("doc", [
    None, [], {"request": {"method": "GET", "url": "/x"}},
    {"request": {"url": "/x"}, "response": {"status": 200}},
    {"request": {"method": "GET"}, "response": {"status": 200}},
    {"request": {"method": "GET", "url": "/x"}, "response": {"status": "200"}},
    {"request": {"method": "GET", "url": "/x"}, "response": {"status": 99}},
    {"request": {"method": "GET", "url": "/x"}, "response": {"status": 200, "headers": [1]}},
    {"request": {"method": "GET", "url": "/x"}, "response": {"status": 200, "body": 5}},
    {"request": {"method": "GET", "url": "/x"}, "response": {"status": 200},
     "name": ["x"]},
    # a header with a line break would put a header of its own in every answer
    {"request": {"method": "GET", "url": "/x"},
     "response": {"status": 200, "headers": ["X-A: 1\r\nSet-Cookie: sid=evil"]}},
    {"request": {"method": "GET", "url": "/x"},
     "response": {"status": 200, "headers": {"X-A": "1\nSet-Cookie: sid=evil"}}},
    {"request": {"method": "GET", "url": "/x"},
     "response": {"status": 200, "headers": {"X-A\rSet-Cookie": "sid=evil"}}},
    {"request": {"method": "GET", "url": "/x"},
     "response": {"status": 200, "headers": ["X-A: 1\u0000"]}},
    {"request": {"method": "GET", "url": "/x"}, "response": {"status": 200},
     "originalRequest": {"headers": ["Accept: a\rb"]}},
])
def test_bad_documents_change_nothing(store, doc):
    before = store.path("shop").read_bytes()
    with pytest.raises(ValueError):
        add_example_document(store, "shop", doc)
    assert store.path("shop").read_bytes() == before


def test_delete_takes_an_empty_request_along(store):
    example = add_example_document(store, "shop", {
        "request": {"method": "GET", "url": "/x"}, "response": {"status": 200}})
    assert delete_example(store, example.id, "shop") == "shop"
    assert store.load("shop").requests == []
