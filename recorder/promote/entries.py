"""Promote ("Mock Request"): history entries become examples in a collection.

Entries with the same method and URL template land in one request as several
examples. Entries holding the same request (method, URL, body) with different
responses become a sequence inside it: positions 1, 2, 3 ... in history order, which
replay answers in that order; a later promote appends to the sequence.

What an example keeps is what replay should serve: secrets redacted unless asked
otherwise, hop-by-hop and volatile response headers dropped, and compressed bodies
stored decoded so that any client can read the answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from recorder import encodings
from recorder.conversation import Conversation
from recorder.conversation import from_doc as conversation_from_doc
from recorder.errors import MockrecError, UsageError
from recorder.match import templates as paths
from recorder.models import (
    Collection,
    Example,
    ExampleRequest,
    ExampleResponse,
    HistoryEntry,
    HistoryFilter,
    IdSpan,
    Request,
    counted,
)
from recorder.redaction import (  # noqa: F401  (promote's rules, re-exported)
    ECHOED,
    REDACTED,
    SECRET_HEADERS,
    SECRET_QUERY,
    SECRET_RESPONSE_HEADERS,
    redact_echoes,
    redact_header,
    redact_headers,
    redact_url,
    secret_values,
)
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore
from recorder.streams import Stream

# Not worth replaying: they describe one connection or one moment. Content-Length
# is recomputed when the example is served (its body may have been decoded).
DROPPED_RESPONSE_HEADERS = {"date", "connection", "transfer-encoding", "keep-alive",
                            "content-length", "proxy-connection", "te", "trailer", "upgrade"}


@dataclass
class PromoteOptions:
    request_name: str | None = None
    example_name: str | None = None
    template: str | None = None  # /users/{{userId}}
    infer_templates: bool = False
    keep_secrets: bool = False
    sequence: bool = True  # --no-sequence: repeats are plain examples, as before
    allow_duplicates: bool = False  # else an entry already standing as an example is skipped


# What the name of an example promoted from a truncated entry says.
TRUNCATED_MARK = "(body not recorded)"


@dataclass
class PromoteResult:
    examples: list[Example] = field(default_factory=list)
    new_requests: list[Request] = field(default_factory=list)
    redacted: Counter[str] = field(default_factory=Counter)
    inferred: dict[str, str] = field(default_factory=dict)  # template -> an example path
    skipped: list[str] = field(default_factory=list)
    untemplated: int = 0
    sequences: int = 0  # sequences made or extended
    duplicates: int = 0  # entries skipped: their example is already in the request
    base_url: str | None = None  # the upstream the entries came through: {{baseUrl}}
    # examples from entries whose response body was over the body limit: kept empty
    truncated: list[Example] = field(default_factory=list)

    def redaction_summary(self) -> str:
        if not self.redacted:
            return ""
        parts = ", ".join(
            f"{count} secret{'s' * (count != 1)} echoed in response bodies" if what == ECHOED
            else _redacted_text(what, count) for what, count in sorted(self.redacted.items()))
        return f"redacted {parts} (as {REDACTED}; --keep-secrets keeps them)"


def _redacted_text(what: str, count: int) -> str:
    """'2 Set-Cookie headers', '1 query parameter key', '3 values of query parameter key'."""
    if what.startswith("query parameter ") and count != 1:
        return f"{count} values of {what}"
    return counted(count, what) if what.endswith(" header") else f"{count} {what}"


# -- one entry, one example ----------------------------------------------------------------

def example_from_entry(entry: HistoryEntry, example_id: int, name: str, *,
                       keep_secrets: bool, redacted: Counter[str]) -> Example:
    assert entry.response is not None and entry.response.body is not None
    request, response = entry.request, entry.response
    url, req_headers = request.url, list(request.headers)
    resp_headers = [(k, v) for k, v in response.headers
                    if k.lower() not in DROPPED_RESPONSE_HEADERS]
    body, was_decoded = encodings.decode(response.headers, response.body)
    # A stream keeps its parts; decoded (a compressed stream), its parts are one.
    pieces = (None if response.stream is None else
              [(0, body)] if was_decoded else response.stream.pieces(body))
    if was_decoded:
        resp_headers = [(k, v) for k, v in resp_headers if k.lower() != "content-encoding"]
    if not keep_secrets:
        # What the API echoed of the request's secrets (httpbin's /anything, a login
        # answering with the token it was given) goes too, wherever it reappears.
        secrets = secret_values(url, req_headers)
        body = redact_echoes(body, secrets, redacted)
        if pieces is not None:
            pieces = [(offset, redact_echoes(data, secrets, Counter())) for offset, data in pieces]
        url = redact_url(url, redacted)
        req_headers = redact_headers(req_headers, SECRET_HEADERS, redacted)
        resp_headers = redact_headers(resp_headers, SECRET_RESPONSE_HEADERS, redacted)
    body, stream = _streamed(body, pieces, response.stream)
    return Example(
        id=example_id,
        name=name,
        request=ExampleRequest(method=request.method, url=url, headers=req_headers,
                               body=request.body or b""),
        response=ExampleResponse(response.status, response.reason, resp_headers, body,
                                 conversation=recorded_conversation(entry), stream=stream),
        source_entry=entry.id,
    )


def recorded_conversation(entry: HistoryEntry) -> Conversation | None:
    """A WebSocket entry's conversation, for its example (None for the rest)."""
    doc = entry.notes.get("websocket")
    return None if doc is None else conversation_from_doc(doc, "the entry's websocket")


