"""Where mockrec keeps its files: `--data-dir`, else $MOCKREC_DATA_DIR, else ./.mockrec."""

from __future__ import annotations

import os
from pathlib import Path

from recorder.store.files import ensure_private_dir

DEFAULT = ".mockrec"


def resolve(data_dir: str | Path | None = None) -> Path:
    chosen = data_dir or os.environ.get("MOCKREC_DATA_DIR") or DEFAULT
    return Path(chosen).expanduser().absolute()


def prepare(data_dir: str | Path | None = None) -> Path:
    """Resolve and create the data dir, private to the user."""
    return ensure_private_dir(resolve(data_dir))
