"""Who may talk to `mockrec ui`: the token holder, through a loopback name.

A page on another site can make the browser send requests to 127.0.0.1, and a DNS
name it controls can resolve to 127.0.0.1 (DNS rebinding). So every request must
carry the token (a cookie set on the first visit, or the header), must name this
server in `Host`, and anything that changes state must carry the token itself (a
form field or a header, never only the cookie) and be POST, PUT or DELETE.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
STATE_CHANGING = frozenset({"POST", "PUT", "DELETE"})
TOKEN_HEADER = "X-Mockrec-Token"
TOKEN_FIELD = "_token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())  # type: ignore[union-attr]


def host_name(host_header: str | None) -> str | None:
    """The name in a `Host` header, lower case, without port or brackets; None if unusable."""
    if not host_header:
        return None
    host = host_header.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return name
    name, colon, port = host.partition(":")
    if colon and not port.isdigit():
        return None
    return name or None


def allowed_hosts(listen_host: str) -> frozenset[str]:
    """Loopback names, and the address the server listens on when it is a specific one."""
    extra = listen_host.strip("[]").lower()
    try:
        if ipaddress.ip_address(extra).is_unspecified:  # 0.0.0.0 or ::
            return LOOPBACK_NAMES
    except ValueError:
        pass
    return LOOPBACK_NAMES | {extra}


def is_loopback(listen_host: str) -> bool:
    name = listen_host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    return host_name(host_header) in allowed
