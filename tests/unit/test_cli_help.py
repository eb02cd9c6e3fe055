"""Every command's `--help` reads cleanly, and the README's commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from recorder.cli import app
from recorder.cli.helptext import tidy

ROOT = Path(__file__).resolve().parents[2]


def command_paths(command=None, path=()):
    command = command or get_command(app)
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


COMMANDS = list(command_paths())

# What typer's rich help leaves in: Python types as metavars, markup eaten out of
# "[default: ...]" (a stray " ."), doubled brackets, braces around required arguments,
# boxes.
ARTEFACTS = {
    "a Python type as metavar": re.compile(r"<(bool|str|int|path|float|list\[\w+\])>"),
    "an angle-bracketed metavar": re.compile(r"<[\w|\[\]]+>"),
    "doubled brackets": re.compile(r"\[\["),
    "braces around a name": re.compile(r"(?<!\{)\{[A-Z][A-Z_.]*\}(?!\})"),
    "a stray ' .'": re.compile(r"\s\.(\s|$)"),
    "a box": re.compile(r"[╭╮╰╯│─]"),
}


def test_every_command_is_reached():
    names = {" ".join(p) for p in COMMANDS}
    assert {"", "history list", "calls", "mode", "import har", "mock create"} <= names
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "mockrec")
def test_help_reads_cleanly(cli, path):
    result = cli(*path, "--help")
    assert result.exit_code == 0 and result.stderr == ""
    text = result.stdout
    assert text.startswith(f"Usage: mockrec {' '.join(path)}".rstrip())
    for what, pattern in ARTEFACTS.items():
        found = pattern.search(text)
        assert found is None, f"{what}: {found.group(0)!r} in\n{text}"
    command = tidy(get_command(app))  # the tree as `main` runs it
    for name in path:
        command = command.commands[name]
    for param in command.params:  # every option that takes a value names it
        if param.param_type_name == "option" and not param.is_flag:
            longest = max(param.opts, key=len)
            assert param.metavar and f"{longest} {param.metavar}" in text, param.opts


@pytest.mark.parametrize("path", [("history", "list"), ("promote",)])
def test_since_says_its_format(cli, path):
    text = " ".join(cli(*path, "--help").stdout.split())
    assert "--since DATE" in text and "YYYY-MM-DD or YYYY-MM-DDTHH:MM" in text


def test_the_readme_commands_exist():
    """Every `mockrec ...` line the README shows names a command that exists."""
    names = {" ".join(p) for p in COMMANDS}
    readme = (ROOT / "README.md").read_text()
    shown = re.findall(r"^\s+(?:scripts/|\.venv/bin/)?mockrec ((?:[a-z]+)(?: [a-z]+)?)",
                       readme, re.M)
    assert len(shown) > 30
    for words in shown:
        first, _, second = words.partition(" ")
        assert first in names, words
        if any(n.startswith(f"{first} ") for n in names) and second:
            assert f"{first} {second}" in names, words


def test_the_readme_says_where_mitmdump_comes_from_and_how_long_the_install_takes():
    readme = (ROOT / "README.md").read_text()
    assert "`.venv/bin/mitmdump`" in readme and "`.venv/bin/mitmweb`" in readme
    assert "about 40 s" in readme
    assert "npm start" not in readme  # Node ignores HTTP(S)_PROXY: `mockrec cert` says how
    script = (ROOT / "scripts" / "mockrec").read_text()
    assert "about 40 s" in script and "mitmdump" in script
    # every `mitmdump -s` command line shown is the checkout's
    assert not re.search(r"^\s+mitmdump -s", readme, re.M)
