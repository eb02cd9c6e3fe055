"""The admin API: what a test (in any language) asks a running mockrec proxy.

Served over HTTP under `/__mockrec/` on the mock URL, and at
`http://mockrec.admin/__mockrec/` (or https, through the CA) through the forward proxy;
the control socket (`mockrec mode`, addons/control_socket.py) runs the same operations.
JSON in and out; errors are `{"error": {"name", "message"}}` with a 4xx status.

    GET    /__mockrec/status           mode, collection, tag, env, examples, calls, port
    PUT    /__mockrec/mode             {"mode": "spy"[, "collection": C]}: as `mockrec mode`
    GET    /__mockrec/calls            this run's calls, oldest first (?method=&path=&status=
                                       &matched=&body_contains=&limit=)
    POST   /__mockrec/calls/count      {"method", "path", "status", "matched", "body_contains",
                                       "headers", "explain", "limit"}: {"count": N, ...}
    DELETE /__mockrec/calls            forget this run's calls (the call log on disk stays)
    POST   /__mockrec/examples         an example as `example show` prints it: 201 {"id", ...}
    DELETE /__mockrec/examples/ID      remove it
    POST   /__mockrec/reset            rewind the sequences and the quotas

Admin requests are never recorded, never logged as calls and never count toward a
quota; a private mock wants its `x-api-key` for them too. The replay addon looks at
each request's path once (`startswith(ADMIN_PATH)`); everything else happens here,
for admin requests only. Writing a collection file happens on a thread, never on the
event loop: the replay fast path leaves those requests to mitmproxy's path, whose
hooks may wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

from mitmproxy import ctx, exceptions, http
from mitmproxy.proxy.mode_specs import ReverseMode

from addons import metadata, options
from addons.answers import json_response
from addons.calllog import CallLog
from recorder.errors import MockrecError, NotFound
from recorder.match.verify import CallQuery, verify
from recorder.modes import Mode, choices
from recorder.serve.responder import Responder
from recorder.settings import OPTION_PREFIX, ProxySettings, ReplaySettings
from recorder.store.names import valid_name
from recorder.views import call_summary

log = logging.getLogger(__name__)

ADMIN_PATH = b"/__mockrec/"
ADMIN_HOST = "mockrec.admin"
MAX_BODY = 8 * 1024 * 1024  # an example with a big body fits; a runaway upload does not
EXAMPLE_ID = re.compile(r"examples/(\d{1,18})")
READING = ("GET", "HEAD")  # the methods that change nothing: no Content-Type asked

Handler = Callable[..., Any]


class AdminError(Exception):
    def __init__(self, status: int, name: str, message: str,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message
        self.headers = headers or []

    def payload(self) -> dict[str, Any]:
        return {"error": {"name": self.name, "message": self.message}}


def bad_request(message: str) -> AdminError:
    return AdminError(400, "badRequestError", message)


class Served(Protocol):
    """What the admin API works on: the replay addon (addons/replay.py)'s state."""

    responder: Responder
    call_log: CallLog

    def reset(self) -> None:
        """Rewind the sequences, fill the quotas."""

    def refresh(self) -> None:
        """Serve the collection's files as they are now."""


