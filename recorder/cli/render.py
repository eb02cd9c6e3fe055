"""How entries look to a person and to a script (`--json`, with stable keys)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console

from recorder import encodings
from recorder.conversation import conversation_lines
from recorder.match.verify import call_outcome, call_summary  # noqa: F401 (render's words)
from recorder.models import (
    Collection,
    Example,
    Header,
    HistoryEntry,
    HttpRequest,
    HttpResponse,
    Request,
    counted,
)
from recorder.store.files import body_doc

if TYPE_CHECKING:
    from recorder.promote.entries import PromoteResult
    from recorder.store.history import HistoryStore
    from recorder.store.mocks import Mock


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
    return {"size": len(body), **body_doc(body)}


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
    if entry.notes:  # a call: mock, example, delay, warnings
        detail["notes"] = entry.notes
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
        _conversation_size(entry) or (_size(response.body_size) if response else ""),
    )


def _conversation_size(entry: HistoryEntry) -> str:
    """A WebSocket's size in `history list`: its message count."""
    conversation = entry.notes.get("websocket")
    if not isinstance(conversation, dict):
        return ""
    return counted(len(conversation.get("messages", [])), "msg")


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
    if isinstance(conversation := entry.notes.get("websocket"), dict):
        lines.append("= the conversation (ms after the 101; > from the client, < to it)")
        lines.extend(conversation_lines(conversation))
    lines.extend(f"! {warning}" for warning in entry.notes.get("warnings", []))
    return "\n".join(lines)


def write_body(headers: list[Header], body: bytes, out: TextIO) -> None:
    """Text as text; binary as raw bytes when piped, a placeholder on a terminal."""
    data, _ = encodings.decode(headers, body)
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


def cert_help(confdir: Path, proxy: str) -> str:
    """How to trust mitmproxy's CA, client by client, through the proxy at `proxy`."""
    from shlex import quote

    pem = quote(str(confdir / "mitmproxy-ca-cert.pem"))
    cer = quote(str(confdir / "mitmproxy-ca-cert.cer"))
    host, _, port = proxy.removeprefix("http://").rpartition(":")
    return "\n".join([
        f"CA certificate: {confdir / 'mitmproxy-ca-cert.pem'}",
        "A forward proxy (`mockrec record` or `replay` without --upstream) intercepts HTTPS",
        f"with this CA. Trust it in the client, for one command (proxy {proxy}; --port N",
        "for another):",
        f"  curl             curl --proxy {proxy} --cacert {pem} https://api.example.com/",
        f"  Python requests  HTTPS_PROXY={proxy} REQUESTS_CA_BUNDLE={pem} python app.py",
        f"  Python httpx, urllib  HTTPS_PROXY={proxy} SSL_CERT_FILE={pem} python app.py",
        "                   (requests ignores SSL_CERT_FILE; setting both covers all three)",
        f"  Node.js          NODE_EXTRA_CA_CERTS={pem} node app.js   (the CA, for fetch and https)",
        "    Node ignores HTTP(S)_PROXY unless told to use it:",
        f"    newer Node (24, recent 22.x): NODE_USE_ENV_PROXY=1 HTTPS_PROXY={proxy} "
        f"NODE_EXTRA_CA_CERTS={pem} node app.js",
        "    Node 20, fetch: npm install undici, then first thing in the app:",
        "      const { setGlobalDispatcher, ProxyAgent } = require('undici');",
        f"      setGlobalDispatcher(new ProxyAgent('{proxy}'));",
        "    Node 20, https: an agent, e.g. npm install https-proxy-agent, then",
        f"      https.get(url, {{ agent: new HttpsProxyAgent('{proxy}') }})",
        f"  Java             keytool -importcert -noprompt -alias mitmproxy -file {pem} "
        "-keystore mockrec.jks -storepass changeit",
        "                   java -Djavax.net.ssl.trustStore=mockrec.jks "
        "-Djavax.net.ssl.trustStorePassword=changeit",
        f"                        -Dhttps.proxyHost={host} -Dhttps.proxyPort={port} -jar app.jar",
        "Or trust it system-wide (every client that uses the system store):",
        f"  Debian/Ubuntu    sudo cp {cer} /usr/local/share/ca-certificates/mitmproxy.crt "
        "&& sudo update-ca-certificates",
        f"  Fedora/RHEL      sudo cp {pem} /etc/pki/ca-trust/source/anchors/mitmproxy.pem "
        "&& sudo update-ca-trust",
        "  macOS            sudo security add-trusted-cert -d -p ssl -p basic "
        f"-k /Library/Keychains/System.keychain {pem}",
        "  (Python's requests and httpx bring their own CA list (certifi) and Node its own:",
        "  they still need the lines above.)",
        "More: https://docs.mitmproxy.org/stable/concepts-certificates/",
    ])


