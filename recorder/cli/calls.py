"""`mockrec calls`: the call log.

    mockrec calls [MOCK]               a mock's calls, or every mock's, newest first
    mockrec calls [MOCK] show ID       one call (ids are unique across mocks)
    mockrec calls [MOCK] clear         forget a mock's calls, or every mock's
"""

from __future__ import annotations

import heapq
import json
import sys
from typing import Annotated

import typer

from recorder import views
from recorder.cli import render
from recorder.cli.common import (
    AsJson,
    current_data_dir,
    print_json,
    show_entry,
)
from recorder.errors import NotFound, UsageError
from recorder.models import HistoryEntry, counted
from recorder.store.history import HistoryStore, call_log_root, call_logs
from recorder.store.names import check_name

USAGE = "mockrec calls [MOCK] [--search TEXT] | calls [MOCK] show ID | calls [MOCK] clear"


def _call_logs(mock: str | None) -> dict[str, HistoryStore]:
    """The call log of `mock`, or of every mock (None)."""
    data_dir = current_data_dir()
    names = call_logs(data_dir)
    if mock is not None:
        check_name(mock, "mock")
    if mock is not None and mock not in names:
        raise NotFound(f"no calls logged for {mock!r} in {data_dir}" + (
            f" (logged: {', '.join(names)})" if names else ": no mock has served calls yet"))
    return {name: HistoryStore(data_dir, call_log_root(name))
            for name in ([mock] if mock is not None else names)}


def _newest_first(logs: dict[str, HistoryStore], search: str | None) -> list:
    streams = [log.search(search) if search else log.entries() for log in logs.values()]
    return list(heapq.merge(*streams, key=lambda e: (-e.timings.start, -(e.id or 0))))


def _show(logs: dict[str, HistoryStore], call_id: int, as_json: bool) -> None:
    found = []
    for name, log in logs.items():
        try:
            found.append((name, log.get(call_id)))
        except NotFound:
            continue
    if not found:
        raise NotFound(f"no call {call_id}" + (f" in {next(iter(logs))}'s log" if len(logs) == 1
                                                else "") + ": `mockrec calls` shows the ids")
    if len(found) > 1:  # logs written before ids were shared across mocks
        names = ", ".join(name for name, _ in found)
        raise UsageError(f"call {call_id} is in several call logs ({names}): name the mock, "
                         f"`mockrec calls {found[0][0]} show {call_id}`")
    show_entry(found[0][1], True, as_json)


def calls(
    words: Annotated[list[str] | None, typer.Argument(
        metavar="[MOCK] [show ID | clear]",
        help="A mock's calls (every mock's when none is named), `show ID` for one call, "
             "`clear` to forget them.")] = None,
    mock: Annotated[str | None, typer.Option(
        help="The mock, as an option (for a mock named show or clear).")] = None,
    search: Annotated[str | None, typer.Option(
        metavar="TEXT", help="Only calls whose path, example, headers or bodies contain this.")]
    = None,
    limit: Annotated[int, typer.Option(min=0, help="Show at most this many.")] = 50,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Print the last calls oldest first, then new ones as they come.")]
    = False,
    as_json: AsJson = False,
) -> None:
    """The call log: what replay served, newest first."""
    words = list(words or [])
    if words and words[0] not in ("show", "clear") and mock is None:
        mock = words.pop(0)
    action = words.pop(0) if words else "list"
    if action == "show":
        if len(words) != 1 or not words[0].isdigit():
            raise UsageError(f"usage: {USAGE}")
        return _show(_call_logs(mock), int(words[0]), as_json)
    if words or action not in ("list", "clear"):
        raise UsageError(f"usage: {USAGE}")
    logs = _call_logs(mock)
    if action == "clear":
        cleared = {name: log.clear() for name, log in logs.items()}
        detail = (" (" + ", ".join(f"{name} {n}" for name, n in cleared.items()) + ")"
                  if len(cleared) > 1 else "")
        return typer.echo(f"deleted {counted(sum(cleared.values()), 'call')}{detail}")
    entries = _newest_first(logs, search)[:max(limit, 0)]
    several = len(logs) > 1
    if follow:
        return _follow(logs, entries, as_json, several)
    if as_json:
        print_json([views.call_summary(e) for e in entries])
    else:
        render.print_calls(entries, several)


def _follow(logs: dict[str, HistoryStore], entries: list[HistoryEntry], as_json: bool,
            several: bool) -> None:
    """The backlog oldest first, then new calls below it, in the same columns."""
    after = {name: getattr(next(iter(log.entries()), None), "id", 0) or 0
             for name, log in logs.items()}
    backlog = list(reversed(entries))
    table = render.CallColumns(backlog, several)
    if as_json:  # JSON lines, so a script can read them as they come
        for entry in backlog:
            sys.stdout.write(json.dumps(views.call_summary(entry)) + "\n")
    else:
        sys.stdout.write(table.header() + "\n")
        for entry in backlog:
            sys.stdout.write(table.line(entry) + "\n")
    sys.stdout.flush()
    render.follow(logs, after, None if as_json else table)
