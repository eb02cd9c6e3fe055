"""Start mitmproxy with mockrec's addons: the engine behind `mockrec record`, `replay` and
`proxy`, which the command line finds through the `mockrec.engine` entry point
(recorder/proxy/__init__.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import logging
import signal
import sys
from typing import TYPE_CHECKING

from mitmproxy import addonmanager, ctx, exceptions, flow, hooks, http, options
from mitmproxy.proxy.layers.http import HttpErrorHook
from mitmproxy.proxy.mode_specs import RegularMode, ReverseMode

from addons import metadata
from addons.fastpath import outbox as fastpath
from addons.fastpath.selector import stamping_event_loop
from recorder.capture import STOPPING
from recorder.errors import MockrecError
from recorder.proxy.config import (
    NO_UPSTREAM,
    ProxyConfig,
    check_port_free,
    check_upstream,
    client_urls,
)
from recorder.settings import OPTION_PREFIX, ProxySettings

if TYPE_CHECKING:
    from mitmproxy.master import Master


class Banner:
    """Says where the proxy listens once it does (port 0 becomes a real port)."""

    name = "mockrec_banner"

    def __init__(self, config: ProxyConfig):
        self.config = config

    def running(self) -> None:
        servers = [(server.mode, server.listen_addrs)
                   for server in ctx.master.addons.get("proxyserver").servers]
        listening = [(mode, addrs[0][:2]) for mode, addrs in servers if addrs]
        if not listening:
            return
        mode = ctx.options.mockrec_mode
        # One line per listener (a `--set mode=...` can add more): "on" the first, the
        # mock URL or the proxy; "also on" the others. Tests and the pytest plugin read them.
        everywhere: list[str] = []
        for n, (spec, (host, port)) in enumerate(listening):
            # 0.0.0.0 is no address to point a client at: this machine's loopback is, and
            # its other addresses are from elsewhere.
            urls = client_urls(host, port)
            url = urls[0]
            if host in ("0.0.0.0", "::", ""):
                others = ", ".join(urls[1:]) or "this machine's addresses"
                everywhere.append(f"listening on every address ({host}): from this machine "
                                  f"{url}, from others {others}")
            if isinstance(spec, ReverseMode):
                origin = f" ({self.config.upstream_from})" if self.config.upstream_from else ""
                target = self.config.upstream if n == 0 and self.config.upstream else spec.data
                to = (", no upstream: a miss forwarded gets a 502" if target == NO_UPSTREAM
                      else f" to {target}{origin}")
                how = f"reverse proxy{to}; point your client at {url}"
            elif isinstance(spec, RegularMode):
                why = f" ({self.config.upstream_from})" if self.config.upstream_from else ""
                how = (f"forward proxy{why}; export HTTP_PROXY={url} HTTPS_PROXY={url}; or "
                       f"send requests to {url} itself, the mock URL")
            else:
                how = f"{spec.type_name} mode"
            print(f"mockrec {mode} {'also on' if n else 'on'} {url} ({how})", flush=True)
        for line in everywhere:
            print(line, flush=True)
        print(f"data in {self.config.data_dir}{serving_what()}; `mockrec mode MODE` switches; "
              "`mockrec ui` shows it in a browser; Ctrl-C stops", flush=True)
        # Every addon costs a lookup on every event; this one has said its piece.
        ctx.master.addons.remove(self)


def serving_what() -> str:
    """The banner's "; serving mock M, collection C at tag T", or nothing."""
    opts = ctx.options
    name, tag, mock = opts.mockrec_collection, opts.mockrec_tag, opts.mockrec_mock
    if not name:
        return ""
    replay = ctx.master.addons.get("mockrec_replay")
    missing = " (it does not exist yet)" if replay and replay.collection is None else ""
    return (f"; serving {f'mock {mock}, ' if mock and mock != name else ''}collection "
            f"{name}{f' at tag {tag}' if tag else ''}{missing}")


