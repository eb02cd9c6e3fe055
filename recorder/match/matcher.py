"""How a request is matched to an example: Postman's algorithm, as small named steps.

For each example of the collection:
1. the method must be the request's;
2. `x-mock-response-code` keeps examples with that status; then
   `x-mock-response-id` and `x-mock-response-name` pick one at once;
3. path score from 100, the first step that fits wins (PATH_STEPS);
4. query score (`query_score`);
5. body and headers, when asked (the request's `x-mock-match-request-*` headers
   win over the mock's settings): examples that differ are dropped; an equal
   body adds 5 even when not asked (recorder/match/bodies.py compares bodies);
6. the highest score wins; ties go to status 200, then Postman's order: by
   Postman's example id for imported examples, then by mockrec's id.

In a forward proxy an example whose URL names a host only matches requests for
that host (`Incoming.host`); examples without a host match any host. A HEAD that
no HEAD example fits is matched as a GET.

A step that drops an example says why (`Miss`), and the 404's `details` are
those reasons for the closest examples: the explanation is the algorithm's own
output, not a second algorithm.

Nothing here looks at every example of a collection for one request. The
examples are indexed by host, then method, then by what each path step
compares (`Shelf`): the normalised path (exact, trailing slash, case), the
literal segments around wildcards, the path with ID-like segments blanked, and
for the similar-path step the paths of each length, sorted, walked as a trie
with a banded edit distance that gives up beyond the 0.8 threshold
(`SimilarPaths`, in recorder/match/similar.py). So a request only meets the
examples a step could take; the outcome of the similar-path step is cached per
distinct path.
tests/oracle/matcher_full_scan.py is the full scan this replaces, and the unit
tests check both agree.

A sequence (examples of one request with positions, `Example.sequence`) is
matched as one candidate, its first position: the match then names the
`Sequence`, and replay picks the position to serve. So a sequence of 50 costs
what one example costs. `x-mock-response-code`, `-id` and `-name` see every
example, and their match names no sequence (they pick directly).
"""

from __future__ import annotations

import heapq
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from recorder.collector import collector_paused
from recorder.interop import forms
from recorder.match import templates as paths
from recorder.match.bodies import BodyPattern, RequestBody, example_body
from recorder.match.similar import SimilarPaths, fits_similar
from recorder.models import Collection, Example, Header, Request

VARIABLE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


@dataclass
class Incoming:
    """The parts of a live request that matching looks at."""

    method: str
    path: str  # without the query
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    # A forward proxy's request: the host it is for (`host_key`), which examples
    # naming a host must equal. None (reverse proxy, the mock URL): not compared.
    host: str | None = None

    @classmethod
    def from_target(cls, method: str, target: str, headers: list[Header],
                    body: bytes, host: str | None = None) -> Incoming:
        # An origin-form target is a path and a query, nothing else: "//[x" is a
        # path (urlsplit would read a host there, and raise on the bracket).
        path, _, query = target.partition("#")[0].partition("?")
        return cls(method.upper(), path or "/", parse_qsl(query, keep_blank_values=True),
                   headers, body, host)

    def __post_init__(self) -> None:
        self.by_name: dict[str, str] = {}
        for k, v in self.headers:
            self.by_name.setdefault(k.lower(), v)

    def header(self, name: str) -> str | None:
        return self.by_name.get(name.lower())

    @property
    def where(self) -> str:
        """How a message names the request's host: ` on HOST`, or nothing."""
        return f" on {self.host}" if self.host is not None else ""


@dataclass(eq=False)
class Sequence:
    """Examples that answer in turn: `members` in the order of their positions."""

    key: tuple[int, int]  # request id, lowest example id: the same after a reload
    members: tuple[Example, ...]


@dataclass
class MatchSettings:
    strict: bool = False
    match_body: bool = False
    match_headers: list[str] = field(default_factory=list)


@dataclass
class Miss:
    """Why one example was not chosen: the step it failed at, in words."""

    example: Example
    request: Request
    step: str
    reason: str
    closeness: float  # for ordering the 404's details: higher is closer

    def as_detail(self) -> dict[str, Any]:
        return {"id": self.example.id, "name": self.example.name,
                "request": self.request.name, "step": self.step, "reason": self.reason}


@dataclass
class Match:
    example: Example
    request: Request
    score: float
    captures: dict[str, str]
    path_step: str
    rank: int = 0  # Postman's order among ties
    sequence: Sequence | None = None  # replay picks the member to serve


