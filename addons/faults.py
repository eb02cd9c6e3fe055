"""Carrying a fault out (recorder/serve/faults.py says what each one is).

Replay decides on a fault and hands back a `Faulted`; the fast path carries it out with
its own commands (addons/fastpath/layer.py), mitmproxy's path with `carry_out` here.
mitmproxy has no command for "reset this connection" or "send these bytes as they are",
so both reach the client's asyncio transport through the proxyserver's connection
handler (where mitmproxy keeps it) for what needs it:

- reset: SO_LINGER 0 on the socket, then abort: the kernel answers with a RST;
- close: the flow is killed, and mitmproxy closes the connection without an answer;
- garbage: the bytes go to the transport, then the flow is killed;
- slow-body: the head, then the body's pieces at their times (asyncio sleeps: other
  requests go on), then the flow is killed, closing the connection (its head says
  `Connection: close`). Inside TLS or HTTP/2 the bytes must go through mitmproxy's
  layers, which take an answer only whole: there the whole answer goes after MS ms.
- empty is an ordinary answer (an empty body), made by replay.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from typing import TYPE_CHECKING, NamedTuple

from mitmproxy import ctx, http
from mitmproxy.net.http import http1

from addons.answers import mark_answered
from recorder.serve.faults import GARBAGE, Fault, slow_pieces

if TYPE_CHECKING:
    from mitmproxy.connection import Client

log = logging.getLogger(__name__)
_warned: set[str] = set()


class Faulted(NamedTuple):
    """Replay's answer with a fault: what to do, the answer it spoils, after how long."""

    fault: Fault
    response: http.Response
    seconds: float


def connection_handler(client: Client):
    """mitmproxy's handler of the client's connection (its transports, its hook tasks);
    None if it cannot be had."""
    try:
        return ctx.master.addons.get("proxyserver").connections[client.id]
    except (AttributeError, KeyError, TypeError):
        return None


def client_transport(client: Client) -> asyncio.Transport | None:
    """The client connection's asyncio transport, from mitmproxy's connection handler."""
    try:
        return connection_handler(client).transports[client].writer.transport
    except (AttributeError, KeyError, TypeError):
        return None


def reset(transport: asyncio.BaseTransport | None) -> bool:
    """Reset the connection (RST): linger 0, then close at once. False if it cannot."""
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        return False
    transport.abort()  # type: ignore[attr-defined]
    return True


def slow_head(response: http.Response) -> bytes:
    return http1.assemble_response_head(response)


def warn_once(what: str, message: str) -> None:
    if what not in _warned:
        _warned.add(what)
        log.warning("mockrec: %s", message)


async def carry_out(flow: http.HTTPFlow, faulted: Faulted, done) -> None:
    """On mitmproxy's path, inside the request hook: do the fault, then `done(flow)`
    (the call log)."""
    fault, response = faulted.fault, faulted.response
    if faulted.seconds > 0:
        await asyncio.sleep(faulted.seconds)
    transport = client_transport(flow.client_conn)
    raw = (transport is not None and not flow.client_conn.tls
           and flow.request.http_version.startswith("HTTP/1"))
    if fault.kind == "reset":
        if not reset(transport):
            warn_once("reset", "cannot reach the connection's socket: a reset fault "
                               "closes the connection instead")
    elif fault.kind == "garbage" and transport is not None:
        transport.write(GARBAGE)
    elif fault.kind == "slow-body":
        body = b"" if flow.request.method == "HEAD" else response.raw_content or b""
        if not raw:
            warn_once("slow-body", "inside TLS or HTTP/2 a slow-body fault sends the whole "
                                   "answer after its time")
            await asyncio.sleep(fault.ms / 1000)
            del response.headers["Connection"]  # not in HTTP/2; the connection stays
            response.timestamp_start = response.timestamp_end = time.time()
            mark_answered(flow, response)  # the response event logs it
            return
        response.timestamp_start = time.time()
        transport.write(slow_head(response))
        started = time.monotonic()
        for at, piece in slow_pieces(body, fault.ms):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            if transport.is_closing():
                break
            transport.write(piece)
        response.timestamp_end = time.time()
        flow.response = response
    if flow.killable:
        flow.kill()
    done(flow)
