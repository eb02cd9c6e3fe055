"""Promote as a library: redaction, header hygiene, grouping, naming, templates."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from recorder.models import Collection, HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.promote.entries import (
    REDACTED,
    PromoteOptions,
    example_from_entry,
    promote,
    redact_header,
    redact_url,
)


def entry(i: int, method="GET", url="http://api.test/users/1", status=200, reason="OK",
          req_headers=(), resp_headers=(), body=b'{"ok": true}', req_body=b""):
    return HistoryEntry(
        id=i, request=HttpRequest(method, url, headers=list(req_headers), body=req_body),
        response=HttpResponse(status, reason, headers=list(resp_headers), body=body)
        if status else None,
        error=None if status else "refused", timings=Timings(1.0))


def ids_from(start=1):
    counter = iter(range(start, 10_000))
    return lambda n: [next(counter) for _ in range(n)]


@pytest.mark.parametrize("name, value, expected", [
    ("Authorization", "Bearer abc.def", f"Bearer {REDACTED}"),
    ("authorization", "opaque", REDACTED),
    ("Proxy-Authorization", "Basic dXNlcjpwdw==", f"Basic {REDACTED}"),
    ("Cookie", "sid=1; theme=dark", f"sid={REDACTED}; theme={REDACTED}"),
    ("Set-Cookie", "sid=abc; Path=/; HttpOnly", f"sid={REDACTED}; Path=/; HttpOnly"),
    ("X-Api-Key", "k-123", REDACTED),
])
def test_redact_header(name, value, expected):
    assert redact_header(name, value) == expected


def test_redact_url_only_touches_secret_parameters():
    counts: Counter[str] = Counter()
    url = "http://h/p?q=a%20b&api_key=s3cret&Token=t&page=2&key"
    assert redact_url(url, counts) == (
        f"http://h/p?q=a%20b&api_key={REDACTED}&Token={REDACTED}&page=2&key={REDACTED}")
    assert counts == {"query parameter api_key": 1, "query parameter Token": 1,
                      "query parameter key": 1}
    assert redact_url("http://h/p?page=2", counts) == "http://h/p?page=2"


def test_example_keeps_bytes_drops_volatile_headers_and_decodes():
    text = b"hello " * 100
    e = entry(7, req_headers=[("Authorization", "Bearer x"), ("Accept", "*/*")],
              resp_headers=[("Date", "Mon"), ("Content-Encoding", "gzip"), ("X-Keep", "1"),
                            ("Content-Length", "33"), ("Transfer-Encoding", "chunked"),
                            ("Connection", "keep-alive"), ("Set-Cookie", "a=1"),
                            ("Set-Cookie", "b=2")],
              body=gzip.compress(text), req_body=b"\x00\x01")
    counts: Counter[str] = Counter()
    example = example_from_entry(e, 1, "200 OK", keep_secrets=False, redacted=counts)
    assert example.response.body == text
    assert example.response.headers == [("X-Keep", "1"), ("Set-Cookie", f"a={REDACTED}"),
                                        ("Set-Cookie", f"b={REDACTED}")]
    assert example.request.headers == [("Authorization", f"Bearer {REDACTED}"),
                                       ("Accept", "*/*")]
    assert example.request.body == b"\x00\x01"
    assert example.source_entry == 7
    assert counts == {"Authorization header": 1, "Set-Cookie header": 2}
    kept = example_from_entry(e, 1, "x", keep_secrets=True, redacted=Counter())
    assert ("Authorization", "Bearer x") in kept.request.headers


def test_undecodable_body_keeps_its_encoding_header():
    e = entry(1, resp_headers=[("Content-Encoding", "gzip")], body=b"not gzip")
    example = example_from_entry(e, 1, "x", keep_secrets=False, redacted=Counter())
    assert example.response.body == b"not gzip"
    assert ("Content-Encoding", "gzip") in example.response.headers


def test_grouping_and_unique_names():
    c = Collection("c")
    result = promote([
        entry(1), entry(2), entry(3, status=404, reason="Not Found"),
        entry(4, method="POST"), entry(5, url="http://api.test/users/1?page=2"),
        entry(6, status=None),
    ], c, PromoteOptions(), ids_from())
    assert [r.name for r in c.requests] == ["GET /users/1", "POST /users/1"]
    assert [e.name for e in c.requests[0].examples] == [
        "200 OK", "200 OK (2)", "404 Not Found", "200 OK (3)"]
    assert c.requests[0].examples[3].request.url == "http://api.test/users/1?page=2"
    assert result.skipped == ["entry 6: no response (refused)"]
    assert [e.id for e in c.examples] == [1, 2, 3, 5, 4]  # examples listed by request


def test_promoting_again_adds_to_the_same_request():
    c = Collection("c")
    promote([entry(1)], c, PromoteOptions(), ids_from())
    result = promote([entry(2, body=b"changed")], c, PromoteOptions(example_name="again"),
                     ids_from(2))
    assert len(c.requests) == 1 and result.new_requests == []
    assert [e.name for e in c.requests[0].examples] == ["200 OK", "again"]


def test_template_and_inference():
    c = Collection("c")
    result = promote([entry(1, url="http://api.test/users/1"),
                      entry(2, url="http://api.test/users/2"),
                      entry(3, url="http://api.test/teams/2")],
                     c, PromoteOptions(template="/users/{{userId}}"), ids_from())
    assert [r.url for r in c.requests] == ["http://api.test/users/{{userId}}",
                                           "http://api.test/teams/2"]
    assert result.untemplated == 1
    c2 = Collection("c2")
    result = promote([entry(1, url="http://api.test/users/1/orders/a1b2c3d4"),
                      entry(2, url="http://api.test/users/2/orders/ffee0099")],
                     c2, PromoteOptions(infer_templates=True), ids_from())
    assert [r.url for r in c2.requests] == [
        "http://api.test/users/{{userId}}/orders/{{orderId}}"]
    assert result.inferred == {"/users/{{userId}}/orders/{{orderId}}": "/users/1/orders/a1b2c3d4"}
    assert len(c2.requests[0].examples) == 2


def test_promote_into_a_new_or_existing_collection_in_one_write(tmp_path):
    from recorder.errors import MockrecError
    from recorder.promote.entries import promote_into
    from recorder.store.collection_store import CollectionStore

    store = CollectionStore(tmp_path)
    first = promote_into(store, None, [entry(1, url="http://api.test/users/1")],
                         PromoteOptions(infer_templates=True))
    assert first.created and first.collection.startswith("promoted-")
    again = promote_into(store, first.collection, [entry(2, url="http://api.test/users/2")],
                         PromoteOptions(infer_templates=True))
    assert not again.created
    c = store.load(first.collection)
    assert [r.url for r in c.requests] == ["http://api.test/users/{{userId}}"]
    assert [e.id for e in c.examples] == [1, 2]
    with pytest.raises(MockrecError, match="must be a path"):
        promote_into(store, "shop", [entry(3)], PromoteOptions(template="users/{{id}}"))
    with pytest.raises(MockrecError, match="no entry had a response"):
        promote_into(store, "shop", [entry(4, status=None)], PromoteOptions())
    assert not store.exists("shop")  # nothing was written


# -- sequences ---------------------------------------------------------------------------

def cart(i: int, items: int, method="GET", url="http://api.test/cart", req_body=b""):
    return entry(i, method=method, url=url, req_body=req_body,
                 body=b'{"items": %d}' % items)


def positions(c: Collection) -> list[list[int | None]]:
    return [[e.sequence for e in r.examples] for r in c.requests]


def test_repeats_with_different_answers_become_a_sequence_in_history_order():
    c = Collection("c")
    result = promote([cart(1, 0), cart(2, 0, method="POST"), cart(3, 1),
                      cart(4, 1, method="POST", req_body=b"x"), cart(5, 2)],
                     c, PromoteOptions(), ids_from())
    get, post = c.requests
    assert [e.source_entry for e in get.examples] == [1, 3, 5]
    assert [e.sequence for e in get.examples] == [1, 2, 3]
    # two POSTs with different bodies are different requests: no sequence
    assert [e.sequence for e in post.examples] == [None, None]
    assert result.sequences == 1


def test_the_same_answer_each_time_is_no_sequence_and_no_sequence_turns_it_off():
    c = Collection("c")
    assert promote([cart(1, 0), cart(2, 0)], c, PromoteOptions(), ids_from()).sequences == 0
    assert positions(c) == [[None, None]]
    c = Collection("c")
    promote([cart(1, 0), cart(2, 1)], c, PromoteOptions(sequence=False), ids_from())
    assert positions(c) == [[None, None]]


def test_a_template_holds_one_sequence_per_concrete_request():
    c = Collection("c")
    promote([cart(1, 0, url="http://api.test/carts/1"), cart(2, 0, url="http://api.test/carts/2"),
             cart(3, 1, url="http://api.test/carts/1"), cart(4, 5, url="http://api.test/carts/2"),
             cart(5, 2, url="http://api.test/carts/1")],
            c, PromoteOptions(template="/carts/{{cartId}}"), ids_from())
    (request,) = c.requests
    assert [(e.request.url[-1], e.sequence) for e in request.examples] == [
        ("1", 1), ("2", 1), ("1", 2), ("2", 2), ("1", 3)]
    c = Collection("c")
    promote([cart(1, 0, url="http://api.test/carts/7"), cart(2, 1, url="http://api.test/carts/7")],
            c, PromoteOptions(infer_templates=True), ids_from())
    assert c.requests[0].url.endswith("/carts/{{cartId}}") and positions(c) == [[1, 2]]


def test_a_later_promote_appends_to_the_sequence():
    c = Collection("c")
    promote([cart(1, 0), cart(2, 1)], c, PromoteOptions(), ids_from())
    result = promote([cart(3, 2), cart(4, 2)], c, PromoteOptions(), ids_from(3))
    assert positions(c) == [[1, 2, 3, 4]] and result.sequences == 1
    # one example first, a different answer later: both runs make the sequence
    c = Collection("c")
    promote([cart(1, 0)], c, PromoteOptions(), ids_from())
    promote([cart(2, 1)], c, PromoteOptions(), ids_from(2))
    assert positions(c) == [[1, 2]]


def test_hand_written_examples_stay_out_of_a_sequence():
    c = Collection("c")
    promote([cart(1, 0)], c, PromoteOptions(), ids_from())
    c.requests[0].examples[0].source_entry = None  # as `example add` writes them
    promote([cart(2, 1), cart(3, 2)], c, PromoteOptions(), ids_from(2))
    assert positions(c) == [[None, 1, 2]]

def test_secrets_echoed_in_the_response_body_are_redacted_and_counted():
    """httpbin's /anything echoes the Authorization header: the example must not keep it."""
    echoed = (b'{"headers": {"Authorization": "Bearer sekret123", "Cookie": "sid=c00kie99"}, '
              b'"url": "http://api.test/a?api_key=k3y-abc%2F1&page=2", "args": '
              b'{"api_key": "k3y-abc/1"}, "short": "abc", "n": 1}')
    e = entry(1, url="http://api.test/a?api_key=k3y-abc%2F1&page=2&key=abc",
              req_headers=[("Authorization", "Bearer sekret123"), ("Cookie", "sid=c00kie99")],
              resp_headers=[("Content-Encoding", "gzip")], body=gzip.compress(echoed))
    collection = Collection(name="c")
    result = promote([e], collection, PromoteOptions(), ids_from())
    body = collection.examples[0].response.body
    for secret in (b"sekret123", b"c00kie99", b"k3y-abc"):
        assert secret not in body
    assert b'"Authorization": "Bearer {{REDACTED}}"' in body
    assert b'"short": "abc"' in body  # too short to be told from any word: left alone
    assert result.redacted["echoed"] == 4
    assert "4 secrets echoed in response bodies" in result.redaction_summary()
    kept = promote([e], Collection(name="k"), PromoteOptions(keep_secrets=True), ids_from())
    assert kept.examples[0].response.body == echoed and not kept.redacted


