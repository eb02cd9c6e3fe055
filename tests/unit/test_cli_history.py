"""`mockrec history ...` run in-process: stdout, stderr, exit codes and parsed JSON."""

from __future__ import annotations

import gzip
import json
import tracemalloc

import pytest
from conftest import PNG, calls_made

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
def test_list_filters(data, cli, args, expected):
    code, out, _ = cli("history", "list", "--json", *args)
    assert code == 0
    assert ids(out) == expected


def test_list_json_has_stable_keys(data, cli):
    _, out, _ = cli("history", "list", "--json", "--limit", "1")
    assert set(json.loads(out)[0]) == {
        "id", "time", "method", "url", "status", "error", "duration_ms", "request_size",
        "response_size", "client", "mode"}


def test_list_table(data, cli):
    code, out, _ = cli("history", "list")
    assert code == 0
    assert "http://api.test/users/1" in out and "error: connection refused" in out


def test_show_decodes_bodies(data, cli):
    code, out, _ = cli("history", "show", "3", "--body", stdout_tty=True)
    assert code == 0
    assert "< Content-Encoding: gzip" in out
    assert "hello from a gzipped body" in out
    code, out, _ = cli("history", "show", "1", "--json")
    detail = json.loads(out)
    assert detail["response"]["body"] == {"size": 24, "text": '{"id": 1, "name": "Ada"}'}
    assert detail["response"]["headers"] == [["Content-Type", "application/json"]]


def test_search(data, cli):
    _, out, _ = cli("history", "search", "BOB", "--json")
    assert ids(out) == [2]
    _, out, _ = cli("history", "search", "other.test", "--json")
    assert ids(out) == [3]


def test_delete_ranges_and_clear(data, cli):
    code, out, _ = cli("history", "delete", "1-2")
    assert (code, out.strip()) == (0, "deleted 2 entries: 1-2")
    _, out, _ = cli("history", "list", "--json")
    assert ids(out) == [4, 3]
    code, out, _ = cli("history", "clear", "--yes")
    assert (code, out.strip()) == (0, "deleted 2 entries")
    assert data.count() == 0


@pytest.mark.parametrize("args, status, message", [
    (["history", "show", "99"], ExitStatus.NOT_FOUND, "history entry 99 does not exist"),
    (["history", "delete", "3", "50"], ExitStatus.NOT_FOUND, "history entry 50 does not exist"),
    (["history", "delete", "50-60"], ExitStatus.NOT_FOUND, "no history entry in 50-60"),
    (["history", "delete", "7-3"], ExitStatus.USAGE, "empty range"),
    (["history", "list", "--since", "soon"], ExitStatus.USAGE, "YYYY-MM-DD"),
    (["record", "--upstream", "ftp://x"], ExitStatus.USAGE, "not an http(s) URL"),
])
def test_errors_are_one_line(data, cli, args, status, message):
    code, out, err = cli(*args)
    assert code == status
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert data.count() == 4  # nothing lost


def test_damaged_store_is_one_line(data, cli):
    segment = next(data.root.glob("segment-*.json"))
    segment.write_text("{")
    code, _, err = cli("history", "list")
    assert code == ExitStatus.STORE_CORRUPT
    assert err.count("\n") == 1 and str(segment) in err
    assert segment.read_text() == "{"


