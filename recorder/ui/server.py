"""The web app of `mockrec ui`, on tornado (installed with mitmproxy, which uses it for
mitmweb). Pages are rendered on the server; a little plain JavaScript
(`static/ui.js`) adds the live call log and conveniences. Every page reads and
writes through the library functions the command line uses.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlencode

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web
from tornado.ioloop import IOLoop

from recorder import views
from recorder.errors import MockrecError, NotFound
from recorder.models import HistoryEntry, HistoryFilter, IdSpan, parse_since
from recorder.promote import entries as promoting
from recorder.promote import examples
from recorder.proxy import remote
from recorder.store.collection_store import CollectionStore, check_name
from recorder.store.history import HistoryStore, call_log_root, call_logs, open_call_log
from recorder.store.mocks import MockStore
from recorder.ui import bodies, security

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 100
EDITABLE_UP_TO = 256 * 1024  # bigger (or binary) example bodies are kept, not put in a form
POLL_SECONDS = 0.25  # how often a live call log looks at the call log's files
KEEPALIVE_SECONDS = 15
# Everything the page loads comes from this server: no CDN, nothing leaves the machine.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
RAW_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


@dataclass
class UiState:
    data_dir: Path
    token: str
    listen_host: str
    port: int = 0
    hosts: frozenset[str] = field(default_factory=frozenset)
    stopping: bool = False  # live streams end at their next look
    _history: HistoryStore | None = None

    @property
    def cookie(self) -> str:  # cookies ignore ports: one name per server
        return f"mockrec_ui_{self.port}"

    @property
    def history(self) -> HistoryStore:
        if self._history is None:  # kept: it caches parsed segments between pages
            self._history = HistoryStore(self.data_dir)
        return self._history

    @property
    def collections(self) -> CollectionStore:
        return CollectionStore(self.data_dir)

    @property
    def mocks(self) -> MockStore:
        return MockStore(self.data_dir)


class Base(tornado.web.RequestHandler):
    """Host and token checks for every request, the page frame, errors as pages."""

    section = ""

    @property
    def state(self) -> UiState:
        return self.settings["mockrec"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        ui = self.state
        if not security.host_allowed(self.request.headers.get("Host"), ui.hosts):
            raise tornado.web.HTTPError(403, reason="Forbidden host")
        method = self.request.method or ""
        given = self.request.headers.get(security.TOKEN_HEADER)
        if method in security.STATE_CHANGING:
            given = given or self.get_body_argument(security.TOKEN_FIELD, None)
            if not security.same_token(given, ui.token):
                raise tornado.web.HTTPError(403, reason="Token required")
            return
        in_url = self.get_query_argument("token", None)
        if in_url is not None and method == "GET":
            if not security.same_token(in_url, ui.token):
                raise tornado.web.HTTPError(403, reason="Wrong token")
            self.set_cookie(ui.cookie, ui.token, httponly=True, samesite="Lax")
            rest = [(k, v) for k, vs in self.request.query_arguments.items() if k != "token"
                    for v in vs]
            query = urlencode([(k, v.decode()) for k, v in rest])
            self.redirect(self.request.path + (f"?{query}" if query else ""))
            return
        if not security.same_token(given or self.get_cookie(ui.cookie), ui.token):
            raise tornado.web.HTTPError(403, reason="Token required")

    # -- pages -------------------------------------------------------------------------

    def page(self, template: str, title: str, status: int = 200, **values: Any) -> None:
        flash = self.get_cookie("mockrec_ui_flash")
        if flash:
            self.clear_cookie("mockrec_ui_flash")
        self.set_status(status)
        self.render(template, title=title, flash=unquote(flash or ""), **values)

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(token=self.state.token, token_field=security.TOKEN_FIELD,
                         data_dir=str(self.state.data_dir), urlq=quote, section=self.section)
        return namespace

    def done(self, message: str, url: str) -> None:
        """After a change: say what happened on the next page (Post/Redirect/Get)."""
        if len(message) > 1000:  # a cookie holds about 4 KB
            message = message[:1000] + " …"
        self.set_cookie("mockrec_ui_flash", quote(message), httponly=True, samesite="Lax")
        self.redirect(url, status=303)

    def arg(self, name: str, default: str = "") -> str:
        return (self.get_argument(name, default) or "").strip()

    # -- errors ------------------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, MockrecError):
            status_code = 404 if isinstance(error, NotFound) else 400
            message = str(error)
        elif status_code == 403:
            message = refusal(self._reason)
        else:
            message = self._reason
        self.set_status(status_code)
        self.clear_header("Set-Cookie")
        if status_code == 403:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{status_code} {self._reason}: {message}\n")
            return
        self.render("error.html", title=f"{status_code}", status=status_code, message=message,
                    flash="")

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if not isinstance(value, MockrecError):
            super().log_exception(typ, value, tb)


class Home(Base):
    def get(self) -> None:
        self.redirect("/history")


class GuardedStatic(tornado.web.StaticFileHandler):
    """The package's CSS and JavaScript, under the same checks."""

    prepare = Base.prepare
    set_default_headers = Base.set_default_headers
    state = Base.state

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        message = refusal(self._reason) if status_code == 403 else ""
        self.finish(f"{status_code} {self._reason}: {message}\n")


