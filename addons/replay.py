"""Answer requests from a collection's examples, Postman-style, without the upstream.

Runs inside `mockrec replay` / `mockrec proxy` and in plain mitmproxy:
`mitmdump -s addons/replay.py --set mockrec_collection=NAME`.

Its options are `ReplaySettings`' fields (recorder/settings.py) and `mockrec_mode`
(recorder/modes.py says what each mode does), switched live by `mockrec mode` or `--set`.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import random
import time
from collections.abc import Awaitable

from mitmproxy import ctx, exceptions, hooks, http
from mitmproxy.proxy.mode_specs import ReverseMode

from addons import faults, metadata, options
from addons.admin import ADMIN_PATH, Admin
from addons.answers import (
    Wire,
    cors_headers,
    example_response,
    json_response,
    mark_answered,
    not_found,
    wire_headers,
)
from addons.calllog import CallLog
from addons.control_socket import ControlSocket
from addons.fastpath import selector
from addons.fastpath.layer import FastReplayLayer, wants
from addons.quota import Quota
from addons.record import Record
from addons.upstream import UpstreamErrors, install_error_answers
from recorder.errors import MockrecError, NotFound
from recorder.match.matcher import (
    Incoming,
    Matcher,
    MatchSettings,
    Outcome,
    Sequence,
    host_key,
)
from recorder.models import Collection, Example, wire_bytes, wire_text
from recorder.modes import Mode, choices
from recorder.serve import delays, dynamic, templating
from recorder.serve.faults import HEADER as FAULT_HEADER
from recorder.serve.faults import Fault, parse_fault, parse_rate, parse_seed
from recorder.settings import ReplaySettings, SequenceEnd
from recorder.store.collection_store import CollectionStore
from recorder.store.files import file_key
from recorder.store.mocks import EnvironmentStore, hash_key, local_url

log = logging.getLogger(__name__)


class Replay:
    name = "mockrec_replay"

    def __init__(self) -> None:
        self.matcher: Matcher | None = None
        self.collection: Collection | None = None
        self._sources: list[str] = []  # files to watch for edits
        self._source_keys: list[tuple[int, int, int] | None] = []
        self._refreshed_in: int | None = None  # the loop's poll round of the last look
        self.delay_ms = 0
        self.profile: delays.Profile | None = None
        self._delay_asked = False  # a request asked for a delay (x-mock-response-delay)
        self.settings = MatchSettings()
        self.rng = random.Random()
        self.quota = Quota()
        self.call_log = CallLog()
        self.admin = Admin(self)
        self.control = ControlSocket(self.admin)
        # How many requests each sequence answered (by Sequence.key), in this process.
        self.positions: dict[tuple[int, int], int] = {}
        self.sequence_end = SequenceEnd.LAST.value
        self.fault: Fault | None = None  # --fault, for --fault-rate percent of the answers
        self.fault_rate = 100.0
        self.fault_rng = random.Random()
        self._wire: dict[int, Wire] = {}
        self._running = False
        self.config = ReplaySettings()
        self.mode, self.on_miss, self.cors = Mode.REPLAY, self.config.on_miss, True
        self.api_key_sha256 = ""
        self.fast = False

    def load(self, loader) -> None:
        options.add_data_dir_option(loader)
        loader.add_option("mockrec_mode", str, Mode.REPLAY.value,
                          "What the proxy does with a request: " + ", ".join(choices(Mode))
                          + " (recorder/modes.py).", choices=choices(Mode))
        ReplaySettings.declare(loader)
        loader.add_option("mockrec_fast_replay", bool, False,
                          "Answer replayed cleartext HTTP/1 requests inside the connection, "
                          "without mitmproxy's request and response events: for when no "
                          "other addon needs them (mockrec turns it on then).")

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        try:
            if "mockrec_delay" in updated:
                self.delay_ms = delays.parse_delay(opts.mockrec_delay)
            if "mockrec_profile" in updated:
                self.profile = delays.parse_profile(opts.mockrec_profile)
            if updated & {"mockrec_fault", "mockrec_fault_rate"}:
                self.fault = parse_fault(opts.mockrec_fault) if opts.mockrec_fault else None
                self.fault_rate = parse_rate(opts.mockrec_fault_rate)
            if "mockrec_seed" in updated:
                seed = parse_seed(opts.mockrec_seed)
                self.rng, self.fault_rng = random.Random(seed), random.Random(seed)
        except ValueError as e:
            raise exceptions.OptionsError(str(e)) from None
        # Read on every request: taken once here (an option lookup is about 1 us).
        try:
            mode = Mode(opts.mockrec_mode)
        except ValueError:
            raise exceptions.OptionsError(
                f"mode {opts.mockrec_mode!r} is not one of {', '.join(Mode)}") from None
        s = self.config = ReplaySettings.from_options(opts)
        self.mode, self.on_miss, self.cors = mode, s.on_miss, s.cors
        # Only the key's hash is kept and compared (a plain mockrec_api_key is hashed here).
        self.api_key_sha256 = s.api_key_sha256 or (hash_key(s.api_key) if s.api_key else "")
        self.sequence_end = s.sequence_end
        # The fast path serves pure replay; a connection opened in another mode stays
        # mitmproxy's, one opened in replay is handed over when the mode changes.
        self.fast = opts.mockrec_fast_replay and self.mode.fast_path(self.on_miss)
        # Arrival times matter to delays only: stamped while any can be asked for.
        selector.stamp_arrivals(self.fast and (self.delay_ms > 0 or self.profile is not None
                                               or self._delay_asked))
        self.settings = MatchSettings(
            strict=s.strict, match_body=s.match_body,
            match_headers=[h.strip().lower() for h in s.match_headers.split(",") if h.strip()])
        if (updated & {"mockrec_collection", "mockrec_tag", "mockrec_data_dir", "mockrec_env"}
                or self.matcher is None and self.mode.answers()):
            self._open()
        self.call_log.configure(updated)
        self.quota.configure(s)
        if (self._running and updated & {"mockrec_mode", "mockrec_on_miss"}
                and self.mode.forwards(self.on_miss)):
            ensure_forwarding()
        self._limit_bodies(opts, s.body_limit)
        # Replay must answer with the upstream down: connect only when forwarding,
        # and do not ask the upstream for its certificate first.
        if opts.connection_strategy != "lazy":
            opts.connection_strategy = "lazy"
        if opts.upstream_cert:
            opts.upstream_cert = False

    def _limit_bodies(self, opts, limit: int) -> None:
        """mockrec_body_limit through mitmproxy's own limits, which hold memory flat: where
        examples answer, a request is read whole to be matched, so a bigger one is
        refused (413, `body_size_limit`); where everything is forwarded, a bigger body is
        streamed through unread (`stream_large_bodies`) and recorded as truncated."""
        if not limit:
            return  # mitmproxy's own options decide
        wanted = ({"body_size_limit": str(limit), "stream_large_bodies": None}
                  if self.mode.answers() else
                  {"body_size_limit": None, "stream_large_bodies": str(limit)})
        changed = {k: v for k, v in wanted.items() if getattr(opts, k) != v}
        if changed:
            opts.update(**changed)

    def _open(self) -> None:
        name, tag = ctx.options.mockrec_collection, ctx.options.mockrec_tag or None
        if not name:
            self.matcher = self.collection = None
            self._sources, self._source_keys = [], []
            return
        store = CollectionStore(options.data_dir())
        environments = EnvironmentStore(options.data_dir())
        env = ctx.options.mockrec_env
        self._sources = [str(store.path(name, tag))] + (
            [str(environments.files.path(env))] if env else [])
        # Versions taken before reading: an edit landing meanwhile is reloaded next time.
        self._source_keys = [file_key(p) for p in self._sources]
        try:
            collection = store.load(name, tag)
        except NotFound as e:
            if not self.mode.answers():
                # Recording needs no collection: loaded when a mode that answers comes.
                self.matcher = self.collection = None
                return
            raise exceptions.OptionsError(
                f"{e}; create it first (mockrec promote, mockrec example add)") from e
        except MockrecError as e:  # the cause keeps its exit status (4: a damaged file)
            raise exceptions.OptionsError(str(e)) from e
        try:
            variables = environments.get(env) if env else {}
        except MockrecError as e:
            raise exceptions.OptionsError(str(e)) from e
        self.collection = collection
        self.matcher = Matcher(collection, variables)
        self._wire = {}  # examples' headers as bytes, made on first use
        if any(dynamic.needs_faker(e.response.body) or any(
                dynamic.needs_faker(v) for _, v in e.response.headers)
               for e in self.collection.examples):
            dynamic.warm_up()  # Faker's import, in a thread, before the first answer needs it

    def _refresh(self) -> None:
        """Serve an edit (mockrec example edit, or by hand) on the next request: the
        files are looked at once each round of the event loop (`poll_round`)."""
        polled = selector.poll_round()
        if polled is not None and polled == self._refreshed_in:
            return
        self._refreshed_in = polled
        keys = [file_key(p) for p in self._sources]
        if keys == self._source_keys:
            return
        try:
            self._open()
        except exceptions.OptionsError as e:
            self._source_keys = keys  # do not retry until it changes again
            log.warning("mockrec: keeping the examples loaded before: %s", e)

    async def running(self) -> None:
        self._running = True
        install_error_answers()  # JSON 413s for bodies over mockrec_body_limit
        await self.control.start(options.data_dir())
        self._save_url()
        if self.mode.answers():
            self.call_log.start()  # now, rather than on the first call
        # A big collection is many long-lived objects; keep the garbage collector
        # from walking them again and again while requests come in. (No collect first:
        # it would walk them all once more, 0.1-0.2 s of start-up with 10,000 examples,
        # to free the little that import and start-up left behind.)
        gc.freeze()

    async def done(self) -> None:
        await self.control.stop()
        self.call_log.close()

    def _save_url(self) -> None:
        """`--save-url-to ENV`: the mock URL, now that the port is known, as mockUrl."""
        env = self.config.save_url_to
        if not env:
            return
        addrs = ctx.master.addons.get("proxyserver").listen_addrs()
        if not addrs:
            return
        url = local_url(*addrs[0][:2])
        try:
            EnvironmentStore(options.data_dir()).set(env, {"mockUrl": url})
        except MockrecError as e:
            log.warning("mockrec: cannot save mockUrl in environment %s: %s", env, e)

    def next_layer(self, nextlayer) -> None:
        if self.fast and wants(nextlayer):
            nextlayer.layer = FastReplayLayer(nextlayer.context, self, nextlayer.layer)

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get(metadata.CALL):
            self.call_log.log(flow)
        elif not flow.metadata.get(metadata.REPLAYED):
            self.call_log.remember(flow)  # record, passthrough: for the admin API only

    def settle(self, flow: http.HTTPFlow, response: http.Response) -> None:
        """`response` is the answer, to go out after its delay."""
        mark_answered(flow, response, cors_done=True)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.response:
            return
        if flow.metadata.get(metadata.CALL):
            if metadata.FAULT not in flow.metadata:  # a fault logs itself: fault_done
                self.call_log.log(flow)
        elif not flow.metadata.get(metadata.REPLAYED):
            self.call_log.remember(flow)

    def fault_done(self, flow: http.HTTPFlow) -> None:
        """A fault was carried out (or given up on): log the call."""
        self.call_log.log(flow)

    def reset(self) -> None:
        """`mockrec reset`: every sequence starts over, and the quotas are full again."""
        self.positions.clear()
        self.quota.reset()

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        # Not `async def`: most requests need no delay, and a coroutine per request
        # costs throughput. mitmproxy awaits what a hook returns.
        if flow.response or flow.error or not flow.live:
            return
        # The admin API's one cost for other requests: this test (addons/admin.py).
        if flow.request.data.path.startswith(ADMIN_PATH) and self.admin.wants(flow):
            return self.admin.serve(flow)
        later = self._answer_safely(flow)
        if later is not None:
            if type(later) is faults.Faulted:
                return faults.carry_out(flow, later, self.fault_done)
            return self._answer_later(flow, *later)

    def answer(self, flow: http.HTTPFlow) -> tuple[http.Response, float] | faults.Faulted | None:
        """Answer `flow` now (flow.response), or say with what after how many seconds,
        or with which fault (a `Faulted`); None with no response: it goes upstream
        (spy, --on-miss, other modes), or to mitmproxy's path (the fast path's caller
        hands it over)."""
        if flow.request.data.path.startswith(ADMIN_PATH) and self.admin.wants(flow):
            self.admin.answer_now(flow)
            return None
        return self._answer_safely(flow)

    def _answer_safely(self, flow: http.HTTPFlow
                       ) -> tuple[http.Response, float] | faults.Faulted | None:
        try:
            return self._answer(flow)
        except Exception as e:  # a bug of ours: say so, rather than pass it upstream
            log.exception("mockrec: cannot answer %s %r", flow.request.method, flow.request.path)
            flow.metadata[metadata.OUTCOME] = {"kind": "fault",
                                               "reason": f"{type(e).__name__}: {e}"}
            self._reply(flow, json_response(500, {"error": {
                "name": "mockServerError",
                "message": f"mockrec failed on this request ({type(e).__name__}: {e}); "
                           "the proxy's output has the details.",
            }}))
            return None

    def _answer(self, flow: http.HTTPFlow
                ) -> tuple[http.Response, float] | faults.Faulted | None:
        mode = self.mode
        if not mode.answers():
            return
        self._refresh()
        meta = flow.metadata
        meta[metadata.CALL] = True
        req = flow.request
        incoming = Incoming.from_target(
            req.method, req.path,
            [(wire_text(k), wire_text(v)) for k, v in req.headers.fields],
            req.raw_content or b"", self._host(flow))
        if self.cors and (preflight := self._preflight(flow, incoming)):
            meta[metadata.OUTCOME] = {"kind": "preflight"}
            return self._reply(flow, preflight)
        if not self._authorized(incoming):
            meta[metadata.OUTCOME] = {"kind": "unauthorized",
                                      "reason": "missing or wrong x-api-key"}
            return self._reply(flow, json_response(401, {"error": {
                "name": "authenticationError",
                "message": "This mock is private: send its API key in the x-api-key header.",
            }}))
        # Quotas count the calls that reach matching: not 401s, not preflights.
        if limited := self.quota.check():
            meta[metadata.OUTCOME] = {"kind": "quota", "reason": limited.json()["error"]["name"]}
            return self._reply(flow, limited)
        asked = incoming.header(FAULT_HEADER)
        fault = None
        if asked is not None:
            try:
                fault = parse_fault(asked)
            except ValueError as e:
                return self._reply(flow, json_response(400, {"error": {
                    "name": "badFaultHeader", "message": f"{FAULT_HEADER}: {e}"}}))
        outcome = (self.matcher.match(incoming, self.settings) if self.matcher is not None
                   else Outcome(None, [], "no collection is loaded (set mockrec_collection)"))
        if outcome.match is None:
            if mode.forwards_miss(self.on_miss):
                meta[metadata.OUTCOME] = {"kind": "forwarded", "reason": outcome.message}
                if self.api_key_sha256:  # the mock's own key is not the upstream's
                    req.headers.pop("x-api-key", None)
                return  # to the upstream; the record addon decides whether to keep it
            meta[metadata.OUTCOME] = {"kind": "not_found", "reason": outcome.message}
            return self._reply_or_fault(flow, not_found(outcome), fault)
        match = outcome.match
        example = match.example
        if fault is None and self.fault is not None and (
                self.fault_rate >= 100 or self.fault_rng.random() * 100 < self.fault_rate):
            fault = self.fault
        if match.sequence is not None:
            # A fault the request asked for, or --fault's, spoils the answer that was
            # due without using it up: a retry gets it. An example's own fault is its
            # answer at its position.
            served = self._step(match.sequence, move=fault is None)
            if served is None:
                meta[metadata.OUTCOME] = {"kind": "not_found", "reason": "the sequence is over"}
                return self._reply_or_fault(flow, sequence_over(match.sequence, match), fault)
            example = served
        if fault is None and example.fault:
            fault = parse_fault(example.fault)
        wire = self._wire.get(example.id)
        if wire is None:
            wire = self._wire[example.id] = wire_headers(example)
        body = example.response.body
        if wire[2] or templating.has_templates(body):  # dynamic: fill it for this request
            filler = templating.Filler(incoming, {**self.matcher.variables, **match.captures},
                                       self.rng)
            body = filler.body(body, next((v for k, v in example.response.headers
                                           if k.lower() == "content-type"), ""))
            if wire[2]:
                wire = (filler.headers(wire[0]), wire[1], False, wire[3])
        if fault is not None and fault.kind == "empty":
            body = b""
        response = example_response(
            example, wire, body, head_only=req.method == "HEAD",
            cors=cors_headers(incoming.header("origin")) if self.cors else None)
        meta[metadata.OUTCOME] = {"kind": "example"}
        flow.metadata[metadata.EXAMPLE] = (
            {"id": example.id, "name": example.name} if example.sequence is None else
            {"id": example.id, "name": example.name, "sequence": example.sequence})
        # The delay counts from the request's arrival, so time spent queued behind
        # other requests is part of it rather than added to it.
        seconds = self._delay(incoming, len(body), flow)
        flow.metadata[metadata.DELAY_MS] = round(seconds * 1000)
        remaining = seconds - (time.time() - (req.timestamp_start or time.time()))
        if fault is not None:
            flow.metadata[metadata.FAULT] = str(fault)
            if not fault.answers or fault.kind == "slow-body":
                if fault.kind == "slow-body":
                    response.headers["Connection"] = "close"  # it closes after the body
                return faults.Faulted(fault, response, max(0.0, remaining))
        if remaining > 0:
            return response, remaining
        return mark_answered(flow, response, cors_done=True)

    @staticmethod
    def _host(flow: http.HTTPFlow) -> str | None:
        """The host a forward proxy's request is for; None for the mock URL (reverse
        proxy), where examples' hosts are not compared."""
        if isinstance(flow.client_conn.proxy_mode, ReverseMode):
            return None
        req = flow.request
        return host_key(req.scheme, req.host, req.port)

    def _step(self, sequence: Sequence, move: bool = True) -> Example | None:
        """The member of `sequence` this request gets, the next one if `move`, else the
        one due now (it stays due); None when the sequence is over (404 end)."""
        members = sequence.members
        count = self.positions.get(sequence.key, 0) + 1
        if count > len(members):
            end = self.sequence_end
            if end == SequenceEnd.NOT_FOUND:
                return None
            if end != SequenceEnd.CYCLE:
                return members[-1]
            count = 1
        if move:
            self.positions[sequence.key] = count
        return members[count - 1]

    def _reply_or_fault(self, flow: http.HTTPFlow, response: http.Response,
                        fault: Fault | None) -> faults.Faulted | None:
        """One of mockrec's own answers (a 404), spoilt by the request's fault if it asks."""
        if fault is None or fault.kind == "empty":
            if fault is not None:
                flow.metadata[metadata.FAULT] = str(fault)
                response.content = b""
            return self._reply(flow, response)
        flow.metadata[metadata.FAULT] = str(fault)
        flow.metadata[metadata.CALL] = True
        if self.cors and "access-control-allow-origin" not in response.headers:
            # As on the 404 itself, which a page's script reads only with these.
            response.headers.fields += tuple(cors_headers(flow.request.headers.get("origin")))
        if fault.kind == "slow-body":
            response.headers["Connection"] = "close"
        return faults.Faulted(fault, response, 0.0)

    async def _answer_later(self, flow: http.HTTPFlow, response: http.Response,
                            seconds: float) -> None:
        await asyncio.sleep(seconds)  # other requests go on meanwhile
        self.settle(flow, response)

    def _reply(self, flow: http.HTTPFlow, response: http.Response) -> None:
        mark_answered(flow, response)

    def _preflight(self, flow: http.HTTPFlow, incoming: Incoming) -> http.Response | None:
        asked = incoming.header("access-control-request-method")
        if incoming.method != "OPTIONS" or asked is None:
            return None
        if self.matcher is not None and self.matcher.match(incoming, self.settings).match:
            return None  # an OPTIONS example answers it
        origin = incoming.header("origin")
        headers = [*cors_headers(origin), (b"Access-Control-Allow-Methods", wire_bytes(asked)),
                   (b"Access-Control-Max-Age", b"600")]
        if asked_headers := incoming.header("access-control-request-headers"):
            headers.append((b"Access-Control-Allow-Headers", wire_bytes(asked_headers)))
        return http.Response.make(204, b"", headers)

    def _authorized(self, incoming: Incoming) -> bool:
        return self.key_matches(incoming.header("x-api-key") or "")

    def key_matches(self, given: str) -> bool:
        """Is `given` this mock's API key? Always, for a public mock. Any bytes a client
        sends hash (surrogate escapes and all): a wrong key is a 401, never an error."""
        hashed = self.api_key_sha256
        if not hashed:
            return True
        return hmac.compare_digest(hash_key(given), hashed)

    def _delay(self, incoming: Incoming, size: int, flow: http.HTTPFlow) -> float:
        asked, ignored = delays.checked_header_delay(incoming.header("x-mock-response-delay"))
        if ignored:  # said in the call log: Postman ignores it without a word
            flow.metadata.setdefault(metadata.WARNINGS, []).append(ignored)
        if asked is not None:
            if not self._delay_asked and self.fast:
                # From now on, delays count from the requests' arrival (this one's
                # counts from when the loop's poll returned it).
                self._delay_asked = True
                selector.stamp_arrivals(True)
            return asked / 1000
        if self.profile is not None:
            return self.profile.seconds(size, self.rng)
        return self.delay_ms / 1000


def sequence_over(sequence: Sequence, match) -> http.Response:
    return json_response(404, {"error": {
        "name": "mockRequestNotFoundError",
        "header": "No matching requests",
        "message": f"the {len(sequence.members)} answers of the sequence of {match.request.name} "
                   "were all given (--sequence-end 404); `mockrec reset` rewinds it.",
        "details": [],
    }})


def forwarding_addons() -> list:
    """What a request that goes upstream needs: JSON 502/504s, then recording."""
    return [UpstreamErrors(), Record()]


def all_addons() -> list:
    """Everything a mockrec proxy runs, in hook order: replay answers first."""
    return [Replay(), *forwarding_addons()]


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


addons = all_addons()
