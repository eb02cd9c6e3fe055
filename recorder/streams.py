"""Streamed bodies: a body that arrived in parts, each at its own moment.

What people record now streams (LLM answers over server-sent events, feeds that never
end, NDJSON exports). Recording passes such a body through as it arrives and keeps,
beside the body itself (byte-exact, as for any body), where each part ended and when
it arrived; replay sends the parts again at those moments.

One shape, everywhere a stream is kept: `Stream`, the parts as `(offset_ms, size)` pairs
over the body's bytes in order (`offset_ms`: milliseconds after the response head, whole
numbers, never decreasing; the sizes add up to the body's length), and `cut`: the stream
did not end as it should have (a side hung up, or the proxy stopped). A body cut at the
body limit is not `cut`: its parts stop where the kept bytes do, and the entry's notes
say `truncated`, as for any body. It is written two ways, for two readers:

- compact, where the body is kept anyway (history entries, `history show --json`):
  `"stream": {"parts": [[0, 27], [301, 27]], "cut": false}` on the response;
- with the data, where a person reads and writes it (examples in a collection file,
  `example show/edit`, the admin API, Postman's `_mockrec_stream`):
  `"stream": {"parts": [{"offset": 0, "data": "data: {...}\\n\\n"}, ...], "cut": false}`
  (`"base64"` instead of `"data"` for a part that is not UTF-8). The example's body is
  then the parts joined.

A WebSocket conversation is the same idea with a direction and a type on each part.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Media types whose bodies are streams of events or records, whatever their length.
STREAM_TYPES = frozenset({
    "text/event-stream",
    "application/x-ndjson",
    "application/ndjson",
    "application/x-jsonlines",
    "application/jsonl",
    "application/json-seq",
    "application/stream+json",
})

Piece = tuple[int, bytes]  # (offset_ms, data): one part with its bytes


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def is_stream(content_type: str, content_length: str | None, chunked: bool) -> bool:
    """A response streams when its media type says so (SSE, NDJSON, JSON Lines,
    `application/stream+json`), or when its body comes in parts of unknown total length:
    chunked, or (HTTP/2) without a Content-Length."""
    if media_type(content_type) in STREAM_TYPES:
        return True
    return content_length is None or chunked


@dataclass
class Stream:
    """The parts of a streamed body: `(offset_ms, size)` pairs, and whether it was cut."""

    parts: list[tuple[int, int]] = field(default_factory=list)
    cut: bool = False

    @property
    def size(self) -> int:
        return sum(size for _, size in self.parts)

    def pieces(self, body: bytes) -> list[Piece]:
        """The parts with their bytes, cut out of `body`."""
        out, at = [], 0
        for offset, size in self.parts:
            out.append((offset, body[at:at + size]))
            at += size
        return out

    @classmethod
    def of_pieces(cls, pieces: Iterable[Piece], cut: bool = False) -> tuple[bytes, Stream]:
        """The body and the stream that `pieces` make."""
        pieces = list(pieces)
        return (b"".join(data for _, data in pieces),
                cls([(offset, len(data)) for offset, data in pieces], cut))

    # -- the compact form (history) -------------------------------------------------------

    def doc(self) -> dict[str, Any]:
        return {"parts": [[offset, size] for offset, size in self.parts], "cut": self.cut}

    @classmethod
    def from_doc(cls, doc: Any, body_size: int | None = None) -> Stream:
        """The compact form back; a ValueError says what is wrong with it."""
        rows = _parts_list(doc)
        parts = []
        for row in rows:
            if (not isinstance(row, list | tuple) or len(row) != 2
                    or not all(_whole(v) for v in row)):
                raise ValueError(f"stream part {row!r} is not [offset_ms, size]")
            parts.append((int(row[0]), int(row[1])))
        stream = cls(_in_order(parts), bool(doc.get("cut", False)))
        if body_size is not None and stream.size != body_size:
            raise ValueError(f"stream parts hold {stream.size} bytes, the body {body_size}")
        return stream

    # -- the form with the data (examples) ------------------------------------------------

    def pieces_doc(self, body: bytes) -> dict[str, Any]:
        return {"parts": [{"offset": offset, **_data_doc(data)}
                          for offset, data in self.pieces(body)], "cut": self.cut}

    @classmethod
    def from_pieces_doc(cls, doc: Any) -> tuple[bytes, Stream]:
        """`{"parts": [{"offset": ms, "data": text}, ...], "cut": bool}` as the body and
        its stream; a ValueError says what is wrong."""
        pieces = []
        for row in _parts_list(doc):
            if not isinstance(row, dict) or not _whole(row.get("offset", 0)):
                raise ValueError(f"stream part {row!r} is not "
                                 '{"offset": ms (0 or more), "data": text}')
            if isinstance(row.get("data"), str):
                data = row["data"].encode("utf-8")
            elif isinstance(row.get("base64"), str):
                data = base64.b64decode(row["base64"])
            else:
                raise ValueError(f"stream part {row!r} has no \"data\" (text) or \"base64\"")
            pieces.append((int(row.get("offset", 0)), data))
        if [o for o, _ in pieces] != sorted(o for o, _ in pieces):
            raise ValueError("stream parts' offsets must not go down")
        return cls.of_pieces(pieces, bool(doc.get("cut", False)))

    # -- reading it -----------------------------------------------------------------------

    def events(self, body: bytes, content_type: str = "") -> list[Piece]:
        """What a person reads the stream as: SSE events (ending at a blank line), NDJSON
        records (lines), else the parts as they came; each with the offset of the part
        that completed it."""
        kind = media_type(content_type)
        if kind == "text/event-stream":
            ends = _SSE_END
        elif kind in STREAM_TYPES:
            ends = _LINE_END
        else:
            return self.pieces(body)
        out: list[Piece] = []
        start, limits = 0, _part_ends(self.parts)
        for match in ends.finditer(body):
            end = match.end()
            out.append((_offset_at(limits, end), body[start:end]))
            start = end
        if start < len(body):
            out.append((_offset_at(limits, len(body)), body[start:]))
        return out


_SSE_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE_END = re.compile(rb"\n")


def _part_ends(parts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    ends, at = [], 0
    for offset, size in parts:
        at += size
        ends.append((at, offset))
    return ends


def _offset_at(ends: list[tuple[int, int]], position: int) -> int:
    return next((offset for end, offset in ends if end >= position),
                ends[-1][1] if ends else 0)


def _parts_list(doc: Any) -> list:
    if not isinstance(doc, dict) or not isinstance(doc.get("parts"), list):
        raise ValueError('stream is not {"parts": [...], "cut": false}')
    return doc["parts"]


def _whole(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _in_order(parts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if [o for o, _ in parts] != sorted(o for o, _ in parts):
        raise ValueError("stream parts' offsets must not go down")
    return parts


def _data_doc(data: bytes) -> dict[str, str]:
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def sse_pieces(text: str) -> list[Piece]:
    """`example add --sse FILE`: one event a line, `data: ...` or `event: ...` fields
    joined by a literal `\\n`, optionally led by its offset in ms and a tab or a space
    (`300 data: {"token": "Hi"}`); without offsets, events go 0 ms apart. Each event
    ends with the blank line SSE needs."""
    pieces: list[Piece] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        head, sep, rest = line.partition("\t") if "\t" in line else line.partition(" ")
        if sep and head.isdigit():
            offset, event = int(head), rest
        else:
            offset, event = (pieces[-1][0] if pieces else 0), line
        if pieces and offset < pieces[-1][0]:
            raise ValueError(f"line {number}: offset {offset} ms is before the one above")
        pieces.append((offset, event.replace("\\n", "\n").rstrip("\n").encode() + b"\n\n"))
    if not pieces:
        raise ValueError("no events: write one event a line, like "
                         "'0 data: {\"token\": \"Hi\"}'")
    return pieces


class Tap:
    """A stream passing through a recording proxy: mitmproxy calls it with each part as
    it arrives (`flow.response.stream`, set in `responseheaders`) and sends on what it
    returns, the part itself, at once. It keeps up to `limit` bytes (0: all) and each
    kept part's offset; the rest passes without being kept."""

    def __init__(self, limit: int = 0, clock=time.monotonic) -> None:
        self.limit, self.clock = limit, clock
        self.start = clock()
        self.kept = bytearray()
        self.parts: list[tuple[int, int]] = []
        self.passed = 0
        self.ended = False

    def __call__(self, data: bytes) -> bytes:
        if not data:  # the end of the body
            self.ended = True
            return data
        self.passed += len(data)
        room = self.limit - len(self.kept) if self.limit else len(data)
        if room > 0:
            taken = data[:room]
            self.kept += taken
            self.parts.append((round((self.clock() - self.start) * 1000), len(taken)))
        return data

    @property
    def truncated(self) -> bool:
        return self.passed > len(self.kept)

    def stream(self, cut: bool) -> Stream:
        return Stream(list(self.parts), cut or not self.ended)
