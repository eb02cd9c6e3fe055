"""Postman's matching algorithm, step by step, with SPEC's numbers."""

from __future__ import annotations

import pytest

from recorder.match.matcher import (
    Incoming,
    Matcher,
    MatchSettings,
    example_path_and_query,
    path_score,
    query_score,
)
from recorder.match.similar import similarity
from recorder.match.templates import split
from recorder.models import Collection, Example, ExampleRequest, ExampleResponse, Request


def collection(*specs, variables=None) -> Collection:
    """specs: (id, method, url, status, name[, body, headers])."""
    c = Collection("c", variables=variables or {})
    for n, (example_id, method, url, status, name, *rest) in enumerate(specs, start=1):
        body = rest[0] if rest else b""
        headers = rest[1] if len(rest) > 1 else []
        c.requests.append(Request(n, f"{method} {url}", method, url, examples=[
            Example(example_id, name, ExampleRequest(method, url, headers, body),
                    ExampleResponse(status, "", [], f"example {example_id}".encode()))]))
    return c


def ask(matcher: Matcher, method: str, target: str, headers=(), body=b"", **settings):
    outcome = matcher.match(Incoming.from_target(method, target, list(headers), body),
                            MatchSettings(**settings))
    return outcome.match.example.id if outcome.match else None


@pytest.mark.parametrize("template, path, score, step", [
    ("/users/1", "/users/1", 100, "exact"),
    ("/users/1/", "/users/1", 95, "trailing slash"),
    ("/users/1", "/users/1/", 95, "trailing slash"),
    ("/Users/1", "/users/1", 90, "case"),
    ("/Users/1/", "/users/1", 85, "trailing slash and case"),
    ("/users/{{userId}}", "/users/7", 80, "wildcards"),
    ("/users/:userId", "/users/7", 80, "wildcards"),
    ("/users/12", "/users/7", 79, "ID-like segments"),
    ("/orders/7f3c9e1a-0b2d-4c5e-8f9a-1b2c3d4e5f60", "/orders/9a8b7c6d-0b2d-4c5e-8f9a-1b2c3d4e5f60",
     79, "ID-like segments"),
    ("/users/12/", "/users/7", 75, "trailing slash and IDs"),
    ("/customers/profile", "/customers/profiles", 70, "similar path"),
    # the README's own example: a typo is still served by the similar-path step
    ("/users/1", "/userz/1", 70, "similar path"),
    # a trailing slash is forgiven with wildcards too, for 5 more (20 + 5)
    ("/users/{{id}}", "/users/5/", 75, "trailing slash and wildcards"),
    ("/users/{{id}}/", "/users/5", 75, "trailing slash and wildcards"),
    ("/users/:id/posts", "/users/5/posts/", 75, "trailing slash and wildcards"),
])
def test_path_steps(template, path, score, step):
    assert path_score(split(template), split(path))[:2] == (score, step)


@pytest.mark.parametrize("template, path", [
    ("/users/1", "/orders/1"), ("/users/{{userId}}", "/users"), ("/a/b/c", "/x/y"),
])
def test_path_misses(template, path):
    assert path_score(split(template), split(path)) is None


def test_strict_stops_after_wildcards():
    assert path_score(split("/users/{{id}}"), split("/users/7"), strict=True)[0] == 80
    assert path_score(split("/users/{{id}}"), split("/users/7/"), strict=True)[0] == 75
    assert path_score(split("/users/12"), split("/users/7"), strict=True) is None


def test_wildcards_capture():
    assert path_score(split("/users/{{userId}}/posts/:postId"),
                      split("/users/7/posts/9"))[2] == {"userId": "7", "postId": "9"}


@pytest.mark.parametrize("expected, actual, score", [
    ([], [], 10),
    ([("a", "1")], [("a", "1")], 10),
    ([("a", "1"), ("b", "2")], [("b", "2"), ("a", "1")], 10),
    ([("a", "1"), ("b", "2")], [("a", "1"), ("b", "x")], 5),
    ([("a", "1"), ("b", "2")], [("a", "1")], 5),
    ([("a", "1")], [("a", "1"), ("c", "3")], 5),
    ([("a", "1"), ("b", "2"), ("c", "3")], [("a", "1"), ("b", "x")], 10 / 3),
    ([("a", "1")], [("a", "2")], 0),
    ([("a", "1"), ("b", "2")], [], -2),
    ([(f"k{i}", "v") for i in range(12)], [], -10),
    ([("A", "1")], [("a", "1")], -2),  # keys are case-sensitive
    ([("key", "{{REDACTED}}")], [("key", "anything")], 10),
])
def test_query_score(expected, actual, score):
    assert query_score(expected, actual) == pytest.approx(score)


def test_method_first():
    m = Matcher(collection((1, "GET", "/users", 200, "a"), (2, "POST", "/users", 201, "b")))
    assert ask(m, "POST", "/users") == 2
    assert ask(m, "GET", "/users") == 1
    assert ask(m, "PUT", "/users") is None


