"""The history store on its own: documents, segments, ids, damage, the writer thread."""

from __future__ import annotations

import errno
import json
import os
import threading
import time

import pytest

from recorder.errors import MockrecError, NotFound, StoreCorrupt
from recorder.models import HistoryEntry, HistoryFilter, HttpRequest, HttpResponse, Timings
from recorder.store import history
from recorder.store.history import HistoryStore, HistoryWriter


def make(i: int, body: bytes = b"", *, status: int | None = 200,
         path: str = "/items") -> HistoryEntry:
    return HistoryEntry(
        request=HttpRequest("POST" if body else "GET", f"http://api.test{path}?n={i}",
                            headers=[("X-N", str(i)), ("x-n", "dup")], body=body),
        response=HttpResponse(status, "OK", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
                              body=f'{{"n": {i}}}'.encode()) if status else None,
        error=None if status else "connection refused",
        timings=Timings(1_700_000_000.0 + i, 1_700_000_000.1 + i, 1_700_000_000.2 + i,
                        1_700_000_000.3 + i),
        client="127.0.0.1:5000", upstream="api.test:80",
    )


@pytest.fixture
def store(tmp_path) -> HistoryStore:
    return HistoryStore(tmp_path)


@pytest.mark.parametrize("body", [
    b"", b'{"json": true}', "unicodé ✓".encode(), b"\x00\xff\x89PNG binary",
    os.urandom(history.INLINE_BODY_LIMIT + 1), os.urandom(3_000_000),
])
def test_bodies_round_trip_byte_exact(store, body):
    (entry_id,) = store.append([make(1, body)])
    got = store.get(entry_id)
    assert got.request.body == body
    assert got.request.body_size == len(body)
    assert got.response.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert got.request.headers == [("X-N", "1"), ("x-n", "dup")]


def test_large_bodies_live_outside_the_segment(store):
    store.append([make(1, os.urandom(100_000))])
    segment = next(store.root.glob("segment-*.json"))
    assert segment.stat().st_size < 5_000
    assert len(list((store.root / "bodies").rglob("*.request"))) == 1


def test_ids_count_up_across_segments_and_each_write_touches_one_segment(store, monkeypatch):
    monkeypatch.setattr(history.documents, "SEGMENT_SIZE", 10)
    ids = store.append([make(i) for i in range(25)])
    assert ids == list(range(1, 26))
    assert len(list(store.root.glob("segment-*.json"))) == 3
    before = {p: p.stat().st_mtime_ns for p in store.root.glob("segment-*.json")}
    time.sleep(0.01)
    store.append([make(99)])
    changed = [p.name for p in store.root.glob("segment-*.json")
               if p.stat().st_mtime_ns != before[p]]
    assert changed == ["segment-00000002.json"]


def test_entries_newest_first_with_filters(store):
    store.append([make(1, path="/a"), make(2, path="/b"), make(3, status=None, path="/a")])
    assert [e.id for e in store.entries()] == [3, 2, 1]
    assert [e.id for e in store.entries(HistoryFilter(path="/a"))] == [3, 1]
    assert [e.id for e in store.entries(HistoryFilter(status="error"))] == [3]
    assert [e.id for e in store.entries(newest_first=False)] == [1, 2, 3]


def test_search_looks_at_urls_headers_and_bodies(store):
    store.append([make(1), make(2, b"needle in a POST body"), make(3, os.urandom(10) +
                                                                  b"BIG needle" * 1000)])
    assert [e.id for e in store.search("NEEDLE")] == [3, 2]
    assert [e.id for e in store.search("n=1")] == [1]
    assert list(store.search("absent")) == []


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate", "zstd"])
@pytest.mark.parametrize("size", [200, 50_000])  # inline, and in a body file
def test_search_reads_compressed_bodies_decoded_and_keeps_them_byte_exact(store, coding, size):
    """httpbin's /gzip says "gzipped": true, but the client got it gzip-encoded, and that
    is what is stored; a search looks at the text `history show --body` shows."""
    from mitmproxy.net import encoding

    text = b'{"gzipped": true, "pad": "' + os.urandom(size).hex().encode() + b'"}'
    sent = encoding.encode(text, coding)
    assert b"gzipped" not in sent
    entry = make(1)
    entry.response.headers.append(("Content-Encoding", coding.upper()))
    entry.response.body = sent
    store.append([entry, make(2), make(3, sent)])  # 3: encoded, but nothing says so
    assert [e.id for e in store.search("GZIPPED")] == [1]
    assert [e.id for e in store.newer_than(0, "gzipped")] == [1]  # the UI's search
    assert next(store.entries(with_bodies=True, newest_first=False)).response.body == sent


