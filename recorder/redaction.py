"""What counts as a secret in an exchange, and the placeholders that replace it.

One set of rules for every place that redacts: promote (unless --keep-secrets),
`record --redact` (the history) and a mock's `redact_calls` (the call log). A private
mock's own API key is never kept in its call log: `key_placeholder` tells keys apart
by a short hash prefix without keeping them.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any, NamedTuple
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from recorder.models import Header, HistoryEntry

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


def key_placeholder(key: str) -> str:
    """What a call log keeps of an x-api-key: enough to tell keys apart, not the key.
    A placeholder stays as it is."""
    if KEY_PLACEHOLDER.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    return f"[redacted sha256:{digest[:8]}]"


def redact_key_fields(fields: Any) -> tuple[tuple[bytes, bytes], ...]:
    """mitmproxy's header fields with every x-api-key value as `key_placeholder`."""
    return tuple((k, key_placeholder(v.decode("utf-8", "surrogateescape")).encode())
                 if k.lower() == b"x-api-key" else (k, v) for k, v in fields)


class Redaction(NamedTuple):
    """What a history or call log writer replaces before storing an entry.

    secrets: the promote rules (request Authorization, Cookie, X-Api-Key, API-key-like
    query parameters; response Set-Cookie); api_key: a private mock's x-api-key, kept
    as `key_placeholder` (wins over `secrets` for that header).
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
        if self.api_key:
            headers = [(k, key_placeholder(v)) if k.lower() == "x-api-key" else (k, v)
                       for k, v in headers]
            redacted["x-api-key"] += sum(1 for k, _ in headers if k.lower() == "x-api-key")
        if self.secrets:
            names = SECRET_HEADERS - ({"x-api-key"} if self.api_key else set())
            request.url = redact_url(request.url, redacted)
            headers = redact_headers(headers, names, redacted)
            if entry.response is not None:
                entry.response.headers = redact_headers(
                    entry.response.headers, SECRET_RESPONSE_HEADERS, redacted)
        request.headers = headers
        if redacted:
            entry.notes = {**entry.notes, "redacted": sum(redacted.values())}
        return entry
