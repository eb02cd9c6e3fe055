"""`mockrec ui`: the web app over the data dir (recorder/ui)."""

from __future__ import annotations

from typing import Annotated

import typer

from recorder.cli.common import current_data_dir


def ui(
    port: Annotated[int, typer.Option(
        min=0, max=65535, help="Port to listen on; 0 picks a free one.")] = 8090,
    listen_host: Annotated[str, typer.Option(
        help="Address to listen on (loopback by default; anything else reaches the network)."
    )] = "127.0.0.1",
) -> None:
    """A web app for the history, Mock Request, collections, proxies and the live call log."""
    from recorder.ui import server  # tornado is imported only here

    server.serve(current_data_dir(), port, listen_host)
