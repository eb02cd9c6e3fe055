"""Errors a user can act on, and the exit codes the CLI gives for them."""

from __future__ import annotations

from enum import IntEnum


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