def refusal(reason: str) -> str:
    if reason == "Forbidden host":
        return ("the Host header does not name this server (a guard against DNS rebinding): "
                "use http://127.0.0.1:PORT or http://localhost:PORT")
    return ("this needs the token: open the URL `mockrec ui` printed when it started "
            "(it carries ?token=...)")


# -- history ---------------------------------------------------------------------------


FILTERS = ("method", "host", "path", "status", "since")


class HistoryPage(Base):
    section = "history"

    def get(self) -> None:
        values = {k: self.arg(k) for k in (*FILTERS, "q")}
        limit = _int(self.arg("limit"), PAGE_SIZE, 1, 5000)
        error = ""
        try:
            filters = HistoryFilter(method=values["method"] or None, host=values["host"] or None,
                                    path=values["path"] or None, status=values["status"] or None,
                                    since=parse_since(values["since"]) if values["since"] else None)
        except ValueError as e:
            error, filters = str(e), None
        found: list[HistoryEntry] = []
        if filters is not None:
            store = self.state.history
            if values["q"]:
                matching = (e for e in store.search(values["q"]) if filters.matches(e))
            else:
                matching = store.entries(filters)
            found = list(islice(matching, limit + 1))
        rows = [(e, views.entry_row(e)) for e in found[:limit]]
        more = len(found) > limit
        self.page("history.html", "History", values=values, rows=rows, error=error, more=more,
                  limit=limit, collections=self.state.collections.names(),
                  filtered=any(values.values()))


class EntryPage(Base):
    section = "history"

    def get(self, entry_id: str) -> None:
        entry = self.state.history.get(int(entry_id))
        self.page("entry.html", f"#{entry_id}", entry=entry, **_entry_values(entry),
                  raw=f"/history/{entry_id}/body", call=None, not_found=None,
                  collections=self.state.collections.names())


class RawBody(Base):
    """A body as it was, decoded, in its own response (never inside a page)."""

    def get(self, *args: str) -> None:
        *where, side = args
        entry = (self.state.history.get(int(where[0])) if len(where) == 1
                 else _call_log(self.state, where[0]).get(int(where[1])))
        message = entry.request if side == "request" else entry.response
        if message is None:
            raise NotFound(f"entry {entry.id} has no response")
        self.send_body(message.headers, message.body, f"entry-{entry.id}-{side}")

    def send_body(self, headers: list, body: bytes | None, name: str) -> None:
        data, media, download = bodies.raw(headers, body)
        self.set_header("Content-Type", media)
        self.set_header("Content-Security-Policy", RAW_CSP)
        if download:
            self.set_header("Content-Disposition", f'attachment; filename="{name}.bin"')
        self.finish(data)


