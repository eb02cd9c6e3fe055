"""A streamed example answered as a stream: which bytes go when.

The head goes at once (after any delay); then each part of the example's stream
(recorder/streams.py) at its recorded offset divided by `--stream-speed` (1: as
recorded, 2: twice as fast, 0: everything at once), framed as an HTTP/1.1 chunk (on
HTTP/2, mitmproxy sends each as a DATA frame). The fault `cut:N` ends the stream after N
parts, without the last chunk: the client sees the connection (or the HTTP/2 stream) end
mid-body, as when a server dies. Nothing here knows about mitmproxy or sockets: the fast
path writes these steps through its outbox, mitmproxy's path through the streamer
(addons/streamer.py); both on timers, never sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from recorder.streams import Piece, Stream

LAST_CHUNK = b"0\r\n\r\n"
MAX_SPEED = 1000.0


def parse_speed(text: str) -> float:
    """`--stream-speed`: 1 as recorded, 2 twice as fast, 0.5 half as fast, 0 all at once."""
    try:
        speed = float(str(text).strip().removesuffix("x"))
    except ValueError:
        raise ValueError(f"{text!r} is not a speed: 1 as recorded, 2 twice as fast, 0 all "
                         "at once") from None
    if not 0 <= speed <= MAX_SPEED or speed != speed:
        raise ValueError(f"{text!r} is not a speed between 0 and {MAX_SPEED:g}")
    return speed


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (an empty part sends nothing: an empty chunk would end it)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


class Paced(NamedTuple):
    """A stream as it goes out: each part with when it goes (seconds after the head), and
    whether it ends cut (`cut:N`) rather than with the last chunk."""

    parts: list[tuple[float, bytes]]
    cut: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.parts)

    def chunked(self) -> list[tuple[float, bytes]]:
        """The parts as HTTP/1.1 chunks, then the last chunk unless cut."""
        steps = [(at, chunk(data)) for at, data in self.parts if data]
        if not self.cut:
            steps.append((self.parts[-1][0] if self.parts else 0.0, LAST_CHUNK))
        return steps


def pace(pieces: list[Piece], speed: float, cut_after: int | None = None) -> Paced:
    """`pieces` ((offset_ms, bytes) pairs) at `speed`; `cut_after`: only that many."""
    if cut_after is not None:
        pieces = pieces[:cut_after]
    return Paced([(offset / 1000 / speed if speed else 0.0, data) for offset, data in pieces],
                 cut_after is not None)


def filled(body: bytes, stream: Stream, fill: Callable[[bytes], bytes] | None) -> list[Piece]:
    """The example's parts, each with its templates filled (`fill`), so that a value
    lands inside the part that holds it."""
    pieces = stream.pieces(body)
    return pieces if fill is None else [(offset, fill(data)) for offset, data in pieces]