def _streamed(body: bytes, pieces: list | None,
              stream: Stream | None) -> tuple[bytes, Stream | None]:
    if pieces is None or stream is None:
        return body, None
    return Stream.of_pieces(pieces, stream.cut)


def request_url(entry: HistoryEntry, options: PromoteOptions,
                result: PromoteResult, base: str | None) -> str:
    """The request's URL template: origin plus the path, wildcards where asked."""
    parts = urlsplit(entry.request.url)
    path = parts.path or "/"
    if options.template:
        if paths.match_template(options.template, path) is not None:
            path = options.template
        else:
            result.untemplated += 1
    elif options.infer_templates:
        inferred = paths.infer_template(path)
        if inferred != path:
            result.inferred.setdefault(inferred, path)
            path = inferred
    return based(urlunsplit((parts.scheme, parts.netloc, path, "", "")), base)


def based(url: str, base: str | None) -> str:
    """`{{baseUrl}}/path?query` for a URL under `base`, else the URL as it is."""
    if base and url.startswith(base) and url[len(base):len(base) + 1] in ("", "/", "?"):
        rest = url[len(base):]
        return BASE_URL + (rest if rest.startswith("/") else "/" + rest)
    return url


BASE_URL = "{{baseUrl}}"


def common_upstream(entries: list[HistoryEntry], collection: Collection) -> str | None:
    """The reverse upstream every entry was recorded through, when the collection's
    baseUrl is unset or already that: it becomes the `{{baseUrl}}` of their URLs."""
    upstreams = {entry.notes.get("reverse") for entry in entries}
    if len(upstreams) != 1:
        return None
    upstream = upstreams.pop()
    if not upstream or collection.variables.get("baseUrl", upstream) != upstream:
        return None
    return upstream


def expanded(url: str, base: str | None) -> str:
    """A URL with a leading `{{baseUrl}}` filled in: `{{baseUrl}}/users` and
    `http://api.test/users` are one endpoint when baseUrl is http://api.test."""
    if base is not None and url.startswith(BASE_URL):
        return base + url[len(BASE_URL):]
    return url


def _same(example: Example, base: str | None) -> tuple:
    """What makes two examples of a request the same: request and response."""
    req, resp = example.request, example.response
    return (req.method, expanded(req.url, base), req.body, resp.status, tuple(resp.headers),
            resp.body)


class UniqueNames:
    """Hands out `name`, then `name (2)`, `name (3)`...; cheap when asked thousands of times."""

    def __init__(self, taken: Iterable[str] = ()):
        self.taken = set(taken)
        self._next: dict[str, int] = {}

    def __call__(self, name: str) -> str:
        candidate = name
        if candidate in self.taken:
            n = self._next.get(name, 2)
            while (candidate := f"{name} ({n})") in self.taken:
                n += 1
            self._next[name] = n + 1
        self.taken.add(candidate)
        return candidate