def progress(items: list, description: str, threshold: int = 200) -> Iterable:
    """A progress bar on a terminal for long work; plain iteration otherwise."""
    if len(items) <= threshold or not sys.stderr.isatty():
        return items
    from rich.progress import track

    return track(items, description=description, transient=True,
                 console=Console(stderr=True))


def promote_json(name: str, created: bool, result: PromoteResult) -> dict[str, Any]:
    return {
        "collection": name,
        "created": created,
        "examples": [{"id": e.id, "name": e.name, "entry": e.source_entry,
                      "sequence": e.sequence} for e in result.examples],
        "new_requests": [{"id": r.id, "name": r.name} for r in result.new_requests],
        "redacted": dict(result.redacted),
        "inferred_templates": result.inferred,
        "skipped": result.skipped,
        "untemplated": result.untemplated,
        "sequences": result.sequences,
        "duplicates": result.duplicates,
        "base_url": result.base_url,
    }


def promote_text(name: str, created: bool, result: PromoteResult, path: Path) -> str:
    new = len(result.new_requests)
    lines = [f"{'created' if created else 'updated'} collection {name} ({path}): "
             f"{counted(len(result.examples), 'example')}, {counted(new, 'new request')}"]
    lines += [f"  {r.name}" for r in result.new_requests[:20]]
    if new > 20:
        lines.append(f"  ... and {new - 20} more")
    if result.base_url:
        lines.append(f"baseUrl = {result.base_url} (the upstream these entries were recorded "
                     "through): example URLs are {{baseUrl}}/..., and `mockrec replay "
                     f"{name}` serves it as the mock URL")
    if result.duplicates:
        lines.append(f"skipped {result.duplicates} entr{'ies' if result.duplicates != 1 else 'y'}"
                     " already standing as examples (--allow-duplicates keeps them)")
    for template, example in result.inferred.items():
        lines.append(f"inferred template {template} (from {example})")
    if result.sequences:
        lines.append(f"{result.sequences} sequence{'s' * (result.sequences != 1)}: repeats "
                     "of a request with different answers replay in order (--no-sequence: not)")
    if result.untemplated:
        lines.append(f"{counted(result.untemplated, 'entry')} did not fit --template and "
                     f"{'keeps its' if result.untemplated == 1 else 'keep their'} path")
    if summary := result.redaction_summary():
        lines.append(summary)
    lines += [f"skipped {reason}" for reason in result.skipped]
    return "\n".join(lines)


def collection_summary(c: Collection) -> dict[str, Any]:
    return {"name": c.name, "requests": len(c.requests), "examples": len(c.examples),
            "tags": [t.name for t in c.tags]}


def example_summary(c: Collection, r: Request, e: Example) -> dict[str, Any]:
    return {"id": e.id, "collection": c.name, "request": r.name, "method": r.method,
            "url": r.url, "name": e.name, "status": e.response.status,
            "entry": e.source_entry, "sequence": e.sequence, "fault": e.fault}


def collection_detail(c: Collection) -> dict[str, Any]:
    return {
        **collection_summary(c),
        "variables": c.variables,
        "tags": [{"name": t.name, "created": t.created} for t in c.tags],
        "requests": [{"id": r.id, "name": r.name, "method": r.method, "url": r.url,
                      "folder": r.folder,
                      "examples": [{"id": e.id, "name": e.name, "status": e.response.status,
                                    "entry": e.source_entry, "sequence": e.sequence,
                                    "fault": e.fault} for e in r.examples]}
                     for r in c.requests],
    }


def example_marks(e: Example) -> str:
    """`  [sequence 2]  [fault reset]`, what an example has beyond its answer."""
    return ((f"  [sequence {e.sequence}]" if e.sequence is not None else "")
            + (f"  [fault {e.fault}]" if e.fault else ""))


