"""recorder/serve/responder.py: each of replay's rules, asked of the `Responder` with
plain values (no proxy, no mitmproxy object). Each rule's test through a real proxy is
in tests/integration (test_replay_proxy.py, test_sequences_faults.py, test_fast_replay.py)."""

from __future__ import annotations

import json
import time

import pytest

from recorder.match.matcher import Matcher
from recorder.models import Collection, Example, ExampleRequest, ExampleResponse, Request
from recorder.modes import Mode
from recorder.serve.config import ServeConfig
from recorder.serve.faults import Fault
from recorder.serve.responder import Answer, Call, Kind, Responder
from recorder.settings import ReplaySettings
from recorder.store.mocks import hash_key


def example(id: int, path: str, body: bytes, method: str = "GET", status: int = 200,
            headers: list[tuple[str, str]] | None = None, **more) -> Example:
    return Example(id, f"{status} OK ({id})", ExampleRequest(method, "{{baseUrl}}" + path),
                   ExampleResponse(status, "", headers or [("Content-Type", "text/plain")],
                                   body), **more)


def collection() -> Collection:
    return Collection("shop", [
        Request(1, "users", "GET", "{{baseUrl}}/users", examples=[
            example(1, "/users", b'[{"id": 1}]', headers=[("Content-Type", "application/json")])]),
        Request(2, "job", "GET", "{{baseUrl}}/job", examples=[
            example(10 + n, "/job", f"step {n}".encode(), sequence=n) for n in (1, 2, 3)]),
        Request(3, "echo", "POST", "{{baseUrl}}/echo", examples=[
            example(20, "/echo", b"you sent {{$body 'name'}}", method="POST")]),
        Request(4, "flaky", "GET", "{{baseUrl}}/flaky", examples=[
            example(30, "/flaky", b"never whole", fault="reset")]),
        Request(5, "options", "OPTIONS", "{{baseUrl}}/own", examples=[
            example(40, "/own", b"", method="OPTIONS", status=204)]),
    ], {"baseUrl": "http://api.test"})


def responder(mode: Mode = Mode.REPLAY, **settings) -> Responder:
    r = Responder(ServeConfig.compile(ReplaySettings(**settings), mode))
    r.load(Matcher(collection()))
    return r


def call(target: str = "/users", method: str = "GET", body: bytes = b"",
         arrived: float | None = None, **headers: str) -> Call:
    return Call.from_target(method, target,
                            [(k.replace("_", "-"), v) for k, v in headers.items()], body,
                            arrived=time.time() if arrived is None else arrived)


def error_name(answer: Answer) -> str:
    return json.loads(answer.body)["error"]["name"]


def test_a_call_is_the_matchers_incoming_with_its_arrival():
    c = call("/users?page=2", x_api_key="k", arrived=5.0)
    assert (c.method, c.path, c.query, c.header("X-Api-Key"), c.arrived) == (
        "GET", "/users", [("page", "2")], "k", 5.0)


# -- matching -----------------------------------------------------------------------------

def test_a_matching_call_gets_its_example_as_sent():
    d = responder().respond(call())
    assert d.kind is Kind.EXAMPLE and d.example.id == 1 and d.fault is None
    assert d.answer.status == 200 and d.answer.body == b'[{"id": 1}]'
    assert d.answer.headers == [(b"Content-Type", b"application/json"),
                                (b"Access-Control-Allow-Origin", b"*"), (b"Vary", b"Origin"),
                                (b"Content-Length", b"11")]
    assert d.outcome() == {"kind": "example"}


def test_no_match_is_a_404_that_says_why():
    d = responder().respond(call("/orders"))
    assert d.kind is Kind.NOT_FOUND and d.answer.status == 404
    doc = json.loads(d.answer.body)["error"]
    assert doc["name"] == "mockRequestNotFoundError" and doc["details"]
    assert d.reason and d.outcome() == {"kind": "not_found", "reason": d.reason}
    assert d.answer.header(b"access-control-allow-origin") == b"*"


def test_without_a_collection_every_call_is_a_404_that_says_so():
    r = Responder()
    d = r.respond(call())
    assert d.kind is Kind.NOT_FOUND and "no collection is loaded" in d.reason


