"""The `mockrec` command line: thin typer definitions over the library."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from recorder.cli import render
from recorder.errors import ExitStatus, MockrecError, NotFound
from recorder.models import Collection, HistoryEntry, HistoryFilter, parse_ids, parse_since
from recorder.promote import entries as promoting
from recorder.promote import examples
from recorder.store import datadir
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore, call_log_root
from recorder.store.mocks import (
    EnvironmentStore,
    Mock,
    MockStore,
    hash_key,
    parse_assignments,
    parse_rate,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Record API traffic, promote it to examples, replay it as a mock.")
history_app = typer.Typer(no_args_is_help=True, help="Look at and prune recorded traffic.")
app.add_typer(history_app, name="history")
collection_app = typer.Typer(no_args_is_help=True, help="Collections of requests and examples.")
app.add_typer(collection_app, name="collection")
example_app = typer.Typer(no_args_is_help=True, help="The examples that replay answers from.")
app.add_typer(example_app, name="example")
import_app = typer.Typer(no_args_is_help=True, help="Bring collections in from other tools.")
app.add_typer(import_app, name="import")
export_app = typer.Typer(no_args_is_help=True, help="Write collections for other tools.")
app.add_typer(export_app, name="export")
mock_app = typer.Typer(no_args_is_help=True, help="Named replay configurations.")
app.add_typer(mock_app, name="mock")
env_app = typer.Typer(no_args_is_help=True, help="Variables resolved in examples at replay.")
app.add_typer(env_app, name="env")

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", envvar="MOCKREC_DATA_DIR", show_envvar=True,
    help="Where mockrec keeps its files (default ./.mockrec).")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output with stable keys.")]

_state: dict[str, Any] = {}


@app.callback()
def _global(data_dir: DataDir = None) -> None:
    _state["data_dir"] = data_dir


def _data_dir() -> Path:
    return datadir.resolve(_state.get("data_dir"))


def _history() -> HistoryStore:
    return HistoryStore(_data_dir())


def _collections() -> CollectionStore:
    return CollectionStore(_data_dir())


def _console() -> Console:
    # Piped output keeps whole lines rather than wrapping to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


Upstream = Annotated[str | None, typer.Option(
    help="Reverse-proxy to this base URL (the mock URL is then http://HOST:PORT). "
         "Without it mockrec is a forward proxy for HTTP_PROXY/HTTPS_PROXY.")]
Port = Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")]
ListenHost = Annotated[str, typer.Option(help="Address to listen on.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print each exchange.")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="A mitmproxy option, KEY=VALUE (repeatable).")]


def _serve(config_args: dict[str, Any], data_dir: Path | None) -> None:
    from recorder import proxy

    directory = datadir.prepare(data_dir or _state.get("data_dir"))
    HistoryStore(directory).check()
    proxy.serve(proxy.ProxyConfig(data_dir=directory, **config_args))


@app.command()
def record(
    upstream: Upstream = None,
    port: Port = 8080,
    listen_host: ListenHost = "127.0.0.1",
    verbose: Verbose = False,
    set_: SetOption = None,
    data_dir: DataDir = None,
) -> None:
    """Record live traffic into the history until Ctrl-C."""
    _serve(dict(mode="record", upstream=upstream, listen_host=listen_host, port=port,
                verbose=verbose, settings=set_ or []), data_dir)


def _proxy(mode: str, collection: str | None, upstream: str | None, port: int,
           listen_host: str, delay: str, profile: str | None, tag: str | None,
           api_key: str | None, on_miss: str, cors: bool, strict: bool, match_body: bool,
           match_headers: str | None, verbose: bool, set_: list[str] | None,
           data_dir: Path | None, env: str | None = None, max_calls: int = 0,
           rate_limit: str | None = None, **mock: Any) -> None:
    if collection:
        _collections().require(collection, tag)  # a clear error before anything starts
    if env:
        EnvironmentStore(_data_dir()).get(env)
    _serve(dict(mode=mode, upstream=upstream, listen_host=listen_host, port=port,
                verbose=verbose, settings=set_ or [], collection=collection or "",
                tag=tag or "", delay=delay, profile=profile or "", api_key=api_key or "",
                on_miss=on_miss, cors=cors, strict=strict, match_body=match_body,
                match_headers=match_headers or "", env=env or "", max_calls=max_calls,
                rate_limit=parse_rate(rate_limit) if rate_limit else 0, **mock), data_dir)


Delay = Annotated[str, typer.Option(help="off, 2g (300 ms), 3g (100 ms) or milliseconds.")]
Profile = Annotated[str | None, typer.Option(
    help="Network profile with bandwidth and jitter: gprs, 2g, 3g, 4g, wifi.")]
Tag = Annotated[str | None, typer.Option(help="Serve the collection as frozen at this tag.")]
ApiKey = Annotated[str | None, typer.Option(
    "--api-key", help="Private mock: requests need this x-api-key header.")]
OnMiss = Annotated[str, typer.Option(
    help="No example matches: 404, forward (to --upstream) or record (forward and record).")]
Cors = Annotated[bool, typer.Option("--cors/--no-cors", help="Automatic CORS answers.")]
Strict = Annotated[bool, typer.Option("--strict", help="No ID-like or similar-path matches.")]
MatchBody = Annotated[bool, typer.Option("--match-body",
                                         help="Examples must have the request's body.")]
MatchHeaders = Annotated[str | None, typer.Option(
    help="Comma-separated headers that must equal the example's.")]
Env = Annotated[str | None, typer.Option(help="Environment whose variables fill {{...}}.")]
MaxCalls = Annotated[int, typer.Option(help="Answer 429 after this many calls (0: no quota).")]
RateLimit = Annotated[str | None, typer.Option(help="Answer 429 above N/min calls.")]


@app.command()
def replay(
    mock: Annotated[str | None, typer.Argument(
        metavar="[MOCK]", help="A mock (mockrec mock create), or a collection's name.")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection to serve.")] = None,
    upstream: Upstream = None,
    port: Annotated[int | None, typer.Option(
        help="Port to listen on; 0 picks a free one [default: the mock's, else 8080].")] = None,
    listen_host: ListenHost = "127.0.0.1",
    delay: Annotated[str | None, typer.Option(
        help="off, 2g (300 ms), 3g (100 ms) or milliseconds.")] = None,
    profile: Profile = None,
    tag: Tag = None,
    env: Env = None,
    api_key: ApiKey = None,
    on_miss: OnMiss = "404",
    cors: Cors = True,
    strict: Strict = False,
    match_body: MatchBody = False,
    match_headers: MatchHeaders = None,
    max_calls: MaxCalls = 0,
    rate_limit: RateLimit = None,
    verbose: Verbose = False,
    set_: SetOption = None,
    data_dir: DataDir = None,
) -> None:
    """Answer requests from a mock's (or a collection's) examples; no upstream needed."""
    mocks = MockStore(_data_dir())
    if mock and not collection and mocks.exists(mock):
        m = mocks.get(mock)
        return _proxy(
            "replay", m.collection, upstream, m.port if port is None else port, listen_host,
            delay or m.delay, profile or m.profile, tag or m.tag, api_key, on_miss,
            cors and m.cors, strict or m.strict, match_body or m.match_body,
            match_headers or m.match_headers, verbose, set_, data_dir, env=env or m.env,
            max_calls=max_calls or m.max_calls,
            rate_limit=rate_limit or (str(m.rate_limit) if m.rate_limit else None),
            mock=m.name, api_key_sha256=m.api_key_sha256, call_log=m.call_log)
    name = collection or mock
    if not name:
        raise MockrecError("name the mock or collection to serve: mockrec replay NAME "
                           "(`mockrec mock list`, `mockrec collection list` show them)")
    _proxy("replay", name, upstream, 8080 if port is None else port, listen_host,
           delay or "off", profile, tag, api_key, on_miss, cors, strict, match_body,
           match_headers, verbose, set_, data_dir, env=env, max_calls=max_calls,
           rate_limit=rate_limit)


@app.command()
def proxy(
    mode: Annotated[str, typer.Option(help="record, replay, spy or passthrough.")],
    collection: Annotated[str | None, typer.Option(help="Collection to serve.")] = None,
    upstream: Upstream = None,
    port: Port = 8080,
    listen_host: ListenHost = "127.0.0.1",
    delay: Delay = "off",
    profile: Profile = None,
    tag: Tag = None,
    api_key: ApiKey = None,
    on_miss: OnMiss = "404",
    cors: Cors = True,
    strict: Strict = False,
    match_body: MatchBody = False,
    match_headers: MatchHeaders = None,
    env: Env = None,
    max_calls: MaxCalls = 0,
    rate_limit: RateLimit = None,
    verbose: Verbose = False,
    set_: SetOption = None,
    data_dir: DataDir = None,
) -> None:
    """Run the proxy in any mode; `mockrec mode` switches it while it runs."""
    if mode not in ("record", "replay", "spy", "passthrough"):
        raise MockrecError(f"--mode {mode!r} is not record, replay, spy or passthrough")
    _proxy(mode, collection, upstream, port, listen_host, delay, profile, tag, api_key,
           on_miss, cors, strict, match_body, match_headers, verbose, set_, data_dir,
           env=env, max_calls=max_calls, rate_limit=rate_limit)


@app.command("mode")
def switch_mode(
    mode: Annotated[str, typer.Argument(help="record, replay, spy or passthrough.")],
    port: Annotated[int | None, typer.Option(
        help="Port of the proxy to switch [default: the only one running].")] = None,
    collection: Annotated[str | None, typer.Option(help="Also serve this collection.")] = None,
) -> None:
    """Switch a running proxy; the next request is served in the new mode."""
    from recorder.proxy import remote as control

    if mode not in ("record", "replay", "spy", "passthrough"):
        raise MockrecError(f"mode {mode!r} is not record, replay, spy or passthrough")
    settings: dict[str, Any] = {"mockrec_mode": mode}
    if collection:
        settings["mockrec_collection"] = collection
    reply = control.send(_data_dir(), port, {"set": settings})
    serving = f", serving {reply['collection']}" if reply.get("collection") else ""
    typer.echo(f"proxy now in {reply['mode']} mode{serving}")


@app.command()
def cert(
    confdir: Annotated[Path, typer.Option(help="mitmproxy's configuration directory.")] = Path(
        "~/.mitmproxy"),
) -> None:
    """Where the CA certificate for HTTPS interception is, and how to trust it."""
    from mitmproxy.certs import CertStore

    directory = confdir.expanduser()
    CertStore.from_store(directory, "mitmproxy", 2048)  # creates the CA on first use
    typer.echo(render.cert_help(directory))


@history_app.command("list")
def history_list(
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
    method: Annotated[str | None, typer.Option(help="Only this HTTP method.")] = None,
    host: Annotated[str | None, typer.Option(help="Only this host.")] = None,
    path: Annotated[str | None, typer.Option(help="Only paths matching this glob.")] = None,
    status: Annotated[str | None, typer.Option(help="200, 2xx, or error.")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this date (YYYY-MM-DD).")] = None,
    as_json: AsJson = False,
) -> None:
    """List recorded entries, newest first."""
    try:
        filters = HistoryFilter(method=method, host=host, path=path, status=status,
                                since=parse_since(since) if since else None)
    except ValueError as e:
        raise MockrecError(str(e)) from None
    entries = []
    for entry in _history().entries(filters):
        if len(entries) >= limit:
            break
        entries.append(entry)
    if as_json:
        _print_json([render.entry_summary(e) for e in entries])
    else:
        _print_entries(entries)


@history_app.command("search")
def history_search(
    text: str,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Entries whose URL, headers or text bodies contain TEXT (ignoring case)."""
    entries = []
    for entry in _history().search(text):
        if len(entries) >= limit:
            break
        entries.append(entry)
    if as_json:
        _print_json([render.entry_summary(e) for e in entries])
    else:
        _print_entries(entries)


