"""How history entries are stored: bounded TinyDB segments plus body files.

A single TinyDB file rewrites itself whole on every insert, so its cost grows with
the history. Here entry `n` lives in segment `(n - 1) // SEGMENT_SIZE`, one small
TinyDB file each; a write touches only the newest segment, whatever the size of
the history. Bodies over `INLINE_BODY_LIMIT` bytes sit beside the segments as
files, byte-exact. `HistoryWriter` batches entries on a thread, and
`HistoryWriterProcess` runs it in a child process, so the proxy's event loop
neither waits for the disk nor shares its core with JSON encoding.
"""

from __future__ import annotations

import atexit
import bisect
import collections
import contextlib
import errno
import itertools
import json
import logging
import multiprocessing
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from tinydb import TinyDB

from recorder.capture import Capture
from recorder.errors import MockrecError, NotFound, StoreCorrupt
from recorder.models import (
    Header,
    HistoryEntry,
    HistoryFilter,
    HttpRequest,
    HttpResponse,
    IdSpan,
    Timings,
)
from recorder.redaction import Redaction
from recorder.store.files import (
    AtomicJSONStorage,
    FileKey,
    ParsedFiles,
    StagedFiles,
    atomic_write,
    body_bytes,
    body_doc,
    damaged,
    ensure_private_dir,
    load_counter,
    load_json,
    locked,
)

SEGMENT_SIZE = 256
WRITER_NICENESS = 10  # the writer process's priority below the proxy's (os.nice)
INLINE_BODY_LIMIT = 4096
TABLE = "entries"

log = logging.getLogger(__name__)


CALLS = "calls"


def call_log_root(mock: str) -> str:
    """Where a mock's call log lives in the data dir: a history of its own."""
    from recorder.store.names import check_name

    return f"{CALLS}/{check_name(mock, 'mock')}"


def call_logs(data_dir: Path) -> list[str]:
    """The mocks (or collections served without a mock) that have a call log."""
    calls_dir = data_dir / CALLS
    return sorted(p.name for p in calls_dir.iterdir() if p.is_dir()) if calls_dir.is_dir() else []


def open_call_log(data_dir: Path, mock: str | None) -> HistoryStore:
    """`mock`'s call log; with no name, the only one there is."""
    names = call_logs(data_dir)
    if mock is None:
        if len(names) != 1:
            raise MockrecError("name the mock: " + (", ".join(names) if names
                                                    else "no mock has served calls yet"))
        mock = names[0]
    elif mock not in names:
        raise NotFound(f"no calls logged for {mock!r}" + (f" (logged: {', '.join(names)})"
                                                           if names else ""))
    return HistoryStore(data_dir, call_log_root(mock))


