"""Command-line flags made from `ReplaySettings`' fields, for every command that takes them.

`@with_settings()` adds one flag per setting to a typer command (`--tag`, `--delay`,
`--cors/--no-cors`, ...), each defaulting to "not given", and hands the command the
given ones as `settings`: a dict that `ReplaySettings.with_overrides` applies over a
mock's or the defaults. A new field in `ReplaySettings` becomes a flag everywhere.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from recorder.errors import UsageError
from recorder.settings import ReplaySettings


def _flag(f) -> tuple[Any, typer.models.OptionInfo]:
    md = f.metadata
    name = f.name.replace("_", "-")
    if isinstance(f.default, bool):
        return bool | None, typer.Option(f"--{name}/--no-{name}", help=md["help"],
                                         show_default=False)
    kind = md["choices"] or (str if md["parse"] else type(f.default))
    default = f.default.value if hasattr(f.default, "value") else f.default
    shown = f" [default: {default}]" if default not in ("", None) else ""
    metavar = md["metavar"] or ("|".join(c.value for c in md["choices"]) if md["choices"]
                                else "N" if kind is int else name.upper())
    return kind | None, typer.Option(f"--{name}", help=md["help"] + shown,
                                     metavar=metavar, show_default=False)


def _file_flag(f) -> tuple[Any, typer.models.OptionInfo]:
    name = f.name.replace("_", "-")
    return Path | None, typer.Option(
        f"--{name}-file", metavar="FILE", show_default=False,
        help=f"Read --{name} from FILE (its first line), which ps does not show; "
             f"${secret_env(f.name)} works too.")


def secret_env(name: str) -> str:
    return f"MOCKREC_{name.upper()}"


def read_secret(f, given: str | None, file: Path | None) -> str | None:
    """A secret setting: `--name`, else `--name-file FILE`, else `$MOCKREC_NAME`."""
    flag = f"--{f.name.replace('_', '-')}"
    if given is not None:
        sys.stderr.write(f"mockrec: warning: {flag} on the command line is visible to every "
                         f"user of this machine (ps); use {flag}-file FILE or "
                         f"${secret_env(f.name)}\n")
        return given
    if file is not None:
        try:
            text = file.expanduser().read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = getattr(e, "strerror", None) or "not UTF-8 text"
            raise UsageError(f"{flag}-file {file}: cannot read it ({reason})") from None
        value = text.splitlines()[0].strip() if text.strip() else ""
        if not value:
            raise UsageError(f"{flag}-file {file} is empty")
        return value
    return os.environ.get(secret_env(f.name)) or None


def with_settings(*, exclude: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    def decorate(func: Callable) -> Callable:
        own = inspect.signature(func, eval_str=True)
        params = [p for p in own.parameters.values() if p.name != "settings"]
        taken: dict[str, Any] = {}
        for f in ReplaySettings.setting_fields():
            if not f.metadata["cli"] or f.name in exclude:
                continue
            kind, option = _flag(f)
            taken[f.name] = f
            params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                            default=None, annotation=Annotated[kind, option]))
            if f.metadata["secret"]:
                kind, option = _file_flag(f)
                params.append(inspect.Parameter(f"{f.name}_file", inspect.Parameter.KEYWORD_ONLY,
                                                default=None, annotation=Annotated[kind, option]))

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            given = {}
            for name, f in taken.items():
                value = kwargs.pop(name)
                if f.metadata["secret"]:
                    value = read_secret(f, value, kwargs.pop(f"{name}_file"))
                if isinstance(value, str) and f.metadata["parse"] is not None:
                    value = f.metadata["parse"](value)
                given[name] = value.value if hasattr(value, "value") else value
            return func(**kwargs, settings=given)

        command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command
    return decorate
