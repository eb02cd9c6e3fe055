"""The matcher before its index (every example of the method scored per request), kept
as the oracle tests/unit/test_match_matcher.py compares the indexed one with.

How a request is matched to an example: Postman's algorithm, as small named steps.

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

A step that drops an example says why (`Miss`), and the 404's `details` are
those reasons for the closest examples: the explanation is the algorithm's own
output, not a second algorithm. An index (method, then path) keeps a
collection of 10,000 examples as fast as one of 10.

A sequence (examples of one request with positions, `Example.sequence`) is
matched as one candidate, its first position: the match then names the
`Sequence`, and replay picks the position to serve. So a sequence of 50 costs
what one example costs. `x-mock-response-code`, `-id` and `-name` see every
example, and their match names no sequence (they pick directly).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from recorder.match import templates as paths
from recorder.match.bodies import BodyPattern, RequestBody, example_body
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

    @classmethod
    def from_target(cls, method: str, target: str, headers: list[Header],
                    body: bytes) -> Incoming:
        # An origin-form target is a path and a query, nothing else: "//[x" is a
        # path (urlsplit would read a host there, and raise on the bracket).
        path, _, query = target.partition("#")[0].partition("?")
        return cls(method.upper(), path or "/", parse_qsl(query, keep_blank_values=True),
                   headers, body)

    def __post_init__(self) -> None:
        self.by_name: dict[str, str] = {}
        for k, v in self.headers:
            self.by_name.setdefault(k.lower(), v)

    def header(self, name: str) -> str | None:
        return self.by_name.get(name.lower())


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
        if name is not None and actual:
            captures[name] = actual
        elif expected != actual:
            return None
    return captures


def _ids_equal(template: list[str], path: list[str]) -> bool:
    return len(template) == len(path) and all(
        a == b or (paths.is_id_like(a) and paths.is_id_like(b)) for a, b in zip(
            template, path, strict=True))


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def similarity(a: str, b: str) -> float:
    longest = max(len(a), len(b)) or 1
    return 1 - levenshtein(a, b) / longest


def _similar(template: list[str], path: list[str]) -> bool:
    a, b = "/".join(template), "/".join(path)
    if abs(len(a) - len(b)) > 0.2 * max(len(a), len(b)):
        return False  # the distance is at least the difference in length
    return similarity(a, b) >= 0.8


def closeness(template: list[str], path: list[str]) -> float:
    """A cheap stand-in for similarity, to order the 404's details."""
    a, b = "/".join(template), "/".join(path)
    return len(os.path.commonprefix([a, b])) / (max(len(a), len(b)) or 1)