def reverse(e: HistoryEntry, upstream: str = "http://api.test") -> HistoryEntry:
    e.notes["reverse"] = upstream
    return e


def test_entries_of_one_reverse_upstream_make_it_the_collections_base_url():
    c = Collection("c")
    result = promote([reverse(entry(1, url="http://api.test/users/1?x=1")),
                      reverse(entry(2, url="http://api.test/orders"))],
                     c, PromoteOptions(), ids_from())
    assert result.base_url == "http://api.test" and c.variables == {"baseUrl": "http://api.test"}
    assert [r.url for r in c.requests] == ["{{baseUrl}}/users/1", "{{baseUrl}}/orders"]
    assert [r.name for r in c.requests] == ["GET /users/1", "GET /orders"]
    assert c.requests[0].examples[0].request.url == "{{baseUrl}}/users/1?x=1"
    # forward-proxy entries, or several upstreams: absolute URLs, no baseUrl
    for entries in ([entry(3)], [reverse(entry(4)), reverse(entry(5), "http://other.test")]):
        other = Collection("o")
        assert promote(entries, other, PromoteOptions(), ids_from()).base_url is None
        assert other.variables == {} and other.requests[0].url.startswith("http://")
    # a collection whose baseUrl is another upstream keeps it, and gets absolute URLs
    taken = Collection("t", variables={"baseUrl": "https://elsewhere.test"})
    promote([reverse(entry(6))], taken, PromoteOptions(), ids_from())
    assert taken.variables["baseUrl"] == "https://elsewhere.test"
    assert taken.requests[0].url == "http://api.test/users/1"


