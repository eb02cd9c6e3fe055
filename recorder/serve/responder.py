"""How a request is answered: replay's rules, free of mitmproxy.

    responder = Responder(ServeConfig.compile(settings))   # config.py: settings, parsed once
    responder.load(matcher)                                # the examples (again after an edit)
    decision = responder.respond(Call.from_target(method, target, headers, body, host,
                                                  arrived))

A `Call` is the request as it arrived (method, host, path, query, headers, body: the
matcher's `Incoming`, plus its arrival time). A `Decision` says what to do with it:
send `answer` (an `Answer`: status, headers and body as sent) after `delay` seconds
counted from the arrival, spoilt by `fault` if there is one; or, with no answer,
forward it upstream. `respond` runs the rules in this order; the first that decides,
decides:

| rule        | decides                                                     | kind          |
|-------------|-------------------------------------------------------------|---------------|
| preflight   | a CORS preflight no OPTIONS example answers: 204 (`cors`)   | PREFLIGHT     |
| key         | a private mock without its x-api-key: 401                   | UNAUTHORIZED  |
| quota       | --max-calls or --rate-limit reached: 429 (quota.py)         | QUOTA         |
| fault asked | a bad x-mock-response-fault header: 400                     | BAD_REQUEST   |
| matching    | no example: forward (spy, --on-miss) or 404 with the reasons| FORWARD, NOT_FOUND |
| sequence    | the member due at this position; 404 once over (`end 404`)  | EXAMPLE, NOT_FOUND |
| fault       | the request's, else --fault's (at --fault-rate), else the example's | `fault` |
| answer      | the example, templates filled, CORS headers added           | EXAMPLE       |
| delay       | x-mock-response-delay, else --profile, else --delay         | `delay`       |

The responder keeps what lasts between calls: sequence positions, quota counts, the
random sources (seeded by --seed) and each example's headers as bytes. An adapter
(addons/replay.py for mitmproxy's path, addons/fastpath/ for the fast path) turns its
request into a `Call`, asks `respond`, and carries the decision out: it builds the
response, waits out the delay, carries the fault out, logs the call. To add a rule
(streams' paced parts, WebSockets, drift): a step in `respond` or `_example`, a field
or a kind of `Decision` if the adapter must do something new, and its unit test in
tests/unit/test_serve_responder.py.
"""

from __future__ import annotations

import hmac
import logging
import random
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from recorder.match.matcher import Incoming, Match, Matcher, Outcome, Sequence
from recorder.models import Example, wire_bytes
from recorder.serve import delays, pacing, templating
from recorder.serve.config import ServeConfig
from recorder.serve.faults import HEADER as FAULT_HEADER
from recorder.serve.faults import Fault, parse_fault
from recorder.serve.jsontext import indented
from recorder.serve.pacing import Paced
from recorder.serve.quota import Quota
from recorder.settings import SequenceEnd
from recorder.store.mocks import hash_key
from recorder.streams import Stream

log = logging.getLogger(__name__)

Fields = list[tuple[bytes, bytes]]


@dataclass
class Call(Incoming):
    """A request to the mock as it arrived: what matching looks at, and when it came."""

    arrived: float = 0.0  # time.time() of its arrival: a delay counts from it
    # A forward proxy's request addressed to the proxy itself (recorder/serve/hosts.py):
    # the mock URL, with no upstream to send a miss to (it would come back here).
    to_itself: bool = False

    @classmethod
    def from_target(cls, method: str, target: str, headers: list[tuple[str, str]],
                    body: bytes, host: str | None = None, arrived: float = 0.0) -> Call:
        call = super().from_target(method, target, headers, body, host)
        call.arrived = arrived
        return call


@dataclass(slots=True)
class Answer:
    """A response as it goes out: its headers in order, Content-Length included."""

    status: int
    headers: Fields
    body: bytes
    reason: str = ""  # "": the status's usual phrase
    # A streamed answer: its parts and when each goes (the body is them joined; the
    # headers say chunked, no length).
    stream: Paced | None = None

    def header(self, name: bytes) -> bytes | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def set_header(self, name: bytes, value: bytes) -> None:
        """Replace `name`'s value in place (the first of them; the others go), or add it."""
        low, kept, done = name.lower(), [], False
        for k, v in self.headers:
            if k.lower() == low:
                if done:
                    continue
                k, v, done = k, value, True
            kept.append((k, v))
        if not done:
            kept.append((name, value))
        self.headers = kept