class Admin:
    """The admin operations of one proxy (its replay addon's state)."""

    def __init__(self, replay: Served) -> None:
        self.replay = replay
        # path -> method -> (handler, status on success, runs on a thread)
        self.routes: dict[str, dict[str, tuple[Handler, int, bool]]] = {
            "status": {"GET": (self.status, 200, False)},
            "mode": {"PUT": (self.set_mode, 200, False)},
            "calls": {"GET": (self.calls, 200, False), "DELETE": (self.clear_calls, 200, False)},
            "calls/count": {"POST": (self.count, 200, False)},
            "examples": {"POST": (self.add_example, 201, True)},
            "examples/ID": {"DELETE": (self.delete_example, 200, True)},
            "reset": {"POST": (self.reset, 200, False)},
        }
        self._writing = asyncio.Lock()

    # -- the operations --------------------------------------------------------------------

    def status(self, query: dict, body: Any) -> dict[str, Any]:
        opts, replay = ctx.options, self.replay
        addrs = ctx.master.addons.get("proxyserver").listen_addrs()
        return {
            "mode": opts.mockrec_mode,
            "mock": opts.mockrec_mock or None,
            "collection": opts.mockrec_collection or None,
            "tag": opts.mockrec_tag or None,
            "env": opts.mockrec_env or None,
            "examples": len(matcher) if (matcher := replay.responder.matcher) is not None else 0,
            "calls": replay.call_log.run.made,
            "port": addrs[0][1] if addrs else None,
        }

    @staticmethod
    def set_options(settings: dict[str, Any]) -> dict[str, Any]:
        """Set mockrec_* options live (`mockrec mode`, `PUT mode`); ValueError if refused."""
        if not isinstance(settings, dict):
            raise ValueError("settings must be an object of mockrec_* options")
        unknown = [k for k in settings if not str(k).startswith(OPTION_PREFIX)]
        if unknown:
            raise ValueError(f"only mockrec_* options can be set: {unknown}")
        name = settings.get(ReplaySettings.option_name("collection"))
        if name not in (None, "") and not valid_name(name):
            raise ValueError(f"collection {name!r} is not a collection's name: letters, "
                             "digits, '.', '_' and '-', no '..'")
        before = ProxySettings.read(ctx.options, "mode")
        try:
            ctx.options.update(**settings)
        except (exceptions.OptionsError, KeyError, TypeError) as e:
            stays = f"; the proxy stays in {before} mode" if before else ""
            raise ValueError(str(e).strip("'\"") + stays) from None
        return {"mode": ctx.options.mockrec_mode,
                "collection": ctx.options.mockrec_collection}

    def set_mode(self, query: dict, body: Any) -> dict[str, Any]:
        doc = _object(body)
        unknown = sorted(set(doc) - {"mode", "collection"})
        if unknown:
            raise bad_request(f"unknown fields {unknown}: send mode and, optionally, collection")
        mode = doc.get("mode")
        if mode not in choices(Mode):
            raise bad_request(f"mode {mode!r} is not one of {', '.join(choices(Mode))}")
        settings: dict[str, Any] = {ProxySettings.option_name("mode"): mode}
        if doc.get("collection") is not None:
            if not valid_name(doc["collection"]):
                raise bad_request(f"collection {doc['collection']!r} is not a collection's "
                                  "name: letters, digits, '.', '_' and '-', no '..'")
            settings[ReplaySettings.option_name("collection")] = doc["collection"]
        try:
            return self.set_options(settings)
        except ValueError as e:
            raise bad_request(str(e)) from None

    def calls(self, query: dict[str, list[str]], body: Any) -> list[dict[str, Any]]:
        given = _single(query)
        limit = _limit(given.pop("limit", None))
        wanted = _call_query({k: v for k, v in given.items() if v != ""}, ("limit",))
        fitting = [e for e in self.replay.call_log.run.entries() if not wanted.differences(e)]
        if limit is not None:  # the newest `limit`, still oldest first
            fitting = fitting[len(fitting) - limit:] if limit else []
        return [call_summary(e) for e in fitting]

    def count(self, query: dict, body: Any) -> dict[str, Any]:
        doc = dict(_object(body))
        explain = doc.pop("explain", False)
        if not isinstance(explain, bool):
            raise bad_request("explain must be true or false")
        limit = doc.pop("limit", 10)
        if isinstance(limit, str):  # text is for the query string; JSON has numbers
            raise bad_request(f"limit {limit!r} is not a whole number >= 0")
        limit = _limit(limit)
        wanted = _call_query(doc, ("explain", "limit"))
        return verify(wanted, self.replay.call_log.run.entries(), explain,
                      10 if limit is None else limit)

    def clear_calls(self, query: dict, body: Any) -> dict[str, Any]:
        return {"forgotten": self.replay.call_log.run.clear()}

    def reset(self, query: dict, body: Any) -> dict[str, Any]:
        self.replay.reset()
        return {"reset": ["sequences", "quotas"]}

    async def add_example(self, query: dict, body: Any) -> dict[str, Any]:
        from recorder.promote import examples

        name = self._editable_collection()
        store = self._store()
        async with self._writing:
            try:
                example = await asyncio.to_thread(examples.add_example_document, store, name,
                                                  body)
            except ValueError as e:
                raise bad_request(str(e)) from None
            except MockrecError as e:
                raise _conflict(e) from None
        self.replay.refresh()  # served from the next request on
        return {"id": example.id, "name": example.name, "collection": name}

    async def delete_example(self, query: dict, body: Any, example_id: str) -> dict[str, Any]:
        from recorder.promote import examples

        name = self._editable_collection()
        store = self._store()
        async with self._writing:
            try:
                await asyncio.to_thread(examples.delete_example, store, int(example_id), name)
            except NotFound:
                raise AdminError(404, "notFoundError",
                                 f"collection {name} has no example {example_id}") from None
            except MockrecError as e:
                raise _conflict(e) from None
        self.replay.refresh()
        return {"deleted": int(example_id), "collection": name}

    def _editable_collection(self) -> str:
        name, tag = ctx.options.mockrec_collection, ctx.options.mockrec_tag
        if not name:
            raise AdminError(409, "conflictError", "this proxy serves no collection: start it "
                             "with --collection NAME (or PUT mode with a collection)")
        if tag:
            raise AdminError(409, "conflictError", f"this proxy serves {name} as frozen at tag "
                             f"{tag!r}, which does not change; serve the collection itself "
                             "to add or delete examples")
        return name

    @staticmethod
    def _store():
        from recorder.store.collection_store import CollectionStore

        return CollectionStore(options.data_dir())

    # -- over HTTP -------------------------------------------------------------------------

    @staticmethod
    def wants(flow: http.HTTPFlow) -> bool:
        """An admin request (its path starts with ADMIN_PATH): on the mock URL, for
        mockrec.admin through the forward proxy, or sent to the forward proxy's own
        address (`curl localhost:8080/__mockrec/status`); other hosts' paths are theirs."""
        req, client = flow.request, flow.client_conn
        if isinstance(client.proxy_mode, ReverseMode) or req.host == ADMIN_HOST:
            return True
        own = client.sockname
        return bool(own) and req.port == own[1] and req.host in (
            own[0], "localhost", "127.0.0.1", "::1")

    def serve(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Answer an admin request: now, or (writing files) when the returned task is done."""
        # Before anything can fail: whatever happens next, this request is answered here,
        # never forwarded upstream and never recorded (the record addon skips it).
        flow.metadata[metadata.REPLAYED] = True
        try:
            handler, status, threaded, args, query, body = self._prepare(flow)
            if threaded:
                return self._serve_later(flow, handler, status, args, query, body)
            self._respond(flow, status, handler(query, body, *args))
        except AdminError as e:
            self._error(flow, e)
        except RecursionError:
            self._error(flow, bad_request("the body is nested too deeply"))
        except Exception as e:
            self._failed(flow, e)
        return None

    def answer_now(self, flow: http.HTTPFlow) -> None:
        """The fast path's entry: answers what needs no file written; leaves the others
        without a response, for mitmproxy's path (`serve`) to take over."""
        rest = flow.request.path[len(ADMIN_PATH):].partition("?")[0]
        try:
            threaded = self._route(flow.request.method, rest)[2]
        except AdminError:
            threaded = False  # answered at once
        if not threaded:
            self.serve(flow)

    async def _serve_later(self, flow: http.HTTPFlow, handler: Handler, status: int,
                           args: tuple, query: dict, body: Any) -> None:
        try:
            self._respond(flow, status, await handler(query, body, *args))
        except AdminError as e:
            self._error(flow, e)
        except RecursionError:
            self._error(flow, bad_request("the body is nested too deeply"))
        except Exception as e:
            self._failed(flow, e)

    def _prepare(self, flow: http.HTTPFlow) -> tuple[Handler, int, bool, tuple, dict, Any]:
        req = flow.request
        if not self.replay.responder.key_matches(req.headers.get("x-api-key", "")):
            raise AdminError(401, "authenticationError", "This mock is private: send its API "
                             "key in the x-api-key header, for the admin API too.")
        target = req.path[len(ADMIN_PATH):]
        rest, _, query_text = target.partition("?")
        handler, status, threaded, args = self._route(req.method, rest)
        raw = req.raw_content or b""
        if len(raw) > MAX_BODY:
            raise AdminError(413, "payloadTooLargeError",
                             f"the body is {len(raw)} bytes; the admin API takes at most "
                             f"{MAX_BODY}")
        if raw or req.method not in READING:
            # JSON only, even without a body: a web page cannot send it cross-site
            # without asking first (a form or a text/plain POST could reset a mock).
            kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json" and not kind.endswith("+json"):
                raise AdminError(415, "unsupportedMediaTypeError",
                                 f"send {req.method} requests as JSON, with Content-Type: "
                                 "application/json (even without a body)")
        body = parse_json(raw) if raw else None
        try:
            query = parse_qs(query_text, keep_blank_values=True, strict_parsing=False,
                             max_num_fields=50)
        except ValueError as e:
            raise bad_request(f"bad query: {e}") from None
        return handler, status, threaded, args, query, body

    def _route(self, method: str, rest: str) -> tuple[Handler, int, bool, tuple]:
        rest = rest.rstrip("/")
        args: tuple = ()
        if found := EXAMPLE_ID.fullmatch(rest):
            rest, args = "examples/ID", (found.group(1),)
        methods = self.routes.get(rest)
        if methods is None:
            raise AdminError(404, "notFoundError",
                             f"no admin endpoint {ADMIN_PATH.decode()}{rest}: use "
                             + ", ".join(f"{m} {ADMIN_PATH.decode()}{p}"
                                         for p, ms in self.routes.items() for m in ms))
        if method not in methods:
            allowed = ", ".join(methods)
            raise AdminError(405, "methodNotAllowedError",
                             f"{ADMIN_PATH.decode()}{rest} takes {allowed}, not {method}",
                             [(b"Allow", allowed.encode())])
        handler, status, threaded = methods[method]
        return handler, status, threaded, args

    def _respond(self, flow: http.HTTPFlow, status: int, payload: Any,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        response = json_response(status, payload, headers or [])
        if flow.request.method == "HEAD":
            response.data.content = b""
        # Not traffic: never recorded (the record addon skips replayed answers), and
        # not a call (no mockrec_call), so neither logged nor counted.
        flow.metadata[metadata.REPLAYED] = True
        flow.response = response

    def _error(self, flow: http.HTTPFlow, error: AdminError) -> None:
        self._respond(flow, error.status, error.payload(), error.headers)

    def _failed(self, flow: http.HTTPFlow, error: Exception) -> None:
        log.error("mockrec: the admin request %s %s failed", flow.request.method,
                  flow.request.path, exc_info=error)
        self._respond(flow, 500, {"error": {
            "name": "mockServerError",
            "message": f"mockrec failed on this admin request ({type(error).__name__}: "
                       f"{error}); the proxy's output has the details."}})

    # -- over the control socket -------------------------------------------------------------

    async def control(self, request: Any) -> dict[str, Any]:
        """One control-socket request: `{"set": {option: value}}` (`mockrec mode`), or
        `{"admin": {"method", "path", "body"}}`, an admin request without HTTP (the
        socket is its owner's only, so no key is asked)."""
        if not isinstance(request, dict):
            return {"ok": False, "error": "bad control request: not a JSON object"}
        if request.get("reset"):  # `mockrec reset`
            self.replay.reset()
            return {"ok": True, "reset": True, **self.set_options({})}
        if "admin" not in request:
            return apply(request.get("set", {}))
        asked = request["admin"]
        try:
            if not isinstance(asked, dict) or not isinstance(asked.get("path"), str):
                raise bad_request('admin requests are {"method", "path", "body"}')
            rest, _, query_text = asked["path"].removeprefix(ADMIN_PATH.decode()).partition("?")
            handler, status, threaded, args = self._route(str(asked.get("method", "GET")), rest)
            result = handler(parse_qs(query_text, keep_blank_values=True),
                             asked.get("body"), *args)
            if threaded:
                result = await result
        except AdminError as e:
            return {"ok": False, "status": e.status, "error": e.message}
        return {"ok": True, "status": status, "body": result}


def apply(settings: Any) -> dict[str, Any]:
    """`mockrec mode`'s request: `{"ok": True, "mode", "collection", "mock", "pid"}` (the
    last two say who holds a port), or why not."""
    try:
        return {"ok": True, **Admin.set_options(settings), "mock": ctx.options.mockrec_mock,
                "pid": os.getpid()}
    except ValueError as e:
        return {"ok": False, "error": str(e)}


def parse_json(raw: bytes) -> Any:
    """An admin request's body; 400 unless it is JSON whose numbers are all finite
    (`1e999`, `NaN` and `Infinity` are refused here, not met later as an overflow)."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise bad_request("the body is nested too deeply") from None
    except ValueError as e:
        raise bad_request(f"the body is not JSON: {e}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def _single(query: dict[str, list[str]]) -> dict[str, str]:
    repeated = sorted(k for k, v in query.items() if len(v) > 1)
    if repeated:
        raise bad_request(f"give each parameter once: {repeated}")
    return {k: v[0] for k, v in query.items()}


def _limit(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool | float):
            raise ValueError
        limit = int(value)
        if limit < 0:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise bad_request(f"limit {value!r} is not a whole number >= 0") from None
    return limit


def _call_query(given: dict[str, Any], also: tuple[str, ...]) -> CallQuery:
    try:
        return CallQuery.parse(given, also)
    except ValueError as e:
        raise bad_request(str(e)) from None


def _conflict(error: MockrecError) -> AdminError:
    return AdminError(409, "conflictError", str(error))