def test_promoting_the_same_entries_again_adds_nothing():
    c = Collection("c")
    entries = [reverse(entry(1)), reverse(entry(2, body=b"other")),
               reverse(entry(3, method="POST", status=201, reason="Created", req_body=b"{}"))]
    first = promote(entries, c, PromoteOptions(), ids_from())
    assert len(first.examples) == 3 and first.duplicates == 0
    again = promote([*entries, reverse(entry(4, body=b"new"))], c, PromoteOptions(),
                    ids_from(10))
    assert again.duplicates == 3 and [e.id for e in again.examples] == [10]
    assert [e.name for e in c.requests[0].examples] == ["200 OK", "200 OK (2)", "200 OK (3)"]
    kept = promote(entries[:1], c, PromoteOptions(allow_duplicates=True), ids_from(20))
    assert kept.duplicates == 0 and [e.id for e in kept.examples] == [20]
    # a different request body or response header is a different example
    changed = promote([reverse(entry(5, resp_headers=[("X-V", "2")]))], c, PromoteOptions(),
                      ids_from(30))
    assert changed.duplicates == 0 and len(changed.examples) == 1


def test_one_endpoint_is_one_request_however_its_entries_were_recorded():
    """Forward-proxy entries promoted into a collection whose baseUrl is their origin, or
    reverse entries into one that already holds the endpoint's absolute URL, join the
    request that stands: the same endpoint is never held under two URL forms."""
    c = Collection("c")
    promote([reverse(entry(1))], c, PromoteOptions(), ids_from())
    assert [r.url for r in c.requests] == ["{{baseUrl}}/users/1"]
    forward = promote([entry(2), entry(3, body=b"other")], c, PromoteOptions(), ids_from(10))
    assert forward.base_url is None and forward.duplicates == 1  # entry 2 stands already
    assert [r.url for r in c.requests] == ["{{baseUrl}}/users/1"]
    assert [e.request.url for e in c.requests[0].examples] == ["{{baseUrl}}/users/1"] * 2
    # a mixed batch (no common upstream) into that collection: still one request
    mixed = promote([reverse(entry(4, body=b"third")), entry(5, url="http://api.test/orders")],
                    c, PromoteOptions(), ids_from(20))
    assert [r.url for r in c.requests] == ["{{baseUrl}}/users/1", "{{baseUrl}}/orders"]
    assert len(mixed.examples) == 2 and len(c.requests[0].examples) == 3
    # forward entries first (absolute URLs), then a reverse batch sets baseUrl
    old = Collection("old")
    promote([entry(6)], old, PromoteOptions(), ids_from(30))
    again = promote([reverse(entry(7)), reverse(entry(8, body=b"new"))], old,
                    PromoteOptions(), ids_from(40))
    assert again.base_url == "http://api.test" and again.duplicates == 1
    assert [r.url for r in old.requests] == ["http://api.test/users/1"]
    assert [e.request.url for e in old.requests[0].examples] == [
        "http://api.test/users/1", "{{baseUrl}}/users/1"]
    # another host stays absolute, its own request
    promote([entry(9, url="http://other.test/users/1")], old, PromoteOptions(), ids_from(50))
    assert [r.url for r in old.requests] == ["http://api.test/users/1",
                                             "http://other.test/users/1"]


