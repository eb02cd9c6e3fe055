"""The collection a mock serves (recorder/serve/examples.py): opened from the settings,
read again when one of its files changes, kept when an edit cannot be read."""

from __future__ import annotations

import pytest

from recorder.cli import main
from recorder.errors import NotFound
from recorder.match.matcher import Incoming
from recorder.serve.examples import Served
from recorder.serve.responder import Responder
from recorder.settings import ReplaySettings
from recorder.store.collection_store import CollectionStore


def add(data, path: str, body: str) -> None:
    assert main(["--data-dir", str(data), "example", "add", "--collection", "c", "GET",
                 path, "--body", body]) == 0


def matched(served: Served, path: str) -> bool:
    """Is `path` answered by its own example (added with its path as the body)?"""
    matcher = served.responder.matcher
    if matcher is None:
        return False
    found = matcher.match(Incoming("GET", path), served.responder.config.match).match
    return found is not None and found.example.response.body == path.encode()


def test_an_edit_is_read_once_a_round_and_a_broken_one_keeps_the_examples(tmp_path, caplog):
    data = tmp_path / "data"
    add(data, "/a", "/a")
    served = Served(Responder())
    served.open(data, ReplaySettings(collection="c"), answers=True)
    assert served.collection.name == "c" and matched(served, "/a")
    add(data, "/b", "/b")
    served.refresh(7, answers=True)
    assert matched(served, "/b")
    add(data, "/c", "/c")
    served.refresh(7, answers=True)  # the same round: not looked at again
    assert not matched(served, "/c")
    served.refresh(8, answers=True)
    assert matched(served, "/c")
    CollectionStore(data).path("c").write_text("{ broken")
    served.refresh(9, answers=True)
    assert matched(served, "/c") and "keeping the examples loaded before" in caplog.text


def test_a_missing_collection_is_not_found_when_answering_and_watched_when_recording(
        tmp_path):
    data = tmp_path / "data"
    served = Served(Responder())
    with pytest.raises(NotFound, match="create it first"):
        served.open(data, ReplaySettings(collection="c"), answers=True)
    served.open(data, ReplaySettings(collection="c"), answers=False)
    assert served.responder.matcher is None
    add(data, "/a", "/a")
    served.refresh(None, answers=False)
    assert matched(served, "/a")
    served.open(data, ReplaySettings(), answers=True)  # none named: no examples
    assert served.collection is None and served.responder.matcher is None
