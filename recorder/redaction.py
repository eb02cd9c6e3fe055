"""What counts as a secret in an exchange, and the placeholders that replace it.

One set of rules for every place that redacts: promote (unless --keep-secrets),
`record --redact` (the history) and a mock's `redact_calls` (the call log). A private
mock's own API key is never kept in its call log: `key_placeholder` tells keys apart
by a short hash prefix without keeping them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, NamedTuple
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from recorder.models import Header, HistoryEntry, HttpResponse

REDACTED = "{{REDACTED}}"
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}
SECRET_RESPONSE_HEADERS = {"set-cookie"}
SECRET_QUERY = re.compile(
    r"^(api[-_]?key|key|access[-_]?token|token|auth([-_]?token)?|secret|client[-_]?secret|"
    r"password|passwd|signature|sig)$", re.IGNORECASE)
# A secret shorter than this is not looked for in bodies: "1" or "on" would be found
# everywhere and mean nothing.
MIN_ECHO = 6
ECHOED = "echoed"  # counted apart: "N secrets echoed in response bodies"


def redact_header(name: str, value: str) -> str:
    lower = name.lower()
    if lower in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        return f"{scheme} {REDACTED}" if credentials else REDACTED
    if lower == "cookie":
        return "; ".join(f"{part.split('=', 1)[0].strip()}={REDACTED}"
                         for part in value.split(";") if part.strip())
    if lower == "set-cookie":
        cookie, sep, attributes = value.partition(";")
        return f"{cookie.split('=', 1)[0].strip()}={REDACTED}{sep}{attributes}"
    return REDACTED


def redact_url(url: str, redacted: Counter[str]) -> str:
    """Replace the values of API-key-like query parameters; the rest stays as sent."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pieces = []
    for piece in parts.query.split("&"):
        raw_key, sep, _ = piece.partition("=")
        key = unquote_plus(raw_key)
        if SECRET_QUERY.match(key):
            redacted[f"query parameter {key}"] += 1
            piece = f"{raw_key}={REDACTED}"
        pieces.append(piece)
    return urlunsplit(parts._replace(query="&".join(pieces)))


def redact_headers(headers: list[Header], names: set[str],
                   redacted: Counter[str]) -> list[Header]:
    out = []
    for name, value in headers:
        if name.lower() in names:
            redacted[f"{name.title()} header"] += 1
            value = redact_header(name, value)
        out.append((name, value))
    return out


def secret_values(url: str, headers: list[Header]) -> list[str]:
    """The secret values a request carried (what `redact_url`/`redact_headers` replace),
    longest first, to find them again where an API echoes them."""
    found = set()
    for name, value in headers:
        lower = name.lower()
        if lower in ("authorization", "proxy-authorization"):
            found.add(value.partition(" ")[2] or value)
        elif lower == "cookie":
            found.update(part.split("=", 1)[1].strip() for part in value.split(";")
                         if "=" in part)
        elif lower in SECRET_HEADERS:
            found.add(value)
    query = urlsplit(url).query
    for piece in query.split("&") if query else []:
        raw_key, _, raw_value = piece.partition("=")
        if SECRET_QUERY.match(unquote_plus(raw_key)):
            found.update((raw_value, unquote_plus(raw_value)))
    return sorted((v for v in found if len(v) >= MIN_ECHO and REDACTED not in v),
                  key=lambda v: (-len(v), v))


def redact_echoes(body: bytes, secrets: list[str], redacted: Counter[str]) -> bytes:
    """`body` with every occurrence of `secrets` replaced by the placeholder, counted."""
    for secret in secrets:
        raw = secret.encode("utf-8", "surrogateescape")
        if count := body.count(raw):
            redacted[ECHOED] += count
            body = body.replace(raw, REDACTED.encode())
    return body


KEY_PLACEHOLDER = re.compile(r"\[redacted sha256:[0-9a-f]{8}\]")
# What a private mock's call log keeps as a hash prefix: its own key, and the other ways
# a client sends one (a bearer token, Basic credentials, `?api_key=`).
KEY_HEADERS = {"x-api-key", "authorization", "proxy-authorization"}