@pytest.mark.parametrize("args, message", [
    (["history", "list", "--limit", "many"], "'--limit'"),
    (["history", "list", "--since", "yesterday"], "--since 'yesterday' is not a date"),
    (["history", "list", "--status", "20x"], "--status '20x' is not a status"),
    (["promote", "--status", "20x"], "--status '20x' is not a status"),
    (["history", "delete", "abc"], "'abc' is not an id or a range"),
    (["history", "delete", "9-7"], "'9-7' is an empty range"),
    (["history", "show"], "Missing argument 'ID'"),
    (["history", "list", "--bogus"], "No such option: --bogus"),
    (["mode", "bogus"], "'bogus' is not one of 'record', 'replay', 'spy', 'passthrough'"),
    (["replay", "shop", "--delay", "5g"], "--delay: delay '5g' is not off, 2g, 3g"),
    (["replay", "shop", "--rate-limit", "often"], "rate limit 'often' is not N/min"),
    (["example", "add", "--collection", "c", "GET", "/x", "--status", "99"],
     "--status 99 is not an HTTP status"),
])
def test_usage_mistakes_are_one_line_and_exit_2(data, cli, args, message):
    result = cli(*args)
    assert result.exit_code == ExitStatus.USAGE, result
    assert result.stderr.startswith("mockrec: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not any(box in result.stderr for box in "╭│╰") and "Traceback" not in result.stderr
    assert result.stdout == "" and data.count() == 4


def test_show_body_piped_is_the_body_alone_byte_exact(data, cli):
    (png_id,) = data.append([HistoryEntry(
        HttpRequest("GET", "http://api.test/logo.png"), Timings(NOV_1 + 4 * DAY),
        HttpResponse(200, "OK", headers=[("Content-Type", "image/png")], body=PNG))])
    piped = cli("history", "show", str(png_id), "--body")
    assert piped.exit_code == 0 and piped.stdout_bytes == PNG  # `> file.png` gives a PNG
    assert cli("history", "show", "3", "--body").stdout_bytes == b"hello from a gzipped body"
    shown = cli("history", "show", str(png_id), "--body", stdout_tty=True)
    assert "< Content-Type: image/png" in shown.stdout and "image/png, " in shown.stdout
    assert PNG not in shown.stdout_bytes
    failed = cli("history", "show", "4", "--body")
    assert failed.exit_code == ExitStatus.NOT_FOUND and "has no response" in failed.stderr


def test_delete_says_what_it_deleted(data, cli):
    result = cli("history", "delete", "2-200")
    assert (result.exit_code, result.stdout) == (0, "deleted 3 entries: 2-4\n")
    assert [e.id for e in data.entries()] == [1]
    assert cli("history", "delete", "1").stdout == "deleted 1 entry: 1\n"
    result = cli("history", "delete", "100-200")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert result.stderr == "mockrec: error: no history entry in 100-200; nothing was deleted\n"


def test_cert_creates_and_explains_the_ca(tmp_path, cli):
    code, out, _ = cli("cert", "--confdir", str(tmp_path), "--port", "8123")
    assert code == 0
    pem = tmp_path / "mitmproxy-ca-cert.pem"
    assert pem.exists()
    assert f"curl --proxy http://127.0.0.1:8123 --cacert {pem}" in out
    assert f"REQUESTS_CA_BUNDLE={pem}" in out and f"SSL_CERT_FILE={pem}" in out
    assert f"NODE_EXTRA_CA_CERTS={pem}" in out and "NODE_USE_ENV_PROXY=1" in out
    assert "ProxyAgent('http://127.0.0.1:8123')" in out and "keytool -importcert" in out
    assert "update-ca-certificates" in out


def test_wide_ranges_cost_what_exists(tmp_path, monkeypatch, cli):
    """Issue 12, item 7: a range is never expanded into ids; only existing segments are
    read. Counted: the rows read, the ids compared with a range, the memory taken
    (about 16 MB here)."""
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path))
    store = HistoryStore(tmp_path)
    store.append([HistoryEntry(HttpRequest("GET", f"http://api.test/{i}"), Timings(NOV_1),
                               HttpResponse(200, "OK", body=b"{}")) for i in range(601)])
    rows = []
    read_segment = HistoryStore._read_segment

    def counted(self, path):
        docs = read_segment(self, path)
        rows.append(len(docs))
        return docs

    monkeypatch.setattr(HistoryStore, "_read_segment", counted)
    tracemalloc.start()
    try:
        with calls_made("__contains__") as calls:
            code, _, err = cli("history", "delete", "100000-20000000")
            assert code == ExitStatus.NOT_FOUND and "no history entry in 100000-20000000" in err
            assert rows == []  # no segment holds an id in that range
            code, out, _ = cli("promote", "1-1000000000", "--collection", "all")
            assert code == 0 and "601" in out
            code, out, _ = cli("history", "delete", "1-1000000000")
            assert (code, out.strip()) == (0, "deleted 601 entries: 1-601")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Each command reads each segment once to find the ids, once to act on them: no
    # segment is read per entry (delete read its segment once for each id it deleted).
    assert len(rows) == 2 * 2 * 3 and sum(rows) == 2 * 2 * 601, rows
    assert calls["__contains__"] <= sum(rows), calls  # ids compared: those that exist
    assert peak < 100 * 2**20, peak  # 1-1000000000 as ids would be gigabytes
    assert store.count() == 0
