"""`mockrec import` into what already exists, and `mockrec export -o`, in-process."""

from __future__ import annotations

import os
import stat

import pytest
from conftest import FIXTURES

from recorder.errors import ExitStatus
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore

PETSTORE = FIXTURES / "postman-petstoreGeneratedCollection.postman_collection.json"
ECHO = FIXTURES / "postman-echo-v2.0.0.postman_collection.json"
OPENAPI = FIXTURES / "openapi-oai-api-with-examples.yaml"
HAR = FIXTURES / "har-mitmproxy-firefox.har"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_export_to_a_file_follows_the_umask(tmp_path, cli, umask, mode):
    data = tmp_path / "data"
    assert cli("import", "postman", PETSTORE, "--collection", "pets",
               data_dir=data).exit_code == 0
    target = tmp_path / "pets.postman_collection.json"
    old = os.umask(umask)
    try:
        result = cli("export", "postman", "pets", "-o", target, data_dir=data)
    finally:
        os.umask(old)
    assert result.exit_code == 0 and result.stdout == f"wrote {target}\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    # the data dir's own files stay private whatever the umask
    assert stat.S_IMODE(CollectionStore(data).path("pets").stat().st_mode) == 0o600


def test_import_postman_merge_and_replace(tmp_path, cli):
    data = tmp_path / "data"
    store = CollectionStore(data)
    first = cli("import", "postman", PETSTORE, "--collection", "shop", data_dir=data)
    assert first.exit_code == 0 and "4 requests, 7 examples" in first.stdout
    ids = sorted(e.id for e in store.load("shop").examples)
    again = cli("import", "postman", PETSTORE, "--collection", "shop", data_dir=data)
    assert again.exit_code == ExitStatus.ERROR
    assert "--merge" in again.stderr and "--replace" in again.stderr
    same = cli("import", "postman", PETSTORE, "--collection", "shop", "--merge", data_dir=data)
    assert same.exit_code == 0, same
    assert "added 0 requests and 0 examples, skipped 7 duplicate examples" in same.stdout
    assert sorted(e.id for e in store.load("shop").examples) == ids  # nothing doubled
    more = cli("import", "postman", ECHO, "--collection", "shop", "--merge", data_dir=data)
    # two of echo's requests share a method and URL: they become one request
    assert more.exit_code == 0 and "into collection shop (added 22 requests and 11 examples"\
        in more.stdout
    merged = store.load("shop")
    assert (len(merged.requests), len(merged.examples)) == (26, 18)
    assert len({e.id for e in merged.examples}) == 18 and set(ids) < {e.id for e in
                                                                      merged.examples}
    replaced = cli("import", "openapi", OPENAPI, "--collection", "shop", "--replace",
                   data_dir=data)
    assert replaced.exit_code == 0 and "as collection shop (replaced)" in replaced.stdout
    assert [r.url for r in store.load("shop").requests] == [
        r.url for r in _fresh_openapi(tmp_path, cli).requests]
    both = cli("import", "openapi", OPENAPI, "--collection", "shop", "--merge", "--replace",
               data_dir=data)
    assert both.exit_code == ExitStatus.USAGE and "exclude each other" in both.stderr


def _fresh_openapi(tmp_path, cli):
    other = tmp_path / "other"
    assert cli("import", "openapi", OPENAPI, "--collection", "x", data_dir=other).exit_code == 0
    return CollectionStore(other).load("x")


def test_importing_a_har_twice_skips_what_is_already_there(tmp_path, cli):
    data = tmp_path / "data"
    first = cli("import", "har", HAR, data_dir=data)
    assert first.exit_code == 0 and first.stderr == ""
    count = HistoryStore(data).count()
    assert count > 1 and f"imported {count} entries" in first.stdout
    second = cli("import", "har", HAR, data_dir=data)
    assert second.exit_code == 0
    assert second.stderr == (f"mockrec: warning: skipped {count} entries of {HAR} already in "
                             "the history (imported before?); --allow-duplicates imports them "
                             "again\n")
    assert "imported nothing" in second.stdout and HistoryStore(data).count() == count
    forced = cli("import", "har", HAR, "--allow-duplicates", data_dir=data)
    assert forced.exit_code == 0 and HistoryStore(data).count() == 2 * count