def unique(name: str, taken: Iterable[str]) -> str:
    return UniqueNames(taken)(name)


def promote(entries: Iterable[HistoryEntry], collection: Collection, options: PromoteOptions,
            new_ids: Callable[[int], list[int]]) -> PromoteResult:
    """Add `entries` to `collection` in place; `new_ids(n)` hands out example ids."""
    result = PromoteResult()
    usable = []
    for entry in entries:
        if entry.response is None:
            result.skipped.append(f"entry {entry.id}: no response ({entry.error})")
        else:
            usable.append(entry)
    result.base_url = common_upstream(usable, collection)
    if result.base_url:
        collection.variables["baseUrl"] = result.base_url
    into = _Into(collection, options, result)
    before = {r.id: len(r.examples) for r in collection.requests}
    made = [example for entry in usable if (example := into.add(entry)) is not None]
    for example, example_id in zip(made, new_ids(len(made)) if made else [], strict=True):
        example.id = example_id
    result.examples = made
    if options.sequence:
        touched = {e.id for e in result.examples}
        for request in collection.requests:
            if any(e.id in touched for e in request.examples[before.get(request.id, 0):]):
                result.sequences += number_sequences(request, before.get(request.id, 0))
    return result


class _Into:
    """The collection entries are promoted into: its requests by method and URL, the
    names taken, and what already stands as an example."""

    def __init__(self, collection: Collection, options: PromoteOptions,
                 result: PromoteResult) -> None:
        self.collection, self.options, self.result = collection, options, result
        # URLs under the collection's baseUrl are written `{{baseUrl}}/...`, however their
        # entries were recorded (a forward proxy, a reverse one): one endpoint, one request,
        # found whichever way an earlier promote or an import wrote its URL.
        self.base = base = collection.variables.get("baseUrl") or None
        requests = collection.requests
        self.by_key = {(r.method, expanded(r.url, base)): r for r in requests}
        self.request_names = UniqueNames(r.name for r in requests)
        self.example_names = {r.id: UniqueNames(e.name for e in r.examples) for r in requests}
        # What already stands as an example, per request: promoting it again adds nothing.
        self.standing = {(r.id, _same(e, base)) for r in requests for e in r.examples}
        self.next_request_id = max((r.id for r in requests), default=0) + 1

    def add(self, entry: HistoryEntry) -> Example | None:
        """The example made of `entry`, added to its request; None for a duplicate."""
        options, result, base = self.options, self.result, self.base
        url = request_url(entry, options, result, base)
        request = self.by_key.get((entry.request.method, expanded(url, base)))
        assert entry.response is not None
        redacted: Counter[str] = Counter()
        example = example_from_entry(entry, 0, "", keep_secrets=options.keep_secrets,
                                     redacted=redacted)
        example.request.url = based(example.request.url, base)
        if (request is not None and not options.allow_duplicates
                and (request.id, _same(example, base)) in self.standing):
            result.duplicates += 1
            return None
        result.redacted.update(redacted)
        if request is None:
            request = self._new_request(entry, url)
        default = f"{entry.response.status} {entry.response.reason}".strip()
        if "response" in entry.truncated:  # its body was never recorded: say so
            default += f" {TRUNCATED_MARK}"
            result.truncated.append(example)
        example.name = self.example_names[request.id](options.example_name or default)
        request.examples.append(example)
        return example

    def _new_request(self, entry: HistoryEntry, url: str) -> Request:
        default = f"{entry.request.method} {example_path(url)}"
        request = Request(id=self.next_request_id,
                          name=self.request_names(self.options.request_name or default),
                          method=entry.request.method, url=url)
        self.example_names[request.id] = UniqueNames()
        self.next_request_id += 1
        self.collection.requests.append(request)
        self.by_key[(request.method, expanded(url, self.base))] = request
        self.result.new_requests.append(request)
        return request


