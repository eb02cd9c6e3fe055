"""`mockrec import` and `mockrec export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from recorder.cli import render
from recorder.cli.common import collection_store, current_data_dir, history_store
from recorder.errors import MockrecError, UsageError
from recorder.models import Collection, HistoryEntry, counted
from recorder.store import datadir

import_app = typer.Typer(no_args_is_help=True, help="Bring collections in from other tools.")
AllowDuplicates = Annotated[bool, typer.Option(
    "--allow-duplicates", help="Import exchanges already in the history again.")]
export_app = typer.Typer(no_args_is_help=True, help="Write collections for other tools.")


Merge = Annotated[bool, typer.Option(
    "--merge", help="Into an existing collection: add its requests and examples, skipping "
    "exact duplicates.")]
Replace = Annotated[bool, typer.Option(
    "--replace", help="Into an existing collection: replace its requests, examples and "
    "variables (its tags stay).")]


@import_app.command("postman")
def import_postman(
    file: Annotated[Path, typer.Argument(help="A Postman Collection v2.1 or v2.0 JSON file.")],
    collection: Annotated[str | None, typer.Option(
        help="Name of the collection [default: from the file's info.name].")] = None,
    merge: Merge = False,
    replace: Replace = False,
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

    done = _import_collection(name, convert, merge, replace)
    typer.echo(f"imported {file} {done}: {summaries[0].text()}")


@import_app.command("openapi")
def import_openapi(
    file: Annotated[Path, typer.Argument(help="An OpenAPI 3.0/3.1 document, JSON or YAML.")],
    collection: Annotated[str | None, typer.Option(
        help="Name of the collection [default: from info.title].")] = None,
    allow_refs: Annotated[Path | None, typer.Option(
        "--allow-refs", metavar="DIR", help="Also follow $refs to local files under DIR "
        "(by default only refs inside the document; never URLs).")] = None,
    merge: Merge = False,
    replace: Replace = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="List each response skipped and each example cut, not only "
        "how many.")] = False,
) -> None:
    """One request per operation, one example per documented response."""
    from recorder.interop import limits, openapi

    doc = openapi.load(file, allow_refs)
    name = collection or postman_name(str((doc.get("info") or {}).get("title") or file.stem))
    skipped: list[str] = []
    cut: list[str] = []
    made: list[Collection] = []

    def convert(new_ids, track):
        made.append(openapi.to_collection(doc, name, new_ids, source=f"{file}: ", track=track,
                                          skipped=skipped, cut=cut))
        return made[0]

    done = _import_collection(name, convert, merge, replace)
    typer.echo(f"imported {file} {done}: {counted(len(made[0].requests), 'request')}, "
               f"{counted(len(made[0].examples), 'example')}")
    share = limits.MAX_EXAMPLE_VALUES.value()
    for items, what in ((skipped, "response") , (cut, "generated example")):
        if not items:
            continue
        if verbose:
            verb = "skipped" if items is skipped else "cut to its required fields:"
            typer.echo("".join(f"{verb} {item}\n" for item in items), nl=False)
        elif items is skipped:
            typer.echo(f"skipped {counted(len(items), what)} with no HTTP status to serve "
                       "('default' and the like); --verbose lists them")
        else:
            typer.echo(f"cut {counted(len(items), what)} to their required fields (each over "
                       f"MOCKREC_IMPORT_MAX_EXAMPLE_VALUES={share} values); --verbose lists "
                       "them")


def _import_collection(name: str, convert, merge: bool, replace: bool) -> str:
    """Make collection `name` from a file, or merge it into / replace the existing one;
    `convert(new_example_ids, track)` reads the file. Says what it did."""
    if merge and replace:
        raise UsageError("--merge and --replace exclude each other: pick one")
    store = collection_store()
    exists = store.exists(name)
    if exists and not (merge or replace):
        raise MockrecError(f"collection {name!r} already exists: --merge adds to it, --replace "
                           "replaces it, or name another with --collection")
    track = lambda items: render.progress(items, "importing")  # noqa: E731
    try:
        with store.editing(name, create=True) as c:
            if exists and merge:
                from recorder.interop.merge import merge as merge_into

                imported = convert(lambda n: [0] * n, track)  # ids only for what is added
                result = merge_into(c, imported, lambda n: store.new_example_ids(c, n))
                done = f"into collection {name} ({result.text()})"
            else:
                imported = convert(lambda n: store.new_example_ids(c, n), track)
                c.requests, c.variables = imported.requests, imported.variables
                c.postman = imported.postman  # what the file has that mockrec keeps
                done = f"as collection {name}" + (" (replaced)" if exists else "")
    except OSError as e:  # a full disk, say: the collection file is written whole or not
        raise MockrecError(f"cannot write collection {name}: {e.strerror or e}; nothing "
                           "was imported") from None
    return done


@import_app.command("har")
def import_har(
    file: Annotated[Path, typer.Argument(help="A HAR file (DevTools, Charles, mitmproxy).")],
    allow_duplicates: AllowDuplicates = False,
) -> None:
    """A HAR file's exchanges into the history, to promote like recorded traffic."""
    from recorder.interop.har import read_har

    _import_history(file, read_har(file, lambda items: render.progress(items, "importing")),
                    allow_duplicates)


@import_app.command("flows")
def import_flows(
    file: Annotated[Path, typer.Argument(help="A mitmproxy flow file.")],
    allow_duplicates: AllowDuplicates = False,
) -> None:
    """A mitmproxy flow file (mitmdump -w) into the history."""
    from recorder.interop.har import read_flows

    skipped: list[str] = []
    _import_history(file, read_flows(file, skipped), allow_duplicates)
    for reason in skipped:
        typer.echo(f"skipped {reason}")


def _exchange_key(entry: HistoryEntry) -> tuple:
    """What an imported exchange is known by: the same file read twice gives the same key."""
    response = entry.response
    return (entry.request.method, entry.request.url, round(entry.timings.start, 3),
            entry.request.body_size, response.status if response else None,
            response.body_size if response else None)


def _import_history(file: Path, entries: list[HistoryEntry], allow_duplicates: bool) -> None:
    if not entries:
        raise MockrecError(f"{file}: no HTTP exchange with a response to import")
    datadir.prepare(current_data_dir())
    store = history_store()
    if not allow_duplicates:
        known = {_exchange_key(e) for e in store.entries()}
        fresh = [e for e in entries if _exchange_key(e) not in known]
        if len(fresh) < len(entries):
            sys.stderr.write(
                f"mockrec: warning: skipped {counted(len(entries) - len(fresh), 'entry')} of "
                f"{file} already in the history (imported before?); --allow-duplicates "
                "imports them again\n")
        entries = fresh
    if not entries:
        typer.echo(f"imported nothing from {file}: every entry is already in the history")
        return
    try:
        ids = store.append_all(entries)
    except OSError as e:  # a full disk, say: the entries land all together or not at all
        raise MockrecError(f"cannot write the history: {e.strerror or e}; nothing was "
                           f"imported from {file}") from None
    span = f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0])
    typer.echo(f"imported {counted(len(ids), 'entry')} from {file} into the history as "
               f"{span} (mockrec promote {span} makes them examples)")


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
        # A file the user asked for: the umask decides who may read it, as for any
        # other tool's output (the data dir's own files stay private).
        try:
            atomic_write(output, text.encode(), mode=None)
        except OSError as e:
            raise MockrecError(f"cannot write {output}: {e.strerror}") from None
        typer.echo(f"wrote {output}")