@pytest.mark.parametrize("mode, on_miss, kind", [
    (Mode.REPLAY, "404", Kind.NOT_FOUND), (Mode.REPLAY, "forward", Kind.FORWARD),
    (Mode.REPLAY, "record", Kind.FORWARD), (Mode.SPY, "404", Kind.FORWARD)])
def test_a_miss_is_forwarded_in_spy_and_with_on_miss(mode, on_miss, kind):
    d = responder(mode, on_miss=on_miss).respond(call("/orders"))
    assert d.kind is kind
    assert (d.answer is None) == (kind is Kind.FORWARD)


def test_a_private_mock_forwards_without_its_own_key():
    assert responder(Mode.SPY).respond(call("/orders")).drop == ()
    private = responder(Mode.SPY, api_key="k").respond(call("/orders", x_api_key="k"))
    assert private.kind is Kind.FORWARD and private.drop == ("x-api-key",)


def test_match_settings_are_compiled_once_and_used():
    r = responder(match_headers=" X-Tenant , ")
    assert r.config.match.match_headers == ["x-tenant"]


def test_templates_are_filled_from_the_call():
    d = responder().respond(call("/echo", "POST", b'{"name": "ada"}'))
    assert d.answer.body == b"you sent ada"
    assert d.answer.header(b"content-length") == b"12"


# -- the key -------------------------------------------------------------------------------

def test_a_private_mock_wants_its_key():
    r = responder(api_key="s3cret")
    assert r.config.key_sha256 == hash_key("s3cret")  # only the hash is kept
    d = r.respond(call())
    assert d.kind is Kind.UNAUTHORIZED and d.answer.status == 401
    assert error_name(d.answer) == "authenticationError"
    assert r.respond(call(x_api_key="wrong")).kind is Kind.UNAUTHORIZED
    assert r.respond(call(x_api_key="s3cret")).kind is Kind.EXAMPLE
    assert r.respond(call(x_api_key="\udcff")).kind is Kind.UNAUTHORIZED  # any bytes hash


def test_a_stored_key_hash_works_as_the_key():
    r = responder(api_key_sha256=hash_key("k"))
    assert r.key_matches("k") and not r.key_matches("")


# -- CORS ----------------------------------------------------------------------------------

def test_a_preflight_gets_204_with_what_it_asked():
    d = responder(api_key="k").respond(call(
        "/users", "OPTIONS", origin="http://app.test", access_control_request_method="PUT",
        access_control_request_headers="x-api-key"))
    assert d.kind is Kind.PREFLIGHT and d.answer.status == 204  # before the key
    assert d.answer.headers == [
        (b"Access-Control-Allow-Origin", b"http://app.test"),
        (b"Access-Control-Allow-Credentials", b"true"), (b"Vary", b"Origin"),
        (b"Access-Control-Allow-Methods", b"PUT"), (b"Access-Control-Max-Age", b"600"),
        (b"Access-Control-Allow-Headers", b"x-api-key"), (b"Content-Length", b"0")]


def test_an_options_example_answers_its_preflight_and_cors_off_answers_none():
    d = responder().respond(call("/own", "OPTIONS", access_control_request_method="GET"))
    assert d.kind is Kind.EXAMPLE and d.example.id == 40
    off = responder(cors=False)
    assert off.respond(call("/users", "OPTIONS",
                            access_control_request_method="GET")).kind is Kind.NOT_FOUND
    assert off.respond(call()).answer.header(b"access-control-allow-origin") is None


# -- quota ---------------------------------------------------------------------------------

def test_the_quota_counts_calls_that_reach_matching_then_429():
    r = responder(max_calls=2, api_key="k")
    r.respond(call())  # a 401: not counted
    assert [r.respond(call(x_api_key="k")).kind for _ in range(3)] == [
        Kind.EXAMPLE, Kind.EXAMPLE, Kind.QUOTA]
    d = r.respond(call(x_api_key="k"))
    assert d.answer.status == 429 and d.reason == "usageLimitError"
    r.reset()
    assert r.respond(call(x_api_key="k")).kind is Kind.EXAMPLE