@history_app.command("show")
def history_show(
    entry_id: Annotated[int, typer.Argument(metavar="ID")],
    body: Annotated[bool, typer.Option("--body", help="Also print the bodies, decoded.")] = False,
    as_json: AsJson = False,
) -> None:
    """One entry: request and response headers, and with --body the bodies."""
    _show_entry(_history().get(entry_id), body, as_json)


def _show_entry(entry: HistoryEntry, body: bool, as_json: bool) -> None:
    if as_json:
        _print_json(render.entry_detail(entry))
        return
    typer.echo(render.entry_text(entry))
    if body:
        for title, message in (("request", entry.request), ("response", entry.response)):
            if message is not None and message.body:
                typer.echo(f"--- {title} body")
                render.write_body(message.headers, message.body, sys.stdout)


@history_app.command("delete")
def history_delete(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Ids or ranges (3-7).")],
) -> None:
    """Delete entries; their ids are not reused."""
    try:
        wanted = parse_ids(ids)
    except ValueError as e:
        raise MockrecError(str(e)) from None
    count = _history().delete(wanted)
    typer.echo(f"deleted {count} entr{'y' if count == 1 else 'ies'}")


@history_app.command("clear")
def history_clear(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete every entry."""
    if not yes and sys.stdin.isatty() and not typer.confirm("Delete the whole history?"):
        raise typer.Abort()
    count = _history().clear()
    typer.echo(f"deleted {count} entr{'y' if count == 1 else 'ies'}")


# -- promote ---------------------------------------------------------------------------

@app.command()
def promote(
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="[ID|RANGE]...", help="History ids and ranges (12 15-20).")] = None,
    collection: Annotated[str | None, typer.Option(
        help="Collection to add to, created if missing [default: a new one].")] = None,
    request: Annotated[str | None, typer.Option(
        "--request", help="Name for new requests [default: METHOD /path].")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="Name for the examples [default: STATUS Reason].")] = None,
    since: Annotated[str | None, typer.Option(help="Entries from this date on.")] = None,
    method: Annotated[str | None, typer.Option(help="Only this HTTP method.")] = None,
    path: Annotated[str | None, typer.Option(help="Only paths matching this glob.")] = None,
    status: Annotated[str | None, typer.Option(help="200, 2xx or error.")] = None,
    template: Annotated[str | None, typer.Option(
        help="Path template, e.g. /users/{{userId}}: its wildcards match any segment.")] = None,
    infer_templates: Annotated[bool, typer.Option(
        "--infer-templates", help="Turn ID-like path segments into wildcards.")] = False,
    keep_secrets: Annotated[bool, typer.Option(
        "--keep-secrets", help="Keep Authorization, cookies and API keys.")] = False,
    as_json: AsJson = False,
) -> None:
    """Turn history entries into examples ("Mock Request")."""
    try:
        filters = HistoryFilter(method=method, path=path, status=status,
                                since=parse_since(since) if since else None)
        specs = [(parse_ids([spec]), "-" in spec) for spec in ids or []]
    except ValueError as e:
        raise MockrecError(str(e)) from None
    if template is not None and not template.startswith("/"):
        raise MockrecError(f"--template {template!r} must be a path like /users/{{{{userId}}}}")
    entries = promoting.select_entries(_history(), specs, filters)
    store = _collections()
    target = collection or promoting.fresh_collection_name(store)
    options = promoting.PromoteOptions(request_name=request, example_name=name,
                                       template=template, infer_templates=infer_templates,
                                       keep_secrets=keep_secrets)
    created = not store.exists(target)
    with store.editing(target, create=True) as c:
        result = promoting.promote(render.progress(entries, "promoting"), c, options,
                                   lambda n: store.new_example_ids(c, n))
        if not result.examples:
            raise MockrecError("no entry had a response to promote; nothing was written: "
                               + "; ".join(result.skipped[:3]))
    if as_json:
        _print_json(render.promote_json(target, created, result))
    else:
        typer.echo(render.promote_text(target, created, result, store.path(target)))


# -- collections -----------------------------------------------------------------------

@collection_app.command("list")
def collection_list(as_json: AsJson = False) -> None:
    """The collections, with their request, example and tag counts."""
    rows = [render.collection_summary(c) for c in _collections().all()]
    if as_json:
        _print_json(rows)
    else:
        _print_table(("NAME", "REQUESTS", "EXAMPLES", "TAGS"),
                     [(r["name"], str(r["requests"]), str(r["examples"]), " ".join(r["tags"]))
                      for r in rows])


@collection_app.command("show")
def collection_show(
    name: str,
    tag: Annotated[str | None, typer.Option(help="Show the collection as frozen at TAG.")] = None,
    as_json: AsJson = False,
) -> None:
    """A collection's requests and their examples."""
    c = _collections().load(name, tag)
    if as_json:
        _print_json(render.collection_detail(c))
    else:
        typer.echo(render.collection_text(c))


@collection_app.command("create")
def collection_create(name: str) -> None:
    """An empty collection, e.g. to add examples by hand."""
    store = _collections()
    store.create(name)
    typer.echo(f"created collection {name} ({store.path(name)})")


@collection_app.command("delete")
def collection_delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a collection and its tags."""
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete collection {name}?"):
        raise typer.Abort()
    _collections().delete(name)
    typer.echo(f"deleted collection {name}")


@collection_app.command("tag")
def collection_tag(name: str, tag: str) -> None:
    """Freeze the collection as it is now under a release tag (mocks can serve a tag)."""
    store = _collections()
    store.tag(name, tag)
    typer.echo(f"tagged {name} as {tag} ({store.path(name, tag)})")


# -- examples --------------------------------------------------------------------------

InCollection = Annotated[str | None, typer.Option(
    "--collection", help="Look only in this collection.")]


@example_app.command("list")
def example_list(collection: InCollection = None, as_json: AsJson = False) -> None:
    """Every example, with its request and status."""
    store = _collections()
    found = [store.load(collection)] if collection else list(store.all())
    rows = [render.example_summary(c, r, e) for c in found for r in c.requests
            for e in r.examples]
    if as_json:
        _print_json(rows)
    else:
        _print_table(("ID", "COLLECTION", "REQUEST", "EXAMPLE", "STATUS"),
                     [(str(r["id"]), r["collection"], r["request"], r["name"], str(r["status"]))
                      for r in rows])


@example_app.command("show")
def example_show(
    example_id: Annotated[int, typer.Argument(metavar="ID")],
    collection: InCollection = None,
    as_json: AsJson = False,  # accepted like everywhere: the output is JSON anyway
) -> None:
    """An example as JSON, the same document `example edit` opens."""
    _, request, example = _collections().find_example(example_id, collection)
    _print_json(examples.example_document(example, request))


@example_app.command("edit")
def example_edit(
    example_id: Annotated[int, typer.Argument(metavar="ID")],
    collection: InCollection = None,
) -> None:
    """Open the example in $EDITOR; a valid save replaces it, anything else keeps it."""
    message = examples.edit_example(_collections(), example_id, collection)
    typer.echo(message)


@example_app.command("rename")
def example_rename(
    example_id: Annotated[int, typer.Argument(metavar="ID")],
    name: str,
    collection: InCollection = None,
) -> None:
    """Give an example a new name (what x-mock-response-name picks)."""
    store = _collections()
    owner, _, _ = store.find_example(example_id, collection)
    with store.editing(owner.name) as c:
        _, example = c.find_example(example_id)  # type: ignore[misc]
        example.name = name
    typer.echo(f"example {example_id} is now {name!r}")


@example_app.command("delete")
def example_delete(
    example_id: Annotated[int, typer.Argument(metavar="ID")],
    collection: InCollection = None,
) -> None:
    """Delete an example; a request left without examples goes too."""
    store = _collections()
    owner, _, _ = store.find_example(example_id, collection)
    with store.editing(owner.name) as c:
        request, example = c.find_example(example_id)  # type: ignore[misc]
        request.examples.remove(example)
        if not request.examples:
            c.requests.remove(request)
    typer.echo(f"deleted example {example_id} from {owner.name}")


@example_app.command("add")
def example_add(
    method: str,
    path: Annotated[str, typer.Argument(help="Path or URL, e.g. /users/{{userId}}.")],
    collection: Annotated[str, typer.Option("--collection", help="Created if missing.")],
    status: Annotated[int, typer.Option(help="Response status.")] = 200,
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="Response header 'Name: value' (repeatable).")] = None,
    body: Annotated[str, typer.Option(help="Response body, or @FILE to read one.")] = "",
    name: Annotated[str | None, typer.Option(help="Example name.")] = None,
) -> None:
    """Write an example by hand, for an API that does not exist yet."""
    store = _collections()
    with store.editing(collection, create=True) as c:
        example = examples.add_example(c, store, method, path, status, header or [], body, name)
    typer.echo(f"added example {example.id} ({example.name}) to {collection}")


# -- import and export -------------------------------------------------------------------

@import_app.command("postman")
def import_postman(
    file: Annotated[Path, typer.Argument(help="A Postman Collection v2.1 or v2.0 JSON file.")],
    collection: Annotated[str | None, typer.Option(
        help="Name of the new collection [default: from the file's info.name].")] = None,
) -> None:
    """A Postman collection, with its folders, saved examples and variables."""
    from recorder.interop import postman

    doc = postman.load(file)
    name = collection or postman_name(str(doc["info"].get("name") or file.stem))
    summaries = []

    def convert(new_ids, track):
        imported, summary = postman.to_collection(doc, name, new_ids, source=f"{file}: ",
                                                  track=track)
        summaries.append(summary)
        return imported

    _import_collection(name, convert)
    typer.echo(f"imported {file} as collection {name}: {summaries[0].text()}")


@import_app.command("openapi")
def import_openapi(
    file: Annotated[Path, typer.Argument(help="An OpenAPI 3.0/3.1 document, JSON or YAML.")],
    collection: Annotated[str | None, typer.Option(
        help="Name of the new collection [default: from info.title].")] = None,
) -> None:
    """One request per operation, one example per documented response."""
    from recorder.interop import openapi

    doc = openapi.load(file)
    name = collection or postman_name(str((doc.get("info") or {}).get("title") or file.stem))
    skipped: list[str] = []
    c = _import_collection(name, lambda new_ids, track: openapi.to_collection(
        doc, name, new_ids, source=f"{file}: ", track=track, skipped=skipped))
    typer.echo(f"imported {file} as collection {name}: {len(c.requests)} requests, "
               f"{len(c.examples)} examples" + "".join(f"\nskipped {s}" for s in skipped))


def _import_collection(name: str, convert) -> Collection:
    """A new collection `name`: what `convert(new_example_ids, track)` makes of a file."""
    store = _collections()
    if store.exists(name):
        raise MockrecError(f"collection {name!r} already exists: name another with "
                           "--collection")
    with store.editing(name, create=True) as c:
        imported = convert(lambda n: store.new_example_ids(c, n),
                           lambda items: render.progress(items, "importing"))
        c.requests, c.variables = imported.requests, imported.variables
    return c


@import_app.command("har")
def import_har(file: Annotated[Path, typer.Argument(help="A HAR file (DevTools, Charles, "
                                                         "mitmproxy).")]) -> None:
    """A HAR file's exchanges into the history, to promote like recorded traffic."""
    from recorder.interop.har import read_har

    _import_history(file, read_har(file, lambda items: render.progress(items, "importing")))


@import_app.command("flows")
def import_flows(file: Annotated[Path, typer.Argument(help="A mitmproxy flow file.")]) -> None:
    """A mitmproxy flow file (mitmdump -w) into the history."""
    from recorder.interop.har import read_flows

    skipped: list[str] = []
    _import_history(file, read_flows(file, skipped))
    for reason in skipped:
        typer.echo(f"skipped {reason}")


def _import_history(file: Path, entries: list[HistoryEntry]) -> None:
    if not entries:
        raise MockrecError(f"{file}: no HTTP exchange with a response to import")
    datadir.prepare(_state.get("data_dir"))
    ids = _history().append(entries)
    typer.echo(f"imported {len(ids)} entries from {file} into the history as "
               f"{ids[0]}-{ids[-1]} (mockrec promote {ids[0]}-{ids[-1]} makes them examples)")


def postman_name(title: str) -> str:
    """A file-safe collection name from a Postman title."""
    import re

    name = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")[:100]
    return name or "imported"


@export_app.command("postman")
def export_postman(
    collection: str,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="File to write [default: standard output].")] = None,
) -> None:
    """A collection as Postman Collection v2.1 JSON (Postman and newman read it)."""
    from recorder.interop import postman
    from recorder.store.files import atomic_write

    text = json.dumps(postman.from_collection(_collections().load(collection)), indent=2,
                      ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text.encode())
        typer.echo(f"wrote {output}")