def test_summaries_count_in_good_english():
    from recorder.promote.entries import PromoteResult
    from recorder.views import promote_text

    result = PromoteResult(redacted=Counter({"Set-Cookie header": 2, "Authorization header": 1,
                                             "query parameter key": 1,
                                             "query parameter token": 3}))
    assert result.redaction_summary() == (
        "redacted 1 Authorization header, 2 Set-Cookie headers, 1 query parameter key, "
        f"3 values of query parameter token (as {REDACTED}; --keep-secrets keeps them)")
    result.untemplated = 1
    text = promote_text("shop", True, result, Path("shop.json"))
    assert text.startswith("created collection shop (shop.json): 0 examples, 0 new requests")
    assert "1 entry did not fit --template and keeps its path" in text


@pytest.mark.parametrize("url, path", [
    ("{{baseUrl}}/users/1?x=1", "/users/1"), ("{{baseUrl}}//api/users", "//api/users"),
    ("{{baseUrl}}", "/"), ("http://api.test/a/b?c", "/a/b"), ("http://[::1/x?y", "/x"),
])
def test_the_path_an_example_url_names(url, path):
    from recorder.promote.entries import example_path
    assert example_path(url) == path


def test_a_promoted_example_fills_the_path_variables_of_its_inferred_template():
    """`promote --infer-templates` prints `/users/{{userId}}`; `{{userId}}` written into
    the promoted example's body is the requested user's id, as for an example added by
    hand with `/users/{{userId}}`."""
    from recorder.match.matcher import Incoming, Matcher
    from recorder.serve.templating import fill

    c = Collection("c")
    promote([entry(1, url="http://api.test/anything/users/42")], c,
            PromoteOptions(infer_templates=True), ids_from())
    example = c.requests[0].examples[0]
    assert c.requests[0].url == "http://api.test/anything/users/{{userId}}"
    assert example.request.url == "http://api.test/anything/users/42"  # kept concrete
    example.response.body = b'{"captured": "{{userId}}"}'  # as `example edit` would
    incoming = Incoming.from_target("GET", "/anything/users/99", [], b"")
    match = Matcher(c).match(incoming).match
    assert match is not None and match.example is example
    assert fill(example.response.body, incoming, match.captures) == b'{"captured": "99"}'


def test_a_streamed_entry_promotes_with_its_parts_and_their_secrets_redacted():
    from recorder.streams import Stream

    body = b'data: {"echo": "tok-42"}\n\ndata: [DONE]\n\n'
    streamed = entry(1, req_headers=[("Authorization", "Bearer tok-42")],
                     resp_headers=[("Content-Type", "text/event-stream"),
                                   ("Transfer-Encoding", "chunked")], body=body)
    streamed.response.stream = Stream([(0, 26), (310, 14)], cut=True)
    example = example_from_entry(streamed, 1, "ok", keep_secrets=False, redacted=Counter())
    pieces = example.response.stream.pieces(example.response.body)
    assert [offset for offset, _ in pieces] == [0, 310]
    assert b"tok-42" not in example.response.body and pieces[1][1] == b"data: [DONE]\n\n"
    assert example.response.stream.cut is True
    assert ("Transfer-Encoding", "chunked") not in example.response.headers
    kept = example_from_entry(streamed, 1, "ok", keep_secrets=True, redacted=Counter())
    assert (kept.response.body, kept.response.stream) == (body, streamed.response.stream)
