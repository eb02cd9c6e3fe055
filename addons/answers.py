"""mockrec's answers as mitmproxy responses: the `Responder`'s `Answer`s
(recorder/serve/responder.py), and the JSON answers of the admin API and the proxy."""

from __future__ import annotations

import time

from mitmproxy import http
from mitmproxy.net.http import status_codes

from addons import metadata
from recorder.models import reason_phrase, wire_bytes
from recorder.serve.responder import Answer, json_answer


def to_response(answer: Answer, head_only: bool = False) -> http.Response:
    """`answer` as mitmproxy's response: its headers as they are; a HEAD's without the
    body (its Content-Length stays: what a GET would get)."""
    now = time.time()
    # mitmproxy's table has no 429 (nor 422, 425 ...): Python's has them.
    reason = (answer.reason or status_codes.RESPONSES.get(answer.status)
              or reason_phrase(answer.status))
    return http.Response(b"HTTP/1.1", answer.status, wire_bytes(reason),
                         http.Headers(answer.headers),
                         b"" if head_only else answer.body, None, now, now)


def json_response(status: int, body: dict,
                  headers: list[tuple[bytes, bytes]] = ()) -> http.Response:
    return to_response(json_answer(status, body, headers))


def mark_answered(flow: http.HTTPFlow, response: http.Response) -> None:
    """Answer `flow` from mockrec: never recorded, always in the call log."""
    if flow.request.method == "HEAD" and response.raw_content:
        # What a GET would get, without the body (RFC 9110 9.3.2): mitmproxy would
        # send a made-up response's body anyway, and the client would read it as
        # the start of the next answer.
        response.data.content = b""
    flow.metadata[metadata.REPLAYED] = True
    flow.metadata[metadata.CALL] = True
    flow.response = response