def collection_text(c: Collection) -> str:
    lines = [f"{c.name}: {counted(len(c.requests), 'request')}, "
             f"{counted(len(c.examples), 'example')}"]
    if c.tags:
        lines.append("tags: " + ", ".join(t.name for t in c.tags))
    for r in c.requests:
        lines.append(f"  {r.name}  ({r.method} {r.url})")
        lines += [f"    #{e.id}  {e.name}{example_marks(e)}" for e in r.examples]
    return "\n".join(lines)



def mock_json(m: Mock) -> dict[str, Any]:
    data = {k: v for k, v in m.to_doc().items() if k != "api_key_sha256"}
    return {**data, "url": m.url, "private": bool(m.api_key_sha256)}


_pause = threading.Event()  # never set: a sleep that reads as one in the CLI
# The path goes last: it is the column that grows, and a long one then misaligns nothing.
CALL_COLUMNS = ("ID", "TIME", "METHOD", "STATUS", "DELAY", "EXAMPLE", "PATH")


def call_row(entry: HistoryEntry, with_mock: bool = False) -> tuple[str, ...]:
    call = call_summary(entry)
    matched = call["matched"] + (f" [{call['sequence']}]" if call["sequence"] else "") + (
        f" [fault {call['fault']}]" if call["fault"] else "")
    row = (str(call["id"]), _local(entry.timings.start), call["method"],
           str(call["status"] or f"error: {call['error']}"),
           f"{call['delay_ms']} ms" if call["delay_ms"] else "", matched, call["path"])
    return (*row[:2], str(call["mock"] or ""), *row[2:]) if with_mock else row


def call_columns(with_mock: bool) -> tuple[str, ...]:
    return (*CALL_COLUMNS[:2], "MOCK", *CALL_COLUMNS[2:]) if with_mock else CALL_COLUMNS


def print_calls(entries: list[HistoryEntry], with_mock: bool) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in call_columns(with_mock):
        table.add_column(column, justify="right" if column == "ID" else "left")
    for entry in entries:
        table.add_row(*call_row(entry, with_mock))
    Console(width=None if sys.stdout.isatty() else 200, highlight=False).print(table)


class CallColumns:
    """Fixed columns for `calls --follow`: rows printed later line up with the first ones.
    Widths come from the backlog with a floor; a longer value is cut, the path never."""

    FLOOR = {"ID": 6, "TIME": 19, "MOCK": 12, "METHOD": 7, "STATUS": 6, "DELAY": 8,
             "EXAMPLE": 24}

    def __init__(self, backlog: list[HistoryEntry], with_mock: bool):
        self.with_mock = with_mock
        self.names = call_columns(with_mock)
        rows = [call_row(e, with_mock) for e in backlog]
        self.widths = [max([self.FLOOR.get(name, 0), len(name), *(len(r[i]) for r in rows)])
                       for i, name in enumerate(self.names)]

    def _format(self, values: tuple[str, ...]) -> str:
        cells = []
        for i, (value, width) in enumerate(zip(values, self.widths, strict=True)):
            if i == len(values) - 1:
                cells.append(value)
                continue
            if len(value) > width:
                value = value[:width - 1] + "…"
            cells.append(value.rjust(width) if self.names[i] == "ID" else value.ljust(width))
        return "  ".join(cells).rstrip()

    def header(self) -> str:
        return self._format(self.names)

    def line(self, entry: HistoryEntry) -> str:
        return self._format(call_row(entry, self.with_mock))


def follow(logs: dict[str, HistoryStore], after: dict[str, int], table: CallColumns | None,
           interval: float = 0.1) -> None:
    """Print calls newer than `after` (per log) as they are logged, until Ctrl-C; JSON lines
    without a table."""
    while True:
        fresh = []
        for name, log in logs.items():
            for entry in log.newer_than(after[name]):
                fresh.append(entry)
                after[name] = max(after[name], entry.id or 0)
        for entry in sorted(fresh, key=lambda e: (e.timings.start, e.id or 0)):
            if table is None:
                sys.stdout.write(json.dumps(call_summary(entry)) + "\n")
            else:
                sys.stdout.write(table.line(entry) + "\n")
        sys.stdout.flush()
        _pause.wait(interval)