class Kind(StrEnum):
    """What a decision is; the value is the call log's outcome kind."""

    EXAMPLE = "example"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    QUOTA = "quota"
    PREFLIGHT = "preflight"
    FORWARD = "forwarded"
    BAD_REQUEST = "bad_request"  # a request mockrec refuses (a bad x-mock-response-fault)


@dataclass(slots=True)
class Decision:
    kind: Kind
    answer: Answer | None  # None: forward the request upstream
    reason: str = ""  # why, in words (the call log's outcome reason)
    example: Example | None = None  # the example that answers
    fault: Fault | None = None  # spoils `answer`
    delay: float = 0.0  # seconds from the call's arrival
    warnings: list[str] = field(default_factory=list)  # what was ignored, for the call log
    drop: tuple[str, ...] = ()  # headers a forwarded request loses (the mock's own key)

    def outcome(self) -> dict[str, Any] | None:
        """For the call log: {"kind"[, "reason"]}."""
        if self.kind in (Kind.EXAMPLE, Kind.PREFLIGHT):
            return {"kind": self.kind.value}
        return {"kind": self.kind.value, "reason": self.reason}


# Vary: Origin on the `*` answer too: the answer depends on the Origin header either
# way, and a cache must not give a page that sends one the answer made without.
ANY_ORIGIN = [(b"Access-Control-Allow-Origin", b"*"), (b"Vary", b"Origin")]


def cors_headers(origin: str | None) -> Fields:
    """What a CORS answer adds: `*` without an Origin; with one, that origin, with
    credentials allowed (so `fetch(url, {credentials: "include"})` reads it); and
    `Vary: Origin` in both cases."""
    if origin is None:
        return ANY_ORIGIN
    return [(b"Access-Control-Allow-Origin", wire_bytes(origin)),
            (b"Access-Control-Allow-Credentials", b"true"), (b"Vary", b"Origin")]


def with_cors(answer: Answer, origin: str | None) -> Answer:
    """`answer` with the CORS headers for `origin`, unless it has its own. A recorded
    `*` with credentials allowed (a pair no browser takes for a credentialed request)
    answers a request with an Origin as the servers that send it do: that origin,
    `Vary: Origin` (SPEC "CORS, recorded"); a specific origin is kept as it is."""
    allowed = answer.header(b"access-control-allow-origin")
    if allowed is None:
        answer.headers = [*answer.headers, *cors_headers(origin)]
    elif (origin is not None and allowed.strip() == b"*" and (answer.header(
            b"access-control-allow-credentials") or b"").strip().lower() == b"true"):
        answer.set_header(b"Access-Control-Allow-Origin", wire_bytes(origin))
        vary = answer.header(b"vary")
        if vary is None:
            answer.headers = [*answer.headers, (b"Vary", b"Origin")]
        elif b"origin" not in [v.strip().lower() for v in vary.split(b",")] and vary != b"*":
            answer.set_header(b"Vary", vary + b", Origin")
    return answer


def json_answer(status: int, payload: dict, headers: Fields = ()) -> Answer:
    """One of mockrec's own JSON answers (an error, mostly)."""
    body = indented(payload).encode()
    return Answer(status, [(b"Content-Type", b"application/json"), *headers,
                           (b"Content-Length", str(len(body)).encode())], body)


def error(status: int, name: str, message: str, **more: Any) -> Answer:
    return json_answer(status, {"error": {"name": name, **more, "message": message}})


def not_found(outcome: Outcome) -> Answer:
    return json_answer(404, {"error": {
        "name": "mockRequestNotFoundError",
        "header": "No matching requests",
        "message": clipped(outcome.message) + ". Add an example for it (mockrec promote, "
                   "mockrec example add), or fix the request.",
        "details": clipped(outcome.details()),
    }})


ECHO = 1024  # characters of the request (its path, a header) a 404 repeats, at most