@dataclass
class Outcome:
    match: Match | None
    misses: list[Miss] = field(default_factory=list)
    message: str = ""

    def details(self, limit: int = 3) -> list[dict[str, Any]]:
        closest = sorted(self.misses, key=lambda m: (-m.closeness, m.example.id))
        return [m.as_detail() for m in closest[:limit]]


# -- step 3: the path ------------------------------------------------------------------

def _strip_slash(segments: list[str]) -> list[str]:
    return segments[:-1] if len(segments) > 1 and segments[-1] == "" else segments


def _wildcards(template: list[str], path: list[str]) -> dict[str, str] | None:
    if len(template) != len(path):
        return None
    captures = {}
    for expected, actual in zip(template, path, strict=True):
        name = paths.wildcard_name(expected)
        # An empty segment (`/stores//settings`, `/stores/`) is what Postman sends for a
        # `:name` path variable whose value is empty; `{{name}}` wants a value.
        if name is not None and (actual or expected.startswith(":")):
            captures[name] = actual
        elif expected != actual:
            return None
    return captures


def _ids_equal(template: list[str], path: list[str]) -> bool:
    return len(template) == len(path) and all(
        a == b or (paths.is_id_like(a) and paths.is_id_like(b)) for a, b in zip(
            template, path, strict=True))



def _similar(template: list[str], path: list[str]) -> bool:
    return fits_similar("/".join(template), "/".join(path))


def closeness(template: list[str], path: list[str]) -> float:
    """A cheap stand-in for similarity, to order the 404's details."""
    return _closeness("/".join(template), "/".join(path))


def _closeness(a: str, b: str) -> float:
    n = min(len(a), len(b))
    if a[:n] != b[:n]:  # the common prefix, by halves: string compares run in C
        low, high = 0, n - 1
        while low < high:
            middle = (low + high + 1) // 2
            if a[:middle] == b[:middle]:
                low = middle
            else:
                high = middle - 1
        n = low
    return n / (max(len(a), len(b)) or 1)


PathStep = tuple[str, int, Callable[[list[str], list[str]], dict[str, str] | bool | None]]
def _empty_values(template: list[str], path: list[str]) -> dict[str, str] | None:
    """The path Postman sends for the example when its `:name` values are empty (an
    empty segment in their place): that example's own path, as exact as `exact`."""
    if len(template) != len(path) or "" not in path:
        return None
    captures = {}
    for expected, actual in zip(template, path, strict=True):
        if expected.startswith(":") and actual == "" and paths.wildcard_name(expected):
            captures[paths.wildcard_name(expected)] = ""
        elif expected != actual:
            return None
    return captures or None


PATH_STEPS: list[PathStep] = [
    ("exact", 0, lambda t, p: t == p),
    # Not in Postman's table: an empty value resolves to "" (SPEC: as Postman's do)
    ("empty path variables", 0, _empty_values),
    ("trailing slash", 5, lambda t, p: _strip_slash(t) == _strip_slash(p)),
    ("case", 10, lambda t, p: [s.lower() for s in t] == [s.lower() for s in p]),
    ("trailing slash and case", 15,
     lambda t, p: [s.lower() for s in _strip_slash(t)] == [s.lower() for s in _strip_slash(p)]),
    ("wildcards", 20, _wildcards),
    # Not in Postman's table: a trailing slash is forgiven at every other step, so
    # here too, for the same 5 on top of the wildcards' 20.
    ("trailing slash and wildcards", 25,
     lambda t, p: _wildcards(_strip_slash(t), _strip_slash(p))),
    ("ID-like segments", 21, _ids_equal),
    ("trailing slash and IDs", 25, lambda t, p: _ids_equal(_strip_slash(t), _strip_slash(p))),
    ("similar path", 30, _similar),
]
STRICT_LAST = "trailing slash and wildcards"


def path_score(template: list[str], path: list[str],
               strict: bool = False) -> tuple[int, str, dict[str, str]] | None:
    """(score, step name, wildcard captures) for the first step that fits, else None."""
    for name, penalty, fits in PATH_STEPS:
        result = fits(template, path)
        if result is not None and result is not False:
            return 100 - penalty, name, result if isinstance(result, dict) else {}
        if strict and name == STRICT_LAST:
            return None
    return None


# -- step 4: the query -------------------------------------------------------------------

