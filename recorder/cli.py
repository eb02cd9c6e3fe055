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

from recorder import datadir, render
from recorder.errors import ExitStatus, MockrecError
from recorder.history import HistoryStore
from recorder.models import HistoryFilter, parse_ids, parse_since

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Record API traffic, promote it to examples, replay it as a mock.")
history_app = typer.Typer(no_args_is_help=True, help="Look at and prune recorded traffic.")
app.add_typer(history_app, name="history")

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


def _console() -> Console:
    # Piped output keeps whole lines rather than wrapping to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


@app.command()
def record(
    upstream: Annotated[str | None, typer.Option(
        help="Reverse-proxy to this base URL (the mock URL is then http://HOST:PORT). "
             "Without it mockrec is a forward proxy for HTTP_PROXY/HTTPS_PROXY.")] = None,
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8080,
    listen_host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Print each exchange.")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="A mitmproxy option, KEY=VALUE (repeatable).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Record live traffic into the history until Ctrl-C."""
    from recorder import proxy

    directory = datadir.prepare(data_dir or _state.get("data_dir"))
    HistoryStore(directory).check()
    proxy.serve(proxy.ProxyConfig(
        data_dir=directory, upstream=upstream, listen_host=listen_host, port=port,
        verbose=verbose, settings=set_ or []))


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
    entry = _history().get(entry_id)
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


def _print_entries(entries: list) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "TIME", "METHOD", "URL", "STATUS", "MS", "SIZE"):
        table.add_column(column, justify="right" if column in ("ID", "MS", "SIZE") else "left")
    for row in map(render.entry_row, entries):
        table.add_row(*row)
    _console().print(table)


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