def test_response_code_header_keeps_that_status():
    m = Matcher(collection((1, "GET", "/u", 200, "ok"), (2, "GET", "/u", 500, "boom")))
    assert ask(m, "GET", "/u") == 1
    assert ask(m, "GET", "/u", [("x-mock-response-code", "500")]) == 2
    assert ask(m, "GET", "/u", [("x-mock-response-code", "404")]) is None


def test_wildcard_captures_survive_a_trailing_slash():
    assert path_score(split("/users/{{userId}}"), split("/users/7/"))[2] == {"userId": "7"}
    assert path_score(split("/users/{{userId}}"), split("/users//")) is None
    # Postman sends an empty segment for a `:name` whose value is empty
    assert path_score(split("/stores/:id/settings"), split("/stores//settings"))[2] == \
        {"id": ""}


def test_response_id_and_name_pick_at_once():
    m = Matcher(collection((1, "GET", "/u", 200, "ok"), (2, "GET", "/other", 500, "boom"),
                           (3, "GET", "/x", 201, "boom"), (4, "POST", "/u", 200, "post")))
    assert ask(m, "GET", "/anything", [("X-Mock-Response-Id", "2")]) == 2
    assert ask(m, "GET", "/u", [("x-mock-response-id", "4")]) is None  # a POST example
    assert ask(m, "GET", "/u", [("x-mock-response-id", "99")]) is None
    # several with that name: lowest id with status 200, else lowest id
    assert ask(m, "GET", "/nowhere", [("x-mock-response-name", "boom")]) == 2
    m2 = Matcher(collection((5, "GET", "/a", 500, "n"), (6, "GET", "/b", 200, "n"),
                            (7, "GET", "/c", 200, "n")))
    assert ask(m2, "GET", "/", [("x-mock-response-name", "n")]) == 6
    assert ask(m2, "GET", "/", [("x-mock-response-name", "missing")]) is None


def test_highest_score_wins_then_200_then_lowest_id():
    m = Matcher(collection((1, "GET", "/users/{{id}}", 200, "wild"),
                           (2, "GET", "/users/7", 200, "exact"),
                           (3, "GET", "/users/7", 404, "exact 404")))
    assert ask(m, "GET", "/users/7") == 2
    m = Matcher(collection((5, "GET", "/a", 404, "x"), (4, "GET", "/a", 200, "y"),
                           (3, "GET", "/a", 200, "z")))
    assert ask(m, "GET", "/a") == 3


def test_query_breaks_path_ties():
    m = Matcher(collection((1, "GET", "/search?q=cats", 200, "cats"),
                           (2, "GET", "/search?q=dogs", 200, "dogs")))
    assert ask(m, "GET", "/search?q=dogs") == 2
    assert ask(m, "GET", "/search?q=cats") == 1


def test_a_lower_path_step_with_a_better_query_can_win():
    """The index must not hide it: case step, 11 missing keys: 90 - 10 + 5 = 85;
    wildcard step, all keys match: 80 + 10 + 5 = 95."""
    many = "&".join(f"k{i}=v" for i in range(11))
    m = Matcher(collection((1, "GET", f"/Items/5?{many}", 200, "case"),
                           (2, "GET", "/items/{{id}}", 200, "wild")))
    assert ask(m, "GET", "/items/5") == 2
    # and a tie goes to the lower id: exact path, 11 missing: 100 - 10 + 5 = 95
    m = Matcher(collection((1, "GET", f"/items/5?{many}", 200, "exact"),
                           (2, "GET", "/items/{{id}}", 200, "wild")))
    assert ask(m, "GET", "/items/5") == 1


def test_equal_body_adds_five_and_matching_can_require_it():
    m = Matcher(collection(
        (1, "POST", "/pay", 200, "card", b'{"method": "card", "amount": 5}',
         [("Content-Type", "application/json")]),
        (2, "POST", "/pay", 200, "ideal", b'{"method": "ideal"}',
         [("Content-Type", "application/json")])))
    json_type = [("Content-Type", "application/json")]
    assert ask(m, "POST", "/pay", json_type, b'{"method":"ideal"}') == 2  # parsed JSON
    assert ask(m, "POST", "/pay", json_type, b'{"amount": 5, "method": "card"}') == 1
    assert ask(m, "POST", "/pay", json_type, b'{"method": "other"}') == 1
    assert ask(m, "POST", "/pay", json_type, b'{"method": "other"}', match_body=True) is None
    assert ask(m, "POST", "/pay", [*json_type, ("x-mock-match-request-body", "true")],
               b'{"method": "other"}') is None


def test_form_bodies_compare_as_pairs():
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    m = Matcher(collection((1, "POST", "/f", 200, "a", b"a=1&b=2", form),
                           (2, "POST", "/f", 200, "b", b"a=9", form)))
    assert ask(m, "POST", "/f", form, b"b=2&a=1", match_body=True) == 1


def test_header_matching():
    m = Matcher(collection((1, "GET", "/h", 200, "en", b"", [("Accept-Language", "en")]),
                           (2, "GET", "/h", 200, "fr", b"", [("Accept-Language", "fr")])))
    ask_fr = [("accept-language", "fr"), ("x-mock-match-request-headers", "Accept-Language")]
    assert ask(m, "GET", "/h", ask_fr) == 2
    assert ask(m, "GET", "/h", [("Accept-Language", "de")], match_headers=["accept-language"]) \
        is None


