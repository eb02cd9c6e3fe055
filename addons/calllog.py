"""The call log: every request that reached a replaying proxy, and what it got.

Part of the replay addon (its response and error hooks call `log`), not an
addon of its own: every addon costs a lookup on every mitmproxy event.
"""

from __future__ import annotations

from pathlib import Path

from mitmproxy import ctx, exceptions, http

from addons import metadata, options
from recorder.capture import Capture
from recorder.errors import MockrecError
from recorder.store import datadir
from recorder.store.history import HistoryStore, HistoryWriterProcess, call_log_root


class CallLog:
    def __init__(self) -> None:
        self.writer: HistoryWriterProcess | None = None
        self.target: tuple[Path, str, int] | None = None  # data dir, mock, calls kept
        self.mode = "replay"

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        self.mode = opts.mockrec_mode
        name = opts.mockrec_mock or opts.mockrec_collection
        target = (options.data_dir(), name, opts.mockrec_call_log) if name else None
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
            data_dir, name, keep = self.target
            self.writer = HistoryWriterProcess(datadir.prepare(data_dir), call_log_root(name),
                                               keep)
        return self.writer

    def log(self, flow: http.HTTPFlow) -> None:
        writer = self.start()
        if writer is None:
            return
        name = self.target[1]  # type: ignore[index]
        taken = Capture.from_flow(flow, self.mode, {
            "mock": name, "example": flow.metadata.get(metadata.EXAMPLE),
            "delay_ms": flow.metadata.get(metadata.DELAY_MS, 0)},
            cut=metadata.STOPPING in flow.metadata)
        writer.submit(taken)
