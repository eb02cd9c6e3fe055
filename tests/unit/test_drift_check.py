"""recorder/drift/check.py: the verdict on one example, given a live exchange."""

from __future__ import annotations

import json

from recorder.drift.check import judge
from recorder.drift.report import Verdict
from recorder.models import (
    Example,
    ExampleRequest,
    ExampleResponse,
    HistoryEntry,
    HttpRequest,
    HttpResponse,
    Timings,
)

JSON = [("Content-Type", "application/json")]


def example(body: bytes) -> Example:
    return Example(id=1, name="200 OK", request=ExampleRequest("GET", "{{baseUrl}}/a?q=x"),
                   response=ExampleResponse(200, "OK", JSON, body))


def live(body: object | None, method: str = "GET", error: str | None = None) -> HistoryEntry:
    response = None if body is None else HttpResponse(200, "OK", headers=JSON,
                                                      body=json.dumps(body).encode())
    return HistoryEntry(request=HttpRequest(method, "http://api.test/a?q=x"),
                        timings=Timings(start=1.0), response=response, error=error)


def test_a_dynamic_example_is_compared_as_replay_serves_it():
    dynamic = example(b'{"n": {{$randomInt}}, "id": "{{$guid}}", "q": "{{$queryParams \'q\'}}",'
                      b' "who": "{{user}}"}')
    answer = live({"n": 5, "id": "a-b", "q": "x", "who": "ann"})
    assert judge(dynamic, answer, values=False).verdict is Verdict.OK
    # the request's own query parameter and a variable fill it: equal values too
    found = judge(dynamic, answer, values=True, variables={"user": "ann"})
    assert [c.path for c in found.changes] == ["$.id", "$.n"]  # random ones differ


def test_failed_drifted_ok():
    assert judge(example(b'{"a": 1}'), live({"a": 2}), values=False).verdict is Verdict.OK
    drifted = judge(example(b'{"a": 1}'), live({"a": "1"}), values=False)
    assert drifted.verdict is Verdict.DRIFTED and drifted.changes[0].kind == "type"
    failed = judge(example(b'{"a": 1}'), live(None, error="ConnectError: refused"), values=False)
    assert (failed.verdict, failed.reason) == (Verdict.FAILED, "ConnectError: refused")
    head = judge(example(b'{"a": 1}'), live("", method="HEAD"), values=False)
    assert head.verdict is Verdict.OK  # a HEAD's body is not compared