class HistoryStore:
    """The history (`DATA_DIR/history`), or a mock's call log (`DATA_DIR/calls/MOCK`).

    With `keep`, only about the newest `keep` entries are kept: whole old
    segments go once the newer ones hold that many.

    The call logs of all mocks share one id counter (`calls/next-id.json`, under
    `calls/.lock`), so a call's id names it across mocks: `mockrec calls show 12` needs
    no mock name.
    """

    def __init__(self, data_dir: Path, root: str = "history", keep: int = 0):
        self.data_dir = data_dir
        self.root_name = root
        self.root = data_dir / root
        self.keep = keep
        self._bodies = self.root / "bodies"
        shared = self.root.parent if root.startswith(f"{CALLS}/") else self.root
        self._lock = shared / ".lock"
        self._counter = shared / "next-id.json"
        self._parsed = ParsedFiles()
        self._counts: dict[Path, int] = {}  # entries per segment, for pruning

    @property
    def what(self) -> str:
        """How messages name this store."""
        return ("history" if self.root_name == "history"
                else f"call log of {self.root_name.rpartition('/')[2]}")

    # -- reading ---------------------------------------------------------------

    def get(self, entry_id: int) -> HistoryEntry:
        doc = self._read_segment(self._segment_path(_segment_of(entry_id))).get(entry_id)
        if doc is None:
            raise NotFound(f"history entry {entry_id} does not exist: `mockrec history list` "
                           "shows the ids")
        return self._entry(entry_id, doc, with_bodies=True)

    def get_many(self, ids: Iterable[int]) -> dict[int, HistoryEntry]:
        """The entries among `ids` that exist, with bodies, reading each segment once."""
        by_segment: dict[int, list[int]] = {}
        for entry_id in ids:
            by_segment.setdefault(_segment_of(entry_id), []).append(entry_id)
        found = {}
        for segment, seg_ids in by_segment.items():
            docs = self._read_segment(self._segment_path(segment))
            for entry_id in seg_ids:
                if entry_id in docs:
                    found[entry_id] = self._entry(entry_id, docs[entry_id], with_bodies=True)
        return found

    def existing_ids(self, spans: Iterable[IdSpan], done: str = "done") -> list[int]:
        """The ids that exist among `spans`, sorted: a single id must exist, a range takes
        those in it that exist and must hold one (NotFound says which did not, and that
        nothing was `done`). Reads only the segments that exist within the spans, so a
        range costs what exists in it, not its width."""
        spans = list(spans)
        segments = [int(p.stem.split("-")[1]) for p in self._segment_paths()]
        found: set[int] = set()
        for span in spans:
            low, high = _segment_of(span.first), _segment_of(span.last)
            start = bisect.bisect_left(segments, low)
            in_span = []
            for segment in segments[start:bisect.bisect_right(segments, high)]:
                docs = self._read_segment(self._segment_path(segment))
                in_span.extend(i for i in docs if i in span)
            if not in_span:
                if span.is_range:
                    raise NotFound(f"no history entry in {span}; nothing was {done}")
                raise NotFound(f"history entry {span} does not exist; nothing was {done}")
            found.update(in_span)
        return sorted(found)

    def entries(self, filters: HistoryFilter | None = None, *, with_bodies: bool = False,
                newest_first: bool = True) -> Iterator[HistoryEntry]:
        """Entries that pass `filters`, reading segments lazily (`--limit` stops early)."""
        segments = self._segment_paths()
        for path in reversed(segments) if newest_first else segments:
            docs = self._read_segment(path)
            for entry_id in sorted(docs, reverse=newest_first):
                entry = self._entry(entry_id, docs[entry_id], with_bodies=with_bodies)
                if filters is None or filters.matches(entry):
                    yield entry

    def search(self, text: str) -> Iterator[HistoryEntry]:
        """Entries whose URL, headers or text bodies contain `text`, ignoring case.

        A damaged segment is reported (StoreCorrupt), never skipped in silence."""
        contains = self._contains(text)
        escaped = json.dumps(text.lower())[1:-1]
        for path in reversed(self._segment_paths()):
            raw = path.read_text("utf-8", "replace").lower()
            # Most segments are ruled out without parsing; out-of-line bodies need a look,
            # and so does a file that is not whole as mockrec writes it.
            if (escaped not in raw and '"file"' not in raw
                    and raw.startswith('{"entries":{') and raw.endswith("}}")):
                continue
            docs = self._read_segment(path)
            for entry_id in sorted(docs, reverse=True):
                if contains(docs[entry_id]):
                    yield self._entry(entry_id, docs[entry_id], with_bodies=False)

    def _contains(self, text: str) -> Callable[[dict[str, Any]], bool]:
        needle = text.lower()
        escaped = json.dumps(needle)[1:-1]  # as it appears in the stored JSON

        def contains(doc: dict[str, Any]) -> bool:
            return escaped in json.dumps(doc).lower() or any(
                needle in body.decode("utf-8", "replace").lower()
                for body in self._file_bodies(doc))
        return contains

    def newer_than(self, after: int, search: str | None = None) -> list[HistoryEntry]:
        """Entries with an id above `after` (containing `search`, if given), oldest first.
        Reads only the segments that hold them."""
        contains = self._contains(search) if search else None
        newer = []
        for path in reversed(self._segment_paths()):
            docs = self._read_segment(path)
            for entry_id in sorted(docs, reverse=True):
                if entry_id <= after:
                    return newer[::-1]
                if contains is None or contains(docs[entry_id]):
                    newer.append(self._entry(entry_id, docs[entry_id], with_bodies=False))
        return newer[::-1]

    def stamp(self) -> tuple[int, ...]:
        """Changes whenever an entry is added or removed; costs two `stat` calls."""
        stamp: list[int] = []
        for path in (self._counter, *self._segment_paths()[-1:]):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            stamp += [info.st_mtime_ns, info.st_size, info.st_ino]
        return tuple(stamp)

    def next_id(self) -> int:
        """The id the next stored entry will get."""
        return self._next_id()

    def count(self) -> int:
        return sum(len(self._read_segment(p)) for p in self._segment_paths())

    def check(self) -> None:
        """Fail now, with the recovery hint, if the segment we would write to is damaged."""
        segments = self._segment_paths()
        if segments:
            self._read_segment(segments[-1])
        load_counter(self._counter)

    # -- writing ---------------------------------------------------------------

    def append(self, entries: list[HistoryEntry]) -> list[int]:
        """Store `entries`, giving each the next id; returns the ids.

        Should a write fail, the error is raised, and the entries that were stored
        before it are those with an id (the others have `id` None, and no body file
        of theirs is left behind)."""
        if not entries:
            return []
        ensure_private_dir(self.root)
        with locked(self._lock):
            return self._append_locked(entries)

    def append_all(self, entries: list[HistoryEntry]) -> list[int]:
        """Store `entries` all together or, should a write fail, none of them (no id
        spent): what an import needs."""
        if not entries:
            return []
        ensure_private_dir(self.root)
        with locked(self._lock):
            return self._append_locked(entries, whole=True)

    def _append_locked(self, entries: list[HistoryEntry], whole: bool = False) -> list[int]:
        if not entries:
            return []
        first = self._next_id()
        for offset, entry in enumerate(entries):
            entry.id = first + offset
        # Each segment, with its body files, is written to temporary files and renamed
        # into place only once all of it is on disk: a failed write (a full disk) leaves
        # no part of a segment behind. Should a later segment fail, those before it are
        # stored (the writer keeps what it stored) unless `whole`: then none is.
        staged: list[tuple[StagedFiles, Path, FileKey, dict]] = []
        stored = 0
        try:
            for segment, chunk in itertools.groupby(entries, lambda e: _segment_of(e.id)):
                chunk = list(chunk)
                files = StagedFiles()
                try:
                    docs = {str(e.id): self._document(e, files) for e in chunk}
                    path = self._segment_path(segment)
                    self._read_segment(path)  # a damaged segment is said, never overwritten
                    data = AtomicJSONStorage(path, parsed=self._parsed).read() or {}
                    data = {**data, TABLE: {**data.get(TABLE, {}), **docs}}
                    key = files.write(path, json.dumps(data, separators=(",", ":")).encode())
                except BaseException:
                    files.abort()
                    raise
                staged.append((files, path, key, data))
                if not whole:
                    self._commit(staged.pop())
                    stored += len(chunk)
            with StagedFiles() as counter:  # renamed last: after every segment
                counter.write(self._counter, json.dumps(first + len(entries)).encode())
                for item in staged:
                    self._commit(item)
        except BaseException:
            for files, *_ in staged:
                files.abort()
            for entry in entries[stored:]:
                entry.id = None
            raise
        if self.keep:
            try:
                self._prune()
            except OSError as e:  # stored all the same; pruning is tried again next time
                log.warning("mockrec: could not prune old entries of %s: %s", self.root, e)
        return [entry.id for entry in entries]  # type: ignore[misc]

    def _commit(self, item: tuple[StagedFiles, Path, FileKey, dict]) -> None:
        files, path, key, data = item
        files.commit()
        self._parsed.put(path, key, data)
        self._counts.pop(path, None)

    def _prune(self) -> None:
        """Drop the oldest segments once the newer ones hold `keep` entries. Ids are shared
        with other call logs, so entries are counted, not ids; the counts are kept here, so
        a write reads only the segments it changed (from the parsed-file cache)."""
        segments = self._segment_paths()
        present = set(segments)
        for path in [p for p in self._counts if p not in present]:  # cleared meanwhile
            del self._counts[path]
        kept = 0
        for i in range(len(segments) - 1, -1, -1):
            if kept >= self.keep:
                for path in segments[:i + 1]:
                    segment = int(path.stem.split("-")[1])
                    path.unlink()
                    shutil.rmtree(self._bodies / f"{segment:08d}", ignore_errors=True)
                    self._counts.pop(path, None)
                break
            if segments[i] not in self._counts:
                self._counts[segments[i]] = len(self._read_segment(segments[i]))
            kept += self._counts[segments[i]]

    def delete(self, ids: Iterable[int]) -> int:
        """Delete entries by id; all must exist, or nothing is deleted."""
        wanted = sorted(set(ids))
        with locked(self._lock):
            by_segment: dict[int, list[int]] = {}
            for entry_id in wanted:
                by_segment.setdefault(_segment_of(entry_id), []).append(entry_id)
            missing = [i for seg, seg_ids in by_segment.items()
                       for i in seg_ids if i not in self._read_segment(self._segment_path(seg))]
            if missing:
                raise NotFound(f"no history entry {', '.join(map(str, missing[:10]))}: "
                               "nothing was deleted")
            for segment, seg_ids in by_segment.items():
                with self._db(self._segment_path(segment)) as db:
                    db.table(TABLE, cache_size=0).remove(doc_ids=seg_ids)
                for entry_id in seg_ids:
                    for side in ("request", "response"):
                        self._body_path(entry_id, side).unlink(missing_ok=True)
        return len(wanted)

    # -- recovery --------------------------------------------------------------

    def recent_captures(self, count: int) -> set[str]:
        """The capture keys of about the newest `count` entries (and more): what a
        writer stored shortly before it died, and what a recovery file may repeat."""
        keys: set[str] = set()
        seen = 0
        for path in reversed(self._segment_paths()):
            if seen >= count + SEGMENT_SIZE:
                break
            docs = self._read_segment(path)
            keys.update(doc["capture"] for doc in docs.values() if doc.get("capture"))
            seen += len(docs)
        return keys

    def save_recovery(self, entries: list[HistoryEntry]) -> Path:
        """Keep entries that could not be stored in a recovery file in the data dir,
        which `recover` (the next `mockrec record`, `mockrec history recover`) imports.

        Should the data dir not take it (a full disk, permissions), the file goes to
        a private folder in the system's temp dir, often on another disk, where
        `recover` looks too."""
        doc = {"mockrec_recovery": 1, "root": self.root_name,
               "entries": [self._document(e, None) for e in entries]}
        data = json.dumps(doc, separators=(",", ":")).encode()
        name = (f"{self._recovery_prefix()}{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-"
                f"{secrets.token_hex(3)}.json")
        try:
            ensure_private_dir(self.data_dir)
            atomic_write(self.data_dir / name, data)
            return self.data_dir / name
        except OSError as e:
            elsewhere = _fallback_dir(create=True)
            if elsewhere is None:
                raise
            try:
                path = elsewhere / f"{_data_dir_tag(self.data_dir)}-{name}"
                atomic_write(path, data)
            except OSError:
                raise e from None
            return path

    def recovery_files(self) -> list[Path]:
        pattern = f"{self._recovery_prefix()}*.json"
        found = sorted(self.data_dir.glob(pattern)) if self.data_dir.is_dir() else []
        if (elsewhere := _fallback_dir()) is not None:
            found += sorted(elsewhere.glob(f"{_data_dir_tag(self.data_dir)}-{pattern}"))
        return found

    def _recovery_prefix(self) -> str:
        return f"{RECOVERY_PREFIX}{self.root_name.replace('/', '+')}@"

    def recover(self) -> int:
        """Import this store's recovery files, then remove them; returns how many
        entries were imported (an entry already stored is not stored again)."""
        files = self.recovery_files()
        if not files:
            return 0
        ensure_private_dir(self.root)
        imported = 0
        with locked(self._lock):
            for path in files:
                entries = self._read_recovery(path)
                known = self.recent_captures(len(entries))
                fresh = [e for e in entries if not (e.capture and e.capture in known)]
                try:
                    self._append_locked(fresh)
                except BaseException:
                    left = [e for e in fresh if e.id is None]
                    if len(left) < len(fresh):  # what was stored must not come back
                        tmp = self.save_recovery(left)
                        os.replace(tmp, path)
                    raise
                path.unlink()
                imported += len(fresh)
        return imported

    def _read_recovery(self, path: Path) -> list[HistoryEntry]:
        data = load_json(path)
        try:
            if data.get("mockrec_recovery") != 1 or data["root"] != self.root_name:
                raise ValueError
            return [self._entry(None, _checked(doc), with_bodies=True)
                    for doc in data["entries"]]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise damaged(path, "not a mockrec recovery file") from None

    def clear(self) -> int:
        """Delete every entry; ids keep counting from where they were."""
        with locked(self._lock):
            count = self.count()
            next_id = self._next_id()
            for path in self._segment_paths():
                path.unlink()
            shutil.rmtree(self._bodies, ignore_errors=True)
            self._write_counter(next_id)
        return count

    # -- documents -------------------------------------------------------------

    def _document(self, entry: HistoryEntry, staged: StagedFiles | None) -> dict[str, Any]:
        """The stored form of `entry`; large bodies go to files, `staged` (None: every
        body inline, as in a recovery file)."""
        request = entry.request
        doc: dict[str, Any] = {
            "request": {
                "method": request.method,
                "url": request.url,
                "http_version": request.http_version,
                "headers": [list(h) for h in request.headers],
                "body": self._body_doc(entry, "request", request.body or b"", staged),
            },
            "response": None,
            "error": entry.error,
            "timings": vars(entry.timings).copy(),
            "client": entry.client,
            "upstream": entry.upstream,
            "mode": entry.mode,
        }
        if entry.notes:
            doc["notes"] = entry.notes
        if entry.capture:
            doc["capture"] = entry.capture
        if (response := entry.response) is not None:
            doc["response"] = {
                "status": response.status,
                "reason": response.reason,
                "http_version": response.http_version,
                "headers": [list(h) for h in response.headers],
                "body": self._body_doc(entry, "response", response.body or b"", staged),
            }
        return doc

    def _body_doc(self, entry: HistoryEntry, side: str, body: bytes,
                  staged: StagedFiles | None) -> dict[str, Any]:
        if len(body) > INLINE_BODY_LIMIT and staged is not None:
            assert entry.id is not None
            path = self._body_path(entry.id, side)
            ensure_private_dir(path.parent)
            staged.write(path, body)
            return {"size": len(body), "file": f"{path.parent.name}/{path.name}"}
        return {"size": len(body), **body_doc(body)}

    def _entry(self, entry_id: int | None, doc: dict[str, Any], *,
               with_bodies: bool) -> HistoryEntry:
        req = doc["request"]
        resp = doc.get("response")
        return HistoryEntry(
            id=entry_id,
            request=HttpRequest(
                method=req["method"], url=req["url"], http_version=req["http_version"],
                headers=_headers(req["headers"]),
                body=self._body(req["body"]) if with_bodies else None,
                body_size=req["body"]["size"],
            ),
            response=None if resp is None else HttpResponse(
                status=resp["status"], reason=resp["reason"], http_version=resp["http_version"],
                headers=_headers(resp["headers"]),
                body=self._body(resp["body"]) if with_bodies else None,
                body_size=resp["body"]["size"],
            ),
            error=doc.get("error"),
            timings=Timings(**doc["timings"]),
            client=doc.get("client", ""),
            upstream=doc.get("upstream", ""),
            mode=doc.get("mode", "record"),
            notes=doc.get("notes", {}),
            capture=doc.get("capture", ""),
        )

    def _body(self, doc: dict[str, Any]) -> bytes:
        if "file" not in doc:
            return body_bytes(doc)
        path = self._bodies / doc["file"]
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"body file {path} is missing") from None

    def _file_bodies(self, doc: dict[str, Any]) -> Iterator[bytes]:
        for side in ("request", "response"):
            message = doc.get(side)
            if message and "file" in message["body"]:
                yield self._body(message["body"])

    # -- files -----------------------------------------------------------------

    def _db(self, path: Path) -> TinyDB:
        return TinyDB(path, storage=AtomicJSONStorage, parsed=self._parsed,
                      shape=_segment_problem)

    def _segment_path(self, segment: int) -> Path:
        return self.root / f"segment-{segment:08d}.json"

    def _body_path(self, entry_id: int, side: str) -> Path:
        return self._bodies / f"{_segment_of(entry_id):08d}" / f"{entry_id}.{side}"

    def _segment_paths(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("segment-*.json"))

    def _read_segment(self, path: Path) -> dict[int, dict[str, Any]]:
        data = AtomicJSONStorage(path, parsed=self._parsed, shape=_segment_problem).read() or {}
        return {int(k): v for k, v in data.get(TABLE, {}).items()}

    def _next_id(self) -> int:
        counted = load_counter(self._counter)
        segments = self._segment_paths()
        newest = max(self._read_segment(segments[-1]), default=0) if segments else 0
        if counted is None and self._counter.parent != self.root:
            # Call logs from before the shared counter: go on after the newest of them.
            for other in self._counter.parent.glob("*/next-id.json"):
                newest = max(newest, (load_counter(other) or 1) - 1)
        # The counter may lag a crash that happened right after a segment write.
        return max(counted or 1, newest + 1)

    def _write_counter(self, next_id: int) -> None:
        atomic_write(self._counter, json.dumps(next_id).encode())


