"""An example's answer against the live one: status, media type, then the body.

JSON bodies (both sides parse, and one side says JSON) are compared by shape, and by
value with `values`; so are streams of events (server-sent events, NDJSON), as the list
of their JSON data; any other body is equal or not, with both sizes said.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from recorder import encodings
from recorder.drift.shape import Change, json_changes
from recorder.models import ExampleResponse, Header, HttpRequest

NOT_JSON = object()


def media_type(headers: list[Header]) -> str | None:
    """`application/json` of `Content-Type: application/json; charset=utf-8`."""
    for name, value in headers:
        if name.lower() == "content-type":
            return value.partition(";")[0].strip().lower() or None
    return None


def says_json(media: str | None) -> bool:
    return media is not None and (media.endswith("/json") or media.endswith("+json"))


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return NOT_JSON


# Bodies that are a series of events or records: compared as the list of their JSON data.
EVENT_STREAMS = frozenset({"text/event-stream"})
LINE_STREAMS = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl",
                          "application/x-jsonlines", "application/json-seq"})


def sse_data(body: bytes) -> list[Any]:
    """The `data:` of each server-sent event, parsed as JSON where it is JSON (an
    OpenAI-style `[DONE]` stays a string)."""
    events = []
    text = body.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        lines = [line[5:].removeprefix(" ") for line in block.split("\n")
                 if line.startswith("data:")]
        if lines:
            data = "\n".join(lines)
            parsed = parse_json(data.encode())
            events.append(data if parsed is NOT_JSON else parsed)
    return events


def json_lines(body: bytes) -> list[Any] | None:
    """NDJSON / JSON Lines / json-seq records, or None if one is not JSON."""
    records = []
    for line in body.replace(b"\x1e", b"\n").splitlines():
        if line.strip():
            parsed = parse_json(line)
            if parsed is NOT_JSON:
                return None
            records.append(parsed)
    return records


def stream_changes(was: bytes, now: bytes, media: str, values: bool) -> list[Change] | None:
    """A stream's events compared as a list (`events[]`: their common shape), or None
    when it is no stream drift reads."""
    if media in EVENT_STREAMS:
        return json_changes(sse_data(was), sse_data(now), values, root="events")
    if media in LINE_STREAMS:
        old, new = json_lines(was), json_lines(now)
        if old is not None and new is not None:
            return json_changes(old, new, values, root="records")
    return None


def body_changes(was: bytes, now: bytes, *, json_said: bool, values: bool,
                 media: str | None = None) -> list[Change]:
    if media is not None and (found := stream_changes(was, now, media, values)) is not None:
        return found
    if json_said:
        old, new = parse_json(was), parse_json(now)
        if old is not NOT_JSON and new is not NOT_JSON:
            return json_changes(old, new, values)
    if was == now:
        return []
    return [Change("$", "body", len(was), len(now))]


def answer_changes(example: ExampleResponse, live: ExampleResponse, *, values: bool = False,
                   head: bool = False) -> list[Change]:
    """What differs between the example's answer and the live one (`head`: a HEAD
    request's, whose body says nothing)."""
    changes: list[Change] = []
    if example.status != live.status:
        changes.append(Change("status", "status", example.status, live.status))
    was_type, now_type = media_type(example.headers), media_type(live.headers)
    if was_type != now_type:
        changes.append(Change("content-type", "media-type", was_type, now_type))
    if not head:
        was, _ = encodings.decode(example.headers, example.body)
        now, _ = encodings.decode(live.headers, live.body)
        changes += body_changes(was, now, json_said=says_json(was_type) or says_json(now_type),
                                values=values, media=was_type if was_type == now_type else None)
    return changes


def as_served(example: ExampleResponse, request: HttpRequest,
              variables: dict[str, str]) -> ExampleResponse:
    """The example's answer as replay would serve it to `request`: a dynamic body
    (`{{$randomInt}}`, `{{$body 'id'}}`) filled, so that its shape is what clients see."""
    from recorder.serve.templating import fill, has_templates

    if not has_templates(example.body):
        return example
    from recorder.match.matcher import Incoming

    incoming = Incoming.from_target(request.method, request.path_and_query, request.headers,
                                    request.body or b"")
    body = fill(example.body, incoming, variables, content_type=media_type(example.headers) or "")
    return replace(example, body=body)
