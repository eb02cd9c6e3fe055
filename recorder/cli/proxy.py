"""Running proxies: record, replay, proxy, mode, cert."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from recorder.cli import render
from recorder.cli.common import (
    DataDir,
    collection_store,
    current_data_dir,
)
from recorder.cli.settings import with_settings
from recorder.errors import MockrecError, NotFound, UsageError
from recorder.models import counted
from recorder.modes import Mode
from recorder.settings import ProxySettings, ReplaySettings
from recorder.store import datadir
from recorder.store.history import HistoryStore, call_log_root
from recorder.store.mocks import EnvironmentStore, MockStore, hash_key
from recorder.store.names import check_name

Upstream = Annotated[str | None, typer.Option(
    help="Reverse-proxy to this base URL (the mock URL is then http://HOST:PORT). "
         "Without it mockrec is a forward proxy for HTTP_PROXY/HTTPS_PROXY.")]
ServedUpstream = Annotated[str | None, typer.Option(
    help="Reverse-proxy to this base URL (the mock URL is then http://HOST:PORT) "
         "[default: the collection's baseUrl when it is an http(s) origin, as promote sets "
         "it; else a forward proxy for HTTP_PROXY/HTTPS_PROXY].")]
Forward = Annotated[bool, typer.Option(
    "--forward", help="Be a forward proxy (HTTP_PROXY/HTTPS_PROXY) even when the "
                      "collection remembers an upstream.")]
Port = Annotated[int, typer.Option(min=0, max=65535,
                                   help="Port to listen on; 0 picks a free one.")]
ListenHost = Annotated[str, typer.Option(
    metavar="HOST", help="Address to listen on (0.0.0.0: every address of this machine).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print each exchange.")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="A mitmproxy option, KEY=VALUE (repeatable).")]
Redact = Annotated[bool, typer.Option(
    "--redact", help="Store history entries with secrets redacted as promote does "
                     "(Authorization, Cookie, X-Api-Key, API-key-like query parameters, "
                     "Set-Cookie) instead of byte-exact.")]


def _serve(config: dict[str, Any], data_dir: Path | None) -> None:
    from recorder import proxy
    from recorder.proxy.config import check_port_free, check_upstream

    if config.get("upstream"):
        config["upstream"] = check_upstream(config["upstream"])
    directory = datadir.prepare(data_dir or current_data_dir())
    settings = proxy.ProxyConfig(data_dir=directory, **config)
    # A damaged file is said before anything starts (exit 4), but only one this
    # proxy writes to: a replaying proxy never reads the history.
    replay = settings.replay
    history = HistoryStore(directory)
    if settings.mode.records(replay.on_miss):
        history.check()
    log_name = replay.mock or replay.collection
    if settings.mode.answers() and log_name and replay.call_log:
        HistoryStore(directory, call_log_root(log_name)).check()
    check_port_free(settings.listen_host, settings.port, directory)
    try:  # where this run's entries start, for the summary at the end
        first: int | None = history.next_id()
    except MockrecError:
        first = None  # a damaged history a replaying proxy does not touch
    proxy.serve(settings)
    summary = record_summary(history, first) if first is not None else ""
    if summary or settings.mode is Mode.RECORD:
        typer.echo(summary or "recorded nothing")


def record_summary(history: HistoryStore, first: int) -> str:
    """What a proxy that just stopped recorded: count, ids from-to, errors."""
    ids, errors = [], 0
    for entry in history.entries():
        if (entry.id or 0) < first:
            break
        ids.append(entry.id or 0)
        errors += entry.response is None
    if not ids:
        return ""
    span = f"ids {min(ids)}-{max(ids)}" if len(ids) > 1 else f"id {ids[0]}"
    failed = f"; {counted(errors, 'upstream error')} (see `mockrec history list --status " \
             "error`)" if errors else "; no errors"
    return f"recorded {counted(len(ids), 'exchange')} ({span}){failed}"


def record(
    upstream: Upstream = None,
    port: Port = 8080,
    listen_host: ListenHost = "127.0.0.1",
    grace: Annotated[float, typer.Option(
        help="Seconds exchanges in flight get to finish when the proxy stops.")] = 3.0,
    verbose: Verbose = False,
    set_: SetOption = None,
    data_dir: DataDir = None,
    redact: Redact = False,
) -> None:
    """Record live traffic into the history until Ctrl-C (or SIGTERM)."""
    _serve(dict(mode=Mode.RECORD, upstream=upstream, listen_host=listen_host, port=port,
                grace=grace, verbose=verbose, settings=_redacting(set_, redact)), data_dir)


def _redacting(settings: list[str] | None, redact: bool) -> list[str]:
    own = [f"{ProxySettings.option_name('redact')}=true"] if redact else []
    return [*(settings or []), *own]


@dataclasses.dataclass
class Serving:
    """What `replay` and `proxy` ask of the proxy, before the upstream is settled."""

    mode: Mode
    replay: ReplaySettings
    upstream: str | None
    forward: bool
    port: int
    listen_host: str
    verbose: bool
    settings: list[str]  # mitmproxy `--set` KEY=VALUE


def _run(asked: Serving, data_dir: Path | None) -> None:
    from recorder.proxy.config import remembered_upstream

    upstream, forward, replay = asked.upstream, asked.forward, asked.replay
    if upstream and forward:
        raise UsageError("--forward and --upstream exclude each other: a forward proxy has "
                         "no single upstream")
    if replay.api_key:  # the proxy gets only the key's hash, never the key
        replay = dataclasses.replace(replay, api_key="", api_key_sha256=hash_key(replay.api_key))
    store = collection_store()
    # A clear error before anything starts; a mode that only forwards needs no
    # collection yet (it is loaded when a mode that answers is switched on).
    if replay.collection and asked.mode.answers():
        store.require(replay.collection, replay.tag or None)
    variables = EnvironmentStore(current_data_dir()).get(replay.env) if replay.env else {}
    why = "--upstream" if upstream else "--forward" if forward else "no --upstream"
    if upstream is None and not forward and replay.collection:
        upstream = remembered_upstream(
            {**store.variables(replay.collection, replay.tag or None), **variables})
        why = (f"the baseUrl of {replay.collection}; --forward for a forward proxy" if upstream
               else f"{replay.collection} has no http(s) baseUrl; --upstream URL makes a "
               "reverse proxy")
    _serve(dict(mode=asked.mode, upstream=upstream, listen_host=asked.listen_host,
                port=asked.port, verbose=asked.verbose, settings=asked.settings, replay=replay,
                upstream_from=why), data_dir)


@with_settings()
def replay(
    mock: Annotated[str | None, typer.Argument(
        metavar="MOCK", help="A mock (mockrec mock create), or a collection's name.")] = None,
    collection: Annotated[str | None, typer.Option(help="Collection to serve.")] = None,
    upstream: ServedUpstream = None,
    forward: Forward = False,
    port: Annotated[int | None, typer.Option(min=0, max=65535,
        help="Port to listen on; 0 picks a free one [default: the mock's, else 8080].")] = None,
    listen_host: ListenHost = "127.0.0.1",
    verbose: Verbose = False,
    set_: SetOption = None,
    data_dir: DataDir = None,
    *,
    settings: dict[str, Any],
) -> None:
    """Answer requests from a mock's (or a collection's) examples; no upstream needed."""
    mocks = MockStore(current_data_dir())
    if mock and not collection and mocks.exists(mock):
        m = mocks.get(mock)
        base, port = m.replay_settings(), m.port if port is None else port
    elif collection or mock:
        base = ReplaySettings(collection=collection or mock or "")
    else:
        raise MockrecError("name the mock or collection to serve: mockrec replay NAME "
                           "(`mockrec mock list`, `mockrec collection list` show them)")
    _run(Serving(Mode.REPLAY, base.with_overrides(**settings), upstream, forward,
                 8080 if port is None else port, listen_host, verbose, set_ or []), data_dir)


@with_settings()
def proxy(
    mode: Annotated[Mode, typer.Option(help="What the proxy does with requests.")],
    collection: Annotated[str | None, typer.Option(
        help="Collection to serve; in record or passthrough it may not exist yet.")] = None,
    upstream: ServedUpstream = None,
    forward: Forward = False,
    port: Port = 8080,
    listen_host: ListenHost = "127.0.0.1",
    verbose: Verbose = False,
    set_: SetOption = None,
    data_dir: DataDir = None,
    redact: Redact = False,
    *,
    settings: dict[str, Any],
) -> None:
    """Run the proxy in any mode; `mockrec mode` switches it while it runs."""
    replay = ReplaySettings(collection=collection or "").with_overrides(**settings)
    _run(Serving(Mode(mode), replay, upstream, forward, port, listen_host, verbose,
                 _redacting(set_, redact)), data_dir)


def switch_mode(
    mode: Annotated[Mode | None, typer.Argument(
        metavar="MODE", help="record, replay, spy or passthrough; without it, print each "
                             "running proxy's mode.")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535,
        help="Port of the proxy [default: the only one running].")] = None,
    collection: Annotated[str | None, typer.Option(help="Also serve this collection.")] = None,
) -> None:
    """Switch a running proxy (the next request is served in the new mode), or show its mode."""
    from recorder.proxy import remote as control

    if mode is None:
        if collection:
            raise UsageError("--collection goes with a mode: mockrec mode MODE --collection C")
        ports = [port] if port is not None else control.running_ports(current_data_dir())
        if not ports:
            raise NotFound(f"no running mockrec proxy uses {current_data_dir()}: start one "
                           "with `mockrec proxy` (or pass the same --data-dir)")
        for p in ports:
            reply = control.status(current_data_dir(), p)
            serving = f", serving {reply['collection']}" if reply.get("collection") else ""
            typer.echo(f"port {p}: {reply['mode']} mode{serving}")
        return
    reply = control.switch_mode(current_data_dir(), port, mode,
                                check_name(collection) if collection else collection)
    serving = f", serving {reply['collection']}" if reply.get("collection") else ""
    typer.echo(f"proxy now in {reply['mode']} mode{serving}")


def reset(
    port: Annotated[int | None, typer.Option(min=0, max=65535,
        help="Port of the proxy to rewind [default: the only one running].")] = None,
) -> None:
    """Rewind a running proxy: every sequence starts over, quotas are full again."""
    from recorder.proxy import remote as control

    reply = control.send(current_data_dir(), port, {"reset": True})
    serving = f" serving {reply['collection']}" if reply.get("collection") else ""
    typer.echo(f"rewound the proxy{serving}: sequences start over, quotas are full again")


def cert(
    confdir: Annotated[Path, typer.Option(metavar="DIR", help="mitmproxy's configuration "
                                          "directory.")] = Path("~/.mitmproxy"),
    port: Annotated[int, typer.Option(
        min=0, max=65535, help="Port of the proxy, for the lines shown.")] = 8080,
) -> None:
    """Where the CA certificate for HTTPS interception is, and how each client trusts it."""
    from mitmproxy.certs import CertStore

    directory = confdir.expanduser()
    CertStore.from_store(directory, "mitmproxy", 2048)  # creates the CA on first use
    typer.echo(render.cert_help(directory, f"http://127.0.0.1:{port}"))
