"""Start mitmproxy with mockrec's addons: the engine behind `mockrec record`, `replay` and
`proxy`, which the command line finds through the `mockrec.engine` entry point
(recorder/proxy/__init__.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from mitmproxy import addonmanager, addons, ctx, exceptions, flow, hooks, master, options
from mitmproxy.addons import dumper, errorcheck, termlog
from mitmproxy.proxy.mode_specs import RegularMode, ReverseMode

from addons.fastpath.selector import stamping_event_loop
from recorder.errors import MockrecError
from recorder.proxy.config import ProxyConfig, check_port_free, check_upstream


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
        for n, (spec, (host, port)) in enumerate(listening):
            url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
            if isinstance(spec, ReverseMode):
                how = f"reverse proxy to {spec.data}; point your client at {url}"
            elif isinstance(spec, RegularMode):
                how = f"forward proxy; export HTTP_PROXY={url} HTTPS_PROXY={url}"
            else:
                how = f"{spec.type_name} mode"
            print(f"mockrec {mode} {'also on' if n else 'on'} {url} ({how})", flush=True)
        serving = (f"; serving collection {ctx.options.mockrec_collection}"
                   if ctx.options.mockrec_collection else "")
        print(f"data in {self.config.data_dir}{serving}; `mockrec mode MODE` switches; "
              "`mockrec ui` shows it in a browser; Ctrl-C stops", flush=True)
        # Every addon costs a lookup on every event; this one has said its piece.
        ctx.master.addons.remove(self)


# The mitmproxy addons a mockrec proxy needs: serving, layers, TLS (forward mode's
# HTTPS and its mitm.it certificate page), the safety checks. mitmproxy offers every
# event to every addon in its chain, so the ~25 others (map, modify, save, playback,
# ...) would cost on every request while doing nothing; they join only when a
# `--set` names one of their options.
LEAN_ADDONS = frozenset({
    "Core", "Block", "Proxyserver", "NextLayer", "TlsConfig", "DnsResolver",
    "StripDnsHttpsRecords", "DisableH2C", "UpdateAltSvc", "Onboarding",
})


class LeanAddonManager(addonmanager.AddonManager):
    """mitmproxy's manager, minus an `update` event after each flow event when no
    addon listens to `update` (only interactive views do; mockrec has none)."""

    _update_listeners: bool | None = None

    def register(self, addon):
        self._update_listeners = None
        return super().register(addon)

    def remove(self, addon):
        self._update_listeners = None
        return super().remove(addon)

    async def handle_lifecycle(self, event: hooks.Hook):
        await self.trigger_event(event)
        if self._update_listeners is None:
            self._update_listeners = any(
                callable(getattr(a, "update", None)) for a in addonmanager.traverse(self.chain))
        if self._update_listeners and isinstance(event.args()[0], flow.Flow):
            await self.trigger_event(hooks.UpdateHook([event.args()[0]]))


def build_master(config: ProxyConfig) -> master.Master:
    from addons.replay import Replay, forwarding_addons

    opts = options.Options()
    proxy = master.Master(opts)
    proxy.addons = LeanAddonManager(proxy)
    proxy._termlog_addon = termlog.TermLog()
    proxy.addons.add(proxy._termlog_addon)
    everything = addons.default_addons()
    proxy.addons.add(*(a for a in everything if type(a).__name__ in LEAN_ADDONS))
    if config.verbose:
        proxy.addons.add(dumper.Dumper())
    proxy.addons.add(errorcheck.ErrorCheck())
    wanted = {s.partition("=")[0] for s in config.settings}
    lean = not any(key not in opts and not key.startswith("mockrec_") for key in wanted)
    if not lean:
        proxy.addons.add(*(a for a in everything if type(a).__name__ not in LEAN_ADDONS))
    # A pure replay proxy starts without the forwarding addons (they cost on every
    # event); `mockrec mode` brings them in when it needs them.
    needed = config.mode.forwards(config.replay.on_miss) or bool(
        wanted & {"mockrec_upstream_timeout", "mockrec_record"})
    proxy.addons.add(Replay(), *(forwarding_addons() if needed else []), Banner(config))
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


async def _serve(config: ProxyConfig) -> None:
    try:
        master = build_master(config)
    except (exceptions.OptionsError, KeyError) as e:
        raise MockrecError(str(e).strip("'\"")) from None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    await master.run()


def serve(config: ProxyConfig) -> None:
    """Run until SIGINT/SIGTERM; the record addon flushes the history on the way out."""
    if config.upstream:
        config.upstream = check_upstream(config.upstream)
    check_port_free(config.listen_host, config.port)
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
