"""Running proxies: record, replay, proxy, mode, cert."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from recorder.cli import render
from recorder.cli.common import (
    DataDir,
    collection_store,
    current_data_dir,
)
from recorder.errors import MockrecError
from recorder.store import datadir
from recorder.store.history import HistoryStore
from recorder.store.mocks import (
    EnvironmentStore,
    MockStore,
    parse_rate,
)

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

    directory = datadir.prepare(data_dir or current_data_dir())
    HistoryStore(directory).check()
    proxy.serve(proxy.ProxyConfig(data_dir=directory, **config_args))


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
        collection_store().require(collection, tag)  # a clear error before anything starts
    if env:
        EnvironmentStore(current_data_dir()).get(env)
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
    mocks = MockStore(current_data_dir())
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
    reply = control.send(current_data_dir(), port, {"set": settings})
    serving = f", serving {reply['collection']}" if reply.get("collection") else ""
    typer.echo(f"proxy now in {reply['mode']} mode{serving}")


def cert(
    confdir: Annotated[Path, typer.Option(help="mitmproxy's configuration directory.")] = Path(
        "~/.mitmproxy"),
) -> None:
    """Where the CA certificate for HTTPS interception is, and how to trust it."""
    from mitmproxy.certs import CertStore

    directory = confdir.expanduser()
    CertStore.from_store(directory, "mitmproxy", 2048)  # creates the CA on first use
    typer.echo(render.cert_help(directory))
