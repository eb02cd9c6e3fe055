"""The addons a request that goes upstream needs, loaded only when a mode forwards."""

from __future__ import annotations

from mitmproxy import ctx, hooks, http
from mitmproxy.net.http import url
from mitmproxy.proxy.mode_specs import ReverseMode

from addons import metadata
from addons.record import Record
from addons.upstream import UpstreamErrors


def forwarding_addons() -> list:
    """What a request that goes upstream needs: JSON 502/504s, then recording."""
    return [UpstreamErrors(), Record()]


_adding = False


def ensure_forwarding() -> None:
    """Load the forwarding addons into a running proxy that started without them.

    A pure replay proxy leaves them out: every addon costs a lookup on every
    event. Switching to record, spy or passthrough (or --on-miss forward)
    brings them in, before the next request. Loading one declares its options,
    which configures every addon again: that must not load them twice.
    """
    global _adding
    manager = ctx.master.addons
    if _adding or manager.get(Record.name) is not None:
        return
    _adding = True
    try:
        for addon in forwarding_addons():
            if manager.get(addon.name) is not None:
                continue
            manager.add(addon)
            manager.invoke_addon_sync(addon, hooks.ConfigureHook(set(ctx.options.keys())))
            manager.invoke_addon_sync(addon, hooks.RunningHook())
    finally:
        _adding = False


def keep_client_host(options) -> bool:
    """Have a reverse proxy keep the Host the client sent (mitmproxy's keep_host_header:
    its HTTP layer rewrites Host before any hook sees the request), so that the call log
    keeps the request as the client sent it. True if mockrec turned it on: then a request
    that goes upstream gets the upstream's Host back (`upstream_host`); if the user had
    turned it on, the client's Host goes upstream, as they asked."""
    if options.keep_host_header:
        return False
    options.keep_host_header = True
    return True


def upstream_host(flow: http.HTTPFlow) -> None:
    """A reverse proxy's request about to go upstream: the Host mitmproxy would have
    given it (the upstream's), the client's kept for the call log (`metadata.SENT`)."""
    if flow.response is not None or not isinstance(flow.client_conn.proxy_mode, ReverseMode):
        return
    server = flow.server_conn
    if server.address is None:
        return
    request = flow.request
    flow.metadata[metadata.SENT] = request.host_header, request.headers.fields
    request.host_header = url.hostport("https" if server.tls else "http", *server.address)
