"""addons/engine.py's LeanAddonManager calls the hooks mitmproxy's own manager would,
in the same order, with the same handling of errors and AddonHalt."""

from __future__ import annotations

import asyncio
import logging

import pytest
from mitmproxy import addonmanager, exceptions, options
from mitmproxy.master import Master
from mitmproxy.proxy import server_hooks
from mitmproxy.test import tflow

from addons.engine import LeanAddonManager

pytestmark = pytest.mark.mitmproxy_api  # also run against mitmproxy 12 (.ci/run)


class Hooked:
    def __init__(self, name: str, calls: list[str], *, fail: Exception | None = None,
                 children: tuple = (), asynchronous: bool = False) -> None:
        self.name, self.calls, self.fail = name, calls, fail
        self.addons = list(children)
        if asynchronous:
            self.client_connected = self._later  # type: ignore[method-assign]

    def client_connected(self, client) -> None:
        self.calls.append(self.name)
        if self.fail is not None:
            raise self.fail

    async def _later(self, client) -> None:
        await asyncio.sleep(0)
        self.calls.append(self.name)


class Silent:  # no hook for the event: never offered it by the lean manager
    def __init__(self) -> None:
        self.client_connected_calls = 0


class NotCallable:
    client_connected = 42


def chain(calls: list[str]) -> list:
    return [Hooked("a", calls), Silent(),
            Hooked("b", calls, asynchronous=True,
                   children=(Hooked("b.child", calls), Hooked("b.failing", calls,
                                                              fail=ValueError("boom")),
                             Hooked("b.after", calls))),
            Hooked("c", calls, fail=RuntimeError("bad")), Hooked("d", calls),
            Hooked("halt", calls, fail=exceptions.AddonHalt()), Hooked("never", calls)]


def run(manager_class, addons_of, caplog) -> tuple[list[str], list[str]]:
    calls: list[str] = []

    async def go() -> None:
        master = Master(options.Options())
        manager = master.addons if manager_class is None else manager_class(master)
        manager.add(*addons_of(calls))
        client = tflow.tclient_conn()
        await manager.handle_lifecycle(server_hooks.ClientConnectedHook(client))
        calls.append("|")
        await manager.trigger_event(server_hooks.ClientConnectedHook(client))
        await master.done()

    caplog.clear()
    with caplog.at_level(logging.ERROR):
        asyncio.run(go())
    return calls, sorted(r.getMessage().split("\n")[0] for r in caplog.records)


def test_hooks_run_as_with_mitmproxys_manager(caplog):
    theirs = run(None, chain, caplog)
    ours = run(LeanAddonManager, chain, caplog)
    assert ours == theirs
    calls, errors = ours
    # An error skips the rest of its own addon's children only; AddonHalt ends the event.
    assert calls[:5] == ["a", "b", "b.child", "b.failing", "c"] and "never" not in calls
    assert any("boom" in e for e in errors) and any("bad" in e for e in errors)


def test_a_hook_that_is_not_callable_is_reported_not_raised(caplog):
    def addons_of(calls):
        return [NotCallable(), Hooked("after", calls)]

    calls, errors = run(LeanAddonManager, addons_of, caplog)
    assert calls == ["after", "|", "after"]
    assert any("not callable" in e for e in errors)


def test_addons_added_or_removed_later_are_offered_the_next_event():
    calls: list[str] = []

    async def go() -> None:
        master = Master(options.Options())
        manager = LeanAddonManager(master)
        first = Hooked("first", calls)
        manager.add(first)
        client = tflow.tclient_conn()
        await manager.trigger_event(server_hooks.ClientConnectedHook(client))
        manager.add(Hooked("second", calls))
        await manager.trigger_event(server_hooks.ClientConnectedHook(client))
        manager.remove(first)
        await manager.trigger_event(server_hooks.ClientConnectedHook(client))
        await master.done()

    asyncio.run(go())
    assert calls == ["first", "first", "second", "second"]
    assert issubclass(LeanAddonManager, addonmanager.AddonManager)
