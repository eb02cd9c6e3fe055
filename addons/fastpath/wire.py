"""HTTP/1 on the fast path: request heads read and answers written without
mitmproxy's generic header lookups, for the plain cases only.

Each function gives exactly what mitmproxy's own functions would
(`http1.read_request_head` with its header validation, `expected_http_body_size`,
`connection_close`, `assemble_response`), or None where the case is not a plain
one (folded or repeated framing headers, Transfer-Encoding, a body length that is
not a plain number, ...): the caller then takes mitmproxy's way, so what is
answered never depends on which way was taken. tests/unit/test_fastpath_wire.py
compares the two on generated heads and answers.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mitmproxy import http
from mitmproxy.net.http import http1, url

# RFC 9110 5.1 (mitmproxy's validate_headers): a field name is a token.
TOKEN = (b"!#$%&'*+-.^_`|~0123456789"
         b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
LENGTH = re.compile(rb"0|[1-9][0-9]*")  # mitmproxy's valid Content-Length
VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
# Fields that change how a request is framed or handled: a plain request has none,
# or (Content-Length, Host) one.
FRAMING = frozenset((b"content-length", b"host", b"connection", b"transfer-encoding",
                     b"expect", b"upgrade"))


class Head(NamedTuple):
    """A request head, as read."""

    method: bytes
    path: bytes
    http_version: bytes
    fields: list[tuple[bytes, bytes]]
    body_size: int
    host: int  # the index of the Host field in `fields`, -1: none
    close: bool  # the client asks to close after the answer (http1.connection_close)
    url_host: str  # absolute form: the URL's host and port ("", 0 in origin form)
    url_port: int


def read_head(lines: list[bytes], absolute: bool = False) -> Head | None:
    """The request head in `lines` (split at CRLF, no empty line), if it is a plain
    HTTP/1.0 or 1.1 request with valid field names, at most one of Content-Length (a
    plain number) and Host, and no Transfer-Encoding, Expect or Upgrade; in origin
    form, or (`absolute`: a forward proxy's) in absolute form with an http URL.
    None otherwise."""
    request_line = lines[0].split()
    if len(request_line) != 3:
        return None
    method, target, version = request_line
    if version not in VERSIONS or method == b"CONNECT":
        return None
    url_host, url_port = "", 0
    if not absolute:
        if not target.startswith(b"/"):
            return None
        path = target
    else:
        if not target.startswith(b"http://"):
            return None
        authority, _, rest = target[7:].partition(b"/")
        try:  # as mitmproxy's reader checks them
            url_host, port = url.parse_authority(authority, check=True)
            url.parse(target)
        except ValueError:
            return None
        url_port = port or 80
        path = b"/" + rest
    fields = []
    size = -1
    host = -1
    connection = []
    for i in range(1, len(lines)):
        name, colon, value = lines[i].partition(b":")
        # An empty or non-token name (a folded line starts with a space) is mitmproxy's.
        if not colon or not name or name.translate(None, TOKEN):
            return None
        value = value.strip()
        lower = name.lower()
        if lower in FRAMING:
            if lower == b"content-length":
                if size >= 0 or not LENGTH.fullmatch(value):
                    return None
                size = int(value)
            elif lower == b"host":
                if host >= 0:
                    return None
                host = len(fields)
            elif lower == b"connection":
                connection.append(value)
            else:
                return None
        fields.append((name, value))
    return Head(method, path, version, fields, max(size, 0), host,
                closes(version, connection), url_host, url_port)


def closes(version: bytes, connection: list[bytes]) -> bool:
    """http1.connection_close, for a message's version and its Connection values."""
    if connection:
        joined = b", ".join(connection).decode("utf-8", "surrogateescape")
        tokens = [token.strip() for token in joined.split(",")]
        if "close" in tokens:
            return True
        if "keep-alive" in tokens:
            return False
    return version not in (b"HTTP/1.1", b"HTTP/2.0")


def answer_bytes(request: http.Request, response: http.Response) -> tuple[bytes, bool]:
    """The answer as sent (its head only for a HEAD request), and whether the
    connection closes after it (its Connection field, or a body with no length)."""
    data = response.data
    head_only = request.data.method.upper() == b"HEAD"  # as mitmproxy's HTTP/1 layer asks
    length = None
    connection = []
    plain = data.content is not None and not data.trailers
    for name, value in data.headers.fields:
        lower = name.lower()
        if lower == b"content-length":
            plain = plain and length is None
            length = value
        elif lower == b"connection":
            connection.append(value)
        elif lower == b"transfer-encoding":
            plain = False
    if not plain or length is not None and not LENGTH.fullmatch(length):
        wire = (http1.assemble_response_head(response) if head_only
                else http1.assemble_response(response))
        return wire, (http1.connection_close(response.http_version, response.headers)
                      or http1.expected_http_body_size(request, response) == -1)
    wire = b"%s %d %s\r\n%s\r\n" % (data.http_version, data.status_code, data.reason,
                                     bytes(data.headers))
    if not head_only:
        wire += data.content
    status = data.status_code
    unframed = (length is None and not head_only
                and not (100 <= status <= 199 or status in (204, 304)))
    return wire, unframed or closes(data.http_version, connection)
