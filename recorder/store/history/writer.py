"""`HistoryWriter`: entries stored in batches on a thread of their own, a failed write
retried and, at close, what still cannot be stored kept in a recovery file."""

from __future__ import annotations

import collections
import errno
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from recorder.errors import StoreCorrupt
from recorder.models import HistoryEntry
from recorder.store.history.segments import HistoryStore

log = logging.getLogger(__name__)


class _Item:
    """An entry on its way to the disk, with the tag `stored` reports it by."""

    __slots__ = ("entry", "tag", "order", "holds_room")
    _order = itertools.count()

    def __init__(self, entry: HistoryEntry, tag: Any, holds_room: bool) -> None:
        self.entry, self.tag, self.order = entry, tag, next(self._order)
        self.holds_room = holds_room  # one of the `backlog`'s places, until first tried


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

    With `backlog`, `submit` waits while that many entries wait for their first
    write: a writer process that was starved of CPU (it runs at a lower priority
    than the proxy) then catches up a backlog at a time, rather than turning a
    whole one into entries and their JSON at once, a high-water mark its memory
    would keep (20,000 calls held up: some 60 MB more); meanwhile what waits stays
    in the pipe and in the proxy's queue, as compact bytes the proxy holds anyway
    until they are stored. Entries whose write failed no longer count: a full disk
    never stops the writer from reading what the proxy sends (nor its "stop"). A full
    backlog is written at once rather than at the end of the interval, so that it
    never caps the rate (1,024 entries every 0.2 s would be 5,120 a second).
    """

    RETRY_MAX = 2.0

    def __init__(self, store: HistoryStore, interval: float = 0.2,
                 stored: Callable[[list[Any]], None] | None = None, *,
                 thread: bool = True, report_loss: bool = True, backlog: int = 0):
        self.store = store
        self.interval = interval
        self.lost = 0
        self._stored = stored
        self._report_loss = report_loss
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._room = threading.Semaphore(backlog) if backlog and thread else None
        self._failed: list[_Item] = []  # tried and failed: retried one by one
        self._backoff = interval
        self._retry_at = 0.0
        self._logged: set[str] = set()  # causes of failure already told
        self._stopping = threading.Event()
        self._full = threading.Event()  # the backlog is full (or stopping): write now
        self._thread: threading.Thread | None = None
        if thread:
            self._thread = threading.Thread(target=self._run, name="mockrec-history",
                                            daemon=True)
            self._thread.start()

    def submit(self, entry: HistoryEntry, tag: Any = None) -> None:
        if self._room is not None and not self._room.acquire(blocking=False):
            self._full.set()  # write now, not at the end of the interval
            self._room.acquire()
        self._queue.put(_Item(entry, tag, self._room is not None))

    def close(self) -> int:
        """Store everything; returns how many entries could be neither stored nor kept."""
        self._stopping.set()
        self._full.set()
        if self._thread is not None:
            self._thread.join()
        else:
            self._flush(final=True)
        return self.lost

    def _run(self) -> None:
        while True:
            self._full.wait(self.interval)
            self._full.clear()
            if self._stopping.is_set():
                break
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
            self._free(items)
            self._note(e, len(items))
            self._done([i for i in items if i.entry.id is not None])
            return False
        self._free(items)
        self._done(items)
        return True

    def _free(self, items: list[_Item]) -> None:
        """Tried once: their places in the backlog are free (before `stored` is told,
        whose pipe the proxy reads only once the writer has read what it sends)."""
        if self._room is None:
            return
        for item in items:
            if item.holds_room:
                item.holds_room = False
                self._room.release()

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


