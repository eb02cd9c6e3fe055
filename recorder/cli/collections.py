"""`mockrec collection` and `mockrec example`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from recorder import views
from recorder.cli import render
from recorder.cli.common import (
    AsJson,
    collection_store,
    current_data_dir,
    kept_aside,
    print_json,
    print_table,
    warn,
)
from recorder.errors import ExitStatus, UsageError
from recorder.models import counted, format_ids, parse_ids
from recorder.promote import examples

collection_app = typer.Typer(no_args_is_help=True, help="Collections of requests and examples.")
example_app = typer.Typer(no_args_is_help=True, help="The examples that replay answers from.")


@collection_app.command("list")
def collection_list(as_json: AsJson = False) -> None:
    """The collections, with their request, example and tag counts."""
    damaged: list[str] = []
    rows = [views.collection_summary(c) for c in collection_store().all(damaged)]
    if as_json:
        print_json(rows)
    else:
        print_table(("NAME", "REQUESTS", "EXAMPLES", "TAGS"),
                     [(r["name"], str(r["requests"]), str(r["examples"]), " ".join(r["tags"]))
                      for r in rows])
    fail_on_damage(damaged)


def fail_on_damage(damaged: list[str]) -> None:
    """A list that had to leave out damaged files: it showed the rest, then says which
    files and exits 4, so that a script notices."""
    if damaged:
        for message in damaged:
            sys.stderr.write(f"mockrec: error: {message}\n")
        raise typer.Exit(int(ExitStatus.STORE_CORRUPT))


@collection_app.command("show")
def collection_show(
    name: str,
    tag: Annotated[str | None, typer.Option(help="Show the collection as frozen at TAG.")] = None,
    as_json: AsJson = False,
) -> None:
    """A collection's requests and their examples."""
    c = collection_store().load(name, tag)
    if as_json:
        print_json(views.collection_detail(c))
    else:
        typer.echo(render.collection_text(c))


@collection_app.command("create")
def collection_create(name: str) -> None:
    """An empty collection, e.g. to add examples by hand."""
    store = collection_store()
    store.create(name)
    typer.echo(f"created collection {name} ({store.path(name)})")


