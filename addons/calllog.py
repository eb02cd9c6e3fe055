"""The call log: every request that reached a replaying proxy, and what it got."""

from __future__ import annotations

from mitmproxy import ctx, http

from addons import common
from addons.record import entry_from_flow
from recorder.history import HistoryWriterProcess


def call_log_root(name: str) -> str:
    return f"calls/{name}"


class CallLog:
    name = "mockrec_call_log"

    def __init__(self) -> None:
        self.writer: HistoryWriterProcess | None = None
        self._target: tuple | None = None

    def load(self, loader) -> None:
        loader.add_option("mockrec_mock", str, "",
                          "Name of the mock, for its call log; empty: the collection's name.")
        loader.add_option("mockrec_call_log", int, 10_000,
                          "Calls kept in the mock's call log; 0 keeps no call log.")

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get("mockrec_call"):
            self._log(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get("mockrec_call") and not flow.response:
            self._log(flow)

    def done(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _log(self, flow: http.HTTPFlow) -> None:
        keep = ctx.options.mockrec_call_log
        name = ctx.options.mockrec_mock or ctx.options.mockrec_collection
        if not keep or not name:
            return
        entry = entry_from_flow(flow, ctx.options.mockrec_mode)
        entry.notes = {"mock": name, "example": flow.metadata.get("mockrec_example"),
                       "delay_ms": flow.metadata.get("mockrec_delay_ms", 0)}
        target = (common.data_dir(), name, keep)
        if self.writer is None or target != self._target:
            self.done()
            from recorder import datadir
            self.writer = HistoryWriterProcess(datadir.prepare(target[0]),
                                               call_log_root(name), keep)
            self._target = target
        self.writer.submit(entry)
