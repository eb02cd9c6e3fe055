"""A flow as recording takes it: `Capture`, cheap to take on the proxy's hot path and
to pickle to the writer process, which turns it into a `HistoryEntry`.

Every place that records (the record addon, the call log, HAR and flow-file import)
takes its captures here, so the layout is known in one module only.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any, NamedTuple

from recorder.conversation import Close, Conversation, WsMessage
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings, wire_text
from recorder.streams import Stream, Tap

if TYPE_CHECKING:
    from mitmproxy import http

# The error of an exchange the proxy cut because it was stopping, whatever mitmproxy
# says of the closed connection.
STOPPING = "proxy stopping"


class CapturedResponse(NamedTuple):
    status: int
    reason: str
    http_version: str
    headers: Any  # mitmproxy's header fields: (bytes, bytes) pairs in wire order
    body: bytes
    timestamp_start: float | None
    timestamp_end: float | None
    # A streamed body's parts, (offset_ms, size) pairs, and whether it was cut.
    stream: tuple[list[tuple[int, int]], bool] | None = None


class Capture(NamedTuple):
    method: str
    url: str
    http_version: str
    headers: Any  # (bytes, bytes) pairs in wire order
    body: bytes
    response: CapturedResponse | None
    error: str | None
    error_time: float | None
    start: float | None
    request_end: float | None
    client: str
    upstream: str
    mode: str
    notes: dict

    @classmethod
    def from_flow(cls, flow: http.HTTPFlow, mode: str = "record",
                  notes: dict | None = None, max_body: int = 0, *,
                  cut: bool = False) -> Capture:
        """Reads fields only: the conversion happens in the writer (`to_entry`).
        `cut`: the proxy cut the exchange as it stopped (the error says so).

        A body mitmproxy streamed through (over its `stream_large_bodies`) was never
        held and is kept empty; with `max_body`, a longer body is cut to that many
        bytes. Either way `notes["truncated"]` says which side, and its size if known.
        A stream recording passed through live (a `Tap`) keeps what the tap kept, its
        parts, and `cut` when it did not end (a side hung up, or the proxy stopped).
        """
        req, resp = flow.request, flow.response
        peer, server = flow.client_conn.peername, flow.server_conn.address
        error = flow.error.msg if flow.error else None
        if cut and resp is None:
            error = STOPPING
        truncated: dict[str, int | None] = {}
        request_body = _kept(req, "request", max_body, truncated)
        response_body = _kept(resp, "response", max_body, truncated) if resp else b""
        if truncated:
            notes = {**(notes or {}), "truncated": truncated}
        if flow.websocket is not None:
            notes = {**(notes or {}), "websocket": conversation_doc(flow, cut, max_body)}
        return cls(
            req.method, req.url, req.http_version, req.headers.fields, request_body,
            CapturedResponse(resp.status_code, resp.reason, resp.http_version,
                             resp.headers.fields, response_body,
                             resp.timestamp_start, resp.timestamp_end,
                             _stream(resp, response_body, error is not None or cut))
            if resp is not None else None,
            error,
            flow.error.timestamp if flow.error else None,
            req.timestamp_start, req.timestamp_end,
            f"{peer[0]}:{peer[1]}" if peer else "",
            f"{server[0]}:{server[1]}" if server else "",
            mode, notes or {},
        )

    def dumps(self) -> bytes:
        """Pickled as plain tuples (`loads`): half the time a named tuple takes, on the
        proxy's event loop, once a call."""
        resp = self.response
        return pickle.dumps((*self[:5], tuple(resp) if resp is not None else None,
                             *self[6:]), pickle.HIGHEST_PROTOCOL)

    @classmethod
    def loads(cls, blob: bytes) -> Capture:
        fields = pickle.loads(blob)
        resp = fields[5]
        return cls(*fields[:5], CapturedResponse(*resp) if resp is not None else None,
                   *fields[6:])

    def to_entry(self) -> HistoryEntry:
        """The entry to store (in the writer process, off the proxy's event loop)."""
        resp = self.response
        response = None
        if resp is not None:
            response = HttpResponse(resp.status, resp.reason, resp.http_version,
                                    [(wire_text(k), wire_text(v)) for k, v in resp.headers],
                                    resp.body, len(resp.body),
                                    Stream(*resp.stream) if resp.stream else None)
        return HistoryEntry(
            request=HttpRequest(self.method, self.url, self.http_version,
                                [(wire_text(k), wire_text(v)) for k, v in self.headers],
                                self.body, len(self.body)),
            response=response,
            error=self.error,
            timings=Timings(start=self.start, request_end=self.request_end,
                            response_start=resp.timestamp_start if resp else None,
                            end=(resp.timestamp_end if resp else None) or self.error_time),
            client=self.client, upstream=self.upstream, mode=self.mode, notes=self.notes,
        )


def _kept(message: Any, side: str, max_body: int, truncated: dict[str, int | None]) -> bytes:
    if isinstance(tap := message.stream, Tap):  # passed through live, and kept
        body = bytes(tap.kept[:max_body] if max_body else tap.kept)
        if tap.truncated or len(body) < len(tap.kept):
            truncated[side] = tap.passed if tap.ended else None
        return body
    if message.stream:  # streamed through: mitmproxy never held the body
        length = message.headers.get("content-length", "")
        truncated[side] = int(length) if length.isdigit() else None
        return b""
    body = message.raw_content or b""
    if max_body and len(body) > max_body:
        truncated[side] = len(body)
        return body[:max_body]
    return body


def conversation_doc(flow: http.HTTPFlow, cut: bool, max_body: int = 0) -> dict:
    """A WebSocket's messages as the history keeps them (recorder/serve/websocket.py):
    offsets in ms after the 101; with `max_body`, payloads past that many bytes in all
    are not kept (the count of those dropped is said)."""
    data = flow.websocket
    assert data is not None and flow.response is not None
    opened = flow.response.timestamp_end or flow.response.timestamp_start or 0.0
    messages, kept, dropped = [], 0, 0
    for message in data.messages:
        if max_body and kept + len(message.content) > max_body:
            dropped += 1
            continue
        kept += len(message.content)
        messages.append(WsMessage(message.from_client, message.content, message.is_text,
                                  max(0.0, (message.timestamp - opened) * 1000)))
    ended = data.close_code is not None and not cut
    close = Close(data.close_code, data.close_reason or "", bool(data.closed_by_client)) \
        if ended else None
    doc = Conversation(messages, close, cut=not ended).to_doc()
    if dropped:
        doc["dropped"] = dropped
    return doc


def _stream(message: Any, body: bytes,
            cut: bool) -> tuple[list[tuple[int, int]], bool] | None:
    """A tapped stream's parts over the `body` kept (`max_body` may keep less)."""
    if not isinstance(tap := message.stream, Tap):
        return None
    parts, room = [], len(body)
    for offset, size in tap.parts:
        if room <= 0:
            break
        parts.append((offset, min(size, room)))
        room -= size
    return parts, tap.stream(cut).cut