class Stopper:
    """Stops the proxy on SIGINT/SIGTERM without losing an exchange it answered.

    The listening sockets close at once; exchanges in flight get `mockrec_grace`
    seconds to finish (idle keep-alive connections close right away, busy ones as
    soon as they are idle); what is still in flight then is cut and recorded with
    the error "proxy stopping". Only then do the addons' `done` hooks run, which
    store every capture. A second signal cuts at once.

    It looks at the connections only when the proxy stops, and leaves the addon
    chain once the proxy runs (it declares `mockrec_grace`, nothing more): an
    addon costs a lookup on every event of every request.
    """

    name = "mockrec_stopper"

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None
        self._now = asyncio.Event()
        self._closed: set[str] = set()

    def load(self, loader) -> None:
        ProxySettings.declare(loader, "grace")

    def running(self) -> None:
        ctx.master.addons.remove(self)  # the signal handler holds on to us

    def stop(self) -> None:
        """The signal handler (on the event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._stop())
        else:
            self._now.set()

    async def _stop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            proxyserver = ctx.master.addons.get("proxyserver")
            if proxyserver is None:
                return
            for server in list(proxyserver.servers):
                with contextlib.suppress(Exception):
                    if server.is_running:
                        await server.stop()
            deadline = loop.time() + max(0.0, ctx.options.mockrec_grace)
            while True:
                busy = set(in_flight(proxyserver))
                busy.update(p.flow.client_conn.id for p in list(fastpath.waiting)
                            if not p.finished)
                self._close_connections(proxyserver, keep=busy)
                if not busy or self._now.is_set() or loop.time() >= deadline:
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._now.wait(), 0.05)
            cut = [f for flows in in_flight(proxyserver).values() for f in flows]
            for exchange in cut:
                exchange.metadata[metadata.STOPPING] = True
            self._close_connections(proxyserver, keep=set())
            wound_down = loop.time() + 2.0
            while proxyserver.connections and loop.time() < wound_down:
                await asyncio.sleep(0.02)
            # A cut exchange mitmproxy did not settle with an error event: settled here.
            for exchange in cut:
                if exchange.response is None and exchange.error is None:
                    exchange.error = flow.Error(STOPPING)
                    await ctx.master.addons.trigger_event(HttpErrorHook(exchange))
        finally:
            ctx.master.shutdown()

    def _close_connections(self, proxyserver, keep: set[str]) -> None:
        for handler in list(proxyserver.connections.values()):
            client = handler.client
            if client.id in keep or client.id in self._closed:
                continue
            io = handler.transports.get(client)
            if io is not None and io.handler is not None:
                self._closed.add(client.id)
                io.handler.cancel("proxy stopping")


def in_flight(proxyserver) -> dict[str, list[http.HTTPFlow]]:
    """The HTTP exchanges under way, by client connection: the streams of the HTTP
    layers in each connection's layer stack (mitmproxy drops a stream once done)."""
    found: dict[str, list[http.HTTPFlow]] = {}
    for handler in list(proxyserver.connections.values()):
        stack, flows, seen = [handler.layer], [], set()
        while stack and len(seen) < 100:
            current = stack.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            streams = getattr(current, "streams", None)
            if isinstance(streams, dict):
                flows.extend(f for s in streams.values()
                              if isinstance(f := getattr(s, "flow", None), http.HTTPFlow))
            for attr in ("layer", "child_layer", "fallback"):  # NextLayer, layers, fast path
                child = getattr(current, attr, None)
                if child is not None and hasattr(child, "handle_event"):
                    stack.append(child)
        if flows:
            found[handler.client.id] = flows
    return found


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Connections cancelled as the proxy stops are not errors to print."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


# The mitmproxy addons a mockrec proxy needs, by module and class: serving, layers, TLS
# (forward mode's HTTPS and its mitm.it certificate page), the safety checks; in
# mitmproxy's own order. mitmproxy offers every event to every addon in its chain, so
# the ~20 others (map, modify, save, playback, ...) would cost on every request while
# doing nothing; they join only when a `--set` names one of their options.
LEAN_ADDONS = {
    "core": "Core", "block": "Block", "strip_dns_https_records": "StripDnsHttpsRecords",
    "disable_h2c": "DisableH2C", "onboarding": "Onboarding", "proxyserver": "Proxyserver",
    "dns_resolver": "DnsResolver", "next_layer": "NextLayer", "tlsconfig": "TlsConfig",
    "update_alt_svc": "UpdateAltSvc",
}


