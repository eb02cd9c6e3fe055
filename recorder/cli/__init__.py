"""The `mockrec` command line: thin typer definitions over the library, one module per
command group (proxy, history, promote, collections, mocks, calls, interop)."""

from __future__ import annotations

import os
import sys

import typer

from recorder.cli import calls, collections, drift, history, interop, mocks, promote, proxy, ui
from recorder.cli.common import app
from recorder.errors import ExitStatus, MockrecError

# The order here is the order of `mockrec --help`.
app.command()(proxy.record)
app.command()(proxy.replay)
app.command()(proxy.proxy)
app.command("mode")(proxy.switch_mode)
app.command("reset")(proxy.reset)
app.command()(proxy.cert)
app.command()(promote.promote)
app.command()(drift.drift)
app.command("calls")(calls.calls)
app.add_typer(history.history_app, name="history")
app.add_typer(collections.collection_app, name="collection")
app.add_typer(collections.example_app, name="example")
app.add_typer(interop.import_app, name="import")
app.add_typer(interop.export_app, name="export")
app.add_typer(mocks.mock_app, name="mock")
app.add_typer(mocks.env_app, name="env")
app.command()(ui.ui)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and an exit status."""
    from typer.main import get_command

    from recorder.cli import helptext

    command = helptext.tidy(get_command(app))
    try:
        result = command.main(args=argv, prog_name="mockrec", standalone_mode=False)
    except MockrecError as e:
        sys.stderr.write(f"mockrec: error: {e}\n")
        return int(e.status)
    except helptext.UsageError as e:
        if helptext.NoArgsIsHelpError and isinstance(e, helptext.NoArgsIsHelpError):
            sys.stderr.write(e.format_message() + "\n")  # a group alone: its help
        else:
            sys.stderr.write(f"mockrec: error: {helptext.usage_line(e)}\n")
        return int(ExitStatus.USAGE)
    except helptext.ClickException as e:
        sys.stderr.write(f"mockrec: error: {' '.join(e.format_message().split())}\n")
        return int(getattr(e, "exit_code", ExitStatus.ERROR))
    except (typer.Abort, EOFError):
        sys.stderr.write("mockrec: aborted\n")
        return int(ExitStatus.ERROR)
    except typer.Exit as e:
        return int(getattr(e, "exit_code", 0) or 0)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(bool(e.code))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitStatus.SUCCESS)
    return result if isinstance(result, int) else int(ExitStatus.SUCCESS)


def entry() -> None:
    sys.exit(main())
