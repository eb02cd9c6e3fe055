"""Imports are all or nothing (issue 12, item 5): a write that fails, as on a full disk,
keeps nothing and spends no id. The command runs in a child process whose files cannot
grow past a limit (RLIMIT_FSIZE)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from conftest import big_har as har
from conftest import big_postman as postman

from recorder.cli import main
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore


def limited_run(args: list[str], data, max_file_size: int) -> subprocess.CompletedProcess:
    """The CLI in a process that cannot write a file over `max_file_size` bytes: as a full
    disk does, the write that needs more fails (EFBIG; Python ignores SIGXFSZ)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))

    return subprocess.run([sys.executable, "-m", "recorder", "--data-dir", str(data), *args],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120)


def test_a_failing_write_imports_no_har_entry(tmp_path):
    data = tmp_path / "data"
    HistoryStore(data).append([])  # nothing yet
    path = tmp_path / "f.har"
    path.write_text(json.dumps(har(700, big_at=600)))  # the 601st body cannot be written
    result = limited_run(["import", "har", str(path)], data, 200_000)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "nothing was imported" in result.stderr
    assert "Traceback" not in result.stderr
    history = HistoryStore(data)
    assert history.count() == 0
    assert not list((data / "history").rglob("*.tmp"))
    # The ids were not spent: the next import starts at 1.
    small = tmp_path / "small.har"
    small.write_text(json.dumps(har(2)))
    result = limited_run(["import", "har", str(small)], data, 10**9)
    assert result.returncode == 0 and "as 1-2" in result.stdout, result.stderr
    assert sorted(os.listdir(data / "history")) == [
        ".lock", "bodies", "next-id.json", "segment-00000000.json"]


def test_a_failing_write_spends_no_example_id(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "example", "add", "--collection", "c", "GET",
                 "/a"]) == 0
    counter = data / "collections" / "next-example-id.json"
    before = counter.read_bytes()
    path = tmp_path / "p.json"
    path.write_text(json.dumps(postman(300, "y" * 1000)))  # a collection file of ~500 KB
    result = limited_run(["import", "postman", str(path)], data, 200_000)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "nothing was imported" in result.stderr
    assert counter.read_bytes() == before
    assert CollectionStore(data).names() == ["c"]
    assert not list((data / "collections").glob("*.tmp")) and not list(
        (data / "collections").glob(".*.tmp"))
