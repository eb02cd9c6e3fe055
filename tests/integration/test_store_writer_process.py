"""The history writer process (recorder/store/history.py, HistoryWriterProcess): killed
under load it hands everything to a new one, and it ignores the proxy's signals."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from recorder.store import history
from recorder.store.history import HistoryStore


def capture(i: int, body: bytes = b""):
    from recorder.capture import Capture

    now = time.time()
    return Capture("GET", f"http://api.test/n/{i}", "HTTP/1.1", ((b"X-N", str(i).encode()),),
                   body, None, "refused", now, now, now, "127.0.0.1:1", "api.test:80",
                   "record", {})


def test_writer_process_killed_hands_everything_to_a_new_one_and_stores_it_once(tmp_path):
    writer = history.HistoryWriterProcess(tmp_path, interval=0.02)
    killed = []
    for i in range(400):
        writer.submit(capture(i, os.urandom(5000) if i % 7 == 0 else b""))
        if i in (100, 250) and writer.pid:
            killed.append(writer.pid)
            os.kill(writer.pid, signal.SIGKILL)
        time.sleep(0.002)
    writer.close()
    assert len(killed) == 2
    urls = [e.request.url for e in HistoryStore(tmp_path).entries(newest_first=False)]
    assert sorted(urls) == sorted(f"http://api.test/n/{i}" for i in range(400))
    bodies = list((tmp_path / "history" / "bodies").rglob("*.request"))
    assert len(bodies) == len([i for i in range(400) if i % 7 == 0])


def test_writer_process_ignores_signals_meant_for_the_proxy_even_while_starting(tmp_path):
    writer = history.HistoryWriterProcess(tmp_path, interval=0.02)
    pid = writer.pid
    # It yields the cores to the proxy from its start: its imports must not slow the
    # proxy's own start-up.
    niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + history.WRITER_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, pid) == niceness
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        os.kill(pid, sig)  # at once: the child is still importing
    writer.submit(capture(1))
    stored_by(tmp_path, 1)  # it is running now: the signals below come to a settled child
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(pid, sig)
    writer.submit(capture(2))
    assert writer.pid == pid  # never replaced: it did not die
    # And it yields the cores to the proxy: storing can wait, answering cannot.
    assert os.getpriority(os.PRIO_PROCESS, pid) == niceness  # not twice as low
    writer.close()
    assert HistoryStore(tmp_path).count() == 2
    assert os.getsid(0) != _sid_or_none(pid)


def stored_by(data_dir, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while HistoryStore(data_dir).count() < count:
        assert time.monotonic() < deadline, f"the writer stored fewer than {count} entries"
        time.sleep(0.02)


def _sid_or_none(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except ProcessLookupError:
        return None


def test_the_writer_process_loads_only_what_writing_needs_and_stores_everything(tmp_path):
    """The writer is a whole interpreter beside the proxy: it imports what storing
    needs, not OpenSSL (hashlib, secrets: 4 MB), nor mitmproxy or the command line.
    A private mock's keys, which need a hash, still get it."""
    from recorder.redaction import Redaction, key_placeholder

    writer = history.HistoryWriterProcess(tmp_path, "calls/shop", interval=0.02)
    pid = writer.pid
    for i in range(50):
        writer.submit(capture(i))
    deadline = time.monotonic() + 10
    log = HistoryStore(tmp_path, "calls/shop")
    while log.count() < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    maps = Path(f"/proc/{pid}/maps").read_text()
    writer.close()
    assert log.count() == 50
    assert "libcrypto" not in maps and "libssl" not in maps
    assert "/mitmproxy/" not in maps and "/typer/" not in maps  # (their compiled parts)

    private = history.HistoryWriterProcess(tmp_path, "calls/private", interval=0.02,
                                           redaction=Redaction(api_key=True))
    private.submit(capture(0)._replace(headers=((b"X-Api-Key", b"k-123"),)))
    private.close()
    (entry,) = HistoryStore(tmp_path, "calls/private").entries()
    assert entry.request.headers == [("X-Api-Key", key_placeholder("k-123"))]


def test_a_flood_of_captures_is_stored_without_proxy_and_writer_waiting_on_each_other(
        tmp_path):
    """The writer takes a backlog at a time; while it does, the proxy's pipe thread
    may wait to send the next batch and not read the acknowledgements: these must
    never hold up the writer's storing (at 8,000 captures a second all three waited
    on each other for ever)."""
    import threading

    writer = history.HistoryWriterProcess(tmp_path, "calls/flood", interval=0.2)
    for wave in range(3):
        for i in range(25_000):
            writer.submit(capture(wave * 25_000 + i))
        time.sleep(0.2)  # the pipe thread sends what came meanwhile as one batch
    closer = threading.Thread(target=writer.close, daemon=True)
    closer.start()
    closer.join(120)
    assert not closer.is_alive(), "the proxy and its writer wait on each other"
    assert HistoryStore(tmp_path, "calls/flood").count() == 75_000