def mitmproxy_addon(module: str):
    """`mitmproxy.addons.MODULE`. The package's __init__ imports every default addon, and
    with them flow filters (pyparsing), LDAP, flask, HAR and the rest: a third of the
    proxy's start-up. Unless it has run already, the package is made without it, and its
    modules are imported one by one as needed (`default_addons` runs it later).
    mitmproxy.master imports the package: call this before importing it."""
    if "mitmproxy.addons" not in sys.modules:
        spec = importlib.util.find_spec("mitmproxy.addons")
        package = importlib.util.module_from_spec(spec)
        sys.modules["mitmproxy.addons"] = package
        sys.modules["mitmproxy"].addons = package
    return importlib.import_module(f"mitmproxy.addons.{module}")


def default_addons() -> list:
    """mitmproxy's whole default set, its package's __init__ run now if it was left out."""
    package = sys.modules.get("mitmproxy.addons")
    if package is not None and not hasattr(package, "default_addons"):
        package.__spec__.loader.exec_module(package)
    return importlib.import_module("mitmproxy.addons").default_addons()


class LeanAddonManager(addonmanager.AddonManager):
    """mitmproxy's manager, with each event offered only to the addons that have a hook
    for it, and minus an `update` event after each flow event when no addon listens to
    `update` (only interactive views do; mockrec has none).

    mitmproxy offers every event to every addon of the chain, each time in a
    coroutine and an error-catching context of its own: about 15 of them for each of
    the 4 to 8 events of a connection and of a request, most of a new connection's
    cost. Here the hooks each event reaches are looked up once (again after an addon
    comes or goes), and called as mitmproxy calls them: in chain order, an addon's
    own hook before its children's, an error logged without stopping the others
    (`safecall`, per addon of the chain), AddonHalt ending the event."""

    _update_listeners: bool | None = None

    def __init__(self, master):
        super().__init__(master)
        self._hooks: dict[str, list[list]] = {}  # event name -> per addon: its callables

    def register(self, addon):
        self._forget_hooks()
        return super().register(addon)

    def remove(self, addon):
        self._forget_hooks()
        return super().remove(addon)

    def _forget_hooks(self) -> None:
        self._update_listeners = None
        self._hooks = {}

    def _hooked(self, event: hooks.Hook) -> list[list]:
        found = self._hooks.get(event.name)
        if found is None:
            found = []
            for addon in self.chain:
                with addonmanager.safecall():  # a hook that is not callable: said, left out
                    if funcs := [func for _, func in self._iter_hooks(addon, event)]:
                        found.append(funcs)
            self._hooks[event.name] = found
        return found

    async def trigger_event(self, event: hooks.Hook):
        args = event.args()
        for funcs in self._hooked(event):
            try:
                with addonmanager.safecall():
                    for func in funcs:
                        result = func(*args)
                        if result is not None and inspect.isawaitable(result):
                            await result
            except exceptions.AddonHalt:
                return

    async def handle_lifecycle(self, event: hooks.Hook):
        await self.trigger_event(event)
        if self._update_listeners is None:
            self._update_listeners = any(
                callable(getattr(a, "update", None)) for a in addonmanager.traverse(self.chain))
        if self._update_listeners and isinstance(event.args()[0], flow.Flow):
            await self.trigger_event(hooks.UpdateHook([event.args()[0]]))


def lean_addon(module: str, name: str):
    """mitmproxy's addon `name` from `module`; DisableH2C answering HTTP/2 with prior
    knowledge rather than closing on it without a word (addons/upstream.py)."""
    addon = getattr(mitmproxy_addon(module), name)
    if module == "disable_h2c":
        from addons.upstream import answering_h2c

        addon = answering_h2c(addon)
    return addon()