# -- mocks and environments ----------------------------------------------------------------

def _mock_settings(m: Mock, delay: str | None, profile: str | None, tag: str | None,
                   env: str | None, port: int | None, strict: bool | None,
                   match_body: bool | None, match_headers: str | None, cors: bool | None,
                   max_calls: int | None, rate_limit: str | None, call_log: int | None) -> None:
    for key, value in (("delay", delay), ("profile", profile), ("tag", tag), ("env", env),
                       ("port", port), ("strict", strict), ("match_body", match_body),
                       ("match_headers", match_headers), ("cors", cors),
                       ("max_calls", max_calls), ("call_log", call_log)):
        if value is not None:
            setattr(m, key, value)
    if rate_limit is not None:
        m.rate_limit = parse_rate(rate_limit) if rate_limit else 0


MockOpt = typer.Option


@mock_app.command("create")
def mock_create(
    name: str,
    collection: Annotated[str, MockOpt(help="Collection to serve.")],
    tag: Annotated[str | None, MockOpt(help="Release tag to serve.")] = None,
    env: Annotated[str | None, MockOpt(help="Environment for {{variables}}.")] = None,
    delay: Annotated[str | None, MockOpt(help="off, 2g, 3g or ms.")] = None,
    profile: Annotated[str | None, MockOpt(help="gprs, 2g, 3g, 4g or wifi.")] = None,
    port: Annotated[int | None, MockOpt(help="Port it listens on [default: 8080].")] = None,
    private: Annotated[bool, MockOpt("--private", help="Require an API key (shown once).")]
    = False,
    strict: Annotated[bool | None, MockOpt("--strict/--no-strict")] = None,
    match_body: Annotated[bool | None, MockOpt("--match-body/--no-match-body")] = None,
    match_headers: Annotated[str | None, MockOpt(help="Headers that must match.")] = None,
    cors: Annotated[bool | None, MockOpt("--cors/--no-cors")] = None,
    max_calls: Annotated[int | None, MockOpt(help="Call quota (0: none).")] = None,
    rate_limit: Annotated[str | None, MockOpt(help="N/min.")] = None,
    call_log: Annotated[int | None, MockOpt(help="Calls kept in the call log.")] = None,
    save_url_to: Annotated[str | None, MockOpt(
        help="Store the mock URL as mockUrl in this environment.")] = None,
) -> None:
    """A named mock: `mockrec replay NAME` serves it."""
    store = MockStore(_data_dir())
    if store.exists(name):
        raise MockrecError(f"mock {name!r} already exists: `mockrec mock update {name}`")
    m = Mock(name=name, collection=collection)
    _mock_settings(m, delay, profile, tag, env, port, strict, match_body, match_headers, cors,
                   max_calls, rate_limit, call_log)
    key = MockStore.new_api_key() if private else None
    if key:
        m.api_key_sha256 = hash_key(key)
    store.save(m)
    typer.echo(f"created mock {name}: {m.url} (mockrec replay {name})")
    if key:
        typer.echo(f"API key (shown only now, stored hashed): {key}")
    if save_url_to:
        EnvironmentStore(_data_dir()).set(save_url_to, {"mockUrl": m.url})
        typer.echo(f"saved mockUrl={m.url} in environment {save_url_to}")


