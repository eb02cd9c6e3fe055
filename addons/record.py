"""Record every exchange that went to the upstream, or failed on the way, into the history.

Runs inside `mockrec record` and in plain mitmproxy:
`mitmdump -s addons/record.py --set mockrec_data_dir=DIR`.
"""

from __future__ import annotations

from pathlib import Path

from mitmproxy import ctx, exceptions, http

from addons import common
from addons.upstream import UpstreamErrors
from recorder import datadir
from recorder.errors import MockrecError
from recorder.history import HistoryStore, HistoryWriterProcess
from recorder.models import Capture, HistoryEntry, entry_from_capture


def capture(flow: http.HTTPFlow, mode: str = "record",
            notes: dict | None = None) -> Capture:
    """What the history keeps of a flow, as cheap to take and to pickle as it gets.

    The proxy's hot path only reads fields; the writer process turns the tuple
    into a `HistoryEntry` (recorder.models.entry_from_capture).
    """
    req, resp = flow.request, flow.response
    peer, server = flow.client_conn.peername, flow.server_conn.address
    return (
        req.method, req.url, req.http_version, req.headers.fields, req.raw_content or b"",
        (resp.status_code, resp.reason, resp.http_version, resp.headers.fields,
         resp.raw_content or b"", resp.timestamp_start, resp.timestamp_end)
        if resp is not None else None,
        flow.error.msg if flow.error else None,
        flow.error.timestamp if flow.error else None,
        req.timestamp_start, req.timestamp_end,
        f"{peer[0]}:{peer[1]}" if peer else "",
        f"{server[0]}:{server[1]}" if server else "",
        mode, notes or {},
    )


def entry_from_flow(flow: http.HTTPFlow, mode: str = "record") -> HistoryEntry:
    return entry_from_capture(capture(flow, mode))


def was_replayed(flow: http.HTTPFlow) -> bool:
    """Answers made up by mockrec or mitmproxy's server replay are not traffic."""
    return bool(flow.metadata.get("mockrec_replayed")) or flow.is_replay == "response"


class Record:
    name = "mockrec_record"

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.writer: HistoryWriterProcess | None = None

    def load(self, loader) -> None:
        common.add_data_dir_option(loader)
        loader.add_option(
            "mockrec_record", bool, True,
            "Record every exchange that reaches the upstream into mockrec's history.",
        )

    def configure(self, updated: set[str]) -> None:
        if "mockrec_data_dir" in updated:
            directory = common.data_dir()
            try:
                HistoryStore(directory).check()
            except (MockrecError, OSError) as e:
                raise exceptions.OptionsError(str(e)) from None
            if directory != self.directory:
                self._close_writer()
                self.directory = directory

    def running(self) -> None:
        if ctx.options.mockrec_record:
            self._writer()

    def response(self, flow: http.HTTPFlow) -> None:
        if self.recording() and not was_replayed(flow):
            self._writer().submit(capture(flow, self.mode()))

    def error(self, flow: http.HTTPFlow) -> None:
        if self.recording() and not flow.response:
            self._writer().submit(capture(flow, self.mode()))

    @staticmethod
    def mode() -> str:
        # The mode option belongs to the replay addon; alone, this addon records.
        return getattr(ctx.options, "mockrec_mode", "record")

    def recording(self) -> bool:
        if not ctx.options.mockrec_record:
            return False
        mode = self.mode()
        return mode in ("record", "spy") or (
            mode == "replay" and ctx.options.mockrec_on_miss == "record")

    def done(self) -> None:
        self._close_writer()

    def _writer(self) -> HistoryWriterProcess:
        if self.writer is None:
            assert self.directory is not None
            self.writer = HistoryWriterProcess(datadir.prepare(self.directory))
        return self.writer

    def _close_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


addons = [UpstreamErrors(), Record()]
