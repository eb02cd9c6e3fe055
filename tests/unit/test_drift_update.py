"""recorder/drift/update.py: the live answer written as promote would keep it."""

from __future__ import annotations

import gzip

from recorder.drift.report import Result, Verdict
from recorder.drift.shape import Change
from recorder.drift.update import new_response, preview, write_updates
from recorder.models import (
    Example,
    ExampleRequest,
    ExampleResponse,
    HistoryEntry,
    HttpRequest,
    HttpResponse,
    Request,
    Timings,
)
from recorder.store.collection_store import CollectionStore

SECRET = "s3cret-t0ken-42"


def live_exchange(body: bytes, headers: list) -> HistoryEntry:
    return HistoryEntry(
        request=HttpRequest("GET", "http://api.test/me?api_key=k-123456",
                            headers=[("Authorization", f"Bearer {SECRET}")]),
        timings=Timings(start=1.0),
        response=HttpResponse(500, "Internal Server Error", headers=headers, body=body,
                              body_size=len(body)))


def stale_example() -> Example:
    return Example(id=4, name="my name", sequence=2, fault="slow-body:10",
                   request=ExampleRequest("GET", "{{baseUrl}}/me?api_key={{REDACTED}}",
                                          [("Authorization", "Bearer {{REDACTED}}")]),
                   response=ExampleResponse(200, "OK", [("Content-Type", "application/json")],
                                            b'{"user": 1}'))


def test_the_live_answer_is_kept_as_promote_keeps_it():
    body = gzip.compress(f'{{"token": "{SECRET}", "user": "1"}}'.encode())
    live = live_exchange(body, [("Content-Type", "application/json"),
                                ("Content-Encoding", "gzip"), ("Date", "today"),
                                ("Set-Cookie", "sid=abc; Path=/")])
    result = Result(stale_example(), Verdict.DRIFTED, [Change("status", "status", 200, 500)],
                    live=live)
    response = new_response(result)
    assert response.status == 500 and response.reason == "Internal Server Error"
    assert response.body == b'{"token": "{{REDACTED}}", "user": "1"}'  # decoded, echo redacted
    assert response.headers == [("Content-Type", "application/json"),
                                ("Set-Cookie", "sid={{REDACTED}}; Path=/")]
    assert live.request.headers == [("Authorization", f"Bearer {SECRET}")]  # not changed
    assert preview([result]) == ["example 4 (GET /me?api_key={{REDACTED}}, my name): "
                                 "status 200 -> 500"]


def test_an_update_keeps_id_name_request_position_and_fault(tmp_path):
    store = CollectionStore(tmp_path)
    with store.editing("shop", create=True) as c:
        c.requests.append(Request(id=1, name="me", method="GET", url="{{baseUrl}}/me",
                                  examples=[stale_example()]))
    live = live_exchange(b'{"user": "1"}', [("Content-Type", "application/json")])
    live.id = 31
    result = Result(stale_example(), Verdict.DRIFTED, live=live)
    gone = Result(Example(id=99, name="gone", request=ExampleRequest("GET", "/x"),
                          response=ExampleResponse(200)), Verdict.DRIFTED, live=live)
    assert write_updates(store, "shop", [result, gone]) == [4]
    [example] = store.load("shop").examples
    before = stale_example()
    assert (example.id, example.name, example.sequence, example.fault, example.request) == \
        (before.id, before.name, before.sequence, before.fault, before.request)
    assert (example.response.status, example.response.body) == (500, b'{"user": "1"}')
    assert example.source_entry == 31