PathStep = tuple[str, int, Callable[[list[str], list[str]], dict[str, str] | bool | None]]
PATH_STEPS: list[PathStep] = [
    ("exact", 0, lambda t, p: t == p),
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


class Tiers:
    """Examples by method, and by method and path shape: the candidates of a request."""

    def __init__(self) -> None:
        self.by_method: dict[str, list[Indexed]] = {}
        self.exact: dict[tuple[str, tuple[str, ...]], list[Indexed]] = {}
        self.shape: dict[tuple[str, int], list[Indexed]] = {}

    def add(self, item: Indexed) -> None:
        method = item.example.request.method.upper()
        self.by_method.setdefault(method, []).append(item)
        norm = tuple(s.lower() for s in _strip_slash(item.segments))
        self.exact.setdefault((method, norm), []).append(item)
        self.shape.setdefault((method, len(norm)), []).append(item)


def postman_order(example: Example) -> tuple:
    """Ties go to the first example by id, as Postman sorts them: Postman's own ids
    for imported examples (as text), then mockrec's ids for the others."""
    return (example.postman_id is None, example.postman_id or "", example.id)


def resolve(text: str, variables: dict[str, str]) -> str:
    """Fill `{{name}}` from `variables`; unknown ones stay (they are wildcards)."""
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


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


class Matcher:
    """A collection's examples, indexed for matching."""

    def __init__(self, collection: Collection, variables: dict[str, str] | None = None):
        self.variables = {**collection.variables, **(variables or {})}
        self.by_id: dict[int, Indexed] = {}
        self.by_postman_id: dict[str, Indexed] = {}
        self.every = Tiers()  # every example
        self.sequences: list[Sequence] = []
        heads: list[Indexed] = []  # every example but a sequence's later positions
        items: list[Indexed] = []
        for request in collection.requests:
            runs: dict[tuple, list[Indexed]] = {}
            for example in request.examples:
                item = Indexed(example, request, *self._parse(example), example.id)
                items.append(item)
                self.every.add(item)
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
        if any(item.example.postman_id is not None for item in items):
            for rank, item in enumerate(sorted(items, key=lambda i: postman_order(i.example))):
                item.rank = rank
        # What a request is matched against: a sequence counts once.
        self.heads = self.every
        if self.sequences:
            self.heads = Tiers()
            for item in heads:
                self.heads.add(item)
        self.by_method = self.every.by_method

    def _parse(self, example: Example) -> tuple[list[str], list[tuple[str, str]], BodyPattern,
                                                dict[str, str]]:
        path, query = example_path_and_query(resolve(example.request.url, self.variables))
        headers = {k.lower(): resolve(v, self.variables) for k, v in example.request.headers}
        body = example.request.body
        if b"{{" in body:  # what a Postman user sends has its variables filled in
            with contextlib.suppress(UnicodeDecodeError):
                body = resolve(body.decode("utf-8"), self.variables).encode("utf-8")
        pattern = example_body(body, headers.get("content-type", ""), example.request.language)
        return paths.split(path), query, pattern, headers

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
        return self.by_id.get(int(wanted)) if wanted.isdigit() else None

    def match(self, incoming: Incoming, settings: MatchSettings | None = None) -> Outcome:
        settings = settings or MatchSettings()
        same_method = self.every.by_method.get(incoming.method, [])
        # Step 2: the request can ask for an example by status, then id or name.
        code = incoming.header("x-mock-response-code")
        code = code.strip() if code is not None else None
        # A status asked for picks among every example; otherwise a sequence counts once.
        tiers = self.every if code is not None else self.heads
        if (wanted_id := incoming.header("x-mock-response-id")) is not None:
            item = self.find_id(wanted_id)
            if item is None or item.example.request.method.upper() != incoming.method:
                return self._picked(None, f"no {incoming.method} example has id {wanted_id}")
            if code is not None and str(item.example.response.status) != code:
                return self._picked(None, f"example {wanted_id} has status "
                                          f"{item.example.response.status}, not {code}")
            return self._picked(item, "")
        if (wanted_name := incoming.header("x-mock-response-name")) is not None:
            named = [i for i in same_method if i.example.name == wanted_name
                     and (code is None or str(i.example.response.status) == code)]
            named.sort(key=lambda i: (i.example.response.status != 200, i.rank))
            return self._picked(named[0] if named else None,
                                f"no {incoming.method} example is named {wanted_name!r}"
                                + (f" with status {code}" if code is not None else ""))
        # The request's headers win over the mock's settings (Postman's precedence).
        match_body = _switch(incoming.header("x-mock-match-request-body"))
        if match_body is None:
            match_body = settings.match_body
        asked_headers = incoming.header("x-mock-match-request-headers")
        match_headers = (settings.match_headers if asked_headers is None
                         else _header_list(asked_headers))
        request_segments = paths.split(incoming.path)
        request_body = RequestBody(incoming.body)
        request_headers = incoming.by_name

        best: Match | None = None
        misses: list[Miss] = []

        def consider(items: list[Indexed]) -> None:
            nonlocal best
            for item in items:
                scored = self._score(item, incoming, request_segments, request_body,
                                     request_headers, code, match_body, match_headers,
                                     settings.strict, misses)
                if scored and (best is None or _better(scored, best)):
                    best = scored

        norm = _strip_slash(request_segments)
        seen: set[int] = set()
        # Candidates in tiers, most likely first; a tier is skipped when even a
        # perfect score there could not reach the best found so far.
        for ceiling, items in (
            (115, tiers.exact.get((incoming.method, tuple(s.lower() for s in norm)), [])),
            (95, tiers.shape.get((incoming.method, len(norm)), [])),
            (85, tiers.by_method.get(incoming.method, [])),
        ):
            if best is not None and best.score > ceiling:
                break
            fresh = [i for i in items if i.example.id not in seen]
            seen.update(i.example.id for i in fresh)
            consider(fresh)
        if best is not None:
            return Outcome(best)
        for method, items in tiers.by_method.items():
            if method != incoming.method:
                misses.extend(Miss(i.example, i.request, "method",
                                   f"example is {method}, request is {incoming.method}",
                                   closeness(i.segments, request_segments) - 1)
                              for i in items)
        return Outcome(None, misses, f"no example matches {incoming.method} {incoming.path}")

    def _picked(self, item: Indexed | None, message: str) -> Outcome:
        if item is None:
            return Outcome(None, [], message)
        return Outcome(Match(item.example, item.request, 100, {}, "header", item.rank))

    def _score(self, item: Indexed, incoming: Incoming, segments: list[str], body: RequestBody,
               headers: dict[str, str], code: str | None, match_body: bool,
               match_headers: list[str], strict: bool, misses: list[Miss]) -> Match | None:
        example = item.example
        if code is not None and str(example.response.status) != code:
            misses.append(Miss(example, item.request, "x-mock-response-code",
                               f"status is {example.response.status}, not {code}", 0.5))
            return None
        scored = path_score(item.segments, segments, strict)
        if scored is None:
            misses.append(Miss(example, item.request, "path",
                               f"path /{'/'.join(item.segments)} does not fit "
                               f"{incoming.path}", closeness(item.segments, segments)))
            return None
        score, step, captures = scored
        score += query_score(item.query, incoming.query)
        for name in match_headers:
            if item.headers.get(name) != headers.get(name):
                misses.append(Miss(example, item.request, "headers",
                                   f"header {name} differs", 2))
                return None
        body_equal = item.body.fits(body)
        if match_body and not body_equal:
            misses.append(Miss(example, item.request, "body", "body differs", 2))
            return None
        if body_equal:
            score += 5
        return Match(example, item.request, score, captures, step, item.rank,
                     item.sequence if code is None else None)


def _better(a: Match, b: Match) -> bool:
    def key(m: Match) -> tuple:
        return (m.score, m.example.response.status == 200, -m.rank)
    return key(a) > key(b)
