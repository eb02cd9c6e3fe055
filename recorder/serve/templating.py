"""Dynamic responses: `{{...}}` in an example's body and headers, filled per request.

    {{userId}}                    a wildcard captured from the path, or a variable
                                  (environment first, then the collection)
    {{$guid}} {{$randomJobTitle}} {{$randomLatitude}} ...
                                  Postman's 118 dynamic variables (recorder/serve/dynamic.py)
    {{$body}}                     the request's body, as sent
    {{$body 'user.name' 'anon'}}  a field of the request's JSON (or form) body; `a\\.b`
                                  names the key `a.b`
    {{$queryParams 'page'}}       a query parameter
    {{$headers 'X-Id'}}           a request header
    {{$pathSegments '1'}}         a path segment, from 0

A request helper whose value is absent gives its default argument, else an empty
string. Unknown templates stay as written; a body that is not UTF-8 text is never touched.
In a JSON body, a value filled inside a string is escaped as JSON, so the body
stays valid JSON; outside strings it goes in as it is (numbers stay numbers).
"""

from __future__ import annotations

import json
import random
import re
from typing import Any
from urllib.parse import parse_qsl

from recorder.match.bodies import JsonStrings
from recorder.match.matcher import Incoming
from recorder.serve import dynamic

TEMPLATE = re.compile(r"\{\{\s*(\$?[A-Za-z_][\w.-]*)((?:\s+'[^']*')*)\s*\}\}")
ARGUMENT = re.compile(r"'([^']*)'")
UNESCAPED_DOT = re.compile(r"(?<!\\)\.")
DYNAMIC = dynamic.DYNAMIC


def _json_path(doc: Any, path: str) -> Any:
    """object-path's dotted path (`a.0.b`); `a\\.b` is the key `a.b`."""
    for part in UNESCAPED_DOT.split(path):
        part = part.replace("\\.", ".")
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


class RequestHelpers:
    """`$body`, `$queryParams`, `$headers` and `$pathSegments` over one request."""

    def __init__(self, incoming: Incoming):
        self.incoming = incoming
        self._body: Any = ...

    def body(self) -> Any:
        if self._body is ...:
            raw = self.incoming.body.decode("utf-8", "replace")
            try:
                self._body = json.loads(raw)
            except ValueError:
                self._body = dict(parse_qsl(raw, keep_blank_values=True))
            except RecursionError:  # nested too deep to be a body to answer from
                self._body = {}
        return self._body

    def call(self, name: str, args: list[str]) -> str | None:
        key = args[0] if args else ""
        default = args[1] if len(args) > 1 else None
        value: Any = None
        if name == "$body":
            if not key:  # the whole body, as it was sent
                return self.incoming.body.decode("utf-8", "replace")
            value = _json_path(self.body(), key)
        elif name == "$queryParams":
            value = next((v for k, v in self.incoming.query if k == key), None)
        elif name == "$headers":
            value = self.incoming.header(key)
        elif name == "$pathSegments":
            segments = self.incoming.path.strip("/").split("/")
            value = segments[int(key)] if key.isdigit() and int(key) < len(segments) else None
        else:
            return None
        # Absent: the default when there is one, else nothing (as Postman's helpers).
        if value is None:
            return default or ""
        return _text(value)


HELPERS = {"$body", "$queryParams", "$headers", "$pathSegments"}


def has_templates(body: bytes) -> bool:
    return b"{{" in body


class Filler:
    """Fills the templates of one answer (its body and headers) for one request."""

    def __init__(self, incoming: Incoming, values: dict[str, str],
                 rng: random.Random | None = None):
        self.values = values
        self.rng = rng or random.Random()
        self.helpers = RequestHelpers(incoming)

    def value(self, name: str, args: list[str]) -> str | None:
        if name in HELPERS:
            return self.helpers.call(name, args)
        if name in DYNAMIC:
            return DYNAMIC[name](self.rng)
        return self.values.get(name)

    def text(self, text: str, json_strings: bool = False) -> str:
        """`text` with its templates filled; with `json_strings`, values that land inside
        a JSON string are escaped as JSON."""
        strings = JsonStrings(text) if json_strings else None

        def replace(match: re.Match[str]) -> str:
            value = self.value(match.group(1), ARGUMENT.findall(match.group(2) or ""))
            if strings is not None:
                inside = strings.inside_at(match.start())
                strings.pos = match.end()
                if value is not None and inside:
                    value = json.dumps(value, ensure_ascii=False)[1:-1]
            return match.group(0) if value is None else value

        return TEMPLATE.sub(replace, text)

    def body(self, body: bytes, content_type: str = "") -> bytes:
        if not has_templates(body):
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        return encode(self.text(text, "json" in content_type.lower()))

    def headers(self, fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """Header values filled; a filled line break becomes a space (one header, one line)."""
        out = []
        for name, raw in fields:
            if b"{{" in raw:
                value = self.text(raw.decode("utf-8", "surrogateescape"))
                raw = encode(LINE_BREAKS.sub(" ", value))
            out.append((name, raw))
        return out


LINE_BREAKS = re.compile(r"[\r\n]+")


def encode(text: str) -> bytes:
    """Filled text as bytes: what a request sent (a header's raw bytes, say) goes back as
    sent; a lone surrogate from a JSON body becomes U+FFFD rather than an error."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def fill(body: bytes, incoming: Incoming, values: dict[str, str],
         rng: random.Random | None = None, content_type: str = "") -> bytes:
    """The body with its templates filled; `values` are captures and variables.
    A JSON `content_type` keeps the body valid JSON (values inside strings escaped)."""
    if not has_templates(body):
        return body
    return Filler(incoming, values, rng).body(body, content_type)