@mock_app.command("update")
def mock_update(
    name: str,
    collection: Annotated[str | None, MockOpt(help="Collection to serve.")] = None,
    tag: Annotated[str | None, MockOpt(help="Release tag ('' for none).")] = None,
    env: Annotated[str | None, MockOpt(help="Environment ('' for none).")] = None,
    delay: Annotated[str | None, MockOpt(help="off, 2g, 3g or ms.")] = None,
    profile: Annotated[str | None, MockOpt(help="Profile ('' for none).")] = None,
    port: Annotated[int | None, MockOpt(help="Port.")] = None,
    strict: Annotated[bool | None, MockOpt("--strict/--no-strict")] = None,
    match_body: Annotated[bool | None, MockOpt("--match-body/--no-match-body")] = None,
    match_headers: Annotated[str | None, MockOpt(help="Headers that must match.")] = None,
    cors: Annotated[bool | None, MockOpt("--cors/--no-cors")] = None,
    max_calls: Annotated[int | None, MockOpt(help="Call quota (0: none).")] = None,
    rate_limit: Annotated[str | None, MockOpt(help="N/min ('' for none).")] = None,
    call_log: Annotated[int | None, MockOpt(help="Calls kept in the call log.")] = None,
) -> None:
    """Change a mock's settings."""
    store = MockStore(_data_dir())
    m = store.get(name)
    if collection:
        m.collection = collection
    _mock_settings(m, delay, profile, tag, env, port, strict, match_body, match_headers, cors,
                   max_calls, rate_limit, call_log)
    store.save(m)
    typer.echo(f"updated mock {name}")


