"""`mockrec mock` and `mockrec env`: named replay configurations and variables."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from recorder import views
from recorder.cli.common import (
    AsJson,
    current_data_dir,
    kept_aside,
    print_json,
    print_table,
    warn,
)
from recorder.cli.settings import with_settings
from recorder.errors import MockrecError
from recorder.store.mocks import (
    EnvironmentStore,
    Mock,
    MockStore,
    hash_key,
    parse_assignments,
)
from recorder.store.names import check_name

mock_app = typer.Typer(no_args_is_help=True, help="Named replay configurations.")
env_app = typer.Typer(no_args_is_help=True, help="Variables resolved in examples at replay.")


def _save_url(m: Mock) -> None:
    """mockUrl in the mock's --save-url-to environment, when its port is known; with
    --port 0 the proxy writes it once it listens (so does every `mockrec replay`)."""
    if not m.save_url_to:
        return
    if m.port == 0:
        typer.echo(f"mockUrl goes into environment {m.save_url_to} when the mock starts "
                   "(port 0: the port is picked then)")
        return
    EnvironmentStore(current_data_dir()).set(m.save_url_to, {"mockUrl": m.url})
    typer.echo(f"saved mockUrl={m.url} in environment {m.save_url_to}")


def shown_url(m: Mock) -> str:
    if m.port == 0:
        return "a free port picked each time it starts, and its URL printed then"
    return m.url


@mock_app.command("create")
@with_settings(exclude=("api_key",))
def mock_create(
    name: str,
    collection: Annotated[str, typer.Option(help="Collection to serve.")],
    port: Annotated[int | None, typer.Option(min=0, max=65535,
        help="Port it listens on [default: 8080, else the first one no other mock uses].")]
    = None,
    private: Annotated[bool, typer.Option("--private", help="Require an API key (shown once).")]
    = False,
    *,
    settings: dict[str, Any],
) -> None:
    """A named mock: `mockrec replay NAME` serves it."""
    store = MockStore(current_data_dir())
    if settings.get("save_url_to"):
        check_name(settings["save_url_to"], "environment")  # before anything is written
    if store.exists(name):
        raise MockrecError(f"mock {name!r} already exists: `mockrec mock update {name}`")
    if port is None:  # 8080, or the next port no other mock has
        taken = {o.port for o in store.all()}
        port = next(p for p in range(8080, 65536) if p not in taken)
    m = Mock(name=name, collection=collection).with_overrides(port=port, **settings)
    key = MockStore.new_api_key() if private else None
    if key:
        m.api_key_sha256 = hash_key(key)
    store.save(m)
    typer.echo(f"created mock {name}: {shown_url(m)} (mockrec replay {name})")
    _warn_shared_port(store, m)
    if key:
        typer.echo(f"API key (shown only now, stored hashed): {key}")
    _save_url(m)


@mock_app.command("update")
@with_settings(exclude=("api_key",))
def mock_update(
    name: str,
    collection: Annotated[str | None, typer.Option(help="Collection to serve.")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port.")] = None,
    *,
    settings: dict[str, Any],
) -> None:
    """Change a mock's settings ('' clears a text setting)."""
    store = MockStore(current_data_dir())
    if settings.get("save_url_to"):
        check_name(settings["save_url_to"], "environment")  # before anything is written
    m = store.get(name).with_overrides(collection=collection or None, port=port, **settings)
    store.save(m)
    typer.echo(f"updated mock {name}")
    if port is not None:
        _warn_shared_port(store, m)
    if port is not None or settings.get("save_url_to"):
        _save_url(m)


def _warn_shared_port(store: MockStore, m: Mock) -> None:
    """Two mocks on one port cannot run side by side: say so when it is set."""
    others = [o.name for o in store.all() if o.port == m.port and o.name != m.name]
    if others and m.port:
        warn(f"port {m.port} is also the port of mock{'s' * (len(others) > 1)} "
             f"{', '.join(others)}: they cannot run together (--port N picks another)")


@mock_app.command("list")
def mock_list(as_json: AsJson = False) -> None:
    """The mocks and their URLs."""
    rows = [views.mock_json(m) for m in MockStore(current_data_dir()).all()]
    if as_json:
        print_json(rows)
    else:
        print_table(("NAME", "URL", "COLLECTION", "TAG", "ENV", "DELAY", "PRIVATE"),
                     [(r["name"], r["url"] or "(port picked at start)", r["collection"],
                       r["tag"], r["env"],
                       r["profile"] or r["delay"], "yes" if r["private"] else "")
                      for r in rows])


@mock_app.command("show")
def mock_show(name: str, as_json: AsJson = False) -> None:
    """A mock's settings and its URL."""
    row = views.mock_json(MockStore(current_data_dir()).get(name))
    if as_json:
        print_json(row)
    else:
        row["url"] = row["url"] or "(port 0: a free port picked each time it starts)"
        typer.echo("\n".join(f"{k}: {v}" for k, v in row.items()))


@mock_app.command("delete")
def mock_delete(name: str) -> None:
    """Delete a mock (its collection and call log stay)."""
    store = MockStore(current_data_dir())
    if aside := store.delete(name):
        kept_aside(store.files.path(name), aside)
    typer.echo(f"deleted mock {name}")


@env_app.command("set")
def env_set(name: str, assignments: Annotated[list[str], typer.Argument(
        metavar="KEY=VALUE")]) -> None:
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
    store = EnvironmentStore(current_data_dir())
    if aside := store.delete(name):
        kept_aside(store.files.path(name), aside)
    typer.echo(f"deleted environment {name}")