def query_score(expected: list[tuple[str, str]], actual: list[tuple[str, str]]) -> float:
    """+10 when all pairs match; a share of 10 for some; -missing (at most 10) for none.

    An example's `{{variable}}` value matches any value (redacted keys, wildcards).
    """
    if not expected and not actual:
        return 10
    got: dict[str, list[str]] = {}
    for key, value in actual:
        got.setdefault(key, []).append(value)
    matches = partials = missing = 0
    for key, value in expected:
        values = got.get(key)
        if values is None:
            missing += 1
        elif value in values or VARIABLE.fullmatch(value):
            matches += 1
        else:
            partials += 1
    wanted = {k for k, _ in expected}
    missing += sum(1 for key in got if key not in wanted)
    if matches and not partials and not missing:
        return 10
    if matches:
        return 10 * matches / (matches + partials + missing)
    return -min(missing, 10)


# -- step 5: bodies and headers -------------------------------------------------------------

def _switch(value: str | None) -> bool | None:
    """An `x-mock-match-request-body` value: true, false, or None (not said)."""
    value = (value or "").strip().lower()
    return True if value == "true" else False if value == "false" else None


def _header_list(value: str) -> list[str]:
    """An `x-mock-match-request-headers` value: names, or none for `false`."""
    if value.strip().lower() == "false":
        return []
    return [h.strip().lower() for h in value.split(",") if h.strip()]


# -- steps 3 to 6, one example at a time -----------------------------------------------------

@dataclass
class Asked:
    """What one request asks of steps 3 to 5: its parts as they are compared, and
    the switches its headers (they win) or the mock's settings decide."""

    incoming: Incoming
    method: str  # the request's, or GET for a HEAD answered as a GET
    code: str | None  # `x-mock-response-code`: the status asked for
    settings: MatchSettings
    segments: list[str] = field(init=False)
    body: RequestBody = field(init=False)
    match_body: bool = field(init=False)
    match_headers: list[str] = field(init=False)

    def __post_init__(self) -> None:
        incoming, settings = self.incoming, self.settings
        self.segments = decoded_segments(incoming.path)
        self.body = RequestBody(incoming.body, incoming.header("content-type") or "")
        # The request's headers win over the mock's settings (Postman's precedence).
        match_body = _switch(incoming.header("x-mock-match-request-body"))
        self.match_body = settings.match_body if match_body is None else match_body
        asked_headers = incoming.header("x-mock-match-request-headers")
        self.match_headers = (settings.match_headers if asked_headers is None
                              else _header_list(asked_headers))


def score(item: Indexed, asked: Asked, misses: list[Miss]) -> Match | None:
    """Steps 3 to 5 for one example: its match, or None with the reason in `misses`."""
    example, code, segments = item.example, asked.code, asked.segments
    if code is not None and str(example.response.status) != code:
        misses.append(Miss(example, item.request, "x-mock-response-code",
                           f"status is {example.response.status}, not {code}", 0.5))
        return None
    scored = path_score(item.segments, segments, asked.settings.strict)
    if scored is None:
        misses.append(Miss(example, item.request, "path",
                           f"path /{'/'.join(item.segments)} does not fit "
                           f"{asked.incoming.path}", closeness(item.segments, segments)))
        return None
    points, step, captures = scored
    points += query_score(item.query, asked.incoming.query)
    headers = asked.incoming.by_name
    for name in asked.match_headers:
        if item.headers.get(name) != headers.get(name):
            misses.append(Miss(example, item.request, "headers",
                               f"header {name} differs", 2))
            return None
    body_equal = item.body.fits(asked.body)
    if asked.match_body and not body_equal:
        misses.append(Miss(example, item.request, "body", "body differs", 2))
        return None
    if body_equal:
        points += 5
    return Match(example, item.request, points, captures, step, item.rank,
                 item.sequence if code is None else None)


class Scan:
    """Step 6 as the examples are scored: the best match so far, why the others were
    not chosen, and which were scored already (an example is scored once)."""

    def __init__(self, asked: Asked) -> None:
        self.asked = asked
        self.best: Match | None = None
        self.misses: list[Miss] = []
        self.seen: set[int] = set()

    def consider(self, items: Iterable[Indexed]) -> None:
        for item in items:
            if item.example.id in self.seen:
                continue
            self.seen.add(item.example.id)
            scored = score(item, self.asked, self.misses)
            if scored and (self.best is None or _better(scored, self.best)):
                self.best = scored

    def missed(self) -> Outcome:
        incoming = self.asked.incoming
        return Outcome(None, self.misses,
                       f"no example matches {incoming.method} {incoming.path}{incoming.where}")


# -- the index and the algorithm ---------------------------------------------------------------

