from datetime import datetime

import pytest

from recorder.models import (
    HistoryEntry,
    HistoryFilter,
    HttpRequest,
    HttpResponse,
    Timings,
    parse_ids,
    parse_since,
    status_matches,
    wire_bytes,
    wire_text,
)


def entry(method="GET", url="http://api.test/users/7?x=1", status=200, start=1_700_000_000.0):
    return HistoryEntry(request=HttpRequest(method, url), timings=Timings(start),
                        response=HttpResponse(status) if status else None,
                        error=None if status else "refused")


@pytest.mark.parametrize("specs, ids", [
    (["3"], [(3, 3, False)]),
    (["3-5"], [(3, 5, True)]),
    (["12", "15-17"], [(12, 12, False), (15, 17, True)]),
    (["1,4"], [(1, 1, False), (4, 4, False)]),
    (["1-1000000000"], [(1, 1_000_000_000, True)]),  # never expanded
])
def test_parse_ids(specs, ids):
    assert parse_ids(specs) == ids


@pytest.mark.parametrize("spec", ["x", "5-3", "0", "3-", "-2"])
def test_parse_ids_rejects(spec):
    with pytest.raises(ValueError):
        parse_ids([spec])


def test_parse_since_accepts_dates_and_times():
    assert parse_since("2026-11-01").date().isoformat() == "2026-11-01"
    assert parse_since("2026-11-01T09:30").hour == 9
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_since("yesterday")


@pytest.mark.parametrize("spec, status, expected", [
    ("200", 200, True), ("200", 201, False), ("2xx", 204, True), ("4XX", 404, True),
    ("5xx", 404, False), ("error", None, True), ("error", 200, False), ("200", None, False),
])
def test_status_matches(spec, status, expected):
    assert status_matches(spec, entry(status=status)) is expected


def test_filter_combines_all_given():
    e = entry()
    assert HistoryFilter().matches(e)
    assert HistoryFilter(method="get", host="API.test", path="/users/*", status="2xx").matches(e)
    assert not HistoryFilter(path="/orders/*").matches(e)
    assert not HistoryFilter(host="other.test").matches(e)
    assert not HistoryFilter(method="POST").matches(e)
    later = datetime.fromtimestamp(1_700_000_100).astimezone()
    assert not HistoryFilter(since=later).matches(e)
    assert HistoryFilter(since=later).matches(entry(start=1_700_000_200.0))


def test_wire_text_round_trips_any_bytes():
    for raw in (b"plain", "Grüße".encode(), b"\xff\xfe latin \xe9"):
        assert wire_bytes(wire_text(raw)) == raw


def test_request_path_helpers():
    r = HttpRequest("GET", "https://h.test:8443/a/b?c=d&c=e")
    assert (r.host, r.path, r.path_and_query) == ("h.test", "/a/b", "/a/b?c=d&c=e")
    assert HttpRequest("GET", "http://h.test").path == "/"