def test_variables_resolve_and_unknown_ones_are_wildcards():
    m = Matcher(collection((1, "GET", "{{baseUrl}}/users/{{userId}}", 200, "u"),
                           (2, "GET", "{{host}}/v/{{version}}/x", 200, "v"),
                           variables={"version": "2"}))
    assert ask(m, "GET", "/users/42") == 1
    assert ask(m, "GET", "/v/2/x") == 2
    assert ask(m, "GET", "/v/beta/x") is None  # "/v/3/x" would match: IDs look alike


@pytest.mark.parametrize("url, path, query", [
    ("{{baseUrl}}/users?x=1", "/users", [("x", "1")]),
    ("https://api.test:8443/a/b", "/a/b", []),
    ("https://api.test", "/", []),
    ("/local", "/local", []),
    ("{{baseUrl}}", "/", []),
])
def test_example_path_and_query(url, path, query):
    assert example_path_and_query(url) == (path, query)


def test_not_found_details_name_the_closest_examples_and_their_step():
    m = Matcher(collection((1, "GET", "/users/1", 200, "one"), (2, "GET", "/orders", 200, "o"),
                           (3, "POST", "/userz/1", 201, "post"),
                           (4, "GET", "/users/1", 500, "bad")))
    outcome = m.match(Incoming.from_target("GET", "/userz/1/x", [], b""))
    assert outcome.match is None
    details = outcome.details()
    assert len(details) == 3
    assert details[0]["step"] == "path" and details[0]["id"] in (1, 4)
    coded = m.match(Incoming.from_target("GET", "/users/1", [("x-mock-response-code", "201")],
                                         b""))
    assert {d["step"] for d in coded.details()} >= {"x-mock-response-code"}
    method = m.match(Incoming.from_target("DELETE", "/users/1", [], b""))
    assert method.details()[0]["step"] == "method"


def test_similarity():
    assert similarity("abc", "abc") == 1
    assert similarity("customers/profile", "customers/profiles") == pytest.approx(1 - 1 / 18)


def test_ten_thousand_examples_are_indexed():
    c = collection(*[(i, "GET", f"/items/{i}", 200, f"item {i}") for i in range(1, 10_001)])
    m = Matcher(c)
    assert ask(m, "GET", "/items/9999") == 9999
    assert ask(m, "GET", "/items/123456") == 1  # ID-like: all tie at 79 + 10 + 5, lowest id


def test_the_environment_wins_over_the_collection():
    c = collection((1, "GET", "/{{version}}/x", 200, "x"), variables={"version": "v1"})
    assert ask(Matcher(c), "GET", "/v1/x") == 1
    env = Matcher(c, {"version": "v2"})
    assert env.variables["version"] == "v2"
    assert ask(env, "GET", "/v2/x") == 1 and ask(env, "GET", "/v1/x") is None


def test_a_target_is_a_path_and_a_query_whatever_it_looks_like():
    incoming = Incoming.from_target("get", "//[host/x?a=1&b=#frag", [], b"")
    assert (incoming.method, incoming.path, incoming.query) == (
        "GET", "//[host/x", [("a", "1"), ("b", "")])
    assert Incoming.from_target("GET", "", [], b"").path == "/"


# -- Postman fidelity: one table per documented rule, request in, example chosen out ---------

def postman_collection(*specs, variables=None) -> Collection:
    """specs: (id, postman_id, method, url, status, name[, body, headers, language])."""
    c = Collection("p", variables=variables or {})
    for n, (example_id, postman_id, method, url, status, name, *rest) in enumerate(specs, 1):
        body = rest[0] if rest else b""
        headers = rest[1] if len(rest) > 1 else []
        language = rest[2] if len(rest) > 2 else ""
        c.requests.append(Request(n, f"{method} {url}", method, url, examples=[
            Example(example_id, name, ExampleRequest(method, url, headers, body, language),
                    ExampleResponse(status, "", [], f"example {example_id}".encode()),
                    postman_id=postman_id)]))
    return c


PRECEDENCE = Matcher(postman_collection(
    (1, "8f1c-a", "GET", "/users/1", 200, "ok"),
    (2, "8f1c-b", "GET", "/users/1", 404, "missing"),
    (3, None, "GET", "/users/1", 500, "missing"),
    (4, "8f1c-d", "POST", "/users", 201, "made"),
))