@dataclass
class Indexed:
    example: Example
    request: Request
    segments: list[str]
    query: list[tuple[str, str]]
    body: BodyPattern
    headers: dict[str, str]
    rank: int = 0  # Postman's order among ties: lower first
    sequence: Sequence | None = None  # set on a sequence's first member only
    host: str | None = None  # the host the example is for; None: any
    method: str = ""
    joined: str = ""  # "/".join(segments): what the similar-path step compares
    holes: tuple[int, ...] = ()  # positions of wildcard segments
    id_key: tuple[str, ...] = ()  # the path, trailing slash off, ID-like segments blanked


def decoded_segments(path: str) -> list[str]:
    """The path's segments, percent-decoded: `/pets/%3Cstring%3E` (what a client sends
    for `/pets/<string>`) is the same path as the example's."""
    segments = paths.split(path)
    return [unquote(s) for s in segments] if "%" in path else segments


def postman_order(example: Example) -> tuple:
    """Ties go to the first example by id, as Postman sorts them: Postman's own ids
    for imported examples (as text), then mockrec's ids for the others."""
    return (example.postman_id is None, example.postman_id or "", example.id)


def resolve(text: str, variables: dict[str, str]) -> str:
    """Fill `{{name}}` from `variables`; unknown ones stay (they are wildcards)."""
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def resolve_body(body: bytes, content_type: str, variables: dict[str, str]) -> bytes:
    """An example's request body with its variables filled in; in a urlencoded form each
    field's value is filled, then encoded (a value may hold `&` or `=`)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    if "x-www-form-urlencoded" not in content_type.lower():
        return resolve(text, variables).encode("utf-8")
    fields = forms.urlencoded_fields(body)
    return urlencode([(resolve(k, variables), resolve(v, variables)) for k, v in fields],
                     safe="{}$").encode()


def example_path_and_query(url: str) -> tuple[str, list[tuple[str, str]]]:
    """The path and query of an example URL, whatever stands before the path.

    `{{baseUrl}}/users?x=1`, `https://api.test/users?x=1` and `/users?x=1` all
    give `/users` and `[('x', '1')]`.
    """
    rest = url
    if "://" in rest:
        rest = rest.split("://", 1)[1]
        rest = rest[rest.find("/"):] if "/" in rest else "/"
    elif rest.startswith("{{"):
        end = rest.find("}}")
        rest = rest[end + 2:] if end >= 0 else rest
    path, _, query = rest.partition("?")
    return "/" + path.lstrip("/"), parse_qsl(query, keep_blank_values=True)


DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def host_key(scheme: str, host: str, port: int | None) -> str:
    """`host`, or `host:port` when the port is not the scheme's default; lower case."""
    host = host.lower().strip("[]")
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is None or port == DEFAULT_PORTS.get(scheme.lower()):
        return host
    return f"{host}:{port}"


def example_host(url: str) -> str | None:
    """The host an example URL (variables resolved) names, or None: it fits any host."""
    if not ABSOLUTE.match(url):
        return None
    try:  # a malformed authority (`http://[::1/x`, a bad port) names no host
        parts = urlsplit(url)
        if "{{" in parts.netloc or "}}" in parts.netloc:
            return None  # an unresolved variable: a wildcard
        hostname, port = parts.hostname, parts.port
    except ValueError:
        return None
    return host_key(parts.scheme, hostname, port) if hostname else None




class Shelf:
    """Examples of one host (or of all hosts), indexed for each path step: the only
    candidates a request meets."""

    def __init__(self, items: Iterable[Indexed]) -> None:
        self.by_method: dict[str, list[Indexed]] = {}
        self.exact: dict[tuple[str, tuple[str, ...]], list[Indexed]] = {}
        # (method, segment count) -> wildcard positions -> the other segments -> examples;
        # a template ending in a slash is there with and without it
        self.wild: dict[tuple[str, int], dict[tuple[int, ...], dict[tuple[str, ...],
                                                                 list[Indexed]]]] = {}
        self.ids: dict[tuple[str, tuple[str, ...]], list[Indexed]] = {}
        joined: dict[str, dict[str, list[Indexed]]] = {}  # method -> path -> examples
        for item in items:
            method, segments, holes = item.method, item.segments, item.holes
            self.by_method.setdefault(method, []).append(item)
            norm = _strip_slash(segments)
            self.exact.setdefault((method, tuple(s.lower() for s in norm)), []).append(item)
            if holes:
                for shape in {len(segments), len(norm)}:
                    rest = tuple(s for i, s in enumerate(segments[:shape]) if i not in holes)
                    (self.wild.setdefault((method, shape), {}).setdefault(holes, {})
                     .setdefault(rest, []).append(item))
            self.ids.setdefault((method, item.id_key), []).append(item)
            joined.setdefault(method, {}).setdefault(item.joined, []).append(item)
        self.similar = {method: SimilarPaths(groups) for method, groups in joined.items()}

    def wildcard_candidates(self, method: str, segments: list[str]) -> Iterable[Indexed]:
        for shape in {len(segments), len(_strip_slash(segments))}:
            for holes, by_rest in self.wild.get((method, shape), {}).items():
                rest = tuple(s for i, s in enumerate(segments[:shape]) if i not in holes)
                yield from by_rest.get(rest, ())


