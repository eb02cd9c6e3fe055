"""recorder/drift/shape.py and compare.py: what changed between two answers, as pure functions."""

from __future__ import annotations

import gzip
import json

from recorder.drift.compare import answer_changes, media_type
from recorder.drift.shape import Change, json_changes, shape_of
from recorder.models import ExampleResponse


def kinds(changes: list[Change]) -> list[tuple[str, str, object, object]]:
    return [(c.path, c.kind, c.was, c.now) for c in changes]


def test_the_same_shape_with_other_values_is_no_change():
    was = {"id": 1, "name": "Ann", "tags": ["a"], "price": 9.5, "ok": True, "gone": None}
    now = {"id": 2, "name": "Bob", "tags": ["b", "c"], "price": 10, "ok": False, "gone": None}
    assert json_changes(was, now) == []


def test_an_id_number_becoming_a_string_is_a_type_change():
    assert kinds(json_changes({"id": 1}, {"id": "1"})) == [("$.id", "type", "number", "string")]


def test_fields_added_and_removed_at_any_depth():
    was = {"user": {"profile": {"email": "a@b", "age": 3}}}
    now = {"user": {"profile": {"age": 3, "phone": "1"}}}
    assert kinds(json_changes(was, now)) == [
        ("$.user.profile.email", "removed", "string", None),
        ("$.user.profile.phone", "added", None, "string"),
    ]


def test_array_items_are_compared_by_their_common_shape():
    was = [{"id": 1}, {"id": 2, "note": None}]
    # Fewer items, in another order: the same common shape, no change.
    assert json_changes(was, [{"id": 3, "note": None}]) == []
    # One item of many whose id is a string: the items' id is number|string now.
    now = [{"id": 1, "note": None}, {"id": "2"}]
    assert kinds(json_changes(was, now)) == [("$[].id", "type", "number", "number|string")]


def test_an_empty_array_says_nothing_about_its_items():
    assert json_changes({"items": [{"a": 1}]}, {"items": []}) == []
    assert json_changes({"items": []}, {"items": [1]}) == []


def test_a_type_change_at_the_root_and_odd_field_names():
    assert kinds(json_changes([1], {"a": 1})) == [("$", "type", "array", "object")]
    assert kinds(json_changes({"a b": 1}, {"a b": "x"})) == [('$["a b"]', "type", "number",
                                                             "string")]


def test_values_only_when_asked():
    was, now = {"price": 1, "items": [1, 2], "id": 1}, {"price": 2, "items": [1, 3, 4], "id": "1"}
    assert kinds(json_changes(was, now)) == [("$.id", "type", "number", "string")]
    assert kinds(json_changes(was, now, values=True)) == [
        ("$.id", "type", "number", "string"),
        ("$.items", "length", 2, 3),
        ("$.items[1]", "value", 2, 3),
        ("$.price", "value", 1, 2),
    ]


def test_a_deep_document_is_no_recursion_error():
    deep: object = 1
    for _ in range(5000):
        deep = {"a": [deep]}
    assert shape_of(deep).types == {"object"}
    assert json_changes(deep, deep, values=True) == []


def test_change_texts_say_what_changed():
    assert Change("$.id", "type", "number", "string").text() == "$.id number -> string"
    assert Change("$.x", "removed", "string").text() == "$.x removed (was string)"
    assert Change("$.y", "added", None, "object").text() == "$.y added (object)"
    assert Change("status", "status", 200, 500).text() == "status 200 -> 500"
    assert Change("$", "body", 10, 12).text() == "body differs (10 -> 12 bytes)"
    assert Change("$.n", "value", "Ann", "Bob").text() == '$.n "Ann" -> "Bob"'


def answer(body: object = None, status: int = 200, media: str | None = "application/json",
           raw: bytes | None = None, headers: list | None = None) -> ExampleResponse:
    head = [("Content-Type", media)] if media else []
    data = raw if raw is not None else json.dumps(body).encode()
    return ExampleResponse(status=status, headers=head + (headers or []), body=data)


def test_status_media_type_and_body_of_an_answer():
    was = answer({"id": 1})
    assert answer_changes(was, answer({"id": 2})) == []
    assert kinds(answer_changes(was, answer({"error": "x"}, 500, "text/html; charset=utf-8"))) \
        == [("status", "status", 200, 500),
            ("content-type", "media-type", "application/json", "text/html"),
            ("$.id", "removed", "number", None), ("$.error", "added", None, "string")]
    # charset is not the media type
    assert answer_changes(answer(media="application/json"),
                          answer(media="application/json; charset=utf-8")) == []


def test_other_bodies_are_equal_or_not_with_sizes():
    was = answer(raw=b"<p>hi</p>", media="text/html")
    assert answer_changes(was, answer(raw=b"<p>hi</p>", media="text/html")) == []
    assert kinds(answer_changes(was, answer(raw=b"<p>hello</p>", media="text/html"))) == [
        ("$", "body", 9, 12)]
    # JSON said but not JSON on one side: bytes
    assert kinds(answer_changes(answer({"a": 1}), answer(raw=b"oops"))) == [("$", "body", 8, 4)]


def test_a_compressed_live_answer_is_compared_decoded_and_head_has_no_body():
    live = answer(raw=gzip.compress(b'{"id": 3}'), headers=[("Content-Encoding", "gzip")])
    assert answer_changes(answer({"id": 1}), live) == []
    assert answer_changes(answer({"id": 1}), answer(raw=b""), head=True) == []


def test_media_type_reads_the_first_content_type():
    assert media_type([("content-TYPE", "Application/JSON ; charset=x")]) == "application/json"
    assert media_type([]) is None


def test_server_sent_events_are_compared_by_the_shape_of_their_data():
    was = (b'data: {"id": 1, "delta": {"content": "Hel"}}\n\n'
           b'event: done\r\ndata: {"id": 2, "delta": {"content": "lo"}}\r\n\r\n'
           b"data: [DONE]\n\n")
    same = (b'data: {"id": 7, "delta": {"content": "Other words"}}\n\n'
            b"data: [DONE]\n\n")
    moved = b'data: {"id": "7", "delta": {"text": "x"}}\n\ndata: [DONE]\n\n'
    sse = "text/event-stream"
    assert answer_changes(answer(raw=was, media=sse), answer(raw=same, media=sse)) == []
    assert kinds(answer_changes(answer(raw=was, media=sse), answer(raw=moved, media=sse))) == [
        ("events[].delta.content", "removed", "string", None),
        ("events[].delta.text", "added", None, "string"),
        ("events[].id", "type", "number", "string")]
    assert kinds(answer_changes(answer(raw=was, media=sse), answer(raw=same, media=sse),
                                values=True))[0] == ("events", "length", 3, 2)


def test_ndjson_records_are_compared_by_their_common_shape():
    nd = "application/x-ndjson"
    was = b'{"n": 1}\n{"n": 2, "tag": null}\n'
    now = b'{"n": 3, "tag": null}\n'
    assert answer_changes(answer(raw=was, media=nd), answer(raw=now, media=nd)) == []
    assert kinds(answer_changes(answer(raw=was, media=nd),
                                answer(raw=b'{"n": "3"}\n', media=nd))) == [
        ("records[].tag", "removed", "null", None), ("records[].n", "type", "number", "string")]
    # a line that is not JSON: the bodies are bytes
    assert kinds(answer_changes(answer(raw=was, media=nd), answer(raw=b"oops\n", media=nd))) \
        == [("$", "body", len(was), 5)]
