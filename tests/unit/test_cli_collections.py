"""`mockrec collection` and `mockrec example` as a newcomer meets them, in-process."""

from __future__ import annotations

import json

import pytest

from recorder.errors import ExitStatus
from recorder.store.collection_store import CollectionStore


@pytest.fixture
def data(tmp_path, cli):
    """Collections shop (examples 1-3) and blog (4-5), and a mock serving shop."""
    d = tmp_path / "data"
    for collection, method, path, status in (
            ("shop", "GET", "/items", 200), ("shop", "GET", "/items/{{itemId}}", 200),
            ("shop", "POST", "/items", 201), ("blog", "GET", "/posts", 200),
            ("blog", "GET", "/posts/{{postId}}", 404)):
        assert cli("example", "add", "--collection", collection, method, path, "--status",
                   status, "--body", '{"ok": true}', data_dir=d).exit_code == 0
    assert cli("mock", "create", "shop-dev", "--collection", "shop", data_dir=d).exit_code == 0
    return d


def test_one_damaged_collection_does_not_hide_the_others(data, cli):
    damaged = CollectionStore(data).path("blog")
    damaged.write_text("{")
    listed = cli("collection", "list", "--json", data_dir=data)
    # the others are listed; the damaged one is said, and the exit status tells a script
    assert [c["name"] for c in listed.json] == ["shop"]
    assert listed.exit_code == ExitStatus.STORE_CORRUPT
    assert listed.stderr.startswith("mockrec: error: ") and listed.stderr.count("\n") == 1
    assert f"{damaged} is damaged" in listed.stderr
    shown = cli("example", "show", "1", data_dir=data)  # in a readable collection: shown
    assert shown.exit_code == 0 and shown.json["id"] == 1
    assert shown.stderr.startswith("mockrec: warning: ") and f"{damaged} is damaged" in (
        shown.stderr)
    examples = cli("example", "list", "--json", data_dir=data)
    assert {e["collection"] for e in examples.json} == {"shop"}
    assert examples.exit_code == ExitStatus.STORE_CORRUPT
    missing = cli("example", "show", "4", data_dir=data)
    assert missing.exit_code == ExitStatus.STORE_CORRUPT and "may be in a damaged one" in (
        missing.stderr)
    assert damaged.read_text() == "{"  # never overwritten


def test_deleting_an_example_with_a_damaged_collection_names_the_file(data, cli):
    damaged = CollectionStore(data).path("blog")
    damaged.write_text("{")
    result = cli("example", "delete", "4", data_dir=data)
    assert result.exit_code == ExitStatus.STORE_CORRUPT, result
    assert f"{damaged} is damaged" in result.stderr and "may be in" in result.stderr
    assert result.stderr.count("\n") == 1 and "does not exist" not in result.stderr
    assert cli("example", "delete", "1", data_dir=data).exit_code == 0  # the rest works
    assert damaged.read_text() == "{"


@pytest.mark.parametrize("kind", ["collection", "mock", "env"])
def test_deleting_a_damaged_file_keeps_it_aside_and_says_so(data, cli, kind):
    assert cli("env", "set", "dev", "a=1", data_dir=data).exit_code == 0
    name, path = {"collection": ("blog", data / "collections" / "blog.json"),
                  "mock": ("shop-dev", data / "mocks" / "shop-dev.json"),
                  "env": ("dev", data / "environments" / "dev.json")}[kind]
    assert path.exists()
    path.write_text('{"half a fi')
    args = ["--yes"] if kind == "collection" else []
    result = cli(kind, "delete", name, *args, data_dir=data)
    assert result.exit_code == 0, result
    aside = [p for p in path.parent.iterdir() if p.name.startswith(path.name + ".damaged")]
    assert len(aside) == 1 and aside[0].read_text() == '{"half a fi'  # nothing lost
    assert not path.exists()
    assert f"{path} is damaged" in result.stderr and str(aside[0]) in result.stderr
    assert result.stderr.count("\n") == 1
    listed = cli(kind, "list", "--json", data_dir=data)  # the name is free, nothing damaged
    assert listed.exit_code == 0 and name not in listed.stdout


def test_no_collection_names_the_data_dir_it_searched(data, cli):
    for args in (("collection", "show", "nope"), ("replay", "nope"),
                 ("mock", "create", "m2", "--collection", "nope")):
        result = cli(*args, data_dir=data)
        assert result.exit_code == ExitStatus.NOT_FOUND
        assert f"no collection 'nope' in {data}:" in result.stderr, result


def test_counts_read_as_english(data, cli):
    out = cli("collection", "show", "blog", data_dir=data).stdout
    assert out.startswith("blog: 2 requests, 2 examples\n")
    cli("example", "delete", "5", data_dir=data)
    assert cli("collection", "show", "blog", data_dir=data).stdout.startswith(
        "blog: 1 request, 1 example\n")