@pytest.mark.parametrize("headers, chosen", [
    ([("x-mock-response-id", "8f1c-b")], 2),  # Postman's own id, kept on import
    ([("x-mock-response-id", "12345678-8f1c-b")], 2),  # Postman's UID: <owner>-<id>
    ([("x-mock-response-id", "3")], 3),  # mockrec's integer ids keep working
    ([("x-mock-response-id", "nope")], None),
    ([("x-mock-response-id", "8f1c-d")], None),  # a POST example: the method comes first
    # x-mock-response-code filters before the id and the name pick
    ([("x-mock-response-code", "404"), ("x-mock-response-id", "8f1c-a")], None),
    ([("x-mock-response-code", "200"), ("x-mock-response-id", "8f1c-a")], 1),
    ([("x-mock-response-code", "500"), ("x-mock-response-name", "missing")], 3),
    ([("x-mock-response-code", "200"), ("x-mock-response-name", "missing")], None),
    # a name held by several: none with 200, so Postman's order: its ids, then ours
    ([("x-mock-response-name", "missing")], 2),
    ([("x-mock-response-code", "404")], 2),
    ([], 1),
])
def test_header_precedence(headers, chosen):
    assert ask(PRECEDENCE, "GET", "/users/1", headers) == chosen


JSON_TYPE = [("Content-Type", "application/json")]
BODIES = Matcher(postman_collection(
    (1, None, "POST", "/pay", 200, "card", b'{"method": "card"}', JSON_TYPE),
    (2, None, "POST", "/pay", 200, "ideal", b'{"method": "ideal"}', JSON_TYPE),
))


@pytest.mark.parametrize("headers, settings, chosen", [
    ([("x-mock-match-request-body", "true")], {}, None),
    ([], {"match_body": True}, None),
    # the request's header wins over the mock's setting, both ways
    ([("x-mock-match-request-body", "false")], {"match_body": True}, 1),
    ([("x-mock-match-request-body", "FALSE")], {"match_body": True}, 1),
    ([("x-mock-match-request-body", "true")], {"match_body": False}, None),
])
def test_body_matching_switch(headers, settings, chosen):
    assert ask(BODIES, "POST", "/pay", [*JSON_TYPE, *headers], b'{"method": "other"}',
               **settings) == chosen


HEADERS = Matcher(postman_collection(
    (1, None, "GET", "/h", 200, "en", b"", [("Accept-Language", "en"), ("X-Tenant", "a")]),
    (2, None, "GET", "/h", 200, "fr", b"", [("Accept-Language", "fr"), ("X-Tenant", "b")]),
))


@pytest.mark.parametrize("headers, settings, chosen", [
    ([("Accept-Language", "fr"), ("X-Tenant", "a")], {"match_headers": ["x-tenant"]}, 1),
    # the request's list replaces the mock's: x-tenant is no longer compared
    ([("Accept-Language", "fr"), ("X-Tenant", "a"),
      ("x-mock-match-request-headers", "accept-language")], {"match_headers": ["x-tenant"]}, 2),
    ([("Accept-Language", "de"), ("X-Tenant", "a"),
      ("x-mock-match-request-headers", "accept-language")], {"match_headers": ["x-tenant"]},
     None),
    ([("Accept-Language", "de"), ("X-Tenant", "c"), ("x-mock-match-request-headers", "false")],
     {"match_headers": ["x-tenant"]}, 1),
])
def test_header_matching_list(headers, settings, chosen):
    assert ask(HEADERS, "GET", "/h", headers, **settings) == chosen


SAVED = Matcher(postman_collection(
    # raw body saved as JSON (options.raw.language), no Content-Type row
    (1, None, "POST", "/orders", 201, "json", b'{\n  "item": "book",\n  "qty": 2\n}', [],
     "json"),
    (2, None, "POST", "/orders", 201, "text", b'{"item": "pen", "qty": 1}', [], "text"),
    # a GraphQL body, as Postman sends it
    (3, None, "POST", "/graphql", 200, "user", b'{"query": "query User($id: ID!) {\\n  user(id:'
     b' $id) { name }\\n}", "variables": {"id": "{{userId}}"}}', [], "graphql"),
    (4, None, "POST", "/graphql", 200, "posts", b'{"query": "{ posts { title } }", '
     b'"variables": {}}', [], "graphql"),
    # unresolved variables and dynamic ones match any value, also unquoted or in part
    (5, None, "POST", "/payments", 200, "guid", b'{"reference": "{{$guid}}", "amount": '
     b'{{$randomInt}}, "note": "order-{{orderId}}", "merchant": "{{merchant}}"}', JSON_TYPE),
    (6, None, "POST", "/form", 200, "form", b"user={{name}}&plan=pro",
     [("Content-Type", "application/x-www-form-urlencoded")]),
    (7, None, "POST", "/text", 200, "text", b"hello {{name}}!", [("Content-Type", "text/plain")]),
), {"merchant": "TestMerchant"})


