"""The one check for every name that becomes a file name: collections, mocks,
environments, tags (and so call logs, named after a mock or collection).

Every store builds its paths through `check_name`, so a name given to any command
(create, show, delete, replay, ...) can never leave its folder: no separators, no
`..`, no control characters, no trailing newline (`fullmatch`, not `$`), bounded length.
"""

from __future__ import annotations

import re

from recorder.errors import UsageError

MAX_LENGTH = 100
NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_LENGTH - 1}}}")


def valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME.fullmatch(name) is not None and ".." not in name


def check_name(name: str, what: str = "collection") -> str:
    """`name` if it is safe as a file name in its folder; else a one-line usage error."""
    if not valid_name(name):
        raise UsageError(f"{what} name {name!r} is not usable as a file name: use letters, "
                         f"digits, '.', '_' and '-' (up to {MAX_LENGTH}, starting with a "
                         "letter or digit, no '..')")
    return name