@collection_app.command("delete")
def collection_delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a collection and its tags (asks on a terminal; --yes does not)."""
    from recorder.store.mocks import MockStore

    store = collection_store()
    store.require(name)
    users = [m.name for m in MockStore(current_data_dir()).all() if m.collection == name]
    if users:
        warn(f"{counted(len(users), 'mock')} still serve{'s' * (len(users) == 1)} {name}: "
             f"{', '.join(users)}; they will not start until `mockrec mock update NAME "
             "--collection OTHER`")
    if not yes:
        if sys.stdin.isatty():
            if not typer.confirm(f"Delete collection {name} and its tags?"):
                raise typer.Abort()
        elif users:
            raise UsageError(f"collection {name} is still served by {', '.join(users)}: "
                             "--yes deletes it anyway")
    for path, aside in store.delete(name):
        kept_aside(path, aside)
    typer.echo(f"deleted collection {name}")


@collection_app.command("tag")
def collection_tag(name: str, tag: str) -> None:
    """Freeze the collection as it is now under a release tag (mocks can serve a tag)."""
    store = collection_store()
    store.tag(name, tag)
    typer.echo(f"tagged {name} as {tag} ({store.path(name, tag)})")



InCollection = Annotated[str | None, typer.Option(
    "--collection", help="Look only in this collection.")]


@example_app.command("list")
def example_list(collection: InCollection = None, as_json: AsJson = False) -> None:
    """Every example, with its request and status."""
    store = collection_store()
    damaged: list[str] = []
    found = [store.load(collection)] if collection else list(store.all(damaged))
    rows = [views.example_summary(c, r, e) for c in found for r in c.requests
            for e in r.examples]
    if as_json:
        print_json(rows)
    else:
        print_table(("ID", "COLLECTION", "REQUEST", "EXAMPLE", "STATUS"),
                     [(str(r["id"]), r["collection"], r["request"],
                       r["name"] + (f" [{r['sequence']}]" if r["sequence"] is not None else "")
                       + (f" [fault {r['fault']}]" if r["fault"] else ""), str(r["status"]))
                      for r in rows])
    fail_on_damage(damaged)


@example_app.command("show")
def example_show(
    example_id: Annotated[int, typer.Argument(metavar="ID")],
    collection: InCollection = None,
    as_json: AsJson = False,  # accepted like everywhere: the output is JSON anyway
) -> None:
    """An example as JSON, the same document `example edit` opens."""
    damaged: list[str] = []
    _, request, example = collection_store().find_example(example_id, collection, damaged)
    for message in damaged:
        warn(message)
    print_json(examples.example_document(example, request))


Sequence = Annotated[int | None, typer.Option(
    "--sequence", metavar="N", help="Its position in a sequence: the examples of one request "
    "with positions answer in turn, 1, 2, 3 ...")]
Fault = Annotated[str | None, typer.Option(
    "--fault", metavar="KIND", help="Answer with a fault instead: reset, close, empty, "
    "garbage, slow-body:MS or cut:N ('' for none).")]


@example_app.command("edit")
def example_edit(
    example_id: Annotated[int, typer.Argument(metavar="ID")],
    collection: InCollection = None,
    sequence: Sequence = None,
    no_sequence: Annotated[bool, typer.Option(
        "--no-sequence", help="Take it out of its sequence.")] = False,
    fault: Fault = None,
) -> None:
    """Open the example in $EDITOR (a valid save replaces it, anything else keeps it);
    with --sequence, --no-sequence or --fault, set just that, without an editor."""
    store = collection_store()
    if sequence is not None or no_sequence or fault is not None:
        message = examples.set_example(store, example_id, collection, sequence, fault,
                                       no_sequence)
    else:
        message = examples.edit_example(store, example_id, collection)
    typer.echo(message)


@example_app.command("rename")
def example_rename(
    example_id: Annotated[int, typer.Argument(metavar="ID")],
    name: str,
    collection: InCollection = None,
) -> None:
    """Give an example a new name (what x-mock-response-name picks)."""
    store = collection_store()
    owner, _, _ = store.find_example(example_id, collection)
    with store.editing(owner.name) as c:
        _, example = c.find_example(example_id)  # type: ignore[misc]
        example.name = name
    typer.echo(f"example {example_id} is now {name!r}")


@example_app.command("delete")
def example_delete(
    ids: Annotated[list[str], typer.Argument(metavar="ID", help="Example ids and ranges (3 7-9)"
                                             "; a range takes the ids in it that exist.")],
    collection: InCollection = None,
) -> None:
    """Delete examples; a request left without examples goes too."""
    try:
        specs = parse_ids(ids)
    except ValueError as e:
        raise UsageError(str(e)) from None
    damaged: list[str] = []
    deleted = examples.delete_examples(collection_store(), specs, collection, damaged)
    for message in damaged:
        warn(message)
    for name, mine in deleted.items():
        typer.echo(f"deleted {counted(len(mine), 'example')} from {name}: {format_ids(mine)}")


@example_app.command("add")
def example_add(
    method: str,
    path: Annotated[str, typer.Argument(help="Path or URL, e.g. /users/{{userId}}.")],
    collection: Annotated[str, typer.Option("--collection", help="Created if missing.")],
    status: Annotated[int, typer.Option(help="Response status.")] = 200,
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="Response header 'Name: value' (repeatable).")] = None,
    body: Annotated[str, typer.Option(help="Response body, or @FILE to read one.")] = "",
    name: Annotated[str | None, typer.Option(help="Example name.")] = None,
    sequence: Sequence = None,
    fault: Fault = None,
    sse: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Answer a stream of server-sent events: one event a line, "
        "optionally led by its offset in ms ('300 data: {...}'); replaces --body.")] = None,
) -> None:
    """Write an example by hand, for an API that does not exist yet."""
    if sse is not None and body:
        raise UsageError("--sse and --body exclude each other: the events are the body")
    store = collection_store()
    with store.editing(collection, create=True) as c:
        wanted = examples.NewExample(method, path, status, name=name, sequence=sequence,
                                     fault=fault)
        if sse is not None:
            example = examples.add_sse_example(c, store, wanted, header or [], sse)
        else:
            example = examples.add_example(c, store, wanted, header or [], body)
    typer.echo(f"added example {example.id} ({example.name}) to {collection}")
