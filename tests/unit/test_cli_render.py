"""recorder/cli/render.py: what people and scripts read."""

import io

from recorder import views
from recorder.cli import render
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.store.mocks import Mock


def entry(body: bytes = b'{"a": 1}', headers=None, notes=None) -> HistoryEntry:
    return HistoryEntry(
        id=4,
        request=HttpRequest("GET", "http://api.test/users/1?x=1", "HTTP/1.1",
                            [("Host", "api.test")], b"", 0),
        response=HttpResponse(200, "OK", "HTTP/1.1", headers or [("Content-Type", "json")],
                              body, len(body)),
        error=None, timings=Timings(start=1_700_000_000.0, request_end=1_700_000_000.01,
                                    response_start=1_700_000_000.02, end=1_700_000_000.05),
        client="127.0.0.1:5", upstream="api.test:80", mode="record", notes=notes or {})


def test_json_summary_has_the_stable_keys():
    summary = views.entry_summary(entry())
    assert list(summary) == ["id", "time", "method", "url", "status", "error", "duration_ms",
                             "request_size", "response_size", "client", "mode"]
    assert summary["status"] == 200 and round(summary["duration_ms"]) == 50


def test_bodies_are_text_or_base64():
    assert views.body_json(b"hi") == {"size": 2, "text": "hi"}
    assert views.body_json(b"\xff\x00") == {"size": 2, "base64": "/wA="}


def test_a_binary_body_on_a_terminal_is_a_placeholder():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    out = Terminal()
    render.write_body([("Content-Type", "image/png")], b"\x89PNG\xff", out)
    assert out.getvalue() == "<image/png, 5 bytes: pipe to a file to save it>\n"


def test_calls_say_which_example_answered():
    matched = views.call_summary(entry(notes={"mock": "m", "example": {"id": 3, "name": "ok"},
                                               "delay_ms": 100}))
    assert matched["matched"] == "ok" and matched["delay_ms"] == 100
    assert render.call_row(entry(notes={"mock": "m"}))[5] == "No matching requests"


def test_a_mock_shows_its_url_and_never_its_key():
    shown = views.mock_json(Mock(name="dev", collection="c", port=9001,
                                  api_key_sha256="ab" * 32, api_key="plain"))
    assert shown["url"] == "http://127.0.0.1:9001" and shown["private"] is True
    assert "plain" not in str(shown) and "ab" * 32 not in str(shown)


def test_calls_say_what_happened():
    def said(outcome, **kw):
        return views.call_outcome(entry(notes={"mock": "m", "outcome": outcome, **kw}))

    assert said({"kind": "preflight"}) == "CORS preflight"
    assert said({"kind": "unauthorized", "reason": "missing or wrong x-api-key"}) == (
        "401 authenticationError: missing or wrong x-api-key")
    assert said({"kind": "quota", "reason": "rateLimitError"}) == "429 rateLimitError"
    assert said({"kind": "not_found", "reason": "no example matches GET /x"}) == (
        "No matching requests: no example matches GET /x")
    assert said({"kind": "forwarded", "status": 503, "error": None}) == (
        "forwarded: the upstream answered 503")
    assert said({"kind": "forwarded", "status": None, "error": "refused"}) == (
        "forwarded: the upstream failed (refused)")
    assert said({"kind": "fault", "reason": "ValueError: x"}) == (
        "500 mockServerError: ValueError: x")
    summary = views.call_summary(entry(notes={"mock": "m", "outcome": {"kind": "preflight"}}))
    assert summary["outcome"] == {"kind": "preflight"} and summary["example"] is None
