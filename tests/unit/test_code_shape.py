"""The shape of the code: no function in addons/ or recorder/ over 60 lines, none with
more than 7 parameters (what travels together is one typed object). Typer commands
are the exception to the second: their parameters are their flags. A command is a
function decorated by a typer `.command(...)` or `.callback(...)`, or handed to one
(`app.command()(proxy.record)`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("addons", "recorder")
MAX_LINES = 60
MAX_PARAMETERS = 7
REGISTERS = ("command", "callback")

Function = ast.FunctionDef | ast.AsyncFunctionDef


def sources() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def functions(tree: ast.Module) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def registers(call: ast.expr) -> bool:
    """Whether `call` is `something.command(...)` or `something.callback(...)`."""
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr in REGISTERS)


def module_file(module: str) -> str:
    path = module.replace(".", "/")
    return f"{path}/__init__.py" if (ROOT / path).is_dir() else f"{path}.py"


def handed_over(where: str, tree: ast.Module) -> set[tuple[str, str]]:
    """The functions `where` registers as commands: (file, name)."""
    imported = {alias.asname or alias.name: f"{node.module}.{alias.name}"
                for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                for alias in node.names}
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and registers(node.func) and node.args):
            continue
        target = node.args[0]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            module = imported.get(target.value.id)
            if module is not None:
                found.add((module_file(module), target.attr))
        elif isinstance(target, ast.Name):
            module = imported.get(target.id)
            found.add((module_file(module.rpartition(".")[0]) if module else where, target.id))
    return found


def commands() -> set[tuple[str, str]]:
    found = set()
    for where, tree in sources():
        found |= handed_over(where, tree)
        found |= {(where, f.name) for f in functions(tree)
                  if any(registers(d) for d in f.decorator_list)}
    return found


def parameters(function: Function) -> list[str]:
    args = function.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [n for n in names if n not in ("self", "cls")]


def test_no_function_is_over_60_lines():
    long = [f"{where}:{f.lineno} {f.name} ({f.end_lineno - f.lineno + 1} lines)"
            for where, tree in sources() for f in functions(tree)
            if f.end_lineno - f.lineno + 1 > MAX_LINES]
    assert long == []


def test_no_function_but_a_typer_command_takes_more_than_7_parameters():
    exempt = commands()
    many = [f"{where}:{f.lineno} {f.name} ({len(parameters(f))} parameters)"
            for where, tree in sources() for f in functions(tree)
            if len(parameters(f)) > MAX_PARAMETERS and (where, f.name) not in exempt]
    assert many == []


def test_the_typer_commands_are_found():
    found = commands()
    assert {("recorder/cli/proxy.py", "record"), ("recorder/cli/drift.py", "drift"),
            ("recorder/cli/collections.py", "collection_list")} <= found
    assert ("recorder/cli/proxy.py", "_run") not in found


def test_a_long_function_and_a_long_signature_are_seen():
    tree = ast.parse("def f(a, b, c, d, e, f, g, h):\n" + "    x = 1\n" * 60)
    (f,) = functions(tree)
    assert len(parameters(f)) == 8 and f.end_lineno - f.lineno + 1 == 61
