"""What every command group shares: the root app, the data dir, printing."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from recorder import views
from recorder.cli import render
from recorder.models import HistoryEntry
from recorder.store import datadir
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Record API traffic, promote it to examples, replay it as a mock.")

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", envvar="MOCKREC_DATA_DIR", show_envvar=True,
    help="Where mockrec keeps its files (default ./.mockrec).")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output with stable keys.")]

state: dict[str, Any] = {}


@app.callback()
def _global(data_dir: DataDir = None) -> None:
    state["data_dir"] = data_dir


def current_data_dir() -> Path:
    return datadir.resolve(state.get("data_dir"))


def history_store() -> HistoryStore:
    return HistoryStore(current_data_dir())


def collection_store() -> CollectionStore:
    return CollectionStore(current_data_dir())


def console() -> Console:
    # Piped output keeps whole lines rather than wrapping to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def warn(message: str) -> None:
    sys.stderr.write(f"mockrec: warning: {message}\n")


def kept_aside(path: Path, aside: Path) -> None:
    """A delete met a damaged file, and kept it aside (store.files.set_aside)."""
    warn(f"{path} is damaged: kept aside as {aside} rather than deleted (remove it "
         "yourself once it is of no use)")


def print_json(value: Any) -> None:
    sys.stdout.write(json_text(value) + "\n")


def json_text(value: Any, indent: int | None = 2) -> str:
    """`value` as JSON that is always valid UTF-8: text stays readable, and a surrogate
    (a recorded byte that was not UTF-8, kept as a surrogate escape) is written as its
    `\\udcff` escape rather than as bytes no JSON reader takes."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


SURROGATE = re.compile("[\ud800-\udfff]")



def show_entry(entry: HistoryEntry, body: bool, as_json: bool) -> None:
    if as_json:
        print_json(views.entry_detail(entry))
        return
    typer.echo(render.entry_text(entry))
    if body:
        for title, message in (("request", entry.request), ("response", entry.response)):
            if message is not None and message.body:
                typer.echo(f"--- {title} body")
                render.write_body(message.headers, message.body, sys.stdout)


def write_response_body(entry: HistoryEntry) -> None:
    """The response body alone, decoded and byte-exact: what `> file.png` wants."""
    from recorder import encodings
    from recorder.errors import NotFound

    if entry.response is None:
        raise NotFound(f"entry {entry.id} has no response ({entry.error}): no body to write")
    data, _ = encodings.decode(entry.response.headers, entry.response.body or b"")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def print_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in ("ID", "MS", "SIZE") else "left")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # as written: "[1]" is no markup
    console().print(table)


def print_entries(entries: list) -> None:
    print_table(("ID", "TIME", "METHOD", "URL", "STATUS", "MS", "SIZE"),
                 [views.entry_row(e) for e in entries])
