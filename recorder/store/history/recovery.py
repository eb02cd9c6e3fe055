"""Recovery files: entries that could not be stored, kept until they can be.

A writer that cannot store entries at stop (a full disk, permissions) keeps them in
a recovery file in the data dir, `recovery@ROOT@TIME-PID-RANDOM.json`; should the data
dir not take it either, in a private folder in the system's temp dir, often on
another disk. The next `mockrec record` (or `mockrec history recover`) imports them
(`HistoryStore.recover`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recorder.models import HistoryEntry
from recorder.store.files import atomic_write, damaged, ensure_private_dir, load_json
from recorder.store.history.documents import checked

RECOVERY_PREFIX = "recovery@"


def save(data_dir: Path, root_name: str, docs: list[dict[str, Any]]) -> Path:
    """Write a recovery file of `docs` (every body inline) for the store `root_name`;
    returns where it went."""
    doc = {"mockrec_recovery": 1, "root": root_name, "entries": docs}
    data = json.dumps(doc, separators=(",", ":")).encode()
    name = (f"{_prefix(root_name)}{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-"
            f"{os.urandom(3).hex()}.json")  # not `secrets`: OpenSSL, 4 MB
    try:
        ensure_private_dir(data_dir)
        atomic_write(data_dir / name, data)
        return data_dir / name
    except OSError as e:
        elsewhere = fallback_dir(create=True)
        if elsewhere is None:
            raise
        try:
            path = elsewhere / f"{data_dir_tag(data_dir)}-{name}"
            atomic_write(path, data)
        except OSError:
            raise e from None
        return path


def files(data_dir: Path, root_name: str) -> list[Path]:
    """The recovery files of the store `root_name`, in the data dir and elsewhere."""
    pattern = f"{_prefix(root_name)}*.json"
    found = sorted(data_dir.glob(pattern)) if data_dir.is_dir() else []
    # The data dir's tag (a hash: OpenSSL, 4 MB of the writer process's memory) only
    # if some data dir left such files there.
    if (elsewhere := fallback_dir()) is not None and (
            candidates := sorted(elsewhere.glob(f"*-{pattern}"))):
        tag = f"{data_dir_tag(data_dir)}-"
        found += [path for path in candidates if path.name.startswith(tag)]
    return found


def read(path: Path, root_name: str,
         to_entry: Callable[[dict[str, Any]], HistoryEntry]) -> list[HistoryEntry]:
    """The entries of one recovery file of the store `root_name`."""
    data = load_json(path)
    try:
        if data.get("mockrec_recovery") != 1 or data["root"] != root_name:
            raise ValueError
        return [to_entry(checked(doc)) for doc in data["entries"]]
    except (AttributeError, KeyError, TypeError, ValueError):
        raise damaged(path, "not a mockrec recovery file") from None


def roots(data_dir: Path) -> list[str]:
    """The stores (history, call logs) that have recovery files, sorted."""
    found = list(data_dir.glob(f"{RECOVERY_PREFIX}*.json")) if data_dir.is_dir() else []
    if (elsewhere := fallback_dir()) is not None:
        found += elsewhere.glob(f"{data_dir_tag(data_dir)}-{RECOVERY_PREFIX}*.json")
    names = {p.name.partition(RECOVERY_PREFIX)[2].split("@")[0].replace("+", "/")
             for p in found}
    return [root for root in sorted(names) if root == "history" or root.startswith("calls/")]


def _prefix(root_name: str) -> str:
    return f"{RECOVERY_PREFIX}{root_name.replace('/', '+')}@"


def fallback_dir(create: bool = False) -> Path | None:
    """This user's private folder for recovery files the data dir could not take."""
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = Path(tempfile.gettempdir()) / f"mockrec-recovery-{uid}"
    try:
        if create:
            ensure_private_dir(path)
        st = path.lstat()
    except OSError:
        return None
    # Only a folder of ours that nobody else may write into.
    if not path.is_dir() or st.st_uid != uid or st.st_mode & 0o077:
        return None
    return path


def data_dir_tag(data_dir: Path) -> str:
    import hashlib

    return hashlib.sha256(str(data_dir.absolute()).encode()).hexdigest()[:16]
