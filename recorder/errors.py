"""Errors a user can act on, and the exit codes the CLI gives for them."""

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


class NotFound(MockrecError):
    status = ExitStatus.NOT_FOUND


class StoreCorrupt(MockrecError):
    status = ExitStatus.STORE_CORRUPT
