"""The history's vocabulary: requests, responses and entries as plain dataclasses.

Nothing here knows about mitmproxy or TinyDB: the record addon builds these from
flows, the history store turns them into documents.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from recorder.conversation import Conversation
from recorder.streams import Stream

# Header names and values are kept as text that round-trips to the exact bytes
# sent on the wire: UTF-8 where it decodes, surrogate escapes where it does not.
Header = tuple[str, str]


def header_problem(name: str, value: str) -> str | None:
    """Why `name: value` cannot go out as one header line, or None. A CR or LF would end
    the header and start one the example never had (a `Set-Cookie` in every answer);
    NUL is refused by HTTP parsers; a colon in a name would move the value."""
    if any(c in name for c in "\r\n"):
        return f"header name {name!r} has a line break (CR or LF)"
    if "\0" in name or ":" in name or not name.strip():
        return f"header name {name!r} is not a header's name"
    if any(c in value for c in "\r\n"):
        return f"header {name}'s value has a line break (CR or LF): {value!r}"
    if "\0" in value:
        return f"header {name}'s value has a NUL byte: {value!r}"
    return None


def check_headers(headers: Iterable[Header], where: str = "") -> None:
    """ValueError naming the first header that cannot be sent as it is (`header_problem`),
    after `where` when given."""
    for name, value in headers:
        if problem := header_problem(name, value):
            raise ValueError(f"{where}: {problem}" if where else problem)


def wire_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def wire_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@dataclass
class HttpRequest:
    method: str
    url: str
    http_version: str = "HTTP/1.1"
    headers: list[Header] = field(default_factory=list)
    # None when the body was not loaded (listing); `body_size` is always known.
    body: bytes | None = b""
    body_size: int = 0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def path_and_query(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass
class HttpResponse:
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[Header] = field(default_factory=list)
    body: bytes | None = b""
    body_size: int = 0
    # A body that came in parts (recorder/streams.py): where each ended and when.
    stream: Stream | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass
class Timings:
    """Wall-clock timestamps (seconds since the epoch) of one exchange."""

    start: float
    request_end: float | None = None
    response_start: float | None = None
    end: float | None = None

    @property
    def duration_ms(self) -> float | None:
        if self.end is None:
            return None
        return round((self.end - self.start) * 1000, 3)


@dataclass
class HistoryEntry:
    """One recorded exchange. `id` is given by the store and never reused."""

    request: HttpRequest
    timings: Timings
    response: HttpResponse | None = None
    error: str | None = None
    client: str = ""
    upstream: str = ""
    mode: str = "record"
    id: int | None = None
    # What the call log adds: mock, example (id and name), delay_ms.
    notes: dict[str, Any] = field(default_factory=dict)
    # The recording proxy's name for the capture: a capture handed again to a new
    # writer (the old one died before it said it had stored it) is stored once.
    capture: str = ""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timings.start).astimezone()

    @property
    def truncated(self) -> dict[str, int | None]:
        """The sides whose body was over the body limit and not kept, with the size the
        message announced (None: not known); the entry keeps such a body empty."""
        marked = self.notes.get("truncated")
        return marked if isinstance(marked, dict) else {}

    @property
    def status_text(self) -> str:
        if self.response is not None:
            return str(self.response.status)
        return "error"


@dataclass
class HistoryFilter:
    """The filters of `history list` and `promote`; all given ones must hold."""

    method: str | None = None
    host: str | None = None
    path: str | None = None  # a glob: /users/*
    status: str | None = None  # 200, 2xx, or "error"
    since: datetime | None = None

    def __post_init__(self) -> None:
        if self.status is not None:
            self.status = check_status_filter(self.status)

    def matches(self, entry: HistoryEntry) -> bool:
        request = entry.request
        if self.method and request.method.upper() != self.method.upper():
            return False
        if self.host and request.host.lower() != self.host.lower():
            return False
        if self.path and not fnmatch.fnmatchcase(request.path, self.path):
            return False
        if self.status and not status_matches(self.status, entry):
            return False
        return not (self.since and entry.timings.start < self.since.timestamp())


def status_matches(spec: str, entry: HistoryEntry) -> bool:
    """`200` is that status, `2xx` a class of them, `error` an upstream failure."""
    spec = spec.strip().lower()
    if spec == "error":
        return entry.response is None
    if entry.response is None:
        return False
    status = str(entry.response.status)
    if len(spec) == 3 and spec.endswith("xx"):
        return status[0] == spec[0]
    return status == spec


def check_status_filter(spec: str) -> str:
    """A `--status` filter that can match something: 404, 2xx or error."""
    value = spec.strip().lower()
    if value == "error" or (len(value) == 3 and value[0] in "12345"
                            and (value[1:].isdigit() or value[1:] == "xx")):
        return value
    raise ValueError(f"--status {spec!r} is not a status (404), a class (2xx) or 'error'")


def parse_since(text: str) -> datetime:
    """`2026-11-01`, `2026-11-01T09:30` or any ISO 8601 date-time; local time if naive."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


