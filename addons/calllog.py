"""The call log: every request that reached a replaying proxy, and what it got.

Part of the replay addon (its response and error hooks call `log`), not an
addon of its own: every addon costs a lookup on every mitmproxy event.

Beside the log on disk (every run, for `mockrec calls`), the proxy remembers this
run's calls in memory (`RunCalls`), for the admin API's verification: the newest
`RUN_CALLS` of them, taken as the same `Capture` the disk log gets, so remembering
one costs an append.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

from mitmproxy import exceptions, http
from mitmproxy.net.http import url
from mitmproxy.proxy.mode_specs import ReverseMode

from addons import metadata, options
from recorder.capture import Capture
from recorder.errors import MockrecError
from recorder.models import HistoryEntry
from recorder.redaction import Redaction, hash_key_query, redact_key_fields
from recorder.settings import ReplaySettings
from recorder.store import datadir
from recorder.store.history import HistoryStore, HistoryWriterProcess, call_log_root
from recorder.store.names import valid_name

RUN_CALLS = 10_000
# What a remembered call keeps of its bodies, so that 10,000 calls of big downloads do
# not stay in memory: verification looks at request bodies only (`body_contains`).
KEEP_REQUEST_BODY = 16 * 1024
KEEP_RESPONSE_BODY = 4 * 1024


class RunCalls:
    """This run's calls, oldest first: the newest `keep`, numbered from 1.

    Each is kept as its pickled capture (the bytes the writer gets too), not as a
    tree of tuples and dicts: 10,000 calls would be some 100,000 more objects for
    the garbage collector to walk again and again while requests come in (the young
    generation takes each new call in, and a collection of it walked thousands of
    them), and twice the memory. A call becomes an entry when first asked for."""

    def __init__(self, keep: int = RUN_CALLS) -> None:
        self.kept: collections.deque[bytes] = collections.deque(maxlen=keep)
        self.made = 0  # since the start, or since `clear`
        self._entries: dict[int, HistoryEntry] = {}  # by number, made when asked for

    def add(self, capture: Capture, pickled: bytes | None = None) -> bytes:
        """Keep `capture` (`pickled`: its `dumps`, if made already); returns what the
        writer gets (`pickled`, or the capture pickled now)."""
        blob = pickled if pickled is not None else capture.dumps()
        response = capture.response
        if len(capture.body) > KEEP_REQUEST_BODY or (
                response is not None and len(response.body) > KEEP_RESPONSE_BODY):
            capture = capture._replace(
                body=capture.body[:KEEP_REQUEST_BODY],
                response=response and response._replace(
                    body=b"" if len(response.body) > KEEP_RESPONSE_BODY else response.body))
            self.kept.append(capture.dumps())
        else:
            self.kept.append(blob)
        self.made += 1
        return blob

    def entries(self) -> list[HistoryEntry]:
        first = self.made - len(self.kept) + 1
        made: dict[int, HistoryEntry] = {}
        for number, blob in enumerate(list(self.kept), first):
            entry = self._entries.get(number)
            if entry is None:
                entry = Capture.loads(blob).to_entry()
                entry.id = number
            made[number] = entry
        self._entries = made  # those gone from `kept` are forgotten
        return list(made.values())

    def clear(self) -> int:
        forgotten = self.made
        self.kept.clear()
        self._entries = {}
        self.made = 0
        return forgotten


class CallLog:
    def __init__(self) -> None:
        self.run = RunCalls()
        self.writer: HistoryWriterProcess | None = None
        # data dir, mock, calls kept, what is redacted
        self.target: tuple[Path, str, int, Redaction] | None = None
        self.max_body = 0
        self.mode = "replay"

    def configure(self, settings: ReplaySettings, mode: str) -> None:
        s = settings
        self.mode = mode
        name = s.mock or s.collection
        if name and not valid_name(name):
            raise exceptions.OptionsError(f"{name!r} is not usable as a call log's name")
        redaction = Redaction(secrets=s.redact_calls, api_key=bool(s.api_key or s.api_key_sha256))
        self.max_body = s.max_body
        target = (options.data_dir(), name, s.call_log, redaction) if name else None
        if target != self.target:
            if target is not None and target[2]:
                try:  # a damaged call log is said now, not at the first call
                    HistoryStore(target[0], call_log_root(target[1])).check()
                except (MockrecError, OSError) as e:
                    raise exceptions.OptionsError(str(e)) from e
            self.close()  # a new mock or data dir gets its own writer, on its first call
            self.target = target

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def start(self) -> HistoryWriterProcess | None:
        if self.writer is None and self.target is not None and self.target[2]:
            data_dir, name, keep, redaction = self.target
            self.writer = HistoryWriterProcess(datadir.prepare(data_dir), call_log_root(name),
                                               keep, redaction=redaction)
        return self.writer

    def ended(self, flow: http.HTTPFlow) -> None:
        """`flow` is over: logged if it was a call of the mock's; remembered if it was
        forwarded without one (record, passthrough); a replayed answer that is no call
        (the streamer's, the admin API's) is neither."""
        if flow.metadata.get(metadata.CALL):
            self.log(flow)
        elif not flow.metadata.get(metadata.REPLAYED):
            self.remember(flow)

    def remember(self, flow: http.HTTPFlow) -> None:
        """A request the proxy forwarded without looking at the examples (record,
        passthrough): not a call of the mock's log, but one the admin API counts."""
        self.run.add(self._private(as_sent(flow, Capture.from_flow(flow, self.mode, {
            "mock": self.target[1] if self.target else None, "example": None}))))

    def log(self, flow: http.HTTPFlow) -> None:
        writer = self.start()
        meta = flow.metadata
        notes = {"mock": self.target[1] if self.target else None,
                 "example": meta.get(metadata.EXAMPLE),
                 "delay_ms": meta.get(metadata.DELAY_MS, 0)}
        outcome = meta.get(metadata.OUTCOME)
        if outcome is not None:
            if outcome["kind"] == "forwarded":  # what the upstream answered, or why not
                outcome = {**outcome, "status": flow.response.status_code if flow.response
                           else None, "error": flow.error.msg if flow.error else None}
            notes["outcome"] = outcome
        fault = meta.get(metadata.FAULT)
        if fault is not None:
            notes["fault"] = fault
        if warnings := flow.metadata.get(metadata.WARNINGS):
            notes["warnings"] = warnings
        taken = self._private(as_sent(flow, Capture.from_flow(
            flow, self.mode, notes, self.max_body, cut=metadata.STOPPING in meta)))
        if fault is not None:  # the same whichever path carried it out
            taken = taken._replace(
                error=None if flow.response else f"mockrec fault: {fault}",
                error_time=None if flow.response else time.time())
        blob = self.run.add(taken)  # pickled once, for both
        if writer is not None:
            writer.submit_pickled(blob)

    def _private(self, taken: Capture) -> Capture:
        """A private mock's keys (its x-api-key, right or wrong, a bearer token, an
        `?api_key=`) are never kept as sent (nor in the calls the admin API shows): a
        short hash prefix tells keys apart."""
        if self.target is None or not self.target[3].api_key:
            return taken
        return taken._replace(headers=redact_key_fields(taken.headers),
                              url=hash_key_query(taken.url))


def as_sent(flow: http.HTTPFlow, taken: Capture) -> Capture:
    """A reverse proxy's call as the client sent it: its Host and the URL it asked for,
    not the upstream's that mitmproxy points the request at (and sends upstream:
    addons/forwarding.py). A forward proxy's request names its URL itself."""
    client = flow.client_conn
    if not isinstance(client.proxy_mode, ReverseMode):
        return taken
    request = flow.request
    host, fields = flow.metadata.get(metadata.SENT, (request.host_header, taken.headers))
    scheme = "https" if client.tls else "http"
    if not host and client.sockname:  # HTTP/1.0 with no Host: the address it came to
        host = url.hostport(scheme, *client.sockname[:2])
    return taken._replace(url=f"{scheme}://{host}{request.path}", headers=fields)
