"""`mockrec example edit` with a real $EDITOR: a Python script that the command starts
as the user's editor would be, changing the example's JSON."""

from __future__ import annotations

import json
import sys
import tempfile

import pytest

from recorder.errors import ExitStatus
from recorder.promote import examples
from recorder.store.collection_store import CollectionStore


@pytest.fixture
def data(tmp_path, cli):
    """Collections shop (examples 1-3) and blog (4-5), and a mock serving shop."""
    d = tmp_path / "data"
    for collection, method, path, status in (
            ("shop", "GET", "/items", 200), ("shop", "GET", "/items/{{itemId}}", 200),
            ("shop", "GET", "/items", 200), ("shop", "GET", "/items/{{itemId}}", 200),
            ("shop", "POST", "/items", 201), ("blog", "GET", "/posts", 200),
            ("blog", "GET", "/posts/{{postId}}", 404)):
        assert cli("example", "add", "--collection", collection, method, path, "--status",
                   status, "--body", '{"ok": true}', data_dir=d).exit_code == 0
    assert cli("mock", "create", "shop-dev", "--collection", "shop", data_dir=d).exit_code == 0
    return d


def editor(tmp_path, monkeypatch, change: str) -> None:
    script = tmp_path / "editor.py"
    script.write_text(f"import json, sys\np = sys.argv[1]\nd = json.load(open(p))\n{change}\n"
                      "json.dump(d, open(p, 'w'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)


def test_a_missing_editor_is_one_line(data, cli, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("EDITOR", "/nonexistent/editor")
    monkeypatch.delenv("VISUAL", raising=False)
    before = CollectionStore(data).path("shop").read_bytes()
    result = cli("example", "edit", "1", data_dir=data)
    assert result.exit_code == ExitStatus.ERROR
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "cannot start the editor '/nonexistent/editor'" in result.stderr
    assert "example 1 is unchanged" in result.stderr
    assert CollectionStore(data).path("shop").read_bytes() == before
    assert not list(tmp_path.glob("mockrec-example-*"))  # no temporary file left behind


def test_a_refused_edit_says_so_in_plain_words(data, cli, tmp_path, monkeypatch):
    editor(tmp_path, monkeypatch, "d['response']['status'] = 999")
    result = cli("example", "edit", "1", data_dir=data)
    assert result.exit_code == ExitStatus.ERROR
    assert "your edit was refused: status 999 is not an HTTP status (100-599)" in result.stderr


@pytest.mark.parametrize("header", ["X-A: 1\r\nSet-Cookie: sid=evil", "X-A: 1\nSet-Cookie: x",
                                    "X-A: 1\rSet-Cookie: x", "X-A\r\nSet-Cookie: sid=evil"])
def test_a_header_with_a_line_break_is_refused_where_it_enters(data, cli, tmp_path,
                                                               monkeypatch, header):
    before = CollectionStore(data).path("shop").read_bytes()
    added = cli("example", "add", "--collection", "shop", "GET", "/evil", "-H", header,
                data_dir=data)
    assert added.exit_code == ExitStatus.USAGE, added
    assert "line break" in added.stderr and added.stderr.count("\n") == 1
    editor(tmp_path, monkeypatch, f"d['response']['headers'].append({header!r})")
    edited = cli("example", "edit", "1", data_dir=data)
    assert edited.exit_code == ExitStatus.ERROR, edited
    assert "your edit was refused" in edited.stderr and "line break" in edited.stderr
    # the UI's form: its headers textarea is a header a line, and a CR left inside a
    # line is refused
    doc = examples.example_document(*reversed(CollectionStore(data).find_example(1)[1:]))
    in_a_line = header.replace("\r\n", "\r").replace("\n", "\r")
    with pytest.raises(ValueError, match="line break"):
        examples.validate_edit(examples.edit_response(doc, "200", in_a_line, None), 1)
    assert CollectionStore(data).path("shop").read_bytes() == before


def test_a_generated_name_follows_the_status_a_chosen_one_stays(data, cli, tmp_path,
                                                                  monkeypatch):
    editor(tmp_path, monkeypatch, "d['response']['status'] = 418")
    result = cli("example", "edit", "1", data_dir=data)
    assert result.exit_code == 0, result
    shown = cli("example", "show", "1", data_dir=data).json
    assert (shown["name"], shown["response"]["status"], shown["response"]["reason"]) == (
        "418 I'm a Teapot", 418, "I'm a Teapot")
    assert cli("example", "rename", "2", "happy path", data_dir=data).exit_code == 0
    assert cli("example", "edit", "2", data_dir=data).exit_code == 0
    shown = cli("example", "show", "2", data_dir=data).json
    assert (shown["name"], shown["response"]["status"]) == ("happy path", 418)


def test_an_edited_body_written_as_plain_text_is_text(data, cli, tmp_path, monkeypatch):
    """The admin API takes a body as plain text; so does `example edit`."""
    editor(tmp_path, monkeypatch, "d['response']['body'] = 'plain words'")
    result = cli("example", "edit", "1", data_dir=data)
    assert result.exit_code == 0, result.stderr
    assert cli("example", "show", "1", data_dir=data).json["response"]["body"] == {
        "text": "plain words"}
    editor(tmp_path, monkeypatch, "d['response']['body'] = 42")
    result = cli("example", "edit", "1", data_dir=data)
    assert result.exit_code == ExitStatus.ERROR
    assert ('your edit was refused: response.body must be text, {"text": ...} or '
            '{"base64": ...}') in result.stderr
    assert "attribute" not in result.stderr


def test_example_add_show_and_edit_set_the_position_and_the_fault(tmp_path, cli,
                                                                  monkeypatch):
    data = tmp_path / "data"
    for n in (1, 2):
        assert cli("example", "add", "--collection", "c", "GET", "/job",
                   "--body", f"step {n}", "--sequence", str(n), data_dir=data).exit_code == 0
    code, out, _ = cli("example", "add", "--collection", "c", "GET", "/down",
                       "--fault", "RESET", data_dir=data)
    assert code == 0
    shown = json.loads(cli("example", "show", "2", data_dir=data).stdout)
    assert (shown["sequence"], shown["fault"]) == (2, "")
    assert json.loads(cli("example", "show", "3", data_dir=data).stdout)["fault"] == "reset"
    # without an editor: just the position or the fault
    code, out, _ = cli("example", "edit", "2", "--sequence", "5", "--fault",
                       "slow-body:800", data_dir=data)
    assert code == 0 and "sequence 5, fault slow-body:800" in out
    code, out, _ = cli("example", "edit", "2", "--no-sequence", "--fault", "", data_dir=data)
    assert code == 0 and "no sequence, no fault" in out
    # in the editor: the fields are there to change
    editor = tmp_path / "editor.py"
    editor.write_text("import json, sys\np = sys.argv[1]\nd = json.load(open(p))\n"
                      "d['sequence'] = 3\nd['fault'] = 'garbage'\njson.dump(d, open(p, 'w'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    assert cli("example", "edit", "1", data_dir=data).exit_code == 0
    example = CollectionStore(data).load("c").find_example(1)[1]
    assert (example.sequence, example.fault) == (3, "garbage")
    listed = cli("collection", "show", "c", data_dir=data).stdout
    assert "[sequence 3]  [fault garbage]" in listed