class Shelves:
    """The shelves of one set of examples: all of them, and per host."""

    def __init__(self, items: list[Indexed]) -> None:
        self.all = Shelf(items)
        names = {item.host for item in items}
        self.hosts: dict[str | None, Shelf] = {}
        if len(names) <= 1:
            self.hosts[names.pop() if names else None] = self.all  # one serves both
        else:
            by_host: dict[str | None, list[Indexed]] = {}
            for item in items:
                by_host.setdefault(item.host, []).append(item)
            self.hosts = {host: Shelf(group) for host, group in by_host.items()}

    @property
    def by_method(self) -> dict[str, list[Indexed]]:
        return self.all.by_method

    def for_host(self, host: str | None) -> list[Shelf]:
        """The shelves a request for `host` may use (None: any host, the mock URL)."""
        if host is None:
            return [self.all]
        return [s for s in (self.hosts.get(host), self.hosts.get(None)) if s is not None]


ID_SEGMENT = "\x00id"


def _id_key(segments: list[str]) -> tuple[str, ...]:
    """The path with its ID-like segments made equal: the ID steps' index key."""
    return tuple(ID_SEGMENT if paths.is_id_like(s) else s for s in segments)


@dataclass
class _Reach:
    """What the costly steps found for one request path, kept in a small cache."""

    similar: list[Indexed]
    # For the 404's details, made on the first miss: the paths around the request's,
    # closest first, as (closeness, examples).
    near: list[tuple[float, list[Indexed]]] | None = None


DETAIL_PATHS = 32  # example paths looked at for the 404's closest examples, per method
DETAIL_EXAMPLES = 8  # examples of one path looked at for them
CACHE_PATHS = 2048  # distinct request paths whose similar-path outcome is kept