@mock_app.command("list")
def mock_list(as_json: AsJson = False) -> None:
    """The mocks and their URLs."""
    rows = [render.mock_json(m) for m in MockStore(_data_dir()).all()]
    if as_json:
        _print_json(rows)
    else:
        _print_table(("NAME", "URL", "COLLECTION", "TAG", "ENV", "DELAY", "PRIVATE"),
                     [(r["name"], r["url"], r["collection"], r["tag"], r["env"],
                       r["profile"] or r["delay"], "yes" if r["private"] else "")
                      for r in rows])


@mock_app.command("show")
def mock_show(name: str, as_json: AsJson = False) -> None:
    """A mock's settings and its URL."""
    row = render.mock_json(MockStore(_data_dir()).get(name))
    if as_json:
        _print_json(row)
    else:
        typer.echo("\n".join(f"{k}: {v}" for k, v in row.items()))


@mock_app.command("delete")
def mock_delete(name: str) -> None:
    """Delete a mock (its collection and call log stay)."""
    MockStore(_data_dir()).delete(name)
    typer.echo(f"deleted mock {name}")


@env_app.command("set")
def env_set(name: str, assignments: Annotated[list[str], typer.Argument(
        metavar="KEY=VALUE...")]) -> None:
    """Set variables in an environment (created if missing)."""
    values = EnvironmentStore(_data_dir()).set(name, parse_assignments(assignments))
    typer.echo(f"environment {name}: {len(values)} variable{'s' * (len(values) != 1)}")


