"""How a request body compares with an example's: JSON, GraphQL, forms, bytes, wildcards.

An example's body is read once, when the collection is indexed, into a `BodyPattern`:
- JSON when its Content-Type says so or Postman saved it as JSON (`language`
  "json", from `options.raw.language`), compared parsed: key order and
  whitespace do not matter;
- GraphQL (`language` "graphql", Postman's `body.mode: graphql`): the
  `{"query", "variables"}` JSON Postman sends; the query compares with its
  whitespace collapsed, other keys of the request (`operationName`) are ignored;
- forms (`application/x-www-form-urlencoded`) as pairs, in any order;
- multipart forms (`multipart/form-data`, Postman's `formdata`) as their parts by
  name, whatever the boundary: a text part by its value, a file part by its name;
- anything else byte for byte.

An unresolved `{{...}}` (a variable no environment sets, or a dynamic one such as
`{{$guid}}`) matches any value where it stands as a whole value (a JSON value,
even unquoted, or a form value), and any text where it is part of one.

A request's body is parsed at most once, and only as far as the examples it is
compared with need (`RequestBody`).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from recorder.interop import forms

TEMPLATE = re.compile(r"\{\{[^{}]+\}\}")
QUOTE_OR_ESCAPE = re.compile(r'["\\]')
NOT_JSON = object()


class JsonStrings:
    """Says, going left to right through JSON text, whether a position is inside a string."""

    def __init__(self, text: str):
        self.text, self.pos, self.inside = text, 0, False

    def inside_at(self, end: int) -> bool:
        text, pos, inside = self.text, self.pos, self.inside
        while pos < end:
            if inside:
                found = QUOTE_OR_ESCAPE.search(text, pos, end)
                if found is None:
                    break
                escape = found.group() == "\\"
                pos, inside = found.end() + escape, escape
            else:
                pos = text.find('"', pos, end)
                if pos < 0:
                    break
                pos, inside = pos + 1, True
        self.pos, self.inside = max(pos, end), inside
        return inside


class Wild:
    """An unresolved template in an example's body: a whole value fits anything, a
    template inside a string fits any text in its place."""

    __slots__ = ("pattern",)

    def __init__(self, text: str):
        whole = TEMPLATE.fullmatch(text.strip()) is not None
        self.pattern = None if whole else re.compile(
            ".*".join(re.escape(part) for part in TEMPLATE.split(text)), re.DOTALL)

    def fits(self, value: Any) -> bool:
        if self.pattern is None:
            return True
        return isinstance(value, str) and self.pattern.fullmatch(value) is not None

    def __eq__(self, other: object) -> bool:  # for tests and debugging
        return isinstance(other, Wild) and other.pattern == self.pattern

    def __repr__(self) -> str:
        return f"Wild({self.pattern.pattern if self.pattern else '*'})"


def _wild_strings(doc: Any) -> tuple[Any, bool]:
    """`doc` with strings holding templates turned into `Wild`s, and whether there were any."""
    if isinstance(doc, str):
        return (Wild(doc), True) if TEMPLATE.search(doc) else (doc, False)
    if isinstance(doc, dict):
        found = False
        out = {}
        for key, value in doc.items():
            out[key], wild = _wild_strings(value)
            found |= wild
        return out, found
    if isinstance(doc, list):
        pairs = [_wild_strings(value) for value in doc]
        return [value for value, _ in pairs], any(wild for _, wild in pairs)
    return doc, False


def parse_json_template(text: str) -> tuple[Any, bool]:
    """JSON text that may hold templates, also unquoted ones (`"n": {{$randomInt}}`):
    (the document with `Wild`s, whether it has any); raises ValueError if not JSON."""
    if "{{" in text:
        strings = JsonStrings(text)
        out, last = [], 0
        for match in TEMPLATE.finditer(text):
            inside = strings.inside_at(match.start())
            strings.pos = match.end()
            if not inside:  # a bare template stands for a whole value: quote it
                out += [text[last:match.start()], json.dumps(match.group())]
                last = match.end()
        text = "".join(out) + text[last:]
    return _wild_strings(json.loads(text))


def fits(expected: Any, actual: Any) -> bool:
    """Whether a parsed request body fits the example's (with its `Wild`s)."""
    if isinstance(expected, Wild):
        return expected.fits(actual)
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(fits(value, actual[key]) for key, value in expected.items()))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(fits(e, a) for e, a in zip(expected, actual, strict=True)))
    # JSON's true is not 1, though Python's True == 1
    return expected == actual and isinstance(expected, bool) == isinstance(actual, bool)


def graphql_query(query: Any) -> Any:
    return " ".join(query.split()) if isinstance(query, str) else query


