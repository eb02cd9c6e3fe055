"""Request verification: criteria, what differed, closest first."""

from __future__ import annotations

import pytest

from recorder.match.verify import CallQuery, verify
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.views import call_summary


def call(n: int, method: str, url: str, status: int | None = 200, body: bytes = b"",
         headers: list | None = None, example: dict | None = None) -> HistoryEntry:
    return HistoryEntry(
        request=HttpRequest(method, "http://mock.test" + url, headers=headers or [], body=body),
        response=HttpResponse(status) if status else None, error=None if status else "reset",
        timings=Timings(start=1_700_000_000 + n), id=n,
        notes={"mock": "shop", "example": example})


CALLS = [
    call(1, "GET", "/users/1", example={"id": 3, "name": "200 OK"}),
    call(2, "POST", "/orders", 201, b'{"sku": "a1"}', [("X-Trace", "t1")],
         {"id": 4, "name": "Created"}),
    call(3, "GET", "/orders/7?full=1", 404),
]


@pytest.mark.parametrize("query, count", [
    ({}, 3),
    ({"method": "get"}, 2),
    ({"path": "/orders*"}, 2),
    ({"path": "/orders/7?full=1"}, 1),  # the glob may name the query too
    ({"status": "2xx"}, 2),
    ({"status": 404}, 1),
    ({"matched": True}, 2),
    ({"matched": "false"}, 1),
    ({"matched": "Created"}, 1),
    ({"matched": 3}, 1),
    ({"body_contains": "a1"}, 1),
    ({"headers": {"x-trace": "t1"}}, 1),
    ({"method": "POST", "path": "/orders", "headers": {"X-TRACE": "t1"}}, 1),
])
def test_counts(query, count):
    assert verify(CallQuery.parse(query), CALLS)["count"] == count


def test_zero_lists_the_calls_closest_first_with_what_differed():
    result = verify(CallQuery.parse({"method": "DELETE", "path": "/orders/*"}), CALLS)
    assert result["count"] == 0 and result["total"] == 3
    assert result["query"] == "DELETE /orders/*"
    first = result["calls"][0]
    assert first["path"] == "/orders/7?full=1"
    assert first["differs"] == ["method is GET, not DELETE"]
    assert [c["id"] for c in result["calls"]] == [3, 2, 1]
    assert result["calls"][2]["differs"] == ["method is GET, not DELETE",
                                            "path /users/1 does not fit /orders/*"]


def test_explain_lists_fitting_calls_first_and_limit_cuts():
    result = verify(CallQuery.parse({"method": "GET"}), CALLS, explain=True, limit=1)
    assert result["count"] == 2
    assert [(c["id"], c["differs"]) for c in result["calls"]] == [(1, [])]
    assert "calls" not in verify(CallQuery.parse({"method": "GET"}), CALLS)


def test_every_difference_has_words():
    entry = call(9, "PUT", "/a", None, b"x", [("X-A", "1")])
    query = CallQuery.parse({"method": "POST", "path": "/b", "status": "200", "matched": True,
                             "body_contains": "y", "headers": {"x-a": "2", "x-b": "3"}})
    assert query.differences(entry) == [
        "method is PUT, not POST", "path /a does not fit /b", "status is error (reset), not 200",
        "no example matched it", "body does not contain 'y'", "header x-a is '1', not '2'",
        "header x-b is missing"]


@pytest.mark.parametrize("bad", [
    [], {"metod": "GET"}, {"method": 1}, {"status": "two"}, {"status": True}, {"status": 2000},
    {"headers": ["a"]}, {"headers": {"a": 1}}, {"matched": [1]}, {"matched": -1},
    {"matched": 10**26},
])
def test_bad_queries_say_why(bad):
    with pytest.raises(ValueError):
        CallQuery.parse(bad)


def test_call_summary_is_what_calls_json_prints():
    assert call_summary(CALLS[2]) == {
        "id": 3, "time": CALLS[2].time.isoformat(timespec="milliseconds"), "mock": "shop",
        "method": "GET", "path": "/orders/7?full=1", "status": 404, "example": None,
        "matched": "No matching requests", "outcome": None, "sequence": None, "fault": None,
        "delay_ms": 0, "error": None, "warnings": []}
