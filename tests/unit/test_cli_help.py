"""Every command's `--help` reads cleanly, and the commands the README and docs/ show exist."""

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


# The guide and the reference: every page a newcomer reads commands from.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHOWN = re.compile(r"^\s+(?:\$ )?(?:scripts/|\.venv/bin/)?mockrec (.*)$", re.M)
GLOBAL = {"--data-dir", "--help"}


def shown_commands() -> list[tuple[str, list[str]]]:
    """(page, words) for each `mockrec ...` command line the pages show; a line written
    `collection list | show NAME | ...` is one command per alternative."""
    shown = []
    for page in PAGES:
        for line in SHOWN.findall(page.read_text()):
            line = re.split(r"\s#|\s&(?:\s|$)|\s>|\s\\$", line)[0]
            if line.startswith("--data-dir"):
                line = line.split(None, 2)[2]
            first, *alternatives = re.split(r" \| (?![^\[]*\])", line)  # not inside [...]
            group = first.split()[0]
            shown.append((page.name, first.split()))
            shown += [(page.name, [group, *alt.split()]) for alt in alternatives]
    return shown


def resolve(words: list[str]):
    """The command the words name, and the words after its name."""
    command, path = tidy(get_command(app)), []
    while words and words[0] in getattr(command, "commands", {}):
        command = command.commands[words[0]]
        path.append(words.pop(0))
    return path, command, words


def test_the_docs_commands_exist_with_the_options_they_show():
    """Every `mockrec ...` line the README and docs/ show names a command that exists,
    and every option it shows is one that command takes."""
    shown = shown_commands()
    assert len(shown) > 60
    names = {" ".join(p) for p in COMMANDS}
    for page, words in shown:
        path, command, rest = resolve(list(words))
        where = f"{page}: mockrec {' '.join(words)}"
        assert path and " ".join(path) in names, where
        assert not getattr(command, "commands", None) or not rest or rest[0].startswith("-"), \
            where  # a group needs one of its commands
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | GLOBAL
        for word in rest:
            option = word.strip("[]").split("=")[0]
            if re.fullmatch(r"--?[a-zA-Z][\w-]*", option):
                assert option in options, f"{where}: {option} is not an option of it"


def test_every_command_is_in_the_reference():
    listed = (ROOT / "docs" / "commands.md").read_text()
    for path in COMMANDS:
        if path and (path[0] not in {"history", "collection", "example", "import", "export",
                                     "mock", "env"} or len(path) == 2):
            assert f"`mockrec {' '.join(path)}`" in listed, path


def test_the_readme_links_to_pages_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) > 15
    for link in links:
        assert (ROOT / link).is_file(), link


def test_the_readme_says_where_mitmdump_comes_from_and_how_long_the_install_takes():
    readme = (ROOT / "README.md").read_text()
    assert "`.venv/bin/mitmdump`" in readme and "`.venv/bin/mitmweb`" in readme
    assert "about 40 s" in readme
    assert "npm start" not in readme  # Node ignores HTTP(S)_PROXY: `mockrec cert` says how
    script = (ROOT / "scripts" / "mockrec").read_text()
    assert "about 40 s" in script and "mitmdump" in script
    # every `mitmdump -s` command line shown is the checkout's
    for page in PAGES:
        assert not re.search(r"^\s+mitmdump -s", page.read_text(), re.M), page.name