RECOVERY_PREFIX = "recovery@"
_TIMINGS = frozenset(("start", "request_end", "response_start", "end"))


def recover_all(data_dir: Path) -> dict[str, int]:
    """Import every recovery file of `data_dir` (the history's and the call logs');
    returns the entries imported per store."""
    files = list(data_dir.glob(f"{RECOVERY_PREFIX}*.json")) if data_dir.is_dir() else []
    if (elsewhere := _fallback_dir()) is not None:
        files += elsewhere.glob(f"{_data_dir_tag(data_dir)}-{RECOVERY_PREFIX}*.json")
    roots = {p.name.partition(RECOVERY_PREFIX)[2].split("@")[0].replace("+", "/")
             for p in files}
    return {root: HistoryStore(data_dir, root).recover() for root in sorted(roots)
            if root == "history" or root.startswith("calls/")}


def _fallback_dir(create: bool = False) -> Path | None:
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


def _data_dir_tag(data_dir: Path) -> str:
    import hashlib

    return hashlib.sha256(str(data_dir.absolute()).encode()).hexdigest()[:16]


def _segment_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a parsed segment, in words; None if it is one."""
    if set(data) - {TABLE}:
        return f"not a history segment: tables {sorted(data)}"
    for key, doc in data.get(TABLE, {}).items():
        problem = _entry_problem(doc)
        if problem:
            return f"entry {key} {problem}"
    return None


def _checked(doc: Any) -> dict[str, Any]:
    if _entry_problem(doc):
        raise ValueError
    return doc


def _entry_problem(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "is not an object"
    if not _message_ok(doc.get("request"), ("method", "url", "http_version")):
        return "has no valid request"
    response = doc.get("response")
    if response is not None and not (_message_ok(response, ("reason", "http_version"))
                                     and type(response.get("status")) is int):
        return "has no valid response"
    timings = doc.get("timings")
    if not (isinstance(timings, dict) and _TIMINGS.issuperset(timings)
            and isinstance(timings.get("start"), int | float)):
        return "has no valid timings"
    return None


def _message_ok(message: Any, texts: tuple[str, ...]) -> bool:
    if not isinstance(message, dict) or not all(isinstance(message.get(k), str) for k in texts):
        return False
    headers, body = message.get("headers"), message.get("body")
    return (isinstance(headers, list)
            and all(isinstance(h, list) and len(h) == 2 for h in headers)
            and isinstance(body, dict) and type(body.get("size")) is int
            and any(isinstance(body.get(k), str) for k in ("text", "base64", "file")))


def _segment_of(entry_id: int) -> int:
    return (entry_id - 1) // SEGMENT_SIZE


def _headers(pairs: list[list[str]]) -> list[Header]:
    return [(name, value) for name, value in pairs]


class _Item:
    """An entry on its way to the disk, with the tag `stored` reports it by."""

    __slots__ = ("entry", "tag", "order")
    _order = itertools.count()

    def __init__(self, entry: HistoryEntry, tag: Any) -> None:
        self.entry, self.tag, self.order = entry, tag, next(self._order)


class HistoryWriter:
    """Takes entries from the proxy thread and stores them in batches on its own thread.

    Everything submitted is on disk within about `interval` seconds, and `stored`
    is called with the tags of what is (the writer process acknowledges them to the
    proxy that way). A write that fails (a full disk, a damaged file, permissions)
    is logged once per cause, and its entries are retried one by one: one that
    cannot be written does not hold up the others, and what is stored is never
    written again. `close` stores what is left; what still cannot be stored goes
    to a recovery file in the data dir (`HistoryStore.recover` imports it). Only
    if even that fails are entries lost: `close` returns how many, and, with
    `report_loss`, says so.
    """

    RETRY_MAX = 2.0

    def __init__(self, store: HistoryStore, interval: float = 0.2,
                 stored: Callable[[list[Any]], None] | None = None, *,
                 thread: bool = True, report_loss: bool = True):
        self.store = store
        self.interval = interval
        self.lost = 0
        self._stored = stored
        self._report_loss = report_loss
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._failed: list[_Item] = []  # tried and failed: retried one by one
        self._backoff = interval
        self._retry_at = 0.0
        self._logged: set[str] = set()  # causes of failure already told
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if thread:
            self._thread = threading.Thread(target=self._run, name="mockrec-history",
                                            daemon=True)
            self._thread.start()

    def submit(self, entry: HistoryEntry, tag: Any = None) -> None:
        self._queue.put(_Item(entry, tag))

    def close(self) -> int:
        """Store everything; returns how many entries could be neither stored nor kept."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        else:
            self._flush(final=True)
        return self.lost

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._flush()
        self._flush(final=True)

    def _flush(self, final: bool = False) -> None:
        fresh: list[_Item] = []
        while True:
            try:
                fresh.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if fresh and not self._try(fresh):
            self._failed.extend(self._one_by_one([i for i in fresh if i.entry.id is None]))
        if self._failed and (final or time.monotonic() >= self._retry_at):
            before = len(self._failed)
            self._failed = self._one_by_one(self._failed)
            progress = len(self._failed) < before
            self._backoff = self.interval if progress else min(self._backoff * 2,
                                                               self.RETRY_MAX)
            self._retry_at = time.monotonic() + self._backoff
        if not self._failed and self._logged:
            log.warning("mockrec: writing the %s works again: every entry held is stored",
                        self.store.what)
            self._logged.clear()
        if final and self._failed:
            self._keep_for_recovery()

    def _one_by_one(self, items: list[_Item]) -> list[_Item]:
        """Store entries singly (two in a row stored: the rest in one write); stops at
        two failures in a row, the cause then being no entry's own. Returns what is
        left, those not tried first: the next pass starts with them, so entries that
        keep failing do not keep the others from being tried."""
        todo = collections.deque(items)
        failed: list[_Item] = []
        fails = oks = 0
        while todo and fails < 2:
            if oks >= 2 and len(todo) > 1:
                batch = list(todo)
                todo.clear()
                if not self._try(batch):
                    todo.extend(i for i in batch if i.entry.id is None)
                    oks = 0
                continue
            item = todo.popleft()
            if self._try([item]):
                oks, fails = oks + 1, 0
            else:
                failed.append(item)
                oks, fails = 0, fails + 1
        return [*todo, *failed]

    def _try(self, items: list[_Item]) -> bool:
        try:
            self.store.append([i.entry for i in items])
        except Exception as e:
            self._note(e, len(items))
            self._done([i for i in items if i.entry.id is not None])
            return False
        self._done(items)
        return True

    def _done(self, items: list[_Item]) -> None:
        if items and self._stored is not None:
            self._stored([i.tag for i in items])

    def _note(self, error: Exception, count: int) -> None:
        cause, hint = _cause(error, self.store)
        if cause not in self._logged:
            self._logged.add(cause)
            log.error("mockrec: could not write the %s (%d entr%s): %s; %smockrec keeps them "
                      "and retries; at stop, what is still unwritten goes to a recovery file "
                      "in %s that the next start (or `mockrec history recover`) imports",
                      self.store.what, count, "y" if count == 1 else "ies", error, hint,
                      self.store.data_dir)

    def _keep_for_recovery(self) -> None:
        items, self._failed = sorted(self._failed, key=lambda i: i.order), []
        try:
            path = self.store.save_recovery([i.entry for i in items])
        except Exception as e:
            self.lost += len(items)
            if self._report_loss:
                log.error("mockrec: %d %s entr%s could not be stored, nor kept in a recovery "
                          "file: %s", len(items), self.store.what,
                          "y" if len(items) == 1 else "ies", e)
            return
        self._done(items)
        log.error("mockrec: %d %s entr%s could not be stored; kept in %s, which the next start "
                  "(or `mockrec history recover`) imports", len(items), self.store.what,
                  "y" if len(items) == 1 else "ies", path)


