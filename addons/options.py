"""The data dir the addons share (`ProxySettings.data_dir`, recorder/settings.py)."""

from __future__ import annotations

from pathlib import Path

from mitmproxy import ctx

from recorder.store import datadir


def data_dir() -> Path:
    """The configured data dir; not created here, only where something is written."""
    return datadir.resolve(ctx.options.mockrec_data_dir or None)
