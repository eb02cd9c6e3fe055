"""How entries look to a person and to a script (`--json`, with stable keys)."""

from __future__ import annotations

import base64
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from mitmproxy.net import encoding

from recorder.models import Header, HistoryEntry, HttpRequest, HttpResponse


def entry_summary(entry: HistoryEntry) -> dict[str, Any]:
    response = entry.response
    return {
        "id": entry.id,
        "time": entry.time.isoformat(timespec="milliseconds"),
        "method": entry.request.method,
        "url": entry.request.url,
        "status": response.status if response else None,
        "error": entry.error,
        "duration_ms": entry.timings.duration_ms,
        "request_size": entry.request.body_size,
        "response_size": response.body_size if response else None,
        "client": entry.client,
        "mode": entry.mode,
    }


def body_json(body: bytes | None) -> dict[str, Any]:
    body = body or b""
    try:
        return {"size": len(body), "text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"size": len(body), "base64": base64.b64encode(body).decode()}


def _message_json(message: HttpRequest | HttpResponse) -> dict[str, Any]:
    data = {k: v for k, v in vars(message).items() if k not in ("body", "body_size")}
    data["headers"] = [list(h) for h in message.headers]
    data["body"] = body_json(message.body)
    return data


def entry_detail(entry: HistoryEntry) -> dict[str, Any]:
    detail = entry_summary(entry)
    detail["upstream"] = entry.upstream
    detail["timings"] = vars(entry.timings)
    detail["request"] = _message_json(entry.request)
    detail["response"] = _message_json(entry.response) if entry.response else None
    return detail


def _local(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def entry_row(entry: HistoryEntry) -> tuple[str, ...]:
    response = entry.response
    duration = entry.timings.duration_ms
    return (
        str(entry.id), _local(entry.timings.start), entry.request.method, entry.request.url,
        str(response.status) if response else f"error: {entry.error}",
        f"{duration:.0f}" if duration is not None else "",
        _size(response.body_size) if response else "",
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def entry_text(entry: HistoryEntry) -> str:
    request, response = entry.request, entry.response
    outcome = (f"{response.status} {response.reason}" if response
               else f"error: {entry.error}")
    lines = [
        f"#{entry.id}  {_local(entry.timings.start)}  {request.method} {request.url}  -> "
        f"{outcome}  ({entry.timings.duration_ms or 0:.1f} ms, client {entry.client})",
        f"> {request.method} {request.path_and_query} {request.http_version}",
        *(f"> {k}: {v}" for k, v in request.headers),
    ]
    if response:
        lines.append(f"< {response.http_version} {response.status} {response.reason}")
        lines.extend(f"< {k}: {v}" for k, v in response.headers)
    return "\n".join(lines)


def decoded(headers: list[Header], body: bytes) -> bytes:
    """The body with its Content-Encoding (gzip, br, deflate, zstd) undone."""
    coding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
    if coding and coding.lower() != "identity":
        try:
            return encoding.decode(body, coding)
        except ValueError:
            return body
    return body


def write_body(headers: list[Header], body: bytes, out: TextIO) -> None:
    """Text as text; binary as raw bytes when piped, a placeholder on a terminal."""
    data = decoded(headers, body)
    try:
        out.write(data.decode("utf-8") + "\n")
    except UnicodeDecodeError:
        kind = next((v for k, v in headers if k.lower() == "content-type"), "binary")
        if out.isatty():
            out.write(f"<{kind}, {len(data)} bytes: pipe to a file to save it>\n")
        else:
            out.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def cert_help(confdir: Path) -> str:
    pem = confdir / "mitmproxy-ca-cert.pem"
    return "\n".join([
        f"CA certificate: {pem}",
        "HTTPS through `mockrec record` (forward mode) is intercepted with this CA.",
        "Trust it for one command:   curl --cacert " + str(pem) + " ...",
        "                            SSL_CERT_FILE=" + str(pem) + " python app.py",
        "                            NODE_EXTRA_CA_CERTS=" + str(pem) + " node app.js",
        "Trust it system-wide (Debian/Ubuntu):",
        f"  sudo cp {confdir / 'mitmproxy-ca-cert.cer'} "
        "/usr/local/share/ca-certificates/mitmproxy.crt && sudo update-ca-certificates",
        "macOS: sudo security add-trusted-cert -d -p ssl -p basic "
        f"-k /Library/Keychains/System.keychain {pem}",
        "More: https://docs.mitmproxy.org/stable/concepts-certificates/",
    ])
