"""`mockrec import` and `mockrec export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from recorder.cli import render
from recorder.cli.common import collection_store, current_data_dir, history_store
from recorder.errors import MockrecError
from recorder.models import Collection, HistoryEntry
from recorder.store import datadir

import_app = typer.Typer(no_args_is_help=True, help="Bring collections in from other tools.")
export_app = typer.Typer(no_args_is_help=True, help="Write collections for other tools.")


@import_app.command("postman")
def import_postman(
    file: Annotated[Path, typer.Argument(help="A Postman Collection v2.1 or v2.0 JSON file.")],
    collection: Annotated[str | None, typer.Option(
        help="Name of the new collection [default: from the file's info.name].")] = None,
) -> None:
    """A Postman collection, with its folders, saved examples and variables."""
    from recorder.interop import postman

    doc = postman.load(file)
    name = collection or postman_name(str(doc["info"].get("name") or file.stem))
    summaries = []

    def convert(new_ids, track):
        imported, summary = postman.to_collection(doc, name, new_ids, source=f"{file}: ",
                                                  track=track)
        summaries.append(summary)
        return imported

    _import_collection(name, convert)
    typer.echo(f"imported {file} as collection {name}: {summaries[0].text()}")


@import_app.command("openapi")
def import_openapi(
    file: Annotated[Path, typer.Argument(help="An OpenAPI 3.0/3.1 document, JSON or YAML.")],
    collection: Annotated[str | None, typer.Option(
        help="Name of the new collection [default: from info.title].")] = None,
    allow_refs: Annotated[Path | None, typer.Option(
        "--allow-refs", metavar="DIR", help="Also follow $refs to local files under DIR "
        "(by default only refs inside the document; never URLs).")] = None,
) -> None:
    """One request per operation, one example per documented response."""
    from recorder.interop import openapi

    doc = openapi.load(file, allow_refs)
    name = collection or postman_name(str((doc.get("info") or {}).get("title") or file.stem))
    skipped: list[str] = []
    c = _import_collection(name, lambda new_ids, track: openapi.to_collection(
        doc, name, new_ids, source=f"{file}: ", track=track, skipped=skipped))
    typer.echo(f"imported {file} as collection {name}: {len(c.requests)} requests, "
               f"{len(c.examples)} examples" + "".join(f"\nskipped {s}" for s in skipped))


def _import_collection(name: str, convert) -> Collection:
    """A new collection `name`: what `convert(new_example_ids, track)` makes of a file."""
    store = collection_store()
    if store.exists(name):
        raise MockrecError(f"collection {name!r} already exists: name another with "
                           "--collection")
    try:
        with store.editing(name, create=True) as c:
            imported = convert(lambda n: store.new_example_ids(c, n),
                               lambda items: render.progress(items, "importing"))
            c.requests, c.variables = imported.requests, imported.variables
    except OSError as e:  # a full disk, say: the collection file is written whole or not
        raise MockrecError(f"cannot write collection {name}: {e.strerror or e}; nothing "
                           "was imported") from None
    return c


@import_app.command("har")
def import_har(file: Annotated[Path, typer.Argument(help="A HAR file (DevTools, Charles, "
                                                         "mitmproxy).")]) -> None:
    """A HAR file's exchanges into the history, to promote like recorded traffic."""
    from recorder.interop.har import read_har

    _import_history(file, read_har(file, lambda items: render.progress(items, "importing")))


@import_app.command("flows")
def import_flows(file: Annotated[Path, typer.Argument(help="A mitmproxy flow file.")]) -> None:
    """A mitmproxy flow file (mitmdump -w) into the history."""
    from recorder.interop.har import read_flows

    skipped: list[str] = []
    _import_history(file, read_flows(file, skipped))
    for reason in skipped:
        typer.echo(f"skipped {reason}")


def _import_history(file: Path, entries: list[HistoryEntry]) -> None:
    if not entries:
        raise MockrecError(f"{file}: no HTTP exchange with a response to import")
    datadir.prepare(current_data_dir())
    try:
        ids = history_store().append_all(entries)
    except OSError as e:  # a full disk, say: the entries land all together or not at all
        raise MockrecError(f"cannot write the history: {e.strerror or e}; nothing was "
                           f"imported from {file}") from None
    typer.echo(f"imported {len(ids)} entries from {file} into the history as "
               f"{ids[0]}-{ids[-1]} (mockrec promote {ids[0]}-{ids[-1]} makes them examples)")


def postman_name(title: str) -> str:
    """A file-safe collection name from a Postman title."""
    import re

    name = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")[:100]
    return name or "imported"


@export_app.command("postman")
def export_postman(
    collection: str,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="File to write [default: standard output].")] = None,
) -> None:
    """A collection as Postman Collection v2.1 JSON (Postman and newman read it)."""
    from recorder.interop import postman
    from recorder.store.files import atomic_write

    text = json.dumps(postman.from_collection(collection_store().load(collection)), indent=2,
                      ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text.encode())
        typer.echo(f"wrote {output}")
