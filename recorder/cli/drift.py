"""`mockrec drift`: do the mocks still match the API? (recorder/drift/ does the work.)"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from recorder.cli.common import collection_store, current_data_dir, print_json
from recorder.drift.check import DriftOptions, check, chosen
from recorder.drift.plan import Fill
from recorder.drift.report import Report, Result
from recorder.drift.send import Sending, run
from recorder.errors import ExitStatus, UsageError
from recorder.models import Header, counted, format_ids, header_problem, parse_ids, parse_since

MoreIds = Annotated[list[str] | None, typer.Argument(
    metavar="IDS", help="More ids after --ids: --ids 3 7-9.", show_default=False)]
Upstream = Annotated[str | None, typer.Option(
    metavar="URL", help="The live API [default: the collection's baseUrl].")]
Env = Annotated[str | None, typer.Option(
    metavar="E", help="An environment whose variables fill the requests (and the secrets "
    "promote redacted: a variable named after the header or parameter).")]
Headers = Annotated[list[str] | None, typer.Option(
    "--header", "-H", metavar="'K: V'", help="A header to send, replacing the example's "
    "(a redacted Authorization, say); repeatable.")]
Methods = Annotated[str, typer.Option(
    metavar="safe|all", help="safe: only GET, HEAD and OPTIONS are sent; all: every method "
    "(a POST may change the live API).")]
Ids = Annotated[list[str] | None, typer.Option(
    "--ids", metavar="IDS", help="Only these example ids and ranges (3 7-9).")]
Values = Annotated[bool, typer.Option(
    "--values", help="Compare JSON values too, not only the shape.")]
AsJson = Annotated[bool, typer.Option(
    "--json", help="A JSON list: id, request, result, changes, reason.")]
Junit = Annotated[Path | None, typer.Option(
    metavar="FILE", help="Write a JUnit XML report: one test case per example.")]
Update = Annotated[bool, typer.Option(
    "--update", help="Write the live answers into the drifted examples (asks first).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="With --update: do not ask.")]
FromHistory = Annotated[bool, typer.Option(
    "--from-history", help="Compare with the newest recorded answer of each request; send "
    "nothing.")]
Since = Annotated[str | None, typer.Option(
    metavar="DATE", help="With --from-history: only entries from then on.")]
Record = Annotated[bool, typer.Option(
    "--record", help="Keep the requests sent and their answers in the history.")]
Timeout = Annotated[float, typer.Option(metavar="S", help="Seconds each request may take.")]
Concurrency = Annotated[int, typer.Option(metavar="N", help="Requests in flight at once.")]
Insecure = Annotated[bool, typer.Option(
    "--insecure", help="Do not check the API's TLS certificate.")]


def drift(
    collection: Annotated[str, typer.Argument(help="The collection whose examples to check.")],
    more_ids: MoreIds = None, upstream: Upstream = None, env: Env = None,
    header: Headers = None, methods: Methods = "safe", ids: Ids = None, values: Values = False,
    as_json: AsJson = False, junit: Junit = None, update: Update = False, yes: Yes = False,
    from_history: FromHistory = False, since: Since = None, record: Record = False,
    timeout: Timeout = 10.0, concurrency: Concurrency = 4, insecure: Insecure = False,
) -> None:
    """Ask the live API each example's request again and say which examples went stale."""
    options = drift_options(upstream=upstream, headers=header or [], methods=methods,
                            ids=[*(ids or []), *(more_ids or [])], given_ids=bool(ids))
    check_flags(update=update, yes=yes, from_history=from_history, since=since,
                record=record, timeout=timeout, concurrency=concurrency)
    options.values, options.record, options.from_history = values, record, from_history
    options.since = parse_since(since) if since else None
    options.sending = Sending(concurrency=concurrency, timeout=timeout, verify=not insecure)
    if env:
        from recorder.store.mocks import EnvironmentStore

        options.fill.variables = EnvironmentStore(current_data_dir()).get(env)
    loaded = collection_store().load(collection)
    bar = progress_bar(len(chosen(loaded, options.ids)), as_json)
    report = run(check(loaded, options, current_data_dir(), bar))
    show(report, as_json, junit)
    if update and report.drifted:
        write_updates(report, yes)
    raise typer.Exit(int(ExitStatus.SUCCESS if report.clean else ExitStatus.ERROR))


def drift_options(*, upstream: str | None, headers: list[str], methods: str,
                  ids: list[str], given_ids: bool) -> DriftOptions:
    """The options every check takes; a bad one is a usage error (exit 2)."""
    if methods not in ("safe", "all"):
        raise UsageError(f"--methods {methods!r}: use safe (GET, HEAD, OPTIONS) or all")
    if ids and not given_ids:
        raise UsageError(f"unexpected argument {ids[0]!r}: ids go after --ids (--ids 3 7-9)")
    if upstream is not None and not upstream.startswith(("http://", "https://")):
        raise UsageError(f"--upstream {upstream!r} is not an http:// or https:// URL")
    try:
        spans = parse_ids(ids)
    except ValueError as e:
        raise UsageError(f"--ids: {e}") from None
    fill = Fill(headers=[parse_header(h) for h in headers], upstream=upstream,
                all_methods=methods == "all")
    return DriftOptions(fill=fill, ids=spans)


def parse_header(text: str) -> Header:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or name != name.strip():
        raise UsageError(f"--header {text!r} is not 'Name: value'")
    if problem := header_problem(name, value.strip()):
        raise UsageError(f"--header: {problem}")
    return name, value.strip()


def check_flags(*, update: bool, yes: bool, from_history: bool, since: str | None,
                record: bool, timeout: float, concurrency: int) -> None:
    if yes and not update:
        raise UsageError("--yes goes with --update (it writes without asking)")
    if since and not from_history:
        raise UsageError("--since goes with --from-history")
    if record and from_history:
        raise UsageError("--record sends nothing with --from-history: use one or the other")
    if not timeout > 0 or not concurrency > 0:
        raise UsageError("--timeout and --concurrency must be more than 0")
    if since:
        try:
            parse_since(since)
        except ValueError as e:
            raise UsageError(str(e)) from None


def progress_bar(total: int, quiet: bool) -> Callable[[Result], None] | None:
    """A callback advancing a progress bar on a terminal's stderr (None elsewhere)."""
    if quiet or not sys.stderr.isatty() or total < 2:
        return None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task("asking the API", total=total)
    bar.start()

    def advance(result: Result) -> None:
        bar.advance(task)
        if bar.tasks[task].finished:
            bar.stop()

    return advance


def show(report: Report, as_json: bool, junit: Path | None) -> None:
    if junit is not None:
        try:
            report.write_junit(junit)
        except OSError as e:
            raise UsageError(f"--junit {junit}: {e.strerror}") from None
    if as_json:
        print_json(report.as_json())
        return
    typer.echo(report.text())


def write_updates(report: Report, yes: bool) -> None:
    from recorder.drift.update import preview
    from recorder.drift.update import write_updates as write

    drifted = [r for r in report.drifted if r.live is not None and r.live.response]
    for line in preview(drifted):
        sys.stderr.write(f"will update {line}\n")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("--update asks first, and this is not a terminal: --update "
                             "--yes writes without asking; nothing was written")
        prompt = f"Write the live answers into {counted(len(drifted), 'example')}?"
        if not typer.confirm(prompt, err=True):  # stdout may be --json
            raise typer.Abort()
    updated = write(collection_store(), report.collection, drifted)
    sys.stderr.write(f"updated {counted(len(updated), 'example')} in {report.collection}: "
                     f"{format_ids(updated)}\n")
