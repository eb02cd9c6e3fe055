"""recorder/drift/plan.py: what drift sends for an example, or why it sends nothing."""

from __future__ import annotations

import pytest

from recorder.drift.plan import Fill, Skip, outgoing
from recorder.models import Example, ExampleRequest, ExampleResponse


def example(method: str = "GET", url: str = "{{baseUrl}}/users/1", headers=None,
            body: bytes = b"") -> Example:
    return Example(id=7, name="200 OK",
                   request=ExampleRequest(method=method, url=url, headers=headers or [],
                                          body=body),
                   response=ExampleResponse(status=200))


BASE = {"baseUrl": "http://api.test"}


def test_only_safe_methods_unless_all():
    for method in ("GET", "head", "OPTIONS"):
        assert outgoing(example(method), Fill(BASE)).method == method.upper()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(Skip, match=f"{method} is not sent without --methods all"):
            outgoing(example(method), Fill(BASE))
        assert outgoing(example(method), Fill(BASE, all_methods=True)).method == method


def test_the_url_goes_to_the_upstream_else_the_base_url():
    assert outgoing(example(), Fill(BASE)).url == "http://api.test/users/1"
    assert outgoing(example(), Fill(BASE, upstream="http://127.0.0.1:9/v2/")).url == \
        "http://127.0.0.1:9/v2/users/1"
    # an absolute URL goes where it says, unless --upstream says otherwise
    absolute = example(url="https://other.test/a?b=1")
    assert outgoing(absolute, Fill(BASE)).url == "https://other.test/a?b=1"
    assert outgoing(absolute, Fill(upstream="http://127.0.0.1:9")).url == \
        "http://127.0.0.1:9/a?b=1"
    assert outgoing(example(url="/items"), Fill(BASE)).url == "http://api.test/items"
    with pytest.raises(Skip, match="no live API to ask: give --upstream URL"):
        outgoing(example(), Fill())


def test_variables_resolve_and_a_missing_one_skips():
    found = outgoing(example(url="{{baseUrl}}/users/{{userId}}"), Fill({**BASE, "userId": "9"}))
    assert found.url == "http://api.test/users/9"
    with pytest.raises(Skip, match=r"needs a value for \{\{userId\}\}"):
        outgoing(example(url="{{baseUrl}}/users/{{userId}}"), Fill(BASE))


def test_a_redacted_header_is_filled_by_header_or_variable_never_sent_as_placeholder():
    redacted = example(headers=[("Authorization", "Bearer {{REDACTED}}"), ("Accept", "*/*")])
    with pytest.raises(Skip, match=r"the Authorization header needs a value: --header "
                                   r"'Authorization: \.\.\.'"):
        outgoing(redacted, Fill(BASE))
    sent = outgoing(redacted, Fill(BASE, headers=[("Authorization", "Bearer t0ken")]))
    assert sent.headers == [("Accept", "*/*"), ("Authorization", "Bearer t0ken")]
    sent = outgoing(redacted, Fill({**BASE, "authorization": "Bearer v4r"}))
    assert sent.headers[0] == ("Authorization", "Bearer v4r")


def test_a_redacted_query_parameter_is_filled_from_a_variable():
    redacted = example(url="{{baseUrl}}/search?q=a&api_key={{REDACTED}}")
    with pytest.raises(Skip, match="query parameter api_key needs a value: an --env variable"):
        outgoing(redacted, Fill(BASE))
    assert outgoing(redacted, Fill({**BASE, "api_key": "k/1"})).url == \
        "http://api.test/search?q=a&api_key=k%2F1"


def test_connection_headers_are_not_sent_and_a_body_resolves():
    sent = outgoing(example("POST", headers=[("Host", "old.test"), ("Content-Length", "3"),
                                             ("X-Id", "{{userId}}")],
                            body=b'{"id": "{{userId}}"}'),
                    Fill({**BASE, "userId": "4"}, all_methods=True))
    assert sent.headers == [("X-Id", "4")]
    assert sent.body == b'{"id": "4"}'
    with pytest.raises(Skip, match="its body holds a redacted secret"):
        outgoing(example("POST", body=b"token={{REDACTED}}"), Fill(BASE, all_methods=True))


def test_a_websocket_example_is_not_compared():
    from recorder.conversation import Conversation

    ws = example()
    ws.response.conversation = Conversation()
    with pytest.raises(Skip, match="a WebSocket conversation"):
        outgoing(ws, Fill(BASE))


def test_postman_path_variables_are_filled_or_skipped():
    pets = example(url="{{baseUrl}}/pets/:petId/photos")
    assert outgoing(pets, Fill({**BASE, "petId": "a/7"})).url == \
        "http://api.test/pets/a%2F7/photos"
    with pytest.raises(Skip, match="its path variable :petId needs a value: an --env variable"):
        outgoing(pets, Fill(BASE))
    # a port is no path variable
    assert outgoing(example(url="http://api.test:8080/x"), Fill()).url == \
        "http://api.test:8080/x"