def test_newer_than_reads_only_what_is_new_oldest_first(store, monkeypatch):
    store.append([make(i) for i in range(1, history.SEGMENT_SIZE + 3)])
    newest = history.SEGMENT_SIZE + 2
    assert [e.id for e in store.newer_than(newest - 3)] == [newest - 2, newest - 1, newest]
    assert store.newer_than(newest) == []
    store.append([make(0, b"a needle"), make(0)])
    assert [e.id for e in store.newer_than(newest, "NEEDLE")] == [newest + 1]
    read = []
    parse = store._read_segment
    monkeypatch.setattr(store, "_read_segment", lambda path: read.append(path) or parse(path))
    assert [e.id for e in store.newer_than(newest)] == [newest + 1, newest + 2]
    assert read == [store._segment_path(1)]  # the old segment is not even opened


def test_the_stamp_changes_with_every_write_and_only_then(store):
    empty = store.stamp()
    store.append([make(1)])
    one = store.stamp()
    assert one != empty and store.stamp() == one
    store.append([make(2)])
    assert store.stamp() != one
    two = store.stamp()
    store.delete([2])
    assert store.stamp() != two


def test_call_logs_by_name(tmp_path):
    with pytest.raises(MockrecError, match="no mock has served calls yet"):
        history.open_call_log(tmp_path, None)
    HistoryStore(tmp_path, history.call_log_root("shop")).append([make(1)])
    assert history.call_logs(tmp_path) == ["shop"]
    assert history.open_call_log(tmp_path, None).count() == 1
    with pytest.raises(NotFound, match=r"no calls logged for 'other' \(logged: shop\)"):
        history.open_call_log(tmp_path, "other")


def test_delete_is_all_or_nothing_and_ids_are_never_reused(store):
    store.append([make(i, os.urandom(5000)) for i in range(5)])
    with pytest.raises(NotFound, match="nothing was deleted"):
        store.delete([2, 99])
    assert store.count() == 5
    assert store.delete([4, 5]) == 2
    assert not list((store.root / "bodies").rglob("4.*"))
    assert store.append([make(6)]) == [6]
    assert store.clear() == 4
    assert store.append([make(7)]) == [7]


def test_get_unknown_id(store):
    with pytest.raises(NotFound, match="history list"):
        store.get(42)


def test_damaged_segment_is_reported_and_never_overwritten(store):
    store.append([make(1)])
    segment = next(store.root.glob("segment-*.json"))
    segment.write_text('{"entries": {"1": ')
    with pytest.raises(StoreCorrupt, match="line 1") as info:
        store.check()
    assert str(segment) in str(info.value)
    with pytest.raises(StoreCorrupt):
        store.append([make(2)])
    with pytest.raises(StoreCorrupt):
        list(store.entries())
    assert segment.read_text() == '{"entries": {"1": '


def test_counter_lagging_a_crash_does_not_reuse_ids(store):
    store.append([make(1), make(2)])
    (store.root / "next-id.json").write_text("1")  # as if we died before updating it
    assert store.append([make(3)]) == [3]


def test_files_are_valid_json_after_every_write(store):
    for i in range(20):
        store.append([make(i)])
        for path in store.root.glob("*.json"):
            json.loads(path.read_text())
    assert not list(store.root.glob(".*.tmp"))


def test_writer_batches_off_thread_and_close_flushes(store):
    writer = HistoryWriter(store, interval=0.05)
    for i in range(100):
        writer.submit(make(i))
    deadline = time.monotonic() + 2
    while store.count() < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.count() == 100
    writer.submit(make(100))
    writer.close()
    assert store.count() == 101


