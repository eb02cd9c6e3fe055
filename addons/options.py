"""Options that several mockrec addons share; mitmproxy accepts a repeated identical declaration."""

from __future__ import annotations

from pathlib import Path

from mitmproxy import ctx

from recorder.store import datadir

DATA_DIR = "mockrec_data_dir"
MODE = "mockrec_mode"


def add_data_dir_option(loader) -> None:
    loader.add_option(
        DATA_DIR, str, "",
        "Directory where mockrec keeps its history, collections and mocks. "
        "Empty means $MOCKREC_DATA_DIR, or ./.mockrec.",
    )


def data_dir() -> Path:
    """The configured data dir; not created here, only where something is written."""
    return datadir.resolve(ctx.options.mockrec_data_dir or None)