def clipped(value: Any) -> Any:
    """`value` with every text longer than ECHO cut there, saying how long it was: a
    1 MB path must not come back three times in a 3 MB 404."""
    if isinstance(value, str):
        return value if len(value) <= ECHO else (
            f"{value[:ECHO]}... ({len(value)} characters)")
    if isinstance(value, list):
        return [clipped(v) for v in value]
    if isinstance(value, dict):
        return {k: clipped(v) for k, v in value.items()}
    return value


def sequence_over(sequence: Sequence, match: Match) -> Answer:
    return json_answer(404, {"error": {
        "name": "mockRequestNotFoundError",
        "header": "No matching requests",
        "message": f"the {len(sequence.members)} answers of the sequence of {match.request.name} "
                   "were all given (--sequence-end 404); `mockrec reset` rewinds it.",
        "details": [],
    }})


# An example's headers as sent, whether the length goes in, whether any value has
# templates, whether it sets its own CORS headers (then mockrec adds none).
Wire = tuple[Fields, bool, bool, bool]


def wire_headers(example: Example) -> Wire:
    """The example's headers as sent (no Content-Length: it is computed per answer),
    whether the length goes in (not with Transfer-Encoding), whether a value holds
    `{{...}}` to fill per request, and whether the example has its own
    Access-Control-Allow-Origin."""
    fields = sendable([(wire_bytes(k), wire_bytes(v))
                       for k, v in example.response.headers if k.lower() != "content-length"],
                      example)
    names = {k.lower() for k, _ in fields}
    return (fields, b"transfer-encoding" not in names, any(b"{{" in v for _, v in fields),
            b"access-control-allow-origin" in names)


UNSENDABLE = re.compile(rb"[\r\n\0]")


def sendable(fields: Fields, example: Example) -> Fields:
    """`fields` without a header that cannot go out as one line: a CR or LF would start
    a header of its own (a `Set-Cookie` in every answer), and no parser takes a NUL.
    Where examples come in, such headers are refused (models.header_problem); this is the
    last line, for a file edited by hand or a template filled from the request."""
    if not any(UNSENDABLE.search(k) or UNSENDABLE.search(v) for k, v in fields):
        return fields
    kept = [(k, v) for k, v in fields if not (UNSENDABLE.search(k) or UNSENDABLE.search(v))]
    dropped = sorted({k.decode("utf-8", "replace").split("\r")[0].split("\n")[0]
                      for k, v in fields if (k, v) not in kept})
    log.warning("mockrec: example %s: header %s not sent: a line break or NUL in it",
                example.id, ", ".join(dropped))
    return kept


def example_answer(example: Example, wire: Wire, body: bytes, cors: Fields | None) -> Answer:
    """The example as sent: `wire` headers in order, the `cors` headers (unless the
    example has its own), `body` (templates filled), its length."""
    fields, with_length, _, own_cors = wire
    if cors and not own_cors:
        fields = [*fields, *cors]
    if with_length:
        fields = [*fields, (b"Content-Length", str(len(body)).encode())]
    return Answer(example.response.status, fields, body, example.response.reason)


NO_COLLECTION = Outcome(None, [], "no collection is loaded (set mockrec_collection)")


