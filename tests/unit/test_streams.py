"""Streamed bodies: the one shape of parts with offsets, the tap that records them."""

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from addons.record import entry_from_flow, tap_stream
from recorder.streams import Stream, Tap, is_stream, sse_pieces

SSE = b'data: {"a": 1}\n\ndata: {"a": 2}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("content_type, length, chunked, expected", [
    ("text/event-stream; charset=utf-8", None, True, True),
    ("application/x-ndjson", "30", False, True),  # the type says so, length or not
    ("application/stream+json", None, False, True),
    ("application/jsonl", "12", False, True),
    ("application/json", None, True, True),  # in parts of unknown length
    ("application/json", "12", False, False),
    ("text/html", None, False, True),  # HTTP/2 without a length
])
def test_what_streams(content_type, length, chunked, expected):
    assert is_stream(content_type, length, chunked) is expected


def test_the_tap_passes_each_part_and_keeps_offsets_up_to_the_limit():
    now = [100.0]
    tap = Tap(limit=10, clock=lambda: now[0])
    assert tap(b"abcd") == b"abcd"
    now[0] += 0.3
    assert tap(b"efghijkl") == b"efghijkl"  # passes whole, kept in part
    now[0] += 0.3
    assert tap(b"mn") == b"mn"  # passes, not kept
    assert tap(b"") == b""
    assert (bytes(tap.kept), tap.parts, tap.passed) == (b"abcdefghij", [(0, 4), (300, 6)], 14)
    assert tap.truncated and tap.stream(cut=False) == Stream([(0, 4), (300, 6)], False)


def test_a_tap_that_never_saw_the_end_is_cut():
    tap = Tap()
    tap(b"data: 1\n\n")
    assert tap.stream(cut=False).cut is True


def test_both_written_forms_round_trip():
    body, stream = Stream.of_pieces([(0, b"data: 1\n\n"), (250, b"\xff\xfe")], cut=True)
    assert Stream.from_doc(stream.doc(), len(body)) == stream
    doc = stream.pieces_doc(body)
    assert doc["parts"] == [{"offset": 0, "data": "data: 1\n\n"},
                            {"offset": 250, "base64": "//4="}]
    assert Stream.from_pieces_doc(doc) == (body, stream)


@pytest.mark.parametrize("doc, message", [
    ({"parts": [[0, 3], [10, "x"]]}, "is not [offset_ms, size]"),
    ({"parts": [[10, 3], [0, 3]]}, "must not go down"),
    ({"parts": [[0, 3]]}, "hold 3 bytes, the body 4"),
    ([], "is not {"),
])
def test_a_bad_compact_stream_says_what_is_wrong(doc, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("{", r"\{")):
        Stream.from_doc(doc, 4)


def test_a_bad_stream_with_data_says_what_is_wrong():
    with pytest.raises(ValueError, match="has no \"data\""):
        Stream.from_pieces_doc({"parts": [{"offset": 1}]})
    with pytest.raises(ValueError, match="must not go down"):
        Stream.from_pieces_doc({"parts": [{"offset": 5, "data": "a"}, {"offset": 1, "data": "b"}]})


def test_sse_events_carry_the_offset_of_the_part_that_completed_them():
    # Two events in the first part, the third split over two parts.
    stream = Stream([(0, 32), (120, 8), (300, 6)])
    events = stream.events(SSE, "text/event-stream")
    assert events == [(0, b'data: {"a": 1}\n\n'), (0, b'data: {"a": 2}\n\n'),
                      (300, b"data: [DONE]\n\n")]
    ndjson = b'{"a": 1}\n{"a": 2}\n'
    assert Stream([(0, 9), (40, 9)]).events(ndjson, "application/x-ndjson") == [
        (0, b'{"a": 1}\n'), (40, b'{"a": 2}\n')]
    assert Stream([(0, 2), (5, 1)]).events(b"abc", "application/octet-stream") == [
        (0, b"ab"), (5, b"c")]


def test_sse_file_lines_with_and_without_offsets():
    assert sse_pieces('0 data: {"t": "Hi"}\n\n300\tevent: end\\ndata: x\ndata: y\n') == [
        (0, b'data: {"t": "Hi"}\n\n'), (300, b"event: end\ndata: x\n\n"), (300, b"data: y\n\n")]
    with pytest.raises(ValueError, match="line 2: offset 10 ms is before"):
        sse_pieces("50 data: a\n10 data: b\n")
    with pytest.raises(ValueError, match="no events"):
        sse_pieces("\n")


def streaming_flow(content_type: str = "text/event-stream") -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.response.headers = http.Headers(content_type=content_type,
                                         transfer_encoding="chunked")
    flow.response.content = None
    return flow


def test_the_call_logs_max_body_cuts_a_tapped_stream_and_its_parts():
    flow = streaming_flow()
    tap_stream(flow)
    for part in (SSE[:16], SSE[16:32], b""):
        flow.response.stream(part)
    from recorder.capture import Capture
    entry = Capture.from_flow(flow, max_body=20).to_entry()
    assert entry.response.body == SSE[:20]
    assert entry.response.stream.parts[1][1] == 4
    assert entry_from_flow(flow).response.body == SSE[:32]
