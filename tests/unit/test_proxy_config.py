"""What a proxy starts with: the upstream a collection remembers."""

from __future__ import annotations

import pytest

from recorder.proxy.config import remembered_upstream

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


@pytest.mark.parametrize("base, upstream", [
    ("http://localhost:3000", "http://localhost:3000"),
    ("https://api.example.com/", "https://api.example.com"),
    # a base path (Adyen's, Petstore's): it is in the paths clients send to the mock URL
    ("https://api.example.com/v2", "https://api.example.com/v2"),
    ("https://api.example.com/v2?x=1", None),
    ("{{host}}", None), ("https://{{host}}", None), ("/v1", None), ("ftp://x.test", None),
    ("http://x.test:99999", None), ("", None), ("http://[::1", None), (8080, None),
])
def test_the_upstream_a_collection_remembers(base, upstream):
    assert remembered_upstream({"baseUrl": base}) == upstream
    assert remembered_upstream({}) is None