def _cause(error: Exception, store: HistoryStore) -> tuple[str, str]:
    """A failed write's cause, said once however many entries it fails, and what to do."""
    if isinstance(error, StoreCorrupt):
        return str(error), ""
    if isinstance(error, OSError) and error.errno is not None:
        hint = {
            errno.ENOSPC: "the disk is full: free some space; ",
            errno.EDQUOT: "the disk quota is used up: free some space; ",
            errno.EFBIG: "a file is larger than this process may write (ulimit -f); ",
            errno.EROFS: "the file system is read-only; ",
            errno.EACCES: f"check that you may write in {store.root}; ",
            errno.EPERM: f"check that you may write in {store.root}; ",
        }.get(error.errno, "")
        return f"errno {error.errno}", hint
    return f"{type(error).__name__}: {error}", ""


# Signals a writer child never dies of: the proxy tells it when to stop.
WRITER_SIGNALS = frozenset(getattr(signal, name) for name in
                           ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))


class _Child(NamedTuple):
    process: Any
    data: Connection  # captures down, and "stop"
    acks: Connection  # the tags of what is stored, up
    started: float


class HistoryWriterProcess:
    """A `HistoryWriter` in a child process, so recording costs the proxy almost no CPU.

    The proxy only queues captures (`Capture`); a thread pickles them down a pipe and
    holds each until the child acknowledges it as stored (in the store, or in a
    recovery file). Should the child die (any signal, `kill -9`, a crash), a new one
    gets everything not acknowledged (a capture the old one did store is recognised
    by its key and not stored twice); at `close`, what no child took is stored here.
    The child never dies of a signal meant for the proxy's process group: it starts
    with them blocked, ignores them and leaves the group; the proxy says when to
    stop. Should the proxy die, even by `kill -9`, the pipe closes and the child
    stores what it received before it exits.
    """

    BATCH_WAIT = 0.05
    STOP_TIMEOUT = 120.0

    def __init__(self, data_dir: Path, root: str = "history", keep: int = 0,
                 interval: float = 0.2, redaction: Redaction | None = None):
        self.store = HistoryStore(data_dir, root, keep)
        self._args = (data_dir, root, keep, interval)
        self._redaction = tuple(redaction or Redaction())
        self._token = secrets.token_hex(6)
        self._seq = itertools.count(1)
        self._queue: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._unacked: dict[int, bytes] = {}  # seq -> pickled capture, oldest first
        self._deaths = 0
        self._restart_at = 0.0
        self._closed = False
        self._closing = threading.Event()
        self._child: _Child | None = self._spawn()
        self._thread = threading.Thread(target=self._forward, name="mockrec-history-pipe",
                                        daemon=True)
        self._thread.start()
        # At exit, whoever forgot to close: the child stores what it holds and stops.
        atexit.register(self.close)

    def submit(self, taken: Capture) -> None:
        # Pickled at once: one bytes object waits in the queue, which the garbage
        # collector never walks, instead of a tree of objects it would, again
        # and again, until the batch goes.
        self._queue.put(taken.dumps())

    def close(self) -> None:
        atexit.unregister(self.close)
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._thread.join()

    @property
    def pid(self) -> int | None:
        """The writer child's process id (tests, diagnostics)."""
        child = self._child
        return child.process.pid if child is not None else None

    # -- the pipe thread -----------------------------------------------------------

    def _forward(self) -> None:
        try:
            while True:
                # Waking on every entry would hand the GIL back and forth once per
                # request; a short nap lets one send carry a batch.
                closing = self._closing.wait(self.BATCH_WAIT)
                if self._child is None and time.monotonic() >= self._restart_at:
                    self._restart()  # handing it everything taken so far
                batch = self._take()
                if self._child is not None and batch:
                    self._send(("batch", batch))
                self._read_acks(0)
                if closing:
                    break
        finally:
            self._finish()

    def _take(self) -> list[tuple[int, bytes]]:
        batch = []
        while True:
            try:
                blob = self._queue.get_nowait()
            except queue.Empty:
                return batch
            seq = next(self._seq)
            self._unacked[seq] = blob
            batch.append((seq, blob))

    def _send(self, message: tuple) -> None:
        try:
            self._child.data.send(message)  # type: ignore[union-attr]
        except (OSError, ValueError):
            self._lost()

    def _read_acks(self, timeout: float) -> None:
        child = self._child
        if child is None:
            return
        try:
            while child.acks.poll(timeout):
                for seq in child.acks.recv():
                    self._unacked.pop(seq, None)
                timeout = 0
        except (EOFError, OSError):
            self._lost()

    def _lost(self) -> None:
        """The child is gone (or its pipe is): a new one takes over what it held."""
        child, self._child = self._child, None
        if child is None:
            return
        for conn in (child.data, child.acks):
            conn.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(2)
        code = child.process.returncode
        if self._closing.is_set() and not self._unacked and code == 0:
            return  # it stopped as asked, everything stored
        how = (f"killed by signal {-code}" if code is not None and code < 0
               else f"exit status {code}" if code is not None else "its pipe broke")
        count = f"{len(self._unacked)} entr{'y' if len(self._unacked) == 1 else 'ies'}"
        if self._closing.is_set():
            log.error("mockrec: the %s writer (pid %s) stopped (%s) before storing %s; the "
                      "proxy stores them itself", self.store.what, child.process.pid, how, count)
            return
        quick = time.monotonic() - child.started < 5
        self._deaths = self._deaths + 1 if quick else 1
        delay = 0.0 if self._deaths <= 1 else min(0.5 * 2 ** (self._deaths - 2), 10.0)
        self._restart_at = time.monotonic() + delay
        log.error("mockrec: the %s writer (pid %s) stopped (%s); %s it had not stored yet "
                  "go to a new one", self.store.what, child.process.pid, how, count)

    def _restart(self) -> None:
        try:
            self._child = self._spawn()
        except Exception as e:
            self._restart_at = time.monotonic() + 5
            log.error("mockrec: could not start a new %s writer: %s; the proxy keeps the "
                      "entries and stores them itself at stop", self.store.what, e)
            return
        if self._unacked:
            self._send(("resend", list(self._unacked.items())))

    def _spawn(self) -> _Child:
        # A new interpreter running `writer_child` (no copy of the proxy's state, nothing
        # of the proxy's imported again), the two pipes its only inherited files. Not
        # multiprocessing's spawn: it starts a resource tracker (another 13 MB process)
        # and re-runs the proxy's main script in the child.
        data_in, data_out = multiprocessing.Pipe(duplex=False)
        acks_in, acks_out = multiprocessing.Pipe(duplex=False)
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        # A Ctrl-C (or a SIGTERM to the group) while the child starts must not kill it:
        # it inherits these blocked, and unblocks them once it ignores them.
        blocked = hasattr(signal, "pthread_sigmask")
        if blocked:
            old = signal.pthread_sigmask(signal.SIG_BLOCK, WRITER_SIGNALS)
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from recorder.store.history import writer_child; "
                 f"writer_child({data_in.fileno()}, {acks_out.fileno()})"],
                pass_fds=(data_in.fileno(), acks_out.fileno()), stdin=subprocess.DEVNULL,
                env=env)
        except BaseException:
            for conn in (data_in, data_out, acks_in, acks_out):
                conn.close()
            raise
        finally:
            if blocked:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        data_in.close()
        acks_out.close()
        child = _Child(process, data_out, acks_in, time.monotonic())
        # What it stores where, first down the pipe. Should it be dead already, the
        # pipe thread finds out and starts another.
        with contextlib.suppress(OSError, ValueError):
            data_out.send((*self._args, self._token, self._redaction))
        return child

    def _finish(self) -> None:
        """At close: the child stores everything and stops; what it did not, we store."""
        if self._child is None and self._unacked:
            self._restart()
        if self._child is not None:
            self._send(("stop",))
            deadline = time.monotonic() + self.STOP_TIMEOUT
            while self._child is not None:
                if time.monotonic() > deadline:
                    child, self._child = self._child, None
                    log.error("mockrec: the %s writer (pid %s) is still storing %d entries "
                              "after %.0f s; it goes on after the proxy exits",
                              self.store.what, child.process.pid, len(self._unacked),
                              self.STOP_TIMEOUT)
                    _left_running.append(child.process)  # no warning that it still runs
                    return
                self._read_acks(0.1)
        if self._unacked:
            self._store_here()

    def _store_here(self) -> None:
        entries = []
        for seq, blob in self._unacked.items():
            entry = _entry_of(blob, f"{self._token}:{seq}", self.store,
                              Redaction(*self._redaction))
            if entry is not None:
                entries.append(entry)
        try:
            known = self.store.recent_captures(len(entries))
        except Exception:  # the store will say what is wrong with it
            known = set()
        writer = HistoryWriter(self.store, thread=False)
        for entry in entries:
            if entry.capture not in known:
                writer.submit(entry)
        writer.close()
        self._unacked.clear()


