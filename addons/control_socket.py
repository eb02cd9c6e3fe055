"""The proxy's end of `mockrec mode` and `mockrec reset`: a Unix socket that sets
mockrec_* options live, or rewinds sequences and quotas."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from mitmproxy import ctx, exceptions

from recorder.proxy import remote as control
from recorder.store.files import ensure_private_dir

log = logging.getLogger(__name__)


class ControlSocket:
    def __init__(self, on_reset: Callable[[], None] = lambda: None) -> None:
        self.server: asyncio.AbstractServer | None = None
        self.path: Path | None = None
        self.on_reset = on_reset

    async def start(self, data_dir: Path) -> None:
        addrs = ctx.master.addons.get("proxyserver").listen_addrs()
        if not addrs:
            return
        ensure_private_dir(control.run_dir(data_dir))
        self.path = control.socket_path(data_dir, addrs[0][1])
        self.path.unlink(missing_ok=True)
        try:
            self.server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        except OSError as e:  # e.g. a path too long for a Unix socket
            log.warning("mockrec: `mockrec mode` will not reach this proxy: %s", e)
            return
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await reader.readline() or b"{}")
            if request.get("reset"):
                self.on_reset()
                reply = {"ok": True, "mode": ctx.options.mockrec_mode,
                         "collection": ctx.options.mockrec_collection, "reset": True}
            else:
                reply = self.apply(request.get("set", {}))
        except ValueError as e:
            reply = {"ok": False, "error": f"bad control request: {e}"}
        writer.write(json.dumps(reply).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    @staticmethod
    def apply(settings: dict) -> dict:
        unknown = [k for k in settings if not k.startswith("mockrec_")]
        if unknown:
            return {"ok": False, "error": f"only mockrec_* options can be set: {unknown}"}
        try:
            ctx.options.update(**settings)
        except (exceptions.OptionsError, KeyError, TypeError) as e:
            return {"ok": False, "error": str(e).strip("'\"")}
        return {"ok": True, "mode": ctx.options.mockrec_mode,
                "collection": ctx.options.mockrec_collection}
