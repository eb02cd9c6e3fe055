"""Faults: an answer that fails on purpose, the way networks and servers do.

| kind           | what the client gets                                                  |
|----------------|-----------------------------------------------------------------------|
| `reset`        | a TCP reset (RST: SO_LINGER 0, then close): ECONNRESET                |
| `close`        | the connection closed without a byte (curl: "Empty reply from server") |
| `empty`        | the example's status and headers with an empty body (Content-Length 0) |
| `garbage`      | bytes that are not HTTP, then the connection closes                   |
| `slow-body:MS` | the head at once, the body in timed pieces over MS ms, then it closes |
| `cut:N`        | a stream ends after N parts, mid-body (a whole body is one part)      |

A fault comes from the request (`x-mock-response-fault: KIND`), from the example
(`example add/edit --fault KIND`), or for a share of matched answers (`--fault KIND
--fault-rate P`). Nothing here knows about mitmproxy: the replay addon and the fast
path carry faults out.
"""

from __future__ import annotations

import math
from typing import NamedTuple

KINDS = ("reset", "close", "empty", "garbage", "slow-body:MS", "cut:N")
HEADER = "x-mock-response-fault"
MAX_SLOW_MS = 180_000
MAX_CUT_PARTS = 1_000_000
PIECE_MS = 50  # slow-body sends a piece about this often
# What `garbage` sends: no status line, nothing an HTTP client can read.
GARBAGE = b"\x16\x03\x01\x00\xa5 mockrec fault: garbage, not HTTP \xde\xad\xbe\xef\x00\r\n\r\n"


class Fault(NamedTuple):
    kind: str  # reset, close, empty, garbage, slow-body, cut
    ms: int = 0  # slow-body: over how long; cut: after how many parts

    def __str__(self) -> str:
        return f"{self.kind}:{self.ms}" if self.kind in ("slow-body", "cut") else self.kind

    @property
    def answers(self) -> bool:
        """The client gets an HTTP response (empty, slow-body, cut), not a broken
        connection."""
        return self.kind in ("empty", "slow-body", "cut")


def parse_fault(text: str) -> Fault:
    """`reset`, `close`, `empty`, `garbage` or `slow-body:MS` (1-180000); ValueError else."""
    value = text.strip().lower()
    if value in ("reset", "close", "empty", "garbage"):
        return Fault(value)
    kind, sep, ms = value.partition(":")
    if kind == "slow-body" and sep and ms.isdigit() and 1 <= int(ms) <= MAX_SLOW_MS:
        return Fault(kind, int(ms))
    if kind == "cut" and sep and ms.isdigit() and int(ms) <= MAX_CUT_PARTS:
        return Fault(kind, int(ms))
    raise ValueError(f"{text!r} is not a fault: use " + ", ".join(KINDS)
                     + f" (MS 1-{MAX_SLOW_MS}, N 0-{MAX_CUT_PARTS})")


def check_fault(text: str) -> None:
    """'' (none) or a fault."""
    if text:
        parse_fault(text)


def parse_rate(text: str) -> float:
    """A percent, 0-100 (`10`, `2.5`, `10%`)."""
    try:
        rate = float(str(text).strip().removesuffix("%"))
    except ValueError:
        raise ValueError(f"{text!r} is not a percent (0-100)") from None
    if not 0 <= rate <= 100:
        raise ValueError(f"{text!r} is not a percent (0-100)")
    return rate


def parse_seed(text: str) -> int | None:
    """'' (a random seed each run) or an integer."""
    text = str(text).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an integer") from None


def slow_pieces(body: bytes, ms: int) -> list[tuple[float, bytes]]:
    """The body cut in pieces, each with when it goes (seconds after the head): about
    one piece every PIECE_MS, the last at `ms`."""
    if not body:
        return [(ms / 1000, b"")]
    count = max(1, min(len(body), math.ceil(ms / PIECE_MS)))
    size = math.ceil(len(body) / count)
    count = math.ceil(len(body) / size)
    return [(ms / 1000 * (i + 1) / count, body[i * size:(i + 1) * size]) for i in range(count)]