def test_example_delete_takes_ids_and_ranges(data, cli):
    result = cli("example", "delete", "1", "3-4", data_dir=data)
    assert result.exit_code == 0, result
    assert result.stdout == "deleted 1 example from blog: 4\ndeleted 2 examples from shop: 1, 3\n"
    left = [e["id"] for e in cli("example", "list", "--json", data_dir=data).json]
    assert sorted(left) == [2, 5]
    for args, status, message in ((["9-20"], ExitStatus.NOT_FOUND, "no example in 9-20"),
                                  (["2", "7"], ExitStatus.NOT_FOUND, "example 7 does not exist"),
                                  (["x"], ExitStatus.USAGE, "'x' is not an id")):
        result = cli("example", "delete", *args, data_dir=data)
        assert result.exit_code == status and message in result.stderr, result
    assert sorted(e["id"] for e in cli("example", "list", "--json", data_dir=data).json) == [2, 5]


def test_collection_delete_asks_and_names_the_mocks_that_serve_it(data, cli):
    store = CollectionStore(data)
    refused = cli("collection", "delete", "shop", data_dir=data)  # not a terminal, no --yes
    assert refused.exit_code == ExitStatus.USAGE and store.exists("shop")
    assert "shop-dev" in refused.stderr and "--yes" in refused.stderr
    kept = cli("collection", "delete", "shop", data_dir=data, tty=True, input="n\n")
    assert kept.exit_code == ExitStatus.ERROR and store.exists("shop")
    assert "1 mock still serves shop: shop-dev" in kept.stderr
    assert "Delete collection shop and its tags? [y/N]" in kept.stdout
    gone = cli("collection", "delete", "shop", data_dir=data, tty=True, input="y\n")
    assert gone.exit_code == 0 and not store.exists("shop")
    assert "deleted collection shop" in gone.stdout
    # no mock on it and no terminal: deleted as asked; --yes never asks
    assert cli("collection", "create", "tmp", data_dir=data).exit_code == 0
    assert cli("collection", "delete", "tmp", data_dir=data).exit_code == 0
    assert cli("collection", "delete", "blog", "--yes", data_dir=data, tty=True).exit_code == 0
    assert store.names() == []


def test_mock_create_warns_about_a_port_another_mock_uses(data, cli):
    first = cli("mock", "show", "shop-dev", "--json", data_dir=data).json["port"]
    second = cli("mock", "create", "blog-dev", "--collection", "blog", data_dir=data)
    assert second.exit_code == 0 and second.stderr == ""  # a free default port
    assert cli("mock", "show", "blog-dev", "--json", data_dir=data).json["port"] != first
    shared = cli("mock", "create", "blog-2", "--collection", "blog", "--port", first,
                 data_dir=data)
    assert shared.exit_code == 0
    assert f"port {first} is also the port of mock shop-dev" in shared.stderr


def test_example_show_prints_json(data, cli):
    assert json.loads(cli("example", "show", "3", data_dir=data).stdout)["response"][
        "status"] == 201


@pytest.mark.parametrize("args, status, said", [
    # ports out of range: a usage error, not a traceback or another port
    (("record", "--port", "99999"), 2, "--port"),
    (("record", "--port", "65536"), 2, "--port"),
    (("replay", "shop", "--port", "-1"), 2, "--port"),
    (("proxy", "--mode", "record", "--port", "70000"), 2, "--port"),
    (("mock", "create", "m", "--collection", "shop", "--port", "99999"), 2, "--port"),
    (("mock", "update", "shop-dev", "--port", "65536"), 2, "--port"),
    (("record", "--upstream", "ftp://x"), 2, "is not an http(s) URL"),
    (("env", "set", "e1", "novalue"), 2, "'novalue' is not KEY=VALUE"),
    (("example", "add", "--collection", "shop", "GET", "/x", "-H", "BadHeader"), 2,
     "header 'BadHeader' is not 'Name: value'"),
    (("history", "list", "--limit", "-1"), 2, "--limit"),
    (("history", "search", "x", "--limit", "-1"), 2, "--limit"),
    (("calls", "--limit", "-1"), 2, "--limit"),
    (("import", "postman", "/nonexistent.json"), 3, "/nonexistent.json: no such file"),
    (("import", "openapi", "/nonexistent.yaml"), 3, "/nonexistent.yaml: no such file"),
    (("import", "har", "/nonexistent.har"), 3, "/nonexistent.har: no such file"),
    (("import", "flows", "/nonexistent.mitm"), 3, "/nonexistent.mitm: no such file"),
])
def test_bad_input_is_one_line_and_its_exit_status(data, cli, args, status, said):
    before = sorted(p.read_bytes() for p in data.rglob("*.json"))
    result = cli(*args, data_dir=data)
    assert result.exit_code == status, result
    assert result.stderr.startswith("mockrec: error: ") and result.stderr.count("\n") == 1
    assert said in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.read_bytes() for p in data.rglob("*.json")) == before  # nothing changed


def test_every_port_option_takes_0_to_65535_only():
    """`ui --port 99999` listened on 34463 (99999 - 65536): every port option is checked
    by the command line (the commands above show the one-line error)."""
    from typer.main import get_command

    from recorder.cli import app

    def ports(command, path=()):
        for param in command.params:
            if param.name == "port":
                yield " ".join(path), param
        for name, sub in getattr(command, "commands", {}).items():
            yield from ports(sub, (*path, name))

    found = dict(ports(get_command(app)))
    assert {"record", "replay", "proxy", "ui", "mode", "reset", "cert", "mock create",
            "mock update"} <= set(found)
    for path, param in found.items():
        assert (param.min, param.max) == (0, 65535), path
