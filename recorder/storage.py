"""Files that survive crashes: atomic writes, a TinyDB storage built on them, a lock.

Every file mockrec writes goes through `atomic_write`: the new content lands in a
temporary file beside the target, is flushed to disk and renamed over it, so a
`kill -9` at any moment leaves the old file or the new one, never half of each.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from recorder.errors import StoreCorrupt

FILE_MODE = 0o600
DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create `path` readable by the user only: it holds recorded secrets."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def atomic_write(path: Path, data: bytes, *, sync: bool = True) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_json(path: Path) -> Any:
    """Parse a JSON file, turning damage into a one-line, actionable error."""
    try:
        text = path.read_bytes()
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError as e:
        raise StoreCorrupt(
            f"{path} is damaged (invalid JSON at line {e.lineno}, column {e.colno}); "
            f"mockrec will not overwrite it: move it aside (mv {path} {path}.broken) "
            "to keep using the rest of the data"
        ) from None
    except UnicodeDecodeError:
        raise StoreCorrupt(
            f"{path} is damaged (not UTF-8 text); mockrec will not overwrite it: "
            f"move it aside (mv {path} {path}.broken) to keep using the rest of the data"
        ) from None


class AtomicJSONStorage(Storage):
    """TinyDB's JSON storage, but every write replaces the file atomically.

    `indent` makes files meant for humans and git diffs readable; history
    segments leave it off for speed.
    """

    def __init__(self, path: str | Path, indent: int | None = None, sync: bool = True):
        self.path = Path(path)
        self.indent = indent
        self.sync = sync

    def read(self) -> dict[str, dict[str, Any]] | None:
        if not self.path.exists():
            return None
        data = load_json(self.path)
        if data is not None and not isinstance(data, dict):
            raise StoreCorrupt(
                f"{self.path} is damaged (not a TinyDB document); mockrec will not "
                f"overwrite it: move it aside (mv {self.path} {self.path}.broken)"
            )
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        separators = None if self.indent else (",", ":")
        text = json.dumps(data, indent=self.indent, sort_keys=bool(self.indent),
                          separators=separators)
        atomic_write(self.path, text.encode(), sync=self.sync)

    def close(self) -> None:
        pass


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Serialise writers of one store across processes (proxy, CLI)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
