"""The answers mockrec makes up: examples as responses, and its JSON errors."""

from __future__ import annotations

import json
import time

from mitmproxy import ctx, http
from mitmproxy.net.http import status_codes

from addons import metadata
from recorder.match.matcher import Outcome
from recorder.models import Example


def json_response(status: int, body: dict,
                  headers: list[tuple[bytes, bytes]] = ()) -> http.Response:
    return http.Response.make(status, json.dumps(body, indent=2).encode(),
                              [(b"Content-Type", b"application/json"), *headers])


# Vary: Origin on the `*` answer too: the answer depends on the Origin header either
# way, and a cache must not give a page that sends one the answer made without.
ANY_ORIGIN = [(b"Access-Control-Allow-Origin", b"*"), (b"Vary", b"Origin")]


def cors_headers(origin: str | None) -> list[tuple[bytes, bytes]]:
    """What a CORS answer adds: `*` without an Origin; with one, that origin, with
    credentials allowed (so `fetch(url, {credentials: "include"})` reads it); and
    `Vary: Origin` in both cases."""
    if origin is None:
        return ANY_ORIGIN
    return [(b"Access-Control-Allow-Origin", origin.encode("utf-8", "surrogateescape")),
            (b"Access-Control-Allow-Credentials", b"true"), (b"Vary", b"Origin")]


# An example's headers as sent, whether the length goes in, whether any value has
# templates, whether it sets its own CORS headers (then mockrec adds none).
Wire = tuple[list[tuple[bytes, bytes]], bool, bool, bool]


def wire_headers(example: Example) -> Wire:
    """The example's headers as sent (no Content-Length: it is computed per answer),
    whether the length goes in (not with Transfer-Encoding), whether a value holds
    `{{...}}` to fill per request, and whether the example has its own
    Access-Control-Allow-Origin."""
    fields = [(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
              for k, v in example.response.headers if k.lower() != "content-length"]
    names = {k.lower() for k, _ in fields}
    return (fields, b"transfer-encoding" not in names, any(b"{{" in v for _, v in fields),
            b"access-control-allow-origin" in names)


def example_response(example: Example, wire: Wire, body: bytes, head_only: bool,
                     cors: list[tuple[bytes, bytes]] | None = None) -> http.Response:
    """The example as sent: `wire` headers in order, the `cors` headers (unless the
    example has its own), `body` (templates filled), its length."""
    answer = example.response
    fields, with_length, _, own_cors = wire
    if cors and not own_cors:
        fields = [*fields, *cors]
    if with_length:
        fields = [*fields, (b"Content-Length", str(len(body)).encode())]
    now = time.time()
    reason = answer.reason or status_codes.RESPONSES.get(answer.status, "")
    return http.Response(b"HTTP/1.1", answer.status, reason.encode("utf-8", "surrogateescape"),
                         http.Headers(fields),
                         b"" if head_only else body, None, now, now)


def mark_answered(flow: http.HTTPFlow, response: http.Response, cors_done: bool = False) -> None:
    """Answer `flow` from mockrec: CORS headers, never recorded, always in the call log."""
    if (not cors_done and ctx.options.mockrec_cors
            and "access-control-allow-origin" not in response.headers):
        response.headers.fields += tuple(cors_headers(flow.request.headers.get("origin")))
    if flow.request.method == "HEAD" and response.raw_content:
        # What a GET would get, without the body (RFC 9110 9.3.2): mitmproxy would
        # send a made-up response's body anyway, and the client would read it as
        # the start of the next answer.
        response.data.content = b""
    flow.metadata[metadata.REPLAYED] = True
    flow.metadata[metadata.CALL] = True
    flow.response = response


def not_found(outcome: Outcome) -> http.Response:
    return json_response(404, {"error": {
        "name": "mockRequestNotFoundError",
        "header": "No matching requests",
        "message": outcome.message + ". Add an example for it (mockrec promote, mockrec "
                   "example add), or fix the request.",
        "details": outcome.details(),
    }})
