"""Request verification: which calls a mock received fit a description, and how the
others differ from it (the admin API's `calls/count`, the pytest plugin's `assert_called`).

A `CallQuery` is what a test asks ("POST /orders, status 201, body containing
'sku'"); `differences` says, criterion by criterion, why one call does not fit, in the
words of the 404's details, and `closeness` orders the calls that were made, closest
first, so a failed verification shows what happened instead.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from recorder.match.similar import similarity
from recorder.models import HistoryEntry, status_matches
from recorder.views import call_summary

QUERY_KEYS = ("method", "path", "status", "matched", "body_contains", "headers")
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")


@dataclass
class CallQuery:
    """The calls a test asks about; every criterion given must hold."""

    method: str | None = None
    path: str | None = None  # a glob over the path, or over the path and query
    status: str | None = None  # 200, 2xx, or "error"
    matched: bool | str | None = None  # answered from an example; or that example's name/id
    body_contains: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, given: dict[str, Any], also: tuple[str, ...] = ()) -> CallQuery:
        """From JSON (or query parameters); ValueError names the first bad criterion.
        `also`: the other fields the caller took out of `given`, named in the error."""
        if not isinstance(given, dict):
            raise ValueError("the query must be a JSON object")
        unknown = sorted(set(given) - set(QUERY_KEYS) - set(also))
        if unknown:
            raise ValueError(f"unknown criteria {unknown}: use {', '.join(QUERY_KEYS + also)}")
        query = cls()
        for key in ("method", "path", "body_contains"):
            value = given.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} must be a string")
            setattr(query, key, value or None)
        if query.method:
            query.method = query.method.upper()
        status = given.get("status")
        if status is not None:
            if isinstance(status, bool) or not isinstance(status, int | str):
                raise ValueError("status must be a status like 200, 2xx or error")
            text = str(status).strip().lower()
            if not (text == "error" or (len(text) == 3 and text[0] in "12345"
                                        and (text.isdigit() or text[1:] == "xx"))):
                raise ValueError(f"status {status!r} is not like 200, 2xx or error")
            query.status = text
        matched = given.get("matched")
        if isinstance(matched, str) and matched.strip().lower() in TRUE + FALSE:
            matched = matched.strip().lower() in TRUE
        if matched is not None and not isinstance(matched, bool | str | int) or (
                type(matched) is int and not 0 <= matched < 10**18):
            raise ValueError("matched must be true, false, or an example's name or id")
        query.matched = str(matched) if isinstance(matched, int) and not isinstance(
            matched, bool) else matched
        headers = given.get("headers") or {}
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ValueError('headers must be an object of strings: {"name": "value"}')
        query.headers = {k.lower(): v for k, v in headers.items()}
        return query

    def describe(self) -> str:
        """`POST /orders` and the other criteria, for messages."""
        words = [self.method or "any method", self.path or "any path"]
        if self.status:
            words.append(f"status {self.status}")
        if self.matched is True:
            words.append("answered from an example")
        elif self.matched is False:
            words.append("with no matching example")
        elif self.matched is not None:
            words.append(f"answered by example {self.matched!r}")
        if self.body_contains:
            words.append(f"body containing {self.body_contains!r}")
        words.extend(f"header {k}: {v}" for k, v in self.headers.items())
        return " ".join(words[:2]) + "".join(f", {w}" for w in words[2:])

    def differences(self, entry: HistoryEntry) -> list[str]:
        """Why `entry` does not fit, one reason per criterion; empty when it fits."""
        request, example = entry.request, entry.notes.get("example")
        found = []
        if self.method and request.method.upper() != self.method:
            found.append(f"method is {request.method}, not {self.method}")
        if self.path and not (fnmatch.fnmatchcase(request.path, self.path)
                              or fnmatch.fnmatchcase(request.path_and_query, self.path)):
            found.append(f"path {request.path_and_query} does not fit {self.path}")
        if self.status and not status_matches(self.status, entry):
            got = entry.response.status if entry.response else f"error ({entry.error})"
            found.append(f"status is {got}, not {self.status}")
        if self.matched is not None:
            if self.matched is True and not example:
                found.append("no example matched it")
            elif self.matched is False and example:
                found.append(f"example {example['name']!r} matched it")
            elif isinstance(self.matched, str) and not (
                    example and self.matched in (example.get("name"), str(example.get("id")))):
                found.append(f"answered by {_example_words(example)}, not {self.matched!r}")
        if self.body_contains and self.body_contains.encode() not in (request.body or b""):
            found.append(f"body does not contain {self.body_contains!r}")
        given = {}
        for k, v in request.headers:
            given.setdefault(k.lower(), v)
        for name, value in self.headers.items():
            if name not in given:
                found.append(f"header {name} is missing")
            elif given[name] != value:
                found.append(f"header {name} is {given[name]!r}, not {value!r}")
        return found

    def closeness(self, entry: HistoryEntry, differences: list[str]) -> float:
        """Higher is closer: criteria that hold first, then how alike the paths are."""
        score = float(-len(differences))
        if self.path:
            score += similarity(self.path.rstrip("*"), entry.request.path) * 0.5
        if self.method and entry.request.method.upper() == self.method:
            score += 0.25  # a call of the right method is the likelier one meant
        return score


def _example_words(example: dict | None) -> str:
    return f"example {example['name']!r}" if example else "no example"


def verify(query: CallQuery, entries: list[HistoryEntry], explain: bool = False,
           limit: int = 10) -> dict[str, Any]:
    """`{"count": N}`; with `explain`, or when N is 0, also the calls that were made,
    closest first, each with what differed (`differs`), at most `limit` of them."""
    judged = [(entry, query.differences(entry)) for entry in entries]
    count = sum(1 for _, differs in judged if not differs)
    result: dict[str, Any] = {"count": count}
    if explain or count == 0:
        ranked = sorted(range(len(judged)), key=lambda i: (
            -query.closeness(judged[i][0], judged[i][1]), i))
        result["calls"] = [{**call_summary(judged[i][0]), "differs": judged[i][1]}
                           for i in ranked[:limit]]
        result["total"] = len(judged)
        result["query"] = query.describe()
    return result
