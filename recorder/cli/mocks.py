"""`mockrec mock` and `mockrec env`: named replay configurations and variables."""

from __future__ import annotations

from typing import Annotated

import typer

from recorder.cli import render
from recorder.cli.common import (
    AsJson,
    current_data_dir,
    print_json,
    print_table,
)
from recorder.errors import MockrecError
from recorder.store.mocks import (
    EnvironmentStore,
    Mock,
    MockStore,
    hash_key,
    parse_assignments,
    parse_rate,
)

mock_app = typer.Typer(no_args_is_help=True, help="Named replay configurations.")
env_app = typer.Typer(no_args_is_help=True, help="Variables resolved in examples at replay.")


def _mock_settings(m: Mock, delay: str | None, profile: str | None, tag: str | None,
                   env: str | None, port: int | None, strict: bool | None,
                   match_body: bool | None, match_headers: str | None, cors: bool | None,
                   max_calls: int | None, rate_limit: str | None, call_log: int | None) -> None:
    for key, value in (("delay", delay), ("profile", profile), ("tag", tag), ("env", env),
                       ("port", port), ("strict", strict), ("match_body", match_body),
                       ("match_headers", match_headers), ("cors", cors),
                       ("max_calls", max_calls), ("call_log", call_log)):
        if value is not None:
            setattr(m, key, value)
    if rate_limit is not None:
        m.rate_limit = parse_rate(rate_limit) if rate_limit else 0


MockOpt = typer.Option


@mock_app.command("create")
def mock_create(
    name: str,
    collection: Annotated[str, MockOpt(help="Collection to serve.")],
    tag: Annotated[str | None, MockOpt(help="Release tag to serve.")] = None,
    env: Annotated[str | None, MockOpt(help="Environment for {{variables}}.")] = None,
    delay: Annotated[str | None, MockOpt(help="off, 2g, 3g or ms.")] = None,
    profile: Annotated[str | None, MockOpt(help="gprs, 2g, 3g, 4g or wifi.")] = None,
    port: Annotated[int | None, MockOpt(help="Port it listens on [default: 8080].")] = None,
    private: Annotated[bool, MockOpt("--private", help="Require an API key (shown once).")]
    = False,
    strict: Annotated[bool | None, MockOpt("--strict/--no-strict")] = None,
    match_body: Annotated[bool | None, MockOpt("--match-body/--no-match-body")] = None,
    match_headers: Annotated[str | None, MockOpt(help="Headers that must match.")] = None,
    cors: Annotated[bool | None, MockOpt("--cors/--no-cors")] = None,
    max_calls: Annotated[int | None, MockOpt(help="Call quota (0: none).")] = None,
    rate_limit: Annotated[str | None, MockOpt(help="N/min.")] = None,
    call_log: Annotated[int | None, MockOpt(help="Calls kept in the call log.")] = None,
    save_url_to: Annotated[str | None, MockOpt(
        help="Store the mock URL as mockUrl in this environment.")] = None,
) -> None:
    """A named mock: `mockrec replay NAME` serves it."""
    store = MockStore(current_data_dir())
    if store.exists(name):
        raise MockrecError(f"mock {name!r} already exists: `mockrec mock update {name}`")
    m = Mock(name=name, collection=collection)
    _mock_settings(m, delay, profile, tag, env, port, strict, match_body, match_headers, cors,
                   max_calls, rate_limit, call_log)
    key = MockStore.new_api_key() if private else None
    if key:
        m.api_key_sha256 = hash_key(key)
    store.save(m)
    typer.echo(f"created mock {name}: {m.url} (mockrec replay {name})")
    if key:
        typer.echo(f"API key (shown only now, stored hashed): {key}")
    if save_url_to:
        EnvironmentStore(current_data_dir()).set(save_url_to, {"mockUrl": m.url})
        typer.echo(f"saved mockUrl={m.url} in environment {save_url_to}")