def example_path(url: str) -> str:
    """The path of a request URL, `{{baseUrl}}/users` included."""
    if url.startswith(BASE_URL):  # `{{baseUrl}}//api/users` is /api/users, not /users
        return url[len(BASE_URL):].partition("?")[0].partition("#")[0] or "/"
    try:
        return urlsplit(url).path or "/"
    except ValueError:  # a malformed authority: what follows it
        return "/" + url.partition("://")[2].partition("/")[2].partition("?")[0]


def number_sequences(request: Request, before: int) -> int:
    """Give positions to the examples of `request` from this promote (those after the
    first `before`) that repeat a request with different responses; returns how many
    sequences were made or extended.

    An earlier sequence of the same request is extended; promoted examples of it from
    earlier runs (without positions yet) come first. Hand-written examples stay out.
    """
    fresh: dict[tuple, list[Example]] = {}
    for example in request.examples[before:]:
        fresh.setdefault(example.sequence_key, []).append(example)
    earlier: dict[tuple, list[Example]] = {}
    for example in request.examples[:before]:
        if example.sequence_key in fresh and (example.sequence is not None
                                              or example.source_entry is not None):
            earlier.setdefault(example.sequence_key, []).append(example)
    made = 0
    for key, new in fresh.items():
        old = earlier.get(key, [])
        last = max((e.sequence for e in old if e.sequence is not None), default=None)
        if last is not None:
            members, first = new, last + 1
        else:
            members, first = old + new, 1
            answers = {(e.response.status, tuple(e.response.headers), e.response.body)
                       for e in members}
            if len(answers) < 2:
                continue  # the same answer each time: nothing to replay in order
        for position, example in enumerate(members, first):
            example.sequence = position
        made += 1
    return made


# -- choosing what to promote, and where -------------------------------------------------

def select_entries(history: HistoryStore, specs: list[IdSpan],
                   filters: HistoryFilter) -> list[HistoryEntry]:
    """Entries named by ids and ranges (and passing `filters`), or all passing `filters`.

    A single id must exist; a range takes the ids in it that exist, and must
    hold at least one.
    """
    has_filters = any(vars(filters).values())
    if not specs and not has_filters:
        raise MockrecError("name the entries to promote: ids and ranges (12 15-20) or "
                           "filters (--since, --method, --path, --status)")
    if not specs:
        entries = list(history.entries(filters, with_bodies=True, newest_first=False))
        if not entries:
            raise MockrecError("no history entry matches those filters; nothing was promoted")
        return entries
    found = history.get_many(history.existing_ids(specs, "promoted"))
    ordered = sorted(found.values(), key=lambda e: e.id or 0)
    entries = [e for e in ordered if filters.matches(e)]
    if not entries:
        raise MockrecError("none of those entries passes the filters; nothing was promoted")
    return entries


def fresh_collection_name(store: CollectionStore) -> str:
    base = datetime.now().strftime("promoted-%Y%m%d-%H%M%S")
    return unique(base, store.names()).replace(" (", "-").rstrip(")")


def check_template(template: str | None) -> None:
    if template is not None and not template.startswith("/"):
        raise UsageError(f"--template {template!r} must be a path like /users/{{{{userId}}}}")


@dataclass
class Promoted:
    collection: str
    created: bool
    result: PromoteResult


def promote_into(store: CollectionStore, collection: str | None, entries: list[HistoryEntry],
                 options: PromoteOptions,
                 progress: Callable[[list[HistoryEntry]], Iterable[HistoryEntry]] = list,
                 ) -> Promoted:
    """Promote `entries` into `collection` (created if missing; None: a fresh one), in one
    write; nothing is written when no entry has a response to promote."""
    check_template(options.template)
    target = collection or fresh_collection_name(store)
    created = not store.exists(target)
    with store.editing(target, create=True) as c:
        result = promote(progress(entries), c, options,
                         lambda n: store.new_example_ids(c, n))
        if not result.examples and not result.duplicates:
            raise MockrecError("no entry had a response to promote; nothing was written: "
                               + "; ".join(result.skipped[:3]))
    return Promoted(target, created, result)
