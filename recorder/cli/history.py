"""`mockrec history`: look at and prune recorded traffic."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from recorder import views
from recorder.cli.common import (
    AsJson,
    current_data_dir,
    history_store,
    print_entries,
    print_json,
    show_entry,
    write_response_body,
)
from recorder.errors import UsageError
from recorder.models import (
    HistoryFilter,
    counted,
    format_ids,
    parse_ids,
    parse_since,
)

history_app = typer.Typer(no_args_is_help=True, help="Look at and prune recorded traffic.")

Since = Annotated[str | None, typer.Option(
    metavar="DATE", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (local time unless it ends in "
    "Z or +HH:MM): only entries from then on.")]


def history_filter(*, since: str | None = None, **given: str | None) -> HistoryFilter:
    """The filters of `history list` and `promote`; a bad one is a usage error."""
    try:
        return HistoryFilter(**given, since=parse_since(since) if since else None)
    except ValueError as e:
        raise UsageError(str(e)) from None


@history_app.command("list")
def history_list(
    limit: Annotated[int, typer.Option(min=0, help="Show at most this many, newest first.")] = 50,
    method: Annotated[str | None, typer.Option(help="Only this HTTP method.")] = None,
    host: Annotated[str | None, typer.Option(help="Only this host.")] = None,
    path: Annotated[str | None, typer.Option(help="Only paths matching this glob.")] = None,
    status: Annotated[str | None, typer.Option(help="A status (404), a class (2xx) or error.")]
    = None,
    since: Since = None,
    as_json: AsJson = False,
) -> None:
    """List recorded entries, newest first."""
    filters = history_filter(method=method, host=host, path=path, status=status, since=since)
    entries = []
    for entry in history_store().entries(filters):
        if len(entries) >= limit:
            break
        entries.append(entry)
    if as_json:
        print_json([views.entry_summary(e) for e in entries])
    else:
        print_entries(entries)


@history_app.command("search")
def history_search(
    text: str,
    limit: Annotated[int, typer.Option(min=0, help="Show at most this many, newest first.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Entries whose URL, headers or text bodies contain TEXT (ignoring case)."""
    entries = []
    for entry in history_store().search(text):
        if len(entries) >= limit:
            break
        entries.append(entry)
    if as_json:
        print_json([views.entry_summary(e) for e in entries])
    else:
        print_entries(entries)


@history_app.command("show")
def history_show(
    entry_id: Annotated[int, typer.Argument(metavar="ID")],
    body: Annotated[bool, typer.Option("--body", help="Also print the bodies, decoded; piped "
                                       "(> file.png), only the response body, byte-exact.")]
    = False,
    as_json: AsJson = False,
) -> None:
    """One entry: request and response headers, and with --body the bodies."""
    entry = history_store().get(entry_id)
    if body and not as_json and not sys.stdout.isatty():
        write_response_body(entry)
    else:
        show_entry(entry, body, as_json)


@history_app.command("delete")
def history_delete(
    ids: Annotated[list[str], typer.Argument(metavar="ID", help="Ids or ranges (3-7).")],
) -> None:
    """Delete entries (an id must exist; a range takes those in it that do); their ids
    are not reused."""
    try:
        spans = parse_ids(ids)
    except ValueError as e:
        raise UsageError(str(e)) from None
    store = history_store()
    wanted = store.existing_ids(spans, "deleted")
    count = store.delete(wanted)
    typer.echo(f"deleted {counted(count, 'entry')}: {format_ids(wanted)}")


@history_app.command("clear")
def history_clear(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete every entry."""
    if not yes and sys.stdin.isatty() and not typer.confirm("Delete the whole history?"):
        raise typer.Abort()
    count = history_store().clear()
    typer.echo(f"deleted {counted(count, 'entry')}")


@history_app.command("recover")
def history_recover() -> None:
    """Import the recovery files a proxy left (entries it could not store), then remove them.

    `mockrec record` (and a replay's call log) does this itself when it starts."""
    from recorder.store.history import recover_all

    imported = recover_all(current_data_dir())
    if not imported:
        typer.echo("no recovery files: nothing to import")
    for root, count in imported.items():
        where = "the history" if root == "history" else f"the call log of {root[6:]}"
        typer.echo(f"imported {counted(count, 'entry')} into {where}")
