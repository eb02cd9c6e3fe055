"""The fast path's HTTP/1 reading and writing (addons/fastpath/wire.py) against
mitmproxy's own functions: wherever wire.py answers, it answers as they do."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.net.http.validate import validate_headers

from addons.fastpath import wire

NAMES = [b"Host", b"host", b"HOST", b"Content-Length", b"content-length", b"Connection",
         b"Accept", b"X-Api-Key", b"Transfer-Encoding", b"Expect", b"Upgrade", b"Bad Name",
         b"", b" Folded", b"\tx", b"Na\xffme", b"x-mock-response-code"]
VALUES = [b"", b"0", b"12", b"012", b"1,2", b" 7 ", b"-1", b"close", b"keep-alive",
          b"Close", b"keep-alive, close", b"upgrade", b"chunked", b"100-continue",
          b"\xc2\xa0close", b"close\xc2\xa0", b"127.0.0.1:8080", b"\xff\xfe", b"a:b"]
LINES = st.one_of(
    st.builds(lambda n, v, sp: n + b":" + sp + v, st.sampled_from(NAMES),
              st.sampled_from(VALUES), st.sampled_from([b"", b" ", b"\t"])),
    st.binary(max_size=12).filter(lambda b: b"\r\n" not in b and b),
)
REQUEST_LINES = st.one_of(
    st.builds(lambda m, t, v: b" ".join((m, t, v)),
              st.sampled_from([b"GET", b"HEAD", b"head", b"POST", b"CONNECT", b"DELETE"]),
              st.sampled_from([b"/", b"/users/1?x=1", b"*", b"http://a.test/x", b"a.test:443",
                               b"//x", b"/a%20b"]),
              st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/11",
                               b"http/1.1"])),
    st.binary(max_size=30).filter(lambda b: b"\r\n" not in b and b),
)


def mitmproxy_reads(lines: list[bytes]):
    """What mitmproxy's HTTP/1 server makes of the head: the request, its body size
    and whether the client asks to close; None where it rejects it."""
    try:
        request = http1.read_request_head(lines)
        validate_headers(request)
        size = http1.expected_http_body_size(request)
    except ValueError:
        return None
    return request, size, http1.connection_close(request.http_version, request.headers)


@settings(max_examples=1500, deadline=None)
@given(REQUEST_LINES, st.lists(LINES, max_size=6))
@example(b"GET /users/1 HTTP/1.1", [b"Host: a.test", b"Content-Length: 3"])
@example(b"GET / HTTP/1.0", [b"Connection: keep-alive"])
@example(b"GET / HTTP/1.1", [b"Connection: Close"])
def test_a_head_read_is_read_as_mitmproxy_reads_it(request_line, lines):
    for absolute in (False, True):  # a reverse proxy's, a forward proxy's
        check_head(request_line, lines, absolute)


def check_head(request_line: bytes, lines: list[bytes], absolute: bool) -> None:
    head = wire.read_head([request_line, *lines], absolute)
    theirs = mitmproxy_reads([request_line, *lines])
    if head is None:
        return  # mitmproxy's own HTTP layer takes it
    assert theirs is not None, "wire.py read a head mitmproxy rejects"
    request, size, close = theirs
    assert (head.method, head.path, head.http_version) == (
        request.data.method, request.data.path, request.data.http_version)
    if absolute:
        assert request.scheme == "http" and request.authority
        assert (head.url_host, head.url_port) == (request.host, request.port)
    else:
        assert not request.authority and (head.url_host, head.url_port) == ("", 0)
    assert tuple(head.fields) == request.headers.fields
    assert head.body_size == size and head.close == close
    assert head.host == next((i for i, (k, _) in enumerate(head.fields)
                              if k.lower() == b"host"), -1)
    # Nothing that changes the framing or asks for mitmproxy's handling gets through.
    names = {k.lower() for k, _ in head.fields}
    assert not names & {b"transfer-encoding", b"expect", b"upgrade"}
    assert request.path.startswith("/") and request.method != "CONNECT"


@pytest.mark.parametrize("target", [b"http://a.test/x?y=1", b"http://a.test", b"http://a.test:8080/",
                                    b"http://[::1]:9/v", b"http://a.test:99999/",
                                    b"http://a b/", b"https://a.test/", b"HTTP://a.test/",
                                    b"http://user@a.test/", b"/origin", b"http://:80/"])
def test_absolute_form_urls_are_read_as_mitmproxy_reads_them(target):
    check_head(b"GET " + target + b" HTTP/1.1", [b"Host: a.test"], absolute=True)
    assert wire.read_head([b"GET " + target + b" HTTP/1.1"]) is None or target == b"/origin"


def test_plain_heads_are_read_and_the_rest_left_to_mitmproxy():
    plain = wire.read_head([b"POST /a?b=1 HTTP/1.1", b"Host: x.test", b"Content-Length: 5",
                            b"Connection: keep-alive, Upgrade-Insecure"])
    assert plain is not None and plain.body_size == 5 and plain.host == 0 and not plain.close
    assert wire.read_head([b"GET / HTTP/1.0"]).close  # HTTP/1.0 closes unless asked not to
    for lines in ([b"GET / HTTP/1.1", b"Transfer-Encoding: chunked"],
                  [b"GET / HTTP/1.1", b"Content-Length: 1", b"Content-Length: 1"],
                  [b"GET / HTTP/1.1", b"Host: a", b"Host: b"],
                  [b"GET / HTTP/1.1", b"Content-Length: 01"],
                  [b"GET / HTTP/1.1", b"Bad Name: 1"],
                  [b"GET / HTTP/1.1", b"X: 1", b" folded"],
                  [b"GET / HTTP/1.1", b"Expect: 100-continue"],
                  [b"GET http://a.test/ HTTP/1.1"], [b"OPTIONS * HTTP/1.1"],
                  [b"GET / HTTP/2.0"], [b"GET /  HTTP/1.1 x"]):
        assert wire.read_head(lines) is None, lines


def mitmproxy_writes(request: http.Request, response: http.Response) -> tuple[bytes, bool]:
    data = (http1.assemble_response_head(response) if request.method == "HEAD"
            else http1.assemble_response(response))
    return data, (http1.connection_close(response.http_version, response.headers)
                  or http1.expected_http_body_size(request, response) == -1)


RESPONSE_FIELDS = st.lists(st.tuples(
    st.sampled_from([b"Content-Type", b"Content-Length", b"content-length", b"Connection",
                     b"Transfer-Encoding", b"Set-Cookie", b"X-A"]),
    st.sampled_from([b"application/json", b"0", b"5", b"05", b"close", b"keep-alive",
                     b"chunked", b"gzip", b"a=1", b""])), max_size=5)


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(["GET", "HEAD", "head", "POST"]),
       st.sampled_from([200, 101, 204, 304, 404, 500]), RESPONSE_FIELDS,
       st.sampled_from([b"", b"hello", b'{"a": 1}']),
       st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]))
def test_an_answer_is_written_as_mitmproxy_writes_it(method, status, fields, body, version):
    request = http.Request.make(method, "http://127.0.0.1/x")
    response = http.Response(version, status, b"Reason", http.Headers(fields), body, None,
                             0.0, 0.0)
    try:
        theirs = mitmproxy_writes(request, response)
    except ValueError:
        with pytest.raises(ValueError):
            wire.answer_bytes(request, response)
        return
    assert wire.answer_bytes(request, response) == theirs