@pytest.mark.parametrize("target, body, headers, chosen", [
    # JSON by its saved language: whitespace and key order do not matter, no Content-Type
    ("/orders", b'{"qty":2,"item":"book"}', [], 1),
    ("/orders", b'{"qty":2,"item":"book"}', JSON_TYPE, 1),
    ("/orders", b'{"qty": 3, "item": "book"}', [], None),
    ("/orders", b'{"item": "pen", "qty": 1}', [], 2),  # text: byte for byte
    ("/orders", b'{"item":"pen","qty":1}', [], None),
    # GraphQL: query (whitespace aside) and variables; operationName and the like ignored
    ("/graphql", b'{"query": "query User($id: ID!) { user(id: $id) { name } }", '
                 b'"variables": {"id": "42"}, "operationName": "User"}', JSON_TYPE, 3),
    ("/graphql", b'{"query": "{ posts { title } }"}', JSON_TYPE, 4),
    ("/graphql", b'{"query": "{ posts { body } }"}', JSON_TYPE, None),
    # wildcards in example bodies; known variables resolved ({{merchant}})
    ("/payments", b'{"reference": "0b6e4c0e-3bd4-4b53-9d73-4a3c7bb21c0b", "amount": 12, '
                  b'"note": "order-77", "merchant": "TestMerchant"}', JSON_TYPE, 5),
    ("/payments", b'{"reference": 5, "amount": "x", "note": "order-", '
                  b'"merchant": "TestMerchant"}', JSON_TYPE, 5),
    ("/payments", b'{"reference": "r", "amount": 1, "note": "order-1", "merchant": "Other"}',
     JSON_TYPE, None),
    ("/payments", b'{"reference": "r", "amount": 1, "note": "invoice-1", '
                  b'"merchant": "TestMerchant"}', JSON_TYPE, None),
    ("/payments", b'{"reference": "r", "amount": 1, "merchant": "TestMerchant"}', JSON_TYPE,
     None),
    ("/form", b"plan=pro&user=ada", [("Content-Type", "application/x-www-form-urlencoded")], 6),
    ("/form", b"plan=free&user=ada", [("Content-Type", "application/x-www-form-urlencoded")],
     None),
    ("/text", b"hello world!", [], 7),
    ("/text", b"goodbye world!", [], None),
])
def test_body_matching_as_postman_saves_bodies(target, body, headers, chosen):
    assert ask(SAVED, "POST", target, [*headers, ("x-mock-match-request-body", "true")],
               body) == chosen


def test_an_equal_json_body_adds_five_without_a_content_type():
    m = Matcher(postman_collection(
        (1, None, "POST", "/o", 201, "plain", b"", []),
        (2, None, "POST", "/o", 201, "json", b'{"a": 1}', [], "json")))
    assert ask(m, "POST", "/o", [], b'{ "a" : 1 }') == 2
    assert ask(m, "POST", "/o", [], b'{"a": 2}') == 1


@pytest.mark.parametrize("specs, chosen", [
    # no 200 among the tied: Postman sorts them by its example id
    ([(1, "fa7b67e0", 500, "error"), (2, "48049d1c", 201, "created")], 2),
    ([(1, "48049d1c", 201, "created"), (2, "fa7b67e0", 500, "error")], 1),
    # a 200 goes first wherever it is
    ([(1, "0001", 500, "error"), (2, "ffff", 200, "ok")], 2),
    # mockrec's own examples (no Postman id) by mockrec's id, after imported ones
    ([(1, None, 500, "mine"), (2, "zzzz", 404, "imported")], 2),
    ([(3, None, 500, "later"), (2, None, 404, "earlier")], 2),
])
def test_ties_without_a_200_go_in_postmans_order(specs, chosen):
    m = Matcher(postman_collection(*[(i, pid, "POST", "/pets", status, name)
                                     for i, pid, status, name in specs]))
    assert ask(m, "POST", "/pets") == chosen


def test_wildcards_forgive_a_trailing_slash_in_matching():
    m = Matcher(postman_collection((1, None, "GET", "/users/{{id}}", 200, "user"),
                                   (2, None, "GET", "/users", 200, "list")))
    assert ask(m, "GET", "/users/5/") == 1
    assert ask(m, "GET", "/users/") == 2
    outcome = m.match(Incoming.from_target("GET", "/users/5/", [], b""))
    assert outcome.match.captures == {"id": "5"} and outcome.match.score == 75 + 10 + 5


def test_a_sequence_is_one_candidate_and_the_match_names_it():
    c = collection((1, "GET", "/other", 200, "other"))
    url = "/cart"
    members = [Example(10 + n, f"step {n}", ExampleRequest("GET", url),
                       ExampleResponse(201 if n == 2 else 200, "", [], b"%d" % n), sequence=n)
               for n in (3, 1, 2)]  # positions, not the list's order, give the order
    c.requests.append(Request(2, "GET /cart", "GET", url, examples=members))
    m = Matcher(c)
    outcome = m.match(Incoming.from_target("GET", "/cart", [], b""))
    sequence = outcome.match.sequence
    assert [e.sequence for e in sequence.members] == [1, 2, 3]
    assert sequence.key == (2, 11) and outcome.match.example.sequence == 1
    # only the first position is a candidate: a 404 names no other member
    assert len(m.heads.by_method["GET"]) == 2 and len(m.every.by_method["GET"]) == 4
    # a status asked for picks among every example, and names no sequence
    coded = m.match(Incoming.from_target("GET", "/cart", [("x-mock-response-code", "201")], b""))
    assert coded.match.example.id == 12 and coded.match.sequence is None
    by_id = m.match(Incoming.from_target("GET", "/x", [("x-mock-response-id", "13")], b""))
    assert by_id.match.example.id == 13 and by_id.match.sequence is None