def _entry_of(blob: bytes, key: str, store: HistoryStore,
              redaction: Redaction) -> HistoryEntry | None:
    """The entry to store from a pickled capture, redacted as the writer was asked."""
    try:
        entry = redaction.apply(Capture.loads(blob).to_entry())
    except Exception as e:  # a bug of ours; retrying cannot help
        log.error("mockrec: a capture for the %s could not be read, 1 entry lost: %r",
                  store.what, e)
        return None
    entry.capture = key
    return entry


_left_running: list[subprocess.Popen] = []  # writers still storing as the proxy exits


def writer_child(data_fd: int, acks_fd: int) -> None:
    """The writer process's entry (`HistoryWriterProcess._spawn`): its settings come
    first down the data pipe."""
    data = Connection(data_fd, writable=False)
    acks = Connection(acks_fd, readable=False)
    try:
        settings = data.recv()
    except (EOFError, OSError):
        return  # the proxy is gone before it said anything
    _writer_main(data, acks, *settings)


def _writer_main(data: Connection, acks: Connection, data_dir: Path, root: str, keep: int,
                 interval: float, token: str, redaction: tuple = ()) -> None:
    # Signals meant for the proxy's process group (Ctrl-C, SIGTERM from a service
    # manager): ignored, and the group left; the proxy tells us when to stop. They
    # were blocked since before we started, so none got through meanwhile.
    for sig in WRITER_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if hasattr(os, "setsid"):
        with contextlib.suppress(OSError):
            os.setsid()
    if hasattr(os, "nice"):
        # Storing can wait a moment; answering cannot: where the cores are busy (a
        # burst of answers, the client beside us), the proxy gets them first.
        with contextlib.suppress(OSError):
            os.nice(WRITER_NICENESS)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WRITER_SIGNALS)
    store = HistoryStore(data_dir, root, keep)
    try:
        if imported := store.recover():
            log.warning("mockrec: imported %d %s entr%s from recovery files", imported,
                        store.what, "y" if imported == 1 else "ies")
    except Exception as e:
        log.error("mockrec: could not import the %s's recovery files: %s", store.what, e)

    def stored(tags: list[int]) -> None:
        with contextlib.suppress(OSError, ValueError):
            acks.send(tags)

    writer = HistoryWriter(store, interval, stored, report_loss=False)
    redact = Redaction(*redaction)
    try:
        while True:
            message = data.recv()
            if message[0] == "stop":
                break
            items = message[1]
            known: set[str] = set()
            if message[0] == "resend":  # what our predecessor may have stored already
                # (A damaged store: the writer will say what is wrong with it.)
                with contextlib.suppress(Exception):
                    known = store.recent_captures(len(items))
            done = []
            for seq, blob in items:
                key = f"{token}:{seq}"
                entry = None if key in known else _entry_of(blob, key, store, redact)
                if entry is None:  # stored already (or unreadable, and said so)
                    done.append(seq)
                else:
                    writer.submit(entry, seq)
            if done:
                stored(done)
    except (EOFError, OSError):
        pass  # the proxy is gone: store what came
    finally:
        writer.close()
        acks.close()