def key_placeholder(key: str) -> str:
    """What a call log keeps of an x-api-key: enough to tell keys apart, not the key.
    A placeholder stays as it is."""
    if KEY_PLACEHOLDER.fullmatch(key):
        return key
    # Imported here: the call log's writer process needs it for private mocks only (it
    # loads OpenSSL's libcrypto: 4 MB of the writer's memory).
    import hashlib

    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    return f"[redacted sha256:{digest[:8]}]"


def hash_key_header(name: str, value: str) -> str:
    """A key header's value with the key as `key_placeholder` (Authorization keeps its
    scheme: `Bearer [redacted sha256:1a2b3c4d]`); other headers as they are."""
    lower = name.lower()
    if lower not in KEY_HEADERS:
        return value
    scheme, _, credentials = value.partition(" ")
    if lower == "x-api-key" or not credentials:
        return key_placeholder(value)
    return f"{scheme} {key_placeholder(credentials)}"


def hash_key_query(url: str) -> str:
    """`url` with the values of API-key-like query parameters as `key_placeholder`."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pieces = []
    for piece in parts.query.split("&"):
        raw_key, sep, raw_value = piece.partition("=")
        if sep and SECRET_QUERY.match(unquote_plus(raw_key)):
            piece = f"{raw_key}={quote(key_placeholder(unquote_plus(raw_value)), safe='[]:')}"
        pieces.append(piece)
    return urlunsplit(parts._replace(query="&".join(pieces)))


def redact_key_fields(fields: Any) -> tuple[tuple[bytes, bytes], ...]:
    """mitmproxy's header fields with every key (`KEY_HEADERS`) hashed: `hash_key_header`."""
    return tuple((k, hash_key_header(k.decode("latin-1"), v.decode(
        "utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"))
        if k.lower() in (b"x-api-key", b"authorization", b"proxy-authorization") else (k, v)
        for k, v in fields)


def redact_echoed_body(response: HttpResponse, secrets: list[str],
                       redacted: Counter[str]) -> None:
    """Replace what the upstream echoed of `secrets` in `response`'s body. A compressed
    body is looked at decoded, and stored decoded (without Content-Encoding) when it
    held one: the secret must go, byte-exactness is what --redact gives up."""
    if not secrets or not response.body:
        return
    from recorder import encodings

    body, was_decoded = encodings.decode(response.headers, response.body)
    before = redacted[ECHOED]
    body = redact_echoes(body, secrets, redacted)
    if redacted[ECHOED] == before:
        return
    headers = [(k, v) for k, v in response.headers
               if not (was_decoded and k.lower() == "content-encoding")]
    response.headers = [(k, str(len(body)) if k.lower() == "content-length" else v)
                        for k, v in headers]
    response.body, response.body_size = body, len(body)


class Redaction(NamedTuple):
    """What a history or call log writer replaces before storing an entry.

    secrets: the promote rules (request Authorization, Cookie, X-Api-Key, API-key-like
    query parameters, and where the response body echoes them; response Set-Cookie);
    api_key: a private mock's keys (x-api-key, Authorization's credentials, API-key-like
    query parameters), kept as `key_placeholder` (wins over `secrets` for those headers).
    """

    secrets: bool = False
    api_key: bool = False

    def __bool__(self) -> bool:
        return self.secrets or self.api_key

    def apply(self, entry: HistoryEntry) -> HistoryEntry:
        if not self:
            return entry
        redacted: Counter[str] = Counter()
        request = entry.request
        headers = request.headers
        echoed = secret_values(request.url, headers) if self.secrets else []
        if self.api_key:
            redacted["keys"] += sum(1 for k, _ in headers if k.lower() in KEY_HEADERS)
            headers = [(k, hash_key_header(k, v)) for k, v in headers]
            request.url = hash_key_query(request.url)
        if self.secrets:
            names = SECRET_HEADERS - (KEY_HEADERS if self.api_key else set())
            request.url = redact_url(request.url, redacted)
            headers = redact_headers(headers, names, redacted)
            if entry.response is not None:
                entry.response.headers = redact_headers(
                    entry.response.headers, SECRET_RESPONSE_HEADERS, redacted)
                redact_echoed_body(entry.response, echoed, redacted)
        request.headers = headers
        if redacted:
            entry.notes = {**entry.notes, "redacted": sum(redacted.values())}
        return entry