class Matcher:
    """A collection's examples, indexed for matching."""

    def __init__(self, collection: Collection, variables: dict[str, str] | None = None):
        # Many small long-lived objects: the cyclic garbage collector would walk them
        # again and again while they are made (a third of the time at 100,000 examples).
        with collector_paused():
            self._build(collection, variables)

    def _build(self, collection: Collection, variables: dict[str, str] | None) -> None:
        self.variables = {**collection.variables, **(variables or {})}
        self.by_id: dict[int, Indexed] = {}
        self.by_postman_id: dict[str, Indexed] = {}
        self.sequences: list[Sequence] = []
        self._kinds: dict[str, tuple[bool, bool]] = {}  # segment -> (wildcard, ID-like)
        self._origins: dict[str, str | None] = {}  # URL before its path -> host
        heads: list[Indexed] = []  # every example but a sequence's later positions
        items: list[Indexed] = []
        # A request's own URL template (`promote --infer-templates` gives the request
        # `/users/{{userId}}` and its examples their concrete `/users/42`): what a
        # matched example's body and headers capture `{{userId}}` from.
        self._templates: dict[int, list[str]] = {}
        for request in collection.requests:
            self._note_template(request)
            runs: dict[tuple, list[Indexed]] = {}
            for example in request.examples:
                item = self._index(example, request)
                items.append(item)
                self.by_id[example.id] = item
                if example.postman_id:
                    self.by_postman_id.setdefault(example.postman_id, item)
                if example.sequence is None:
                    heads.append(item)
                else:
                    runs.setdefault(example.sequence_key, []).append(item)
            for run in runs.values():
                run.sort(key=lambda i: (i.example.sequence, i.example.id))
                sequence = Sequence((request.id, min(i.example.id for i in run)),
                                    tuple(i.example for i in run))
                run[0].sequence = sequence
                self.sequences.append(sequence)
                heads.append(run[0])
        del self._kinds, self._origins
        if any(item.example.postman_id is not None for item in items):
            for rank, item in enumerate(sorted(items, key=lambda i: postman_order(i.example))):
                item.rank = rank
        self.every = Shelves(items)  # every example
        # What a request is matched against: a sequence counts once.
        self.heads = Shelves(heads) if self.sequences else self.every
        self.by_method = self.every.all.by_method
        self.by_name: dict[tuple[str, str], list[Indexed]] = {}
        for item in items:
            self.by_name.setdefault((item.method, item.example.name), []).append(item)
        self._reach: OrderedDict[tuple, _Reach] = OrderedDict()
        self._recent: dict[tuple, Outcome] = {}  # `_recall_key` -> a match found for it

    def _note_template(self, request: Request) -> None:
        if "{{" not in request.url and "/:" not in request.url:
            return
        path, _ = example_path_and_query(resolve(request.url, self.variables))
        segments = decoded_segments(path)
        if any(paths.wildcard_name(s) is not None for s in segments):
            self._templates[request.id] = segments

    def _add_template_captures(self, match: Match, segments: list[str]) -> None:
        """Add to the match what its request's template captures from the path (the
        example's own wildcards win)."""
        if match.request.url == match.example.request.url:
            return  # the example's own path step has said what it captures
        template = self._templates[match.request.id]
        found = _wildcards(_strip_slash(template), _strip_slash(segments))
        if found:
            match.captures = {**found, **match.captures}

    def _index(self, example: Example, request: Request) -> Indexed:
        url = resolve(example.request.url, self.variables)
        path, query = example_path_and_query(url)
        headers = {k.lower(): resolve(v, self.variables) for k, v in example.request.headers}
        body = example.request.body
        if b"{{" in body:  # what a Postman user sends has its variables filled in
            body = resolve_body(body, headers.get("content-type", ""), self.variables)
        pattern = example_body(body, headers.get("content-type", ""), example.request.language)
        segments = decoded_segments(path)
        kinds = self._kinds
        for segment in segments:
            if segment not in kinds:
                kinds[segment] = (paths.wildcard_name(segment) is not None,
                                  paths.is_id_like(segment))
        holes = tuple(i for i, s in enumerate(segments) if kinds[s][0])
        id_key = tuple(ID_SEGMENT if kinds[s][1] else s for s in _strip_slash(segments))
        start = url.find("://")
        end = url.find("/", start + 3) if start >= 0 else 0
        origin = url if end < 0 else url[:end]  # what decides the host
        host = self._origins.get(origin, "")
        if host == "":
            host = self._origins[origin] = example_host(url)
        return Indexed(example, request, segments, query, pattern, headers, example.id, None,
                       host, example.request.method.upper(), "/".join(segments), holes, id_key)

    def __len__(self) -> int:
        return len(self.by_id)

    # -- the algorithm ------------------------------------------------------------------

    def find_id(self, wanted: str) -> Indexed | None:
        """The example a `x-mock-response-id` names: a Postman id from the imported
        collection, Postman's UID form of it (`<owner>-<id>`), or mockrec's own id."""
        wanted = wanted.strip()
        if (item := self.by_postman_id.get(wanted)) is not None:
            return item
        owner, _, rest = wanted.partition("-")
        if owner.isdigit() and (item := self.by_postman_id.get(rest)) is not None:
            return item
        return self.by_id.get(int(wanted)) if wanted.isascii() and wanted.isdigit() else None

    def match(self, incoming: Incoming, settings: MatchSettings | None = None) -> Outcome:
        settings = settings or MatchSettings()
        key = _recall_key(incoming, settings)
        if key is not None:
            if (known := self._recent.get(key)) is not None:
                return known
            outcome = self._match_any(incoming, settings)
            if outcome.match is not None:
                if len(self._recent) >= RECALLED:
                    self._recent.clear()
                self._recent[key] = outcome
            return outcome
        return self._match_any(incoming, settings)

    def _match_any(self, incoming: Incoming, settings: MatchSettings) -> Outcome:
        outcome = self._match(incoming, incoming.method, settings)
        if outcome.match is None and incoming.method == "HEAD":
            # No HEAD example fits: the head of what a GET would get (RFC 9110 9.3.2).
            as_get = self._match(incoming, "GET", settings)
            if as_get.match is not None:
                return as_get
            if not any(s.by_method.get("HEAD") for s in self.every.for_host(incoming.host)):
                as_get.message = outcome.message
                return as_get
        return outcome

    def _match(self, incoming: Incoming, method: str, settings: MatchSettings) -> Outcome:
        # Step 2: the request can ask for an example by status, then id or name.
        code = incoming.header("x-mock-response-code")
        code = code.strip() if code is not None else None
        outcome = self._pick(incoming, method, code)
        if outcome is None:
            outcome = self._scan(Asked(incoming, method, code, settings))
        if outcome.match is not None and outcome.match.request.id in self._templates:
            self._add_template_captures(outcome.match, decoded_segments(incoming.path))
        return outcome

    def _pick(self, incoming: Incoming, method: str, code: str | None) -> Outcome | None:
        """Step 2's `x-mock-response-id` and `-name`: the example they pick, or None
        when the request names none."""
        where = incoming.where
        if (wanted_id := incoming.header("x-mock-response-id")) is not None:
            item = self.find_id(wanted_id)
            if item is None or item.method != method or not self._serves(item, incoming):
                return self._picked(None, f"no {method} example{where} has id {wanted_id}")
            if code is not None and str(item.example.response.status) != code:
                return self._picked(None, f"example {wanted_id} has status "
                                          f"{item.example.response.status}, not {code}")
            return self._picked(item, "")
        if (wanted_name := incoming.header("x-mock-response-name")) is not None:
            named = [i for i in self.by_name.get((method, wanted_name), ())
                     if (code is None or str(i.example.response.status) == code)
                     and self._serves(i, incoming)]
            named.sort(key=lambda i: (i.example.response.status != 200, i.rank))
            return self._picked(named[0] if named else None,
                                f"no {method} example{where} is named {wanted_name!r}"
                                + (f" with status {code}" if code is not None else ""))
        return None

    def _shelves(self, asked: Asked) -> list[Shelf]:
        # A status asked for picks among every example; otherwise a sequence counts once.
        shelves = self.every if asked.code is not None else self.heads
        return shelves.for_host(asked.incoming.host)

    def _scan(self, asked: Asked) -> Outcome:
        """Steps 3 to 6 on the examples a path step could take, in tiers, most likely
        first; a tier is skipped when even a perfect score there could not beat the
        best found so far (path + query 10 + body 5)."""
        method, segments = asked.method, asked.segments
        shelves = self._shelves(asked)
        scan = Scan(asked)
        norm = _strip_slash(segments)
        for shelf in shelves:  # exact, trailing slash, case: up to 100 + 15
            scan.consider(shelf.exact.get((method, tuple(s.lower() for s in norm)), ()))
        # wildcards, ID-like: up to 80 + 15; an empty segment may be an empty `:name`
        # value, up to 100 + 15
        if scan.best is None or scan.best.score <= 95 or "" in segments:
            id_key = _id_key(norm)
            for shelf in shelves:
                scan.consider(shelf.wildcard_candidates(method, segments))
                scan.consider(shelf.ids.get((method, id_key), ()))
        if (scan.best is None or scan.best.score <= 85) and not asked.settings.strict:
            scan.consider(self._reach_of(asked, shelves).similar)  # similar: 70 + 15
        if scan.best is not None:
            return Outcome(scan.best)
        return self._missed(scan, shelves)

    def _missed(self, scan: Scan, shelves: list[Shelf]) -> Outcome:
        """No match: the closest examples, for the 404's details."""
        asked = scan.asked
        reach = self._reach_of(asked, shelves)
        if reach.near is None:
            reach.near = self._near(shelves, asked.method, "/".join(asked.segments))
        # Every step was tried on the ones that could fit: these fit none. Only the
        # three closest can make the details (ties: the lowest ids), unless the
        # status is asked for, which changes how close each one is.
        taken = 0
        for near_closeness, items in reach.near:
            fresh = [i for i in items if i.example.id not in scan.seen]
            if asked.code is None and taken + len(fresh) > 3:
                fresh = heapq.nsmallest(3 - taken, fresh, key=lambda i: i.example.id)
            for item in fresh:
                scan.seen.add(item.example.id)
                scan.misses.append(self._path_miss(item, asked, near_closeness))
            taken += len(fresh)
            if taken >= 3 and asked.code is None:
                break
        if sum(m.closeness > 0 for m in scan.misses) < 3:  # others may be among the closest
            self._other_misses(scan, shelves)
        return scan.missed()

    @staticmethod
    def _serves(item: Indexed, incoming: Incoming) -> bool:
        return incoming.host is None or item.host is None or item.host == incoming.host

    def _reach_of(self, asked: Asked, shelves: list[Shelf]) -> _Reach:
        joined = "/".join(asked.segments)
        key = (asked.incoming.host, asked.method, joined, asked.code is not None)
        reach = self._reach.get(key)
        if reach is not None:
            self._reach.move_to_end(key)
            return reach
        similar: list[Indexed] = []
        for shelf in shelves:
            index = shelf.similar.get(asked.method)
            if index is not None:
                for path in index.within(joined):
                    similar.extend(index.groups[path])
        reach = self._reach[key] = _Reach(similar)
        if len(self._reach) > CACHE_PATHS:
            self._reach.popitem(last=False)
        return reach

    @staticmethod
    def _near(shelves: list[Shelf], method: str,
              joined: str) -> list[tuple[float, list[Indexed]]]:
        """The examples of the paths around `joined`, grouped by closeness, closest first."""
        groups: dict[float, list[Indexed]] = {}
        for shelf in shelves:
            index = shelf.similar.get(method)
            if index is not None:
                for path in index.near(joined, DETAIL_PATHS):
                    groups.setdefault(_closeness(path, joined), []).extend(
                        index.groups[path][:DETAIL_EXAMPLES])
        return sorted(groups.items(), key=lambda pair: -pair[0])

    def _other_misses(self, scan: Scan, shelves: list[Shelf]) -> None:
        """Examples of other methods (closeness - 1) and, in a forward proxy, of other
        hosts (closeness - 0.5): among the closest when few of the method are close."""
        asked, misses = scan.asked, scan.misses
        method, segments, incoming = asked.method, asked.segments, asked.incoming
        joined = "/".join(segments)
        for shelf in shelves:
            for other, index in shelf.similar.items():
                if other == method:
                    continue
                for path in index.near(joined, DETAIL_PATHS):
                    misses.extend(method_miss(i, asked)
                                  for i in index.groups[path][:DETAIL_EXAMPLES])
        if incoming.host is None:
            return
        index = (self.every if asked.code is not None else self.heads).all.similar.get(method)
        if index is None:
            return
        for path in index.near(joined, DETAIL_PATHS):
            misses.extend(host_miss(i, asked) for i in index.groups[path][:DETAIL_EXAMPLES]
                          if i.example.id not in scan.seen and not self._serves(i, incoming))

    @staticmethod
    def _path_miss(item: Indexed, asked: Asked, near_closeness: float) -> Miss:
        """The miss `score` would give an example that no path step fits."""
        example, code = item.example, asked.code
        if code is not None and str(example.response.status) != code:
            return Miss(example, item.request, "x-mock-response-code",
                        f"status is {example.response.status}, not {code}", 0.5)
        return Miss(example, item.request, "path",
                    f"path /{item.joined} does not fit {asked.incoming.path}", near_closeness)

    def _picked(self, item: Indexed | None, message: str) -> Outcome:
        if item is None:
            return Outcome(None, [], message)
        return Outcome(Match(item.example, item.request, 100, {}, "header", item.rank))


