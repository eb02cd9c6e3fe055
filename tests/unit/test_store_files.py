"""Files and folders are private whichever command makes them first (issue 12, item 10)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from recorder.cli import main
from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.store.history import HistoryStore, call_log_root


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def assert_private(root) -> None:
    found = modes(root)
    assert len(found) > 1
    wrong = {p: oct(m) for p, m in found.items()
             if m != (0o700 if (root / p).is_dir() else 0o600)}
    assert not wrong


@pytest.mark.parametrize("args", [
    ["collection", "create", "shop"],
    ["env", "set", "dev", "a=1"],
    ["example", "add", "--collection", "shop", "GET", "/a", "--body", "{}"],
    ["import", "postman", "{postman}"],
])
def test_first_command_makes_a_private_data_dir(tmp_path, args, capsys):
    postman = tmp_path / "p.json"
    postman.write_text(json.dumps({"info": {"name": "p"}, "item": [
        {"name": "a", "request": {"method": "GET", "url": "/a"},
         "response": [{"name": "ok", "code": 200, "body": "{}"}]}]}))
    data = tmp_path / "new" / "data"  # its parent is missing too
    code = main(["--data-dir", str(data), *[a.replace("{postman}", str(postman)) for a in args]])
    assert code == 0, capsys.readouterr()
    assert_private(data)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


@pytest.mark.parametrize("root", ["history", call_log_root("shop")])
def test_history_and_call_log_folders_are_private(tmp_path, root):
    data = tmp_path / "data"
    big = b"x" * 10_000  # goes to a bodies/ file
    HistoryStore(data, root).append([HistoryEntry(
        HttpRequest("POST", "http://api.test/a", body=big), Timings(1.0),
        HttpResponse(200, "OK", body=big))])
    assert (data / root / "bodies").is_dir()
    assert_private(data)