class IdSpan(NamedTuple):
    """An id (`3`) or a range of ids (`3-7`), as given: never expanded, so that
    `1-1000000000` costs what the entries that exist cost, not a billion ints."""

    first: int
    last: int
    is_range: bool

    def __contains__(self, entry_id: object) -> bool:
        return isinstance(entry_id, int) and self.first <= entry_id <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}" if self.is_range else str(self.first)


def parse_ids(specs: list[str]) -> list[IdSpan]:
    """`3`, `3-7` and `3,5` name entries; returns the spans in the order given."""
    spans: list[IdSpan] = []
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            low, sep, high = part.partition("-")
            try:
                first, last = int(low), int(high if sep else low)
            except ValueError:
                raise ValueError(f"{part!r} is not an id or a range like 3-7") from None
            if first < 1 or last < first:
                raise ValueError(f"{part!r} is an empty range: write it low-high, like 3-7")
            spans.append(IdSpan(first, last, bool(sep)))
    return spans


def pick_ids(spans: list[IdSpan], existing: Iterable[int], what: str) -> list[int]:
    """The ids `spans` name among `existing` (ids that exist, a known set: examples): a
    single id must exist, a range takes those in it that exist and must hold one."""
    from recorder.errors import NotFound

    known = sorted(set(existing))
    picked: set[int] = set()
    for span in spans:
        found = [i for i in known if i in span]
        if not found:
            raise NotFound(f"no {what} in {span}" if span.is_range
                           else f"{what} {span} does not exist")
        picked.update(found)
    return sorted(picked)


def format_ids(ids: Iterable[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def counted(n: int, word: str, plural: str | None = None) -> str:
    """'1 entry', '2 entries', '0 examples'."""
    if n == 1:
        return f"{n} {word}"
    if plural is None:
        plural = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" \
            else word + "s"
    return f"{n} {plural}"


# -- collections: what promote writes and replay answers from ---------------------------

@dataclass
class ExampleRequest:
    """Postman's `originalRequest`: the request an example answers."""

    method: str
    url: str
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    # How Postman saved the body: "json" (`options.raw.language`), "graphql" (the body is
    # then the {"query", "variables"} JSON Postman sends), other raw languages, or "".
    language: str = ""


def reason_phrase(status: int) -> str:
    """The standard reason phrase of a status (`201` -> `Created`), or empty."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass
class ExampleResponse:
    status: int
    reason: str = ""
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    # A WebSocket's: the 101 above, then this conversation (recorder/conversation.py).
    conversation: Conversation | None = None
    # Answered as a stream, part by part at its offset (recorder/streams.py).
    stream: Stream | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass
class Example:
    id: int
    name: str
    request: ExampleRequest
    response: ExampleResponse
    source_entry: int | None = None  # the history entry it was promoted from
    postman_id: str | None = None  # the example's id in the Postman collection it came from
    # Its position in a sequence (1, 2, 3 ...): examples of one request with the same
    # `sequence_key` and a position answer in that order, one per matching request.
    sequence: int | None = None
    fault: str = ""  # answer with this fault instead (recorder/serve/faults.py)
    # What its Postman file had that mockrec does not model (recorder/interop/kept.py)
    postman: list[dict[str, Any]] | None = None

    @property
    def sequence_key(self) -> tuple[str, str, bytes]:
        """What the examples of one sequence share: the concrete request."""
        return self.request.method.upper(), self.request.url, self.request.body


@dataclass
class Request:
    """A collection request: method and URL template, holding one or more examples."""

    id: int
    name: str
    method: str
    url: str  # may hold {{variables}} and :name path parameters
    folder: str = ""
    examples: list[Example] = field(default_factory=list)
    postman: list[dict[str, Any]] | None = None  # as Example.postman, for the item


@dataclass
class Tag:
    name: str
    created: float


@dataclass
class Collection:
    name: str
    requests: list[Request] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    # What its Postman file had that mockrec does not model: "top" (the operations
    # for the file's top level) and "folders" ({folder: {"at": position, "ops": ...}})
    postman: dict[str, Any] = field(default_factory=dict)

    @property
    def examples(self) -> list[Example]:
        return [example for request in self.requests for example in request.examples]

    def find_example(self, example_id: int) -> tuple[Request, Example] | None:
        for request in self.requests:
            for example in request.examples:
                if example.id == example_id:
                    return request, example
        return None
