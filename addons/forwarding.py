"""The addons a request that goes upstream needs, loaded only when a mode forwards."""

from __future__ import annotations

from mitmproxy import ctx, hooks

from addons.record import Record
from addons.upstream import UpstreamErrors


def forwarding_addons() -> list:
    """What a request that goes upstream needs: JSON 502/504s, then recording."""
    return [UpstreamErrors(), Record()]


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
