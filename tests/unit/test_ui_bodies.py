"""Bodies as the web UI shows them (recorder/ui/bodies.py)."""

from __future__ import annotations

import gzip
import json

from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.ui import bodies

JSON = [("Content-Type", "application/json; charset=utf-8")]


def test_json_is_indented_and_text_is_decoded_by_its_charset():
    view = bodies.present(JSON, b'{"a": [1, 2], "b": "\xc3\xa9"}')
    assert view.kind == "json" and view.text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "é"\n}'
    latin = bodies.present([("Content-Type", "text/plain; charset=iso-8859-1")],
                           "Grüße".encode("latin-1"))
    assert latin.kind == "text" and latin.text == "Grüße"
    # JSON without the header is still recognised; broken JSON stays text.
    assert bodies.present([], b"[1]").kind == "json"
    assert bodies.present(JSON, b'{"a": ').kind == "text"


def test_compressed_bodies_are_shown_decoded():
    data = b"hello " * 100
    view = bodies.present([("Content-Encoding", "gzip"), ("Content-Type", "text/plain")],
                          gzip.compress(data))
    assert view.text == data.decode() and view.coding == "gzip"
    assert view.size == len(data) and view.wire_size < len(data)


def test_large_bodies_are_cut_and_say_so():
    big = json.dumps([{"n": i} for i in range(100_000)]).encode()
    view = bodies.present(JSON, big)
    assert view.truncated and len(view.text) == bodies.SHOWN and view.size == len(big)
    small = bodies.present(JSON, b"{}")
    assert not small.truncated


def test_images_binary_and_empty():
    assert bodies.present([("Content-Type", "image/png")], b"\x89PNG...").kind == "image"
    binary = bodies.present([], bytes(range(256)) * 4)
    assert binary.kind == "binary" and binary.truncated
    assert binary.text.splitlines()[0].startswith("00000000  00 01 02")
    assert bodies.present([], b"").kind == "empty" and bodies.present([], None).kind == "empty"


def test_raw_bodies_get_a_type_that_cannot_run_in_the_page():
    assert bodies.raw([("Content-Type", "image/png")], b"png") == (b"png", "image/png", False)
    data, media, download = bodies.raw([("Content-Type", "text/html")], b"<script>x</script>")
    assert media == "text/plain; charset=utf-8" and not download
    assert bodies.raw([("Content-Type", "text/plain; charset=latin-1")], "é".encode("latin-1")
                      )[1] == "text/plain; charset=iso8859-1"
    assert bodies.raw([], b"\xff\xfe\x00") == (b"\xff\xfe\x00", "application/octet-stream", True)


def call(status: int, body: bytes) -> HistoryEntry:
    return HistoryEntry(HttpRequest("GET", "http://m.test/x"), Timings(1.0),
                        HttpResponse(status, headers=JSON, body=body))


def test_why_a_404_matched_nothing():
    details = [{"id": 3, "name": "200 OK", "request": "GET /users/:id", "step": "path",
                "reason": "path /users/1 does not fit /x"}]
    body = json.dumps({"error": {"name": "mockRequestNotFoundError", "message": "no example",
                                 "details": details}}).encode()
    assert bodies.not_found_details(call(404, body)) == {"message": "no example",
                                                         "details": details}
    assert bodies.not_found_details(call(200, body)) is None
    assert bodies.not_found_details(call(404, b'{"error": {"name": "other"}}')) is None
    assert bodies.not_found_details(call(404, b"not json")) is None