@env_app.command("list")
def env_list(as_json: AsJson = False) -> None:
    """The environments."""
    store = EnvironmentStore(_data_dir())
    rows = [{"name": n, "variables": len(store.get(n))} for n in store.names()]
    if as_json:
        _print_json(rows)
    else:
        _print_table(("NAME", "VARIABLES"), [(r["name"], str(r["variables"])) for r in rows])


@env_app.command("show")
def env_show(name: str, as_json: AsJson = False) -> None:
    """An environment's variables."""
    values = EnvironmentStore(_data_dir()).get(name)
    if as_json:
        _print_json(values)
    else:
        typer.echo("\n".join(f"{k}={v}" for k, v in values.items()))


@env_app.command("delete")
def env_delete(name: str) -> None:
    """Delete an environment."""
    EnvironmentStore(_data_dir()).delete(name)
    typer.echo(f"deleted environment {name}")


# -- the call log ------------------------------------------------------------------------

def _call_log(mock: str | None) -> HistoryStore:

    calls_dir = _data_dir() / "calls"
    names = sorted(p.name for p in calls_dir.iterdir()) if calls_dir.is_dir() else []
    if mock is None:
        if len(names) != 1:
            raise MockrecError("name the mock: " + (", ".join(names) if names
                                                    else "no mock has served calls yet"))
        mock = names[0]
    elif mock not in names:
        raise NotFound(f"no calls logged for {mock!r}" + (f" (logged: {', '.join(names)})"
                                                           if names else ""))
    return HistoryStore(_data_dir(), call_log_root(mock))