def test_the_rate_limit_says_when_to_retry():
    r = responder(rate_limit=1)
    r.respond(call())
    d = r.respond(call())
    assert d.kind is Kind.QUOTA and d.reason == "rateLimitError"
    assert 1 <= int(d.answer.header(b"retry-after")) <= 60


# -- sequences -----------------------------------------------------------------------------

@pytest.mark.parametrize("end, after", [("last", [b"step 3", b"step 3"]),
                                        ("cycle", [b"step 1", b"step 2"]),
                                        ("404", [b"404", b"404"])])
def test_a_sequence_answers_in_turn_then_its_end_decides(end, after):
    r = responder(sequence_end=end)

    def body() -> bytes:
        d = r.respond(call("/job"))
        return b"404" if d.kind is Kind.NOT_FOUND else d.answer.body

    assert [body() for _ in range(5)] == [b"step 1", b"step 2", b"step 3", *after]
    r.reset()
    assert body() == b"step 1"


def test_an_over_sequence_says_so():
    r = responder(sequence_end="404")
    for _ in range(3):
        r.respond(call("/job"))
    d = r.respond(call("/job"))
    assert d.reason == "the sequence is over" and "mockrec reset" in d.answer.body.decode()


# -- faults --------------------------------------------------------------------------------

def test_an_asked_fault_spoils_the_due_answer_without_using_it_up():
    r = responder()
    d = r.respond(call("/job", x_mock_response_fault="reset"))
    assert d.fault == Fault("reset") and d.answer.body == b"step 1"
    assert r.respond(call("/job")).answer.body == b"step 1"


def test_a_bad_fault_header_is_a_400_and_logged_as_one():
    """It was logged as "No matching requests": the call log says what happened."""
    from recorder.cli.render import entry_text
    from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
    from recorder.views import call_outcome

    d = responder().respond(call(x_mock_response_fault="explode"))
    assert d.kind is Kind.BAD_REQUEST and d.answer.status == 400
    assert error_name(d.answer) == "badFaultHeader"
    outcome = d.outcome()
    assert outcome["kind"] == "bad_request" and "explode" in outcome["reason"]
    logged = HistoryEntry(HttpRequest("GET", "http://api.test/users"), Timings(1.0),
                          HttpResponse(400, "Bad Request"), notes={"outcome": outcome})
    assert call_outcome(logged).startswith("400 ") and "explode" in call_outcome(logged)
    # and a faulted call's detail (`calls show`) says which fault spoilt it
    faulted = HistoryEntry(HttpRequest("GET", "http://api.test/users"), Timings(1.0),
                           error="mockrec fault: reset", notes={"fault": "reset"})
    assert ("! fault: reset (mockrec spoilt this answer on purpose: mockrec fault: reset)"
            in entry_text(faulted))


def test_an_examples_own_fault_and_the_shapes_of_faults():
    assert responder().respond(call("/flaky")).fault == Fault("reset")
    empty = responder().respond(call(x_mock_response_fault="empty"))
    assert empty.answer.body == b"" and empty.answer.header(b"content-length") == b"0"
    slow = responder().respond(call(x_mock_response_fault="slow-body:200"))
    assert slow.fault == Fault("slow-body", 200)
    assert slow.answer.header(b"connection") == b"close"


def test_a_404_can_be_spoilt_too():
    d = responder().respond(call("/orders", x_mock_response_fault="empty"))
    assert d.kind is Kind.NOT_FOUND and d.fault == Fault("empty")
    assert d.answer.body == b"" and d.answer.header(b"content-length") == b"0"


def test_a_fault_rate_with_a_seed_picks_the_same_calls():
    def run(r: Responder) -> list[bool]:
        return [r.respond(call()).fault is not None for _ in range(50)]

    first = run(responder(fault="close", fault_rate="40", seed="3"))
    assert run(responder(fault="close", fault_rate="40", seed="3")) == first
    assert 8 <= sum(first) <= 32
    r = responder(fault="close", fault_rate="40", seed="3")
    run(r)
    r.configure(r.config, reseed=True)  # --seed set again: the same picks again
    assert run(r) == first


# -- delays --------------------------------------------------------------------------------

