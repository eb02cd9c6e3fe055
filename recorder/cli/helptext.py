"""Plain, clean `--help` and one-line usage errors on top of typer.

typer's rich help draws boxes, reads `[default: ...]` in a help text as markup (leaving a
stray " ."), and shows every value's Python type (`<str>`, `<bool>`, `<list[str]>`);
its usage line writes a required argument as `{ID}`. `tidy` walks the command tree once
before it runs: click's plain help, a metavar for every option that takes a value, and
arguments shown by name (`ID...`, `[MOCK]`).
"""

from __future__ import annotations

from typing import Any

try:  # typer >= 0.20 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on click
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

ClickException = click_exceptions.ClickException
UsageError = click_exceptions.UsageError
NoArgsIsHelpError = getattr(click_exceptions, "NoArgsIsHelpError", None)

_plain_classes: dict[type, type] = {}


def _plain_argument(param: Any) -> None:
    """Show an argument as its name: `ID...` in usage and help, `[MOCK]` when optional."""
    base = type(param)
    cls = _plain_classes.get(base)
    if cls is None:
        def display_type(self, ctx):  # noqa: ARG001 - the name says it all
            return None

        def usage_name(self) -> str:
            name = self.metavar or self.name.upper()
            if any(c in name for c in " ["):  # a shape of its own: `[MOCK] [show ID]`
                return name
            name = name if self.required else f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        def make_metavar(self, ctx=None):  # click's own usage (older typer)
            return usage_name(self)

        cls = type(f"Plain{base.__name__}", (base,), {
            "display_type": display_type, "display_type_rich": display_type,
            "_usage_display_name": usage_name, "make_metavar": make_metavar,
            "_rich_display_name": lambda self: (self.metavar or self.name.upper())
            + ("..." if self.nargs != 1 and " " not in (self.metavar or "") else "")})
        _plain_classes[base] = cls
    if not param.metavar:
        choices = _choices(param)
        param.metavar = "|".join(choices) if choices else param.name.upper()
    param.__class__ = cls


# What an option's value is, by the option's name, where its declaration does not say.
VALUE_NAMES = {
    "upstream": "URL", "proxy": "URL", "listen_host": "HOST", "host": "HOST", "set_": "KEY=VALUE",
    "data_dir": "DIR", "confdir": "DIR", "collection": "NAME", "mock": "NAME",
    "request": "NAME", "name": "NAME", "output": "FILE", "since": "DATE", "path": "GLOB",
    "search": "TEXT", "template": "PATH", "header": "'NAME: VALUE'", "body": "TEXT|@FILE",
    "save_url_to": "ENV", "env": "ENV", "tag": "TAG", "status": "STATUS", "method": "METHOD",
}


def _choices(param: Any) -> list[str]:
    described = getattr(param, "type_descriptor", None)  # typer >= 0.20
    choices = getattr(described or getattr(param, "type", None), "choices", None) or []
    return [str(getattr(c, "value", c)) for c in choices]


def _option_metavar(param: Any) -> str:
    if param.name in VALUE_NAMES:
        return VALUE_NAMES[param.name]
    if choices := _choices(param):
        return "|".join(choices)
    described = getattr(param, "type_descriptor", None)
    if (getattr(described, "annotation", None) is int
            or getattr(getattr(param, "type", None), "name", "") == "integer"):
        return "N"
    return param.name.rstrip("_").upper()


def tidy(command: Any) -> Any:
    """Plain help for `command` and everything under it; returns it."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for param in command.params:
        if param.param_type_name == "argument":
            _plain_argument(param)
        elif not getattr(param, "is_flag", False) and not param.metavar:
            param.metavar = _option_metavar(param)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    return command


def usage_line(error: Any) -> str:
    """A click usage error as one line, with where to look for help."""
    message = " ".join(error.format_message().replace("Value error, ", "").split())
    ctx = getattr(error, "ctx", None)
    if ctx is not None:
        message += f" (see `{ctx.command_path} --help`)"
    return message