def test_writer_keeps_entries_while_the_store_is_damaged(store):
    store.append([make(0)])
    segment = next(store.root.glob("segment-*.json"))
    good = segment.read_bytes()
    segment.write_text("garbage")
    writer = HistoryWriter(store, interval=0.02)
    writer.submit(make(1))
    time.sleep(0.1)
    assert segment.read_text() == "garbage"  # never overwritten
    segment.write_bytes(good)  # the user repaired it
    writer.close()
    assert [e.request.url for e in store.entries(newest_first=False)] == [
        "http://api.test/items?n=0", "http://api.test/items?n=1"]


def test_a_write_landing_while_a_reader_parses_is_not_hidden_by_its_cache(tmp_path, monkeypatch):
    """The reader's cache must key what it parsed by the version it read, not by what
    is on disk once it has finished (a writer may have replaced the file meanwhile)."""
    from recorder.store import files as storage

    path = tmp_path / "segment.json"
    storage.atomic_write(path, b'{"entries": {"1": {"v": "old"}}}')
    parsed = storage.ParsedFiles()
    real_loads = storage.json.loads

    def loads_while_a_writer_lands(text, *args, **kwargs):
        storage.atomic_write(path, b'{"entries": {"1": {"v": "new"}, "2": {"v": "new"}}}')
        monkeypatch.setattr(storage.json, "loads", real_loads)
        return real_loads(text, *args, **kwargs)

    monkeypatch.setattr(storage.json, "loads", loads_while_a_writer_lands)
    first = storage.AtomicJSONStorage(path, parsed=parsed).read()
    assert first == {"entries": {"1": {"v": "old"}}}
    assert storage.AtomicJSONStorage(path, parsed=parsed).read()["entries"]["2"] == {"v": "new"}


# -- damage: never written over ---------------------------------------------------

@pytest.mark.parametrize("content", [
    "", "   \n", "[]", '{"entries": []}', '{"entries": {"1": "x"}}',
    '{"entries": {"1": {"request": {}}}}', '{"other": {}}', '{"entries": {"a": {}}}',
])
def test_empty_or_wrong_shaped_segment_is_damaged_and_kept(store, content):
    store.append([make(1)])
    segment = next(store.root.glob("segment-*.json"))
    segment.write_text(content)
    for action in (store.check, lambda: store.append([make(2)]), lambda: list(store.entries()),
                   lambda: list(store.search("items"))):
        with pytest.raises(StoreCorrupt, match="is damaged") as info:
            action()
        assert str(segment) in str(info.value) and "mv " in str(info.value)
    assert segment.read_text() == content


@pytest.mark.parametrize("content", ["", "garbage", '"7"', "0", "{}", "true"])
def test_damaged_counter_is_reported_and_kept(store, content):
    store.append([make(1)])
    counter = store.root / "next-id.json"
    counter.write_text(content)
    with pytest.raises(StoreCorrupt, match="next-id.json is damaged"):
        store.check()
    with pytest.raises(StoreCorrupt):
        store.append([make(2)])
    assert counter.read_text() == content
    assert store.count() == 1


def test_search_reports_a_damaged_segment_it_has_no_hit_in(store, monkeypatch):
    monkeypatch.setattr(history.documents, "SEGMENT_SIZE", 2)
    store.append([make(i) for i in range(6)])
    next(store.root.glob("segment-00000001.json")).write_text('{"entries":{"3":')
    with pytest.raises(StoreCorrupt, match="segment-00000001.json is damaged"):
        list(store.search("not-there"))


# -- writes that fail ---------------------------------------------------------------

DISK_FULL = OSError(errno.ENOSPC, "No space left on device")


def fail_writes(monkeypatch, when, error=DISK_FULL):
    """Make atomic writes of the paths `when(path, data)` picks fail, as a full disk would."""
    from recorder.store import files

    real = files.atomic_write
    calls: list = []

    def atomic_write(path, data, **kwargs):
        calls.append(path)
        if when(path, data):
            raise error
        return real(path, data, **kwargs)

    real_staged = files.StagedFiles.write

    def staged_write(self, path, data):  # segments and their bodies go this way
        calls.append(path)
        if when(path, data):
            raise error
        return real_staged(self, path, data)

    monkeypatch.setattr(files, "atomic_write", atomic_write)
    monkeypatch.setattr(history.segments, "atomic_write", atomic_write)
    monkeypatch.setattr(history.recovery, "atomic_write", atomic_write)
    monkeypatch.setattr(files.StagedFiles, "write", staged_write)
    return calls


