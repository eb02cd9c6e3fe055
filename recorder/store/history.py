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
import json
import logging
import multiprocessing
import pickle
import queue
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

from recorder.capture import Capture
from recorder.errors import MockrecError, NotFound
from recorder.models import (
    Header,
    HistoryEntry,
    HistoryFilter,
    HttpRequest,
    HttpResponse,
    Timings,
)
from recorder.store.files import (
    AtomicJSONStorage,
    ParsedFiles,
    atomic_write,
    body_bytes,
    body_doc,
    ensure_private_dir,
    load_json,
    locked,
)

SEGMENT_SIZE = 256
INLINE_BODY_LIMIT = 4096
TABLE = "entries"

log = logging.getLogger(__name__)


def call_log_root(mock: str) -> str:
    """Where a mock's call log lives in the data dir: a history of its own."""
    return f"calls/{mock}"


def call_logs(data_dir: Path) -> list[str]:
    """The mocks (or collections served without a mock) that have a call log."""
    calls_dir = data_dir / "calls"
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
    segments go once they are all older than that.
    """

    def __init__(self, data_dir: Path, root: str = "history", keep: int = 0):
        self.root = data_dir / root
        self.keep = keep
        self._bodies = self.root / "bodies"
        self._lock = self.root / ".lock"
        self._counter = self.root / "next-id.json"
        self._parsed = ParsedFiles()

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
        """Entries whose URL, headers or text bodies contain `text`, ignoring case."""
        contains = self._contains(text)
        escaped = json.dumps(text.lower())[1:-1]
        for path in reversed(self._segment_paths()):
            raw = path.read_text("utf-8", "replace").lower()
            # Most segments are ruled out without parsing; out-of-line bodies need a look.
            if escaped not in raw and '"file"' not in raw:
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

    def count(self) -> int:
        return sum(len(self._read_segment(p)) for p in self._segment_paths())

    def check(self) -> None:
        """Fail now, with the recovery hint, if the segment we would write to is damaged."""
        segments = self._segment_paths()
        if segments:
            self._read_segment(segments[-1])
        if self._counter.exists():
            load_json(self._counter)

    # -- writing ---------------------------------------------------------------

    def append(self, entries: list[HistoryEntry]) -> list[int]:
        """Store `entries`, giving each the next id; returns the ids."""
        if not entries:
            return []
        ensure_private_dir(self.root)
        with locked(self._lock):
            first = self._next_id()
            by_segment: dict[int, list[Document]] = {}
            for offset, entry in enumerate(entries):
                entry.id = first + offset
                doc = self._document(entry)
                by_segment.setdefault(_segment_of(entry.id), []).append(
                    Document(doc, doc_id=entry.id))
            for segment, docs in by_segment.items():
                with self._db(self._segment_path(segment)) as db:
                    db.table(TABLE, cache_size=0).insert_multiple(docs)
            self._write_counter(first + len(entries))
            if self.keep:
                self._prune(newest=first + len(entries) - 1)
        return [entry.id for entry in entries]  # type: ignore[misc]

    def _prune(self, newest: int) -> None:
        for path in self._segment_paths()[:-1]:
            segment = int(path.stem.split("-")[1])
            if (segment + 1) * SEGMENT_SIZE > newest - self.keep:
                break
            path.unlink()
            shutil.rmtree(self._bodies / f"{segment:08d}", ignore_errors=True)

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

    def _document(self, entry: HistoryEntry) -> dict[str, Any]:
        assert entry.id is not None
        request = entry.request
        doc: dict[str, Any] = {
            "request": {
                "method": request.method,
                "url": request.url,
                "http_version": request.http_version,
                "headers": [list(h) for h in request.headers],
                "body": self._body_doc(entry.id, "request", request.body or b""),
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
        if (response := entry.response) is not None:
            doc["response"] = {
                "status": response.status,
                "reason": response.reason,
                "http_version": response.http_version,
                "headers": [list(h) for h in response.headers],
                "body": self._body_doc(entry.id, "response", response.body or b""),
            }
        return doc

    def _body_doc(self, entry_id: int, side: str, body: bytes) -> dict[str, Any]:
        if len(body) > INLINE_BODY_LIMIT:
            path = self._body_path(entry_id, side)
            ensure_private_dir(path.parent)
            atomic_write(path, body)
            return {"size": len(body), "file": f"{path.parent.name}/{path.name}"}
        return {"size": len(body), **body_doc(body)}

    def _entry(self, entry_id: int, doc: dict[str, Any], *, with_bodies: bool) -> HistoryEntry:
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
        return TinyDB(path, storage=AtomicJSONStorage, parsed=self._parsed)

    def _segment_path(self, segment: int) -> Path:
        return self.root / f"segment-{segment:08d}.json"

    def _body_path(self, entry_id: int, side: str) -> Path:
        return self._bodies / f"{_segment_of(entry_id):08d}" / f"{entry_id}.{side}"

    def _segment_paths(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("segment-*.json"))

    def _read_segment(self, path: Path) -> dict[int, dict[str, Any]]:
        data = AtomicJSONStorage(path, parsed=self._parsed).read() or {}
        return {int(k): v for k, v in data.get(TABLE, {}).items()}

    def _next_id(self) -> int:
        counted = load_json(self._counter) if self._counter.exists() else None
        segments = self._segment_paths()
        newest = max(self._read_segment(segments[-1]), default=0) if segments else 0
        # The counter may lag a crash that happened right after a segment write.
        return max(int(counted or 1), newest + 1)

    def _write_counter(self, next_id: int) -> None:
        atomic_write(self._counter, json.dumps(next_id).encode())


def _segment_of(entry_id: int) -> int:
    return (entry_id - 1) // SEGMENT_SIZE


def _headers(pairs: list[list[str]]) -> list[Header]:
    return [(name, value) for name, value in pairs]


class HistoryWriter:
    """Takes entries from the proxy thread and stores them in batches on its own thread.

    Everything submitted is on disk within about `interval` seconds; `close`
    stores what is left. A failed write (a damaged segment, a full disk) is
    logged and retried, never dropped.
    """

    def __init__(self, store: HistoryStore, interval: float = 0.2):
        self.store = store
        self.interval = interval
        self._queue: queue.SimpleQueue[HistoryEntry] = queue.SimpleQueue()
        self._pending: list[HistoryEntry] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mockrec-history", daemon=True)
        self._thread.start()

    def submit(self, entry: HistoryEntry) -> None:
        self._queue.put(entry)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        while True:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not self._pending:
            return
        try:
            self.store.append(self._pending)
        except Exception as e:  # keep them for the next round rather than lose them
            for entry in self._pending:
                entry.id = None
            log.error("mockrec: could not store %d history entries: %s",
                      len(self._pending), e)
            return
        self._pending = []


class HistoryWriterProcess:
    """A `HistoryWriter` in a child process, so recording costs the proxy almost no CPU.

    The proxy only queues captures (`Capture`); a thread pickles them down a pipe. Should the
    proxy die, even by `kill -9`, the pipe closes and the child stores what it
    received before it exits.
    """

    BATCH_WAIT = 0.05

    def __init__(self, data_dir: Path, root: str = "history", keep: int = 0,
                 interval: float = 0.2):
        context = multiprocessing.get_context("spawn")  # no copy of the proxy's state
        receiver, self._sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_writer_main,
                                        args=(receiver, data_dir, root, keep, interval),
                                        name=f"mockrec-{root.replace('/', '-')}-writer")
        self._process.start()
        receiver.close()
        self._queue: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._forward, name="mockrec-history-pipe",
                                        daemon=True)
        self._thread.start()
        # Runs before multiprocessing's own exit handler, which would wait for
        # the child for ever while our end of the pipe is still open.
        atexit.register(self.close)

    def submit(self, taken: Capture) -> None:
        # Pickled at once: one bytes object waits in the queue, which the garbage
        # collector never walks, instead of a tree of objects it would, again
        # and again, until the batch goes.
        self._queue.put(pickle.dumps(taken, pickle.HIGHEST_PROTOCOL))

    def close(self) -> None:
        atexit.unregister(self.close)
        self._closing.set()
        self._thread.join()
        self._process.join(timeout=60)

    def _forward(self) -> None:
        # Waking on every entry would hand the GIL back and forth once per
        # request; a short nap lets one send carry a batch.
        while True:
            closing = self._closing.wait(self.BATCH_WAIT)
            batch: list[bytes] = []
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch:
                try:
                    self._sender.send(batch)
                except OSError as e:
                    log.error("mockrec: the history writer is gone, %d entries lost: %s",
                              len(batch), e)
                    return
            if closing:
                break
        self._sender.close()


def _writer_main(receiver: Connection, data_dir: Path, root: str, keep: int,
                 interval: float) -> None:
    # Ctrl-C reaches the whole process group: the proxy decides when we stop,
    # by closing the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    writer = HistoryWriter(HistoryStore(data_dir, root, keep), interval)
    try:
        while True:
            for blob in receiver.recv():
                writer.submit(pickle.loads(blob).to_entry())
    except (EOFError, OSError):
        pass
    finally:
        writer.close()
