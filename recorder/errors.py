"""Errors a user can act on, and the exit codes the CLI gives for them."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    STORE_CORRUPT = 4


class MockrecError(Exception):
    """A problem to report as one line; `status` is the process exit code."""

    status = ExitStatus.ERROR


class UsageError(MockrecError):
    """A bad argument: exit status 2, like typer's own usage errors."""

    status = ExitStatus.USAGE


class NotFound(MockrecError):
    status = ExitStatus.NOT_FOUND


class StoreCorrupt(MockrecError):
    status = ExitStatus.STORE_CORRUPT


class BadFile(MockrecError):
    """A file to import that mockrec cannot read, said with the file and the place."""


def read_json_file(path: Path) -> object:
    """Parse a JSON file to import (a BOM is allowed; no bigger than MOCKREC_IMPORT_MAX_MB);
    BadFile says what is wrong."""
    import json

    from recorder.interop.limits import read_bytes

    try:
        return json.loads(read_bytes(path).removeprefix(b"\xef\xbb\xbf"))
    except json.JSONDecodeError as e:
        raise BadFile(f"{path}: not valid JSON (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise BadFile(f"{path}: nested too deeply to read") from None
    except OSError as e:
        raise BadFile(f"{path}: {e.strerror}") from None
