"""Answer requests from a collection's examples, Postman-style, without the upstream.

Runs inside `mockrec replay` / `mockrec proxy` and in plain mitmproxy:
`mitmdump -s addons/replay.py --set mockrec_collection=NAME`.

Its options are `ReplaySettings`' fields (recorder/settings.py) and `mockrec_mode`
(recorder/modes.py says what each mode does), switched live by `mockrec mode` or `--set`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable

from mitmproxy import ctx, exceptions, http

from addons import decisions, faults, metadata, options
from addons.admin import ADMIN_PATH, Admin
from addons.answers import mark_answered
from addons.calllog import CallLog
from addons.control_socket import ControlSocket, save_url
from addons.decisions import Later
from addons.fastpath import selector
from addons.fastpath.h2 import prior_knowledge
from addons.fastpath.layer import fast_layer, wants
from addons.forwarding import ensure_forwarding, forwarding_addons, keep_client_host, upstream_host
from addons.streamer import Streamed, Streamer
from addons.upstream import install_error_answers, limit_bodies
from addons.websockets import Conversations, Play
from recorder.errors import MockrecError
from recorder.models import Collection
from recorder.modes import Mode
from recorder.serve.config import ServeConfig
from recorder.serve.examples import Served
from recorder.serve.responder import Responder
from recorder.settings import ProxySettings, ReplaySettings

log = logging.getLogger(__name__)


class Replay:
    """The seam between mitmproxy and the `Responder` (recorder/serve/responder.py):
    flows become `Call`s, decisions become responses, sent now, after their delay, or
    spoilt by their fault (addons/faults.py)."""

    name = "mockrec_replay"

    def __init__(self) -> None:
        self.responder = Responder()
        self.served = Served(self.responder)  # the collection, read again when edited
        self.call_log = CallLog()
        self.websockets = Conversations()
        self.admin = Admin(self)
        self.control = ControlSocket(self.admin)
        self.streamer = Streamer()  # streamed answers on mitmproxy's path
        self.settings = ReplaySettings()  # as given; the responder's config is compiled
        self._running = False
        self.fast = False  # the fast path serves this proxy's connections
        self._stamping = False  # arrival times are stamped (for delays)
        self.host_back = False  # keep_host_header is mockrec's: give the upstream its Host

    @property
    def mode(self) -> Mode:
        return self.responder.config.mode

    @property
    def on_miss(self) -> str:
        return self.responder.config.on_miss

    @property
    def collection(self) -> Collection | None:
        return self.served.collection

    def load(self, loader) -> None:
        ProxySettings.declare(loader, "mode", "data_dir", "fast_replay")
        ReplaySettings.declare(loader)

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        s = ReplaySettings.from_options(opts)
        try:
            config = ServeConfig.compile(s, Mode(opts.mockrec_mode))
        except ValueError as e:
            raise exceptions.OptionsError(str(e)) from None
        changed = ReplaySettings.changed(updated) | ProxySettings.changed(updated)
        self.settings, mode = s, config.mode
        self.responder.configure(config, reseed="seed" in changed)
        # The fast path serves pure replay; a connection opened in another mode stays
        # mitmproxy's, one opened in replay is handed over when the mode changes.
        self.fast = opts.mockrec_fast_replay and mode.fast_path(config.on_miss)
        # Arrival times matter to delays only: stamped while any can be asked for.
        self._stamp(self.fast and (config.may_delay or self.responder.delay_asked))
        if (changed & {"collection", "tag", "env", "data_dir"}
                or self.responder.matcher is None and mode.answers()):
            self._open()
        self.call_log.configure(s, mode.value)
        self.host_back |= keep_client_host(opts)  # the call log keeps the client's Host
        if self._running and changed & {"on_miss", "mode"} and mode.forwards(config.on_miss):
            ensure_forwarding()
        limit_bodies(opts, s.body_limit, mode.answers())
        # Replay must answer with the upstream down: connect only when forwarding,
        # and do not ask the upstream for its certificate first.
        if opts.connection_strategy != "lazy":
            opts.connection_strategy = "lazy"
        if opts.upstream_cert:
            opts.upstream_cert = False

    def _stamp(self, on: bool) -> None:
        self._stamping = on
        selector.stamp_arrivals(on)

    def _open(self) -> None:
        try:
            self.served.open(options.data_dir(), self.settings, self.mode.answers())
        except MockrecError as e:  # the cause keeps its exit status (3, 4: a damaged file)
            raise exceptions.OptionsError(str(e)) from e

    def refresh(self) -> None:
        """Serve an edit on the next request (`Served.refresh`): the files are looked at
        once each round of the event loop (`poll_round`)."""
        self.served.refresh(selector.poll_round(), self.mode.answers())

    async def running(self) -> None:
        self._running = True
        install_error_answers()  # JSON 413s for bodies over mockrec_body_limit
        await self.control.start(options.data_dir())
        await self.streamer.start()
        save_url(self.settings.save_url_to)
        if self.mode.answers():
            self.call_log.start()  # now, rather than on the first call
        # A big collection is many long-lived objects: the garbage collector leaves them
        # be. (No collect first: 0.1-0.2 s of start-up with 10,000 examples, for little.)
        gc.freeze()

    async def done(self) -> None:
        await self.control.stop()
        await self.websockets.close()
        await self.streamer.stop()
        self.call_log.close()

    def next_layer(self, nextlayer) -> None:
        if self.fast and wants(nextlayer):
            nextlayer.layer = fast_layer(nextlayer, self)
        else:
            prior_knowledge(nextlayer)  # h2c on mitmproxy's path

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        Streamer.responseheaders(flow)  # a streamed answer's head, back from the streamer

    def response(self, flow: http.HTTPFlow) -> None:
        self.websockets.settle(flow)
        if flow.websocket is not None:
            return  # logged with its conversation once it ends
        self.call_log.ended(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self.call_log.ended(flow)

    def settle(self, flow: http.HTTPFlow, response: http.Response) -> None:
        """`response` is the answer, to go out after its delay."""
        mark_answered(flow, response)

    def error(self, flow: http.HTTPFlow) -> None:
        streamed = Streamer.cut_short(flow)  # logged as served
        if flow.response and not streamed:
            return
        # A fault's call logs itself once carried out (fault_done).
        if streamed or not flow.metadata.get(metadata.CALL) or metadata.FAULT not in flow.metadata:
            self.call_log.ended(flow)

    def fault_done(self, flow: http.HTTPFlow) -> None:
        """A fault was carried out (or given up on): log the call."""
        self.call_log.log(flow)

    def reset(self) -> None:
        """`mockrec reset`: every sequence starts over, and the quotas are full again."""
        self.responder.reset()

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        # Not `async def`: most requests need no delay, and a coroutine per request
        # costs throughput. mitmproxy awaits what a hook returns.
        later = flow.metadata.pop(metadata.DECIDED, None)  # by the fast path (HTTP/2)
        if later is None:
            if flow.response or flow.error or not flow.live:
                return
            # The admin API's one cost for other requests: this test (addons/admin.py).
            if flow.request.data.path.startswith(ADMIN_PATH) and self.admin.wants(flow):
                return self.admin.serve(flow)
            later = self._answer_safely(flow)
        if later is None:
            if self.host_back:
                upstream_host(flow)  # unless answered: it goes upstream
            return None
        if type(later) is faults.Faulted:
            return faults.carry_out(flow, later, self.fault_done)
        if type(later) is Play:
            return self.websockets.play(flow, later, self.responder.config)
        if type(later) is Streamed:
            return self.streamer.play(flow, later)
        return self._answer_later(flow, *later)

    def answer(self, flow: http.HTTPFlow) -> Later:
        """Answer `flow` now (flow.response), or say with what after how many seconds,
        or with which fault (a `Faulted`); None with no response: it goes upstream
        (spy, --on-miss, other modes), or to mitmproxy's path (the fast path's caller
        hands it over)."""
        if flow.request.data.path.startswith(ADMIN_PATH) and self.admin.wants(flow):
            self.admin.answer_now(flow)
            return None
        return self._answer_safely(flow)

    def _answer_safely(self, flow: http.HTTPFlow) -> Later:
        try:
            return self._answer(flow)
        except Exception as e:  # a bug of ours: say so, rather than pass it upstream
            log.exception("mockrec: cannot answer %s %r", flow.request.method, flow.request.path)
            decisions.failed(flow, e, self.responder.config.cors)
            return None

    def _answer(self, flow: http.HTTPFlow) -> Later:
        responder = self.responder
        if not responder.config.mode.answers():
            return None
        self.refresh()
        flow.metadata[metadata.CALL] = True
        call = decisions.call_of(flow)
        decision = responder.respond(call)
        if responder.delay_asked and self.fast and not self._stamping:
            # From now on, delays count from the requests' arrival (this one's counts
            # from when the loop's poll returned it).
            self._stamp(True)
        return decisions.carry_out(flow, call, decision)

    async def _answer_later(self, flow: http.HTTPFlow, response: http.Response,
                            seconds: float) -> None:
        await asyncio.sleep(seconds)  # other requests go on meanwhile
        self.settle(flow, response)


def all_addons() -> list:
    """Everything a mockrec proxy runs, in hook order: replay answers first."""
    return [Replay(), *forwarding_addons()]


addons = all_addons()
