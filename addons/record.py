"""Record every exchange that went to the upstream, or failed on the way, into the history.

Runs inside `mockrec record` and in plain mitmproxy:
`mitmdump -s addons/record.py --set mockrec_data_dir=DIR`.
"""

from __future__ import annotations

from pathlib import Path

from mitmproxy import ctx, exceptions, http
from mitmproxy.net.http import url
from mitmproxy.proxy.mode_specs import ReverseMode

from addons import metadata, options
from addons.upstream import UpstreamErrors
from recorder.capture import Capture
from recorder.errors import MockrecError
from recorder.models import HistoryEntry
from recorder.modes import Mode, OnMiss
from recorder.redaction import Redaction
from recorder.settings import ProxySettings, ReplaySettings
from recorder.store import datadir
from recorder.store.history import HistoryStore, HistoryWriterProcess
from recorder.streams import Tap, is_stream


def entry_from_flow(flow: http.HTTPFlow, mode: str = "record") -> HistoryEntry:
    return Capture.from_flow(flow, mode).to_entry()


def was_replayed(flow: http.HTTPFlow) -> bool:
    """Answers made up by mockrec or mitmproxy's server replay are not traffic."""
    return bool(flow.metadata.get(metadata.REPLAYED)) or flow.is_replay == "response"


def has_body(flow: http.HTTPFlow) -> bool:
    """A 1xx, 204 or 304 answer, or one to a HEAD, has no body, whatever its headers
    say (RFC 9112 6.3): no stream either, though it has no Content-Length."""
    status = flow.response.status_code if flow.response else 0
    return status >= 200 and status not in (204, 304) and flow.request.method != "HEAD"


def tap_stream(flow: http.HTTPFlow, limit: int = 0) -> Tap | None:
    """Pass a streaming response (SSE, NDJSON, a body in parts of unknown length) on to
    the client part by part as it arrives, through mitmproxy's own response streaming,
    keeping up to `limit` bytes of it (0: all) for the history; None when the response
    is read whole as before (it has a length and is no stream, or is already streamed)."""
    response = flow.response
    if response is None or response.stream or was_replayed(flow) or not has_body(flow):
        return None
    headers = response.headers
    if not is_stream(headers.get("content-type", ""), headers.get("content-length"),
                     "chunked" in headers.get("transfer-encoding", "").lower()):
        return None
    response.stream = tap = Tap(limit)
    return tap


def capture(flow: http.HTTPFlow, mode: str) -> Capture:
    """The flow as the history keeps it; recorded through a reverse proxy, with the
    upstream it stood for (notes `reverse`), which promote makes the collection's
    `{{baseUrl}}`."""
    proxy_mode = flow.client_conn.proxy_mode
    notes = None
    if isinstance(proxy_mode, ReverseMode) and proxy_mode.scheme in ("http", "https"):
        host, port = proxy_mode.address
        host = f"[{host}]" if ":" in host else host
        notes = {"reverse": f"{proxy_mode.scheme}://"
                            f"{url.hostport(proxy_mode.scheme, host, port)}"}
    return Capture.from_flow(flow, mode, notes, cut=metadata.STOPPING in flow.metadata)


class Record:
    name = "mockrec_record"

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.writer: HistoryWriterProcess | None = None

    def load(self, loader) -> None:
        ProxySettings.declare(loader, "data_dir", "record", "redact")

    def configure(self, updated: set[str]) -> None:
        changed = ProxySettings.changed(updated)
        if "data_dir" in changed:
            directory = options.data_dir()
            # A damaged history stops a proxy that records into it, not a replaying one
            # (switched to record later, it logs the damage and keeps what it records).
            if self.recording():
                try:
                    HistoryStore(directory).check()
                except (MockrecError, OSError) as e:
                    raise exceptions.OptionsError(str(e)) from e
            if directory != self.directory:
                self._close_writer()
                self.directory = directory
        if ("redact" in changed
                or ReplaySettings.changed(updated) & {"api_key", "api_key_sha256"}):
            self._close_writer()  # the next one stores with the new setting

    def running(self) -> None:
        if ctx.options.mockrec_record:
            self._writer()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # The body limit bounds what is kept of a stream, never what passes.
        tap_stream(flow, ReplaySettings.read(ctx.options, "body_limit", 0))

    def response(self, flow: http.HTTPFlow) -> None:
        # A WebSocket is stored once it ends, with its conversation (websocket_end).
        if flow.websocket is None and self.recording() and not was_replayed(flow):
            self._writer().submit(capture(flow, self.mode().value))

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        if self.recording() and not was_replayed(flow):
            self._writer().submit(capture(flow, self.mode().value))

    def error(self, flow: http.HTTPFlow) -> None:
        # An admin request cut before its answer (REPLAYED from its start) is not traffic,
        # nor is a malformed request mitmproxy refused (a 400 that never went upstream);
        # a stream cut on the way (a side hung up, the proxy stopped) has its response:
        # it is stored with what passed, as cut.
        if (self.recording() and not was_replayed(flow)
                and metadata.CLIENT_ERROR not in flow.metadata
                and (not flow.response or isinstance(flow.response.stream, Tap))):
            self._writer().submit(capture(flow, self.mode().value))

    @staticmethod
    def mode() -> Mode:
        # The mode options belong to the replay addon; alone, this addon records.
        return Mode(ProxySettings.read(ctx.options, "mode", Mode.RECORD))

    def recording(self) -> bool:
        return ctx.options.mockrec_record and self.mode().records(
            ReplaySettings.read(ctx.options, "on_miss", OnMiss.NOT_FOUND))

    def done(self) -> None:
        self._close_writer()

    def _writer(self) -> HistoryWriterProcess:
        if self.writer is None:
            assert self.directory is not None
            opts = ctx.options
            # A private mock's own key (spy forwards its misses) is never stored as sent.
            private = bool(ReplaySettings.read(opts, "api_key", "")
                           or ReplaySettings.read(opts, "api_key_sha256", ""))
            self.writer = HistoryWriterProcess(
                datadir.prepare(self.directory),
                redaction=Redaction(secrets=opts.mockrec_redact, api_key=private))
        return self.writer

    def _close_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


addons = [UpstreamErrors(), Record()]
