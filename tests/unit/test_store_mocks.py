"""recorder/store/mocks.py: named mocks and environments on disk."""

import pytest

from recorder.errors import MockrecError, NotFound
from recorder.store.collection_store import CollectionStore
from recorder.store.mocks import EnvironmentStore, Mock, MockStore, hash_key, parse_assignments


@pytest.fixture
def data(tmp_path):
    CollectionStore(tmp_path).create("shop")
    return tmp_path


def test_a_mock_is_checked_before_it_is_saved(data):
    store = MockStore(data)
    with pytest.raises(NotFound):
        store.save(Mock(name="m", collection="nope"))
    with pytest.raises(MockrecError, match="port 70000"):
        store.save(Mock(name="m", collection="shop", port=70000))
    with pytest.raises(MockrecError, match="delay"):
        store.save(Mock(name="m", collection="shop", delay="4g"))
    with pytest.raises(NotFound):
        store.save(Mock(name="m", collection="shop", env="missing"))
    assert store.all() == []


def test_mocks_round_trip(data):
    store = MockStore(data)
    store.save(Mock(name="a", collection="shop", delay="3g", api_key_sha256=hash_key("k")))
    [m] = store.all()
    assert (m.name, m.delay, m.mock) == ("a", "3g", "a")
    assert m.api_key_sha256 == hash_key("k") and store.exists("a")
    store.delete("a")
    assert not store.exists("a")


def test_environments_merge_their_variables(data):
    envs = EnvironmentStore(data)
    envs.set("dev", {"a": "1"})
    assert envs.set("dev", {"b": "2"}) == {"a": "1", "b": "2"}
    assert envs.names() == ["dev"]
    envs.delete("dev")
    with pytest.raises(NotFound):
        envs.get("dev")


def test_assignments_are_key_equals_value():
    assert parse_assignments(["a=1", "b==2", "c="]) == {"a": "1", "b": "=2", "c": ""}
    with pytest.raises(MockrecError):
        parse_assignments(["novalue"])
