"""One name check for every collection, mock, environment and tag name (issue 12, item 6):
every command that takes a name, run with hostile names, reads, writes and deletes
nothing outside the data dir."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from recorder.cli import main
from recorder.errors import ExitStatus, UsageError
from recorder.store.names import check_name, valid_name

MARKER = "OUTSIDE-SECRET-5f2c"


@pytest.mark.parametrize("name", ["shop", "a", "v1.2", "my_api-2", "A" * 100])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", [
    "", "..", ".", "../x", "../../x", "/abs/path", "a/b", "a\\b", "a\n", "\na", "a\x00b",
    "a\tb", "a b", ".hidden", "-flag", "a..b", "x" * 101, "caf\u00e9", "a\x7f",
])
def test_hostile_names_are_usage_errors(name):
    assert not valid_name(name)
    with pytest.raises(UsageError, match="not usable as a file name") as e:
        check_name(name, "mock")
    assert e.value.status == ExitStatus.USAGE


def snapshot(root: Path, skip: Path) -> dict[str, bytes]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip:
            dirnames.clear()
            continue
        for name in filenames:
            path = Path(dirpath, name)
            found[str(path)] = path.read_bytes()
        for name in dirnames:
            found[str(Path(dirpath, name)) + "/"] = b""
    return found


@pytest.fixture(scope="module")
def world_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """A data dir with a collection `good` (and an example), a mock and an environment,
    inside a folder full of files a hostile name could reach; and a Postman and an
    OpenAPI file to import. Made once for the module: every command below is refused, and
    each case checks that it left every file as it found it."""
    tmp_path = tmp_path_factory.mktemp("names")
    base = tmp_path / "home" / "me"
    data = base / "project" / "data"
    doc = json.dumps({"document": {"1": {"name": "x", "collection": "good",
                                         "values": {"k": MARKER}}}})
    outside = base / "outside"
    outside.mkdir(parents=True)
    # Files where "../x", "../../x" and absolute names would land or read.
    for folder in (data, data.parent, base, outside, data / "collections",
                   data / "mocks", data / "environments", data / "calls"):
        folder.mkdir(parents=True, exist_ok=True)
    for folder in (data.parent, base, outside):
        for stem in ("x", "victim", "col"):
            (folder / f"{stem}.json").write_text(doc)
            (folder / f"{stem}@v1.json").write_text(doc)
        (folder / "calls-victim").mkdir()
        (folder / "calls-victim" / "segment-00000000.json").write_text(
            json.dumps({"entries": {"1": MARKER}}))
    for args in (["example", "add", "--collection", "good", "GET", "/a", "--body", "{}"],
                 ["env", "set", "dev", "a=1"],
                 ["mock", "create", "m", "--collection", "good"]):
        assert main(["--data-dir", str(data), *args]) == 0
    (tmp_path / "p.json").write_text(json.dumps({"info": {"name": "p"}, "item": [
        {"name": "a", "request": {"method": "GET", "url": "/a"}}]}))
    (tmp_path / "o.json").write_text(json.dumps({
        "openapi": "3.0.0", "info": {"title": "o"},
        "paths": {"/a": {"get": {"responses": {"200": {}}}}}}))
    return data, tmp_path


@pytest.fixture
def world(world_dirs, monkeypatch, capsys):
    data, tmp_path = world_dirs
    monkeypatch.setenv("MOCKREC_DATA_DIR", str(data))
    capsys.readouterr()
    return data, tmp_path


# {outside}, {postman} and {openapi} are filled in with the world's paths.
HOSTILE_NAMES = [pytest.param(name, id=label) for name, label in [
    ("../x", "up-one"), ("../../outside/victim", "up-two"),
    ("{outside}/victim", "absolute"), ("..", "dotdot"), ("good\n", "good-newline"),
    ("m\n", "mock-newline"), ("a/b", "slash"), ("x\x00y", "nul"), ("col@v1", "at-sign"),
    ("x" * 101, "too-long")]]

COMMANDS = [
    ["collection", "show", "{n}"], ["collection", "show", "good", "--tag", "{n}"],
    ["collection", "create", "{n}"], ["collection", "delete", "{n}", "--yes"],
    ["collection", "tag", "{n}", "v2"], ["collection", "tag", "good", "{n}"],
    ["example", "list", "--collection", "{n}"],
    ["example", "show", "1", "--collection", "{n}"],
    ["example", "add", "GET", "/x", "--collection", "{n}"],
    ["example", "rename", "1", "y", "--collection", "{n}"],
    ["example", "delete", "1", "--collection", "{n}"],
    ["mock", "create", "{n}", "--collection", "good"],
    ["mock", "create", "m2", "--collection", "{n}"],
    ["mock", "create", "m2", "--collection", "good", "--env", "{n}"],
    ["mock", "create", "m2", "--collection", "good", "--tag", "{n}"],
    ["mock", "create", "m2", "--collection", "good", "--save-url-to", "{n}"],
    ["mock", "show", "{n}"], ["mock", "update", "{n}", "--delay", "3g"],
    ["mock", "update", "m", "--env", "{n}"], ["mock", "delete", "{n}"],
    ["env", "set", "{n}", "a=1"], ["env", "show", "{n}"], ["env", "delete", "{n}"],
    ["replay", "{n}"], ["replay", "--collection", "{n}"], ["replay", "good", "--env", "{n}"],
    ["replay", "good", "--tag", "{n}"], ["replay", "m", "--tag", "{n}"],
    ["proxy", "--mode", "replay", "--collection", "{n}"],
    ["mode", "replay", "--collection", "{n}"],
    ["calls", "{n}"], ["calls", "show", "1", "--mock", "{n}"],
    ["calls", "clear", "--mock", "{n}"],
    ["import", "postman", "{postman}", "--collection", "{n}"],
    ["import", "openapi", "{openapi}", "--collection", "{n}"],
    ["export", "postman", "{n}"], ["promote", "1", "--collection", "{n}"],
]


def _command_id(args: list[str]) -> str:
    return " ".join(a.replace("{n}", "NAME") for a in args if not a.startswith("{p")
                    and not a.startswith("{o"))


@pytest.mark.parametrize("command", COMMANDS, ids=map(_command_id, COMMANDS))
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_every_command_refuses_hostile_names(world, capsys, name, command):
    data, tmp_path = world
    name = name.replace("{outside}", str(tmp_path / "home" / "me" / "outside"))
    args = [a.replace("{n}", name).replace("{postman}", str(tmp_path / "p.json"))
            .replace("{openapi}", str(tmp_path / "o.json")) for a in command]
    before = snapshot(tmp_path, data)
    inside_before = snapshot(data, data / "nothing")
    code = main(args)
    out, err = capsys.readouterr()
    assert code != 0, (args, out, err)
    assert MARKER not in out + err, args
    assert "Traceback" not in err and err.count("\n") == 1, (args, err)
    assert snapshot(tmp_path, data) == before  # nothing outside written or deleted
    # ... and nothing inside changed either, nor pulled in from outside
    inside = snapshot(data, data / "nothing")
    assert MARKER.encode() not in b"".join(inside.values())
    assert {k for k in inside if not k.endswith(".lock")} == {
        k for k in inside_before if not k.endswith(".lock")}


def test_the_counter_file_and_empty_names_are_no_names(world):
    # The collections' counter file is no collection.
    assert main(["collection", "show", "next-example-id"]) != 0
    assert main(["collection", "delete", "next-example-id", "--yes"]) != 0
    for args in (["collection", "create", ""], ["mock", "create", "", "--collection", "good"],
                 ["env", "set", "", "a=1"], ["collection", "tag", "good", ""]):
        assert main(args) == ExitStatus.USAGE, args


def test_a_name_with_a_trailing_newline_is_refused_on_create(world, capsys):
    data, _ = world
    assert main(["collection", "create", "shop\n"]) == ExitStatus.USAGE
    assert main(["env", "set", "dev\n", "a=1"]) == ExitStatus.USAGE
    assert not any("\n" in p.name for p in data.rglob("*"))
