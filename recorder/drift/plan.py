"""What drift would send for an example, or why it sends nothing.

Drift is safe by default: only GET, HEAD and OPTIONS go to the live API unless every
method is asked for, and a request that still holds a secret promote redacted
(`{{REDACTED}}`) is never sent. `--header 'Name: value'` fills a header; an
environment variable named after a header or a query parameter fills it too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from recorder.match.matcher import VARIABLE, resolve
from recorder.models import Example, Header
from recorder.promote.entries import BASE_URL
from recorder.redaction import REDACTED

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# They describe one connection; the client writes its own.
NOT_SENT = {"host", "content-length", "connection", "transfer-encoding", "keep-alive",
            "proxy-connection", "te", "trailer", "upgrade"}


@dataclass
class Fill:
    """What completes an example's request for the live API."""

    variables: dict[str, str] = field(default_factory=dict)  # the collection's, then --env's
    headers: list[Header] = field(default_factory=list)  # --header, replacing same-named ones
    upstream: str | None = None  # --upstream: every request goes there
    all_methods: bool = False

    @property
    def base(self) -> str | None:
        return (self.upstream or self.variables.get("baseUrl") or "").rstrip("/") or None


@dataclass
class Outgoing:
    method: str
    url: str
    headers: list[Header]
    body: bytes


class Skip(Exception):
    """The example is not sent; the message says why, and what would let it be."""


def outgoing(example: Example, fill: Fill) -> Outgoing:
    """The request to send for `example`; raises Skip when it must not be sent."""
    comparable(example)
    method = example.request.method.upper()
    if method not in SAFE_METHODS and not fill.all_methods:
        raise Skip(f"{method} is not sent without --methods all")
    url = target_url(example.request.url, fill)
    headers = request_headers(example.request.headers, fill)
    body = example.request.body
    if b"{{" in body:
        with contextlib.suppress(UnicodeDecodeError):  # bytes: sent as they are
            body = resolve(body.decode("utf-8"), fill.variables).encode("utf-8")
    if REDACTED.encode() in body:
        raise Skip("its body holds a redacted secret: edit the example to send it")
    return Outgoing(method, url, headers, body)


def comparable(example: Example) -> None:
    """Skip what drift cannot compare: a WebSocket's conversation is not an answer."""
    if example.response.conversation is not None:
        raise Skip("a WebSocket conversation: drift compares HTTP answers")


def target_url(url: str, fill: Fill) -> str:
    """The example's URL with its secrets and variables filled, on the live API:
    `{{baseUrl}}/x` and `/x` under the base, an absolute URL where it says (on the
    upstream when one is given)."""
    url = fill_query(url, fill.variables)
    base = fill.base
    if url.startswith(BASE_URL):
        url = "/" + url[len(BASE_URL):].lstrip("/")
    url = resolve(url, fill.variables)
    if missing := VARIABLE.search(url):
        raise Skip(f"its URL needs a value for {missing.group(0)}: a collection variable "
                   "or --env")
    parts = urlsplit(url)
    parts = parts._replace(path=fill_path(parts.path, fill.variables))
    url = urlunsplit(parts)
    if parts.scheme and not fill.upstream or base is not None and url.startswith(base + "/"):
        return url
    if base is None:
        raise Skip("no live API to ask: give --upstream URL or set the collection's baseUrl")
    rest = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return base + "/" + rest.lstrip("/")


def fill_path(path: str, variables: dict[str, str]) -> str:
    """Postman's path variables (`/pets/:petId`) filled from variables of their names."""
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if len(segment) > 1 and segment.startswith(":"):
            name = segment[1:]
            if name not in variables:
                raise Skip(f"its path variable :{name} needs a value: an --env variable {name}")
            segments[i] = quote(variables[name], safe="")
    return "/".join(segments)


def fill_query(url: str, variables: dict[str, str]) -> str:
    """Query parameters promote redacted, filled from a variable of the same name."""
    before, sep, query = url.partition("?")
    if not sep or REDACTED not in query:
        return url
    pieces = []
    for piece in query.split("&"):
        raw_key, eq, value = piece.partition("=")
        if REDACTED in value:
            key = unquote_plus(raw_key)
            if key not in variables:
                raise Skip(f"query parameter {key} needs a value: an --env variable {key}")
            piece = f"{raw_key}={quote(variables[key], safe='')}"
        pieces.append(piece)
    return f"{before}?{'&'.join(pieces)}"


def request_headers(recorded: list[Header], fill: Fill) -> list[Header]:
    """The example's headers, `--header` replacing same-named ones, redacted values
    filled from a variable named after the header, variables resolved."""
    given = {name.lower() for name, _ in fill.headers}
    by_name = {name.lower(): value for name, value in fill.variables.items()}
    headers: list[Header] = []
    for name, value in recorded:
        lower = name.lower()
        if lower in NOT_SENT or lower in given:
            continue
        if REDACTED in value:
            if lower not in by_name:
                raise Skip(f"the {name} header needs a value: --header '{name}: ...' "
                           f"(or an --env variable {name})")
            value = by_name[lower]
        headers.append((name, resolve(value, fill.variables)))
    return headers + list(fill.headers)