def test_the_delay_comes_from_the_header_then_the_profile_then_the_setting():
    assert responder(delay="3g").respond(call()).delay == 0.1
    assert responder(delay="3g").respond(call(x_mock_response_delay="250")).delay == 0.25
    profiled = responder(profile="2g", seed="1").respond(call()).delay
    assert 0.25 <= profiled <= 0.36
    r = responder()
    assert r.respond(call()).delay == 0 and not r.delay_asked
    ignored = r.respond(call(x_mock_response_delay="soon"))
    assert ignored.delay == 0 and "ignored" in ignored.warnings[0]
    r.respond(call(x_mock_response_delay="5"))
    assert r.delay_asked  # the adapter starts stamping arrivals then


def test_mockrecs_own_answers_never_wait():
    r = responder(delay="2g", max_calls=1)
    r.respond(call())
    assert r.respond(call()).delay == 0
    assert responder(delay="2g").respond(call("/nothing")).delay == 0


# -- settings, compiled --------------------------------------------------------------------

def test_a_new_config_replaces_the_old_whole_and_keeps_the_counts():
    r = responder(max_calls=1)
    r.respond(call())
    r.configure(ServeConfig.compile(ReplaySettings(max_calls=2)))
    assert r.respond(call()).kind is Kind.EXAMPLE and r.respond(call()).kind is Kind.QUOTA


@pytest.mark.parametrize("given, message", [
    ({"delay": "5g"}, "delay '5g'"), ({"fault": "explode"}, "not a fault"),
    ({"fault_rate": "150"}, "not a percent"), ({"seed": "x"}, "not an integer"),
    ({"profile": "lte"}, "profile 'lte'")])
def test_a_bad_setting_does_not_compile(given, message):
    with pytest.raises(ValueError, match=message):
        ServeConfig.compile(ReplaySettings(**given))


# -- hostile input (issue 26) -------------------------------------------------------------

def test_a_404_repeats_a_bounded_part_of_a_huge_path():
    d = responder().respond(call("/" + "a" * 1_000_000))
    assert d.answer.status == 404 and len(d.answer.body) < 16 * 1024
    assert " characters)" in d.answer.body.decode()


def test_an_answer_never_carries_a_header_with_a_line_break():
    r = Responder(ServeConfig.compile(ReplaySettings(), Mode.REPLAY))
    r.load(Matcher(Collection("evil", [
        Request(1, "set", "GET", "{{baseUrl}}/set", examples=[example(
            1, "/set", b"ok", headers=[("X-A", "1\r\nSet-Cookie: sid=evil"), ("X-Ok", "1"),
                                       ("X-B\nSet-Cookie", "x"), ("X-Nul", "a\0b")])]),
        Request(2, "echo", "GET", "{{baseUrl}}/echo", examples=[example(
            2, "/echo", b"ok", headers=[("X-Q", "{{$queryParams 'q'}}")])]),
    ], {"baseUrl": "http://api.test"})))
    sent = r.respond(call("/set")).answer.headers
    assert (b"X-Ok", b"1") in sent
    assert not any(c in k + v for k, v in sent for c in (b"\r", b"\n", b"\0")), sent
    filled = r.respond(call("/echo?q=1%0D%0ASet-Cookie:%20sid=evil")).answer.headers
    assert not any(b"\n" in k + v or b"\r" in k + v for k, v in filled), filled
    assert r.respond(call("/echo?q=fine")).answer.header(b"x-q") == b"fine"


def cors_example(id: int, path: str, headers: list[tuple[str, str]]) -> Request:
    return Request(id, path, "GET", "{{baseUrl}}" + path,
                   examples=[example(id, path, b"{}", headers=headers)])


