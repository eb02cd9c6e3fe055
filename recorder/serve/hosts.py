"""Which requests are for the mock URL, and which are sent through the proxy.

One listener is both (SPEC, "The mock URL, whatever the collection's URLs say"). A
request addressed to the proxy itself (`curl localhost:8080/basic-auth`: origin form,
its Host the proxy's own address) is a mock-URL request: hosts are never compared,
whatever host the examples' URLs name. A request sent *through* the proxy (absolute
form, or inside a CONNECT tunnel) names another host, which examples naming a host
must equal.

mitmproxy rewrites a forward proxy's requests to origin form before addons see them,
so the form is not left to tell; the address is: a request for the address and port
the client connected to is for the proxy itself.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "0.0.0.0",
                         "::"})


@cache
def _own_names() -> frozenset[str]:
    try:
        return frozenset({socket.gethostname().lower(), socket.getfqdn().lower()})
    except OSError:
        return frozenset()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def addressed_to_proxy(host: str, port: int, sockname: tuple | None) -> bool:
    """Whether a request for `host:port`, arriving on a connection to `sockname` (the
    proxy's address as the client reached it), is for the proxy itself."""
    if not sockname or len(sockname) < 2 or port != sockname[1]:
        return False
    host = host.lower().strip("[]")
    return (host == str(sockname[0]).lower() or host in LOCAL_NAMES or _is_loopback(host)
            or host in _own_names())
