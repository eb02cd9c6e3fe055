"""Files that survive crashes: atomic writes, a TinyDB storage built on them, a lock.

Every file mockrec writes goes through `atomic_write`: the new content lands in a
temporary file beside the target, is flushed to disk and renamed over it, so a
`kill -9` at any moment leaves the old file or the new one, never half of each.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from recorder.errors import StoreCorrupt
from recorder.store.names import check_name, valid_name

FILE_MODE = 0o600
DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create `path` readable by the user only: it holds recorded secrets.

    Every folder this creates is 0700, the missing parents too (`mkdir(parents=True)`
    would leave them to the umask, 0755 as a rule): whichever command makes the data
    dir, `calls/` or a `bodies/` folder first, it is private. Existing folders are
    left as they are."""
    missing = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made meanwhile by another process
        os.chmod(folder, DIR_MODE)  # whatever the umask took away
    return path


FileKey = tuple[int, int, int]


def file_key(path: Path | str) -> FileKey | None:
    """Which version of a file is on disk: inode, mtime and size (None: no file)."""
    try:
        return _key(os.stat(path))
    except FileNotFoundError:
        return None


def _key(st: os.stat_result) -> FileKey:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def atomic_write(path: Path, data: bytes, *, sync: bool = True,
                 mode: int | None = FILE_MODE) -> FileKey:
    """Replace `path` with `data` atomically; returns the key of the version written.

    `mode` None: what the umask gives a new file (0666 & ~umask), for files written
    for the user rather than into the data dir."""
    tmp = None
    try:
        tmp, written = _temporary(path, data, sync, mode)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    return written


