"""HTTP/1 over TLS at the speed of plain HTTP: the fast layer drives the TLS itself.

Inside TLS, each request and its answer would cross mitmproxy's machinery: the
connection's reader task wakes, the event goes down every layer (the mode's, the
TLS layers', the fast layer), the TLS layer decrypts with its pyOpenSSL memory
BIOs, the answer's SendData goes back up through each layer, is encrypted, and
the server writes it. That was three quarters of a request's time.

After mitmproxy's handshake (its certificates, its hooks), once the fast layer has
nothing waiting (no delay, fault, stream or hand-off) it takes the connection's
incoming bytes straight from the asyncio stream it arrives on (`DirectTLS.on`: the
stream reader's `feed_data`), and drives the same pyOpenSSL `Connection` the TLS
layer holds: `bio_write` what came, `recv` the plaintext, serve it with the layer's
own code (`FastReplayLayer._serve`: same matching, same bytes, same call log),
`sendall` each answer, `bio_read` the records and write them to the transport.
The TLS state stays the TLS layer's: one object, used by one side at a time.

Whatever the layer would do beyond sending to the client (a delay's wakeup, a
close, a fault's steps, a hand-off to mitmproxy's HTTP layer, the client's
close_notify, a bug) ends direct mode: the stream reader is mitmproxy's again and
the rest of the layer's commands go through the layers, started by a Wakeup event
the fast layer asked for (`FastReplayLayer.resume`). The client's end of the
connection (EOF) always comes through mitmproxy's reader task: it ends direct mode.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator

from mitmproxy import connection
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers.tls import ClientTLSLayer
from OpenSSL import SSL

log = logging.getLogger(__name__)
MAX_UNSENT = 256 * 1024  # more unsent: mitmproxy's reader task, which drains, reads on
_kicks: set[asyncio.Future] = set()  # the events that hand back, until they ran


class Owner(layer.Layer):
    """What DirectTLS drives (layer.py's `FastReplayLayer`)."""

    def direct_steps(self, plaintext: bytes) -> layer.CommandGenerator[None]: ...

    def resume(self, rest: Iterator[commands.Command]) -> commands.RequestWakeup: ...


class DirectTLS:
    """One client connection's TLS, driven by the fast layer between requests."""

    __slots__ = ("owner", "client", "tls", "reader", "transport", "handler", "active")

    def __init__(self, owner: Owner, client: connection.Client, tls: SSL.Connection,
                 io, handler) -> None:
        self.owner, self.client, self.tls = owner, client, tls
        self.reader: asyncio.StreamReader = io.reader
        self.transport: asyncio.WriteTransport = io.writer.transport
        self.handler = handler
        self.active = False

    @classmethod
    def find(cls, owner: Owner) -> DirectTLS | None:
        """The connection's TLS and stream, if mitmproxy shows them (else: None)."""
        client = owner.context.client
        tls_layer = next((lay for lay in reversed(owner.context.layers)
                          if isinstance(lay, ClientTLSLayer) and lay.conn is client), None)
        tls = getattr(tls_layer, "tls", None)
        if not isinstance(tls, SSL.Connection):
            return None
        try:
            from mitmproxy import ctx
            handler = ctx.master.addons.get("proxyserver").connections[client.id]
            io = handler.transports[client]
            io.reader.feed_data, io.writer.transport.write  # noqa: B018
            handler.timeout_watchdog.register_activity  # noqa: B018
        except (AttributeError, KeyError, TypeError):
            return None
        return cls(owner, client, tls, io, handler)

    def on(self) -> bool:
        """Take the incoming bytes from here on, if nothing is left unread before them."""
        if self.active:
            return True
        if (getattr(self.reader, "_buffer", b"x") or self.reader.at_eof()
                or self.transport.is_closing()
                or self.transport.get_write_buffer_size() > MAX_UNSENT):
            return False
        self.reader.feed_data = self.feed  # type: ignore[method-assign]
        self.active = True
        return True

    def off(self) -> None:
        if self.active:
            self.active = False
            del self.reader.feed_data

    def feed(self, data: bytes) -> None:
        """Ciphertext from the client: decrypt, serve, encrypt, write."""
        owner, client, tls = self.owner, self.client, self.tls
        self.handler.timeout_watchdog.register_activity()
        rest: Iterator[commands.Command] | None = None
        try:
            tls.bio_write(data)
            plaintext, closed = self._decrypt()
            steps = owner.direct_steps(plaintext)
            for command in steps:
                if type(command) is commands.SendData and command.connection is client:
                    tls.sendall(command.data)
                else:  # the layers' to carry out, from here on
                    rest = itertools.chain((command,), steps)
                    break
            if closed:  # close_notify: as the TLS layer would say it
                client.state &= ~connection.ConnectionState.CAN_READ
                rest = itertools.chain(rest or (), owner.handle_event(
                    events.ConnectionClosed(client)))
        except Exception:  # a bug of ours: the client must not wait for ever
            log.exception("mockrec: replay's fast path failed; closing the connection")
            rest = iter((commands.CloseConnection(client),))
        self._flush()
        if self.transport.get_write_buffer_size() > MAX_UNSENT and rest is None:
            rest = iter(())  # a client that does not read: mitmproxy's task drains
        if rest is not None:
            self.off()
            kick = events.Wakeup(owner.resume(rest))
            task = asyncio.ensure_future(self.handler.server_event(kick))
            _kicks.add(task)
            task.add_done_callback(_kicks.discard)

    def _decrypt(self) -> tuple[bytes, bool]:
        """The plaintext the records so far carry; and whether the client closed TLS."""
        tls = self.tls
        got = b""
        while True:
            try:
                got += tls.recv(65535)
            except SSL.WantReadError:
                return got, False
            except SSL.ZeroReturnError:
                return got, True
            except SSL.Error as e:  # as the TLS layer does: say it, read on
                log.warning(f"TLS Error: {e}")
                return got, False

    def _flush(self) -> None:
        """Write what the TLS object has encrypted to the client's transport."""
        out = []
        while True:
            try:
                out.append(self.tls.bio_read(65535))
            except SSL.WantReadError:
                break
        if out and not self.transport.is_closing():
            self.transport.write(b"".join(out))
