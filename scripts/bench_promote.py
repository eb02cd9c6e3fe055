#!/usr/bin/env python3
"""Promote benchmark: `mockrec promote` of 10,000 history entries, then opening the collection.

Targets (issue 3): promoting 10,000 entries <= 5 s (the whole CLI command, start-up
included); opening a collection of 10,000 examples <= 1 s. Also printed, for
scale, the same examples written the naive way: one TinyDB insert per example.
Usage: python scripts/bench_promote.py [--entries 10000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinydb import TinyDB

from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.store.collection_store import CollectionStore, example_doc
from recorder.store.history import HistoryStore


def fill(data_dir: Path, count: int) -> None:
    now = time.time() - count
    body = b'{"id": %d, "name": "Ada Lovelace", "email": "ada@example.test", "tags": [1, 2, 3]}'
    HistoryStore(data_dir).append([
        HistoryEntry(
            request=HttpRequest("GET", f"http://api.test/users/{i % 500}?page={i % 7}",
                                headers=[("Host", "api.test"), ("Accept", "*/*"),
                                         ("Authorization", "Bearer secret")]),
            response=HttpResponse(200, "OK", headers=[("Content-Type", "application/json"),
                                                      ("Date", "Mon, 01 Jan 2026 00:00:00 GMT")],
                                  body=body % i),
            timings=Timings(now + i, end=now + i + 0.01))
        for i in range(count)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mockrec-bench-promote-"))
    try:
        fill(work, args.entries)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "recorder", "--data-dir", str(work), "promote",
                        f"1-{args.entries}", "--collection", "bench", "--infer-templates"],
                       check=True, capture_output=True)
        promote_s = time.monotonic() - started

        store = CollectionStore(work)
        started = time.monotonic()
        collection = store.load("bench")
        open_s = time.monotonic() - started
        assert len(collection.examples) == args.entries

        naive = min(args.entries, 1000)
        db = TinyDB(work / "naive.json")
        started = time.monotonic()
        for example in collection.examples[:naive]:
            db.insert(example_doc(example, 1))
        naive_s = (time.monotonic() - started) * args.entries / naive

        print(f"promote {args.entries:,} entries (CLI, start-up included): {promote_s:.2f} s"
              f"  (target <= 5 s; {promote_s / 5:.2f} of it)")
        print(f"open the collection of {args.entries:,} examples: {open_s:.2f} s"
              f"  (target <= 1 s; {open_s:.2f} of it)")
        print(f"one TinyDB insert per example instead, extrapolated from {naive:,}: "
              f"{naive_s:.1f} s ({naive_s / promote_s:.0f}x slower than promote)")
        ok = promote_s <= 5 and open_s <= 1
        print("all targets met" if ok else "TARGETS MISSED")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
