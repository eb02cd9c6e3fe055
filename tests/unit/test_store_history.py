"""The history store on its own: documents, segments, ids, damage, the writer thread."""

from __future__ import annotations

import json
import os
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
    monkeypatch.setattr(history, "SEGMENT_SIZE", 10)
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