class Responder:
    """Replay's rules over one set of examples and one `ServeConfig`."""

    def __init__(self, config: ServeConfig | None = None) -> None:
        self.config = config or ServeConfig()
        self.matcher: Matcher | None = None
        self.quota = Quota()
        # How many calls each sequence answered (by Sequence.key), in this process.
        self.positions: dict[tuple[int, int], int] = {}
        self.rng = random.Random(self.config.seed)  # {{$random...}}, a profile's jitter
        self.fault_rng = random.Random(self.config.seed)  # --fault-rate
        self.delay_asked = False  # a call asked for a delay (x-mock-response-delay)
        self._wire: dict[int, Wire] = {}
        self.configure(self.config)

    def configure(self, config: ServeConfig, reseed: bool = False) -> None:
        """Serve with `config` from the next call on; `reseed`: the random sources start
        again from its seed (as when --seed is set)."""
        self.config = config
        self.quota.configure(config.max_calls, config.rate_limit)
        if reseed:
            self.rng, self.fault_rng = random.Random(config.seed), random.Random(config.seed)

    def load(self, matcher: Matcher | None) -> None:
        """Answer from these examples (None: no collection) from the next call on."""
        self.matcher = matcher
        self._wire = {}  # examples' headers as bytes, made on first use

    def reset(self) -> None:
        """`mockrec reset`: every sequence starts over, and the quotas are full again."""
        self.positions.clear()
        self.quota.reset()

    def key_matches(self, given: str) -> bool:
        """Is `given` this mock's API key? Always, for a public mock. Any bytes a client
        sends hash (surrogate escapes and all): a wrong key is a 401, never an error."""
        hashed = self.config.key_sha256
        if not hashed:
            return True
        return hmac.compare_digest(hash_key(given), hashed)

    def respond(self, call: Call) -> Decision:
        """The decision for `call` (the module's docstring lists the rules)."""
        config = self.config
        if config.cors and (preflight := self._preflight(call)):
            return Decision(Kind.PREFLIGHT, preflight)
        if not self.key_matches(call.header("x-api-key") or ""):
            return self._refuse(call, Kind.UNAUTHORIZED, "missing or wrong x-api-key", error(
                401, "authenticationError",
                "This mock is private: send its API key in the x-api-key header."))
        # Quotas count the calls that reach matching: not 401s, not preflights.
        if limited := self.quota.check():
            retry = [] if limited.retry_after is None else [
                (b"Retry-After", str(limited.retry_after).encode())]
            return self._refuse(call, Kind.QUOTA, limited.name, json_answer(
                429, {"error": {"name": limited.name, "message": limited.message}}, retry))
        asked = call.header(FAULT_HEADER)
        fault = None
        if asked is not None:
            try:
                fault = parse_fault(asked)
            except ValueError as e:
                return self._refuse(call, Kind.BAD_REQUEST, str(e), error(
                    400, "badFaultHeader", f"{FAULT_HEADER}: {e}"))
        outcome = (self.matcher.match(call, config.match) if self.matcher is not None
                   else NO_COLLECTION)
        match = outcome.match
        if match is None:
            if config.mode.forwards_miss(config.on_miss) and not call.to_itself:
                # A private mock's own key is not the upstream's.
                return Decision(Kind.FORWARD, None, outcome.message,
                                drop=("x-api-key",) if config.key_sha256 else ())
            return self._spoilt(call, Decision(Kind.NOT_FOUND, not_found(outcome),
                                               outcome.message, fault=fault))
        if fault is None and config.fault is not None and (
                config.fault_rate >= 100 or self.fault_rng.random() * 100 < config.fault_rate):
            fault = config.fault
        example = match.example
        if match.sequence is not None:
            # A fault the request asked for, or --fault's, spoils the answer that was
            # due without using it up: a retry gets it. An example's own fault is its
            # answer at its position.
            served = self._step(match.sequence, move=fault is None)
            if served is None:
                return self._spoilt(call, Decision(
                    Kind.NOT_FOUND, sequence_over(match.sequence, match),
                    "the sequence is over", fault=fault))
            example = served
        if fault is None and example.fault:
            fault = parse_fault(example.fault)
        return self._example(call, match, example, fault)

    def _example(self, call: Call, match: Match, example: Example,
                 fault: Fault | None) -> Decision:
        """The example's answer for this call: templates filled, CORS, the delay."""
        config = self.config
        wire = self._wire.get(example.id)
        if wire is None:
            wire = self._wire[example.id] = wire_headers(example)
        body, filler = example.response.body, None
        if wire[2] or templating.has_templates(body):  # dynamic: fill it for this call
            filler = templating.Filler(call, {**self.matcher.variables, **match.captures},
                                       self.rng)
            body = filler.body(body, example.response.header("content-type") or "")
            if wire[2]:  # a value filled from the request may hold a line break
                wire = (sendable(filler.headers(wire[0]), example), wire[1], False, wire[3])
        if fault is not None and fault.kind == "empty":
            body = b""
        paced = self._paced(call, example, filler, fault)
        if paced is not None:  # chunked: no length
            body, wire = paced.body, (wire[0], False, wire[2], wire[3])
        answer = example_answer(example, wire, body,
                                cors_headers(call.header("origin")) if config.cors else None)
        if config.cors and wire[3]:  # its own CORS headers: a recorded `*` + credentials
            with_cors(answer, call.header("origin"))
        if paced is not None:
            answer.stream = paced
            if answer.header(b"transfer-encoding") is None:
                answer.headers.append((b"Transfer-Encoding", b"chunked"))
        decision = Decision(Kind.EXAMPLE, answer, example=example, fault=fault)
        decision.delay = self._delay(call, len(body), decision)
        if fault is not None and fault.kind == "slow-body":
            answer.set_header(b"Connection", b"close")  # it closes after the body
        return decision

    def _paced(self, call: Call, example: Example, filler: templating.Filler | None,
               fault: Fault | None) -> Paced | None:
        """A streamed example's parts (templates filled inside each), paced by
        --stream-speed; `cut:N` keeps N of them, also of a whole body (one part). None:
        answered whole (not streamed, a HEAD, or spoilt by another fault)."""
        response = example.response
        cut = fault is not None and fault.kind == "cut"
        if (call.method == "HEAD" or fault is not None and not cut
                or response.stream is None and not cut or response.conversation is not None):
            return None  # (a WebSocket's cut ends its conversation: addons/websockets.py)
        stream = response.stream or Stream([(0, len(response.body))])
        kind = response.header("content-type") or ""
        fill = None if filler is None else (lambda data: filler.body(data, kind))
        return pacing.pace(pacing.filled(response.body, stream, fill),
                           self.config.stream_speed, fault.ms if cut else None)

    def _refuse(self, call: Call, kind: Kind, reason: str, answer: Answer) -> Decision:
        """One of mockrec's own answers, with CORS headers when they are on."""
        return Decision(kind, self._with_cors(call, answer), reason)

    def _with_cors(self, call: Call, answer: Answer) -> Answer:
        return with_cors(answer, call.header("origin")) if self.config.cors else answer

    def _spoilt(self, call: Call, decision: Decision) -> Decision:
        """A 404, spoilt by the call's fault if it asks for one."""
        answer, fault = self._with_cors(call, decision.answer), decision.fault
        if fault is not None and fault.kind == "empty":
            answer.body = b""
            answer.set_header(b"content-length", b"0")
        elif fault is not None and fault.kind == "slow-body":
            answer.set_header(b"Connection", b"close")
        return decision

    def _preflight(self, call: Call) -> Answer | None:
        asked = call.header("access-control-request-method")
        if call.method != "OPTIONS" or asked is None:
            return None
        if self.matcher is not None and self.matcher.match(call, self.config.match).match:
            return None  # an OPTIONS example answers it
        headers = [*cors_headers(call.header("origin")),
                   (b"Access-Control-Allow-Methods", wire_bytes(asked)),
                   (b"Access-Control-Max-Age", b"600")]
        if asked_headers := call.header("access-control-request-headers"):
            headers.append((b"Access-Control-Allow-Headers", wire_bytes(asked_headers)))
        return Answer(204, [*headers, (b"Content-Length", b"0")], b"")

    def _step(self, sequence: Sequence, move: bool = True) -> Example | None:
        """The member of `sequence` this call gets, the next one if `move`, else the
        one due now (it stays due); None when the sequence is over (404 end)."""
        members = sequence.members
        count = self.positions.get(sequence.key, 0) + 1
        if count > len(members):
            end = self.config.sequence_end
            if end == SequenceEnd.NOT_FOUND:
                return None
            if end != SequenceEnd.CYCLE:
                return members[-1]
            count = 1
        if move:
            self.positions[sequence.key] = count
        return members[count - 1]

    def _delay(self, call: Call, size: int, decision: Decision) -> float:
        """Seconds the answer waits, from the call's arrival."""
        asked, ignored = delays.checked_header_delay(call.header("x-mock-response-delay"))
        if ignored:  # said in the call log: Postman ignores it without a word
            decision.warnings.append(ignored)
        if asked is not None:
            self.delay_asked = True
            return asked / 1000
        if self.config.profile is not None:
            return self.config.profile.seconds(size, self.rng)
        return self.config.delay_ms / 1000