def test_a_failed_append_leaves_no_body_file_and_no_id_taken(store, monkeypatch):
    fail_writes(monkeypatch, lambda path, data: path.name.startswith("segment-"))
    entries = [make(i, os.urandom(5000)) for i in range(3)]
    with pytest.raises(OSError):
        store.append(entries)
    assert [e.id for e in entries] == [None, None, None]
    assert not list((store.root / "bodies").rglob("*.*"))
    monkeypatch.undo()
    assert store.append([make(9)]) == [1]


def test_append_across_segments_keeps_what_it_stored(store, monkeypatch):
    monkeypatch.setattr(history.documents, "SEGMENT_SIZE", 2)
    fail_writes(monkeypatch, lambda path, data: path.name == "segment-00000001.json")
    entries = [make(i) for i in range(4)]
    with pytest.raises(OSError):
        store.append(entries)
    assert [e.id for e in entries] == [1, 2, None, None]
    assert [e.id for e in store.entries(newest_first=False)] == [1, 2]


def test_append_all_keeps_nothing_when_a_later_segment_fails(store, monkeypatch):
    """What an import needs (issue 12): all or nothing, and no id spent."""
    monkeypatch.setattr(history.documents, "SEGMENT_SIZE", 2)
    store.append([make(0)])
    fail_writes(monkeypatch, lambda path, data: path.name == "segment-00000001.json")
    entries = [make(i, os.urandom(5000)) for i in range(1, 5)]
    with pytest.raises(OSError):
        store.append_all(entries)
    assert [e.id for e in entries] == [None] * 4
    assert [e.id for e in store.entries(newest_first=False)] == [1]
    assert not list((store.root / "bodies").rglob("*.*"))
    assert not list(store.root.rglob(".*.tmp"))
    monkeypatch.undo()
    assert store.append_all([make(9)]) == [2]


def test_writer_acknowledges_what_it_stored(store):
    acked: list = []
    writer = HistoryWriter(store, interval=0.02, stored=acked.extend)
    for i in range(50):
        writer.submit(make(i), tag=i)
    writer.close()
    assert sorted(acked) == list(range(50))
    assert store.count() == 50


def test_a_backlog_waits_for_the_writer_and_everything_is_stored(store, monkeypatch):
    """With `backlog`, `submit` waits while that many entries wait for their first
    write (a writer process starved of CPU catches up a backlog at a time, rather
    than turning a whole one into entries at once); nothing is lost."""
    gate = threading.Event()
    append = type(store).append
    sizes: list[int] = []

    def slow_append(self, entries):
        gate.wait()
        sizes.append(len(entries))
        return append(self, entries)
    monkeypatch.setattr(type(store), "append", slow_append)
    acked: list = []
    writer = HistoryWriter(store, interval=0.02, stored=acked.extend, backlog=3)
    submitter = threading.Thread(target=lambda: [writer.submit(make(i), tag=i)
                                                 for i in range(10)])
    submitter.start()
    time.sleep(0.2)
    assert submitter.is_alive()  # three wait for the disk: the fourth waits for them
    gate.set()
    submitter.join(5)
    writer.close()
    assert not submitter.is_alive() and max(sizes) <= 3
    assert sorted(acked) == list(range(10))
    assert [e.request.url for e in store.entries(newest_first=False)] == [
        f"http://api.test/items?n={i}" for i in range(10)]


def test_a_full_backlog_is_written_at_once_not_at_the_end_of_the_interval(store):
    """The backlog must not cap the writer's rate at `backlog` entries an interval
    (1,024 every 0.2 s is 5,120 calls a second: a fast proxy answers more)."""
    writer = HistoryWriter(store, interval=1.0, backlog=10)
    started = time.monotonic()
    for i in range(100):
        writer.submit(make(i))
    took = time.monotonic() - started
    writer.close()
    assert took < 5, f"100 entries through a backlog of 10 took {took:.1f} s"
    assert store.count() == 100


