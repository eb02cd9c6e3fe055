"""How much an import reads: a file to import is untrusted input.

Each limit is documented (README, "Security"), named in the one-line refusal, and
raised by an environment variable for the rare file that needs more. Refusing
early keeps memory bounded: a file is measured before it is read, items are counted
before anything is built from them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from recorder.errors import BadFile, NotFound


@dataclass(frozen=True)
class Limit:
    env: str
    default: int
    what: str
    unit: int = 1  # the variable counts in these (MB: 2**20)

    def value(self) -> int:
        raw = os.environ.get(self.env, "")
        return int(raw) * self.unit if raw.isdigit() else self.default * self.unit

    def refuse(self, where: str) -> BadFile:
        shown = self.value() // self.unit
        return BadFile(f"{where}: more than {shown:,} {self.what}; nothing was imported "
                       f"(the limit is {self.env}={shown}: set it higher to import this)")

    def check(self, count: int, where: str) -> None:
        if count > self.value():
            raise self.refuse(where)


MAX_MB = Limit("MOCKREC_IMPORT_MAX_MB", 256, "MB in a file to import", 2**20)
MAX_ITEMS = Limit("MOCKREC_IMPORT_MAX_ITEMS", 100_000,
                  "items (requests, folders, examples, operations or entries)")
MAX_VALUES = Limit("MOCKREC_IMPORT_MAX_VALUES", 10_000_000,
                   "values written (YAML aliases expanded, examples copied or generated: a "
                   "'billion laughs' document?)")
# A generated example past this is cut to its smallest valid form; past twice this even
# so, the import is refused (recorder/interop/samples.py).
MAX_EXAMPLE_VALUES = Limit("MOCKREC_IMPORT_MAX_EXAMPLE_VALUES", 20_000,
                           "values in one generated example")


def read_bytes(path: Path) -> bytes:
    """The file, if it is not over MOCKREC_IMPORT_MAX_MB (measured before reading)."""
    try:
        with path.open("rb") as f:
            MAX_MB.check(os.fstat(f.fileno()).st_size, str(path))
            return f.read()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except OSError as e:
        raise BadFile(f"{path}: {e.strerror}") from None


def read_json_file(path: Path) -> object:
    """Parse a JSON file to import (a BOM is allowed; no bigger than MOCKREC_IMPORT_MAX_MB);
    BadFile says what is wrong."""
    try:
        return json.loads(read_bytes(path).removeprefix(b"\xef\xbb\xbf"))
    except UnicodeDecodeError as e:
        raise BadFile(f"{path}: not UTF-8 (byte 0x{e.object[e.start]:02x} at offset "
                      f"{e.start}): save it as UTF-8 and import it again") from None
    except json.JSONDecodeError as e:
        raise BadFile(f"{path}: not valid JSON (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise BadFile(f"{path}: nested too deeply to read") from None
    except OSError as e:
        raise BadFile(f"{path}: {e.strerror}") from None


SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(doc: object) -> str | None:
    """Where `doc` (parsed JSON) holds a lone surrogate (`"\\ud800"` unpaired), which no
    output can print or write as UTF-8: `item[0].name`, or None if nowhere."""
    stack: list[tuple[str, object]] = [("", doc)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if SURROGATE.search(value):
                return where or "the document"
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                place = f"{where}.{key}" if where else str(key)
                if SURROGATE.search(str(key)):
                    return place
                stack.append((place, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None
