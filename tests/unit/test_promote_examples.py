"""Examples by hand and by form: the checks `example edit` makes, delete, add."""

from __future__ import annotations

import json
import re

import pytest

from recorder.errors import ExitStatus, MockrecError, NotFound
from recorder.models import Example, ExampleRequest, ExampleResponse, Request
from recorder.promote import examples
from recorder.store.collection_store import CollectionStore


@pytest.fixture
def store(tmp_path) -> CollectionStore:
    store = CollectionStore(tmp_path)
    with store.editing("shop", create=True) as c:
        c.requests.append(Request(1, "GET /users/1", "GET", "/users/1", examples=[
            Example(1, "200 OK", ExampleRequest("GET", "/users/1"),
                    ExampleResponse(200, "OK", [("Content-Type", "application/json")],
                                    b'{"id": 1}')),
            Example(2, "teapot", ExampleRequest("GET", "/users/1"),
                    ExampleResponse(418, "I'm a teapot", [], b"\x89PNG\x00binary"))]))
    return store


def document(store, example_id):
    _, request, example = store.find_example(example_id)
    return examples.example_document(example, request)


def test_a_form_edit_is_judged_as_an_example_edit(store):
    doc = document(store, 1)
    edited = examples.validate_edit(
        examples.edit_response(doc, " 201 ", "Content-Type: text/plain\r\n\r\nX-A: 1\n", "hi"),
        1)
    assert edited.response.status == 201 and edited.response.reason == "Created"
    assert edited.response.headers == [("Content-Type", "text/plain"), ("X-A", "1")]
    assert edited.response.body == b"hi"
    assert doc["response"]["status"] == 200  # the document itself is left alone
    for status, headers, message in [
        ("abc", "", "status 'abc' is not an HTTP status (100-599)"),
        ("99", "", "status 99 is not an HTTP status"),
        ("-1", "", "status '-1' is not an HTTP status"),
        ("200", "no colon here", "header 'no colon here' is not a 'Name: value' line"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            examples.validate_edit(examples.edit_response(doc, status, headers, None), 1)
    # The same text through the $EDITOR path says the same.
    with pytest.raises(ValueError, match="status 'abc' is not an HTTP status"):
        examples.parse_edit('{"name": "x", "originalRequest": {"method": "GET", "url": "/"},'
                            ' "response": {"status": "abc"}}', 1)


def test_a_hand_set_reason_is_kept_and_a_binary_body_is_kept_when_not_given(store):
    doc = document(store, 2)
    doc["response"]["reason"] = "Short and stout"
    edited = examples.validate_edit(examples.edit_response(doc, "200", "", None), 2)
    assert edited.response.reason == "Short and stout"
    assert edited.response.body == b"\x89PNG\x00binary"


def test_save_replaces_in_place_and_delete_takes_an_empty_request_along(store):
    edited = examples.validate_edit(
        examples.edit_response(document(store, 1), "202", "", "saved"), 1)
    examples.save_example(store, "shop", edited)
    assert store.find_example(1)[2].response.body == b"saved"
    assert [e.id for e in store.load("shop").examples] == [1, 2]
    with pytest.raises(NotFound):
        examples.save_example(store, "shop", Example(9, "x", edited.request, edited.response))
    assert examples.delete_example(store, 1, None) == "shop"
    assert examples.delete_example(store, 2, "shop") == "shop"
    assert store.load("shop").requests == []
    with pytest.raises(NotFound):
        examples.delete_example(store, 2, None)


def test_add_takes_bytes_as_they_are_and_text_with_at_as_a_file(store, tmp_path):
    (tmp_path / "body.json").write_text('{"from": "file"}')
    with store.editing("shop") as c:
        literal = examples.add_example(c, store, examples.NewExample("post", "orders", 201),
                                       [], b"@not-a-file")
        from_file = examples.add_example(c, store,
                                         examples.NewExample("GET", "/f", 200, name="file"),
                                         ["X-A: 1"], f"@{tmp_path / 'body.json'}")
        with pytest.raises(MockrecError, match="is not 'Name: value'"):
            examples.add_example(c, store, examples.NewExample("GET", "/f", 200), ["bad"], b"")
    assert literal.response.body == b"@not-a-file" and literal.request.url == "/orders"
    assert literal.request.method == "POST" and literal.name == "201 Created"
    assert from_file.response.body == b'{"from": "file"}'
    assert ("Content-Type", "application/json") in from_file.response.headers


# -- positions and faults through the CLI -------------------------------------------------

def test_bad_positions_and_faults_are_one_line_and_change_nothing(tmp_path, cli):
    data = tmp_path / "data"
    assert cli("example", "add", "--collection", "c", "GET", "/x", data_dir=data).exit_code == 0
    before = (data / "collections" / "c.json").read_bytes()
    for args in (["example", "add", "--collection", "c", "GET", "/y", "--sequence", "0"],
                 ["example", "add", "--collection", "c", "GET", "/y", "--fault", "boom"],
                 ["example", "edit", "1", "--fault", "slow-body:0"],
                 ["example", "edit", "1", "--sequence", "-2"]):
        code, _, err = cli(*args, data_dir=data)
        assert code == ExitStatus.USAGE and err.startswith("mockrec: error: "), args
        assert err.count("\n") == 1, args
    assert (data / "collections" / "c.json").read_bytes() == before


def test_reset_without_a_running_proxy_says_so(tmp_path, cli):
    code, _, err = cli("reset", data_dir=tmp_path / "data")
    assert code == 3 and "no running mockrec proxy" in err


def test_streams_by_hand_sse_file_show_edit_and_the_admin_document(tmp_path, cli, store):
    from recorder.promote.examples import add_example_document
    from recorder.streams import Stream

    data = tmp_path / "data"
    events = tmp_path / "events.txt"
    events.write_text('0 data: {"t": "Hi"}\n250 data: {"t": "!"}\n500 data: [DONE]\n')
    code, out, err = cli("example", "add", "--collection", "c", "POST", "/v1/chat",
                         "--sse", str(events), data_dir=data)
    assert code == 0, err
    shown = json.loads(cli("example", "show", "1", data_dir=data).stdout)
    assert "Content-Type: text/event-stream" in shown["response"]["headers"]
    assert shown["response"]["stream"]["parts"][1] == {"offset": 250,
                                                        "data": 'data: {"t": "!"}\n\n'}
    assert shown["response"]["body"]["text"].endswith("data: [DONE]\n\n")
    # a body that disagrees with the parts is refused, one line
    code, _, err = cli("example", "add", "--collection", "c", "GET", "/x", "--sse",
                       str(events), "--body", "x", data_dir=data)
    assert code == 2 and "exclude each other" in err
    events.write_text("300 data: a\n100 data: b\n")
    code, _, err = cli("example", "add", "--collection", "c", "GET", "/x", "--sse",
                       str(events), data_dir=data)
    assert code == 2 and "line 2: offset 100 ms is before" in err
    # the admin API's document takes parts with offsets
    store.create("api")
    example = add_example_document(store, "api", {
        "request": {"method": "GET", "url": "/feed"},
        "response": {"status": 200, "headers": ["Content-Type: application/x-ndjson"],
                     "stream": {"parts": [{"offset": 0, "data": "{}\n"},
                                          {"offset": 40, "data": "[]\n"}]}}})
    loaded = store.load("api").find_example(example.id)[1]
    assert loaded.response.body == b"{}\n[]\n"
    assert loaded.response.stream == Stream([(0, 3), (40, 3)])
    with pytest.raises(ValueError, match="response.body and response.stream differ"):
        add_example_document(store, "api", {
            "request": {"method": "GET", "url": "/feed"},
            "response": {"status": 200, "body": "other",
                         "stream": {"parts": [{"offset": 0, "data": "{}\n"}]}}})