@app.command("calls")
def calls(
    words: Annotated[list[str] | None, typer.Argument(
        metavar="[MOCK] | show ID | clear",
        help="A mock's calls [default: the only mock], `show ID` or `clear`.")] = None,
    mock: Annotated[str | None, typer.Option(help="Mock, for show and clear.")] = None,
    search: Annotated[str | None, typer.Option(
        help="Only calls whose path, example, headers or bodies contain this.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Print new calls as they come.")]
    = False,
    as_json: AsJson = False,
) -> None:
    """The call log: what replay served, newest first."""
    words = words or []
    if words[:1] == ["show"]:
        if len(words) != 2 or not words[1].isdigit():
            raise MockrecError("usage: mockrec calls show ID [--mock MOCK]")
        return _show_entry(_call_log(mock).get(int(words[1])), True, as_json)
    if words[:1] == ["clear"]:
        count = _call_log(mock).clear()
        return typer.echo(f"deleted {count} call{'s' * (count != 1)}")
    if len(words) > 1:
        raise MockrecError("usage: mockrec calls [MOCK] | calls show ID | calls clear")
    log = _call_log(words[0] if words else mock)
    found = log.search(search) if search else log.entries()
    entries = [e for _, e in zip(range(limit), found, strict=False)]
    if follow and as_json:  # JSON lines, oldest first, so a script can read as they come
        for entry in reversed(entries):
            sys.stdout.write(json.dumps(render.call_summary(entry)) + "\n")
    elif as_json:
        _print_json([render.call_summary(e) for e in entries])
    else:
        _print_table(render.CALL_COLUMNS, [render.call_row(e) for e in entries])
    if follow:
        newest = next(iter(log.entries()), None)
        render.follow(log, newest.id if newest and newest.id else 0, as_json)


def _print_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in ("ID", "MS", "SIZE") else "left")
    for row in rows:
        table.add_row(*row)
    _console().print(table)


def _print_entries(entries: list) -> None:
    _print_table(("ID", "TIME", "METHOD", "URL", "STATUS", "MS", "SIZE"),
                 [render.entry_row(e) for e in entries])


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and an exit status."""
    try:
        app(args=argv, prog_name="mockrec")  # typer reports usage errors and exits
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(bool(e.code))
    except MockrecError as e:
        sys.stderr.write(f"mockrec: error: {e}\n")
        return int(e.status)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(ExitStatus.SUCCESS)


def entry() -> None:
    sys.exit(main())
