"""The answers mockrec makes up: examples as responses, and its JSON errors."""

from __future__ import annotations

import json
import time

from mitmproxy import ctx, http
from mitmproxy.net.http import status_codes

from recorder.matching import Outcome
from recorder.models import Example


def json_response(status: int, body: dict,
                  headers: list[tuple[bytes, bytes]] = ()) -> http.Response:
    return http.Response.make(status, json.dumps(body, indent=2).encode(),
                              [(b"Content-Type", b"application/json"), *headers])


def example_response(example: Example, body: bytes, head_only: bool) -> http.Response:
    """The example as sent: its headers in order, `body` (templates filled), a fresh length."""
    answer = example.response
    fields = [(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
              for k, v in answer.headers if k.lower() != "content-length"]
    if not any(k.lower() == b"transfer-encoding" for k, _ in fields):
        fields.append((b"Content-Length", str(len(body)).encode()))
    now = time.time()
    reason = answer.reason or status_codes.RESPONSES.get(answer.status, "")
    return http.Response(b"HTTP/1.1", answer.status, reason.encode(), http.Headers(fields),
                         b"" if head_only else body, None, now, now)


def mark_answered(flow: http.HTTPFlow, response: http.Response) -> None:
    """Answer `flow` from mockrec: CORS header, never recorded, always in the call log."""
    if ctx.options.mockrec_cors and "access-control-allow-origin" not in response.headers:
        response.headers["Access-Control-Allow-Origin"] = "*"
    flow.metadata["mockrec_replayed"] = True
    flow.metadata["mockrec_call"] = True
    flow.response = response


def not_found(outcome: Outcome) -> http.Response:
    return json_response(404, {"error": {
        "name": "mockRequestNotFoundError",
        "header": "No matching requests",
        "message": outcome.message + ". Add an example for it (mockrec promote, mockrec "
                   "example add), or fix the request.",
        "details": outcome.details(),
    }})
