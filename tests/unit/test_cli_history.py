"""`mockrec history ...` run in-process: stdout, stderr, exit codes and parsed JSON."""

from __future__ import annotations

import gzip
import json

import pytest

from recorder.cli import main
from recorder.errors import ExitStatus
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.store.history import HistoryStore

DAY = 86_400.0
NOV_1 = 1_761_955_200.0  # 2025-11-01T00:00:00Z


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path))
    store = HistoryStore(tmp_path)
    text = b"hello from a gzipped body"
    store.append([
        HistoryEntry(HttpRequest("GET", "http://api.test/users/1"), Timings(NOV_1, end=NOV_1 + .01),
                     HttpResponse(200, "OK", headers=[("Content-Type", "application/json")],
                                  body=b'{"id": 1, "name": "Ada"}')),
        HistoryEntry(HttpRequest("POST", "http://api.test/users", body=b'{"name":"Bob"}'),
                     Timings(NOV_1 + DAY), HttpResponse(201, "Created", body=b"{}")),
        HistoryEntry(HttpRequest("GET", "http://other.test/z.gz"), Timings(NOV_1 + 2 * DAY),
                     HttpResponse(200, "OK", headers=[("Content-Encoding", "gzip")],
                                  body=gzip.compress(text))),
        HistoryEntry(HttpRequest("GET", "http://api.test/down"), Timings(NOV_1 + 3 * DAY),
                     error="connection refused"),
    ])
    return store


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def ids(out: str) -> list[int]:
    return [row["id"] for row in json.loads(out)]


@pytest.mark.parametrize("args, expected", [
    ([], [4, 3, 2, 1]),
    (["--limit", "2"], [4, 3]),
    (["--method", "post"], [2]),
    (["--host", "other.test"], [3]),
    (["--path", "/users*"], [2, 1]),
    (["--status", "2xx"], [3, 2, 1]),
    (["--status", "201"], [2]),
    (["--status", "error"], [4]),
    (["--since", "2025-11-02T12:00:00+00:00"], [4, 3]),
])
def test_list_filters(data, capsys, args, expected):
    code, out, _ = run(capsys, "history", "list", "--json", *args)
    assert code == 0
    assert ids(out) == expected


def test_list_json_has_stable_keys(data, capsys):
    _, out, _ = run(capsys, "history", "list", "--json", "--limit", "1")
    assert set(json.loads(out)[0]) == {
        "id", "time", "method", "url", "status", "error", "duration_ms", "request_size",
        "response_size", "client", "mode"}


def test_list_table(data, capsys):
    code, out, _ = run(capsys, "history", "list")
    assert code == 0
    assert "http://api.test/users/1" in out and "error: connection refused" in out


def test_show_decodes_bodies(data, capsys):
    code, out, _ = run(capsys, "history", "show", "3", "--body")
    assert code == 0
    assert "< Content-Encoding: gzip" in out
    assert "hello from a gzipped body" in out
    code, out, _ = run(capsys, "history", "show", "1", "--json")
    detail = json.loads(out)
    assert detail["response"]["body"] == {"size": 24, "text": '{"id": 1, "name": "Ada"}'}
    assert detail["response"]["headers"] == [["Content-Type", "application/json"]]


def test_search(data, capsys):
    _, out, _ = run(capsys, "history", "search", "BOB", "--json")
    assert ids(out) == [2]
    _, out, _ = run(capsys, "history", "search", "other.test", "--json")
    assert ids(out) == [3]


def test_delete_ranges_and_clear(data, capsys):
    code, out, _ = run(capsys, "history", "delete", "1-2")
    assert (code, out.strip()) == (0, "deleted 2 entries")
    _, out, _ = run(capsys, "history", "list", "--json")
    assert ids(out) == [4, 3]
    code, out, _ = run(capsys, "history", "clear", "--yes")
    assert (code, out.strip()) == (0, "deleted 2 entries")
    assert data.count() == 0


@pytest.mark.parametrize("args, status, message", [
    (["history", "show", "99"], ExitStatus.NOT_FOUND, "history entry 99 does not exist"),
    (["history", "delete", "3", "50"], ExitStatus.NOT_FOUND, "history entry 50 does not exist"),
    (["history", "delete", "7-3"], ExitStatus.ERROR, "empty range"),
    (["history", "list", "--since", "soon"], ExitStatus.ERROR, "YYYY-MM-DD"),
    (["record", "--upstream", "ftp://x"], ExitStatus.ERROR, "not an http(s) URL"),
])
def test_errors_are_one_line(data, capsys, args, status, message):
    code, out, err = run(capsys, *args)
    assert code == status
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert data.count() == 4  # nothing lost


def test_damaged_store_is_one_line(data, capsys):
    segment = next(data.root.glob("segment-*.json"))
    segment.write_text("{")
    code, _, err = run(capsys, "history", "list")
    assert code == ExitStatus.STORE_CORRUPT
    assert err.count("\n") == 1 and str(segment) in err
    assert segment.read_text() == "{"


def test_usage_error_exit_code(capsys):
    code, _, err = run(capsys, "history", "list", "--limit", "many")
    assert code == 2 and "--limit" in err


def test_cert_creates_and_explains_the_ca(tmp_path, capsys):
    code, out, _ = run(capsys, "cert", "--confdir", str(tmp_path))
    assert code == 0
    assert (tmp_path / "mitmproxy-ca-cert.pem").exists()
    assert f"curl --cacert {tmp_path / 'mitmproxy-ca-cert.pem'}" in out


def test_wide_ranges_cost_what_exists(tmp_path, monkeypatch, capsys):
    """Issue 12, item 7: a range is never expanded into ids; only existing segments are read."""
    import time

    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path))
    store = HistoryStore(tmp_path)
    store.append([HistoryEntry(HttpRequest("GET", f"http://api.test/{i}"), Timings(NOV_1),
                               HttpResponse(200, "OK", body=b"{}")) for i in range(601)])
    started = time.monotonic()
    code, _, err = run(capsys, "history", "delete", "100000-20000000")
    assert code == ExitStatus.NOT_FOUND and "no history entry in 100000-20000000" in err
    code, out, _ = run(capsys, "promote", "1-1000000000", "--collection", "all")
    assert code == 0 and "601" in out
    code, out, _ = run(capsys, "history", "delete", "1-1000000000")
    assert (code, out.strip()) == (0, "deleted 601 entries")
    assert time.monotonic() - started < 10  # was a MemoryError, or minutes
    assert store.count() == 0