def test_examples_of_one_request_form_a_sequence_per_concrete_request():
    c = Collection("c")
    c.requests.append(Request(1, "GET /carts/:id", "GET", "/carts/:id", examples=[
        Example(n, "x", ExampleRequest("GET", f"/carts/{cart}"), ExampleResponse(200), sequence=p)
        for n, cart, p in ((1, 1, 1), (2, 2, 1), (3, 1, 2), (4, 2, 2), (5, 2, 3))]))
    m = Matcher(c)
    assert sorted(len(s.members) for s in m.sequences) == [2, 3]
    two = m.match(Incoming.from_target("GET", "/carts/2", [], b"")).match.sequence
    assert [e.id for e in two.members] == [2, 4, 5]


# -- hosts, HEAD ---------------------------------------------------------------------------

def test_in_a_forward_proxy_an_example_naming_a_host_matches_that_host_only():
    m = Matcher(collection((1, "GET", "https://a.test/json", 200, "a"),
                           (2, "GET", "http://b.test:8080/json", 200, "b"),
                           (3, "GET", "/health", 200, "anywhere"),
                           (4, "GET", "{{baseUrl}}/users", 200, "based"),
                           variables={"baseUrl": "https://api.shop.test"}))

    def on(host, target, method="GET"):
        outcome = m.match(Incoming.from_target(method, target, [], b"", host))
        return outcome.match.example.id if outcome.match else None

    assert on("a.test", "/json") == 1
    assert on("b.test:8080", "/json") == 2
    assert on("b.test", "/json") is None  # the port is part of it when not the default
    assert on("c.test", "/json") is None
    assert on("c.test", "/health") == 3 and on("a.test", "/health") == 3
    assert on("api.shop.test", "/users") == 4 and on("a.test", "/users") is None
    assert on(None, "/json") == 1 and on(None, "/users") == 4  # reverse: hosts not compared
    miss = m.match(Incoming.from_target("GET", "/json", [], b"", "c.test"))
    assert "on c.test" in miss.message
    assert [d["step"] for d in miss.details()][:2] == ["host", "host"]
    # picking by id or name stays on the request's host
    assert on("c.test", "/x", "GET") is None
    picked = m.match(Incoming.from_target("GET", "/x", [("x-mock-response-id", "1")], b"",
                                          "c.test"))
    assert picked.match is None
    picked = m.match(Incoming.from_target("GET", "/x", [("x-mock-response-name", "a")], b"",
                                          "a.test"))
    assert picked.match.example.id == 1


@pytest.mark.parametrize("url, host", [
    ("https://API.test/x", "api.test"), ("https://api.test:443/x", "api.test"),
    ("http://api.test:443/x", "api.test:443"), ("http://[::1]:8080/x", "[::1]:8080"),
    ("/x", None), ("{{baseUrl}}/x", None), ("https://{{host}}/x", None),
    ("http://[::1/x", None), ("http://api.test:99999/x", None),  # malformed: no host
])
def test_the_host_an_example_names(url, host):
    from recorder.match.matcher import example_host
    assert example_host(url) == host


def test_head_without_a_head_example_is_answered_as_get():
    m = Matcher(collection((1, "GET", "/a", 200, "get a"), (2, "HEAD", "/b", 204, "head b"),
                           (3, "GET", "/b", 200, "get b")))
    assert ask(m, "HEAD", "/a") == 1
    assert ask(m, "HEAD", "/b") == 2  # its own HEAD example first
    assert ask(m, "HEAD", "/nothing") is None


# -- the similar-path step: the same answers as the full scan it replaces ------------------

def _same_outcome(new, old_outcome):
    if old_outcome.match is None:
        assert new.match is None
        assert new.details() == old_outcome.details()
        assert new.message == old_outcome.message
    else:
        assert new.match is not None
        got = (new.match.example.id, new.match.score, new.match.path_step, new.match.captures)
        want = (old_outcome.match.example.id, old_outcome.match.score,
                old_outcome.match.path_step, old_outcome.match.captures)
        assert got == want


NEAR_MISS_EXAMPLES = ["/customers/profile", "/customers/{{id}}/orders", "/users/1",
                      "/users/1/settings", "/orders/7f3c9e1a", "/Items/Detail", "/api/v1/health",
                      "/search", "/favicon.png", "/a/b/c", "/user", "/profile/"]
NEAR_MISS_PATHS = ["/customers/profiles", "/customer/profile", "/custmers/profile",
                   "/customers/prof", "/customers/42/order", "/userz/1", "/users/1/setting",
                   "/user/1/settings", "/orders/7f3c9e1b", "/items/details", "/api/v2/health",
                   "/api/v1/healthz", "/serch", "/searches", "/favicon.ico", "/a/b/d",
                   "/a/b/c/d", "/users", "/profiles", "/profile", "/", "/nothing/here",
                   "/a/b/c/d/e", "/robots.txt", "/CUSTOMERS/PROFILE/", "/users/abc",
                   "/usr/1", "/api//v1/health"]


