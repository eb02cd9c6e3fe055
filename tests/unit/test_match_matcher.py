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
    similarity,
)
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
