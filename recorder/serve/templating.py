"""Dynamic responses: `{{...}}` in an example's body, filled per request.

    {{userId}}                    a wildcard captured from the path, or a variable
                                  (environment first, then the collection)
    {{$guid}} {{$randomUUID}} {{$timestamp}} {{$isoTimestamp}} {{$randomInt}} ...
                                  Postman's dynamic variables (DYNAMIC below)
    {{$body 'user.name' 'anon'}}  a field of the request's JSON (or form) body
    {{$queryParams 'page'}}       a query parameter
    {{$headers 'X-Id'}}           a request header
    {{$pathSegments '1'}}         a path segment, from 0

Unknown templates stay as written; a body that is not UTF-8 text is never touched.
"""

from __future__ import annotations

import json
import random
import re
import string
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from recorder.match.matcher import Incoming

TEMPLATE = re.compile(r"\{\{\s*(\$?[A-Za-z_][\w.-]*)((?:\s+'[^']*')*)\s*\}\}")
ARGUMENT = re.compile(r"'([^']*)'")

FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Radia",
         "Tim", "Frances", "Edsger", "Katherine", "Donald", "Hedy", "Guido"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov",
        "Thompson", "Perlman", "Berners-Lee", "Allen", "Dijkstra", "Johnson", "Knuth"]
WORDS = ["alpha", "bravo", "cobalt", "delta", "ember", "falcon", "granite", "harbor",
         "indigo", "juniper", "kepler", "lumen", "meadow", "nimbus", "orbit", "prism"]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Quito", "Tallinn", "Utrecht", "Vancouver", "Wellington"]
COUNTRIES = ["Portugal", "Kenya", "Japan", "Ecuador", "Estonia", "Netherlands", "Canada",
             "New Zealand"]
COLORS = ["red", "green", "blue", "orange", "purple", "teal", "yellow", "black"]
DOMAINS = ["example.com", "example.org", "example.net"]


def _pick(items: list[str]) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(items)


def _digits(n: int) -> Callable[[random.Random], str]:
    return lambda rng: "".join(rng.choice(string.digits) for _ in range(n))


def _full_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _email(rng: random.Random) -> str:
    return f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}@{rng.choice(DOMAINS)}"


DYNAMIC: dict[str, Callable[[random.Random], str]] = {
    "$guid": lambda rng: str(uuid.uuid4()),
    "$randomUUID": lambda rng: str(uuid.uuid4()),
    "$timestamp": lambda rng: str(int(time.time())),
    "$isoTimestamp": lambda rng: datetime.now(UTC).isoformat(timespec="milliseconds")
    .replace("+00:00", "Z"),
    "$randomInt": lambda rng: str(rng.randint(0, 1000)),
    "$randomBoolean": lambda rng: rng.choice(["true", "false"]),
    "$randomFirstName": _pick(FIRST),
    "$randomLastName": _pick(LAST),
    "$randomFullName": _full_name,
    "$randomUserName": lambda rng: f"{rng.choice(FIRST).lower()}{rng.randint(1, 99)}",
    "$randomEmail": _email,
    "$randomExampleEmail": _email,
    "$randomWord": _pick(WORDS),
    "$randomWords": lambda rng: " ".join(rng.choice(WORDS) for _ in range(3)),
    "$randomCity": _pick(CITIES),
    "$randomCountry": _pick(COUNTRIES),
    "$randomStreetAddress": lambda rng: f"{rng.randint(1, 999)} {rng.choice(WORDS).title()} St",
    "$randomPhoneNumber": lambda rng: f"{_digits(3)(rng)}-{_digits(3)(rng)}-{_digits(4)(rng)}",
    "$randomColor": _pick(COLORS),
    "$randomAlphaNumeric": lambda rng: rng.choice(string.ascii_lowercase + string.digits),
    "$randomIP": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "$randomUrl": lambda rng: f"https://{rng.choice(WORDS)}.{rng.choice(DOMAINS)}",
    "$randomDomainName": lambda rng: f"{rng.choice(WORDS)}.{rng.choice(DOMAINS)}",
    "$randomCompanyName": lambda rng: f"{rng.choice(LAST)} {rng.choice(['Labs', 'Inc', 'Ltd'])}",
    "$randomPrice": lambda rng: f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
    "$randomLoremWord": _pick(WORDS),
}


def _json_path(doc: Any, dotted: str) -> Any:
    for part in dotted.split(".") if dotted else []:
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
        return self._body

    def call(self, name: str, args: list[str]) -> str | None:
        key = args[0] if args else ""
        default = args[1] if len(args) > 1 else None
        value: Any = None
        if name == "$body":
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
        return default if value is None else _text(value)


HELPERS = {"$body", "$queryParams", "$headers", "$pathSegments"}


def has_templates(body: bytes) -> bool:
    return b"{{" in body


def fill(body: bytes, incoming: Incoming, values: dict[str, str],
         rng: random.Random | None = None) -> bytes:
    """The body with its templates filled; `values` are captures and variables."""
    if not has_templates(body):
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    rng = rng or random.Random()
    helpers = RequestHelpers(incoming)

    def replace(match: re.Match[str]) -> str:
        name, args = match.group(1), ARGUMENT.findall(match.group(2) or "")
        if name in HELPERS:
            value = helpers.call(name, args)
        elif name in DYNAMIC:
            value = DYNAMIC[name](rng)
        else:
            value = values.get(name)
        return match.group(0) if value is None else value

    return TEMPLATE.sub(replace, text).encode("utf-8")