@mock_app.command("update")
def mock_update(
    name: str,
    collection: Annotated[str | None, MockOpt(help="Collection to serve.")] = None,
    tag: Annotated[str | None, MockOpt(help="Release tag ('' for none).")] = None,
    env: Annotated[str | None, MockOpt(help="Environment ('' for none).")] = None,
    delay: Annotated[str | None, MockOpt(help="off, 2g, 3g or ms.")] = None,
    profile: Annotated[str | None, MockOpt(help="Profile ('' for none).")] = None,
    port: Annotated[int | None, MockOpt(help="Port.")] = None,
    strict: Annotated[bool | None, MockOpt("--strict/--no-strict")] = None,
    match_body: Annotated[bool | None, MockOpt("--match-body/--no-match-body")] = None,
    match_headers: Annotated[str | None, MockOpt(help="Headers that must match.")] = None,
    cors: Annotated[bool | None, MockOpt("--cors/--no-cors")] = None,
    max_calls: Annotated[int | None, MockOpt(help="Call quota (0: none).")] = None,
    rate_limit: Annotated[str | None, MockOpt(help="N/min ('' for none).")] = None,
    call_log: Annotated[int | None, MockOpt(help="Calls kept in the call log.")] = None,
) -> None:
    """Change a mock's settings."""
    store = MockStore(current_data_dir())
    m = store.get(name)
    if collection:
        m.collection = collection
    _mock_settings(m, delay, profile, tag, env, port, strict, match_body, match_headers, cors,
                   max_calls, rate_limit, call_log)
    store.save(m)
    typer.echo(f"updated mock {name}")


@mock_app.command("list")
def mock_list(as_json: AsJson = False) -> None:
    """The mocks and their URLs."""
    rows = [render.mock_json(m) for m in MockStore(current_data_dir()).all()]
    if as_json:
        print_json(rows)
    else:
        print_table(("NAME", "URL", "COLLECTION", "TAG", "ENV", "DELAY", "PRIVATE"),
                     [(r["name"], r["url"], r["collection"], r["tag"], r["env"],
                       r["profile"] or r["delay"], "yes" if r["private"] else "")
                      for r in rows])


@mock_app.command("show")
def mock_show(name: str, as_json: AsJson = False) -> None:
    """A mock's settings and its URL."""
    row = render.mock_json(MockStore(current_data_dir()).get(name))
    if as_json:
        print_json(row)
    else:
        typer.echo("\n".join(f"{k}: {v}" for k, v in row.items()))


@mock_app.command("delete")
def mock_delete(name: str) -> None:
    """Delete a mock (its collection and call log stay)."""
    MockStore(current_data_dir()).delete(name)
    typer.echo(f"deleted mock {name}")


@env_app.command("set")
def env_set(name: str, assignments: Annotated[list[str], typer.Argument(
        metavar="KEY=VALUE...")]) -> None:
    """Set variables in an environment (created if missing)."""
    values = EnvironmentStore(current_data_dir()).set(name, parse_assignments(assignments))
    typer.echo(f"environment {name}: {len(values)} variable{'s' * (len(values) != 1)}")


@env_app.command("list")
def env_list(as_json: AsJson = False) -> None:
    """The environments."""
    store = EnvironmentStore(current_data_dir())
    rows = [{"name": n, "variables": len(store.get(n))} for n in store.names()]
    if as_json:
        print_json(rows)
    else:
        print_table(("NAME", "VARIABLES"), [(r["name"], str(r["variables"])) for r in rows])


@env_app.command("show")
def env_show(name: str, as_json: AsJson = False) -> None:
    """An environment's variables."""
    values = EnvironmentStore(current_data_dir()).get(name)
    if as_json:
        print_json(values)
    else:
        typer.echo("\n".join(f"{k}={v}" for k, v in values.items()))


@env_app.command("delete")
def env_delete(name: str) -> None:
    """Delete an environment."""
    EnvironmentStore(current_data_dir()).delete(name)
    typer.echo(f"deleted environment {name}")