@pytest.mark.parametrize("path", NEAR_MISS_PATHS)
@pytest.mark.parametrize("strict", [False, True])
def test_near_misses_get_what_the_full_scan_gave(path, strict):
    from oracle.matcher_full_scan import Incoming as OldIncoming
    from oracle.matcher_full_scan import Matcher as OldMatcher
    from oracle.matcher_full_scan import MatchSettings as OldSettings

    specs = [(n, "GET", url, 200, f"e{n}") for n, url in enumerate(NEAR_MISS_EXAMPLES, 1)]
    specs += [(100, "POST", "/customers/profile", 201, "post"),
              (101, "GET", "/customers/profile", 500, "down")]
    c = collection(*specs)
    for headers in ([], [("x-mock-response-code", "500")]):
        new = Matcher(c).match(Incoming.from_target("GET", path, headers, b""),
                               MatchSettings(strict=strict))
        old = OldMatcher(c).match(OldIncoming.from_target("GET", path, headers, b""),
                                  OldSettings(strict=strict))
        _same_outcome(new, old)


def test_random_paths_get_what_the_full_scan_gave():
    import random

    from oracle.matcher_full_scan import Incoming as OldIncoming
    from oracle.matcher_full_scan import Matcher as OldMatcher
    from oracle.matcher_full_scan import similar as old_similar

    from recorder.match.similar import SimilarPaths, fits_similar

    rng = random.Random(13)
    pieces = ["users", "user", "usr", "1", "12", "a1b2c3", "{{id}}", ":id", "Orders", "orders",
              "", "x", "profile", "7f3c9e1a-0b2d-4c5e-8f9a-1b2c3d4e5f60"]

    def path() -> str:
        return "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))

    def text(alphabet: str) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))

    for _ in range(60):
        specs = [(n, rng.choice(["GET", "POST"]), path() + rng.choice(["", "?a=1"]),
                  rng.choice([200, 404]), f"e{n}") for n in range(1, rng.randint(2, 30))]
        c = collection(*specs)
        new, old = Matcher(c), OldMatcher(c)
        for _ in range(20):
            target = path() + rng.choice(["", "?a=1", "?b=2"])
            method = rng.choice(["GET", "POST", "PUT"])
            _same_outcome(new.match(Incoming.from_target(method, target, [], b"")),
                          old.match(OldIncoming.from_target(method, target, [], b"")))
    for alphabet in ("ab/1", "abcdefgh/0123456789", "u/s"):
        for _ in range(100):
            keys = {text(alphabet): [] for _ in range(rng.randint(1, 60))}
            index = SimilarPaths(keys)
            for _ in range(10):
                q = text(alphabet)
                want = sorted(k for k in keys if old_similar(k.split("/"), q.split("/")))
                assert sorted(index.within(q)) == want, q
                assert want == sorted(k for k in keys if fits_similar(k, q)), q


def test_hosts_get_what_the_full_scan_gave():
    """In a forward proxy (a request with a host), examples naming a host only serve
    requests for it, and those of other hosts are misses: as the full scan has it."""
    import random

    from oracle.matcher_full_scan import Incoming as OldIncoming
    from oracle.matcher_full_scan import Matcher as OldMatcher

    rng = random.Random(29)
    origins = ["", "http://a.test", "https://a.test", "http://b.test", "http://A.test:8080",
               "https://[::1]:8443", "{{baseUrl}}"]
    pieces = ["users", "user", "1", "12", "{{id}}", "orders", "", "profile"]
    hosts = [None, "a.test", "b.test", "a.test:8080", "[::1]:8443", "c.test"]

    def path() -> str:
        return "/" + "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))

    for _ in range(60):
        specs = [(n, rng.choice(["GET", "POST", "HEAD"]), rng.choice(origins) + path(),
                  rng.choice([200, 404]), f"e{n}") for n in range(1, rng.randint(2, 25))]
        c = collection(*specs, variables={"baseUrl": "http://b.test"})
        new, old = Matcher(c), OldMatcher(c)
        for _ in range(20):
            target, method, host = path(), rng.choice(["GET", "POST", "HEAD"]), rng.choice(hosts)
            headers = rng.choice([[], [], [("x-mock-response-code", "404")],
                                  [("x-mock-response-name", "e1")],
                                  [("x-mock-response-id", str(rng.randint(1, 3)))]])
            _same_outcome(new.match(Incoming.from_target(method, target, headers, b"", host)),
                          old.match(OldIncoming.from_target(method, target, headers, b"", host)))


def test_a_miss_is_cheap_and_its_similar_path_outcome_is_kept():
    c = collection(*[(i, "GET", f"/users/{i}", 200, f"u{i}") for i in range(1, 20_001)])
    m = Matcher(c)
    outcome = m.match(Incoming.from_target("GET", "/favicon.ico", [], b""))
    assert outcome.match is None and len(outcome.details()) == 3
    assert len(m._reach) == 1  # the similar-path outcome of this path is kept
    assert ask(m, "GET", "/userz/12345") == 1234  # similar path (2 edits): the lowest id
    assert len(m._reach) == 2


