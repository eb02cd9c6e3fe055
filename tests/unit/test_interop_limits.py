"""Imports are bounded and all or nothing (issue 12, item 5): documented limits refused in
one line that names them, a write that fails (a full disk) keeps nothing, and the
counters move only when an import lands."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import big_har as har
from conftest import big_postman as postman
from conftest import run_cli

from recorder.cli import main
from recorder.interop import postman as postman_interop
from recorder.models import Example, Request
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore


def run(*args: str) -> tuple[int, str]:
    result = run_cli(*args)
    return result.exit_code, result.stdout + result.stderr


def test_a_postman_file_over_the_item_limit_is_refused_at_once(tmp_path, capsys,
                                                               monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(data))
    assert main(["example", "add", "--collection", "c", "GET", "/a"]) == 0
    capsys.readouterr()
    counter = data / "collections" / "next-example-id.json"
    before = counter.read_bytes()
    big = tmp_path / "big.json"
    big.write_text(json.dumps(postman(60_000)))  # 120,000 items: requests and examples
    built = Counter()

    def counted(model):
        def build(*args, **kwargs):
            built[model.__name__] += 1
            return model(*args, **kwargs)
        return build

    with monkeypatch.context() as m:
        m.setattr(postman_interop, "Request", counted(Request))
        m.setattr(postman_interop, "Example", counted(Example))
        code, text = run("import", "postman", str(big))
    # At once: refused while counting, before any example is built and before the file's
    # requests are (the 60,000 listed up front leave room for 40,000, then one more tips).
    assert built["Example"] == 0 and built["Request"] <= 100_000 - 60_000 + 1
    assert code != 0 and text.count("\n") == 1 and "Traceback" not in text
    assert "more than 100,000 items" in text and "MOCKREC_IMPORT_MAX_ITEMS=100000" in text
    assert counter.read_bytes() == before  # nothing was imported: no id was spent
    assert CollectionStore(data).names() == ["c"]
    monkeypatch.setenv("MOCKREC_IMPORT_MAX_ITEMS", "200000")  # as the message says
    assert main(["import", "postman", str(big)]) == 0
    assert json.loads(counter.read_bytes()) == 2 + 60_000


@pytest.mark.parametrize("kind, content", [
    ("postman", postman(1, "x" * 2_000_000)), ("har", har(1, 0, 2_000_000)),
    ("openapi", {"openapi": "3.0.0", "info": {"title": "t"}, "x": "y" * 2_000_000,
                 "paths": {}}),
])
def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, capsys,
                                                              monkeypatch, kind, content):
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOCKREC_IMPORT_MAX_MB", "1")
    path = tmp_path / "f.json"
    path.write_text(json.dumps(content))
    code, text = run("import", kind, str(path))
    assert code != 0 and text.count("\n") == 1
    assert "more than 1 MB" in text and "MOCKREC_IMPORT_MAX_MB=1" in text
    assert not (tmp_path / "data" / "history").exists()


def test_har_and_flow_entries_are_limited(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOCKREC_IMPORT_MAX_ITEMS", "10")
    path = tmp_path / "f.har"
    path.write_text(json.dumps(har(11)))
    code, text = run("import", "har", str(path))
    assert code != 0 and "MOCKREC_IMPORT_MAX_ITEMS=10" in text
    assert HistoryStore(tmp_path / "data").count() == 0