def _temporary(path: Path, data: bytes, sync: bool,
               mode: int | None = FILE_MODE) -> tuple[str, FileKey]:
    """`data` in a new private file beside `path`, flushed to disk: its name and the key
    `path` will have once it is renamed there. Nothing is left behind on failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
            written = _key(os.fstat(f.fileno()))  # rename keeps inode, mtime and size
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp, written


class StagedFiles:
    """Several files replaced all or nothing: each is written to a temporary file beside
    its target (flushed to disk) and only when every one is written are they renamed
    into place. A write that fails (a full disk, say) leaves every target as it was.

        with StagedFiles() as staged:
            staged.write(a, ...); staged.write(b, ...)   # renamed on leaving the block
    """

    def __init__(self, sync: bool = True) -> None:
        self.sync = sync
        self.pending: list[tuple[str, Path]] = []

    def write(self, path: Path, data: bytes) -> FileKey:
        """Stage `data` for `path`; returns the key the file will have once renamed."""
        tmp, written = _temporary(path, data, self.sync)
        self.pending.append((tmp, path))
        return written

    def commit(self) -> None:
        pending, self.pending = self.pending, []
        for tmp, path in pending:
            os.replace(tmp, path)

    def abort(self) -> None:
        pending, self.pending = self.pending, []
        for tmp, _ in pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def body_doc(body: bytes) -> dict[str, str]:
    """A body in JSON: readable text when it is UTF-8, else base64; exact either way."""
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}


def body_bytes(doc: dict[str, Any]) -> bytes:
    if "text" in doc:
        return doc["text"].encode("utf-8")
    return base64.b64decode(doc.get("base64", ""))


def damaged(path: Path, what: str) -> StoreCorrupt:
    """The one-line error for a file mockrec wrote that no longer reads as it wrote it."""
    return StoreCorrupt(
        f"{path} is damaged ({what}); mockrec will not overwrite it: move it aside "
        f"(mv {path} {path}.broken) to keep using the rest of the data")


def load_json(path: Path) -> Any:
    """Parse a JSON file, turning damage into a one-line, actionable error."""
    return load_json_version(path)[0]


def load_counter(path: Path) -> int | None:
    """A next-id counter: a positive integer, None when there is none yet."""
    try:
        value = load_json(path)
    except FileNotFoundError:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise damaged(path, f"{json.dumps(value)[:40]} is not a positive integer")
    return value


def load_json_version(path: Path) -> tuple[Any, FileKey]:
    """The parsed file and the key of the very version read (one open, fstat'ed),
    so a cache can never pair one version's key with another's content.

    mockrec never writes an empty file: an empty one (a crash of the machine before
    the data reached the disk, a truncation) is damage, not "no data"."""
    try:
        with path.open("rb") as f:
            key = _key(os.fstat(f.fileno()))
            text = f.read()
        if not text.strip():
            raise damaged(path, "empty")
        return json.loads(text), key
    except json.JSONDecodeError as e:
        raise damaged(path, f"invalid JSON at line {e.lineno}, column {e.colno}") from None
    except UnicodeDecodeError:
        raise damaged(path, "not UTF-8 text") from None
    except RecursionError:
        raise damaged(path, "nested too deeply") from None


class ParsedFiles:
    """Parsed JSON files, valid while the file on disk is the one we parsed or wrote.

    The proxy appends to the same history segment many times a second; parsing
    it again each time would be most of the cost of a write.
    """

    def __init__(self, size: int = 8) -> None:
        self._files: dict[Path, tuple[FileKey, Any]] = {}
        self.size = size  # files kept, the oldest put forgotten first

    def get(self, path: Path) -> Any | None:
        cached = self._files.get(path)
        if cached is not None and cached[0] == file_key(path):
            return cached[1]
        return None

    def put(self, path: Path, key: FileKey, data: Any) -> None:
        """`key` must be that of the version `data` came from (or was written to)."""
        self._files[path] = (key, data)
        if len(self._files) > self.size:
            self._files.pop(next(iter(self._files)))

    def forget(self, path: Path) -> None:
        self._files.pop(path, None)


class AtomicJSONStorage(Storage):
    """TinyDB's JSON storage, but every write replaces the file atomically.

    `indent` makes files meant for humans and git diffs readable; history
    segments leave it off for speed. With `parsed`, reads of a file we wrote
    and that nobody changed since come from memory. `shape` checks what was
    parsed from disk: it returns what is wrong (the file is then reported as
    damaged, and TinyDB never gets to write over it), or None.
    """

    def __init__(self, path: str | Path, indent: int | None = None, sync: bool = True,
                 parsed: ParsedFiles | None = None,
                 shape: Callable[[dict[str, Any]], str | None] | None = None):
        self.path = Path(path)
        self.indent = indent
        self.sync = sync
        self.parsed = parsed
        self.shape = shape

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self.parsed is not None and (data := self.parsed.get(self.path)) is not None:
            return data
        try:
            data, key = load_json_version(self.path)
        except FileNotFoundError:
            return None
        problem = (_tables_problem(data) if isinstance(data, dict)
                   else "not a TinyDB document")
        if problem is None and self.shape is not None:
            problem = self.shape(data)
        if problem is not None:
            raise damaged(self.path, problem)
        if self.parsed is not None:
            self.parsed.put(self.path, key, data)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            key = atomic_write(self.path, self._encode(data), sync=self.sync)
        except BaseException:
            if self.parsed is not None:  # TinyDB changed the cached data in place
                self.parsed.forget(self.path)
            raise
        if self.parsed is not None:
            self.parsed.put(self.path, key, data)

    def _encode(self, data: Any) -> bytes:
        if not self.indent:
            return json.dumps(data, separators=(",", ":")).encode()
        try:  # files for people: UTF-8 as it reads, unless a header held raw bytes
            return json.dumps(data, indent=self.indent, sort_keys=True,
                              ensure_ascii=False).encode()
        except UnicodeEncodeError:
            return json.dumps(data, indent=self.indent, sort_keys=True).encode()

    def close(self) -> None:
        pass


def _tables_problem(data: dict[str, Any]) -> str | None:
    for name, table in data.items():
        if not isinstance(table, dict):
            return f"table {name!r} is not a JSON object"
        for doc_id, doc in table.items():
            if not doc_id.isdigit() or not isinstance(doc, dict):
                return f"row {doc_id!r} of table {name!r} is not a TinyDB document"
    return None


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


class NamedDocuments:
    """Small named settings files (mocks, environments): one indented TinyDB file each.

        ROOT/NAME.json     {"document": {"1": {...}}}
    """

    def __init__(self, root: Path, kind: str, what: str | None = None):
        self.root = root
        self.kind = kind  # the command: `mockrec KIND list`
        self.what = what or kind  # in messages

    def path(self, name: str) -> Path:
        return self.root / f"{check_name(name, self.what)}.json"

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if valid_name(p.stem))

    def get(self, name: str) -> dict[str, Any]:
        path = self.path(name)
        data = AtomicJSONStorage(path, shape=_named_problem).read()
        if data is None:
            from recorder.errors import NotFound
            raise NotFound(f"no {self.kind} {name!r}: `mockrec {self.kind} list` shows them")
        return dict(data["document"]["1"])

    def put(self, name: str, document: dict[str, Any]) -> None:
        ensure_private_dir(self.root)
        with locked(self.root / ".lock"):
            storage = AtomicJSONStorage(self.path(name), indent=2, shape=_named_problem)
            storage.read()  # a damaged file is reported, never written over
            storage.write({"document": {"1": document}})

    def delete(self, name: str, read: Callable[[str], object] | None = None) -> Path | None:
        """Delete NAME's file. A damaged one (`read`, by default `get`, says so) is kept
        aside instead (`set_aside`) and its new path returned: the name is free again,
        and what it held is not lost."""
        path = self.path(name)
        if not path.exists():
            self.get(name)  # the NotFound message
        try:
            (read or self.get)(name)
        except StoreCorrupt:
            return set_aside(path)
        path.unlink()
        return None


def set_aside(path: Path) -> Path:
    """Move a damaged file out of mockrec's way, beside it: NAME.json.damaged-STAMP
    (which no listing reads), never over another file."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for n in range(1, 1000):
        target = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            os.link(path, target)  # fails rather than replace an existing file
        except FileExistsError:
            continue
        path.unlink()
        return target
    raise StoreCorrupt(f"{path} is damaged and cannot be set aside: move it yourself")


def _named_problem(data: dict[str, Any]) -> str | None:
    if set(data) != {"document"} or set(data["document"]) != {"1"}:
        return 'not {"document": {"1": {...}}}'
    return None
