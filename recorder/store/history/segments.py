"""The history's segments: bounded TinyDB files plus body files.

A single TinyDB file rewrites itself whole on every insert, so its cost grows with
the history. Here entry `n` lives in segment `(n - 1) // SEGMENT_SIZE`, one small
TinyDB file each; a write touches only the newest segment, whatever the size of
the history. The entries' stored form is `documents`; recovery files, `recovery`.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from recorder.errors import NotFound
from recorder.models import HistoryEntry, HistoryFilter, IdSpan
from recorder.store.files import (
    AtomicJSONStorage,
    FileKey,
    ParsedFiles,
    StagedFiles,
    atomic_write,
    ensure_private_dir,
    load_counter,
    locked,
)
from recorder.store.history import documents, recovery
from recorder.store.history.documents import (
    TABLE,
    Bodies,
    segment_of,
    segment_problem,
    to_document,
    to_entry,
)

log = logging.getLogger(__name__)

CALLS = "calls"


class HistoryStore:
    """The history (`DATA_DIR/history`), or a mock's call log (`DATA_DIR/calls/MOCK`).

    With `keep`, only about the newest `keep` entries are kept: whole old
    segments go once the newer ones hold that many.

    The call logs of all mocks share one id counter (`calls/next-id.json`, under
    `calls/.lock`), so a call's id names it across mocks: `mockrec calls show 12` needs
    no mock name.
    """

    def __init__(self, data_dir: Path, root: str = "history", keep: int = 0,
                 parsed_segments: int = 8):
        self.data_dir = data_dir
        self.root_name = root
        self.root = data_dir / root
        self.keep = keep
        self._bodies = Bodies(self.root / "bodies")
        shared = self.root.parent if root.startswith(f"{CALLS}/") else self.root
        self._lock = shared / ".lock"
        self._counter = shared / "next-id.json"
        self._parsed = ParsedFiles(parsed_segments)  # kept parsed while unchanged
        self._counts: dict[Path, int] = {}  # entries per segment, for pruning

    @property
    def what(self) -> str:
        """How messages name this store."""
        return ("history" if self.root_name == "history"
                else f"call log of {self.root_name.rpartition('/')[2]}")

    # -- reading ---------------------------------------------------------------

    def get(self, entry_id: int) -> HistoryEntry:
        doc = self._read_segment(self._segment_path(segment_of(entry_id))).get(entry_id)
        if doc is None:
            raise NotFound(f"history entry {entry_id} does not exist: `mockrec history list` "
                           "shows the ids")
        return to_entry(entry_id, doc, self._bodies, with_bodies=True)

    def get_many(self, ids: Iterable[int]) -> dict[int, HistoryEntry]:
        """The entries among `ids` that exist, with bodies, reading each segment once."""
        by_segment: dict[int, list[int]] = {}
        for entry_id in ids:
            by_segment.setdefault(segment_of(entry_id), []).append(entry_id)
        found = {}
        for segment, seg_ids in by_segment.items():
            docs = self._read_segment(self._segment_path(segment))
            for entry_id in seg_ids:
                if entry_id in docs:
                    found[entry_id] = to_entry(entry_id, docs[entry_id], self._bodies,
                                               with_bodies=True)
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
            low, high = segment_of(span.first), segment_of(span.last)
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
                entry = to_entry(entry_id, docs[entry_id], self._bodies, with_bodies=with_bodies)
                if filters is None or filters.matches(entry):
                    yield entry

    def search(self, text: str) -> Iterator[HistoryEntry]:
        """Entries whose URL, headers or text bodies contain `text`, ignoring case.

        A damaged segment is reported (StoreCorrupt), never skipped in silence."""
        contains = self._contains(text)
        escaped = json.dumps(text.lower())[1:-1]
        for path in reversed(self._segment_paths()):
            raw = path.read_text("utf-8", "replace").lower()
            # Most segments are ruled out without parsing; out-of-line and compressed
            # bodies need a look, and so does a file that is not whole as mockrec writes it.
            in_json = escaped in raw
            if (not in_json and '"file"' not in raw and '"content-encoding"' not in raw
                    and raw.startswith('{"entries":{') and raw.endswith("}}")):
                continue
            docs = self._read_segment(path)
            for entry_id in sorted(docs, reverse=True):
                if contains(docs[entry_id], in_json):
                    yield to_entry(entry_id, docs[entry_id], self._bodies, with_bodies=False)

    def _contains(self, text: str) -> Callable[[dict[str, Any], bool], bool]:
        """contains(doc, in_json): whether the entry holds `text`; `in_json` False when
        its segment's text has ruled out the document's own JSON."""
        needle = text.lower()
        escaped = json.dumps(needle)[1:-1]  # as it appears in the stored JSON

        def contains(doc: dict[str, Any], in_json: bool = True) -> bool:
            return (in_json and escaped in json.dumps(doc).lower()) or any(
                needle in body.decode("utf-8", "replace").lower()
                for body in self._bodies.searchable(doc))
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
                    newer.append(to_entry(entry_id, docs[entry_id], self._bodies,
                                          with_bodies=False))
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
            for segment, chunk in itertools.groupby(entries, lambda e: segment_of(e.id)):
                chunk = list(chunk)
                files = StagedFiles()
                try:
                    docs = {str(e.id): to_document(e, self._bodies, files) for e in chunk}
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
                    shutil.rmtree(self._bodies.of_segment(segment), ignore_errors=True)
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
                by_segment.setdefault(segment_of(entry_id), []).append(entry_id)
            missing = []
            for segment, seg_ids in by_segment.items():  # each segment read once
                present = self._read_segment(self._segment_path(segment))
                missing += [i for i in seg_ids if i not in present]
            if missing:
                raise NotFound(f"no history entry {', '.join(map(str, missing[:10]))}: "
                               "nothing was deleted")
            for segment, seg_ids in by_segment.items():
                with self._db(self._segment_path(segment)) as db:
                    db.table(TABLE, cache_size=0).remove(doc_ids=seg_ids)
                for entry_id in seg_ids:
                    for side in ("request", "response"):
                        self._bodies.path(entry_id, side).unlink(missing_ok=True)
        return len(wanted)

    # -- recovery --------------------------------------------------------------

    def recent_captures(self, count: int) -> set[str]:
        """The capture keys of about the newest `count` entries (and more): what a
        writer stored shortly before it died, and what a recovery file may repeat."""
        keys: set[str] = set()
        seen = 0
        for path in reversed(self._segment_paths()):
            if seen >= count + documents.SEGMENT_SIZE:
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
        return recovery.save(self.data_dir, self.root_name,
                             [to_document(e, self._bodies, None) for e in entries])

    def recovery_files(self) -> list[Path]:
        return recovery.files(self.data_dir, self.root_name)

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
        return recovery.read(path, self.root_name,
                             lambda doc: to_entry(None, doc, self._bodies, with_bodies=True))

    def clear(self) -> int:
        """Delete every entry; ids keep counting from where they were."""
        with locked(self._lock):
            count = self.count()
            next_id = self._next_id()
            for path in self._segment_paths():
                path.unlink()
            shutil.rmtree(self._bodies.root, ignore_errors=True)
            self._write_counter(next_id)
        return count

    # -- files -----------------------------------------------------------------

    def _db(self, path: Path) -> TinyDB:
        return TinyDB(path, storage=AtomicJSONStorage, parsed=self._parsed,
                      shape=segment_problem)

    def _segment_path(self, segment: int) -> Path:
        return self.root / f"segment-{segment:08d}.json"

    def _segment_paths(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("segment-*.json"))

    def _read_segment(self, path: Path) -> dict[int, dict[str, Any]]:
        data = AtomicJSONStorage(path, parsed=self._parsed, shape=segment_problem).read() or {}
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


