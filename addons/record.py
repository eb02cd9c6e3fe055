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
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings, wire_text


def entry_from_flow(flow: http.HTTPFlow, mode: str = "record") -> HistoryEntry:
    """The library's model of a flow: bodies as the client saw them, headers as sent."""
    req = flow.request
    request = HttpRequest(
        method=req.method,
        url=req.url,
        http_version=req.http_version,
        headers=[(wire_text(k), wire_text(v)) for k, v in req.headers.fields],
        body=req.raw_content or b"",
        body_size=len(req.raw_content or b""),
    )
    response = None
    if (resp := flow.response) is not None:
        response = HttpResponse(
            status=resp.status_code,
            reason=resp.reason,
            http_version=resp.http_version,
            headers=[(wire_text(k), wire_text(v)) for k, v in resp.headers.fields],
            body=resp.raw_content or b"",
            body_size=len(resp.raw_content or b""),
        )
    peer = flow.client_conn.peername
    server = flow.server_conn.address
    return HistoryEntry(
        request=request,
        response=response,
        error=flow.error.msg if flow.error else None,
        timings=Timings(
            start=req.timestamp_start,
            request_end=req.timestamp_end,
            response_start=resp.timestamp_start if resp else None,
            end=(resp.timestamp_end if resp else None) or (flow.error.timestamp if flow.error
                                                           else None),
        ),
        client=f"{peer[0]}:{peer[1]}" if peer else "",
        upstream=f"{server[0]}:{server[1]}" if server else "",
        mode=mode,
    )


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
            self._writer().submit(entry_from_flow(flow, self.mode()))

    def error(self, flow: http.HTTPFlow) -> None:
        if self.recording() and not flow.response:
            self._writer().submit(entry_from_flow(flow, self.mode()))

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
