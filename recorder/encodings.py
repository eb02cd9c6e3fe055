"""Content-Encoding: undo gzip, br, deflate and zstd (mitmproxy's decoders)."""

from __future__ import annotations

from recorder.models import Header


def content_encoding(headers: list[Header]) -> str:
    return next((v for k, v in headers if k.lower() == "content-encoding"), "").strip()


def decode(headers: list[Header], body: bytes) -> tuple[bytes, bool]:
    """The body with its Content-Encoding undone, and whether that happened."""
    coding = content_encoding(headers)
    if not coding or coding.lower() == "identity":
        return body, False
    from mitmproxy.net import encoding

    try:
        return encoding.decode(body, coding), True
    except ValueError:
        return body, False