class Promote(Base):
    """Mock Request: the chosen entries into an existing or a new collection."""

    def post(self) -> None:
        ids = sorted({int(i) for i in self.get_body_arguments("id") if i.strip().isdigit()})
        if not ids:
            raise MockrecError("choose the entries to mock first: tick their boxes in the "
                               "history")
        target = self.arg("collection") or self.arg("new_collection") or None
        options = promoting.PromoteOptions(
            request_name=self.arg("request_name") or None,
            example_name=self.arg("example_name") or None,
            template=self.arg("template") or None,
            infer_templates=bool(self.arg("infer_templates")),
            keep_secrets=bool(self.arg("keep_secrets")))
        promoting.check_template(options.template)
        store = self.state.collections
        chosen = promoting.select_entries(self.state.history,
                                          [IdSpan(i, i, False) for i in ids], HistoryFilter())
        done = promoting.promote_into(store, target, chosen, options)
        self.done(views.promote_text(done.collection, done.created, done.result,
                                     store.path(done.collection)),
                  f"/collections/{done.collection}")


# -- collections -----------------------------------------------------------------------


class CollectionsPage(Base):
    section = "collections"

    def get(self) -> None:
        rows = [views.collection_summary(c) for c in self.state.collections.all()]
        self.page("collections.html", "Collections", rows=rows)

    def post(self) -> None:
        name = self.arg("name")
        self.state.collections.create(name)
        self.done(f"created collection {name}", f"/collections/{name}")


class CollectionPage(Base):
    section = "collections"

    def get(self, name: str) -> None:
        store = self.state.collections
        collection = store.load(name)
        serving = [m.name for m in self.state.mocks.all() if m.collection == name]
        self.page("collection.html", name, c=collection, path=str(store.path(name)),
                  mocks=serving, logs=call_logs(self.state.data_dir), add=None, add_error="")


class CheckDrift(Base):
    """"Check against the API": `mockrec drift` on this collection, its report as a page.
    A POST with the token: it sends requests (GET, HEAD and OPTIONS only) to the API."""

    section = "collections"

    async def post(self, name: str) -> None:
        from recorder.drift.check import DriftOptions, check
        from recorder.drift.plan import Fill

        collection = self.state.collections.load(name)
        upstream = self.arg("upstream") or None
        if upstream is not None and not upstream.startswith(("http://", "https://")):
            raise MockrecError(f"{upstream!r} is not an http:// or https:// URL")
        options = DriftOptions(fill=Fill(upstream=upstream), values=bool(self.arg("values")))
        report = await check(collection, options, self.state.data_dir)
        self.page("drift.html", f"{name}: against the API", c=collection, report=report,
                  upstream=upstream or collection.variables.get("baseUrl", ""))


class DeleteCollection(Base):
    def post(self, name: str) -> None:
        self.state.collections.delete(name)
        self.done(f"deleted collection {name}", "/collections")


class AddExample(Base):
    section = "collections"

    def post(self, name: str) -> None:
        store = self.state.collections
        form = {k: self.get_body_argument(k, "") for k in
                ("method", "path", "status", "headers", "body", "name")}
        try:
            status = form["status"].strip()
            if not status.isdigit():
                raise MockrecError(f"status {status!r} is not a number")
            with store.editing(name) as c:
                wanted = examples.NewExample(form["method"].strip() or "GET",
                                             form["path"].strip(), int(status),
                                             name=form["name"].strip() or None)
                example = examples.add_example(
                    c, store, wanted, [h for h in form["headers"].splitlines() if h.strip()],
                    _from_textarea(form["body"], "").encode())
        except NotFound:
            raise
        except MockrecError as e:
            collection = store.load(name)
            self.page("collection.html", name, status=400, c=collection,
                      path=str(store.path(name)), mocks=[], logs=call_logs(self.state.data_dir),
                      add=form, add_error=str(e))
            return
        self.done(f"added example {example.id} ({example.name}) to {name}",
                  f"/collections/{name}/examples/{example.id}")


