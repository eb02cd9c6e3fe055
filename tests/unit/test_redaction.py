"""What the history and the call log keep of secrets (recorder/redaction.py)."""

from __future__ import annotations

import gzip
import json
from urllib.parse import quote

from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.redaction import REDACTED, Redaction, key_placeholder, redact_key_fields

KEY, TOKEN, QUERY_KEY = "mrk_private-key-42", "tok-0123456789", "qs-secret-1"


def echoing_entry(coding: str = "") -> HistoryEntry:
    """An upstream (httpbin's /anything) that echoes the request's secrets."""
    headers = [("x-api-key", KEY), ("Authorization", f"Bearer {TOKEN}"), ("Accept", "*/*")]
    body = json.dumps({"headers": dict(headers), "args": {"api_key": QUERY_KEY}}).encode()
    response_headers = [("Content-Type", "application/json")]
    if coding:
        body = gzip.compress(body)
        response_headers.append(("Content-Encoding", coding))
    response_headers.append(("Content-Length", str(len(body))))
    return HistoryEntry(
        request=HttpRequest("GET", f"http://api.test/anything?api_key={QUERY_KEY}&page=2",
                            headers=headers),
        timings=Timings(start=1.0),
        response=HttpResponse(200, "OK", headers=response_headers, body=body,
                              body_size=len(body)))


def stored(entry: HistoryEntry) -> bytes:
    response = entry.response
    return json.dumps([entry.request.url, entry.request.headers, response.headers]).encode() + \
        response.body


def test_record_redact_replaces_secrets_the_upstream_echoes_in_its_body():
    entry = Redaction(secrets=True).apply(echoing_entry())
    kept = stored(entry)
    for secret in (KEY, TOKEN, QUERY_KEY):
        assert secret.encode() not in kept, secret
    doc = json.loads(entry.response.body)
    assert doc["headers"]["Authorization"] == f"Bearer {REDACTED}"
    assert doc["args"]["api_key"] == REDACTED
    assert entry.response.header("content-length") == str(len(entry.response.body))


def test_record_redact_looks_into_a_compressed_echo_too():
    entry = Redaction(secrets=True).apply(echoing_entry("gzip"))
    assert entry.response.header("content-encoding") is None  # stored decoded, redacted
    assert entry.response.header("content-length") == str(len(entry.response.body))
    body = entry.response.body
    assert json.loads(body)["args"]["api_key"] == REDACTED
    assert all(s.encode() not in body for s in (KEY, TOKEN, QUERY_KEY))


def test_a_private_mocks_call_log_keeps_other_keys_as_a_hash_prefix():
    entry = Redaction(api_key=True).apply(echoing_entry())
    headers = dict(entry.request.headers)
    assert headers["x-api-key"] == key_placeholder(KEY)
    assert headers["Authorization"] == f"Bearer {key_placeholder(TOKEN)}"
    hashed = quote(key_placeholder(QUERY_KEY), safe="[]:")
    assert entry.request.url == f"http://api.test/anything?api_key={hashed}&page=2"
    assert headers["Accept"] == "*/*"
    # the same for the calls the admin API shows (kept in memory, as mitmproxy's fields)
    fields = redact_key_fields([(b"Authorization", f"Basic {TOKEN}".encode()),
                                (b"X-Api-Key", KEY.encode()), (b"Accept", b"*/*")])
    assert fields == ((b"Authorization", f"Basic {key_placeholder(TOKEN)}".encode()),
                      (b"X-Api-Key", key_placeholder(KEY).encode()), (b"Accept", b"*/*"))