def test_the_similar_path_step_has_a_budget_per_request():
    """Long paths among many of their length, with ids that vary: the walk could take
    tens of thousands of distance rows; it stops at its budget with what it found."""
    import random

    from recorder.match.similar import SimilarPaths

    rng = random.Random(7)
    words = ["users", "orders", "items", "carts", "products", "payments", "reviews"]
    keys = {f"/api/v1/{rng.choice(words)}/{rng.randrange(10**6)}/{rng.choice(words)}/"
            f"{rng.randrange(10**4)}": [] for _ in range(5_000)}
    index = SimilarPaths(keys)
    q = "/api/v1/users/31337/orderz/1234"
    full = sorted(index.within(q))
    budget = [40]
    lq = len(q)
    for size in range(lq - lq // 5, lq + lq // 4 + 2):
        if (run := index.by_length.get(size)) is not None:
            run.within(q, budget)
    assert budget[0] < 0  # this request needs more than 40 rows ...
    index.BUDGET = 40
    cut = index.within(q)  # ... so with 40 it stops early, with some of what it finds
    assert set(cut) <= set(full)
    index.BUDGET = SimilarPaths.BUDGET
    assert sorted(index.within(q)) == full


def test_a_response_id_that_is_no_ascii_number_picks_nothing():
    m = Matcher(collection((1, "GET", "/a", 200, "a")))
    for wanted in ("\u00b2", "\u0661", "1\u00b2"):  # superscript two, Arabic-Indic one
        assert m.find_id(wanted) is None


def test_a_remembered_match_is_what_matching_afresh_gives():
    """Matches are remembered per host, method, path, query and body: asked again, in
    any order, with x-mock-* headers, bodies and settings that change the answer, a
    matcher that remembers answers as a fresh one does."""
    import random

    from recorder.match import matcher as matching

    rng = random.Random(7)
    c = collection((1, "GET", "/users/{{id}}", 200, "one user"),
                   (2, "GET", "/users/1", 200, "ada"), (3, "GET", "/users/1", 404, "gone"),
                   (4, "GET", "/users/1?full=1", 200, "ada in full"),
                   (5, "POST", "/users", 201, "made"), (6, "GET", "/orders/7", 200, "order"))
    remembering = Matcher(c)
    targets = ["/users/1", "/users/2", "/users/1?full=1", "/USERS/1", "/users/1/", "/orders/7",
               "/orders/8", "/users"]
    header_sets = [[], [("x-mock-response-code", "404")], [("x-mock-response-name", "ada")],
                   [("X-Mock-Match-Request-Body", "true")], [("accept", "text/plain")]]
    for _ in range(400):
        method = rng.choice(["GET", "GET", "POST", "HEAD"])
        target, headers = rng.choice(targets), rng.choice(header_sets)
        body = rng.choice([b"", b"", b'{"name": "ada"}'])
        settings = MatchSettings(strict=rng.random() < 0.3, match_body=rng.random() < 0.2,
                                 match_headers=["accept"] if rng.random() < 0.1 else [])
        got = remembering.match(Incoming.from_target(method, target, headers, body), settings)
        want = Matcher(c).match(Incoming.from_target(method, target, headers, body), settings)
        _same_outcome(got, want)
    assert remembering._recent  # it did remember

    # Bounded: a flood of distinct paths that all match, and very long requests.
    for n in range(matching.RECALLED * 3):
        assert remembering.match(Incoming.from_target("GET", f"/users/{n}", [], b"")).match
        assert len(remembering._recent) <= matching.RECALLED
    long = "/users/" + "9" * matching.RECALL_LIMIT
    remembering._recent.clear()
    assert remembering.match(Incoming.from_target("GET", long, [], b"")).match
    assert remembering._recent == {}


def test_a_promoted_example_captures_from_its_requests_template():
    """`promote --infer-templates` gives the request `/users/{{userId}}` and keeps the
    example's concrete URL: `{{userId}}` in its body is captured from the request's path."""
    c = collection((1, "GET", "{{baseUrl}}/users/42", 200, "200 OK"),
                   variables={"baseUrl": "http://api.test"})
    c.requests[0].url = "{{baseUrl}}/users/{{userId}}"
    matcher = Matcher(c)
    for headers in ([], [("x-mock-response-id", "1")], [("x-mock-response-name", "200 OK")]):
        match = matcher.match(Incoming.from_target("GET", "/users/99", headers, b"")).match
        assert match is not None and match.captures == {"userId": "99"}, headers
    assert matcher.match(Incoming.from_target("GET", "/users/99/", [], b"")).match.captures == {
        "userId": "99"}
    # the example's own wildcard wins over its request's
    c.requests[0].examples[0].request.url = "{{baseUrl}}/users/{{id}}"
    c.requests[0].url = "{{baseUrl}}/users/{{userId}}"
    both = Matcher(c).match(Incoming.from_target("GET", "/users/7", [], b"")).match
    assert both.captures == {"id": "7", "userId": "7"}
    c.requests[0].url = "{{baseUrl}}/users/42"  # no template: nothing captured
    alone = Matcher(c).match(Incoming.from_target("GET", "/users/7", [], b"")).match
    assert alone.captures == {"id": "7"}
