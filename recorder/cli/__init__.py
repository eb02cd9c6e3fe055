"""The `mockrec` command line: thin typer definitions over the library, one module per
command group (proxy, history, promote, collections, mocks, calls, interop)."""

from __future__ import annotations

import os
import sys

from recorder.cli import calls, collections, history, interop, mocks, promote, proxy, ui
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
    try:
        app(args=argv, prog_name="mockrec")  # typer reports usage errors and exits
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(bool(e.code))
    except MockrecError as e:
        sys.stderr.write(f"mockrec: error: {e}\n")
        return int(e.status)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(ExitStatus.SUCCESS)


def entry() -> None:
    sys.exit(main())