class ExamplePage(Base):
    """An example's response in a form: checked as `example edit` checks its JSON."""

    section = "collections"

    def load(self, name: str, example_id: str) -> tuple[Any, Any, Any, dict[str, Any]]:
        owner, request, example = self.state.collections.find_example(int(example_id), name)
        return owner, request, example, examples.example_document(example, request)

    def show(self, name: str, example_id: str, form: dict[str, str] | None = None,
             error: str = "") -> None:
        owner, request, example, doc = self.load(name, example_id)
        response = doc["response"]
        body_text = response["body"].get("text")
        editable = body_text is not None and len(example.response.body) <= EDITABLE_UP_TO
        form = form or {"status": str(response["status"]),
                        "headers": "\n".join(response["headers"]),
                        "body": body_text if editable else ""}
        view = bodies.present(example.response.headers, example.response.body)
        self.page("example.html", f"example {example_id}", status=400 if error else 200,
                  c=owner, request=request, example=example, form=form, error=error,
                  editable=editable, view=view,
                  request_view=bodies.present(example.request.headers, example.request.body),
                  raw=f"/collections/{name}/examples/{example_id}/body")

    def get(self, name: str, example_id: str) -> None:
        self.show(name, example_id)

    def post(self, name: str, example_id: str) -> None:
        owner, _, example, doc = self.load(name, example_id)
        form = {k: self.get_body_argument(k, "") for k in ("status", "headers")}
        body = self.get_body_argument("body", None)
        if body is not None:
            original = doc["response"]["body"].get("text", "")
            body = _from_textarea(body, original)
            form["body"] = body
        edited_doc = examples.edit_response(doc, form["status"], form["headers"], body)
        try:
            edited = examples.validate_edit(edited_doc, example.id)
        except ValueError as e:
            self.show(name, example_id, form,
                      f"your edit was refused: {e}; example {example_id} is unchanged")
            return
        examples.save_example(self.state.collections, owner.name, edited)
        self.done(f"saved example {example_id} in {owner.name}; running proxies serve it on "
                  "their next request", f"/collections/{owner.name}/examples/{example_id}")


class ExampleBody(RawBody):
    def get(self, name: str, example_id: str) -> None:  # type: ignore[override]
        _, _, example = self.state.collections.find_example(int(example_id), name)
        self.send_body(example.response.headers, example.response.body,
                       f"example-{example_id}-response")


class DeleteExample(Base):
    def post(self, name: str, example_id: str) -> None:
        owner = examples.delete_example(self.state.collections, int(example_id), name)
        url = f"/collections/{owner}" if self.state.collections.exists(owner) else "/collections"
        self.done(f"deleted example {example_id} from {owner}", url)


class FindExample(Base):
    def get(self, example_id: str) -> None:
        owner, _, _ = self.state.collections.find_example(int(example_id))
        self.redirect(f"/collections/{owner.name}/examples/{example_id}")


# -- mocks, proxies, call logs -----------------------------------------------------------


class MocksPage(Base):
    section = "mocks"

    async def get(self) -> None:
        data_dir = self.state.data_dir
        proxies = await IOLoop.current().run_in_executor(None, running_proxies, data_dir)
        self.page("mocks.html", "Mocks and proxies",
                  mocks=[views.mock_json(m) for m in self.state.mocks.all()],
                  proxies=proxies, logs=call_logs(data_dir), modes=remote.MODES)


def running_proxies(data_dir: Path) -> list[dict[str, Any]]:
    found = []
    for port in remote.running_ports(data_dir):
        try:
            reply = remote.status(data_dir, port)
            found.append({"port": port, "mode": reply.get("mode", ""),
                          "mock": reply.get("mock") or "",
                          "collection": reply.get("collection", ""), "error": ""})
        except MockrecError as e:
            found.append({"port": port, "mode": "", "mock": "", "collection": "",
                          "error": str(e)})
    return found


