"""`mockrec calls`: the call log."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from recorder.cli import render
from recorder.cli.common import (
    AsJson,
    current_data_dir,
    print_json,
    print_table,
    show_entry,
)
from recorder.errors import MockrecError
from recorder.store.history import HistoryStore, open_call_log
from recorder.store.names import check_name


def _call_log(mock: str | None) -> HistoryStore:
    if mock is not None:
        check_name(mock, "mock")
    return open_call_log(current_data_dir(), mock)


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
        return show_entry(_call_log(mock).get(int(words[1])), True, as_json)
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
        print_json([render.call_summary(e) for e in entries])
    else:
        print_table(render.CALL_COLUMNS, [render.call_row(e) for e in entries])
    if follow:
        newest = next(iter(log.entries()), None)
        render.follow(log, newest.id if newest and newest.id else 0, as_json)