def build_master(config: ProxyConfig) -> Master:
    mitmproxy_addon("termlog")  # the lean package first: mitmproxy.master imports it
    from mitmproxy.master import Master

    from addons.forwarding import forwarding_addons
    from addons.replay import Replay

    opts = options.Options()
    proxy = Master(opts)
    proxy.addons = LeanAddonManager(proxy)
    proxy._termlog_addon = mitmproxy_addon("termlog").TermLog()
    proxy.addons.add(proxy._termlog_addon)
    wanted = {s.partition("=")[0] for s in config.settings}
    # mitm.it, where a forward proxy's client gets the CA certificate: the mock URL (a
    # reverse proxy) has no use for it, nor for its web framework (0.1 s of start-up).
    chosen = {module: name for module, name in LEAN_ADDONS.items()
              if module != "onboarding" or not config.proxy_mode.startswith("reverse:")
              or "mode" in wanted}
    proxy.addons.add(*(lean_addon(module, name) for module, name in chosen.items()))
    if config.verbose:
        proxy.addons.add(mitmproxy_addon("dumper").Dumper())
    proxy.addons.add(mitmproxy_addon("errorcheck").ErrorCheck())
    lean = not any(key not in opts and not key.startswith(OPTION_PREFIX) for key in wanted)
    if not lean:
        proxy.addons.add(*(a for a in default_addons()
                           if type(a).__name__ not in chosen.values()))
    # A pure replay proxy starts without the forwarding addons (they cost on every
    # event); `mockrec mode` brings them in when it needs them.
    needed = config.mode.forwards(config.replay.on_miss) or bool(
        ProxySettings.changed(wanted) & {"upstream_timeout", "record"})
    proxy.addons.add(Replay(), *(forwarding_addons() if needed else []), Banner(config),
                     Stopper())
    opts.update(
        listen_host=config.listen_host,
        listen_port=config.port,
        mode=[config.proxy_mode],
        # Connect upstream only when a request needs it, so a dead upstream
        # fails that request (with a JSON 502) rather than the client's connection.
        connection_strategy="lazy",
        termlog_verbosity="info" if config.verbose else "warn",
        # Replayed requests may skip mitmproxy's per-request events when no addon
        # but ours listens to them (addons/fastpath/).
        mockrec_fast_replay=lean and not config.verbose,
        **config.addon_options(),
    )
    if config.settings:
        opts.set(*config.settings)
    return proxy


def skip_debug_type_checks() -> None:
    """mitmproxy type-checks each field of every request and response it makes, under
    `if __debug__:` (a check `python -O` drops): a quarter of a replayed request's CPU
    (a cProfile of wrk against the fast path). Dropped here the same way, in the
    proxy's own process, when only mitmproxy's and mockrec's addons run."""
    from mitmproxy import http
    if "__post_init__" in vars(http.MessageData):
        http.MessageData.__post_init__ = lambda self: None  # type: ignore[method-assign]


async def _serve(config: ProxyConfig) -> None:
    try:
        master = build_master(config)
    except (exceptions.OptionsError, KeyError) as e:
        if isinstance(e.__cause__, MockrecError):  # its own exit status (4: damaged file)
            raise e.__cause__ from None
        raise MockrecError(str(e).strip("'\"")) from None
    if master.options.mockrec_fast_replay:
        skip_debug_type_checks()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_cancellations)
    stopper = master.addons.get(Stopper.name)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopper.stop)
    await master.run()


def serve(config: ProxyConfig) -> None:
    """Run until SIGINT/SIGTERM (`Stopper`); the record addon and the call log store
    every capture on the way out."""
    if config.upstream:
        config.upstream = check_upstream(config.upstream)
    check_port_free(config.listen_host, config.port, config.data_dir)
    # Below the terminal's level nothing is shown; not making the records (mitmproxy
    # logs every client connect and disconnect at INFO) saves ~15 us a connection.
    chatty = config.verbose or any(s.startswith("termlog_verbosity=") for s in config.settings)
    logging.getLogger().setLevel(logging.INFO if chatty else logging.WARNING)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # The loop notes when data arrives, so that delays count from then (addons/fastpath/);
    # Windows keeps its own loop.
    with asyncio.Runner(loop_factory=None if sys.platform == "win32"
                        else stamping_event_loop) as runner:
        runner.run(_serve(config))
    sys.stdout.flush()