def test_entries_that_failed_to_write_leave_the_backlog(store, monkeypatch):
    """A full disk must not stop the writer from taking what comes (nor its stop):
    entries whose write failed wait for their retry outside the backlog."""
    full = {"on": True}
    fail_writes(monkeypatch, lambda path, data: full["on"])
    writer = HistoryWriter(store, interval=0.02, backlog=2)
    submitter = threading.Thread(target=lambda: [writer.submit(make(i)) for i in range(8)])
    submitter.start()
    submitter.join(5)
    assert not submitter.is_alive() and store.count() == 0
    full["on"] = False
    writer.close()
    assert store.count() == 8


def test_one_entry_that_cannot_be_written_does_not_hold_up_the_others(store, monkeypatch,
                                                                      caplog):
    """A body over the file size limit fails its entry only; once the limit is gone it is
    stored, and nothing stored before is written again."""
    big = os.urandom(200_000)
    limit = {"on": True}
    calls = fail_writes(monkeypatch, lambda path, data: limit["on"] and len(data) > 100_000,
                        OSError(errno.EFBIG, "File too large"))
    acked: list = []
    writer = HistoryWriter(store, interval=0.02, stored=acked.extend)
    for i in range(10):
        writer.submit(make(i, big if i == 3 else b""), tag=i)
    deadline = time.monotonic() + 5
    while len(acked) < 9 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(acked) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    time.sleep(0.3)  # a few rounds of retries
    messages = [r.getMessage() for r in caplog.records if "could not write" in r.getMessage()]
    assert len(messages) == 1 and "ulimit -f" in messages[0]
    limit["on"] = False
    writer.close()
    assert sorted(acked) == list(range(10))
    assert sorted(e.request.url for e in store.entries()) == sorted(
        f"http://api.test/items?n={i}" for i in range(10))
    # Only the failing entry's body was written more than once; none is left behind.
    (stored_big,) = [e for e in store.entries(with_bodies=True) if e.request.body]
    assert stored_big.request.body == big
    assert [p.name for p in (store.root / "bodies").rglob("*.*")] == [
        f"{stored_big.id}.request"]
    assert 2 <= sum(p.parent.parent.name == "bodies" for p in calls) <= 12
    assert not list(store.root.glob(".*.tmp")) and not list(store.root.rglob(".*.tmp"))


def test_disk_full_entries_wait_then_are_stored_once_space_is_back(store, monkeypatch, caplog):
    full = {"on": True}
    calls = fail_writes(monkeypatch, lambda path, data: full["on"])
    writer = HistoryWriter(store, interval=0.02)
    for i in range(30):
        writer.submit(make(i, os.urandom(5000)))
        time.sleep(0.005)
    time.sleep(0.3)
    assert store.count() == 0
    assert not list((store.root / "bodies").rglob("*.*"))  # no orphans meanwhile
    # Logged once, with what to do; retried sparingly, not every entry every round.
    messages = [r.getMessage() for r in caplog.records if "could not write" in r.getMessage()]
    assert len(messages) == 1 and "free some space" in messages[0]
    assert len(calls) < 200
    full["on"] = False
    deadline = time.monotonic() + 5
    while store.count() < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.count() == 30
    writer.close()
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert [e.id for e in store.entries(newest_first=False)] == list(range(1, 31))


def test_what_cannot_be_stored_at_close_goes_to_a_recovery_file_then_back(store, monkeypatch,
                                                                          caplog):
    store.append([make(0)])
    segment = next(store.root.glob("segment-*.json"))
    good = segment.read_bytes()
    segment.write_bytes(b"")  # damaged: an empty segment is never written over
    acked: list = []
    writer = HistoryWriter(store, interval=0.02, stored=acked.extend)
    for i in range(1, 6):
        writer.submit(make(i, os.urandom(6000) if i == 2 else b""), tag=i)
    assert writer.close() == 0
    assert sorted(acked) == [1, 2, 3, 4, 5]  # kept: in the recovery file
    (recovery,) = store.recovery_files()
    assert recovery.parent == store.data_dir
    assert any(str(recovery) in r.getMessage() for r in caplog.records)
    assert segment.read_bytes() == b""
    with pytest.raises(StoreCorrupt):
        store.recover()
    assert recovery.exists()
    segment.write_bytes(good)  # the user put it back
    assert store.recover() == 5
    assert not recovery.exists()
    assert [e.request.url[-3:] for e in store.entries(newest_first=False)] == [
        f"n={i}" for i in range(6)]
    assert store.get(3).request.body == store.get(3).request.body  # bodies came back
    assert len(store.get(3).request.body) == 6000
    assert store.recover() == 0


