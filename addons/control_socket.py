"""The proxy's end of `mockrec mode` and `mockrec reset`: a Unix socket that sets
mockrec_* options live, rewinds sequences and quotas, and runs admin requests without
HTTP; all are the admin API's operations (addons/admin.py). And `--save-url-to`, the
other way clients find a running proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mitmproxy import ctx

from addons import admin as admin_api
from addons import options
from recorder.errors import MockrecError
from recorder.proxy import remote as control
from recorder.store.files import ensure_private_dir
from recorder.store.mocks import EnvironmentStore, local_url

if TYPE_CHECKING:
    from addons.admin import Admin

log = logging.getLogger(__name__)


class ControlSocket:
    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.server: asyncio.AbstractServer | None = None
        self.path: Path | None = None

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

    apply = staticmethod(admin_api.apply)  # `{"set": {...}}`: mockrec_* options, live

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            reply = await self.admin.control(json.loads(await reader.readline() or b"{}"))
        except ValueError as e:
            reply = {"ok": False, "error": f"bad control request: {e}"}
        writer.write(json.dumps(reply).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


def save_url(env: str) -> None:
    """`--save-url-to ENV`: the mock URL, now that the port is known, as mockUrl."""
    if not env:
        return
    addrs = ctx.master.addons.get("proxyserver").listen_addrs()
    if not addrs:
        return
    url = local_url(*addrs[0][:2])
    try:
        EnvironmentStore(options.data_dir()).set(env, {"mockUrl": url})
    except MockrecError as e:
        log.warning("mockrec: cannot save mockUrl in environment %s: %s", env, e)