class RequestBody:
    """A live request's body, parsed lazily for what the examples compare."""

    __slots__ = ("raw", "content_type", "_json", "_form", "_parts")

    def __init__(self, raw: bytes, content_type: str = ""):
        self.raw = raw
        self.content_type = content_type
        self._json: Any = None
        self._form: list[tuple[str, str]] | None = None
        self._parts: list[tuple[str, str, str | None]] | None = None

    @property
    def json(self) -> Any:
        if self._json is None:
            try:
                self._json = json.loads(self.raw) if self.raw else NOT_JSON
            except (ValueError, RecursionError):  # UnicodeDecodeError included; nested
                self._json = NOT_JSON  # too deep to be a body an example describes
        return self._json

    @property
    def form(self) -> list[tuple[str, str]]:
        if self._form is None:
            self._form = parse_qsl(self.raw.decode("utf-8", "replace"), keep_blank_values=True)
        return self._form

    @property
    def parts(self) -> list[tuple[str, str, str | None]]:
        """A multipart body's (name, text, file name) parts; [] when it is not one."""
        if self._parts is None:
            try:
                self._parts = forms.multipart_fields(self.raw, self.content_type) or []
            except (ValueError, LookupError):  # a malformed body fits no example
                self._parts = []
        return self._parts


class BodyPattern:
    """An example's request body, ready to compare with requests' bodies."""

    __slots__ = ("kind", "value", "wild")

    def __init__(self, kind: str, value: Any, wild: bool = False):
        self.kind, self.value, self.wild = kind, value, wild

    def fits(self, body: RequestBody) -> bool:
        kind = self.kind
        if kind == "bytes":
            if self.wild:
                try:
                    return self.value.fullmatch(body.raw.decode("utf-8")) is not None
                except UnicodeDecodeError:
                    return False
            return self.value == body.raw
        if kind == "empty":
            return not body.raw
        if kind == "json":
            return fits(self.value, body.json)
        if kind == "graphql":
            sent = body.json
            if not isinstance(sent, dict):
                return False
            return (fits(self.value["query"], graphql_query(sent.get("query")))
                    and fits(self.value["variables"], sent.get("variables") or {}))
        if kind == "multipart":
            return _parts_fit(self.value, body.parts)
        # a form: pairs, whatever their order
        sent = body.form
        if len(sent) != len(self.value):
            return False
        if not self.wild:
            return sorted(sent) == self.value
        return all(k == key and fits(v, value) for (k, v), (key, value) in zip(
            self.value, sorted(sent, key=lambda pair: pair[0]), strict=True))


def _parts_fit(expected: list[tuple[str, Any, str | None]],
               sent: list[tuple[str, str, str | None]]) -> bool:
    """Parts by name: a text part's value must fit, a file part is there (its content is
    not in a Postman collection, only its file's name)."""
    if len(sent) != len(expected):
        return False
    for (name, value, filename), (got, text, _) in zip(
            expected, sorted(sent, key=lambda p: p[0]), strict=True):
        if name != got or (filename is None and not fits(value, text)):
            return False
    return True


EMPTY = BodyPattern("empty", b"")


def example_body(body: bytes, content_type: str = "", language: str = "") -> BodyPattern:
    """Read an example's request body (variables already resolved) into a pattern."""
    if not body:
        return EMPTY
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return BodyPattern("bytes", body)
    content_type, language = content_type.lower(), language.lower()
    if language == "graphql":
        try:
            doc, wild = parse_json_template(text)
            query = doc.get("query", "")
            return BodyPattern("graphql", {"query": graphql_query(query),
                                           "variables": doc.get("variables") or {}}, wild)
        except (ValueError, AttributeError, RecursionError):
            pass
    if "json" in content_type or language in ("json", "graphql"):
        try:
            doc, wild = parse_json_template(text)
            return BodyPattern("json", doc, wild)
        except (ValueError, RecursionError):
            pass
    if "multipart/form-data" in content_type:
        parts = forms.multipart_fields(body, content_type)
        if parts is not None:
            return BodyPattern("multipart", [
                (name, Wild(value) if TEMPLATE.search(value) else value, filename)
                for name, value, filename in sorted(parts, key=lambda p: p[0])], True)
    if "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(text, keep_blank_values=True)
        if any(TEMPLATE.search(v) for _, v in pairs):
            return BodyPattern("form", [(k, Wild(v) if TEMPLATE.search(v) else v)
                                        for k, v in sorted(pairs, key=lambda p: p[0])], True)
        return BodyPattern("form", sorted(pairs))
    if TEMPLATE.search(text):
        return BodyPattern("bytes", Wild(text).pattern or re.compile(".*", re.DOTALL), True)
    return BodyPattern("bytes", body)
