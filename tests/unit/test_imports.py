"""The import graph of addons/ and recorder/ (scripts/imports.py): no cycles, and no
module imports one from a layer above it (recorder never imports addons; recorder.ui
never imports recorder.cli)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "imports.py"


@pytest.fixture(scope="module")
def imports():
    spec = importlib.util.spec_from_file_location("imports_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_graph_has_no_cycle(imports):
    assert imports.cycles(imports.graph()) == []


def test_no_module_imports_from_a_layer_above(imports):
    assert imports.upward(imports.graph()) == []


def test_the_check_sees_every_kind_of_import(imports, tmp_path):
    for package in ("addons", "recorder"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "recorder" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from recorder import b\n")
    (tmp_path / "recorder" / "b.py").write_text("def f():\n    import recorder.a\n")
    (tmp_path / "recorder" / "c.py").write_text("from addons.x import thing\n")
    (tmp_path / "addons" / "x.py").write_text("from . import y\n")
    (tmp_path / "addons" / "y.py").write_text("from .x import thing\n")
    edges = imports.graph(tmp_path)
    assert edges["recorder.a"] == {"recorder.b"} and edges["recorder.b"] == {"recorder.a"}
    assert sorted(imports.cycles(edges)) == [["addons.x", "addons.y"],
                                             ["recorder.a", "recorder.b"]]
    assert imports.upward(edges) == [("recorder.c", "addons.x")]
