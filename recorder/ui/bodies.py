"""Bodies as a page shows them: decoded, JSON pretty, images as images, and never whole
when they are large (the page gets the start and a link to the raw body)."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

from recorder import encodings
from recorder.models import Header, HistoryEntry

SHOWN = 64 * 1024  # characters of a body put in a page
PRETTY_UP_TO = 2 * 1024 * 1024  # JSON bodies up to this size are parsed to be indented
HEX_PREVIEW = 256  # bytes of a binary body shown as hex
# Served by the raw-body link as what they are; anything else is text or a download.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                         "image/bmp", "image/x-icon", "image/vnd.microsoft.icon",
                         "image/svg+xml"})


@dataclass
class BodyView:
    kind: str  # empty, json, text, image, binary
    size: int  # decoded
    wire_size: int
    content_type: str
    coding: str  # the Content-Encoding undone, or ""
    text: str = ""  # what the page shows (json/text: maybe cut; binary: hex)
    truncated: bool = False


def content_type(headers: list[Header]) -> tuple[str, str]:
    """The media type (lower case) and its charset parameter, if any."""
    value = next((v for k, v in headers if k.lower() == "content-type"), "")
    media, *params = value.split(";")
    charset = ""
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip('"')
    return media.strip().lower(), charset


def text_codec(charset: str) -> str:
    try:
        return codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        return "utf-8"


def decoded(headers: list[Header], body: bytes) -> tuple[bytes, str]:
    data, was_decoded = encodings.decode(headers, body)
    return data, encodings.content_encoding(headers) if was_decoded else ""


def as_text(headers: list[Header], data: bytes) -> str | None:
    try:
        return data.decode(text_codec(content_type(headers)[1]))
    except UnicodeDecodeError:
        return None


def present(headers: list[Header], body: bytes | None, limit: int = SHOWN) -> BodyView:
    body = body or b""
    data, coding = decoded(headers, body)
    media, _ = content_type(headers)
    view = BodyView("empty", len(data), len(body), media, coding)
    if not data:
        return view
    if media in IMAGE_TYPES:
        view.kind = "image"
        return view
    text = as_text(headers, data)
    if text is None:
        view.kind = "binary"
        view.text = hexdump(data[:HEX_PREVIEW])
        view.truncated = len(data) > HEX_PREVIEW
        return view
    view.kind = "text"
    if ("json" in media or text.lstrip()[:1] in ("{", "[")) and len(data) <= PRETTY_UP_TO:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            view.kind = "json"
        except ValueError:
            pass
    view.truncated = len(text) > limit
    view.text = text[:limit]
    return view


def hexdump(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16]
        printable = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {chunk.hex(' '):<47}  {printable}")
    return "\n".join(lines)


def raw(headers: list[Header], body: bytes | None) -> tuple[bytes, str, bool]:
    """What the raw-body link serves: the decoded bytes, a safe type, and whether the
    browser should download rather than show it."""
    data, _ = decoded(headers, body or b"")
    media, charset = content_type(headers)
    if media in IMAGE_TYPES:
        return data, media, False
    if as_text(headers, data) is not None:
        return data, f"text/plain; charset={text_codec(charset)}", False
    return data, "application/octet-stream", True


def not_found_details(entry: HistoryEntry) -> dict[str, Any] | None:
    """A replay 404's `error` object (message and the closest examples), if it is one."""
    response = entry.response
    if response is None or response.status != 404 or not response.body:
        return None
    data, _ = decoded(response.headers, response.body)
    try:
        error = json.loads(data).get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict) or error.get("name") != "mockRequestNotFoundError":
        return None
    details = error.get("details")
    return {"message": str(error.get("message", "")),
            "details": [d for d in details if isinstance(d, dict)]
            if isinstance(details, list) else []}