def method_miss(item: Indexed, asked: Asked) -> Miss:
    """An example of another method than the request's: a miss a little less close."""
    return Miss(item.example, item.request, "method",
                f"example is {item.method}, request is {asked.method}",
                closeness(item.segments, asked.segments) - 1)


def host_miss(item: Indexed, asked: Asked) -> Miss:
    """In a forward proxy, an example for another host than the request's."""
    return Miss(item.example, item.request, "host",
                f"example is for {item.host}, request is for {asked.incoming.host}",
                closeness(item.segments, asked.segments) - 0.5)


# The matches remembered for requests seen before (the commonest case by far: a
# client asking for the same few URLs again and again), and how long a request's
# path, query and body may be to be remembered: at most about 2 MB in all.
RECALLED = 1024
RECALL_LIMIT = 2048


def _recall_key(incoming: Incoming, settings: MatchSettings) -> tuple | None:
    """What decides the match of a request that only its host, method, path, query and
    body decide: none of the x-mock-* headers (an example asked for by id, name or
    status; matching switched per request) and no header matching. None for any
    other request, or one too long to remember."""
    if settings.match_headers:
        return None
    for name in incoming.by_name:
        if name.startswith("x-mock-"):
            return None
    size = len(incoming.path) + len(incoming.body)
    for name, value in incoming.query:
        size += len(name) + len(value)
    if size > RECALL_LIMIT:
        return None
    return (incoming.host, incoming.method, incoming.path, tuple(incoming.query),
            incoming.body, settings.strict, settings.match_body)


def _better(a: Match, b: Match) -> bool:
    def key(m: Match) -> tuple:
        return (m.score, m.example.response.status == 200, -m.rank)
    return key(a) > key(b)
