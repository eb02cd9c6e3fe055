"""Collections on disk: readable files, one atomic write per change, damage reported."""

from __future__ import annotations

import json

import pytest

from recorder.errors import MockrecError, NotFound, StoreCorrupt
from recorder.models import Example, ExampleRequest, ExampleResponse, Request
from recorder.store.collection_store import CollectionStore


def add(c, store, method="GET", url="http://api.test/users/1", body=b'{"id": 1}', name="200 OK"):
    request = next((r for r in c.requests if (r.method, r.url) == (method, url)), None)
    if request is None:
        request = Request(len(c.requests) + 1, f"{method} {url}", method, url)
        c.requests.append(request)
    (example_id,) = store.new_example_ids(c, 1)
    request.examples.append(Example(
        example_id, name, ExampleRequest(method, url, [("Accept", "*/*")]),
        ExampleResponse(200, "OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")], body)))
    return example_id


@pytest.fixture
def store(tmp_path) -> CollectionStore:
    return CollectionStore(tmp_path)


def test_round_trip_is_exact_and_the_file_is_readable(store):
    with store.editing("api", create=True) as c:
        c.variables["baseUrl"] = "http://api.test"
        add(c, store, body=bytes(range(256)))
        add(c, store, body="naïve ✓".encode(), name="unicode")
    loaded = store.load("api")
    assert [e.response.body for e in loaded.examples] == [bytes(range(256)), "naïve ✓".encode()]
    assert loaded.examples[0].response.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert loaded.variables == {"baseUrl": "http://api.test"}
    text = store.path("api").read_text()
    assert '"naïve ✓"' in text and '"Set-Cookie: a=1"' in text
    assert text.startswith('{\n  "collection"')


def test_positions_and_faults_are_kept_and_a_file_without_them_reads_as_before(store):
    with store.editing("api", create=True) as c:
        first = add(c, store)
        second = add(c, store, name="again")
        c.requests[0].examples[0].sequence = 1
        c.requests[0].examples[1].sequence = 2
        c.requests[0].examples[1].fault = "slow-body:300"
        add(c, store, url="http://api.test/plain")
    loaded = store.load("api")
    assert [(e.id, e.sequence, e.fault) for e in loaded.examples] == [
        (first, 1, ""), (second, 2, "slow-body:300"), (second + 1, None, "")]
    doc = json.loads(store.path("api").read_text())["examples"]
    assert doc[str(first)]["sequence"] == 1 and doc[str(second)]["fault"] == "slow-body:300"
    assert "sequence" not in doc[str(second + 1)] and "fault" not in doc[str(second + 1)]


def test_a_bad_position_or_fault_skips_that_example_only(store, caplog):
    with store.editing("api", create=True) as c:
        add(c, store)
        add(c, store, name="two")
    doc = json.loads(store.path("api").read_text())
    first, second = sorted(doc["examples"], key=int)
    doc["examples"][first]["sequence"] = 0
    doc["examples"][second]["fault"] = "explode"
    store.path("api").write_text(json.dumps(doc))
    assert store.load("api").examples == []
    assert "not a position" in caplog.text and "not a fault" in caplog.text


def test_example_ids_are_unique_across_collections(store):
    with store.editing("a", create=True) as a:
        first = add(a, store)
    with store.editing("b", create=True) as b:
        second = add(b, store)
    assert (first, second) == (1, 2)
    collection, request, example = store.find_example(2)
    assert (collection.name, example.id) == ("b", 2)
    with pytest.raises(NotFound):
        store.find_example(3)


def test_an_error_inside_editing_writes_nothing(store):
    with store.editing("api", create=True) as c:
        add(c, store)
    before = store.path("api").read_bytes()
    with pytest.raises(RuntimeError), store.editing("api") as c:
        add(c, store)
        raise RuntimeError("boom")
    assert store.path("api").read_bytes() == before


def test_tags_freeze_the_collection(store):
    with store.editing("api", create=True) as c:
        add(c, store)
    store.tag("api", "v1")
    with store.editing("api") as c:
        add(c, store, url="http://api.test/new")
    assert len(store.load("api").examples) == 2
    assert len(store.load("api", "v1").examples) == 1
    assert [t.name for t in store.load("api").tags] == ["v1"]
    with pytest.raises(MockrecError, match="already has a tag"):
        store.tag("api", "v1")
    with pytest.raises(NotFound, match="no tag"):
        store.load("api", "v2")
    assert store.names() == ["api"]
    store.delete("api")
    assert store.names() == [] and not list(store.root.glob("api*"))


def test_hand_damaged_file_is_reported_with_its_line_and_kept(store):
    with store.editing("api", create=True) as c:
        add(c, store)
    path = store.path("api")
    path.write_text(path.read_text().replace('"examples": {', '"examples": {,', 1))
    damaged = path.read_text()
    with pytest.raises(StoreCorrupt, match=r"line \d+") as info:
        store.load("api")
    assert str(path) in str(info.value)
    with pytest.raises(StoreCorrupt), store.editing("api") as c:
        add(c, store)
    assert path.read_text() == damaged


def test_a_broken_example_is_skipped_and_the_rest_load(store, caplog):
    with store.editing("api", create=True) as c:
        add(c, store)
        add(c, store, name="second")
    doc = json.loads(store.path("api").read_text())
    doc["examples"]["1"]["response"]["status"] = "abc"
    store.path("api").write_text(json.dumps(doc))
    assert [e.name for e in store.load("api").examples] == ["second"]
    assert "example 1 skipped" in caplog.text


@pytest.mark.parametrize("name", ["../x", "a b", "", ".hidden", "x" * 101])
def test_bad_names(store, name):
    with pytest.raises(MockrecError, match="file name"):
        store.create(name)


def test_variables_of_a_wrong_shaped_file_say_it_is_damaged(store):
    with store.editing("api", create=True) as c:
        add(c, store)
    path = store.path("api")
    doc = json.loads(path.read_text())
    next(iter(doc["collection"].values()))["variables"] = "x"
    path.write_text(json.dumps(doc))
    with pytest.raises(StoreCorrupt, match="api.json is damaged"):
        store.variables("api")