def test_a_recorded_star_with_credentials_reflects_the_origin():
    """SPEC "CORS, recorded": httpbin answers `*` with credentials allowed, and reflects
    the origin it is sent; a recorded example does the same, a specific origin stays."""
    c = Collection("cors", [
        cors_example(1, "/star", [("Access-Control-Allow-Origin", "*"),
                                  ("Access-Control-Allow-Credentials", "true")]),
        cors_example(2, "/varied", [("access-control-allow-origin", "*"),
                                    ("Access-Control-Allow-Credentials", "True"),
                                    ("Vary", "Accept-Encoding")]),
        cors_example(3, "/specific", [("Access-Control-Allow-Origin", "https://app.test"),
                                      ("Access-Control-Allow-Credentials", "true")]),
        cors_example(4, "/public", [("Access-Control-Allow-Origin", "*")]),
    ], {"baseUrl": "http://api.test"})
    r = Responder(ServeConfig.compile(ReplaySettings(), Mode.REPLAY))
    r.load(Matcher(c))

    def headers(path: str, **more: str) -> dict[bytes, bytes]:
        answer = r.respond(call(path, **more)).answer
        return {k.lower(): v for k, v in answer.headers}

    star = headers("/star", origin="http://page.test")
    assert star[b"access-control-allow-origin"] == b"http://page.test"
    assert star[b"access-control-allow-credentials"] == b"true"
    assert star[b"vary"] == b"Origin"
    assert headers("/varied", origin="http://page.test")[b"vary"] == b"Accept-Encoding, Origin"
    assert headers("/star")[b"access-control-allow-origin"] == b"*"  # no Origin: as recorded
    assert headers("/specific", origin="http://page.test")[
        b"access-control-allow-origin"] == b"https://app.test"  # kept
    public = headers("/public", origin="http://page.test")  # no credentials: `*` is fine
    assert public[b"access-control-allow-origin"] == b"*" and b"vary" not in public
    # the example itself is untouched, and so is the next answer without an Origin
    assert headers("/star")[b"access-control-allow-origin"] == b"*"
    off = Responder(ServeConfig.compile(ReplaySettings(cors=False), Mode.REPLAY))
    off.load(Matcher(c))
    answer = off.respond(call("/star", origin="http://page.test")).answer
    assert dict(answer.headers)[b"Access-Control-Allow-Origin"] == b"*"  # --no-cors: as is


# -- streams (recorder/serve/pacing.py) ----------------------------------------------------

def streaming_responder(**settings) -> Responder:
    from recorder.streams import Stream

    body, stream = Stream.of_pieces([(0, b"data: hi {{$queryParams 'who'}}\n\n"),
                                     (300, b"data: [DONE]\n\n")])
    c = collection()
    streamed = example(50, "/chat", body, headers=[("Content-Type", "text/event-stream")])
    streamed.response.stream = stream
    c.requests.append(Request(6, "chat", "GET", "{{baseUrl}}/chat", examples=[streamed]))
    r = Responder(ServeConfig.compile(ReplaySettings(**settings)))
    r.load(Matcher(c))
    return r


def test_a_streamed_example_is_answered_chunked_part_by_part_with_templates_filled():
    d = streaming_responder().respond(call("/chat?who=Ada"))
    assert d.answer.stream.parts == [(0.0, b"data: hi Ada\n\n"), (0.3, b"data: [DONE]\n\n")]
    assert d.answer.body == b"data: hi Ada\n\ndata: [DONE]\n\n"
    assert d.answer.header(b"transfer-encoding") == b"chunked"
    assert d.answer.header(b"content-length") is None


def test_stream_speed_divides_the_offsets_and_cut_keeps_n_parts():
    fast = streaming_responder(stream_speed="2").respond(call("/chat"))
    assert [at for at, _ in fast.answer.stream.parts] == [0.0, 0.15]
    at_once = streaming_responder(stream_speed="0").respond(call("/chat"))
    assert [at for at, _ in at_once.answer.stream.parts] == [0.0, 0.0]
    cut = streaming_responder().respond(call("/chat", x_mock_response_fault="cut:1"))
    assert cut.answer.stream.cut and len(cut.answer.stream.parts) == 1
    whole = streaming_responder().respond(call("/users", x_mock_response_fault="cut:0"))
    assert whole.answer.stream.parts == [] and whole.answer.stream.cut  # head, then closed


def test_a_head_or_another_fault_answers_a_streamed_example_whole():
    r = streaming_responder()
    assert r.respond(call("/chat", method="HEAD")).answer.stream is None
    slow = r.respond(call("/chat", x_mock_response_fault="slow-body:100"))
    assert slow.answer.stream is None and slow.fault == Fault("slow-body", 100)