def test_json_output_is_valid_utf8_whatever_bytes_were_recorded(tmp_path, cli):
    """A request whose method or URL held a byte that is not UTF-8 (kept as a surrogate
    escape, so the bytes round-trip) still gives --json that any JSON reader takes."""
    store = HistoryStore(tmp_path)
    odd = HistoryEntry(HttpRequest("G\udcffT", "http://api.test/\udcfe?q=\udcff",
                                   headers=[("X-\udcff", "a\udcffb")]),
                       Timings(NOV_1, end=NOV_1 + .01),
                       HttpResponse(200, "O\udcffK", headers=[("X-A", "\udcff")], body=b"{}"))
    store.append([odd])
    calls = HistoryStore(tmp_path, "calls/c")
    calls.append([HistoryEntry(HttpRequest("G\udcffT", "http://api.test/\udcfe"),
                               Timings(NOV_1), HttpResponse(404, "Not Found"),
                               notes={"mock": "c", "example": None})])
    for args in (["history", "list", "--json"], ["history", "show", "1", "--json"],
                 ["history", "show", "1", "--json", "--body"], ["calls", "--json"],
                 ["calls", "show", str(next(iter(calls.entries())).id), "--json"]):
        result = cli(*args, data_dir=tmp_path)
        assert result.exit_code == 0, result
        text = result.stdout_bytes.decode("utf-8")  # strict: valid UTF-8
        assert "G\\udcffT" in text, text[:300]  # escaped, not lost
        json.loads(text)


def test_a_truncated_entry_is_marked_and_promote_warns(tmp_path, cli):
    """A response over the body limit is stored empty, marked truncated: `history list`
    and `history show` say so outside --json too, and promote marks and warns."""
    store = HistoryStore(tmp_path)
    store.append([HistoryEntry(
        HttpRequest("GET", "http://api.test/big"), Timings(NOV_1),
        HttpResponse(200, "OK", headers=[("Content-Length", "5000")], body=b""),
        notes={"truncated": {"response": 5000}})])
    listed = cli("history", "list", data_dir=tmp_path).stdout
    assert "4.9KB truncated" in listed and " 0B" not in listed
    shown = cli("history", "show", "1", data_dir=tmp_path).stdout
    assert ("! truncated: the response body (5,000 bytes) was over the body limit "
            "(--set mockrec_body_limit=BYTES) and was not recorded") in shown
    promoted = cli("promote", "1", "--collection", "big", data_dir=tmp_path)
    assert promoted.exit_code == 0
    assert promoted.stderr.startswith("mockrec: warning: example 1 ('200 OK (body not "
                                      "recorded)') answers with an empty body")
    assert "mockrec example edit 1" in promoted.stderr
    example = cli("example", "show", "1", data_dir=tmp_path).json
    assert example["name"] == "200 OK (body not recorded)"
    again = cli("promote", "1", "--collection", "big2", "--json", data_dir=tmp_path).json
    assert again["truncated"] == [2]


def test_show_lists_a_streams_events_with_their_offsets(tmp_path, monkeypatch, cli):
    from recorder.streams import Stream

    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path))
    body = b'data: {"t": "Hel"}\n\ndata: {"t": "lo"}\n\ndata: [DONE]\n\n'
    HistoryStore(tmp_path).append([HistoryEntry(
        HttpRequest("POST", "http://llm.test/v1/chat/completions"), Timings(NOV_1),
        HttpResponse(200, "OK", headers=[("Content-Type", "text/event-stream")], body=body,
                     stream=Stream([(0, 20), (301, 19), (602, 14)], cut=True)))])
    code, out, _ = cli("history", "show", "1")
    assert code == 0
    assert "~ stream: 3 parts, 3 events over 602 ms, cut (it did not end)" in out
    assert '~     301 ms  data: {"t": "lo"}' in out
    code, out, _ = cli("history", "show", "1", "--json")
    stream = json.loads(out)["response"]["stream"]
    assert stream["parts"] == [[0, 20], [301, 19], [602, 14]] and stream["cut"] is True
    assert stream["events"][2] == {"offset": 602, "data": "data: [DONE]\n\n"}