def test_recovery_does_not_store_twice_what_is_already_stored(store):
    entries = [make(i) for i in range(3)]
    for i, entry in enumerate(entries):
        entry.capture = f"token:{i}"
    store.append(entries[:2])  # stored, but kept for recovery too (a writer died between)
    for entry in entries:
        entry.id = None
    store.save_recovery(entries)
    assert store.recover() == 1
    assert [e.capture for e in store.entries(newest_first=False)] == [
        "token:0", "token:1", "token:2"]


def test_a_recovery_file_that_is_damaged_is_reported_and_kept(store):
    store.save_recovery([make(1)])
    (recovery,) = store.recovery_files()
    recovery.write_text('{"mockrec_recovery": 1, "root": "history", "entries": [{}]}')
    with pytest.raises(StoreCorrupt, match="recovery"):
        store.recover()
    assert recovery.exists()


def test_recover_all_imports_the_history_and_call_logs(tmp_path):
    HistoryStore(tmp_path).save_recovery([make(1), make(2)])
    HistoryStore(tmp_path, history.call_log_root("shop")).save_recovery([make(3)])
    assert history.recover_all(tmp_path) == {"history": 2, "calls/shop": 1}
    assert HistoryStore(tmp_path).count() == 2
    assert HistoryStore(tmp_path, "calls/shop").count() == 1
    assert history.recover_all(tmp_path) == {}


def test_a_data_dir_that_cannot_take_the_recovery_file_sends_it_to_the_temp_dir(
        tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    data = tmp_path / "data"
    store = HistoryStore(data)
    fail_writes(monkeypatch, lambda path, data_: path.parent == data)
    path = store.save_recovery([make(1), make(2, os.urandom(9000))])
    assert path.parent == tmp_path / "tmp" / f"mockrec-recovery-{os.getuid()}"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert store.recovery_files() == [path]
    assert HistoryStore(tmp_path / "other").recovery_files() == []
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    assert history.recover_all(data) == {"history": 2}
    assert not path.exists()
    assert len(store.get(2).request.body) == 9000


def test_a_call_log_writer_names_the_call_log(tmp_path, monkeypatch, caplog):
    log = HistoryStore(tmp_path, history.call_log_root("shop"))
    fail_writes(monkeypatch, lambda path, data: True)
    writer = HistoryWriter(log, interval=0.02)
    writer.submit(make(1))
    assert writer.close() == 1  # nowhere to keep it: lost, and said with the count
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not write the call log of shop" in m for m in messages)
    assert any("1 call log of shop entry could not be stored, nor kept" in m for m in messages)
    assert not any("history" in m.split(":")[1] for m in messages)


def test_call_logs_share_ids_and_each_keeps_its_own_calls(tmp_path, monkeypatch):
    from recorder.store import history

    monkeypatch.setattr(history.documents, "SEGMENT_SIZE", 10)
    logs = {name: HistoryStore(tmp_path, history.call_log_root(name), keep=25)
            for name in ("a", "b")}
    for i in range(100):  # the two mocks' calls interleave
        logs["ab"[i % 2]].append([HistoryEntry(HttpRequest("GET", f"http://x/{i}"),
                                               Timings(float(i)))])
    kept = {name: [e.id for e in log.entries()] for name, log in logs.items()}
    assert kept["a"][0] == 99 and kept["b"][0] == 100
    assert not set(kept["a"]) & set(kept["b"])  # one id names one call
    assert all(25 <= len(ids) <= 35 for ids in kept.values()), kept
    assert history.call_logs(tmp_path) == ["a", "b"]