class SwitchMode(Base):
    async def post(self, port: str) -> None:
        mode = self.arg("mode")
        reply = await IOLoop.current().run_in_executor(
            None, remote.switch_mode, self.state.data_dir, int(port), mode)
        serving = f", serving {reply['collection']}" if reply.get("collection") else ""
        self.done(f"proxy on port {port} now in {reply['mode']} mode{serving}", "/mocks")


def _call_log(ui: UiState, name: str) -> HistoryStore:
    """A call log by name; a mock or collection with no calls yet has an empty one."""
    check_name(name, "mock")
    if name in call_logs(ui.data_dir) or ui.mocks.exists(name) or ui.collections.exists(name):
        return HistoryStore(ui.data_dir, call_log_root(name))
    return open_call_log(ui.data_dir, name)  # says what exists


class CallLogsPage(Base):
    section = "calls"

    def get(self) -> None:
        names = call_logs(self.state.data_dir)
        if len(names) == 1:
            self.redirect(f"/calls/{names[0]}")
            return
        self.page("calls_index.html", "Call log", logs=names,
                  mocks=[m.name for m in self.state.mocks.all()])


class CallLogPage(Base):
    section = "calls"

    def get(self, name: str) -> None:
        log = _call_log(self.state, name)
        q = self.arg("q")
        limit = _int(self.arg("limit"), PAGE_SIZE * 2, 1, 5000)
        newest = next(iter(log.entries()), None)  # before listing: the live view goes on
        found = list(islice(log.search(q) if q else log.entries(), limit + 1))
        calls = [views.call_summary(e) for e in found[:limit]]
        self.page("calls.html", f"Calls of {name}", name=name, calls=calls, q=q,
                  more=len(found) > limit, newest=newest.id if newest else 0,
                  logs=call_logs(self.state.data_dir))


class CallEvents(Base):
    """Server-sent events: each new call as a ready-made table row, as it is logged."""

    closed = False

    def on_connection_close(self) -> None:
        self.closed = True

    async def get(self, name: str) -> None:
        _call_log(self.state, name)  # 404 for an unknown name
        log = HistoryStore(self.state.data_dir, call_log_root(name))  # its own, for the thread
        after = _int(self.request.headers.get("Last-Event-ID") or self.arg("after"), 0, 0,
                     sys.maxsize)
        search = self.arg("q") or None
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("X-Accel-Buffering", "no")
        loop = IOLoop.current()
        stamp: tuple[int, ...] | None = None
        last_write = 0.0
        try:
            self.write("retry: 1000\n\n")
            await self.flush()
            while not self.closed and not self.state.stopping:
                now = log.stamp()
                if now != stamp:  # two stat calls; the log is read only when it changed
                    stamp = now
                    fresh = await loop.run_in_executor(None, log.newer_than, after, search)
                    for entry in fresh:
                        row = self.render_string("call_row.html", c=views.call_summary(entry),
                                                 name=name).decode()
                        self.write(f"id: {entry.id}\nevent: call\n"
                                   f"data: {json.dumps({'id': entry.id, 'html': row})}\n\n")
                        after = max(after, entry.id or 0)
                    if fresh:
                        await self.flush()
                        last_write = time.monotonic()
                if time.monotonic() - last_write > KEEPALIVE_SECONDS:
                    self.write(": keep-alive\n\n")
                    await self.flush()
                    last_write = time.monotonic()
                await asyncio.sleep(POLL_SECONDS)
        except tornado.iostream.StreamClosedError:
            pass


class CallPage(Base):
    section = "calls"

    def get(self, name: str, call_id: str) -> None:
        entry = _call_log(self.state, name).get(int(call_id))
        self.page("entry.html", f"call {call_id}", entry=entry, **_entry_values(entry),
                  raw=f"/calls/{name}/{call_id}/body", call=views.call_summary(entry),
                  not_found=bodies.not_found_details(entry), name=name, collections=[])


# -- helpers -----------------------------------------------------------------------------


