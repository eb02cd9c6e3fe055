"""`HistoryWriterProcess`: a `HistoryWriter` in a child process that outlives signals
meant for the proxy, restarted should it die, and told by the proxy when to stop.
`writer_child` is the child's entry point."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from recorder.capture import Capture
from recorder.models import HistoryEntry
from recorder.redaction import Redaction
from recorder.store.history.segments import HistoryStore
from recorder.store.history.writer import HistoryWriter

WRITER_NICENESS = 10  # the writer process's priority below the proxy's (os.nice)
WRITER_BACKLOG = 1024  # entries the writer process turns captures into ahead of storing

log = logging.getLogger(__name__)


# Signals a writer child never dies of: the proxy tells it when to stop.
WRITER_SIGNALS = frozenset(getattr(signal, name) for name in
                           ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))


class WriterSettings(NamedTuple):
    """What a writer child stores where, sent first down its pipe."""

    data_dir: Path
    root: str
    keep: int
    interval: float
    token: str  # with a capture's number, the key it is stored under
    redaction: tuple = ()  # Redaction's fields


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
        self._settings = WriterSettings(data_dir, root, keep, interval, os.urandom(6).hex(),
                                        tuple(redaction or Redaction()))
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

    def submit_pickled(self, blob: bytes) -> None:
        """`submit` a capture pickled already (`Capture.dumps`)."""
        self._queue.put(blob)

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
        package_root = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        # A Ctrl-C (or a SIGTERM to the group) while the child starts must not kill it:
        # it inherits these blocked, and unblocks them once it ignores them.
        blocked = hasattr(signal, "pthread_sigmask")
        if blocked:
            old = signal.pthread_sigmask(signal.SIG_BLOCK, WRITER_SIGNALS)
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from recorder.store.history.process import writer_child; "
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
        yield_to_the_proxy(process.pid)
        data_in.close()
        acks_out.close()
        child = _Child(process, data_out, acks_in, time.monotonic())
        # What it stores where, first down the pipe. Should it be dead already, the
        # pipe thread finds out and starts another.
        with contextlib.suppress(OSError, ValueError):
            data_out.send(tuple(self._settings))
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
            entry = _entry_of(blob, f"{self._settings.token}:{seq}", self.store,
                              Redaction(*self._settings.redaction))
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
    _writer_main(data, acks, WriterSettings(*settings))


def _writer_main(data: Connection, acks: Connection, settings: WriterSettings) -> None:
    _leave_the_proxys_signals()
    # Appending needs the newest segment parsed in memory, not eight of them (3-4 MB).
    store = HistoryStore(settings.data_dir, settings.root, settings.keep, parsed_segments=2)
    try:
        if imported := store.recover():
            log.warning("mockrec: imported %d %s entr%s from recovery files", imported,
                        store.what, "y" if imported == 1 else "ies")
    except Exception as e:
        log.error("mockrec: could not import the %s's recovery files: %s", store.what, e)

    stored = _Acks(acks)
    writer = HistoryWriter(store, settings.interval, stored, report_loss=False,
                           backlog=WRITER_BACKLOG)
    redact = Redaction(*settings.redaction)
    try:
        while True:
            message = data.recv()
            if message[0] == "stop":
                break
            done = _submit(message, store, writer, settings.token, redact)
            if done:
                stored(done)
    except (EOFError, OSError):
        pass  # the proxy is gone: store what came
    finally:
        writer.close()
        stored.close()


class _Acks:
    """The tags of what is stored, sent up to the proxy by a thread of their own. The
    thread that stores must never wait for the proxy to read them: the proxy may be
    waiting for us to read what it sends, while we wait for room in the writer's
    backlog, which that thread makes (a deadlock, at 8,000 captures a second)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.queue: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._send, name="mockrec-history-acks",
                                       daemon=True)
        self.thread.start()

    def __call__(self, tags: list[int]) -> None:
        self.queue.put(tags)

    def _send(self) -> None:
        while (tags := self.queue.get()) is not None:
            with contextlib.suppress(OSError, ValueError):  # the proxy is gone
                self.conn.send(tags)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.conn.close()


def yield_to_the_proxy(pid: int | None) -> None:
    """Put the writer process (`pid`; None: this process, the writer itself)
    WRITER_NICENESS below the proxy's priority. Storing can wait; answering cannot:
    where the cores are busy (a burst of answers, the client beside us), the proxy gets
    them first. The proxy does it as it starts the writer, so that the writer's own
    start (its imports: a tenth of a second of a core) does not slow the proxy's."""
    if not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        proxy = os.getppid() if pid is None else 0
        wanted = min(19, os.getpriority(os.PRIO_PROCESS, proxy) + WRITER_NICENESS)
        if os.getpriority(os.PRIO_PROCESS, pid or 0) < wanted:
            os.setpriority(os.PRIO_PROCESS, pid or 0, wanted)


def _leave_the_proxys_signals() -> None:
    # Signals meant for the proxy's process group (Ctrl-C, SIGTERM from a service
    # manager): ignored, and the group left; the proxy tells us when to stop. They
    # were blocked since before we started, so none got through meanwhile.
    for sig in WRITER_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if hasattr(os, "setsid"):
        with contextlib.suppress(OSError):
            os.setsid()
    yield_to_the_proxy(None)  # (the proxy did so already, as it started us)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WRITER_SIGNALS)


def _submit(message: tuple, store: HistoryStore, writer: HistoryWriter, token: str,
            redact: Redaction) -> list[int]:
    """Hand a batch (or a resent one) to the writer; returns the numbers of the
    captures there is nothing to store for (stored already, or unreadable)."""
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
    return done
