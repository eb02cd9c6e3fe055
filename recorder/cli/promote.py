"""`mockrec promote`: history entries into examples."""

from __future__ import annotations

from typing import Annotated

import typer

from recorder import views
from recorder.cli import render
from recorder.cli.common import (
    AsJson,
    collection_store,
    history_store,
    print_json,
    warn,
)
from recorder.cli.history import Since, history_filter
from recorder.errors import UsageError
from recorder.models import parse_ids
from recorder.promote import entries as promoting


def promote(
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="ID|RANGE", help="History ids and ranges (12 15-20).")] = None,
    collection: Annotated[str | None, typer.Option(
        help="Collection to add to, created if missing [default: a new one].")] = None,
    request: Annotated[str | None, typer.Option(
        "--request", help="Name for new requests [default: METHOD /path].")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="Name for the examples [default: STATUS Reason].")] = None,
    since: Since = None,
    method: Annotated[str | None, typer.Option(help="Only this HTTP method.")] = None,
    path: Annotated[str | None, typer.Option(help="Only paths matching this glob.")] = None,
    status: Annotated[str | None, typer.Option(help="A status (404), a class (2xx) or error.")]
    = None,
    template: Annotated[str | None, typer.Option(
        help="Path template, e.g. /users/{{userId}}: its wildcards match any segment.")] = None,
    infer_templates: Annotated[bool, typer.Option(
        "--infer-templates", help="Turn ID-like path segments into wildcards.")] = False,
    keep_secrets: Annotated[bool, typer.Option(
        "--keep-secrets", help="Keep Authorization, cookies and API keys.")] = False,
    no_sequence: Annotated[bool, typer.Option(
        "--no-sequence", help="Repeats of a request with different answers stay plain "
        "examples, rather than a sequence replayed in order.")] = False,
    allow_duplicates: Annotated[bool, typer.Option(
        "--allow-duplicates", help="Also promote entries whose request and response already "
        "stand as an example in their request (skipped by default).")] = False,
    as_json: AsJson = False,
) -> None:
    """Turn history entries into examples ("Mock Request")."""
    filters = history_filter(method=method, path=path, status=status, since=since)
    try:
        specs = parse_ids(ids or [])
    except ValueError as e:
        raise UsageError(str(e)) from None
    options = promoting.PromoteOptions(request_name=request, example_name=name,
                                       template=template, infer_templates=infer_templates,
                                       keep_secrets=keep_secrets, sequence=not no_sequence,
                                       allow_duplicates=allow_duplicates)
    promoting.check_template(template)
    entries = promoting.select_entries(history_store(), specs, filters)
    store = collection_store()
    done = promoting.promote_into(store, collection, entries, options,
                                  lambda items: render.progress(items, "promoting"))
    for example in done.result.truncated:  # an empty body the user did not ask for
        warn(f"example {example.id} ({example.name!r}) answers with an empty body: its entry "
             f"{example.source_entry}'s response body was over the body limit and was not "
             "recorded (record it again with --set mockrec_body_limit=BYTES, or write the "
             f"body with `mockrec example edit {example.id}`)")
    if as_json:
        print_json(views.promote_json(done.collection, done.created, done.result))
    else:
        typer.echo(views.promote_text(done.collection, done.created, done.result,
                                       store.path(done.collection)))