def _entry_values(entry: HistoryEntry) -> dict[str, Any]:
    response = entry.response
    return {"request_view": bodies.present(entry.request.headers, entry.request.body),
            "response_view": bodies.present(response.headers, response.body)
            if response else None,
            # A streamed answer's events (SSE) or records (NDJSON), with their offsets.
            "stream": views.stream_json(response.stream, response.body, response.headers)
            if response and response.stream is not None and response.body is not None
            else None,
            "summary": views.entry_summary(entry)}


def _from_textarea(text: str, original: str) -> str:
    """Browsers send a textarea's line ends as CRLF: back to LF unless the body had CRLF."""
    return text if "\r\n" in original else text.replace("\r\n", "\n")


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(text or default), low), high)
    except ValueError:
        return default


NAME = r"([A-Za-z0-9][A-Za-z0-9._-]{0,99})"


def make_app(ui: UiState) -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/", Home),
            (r"/history", HistoryPage),
            (r"/history/(\d+)", EntryPage),
            (r"/history/(\d+)/body/(request|response)", RawBody),
            (r"/promote", Promote),
            (r"/collections", CollectionsPage),
            (rf"/collections/{NAME}", CollectionPage),
            (rf"/collections/{NAME}/delete", DeleteCollection),
            (rf"/collections/{NAME}/drift", CheckDrift),
            (rf"/collections/{NAME}/examples", AddExample),
            (rf"/collections/{NAME}/examples/(\d+)", ExamplePage),
            (rf"/collections/{NAME}/examples/(\d+)/body", ExampleBody),
            (rf"/collections/{NAME}/examples/(\d+)/delete", DeleteExample),
            (r"/examples/(\d+)", FindExample),
            (r"/mocks", MocksPage),
            (r"/proxies/(\d+)/mode", SwitchMode),
            (r"/calls", CallLogsPage),
            (rf"/calls/{NAME}", CallLogPage),
            (rf"/calls/{NAME}/events", CallEvents),
            (rf"/calls/{NAME}/(\d+)", CallPage),
            (rf"/calls/{NAME}/(\d+)/body/(request|response)", RawBody),
        ],
        mockrec=ui,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_handler_class=GuardedStatic,
        default_handler_class=NotFoundPage,
        compress_response=True,
    )


class NotFoundPage(Base):
    def prepare(self) -> None:
        super().prepare()
        if not self._finished:
            raise tornado.web.HTTPError(404, reason="Not Found")


def serve(data_dir: Path, port: int, listen_host: str, out: TextIO = sys.stdout) -> None:
    """Serve until Ctrl-C; prints the URL with the token once it listens."""
    asyncio.run(_serve(data_dir, port, listen_host, out))


async def _serve(data_dir: Path, port: int, listen_host: str, out: TextIO) -> None:
    ui = UiState(data_dir=data_dir, token=security.new_token(), listen_host=listen_host,
                 hosts=security.allowed_hosts(listen_host))
    try:
        sockets = tornado.netutil.bind_sockets(port, listen_host)
    except OSError as e:
        raise MockrecError(f"cannot listen on {listen_host}:{port}: "
                           f"{e.strerror or e}") from None
    ui.port = sockets[0].getsockname()[1]
    server = tornado.httpserver.HTTPServer(make_app(ui))
    server.add_sockets(sockets)
    shown = listen_host if security.is_loopback(listen_host) else "127.0.0.1"
    if ":" in shown:
        shown = f"[{shown}]"
    out.write(f"mockrec ui on http://{shown}:{ui.port}/?token={ui.token}\n")
    out.write(f"data in {data_dir}; open the URL above (it carries the access token); "
              "Ctrl-C stops\n")
    if not security.is_loopback(listen_host):
        out.write(f"warning: listening on {listen_host}, beyond this machine: anyone with the "
                  "token can read and change your data\n")
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    ui.stopping = True
    await asyncio.sleep(POLL_SECONDS * 2)  # live streams end
    await server.close_all_connections()
